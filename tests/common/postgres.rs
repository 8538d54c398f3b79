//! A PostgreSQL server for the tests, and a database of its own for each test.
//!
//! The server is `HTTPAT_TEST_POSTGRES` (an URL the tests may create databases with), else a
//! throwaway cluster this test process starts when PostgreSQL's server binaries are installed:
//! `initdb` once into a template under the target folder, copied for each test process, run on a
//! Unix socket in a temporary folder (no port to clash), as the `postgres` user when the tests
//! run as root (`initdb` refuses root), and stopped when the test process ends. Without either,
//! the PostgreSQL tests say why on stderr and pass without proving anything, unless
//! `HTTPAT_REQUIRE_POSTGRES=1` makes that a failure (CI sets it).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use postgres::{Client, NoTls};

/// A server the tests can create databases on.
pub struct Server {
    /// Connects as a user that may create databases; `{db}` stands for the database's name.
    url_template: String,
    /// The cluster this process started, which tests may restart; None for one given by URL.
    cluster: Option<Cluster>,
}

/// A cluster this test process runs.
pub struct Cluster {
    bin: PathBuf,
    data: PathBuf,
    /// Where its socket is.
    pub socket_dir: PathBuf,
}

/// The role that must give its password (every other connects as trusted), and that password.
pub const PASSWORD_ROLE: &str = "httpat_pw";
pub const PASSWORD: &str = "s3cret-pw-42";

static SERVER: OnceLock<Result<Server, String>> = OnceLock::new();

/// The server, started on first use; Err says why there is none.
pub fn server() -> Result<&'static Server, String> {
    let server = SERVER.get_or_init(|| match std::env::var("HTTPAT_TEST_POSTGRES") {
        Ok(url) if !url.is_empty() => Ok(Server {
            url_template: with_database(&url, "{db}"),
            cluster: None,
        }),
        _ => start_cluster("shared", None),
    });
    server.as_ref().map_err(Clone::clone)
}

/// Whether PostgreSQL tests that cannot get a server must fail rather than skip.
pub fn required() -> bool {
    std::env::var("HTTPAT_REQUIRE_POSTGRES").is_ok_and(|v| v == "1")
}

/// The server, or None after saying on stderr why the calling test proves nothing (a panic when
/// the server is required).
pub fn server_or_skip(test: &str) -> Option<&'static Server> {
    match server() {
        Ok(server) => Some(server),
        Err(why) if required() => panic!("{test}: no PostgreSQL server: {why}"),
        Err(why) => {
            eprintln!("{test}: skipped on PostgreSQL: {why}");
            None
        }
    }
}

impl Server {
    /// The cluster, when this process runs it (a test that restarts the server needs it).
    pub fn cluster(&self) -> Option<&Cluster> {
        self.cluster.as_ref()
    }

    /// The URL of database `name` on this server.
    pub fn url(&self, name: &str) -> String {
        self.url_template.replace("{db}", name)
    }

    fn admin(&self) -> Client {
        let url = self.url("postgres");
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            match Client::connect(&url, NoTls) {
                Ok(client) => return client,
                Err(e) if Instant::now() < deadline => {
                    let _ = e;
                    std::thread::sleep(Duration::from_millis(100));
                }
                Err(e) => panic!("cannot connect to the test server: {e}"),
            }
        }
    }

    /// A new, empty database, dropped when the value is.
    pub fn database(&'static self) -> Database {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "httpat_test_{}_{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        self.admin()
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .unwrap_or_else(|e| panic!("create database {name}: {e}"));
        Database { server: self, name }
    }
}

/// A test's own database.
pub struct Database {
    server: &'static Server,
    pub name: String,
}

impl Database {
    pub fn url(&self) -> String {
        self.server.url(&self.name)
    }

    /// A connection with httpat's schema first in the search path.
    pub fn client(&self) -> Client {
        let mut client = Client::connect(&self.url(), NoTls)
            .unwrap_or_else(|e| panic!("connect to {}: {e}", self.name));
        client
            .batch_execute("SET search_path TO httpat, public")
            .expect("set the search path");
        client
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        let _ = self.server.admin().batch_execute(&format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            self.name
        ));
    }
}

