//! Secrets do not slip into the database without a word (SPEC.md register): a credential header
//! given as a literal value is stored with a warning that says how to keep it out; `$NAME`
//! without braces, which a shell user means as a variable and would be sent literally, is
//! refused naming `${NAME}` as the fix; a literal `$` is written `$$`.

mod common;

use common::{exits, refused_unchanged, Env, Server};

#[test]
fn a_literal_credential_header_is_stored_with_a_warning() {
    let env = Env::new();
    for header in [
        "Authorization: Bearer 0123456789abcdef",
        "Cookie: session=0123456789abcdef",
        "X-Api-Key: 0123456789abcdef",
        "X-Auth-Token: 0123456789abcdef",
    ] {
        let (stdout, stderr) = exits(
            &env,
            &[
                "register",
                "ims",
                "--url",
                "http://127.0.0.1:9/",
                "--header",
                header,
            ],
            0,
        );
        assert!(!stdout.is_empty());
        let name = header.split(':').next().unwrap();
        assert!(
            stderr.contains("warning")
                && stderr.contains(&format!("\"{name}\""))
                && stderr.contains("stored")
                && stderr.contains("${VAR}"),
            "{header}: {stderr}"
        );
    }
    let (_, stderr) = exits(
        &env,
        &[
            "register",
            "ims",
            "--header",
            "Authorization: Bearer ${IMS_TOKEN}",
            "--header",
            "Accept: application/json",
        ],
        0,
    );
    assert_eq!(
        stderr, "",
        "a header read from the environment needs no warning"
    );

    let file = env.path("endpoints.toml");
    std::fs::write(
        &file,
        "[endpoints.ims]\nurl = \"http://127.0.0.1:9/\"\nheaders = [\"Authorization: Bearer abc\"]\n",
    )
    .unwrap();
    let (_, stderr) = exits(&env, &["register", "--file", file.to_str().unwrap()], 0);
    assert!(stderr.contains("\"Authorization\""), "{stderr}");
}

#[test]
fn a_dollar_name_without_braces_is_refused_with_the_fix() {
    let env = Env::new();
    env.register_release_roll();
    let stderr = refused_unchanged(
        &env,
        &[
            "register",
            "release-roll",
            "--header",
            "Authorization: Bearer $IMS_TOKEN",
        ],
        2,
    );
    assert!(
        stderr.contains("${IMS_TOKEN}") && stderr.contains("$$"),
        "{stderr}"
    );
    let stderr = refused_unchanged(
        &env,
        &["register", "release-roll", "--header", "X-Price: 5$"],
        2,
    );
    assert!(stderr.contains("$$"), "{stderr}");
}

#[test]
fn a_doubled_dollar_is_sent_as_one() {
    let env = Env::new();
    let server = Server::start();
    env.ok(&[
        "register",
        "hook",
        "--url",
        &server.url("/hook"),
        "--header",
        "X-Price: 5$$ for $${IMS_TOKEN}",
    ]);
    env.schedule(&["hook", "--at", "now"]);
    env.ok(&["tick"]);
    let sent = server.requests_to("/hook");
    assert_eq!(sent[0].header("X-Price"), Some("5$ for ${IMS_TOKEN}"));
}
