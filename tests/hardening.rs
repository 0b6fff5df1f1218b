//! Login and session hardening, one table of cases run over REST and over GraphQL
//! (`/graphql/system`): the rules live in the flows, so both transports must show them alike.
//! Lockout, the optional hard suspension, the same answer for unknown email and wrong password
//! (their equal timing is measured by `make bench`, never asserted here), the refresh grace
//! window, reuse detection, and the per-address budgets both transports draw on.

use std::net::{IpAddr, Ipv4Addr};

use e2e::system_graphql::{Answer, Transport};
use e2e::{store, unique_email};
use serde_json::json;

/// Every case, generated once per transport: `rest::<case>` and `graphql::<case>`.
macro_rules! over_both_transports {
    ($($case:ident),* $(,)?) => {
        mod rest {
            $(#[tokio::test]
            async fn $case() {
                super::$case(super::Transport::Rest).await
            })*
        }
        mod graphql {
            $(#[tokio::test]
            async fn $case() {
                super::$case(super::Transport::Graphql).await
            })*
        }
    };
}

over_both_transports!(
    repeated_failures_lock_the_account_with_the_same_answer,
    concurrent_wrong_passwords_cannot_outrun_the_lock,
    the_optional_hard_suspension_suspends_after_the_configured_failures,
    wrong_password_and_unknown_email_get_the_same_answer,
    refresh_rotation_has_a_grace_window_and_reuse_ends_the_session,
    concurrent_refreshes_with_one_token_all_get_the_same_new_pair,
    the_previous_token_after_the_grace_window_revokes_the_session,
    login_register_and_refresh_draw_on_the_per_address_budgets,
);

async fn user_named(email: &str) -> shared::domain::model::User {
    store()
        .find_user_by_email(email)
        .await
        .unwrap()
        .expect("the user exists")
}

/// The refusal every failed login gets, per transport.
fn assert_refused(transport: Transport, answer: &Answer) {
    assert_eq!(
        answer.code.as_deref(),
        Some("INVALID_CREDENTIALS"),
        "{answer:?}"
    );
    assert!(answer.access_token.is_none(), "{answer:?}");
    assert_eq!(
        answer.status,
        match transport {
            Transport::Rest => 401,
            Transport::Graphql => 200,
        }
    );
}

async fn repeated_failures_lock_the_account_with_the_same_answer(transport: Transport) {
    // The stack suspends only at 7 failures in a row; 5 trip the lock alone, so the refusal of
    // the right password below can only come from the lock.
    let email = unique_email("lockout");
    transport.registered_login(&email, "d1r3ctu5").await;
    let mut answers = Vec::new();
    for _ in 0..5 {
        answers.push(transport.login(&email, "not-the-password").await.raw);
    }
    let right = transport.login(&email, "d1r3ctu5").await;
    assert_refused(transport, &right);
    assert!(
        answers.iter().all(|a| *a == right.raw),
        "locked: even the right password is refused, with the same answer"
    );
    assert_eq!(
        user_named(&email).await.status,
        shared::domain::model::UserStatus::Active,
        "the lock refused it, not a suspension"
    );
    assert_eq!(store().login_failures(&email).await.unwrap().failures, 5);
    // The lock after five failures is a second; then the right password works and clears it.
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    assert!(transport.login(&email, "d1r3ctu5").await.ok());
    assert_eq!(store().login_failures(&email).await.unwrap().failures, 0);
}

async fn concurrent_wrong_passwords_cannot_outrun_the_lock(transport: Transport) {
    let email = unique_email("swarm");
    transport.registered_login(&email, "d1r3ctu5").await;
    let handles: Vec<_> = (0..50)
        .map(|_| {
            let email = email.clone();
            tokio::spawn(async move { transport.login(&email, "not-the-password").await })
        })
        .collect();
    let mut answers = Vec::new();
    for handle in handles {
        answers.push(handle.await.unwrap());
    }
    for answer in &answers {
        assert_refused(transport, answer);
        assert_eq!(answer.raw, answers[0].raw);
    }
    // Each attempt checked against the password took one count first; locked ones took none.
    // Five pass before the first lock (1 s, then 2 s, ...): a slow run may let one or two more
    // through as those short locks end, never dozens.
    let verified = store().login_failures(&email).await.unwrap().failures;
    assert!(
        (5..=8).contains(&verified),
        "{verified} of 50 concurrent guesses were checked"
    );
    assert_eq!(
        user_named(&email).await.status,
        if verified >= 7 {
            shared::domain::model::UserStatus::Suspended
        } else {
            shared::domain::model::UserStatus::Active
        }
    );
}

