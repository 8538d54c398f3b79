//! TLS per endpoint (SPEC.md, register: TLS): the system's trust store (`SSL_CERT_FILE`,
//! `SSL_CERT_DIR`), a private CA trusted with `--ca-file`, mutual TLS with `--client-cert` and
//! `--client-key`, files read when a request is sent, and failures recorded as permanent in
//! words a person can act on. Certificates are made by each test; the servers listen on
//! 127.0.0.1.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use common::https::{start_https, write, Ca, Validity};
use common::{describe, exits, refused_unchanged, show, Env, Reply, Server};
use serde_json::Value;

/// A private CA, an HTTPS server with its certificate for 127.0.0.1, the CA's file, and an
/// environment with endpoint `ims` registered at the server with `extra` options.
struct Site {
    env: Env,
    ca: Ca,
    ca_file: PathBuf,
    server: Server,
}

impl Site {
    fn new(extra: &[&str]) -> Site {
        let ca = Ca::new("Factory private CA");
        let server = start_https(&ca.server_leaf(), None);
        Site::with(ca, server, extra)
    }

    fn with(ca: Ca, server: Server, extra: &[&str]) -> Site {
        let env = Env::new();
        let ca_file = ca.write(env.dir.path(), "factory-ca.pem");
        let site = Site {
            env,
            ca,
            ca_file,
            server,
        };
        site.register(extra);
        site
    }

    fn register(&self, extra: &[&str]) {
        let url = self.server.url("/rolls/{roll}/release");
        let mut args = vec!["register", "ims", "--url", &url];
        args.extend_from_slice(extra);
        self.env.ok(&args);
    }

    fn ca_path(&self) -> &str {
        path_str(&self.ca_file)
    }

    fn schedule(&self) -> i64 {
        self.env
            .schedule(&["ims", "--at", "now", "--arg", "roll=CCT-0042"])
    }

    /// Runs a tick with `vars` set (besides the neutral environment); it must exit 0.
    fn tick(&self, vars: &[(&str, &Path)]) -> Output {
        tick(&self.env, vars)
    }
}

fn tick(env: &Env, vars: &[(&str, &Path)]) -> Output {
    let mut cmd = env.cmd(&["tick"]);
    for (name, value) in vars {
        cmd.env(name, value);
    }
    let out = cmd.output().expect("run httpat tick");
    assert!(out.status.success(), "tick: {}", describe(&out));
    out
}

fn path_str(path: &Path) -> &str {
    path.to_str().expect("a UTF-8 temp path")
}

/// A file of another CA's certificate, to stand in for the system's trust store: what the
/// machine trusts must not decide a test.
fn unrelated_trust_store(env: &Env) -> PathBuf {
    Ca::new("Some public CA").write(env.dir.path(), "system-roots.pem")
}

fn attempts(task: &Value) -> &Vec<Value> {
    task["attempts"]
        .as_array()
        .unwrap_or_else(|| panic!("no attempts in {task:#}"))
}

/// Checks that the task failed at its first attempt, permanently, with exactly `error`; returns
/// the task.
fn assert_failed_at_once(env: &Env, id: i64, error: &str) -> Value {
    let task = show(env, id);
    assert_eq!(task["state"], "failed", "{task:#}");
    assert_eq!(attempts(&task).len(), 1, "no retry: {task:#}");
    let attempt = &attempts(&task)[0];
    assert_eq!(attempt["outcome"], "permanent", "{task:#}");
    assert_eq!(attempt["error"], error, "{task:#}");
    task
}

fn assert_succeeded(env: &Env, id: i64) {
    let task = show(env, id);
    assert_eq!(task["state"], "succeeded", "{task:#}");
    assert_eq!(attempts(&task)[0]["status"], 200, "{task:#}");
}

const UNTRUSTED: &str =
    "certificate not trusted: unknown issuer; register --ca-file to trust a private CA";

