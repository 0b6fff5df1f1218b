//! The real `@directus/sdk` (pinned in tests/sdk/package-lock.json) against the shared stack:
//! runs `node --test` in tests/sdk with the stack's URL (and the mail stack's, with its inbox,
//! for email.test.js).

#[tokio::test(flavor = "multi_thread")]
async fn the_directus_sdk_drives_both_quickstarts() {
    let stack = e2e::stack();
    let mail_stack = e2e::mail_stack();
    let (admin_email, admin_password) = e2e::admin_credentials().await;
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
        .env("ADMIN_EMAIL", &admin_email)
        .env("ADMIN_PASSWORD", &admin_password)
        .env("MAIL_API_URL", &mail_stack.api)
        .env("INBOX_URL", &mail_stack.inbox)
        .env("RESET_URL", e2e::RESET_URL)
        .output()
        .expect("node runs");
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "the SDK tests failed:\n{report}");
    let tests: usize = ["sdk.test.js", "email.test.js"]
        .iter()
        .map(|file| {
            std::fs::read_to_string(format!("{directory}/{file}"))
                .expect("the SDK tests")
                .matches("\ntest(")
                .count()
        })
        .sum();
    assert!(
        report.contains(&format!("pass {tests}")),
        "all {tests} SDK tests ran:\n{report}"
    );
}
