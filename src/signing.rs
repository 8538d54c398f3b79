//! Signed requests, as Standard Webhooks (standardwebhooks.com) specifies: `webhook-id` (the
//! task's Idempotency-Key value, so a receiver's replay protection and httpat's retries agree),
//! `webhook-timestamp` (Unix seconds when the attempt is sent) and `webhook-signature`: `v1,` and
//! the base64 of HMAC-SHA256 over `ID.TIMESTAMP.BODY`, one for each secret, space-separated, so
//! that keys rotate without downtime. A secret is only ever a `${VAR}` reference, read from the
//! tick's environment when the request is sent.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use anyhow::{anyhow, Result};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use crate::error::usage;
use crate::secrets::Secret;

/// The prefix a secret may carry before its base64.
const PREFIX: &str = "whsec_";

/// The variable a `--signing-secret` names: it must be exactly `${VAR}`, so that no secret is
/// ever stored.
pub fn check_reference(text: &str) -> Result<String> {
    let name = text
        .trim()
        .strip_prefix("${")
        .and_then(|rest| rest.strip_suffix('}'))
        .filter(|name| {
            name.chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        });
    match name {
        Some(name) => Ok(name.to_string()),
        None => Err(usage(format!(
            "--signing-secret \"{}\" is not a variable reference: write it as '${{VAR}}' and give \
             the tick the secret in VAR (a signing secret is never stored)",
            mask_literal(text)
        ))),
    }
}

/// A value shown in a message in place of what may be a secret typed by mistake.
fn mask_literal(text: &str) -> String {
    if text.contains("${") {
        text.to_string()
    } else {
        "…".to_string()
    }
}

/// The key of a secret's value: its base64, after an optional `whsec_`.
pub fn key(value: &str) -> Result<Vec<u8>> {
    let text = value.trim();
    let text = text.strip_prefix(PREFIX).unwrap_or(text);
    let key = STANDARD
        .decode(text)
        .map_err(|_| anyhow!("it is not base64 (with or without whsec_)"))?;
    if key.is_empty() {
        return Err(anyhow!("it is empty"));
    }
    Ok(key)
}

/// The `webhook-signature` value: one `v1,SIGNATURE` per key, space-separated.
pub fn signature(keys: &[Vec<u8>], id: &str, timestamp: i64, body: &[u8]) -> String {
    let prepared: Vec<Hmac<Sha256>> = keys.iter().map(|key| prepare(key)).collect();
    sign_with(prepared.iter(), id, timestamp, body)
}

/// HMAC-SHA256 with its key already taken in: a copy signs each message.
fn prepare(key: &[u8]) -> Hmac<Sha256> {
    // HMAC takes a key of any length: this cannot fail.
    <Hmac<Sha256> as KeyInit>::new_from_slice(key).expect("HMAC takes a key of any length")
}

fn sign_with<'a>(
    prepared: impl Iterator<Item = &'a Hmac<Sha256>>,
    id: &str,
    timestamp: i64,
    body: &[u8],
) -> String {
    let timestamp = timestamp.to_string();
    let mut signature = String::new();
    for mac in prepared {
        let mut mac = mac.clone();
        mac.update(id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.as_bytes());
        mac.update(b".");
        mac.update(body);
        if !signature.is_empty() {
            signature.push(' ');
        }
        signature.push_str("v1,");
        STANDARD.encode_string(mac.finalize().into_bytes(), &mut signature);
    }
    signature
}

/// A signing secret as the tick's environment gives it, ready to sign with.
pub struct Key {
    /// The variable and its value, which everything stored or shown masks.
    pub secret: Secret,
    mac: Hmac<Sha256>,
}

/// `signature` with prepared keys.
pub fn signature_of(keys: &[Arc<Key>], id: &str, timestamp: i64, body: &[u8]) -> String {
    sign_with(keys.iter().map(|key| &key.mac), id, timestamp, body)
}

/// The signing keys of one tick's requests, by variable: read from its environment and
/// decoded once, on first use, and shared by the workers (a tick's environment does not change
/// while it runs).
#[derive(Default)]
pub struct Keys {
    by_name: RwLock<HashMap<String, Result<Arc<Key>, String>>>,
}

