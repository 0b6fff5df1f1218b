//! The hosted pages in a real browser: `node --test` in tests/browser drives Debian's chromium
//! with playwright-core against the shared stack (sign-up, sign-in, reload, sign-out, errors)
//! and the pages stack (registration closed, the forgot-password journey through the mail's
//! link with `make dev`'s mail defaults, a return to an allowed address after sign-in, too
//! many attempts) and the mail stack (a mailed verification link opened in the browser),
//! two-factor sign-in set up on the account page and used at sign-in, checks each page with
//! axe-core and the keyboard, and saves the screenshots of docs/screenshots/.

/// A user of the shared stack who may turn two-factor sign-in on and off: read and update
/// permission on their own `tfa_secret`, which the fixture's User role lacks (as Directus'
/// quickstart User role does), and the posts to read, in a role of its own with fresh ids.
/// Created straight in the store, as an operator's `provision create-user` would.
async fn two_factor_user(email: &str, password: &str) {
    let policy = uuid::Uuid::new_v4().to_string();
    let role = uuid::Uuid::new_v4().to_string();
    let own_row = serde_json::json!({"id": {"_eq": "$CURRENT_USER"}});
    e2e::apply(serde_json::json!({
        "policies": [{
            "id": policy,
            "name": format!("Own two-factor sign-in {policy}"),
            "permissions": [
                {"collection": "directus_users", "action": "read",
                 "fields": ["id", "email", "tfa_secret"], "permissions": own_row},
                {"collection": "directus_users", "action": "update",
                 "fields": ["tfa_secret"], "permissions": own_row},
                {"collection": "posts", "action": "read", "fields": ["*"]}
            ]
        }],
        "roles": [{
            "id": role,
            "name": format!("Two-factor {role}"),
            "policies": [policy]
        }]
    }))
    .await;
    let passwords =
        shared::credential::password::Passwords::new(shared::platform::config::HashParams {
            memory_kib: 256,
            iterations: 1,
            parallelism: 1,
        })
        .expect("hash parameters");
    shared::flows::provision::create_user(
        &e2e::store(),
        &passwords,
        email,
        &shared::domain::sensitive::Sensitive::new(password.to_owned()),
        Some(&role),
    )
    .await
    .expect("the two-factor user is created");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_hosted_pages_work_in_a_real_browser() {
    let stack = e2e::stack();
    let pages_stack = e2e::pages_stack();
    let mail_stack = e2e::mail_stack();
    let directory = concat!(env!("CARGO_MANIFEST_DIR"), "/browser");
    assert!(
        std::path::Path::new(directory)
            .join("node_modules/playwright-core")
            .exists(),
        "run `npm ci` in tests/browser first (make test does)"
    );
    assert!(
        std::path::Path::new("/usr/bin/chromium").exists(),
        "install Debian's chromium (/usr/bin/chromium) first: as root, apt-get install -y chromium (make chromium / make test does)"
    );
    // The forgot-password journey's account, on the pages stack (registration is off there).
    let forgot_email = e2e::unique_email("browser-forgot");
    e2e::pages_user(&forgot_email, "d1r3ctu5-before-reset").await;
    let return_url = format!("{}{}", pages_stack.api, e2e::PAGES_RETURN_PATH);
    // The two-factor journey's account, on the shared stack.
    let tfa_email = e2e::unique_email("browser-tfa");
    let tfa_password = "d1r3ctu5-two-factor";
    two_factor_user(&tfa_email, tfa_password).await;
    let tests = e2e::node_tests(
        "browser",
        &["pages.test.js"],
        &[
            ("API_URL", &stack.api),
            ("CLOSED_API_URL", &pages_stack.api),
            ("MAIL_API_URL", &mail_stack.api),
            ("INBOX_URL", &stack.inbox),
            ("FORGOT_EMAIL", &forgot_email),
            ("RETURN_URL", &return_url),
            ("TFA_EMAIL", &tfa_email),
            ("TFA_PASSWORD", tfa_password),
            // Not docs/screenshots/ itself: `cargo lambda watch` restarts the functions when a
            // file of the workspace changes (target/ is ignored), which would cut requests of
            // this and every other running test. `make screenshots` copies them there.
            (
                "SCREENSHOT_DIR",
                concat!(env!("CARGO_MANIFEST_DIR"), "/../target/screenshots"),
            ),
        ],
    );
    assert!(tests >= 5, "the browser tests were found");
}
