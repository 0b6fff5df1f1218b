//! Every function under each fault: a prompt `503 SERVICE_UNAVAILABLE` with the envelope and
//! `Retry-After`, never an invocation error or a hang; nothing half-written (the invariants
//! hold); and the service whole again once the fault clears.

use e2e::faults::{DynamoError, Fault, Rule, Scenario, exclusive, unique_address};
use e2e::invariants::{Expect, Expectations, assert_hold};
use serde_json::json;
use shared::credential::link_token::Scope;
use std::time::Duration;

use crate::api::{Answer, Api, FUNCTION_TIMEOUT, PASSWORD, admin, link_token, member};

/// The budget a function answers 503 at fits the functions' timeout in template.yaml, with room
/// to write the answer: a slow DynamoDB never makes a Lambda timeout (docs/reliability.md).
#[test]
fn the_request_budget_fits_the_function_timeout() {
    let template: serde_norway::Value =
        serde_norway::from_str(include_str!("../../template.yaml")).expect("template.yaml parses");
    let global = template["Globals"]["Function"]["Timeout"]
        .as_u64()
        .expect("a global function timeout");
    assert_eq!(std::time::Duration::from_secs(global), FUNCTION_TIMEOUT);
    let margin = std::time::Duration::from_millis(1500);
    assert!(shared::adapters::http::REQUEST_BUDGET + margin <= FUNCTION_TIMEOUT);
    assert!(shared::store::OPERATION_TIMEOUT < shared::adapters::http::REQUEST_BUDGET);
    let resources = template["Resources"].as_mapping().expect("resources");
    for (name, resource) in resources {
        if resource["Type"].as_str() == Some("AWS::Serverless::Function")
            && let Some(own) = resource["Properties"]["Timeout"].as_u64()
        {
            assert!(
                shared::adapters::http::REQUEST_BUDGET + margin
                    <= std::time::Duration::from_secs(own),
                "{name:?} has a timeout of {own} s, under the request budget"
            );
        }
    }
}

/// Calls every DynamoDB-backed route once, concurrently, with a fresh user and the credentials
/// made before the fault.
async fn every_route(
    api: &Api,
    admin_token: &str,
    email: &str,
    user_id: &str,
    access: &str,
    refresh: &str,
) -> Vec<Answer> {
    let new_email = e2e::unique_email("rel-new");
    let created_email = e2e::unique_email("rel-created");
    let (register, login, refreshed, read, me, directory, created, health, logout) = tokio::join!(
        api.register(&new_email, PASSWORD),
        api.login(email, PASSWORD),
        api.refresh(refresh),
        api.read(access),
        api.me(access),
        api.directory(admin_token),
        api.create_user(admin_token, &created_email),
        api.health(admin_token),
        api.logout(refresh),
    );
    let (updated_me, updated_user) = tokio::join!(
        api.update_me(access, json!({"first_name": "Faulty"})),
        api.update_user(admin_token, user_id, json!({"last_name": "Faulty"})),
    );
    // The GraphQL, password and verification functions, each with input that gets past its
    // checks to the store.
    let verification = link_token(Scope::PendingRegistration, user_id, email);
    let reset = link_token(Scope::PasswordReset, user_id, email);
    let forgetful = e2e::unique_email("rel-forgot");
    let (graphql_read, graphql_login, password_request, password_reset, verified) = tokio::join!(
        api.graphql_read(access),
        api.graphql_login(email, PASSWORD),
        api.password_request(&forgetful),
        api.password_reset(&reset, "d1r3ctu5-after-reset"),
        api.verify_email(&verification),
    );
    vec![
        register,
        login,
        refreshed,
        read,
        me,
        directory,
        created,
        health,
        logout,
        updated_me,
        updated_user,
        graphql_read,
        graphql_login,
        password_request,
        password_reset,
        verified,
    ]
}

/// Runs `scenario` over every route: all 503 as promised. Then, with no fault, the same user
/// logs in and refreshes with the token it held before, and the invariants hold. `refused`:
/// the fault keeps every request from DynamoDB, so nothing was written; otherwise a write may
/// have been applied after its caller gave up (the logout, say).
async fn every_route_answers_503_under(scenario: Scenario, refused: bool) {
    let (_guard, stack) = exclusive().await;
    let api = Api::from(unique_address());
    let admin_token = admin(&api).await;
    let (email, access, refresh) = member(&api).await;
    let session = e2e::faults::session_of(&refresh);
    let me = api.me(&access).await;
    assert_eq!(me.status, 200, "{me:?}");
    let user_id = me.body["data"]["id"].as_str().expect("an id").to_owned();

    stack.set(&scenario).await;
    let answers = every_route(&api, &admin_token, &email, &user_id, &access, &refresh).await;
    let stats = stack.stats().await;
    stack.clear().await;
    for answer in &answers {
        if answer.endpoint == "health" {
            // Directus' health document (`application/health+json`), not the error envelope.
            assert_eq!(answer.status, 503, "{answer:?}");
            assert_eq!(answer.body["status"], "error", "{answer:?}");
            assert!(answer.elapsed < FUNCTION_TIMEOUT, "{answer:?}");
        } else {
            answer.assert_503();
        }
    }
    assert!(
        stats.total_injected() > 0,
        "the faults were injected: {stats:?}"
    );

    let login = api.login(&email, PASSWORD).await;
    assert_eq!(login.status, 200, "{login:?}");
    let refreshed = api.refresh(&refresh).await;
    let expected = if refused {
        // Nothing was applied, so the old refresh token is as good as before.
        assert_eq!(refreshed.status, 200, "{refreshed:?}");
        Expect::Generation {
            at_least: 1,
            at_most: 1,
        }
    } else {
        // The logout may have been applied after its caller gave up: then the session is gone.
        assert!(matches!(refreshed.status, 200 | 401), "{refreshed:?}");
        Expect::GoneOr {
            at_least: 1,
            at_most: 1,
        }
    };
    assert_hold(&stack.store(), &Expectations::from([(session, expected)])).await;
}

