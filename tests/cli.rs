//! Every binary of the workspace answers `--help` with its usage and exits at once — none starts
//! its work (the benchmark used to run whole when asked for help) — and refuses an unknown
//! argument with status 2.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The workspace's binaries: each function, and the local stack's tools.
fn binaries() -> Vec<String> {
    let functions = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../functions"))
        .expect("functions/ is readable")
        .map(|entry| {
            entry
                .expect("an entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        });
    let mut names: Vec<String> = functions
        .chain(["devstack", "bench", "provision"].map(String::from))
        .collect();
    names.sort();
    names
}

fn binary(name: &str) -> PathBuf {
    let path = e2e::debug_binary(name);
    assert!(
        path.exists(),
        "{} is missing: `cargo build --workspace` builds it (make test does)",
        path.display()
    );
    path
}

/// Runs `name` with `argument` and no environment (no Runtime API, no AWS settings), so a
/// binary that ignored the argument and started would fail or hang, not pass.
fn run(name: &str, argument: &str) -> (i32, String, String) {
    let mut child = Command::new(binary(name))
        .arg(argument)
        .env_clear()
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{name} starts: {e}"));
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().expect("waits") {
            let output = child.wait_with_output().expect("output");
            return (
                status.code().unwrap_or(-1),
                String::from_utf8_lossy(&output.stdout).into_owned(),
                String::from_utf8_lossy(&output.stderr).into_owned(),
            );
        }
        if started.elapsed() > Duration::from_secs(20) {
            let _ = child.kill();
            panic!("{name} {argument} did not exit within 20 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn every_binary_answers_help_with_its_usage_and_exits() {
    let names = binaries();
    assert!(names.len() >= 19, "{names:?}");
    for name in names {
        let (status, stdout, stderr) = run(&name, "--help");
        assert_eq!(status, 0, "{name} --help: {stdout}{stderr}");
        assert!(
            stdout.to_lowercase().contains("usage:") && stdout.contains(&name),
            "{name} --help printed: {stdout}"
        );
    }
}

#[test]
fn every_binary_refuses_an_unknown_argument() {
    for name in binaries() {
        let (status, stdout, stderr) = run(&name, "--no-such-option");
        assert_eq!(status, 2, "{name} --no-such-option: {stdout}{stderr}");
        assert!(
            stderr.to_lowercase().contains("usage:"),
            "{name} --no-such-option said: {stderr}"
        );
    }
}

/// Runs the operator tool with exactly `env` (nothing inherited but PATH) and `args`.
fn provision(env: &[(&str, &str)], args: &[&str]) -> (i32, String, String) {
    let mut command = Command::new(binary("provision"));
    command
        .args(args)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        // No profile or instance metadata can answer for it here.
        .env("AWS_CONFIG_FILE", "/nonexistent")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .stdin(Stdio::null());
    for (name, value) in env {
        command.env(name, value);
    }
    let output = command.output().expect("provision runs");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[tokio::test]
async fn the_operator_tool_reaches_the_local_stack_with_local_and_names_what_is_wrong() {
    let stack = e2e::stack();
    let (email, _) = e2e::admin_credentials().await;
    // --local with the stack's endpoint and table prefix: it lists users.
    let local = [
        ("AWS_ENDPOINT_URL_DYNAMODB", stack.dynamo.as_str()),
        ("TABLE_PREFIX", e2e::PREFIX),
    ];
    let (status, stdout, stderr) =
        provision(&local, &["--local", "users", "list", "--email", &email]);
    assert_eq!(status, 0, "{stdout}{stderr}");
    assert!(
        stdout.contains(&email) && stdout.contains("active"),
        "{stdout}"
    );
    // The switch may come anywhere on the line.
    let (status, stdout, stderr) =
        provision(&local, &["users", "list", "--email", &email, "--local"]);
    assert_eq!(status, 0, "{stderr}");
    assert!(stdout.contains(&email), "{stdout}");

    // A wrong prefix is named as such, not as a "service error".
    let (status, _, stderr) = provision(
        &[
            ("AWS_ENDPOINT_URL_DYNAMODB", stack.dynamo.as_str()),
            ("TABLE_PREFIX", "nope-"),
        ],
        &["--local", "users", "list"],
    );
    assert_eq!(status, 1, "{stderr}");
    assert!(
        stderr.contains("has no table nope-users") && stderr.contains("TABLE_PREFIX"),
        "{stderr}"
    );

    // Nothing listening: unreachable, not "dispatch failure" alone.
    let (status, _, stderr) = provision(
        &[("AWS_ENDPOINT_URL_DYNAMODB", "http://127.0.0.1:9")],
        &["--local", "users", "list"],
    );
    assert_eq!(status, 1, "{stderr}");
    assert!(stderr.contains("cannot be reached"), "{stderr}");

    // Without --local and without a region, it says so before reaching anything.
    let (status, _, stderr) = provision(&[], &["users", "list"]);
    assert_eq!(status, 1, "{stderr}");
    assert!(
        stderr.contains("no AWS region") && stderr.contains("--local"),
        "{stderr}"
    );

    // A region but no credentials (and no endpoint): named, not attempted against AWS blindly.
    let (status, _, stderr) = provision(&[("AWS_REGION", "eu-west-1")], &["users", "list"]);
    assert_eq!(status, 1, "{stderr}");
    assert!(stderr.contains("no AWS credentials"), "{stderr}");
}
