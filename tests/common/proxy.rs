//! Local proxies for the tests, on 127.0.0.1:0. The CONNECT proxy records the target of each
//! CONNECT (`127.0.0.1:PORT`) and the `Proxy-Authorization` it carried, then tunnels the bytes
//! both ways; any other request is answered 405 and recorded with its method. The SOCKS5 proxy
//! (no authentication, RFC 1928) records the target of each CONNECT command and tunnels the same
//! way.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

/// One request the proxy received.
#[derive(Clone, Debug)]
pub struct Tunnel {
    /// `CONNECT` (or the method of a request it refused).
    pub method: String,
    /// `HOST:PORT` for a CONNECT, the URL otherwise.
    pub target: String,
    pub authorization: Option<String>,
}

/// A listener on 127.0.0.1:0 that serves each connection in a thread of its own and keeps what
/// the sessions record; it stops accepting when dropped (open tunnels end with their
/// connections).
struct Listening<T> {
    addr: SocketAddr,
    seen: Arc<Mutex<Vec<T>>>,
    stopped: Arc<Mutex<bool>>,
}

impl<T: Clone + Send + 'static> Listening<T> {
    fn start(serve: fn(TcpStream, &Mutex<Vec<T>>)) -> Listening<T> {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("the proxy's address");
        let seen = Arc::new(Mutex::new(Vec::new()));
        let stopped = Arc::new(Mutex::new(false));
        {
            let seen = Arc::clone(&seen);
            let stopped = Arc::clone(&stopped);
            std::thread::spawn(move || {
                for stream in listener.incoming() {
                    if *stopped.lock().expect("proxy lock") {
                        break;
                    }
                    let Ok(stream) = stream else { continue };
                    let seen = Arc::clone(&seen);
                    std::thread::spawn(move || serve(stream, &seen));
                }
            });
        }
        Listening {
            addr,
            seen,
            stopped,
        }
    }

    fn seen(&self) -> Vec<T> {
        self.seen.lock().expect("proxy lock").clone()
    }
}

impl<T> Drop for Listening<T> {
    fn drop(&mut self) {
        *self.stopped.lock().expect("proxy lock") = true;
        let _ = TcpStream::connect(self.addr);
    }
}

/// The CONNECT proxy.
pub struct ConnectProxy {
    listening: Listening<Tunnel>,
}

impl ConnectProxy {
    pub fn start() -> ConnectProxy {
        ConnectProxy {
            listening: Listening::start(serve),
        }
    }

    /// `http://127.0.0.1:PORT`, as a proxy variable holds it.
    pub fn url(&self) -> String {
        format!("http://{}", self.listening.addr)
    }

    /// `127.0.0.1:PORT` without a scheme (curl reads it as http://).
    pub fn address(&self) -> String {
        self.listening.addr.to_string()
    }

    /// Every request received so far, in order.
    pub fn tunnels(&self) -> Vec<Tunnel> {
        self.listening.seen()
    }

    /// The targets of the CONNECT requests received so far.
    pub fn targets(&self) -> Vec<String> {
        self.tunnels()
            .into_iter()
            .filter(|t| t.method == "CONNECT")
            .map(|t| t.target)
            .collect()
    }
}

