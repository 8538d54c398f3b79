//! Helpers for the operator-command tests (retry, prune, status): readers for `list --json`.
//! Included with `#[path = "support/operators.rs"] mod operators;` next to `mod common;`.
#![allow(dead_code)]

use crate::common::Env;

/// The ids `list --json` returns for these extra arguments (limit raised to see them all).
pub fn listed_ids(env: &Env, extra: &[&str]) -> Vec<i64> {
    let mut args = vec!["list", "--limit", "100000"];
    args.extend_from_slice(extra);
    env.json(&args)["tasks"]
        .as_array()
        .expect("list --json has tasks")
        .iter()
        .map(|task| task["id"].as_i64().expect("a task id"))
        .collect()
}

/// `list --json --state STATE`'s `matched` count.
pub fn matched(env: &Env, state: &str) -> u64 {
    env.json(&["list", "--state", state, "--limit", "1"])["matched"]
        .as_u64()
        .expect("list --json has matched")
}
