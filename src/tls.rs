//! An endpoint's TLS files: a PEM bundle of CAs trusted beside the system's trust store (a
//! private CA), and a client certificate with its key (mutual TLS). Paths are stored; the files
//! are read when a request is sent, so a renewed certificate needs no new registration.

use std::io::ErrorKind;
use std::path::Path;
use std::sync::Arc;

use anyhow::{anyhow, bail, Context as _, Result};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use serde::Serialize;
use ureq::tls::{Certificate, ClientCert, PemItem, PrivateKey, RootCerts, TlsConfig};

/// The TLS files of an endpoint, as absolute paths; None where it has none. Endpoints with the
/// same files share one HTTP agent in a tick.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize)]
pub struct TlsFiles {
    pub ca_file: Option<String>,
    pub client_cert: Option<String>,
    pub client_key: Option<String>,
}

/// Which of the three files a path is, for checks and messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    CaFile,
    ClientCert,
    ClientKey,
}

impl Role {
    fn label(self) -> &'static str {
        match self {
            Role::CaFile => "CA file",
            Role::ClientCert => "client certificate",
            Role::ClientKey => "client key",
        }
    }
}

/// The TLS configuration of an endpoint without TLS files: the system's trust store, loaded
/// by the platform verifier on the first TLS connection (a plain HTTP request loads nothing).
pub fn system_trust_store() -> TlsConfig {
    TlsConfig::builder()
        .root_certs(RootCerts::PlatformVerifier)
        .build()
}

impl TlsFiles {
    pub fn is_empty(&self) -> bool {
        self == &TlsFiles::default()
    }

    /// The TLS configuration of a request with these files, read now: the system's trust store
    /// (plus the CA file's certificates), and the client certificate if there is one.
    pub fn load(&self) -> Result<TlsConfig> {
        let client_cert = self.load_client_cert()?;
        let Some(path) = &self.ca_file else {
            return Ok(TlsConfig::builder()
                .root_certs(RootCerts::PlatformVerifier)
                .client_cert(client_cert)
                .build());
        };
        let mut roots = load_ca_file(Path::new(path))?;
        roots.extend(system_roots());
        Ok(TlsConfig::builder()
            .root_certs(RootCerts::from(roots))
            .client_cert(client_cert)
            .build())
    }

    /// The client certificate and its key, read now and checked to fit together (an unfit pair
    /// must never reach the HTTP client, which would panic on it).
    fn load_client_cert(&self) -> Result<Option<ClientCert>> {
        let (cert_path, key_path) = match (&self.client_cert, &self.client_key) {
            (None, None) => return Ok(None),
            (Some(cert), Some(key)) => (Path::new(cert), Path::new(key)),
            (Some(_), None) | (None, Some(_)) => bail!(
                "a client certificate needs its key: give --client-cert and --client-key \
                 together (client_cert and client_key in an endpoints file)"
            ),
        };
        let chain = certificates(Role::ClientCert, cert_path)?;
        let (key, key_der) = private_key(key_path)?;
        check_pair(&chain, key_der).map_err(|why| {
            anyhow!(
                "client key {} and client certificate {} {why}",
                key_path.display(),
                cert_path.display()
            )
        })?;
        Ok(Some(ClientCert::new_with_certs(&chain, key)))
    }

    /// Checks, when an endpoint is registered, that its client certificate and key come
    /// together and fit.
    pub fn check_client_pair(&self) -> Result<()> {
        self.load_client_cert().map(|_| ())
    }
}

/// Checks a path given to `register` for `role`, and returns it absolute (a tick runs in
/// another directory); `none` gives None (the file is removed). Relative paths are relative to
/// `base` when given (the endpoints file's folder), else to the current directory.
pub fn check_path(role: Role, text: &str, base: Option<&Path>) -> Result<Option<String>> {
    if text == "none" {
        return Ok(None);
    }
    if text.is_empty() {
        bail!("the {} path is empty (`none` removes it)", role.label());
    }
    let given = Path::new(text);
    let joined = match base {
        Some(base) if given.is_relative() => base.join(given),
        _ => given.to_path_buf(),
    };
    let absolute = std::path::absolute(&joined)
        .with_context(|| format!("cannot make {} absolute", joined.display()))?;
    match role {
        Role::CaFile => load_ca_file(&absolute).map(|_| ())?,
        Role::ClientCert => certificates(role, &absolute).map(|_| ())?,
        Role::ClientKey => private_key(&absolute).map(|_| ())?,
    }
    let path = absolute
        .to_str()
        .ok_or_else(|| anyhow!("{} {} is not UTF-8", role.label(), absolute.display()))?;
    Ok(Some(path.to_string()))
}

