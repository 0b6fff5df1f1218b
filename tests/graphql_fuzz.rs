//! schemathesis fuzzes a GraphQL endpoint of the local stack from the schema it introspects
//! (pinned in the Makefile, installed into .venv by `make test`): queries built from every root
//! field and argument of the caller's schema, with a fixed seed and a bounded number of
//! examples. The check (tests/fuzz/graphql_hooks.py): no 5xx, every answer a valid GraphQL
//! response in Directus' shape, no resolver failure. [`fuzz`] takes the endpoint, so another
//! scope (`/graphql/system`) is one more test.

use std::path::Path;
use std::process::Command;

pub enum Caller {
    Public,
    Bearer(String),
}

/// Runs schemathesis against `endpoint` (a path of the stack) as `caller`.
pub fn fuzz(endpoint: &str, label: &str, caller: Caller) {
    let stack = e2e::stack();
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let schemathesis = workspace.join(".venv/bin/schemathesis");
    assert!(
        schemathesis.exists(),
        "schemathesis is not installed in .venv (make test installs it)"
    );
    let mut command = Command::new(schemathesis);
    command
        .arg("run")
        .arg(format!("{}{endpoint}", stack.api))
        .args(["--checks", "directus_graphql_answer", "--mode", "all"])
        .args(["--max-examples", "25", "--seed", "20261202"])
        .args(["--request-timeout", "30", "--no-color"])
        .args(["--generation-database", "none"])
        .current_dir(workspace.join("target"))
        .env("PYTHONPATH", workspace.join("tests/fuzz"))
        .env("SCHEMATHESIS_HOOKS", "graphql_hooks")
        .env("SCHEMATHESIS_TELEMETRY", "false");
    if let Caller::Bearer(token) = &caller {
        command.args(["--header", &format!("Authorization: Bearer {token}")]);
    }
    let output = command.output().expect("schemathesis runs");
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        output.status.success(),
        "schemathesis ({label}, {endpoint}) found failures:\n{report}"
    );
    assert!(
        report.contains("Tested:") && !report.contains("Tested: 0"),
        "schemathesis ({label}, {endpoint}) tested the schema's fields:\n{report}"
    );
}

#[test]
fn graphql_items_hold_under_fuzzing_as_the_public() {
    fuzz("/graphql", "public", Caller::Public);
}

#[tokio::test(flavor = "multi_thread")]
async fn graphql_items_hold_under_fuzzing_as_a_user() {
    let data = e2e::registered_login(&e2e::unique_email("gql-fuzz"), "d1r3ctu5").await;
    let token = data["access_token"].as_str().unwrap().to_owned();
    tokio::task::spawn_blocking(move || fuzz("/graphql", "user", Caller::Bearer(token)))
        .await
        .expect("schemathesis run");
}

#[tokio::test(flavor = "multi_thread")]
async fn graphql_items_hold_under_fuzzing_as_an_administrator() {
    let token = e2e::admin_token().await;
    tokio::task::spawn_blocking(move || fuzz("/graphql", "administrator", Caller::Bearer(token)))
        .await
        .expect("schemathesis run");
}

#[test]
fn graphql_system_holds_under_fuzzing_as_the_public() {
    fuzz("/graphql/system", "public", Caller::Public);
}

#[tokio::test(flavor = "multi_thread")]
async fn graphql_system_holds_under_fuzzing_as_a_user() {
    let data = e2e::registered_login(&e2e::unique_email("gql-sys-fuzz"), "d1r3ctu5").await;
    let token = data["access_token"].as_str().unwrap().to_owned();
    tokio::task::spawn_blocking(move || fuzz("/graphql/system", "user", Caller::Bearer(token)))
        .await
        .expect("schemathesis run");
}

#[tokio::test(flavor = "multi_thread")]
async fn graphql_system_holds_under_fuzzing_as_an_administrator() {
    let token = e2e::admin_token().await;
    tokio::task::spawn_blocking(move || {
        fuzz("/graphql/system", "administrator", Caller::Bearer(token))
    })
    .await
    .expect("schemathesis run");
}
