//! Sessions and login hardening over HTTP: lockout, revocation, password policy, races.

use e2e::{get, post, registered_login, store, unique_email};
use serde_json::json;

#[tokio::test]
async fn repeated_failures_lock_the_account_with_the_same_401() {
    let email = unique_email("lockout");
    registered_login(&email, "d1r3ctu5").await;
    let wrong = json!({"email": email, "password": "not-the-password"}).to_string();
    let mut answers = Vec::new();
    for _ in 0..5 {
        answers.push(post("/auth/login", &wrong).await.raw);
    }
    let right = post(
        "/auth/login",
        &json!({"email": email, "password": "d1r3ctu5"}).to_string(),
    )
    .await;
    assert_eq!(
        right.status, 401,
        "locked: even the right password is refused"
    );
    assert!(
        answers.iter().all(|a| *a == right.raw),
        "and the answer is the same"
    );
}

#[tokio::test]
async fn ending_a_users_sessions_stops_their_tokens() {
    let email = unique_email("revoked");
    let data = registered_login(&email, "d1r3ctu5").await;
    let access = data["access_token"].as_str().unwrap();
    let ended = shared::provision::account_action(
        &store(),
        &email,
        shared::provision::AccountAction::EndSessions,
    )
    .await
    .unwrap();
    assert_eq!(ended, 1);
    let read = get("/items/posts", Some(access)).await;
    assert_eq!((read.status, read.code()), (401, "INVALID_CREDENTIALS"));
    let refresh = post(
        "/auth/refresh",
        &json!({"refresh_token": data["refresh_token"]}).to_string(),
    )
    .await;
    assert_eq!(refresh.status, 401);
}

#[tokio::test]
async fn weak_passwords_are_refused_at_registration() {
    for password in ["short", "password1", "qwertyuiop"] {
        let reply = post(
            "/register",
            &json!({"email": unique_email("weak"), "password": password}).to_string(),
        )
        .await;
        assert_eq!(
            (reply.status, reply.code()),
            (400, "FAILED_VALIDATION"),
            "{password}"
        );
        assert_eq!(reply.body["errors"][0]["extensions"]["field"], "password");
    }
}

#[tokio::test]
async fn concurrent_registrations_of_one_email_create_one_user() {
    let email = unique_email("race");
    let handles: Vec<_> = (0..50)
        .map(|i| {
            let body =
                json!({"email": email, "password": format!("race-password-{i}")}).to_string();
            tokio::spawn(async move { post("/register", &body).await.status })
        })
        .collect();
    for handle in handles {
        assert_eq!(handle.await.unwrap(), 204);
    }
    let scan = store()
        .client()
        .scan()
        .table_name(&store().tables().users)
        .filter_expression("email = :email")
        .expression_attribute_values(
            ":email",
            aws_sdk_dynamodb::types::AttributeValue::S(email.clone()),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(scan.count(), 1, "exactly one user for the address");
}

fn session_of(token: &str) -> String {
    // The first 16 bytes of a refresh token are its session id.
    use base64::Engine as _;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token)
        .unwrap();
    uuid::Uuid::from_slice(&bytes[..16]).unwrap().to_string()
}

async fn set_session_number(session: &str, attribute: &str, value: i64) {
    use aws_sdk_dynamodb::types::AttributeValue;
    let store = store();
    store
        .client()
        .update_item()
        .table_name(&store.tables().sessions)
        .key("id", AttributeValue::S(session.to_owned()))
        .update_expression("SET #a = :v")
        .expression_attribute_names("#a", attribute)
        .expression_attribute_values(":v", AttributeValue::N(value.to_string()))
        .send()
        .await
        .unwrap();
}

fn refresh_body(token: &str) -> String {
    json!({ "refresh_token": token }).to_string()
}

#[tokio::test]
async fn sessions_end_at_their_absolute_lifetime() {
    let data = registered_login(&unique_email("absolute"), "d1r3ctu5").await;
    let token = data["refresh_token"].as_str().unwrap();
    // Seven days pass for this session only.
    set_session_number(
        &session_of(token),
        "absolute_expires_at",
        e2e::now_secs() as i64 - 1,
    )
    .await;
    let reply = post("/auth/refresh", &refresh_body(token)).await;
    assert_eq!((reply.status, reply.code()), (401, "INVALID_CREDENTIALS"));
}

#[tokio::test]
async fn the_previous_token_after_the_grace_window_revokes_the_session() {
    let data = registered_login(&unique_email("late-tab"), "d1r3ctu5").await;
    let first = data["refresh_token"].as_str().unwrap();
    let rotated = post("/auth/refresh", &refresh_body(first)).await;
    assert_eq!(rotated.status, 200);
    let second = rotated.body["data"]["refresh_token"].as_str().unwrap();
    // The rotation happened 11 seconds ago, past the 10 s window.
    set_session_number(
        &session_of(first),
        "rotated_at",
        e2e::now_secs() as i64 - 11,
    )
    .await;
    let late = post("/auth/refresh", &refresh_body(first)).await;
    assert_eq!((late.status, late.code()), (401, "INVALID_CREDENTIALS"));
    let newest = post("/auth/refresh", &refresh_body(second)).await;
    assert_eq!(
        newest.status, 401,
        "reuse ended the session, newest token included"
    );
}

#[tokio::test]
async fn imported_hashes_are_upgraded_at_login() {
    let email = unique_email("imported");
    let directus_hash = shared::password::Passwords::new(shared::config::HashParams {
        memory_kib: 1024,
        iterations: 3,
        parallelism: 4,
    })
    .unwrap()
    .hash(&shared::sensitive::Sensitive::new("d1r3ctu5"))
    .await
    .unwrap();
    store()
        .create_user(shared::store::NewUser {
            email: email.clone(),
            password_hash: directus_hash.clone(),
            status: shared::store::UserStatus::Active,
            role: Some(e2e::USER_ROLE.into()),
            first_name: None,
            last_name: None,
            policies: Vec::new(),
        })
        .await
        .unwrap();
    e2e::login_token(&email, "d1r3ctu5").await;
    let stored = store().find_user_by_email(&email).await.unwrap().unwrap();
    let stored = stored.password.unwrap();
    assert!(
        stored
            .expose()
            .starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "rehashed with the configured parameters"
    );
    e2e::login_token(&email, "d1r3ctu5").await;
}

#[tokio::test]
async fn the_optional_hard_suspension_suspends_after_the_configured_failures() {
    // The test stack's configuration turns it on at 5 failures (it is off by default).
    let email = unique_email("hard");
    registered_login(&email, "d1r3ctu5").await;
    let wrong = json!({"email": email, "password": "not-the-password"}).to_string();
    for _ in 0..5 {
        assert_eq!(post("/auth/login", &wrong).await.status, 401);
    }
    let user = store().find_user_by_email(&email).await.unwrap().unwrap();
    assert_eq!(user.status, shared::store::UserStatus::Suspended);
}

#[tokio::test]
async fn the_configured_password_pattern_is_enforced() {
    // The test stack's pattern refuses angle brackets.
    let reply = post(
        "/register",
        &json!({"email": unique_email("pattern"), "password": "has <angle> brackets"}).to_string(),
    )
    .await;
    assert_eq!((reply.status, reply.code()), (400, "FAILED_VALIDATION"));
    assert_eq!(reply.body["errors"][0]["extensions"]["type"], "regex");
}
