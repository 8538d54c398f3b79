//! URL templates: `https://ims.example/rolls/{roll}/release/`, placeholders filled from a task's
//! arguments and percent-encoded, so that an argument can never change the URL's shape.

use anyhow::Result;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde_json::{Map, Value};

use crate::error::usage;

/// Everything but RFC 3986's unreserved characters is encoded: safe in a path segment and in a
/// query alike.
const COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Text(String),
    Placeholder(String),
}

/// A parsed URL template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UrlTemplate {
    pieces: Vec<Piece>,
}

impl UrlTemplate {
    /// Parses and checks a template: balanced braces, placeholder names of letters, digits, `_`
    /// and `-`, and an http or https URL.
    pub fn parse(url: &str) -> Result<UrlTemplate> {
        let lower = url.to_ascii_lowercase();
        if !(lower.starts_with("http://") || lower.starts_with("https://")) {
            return Err(usage(format!(
                "URL \"{url}\" must start with http:// or https://"
            )));
        }
        let mut pieces = Vec::new();
        let mut rest = url;
        while let Some(open) = rest.find(['{', '}']) {
            if rest.as_bytes()[open] == b'}' {
                return Err(usage(format!(
                    "URL \"{url}\" has a `}}` with no `{{` before it"
                )));
            }
            let after = &rest[open + 1..];
            let close = after
                .find('}')
                .ok_or_else(|| usage(format!("URL \"{url}\" has a `{{` that is never closed")))?;
            let name = &after[..close];
            let valid = !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
            if !valid {
                return Err(usage(format!(
                    "URL \"{url}\" has a bad placeholder \"{{{name}}}\": use letters, digits, `_` and `-`"
                )));
            }
            if open > 0 {
                pieces.push(Piece::Text(rest[..open].to_string()));
            }
            pieces.push(Piece::Placeholder(name.to_string()));
            rest = &after[close + 1..];
        }
        if !rest.is_empty() {
            pieces.push(Piece::Text(rest.to_string()));
        }
        Ok(UrlTemplate { pieces })
    }

    /// The placeholder names, in order of first appearance.
    pub fn placeholders(&self) -> Vec<&str> {
        let mut names: Vec<&str> = Vec::new();
        for piece in &self.pieces {
            if let Piece::Placeholder(name) = piece {
                if !names.contains(&name.as_str()) {
                    names.push(name);
                }
            }
        }
        names
    }

    /// Checks that `args` can fill every placeholder with a plain value.
    pub fn check(&self, args: &Map<String, Value>) -> Result<()> {
        let missing: Vec<&str> = self
            .placeholders()
            .into_iter()
            .filter(|name| args.get(*name).is_none_or(Value::is_null))
            .collect();
        if !missing.is_empty() {
            let flags: Vec<String> = missing.iter().map(|n| format!("--arg {n}=...")).collect();
            return Err(usage(format!(
                "the URL needs {}: give {}",
                quoted_list(&missing),
                flags.join(" ")
            )));
        }
        for name in self.placeholders() {
            if let Some(value @ (Value::Array(_) | Value::Object(_))) = args.get(name) {
                return Err(usage(format!(
                    "argument \"{name}\" fills a URL placeholder and must be a string, number or boolean, not {value}"
                )));
            }
        }
        Ok(())
    }

    /// Fills the placeholders; for `with_query`, the arguments the URL does not use are added
    /// as query parameters.
    pub fn render(&self, args: &Map<String, Value>, with_query: bool) -> Result<String> {
        self.check(args)?;
        let mut url = String::new();
        for piece in &self.pieces {
            match piece {
                Piece::Text(text) => url.push_str(text),
                Piece::Placeholder(name) => {
                    // `check` proved every placeholder has a plain value.
                    let value = args.get(name).map(plain_text).unwrap_or_default();
                    url.extend(utf8_percent_encode(&value, COMPONENT));
                }
            }
        }
        if with_query {
            let used = self.placeholders();
            let mut separator = if url.contains('?') { '&' } else { '?' };
            for (name, value) in args.iter().filter(|(n, _)| !used.contains(&n.as_str())) {
                url.push(separator);
                url.extend(utf8_percent_encode(name, COMPONENT));
                url.push('=');
                url.extend(utf8_percent_encode(&plain_text(value), COMPONENT));
                separator = '&';
            }
        }
        Ok(url)
    }
}

/// A JSON value as it goes into a URL: strings bare, everything else as JSON text.
fn plain_text(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

fn quoted_list(names: &[&str]) -> String {
    let quoted: Vec<String> = names.iter().map(|n| format!("\"{n}\"")).collect();
    quoted.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn args(value: Value) -> Map<String, Value> {
        value.as_object().cloned().unwrap()
    }

    #[test]
    fn placeholders_are_filled_and_encoded() {
        let template = UrlTemplate::parse("http://ims/rolls/{roll}/release").unwrap();
        assert_eq!(template.placeholders(), vec!["roll"]);
        let url = template
            .render(&args(json!({"roll": "CCT/0042 x", "n": 1})), false)
            .unwrap();
        assert_eq!(url, "http://ims/rolls/CCT%2F0042%20x/release");
    }

    #[test]
    fn unused_arguments_become_the_query() {
        let template = UrlTemplate::parse("http://ims/rolls/{roll}?v=1").unwrap();
        let url = template
            .render(&args(json!({"roll": "A", "note": "a&b", "n": 2})), true)
            .unwrap();
        assert_eq!(url, "http://ims/rolls/A?v=1&n=2&note=a%26b");
    }

    #[test]
    fn bad_templates_are_refused() {
        for url in [
            "http://x/{roll",
            "http://x/roll}",
            "http://x/{}",
            "http://x/{a b}",
            "ftp://x/",
            "x",
        ] {
            assert!(UrlTemplate::parse(url).is_err(), "{url}");
        }
    }

    #[test]
    fn missing_arguments_are_named() {
        let template = UrlTemplate::parse("http://x/{roll}/{line}").unwrap();
        let error = template.check(&args(json!({"line": 3}))).unwrap_err();
        assert!(error.to_string().contains("\"roll\""), "{error}");
        assert!(template
            .check(&args(json!({"roll": [1], "line": 3})))
            .is_err());
    }
}
