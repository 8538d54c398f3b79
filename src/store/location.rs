//! Where the database is, as `--db` / `HTTPAT_DB` name it: the one place that tells a file path
//! from a URL. A URL is shown only without its password, in every message.

use std::fmt;
use std::path::{Path, PathBuf};

use anyhow::Result;

use crate::error::usage;

/// A database location.
#[derive(Clone, PartialEq, Eq)]
pub enum Location {
    /// An SQLite file.
    Sqlite(PathBuf),
    /// A PostgreSQL database, by libpq's URL form.
    Postgres(PostgresUrl),
}

/// A `postgres://` or `postgresql://` URL. It may hold a password: only `Display` (which hides
/// it) ever shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct PostgresUrl {
    url: String,
}

impl PostgresUrl {
    /// The URL as given, password included: for the connection alone.
    pub fn secret(&self) -> &str {
        &self.url
    }
}

impl fmt::Display for PostgresUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&redact(&self.url))
    }
}

impl Location {
    /// Reads `--db`: a file path (SQLite), or a `postgres://` / `postgresql://` URL. Any other
    /// `SCHEME://` is refused (exit 2), naming what is accepted; the password is never repeated.
    pub fn parse(text: &Path) -> Result<Location> {
        let Some(text_str) = text.to_str() else {
            return Ok(Location::Sqlite(text.to_path_buf()));
        };
        let Some((scheme, _)) = text_str.split_once("://") else {
            return Ok(Location::Sqlite(text.to_path_buf()));
        };
        let is_scheme = scheme
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic())
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c));
        if !is_scheme {
            return Ok(Location::Sqlite(text.to_path_buf()));
        }
        let shown = redact(text_str);
        if matches!(
            scheme.to_ascii_lowercase().as_str(),
            "postgres" | "postgresql"
        ) {
            return Ok(Location::Postgres(PostgresUrl {
                url: text_str.to_string(),
            }));
        }
        Err(usage(format!(
            "--db {shown}: \"{scheme}\" is not a kind of database httpat knows: give a file path \
             (SQLite) or a postgres:// or postgresql:// URL (PostgreSQL)"
        )))
    }

    /// The default: `$XDG_DATA_HOME/httpat/httpat.db`, else `~/.local/share/httpat/httpat.db`.
    pub fn default_path() -> Option<Location> {
        let data_home = std::env::var_os("XDG_DATA_HOME")
            .filter(|dir| !dir.is_empty())
            .map(PathBuf::from)
            .or_else(|| {
                std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".local/share"))
            })?;
        Some(Location::Sqlite(data_home.join("httpat").join("httpat.db")))
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::Sqlite(path) => write!(f, "{}", path.display()),
            Location::Postgres(url) => write!(f, "{url}"),
        }
    }
}

/// Written by hand, like `Display`, so that no password can reach a log through `{:?}`.
impl fmt::Debug for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Location({self})")
    }
}

/// A URL without its password: `postgres://alice:s3cret@db/x?password=y` becomes
/// `postgres://alice@db/x?password=...` (the query's password too).
pub fn redact(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let authority = match authority.rsplit_once('@') {
        Some((user_info, host)) => {
            let user = user_info.split(':').next().unwrap_or_default();
            format!("{user}@{host}")
        }
        None => authority.to_string(),
    };
    let tail = match tail.split_once('?') {
        Some((path, query)) => {
            let query: Vec<String> = query
                .split('&')
                .map(|pair| match pair.split_once('=') {
                    Some((name, _)) if name.eq_ignore_ascii_case("password") => {
                        format!("{name}=...")
                    }
                    _ => pair.to_string(),
                })
                .collect();
            format!("{path}?{}", query.join("&"))
        }
        None => tail.to_string(),
    };
    format!("{scheme}://{authority}{tail}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_sqlite_and_urls_are_refused_without_their_password() {
        for path in [
            "httpat.db",
            "/var/lib/httpat/httpat.db",
            "./a:b",
            "dir/x://y",
        ] {
            assert_eq!(
                Location::parse(Path::new(path)).unwrap(),
                Location::Sqlite(PathBuf::from(path)),
                "{path}"
            );
        }
        for url in [
            "postgres://alice:s3cret@dbhost/httpat",
            "postgresql://alice:s3cret@dbhost:5432/httpat?sslmode=require",
        ] {
            let location = Location::parse(Path::new(url)).unwrap();
            assert!(matches!(location, Location::Postgres(_)), "{url}");
            for shown in [location.to_string(), format!("{location:?}")] {
                assert!(
                    !shown.contains("s3cret") && shown.contains("alice@dbhost"),
                    "{shown}"
                );
            }
        }
        let url = "mysql://alice:s3cret@dbhost/httpat";
        let error = format!("{:#}", Location::parse(Path::new(url)).unwrap_err());
        assert!(
            !error.contains("s3cret") && error.contains("alice@dbhost"),
            "{error}"
        );
        let code = crate::error::exit_code(&Location::parse(Path::new(url)).unwrap_err());
        assert_eq!(code, 2);
    }

    #[test]
    fn redaction_removes_every_password() {
        assert_eq!(
            redact("postgres://alice:s3cret@dbhost/httpat?password=x&sslmode=require"),
            "postgres://alice@dbhost/httpat?password=...&sslmode=require"
        );
        assert_eq!(
            redact("postgres://dbhost/httpat"),
            "postgres://dbhost/httpat"
        );
        assert_eq!(redact("postgres://a:b@c@dbhost/x"), "postgres://a@dbhost/x");
    }
}