fn every_request(fault: Fault) -> Scenario {
    Scenario::with(vec![Rule::every(None, fault)])
}

#[tokio::test]
async fn provisioned_throughput_exceeded_is_503() {
    every_route_answers_503_under(
        every_request(Fault::Error {
            error: DynamoError::ProvisionedThroughputExceededException,
        }),
        true,
    )
    .await;
}

#[tokio::test]
async fn throttling_is_503() {
    every_route_answers_503_under(
        every_request(Fault::Error {
            error: DynamoError::ThrottlingException,
        }),
        true,
    )
    .await;
}

#[tokio::test]
async fn internal_server_error_is_503() {
    every_route_answers_503_under(
        every_request(Fault::Error {
            error: DynamoError::InternalServerError,
        }),
        true,
    )
    .await;
}

#[tokio::test]
async fn dropped_and_reset_connections_are_503() {
    every_route_answers_503_under(every_request(Fault::Drop), true).await;
    every_route_answers_503_under(every_request(Fault::Reset), true).await;
}

/// A DynamoDB that accepts connections and never answers: the SDK's attempt timeout (2 s) and
/// operation timeout (6 s) end each call, and no request outlives the functions' timeout.
#[tokio::test]
async fn a_hanging_dynamodb_is_503_within_the_timeouts() {
    every_route_answers_503_under(every_request(Fault::Hang), true).await;
}

/// A DynamoDB slower than the attempt timeout on every call: the same.
#[tokio::test]
async fn answers_slower_than_the_attempt_timeout_are_503() {
    every_route_answers_503_under(every_request(Fault::Delay { ms: 2_500 }), false).await;
}

/// Slow but answering on every call (1.5 s, under the attempt timeout): a login makes enough
/// calls to pass the request budget, and answers 503 by itself before the function's timeout
/// would have made it an invocation error. A request that fits answers normally.
#[tokio::test]
async fn a_slow_dynamodb_never_outlasts_the_function_timeout() {
    let (_guard, stack) = exclusive().await;
    let api = Api::from(unique_address());
    let (email, access, refresh) = member(&api).await;
    stack.set(&every_request(Fault::Delay { ms: 1_500 })).await;
    let (login, read, refreshed) = tokio::join!(
        api.login(&email, PASSWORD),
        api.read(&access),
        api.refresh(&refresh),
    );
    stack.clear().await;
    for answer in [&login, &read, &refreshed] {
        assert!(
            answer.elapsed < FUNCTION_TIMEOUT,
            "{} took {:?}",
            answer.endpoint,
            answer.elapsed
        );
        assert!(
            matches!(answer.status, 200 | 204) || answer.is_promised_503(),
            "{answer:?}"
        );
    }
    assert_eq!(
        login.status, 503,
        "a login's calls take more than the request budget at 1.5 s each: {login:?}"
    );
    assert_hold(&stack.store(), &Expectations::new()).await;
}

/// The fault stack's `EMAIL_SEND_TIMEOUT`: the default (it sets none).
const EMAIL_SEND_TIMEOUT: Duration = Duration::from_secs(1);

/// A password request for a registered address writes a reset token, which an unknown address
/// does not: with that write hanging, the answer still comes when an unknown address's does
/// (`EMAIL_SEND_TIMEOUT` after the request began), as what a request does for its address is
/// given up when the answer is due. The store's attempt timeout (2 s) would otherwise hold it
/// back by a second or more, telling the registered address apart.
#[tokio::test]
async fn a_hanging_write_for_a_registered_address_does_not_delay_the_password_request() {
    let (_guard, stack) = exclusive().await;
    let api = Api::from(unique_address());
    let (email, _, _) = member(&api).await;
    stack
        .set(&Scenario::with(vec![Rule {
            body_contains: Some("reset#".into()),
            ..Rule::every(Some("PutItem"), Fault::Hang)
        }]))
        .await;
    let registered = api.password_request(&email).await;
    let unknown = api.password_request(&e2e::unique_email("rel-nobody")).await;
    let stats = stack.stats().await;
    stack.clear().await;
    assert!(
        stats.injected.get("hang").is_some_and(|hung| *hung > 0),
        "the registered address's token write hung: {stats:?}"
    );
    for answer in [&registered, &unknown] {
        assert_eq!(answer.status, 204, "{answer:?}");
        assert!(answer.elapsed >= EMAIL_SEND_TIMEOUT, "{answer:?}");
    }
    assert!(
        registered.elapsed < unknown.elapsed + Duration::from_millis(700),
        "the registered address answered after {:?}, an unknown one after {:?}",
        registered.elapsed,
        unknown.elapsed
    );
}