impl Keys {
    /// The key in variable `name`, as `lookup` reads the environment; an error says what is
    /// wrong with it, naming the variable.
    pub fn get(&self, name: &str, lookup: impl Fn(&str) -> Option<String>) -> Result<Arc<Key>> {
        // Every request after the first only reads: the workers share the lock without waiting
        // for each other. A poisoned lock only means another worker panicked while holding it;
        // the map stays whole (each insert is one step).
        let read = self.by_name.read().unwrap_or_else(|e| e.into_inner());
        if let Some(found) = read.get(name) {
            return found.clone().map_err(|message| anyhow!(message));
        }
        drop(read);
        let mut by_name = self.by_name.write().unwrap_or_else(|e| e.into_inner());
        by_name
            .entry(name.to_string())
            .or_insert_with(|| {
                let value = lookup(name).ok_or_else(|| {
                    format!("environment variable {name} is not set in the tick's environment")
                })?;
                let decoded =
                    key(&value).map_err(|e| format!("signing secret ${{{name}}}: {e:#}"))?;
                Ok(Arc::new(Key {
                    mac: prepare(&decoded),
                    secret: Secret {
                        name: name.into(),
                        value: value.into(),
                    },
                }))
            })
            .clone()
            .map_err(|message| anyhow!(message))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The test vector of the Standard Webhooks reference libraries.
    #[test]
    fn the_reference_vector_signs_the_same() {
        let key = key("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let signed = signature(
            &[key],
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1614265330,
            br#"{"test": 2432232314}"#,
        );
        assert_eq!(signed, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    #[test]
    fn the_prefix_is_optional_and_each_key_signs() {
        let with = key("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let without = key("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        assert_eq!(with, without);
        let other = key("c2Vjb25kIGtleQ==").unwrap();
        let both = signature(&[with.clone(), other.clone()], "id", 1, b"");
        let parts: Vec<&str> = both.split(' ').collect();
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0], signature(&[with], "id", 1, b""));
        assert_eq!(parts[1], signature(&[other], "id", 1, b""));
        assert!(key("not base64!").is_err());
        assert!(key("whsec_").is_err());
    }

    #[test]
    fn a_tick_reads_and_prepares_each_key_once_and_signs_the_same() {
        let keys = Keys::default();
        let reads = std::cell::Cell::new(0);
        let lookup = |name: &str| {
            reads.set(reads.get() + 1);
            match name {
                "GOOD" => Some("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".to_string()),
                "BAD" => Some("not base64!".to_string()),
                _ => None,
            }
        };
        let first = keys.get("GOOD", lookup).unwrap();
        let again = keys.get("GOOD", lookup).unwrap();
        assert_eq!(reads.get(), 1, "the environment was read again");
        assert_eq!(&*first.secret.name, "GOOD");
        assert_eq!(
            &*first.secret.value,
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
        );
        let raw = key(&first.secret.value).unwrap();
        assert_eq!(
            signature_of(&[first, again], "id", 7, b"body"),
            signature(&[raw.clone(), raw], "id", 7, b"body")
        );
        let missing = keys.get("MISSING", lookup).err().unwrap().to_string();
        assert!(missing.contains("MISSING is not set"), "{missing}");
        let bad = keys.get("BAD", lookup).err().unwrap().to_string();
        assert!(
            bad.contains("signing secret ${BAD}: it is not base64"),
            "{bad}"
        );
        assert!(!bad.contains("not base64!"), "the value is repeated: {bad}");
    }

    #[test]
    fn only_a_variable_reference_is_a_signing_secret() {
        assert_eq!(check_reference("${IMS_SIGNING}").unwrap(), "IMS_SIGNING");
        for bad in ["whsec_abc", "$IMS", "${}", "${1A}", "Bearer ${A}", ""] {
            let error = check_reference(bad).unwrap_err().to_string();
            assert!(
                !error.contains("whsec_abc"),
                "the literal is repeated: {error}"
            );
            assert_eq!(
                crate::error::exit_code(&check_reference(bad).unwrap_err()),
                2
            );
        }
    }
}
