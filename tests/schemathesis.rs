//! schemathesis (pinned in the Makefile, installed into .venv by `make test`) fuzzes every
//! operation of docs/openapi.yaml against the shared stack, with a bounded number of examples
//! per operation and a fixed seed, and checks: no server errors, only documented statuses, and
//! bodies that match the documented schemas (content types included). Three callers: the public,
//! a user schemathesis signs up and logs in on its own (through /users/register and
//! /auth/login), and an administrator. tests/fuzz/ holds its configuration. Requests go through
//! the local stack's API Gateway stand-in, so bodies that are not UTF-8 reach the functions as
//! they will on AWS.

use std::path::Path;
use std::process::Command;

const CHECKS: &str = "not_a_server_error,status_code_conformance,\
                      response_schema_conformance,content_type_conformance";

enum Caller {
    Public,
    SignedUp,
    Bearer(String),
}

fn run(label: &str, caller: Caller) {
    let stack = e2e::stack();
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let schemathesis = workspace.join(".venv/bin/schemathesis");
    assert!(
        schemathesis.exists(),
        "schemathesis is not installed in .venv (make test installs it)"
    );
    let fuzz = workspace.join("tests/fuzz");
    let mut command = Command::new(schemathesis);
    if matches!(caller, Caller::Public) {
        command.arg("--config-file").arg(fuzz.join("public.toml"));
    }
    command
        .arg("run")
        .arg(e2e::openapi::DOCUMENT)
        .args(["--url", &stack.api])
        .args(["--checks", CHECKS])
        .args(["--phases", "examples,coverage,fuzzing"])
        .args(["--max-examples", "30", "--seed", "20261123"])
        .args(["--request-timeout", "30", "--no-color"])
        .args(["--generation-database", "none"])
        // Nothing is written into the workspace, which `cargo lambda watch` watches.
        .current_dir(workspace.join("target"))
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
        "schemathesis ({label}) found failures:\n{report}"
    );
    // Every operation ran: a document that stops matching the routes would otherwise pass by
    // testing nothing.
    assert!(
        report.contains("11 selected / 11 total") && report.contains("Tested: 11"),
        "schemathesis ({label}) tested all eleven operations:\n{report}"
    );
    if matches!(caller, Caller::SignedUp) {
        assert!(
            report.contains("signed up via POST /users/register and logged in"),
            "schemathesis ({label}) ran as a signed-up user:\n{report}"
        );
    }
}

#[test]
fn the_api_document_holds_under_fuzzing_as_the_public() {
    run("public", Caller::Public);
}

#[test]
fn the_api_document_holds_under_fuzzing_as_a_signed_up_user() {
    run("signed-up user", Caller::SignedUp);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_api_document_holds_under_fuzzing_as_an_administrator() {
    let token = e2e::admin_token().await;
    tokio::task::spawn_blocking(move || run("administrator", Caller::Bearer(token)))
        .await
        .expect("schemathesis run");
}
