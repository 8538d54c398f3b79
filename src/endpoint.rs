//! An endpoint: a named HTTP request that tasks are scheduled against, and the checks that keep
//! a bad one out of the registry.

use std::time::Duration;

use anyhow::Result;
use chrono::{DateTime, Utc};

use crate::error::usage;
use crate::limits::Limits;
use crate::template::UrlTemplate;
use crate::tls::TlsFiles;

pub const DEFAULT_METHOD: &str = "POST";
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
pub const DEFAULT_MAX_ATTEMPTS: u32 = 5;
pub const DEFAULT_SUCCESS: &str = "2xx";

/// An endpoint as stored. Header values are kept as written: `${VAR}` is expanded only when a
/// request is sent.
#[derive(Debug, Clone, PartialEq)]
pub struct Endpoint {
    pub name: String,
    pub method: String,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub timeout: Duration,
    pub max_attempts: u32,
    pub success: SuccessStatuses,
    /// A CA bundle to trust, a client certificate and key: paths, read when a request is sent.
    pub tls: TlsFiles,
    /// The variables that hold the secrets requests are signed with (Standard Webhooks), in
    /// the order their signatures are sent; none: not signed.
    pub signing_secrets: Vec<String>,
    /// At most so many in flight, at most so many started per second, minute or hour, across
    /// every tick on every host.
    pub limits: Limits,
    /// Where its tasks' outcomes are reported: one task to this endpoint when a task ends
    /// failed or cancelled by the executor, or succeeded.
    pub notify: Notify,
    pub description: Option<String>,
    pub deprecated_at: Option<DateTime<Utc>>,
    pub deprecated_reason: Option<String>,
    /// Why the stored row cannot be used as it is (a column that does not parse), if it cannot.
    pub damage: Option<String>,
}

/// The endpoints, by name, that are sent one task for each of an endpoint's tasks that ends
/// `failed` or is cancelled by the executor (`on_failure`), or `succeeded` (`on_success`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Notify {
    pub on_failure: Option<String>,
    pub on_success: Option<String>,
}

impl Notify {
    /// The endpoints it names, each with its option's name.
    pub fn targets(&self) -> impl Iterator<Item = (&'static str, &str)> {
        [
            ("--on-failure", self.on_failure.as_deref()),
            ("--on-success", self.on_success.as_deref()),
        ]
        .into_iter()
        .filter_map(|(option, name)| Some((option, name?)))
    }
}

impl Endpoint {
    pub fn template(&self) -> Result<UrlTemplate> {
        UrlTemplate::parse(&self.url)
    }

    /// The environment variables its requests read (`${VAR}` in header values, then the
    /// signing secrets), each once.
    pub fn variables(&self) -> Vec<String> {
        let mut names: Vec<String> = Vec::new();
        let headers = self
            .headers
            .iter()
            .flat_map(|(_, value)| crate::secrets::variables(value));
        for name in headers.chain(self.signing_secrets.iter().cloned()) {
            if !names.contains(&name) {
                names.push(name);
            }
        }
        names
    }

    /// Whether the arguments go in the query string (else they are the JSON body).
    pub fn sends_args_in_query(&self) -> bool {
        matches!(self.method.as_str(), "GET" | "HEAD" | "DELETE" | "OPTIONS")
    }
}

/// Checks an endpoint name: it is typed in shell commands and shown in tables.
pub fn check_name(name: &str) -> Result<()> {
    let valid = !name.is_empty()
        && name.len() <= 100
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if valid {
        Ok(())
    } else {
        Err(usage(format!(
            "endpoint name \"{name}\" is not valid: use letters, digits, `-`, `_` and `.`"
        )))
    }
}

/// Normalises and checks an HTTP method (any token; case is folded to upper).
pub fn parse_method(method: &str) -> Result<String> {
    let valid = !method.is_empty() && method.chars().all(|c| c.is_ascii_alphabetic());
    if !valid {
        return Err(usage(format!(
            "method \"{method}\" is not an HTTP method: use GET, POST, PUT, PATCH, DELETE, ..."
        )));
    }
    Ok(method.to_ascii_uppercase())
}

/// Parses `Name: value`. The name must be a header token; the value is kept as written.
pub fn parse_header(text: &str) -> Result<(String, String)> {
    let (name, value) = text.split_once(':').ok_or_else(|| {
        usage(format!(
            "header \"{text}\" has no `:`: write it as 'Name: value'"
        ))
    })?;
    let name = name.trim();
    let token = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
    if name.is_empty() || !name.chars().all(token) {
        return Err(usage(format!(
            "header name \"{name}\" is not valid: use letters, digits and `-`"
        )));
    }
    let value = value.trim();
    if value.chars().any(|c| c == '\r' || c == '\n') {
        return Err(usage(format!(
            "header \"{name}\" has a line break in its value"
        )));
    }
    crate::secrets::check_references(value)
        .map_err(|e| usage(format!("header \"{name}\": {e}")))?;
    Ok((name.to_string(), value.to_string()))
}

