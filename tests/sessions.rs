//! Sessions and login hardening over HTTP: lockout, revocation, password policy, races.

use e2e::{get, post, registered_login, store, unique_email};
use serde_json::json;

async fn user_named(email: &str) -> shared::domain::model::User {
    store()
        .find_user_by_email(email)
        .await
        .unwrap()
        .expect("the user exists")
}

#[tokio::test]
async fn a_refresh_of_a_session_begun_before_revocation_is_refused() {
    // Revocation stamps the user first and ends sessions through the by-user index, which lags
    // on AWS. A session the index did not list yet must still be over.
    let email = unique_email("lagging");
    let data = registered_login(&email, "d1r3ctu5").await;
    let user = user_named(&email).await;
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    store().invalidate_tokens(&user.id).await.unwrap();
    // No revoke_user_sessions: as if the index had not caught up.
    let refresh = post(
        "/auth/refresh",
        &json!({"refresh_token": data["refresh_token"]}).to_string(),
    )
    .await;
    assert_eq!(
        (refresh.status, refresh.code()),
        (401, "INVALID_CREDENTIALS")
    );
    // And the session is gone for good.
    let session = session_of(data["refresh_token"].as_str().unwrap());
    assert!(
        store()
            .get_live_session(&session, e2e::now_secs() as i64)
            .await
            .unwrap()
            .is_none()
    );
    // A login after the revocation starts a session that refreshes normally.
    let fresh = registered_login_again(&email).await;
    let refresh = post(
        "/auth/refresh",
        &json!({"refresh_token": fresh["refresh_token"]}).to_string(),
    )
    .await;
    assert_eq!(refresh.status, 200, "{refresh:?}");
}

async fn registered_login_again(email: &str) -> serde_json::Value {
    let login = post(
        "/auth/login",
        &json!({"email": email, "password": "d1r3ctu5"}).to_string(),
    )
    .await;
    assert_eq!(login.status, 200, "{login:?}");
    login.body["data"].clone()
}

