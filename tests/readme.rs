//! The README's quick start is run as written, with the real binary, on a fresh database.

use std::path::Path;
use std::process::Command;

/// The first ```sh block after `heading`.
fn block_after(readme: &str, heading: &str) -> String {
    let section = readme
        .split_once(heading)
        .unwrap_or_else(|| panic!("README has no {heading}"))
        .1;
    let start = section.find("```sh\n").expect("a sh block") + "```sh\n".len();
    let end = section[start..].find("```").expect("the block ends") + start;
    section[start..end].to_string()
}

#[test]
fn the_quick_start_runs_as_written() {
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md"))
        .expect("read README.md");
    let script = block_after(&readme, "## Quick start");
    let dir = tempfile::tempdir().unwrap();
    let binary = Path::new(env!("CARGO_BIN_EXE_httpat"));
    let path = format!(
        "{}:{}",
        binary.parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let output = Command::new("bash")
        .arg("-c")
        .arg(format!("set -euo pipefail\n{script}"))
        .env("PATH", path)
        .env("HTTPAT_DB", dir.path().join("db/httpat.db"))
        .env("HTTPAT_LOG", dir.path().join("httpat.log"))
        .env("TZ", "UTC")
        .env("USER", "line3")
        .env_remove("HTTPAT_NOW")
        .output()
        .expect("run bash");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "quick start failed\n{stdout}\n{stderr}"
    );
    for expected in [
        "created",
        "release-roll",
        "scheduled",
        "cancelled task 1",
        "Nothing is due",
    ] {
        assert!(stdout.contains(expected), "no {expected:?} in\n{stdout}");
    }
}

#[test]
fn the_first_lines_are_the_install_and_test_commands() {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let head: Vec<&str> = readme.lines().take(6).collect();
    assert!(head
        .iter()
        .any(|l| l.starts_with("cargo install --locked --path . && httpat tick")));
    assert!(head.iter().any(|l| l.starts_with("cargo test --locked")));
    let ci =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(".ci/run")).unwrap();
    assert!(
        ci.contains("cargo test --locked"),
        ".ci/run runs the README's test command"
    );
}