/// The certificates of a CA file, each one usable as a trust anchor.
fn load_ca_file(path: &Path) -> Result<Vec<Certificate<'static>>> {
    let certs = certificates(Role::CaFile, path)?;
    for (n, cert) in certs.iter().enumerate() {
        rustls::RootCertStore::empty()
            .add(CertificateDer::from(cert.der()))
            .map_err(|_| {
                anyhow!(
                    "CA file {}: its certificate number {} cannot be parsed",
                    path.display(),
                    n + 1
                )
            })?;
    }
    Ok(certs)
}

/// The system's trust store as OpenSSL finds it (`SSL_CERT_FILE` and `SSL_CERT_DIR` first),
/// the same roots the platform verifier uses.
fn system_roots() -> Vec<Certificate<'static>> {
    let found = rustls_native_certs::load_native_certs();
    for error in &found.errors {
        log::debug!("system trust store: {error}");
    }
    found
        .certs
        .iter()
        .map(|der| Certificate::from_der(der.as_ref()).to_owned())
        .collect()
}

fn read(role: Role, path: &Path) -> Result<Vec<u8>> {
    let what = format!("{} {}", role.label(), path.display());
    std::fs::read(path).map_err(|e| match e.kind() {
        ErrorKind::NotFound => anyhow!("{what} does not exist"),
        ErrorKind::PermissionDenied => anyhow!("{what} cannot be read: permission denied"),
        ErrorKind::IsADirectory => anyhow!("{what} is a directory, not a file"),
        _ => anyhow!("{what} cannot be read: {e}"),
    })
}

/// The PEM items of a file; a damaged PEM section is an error naming the file.
fn pem_items(role: Role, path: &Path) -> Result<Vec<PemItem<'static>>> {
    let bytes = read(role, path)?;
    ureq::tls::parse_pem(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| {
            anyhow!(
                "{} {} is not valid PEM (a damaged section)",
                role.label(),
                path.display()
            )
        })
}

/// The certificates of a PEM file: at least one.
fn certificates(role: Role, path: &Path) -> Result<Vec<Certificate<'static>>> {
    let certs: Vec<Certificate<'static>> = pem_items(role, path)?
        .into_iter()
        .filter_map(|item| match item {
            PemItem::Certificate(cert) => Some(cert),
            _ => None,
        })
        .collect();
    if certs.is_empty() {
        bail!(
            "{} {} holds no PEM certificate (-----BEGIN CERTIFICATE-----)",
            role.label(),
            path.display()
        );
    }
    Ok(certs)
}

/// The private key of a PEM file (the first one), as the HTTP client takes it and as rustls
/// checks it.
fn private_key(path: &Path) -> Result<(PrivateKey<'static>, PrivateKeyDer<'static>)> {
    let items = pem_items(Role::ClientKey, path)?;
    let key = items.into_iter().find_map(|item| match item {
        PemItem::PrivateKey(key) => Some(key),
        _ => None,
    });
    let text = read(Role::ClientKey, path)?;
    if let Some(key) = key {
        // The same first key: both parsers take the first RSA, PKCS#8 or SEC1 section.
        let der = PrivateKeyDer::from_pem_slice(&text).map_err(|_| {
            anyhow!(
                "client key {} is not valid PEM (a damaged section)",
                path.display()
            )
        })?;
        return Ok((key, der));
    }
    if String::from_utf8_lossy(&text).contains("-----BEGIN ENCRYPTED PRIVATE KEY-----") {
        bail!(
            "client key {} is encrypted: httpat needs it unencrypted (openssl pkey -in KEY \
             -out PLAIN), readable only by the user that runs the tick",
            path.display()
        );
    }
    bail!(
        "client key {} holds no PEM private key (-----BEGIN PRIVATE KEY-----)",
        path.display()
    )
}

/// Checks that a client certificate chain and key fit, as rustls will when it builds the
/// configuration (ureq expects that to succeed); the error says why not, after the names.
fn check_pair(
    chain: &[Certificate<'static>],
    key: PrivateKeyDer<'static>,
) -> Result<(), &'static str> {
    let chain: Vec<CertificateDer<'static>> = chain
        .iter()
        .map(|cert| CertificateDer::from(cert.der().to_vec()))
        .collect();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(rustls::ALL_VERSIONS)
        .map_err(|_| "cannot be used: no TLS version is available")?
        .with_root_certificates(rustls::RootCertStore::empty())
        .with_client_auth_cert(chain, key)
        .map(|_| ())
        .map_err(|e| match e {
            rustls::Error::InconsistentKeys(_) => "do not fit: the key is not the certificate's",
            rustls::Error::General(_) => {
                "cannot be used: the key is not an RSA, ECDSA or Ed25519 key"
            }
            _ => "cannot be used: the certificate cannot be parsed",
        })
}
