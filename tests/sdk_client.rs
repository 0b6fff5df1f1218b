//! The real `@directus/sdk` (pinned in tests/sdk/package-lock.json) against the shared stack:
//! runs `node --test` in tests/sdk with the stack's URL.

#[test]
fn the_directus_sdk_drives_both_quickstarts() {
    let stack = e2e::stack();
    let directory = concat!(env!("CARGO_MANIFEST_DIR"), "/sdk");
    assert!(
        std::path::Path::new(directory)
            .join("node_modules/@directus/sdk")
            .exists(),
        "run `npm ci` in tests/sdk first (make test does)"
    );
    let output = std::process::Command::new("node")
        .args(["--test", "--test-reporter=spec"])
        .current_dir(directory)
        .env("API_URL", &stack.api)
        .output()
        .expect("node runs");
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "the SDK tests failed:\n{report}");
    assert!(
        report.contains("pass 9"),
        "all nine SDK tests ran:\n{report}"
    );
}
