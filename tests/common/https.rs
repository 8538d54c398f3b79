//! A local HTTPS server for the tests: the server of `http.rs` behind rustls, with certificates
//! made at test time by rcgen: a private CA, server certificates for 127.0.0.1 and localhost (or
//! another name, or expired), client certificates; optionally a server that demands a client
//! certificate signed by a given CA.

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rcgen::{
    date_time_ymd, BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig, ServerConnection, StreamOwned};

use super::http::{Server, PATIENCE};

/// The names a server certificate is for unless a test says otherwise.
pub const LOCAL_NAMES: [&str; 2] = ["127.0.0.1", "localhost"];

/// A certificate authority made for one test.
pub struct Ca {
    /// Its certificate, PEM.
    pub pem: String,
    der: CertificateDer<'static>,
    issuer: Issuer<'static, KeyPair>,
}

/// A certificate and its key, signed by a `Ca`.
pub struct Leaf {
    pub cert_pem: String,
    pub key_pem: String,
    cert: CertificateDer<'static>,
    key_der: Vec<u8>,
}

/// Whether a certificate is valid now or expired long ago.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Validity {
    Current,
    Expired,
}

impl Ca {
    pub fn new(name: &str) -> Ca {
        let mut params = CertificateParams::new(Vec::new()).expect("CA parameters");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let key = KeyPair::generate().expect("CA key");
        let cert = params.self_signed(&key).expect("self-signed CA");
        Ca {
            pem: cert.pem(),
            der: cert.der().clone(),
            issuer: Issuer::new(params, key),
        }
    }

    /// A CA whose own certificate is also for 127.0.0.1 and localhost, and that certificate with
    /// its key for a server to present: what `openssl req -x509` makes for a quick self-signed
    /// server (it marks the certificate CA:TRUE).
    pub fn serving_itself(name: &str) -> (Ca, Leaf) {
        let names: Vec<String> = LOCAL_NAMES.iter().map(|n| n.to_string()).collect();
        let mut params = CertificateParams::new(names).expect("CA parameters");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        let key = KeyPair::generate().expect("CA key");
        let cert = params.self_signed(&key).expect("self-signed CA");
        let leaf = Leaf {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            cert: cert.der().clone(),
            key_der: key.serialize_der(),
        };
        let ca = Ca {
            pem: cert.pem(),
            der: cert.der().clone(),
            issuer: Issuer::new(params, key),
        };
        (ca, leaf)
    }

    /// A server certificate for 127.0.0.1 and localhost, valid now.
    pub fn server_leaf(&self) -> Leaf {
        self.leaf(
            &LOCAL_NAMES,
            ExtendedKeyUsagePurpose::ServerAuth,
            Validity::Current,
        )
    }

    /// A server certificate for `names`.
    pub fn server_leaf_for(&self, names: &[&str], validity: Validity) -> Leaf {
        self.leaf(names, ExtendedKeyUsagePurpose::ServerAuth, validity)
    }

    /// A client certificate (for mutual TLS) named `name`.
    pub fn client_leaf(&self, name: &str) -> Leaf {
        self.leaf(
            &[name],
            ExtendedKeyUsagePurpose::ClientAuth,
            Validity::Current,
        )
    }

    fn leaf(&self, names: &[&str], purpose: ExtendedKeyUsagePurpose, validity: Validity) -> Leaf {
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        let mut params = CertificateParams::new(names.clone()).expect("leaf parameters");
        params
            .distinguished_name
            .push(DnType::CommonName, &names[0]);
        params.use_authority_key_identifier_extension = true;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![purpose];
        if validity == Validity::Expired {
            params.not_before = date_time_ymd(2020, 1, 1);
            params.not_after = date_time_ymd(2021, 1, 1);
        }
        let key = KeyPair::generate().expect("leaf key");
        let cert = params.signed_by(&key, &self.issuer).expect("signed leaf");
        Leaf {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            cert: cert.der().clone(),
            key_der: key.serialize_der(),
        }
    }

    /// Writes the CA's certificate to `dir/name`; returns the path.
    pub fn write(&self, dir: &Path, name: &str) -> PathBuf {
        write(dir, name, &self.pem)
    }
}

impl Leaf {
    /// Writes the certificate and key to `dir/NAME.pem` and `dir/NAME.key`; returns both paths.
    pub fn write(&self, dir: &Path, name: &str) -> (PathBuf, PathBuf) {
        (
            write(dir, &format!("{name}.pem"), &self.cert_pem),
            write(dir, &format!("{name}.key"), &self.key_pem),
        )
    }

    fn key(&self) -> PrivateKeyDer<'static> {
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.key_der.clone()))
    }
}

/// Writes `contents` to `dir/name`; returns the path.
pub fn write(dir: &Path, name: &str, contents: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, contents).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    path
}

/// Starts an HTTPS server on 127.0.0.1 presenting `leaf`; with `client_ca`, it demands a client
/// certificate signed by that CA and ends the handshake of a client without one.
pub fn start_https(leaf: &Leaf, client_ca: Option<&Ca>) -> Server {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_protocol_versions(rustls::ALL_VERSIONS)
        .expect("TLS versions");
    let builder = match client_ca {
        None => builder.with_no_client_auth(),
        Some(ca) => {
            let mut roots = RootCertStore::empty();
            roots.add(ca.der.clone()).expect("client CA as a root");
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .expect("client verifier");
            builder.with_client_cert_verifier(verifier)
        }
    };
    let config = Arc::new(
        builder
            .with_single_cert(vec![leaf.cert.clone()], leaf.key())
            .expect("server certificate and key"),
    );
    Server::start_with("https", move |tcp| handshake(&config, tcp))
}

/// Completes the server's side of a handshake. One that fails sends its alert and keeps the
/// connection open until the client closes it: closed at once, with the client's first request
/// unread, the socket would be reset and the client could lose the alert, which tells it why
/// (TLS 1.3 checks a client certificate after the client's side of the handshake is done).
fn handshake(
    config: &Arc<ServerConfig>,
    mut tcp: TcpStream,
) -> Option<StreamOwned<ServerConnection, TcpStream>> {
    let mut connection = ServerConnection::new(Arc::clone(config)).ok()?;
    while connection.is_handshaking() {
        if connection.complete_io(&mut tcp).is_err() {
            let _ = connection.write_tls(&mut tcp);
            let _ = tcp.set_read_timeout(Some(PATIENCE));
            let _ = std::io::copy(&mut tcp, &mut std::io::sink());
            return None;
        }
    }
    Some(StreamOwned::new(connection, tcp))
}
