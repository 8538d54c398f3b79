//! `${VAR}` in header values: checked when an endpoint is registered, expanded from the
//! environment only when a request is sent, and masked wherever a response echoes it back.
//! A literal `$` is written `$$`; `$NAME` without braces is refused, since a shell user means a
//! variable by it and would otherwise have it sent literally.

use std::sync::Arc;

use anyhow::{anyhow, Result};

/// One `${VAR}` reference and the value it had when the request was built. Shared text: a
/// signing secret's is the tick's, handed to each of its requests.
#[derive(Debug, Clone)]
pub struct Secret {
    pub name: Arc<str>,
    pub value: Arc<str>,
}

/// A piece of a header value: plain text or a `${VAR}` reference.
enum Piece<'a> {
    Text(&'a str),
    Var(&'a str),
}

/// How a lone `$` (neither `${` nor `$$`) is read.
#[derive(Clone, Copy, PartialEq)]
enum LoneDollar {
    /// Refused, with the fix: what `register` checks.
    Refused,
    /// Kept as it is: values stored before `$$` existed are sent as they always were.
    Literal,
}

/// Splits `text` at its `${VAR}` references and `$$` escapes.
fn pieces(text: &str, lone: LoneDollar) -> Result<Vec<Piece<'_>>> {
    let mut pieces = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find('$') {
        pieces.push(Piece::Text(&rest[..start]));
        let after = &rest[start + 1..];
        if let Some(after_escape) = after.strip_prefix('$') {
            pieces.push(Piece::Text("$"));
            rest = after_escape;
            continue;
        }
        let Some(after) = after.strip_prefix('{') else {
            if lone == LoneDollar::Literal {
                pieces.push(Piece::Text("$"));
                rest = after;
                continue;
            }
            let name: String = after
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_') {
                return Err(anyhow!(
                    "\"${name}\" is not expanded: write ${{{name}}} to read the variable when \
                     the request is sent, or $${name} for a literal `$`"
                ));
            }
            return Err(anyhow!("a literal `$` is written `$$`"));
        };
        let end = after
            .find('}')
            .ok_or_else(|| anyhow!("`${{` is never closed by `}}`"))?;
        let name = &after[..end];
        let valid = name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid {
            return Err(anyhow!(
                "\"${{{name}}}\" is not a variable name: use letters, digits and `_`"
            ));
        }
        pieces.push(Piece::Var(name));
        rest = &after[end + 1..];
    }
    pieces.push(Piece::Text(rest));
    Ok(pieces)
}

/// Checks that every `$` in a header value is a well-formed `${VAR}` or a `$$`.
pub fn check_references(value: &str) -> Result<()> {
    pieces(value, LoneDollar::Refused).map(|_| ())
}

/// The variables a value reads, in order (a value that does not parse reads none).
pub fn variables(value: &str) -> Vec<String> {
    pieces(value, LoneDollar::Literal)
        .unwrap_or_default()
        .into_iter()
        .filter_map(|piece| match piece {
            Piece::Var(name) => Some(name.to_string()),
            Piece::Text(_) => None,
        })
        .collect()
}

/// Whether a header of this name carries credentials, so that a literal value in it is worth a
/// warning: it would be stored in the database and shown by `endpoints`.
pub fn is_credential_header(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    matches!(
        name.as_str(),
        "authorization" | "proxy-authorization" | "cookie"
    ) || ["token", "secret", "key", "password", "auth"]
        .iter()
        .any(|word| name.contains(word))
}

/// Whether a header value is written out in full, with no `${VAR}` in it.
pub fn is_literal(value: &str) -> bool {
    variables(value).is_empty()
}

/// Expands every `${VAR}` from `lookup`; an unset variable is an error naming it (never a value).
pub fn expand(
    value: &str,
    lookup: impl Fn(&str) -> Option<String>,
    secrets: &mut Vec<Secret>,
) -> Result<String> {
    let mut expanded = String::new();
    for piece in pieces(value, LoneDollar::Literal)? {
        match piece {
            Piece::Text(text) => expanded.push_str(text),
            Piece::Var(name) => {
                let found = lookup(name).ok_or_else(|| {
                    anyhow!("environment variable {name} is not set in the tick's environment")
                })?;
                expanded.push_str(&found);
                if !found.is_empty() {
                    secrets.push(Secret {
                        name: name.into(),
                        value: found.into(),
                    });
                }
            }
        }
    }
    Ok(expanded)
}

/// Replaces every secret value in `text` by its `${VAR}` name.
pub fn mask(text: &str, secrets: &[Secret]) -> String {
    let mut masked = text.to_string();
    for secret in secrets {
        if masked.contains(&*secret.value) {
            masked = masked.replace(&*secret.value, &format!("${{{}}}", secret.name));
        }
    }
    masked
}

