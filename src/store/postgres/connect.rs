//! Connecting: libpq's URL form read by the client's own parser, with what libpq adds that it
//! lacks (`PGPASSWORD`, the user and the socket folder by default, `sslrootcert`), and TLS with
//! the system's trust store (or `sslrootcert`) when the URL asks for it.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use postgres::config::{Host, SslMode};
use postgres::{Client, Config, NoTls, SimpleQueryMessage};
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::store::location::PostgresUrl;

/// How long connecting may take unless the URL's `connect_timeout` says otherwise.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Where Debian's and most Linux servers put their socket, when the URL names no host.
const DEFAULT_SOCKET_FOLDER: &str = "/run/postgresql";

/// Opens a connection to the database `url` names.
pub fn connect(url: &PostgresUrl) -> Result<Client> {
    let (text, root_cert) = take_param(url.secret(), "sslrootcert");
    let mut config: Config = text
        .parse()
        .map_err(|e| crate::error::usage(format!("--db {url}: {e}")))?;
    if config.get_password().is_none() {
        if let Some(password) = std::env::var_os("PGPASSWORD") {
            config.password(password.to_string_lossy().as_bytes());
        }
    }
    if config.get_user().is_none() {
        config.user(&crate::context::user_name());
    }
    if config.get_hosts().is_empty() {
        config.host(DEFAULT_SOCKET_FOLDER);
    }
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(CONNECT_TIMEOUT);
    }
    let over_tcp = config
        .get_hosts()
        .iter()
        .any(|host| matches!(host, Host::Tcp(_)));
    if config.get_ssl_mode() == SslMode::Disable || !over_tcp {
        return Ok(config.connect(NoTls)?);
    }
    let tls = MakeRustlsConnect::new(tls_config(root_cert.as_deref())?);
    Ok(config.connect(tls)?)
}

/// The TLS configuration: the server's certificate is verified against `sslrootcert`, else the
/// system's trust store (`SSL_CERT_FILE` and `SSL_CERT_DIR` honoured).
fn tls_config(root_cert: Option<&str>) -> Result<rustls::ClientConfig> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::CertificateDer;
    let mut roots = rustls::RootCertStore::empty();
    match root_cert {
        Some(path) => {
            let certs = CertificateDer::pem_file_iter(path)
                .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
                .map_err(|e| {
                    crate::error::usage(format!("sslrootcert {path} cannot be read: {e}"))
                })?;
            roots.add_parsable_certificates(certs);
        }
        None => {
            roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("cannot set up TLS")?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

/// `url` without the query parameter `name`, and its value.
fn take_param(url: &str, name: &str) -> (String, Option<String>) {
    let Some((base, query)) = url.split_once('?') else {
        return (url.to_string(), None);
    };
    let mut value = None;
    let kept: Vec<&str> = query
        .split('&')
        .filter(|pair| match pair.split_once('=') {
            Some((key, found)) if key == name => {
                value = Some(
                    percent_encoding::percent_decode_str(found)
                        .decode_utf8_lossy()
                        .into_owned(),
                );
                false
            }
            _ => true,
        })
        .collect();
    let url = if kept.is_empty() {
        base.to_string()
    } else {
        format!("{base}?{}", kept.join("&"))
    };
    (url, value)
}

/// The first value of a simple query's first row.
pub fn first_value(messages: &[SimpleQueryMessage]) -> Option<&str> {
    messages.iter().find_map(|message| match message {
        SimpleQueryMessage::Row(row) => row.get(0),
        _ => None,
    })
}

/// `150004` as `15.4`.
pub fn version_text(number: i32) -> String {
    format!("{}.{}", number / 10_000, number % 10_000)
}

/// The server's or the client's own words for an error, on one line.
pub fn words(error: &postgres::Error) -> String {
    if let Some(db) = error.as_db_error() {
        return db.message().to_string();
    }
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    text.replace('\n', " ")
}

/// A TLS failure of the connection in words with the fix, when it is one.
pub fn tls_failure(error: &postgres::Error) -> Option<String> {
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        // An I/O error's source skips the error it wraps: look at that one too.
        let wrapped = cause
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
            .and_then(|inner| inner.downcast_ref::<rustls::Error>());
        if let Some(tls) = wrapped.or_else(|| cause.downcast_ref::<rustls::Error>()) {
            return Some(match tls {
                rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer) => {
                    "the server's certificate is not trusted (unknown issuer): name its CA with \
                     sslrootcert=PATH in the URL, or add it to the system trust store"
                        .to_string()
                }
                other => crate::tls_failure::explain(other, false)
                    .map(|words| format!("the server's {words}"))
                    .unwrap_or_else(|| format!("TLS with the server failed: {other}")),
            });
        }
        source = cause.source();
    }
    None
}

/// Whether the error is one of reaching the server at all (no server answered).
pub fn is_unreachable(error: &postgres::Error) -> bool {
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        if cause.downcast_ref::<std::io::Error>().is_some() {
            return true;
        }
        source = cause.source();
    }
    error.to_string().contains("timed out")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sslrootcert_is_taken_out_of_the_url() {
        let (url, value) = take_param(
            "postgres://a@h/db?sslmode=require&sslrootcert=%2Fetc%2Fca.pem&application_name=x",
            "sslrootcert",
        );
        assert_eq!(url, "postgres://a@h/db?sslmode=require&application_name=x");
        assert_eq!(value.as_deref(), Some("/etc/ca.pem"));
        let (url, value) = take_param("postgres://a@h/db?sslrootcert=ca.pem", "sslrootcert");
        assert_eq!(
            (url.as_str(), value.as_deref()),
            ("postgres://a@h/db", Some("ca.pem"))
        );
        assert_eq!(
            take_param("postgres://h/db", "x"),
            ("postgres://h/db".into(), None)
        );
    }
}
