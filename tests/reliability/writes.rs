//! Writes whose answer is lost after DynamoDB applied them (the connection reset, or the answer
//! later than the attempt timeout): the SDK sends them again, and the second send must not count
//! a request twice, take a login attempt twice, rotate a session twice, or turn a done write
//! into an error.

use std::net::IpAddr;

use aws_sdk_dynamodb::types::AttributeValue;
use e2e::faults::{Fault, FaultStack, Rule, Scenario, exclusive, session_of, unique_address};
use e2e::invariants::{Expect, Expectations, assert_hold};

use crate::api::{Api, PASSWORD, member};

/// One injection of `fault` into the next `operation` whose body contains `text`.
fn once(operation: &str, text: &str, fault: Fault) -> Scenario {
    Scenario::with(vec![Rule {
        body_contains: Some(text.to_owned()),
        limit: Some(1),
        ..Rule::every(Some(operation), fault)
    }])
}

/// Requests of `action` counted for `address`, over every window.
async fn counted(stack: &FaultStack, action: &str, address: IpAddr) -> u64 {
    let store = stack.store();
    let prefix = format!("rate#{action}#{address}#");
    let page = store
        .client()
        .scan()
        .table_name(&store.tables().users)
        .filter_expression("begins_with(pk, :prefix)")
        .expression_attribute_values(":prefix", AttributeValue::S(prefix))
        .consistent_read(true)
        .send()
        .await
        .expect("scan");
    page.items()
        .iter()
        .filter_map(|item| item.get("hits")?.as_n().ok()?.parse::<u64>().ok())
        .sum()
}

/// The session's generation, read directly.
async fn generation(stack: &FaultStack, session: &str) -> Option<u32> {
    stack
        .store()
        .get_live_session(session, shared::store::now_millis() / 1000)
        .await
        .expect("session read")
        .map(|s| s.generation)
}

/// A rate counter's `ADD` is sent once: when its answer is lost the request is 503 and counted
/// once; when DynamoDB throttles it (refused, not applied) it is sent again and counted once.
#[tokio::test]
async fn a_lost_counter_answer_is_not_counted_twice() {
    let (_guard, stack) = exclusive().await;
    let address = unique_address();
    let api = Api::from(address);
    let email = e2e::unique_email("rel-counter");

    stack
        .set(&once("UpdateItem", "rate#login#", Fault::ResetAfter))
        .await;
    let login = api.login(&email, PASSWORD).await;
    let stats = stack.stats().await;
    login.assert_503();
    assert_eq!(
        stats.requests.get("UpdateItem"),
        Some(&1),
        "not resent: {stats:?}"
    );
    assert_eq!(counted(stack, "login", address).await, 1);

    stack
        .set(&once(
            "UpdateItem",
            "rate#login#",
            Fault::DelayResponse { ms: 2_500 },
        ))
        .await;
    let login = api.login(&email, PASSWORD).await;
    login.assert_503();
    // The held answer is released after the client gave up; the count was applied once.
    tokio::time::sleep(std::time::Duration::from_millis(800)).await;
    assert_eq!(counted(stack, "login", address).await, 2);

    stack
        .set(&Scenario::with(vec![Rule {
            body_contains: Some("rate#login#".into()),
            limit: Some(2),
            ..Rule::every(
                Some("UpdateItem"),
                Fault::Error {
                    error: e2e::faults::DynamoError::ProvisionedThroughputExceededException,
                },
            )
        }]))
        .await;
    let login = api.login(&email, PASSWORD).await;
    let stats = stack.stats().await;
    stack.clear().await;
    // Two throttled sends and a third that counts; the unknown address is then refused.
    assert_eq!(login.status, 401, "{login:?}");
    assert_eq!(stats.injected.values().sum::<u64>(), 2, "{stats:?}");
    assert_eq!(counted(stack, "login", address).await, 3);
    assert_hold(&stack.store(), &Expectations::new()).await;
}

