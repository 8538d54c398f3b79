//! The log file: errors written in full (the whole chain, the backtrace when captured), appended,
//! timestamped, readable only by its owner.

use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::Path;

use chrono::Utc;

/// Appends an error to the log file: its whole chain, and its backtrace when one was captured.
pub fn append(path: &Path, about: Option<&str>, error: &anyhow::Error) {
    write_entry(path, about, &format!("{error:?}"));
}

/// Appends a message that is already complete (a task's error as the tick recorded it).
pub fn append_message(path: &Path, about: Option<&str>, message: &str) {
    write_entry(path, about, message);
}

/// Failing to log must not hide what is being logged, so a failure here is only reported on
/// stderr.
fn write_entry(path: &Path, about: Option<&str>, text: &str) {
    let mut entry = format!("{} ", crate::when::rfc3339(Utc::now()));
    if let Some(about) = about {
        entry.push_str(about);
        entry.push_str(": ");
    }
    entry.push_str(text);
    entry.push('\n');
    if let Some(folder) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        // A PostgreSQL user's log lives in a state folder that may not exist yet.
        let _ = std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(folder);
    }
    let written = OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(path)
        .and_then(|mut file| file.write_all(entry.as_bytes()));
    if let Err(e) = written {
        log::warn!("cannot write to the log file {}: {e}", path.display());
    }
}
