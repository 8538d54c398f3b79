//! A TLS failure in words an operator can act on, instead of rustls' own text: an untrusted,
//! expired or misnamed certificate, a client certificate asked for or refused. No retry helps
//! with these, so they are permanent failures.

use chrono::DateTime;
use rustls::pki_types::{ServerName, UnixTime};
use rustls::{AlertDescription, CertificateError};

/// The message for a TLS failure that no retry can mend; None for one worth retrying (a reset,
/// a garbled record). `sent_client_cert`: whether the endpoint has a client certificate.
pub fn explain(error: &rustls::Error, sent_client_cert: bool) -> Option<String> {
    match error {
        rustls::Error::InvalidCertificate(error) => Some(certificate(error)),
        rustls::Error::AlertReceived(alert) => alert_received(*alert, sent_client_cert),
        rustls::Error::General(text) if text.contains("No CA certificates") => Some(
            "no CA certificates could be loaded from the system trust store: install the \
             ca-certificates package, or point SSL_CERT_FILE or SSL_CERT_DIR at certificates"
                .to_string(),
        ),
        _ => None,
    }
}

/// Why the server's certificate was not accepted.
fn certificate(error: &CertificateError) -> String {
    use CertificateError::*;
    match error {
        UnknownIssuer => {
            "certificate not trusted: unknown issuer; register --ca-file to trust a private CA"
                .to_string()
        }
        ExpiredContext { not_after, .. } => format!(
            "certificate expired (it is not valid after {}); the server needs a renewed \
             certificate",
            time(*not_after)
        ),
        Expired => "certificate expired; the server needs a renewed certificate".to_string(),
        NotValidYetContext { not_before, .. } => format!(
            "certificate not valid yet (it is valid from {}): check this machine's clock, or \
             the server's certificate",
            time(*not_before)
        ),
        NotValidYet => "certificate not valid yet: check this machine's clock, or the server's \
             certificate"
            .to_string(),
        NotValidForNameContext {
            expected,
            presented,
        } => format!(
            "certificate is for another name (valid for {}, not {}): use that name in the URL, \
             or fix the server's certificate",
            names(presented),
            server_name(expected)
        ),
        NotValidForName => "certificate is for another name: use a name it is valid for in the \
             URL, or fix the server's certificate"
            .to_string(),
        Revoked => "certificate revoked; the server needs a new certificate".to_string(),
        BadSignature => "certificate not trusted: its signature does not verify against its \
             issuer's key"
            .to_string(),
        InvalidPurpose | InvalidPurposeContext { .. } => "certificate is not for a TLS server \
             (its extended key usage); the server needs a certificate for server authentication"
            .to_string(),
        BadEncoding => "certificate not accepted: it cannot be parsed".to_string(),
        UnhandledCriticalExtension => {
            "certificate not accepted: it has a critical extension httpat does not know".to_string()
        }
        UnknownRevocationStatus
        | ExpiredRevocationList
        | ExpiredRevocationListContext { .. }
        | InvalidOcspResponse => {
            "certificate not accepted: its revocation status cannot be checked".to_string()
        }
        UnsupportedSignatureAlgorithmContext { .. }
        | UnsupportedSignatureAlgorithmForPublicKeyContext { .. } => {
            "certificate not trusted: it is signed with an algorithm httpat does not accept"
                .to_string()
        }
        // What rustls passes on from webpki untranslated, named by its variant.
        Other(other) => match other.0.downcast_ref::<webpki::Error>() {
            Some(webpki::Error::CaUsedAsEndEntity) => "certificate not accepted: the server \
                 presents a CA's certificate as its own (CA:TRUE, as `openssl req -x509` makes \
                 one by default); it needs a server certificate issued by a CA"
                .to_string(),
            Some(webpki::Error::EndEntityUsedAsCa) => "certificate not trusted: it was issued by \
                 a certificate that is not a CA's (CA:FALSE); the server's chain needs its CA"
                .to_string(),
            _ => format!("certificate not accepted: {other}"),
        },
        _ => "certificate not accepted".to_string(),
    }
}