/// Transactions cancelled for a conflict: registration retries its transaction (three times,
/// with jitter) and then answers 503 with nothing written; single-item writes refused for a
/// transaction in progress are 503 too, and the session is not rotated.
#[tokio::test]
async fn transaction_conflicts_are_retried_then_503_with_nothing_written() {
    let (_guard, stack) = exclusive().await;
    let api = Api::from(unique_address());
    let (_, _, refresh) = member(&api).await;
    let session = e2e::faults::session_of(&refresh);
    let conflict = Fault::Error {
        error: DynamoError::TransactionConflict,
    };
    stack
        .set(&Scenario::with(vec![
            Rule::every(Some("TransactWriteItems"), conflict.clone()),
            Rule {
                body_contains: Some("generation".into()),
                ..Rule::every(Some("UpdateItem"), conflict.clone())
            },
        ]))
        .await;
    let email = e2e::unique_email("rel-conflict");
    let (registered, refreshed) =
        tokio::join!(api.register(&email, PASSWORD), api.refresh(&refresh));
    let stats = stack.stats().await;
    stack.clear().await;
    registered.assert_503();
    refreshed.assert_503();
    assert!(
        stats
            .requests
            .get("TransactWriteItems")
            .copied()
            .unwrap_or(0)
            >= 3,
        "registration retried its transaction: {stats:?}"
    );
    let store = stack.store();
    assert!(
        store.find_user_by_email(&email).await.unwrap().is_none(),
        "nothing was written"
    );

    // Half the transactions conflict: every registration answers 204 or 503, and each 204
    // can log in.
    stack
        .set(&Scenario::with(vec![Rule {
            fraction: 0.5,
            ..Rule::every(Some("TransactWriteItems"), conflict)
        }]))
        .await;
    let emails: Vec<String> = (0..8).map(|_| e2e::unique_email("rel-half")).collect();
    let answers = register_all(&api, &emails).await;
    stack.clear().await;
    for (email, answer) in emails.iter().zip(&answers) {
        match answer.status {
            204 => {
                let login = api.login(email, PASSWORD).await;
                assert_eq!(login.status, 200, "a 204 registration logs in: {login:?}");
            }
            _ => answer.assert_503(),
        }
    }
    assert_hold(
        &store,
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

/// Where no retry can absorb a fault, the 503 rate is the injected rate, request for request:
/// a login counts itself once on its address's rate counter, a counter is never resent after an
/// ambiguous failure, so each lost counter answer is one 503. Every other login is checked
/// against the password: 200, or 401 when it lost the race for the account's failure counter
/// to the others (the fault comes before that, so the count of 503s is unaffected).
#[tokio::test]
async fn the_503_rate_is_the_injected_rate_where_nothing_is_retried() {
    let (_guard, stack) = exclusive().await;
    let api = Api::from(unique_address());
    let (email, _, _) = member(&api).await;
    stack
        .set(&Scenario::with(vec![Rule {
            body_contains: Some("rate#login#".into()),
            fraction: 0.3,
            ..Rule::every(Some("UpdateItem"), Fault::ResetAfter)
        }]))
        .await;
    let logins: Vec<_> = (0..24)
        .map(|_| {
            let (api, email) = (api.clone(), email.clone());
            tokio::spawn(async move { api.login(&email, PASSWORD).await })
        })
        .collect();
    let mut answers = Vec::new();
    for login in logins {
        answers.push(login.await.expect("the login task"));
    }
    let stats = stack.stats().await;
    stack.clear().await;
    let unavailable = answers.iter().filter(|a| a.status == 503).count() as u64;
    for answer in &answers {
        assert!(
            matches!(answer.status, 200 | 401) || answer.is_promised_503(),
            "{answer:?}"
        );
    }
    assert_eq!(
        unavailable,
        stats.total_injected(),
        "one 503 per lost counter answer: {stats:?}"
    );
    assert_hold(&stack.store(), &Expectations::new()).await;
}

/// Registers each address concurrently.
async fn register_all(api: &Api, emails: &[String]) -> Vec<Answer> {
    let tasks: Vec<_> = emails
        .iter()
        .map(|email| {
            let (api, email) = (api.clone(), email.clone());
            tokio::spawn(async move { api.register(&email, PASSWORD).await })
        })
        .collect();
    let mut answers = Vec::new();
    for task in tasks {
        answers.push(task.await.expect("the registration task"));
    }
    answers
}