/// A login attempt's reservation resent after it was applied is recognised as its own: one
/// failure counted, not two.
#[tokio::test]
async fn a_lost_reservation_answer_takes_one_attempt() {
    let (_guard, stack) = exclusive().await;
    let api = Api::from(unique_address());
    let (email, _, _) = member(&api).await;
    for fault in [Fault::ResetAfter, Fault::DelayResponse { ms: 2_500 }] {
        let before = stack.store().login_failures(&email).await.unwrap().failures;
        stack
            .set(&once("UpdateItem", "throttle#", fault.clone()))
            .await;
        let wrong = api.login(&email, "not-the-password").await;
        let stats = stack.stats().await;
        stack.clear().await;
        let after = stack.store().login_failures(&email).await.unwrap().failures;
        if wrong.status == 401 {
            assert_eq!(wrong.code(), "INVALID_CREDENTIALS");
            assert_eq!(
                after,
                before + 1,
                "{fault:?}: one attempt, counted once ({stats:?})"
            );
        } else {
            // The SDK's retry quota may stop the resend: then the answer is 503, and the
            // attempt was still counted once.
            wrong.assert_503();
            assert_eq!(after, before + 1, "{fault:?}: counted once ({stats:?})");
        }
    }
    let login = api.login(&email, PASSWORD).await;
    assert_eq!(login.status, 200, "{login:?}");
    assert_hold(&stack.store(), &Expectations::new()).await;
}

/// A rotation resent after it was applied is answered as the concurrent refresh it resembles:
/// the same new pair, the session rotated once, and the new token rotates it next.
#[tokio::test]
async fn a_lost_rotation_answer_rotates_once() {
    let (_guard, stack) = exclusive().await;
    let api = Api::from(unique_address());
    for fault in [Fault::ResetAfter, Fault::DelayResponse { ms: 2_500 }] {
        let (_, _, refresh) = member(&api).await;
        let session = session_of(&refresh);
        stack
            .set(&once("UpdateItem", "generation", fault.clone()))
            .await;
        let refreshed = api.refresh(&refresh).await;
        stack.clear().await;
        tokio::time::sleep(std::time::Duration::from_millis(800)).await;
        assert_eq!(
            generation(stack, &session).await,
            Some(1),
            "{fault:?}: rotated once"
        );
        if refreshed.status == 200 {
            let next = refreshed.data("refresh_token").expect("a refresh token");
            let again = api.refresh(&next).await;
            assert_eq!(again.status, 200, "{again:?}");
            assert_eq!(generation(stack, &session).await, Some(2));
        } else {
            refreshed.assert_503();
            // The client retries with the token it holds, within the grace window: the pair the
            // lost answer carried.
            let retried = api.refresh(&refresh).await;
            assert_eq!(retried.status, 200, "{retried:?}");
            assert_eq!(generation(stack, &session).await, Some(1));
        }
    }
    assert_hold(&stack.store(), &Expectations::new()).await;
}

/// A session put resent after it was applied is the login's own: 200, one session.
#[tokio::test]
async fn a_lost_session_put_answer_is_one_session() {
    let (_guard, stack) = exclusive().await;
    let api = Api::from(unique_address());
    let (email, _, first) = member(&api).await;
    stack
        .set(&once(
            "PutItem",
            &format!("{}sessions", e2e::faults::PREFIX),
            Fault::ResetAfter,
        ))
        .await;
    let login = api.login(&email, PASSWORD).await;
    let stats = stack.stats().await;
    stack.clear().await;
    let sessions = stack
        .store()
        .client()
        .scan()
        .table_name(&stack.store().tables().sessions)
        .consistent_read(true)
        .send()
        .await
        .unwrap();
    let user_id = stack
        .store()
        .find_user_by_email(&email)
        .await
        .unwrap()
        .expect("the user")
        .id;
    let theirs = sessions
        .items()
        .iter()
        .filter(|s| s.get("user_id").and_then(|v| v.as_s().ok()) == Some(&user_id))
        .count();
    if login.status == 200 {
        assert_eq!(
            stats.requests.get("PutItem"),
            Some(&2),
            "resent once: {stats:?}"
        );
        assert_eq!(theirs, 2, "the first login's session and this one");
        let refresh = login.data("refresh_token").expect("a refresh token");
        assert_ne!(session_of(&refresh), session_of(&first));
        assert_eq!(api.refresh(&refresh).await.status, 200);
    } else {
        login.assert_503();
    }
    assert_hold(&stack.store(), &Expectations::new()).await;
}