#[test]
fn a_private_ca_is_refused_at_once_without_ca_file() {
    let site = Site::new(&[]);
    let id = site.schedule();

    let out = site.tick(&[("SSL_CERT_FILE", &unrelated_trust_store(&site.env))]);

    assert_failed_at_once(&site.env, id, UNTRUSTED);
    assert_eq!(
        site.server.count(),
        0,
        "no request may pass an untrusted handshake"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(UNTRUSTED), "{stderr}");
    assert!(
        !stderr.contains("UnknownIssuer"),
        "rustls' own words: {stderr}"
    );
}

#[test]
fn a_private_ca_given_with_ca_file_is_trusted() {
    let site = Site::new(&[]);
    site.register(&["--ca-file", site.ca_path()]);
    let id = site.schedule();

    site.tick(&[("SSL_CERT_FILE", &unrelated_trust_store(&site.env))]);

    assert_succeeded(&site.env, id);
    let requests = site.server.requests_to("/rolls/CCT-0042/release");
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].body, r#"{"roll":"CCT-0042"}"#);
}

#[test]
fn tls_connections_are_kept_alive_for_every_kind_of_endpoint() {
    let client_ca = Ca::new("Factory clients CA");
    let ca = Ca::new("Factory private CA");
    let mutual = start_https(&ca.server_leaf(), Some(&client_ca));
    let site = Site::with(ca, mutual, &[]);
    let (cert, key) = client_ca
        .client_leaf("httpat")
        .write(site.env.dir.path(), "client");
    let plain_tls = start_https(&site.ca.server_leaf(), None);
    let system_url = plain_tls.url("/system");
    let private_url = plain_tls.url("/private");
    let endpoints: [(&str, Vec<&str>); 3] = [
        ("system", vec!["--url", &system_url]),
        (
            "private",
            vec!["--url", &private_url, "--ca-file", site.ca_path()],
        ),
        (
            "ims",
            vec![
                "--ca-file",
                site.ca_path(),
                "--client-cert",
                path_str(&cert),
                "--client-key",
                path_str(&key),
            ],
        ),
    ];
    for (name, options) in &endpoints {
        let mut args = vec!["register", name];
        args.extend(options.iter().copied());
        site.env.ok(&args);
        for n in 0..10 {
            let roll = format!("roll=R{n}");
            site.env.schedule(&[name, "--at", "now", "--arg", &roll]);
        }
    }
    let mut cmd = site.env.cmd(&["tick", "--concurrency", "2"]);
    cmd.env("SSL_CERT_FILE", &site.ca_file);
    let out = cmd.output().expect("run httpat tick");
    assert!(out.status.success(), "tick: {}", describe(&out));

    assert_eq!(plain_tls.count() + site.server.count(), 30);
    // Two workers: each kind of endpoint opens at most two connections, one per worker.
    assert!(
        plain_tls.connections() <= 4,
        "{} connections",
        plain_tls.connections()
    );
    assert!(
        site.server.connections() <= 2,
        "{} connections",
        site.server.connections()
    );
}

