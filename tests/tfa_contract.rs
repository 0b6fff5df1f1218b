//! The deployed contract of the `tfa` function: every answer of a whole two-factor life
//! (generate, enable, the login's second step, new recovery codes, disable) is one
//! docs/openapi.yaml describes (each request goes through `documented`), and the journey uses
//! each DynamoDB access infra/dynamodb-access.json declares for `tfa` (a session-mode caller,
//! the other sessions ended at enable), so the access check after the suite sees all of them.

use serde_json::{Value, json};
use shared::domain::two_factor::Authenticator;

/// A POST with a bearer token or a session cookie, checked against the document.
async fn post(path: &str, body: Value, auth: (&str, &str)) -> e2e::Reply {
    e2e::post_with(path, &body.to_string(), &[auth]).await
}

async fn login(email: &str, password: &str, extra: Value) -> e2e::Reply {
    let mut body = json!({"email": email, "password": password});
    body.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    e2e::post("/auth/login", &body.to_string()).await
}

#[tokio::test]
async fn a_second_factors_life_answers_as_documented() {
    let (email, password) = e2e::admin_credentials().await;
    let bearer_of = |reply: &e2e::Reply| {
        assert_eq!(reply.status, 200, "{reply:?}");
        format!(
            "Bearer {}",
            reply.body["data"]["access_token"].as_str().unwrap()
        )
    };
    let first = bearer_of(&login(&email, &password, json!({})).await);
    let second = bearer_of(&login(&email, &password, json!({})).await);
    let session = login(&email, &password, json!({"mode": "session"})).await;
    assert_eq!(session.status, 200, "{session:?}");
    let cookie = format!(
        "directus_session_token={}",
        session.cookie("directus_session_token").unwrap()
    );

    // Generate with the session cookie (no Origin: not a cross-site request).
    let wrong = post(
        "/users/me/tfa/generate",
        json!({"password": "not-the-password"}),
        ("cookie", &cookie),
    )
    .await;
    assert_eq!((wrong.status, wrong.code()), (401, "INVALID_CREDENTIALS"));
    let generated = post(
        "/users/me/tfa/generate",
        json!({"password": password}),
        ("cookie", &cookie),
    )
    .await;
    assert_eq!(generated.status, 200, "{generated:?}");
    let secret = generated.body["data"]["secret"]
        .as_str()
        .unwrap()
        .to_owned();
    let authenticator = Authenticator::from_base32(&secret).unwrap();

    // Enable with the first token: the other two sessions end.
    let enabled = post(
        "/users/me/tfa/enable",
        json!({"secret": secret, "otp": authenticator.code_at(e2e::now_secs())}),
        ("authorization", &first),
    )
    .await;
    assert_eq!(enabled.status, 200, "{enabled:?}");
    let codes: Vec<String> = enabled.body["data"]["recovery_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(codes.len(), 10);
    let ended = e2e::get("/users/me", Some(second.trim_start_matches("Bearer "))).await;
    assert_eq!(ended.status, 401, "{ended:?}");
    let me = e2e::get("/users/me", Some(first.trim_start_matches("Bearer "))).await;
    assert_eq!(me.body["data"]["tfa_secret"], "**********", "{me:?}");

    // The login's second step.
    let missing = login(&email, &password, json!({})).await;
    assert_eq!((missing.status, missing.code()), (401, "INVALID_OTP"));
    let recovered = login(&email, &password, json!({"otp": codes[0]})).await;
    assert_eq!(recovered.status, 200, "{recovered:?}");
    let again = login(&email, &password, json!({"otp": codes[0]})).await;
    assert_eq!((again.status, again.code()), (401, "INVALID_OTP"));

    // New recovery codes, spending another one; a wrong code to disable; then the next
    // step's code (one step of drift) disables it.
    let replaced = post(
        "/users/me/tfa/recovery-codes",
        json!({"password": password, "otp": codes[1]}),
        ("authorization", &first),
    )
    .await;
    assert_eq!(replaced.status, 200, "{replaced:?}");
    assert_ne!(replaced.body["data"]["recovery_codes"][0], codes[0]);
    let refused = post(
        "/users/me/tfa/disable",
        json!({"otp": codes[2]}),
        ("authorization", &first),
    )
    .await;
    assert_eq!((refused.status, refused.code()), (400, "INVALID_PAYLOAD"));
    let disabled = post(
        "/users/me/tfa/disable",
        json!({"otp": authenticator.code_at(e2e::now_secs() + 30)}),
        ("authorization", &first),
    )
    .await;
    assert_eq!(disabled.status, 204, "{disabled:?}");
    let me = e2e::get("/users/me", Some(first.trim_start_matches("Bearer "))).await;
    assert_eq!(me.body["data"]["tfa_secret"], Value::Null, "{me:?}");
    let plain = login(&email, &password, json!({})).await;
    assert_eq!(plain.status, 200, "{plain:?}");
}
