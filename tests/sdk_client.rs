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
    e2e::node_tests(
        "sdk",
        &["sdk.test.js", "email.test.js"],
        &[
            ("API_URL", &stack.api),
            ("ADMIN_EMAIL", &admin_email),
            ("ADMIN_PASSWORD", &admin_password),
            ("MAIL_API_URL", &mail_stack.api),
            ("INBOX_URL", &mail_stack.inbox),
            ("RESET_URL", e2e::RESET_URL),
        ],
    );
}