#[test]
fn requests_and_answers_larger_than_a_tls_record_cross_whole_over_one_connection() {
    // A TLS record carries at most 16 KiB: what is larger crosses in several, each way, and a
    // connection kept alive carries the next request after them.
    let site = Site::new(&[]);
    let trace = "t".repeat(20 * 1024);
    let header = format!("X-Trace: {trace}");
    site.register(&["--ca-file", site.ca_path(), "--header", &header]);
    let cookie = "c".repeat(40 * 1024);
    let answer: Vec<u8> = (0..64 * 1024).map(|n| b'a' + (n % 26) as u8).collect();
    site.server.reply(
        "/rolls/CCT-0042/release",
        Reply::status(200)
            .header("Set-Cookie", &format!("session={cookie}"))
            .body(answer.clone()),
    );
    let note = "n".repeat(60 * 1024);
    let ids: Vec<i64> = (0..3)
        .map(|n| {
            site.env.schedule(&[
                "ims",
                "--at",
                "now",
                "--arg",
                "roll=CCT-0042",
                "--arg",
                &format!("note={note}"),
                "--key",
                &format!("large-{n}"),
            ])
        })
        .collect();

    let mut cmd = site.env.cmd(&["tick", "--concurrency", "1"]);
    cmd.env("SSL_CERT_FILE", unrelated_trust_store(&site.env));
    let out = cmd.output().expect("run httpat tick");
    assert!(out.status.success(), "tick: {}", describe(&out));

    let requests = site.server.requests_to("/rolls/CCT-0042/release");
    assert_eq!(requests.len(), 3);
    let body = format!(r#"{{"note":"{note}","roll":"CCT-0042"}}"#);
    for request in &requests {
        assert_eq!(request.header("x-trace"), Some(trace.as_str()));
        assert_eq!(request.body, body);
    }
    assert_eq!(site.server.connections(), 1, "one connection kept alive");
    for id in ids {
        assert_succeeded(&site.env, id);
        let stored = site
            .env
            .cmd(&["show", &id.to_string(), "--body"])
            .output()
            .expect("run httpat show --body");
        assert!(stored.status.success(), "{}", describe(&stored));
        assert!(stored.stdout == answer, "task {id}: the body stored whole");
    }
}

#[test]
fn a_ca_in_ssl_cert_file_is_trusted_as_the_system_store() {
    let site = Site::new(&[]);
    let id = site.schedule();

    site.tick(&[("SSL_CERT_FILE", &site.ca_file)]);

    assert_succeeded(&site.env, id);
    assert_eq!(site.server.count(), 1);
}

#[test]
fn an_empty_system_trust_store_fails_saying_so() {
    let site = Site::new(&[]);
    let id = site.schedule();

    site.tick(&[("SSL_CERT_FILE", &site.env.path("no-such-bundle.pem"))]);

    assert_failed_at_once(
        &site.env,
        id,
        "no CA certificates could be loaded from the system trust store: install the \
         ca-certificates package, or point SSL_CERT_FILE or SSL_CERT_DIR at certificates",
    );
}

#[test]
fn a_ca_in_a_folder_named_by_ssl_cert_dir_is_trusted_as_the_system_store() {
    let site = Site::new(&[]);
    let folder = site.env.path("certs");
    std::fs::create_dir(&folder).expect("create the certificate folder");
    // OpenSSL looks a CA up by its subject hash (`openssl rehash` makes such names); the file is
    // given a plain name here, as rustls-native-certs reads every file of the folder.
    write(&folder, "factory-ca.pem", &site.ca.pem);
    let id = site.schedule();

    site.tick(&[("SSL_CERT_DIR", &folder)]);

    assert_succeeded(&site.env, id);
}

#[test]
fn an_expired_certificate_fails_at_once_saying_so() {
    let ca = Ca::new("Factory private CA");
    let server = start_https(&ca.server_leaf_for(&["127.0.0.1"], Validity::Expired), None);
    let site = Site::with(ca, server, &[]);
    site.register(&["--ca-file", site.ca_path()]);
    let id = site.schedule();

    site.tick(&[]);

    assert_failed_at_once(
        &site.env,
        id,
        "certificate expired (it is not valid after 2021-01-01 00:00:00 UTC); the server needs a \
         renewed certificate",
    );
}

#[test]
fn a_certificate_for_another_name_fails_at_once_saying_so() {
    let ca = Ca::new("Factory private CA");
    let server = start_https(
        &ca.server_leaf_for(&["ims.factory.local"], Validity::Current),
        None,
    );
    let site = Site::with(ca, server, &[]);
    site.register(&["--ca-file", site.ca_path()]);
    let id = site.schedule();

    site.tick(&[]);

    assert_failed_at_once(
        &site.env,
        id,
        "certificate is for another name (valid for ims.factory.local, not 127.0.0.1): use that \
         name in the URL, or fix the server's certificate",
    );
}

#[test]
fn a_self_signed_ca_certificate_served_as_the_servers_own_fails_at_once_saying_so() {
    let (ca, own) = Ca::serving_itself("ims.factory.local");
    let server = start_https(&own, None);
    let site = Site::with(ca, server, &[]);
    site.register(&["--ca-file", site.ca_path()]);
    let id = site.schedule();

    let out = site.tick(&[]);

    assert_failed_at_once(
        &site.env,
        id,
        "certificate not accepted: the server presents a CA's certificate as its own (CA:TRUE, as \
         `openssl req -x509` makes one by default); it needs a server certificate issued by a CA",
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stderr.contains("CaUsedAsEndEntity"),
        "webpki's own words: {stderr}"
    );
    assert_eq!(site.server.count(), 0, "nothing passes a refused handshake");
}

/// A server that demands a client certificate signed by `client_ca`, and the site around it.
fn mutual_site(client_ca: &Ca) -> Site {
    let ca = Ca::new("Factory private CA");
    let server = start_https(&ca.server_leaf(), Some(client_ca));
    let site = Site::with(ca, server, &[]);
    site.register(&["--ca-file", site.ca_path()]);
    site
}

#[test]
fn a_server_that_demands_a_client_certificate_gets_one() {
    let client_ca = Ca::new("Factory clients CA");
    let site = mutual_site(&client_ca);
    let (cert, key) = client_ca
        .client_leaf("httpat")
        .write(site.env.dir.path(), "client");
    site.register(&[
        "--client-cert",
        path_str(&cert),
        "--client-key",
        path_str(&key),
    ]);
    let id = site.schedule();

    site.tick(&[]);

    assert_succeeded(&site.env, id);
    assert_eq!(site.server.count(), 1);
}

#[test]
fn without_a_client_certificate_the_task_fails_saying_the_server_asks_for_one() {
    let site = mutual_site(&Ca::new("Factory clients CA"));
    let id = site.schedule();

    site.tick(&[]);

    assert_failed_at_once(
        &site.env,
        id,
        "the server asks for a client certificate: register --client-cert and --client-key",
    );
    assert_eq!(site.server.count(), 0);
}

#[test]
fn a_client_certificate_the_server_does_not_trust_fails_saying_so() {
    let site = mutual_site(&Ca::new("Factory clients CA"));
    let (cert, key) = Ca::new("Someone else's CA")
        .client_leaf("httpat")
        .write(site.env.dir.path(), "client");
    site.register(&[
        "--client-cert",
        path_str(&cert),
        "--client-key",
        path_str(&key),
    ]);
    let id = site.schedule();

    site.tick(&[]);

    assert_failed_at_once(
        &site.env,
        id,
        "the server refused the client certificate (unknown CA): check that --client-cert is \
         valid and issued by a CA the server trusts",
    );
    assert_eq!(site.server.count(), 0);
}

#[test]
fn a_renewed_ca_file_is_read_by_the_next_tick_without_registering_again() {
    // The server's certificate is from the new CA; the file still holds the old one.
    let new_ca = Ca::new("Factory private CA 2027");
    let server = start_https(&new_ca.server_leaf(), None);
    let site = Site::with(Ca::new("Factory private CA 2026"), server, &[]);
    site.register(&["--ca-file", site.ca_path()]);
    let trust = [("SSL_CERT_FILE", unrelated_trust_store(&site.env))];
    let trust: Vec<(&str, &Path)> = trust.iter().map(|(n, p)| (*n, p.as_path())).collect();
    let first = site.schedule();
    site.tick(&trust);
    assert_failed_at_once(&site.env, first, UNTRUSTED);

    write(site.env.dir.path(), "factory-ca.pem", &new_ca.pem);
    let second = site.schedule();
    site.tick(&trust);

    assert_succeeded(&site.env, second);
}

#[test]
fn a_ca_file_deleted_after_registration_cancels_its_task_and_the_tick_goes_on() {
    let site = Site::new(&[]);
    site.register(&["--ca-file", site.ca_path()]);
    let plain = Server::start();
    site.env
        .ok(&["register", "plain", "--url", &plain.url("/hook")]);
    let private = site.schedule();
    let other = site.env.schedule(&["plain", "--at", "now"]);
    std::fs::remove_file(&site.ca_file).expect("delete the CA file");

    let out = site.tick(&[]);

    let task = show(&site.env, private);
    assert_eq!(task["state"], "cancelled", "{task:#}");
    let reason = task["reason"].as_str().unwrap_or_default();
    let missing = format!("CA file {} does not exist", site.ca_path());
    assert!(reason.contains(&missing), "{task:#}");
    assert_eq!(attempts(&task)[0]["outcome"], "executor_error", "{task:#}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(&missing), "{stderr}");
    let log = std::fs::read_to_string(&site.env.log).unwrap_or_default();
    assert!(log.contains(&missing), "the log names the file: {log}");
    assert_succeeded(&site.env, other);
    assert_eq!(plain.count(), 1);
    assert_eq!(site.server.count(), 0);
}

#[test]
fn a_client_key_replaced_by_one_that_does_not_fit_cancels_the_task_naming_both_files() {
    let client_ca = Ca::new("Factory clients CA");
    let site = mutual_site(&client_ca);
    let (cert, key) = client_ca
        .client_leaf("httpat")
        .write(site.env.dir.path(), "client");
    site.register(&[
        "--client-cert",
        path_str(&cert),
        "--client-key",
        path_str(&key),
    ]);
    write(
        site.env.dir.path(),
        "client.key",
        &client_ca.client_leaf("other").key_pem,
    );
    let id = site.schedule();

    site.tick(&[]);

    let task = show(&site.env, id);
    assert_eq!(task["state"], "cancelled", "{task:#}");
    let reason = task["reason"].as_str().unwrap_or_default();
    let expected = format!(
        "client key {} and client certificate {} do not fit",
        path_str(&key),
        path_str(&cert)
    );
    assert!(reason.contains(&expected), "{task:#}");
    assert_eq!(site.server.count(), 0);
}

#[test]
fn register_refuses_tls_files_that_cannot_be_used() {
    let env = Env::new();
    env.ok(&["register", "ims", "--url", "https://127.0.0.1:9/x"]);
    let dir = env.dir.path();
    let missing = dir.join("missing.pem");
    let not_pem = write(dir, "notes.txt", "not a certificate\n");
    let ca = Ca::new("Factory private CA");
    let ca_file = ca.write(dir, "ca.pem");
    let (cert, key) = ca.client_leaf("httpat").write(dir, "client");
    let other_key = write(dir, "other.key", &ca.client_leaf("other").key_pem);
    let show = |p: &Path| path_str(p).to_string();
    let cases: Vec<(Vec<String>, String)> = vec![
        (
            vec!["--ca-file".into(), show(&missing)],
            format!("CA file {} does not exist", show(&missing)),
        ),
        (
            vec!["--ca-file".into(), show(&not_pem)],
            format!("CA file {} holds no PEM certificate", show(&not_pem)),
        ),
        (
            vec!["--ca-file".into(), show(dir)],
            format!("CA file {} is a directory", show(dir)),
        ),
        (
            vec!["--client-cert".into(), show(&key)],
            format!("client certificate {} holds no PEM certificate", show(&key)),
        ),
        (
            vec!["--client-key".into(), show(&ca_file)],
            format!("client key {} holds no PEM private key", show(&ca_file)),
        ),
        (
            vec!["--client-cert".into(), show(&cert)],
            "a client certificate needs its key".to_string(),
        ),
        (
            vec!["--client-key".into(), show(&key)],
            "a client certificate needs its key".to_string(),
        ),
        (
            vec![
                "--client-cert".into(),
                show(&cert),
                "--client-key".into(),
                show(&other_key),
            ],
            format!(
                "client key {} and client certificate {} do not fit",
                show(&other_key),
                show(&cert)
            ),
        ),
    ];
    for (options, message) in cases {
        let mut args = vec!["register", "ims"];
        args.extend(options.iter().map(String::as_str));
        let stderr = refused_unchanged(&env, &args, 2);
        assert!(stderr.contains(&message), "{args:?}: {stderr}");
    }
}

#[test]
fn register_stores_tls_paths_absolute_and_none_removes_them() {
    let env = Env::new();
    let ca = Ca::new("Factory private CA");
    ca.write(env.dir.path(), "ca.pem");
    let (cert, key) = ca.client_leaf("httpat").write(env.dir.path(), "client");
    let out = env
        .cmd(&[
            "register",
            "ims",
            "--url",
            "https://127.0.0.1:9/x",
            "--ca-file",
            "ca.pem",
        ])
        .current_dir(env.dir.path())
        .output()
        .expect("run httpat register");
    assert!(out.status.success(), "{}", describe(&out));
    let endpoint = &env.json(&["endpoints"])[0];
    let absolute = env.path("ca.pem");
    assert_eq!(endpoint["ca_file"], path_str(&absolute), "{endpoint:#}");
    assert_eq!(endpoint["client_cert"], Value::Null);
    assert_eq!(endpoint["client_key"], Value::Null);

    let updated = env.ok(&[
        "register",
        "ims",
        "--client-cert",
        path_str(&cert),
        "--client-key",
        path_str(&key),
    ]);
    assert_eq!(updated, "updated: client_cert, client_key\n");
    assert_eq!(
        env.ok(&["register", "ims", "--ca-file", path_str(&absolute)]),
        "unchanged\n"
    );
    assert_eq!(
        env.ok(&["register", "ims", "--ca-file", "none"]),
        "updated: ca_file\n"
    );
    let endpoint = &env.json(&["endpoints"])[0];
    assert_eq!(endpoint["ca_file"], Value::Null, "{endpoint:#}");
    assert_eq!(endpoint["client_cert"], path_str(&cert));
    let (_, stderr) = exits(&env, &["register", "ims", "--client-cert", "none"], 2);
    assert!(stderr.contains("needs its key"), "{stderr}");
    assert_eq!(
        env.ok(&[
            "register",
            "ims",
            "--client-cert",
            "none",
            "--client-key",
            "none"
        ]),
        "updated: client_cert, client_key\n"
    );
}

#[test]
fn an_endpoints_file_gives_tls_paths_relative_to_its_folder() {
    let env = Env::new();
    let folder = env.path("conf");
    std::fs::create_dir_all(folder.join("certs")).expect("create folders");
    let ca = Ca::new("Factory private CA");
    ca.write(&folder.join("certs"), "ca.pem");
    let (cert, key) = ca
        .client_leaf("httpat")
        .write(&folder.join("certs"), "client");
    let file = write(
        &folder,
        "endpoints.toml",
        "[endpoints.ims]\nurl = \"https://127.0.0.1:9/x\"\nca_file = \"certs/ca.pem\"\n\
         client_cert = \"certs/client.pem\"\nclient_key = \"certs/client.key\"\n",
    );
    env.ok(&["register", "--file", path_str(&file)]);
    let endpoint = &env.json(&["endpoints"])[0];
    assert_eq!(
        endpoint["ca_file"],
        path_str(&folder.join("certs/ca.pem")),
        "{endpoint:#}"
    );
    assert_eq!(endpoint["client_cert"], path_str(&cert));
    assert_eq!(endpoint["client_key"], path_str(&key));

    // Left out of the file, the files are removed: the registry matches the file.
    write(
        &folder,
        "endpoints.toml",
        "[endpoints.ims]\nurl = \"https://127.0.0.1:9/x\"\n",
    );
    assert_eq!(
        env.ok(&["register", "--file", path_str(&file)]),
        "ims: updated: ca_file, client_cert, client_key\n"
    );

    write(
        &folder,
        "endpoints.toml",
        "[endpoints.ims]\nurl = \"https://127.0.0.1:9/x\"\nca_file = \"certs/nope.pem\"\n",
    );
    let stderr = refused_unchanged(&env, &["register", "--file", path_str(&file)], 2);
    assert!(stderr.contains("endpoint \"ims\""), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "CA file {} does not exist",
            path_str(&folder.join("certs/nope.pem"))
        )),
        "{stderr}"
    );
}

#[test]
fn show_gives_the_endpoints_tls_files_beside_the_request() {
    let site = Site::new(&[]);
    site.register(&["--ca-file", site.ca_path()]);
    let id = site.schedule();

    let task = show(&site.env, id);
    assert_eq!(task["tls"]["ca_file"], site.ca_path(), "{task:#}");
    assert_eq!(task["tls"]["client_cert"], Value::Null, "{task:#}");
    let text = site.env.ok(&["show", &id.to_string()]);
    assert!(
        text.contains(&format!("TLS\n  CA file      {}\n", site.ca_path())),
        "{text}"
    );
}