/// What an alert from the server means; None for alerts that are not about certificates.
fn alert_received(alert: AlertDescription, sent_client_cert: bool) -> Option<String> {
    use AlertDescription::*;
    let asks = "register --client-cert and --client-key";
    let words = match alert {
        CertificateRequired if !sent_client_cert => {
            return Some(format!("the server asks for a client certificate: {asks}"))
        }
        HandshakeFailure if !sent_client_cert => {
            return Some(format!(
                "the server refused the TLS handshake (handshake failure): if it asks for a \
                 client certificate, {asks}"
            ))
        }
        HandshakeFailure => "handshake failure",
        CertificateRequired => "certificate required",
        BadCertificate => "bad certificate",
        UnsupportedCertificate => "unsupported certificate",
        CertificateRevoked => "certificate revoked",
        CertificateExpired => "certificate expired",
        CertificateUnknown => "certificate unknown",
        UnknownCA => "unknown CA",
        AccessDenied => "access denied",
        _ => return None,
    };
    Some(if sent_client_cert {
        format!(
            "the server refused the client certificate ({words}): check that --client-cert is \
             valid and issued by a CA the server trusts"
        )
    } else {
        format!("the server refused the TLS handshake ({words})")
    })
}

fn time(at: UnixTime) -> String {
    i64::try_from(at.as_secs())
        .ok()
        .and_then(|secs| DateTime::from_timestamp(secs, 0))
        .map_or_else(
            || format!("{} s after 1970", at.as_secs()),
            |at| at.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
        )
}

/// The names a certificate is valid for, from rustls' `DnsName("x")` / `IpAddress(x)` forms.
fn names(presented: &[String]) -> String {
    if presented.is_empty() {
        return "no name".to_string();
    }
    presented
        .iter()
        .map(|name| {
            let inner = name
                .strip_prefix("DnsName(\"")
                .and_then(|n| n.strip_suffix("\")"))
                .or_else(|| {
                    name.strip_prefix("IpAddress(")
                        .and_then(|n| n.strip_suffix(')'))
                });
            inner.unwrap_or(name).to_string()
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn server_name(name: &ServerName<'_>) -> String {
    name.to_str().into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn certificate_failures_read_as_advice() {
        let unknown = rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer);
        assert_eq!(
            explain(&unknown, false).unwrap(),
            "certificate not trusted: unknown issuer; register --ca-file to trust a private CA"
        );
        let expired = rustls::Error::InvalidCertificate(CertificateError::ExpiredContext {
            time: UnixTime::since_unix_epoch(std::time::Duration::from_secs(1_800_000_000)),
            not_after: UnixTime::since_unix_epoch(std::time::Duration::from_secs(1_600_000_000)),
        });
        assert_eq!(
            explain(&expired, false).unwrap(),
            "certificate expired (it is not valid after 2020-09-13 12:26:40 UTC); the server \
             needs a renewed certificate"
        );
        let misnamed =
            rustls::Error::InvalidCertificate(CertificateError::NotValidForNameContext {
                expected: ServerName::try_from("127.0.0.1").unwrap(),
                presented: vec![
                    "DnsName(\"ims.factory.local\")".into(),
                    "IpAddress(10.0.0.7)".into(),
                ],
            });
        assert_eq!(
            explain(&misnamed, false).unwrap(),
            "certificate is for another name (valid for ims.factory.local, 10.0.0.7, not \
             127.0.0.1): use that name in the URL, or fix the server's certificate"
        );
    }

    #[test]
    fn a_ca_certificate_served_as_the_servers_own_is_named() {
        let served = |error: webpki::Error| {
            rustls::Error::InvalidCertificate(CertificateError::Other(rustls::OtherError(
                std::sync::Arc::new(error),
            )))
        };
        let message = explain(&served(webpki::Error::CaUsedAsEndEntity), false).unwrap();
        assert!(
            message.starts_with("certificate not accepted: the server presents a CA's certificate"),
            "{message}"
        );
        let message = explain(&served(webpki::Error::EndEntityUsedAsCa), false).unwrap();
        assert!(message.contains("not a CA's (CA:FALSE)"), "{message}");
    }

    #[test]
    fn client_certificate_alerts_say_what_to_register() {
        let required = rustls::Error::AlertReceived(AlertDescription::CertificateRequired);
        assert_eq!(
            explain(&required, false).unwrap(),
            "the server asks for a client certificate: register --client-cert and --client-key"
        );
        let refused = rustls::Error::AlertReceived(AlertDescription::UnknownCA);
        assert!(explain(&refused, true)
            .unwrap()
            .starts_with("the server refused the client certificate (unknown CA)"));
    }

    #[test]
    fn other_tls_failures_are_left_to_retry() {
        for error in [
            rustls::Error::AlertReceived(AlertDescription::InternalError),
            rustls::Error::DecryptError,
            rustls::Error::HandshakeNotComplete,
        ] {
            assert_eq!(explain(&error, false), None, "{error:?}");
        }
    }
}
