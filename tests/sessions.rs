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
