//! Which proxy a request goes through, read from the environment as curl reads it: for an https
//! URL `https_proxy`, then `HTTPS_PROXY`; for an http URL `http_proxy`, then `HTTP_PROXY`; then
//! `all_proxy` / `ALL_PROXY`. `no_proxy` / `NO_PROXY` names the hosts reached directly.

use std::net::IpAddr;

/// The proxy a request goes through: the variable it was read from and its URL as written.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ProxyChoice {
    pub variable: &'static str,
    pub url: String,
}

impl ProxyChoice {
    /// The proxy and where it came from, for messages: `http://user:***@proxy:3128 (HTTPS_PROXY)`.
    pub fn describe(&self) -> String {
        format!("{} ({})", redacted(&self.url), self.variable)
    }
}

/// The proxy settings of one environment, read once.
#[derive(Debug, Clone, Default)]
pub struct ProxyEnv {
    https: Option<ProxyChoice>,
    http: Option<ProxyChoice>,
    all: Option<ProxyChoice>,
    no_proxy: Vec<NoProxyEntry>,
}

impl ProxyEnv {
    /// The settings of this process's environment.
    pub fn from_env() -> ProxyEnv {
        ProxyEnv::read(|name| std::env::var(name).ok())
    }

    /// The settings `lookup` gives; a variable set to the empty string counts as unset.
    pub fn read(lookup: impl Fn(&str) -> Option<String>) -> ProxyEnv {
        let first = |names: [&'static str; 2]| {
            names.into_iter().find_map(|variable| {
                let value = lookup(variable)?;
                let url = value.trim();
                (!url.is_empty()).then(|| ProxyChoice {
                    variable,
                    url: url.to_string(),
                })
            })
        };
        let no_proxy = first(["no_proxy", "NO_PROXY"])
            .map(|choice| parse_no_proxy(&choice.url))
            .unwrap_or_default();
        ProxyEnv {
            https: first(["https_proxy", "HTTPS_PROXY"]),
            http: first(["http_proxy", "HTTP_PROXY"]),
            all: first(["all_proxy", "ALL_PROXY"]),
            no_proxy,
        }
    }

    /// The proxy for a URL of this scheme and host, or None to connect directly.
    pub fn for_target(&self, scheme: &str, host: &str) -> Option<&ProxyChoice> {
        let by_scheme = if scheme.eq_ignore_ascii_case("https") {
            self.https.as_ref()
        } else if scheme.eq_ignore_ascii_case("http") {
            self.http.as_ref()
        } else {
            None
        };
        let choice = by_scheme.or(self.all.as_ref())?;
        let host = normal_host(host);
        let ip = host.parse::<IpAddr>().ok();
        let bypass = self.no_proxy.iter().any(|entry| entry.matches(&host, ip));
        (!bypass).then_some(choice)
    }
}

/// One entry of `NO_PROXY`.
#[derive(Debug, Clone, PartialEq)]
enum NoProxyEntry {
    /// `*`: every host.
    All,
    /// A host name: itself and its subdomains.
    Name(String),
    /// An IP address (a range of one) or a CIDR range: IP hosts in it.
    Range(IpAddr, u8),
}

impl NoProxyEntry {
    fn matches(&self, host: &str, ip: Option<IpAddr>) -> bool {
        match self {
            NoProxyEntry::All => true,
            NoProxyEntry::Name(name) => {
                host == name
                    || (host.len() > name.len()
                        && host.ends_with(name.as_str())
                        && host.as_bytes()[host.len() - name.len() - 1] == b'.')
            }
            NoProxyEntry::Range(network, bits) => {
                ip.is_some_and(|ip| in_range(ip, *network, *bits))
            }
        }
    }
}

/// `NO_PROXY`'s entries: separated by commas and spaces; what cannot be read is skipped.
fn parse_no_proxy(text: &str) -> Vec<NoProxyEntry> {
    text.split(|c: char| c == ',' || c.is_whitespace())
        .filter_map(parse_entry)
        .collect()
}