#[tokio::test]
async fn ending_a_users_sessions_stops_their_tokens() {
    let email = unique_email("revoked");
    let data = registered_login(&email, "d1r3ctu5").await;
    let access = data["access_token"].as_str().unwrap();
    let ended = shared::flows::provision::account_action(
        &store(),
        &email,
        shared::flows::provision::AccountAction::EndSessions,
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
async fn imported_hashes_are_upgraded_at_login() {
    let email = unique_email("imported");
    let directus_hash =
        shared::credential::password::Passwords::new(shared::platform::config::HashParams {
            memory_kib: 1024,
            iterations: 3,
            parallelism: 4,
        })
        .unwrap()
        .hash(&shared::domain::sensitive::Sensitive::new("d1r3ctu5"))
        .await
        .unwrap();
    store()
        .create_user(shared::store::NewUser {
            email: email.clone(),
            password_hash: directus_hash.clone(),
            status: shared::domain::model::UserStatus::Active,
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

/// The second of the user's revocation cut-off, as stored.
async fn cut_off_second(email: &str) -> u64 {
    let at = user_named(email)
        .await
        .cut_off()
        .at_ms
        .expect("a revocation was stamped");
    u64::try_from(at / 1000).unwrap()
}

fn iat(token: &str) -> u64 {
    e2e::claims_of(token)["iat"].as_u64().unwrap()
}

#[tokio::test]
async fn the_operator_tools_revocation_ends_earlier_tokens_and_not_a_login_just_after_it() {
    // The operator tool used to refuse the whole current second: a user logging in again right
    // after their sessions were ended was refused until the next second.
    let (mut saw_before, mut saw_after) = (false, false);
    for attempt in 0.. {
        assert!(
            attempt < 10,
            "the logins and the revocation never shared a second"
        );
        let email = unique_email("operator-second");
        registered_login(&email, "d1r3ctu5").await;
        e2e::early_in_a_second().await;
        let before = e2e::login_token(&email, "d1r3ctu5").await;
        shared::flows::provision::account_action(
            &store(),
            &email,
            shared::flows::provision::AccountAction::EndSessions,
        )
        .await
        .unwrap();
        let after = e2e::login_token(&email, "d1r3ctu5").await;
        let second = cut_off_second(&email).await;
        // Every user is new here: no warm function has its standing cached.
        let read = get("/items/posts", Some(&before)).await;
        assert_eq!(
            (read.status, read.code()),
            (401, "INVALID_CREDENTIALS"),
            "{read:?}"
        );
        let read = get("/items/posts", Some(&after)).await;
        assert_eq!(
            read.status, 200,
            "a login just after the revocation: {read:?}"
        );
        saw_before |= iat(&before) == second;
        saw_after |= iat(&after) == second;
        if saw_before && saw_after {
            break;
        }
    }
}

#[tokio::test]
async fn a_session_cookie_whose_session_the_index_missed_is_over() {
    // Sessions are ended through the by-user index, which lags on AWS: a session it did not
    // list keeps its item, and its session-mode cookie must die with the cut-off all the same.
    let mut saw_same_second = false;
    for attempt in 0.. {
        assert!(
            attempt < 10,
            "the login and the revocation never shared a second"
        );
        let email = unique_email("lagging-cookie");
        registered_login(&email, "d1r3ctu5").await;
        e2e::early_in_a_second().await;
        let login = post(
            "/auth/login",
            &json!({"email": email, "password": "d1r3ctu5", "mode": "session"}).to_string(),
        )
        .await;
        let cookie = login.cookie("directus_session_token").unwrap();
        let user = user_named(&email).await;
        // No revoke_user_sessions: as if the index had not caught up.
        store().invalidate_tokens(&user.id).await.unwrap();
        let me = e2e::client()
            .get(format!("{}/users/me", e2e::stack().api))
            .header("cookie", format!("directus_session_token={cookie}"))
            .send()
            .await
            .unwrap();
        let me = e2e::Reply::from(me).await.documented("GET", "/users/me");
        assert_eq!(
            (me.status, me.code()),
            (401, "INVALID_CREDENTIALS"),
            "{me:?}"
        );
        saw_same_second |= iat(&cookie) == cut_off_second(&email).await;
        if saw_same_second {
            break;
        }
    }
}

/// `PATCH /users/{id}` as `admin`.
async fn patch_user(admin: &str, id: &str, body: serde_json::Value) -> e2e::Reply {
    let reply = e2e::client()
        .patch(format!("{}/users/{id}", e2e::stack().api))
        .header("authorization", format!("Bearer {admin}"))
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    e2e::Reply::from(reply)
        .await
        .documented("PATCH", &format!("/users/{id}"))
}

/// The policy every User holds through its role (infra/seed.json), linked to a user directly.
const READ_POSTS_POLICY: &str = "5e4a4c51-2d0a-4a43-9b8e-3c1f0f6f7a01";

#[tokio::test]
async fn an_administrators_patch_with_a_taken_email_changes_nothing_and_ends_nothing() {
    let admin = e2e::admin_token().await;
    let taken = unique_email("taken");
    registered_login(&taken, "d1r3ctu5").await;
    let email = unique_email("patched");
    let data = registered_login(&email, "d1r3ctu5").await;
    let before = user_named(&email).await;
    for body in [
        json!({"role": e2e::ADMIN_ROLE, "email": taken.to_uppercase()}),
        json!({"status": "suspended", "email": taken}),
        json!({"password": "a-new-passphrase", "email": taken, "first_name": "Mallory"}),
        json!({"policies": [READ_POSTS_POLICY], "email": taken}),
    ] {
        let reply = patch_user(&admin, &before.id, body.clone()).await;
        assert_eq!(
            (reply.status, reply.code()),
            (400, "RECORD_NOT_UNIQUE"),
            "{body}: {reply:?}"
        );
    }
    assert_eq!(user_named(&email).await, before, "nothing was written");
    assert!(
        store().user_policies(&before.id).await.unwrap().is_empty(),
        "no policy was linked"
    );
    // Still logged in everywhere: the access token, and the session it refreshes.
    let read = get("/items/posts", data["access_token"].as_str()).await;
    assert_eq!(read.status, 200, "{read:?}");
    let refresh = post(
        "/auth/refresh",
        &json!({"refresh_token": data["refresh_token"]}).to_string(),
    )
    .await;
    assert_eq!(refresh.status, 200, "{refresh:?}");
}

#[tokio::test]
async fn an_administrators_patch_applies_everything_at_once() {
    let admin = e2e::admin_token().await;
    let email = unique_email("patched-all");
    let data = registered_login(&email, "d1r3ctu5").await;
    let before = user_named(&email).await;
    let moved = unique_email("moved");
    let reply = patch_user(
        &admin,
        &before.id,
        json!({
            "email": moved,
            "role": e2e::ADMIN_ROLE,
            "password": "a-new-passphrase",
            "first_name": "Ada",
            "policies": [READ_POSTS_POLICY],
        }),
    )
    .await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(reply.body["data"]["email"], json!(moved));
    assert_eq!(reply.body["data"]["role"], json!(e2e::ADMIN_ROLE));
    assert_eq!(reply.body["data"]["first_name"], json!("Ada"));
    assert_eq!(reply.body["data"]["policies"], json!([READ_POSTS_POLICY]));
    let after = user_named(&moved).await;
    assert_eq!(after.id, before.id);
    assert!(
        after.cut_off().at_ms.is_some(),
        "the revocation was written with it"
    );
    assert_eq!(
        store().user_policies(&before.id).await.unwrap(),
        vec![READ_POSTS_POLICY.to_owned()]
    );
    assert!(
        store().find_user_by_email(&email).await.unwrap().is_none(),
        "the old address is free"
    );
    // Every earlier session is over; the new password logs in, with the new role.
    let refresh = post(
        "/auth/refresh",
        &json!({"refresh_token": data["refresh_token"]}).to_string(),
    )
    .await;
    assert_eq!(refresh.status, 401, "{refresh:?}");
    let old = post(
        "/auth/login",
        &json!({"email": moved, "password": "d1r3ctu5"}).to_string(),
    )
    .await;
    assert_eq!(old.status, 401);
    let token = e2e::login_token(&moved, "a-new-passphrase").await;
    assert_eq!(e2e::claims_of(&token)["role"], json!(e2e::ADMIN_ROLE));
}