/// Warns, on stderr, about a credential header given as a literal value: it is stored as it is.
pub fn warn_if_literal_credential(endpoint: &str, (name, value): &(String, String)) {
    use crate::secrets::{is_credential_header, is_literal};
    if is_credential_header(name) && is_literal(value) && !value.is_empty() {
        log::warn!(
            "endpoint \"{endpoint}\": header \"{name}\" carries a literal value: it is stored \
             in the database and shown by `httpat endpoints`; to keep it out, give the tick an \
             environment variable and write the header as '{name}: ... ${{VAR}}'"
        );
    }
}

/// Parses a timeout such as `30s`; zero and more than a day are refused.
pub fn parse_timeout(text: &str) -> Result<Duration> {
    let timeout = humantime::parse_duration(text).map_err(|e| {
        usage(format!(
            "timeout \"{text}\" is not a duration ({e}): try 30s or 2m"
        ))
    })?;
    if timeout.is_zero() || timeout > Duration::from_secs(86_400) {
        return Err(usage(format!(
            "timeout \"{text}\" must be more than 0s and at most 1 day"
        )));
    }
    Ok(timeout)
}

/// Checks an attempt budget given on the command line.
pub fn check_max_attempts(max_attempts: u32) -> Result<u32> {
    if (1..=100).contains(&max_attempts) {
        Ok(max_attempts)
    } else {
        Err(usage(format!(
            "--max-attempts {max_attempts} is out of range: use 1 to 100"
        )))
    }
}

/// Which statuses count as success: exact codes and classes like `2xx`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SuccessStatuses {
    text: String,
    classes: Vec<u16>,
    codes: Vec<u16>,
}

impl Default for SuccessStatuses {
    /// `2xx`.
    fn default() -> SuccessStatuses {
        SuccessStatuses {
            text: DEFAULT_SUCCESS.to_string(),
            classes: vec![2],
            codes: Vec::new(),
        }
    }
}

impl SuccessStatuses {
    pub fn parse(text: &str) -> Result<SuccessStatuses> {
        let mut classes = Vec::new();
        let mut codes = Vec::new();
        let mut parts = Vec::new();
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let lower = part.to_ascii_lowercase();
            let bad = || {
                usage(format!(
                    "success status \"{part}\" is not valid: use a class like 2xx or a code like 409"
                ))
            };
            if let Some(class) = lower.strip_suffix("xx") {
                let class: u16 = class.parse().map_err(|_| bad())?;
                if !(1..=5).contains(&class) {
                    return Err(bad());
                }
                classes.push(class);
            } else {
                let code: u16 = lower.parse().map_err(|_| bad())?;
                if !(100..=599).contains(&code) {
                    return Err(bad());
                }
                codes.push(code);
            }
            parts.push(lower);
        }
        if parts.is_empty() {
            return Err(usage("--success needs at least one status, e.g. 2xx"));
        }
        Ok(SuccessStatuses {
            text: parts.join(","),
            classes,
            codes,
        })
    }

    pub fn contains(&self, status: u16) -> bool {
        self.codes.contains(&status) || self.classes.contains(&(status / 100))
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn success_lists_parse() {
        let success = SuccessStatuses::parse("2xx, 409").unwrap();
        assert!(success.contains(204));
        assert!(success.contains(409));
        assert!(!success.contains(404));
        assert_eq!(success.as_str(), "2xx,409");
        for bad in ["7xx", "abc", "", "99", "600"] {
            assert!(SuccessStatuses::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn headers_parse() {
        assert_eq!(
            parse_header("Authorization: Bearer ${IMS_TOKEN}").unwrap(),
            ("Authorization".into(), "Bearer ${IMS_TOKEN}".into())
        );
        assert!(parse_header("no colon").is_err());
        assert!(parse_header("bad name: x").is_err());
        assert!(parse_header("X: ${unclosed").is_err());
    }

    #[test]
    fn methods_and_names() {
        assert_eq!(parse_method("post").unwrap(), "POST");
        assert!(parse_method("FETCH!").is_err());
        assert!(check_name("release-roll").is_ok());
        assert!(check_name("bad name").is_err());
    }
}