/// `url` naming database `name` instead of its own.
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let authority_end = base
        .find("://")
        .map(|i| i + 3)
        .and_then(|start| base[start..].find('/').map(|i| start + i))
        .unwrap_or(base.len());
    let mut out = format!("{}/{name}", &base[..authority_end]);
    if let Some(query) = query {
        out.push('?');
        out.push_str(query);
    }
    out
}

/// The folder of the newest installed PostgreSQL's server binaries.
fn binaries() -> Result<PathBuf, String> {
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map_err(|_| "no PostgreSQL server binaries in /usr/lib/postgresql".to_string())?
        .filter_map(|entry| Some(entry.ok()?.path().join("bin")))
        .filter(|bin| bin.join("initdb").exists() && bin.join("pg_ctl").exists())
        .collect();
    found.sort_by_key(|bin| {
        bin.parent()
            .and_then(|v| v.file_name())
            .and_then(|v| v.to_str())
            .and_then(|v| v.parse::<u32>().ok())
            .unwrap_or(0)
    });
    found
        .pop()
        .ok_or_else(|| "no initdb and pg_ctl under /usr/lib/postgresql/*/bin".to_string())
}

fn is_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

/// A command run as the cluster's owner: `postgres` when the tests run as root.
fn as_owner(program: &Path) -> Command {
    if is_root() {
        let mut cmd = Command::new("runuser");
        cmd.args(["-u", "postgres", "--"]).arg(program);
        cmd
    } else {
        Command::new(program)
    }
}

fn run(mut cmd: Command, what: &str) -> Result<(), String> {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("{what}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{what} failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

fn chown_to_owner(path: &Path) -> Result<(), String> {
    if !is_root() {
        return Ok(());
    }
    let mut cmd = Command::new("chown");
    cmd.args(["-R", "postgres:"]).arg(path);
    run(cmd, "chown the cluster to postgres")
}

/// `initdb` once, into a template the test processes copy.
fn template(bin: &Path) -> Result<PathBuf, String> {
    let root = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("postgres");
    let template = root.join("template");
    if template.join("PG_VERSION").exists() {
        return Ok(template);
    }
    std::fs::create_dir_all(&root).map_err(|e| format!("create {}: {e}", root.display()))?;
    chown_to_owner(&root)?;
    let fresh = root.join(format!("template-{}", std::process::id()));
    let mut initdb = as_owner(&bin.join("initdb"));
    initdb
        .args([
            "-A",
            "trust",
            "-U",
            "postgres",
            "-E",
            "UTF8",
            "--no-sync",
            "-D",
        ])
        .arg(&fresh);
    run(initdb, "initdb")?;
    // Another test process may have made one meanwhile: either will do.
    if std::fs::rename(&fresh, &template).is_err() {
        let _ = std::fs::remove_dir_all(&fresh);
    }
    Ok(template)
}

/// A cluster of the calling test's own (one it may restart without disturbing the others), or
/// None after saying why there is none.
pub fn private_cluster(test: &str) -> Option<&'static Server> {
    if std::env::var("HTTPAT_TEST_POSTGRES").is_ok_and(|url| !url.is_empty()) {
        eprintln!("{test}: skipped: the server is given by HTTPAT_TEST_POSTGRES, and this test needs one it can restart");
        return None;
    }
    match start_cluster(test, None) {
        Ok(server) => Some(Box::leak(Box::new(server))),
        Err(why) if required() => panic!("{test}: no PostgreSQL cluster: {why}"),
        Err(why) => {
            eprintln!("{test}: skipped on PostgreSQL: {why}");
            None
        }
    }
}

/// A server's certificate and key (PEM) for a cluster that also listens on TCP with TLS.
pub struct TlsListener {
    pub cert_pem: String,
    pub key_pem: String,
    pub port: u16,
}

/// A cluster of the calling test's own that also listens on 127.0.0.1 with TLS, or None after
/// saying why there is none.
pub fn private_cluster_with_tls(test: &str, tls: TlsListener) -> Option<&'static Server> {
    match start_cluster(test, Some(tls)) {
        Ok(server) => Some(Box::leak(Box::new(server))),
        Err(why) if required() => panic!("{test}: no PostgreSQL cluster: {why}"),
        Err(why) => {
            eprintln!("{test}: skipped on PostgreSQL: {why}");
            None
        }
    }
}