/// Replaces every secret value in raw bytes (a response body) by its `${VAR}` name; bytes that
/// hold none are given back as they are.
pub fn mask_bytes(bytes: Vec<u8>, secrets: &[Secret]) -> Vec<u8> {
    let mut masked = bytes;
    for secret in secrets {
        let needle = secret.value.as_bytes();
        // Most bodies hold no secret: looked for before anything is copied.
        let Some(mut at) = find(&masked, needle) else {
            continue;
        };
        let replacement = format!("${{{}}}", secret.name).into_bytes();
        let mut out = Vec::with_capacity(masked.len());
        let mut from = 0;
        loop {
            out.extend_from_slice(&masked[from..at]);
            out.extend_from_slice(&replacement);
            from = at + needle.len();
            match find(&masked[from..], needle) {
                Some(next) => at = from + next,
                None => break,
            }
        }
        out.extend_from_slice(&masked[from..]);
        masked = out;
    }
    masked
}

/// Where `needle` first occurs in `haystack` (never for an empty needle).
fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    let first = *needle.first()?;
    let mut from = 0;
    while let Some(offset) = haystack.get(from..)?.iter().position(|&b| b == first) {
        let at = from + offset;
        if haystack[at..].starts_with(needle) {
            return Some(at);
        }
        from = at + 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        (name == "IMS_TOKEN").then(|| "s3cret".to_string())
    }

    #[test]
    fn expands_and_masks() {
        let mut secrets = Vec::new();
        let value = expand("Bearer ${IMS_TOKEN}", env, &mut secrets).unwrap();
        assert_eq!(value, "Bearer s3cret");
        assert_eq!(
            mask("echo: Bearer s3cret", &secrets),
            "echo: Bearer ${IMS_TOKEN}"
        );
        assert_eq!(
            mask_bytes(b"s3cret and s3cret".to_vec(), &secrets),
            b"${IMS_TOKEN} and ${IMS_TOKEN}".to_vec()
        );
    }

    #[test]
    fn bytes_are_masked_wherever_the_secret_is_whole() {
        let secrets = vec![Secret {
            name: "IMS_TOKEN".into(),
            value: "s3cret".into(),
        }];
        let cases: [(&[u8], &[u8]); 7] = [
            (b"", b""),
            (b"nothing here", b"nothing here"),
            (b"s3cre", b"s3cre"),
            (b"s3cres3cret!", b"s3cre${IMS_TOKEN}!"),
            (b"s3crets3cret", b"${IMS_TOKEN}${IMS_TOKEN}"),
            (b"ss3crett", b"s${IMS_TOKEN}t"),
            (b"\xff\x00s3cret\x00", b"\xff\x00${IMS_TOKEN}\x00"),
        ];
        for (body, masked) in cases {
            assert_eq!(
                mask_bytes(body.to_vec(), &secrets),
                masked.to_vec(),
                "{body:?}"
            );
        }
        assert_eq!(mask_bytes(b"s3cret".to_vec(), &[]), b"s3cret".to_vec());
    }

    #[test]
    fn unset_variables_are_named() {
        let error = expand("${NOPE}", env, &mut Vec::new()).unwrap_err();
        assert!(error.to_string().contains("NOPE"));
    }

    #[test]
    fn malformed_references_are_refused() {
        for bad in ["${", "${1X}", "${A B}", "${}"] {
            assert!(check_references(bad).is_err(), "{bad}");
        }
        assert!(check_references("plain $$HOME text").is_ok());
    }

    #[test]
    fn a_dollar_is_a_reference_or_an_escape() {
        let error = check_references("Bearer $IMS_TOKEN")
            .unwrap_err()
            .to_string();
        assert!(error.contains("${IMS_TOKEN}"), "{error}");
        assert!(check_references("costs 5$").is_err());
        assert!(check_references("$5").is_err());
        let expanded = expand("$${IMS_TOKEN} and ${IMS_TOKEN}", env, &mut Vec::new()).unwrap();
        assert_eq!(expanded, "${IMS_TOKEN} and s3cret");
        assert_eq!(variables("a ${A} $$ ${B_2}"), vec!["A", "B_2"]);
    }

    #[test]
    fn credential_headers_are_recognised() {
        for name in [
            "Authorization",
            "proxy-authorization",
            "Cookie",
            "X-Api-Key",
            "X-Auth-Token",
            "X-Client-Secret",
            "X-Password",
        ] {
            assert!(is_credential_header(name), "{name}");
        }
        for name in ["Accept", "Content-Type", "X-Request-Id"] {
            assert!(!is_credential_header(name), "{name}");
        }
    }
}
