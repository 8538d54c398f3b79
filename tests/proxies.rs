//! Proxies as curl reads them (SPEC.md, register: Proxies): `HTTPS_PROXY` for https URLs,
//! `HTTP_PROXY` for http URLs (either case, lower case first), `ALL_PROXY` for both when the
//! scheme's own is unset, `NO_PROXY` for the hosts reached directly. httpat tunnels through an
//! HTTP proxy with CONNECT for both schemes, so the test proxy sees `CONNECT 127.0.0.1:PORT`;
//! a `socks5://` proxy is asked to connect to the same.

mod common;

use std::path::PathBuf;
use std::process::Output;

use common::https::{start_https, Ca};
use common::proxy::{ConnectProxy, SocksProxy};
use common::{describe, refused_url, show, Env, Server};

/// An environment with endpoint `hook` at `url`; returns it and the CA file of `ca` (if any)
/// registered with it.
fn env_for(url: &str, ca: Option<&Ca>) -> (Env, Option<PathBuf>) {
    let env = Env::new();
    let mut args = vec!["register", "hook", "--url", url];
    let ca_file = ca.map(|ca| ca.write(env.dir.path(), "ca.pem"));
    let ca_path = ca_file.as_ref().map(|p| p.to_string_lossy().into_owned());
    if let Some(path) = &ca_path {
        args.extend(["--ca-file", path.as_str()]);
    }
    env.ok(&args);
    (env, ca_file)
}