async fn the_optional_hard_suspension_suspends_after_the_configured_failures(transport: Transport) {
    // The test stack's configuration turns it on at 7 failures in a row (it is off by default).
    // Locked attempts are not counted, so the sixth and seventh wait out the 1 s and 2 s locks.
    let email = unique_email("hard");
    let tokens = transport.registered_login(&email, "d1r3ctu5").await;
    for _ in 0..5 {
        assert_refused(
            transport,
            &transport.login(&email, "not-the-password").await,
        );
    }
    assert_eq!(
        user_named(&email).await.status,
        shared::domain::model::UserStatus::Active
    );
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    assert_refused(
        transport,
        &transport.login(&email, "not-the-password").await,
    );
    tokio::time::sleep(std::time::Duration::from_millis(3100)).await;
    assert_refused(
        transport,
        &transport.login(&email, "not-the-password").await,
    );
    assert_eq!(store().login_failures(&email).await.unwrap().failures, 7);
    assert_eq!(
        user_named(&email).await.status,
        shared::domain::model::UserStatus::Suspended
    );
    // Suspension ended the sessions: the refresh token is dead.
    let refresh = transport
        .refresh(tokens.refresh_token.as_deref().unwrap())
        .await;
    assert_eq!(refresh.code.as_deref(), Some("INVALID_CREDENTIALS"));
}

async fn wrong_password_and_unknown_email_get_the_same_answer(transport: Transport) {
    let email = unique_email("wrong");
    transport.registered_login(&email, "d1r3ctu5").await;
    let wrong = transport.login(&email, "not-it").await;
    let unknown = transport.login(&unique_email("nobody"), "not-it").await;
    assert_refused(transport, &wrong);
    assert_eq!(wrong.raw, unknown.raw);
    let expected = match transport {
        Transport::Rest => {
            json!({"errors":[{"message":"Invalid user credentials.","extensions":{"code":"INVALID_CREDENTIALS"}}]})
        }
        Transport::Graphql => {
            let column = e2e::system_graphql::LOGIN.find("auth_login(").unwrap() + 1;
            json!({"data":{"auth_login":null},"errors":[{"message":"Invalid user credentials.","extensions":{"code":"INVALID_CREDENTIALS"},"locations":[{"line":1,"column":column}],"path":["auth_login"]}]})
        }
    };
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&unknown.raw).unwrap(),
        expected
    );
    // And the right password, after them, is not locked out by two failures.
    assert!(transport.login(&email, "d1r3ctu5").await.ok());
}

async fn refresh_rotation_has_a_grace_window_and_reuse_ends_the_session(transport: Transport) {
    let login = transport
        .registered_login(&unique_email("rotate"), "d1r3ctu5")
        .await;
    let first = login.refresh_token.unwrap();

    let rotated = transport.refresh(&first).await;
    assert!(rotated.ok(), "{rotated:?}");
    let read = e2e::get("/items/posts", rotated.access_token.as_deref()).await;
    assert_eq!(read.status, 200);
    let second = rotated.refresh_token.clone().unwrap();
    assert_ne!(second, first);

    // Another tab presenting the same token a moment later gets the very same pair.
    let again = transport.refresh(&first).await;
    assert_eq!(again.raw, rotated.raw);

    let third_reply = transport.refresh(&second).await;
    assert!(third_reply.ok());
    let third = third_reply.refresh_token.unwrap();

    // The first token is two rotations old: reuse. The session ends, newest token included.
    let reused = transport.refresh(&first).await;
    assert_eq!(reused.code.as_deref(), Some("INVALID_CREDENTIALS"));
    let newest = transport.refresh(&third).await;
    assert_eq!(newest.code.as_deref(), Some("INVALID_CREDENTIALS"));
    if transport == Transport::Rest {
        assert_eq!((reused.status, newest.status), (401, 401));
    }
}

async fn concurrent_refreshes_with_one_token_all_get_the_same_new_pair(transport: Transport) {
    let login = transport
        .registered_login(&unique_email("tabs"), "d1r3ctu5")
        .await;
    let token = login.refresh_token.unwrap();
    let handles: Vec<_> = (0..20)
        .map(|_| {
            let token = token.clone();
            tokio::spawn(async move { transport.refresh(&token).await })
        })
        .collect();
    let mut answers = Vec::new();
    for handle in handles {
        answers.push(handle.await.unwrap());
    }
    // The tab that rotates and every tab racing it within the grace window get the very same
    // new pair; none is refused.
    assert!(answers.iter().all(Answer::ok), "{answers:?}");
    assert!(answers.iter().all(|a| a.raw == answers[0].raw));
    assert_ne!(answers[0].refresh_token.as_deref(), Some(token.as_str()));
}

fn session_of(token: &str) -> String {
    // The first 16 bytes of a refresh token are its session id.
    use base64::Engine as _;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token)
        .unwrap();
    uuid::Uuid::from_slice(&bytes[..16]).unwrap().to_string()
}

