//! The man pages in `man/` are generated from the clap definitions; this test fails when they
//! are stale. Regenerate them with: HTTPAT_WRITE_MAN=1 cargo test --test man_pages

use std::path::Path;

#[test]
fn committed_man_pages_match_the_command_definitions() {
    let folder = Path::new(env!("CARGO_MANIFEST_DIR")).join("man");
    let pages = httpat::manpages::render_all().expect("render the man pages");
    if std::env::var_os("HTTPAT_WRITE_MAN").is_some() {
        std::fs::create_dir_all(&folder).unwrap();
        for (name, text) in &pages {
            std::fs::write(folder.join(name), text).unwrap();
        }
    }
    let mut stale = Vec::new();
    for (name, text) in &pages {
        if std::fs::read(folder.join(name)).ok().as_ref() != Some(text) {
            stale.push(name.clone());
        }
    }
    assert!(
        stale.is_empty(),
        "man pages out of date: {stale:?}; regenerate with: HTTPAT_WRITE_MAN=1 cargo test --test man_pages"
    );
    let expected: Vec<&String> = pages.iter().map(|(name, _)| name).collect();
    for entry in std::fs::read_dir(&folder).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        assert!(
            expected.contains(&&name),
            "man/{name} belongs to no command any more: delete it"
        );
    }
}

#[test]
fn every_subcommand_has_a_page_with_its_examples() {
    let pages = httpat::manpages::render_all().unwrap();
    let schedule = pages
        .iter()
        .find(|(name, _)| name == "httpat-schedule.1")
        .expect("a page for schedule");
    let text = String::from_utf8_lossy(&schedule.1).replace("\\-", "-");
    assert!(
        text.contains("--in 36h"),
        "the schedule page shows the cool-down example"
    );
}

/// `httpat --help` describes every subcommand in a line, and each subcommand's own help starts
/// with that description: each subcommand's options are defined only when it runs, so its
/// summary must not depend on them.
#[test]
fn help_describes_every_subcommand_and_each_page_starts_with_its_description() {
    let run = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_httpat"))
            .args(args)
            .output()
            .expect("run httpat");
        assert!(out.status.success(), "httpat {args:?} failed");
        String::from_utf8(out.stdout).expect("help is UTF-8")
    };
    let help = run(&["--help"]);
    let commands = [
        ("register", "Create or update an endpoint"),
        ("endpoints", "List registered endpoints"),
        ("schedule", "Store one request to be sent at a given time"),
        ("list", "Tasks as a table"),
        ("show", "One task whole"),
        ("cancel", "Cancel tasks that have not started"),
        ("retry", "Put failed or cancelled tasks back to wait"),
        ("tick", "Send the requests whose time has come"),
        ("status", "Is the executor alive?"),
        ("recur", "Create or update a recurring schedule"),
        ("recurring", "List recurring schedules"),
        ("prune", "Delete finished tasks"),
        ("completions", "Print a shell completion script"),
    ];
    for (name, summary) in commands {
        let line = help
            .lines()
            .find(|line| line.trim_start().starts_with(&format!("{name} ")))
            .unwrap_or_else(|| panic!("`httpat --help` lists no {name}:\n{help}"));
        assert!(
            line.contains(summary),
            "`httpat --help` line for {name} is {line:?}, not {summary:?}"
        );
        let page = run(&[name, "--help"]);
        assert!(
            page.starts_with(summary),
            "`httpat {name} --help` starts with {:?}",
            page.lines().next()
        );
    }
}

#[test]
fn help_lists_the_global_options_under_their_own_heading() {
    for command in ["schedule", "tick", "list", "register"] {
        let out = assert_cmd::Command::cargo_bin("httpat")
            .unwrap()
            .args([command, "--help"])
            .output()
            .unwrap();
        let help = String::from_utf8_lossy(&out.stdout);
        let (own, global) = help
            .split_once("Global options:")
            .unwrap_or_else(|| panic!("`{command} --help` has no Global options heading:\n{help}"));
        for option in [
            "--db",
            "--log-file",
            "--json",
            "--utc",
            "--quiet",
            "--verbose",
        ] {
            assert!(
                global.contains(option),
                "{command}: {option} under Global options"
            );
            assert!(
                !own.contains(&format!("{option} ")) && !own.contains(&format!("{option}\n")),
                "{command}: {option} listed among the command's own options:\n{own}"
            );
        }
    }
}