/// A registration transaction resent after it was applied (the SDK reuses its idempotency
/// token): 204, one user, one claim, and it logs in.
#[tokio::test]
async fn a_lost_registration_answer_is_one_user() {
    let (_guard, stack) = exclusive().await;
    let api = Api::from(unique_address());
    let email = e2e::unique_email("rel-register");
    stack
        .set(&once("TransactWriteItems", "email#", Fault::ResetAfter))
        .await;
    let registered = api.register(&email, PASSWORD).await;
    stack.clear().await;
    assert!(
        registered.status == 204 || registered.is_promised_503(),
        "{registered:?}"
    );
    let login = api.login(&email, PASSWORD).await;
    assert_eq!(login.status, 200, "the registration was applied: {login:?}");
    let session = session_of(&login.data("refresh_token").unwrap());
    assert_hold(
        &stack.store(),
        &Expectations::from([(
            session,
            Expect::Generation {
                at_least: 0,
                at_most: 0,
            },
        )]),
    )
    .await;
}

/// The operator tool writing items through the faults (each item and its collection's count in
/// one transaction): whatever it answers, every kept count equals a recount afterwards, and
/// applying the same items again without faults leaves the count at the number of items.
#[tokio::test]
async fn item_counts_survive_lost_and_conflicting_transactions() {
    let (_guard, stack) = exclusive().await;
    let collection = format!("rel_items_{}", uuid::Uuid::new_v4().simple());
    let items: Vec<serde_json::Value> = (1..=12)
        .map(|id| serde_json::json!({"id": id, "title": format!("item {id}")}))
        .collect();
    let document = shared::flows::provision::Document::from_json(
        &serde_json::json!({
            "collections": [{
                "collection": collection,
                "primary_key": "id",
                "fields": [{"field": "id", "type": "integer"}, {"field": "title", "type": "string"}],
                "items": items
            }]
        })
        .to_string(),
    )
    .expect("a valid document");
    // The operator tool's client, through the proxy.
    let through_faults = shared::store::Store::local(
        &stack.faults,
        shared::store::Tables::with_prefix(e2e::faults::PREFIX),
    );
    stack
        .set(&Scenario::with(vec![
            Rule {
                // The SDK's third attempt gets through: the first was applied, and the
                // idempotency token makes the resend answer its outcome.
                limit: Some(2),
                ..Rule::every(Some("TransactWriteItems"), Fault::ResetAfter)
            },
            Rule {
                fraction: 0.3,
                ..Rule::every(
                    Some("TransactWriteItems"),
                    Fault::Error {
                        error: e2e::faults::DynamoError::TransactionConflict,
                    },
                )
            },
        ]))
        .await;
    let applied = document.apply(&through_faults).await;
    let stats = stack.stats().await;
    stack.clear().await;
    assert!(stats.total_injected() > 0, "{stats:?}");
    // It may have given up (a transaction that kept conflicting); the counts still agree.
    assert_hold(&stack.store(), &Expectations::new()).await;
    if let Err(error) = &applied {
        eprintln!("the operator tool gave up under faults: {error}");
    }
    document
        .apply(&stack.store())
        .await
        .expect("applied without faults");
    let census = assert_hold(&stack.store(), &Expectations::new()).await;
    assert!(census.counted_collections > 0);
    let count = stack
        .store()
        .client()
        .get_item()
        .table_name(&stack.store().tables().items)
        .key("collection", AttributeValue::S(collection.clone()))
        .key("key", AttributeValue::S("#count".into()))
        .consistent_read(true)
        .send()
        .await
        .unwrap()
        .item
        .and_then(|item| item.get("item_count")?.as_n().ok()?.parse::<u64>().ok());
    assert_eq!(count, Some(12), "twelve items counted once each");
}