/// Schedules a task due now, runs a tick with `vars` set, and returns the task's state and the
/// tick's output.
fn send(env: &Env, vars: &[(&str, &str)]) -> (String, i64, Output) {
    let id = env.schedule(&["hook", "--at", "now"]);
    let mut cmd = env.cmd(&["tick"]);
    for (name, value) in vars {
        cmd.env(name, value);
    }
    let out = cmd.output().expect("run httpat tick");
    assert!(out.status.success(), "tick: {}", describe(&out));
    let state = show(env, id)["state"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    (state, id, out)
}

/// An HTTPS server with a private CA's certificate for 127.0.0.1.
fn https_server() -> (Ca, Server) {
    let ca = Ca::new("Factory private CA");
    let server = start_https(&ca.server_leaf(), None);
    (ca, server)
}

fn target(server: &Server) -> String {
    format!("127.0.0.1:{}", server.port())
}

#[test]
fn an_https_request_goes_through_https_proxy() {
    let (ca, server) = https_server();
    let (env, _) = env_for(&server.url("/hook"), Some(&ca));
    for variable in ["HTTPS_PROXY", "https_proxy"] {
        let proxy = ConnectProxy::start();

        let (state, _, _) = send(&env, &[(variable, &proxy.url())]);

        assert_eq!(state, "succeeded", "{variable}");
        assert_eq!(proxy.targets(), vec![target(&server)], "{variable}");
    }
    assert_eq!(server.count(), 2);
}

#[test]
fn a_socks5_proxy_carries_both_schemes() {
    // TLS runs over the SOCKS tunnel for https; plain HTTP goes through it as it is.
    let (ca, secure) = https_server();
    let plain = Server::start();
    let proxy = SocksProxy::start();
    let (https_env, _) = env_for(&secure.url("/hook"), Some(&ca));
    let (http_env, _) = env_for(&plain.url("/hook"), None);
    for env in [&https_env, &http_env] {
        let (state, id, _) = send(env, &[("ALL_PROXY", &proxy.url())]);
        assert_eq!(state, "succeeded", "{:#}", show(env, id));
    }
    assert_eq!(proxy.targets(), vec![target(&secure), target(&plain)]);
    assert_eq!((secure.count(), plain.count()), (1, 1));
}

#[test]
fn a_proxy_without_a_scheme_is_an_http_proxy() {
    let (ca, server) = https_server();
    let (env, _) = env_for(&server.url("/hook"), Some(&ca));
    let proxy = ConnectProxy::start();

    let (state, _, _) = send(&env, &[("HTTPS_PROXY", &proxy.address())]);

    assert_eq!(state, "succeeded");
    assert_eq!(proxy.targets(), vec![target(&server)]);
}

#[test]
fn no_proxy_names_the_hosts_reached_directly() {
    let (ca, server) = https_server();
    let (env, _) = env_for(&server.url("/hook"), Some(&ca));
    let proxy = ConnectProxy::start();
    let cases = [
        ("NO_PROXY", "127.0.0.1"),
        ("no_proxy", "127.0.0.1"),
        ("NO_PROXY", "127.0.0.0/8"),
        ("NO_PROXY", "ims.example, 127.0.0.1:8443"),
        ("NO_PROXY", "*"),
    ];
    for (variable, value) in cases {
        let (state, _, _) = send(&env, &[("HTTPS_PROXY", &proxy.url()), (variable, value)]);
        assert_eq!(state, "succeeded", "{variable}={value}");
        assert!(
            proxy.tunnels().is_empty(),
            "{variable}={value} went through the proxy"
        );
    }
    assert_eq!(server.count(), cases.len());

    // A host NO_PROXY does not name still goes through it.
    let (state, _, _) = send(
        &env,
        &[("HTTPS_PROXY", &proxy.url()), ("NO_PROXY", "10.0.0.0/8")],
    );
    assert_eq!(state, "succeeded");
    assert_eq!(proxy.targets(), vec![target(&server)]);
}

#[test]
fn an_http_request_uses_http_proxy_and_not_https_proxy() {
    let server = Server::start();
    let (env, _) = env_for(&server.url("/hook"), None);
    for variable in ["HTTP_PROXY", "http_proxy"] {
        let for_http = ConnectProxy::start();
        let for_https = ConnectProxy::start();

        let (state, _, _) = send(
            &env,
            &[
                (variable, &for_http.url()),
                ("HTTPS_PROXY", &for_https.url()),
            ],
        );

        assert_eq!(state, "succeeded", "{variable}");
        assert_eq!(for_http.targets(), vec![target(&server)], "{variable}");
        assert!(for_https.tunnels().is_empty(), "{variable}");
    }

    // HTTPS_PROXY alone leaves an http request direct.
    let for_https = ConnectProxy::start();
    let (state, _, _) = send(&env, &[("HTTPS_PROXY", &for_https.url())]);
    assert_eq!(state, "succeeded");
    assert!(for_https.tunnels().is_empty());
    assert_eq!(server.count(), 3);
}

#[test]
fn all_proxy_is_the_fallback_for_both_schemes() {
    let (ca, secure) = https_server();
    let plain = Server::start();
    let (https_env, _) = env_for(&secure.url("/hook"), Some(&ca));
    let (http_env, _) = env_for(&plain.url("/hook"), None);
    let all = ConnectProxy::start();

    for env in [&https_env, &http_env] {
        let (state, _, _) = send(env, &[("ALL_PROXY", &all.url())]);
        assert_eq!(state, "succeeded");
    }
    assert_eq!(all.targets(), vec![target(&secure), target(&plain)]);

    // The scheme's own variable comes first; an empty one counts as unset.
    let own = ConnectProxy::start();
    let (state, _, _) = send(
        &https_env,
        &[("ALL_PROXY", &all.url()), ("HTTPS_PROXY", &own.url())],
    );
    assert_eq!(state, "succeeded");
    assert_eq!(own.targets(), vec![target(&secure)]);
    let (state, _, _) = send(
        &https_env,
        &[("all_proxy", &all.url()), ("HTTPS_PROXY", "")],
    );
    assert_eq!(state, "succeeded");
    assert_eq!(all.targets().len(), 3);
}

#[test]
fn a_proxy_variable_that_holds_no_proxy_url_is_a_retried_error_naming_it() {
    let (ca, server) = https_server();
    let (env, _) = env_for(&server.url("/hook"), Some(&ca));

    let (state, id, _) = send(&env, &[("HTTPS_PROXY", "ftp://u:pw@proxy.example")]);

    assert_eq!(state, "retrying");
    let task = show(&env, id);
    assert_eq!(
        task["attempts"][0]["error"],
        "proxy ftp://u:***@proxy.example (HTTPS_PROXY) is not a proxy URL: write it as \
         http://HOST:PORT (or https://, socks5://)",
        "{task:#}"
    );
    assert_eq!(server.count(), 0);
}

#[test]
fn a_proxy_password_is_used_but_never_shown() {
    let (ca, server) = https_server();
    let (env, _) = env_for(&server.url("/hook"), Some(&ca));
    let proxy = ConnectProxy::start();
    let with_password = format!("http://factory:s3cret@{}", proxy.address());

    let (state, _, _) = send(&env, &[("HTTPS_PROXY", &with_password)]);

    assert_eq!(state, "succeeded");
    // Basic base64("factory:s3cret")
    assert_eq!(
        proxy.tunnels()[0].authorization.as_deref(),
        Some("Basic ZmFjdG9yeTpzM2NyZXQ=")
    );

    // A proxy that cannot be reached: the error names it, without the password.
    let closed = refused_url("");
    let unreachable = closed.replace("http://", "http://factory:s3cret@");
    let (state, id, out) = send(&env, &[("HTTPS_PROXY", &unreachable)]);
    assert_eq!(state, "retrying");
    let task = show(&env, id);
    let error = task["attempts"][0]["error"].as_str().unwrap_or_default();
    let shown = closed.replace("http://", "http://factory:***@");
    assert_eq!(
        error,
        format!("connection refused (through proxy {shown} (HTTPS_PROXY))"),
        "{task:#}"
    );
    let everything = format!(
        "{}{}{}",
        env.dump(),
        String::from_utf8_lossy(&out.stderr),
        std::fs::read_to_string(&env.log).unwrap_or_default()
    );
    assert!(!everything.contains("s3cret"), "the password leaked");
}
