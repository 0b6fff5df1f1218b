//! One function process serves several invocations at once (`lambda_http::run_concurrent`) when
//! `AWS_LAMBDA_MAX_CONCURRENCY` says so, as an execution environment of Lambda Managed
//! Instances does, and what its invocations share (the signing keys, the dummy hash of unknown
//! accounts, the policy cache, the SDK client) answers each of them correctly. The function is
//! the debug binary, run against a minimal Runtime API (`devstack::runtime_api`) and the test
//! stack's DynamoDB.

use std::path::PathBuf;
use std::time::Duration;

use devstack::runtime_api::FunctionProcess;
use e2e::{PREFIX, SECRET, stack, unique_email};
use serde_json::{Value, json};

fn binary(name: &str) -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../target")));
    target.join("debug").join(name)
}

fn login_event(email: &str, password: &str, n: usize) -> Value {
    json!({
        "version": "2.0", "routeKey": "$default", "rawPath": "/auth/login", "rawQueryString": "",
        "headers": {"content-type": "application/json", "user-agent": "concurrency-test"},
        "requestContext": {
            "accountId": "000000000000", "apiId": "local", "domainName": "localhost",
            "domainPrefix": "localhost", "requestId": format!("concurrent-{n}"),
            "routeKey": "$default", "stage": "$default", "time": "01/Jan/2026:00:00:00 +0000",
            "timeEpoch": 0,
            "http": {"method": "POST", "path": "/auth/login", "protocol": "HTTP/1.1",
                     "sourceIp": format!("10.77.0.{n}"), "userAgent": "concurrency-test"}
        },
        "body": json!({"email": email, "password": password}).to_string(),
        "isBase64Encoded": false
    })
}

#[tokio::test]
async fn one_login_process_answers_overlapping_invocations_each_correctly() {
    let stack = stack();
    let email = unique_email("concurrent");
    e2e::registered_login(&email, "d1r3ctu5-concurrent").await;

    let environment = [
        ("AWS_LAMBDA_MAX_CONCURRENCY", "4"),
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
    let mut process = FunctionProcess::spawn(&binary("login"), &environment)
        .await
        .expect("the login function starts");
    // Right passwords, and unknown accounts (the dummy hash), interleaved.
    let events: Vec<Value> = (0..8)
        .map(|n| match n % 2 {
            0 => login_event(&email, "d1r3ctu5-concurrent", n),
            _ => login_event(&unique_email("nobody"), "d1r3ctu5-concurrent", n),
        })
        .collect();
    let answers = process
        .invoke_all(&events, Duration::from_secs(60))
        .await
        .expect("every invocation is answered");
    let most_in_flight = process.most_in_flight();
    process.stop().await;

    let mut statuses: Vec<u16> = answers.iter().map(|a| a.status).collect();
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 200, 200, 200, 401, 401, 401, 401]);
    let mut users = Vec::new();
    for answer in answers.iter().filter(|a| a.status == 200) {
        let body: Value =
            serde_json::from_str(answer.response["body"].as_str().expect("a body")).unwrap();
        let token = body["data"]["access_token"].as_str().expect("a token");
        // Each token is valid and the caller's: the API answers /users/me with it.
        let me = reqwest::Client::new()
            .get(format!("{}/users/me", stack.api))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_eq!(me.status(), 200);
        let me: Value = me.json().await.unwrap();
        users.push(me["data"]["id"].clone());
    }
    users.dedup();
    assert_eq!(users.len(), 1, "{users:?}");
    assert!(users[0].is_string(), "{users:?}");
    assert!(
        most_in_flight >= 2,
        "the process took one invocation at a time ({most_in_flight} at most)"
    );
}