fn serve(client: TcpStream, seen: &Mutex<Vec<Tunnel>>) {
    let Ok(mut to_client) = client.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(client);
    let mut line = String::new();
    if reader.read_line(&mut line).unwrap_or(0) == 0 {
        return;
    }
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or("").to_string();
    let target = parts.next().unwrap_or("").to_string();
    let mut authorization = None;
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header).unwrap_or(0) == 0 {
            return;
        }
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            if name.trim().eq_ignore_ascii_case("proxy-authorization") {
                authorization = Some(value.trim().to_string());
            }
        }
    }
    seen.lock().expect("proxy lock").push(Tunnel {
        method: method.clone(),
        target: target.clone(),
        authorization,
    });
    if method != "CONNECT" {
        let _ =
            to_client.write_all(b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n");
        return;
    }
    let Ok(mut upstream) = TcpStream::connect(&target) else {
        let _ = to_client.write_all(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n");
        return;
    };
    if to_client
        .write_all(b"HTTP/1.1 200 Connection Established\r\n\r\n")
        .is_err()
    {
        return;
    }
    // What the client sent after the CONNECT head (none expected) goes first.
    let early = reader.buffer().to_vec();
    if upstream.write_all(&early).is_err() {
        return;
    }
    tunnel(reader.into_inner(), to_client, upstream);
}

/// Copies the bytes both ways until each side has closed.
fn tunnel(mut client: TcpStream, mut to_client: TcpStream, mut upstream: TcpStream) {
    let Ok(mut from_upstream) = upstream.try_clone() else {
        return;
    };
    let down = std::thread::spawn(move || {
        let _ = std::io::copy(&mut from_upstream, &mut to_client);
        let _ = to_client.shutdown(Shutdown::Write);
    });
    let _ = std::io::copy(&mut client, &mut upstream);
    let _ = upstream.shutdown(Shutdown::Write);
    let _ = down.join();
}

/// A SOCKS5 proxy without authentication; it stops accepting when dropped.
pub struct SocksProxy {
    listening: Listening<String>,
}

impl SocksProxy {
    pub fn start() -> SocksProxy {
        SocksProxy {
            listening: Listening::start(serve_socks),
        }
    }

    /// `socks5://127.0.0.1:PORT`, as a proxy variable holds it.
    pub fn url(&self) -> String {
        format!("socks5://{}", self.listening.addr)
    }

    /// The targets (`HOST:PORT`) of the CONNECT commands received so far, in order.
    pub fn targets(&self) -> Vec<String> {
        self.listening.seen()
    }
}

/// One SOCKS5 session: the greeting (answered "no authentication"), one CONNECT command to an
/// IPv4 address or a host name, then the tunnel. Anything else ends the connection.
fn serve_socks(mut client: TcpStream, targets: &Mutex<Vec<String>>) {
    let mut greeting = [0u8; 2];
    if client.read_exact(&mut greeting).is_err() || greeting[0] != 5 {
        return;
    }
    let mut methods = vec![0u8; greeting[1] as usize];
    if client.read_exact(&mut methods).is_err() || !methods.contains(&0) {
        return;
    }
    if client.write_all(&[5, 0]).is_err() {
        return;
    }
    let mut head = [0u8; 4];
    if client.read_exact(&mut head).is_err() || head[..3] != [5, 1, 0] {
        return;
    }
    let host = match head[3] {
        1 => {
            let mut ip = [0u8; 4];
            if client.read_exact(&mut ip).is_err() {
                return;
            }
            std::net::Ipv4Addr::from(ip).to_string()
        }
        3 => {
            let mut len = [0u8; 1];
            if client.read_exact(&mut len).is_err() {
                return;
            }
            let mut name = vec![0u8; len[0] as usize];
            if client.read_exact(&mut name).is_err() {
                return;
            }
            String::from_utf8_lossy(&name).into_owned()
        }
        _ => return,
    };
    let mut port = [0u8; 2];
    if client.read_exact(&mut port).is_err() {
        return;
    }
    let target = format!("{host}:{}", u16::from_be_bytes(port));
    targets.lock().expect("proxy lock").push(target.clone());
    let Ok(upstream) = TcpStream::connect(&target) else {
        // 5: connection refused.
        let _ = client.write_all(&[5, 5, 0, 1, 0, 0, 0, 0, 0, 0]);
        return;
    };
    if client.write_all(&[5, 0, 0, 1, 0, 0, 0, 0, 0, 0]).is_err() {
        return;
    }
    let Ok(to_client) = client.try_clone() else {
        return;
    };
    tunnel(client, to_client, upstream);
}