fn start_cluster(tag: &str, tls: Option<TlsListener>) -> Result<Server, String> {
    let bin = binaries()?;
    let template = template(&bin)?;
    let dir = std::env::temp_dir().join(format!(
        "httpat-test-pg-{}-{}",
        std::process::id(),
        &tag[..tag.len().min(20)]
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|e| format!("create {}: {e}", dir.display()))?;
    let data = dir.join("data");
    let mut copy = Command::new("cp");
    copy.arg("-a").arg(&template).arg(&data);
    run(copy, "copy the template cluster")?;
    // Only the socket, unless TLS is asked for: no port to clash. fsync off: these are
    // throwaway test databases.
    let mut options = format!("-k {} -c fsync=off -c max_connections=200", dir.display());
    match &tls {
        None => options.push_str(" -c listen_addresses="),
        Some(tls) => {
            use std::os::unix::fs::PermissionsExt;
            let (cert, key) = (dir.join("server.crt"), dir.join("server.key"));
            std::fs::write(&cert, &tls.cert_pem).map_err(|e| format!("write the cert: {e}"))?;
            std::fs::write(&key, &tls.key_pem).map_err(|e| format!("write the key: {e}"))?;
            std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600))
                .map_err(|e| format!("chmod the key: {e}"))?;
            options.push_str(&format!(
                " -c listen_addresses=127.0.0.1 -c port={} -c ssl=on -c ssl_cert_file={} \
                 -c ssl_key_file={}",
                tls.port,
                cert.display(),
                key.display()
            ));
        }
    }
    chown_to_owner(&dir)?;
    let mut start = as_owner(&bin.join("pg_ctl"));
    start
        .args(["-w", "-D"])
        .arg(&data)
        .args(["-l"])
        .arg(dir.join("log"))
        .args(["-o", &options, "start"]);
    // One role must give its password over the socket; every other is trusted.
    let hba = data.join("pg_hba.conf");
    let trusted = std::fs::read_to_string(&hba).map_err(|e| format!("read pg_hba.conf: {e}"))?;
    std::fs::write(
        &hba,
        format!("local all {PASSWORD_ROLE} scram-sha-256\n{trusted}"),
    )
    .map_err(|e| format!("write pg_hba.conf: {e}"))?;
    run(start, "pg_ctl start")?;
    watch(&bin, &dir, &data);
    // With a port of its own, the socket is named for that port.
    let port = tls
        .as_ref()
        .map(|tls| format!("&port={}", tls.port))
        .unwrap_or_default();
    let server = Server {
        url_template: format!("postgres://postgres@/{{db}}?host={}{port}", dir.display()),
        cluster: Some(Cluster {
            bin,
            data,
            socket_dir: dir,
        }),
    };
    server
        .admin()
        .batch_execute(&format!(
            "CREATE ROLE {PASSWORD_ROLE} LOGIN PASSWORD '{PASSWORD}'"
        ))
        .map_err(|e| format!("create the password role: {e}"))?;
    Ok(server)
}

impl Cluster {
    /// Restarts the server at once (`pg_ctl restart -m fast`), as a failover would: every
    /// connection is cut.
    pub fn restart(&self) {
        let mut restart = as_owner(&self.bin.join("pg_ctl"));
        // Its output to the log: the server it starts would hold a pipe open forever.
        restart
            .args(["-w", "-m", "fast", "-D"])
            .arg(&self.data)
            .arg("-l")
            .arg(self.socket_dir.join("log"))
            .arg("restart");
        run(restart, "pg_ctl restart").unwrap_or_else(|e| panic!("{e}"));
    }
}

/// Stops the cluster and removes its folder once this test process has ended.
fn watch(bin: &Path, dir: &Path, data: &Path) {
    let pg_ctl = bin.join("pg_ctl");
    let stop = if is_root() {
        format!(
            "runuser -u postgres -- {} -D {} -m immediate stop",
            pg_ctl.display(),
            data.display()
        )
    } else {
        format!(
            "{} -D {} -m immediate stop",
            pg_ctl.display(),
            data.display()
        )
    };
    let script = format!(
        "while kill -0 {pid} 2>/dev/null; do sleep 0.5; done; {stop} >/dev/null 2>&1; rm -rf {dir}",
        pid = std::process::id(),
        dir = dir.display()
    );
    let _ = Command::new("setsid")
        .args(["sh", "-c", &script])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
}