fn parse_entry(text: &str) -> Option<NoProxyEntry> {
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    if text == "*" {
        return Some(NoProxyEntry::All);
    }
    if let Some((address, bits)) = text.split_once('/') {
        let network: IpAddr = strip_brackets(address).parse().ok()?;
        let bits: u8 = bits.parse().ok()?;
        return (bits <= full_bits(network)).then_some(NoProxyEntry::Range(network, bits));
    }
    let host = normal_host(without_port(text));
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Some(NoProxyEntry::Range(ip, full_bits(ip)));
    }
    let name = host
        .strip_prefix("*.")
        .or_else(|| host.strip_prefix('.'))
        .unwrap_or(&host);
    (!name.is_empty()).then(|| NoProxyEntry::Name(name.to_string()))
}

/// `host:port` or `[v6]:port` without the port; a bare IPv6 address as it is.
fn without_port(text: &str) -> &str {
    if let Some(rest) = text.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    match text.split_once(':') {
        Some((host, port)) if !port.contains(':') => host,
        _ => text,
    }
}

/// Lower case, without IPv6 brackets or a trailing dot.
fn normal_host(host: &str) -> String {
    strip_brackets(host)
        .trim_end_matches('.')
        .to_ascii_lowercase()
}

fn strip_brackets(host: &str) -> &str {
    host.strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host)
}

fn full_bits(ip: IpAddr) -> u8 {
    match ip {
        IpAddr::V4(_) => 32,
        IpAddr::V6(_) => 128,
    }
}

fn in_range(ip: IpAddr, network: IpAddr, bits: u8) -> bool {
    match (ip, network) {
        (IpAddr::V4(ip), IpAddr::V4(network)) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(bits)).unwrap_or(0);
            u32::from(ip) & mask == u32::from(network) & mask
        }
        (IpAddr::V6(ip), IpAddr::V6(network)) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(bits)).unwrap_or(0);
            u128::from(ip) & mask == u128::from(network) & mask
        }
        _ => false,
    }
}

