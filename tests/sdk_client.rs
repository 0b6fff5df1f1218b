//! The real `@directus/sdk` (pinned in tests/sdk/package-lock.json) against the shared stack:
//! runs `node --test` in tests/sdk with the stack's URL (and the mail stack's, with its inbox,
//! for email.test.js; a role whose users may enable a second factor, for two_factor.test.js).

#[tokio::test(flavor = "multi_thread")]
async fn the_directus_sdk_drives_both_quickstarts() {
    let stack = e2e::stack();
    let mail_stack = e2e::mail_stack();
    let (admin_email, admin_password) = e2e::admin_credentials().await;
    let tfa_role = second_factor_role().await;
    let directory = concat!(env!("CARGO_MANIFEST_DIR"), "/sdk");
    assert!(
        std::path::Path::new(directory)
            .join("node_modules/@directus/sdk")
            .exists(),
        "run `npm ci` in tests/sdk first (make test does)"
    );
    e2e::node_tests(
        "sdk",
        &["sdk.test.js", "email.test.js", "two_factor.test.js"],
        &[
            ("API_URL", &stack.api),
            ("ADMIN_EMAIL", &admin_email),
            ("ADMIN_PASSWORD", &admin_password),
            ("MAIL_API_URL", &mail_stack.api),
            ("INBOX_URL", &mail_stack.inbox),
            ("RESET_URL", e2e::RESET_URL),
            ("TFA_ROLE", &tfa_role),
        ],
    );
}

/// A new role whose users read their own row and may update their own `tfa_secret` (what
/// enabling a second factor needs, as in Directus); not the seed's, which may not allow it.
async fn second_factor_role() -> String {
    let tag = uuid::Uuid::new_v4().simple().to_string();
    let policy = format!("sdk-tfa-policy-{tag}");
    let role = format!("sdk-tfa-role-{tag}");
    e2e::apply(serde_json::json!({
        "policies": [{"id": policy, "name": "Own second factor", "permissions": [
            {"collection": "directus_users", "action": "read", "fields": ["*"],
             "permissions": {"id": {"_eq": "$CURRENT_USER"}}},
            {"collection": "directus_users", "action": "update", "fields": ["tfa_secret"],
             "permissions": {"id": {"_eq": "$CURRENT_USER"}}}
        ]}],
        "roles": [{"id": role, "name": "SDK second factor", "policies": [policy]}]
    }))
    .await;
    role
}
