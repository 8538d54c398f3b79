//! The HTTP agents of one tick, one per distinct TLS files, timeout and proxy, made when a
//! request first needs one and shared by the workers. Each agent keeps its own keep-alive pool
//! and builds its TLS configuration once: settings are never made per request, which would
//! build a TLS configuration (and load the system's trust store) for every new connection.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use ureq::config::Config;
use ureq::http::Uri;
use ureq::tls::TlsConfig;
use ureq::unversioned::resolver::{DefaultResolver, ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::{
    ConnectProxyConnector, ConnectionDetails, Connector, NextTimeout, RustlsConnector,
    SocksConnector, TcpConnector,
};
use ureq::Agent;

use crate::proxy::{ProxyChoice, ProxyEnv};
use crate::tls::TlsFiles;

/// Why a request has no agent.
#[derive(Debug, Clone)]
pub enum NoAgent {
    /// The endpoint's TLS files cannot be used (httpat's error: the task is cancelled).
    TlsFiles(String),
    /// The proxy variable does not hold a proxy URL (worth another attempt once it is fixed).
    Proxy(String),
}

/// The agent a request is sent with, and the proxy it goes through.
pub struct Chosen {
    pub agent: Agent,
    pub proxy: Option<ProxyChoice>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct AgentKey {
    tls: TlsFiles,
    timeout: Duration,
    proxy: Option<ProxyChoice>,
}

#[derive(Default)]
struct Made {
    /// Per set of TLS files: read once (per tick), shared by the agents that use them.
    tls: HashMap<TlsFiles, Result<TlsConfig, String>>,
    agents: HashMap<AgentKey, Result<Agent, NoAgent>>,
}

/// The agents of one tick, and the signing keys its requests use.
pub struct Agents {
    proxies: ProxyEnv,
    made: Mutex<Made>,
    /// Read from the tick's environment once and shared, as the agents are.
    pub keys: crate::signing::Keys,
}

impl Agents {
    /// Agents for requests sent with this environment's proxy settings.
    pub fn new(proxies: ProxyEnv) -> Agents {
        Agents {
            proxies,
            made: Mutex::new(Made::default()),
            keys: Default::default(),
        }
    }

    /// The agent for a request to `url` with these TLS files and timeout.
    pub fn for_request(
        &self,
        tls: &TlsFiles,
        timeout: Duration,
        url: &str,
    ) -> Result<Chosen, NoAgent> {
        let proxy = url.parse::<Uri>().ok().and_then(|uri| {
            let (scheme, host) = (uri.scheme_str()?, uri.host()?);
            self.proxies.for_target(scheme, host).cloned()
        });
        let key = AgentKey {
            tls: tls.clone(),
            timeout,
            proxy,
        };
        // A poisoned lock only means another worker panicked while holding it; the maps stay
        // whole (each insert is one step).
        let mut made = self.made.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(agent) = made.agents.get(&key) {
            return agent.clone().map(|agent| Chosen {
                agent,
                proxy: key.proxy,
            });
        }
        let tls_config = made
            .tls
            .entry(key.tls.clone())
            .or_insert_with(|| key.tls.load().map_err(|e| format!("{e:#}")))
            .clone();
        let agent = tls_config
            .map_err(NoAgent::TlsFiles)
            .and_then(|tls_config| {
                let proxy = key.proxy.as_ref().map(proxy_of).transpose()?;
                Ok(build(tls_config, timeout, proxy))
            });
        made.agents.insert(key.clone(), agent.clone());
        agent.map(|agent| Chosen {
            agent,
            proxy: key.proxy,
        })
    }
}

fn proxy_of(choice: &ProxyChoice) -> Result<ureq::Proxy, NoAgent> {
    ureq::Proxy::new(&choice.url).map_err(|_| {
        NoAgent::Proxy(format!(
            "proxy {} is not a proxy URL: write it as http://HOST:PORT (or https://, socks5://)",
            choice.describe()
        ))
    })
}

/// An agent: statuses are results, not errors; no redirects are followed; the proxy (or none)
/// is the one given, never ureq's own reading of the environment.
pub fn build(tls: TlsConfig, timeout: Duration, proxy: Option<ureq::Proxy>) -> Agent {
    let config = |input, output| {
        Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .user_agent(crate::request::USER_AGENT)
            .proxy(proxy.clone())
            .tls_config(tls.clone())
            .timeout_global(Some(timeout))
            .timeout_connect(Some(timeout))
            // Every worker's connection stays open between its requests (ureq keeps 10 in all
            // by default, so that at --concurrency 16 six workers connected again for every
            // request).
            .max_idle_connections(IDLE_CONNECTIONS)
            .max_idle_connections_per_host(IDLE_CONNECTIONS)
            .input_buffer_size(input)
            .output_buffer_size(output)
            .build()
    };
    let connecting = Connecting {
        below_tls: config(TLS_RECORD, TLS_RECORD),
        to_server:
            ().chain(SocksConnector::default())
                .chain(ConnectProxyConnector::default())
                .chain(TcpConnector::default()),
        tls: RustlsConnector::default(),
    };
    Agent::with_parts(
        config(INPUT_BUFFER, OUTPUT_BUFFER),
        connecting,
        Remembering::default(),
    )
}

/// How many keep-alive connections an agent keeps open, to one host or in all.
const IDLE_CONNECTIONS: usize = 256;

/// Each connection's buffers, filled with zeros when it opens (ureq's default is 128 KiB each:
/// a quarter of a megabyte of memory per worker). What an answer's status line and headers may
/// take (ureq's own limit on them, 64 KiB) must fit in the one; a request's line and headers
/// (an URL with its query, the endpoint's headers, the signature) in the other, at four times
/// what nginx accepts by default. Bodies stream through both in pieces.
const INPUT_BUFFER: usize = 64 * 1024;
pub const OUTPUT_BUFFER: usize = 32 * 1024;

/// The buffers of the connection under TLS, which carry encrypted records (rustls keeps what
/// it has not yet decrypted or sent itself): room for the largest record TLS allows, so that
/// one is read or written in one piece, instead of a second pair as large as the above.
const TLS_RECORD: usize = 5 + 16 * 1024 + 2048;

/// ureq's own chain of connectors (a SOCKS proxy, else a CONNECT proxy, else a TCP connection,
/// then TLS for https), except that what TLS wraps gets buffers of `TLS_RECORD`.
#[derive(Debug)]
struct Connecting<Below> {
    below_tls: Config,
    to_server: Below,
    tls: RustlsConnector,
}

impl<Below: Connector> Connector for Connecting<Below> {
    type Out = <RustlsConnector as Connector<Below::Out>>::Out;

    fn connect(
        &self,
        details: &ConnectionDetails,
        chained: Option<()>,
    ) -> Result<Option<Self::Out>, ureq::Error> {
        let transport = if details.needs_tls() {
            let under_tls = ConnectionDetails {
                uri: details.uri,
                addrs: details.addrs.clone(),
                config: &self.below_tls,
                request_level: details.request_level,
                resolver: details.resolver,
                now: details.now,
                timeout: details.timeout,
                current_time: details.current_time.clone(),
                run_connector: details.run_connector.clone(),
                register_shutdown: details.register_shutdown.clone(),
            };
            self.to_server.connect(&under_tls, chained)?
        } else {
            self.to_server.connect(details, chained)?
        };
        self.tls.connect(details, transport)
    }
}

/// How long an agent reuses the addresses a host name resolved to: curl's default.
const RESOLVED_FOR: Duration = Duration::from_secs(60);

/// ureq's own resolver, remembering what it found for `RESOLVED_FOR`. ureq resolves the host of
/// every request before it looks in its keep-alive pool, and with a timeout set each lookup runs
/// in a thread of its own: without this, every request (over a connection already open too)
/// started and ended a thread, which cost a drain of a local endpoint about half its speed.
#[derive(Debug, Default)]
struct Remembering {
    found: Mutex<HashMap<String, (Instant, ResolvedSocketAddrs)>>,
}

impl Resolver for Remembering {
    fn resolve(
        &self,
        uri: &Uri,
        config: &Config,
        timeout: NextTimeout,
    ) -> Result<ResolvedSocketAddrs, ureq::Error> {
        let key = format!(
            "{} {} {:?}",
            uri.scheme_str().unwrap_or_default(),
            uri.authority().map_or("", |a| a.as_str()),
            config.ip_family()
        );
        // A poisoned lock only means another worker panicked while holding it; the map stays
        // whole (each insert is one step).
        let remembered = self
            .found
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&key)
            .filter(|(at, _)| at.elapsed() < RESOLVED_FOR)
            .map(|(_, addrs)| addrs.clone());
        if let Some(addrs) = remembered {
            return Ok(addrs);
        }
        let addrs = DefaultResolver::default().resolve(uri, config, timeout)?;
        self.found
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key, (Instant::now(), addrs.clone()));
        Ok(addrs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_alike_share_an_agent_and_tls_files_are_read_once() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("ca.pem").to_string_lossy().into_owned();
        let proxies = ProxyEnv::read(|name| (name == "HTTPS_PROXY").then(|| "p:3128".into()));
        let agents = Agents::new(proxies);
        let plain = TlsFiles::default();
        let timeout = Duration::from_secs(30);
        let direct = agents
            .for_request(&plain, timeout, "http://ims.example/a")
            .unwrap();
        assert!(direct.proxy.is_none());
        let proxied = agents
            .for_request(&plain, timeout, "https://ims.example/a")
            .unwrap();
        assert_eq!(proxied.proxy.unwrap().variable, "HTTPS_PROXY");
        agents
            .for_request(&plain, timeout, "http://other.example/b")
            .unwrap();
        let with_ca = TlsFiles {
            ca_file: Some(missing.clone()),
            ..TlsFiles::default()
        };
        for timeout in [timeout, Duration::from_secs(5)] {
            match agents.for_request(&with_ca, timeout, "https://ims.example/a") {
                Err(NoAgent::TlsFiles(message)) => assert!(message.contains(&missing)),
                _ => panic!("a missing CA file must give no agent"),
            }
        }
        let made = agents.made.lock().unwrap();
        assert_eq!(made.agents.len(), 4);
        assert_eq!(made.tls.len(), 2);
    }
}
