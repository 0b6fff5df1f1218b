//! One function process serves several invocations at once (`lambda_http::run_concurrent`) when
//! `AWS_LAMBDA_MAX_CONCURRENCY` says so, as an execution environment of Lambda Managed
//! Instances does, and what its invocations share (the signing keys, the dummy hash of unknown
//! accounts, the policy cache, the SDK client) answers each of them correctly. The function is
//! the debug binary, run against a minimal Runtime API (`devstack::runtime_api`, which matches
//! each answer to its event by request id) and the test stack's DynamoDB.

use std::time::Duration;

use devstack::runtime_api::{FunctionProcess, http_api_event};
use e2e::{PREFIX, SECRET, stack, unique_email};
use serde_json::{Value, json};

fn login_event(email: &str, password: &str, n: usize) -> Value {
    http_api_event(
        "POST",
        "/auth/login",
        None,
        Some(json!({"email": email, "password": password})),
        &format!("10.77.0.{n}"),
    )
}

/// The `id` claim of an access token (the API issued it; its signature is checked elsewhere).
fn user_id(token: &str) -> String {
    use base64::Engine as _;
    let payload = token.split('.').nth(1).expect("a JWT");
    let claims: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .expect("base64url"),
    )
    .expect("JSON claims");
    claims["id"].as_str().expect("an id claim").to_owned()
}

#[tokio::test]
async fn one_login_process_answers_overlapping_invocations_each_correctly() {
    let stack = stack();
    // Four users with their own passwords, and four unknown accounts (the dummy hash).
    let mut users = Vec::new();
    for n in 0..4 {
        let (email, password) = (
            unique_email("concurrent"),
            format!("d1r3ctu5-concurrent-{n}"),
        );
        let login = e2e::registered_login(&email, &password).await;
        let id = user_id(login["access_token"].as_str().expect("a token"));
        users.push((email, password, id));
    }
    let events: Vec<Value> = (0..8)
        .map(|n| match users.get(n / 2).filter(|_| n % 2 == 0) {
            Some((email, password, _)) => login_event(email, password, n),
            None => login_event(&unique_email("nobody"), "d1r3ctu5-concurrent", n),
        })
        .collect();

    // As the local stack runs it: cargo lambda sets AWS_LAMBDA_MAX_CONCURRENCY=1 and the
    // function takes its concurrency from LOCAL_MAX_CONCURRENCY.
    let environment = [
        ("LOCAL_MAX_CONCURRENCY", "4"),
        ("AWS_LAMBDA_MAX_CONCURRENCY", "1"),
        ("AWS_LAMBDA_FUNCTION_NAME", "login"),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "1769"),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"),
        ("AWS_ENDPOINT_URL_DYNAMODB", stack.dynamo.as_str()),
        ("AWS_ACCESS_KEY_ID", "local"),
        ("AWS_SECRET_ACCESS_KEY", "local"),
        ("AWS_REGION", "us-east-1"),
        ("TABLE_PREFIX", PREFIX),
        ("SECRET", SECRET),
    ];
    let mut process = FunctionProcess::spawn(&e2e::debug_binary("login"), &environment)
        .await
        .expect("the login function starts");
    let answers = process
        .invoke_all(&events, Duration::from_secs(60))
        .await
        .expect("every invocation is answered");
    let most_in_flight = process.most_in_flight();
    process.stop().await;

    assert_eq!(answers.len(), events.len());
    for answer in &answers {
        let body: Value =
            serde_json::from_str(answer.response["body"].as_str().expect("a body")).unwrap();
        let sent: Value = serde_json::from_str(answer.event["body"].as_str().unwrap()).unwrap();
        let known = users
            .iter()
            .find(|(email, _, _)| sent["email"] == json!(email));
        match known {
            // Each login got its own user's token, not another invocation's.
            Some((_, _, id)) => {
                assert_eq!(answer.status, 200, "{body}");
                let token = body["data"]["access_token"].as_str().expect("a token");
                assert_eq!(&user_id(token), id);
            }
            None => {
                assert_eq!(answer.status, 401, "{body}");
                assert_eq!(
                    body["errors"][0]["extensions"]["code"],
                    "INVALID_CREDENTIALS"
                );
            }
        }
    }
    assert!(
        most_in_flight >= 2,
        "the process took one invocation at a time ({most_in_flight} at most)"
    );
}
