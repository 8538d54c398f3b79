//! PostgreSQL over TCP with TLS (SPEC.md, Storage): with `sslmode=require` the server's
//! certificate is verified against the system's trust store (`SSL_CERT_FILE` honoured) or
//! `sslrootcert=PATH`; an untrusted one is refused; `sslmode=disable` sends in the clear. The
//! server is a cluster of the test's own listening on 127.0.0.1 with a certificate from a
//! private CA made at test time.

mod common;

use common::https::Ca;
use common::postgres::{private_cluster_with_tls, TlsListener};
use common::{closed_port, httpat, Env};

/// A cluster of the test's own with a server certificate for 127.0.0.1 from a private CA; the
/// environment, the TCP port and the CA.
fn tls_cluster(test: &str) -> Option<(Env, u16, Ca)> {
    let ca = Ca::new("httpat test database CA");
    let leaf = ca.server_leaf();
    let port = closed_port();
    let server = private_cluster_with_tls(
        test,
        TlsListener {
            cert_pem: leaf.cert_pem,
            key_pem: leaf.key_pem,
            port,
        },
    )?;
    Some((Env::on_server(server), port, ca))
}

/// `httpat --db URL endpoints` with `extra` environment; returns (exit code, stderr).
fn run(env: &Env, url: &str, extra: &[(&str, &str)]) -> (Option<i32>, String) {
    let mut cmd = httpat(env, common::DEFAULT_NOW, &["--db", url, "endpoints"]);
    for (name, value) in extra {
        cmd.env(name, value);
    }
    let out = cmd.output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn require_verifies_the_certificate_against_sslrootcert_or_the_system_store() {
    let Some((env, port, ca)) = tls_cluster("require_verifies_the_certificate") else {
        return;
    };
    let name = &env.pg.as_ref().unwrap().name;
    let ca = ca.write(env.dir.path(), "ca.pem");
    let tcp = format!("postgres://postgres@127.0.0.1:{port}/{name}");

    let (code, said) = run(
        &env,
        &format!("{tcp}?sslmode=require&sslrootcert={}", ca.display()),
        &[],
    );
    assert_eq!(code, Some(0), "trusted by sslrootcert: {said}");

    let (code, said) = run(
        &env,
        &format!("{tcp}?sslmode=require"),
        &[("SSL_CERT_FILE", ca.to_str().unwrap())],
    );
    assert_eq!(
        code,
        Some(0),
        "trusted by the system store's SSL_CERT_FILE: {said}"
    );

    let empty = env.path("empty.pem");
    std::fs::write(&empty, "").unwrap();
    let (code, said) = run(
        &env,
        &format!("{tcp}?sslmode=require"),
        &[("SSL_CERT_FILE", empty.to_str().unwrap())],
    );
    assert_eq!(code, Some(1), "an untrusted certificate is refused: {said}");
    assert!(
        said.contains("not trusted") && said.contains("sslrootcert"),
        "{said}"
    );
    assert!(
        said.contains(&format!("127.0.0.1:{port}")) && said.lines().count() == 1,
        "one line naming the database: {said}"
    );

    let (code, said) = run(&env, &format!("{tcp}?sslmode=disable"), &[]);
    assert_eq!(code, Some(0), "sslmode=disable: {said}");
}