async fn the_previous_token_after_the_grace_window_revokes_the_session(transport: Transport) {
    use aws_sdk_dynamodb::types::AttributeValue;
    let login = transport
        .registered_login(&unique_email("late-tab"), "d1r3ctu5")
        .await;
    let first = login.refresh_token.unwrap();
    let rotated = transport.refresh(&first).await;
    assert!(rotated.ok());
    let second = rotated.refresh_token.unwrap();
    // The rotation happened 11 seconds ago, past the 10 s window.
    let store = store();
    store
        .client()
        .update_item()
        .table_name(&store.tables().sessions)
        .key("id", AttributeValue::S(session_of(&first)))
        .update_expression("SET rotated_at = :v")
        .expression_attribute_values(
            ":v",
            AttributeValue::N((e2e::now_secs() as i64 - 11).to_string()),
        )
        .send()
        .await
        .unwrap();
    let late = transport.refresh(&first).await;
    assert_eq!(late.code.as_deref(), Some("INVALID_CREDENTIALS"));
    let newest = transport.refresh(&second).await;
    assert_eq!(
        newest.code.as_deref(),
        Some("INVALID_CREDENTIALS"),
        "reuse ended the session, newest token included"
    );
}

/// The hits of `rate#<action>#<address>` in this window and the one before (a test may
/// straddle a window's end).
async fn hits(action: &str, address: &str) -> u64 {
    use aws_sdk_dynamodb::types::AttributeValue;
    let store = store();
    let now = e2e::now_secs() as i64;
    let mut total = 0;
    for start in [now - now.rem_euclid(60), now - now.rem_euclid(60) - 60] {
        let item = store
            .client()
            .get_item()
            .table_name(&store.tables().users)
            .key(
                "pk",
                AttributeValue::S(format!("rate#{action}#{address}#{start}")),
            )
            .consistent_read(true)
            .send()
            .await
            .unwrap();
        total += item
            .item()
            .and_then(|i| i.get("hits"))
            .and_then(|v| v.as_n().ok())
            .and_then(|n| n.parse::<u64>().ok())
            .unwrap_or(0);
    }
    total
}

/// A loopback address no other test uses: the stack's gateway takes the TCP peer as the
/// source address, as API Gateway does.
fn fresh_loopback() -> Ipv4Addr {
    let id = uuid::Uuid::new_v4();
    let b = id.as_bytes();
    Ipv4Addr::new(127, b[0].max(2), b[1], b[2].max(1))
}

async fn login_register_and_refresh_draw_on_the_per_address_budgets(transport: Transport) {
    // The budgets are per client address and shared by REST and GraphQL: calls over this
    // transport and then over REST from one address are counted in one bucket.
    let address = fresh_loopback();
    let client = reqwest::Client::builder()
        .local_address(IpAddr::V4(address))
        .build()
        .unwrap();
    let api = &e2e::stack().api;
    let email = unique_email("budget");
    let send = |path: &str, body: serde_json::Value| {
        client
            .post(format!("{api}{path}"))
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
    };
    let over_transport = |rest_path: &'static str,
                          rest: serde_json::Value,
                          query: &str,
                          variables: serde_json::Value| {
        match transport {
            Transport::Rest => send(rest_path, rest),
            Transport::Graphql => send(
                e2e::system_graphql::PATH,
                json!({"query": query, "variables": variables}),
            ),
        }
    };
    let credentials = json!({"email": email, "password": "d1r3ctu5"});
    let sent = over_transport(
        "/users/register",
        credentials.clone(),
        e2e::system_graphql::REGISTER,
        credentials.clone(),
    )
    .await
    .unwrap();
    assert!(sent.status().is_success());
    assert_eq!(
        send("/register", credentials.clone())
            .await
            .unwrap()
            .status(),
        204
    );
    let login = over_transport(
        "/auth/login",
        credentials.clone(),
        e2e::system_graphql::LOGIN,
        credentials.clone(),
    )
    .await
    .unwrap();
    let body: serde_json::Value = login.json().await.unwrap();
    let refresh_token = match transport {
        Transport::Rest => body["data"]["refresh_token"].clone(),
        Transport::Graphql => body["data"]["auth_login"]["refresh_token"].clone(),
    };
    assert!(refresh_token.is_string(), "{body}");
    assert_eq!(
        send("/auth/login", credentials.clone())
            .await
            .unwrap()
            .status(),
        200
    );
    let refreshed = over_transport(
        "/auth/refresh",
        json!({ "refresh_token": refresh_token }),
        e2e::system_graphql::REFRESH,
        json!({ "token": refresh_token }),
    )
    .await
    .unwrap();
    assert_eq!(refreshed.status(), 200);
    let address = address.to_string();
    assert_eq!(hits("register", &address).await, 2, "{transport:?}");
    assert_eq!(hits("login", &address).await, 2, "{transport:?}");
    assert_eq!(hits("refresh", &address).await, 1, "{transport:?}");
}