/// A proxy URL with its password replaced by `***`: safe to print.
pub fn redacted(url: &str) -> String {
    let start = url.find("://").map_or(0, |i| i + 3);
    let end = url[start..].find('/').map_or(url.len(), |i| start + i);
    let authority = &url[start..end];
    let Some(at) = authority.rfind('@') else {
        return url.to_string();
    };
    let Some(colon) = authority[..at].find(':') else {
        return url.to_string();
    };
    format!(
        "{}{}:***{}",
        &url[..start],
        &authority[..colon],
        &url[start + at..]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Variables as `(name, value)`.
    type Vars<'a> = &'a [(&'a str, &'a str)];

    fn env(vars: Vars) -> ProxyEnv {
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        ProxyEnv::read(|name| vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()))
    }

    fn chosen(vars: Vars, scheme: &str, host: &str) -> Option<&'static str> {
        env(vars).for_target(scheme, host).map(|c| c.variable)
    }

    #[test]
    fn the_variable_follows_the_scheme_then_all_proxy() {
        let cases: &[(Vars, &str, Option<&str>)] = &[
            (&[], "https", None),
            (&[("HTTPS_PROXY", "p:1")], "https", Some("HTTPS_PROXY")),
            (&[("https_proxy", "p:1")], "https", Some("https_proxy")),
            (
                &[("https_proxy", "p:1"), ("HTTPS_PROXY", "p:2")],
                "https",
                Some("https_proxy"),
            ),
            (&[("HTTPS_PROXY", "p:1")], "http", None),
            (&[("HTTP_PROXY", "p:1")], "http", Some("HTTP_PROXY")),
            (&[("http_proxy", "p:1")], "http", Some("http_proxy")),
            (&[("HTTP_PROXY", "p:1")], "https", None),
            (&[("ALL_PROXY", "p:1")], "https", Some("ALL_PROXY")),
            (&[("all_proxy", "p:1")], "http", Some("all_proxy")),
            (
                &[("ALL_PROXY", "p:1"), ("HTTPS_PROXY", "p:2")],
                "https",
                Some("HTTPS_PROXY"),
            ),
            (
                &[("HTTPS_PROXY", ""), ("ALL_PROXY", "p:1")],
                "https",
                Some("ALL_PROXY"),
            ),
            (
                &[("https_proxy", " "), ("HTTPS_PROXY", "p:1")],
                "https",
                Some("HTTPS_PROXY"),
            ),
            (&[("HTTPS_PROXY", "p:1")], "HTTPS", Some("HTTPS_PROXY")),
        ];
        for (vars, scheme, expected) in cases {
            assert_eq!(
                chosen(vars, scheme, "ims.example"),
                *expected,
                "{vars:?} {scheme}"
            );
        }
    }

    #[test]
    fn no_proxy_names_hosts_subdomains_addresses_and_ranges() {
        let cases = [
            ("*", "ims.example", true),
            ("ims.example", "ims.example", true),
            ("ims.example", "IMS.Example", true),
            ("ims.example", "ims.example.", true),
            ("ims.example", "a.ims.example", true),
            (".ims.example", "ims.example", true),
            (".ims.example", "a.b.ims.example", true),
            ("*.ims.example", "a.ims.example", true),
            ("ims.example", "xims.example", false),
            ("ims.example", "ims.example.org", false),
            ("ims.example:8443", "ims.example", true),
            ("other, ims.example", "ims.example", true),
            ("other ims.example", "ims.example", true),
            ("other,,", "ims.example", false),
            ("127.0.0.1", "127.0.0.1", true),
            ("127.0.0.1", "127.0.0.2", false),
            ("127.0.0.0/8", "127.0.0.2", true),
            ("10.0.0.0/8", "11.0.0.1", false),
            ("10.0.0.0/8", "10.0.0.0.example", false),
            ("0.0.0.0/0", "192.0.2.1", true),
            ("10.0.0.0/33", "10.0.0.1", false),
            ("::1", "[::1]", true),
            ("[::1]", "[::1]", true),
            ("[::1]:8080", "::1", true),
            ("fd00::/8", "[fd12::1]", true),
            ("fd00::/8", "[fe80::1]", false),
            ("::1", "127.0.0.1", false),
            ("localhost", "localhost", true),
            ("localhost", "127.0.0.1", false),
        ];
        for (no_proxy, host, bypassed) in cases {
            let settings = env(&[("HTTPS_PROXY", "p:1"), ("NO_PROXY", no_proxy)]);
            assert_eq!(
                settings.for_target("https", host).is_none(),
                bypassed,
                "NO_PROXY={no_proxy} host {host}"
            );
        }
    }

    #[test]
    fn lower_case_no_proxy_comes_first_and_covers_all_proxy() {
        let settings = env(&[
            ("ALL_PROXY", "p:1"),
            ("no_proxy", "ims.example"),
            ("NO_PROXY", "other.example"),
        ]);
        assert!(settings.for_target("http", "ims.example").is_none());
        assert!(settings.for_target("http", "other.example").is_some());
    }

    #[test]
    fn passwords_are_never_shown() {
        let cases = [
            ("http://proxy:3128", "http://proxy:3128"),
            ("http://user@proxy:3128", "http://user@proxy:3128"),
            (
                "http://user:secret@proxy:3128",
                "http://user:***@proxy:3128",
            ),
            ("user:secret@proxy:3128", "user:***@proxy:3128"),
            ("socks5://u:p@a@proxy/x", "socks5://u:***@proxy/x"),
        ];
        for (url, shown) in cases {
            assert_eq!(redacted(url), shown);
        }
        let choice = ProxyChoice {
            variable: "HTTPS_PROXY",
            url: "http://u:pw@proxy:3128".into(),
        };
        assert_eq!(choice.describe(), "http://u:***@proxy:3128 (HTTPS_PROXY)");
    }
}
