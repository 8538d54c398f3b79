//! `completions SHELL`: a completion script for bash, zsh and fish; an unknown shell is bad
//! usage.

mod common;

use common::Env;

#[test]
fn each_shell_gets_a_script_that_knows_the_subcommands() {
    let env = Env::new();
    for shell in ["bash", "zsh", "fish"] {
        let out = env
            .cmd(&["completions", shell])
            .output()
            .expect("run httpat");
        assert!(out.status.success(), "completions {shell}: {out:?}");
        let script = String::from_utf8(out.stdout).expect("the script is UTF-8");
        assert!(
            !script.trim().is_empty(),
            "completions {shell} printed nothing"
        );
        assert!(script.contains("httpat"), "completions {shell}: {script}");
        for word in ["schedule", "retry", "prune", "older-than"] {
            assert!(
                script.contains(word),
                "completions {shell} does not know {word}"
            );
        }
    }
}

#[test]
fn the_scripts_differ_per_shell() {
    let env = Env::new();
    let scripts: Vec<String> = ["bash", "zsh", "fish"]
        .iter()
        .map(|shell| env.ok(&["completions", shell]))
        .collect();
    assert_ne!(scripts[0], scripts[1]);
    assert_ne!(scripts[1], scripts[2]);
    assert!(
        scripts[1].starts_with("#compdef httpat"),
        "zsh script header"
    );
    assert!(scripts[2].contains("complete -c httpat"), "fish script");
}

#[test]
fn an_unknown_shell_is_bad_usage() {
    let env = Env::new();
    let out = env
        .cmd(&["completions", "nosuch"])
        .output()
        .expect("run httpat");
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(out.stdout.is_empty(), "no script for an unknown shell");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("nosuch"), "{stderr}");
    assert!(!env.db.exists(), "completions needs no database");
}
