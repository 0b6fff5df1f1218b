//! The store and the flows against a real DynamoDB-compatible server (dynoxide, in memory, over
//! HTTP through the AWS SDK). One server per test binary; each test owns a table prefix.

use std::sync::OnceLock;

use lambda_http::{Body, http};
use serde_json::{Value, json};
use shared::credential::password::Passwords;
use shared::domain::model::{Session, UserStatus};
use shared::domain::sensitive::Sensitive;
use shared::flows::provision::Document;
use shared::platform::config::{Config, HashParams};
use shared::store::{NewUser, Store, StoreError, Tables, cache, ensure_tables};
use shared::{AppState, domain::access};

/// Starts dynoxide on its own thread and runtime (so it outlives each test's runtime).
fn endpoint() -> &'static str {
    static ENDPOINT: OnceLock<String> = OnceLock::new();
    ENDPOINT.get_or_init(|| {
        let (sender, receiver) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Runtime::new().expect("runtime");
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                sender
                    .send(format!("http://{}", listener.local_addr().unwrap()))
                    .unwrap();
                let database = dynoxide::Database::memory().unwrap();
                dynoxide::server::serve_with_shutdown(listener, database, std::future::pending())
                    .await
                    .unwrap();
            });
        });
        receiver.recv().expect("dynoxide started")
    })
}

async fn fresh_store() -> Store {
    let prefix = format!("t{}-", uuid::Uuid::new_v4().simple());
    let store = Store::local(endpoint(), Tables::with_prefix(&prefix));
    ensure_tables(store.client(), store.tables()).await.unwrap();
    store
}

async fn seeded_store() -> Store {
    let store = fresh_store().await;
    Document::from_json(include_str!("../../infra/seed.json"))
        .unwrap()
        .apply(&store)
        .await
        .unwrap();
    store
}

fn new_user(email: &str) -> NewUser {
    NewUser {
        email: email.into(),
        password_hash: Sensitive::new("$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo"),
        status: UserStatus::Active,
        role: None,
        first_name: None,
        last_name: None,
        policies: Vec::new(),
    }
}

fn session(id: &str, expires_at: i64) -> Session {
    Session {
        id: id.into(),
        user_id: "u1".into(),
        generation: 0,
        rotated_at: None,
        expires_at,
        absolute_expires_at: expires_at,
        created_at: 0,
        ip: Some("127.0.0.1".into()),
        user_agent: None,
    }
}

/// The present as the flows take it: these tests run against the store's own clock.
fn present() -> shared::flows::time::Now {
    shared::flows::time::Now::from_system(std::time::SystemTime::now())
}

fn now() -> i64 {
    i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs(),
    )
    .unwrap()
}

#[tokio::test]
async fn ensure_tables_is_idempotent() {
    let store = fresh_store().await;
    ensure_tables(store.client(), store.tables()).await.unwrap();
}

#[tokio::test]
async fn users_are_found_by_email_case_insensitively() {
    let store = fresh_store().await;
    let created = store
        .create_user(new_user("Hello@Example.com"))
        .await
        .unwrap();
    let found = store
        .find_user_by_email("hello@EXAMPLE.com")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found, created);
    assert_eq!(found.email, "Hello@Example.com");
    assert!(
        store
            .find_user_by_email("other@example.com")
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn a_duplicate_email_writes_nothing() {
    let store = fresh_store().await;
    store
        .create_user(new_user("dup@example.com"))
        .await
        .unwrap();
    let second = store.create_user(new_user("DUP@example.com")).await;
    assert!(matches!(second, Err(StoreError::AlreadyExists)));
    let scan = store
        .client()
        .scan()
        .table_name(&store.tables().users)
        .send()
        .await
        .unwrap();
    assert_eq!(
        scan.count(),
        2,
        "one user and one email claim, nothing from the loser"
    );
}

#[tokio::test]
async fn concurrent_registrations_of_one_email_create_one_user() {
    let store = fresh_store().await;
    let attempts: Vec<_> = (0..20)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move { store.create_user(new_user("race@example.com")).await })
        })
        .collect();
    let mut created = 0;
    for attempt in attempts {
        match attempt.await.unwrap() {
            Ok(_) => created += 1,
            Err(StoreError::AlreadyExists) => {}
            Err(other) => panic!("unexpected {other}"),
        }
    }
    assert_eq!(created, 1);
}

#[tokio::test]
async fn expired_sessions_are_treated_as_gone() {
    let store = fresh_store().await;
    store
        .create_session(&session("expired", now() - 1))
        .await
        .unwrap();
    // dynoxide never deletes TTL-expired items, like a late AWS sweep.
    assert!(
        store
            .get_live_session("expired", now())
            .await
            .unwrap()
            .is_none()
    );
    store
        .create_session(&session("live", now() + 60))
        .await
        .unwrap();
    assert!(
        store
            .get_live_session("live", now())
            .await
            .unwrap()
            .is_some()
    );
}

#[tokio::test]
async fn exactly_one_concurrent_rotation_advances_the_session() {
    let store = fresh_store().await;
    store
        .create_session(&session("s1", now() + 60))
        .await
        .unwrap();
    let attempts: Vec<_> = (0..20)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move { store.advance_session("s1", 0, now() + 60, now()).await })
        })
        .collect();
    let mut wins = 0;
    for attempt in attempts {
        match attempt.await.unwrap() {
            Ok(()) => wins += 1,
            Err(StoreError::Stale) => {}
            Err(other) => panic!("unexpected {other}"),
        }
    }
    assert_eq!(wins, 1);
    let rotated = store.get_live_session("s1", now()).await.unwrap().unwrap();
    assert_eq!(rotated.generation, 1);
    assert!(rotated.rotated_at.is_some());
    assert!(matches!(
        store.advance_session("s1", 0, now() + 60, now()).await,
        Err(StoreError::Stale)
    ));
}

#[tokio::test]
async fn expired_sessions_cannot_be_advanced() {
    let store = fresh_store().await;
    store
        .create_session(&session("old", now() - 1))
        .await
        .unwrap();
    let result = store.advance_session("old", 0, now() + 60, now()).await;
    assert!(matches!(result, Err(StoreError::Stale)));
    let mut past_absolute = session("capped", now() + 60);
    past_absolute.absolute_expires_at = now() - 1;
    store.create_session(&past_absolute).await.unwrap();
    assert!(
        store
            .get_live_session("capped", now())
            .await
            .unwrap()
            .is_none()
    );
    assert!(matches!(
        store.advance_session("capped", 0, now() + 60, now()).await,
        Err(StoreError::Stale)
    ));
}

#[tokio::test]
async fn all_sessions_of_a_user_end_together() {
    let store = fresh_store().await;
    for id in ["a", "b", "c"] {
        store
            .create_session(&session(id, now() + 60))
            .await
            .unwrap();
    }
    let mut other = session("d", now() + 60);
    other.user_id = "u2".into();
    store.create_session(&other).await.unwrap();
    assert_eq!(store.revoke_user_sessions("u1").await.unwrap(), 3);
    assert!(store.get_live_session("a", now()).await.unwrap().is_none());
    assert!(store.get_live_session("d", now()).await.unwrap().is_some());
}

#[tokio::test]
async fn the_seed_applies_twice_and_grants_users_read_on_posts() {
    let store = seeded_store().await;
    Document::from_json(include_str!("../../infra/seed.json"))
        .unwrap()
        .apply(&store)
        .await
        .unwrap();
    let user_role = "0b6f1f0e-7c1d-4c8e-9f55-6a2b9d7e3c10";
    let accountability = cache::resolve(&store, Some(("u1", Some(user_role))))
        .await
        .unwrap();
    assert_eq!(accountability.roles, vec![user_role.to_owned()]);
    assert!(!accountability.admin);
    assert!(
        accountability
            .permissions
            .iter()
            .any(|p| p.collection == "posts" && p.action == "read")
    );
    let public = cache::resolve(&store, None).await.unwrap();
    assert_eq!(
        public.policies,
        vec!["abf8a154-5b1c-4a46-ac9c-7300570f4f17".to_owned()]
    );
    assert!(
        public
            .permissions
            .iter()
            .all(|p| p.collection == "directus_users" && p.action == "create"),
        "the Public policy may only create users (seed 001), never read"
    );
    let settings = store.settings().await.unwrap().unwrap();
    assert!(settings.public_registration);
    assert_eq!(
        settings.public_registration_role.as_deref(),
        Some(user_role)
    );
}

#[tokio::test]
async fn nested_roles_inherit_parent_policies_and_cycles_terminate() {
    let store = fresh_store().await;
    let document = Document::from_json(
        &json!({
            "policies": [
                {"id": "parent-policy", "name": "Parent", "app_access": true},
                {"id": "child-policy", "name": "Child"}
            ],
            "roles": [
                {"id": "parent", "name": "Parent", "policies": ["parent-policy"]},
                {"id": "child", "name": "Child", "parent": "parent", "policies": ["child-policy"]}
            ]
        })
        .to_string(),
    )
    .unwrap();
    document.apply(&store).await.unwrap();
    let accountability = cache::resolve(&store, Some(("u1", Some("child"))))
        .await
        .unwrap();
    assert_eq!(
        accountability.roles,
        vec!["child".to_owned(), "parent".into()]
    );
    assert_eq!(
        accountability.policies,
        vec!["parent-policy".to_owned(), "child-policy".into()]
    );
    assert!(accountability.app);

    // A cycle (parent -> child -> parent) written behind the validator's back still ends.
    store
        .put_role(&shared::domain::model::Role {
            id: "parent".into(),
            name: "Parent".into(),
            parent: Some("child".into()),
        })
        .await
        .unwrap();
    let cyclic = cache::resolve(&store, Some(("u1", Some("child"))))
        .await
        .unwrap();
    assert_eq!(cyclic.roles.len(), 2);
}

#[tokio::test]
async fn items_are_read_in_numeric_key_order_across_pages() {
    let store = fresh_store().await;
    for id in [10u64, 9, 100, 1] {
        let data = json!({"id": id}).as_object().unwrap().clone();
        store
            .put_item(
                "things",
                shared::store::item_sort_key(&json!(id)).unwrap(),
                data,
                &[],
            )
            .await
            .unwrap();
    }
    let mut ids = Vec::new();
    let mut start = None;
    loop {
        let page = store.query_items("things", start, 3, true).await.unwrap();
        ids.extend(page.items.iter().map(|i| i["id"].clone()));
        match page.next {
            Some(next) => start = Some(next),
            None => break,
        }
    }
    assert_eq!(ids, vec![json!(1), json!(9), json!(10), json!(100)]);
}

fn state_for(store: Store) -> AppState {
    state_with(store, &[])
}

fn state_with(store: Store, settings: &[(&str, &str)]) -> AppState {
    let settings: Vec<(String, String)> = settings
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    let config = Config::from_lookup(|name| match name {
        "SECRET" => Some("integration-secret-of-at-least-32-bytes".into()),
        // Where a deployment that verifies registrations is served (its links are built on
        // it; without it registration with verification on is refused).
        "PUBLIC_URL" if !settings.iter().any(|(k, _)| k == "PUBLIC_URL") => {
            Some("https://api.example.com".into())
        }
        other => settings
            .iter()
            .find(|(k, _)| k == other)
            .map(|(_, v)| v.clone()),
    })
    .unwrap();
    let shared::platform::config::SecretSource::Inline(keys) = config.secret.clone() else {
        unreachable!("an inline secret was configured")
    };
    AppState::new(config, store, &keys).unwrap()
}

fn cheap_passwords() -> Passwords {
    Passwords::new(HashParams {
        memory_kib: 64,
        iterations: 1,
        parallelism: 1,
    })
    .unwrap()
}

fn post(body: Value) -> lambda_http::Request {
    http::Request::builder()
        .header("content-type", "application/json")
        .method("POST")
        .body(Body::Text(body.to_string()))
        .unwrap()
}

#[tokio::test]
async fn registration_is_403_when_disabled_and_writes_nothing() {
    let store = fresh_store().await; // no settings: Directus' default, registration off
    let state = state_for(store.clone());
    let result = shared::adapters::rest::register(
        &state,
        &cheap_passwords(),
        &post(json!({"email": "off@example.com", "password": "d1r3ctu5"})),
    )
    .await;
    let error = result.unwrap_err();
    assert_eq!(error.code(), "FORBIDDEN");
    assert_eq!(shared::adapters::http::status_of(&error).as_u16(), 403);
    assert!(
        store
            .find_user_by_email("off@example.com")
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn the_registration_email_filter_is_enforced() {
    let store = seeded_store().await;
    let mut settings = store.settings().await.unwrap().unwrap();
    settings.public_registration_email_filter = Some(json!({"email": {"_ends_with": "@acme.com"}}));
    store.put_settings(&settings).await.unwrap();
    let state = state_for(store.clone());
    let outsider = shared::adapters::rest::register(
        &state,
        &cheap_passwords(),
        &post(json!({"email": "x@example.com", "password": "d1r3ctu5"})),
    )
    .await;
    assert_eq!(outsider.unwrap_err().code(), "FORBIDDEN");
    let insider = shared::adapters::rest::register(
        &state,
        &cheap_passwords(),
        &post(json!({"email": "x@acme.com", "password": "d1r3ctu5"})),
    )
    .await
    .unwrap();
    assert_eq!(insider.status().as_u16(), 204);
    let user = store
        .find_user_by_email("x@acme.com")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(user.status, UserStatus::Active);
    assert_eq!(user.role, settings.public_registration_role);
}

#[tokio::test]
async fn verify_email_registrations_create_unverified_users_who_cannot_log_in() {
    let store = seeded_store().await;
    let mut settings = store.settings().await.unwrap().unwrap();
    settings.public_registration_verify_email = true;
    store.put_settings(&settings).await.unwrap();
    let state = state_for(store.clone());
    let passwords = cheap_passwords();
    let body = json!({"email": "pending@example.com", "password": "d1r3ctu5"});
    shared::adapters::rest::register(&state, &passwords, &post(body.clone()))
        .await
        .unwrap();
    let user = store
        .find_user_by_email("pending@example.com")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(user.status, UserStatus::Unverified);
    let login = shared::adapters::rest::login(&state, &passwords, &post(body)).await;
    assert_eq!(login.unwrap_err().code(), "INVALID_CREDENTIALS");
}

#[tokio::test]
async fn refresh_of_a_suspended_user_is_user_suspended_and_ends_the_session() {
    let store = seeded_store().await;
    let state = state_for(store.clone());
    let passwords = cheap_passwords();
    let body = json!({"email": "soon-suspended@example.com", "password": "d1r3ctu5"});
    shared::adapters::rest::register(&state, &passwords, &post(body.clone()))
        .await
        .unwrap();
    let login = shared::adapters::rest::login(&state, &passwords, &post(body))
        .await
        .unwrap();
    let Body::Text(text) = login.body() else {
        panic!("JSON body")
    };
    let data: Value = serde_json::from_str(text).unwrap();
    let refresh_token = data["data"]["refresh_token"].as_str().unwrap().to_owned();

    // Suspend by rewriting the user item, as an administrator's update would.
    let user = store
        .find_user_by_email("soon-suspended@example.com")
        .await
        .unwrap()
        .unwrap();
    store
        .client()
        .update_item()
        .table_name(&store.tables().users)
        .key(
            "pk",
            aws_sdk_dynamodb::types::AttributeValue::S(format!("user#{}", user.id)),
        )
        .update_expression("SET #s = :s")
        .expression_attribute_names("#s", "status")
        .expression_attribute_values(
            ":s",
            aws_sdk_dynamodb::types::AttributeValue::S("suspended".into()),
        )
        .send()
        .await
        .unwrap();

    let refresh =
        shared::adapters::rest::refresh(&state, &post(json!({"refresh_token": refresh_token})))
            .await;
    assert_eq!(refresh.unwrap_err().code(), "USER_SUSPENDED");
    let again =
        shared::adapters::rest::refresh(&state, &post(json!({"refresh_token": refresh_token})))
            .await;
    assert_eq!(
        again.unwrap_err().code(),
        "INVALID_CREDENTIALS",
        "the session is gone"
    );
}

#[tokio::test]
async fn operators_create_administrators_without_default_credentials() {
    let store = seeded_store().await;
    let passwords = cheap_passwords();
    let admin_role = "7c1e2d3f-4a5b-4c6d-8e9f-0a1b2c3d4e5f";
    let password = Sensitive::new("a long operator password");
    let user = shared::flows::provision::create_user(
        &store,
        &passwords,
        "root@example.com",
        &password,
        Some(admin_role),
    )
    .await
    .unwrap();
    assert_eq!(user.status, UserStatus::Active);
    let accountability = cache::resolve(&store, Some((&user.id, Some(admin_role))))
        .await
        .unwrap();
    assert!(accountability.admin);

    let again = shared::flows::provision::create_user(
        &store,
        &passwords,
        "ROOT@example.com",
        &password,
        None,
    )
    .await;
    assert!(again.unwrap_err().to_string().contains("already exists"));
    let short = shared::flows::provision::create_user(
        &store,
        &passwords,
        "x@example.com",
        &Sensitive::new("short"),
        None,
    )
    .await;
    assert!(short.is_err());
    let no_role = shared::flows::provision::create_user(
        &store,
        &passwords,
        "y@example.com",
        &password,
        Some("missing"),
    )
    .await;
    assert!(no_role.unwrap_err().to_string().contains("no role"));
}

fn big_collection_plan(accountability: &access::Accountability) -> access::ReadPlan {
    let collection = shared::domain::model::Collection {
        collection: "big".into(),
        primary_key: "id".into(),
        fields: [("id", "integer"), ("title", "string"), ("rank", "integer")]
            .iter()
            .map(|(f, t)| shared::domain::model::FieldDef {
                field: (*f).into(),
                field_type: (*t).into(),
                schema: None,
            })
            .collect(),
    };
    access::ReadPlan::new(accountability, collection, None, 0).unwrap()
}

fn items_query(pairs: &[(&str, &str)]) -> shared::domain::query::ItemsQuery {
    let pairs: Vec<(String, String)> = pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    shared::domain::query::ItemsQuery::parse(&pairs, 100, 1000).unwrap()
}

#[tokio::test]
async fn reads_in_key_order_stop_early_and_other_reads_are_bounded() {
    let store = fresh_store().await;
    for id in 1..=600u64 {
        let data = json!({"id": id, "title": format!("t{id}"), "rank": (id * 37) % 101});
        store
            .put_item(
                "big",
                shared::store::item_sort_key(&json!(id)).unwrap(),
                data.as_object().unwrap().clone(),
                &[],
            )
            .await
            .unwrap();
    }
    let admin = access::Accountability {
        admin: true,
        ..Default::default()
    };
    let plan = big_collection_plan(&admin);
    let read = |pairs: &'static [(&'static str, &'static str)], limit: usize| {
        let store = store.clone();
        let plan = plan.clone();
        async move {
            let bound = shared::flows::items::ScanBound {
                items: limit,
                bytes: u64::MAX,
            };
            shared::flows::items::read_collection(&store, &plan, &items_query(pairs), bound).await
        }
    };
    let ids = |outcome: &shared::flows::items::ReadOutcome| -> Vec<u64> {
        outcome
            .items
            .iter()
            .map(|i| i["id"].as_u64().unwrap())
            .collect()
    };

    let first = read(&[("limit", "25")], 10_000).await.unwrap();
    assert_eq!(ids(&first), (1..=25).collect::<Vec<_>>());
    assert_eq!(first.stats.requests, 1, "one Query for a page in key order");
    assert_eq!(first.stats.examined, 25);

    let third = read(&[("limit", "25"), ("page", "3")], 10_000)
        .await
        .unwrap();
    assert_eq!(ids(&third), (51..=75).collect::<Vec<_>>());
    assert_eq!(third.stats.requests, 1);

    let last = read(&[("limit", "25"), ("sort", "-id")], 10_000)
        .await
        .unwrap();
    assert_eq!(ids(&last), (576..=600).rev().collect::<Vec<_>>());
    assert_eq!(last.stats.requests, 1);

    let sorted = read(&[("limit", "3"), ("sort", "rank,id")], 10_000)
        .await
        .unwrap();
    assert_eq!(sorted.items[0]["rank"], json!(0));
    assert!(
        sorted.stats.examined == 600,
        "another order reads the collection"
    );

    let counted = read(
        &[("meta", "*"), ("filter", r#"{"rank":{"_lt":10}}"#)],
        10_000,
    )
    .await
    .unwrap();
    assert_eq!(counted.total_count, Some(600));
    let expected = (1..=600u64).filter(|id| (id * 37) % 101 < 10).count();
    assert_eq!(counted.filter_count, Some(expected));

    for pairs in [
        &[("sort", "rank")][..],
        &[("meta", "filter_count"), ("search", "t1")][..],
        &[("filter", r#"{"title":{"_eq":"nothing"}}"#)][..],
    ] {
        let error = read(pairs, 200).await.unwrap_err();
        assert_eq!(error.code(), "INVALID_QUERY", "{pairs:?}");
        assert!(error.to_string().contains("more than 200 items"), "{error}");
    }
}

#[tokio::test]
async fn whole_collection_counts_come_from_the_kept_count_at_any_size() {
    let store = fresh_store().await;
    let put = |id: u64, title: String| {
        let store = store.clone();
        async move {
            let data = json!({"id": id, "title": title, "rank": id % 7});
            store
                .put_item(
                    "big",
                    shared::store::item_sort_key(&json!(id)).unwrap(),
                    data.as_object().unwrap().clone(),
                    &[],
                )
                .await
                .unwrap();
        }
    };
    for id in 1..=50u64 {
        put(id, format!("t{id}")).await;
    }
    // Overwrites do not count twice.
    for id in 1..=10u64 {
        put(id, format!("again{id}")).await;
    }
    assert_eq!(store.item_count("big").await.unwrap(), Some(50));

    let bound = shared::flows::items::ScanBound {
        items: 20,
        bytes: u64::MAX,
    };
    let admin = access::Accountability {
        admin: true,
        ..Default::default()
    };
    let permitted = |filter: Option<Value>| access::Accountability {
        user: Some("u1".into()),
        permissions: vec![shared::domain::model::Permission {
            id: "p".into(),
            policy: "pol".into(),
            collection: "big".into(),
            action: "read".into(),
            fields: vec!["*".into()],
            permissions: filter,
            presets: None,
            validation: None,
        }],
        ..Default::default()
    };
    let aggregate = |accountability: access::Accountability,
                     pairs: &'static [(&'static str, &'static str)]| {
        let store = store.clone();
        async move {
            let plan = big_collection_plan(&accountability);
            shared::flows::items::aggregate(
                &store,
                shared::flows::items::Source::Items,
                &plan,
                &items_query(pairs),
                bound,
            )
            .await
        }
    };
    let count = &[("aggregate[count]", "*"), ("meta", "*")][..];
    for accountability in [admin.clone(), permitted(None)] {
        let body = aggregate(accountability, count).await.unwrap();
        assert_eq!(
            body,
            json!({"meta": {"total_count": 50, "filter_count": 50}, "data": [{"count": 50}]})
        );
    }
    // What the count cannot answer is still examined, within the bound.
    for (accountability, pairs) in [
        (
            admin.clone(),
            &[("aggregate[count]", "*"), ("filter[rank][_eq]", "1")][..],
        ),
        (
            admin.clone(),
            &[("aggregate[count]", "*"), ("groupBy[]", "rank")][..],
        ),
        (admin.clone(), &[("aggregate[sum]", "rank")][..]),
        (
            permitted(Some(json!({"rank": {"_eq": 1}}))),
            &[("aggregate[count]", "*")][..],
        ),
    ] {
        let error = aggregate(accountability, pairs).await.unwrap_err();
        assert!(
            error.to_string().contains("more than 20 items"),
            "{pairs:?}: {error}"
        );
    }

    let page = |accountability: access::Accountability,
                pairs: &'static [(&'static str, &'static str)]| {
        let store = store.clone();
        async move {
            let plan = big_collection_plan(&accountability);
            shared::flows::items::read_collection(&store, &plan, &items_query(pairs), bound).await
        }
    };
    let counted = page(admin.clone(), &[("meta", "total_count"), ("limit", "5")])
        .await
        .unwrap();
    assert_eq!(counted.total_count, Some(50));
    assert_eq!(counted.items.len(), 5);
    assert_eq!(counted.items[0]["title"], json!("again1"));
    assert!(counted.stats.examined <= 25, "{:?}", counted.stats);
    let unfiltered = page(permitted(None), &[("meta", "*"), ("limit", "5")])
        .await
        .unwrap();
    assert_eq!(unfiltered.total_count, Some(50));
    assert_eq!(unfiltered.filter_count, Some(50));
    for (accountability, pairs) in [
        (
            permitted(Some(json!({"rank": {"_eq": 1}}))),
            &[("meta", "total_count")][..],
        ),
        (
            admin.clone(),
            &[("meta", "filter_count"), ("filter[rank][_eq]", "1")][..],
        ),
    ] {
        let error = page(accountability, pairs).await.unwrap_err();
        assert!(
            error.to_string().contains("more than 20 items"),
            "{pairs:?}: {error}"
        );
    }

    // A new item counts once; a collection written before counts were kept is counted once,
    // at its next write.
    put(51, "new".into()).await;
    assert_eq!(store.item_count("big").await.unwrap(), Some(51));
    for id in 1..=3u64 {
        store
            .client()
            .put_item()
            .table_name(&store.tables().items)
            .item(
                "collection",
                aws_sdk_dynamodb::types::AttributeValue::S("old".into()),
            )
            .item(
                "key",
                aws_sdk_dynamodb::types::AttributeValue::S(
                    shared::store::item_sort_key(&json!(id)).unwrap(),
                ),
            )
            .item(
                "data",
                aws_sdk_dynamodb::types::AttributeValue::M(
                    [(
                        "id".to_owned(),
                        aws_sdk_dynamodb::types::AttributeValue::N(id.to_string()),
                    )]
                    .into(),
                ),
            )
            .send()
            .await
            .unwrap();
    }
    assert_eq!(store.item_count("old").await.unwrap(), None);
    let data = json!({"id": 4});
    store
        .put_item(
            "old",
            shared::store::item_sort_key(&json!(4)).unwrap(),
            data.as_object().unwrap().clone(),
            &[],
        )
        .await
        .unwrap();
    assert_eq!(store.item_count("old").await.unwrap(), Some(4));
    // The count is not an item: key-ordered reads never return it.
    let all = store.query_items("old", None, 100, false).await.unwrap();
    assert_eq!(all.items.len(), 4);
}

#[tokio::test]
async fn reads_are_bounded_in_bytes_as_well_as_items() {
    let store = fresh_store().await;
    // 40 items of ~100 KB: few items, many bytes.
    for id in 1..=40u64 {
        let data = json!({"id": id, "title": "x".repeat(100_000), "rank": id});
        store
            .put_item(
                "big",
                shared::store::item_sort_key(&json!(id)).unwrap(),
                data.as_object().unwrap().clone(),
                &[],
            )
            .await
            .unwrap();
    }
    let plan = big_collection_plan(&access::Accountability {
        admin: true,
        ..Default::default()
    });
    let bound = shared::flows::items::ScanBound {
        items: 10_000,
        bytes: 1_000_000,
    };
    for pairs in [
        &[("sort", "rank")][..],
        &[("meta", "total_count")][..],
        &[("limit", "-1")][..],
        &[("filter", r#"{"rank":{"_gt":1000}}"#)][..],
    ] {
        let error =
            shared::flows::items::read_collection(&store, &plan, &items_query(pairs), bound)
                .await
                .unwrap_err();
        assert_eq!(error.code(), "INVALID_QUERY", "{pairs:?}");
        assert!(error.to_string().contains("1000000 bytes"), "{error}");
    }
    // A page that fits is read as before.
    let page = shared::flows::items::read_collection(
        &store,
        &plan,
        &items_query(&[("limit", "5")]),
        bound,
    )
    .await
    .unwrap();
    assert_eq!(page.items.len(), 5);
    assert!(page.stats.examined_bytes > 500_000, "{:?}", page.stats);
}

#[tokio::test]
async fn users_created_with_policies_get_them_in_the_same_write() {
    let store = seeded_store().await;
    let mut user = new_user("linked@example.com");
    user.policies = vec!["5e4a4c51-2d0a-4a43-9b8e-3c1f0f6f7a01".into()];
    let created = store.create_user(user).await.unwrap();
    let accountability = cache::resolve(&store, Some((&created.id, None)))
        .await
        .unwrap();
    assert!(
        accountability
            .policies
            .contains(&"5e4a4c51-2d0a-4a43-9b8e-3c1f0f6f7a01".to_owned())
    );
    assert!(
        accountability
            .policies
            .contains(&"abf8a154-5b1c-4a46-ac9c-7300570f4f17".to_owned()),
        "a user without a role also gets the Public policy, as in Directus"
    );
}

async fn logged_in(state: &AppState, email: &str) -> String {
    let passwords = cheap_passwords();
    let body = json!({"email": email, "password": "d1r3ctu5"});
    shared::adapters::rest::register(state, &passwords, &post(body.clone()))
        .await
        .unwrap();
    let login = shared::adapters::rest::login(state, &passwords, &post(body))
        .await
        .unwrap();
    data_of(&login)["refresh_token"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn data_of(response: &lambda_http::Response<Body>) -> Value {
    let Body::Text(text) = response.body() else {
        panic!("JSON body")
    };
    serde_json::from_str::<Value>(text).unwrap()["data"].clone()
}

async fn refresh_with(state: &AppState, token: &str) -> Result<Value, String> {
    shared::adapters::rest::refresh(state, &post(json!({"refresh_token": token})))
        .await
        .map(|r| data_of(&r))
        .map_err(|e| e.code().to_owned())
}

#[tokio::test]
async fn a_refresh_repeated_within_the_grace_window_returns_the_same_pair() {
    let state = state_for(seeded_store().await);
    let first = logged_in(&state, "grace@example.com").await;
    let once = refresh_with(&state, &first).await.unwrap();
    let twice = refresh_with(&state, &first).await.unwrap();
    assert_eq!(once, twice, "the same new pair, not a second one");
    assert_ne!(once["refresh_token"], json!(first));
    // The new token rotates normally.
    assert!(
        refresh_with(&state, once["refresh_token"].as_str().unwrap())
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn an_older_token_is_reuse_and_ends_the_session() {
    let state = state_for(seeded_store().await);
    let a = logged_in(&state, "reuse@example.com").await;
    let b = refresh_with(&state, &a).await.unwrap()["refresh_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let c = refresh_with(&state, &b).await.unwrap()["refresh_token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        refresh_with(&state, &a).await.unwrap_err(),
        "INVALID_CREDENTIALS"
    );
    assert_eq!(
        refresh_with(&state, &c).await.unwrap_err(),
        "INVALID_CREDENTIALS",
        "the newest token died with the session"
    );
}

#[tokio::test]
async fn the_previous_token_after_the_grace_window_is_reuse() {
    // A grace window under a second is no window at all.
    let state = state_with(seeded_store().await, &[("REFRESH_TOKEN_GRACE_PERIOD", "1")]);
    let a = logged_in(&state, "late@example.com").await;
    let b = refresh_with(&state, &a).await.unwrap()["refresh_token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        refresh_with(&state, &a).await.unwrap_err(),
        "INVALID_CREDENTIALS"
    );
    assert_eq!(
        refresh_with(&state, &b).await.unwrap_err(),
        "INVALID_CREDENTIALS"
    );
}

#[tokio::test]
async fn sessions_end_at_their_absolute_lifetime() {
    let state = state_with(seeded_store().await, &[("REFRESH_TOKEN_ABSOLUTE_TTL", "1")]);
    let a = logged_in(&state, "short-lived@example.com").await;
    assert_eq!(
        refresh_with(&state, &a).await.unwrap_err(),
        "INVALID_CREDENTIALS"
    );
}

#[tokio::test]
async fn concurrent_refreshes_with_one_token_converge_on_one_pair() {
    let store = seeded_store().await;
    let state = state_for(store.clone());
    let token = logged_in(&state, "tabs@example.com").await;
    let attempts: Vec<_> = (0..20)
        .map(|_| {
            let state = state.clone();
            let token = token.clone();
            tokio::spawn(async move { refresh_with(&state, &token).await })
        })
        .collect();
    let mut pairs = Vec::new();
    for attempt in attempts {
        // Every racer is answered, none refused: that is the grace window's promise.
        pairs.push(
            attempt
                .await
                .unwrap()
                .expect("every concurrent refresh succeeds"),
        );
    }
    assert_eq!(pairs.len(), 20);
    assert!(
        pairs.iter().all(|p| *p == pairs[0]),
        "every success is the same pair"
    );
    let user = store
        .find_user_by_email("tabs@example.com")
        .await
        .unwrap()
        .unwrap();
    let sessions = store
        .client()
        .scan()
        .table_name(&store.tables().sessions)
        .send()
        .await
        .unwrap();
    let live: Vec<_> = sessions
        .items()
        .iter()
        .filter(|item| item.get("user_id").and_then(|v| v.as_s().ok()) == Some(&user.id))
        .collect();
    assert_eq!(live.len(), 1, "one live session");
    assert_eq!(
        live[0]["generation"],
        aws_sdk_dynamodb::types::AttributeValue::N("1".into())
    );
}

async fn login_code(state: &AppState, email: &str, password: &str) -> Result<(), String> {
    shared::adapters::rest::login(
        state,
        &cheap_passwords(),
        &post(json!({"email": email, "password": password})),
    )
    .await
    .map(|_| ())
    .map_err(|e| e.code().to_owned())
}

#[tokio::test]
async fn five_failures_lock_the_account_with_the_same_answer_as_a_wrong_password() {
    let state = state_for(seeded_store().await);
    logged_in(&state, "locked@example.com").await;
    for _ in 0..5 {
        assert_eq!(
            login_code(&state, "locked@example.com", "wrong-password").await,
            Err("INVALID_CREDENTIALS".into())
        );
    }
    assert_eq!(
        login_code(&state, "locked@example.com", "d1r3ctu5").await,
        Err("INVALID_CREDENTIALS".into()),
        "the right password is refused during the lock, indistinguishably"
    );
    let record = state
        .store
        .login_failures("LOCKED@example.com")
        .await
        .unwrap();
    assert_eq!(record.failures, 5);
    assert!(record.locked_until > 0);
    // Unknown addresses are counted and locked the same way, so a lock reveals nothing.
    for _ in 0..5 {
        login_code(&state, "nobody-here@example.com", "x-wrong-password")
            .await
            .unwrap_err();
    }
    assert!(
        state
            .store
            .login_failures("nobody-here@example.com")
            .await
            .unwrap()
            .locked_until
            > 0
    );
}

#[tokio::test]
async fn a_successful_login_resets_the_failure_count() {
    let state = state_for(seeded_store().await);
    logged_in(&state, "forgetful@example.com").await;
    for _ in 0..4 {
        login_code(&state, "forgetful@example.com", "wrong-password")
            .await
            .unwrap_err();
    }
    login_code(&state, "forgetful@example.com", "d1r3ctu5")
        .await
        .unwrap();
    assert_eq!(
        state
            .store
            .login_failures("forgetful@example.com")
            .await
            .unwrap()
            .failures,
        0
    );
    for _ in 0..4 {
        login_code(&state, "forgetful@example.com", "wrong-password")
            .await
            .unwrap_err();
    }
    login_code(&state, "forgetful@example.com", "d1r3ctu5")
        .await
        .unwrap();
}

#[tokio::test]
async fn hard_suspension_happens_only_when_configured() {
    let store = seeded_store().await;
    // Settings change mid-test: no cache.
    let state = state_with(store.clone(), &[("PERMISSIONS_CACHE_TTL", "0")]);
    logged_in(&state, "suspendable@example.com").await;
    for _ in 0..3 {
        login_code(&state, "suspendable@example.com", "wrong-password")
            .await
            .unwrap_err();
    }
    let user = store
        .find_user_by_email("suspendable@example.com")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(user.status, UserStatus::Active, "off by default");

    let mut settings = store.settings().await.unwrap().unwrap();
    settings.auth_login_attempts = Some(4);
    store.put_settings(&settings).await.unwrap();
    login_code(&state, "suspendable@example.com", "wrong-password")
        .await
        .unwrap_err();
    let user = store
        .find_user_by_email("suspendable@example.com")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(user.status, UserStatus::Suspended);
}

#[tokio::test]
async fn hashes_made_with_other_parameters_are_replaced_at_login() {
    let store = seeded_store().await;
    let state = state_for(store.clone());
    let imported = Passwords::new(HashParams {
        memory_kib: 512,
        iterations: 3,
        parallelism: 2,
    })
    .unwrap()
    .hash(&Sensitive::new("d1r3ctu5"))
    .await
    .unwrap();
    let mut user = new_user("imported@example.com");
    user.password_hash = imported.clone();
    store.create_user(user).await.unwrap();
    login_code(&state, "imported@example.com", "d1r3ctu5")
        .await
        .unwrap();
    let stored = store
        .find_user_by_email("imported@example.com")
        .await
        .unwrap()
        .unwrap();
    let stored = stored.password.unwrap();
    assert_ne!(stored, imported);
    assert!(stored.expose().starts_with("$argon2id$v=19$m=64,t=1,p=1$"));
    login_code(&state, "imported@example.com", "d1r3ctu5")
        .await
        .unwrap();
}

#[tokio::test]
async fn registration_refuses_short_common_and_off_pattern_passwords() {
    let store = seeded_store().await;
    let state = state_with(store.clone(), &[("PERMISSIONS_CACHE_TTL", "0")]);
    let register = |email: &'static str, password: &'static str| {
        let state = state.clone();
        async move {
            shared::adapters::rest::register(
                &state,
                &cheap_passwords(),
                &post(json!({"email": email, "password": password})),
            )
            .await
            .map(|r| r.status().as_u16())
            .map_err(|e| (e.code().to_owned(), e.to_string()))
        }
    };
    let short = register("p1@example.com", "short").await.unwrap_err();
    assert_eq!(short.0, "FAILED_VALIDATION");
    let common = register("p2@example.com", "iloveyou").await.unwrap_err();
    assert!(common.1.contains("commonly used"), "{common:?}");
    assert_eq!(register("p3@example.com", "d1r3ctu5").await, Ok(204));

    let mut settings = store.settings().await.unwrap().unwrap();
    settings.auth_password_policy = Some("[A-Z]".into());
    store.put_settings(&settings).await.unwrap();
    let lower = register("p4@example.com", "only lower case")
        .await
        .unwrap_err();
    assert!(lower.1.contains("correct format"), "{lower:?}");
    assert!(
        store
            .find_user_by_email("p4@example.com")
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(register("p5@example.com", "Has An Upper").await, Ok(204));
}

async fn get_posts(state: &AppState, token: &str) -> Result<u16, String> {
    let request = http::Request::builder()
        .header("content-type", "application/json")
        .method("GET")
        .uri("/items/posts")
        .header("authorization", format!("Bearer {token}"))
        .body(Body::Empty)
        .unwrap();
    shared::adapters::rest::items::read(state, &request)
        .await
        .map(|r| r.status().as_u16())
        .map_err(|e| e.code().to_owned())
}

async fn full_login(state: &AppState, email: &str, password: &str) -> Value {
    let login = shared::adapters::rest::login(
        state,
        &cheap_passwords(),
        &post(json!({"email": email, "password": password})),
    )
    .await
    .unwrap();
    data_of(&login)
}

#[tokio::test]
async fn revocation_ends_sessions_and_earlier_access_tokens() {
    use shared::flows::provision::{AccountAction, account_action, set_password};
    let store = seeded_store().await;
    let state = state_with(store.clone(), &[("PERMISSIONS_CACHE_TTL", "0")]);
    for (email, action) in [
        ("ended@example.com", Some(AccountAction::EndSessions)),
        ("suspended@example.com", Some(AccountAction::Suspend)),
        ("deleted@example.com", Some(AccountAction::Delete)),
        ("new-password@example.com", None),
    ] {
        logged_in(&state, email).await;
        let pair = full_login(&state, email, "d1r3ctu5").await;
        let access = pair["access_token"].as_str().unwrap();
        let refresh = pair["refresh_token"].as_str().unwrap();
        assert_eq!(get_posts(&state, access).await, Ok(200));

        let ended = match action {
            Some(action) => account_action(&store, email, action).await.unwrap(),
            None => set_password(
                &store,
                &cheap_passwords(),
                email,
                &Sensitive::new("a brand new passphrase"),
            )
            .await
            .unwrap(),
        };
        assert_eq!(ended, 2, "{email}: both sessions ended");
        assert_eq!(
            get_posts(&state, access).await,
            Err("INVALID_CREDENTIALS".into()),
            "{email}"
        );
        assert_eq!(
            refresh_with(&state, refresh).await.unwrap_err(),
            "INVALID_CREDENTIALS"
        );
    }
    assert_eq!(
        login_code(&state, "new-password@example.com", "d1r3ctu5").await,
        Err("INVALID_CREDENTIALS".into())
    );
    assert!(
        login_code(&state, "new-password@example.com", "a brand new passphrase")
            .await
            .is_ok()
    );
    assert!(
        login_code(&state, "suspended@example.com", "d1r3ctu5")
            .await
            .is_err()
    );
    assert!(
        store
            .find_user_by_email("deleted@example.com")
            .await
            .unwrap()
            .is_none()
    );
}

fn post_from(address: &str, body: Value) -> lambda_http::Request {
    use lambda_http::aws_lambda_events::apigw::ApiGatewayV2httpRequestContext;
    use lambda_http::request::RequestContext;
    let mut context = ApiGatewayV2httpRequestContext::default();
    context.http.source_ip = Some(address.to_owned());
    let mut request = post(body);
    request
        .extensions_mut()
        .insert(RequestContext::ApiGatewayV2(context));
    request
}

#[tokio::test]
async fn registration_is_limited_per_client_address_with_a_retry_after() {
    let store = seeded_store().await; // the seed keeps Directus' default: 5 per minute
    let state = state_for(store);
    let passwords = cheap_passwords();
    let mut outcomes = Vec::new();
    for i in 0..6 {
        let body = json!({"email": format!("limited-{i}@example.com"), "password": "d1r3ctu5"});
        let result =
            shared::adapters::rest::register(&state, &passwords, &post_from("203.0.113.7", body))
                .await;
        outcomes.push(match result {
            Ok(response) => response.status().as_u16(),
            Err(error) => {
                assert_eq!(error.code(), "REQUESTS_EXCEEDED");
                let response = shared::adapters::http::respond(Err(error));
                let retry: u64 = response.headers()["retry-after"]
                    .to_str()
                    .unwrap()
                    .parse()
                    .unwrap();
                assert!((1..=60).contains(&retry));
                response.status().as_u16()
            }
        });
    }
    assert_eq!(outcomes, vec![204, 204, 204, 204, 204, 429]);
    assert!(
        state
            .store
            .find_user_by_email("limited-5@example.com")
            .await
            .unwrap()
            .is_none(),
        "the limited request did no work"
    );
    let elsewhere = shared::adapters::rest::register(
        &state,
        &passwords,
        &post_from(
            "198.51.100.1",
            json!({"email": "other-address@example.com", "password": "d1r3ctu5"}),
        ),
    )
    .await;
    assert_eq!(elsewhere.unwrap().status().as_u16(), 204);
}

#[tokio::test]
async fn public_user_creation_shares_the_registration_limit() {
    let store = seeded_store().await; // public create permission on users; 5 registrations a minute
    let state = state_for(store);
    let passwords = cheap_passwords();
    let address = "203.0.113.99";
    let mut outcomes = Vec::new();
    for i in 0..3 {
        let body = json!({"email": format!("door-a-{i}@example.com"), "password": "d1r3ctu5"});
        let response =
            shared::adapters::rest::register(&state, &passwords, &post_from(address, body)).await;
        outcomes.push(response.map(|r| r.status().as_u16()).unwrap_or(0));
    }
    for i in 0..3 {
        let body = json!({"email": format!("door-b-{i}@example.com"), "password": "d1r3ctu5"});
        let result =
            shared::adapters::rest::create_user(&state, &passwords, &post_from(address, body))
                .await;
        outcomes.push(match result {
            Ok(response) => response.status().as_u16(),
            Err(error) => shared::adapters::http::respond(Err(error))
                .status()
                .as_u16(),
        });
    }
    assert_eq!(outcomes, vec![204, 204, 204, 204, 204, 429]);
    assert!(
        state
            .store
            .find_user_by_email("door-b-2@example.com")
            .await
            .unwrap()
            .is_none(),
        "the limited request wrote nothing"
    );
}

/// Counts the DynamoDB requests a client sends, by operation (`x-amz-target`).
#[derive(Debug, Clone, Default)]
struct CountRequests(std::sync::Arc<std::sync::Mutex<Vec<String>>>);

impl aws_sdk_dynamodb::config::Intercept for CountRequests {
    fn name(&self) -> &'static str {
        "CountRequests"
    }

    fn read_before_transmit(
        &self,
        context: &aws_sdk_dynamodb::config::interceptors::BeforeTransmitInterceptorContextRef<'_>,
        _components: &aws_sdk_dynamodb::config::RuntimeComponents,
        _bag: &mut aws_sdk_dynamodb::config::ConfigBag,
    ) -> Result<(), aws_sdk_dynamodb::error::BoxError> {
        let target = context
            .request()
            .headers()
            .get("x-amz-target")
            .unwrap_or("?")
            .to_owned();
        self.0.lock().unwrap().push(target);
        Ok(())
    }
}

#[tokio::test]
async fn known_and_unknown_emails_cost_the_same_dynamodb_work() {
    let store = fresh_store().await;
    store
        .create_user(new_user("known@example.com"))
        .await
        .unwrap();
    let counter = CountRequests::default();
    let config = store
        .client()
        .config()
        .to_builder()
        .interceptor(counter.clone())
        .build();
    let counted = Store::new(
        aws_sdk_dynamodb::Client::from_conf(config),
        store.tables().clone(),
    );
    let mut work = Vec::new();
    for email in ["known@example.com", "unknown@example.com"] {
        counter.0.lock().unwrap().clear();
        counted.find_user_by_email(email).await.unwrap();
        work.push(counter.0.lock().unwrap().clone());
    }
    assert_eq!(work[0], work[1], "the same requests for both");
    assert_eq!(work[0].len(), 2);
}

#[tokio::test]
async fn duplicate_policy_ids_are_linked_once() {
    let store = seeded_store().await;
    let policy = "abf8a154-5b1c-4a46-ac9c-7300570f4f17".to_owned();
    let mut user = new_user("twice@example.com");
    user.policies = vec![policy.clone(), policy.clone(), policy];
    // DynamoDB refuses a transaction that touches one item twice; deduplicated, it is written.
    store.create_user(user).await.unwrap();
}

/// Makes the next `remaining` TransactWriteItems calls fail as DynamoDB does when another
/// transaction touches the same items: the request is pointed at a table that does not exist
/// (so nothing is written), and the answer replaced by a `TransactionConflict` cancellation.
#[derive(Debug, Clone, Default)]
struct ConflictingTransactions {
    remaining: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    sabotaged: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl aws_sdk_dynamodb::config::Intercept for ConflictingTransactions {
    fn name(&self) -> &'static str {
        "ConflictingTransactions"
    }

    fn modify_before_transmit(
        &self,
        context: &mut aws_sdk_dynamodb::config::interceptors::BeforeTransmitInterceptorContextMut<
            '_,
        >,
        _components: &aws_sdk_dynamodb::config::RuntimeComponents,
        _bag: &mut aws_sdk_dynamodb::config::ConfigBag,
    ) -> Result<(), aws_sdk_dynamodb::error::BoxError> {
        use std::sync::atomic::Ordering;
        let request = context.request_mut();
        let is_transaction = request
            .headers()
            .get("x-amz-target")
            .is_some_and(|t| t.ends_with("TransactWriteItems"));
        if is_transaction
            && self
                .remaining
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_ok()
        {
            let body = request.body().bytes().unwrap_or_default().to_vec();
            let body =
                String::from_utf8(body)?.replace("\"TableName\":\"", "\"TableName\":\"gone-");
            *request.body_mut() = aws_smithy_types::body::SdkBody::from(body);
            self.sabotaged.store(true, Ordering::SeqCst);
        }
        Ok(())
    }

    fn modify_before_deserialization(
        &self,
        context: &mut aws_sdk_dynamodb::config::interceptors::BeforeDeserializationInterceptorContextMut<'_>,
        _components: &aws_sdk_dynamodb::config::RuntimeComponents,
        _bag: &mut aws_sdk_dynamodb::config::ConfigBag,
    ) -> Result<(), aws_sdk_dynamodb::error::BoxError> {
        if self
            .sabotaged
            .swap(false, std::sync::atomic::Ordering::SeqCst)
        {
            let response = context.response_mut();
            *response.status_mut() = 400u16.try_into()?;
            *response.body_mut() = aws_smithy_types::body::SdkBody::from(
                r#"{"__type":"com.amazonaws.dynamodb.v20120810#TransactionCanceledException","Message":"Transaction cancelled, please refer cancellation reasons for specific reasons [None, TransactionConflict]","CancellationReasons":[{"Code":"None"},{"Code":"TransactionConflict","Message":"Transaction is ongoing for the item"}]}"#,
            );
        }
        Ok(())
    }
}

fn with_conflicts(store: &Store, conflicts: usize) -> Store {
    let injector = ConflictingTransactions::default();
    injector
        .remaining
        .store(conflicts, std::sync::atomic::Ordering::SeqCst);
    let config = store
        .client()
        .config()
        .to_builder()
        .interceptor(injector)
        .build();
    Store::new(
        aws_sdk_dynamodb::Client::from_conf(config),
        store.tables().clone(),
    )
}

#[tokio::test]
async fn a_registration_cancelled_by_a_conflict_is_retried_to_the_normal_answer() {
    let store = fresh_store().await;
    // Two conflicts, then the write goes through: one user, found by email.
    let created = with_conflicts(&store, 2)
        .create_user(new_user("contended@example.com"))
        .await
        .unwrap();
    let found = store
        .find_user_by_email("contended@example.com")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.id, created.id);
    // The address is now taken: a conflicting second registration ends as AlreadyExists.
    let again = with_conflicts(&store, 1)
        .create_user(new_user("contended@example.com"))
        .await;
    assert!(matches!(again, Err(StoreError::AlreadyExists)), "{again:?}");
    // Contention that never ends is a 503, not a 500, and writes nothing.
    let endless = with_conflicts(&store, 100)
        .create_user(new_user("endless@example.com"))
        .await;
    assert!(
        matches!(endless, Err(StoreError::Unavailable(_))),
        "{endless:?}"
    );
    assert!(
        store
            .find_user_by_email("endless@example.com")
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn concurrent_reservations_take_each_count_once_and_stop_at_the_lock() {
    let store = fresh_store().await;
    let now = shared::store::now_millis();
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move {
                store
                    .reserve_login_attempt("racer@example.com", now, |attempt| {
                        shared::flows::session::lock_seconds(attempt).map(|secs| secs * 1000)
                    })
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut granted = Vec::new();
    for task in tasks {
        if let shared::store::Reservation::Granted { attempt } = task.await.unwrap() {
            granted.push(attempt);
        }
    }
    granted.sort_unstable();
    // All at one instant: five counts before the first lock, each taken exactly once.
    assert_eq!(granted, vec![1, 2, 3, 4, 5]);
    let record = store.login_failures("racer@example.com").await.unwrap();
    assert_eq!(record.failures, 5);
    assert_eq!(record.locked_until, now + 1000);
    // Still locked a moment later; counted on once the lock has passed.
    let later = |at: i64| {
        let store = store.clone();
        async move {
            store
                .reserve_login_attempt("racer@example.com", at, |attempt| {
                    shared::flows::session::lock_seconds(attempt).map(|secs| secs * 1000)
                })
                .await
                .unwrap()
        }
    };
    assert_eq!(later(now + 999).await, shared::store::Reservation::Refused);
    assert_eq!(
        later(now + 1000).await,
        shared::store::Reservation::Granted { attempt: 6 }
    );
}

#[tokio::test]
async fn deleting_a_user_whose_email_changed_meanwhile_writes_nothing() {
    let store = fresh_store().await;
    let user = store
        .create_user(new_user("before@example.com"))
        .await
        .unwrap();
    let stale = user.clone();
    store
        .update_user(
            &user,
            &shared::store::UserChanges {
                email: Some("after@example.com".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    // Deleting with the view read before the change would orphan the new claim.
    assert!(matches!(
        store.delete_user(&stale).await,
        Err(StoreError::Stale)
    ));
    let found = store.find_user_by_email("after@example.com").await.unwrap();
    assert_eq!(found.map(|u| u.id), Some(user.id.clone()));
    let current = store.get_user(&user.id).await.unwrap().unwrap();
    store.delete_user(&current).await.unwrap();
    assert!(
        store
            .find_user_by_email("after@example.com")
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn an_update_decided_on_a_stale_read_is_refused() {
    let store = fresh_store().await;
    let user = store
        .create_user(new_user("stale@example.com"))
        .await
        .unwrap();
    // A revocation lands between the read and the write (a millisecond later at least:
    // `updated_at` is the version the write is conditioned on).
    tokio::time::sleep(std::time::Duration::from_millis(3)).await;
    store.invalidate_tokens(&user.id).await.unwrap();
    let outcome = store
        .update_user(
            &user,
            &shared::store::UserChanges {
                first_name: Some(Some("Mallory".into())),
                unchanged_since: Some(user.updated_at),
                ..Default::default()
            },
        )
        .await;
    assert!(matches!(outcome, Err(StoreError::Stale)), "{outcome:?}");
}

#[tokio::test]
async fn an_account_leaving_unverified_no_longer_expires() {
    use aws_sdk_dynamodb::types::AttributeValue;
    let store = fresh_store().await;
    let mut unverified = new_user("Later@example.com");
    unverified.status = UserStatus::Unverified;
    // Expires within the test: a claim still carrying it would free the address.
    let user = store
        .create_user_expiring(unverified, Some(now() + 2))
        .await
        .unwrap();
    store
        .update_user(
            &user,
            &shared::store::UserChanges {
                status: Some(UserStatus::Active),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    for pk in [
        format!("user#{}", user.id),
        "email#later@example.com".to_owned(),
    ] {
        let item = store
            .client()
            .get_item()
            .table_name(&store.tables().users)
            .key("pk", AttributeValue::S(pk.clone()))
            .consistent_read(true)
            .send()
            .await
            .unwrap()
            .item
            .unwrap();
        assert!(!item.contains_key("expires_at"), "{pk} keeps its TTL");
    }
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    assert!(matches!(
        store.create_user(new_user("later@example.com")).await,
        Err(StoreError::AlreadyExists)
    ));
    let found = store.find_user_by_email("later@example.com").await.unwrap();
    assert_eq!(found.map(|u| u.status), Some(UserStatus::Active));
}

#[tokio::test]
async fn a_lookup_by_id_is_refused_before_the_read_once_the_budget_is_spent() {
    let store = fresh_store().await;
    let data = json!({"id": 1, "title": "one", "rank": 1});
    store
        .put_item(
            "big",
            shared::store::item_sort_key(&json!(1)).unwrap(),
            data.as_object().unwrap().clone(),
            &[],
        )
        .await
        .unwrap();
    let admin = access::Accountability {
        admin: true,
        ..Default::default()
    };
    let collection = big_collection_plan(&admin).collection;
    let state = state_for(store);
    let lookup = |items: usize| {
        let state = state.clone();
        let admin = admin.clone();
        let collection = collection.clone();
        async move {
            shared::flows::items::serve_within(
                &state,
                &admin,
                collection,
                shared::flows::items::Source::Items,
                &items_query(&[]),
                Some("1"),
                shared::flows::items::ScanBound {
                    items,
                    bytes: u64::MAX,
                },
                present(),
            )
            .await
        }
    };
    let (body, stats) = lookup(1).await.unwrap();
    assert_eq!(body["data"]["title"], json!("one"));
    assert_eq!(stats.examined, 1);
    // What GraphQL's aliased `big_by_id` fields meet once earlier reads spent the budget.
    let error = lookup(0).await.unwrap_err();
    assert_eq!(error.code(), "INVALID_QUERY");
    assert!(error.to_string().contains("more than 0 items"), "{error}");
}

/// Makes every Query of the sessions' by-user index fail (its table gone), as an unavailable
/// index would.
#[derive(Debug, Clone, Default)]
struct FailingSessionQueries;

impl aws_sdk_dynamodb::config::Intercept for FailingSessionQueries {
    fn name(&self) -> &'static str {
        "FailingSessionQueries"
    }

    fn modify_before_transmit(
        &self,
        context: &mut aws_sdk_dynamodb::config::interceptors::BeforeTransmitInterceptorContextMut<
            '_,
        >,
        _components: &aws_sdk_dynamodb::config::RuntimeComponents,
        _bag: &mut aws_sdk_dynamodb::config::ConfigBag,
    ) -> Result<(), aws_sdk_dynamodb::error::BoxError> {
        let request = context.request_mut();
        let is_query = request
            .headers()
            .get("x-amz-target")
            .is_some_and(|t| t.ends_with(".Query"));
        let body = request.body().bytes().unwrap_or_default().to_vec();
        let body = String::from_utf8(body)?;
        if is_query && body.contains("\"IndexName\":\"by_user\"") {
            let body = body.replace("\"TableName\":\"", "\"TableName\":\"gone-");
            *request.body_mut() = aws_smithy_types::body::SdkBody::from(body);
        }
        Ok(())
    }
}

#[tokio::test]
async fn a_reset_whose_session_cleanup_fails_still_answers_success() {
    use shared::credential::link_token::{Scope, password_fingerprint};
    let store = seeded_store().await;
    let passwords = cheap_passwords();
    let mut new = new_user("reset-cleanup@example.com");
    new.password_hash = passwords
        .hash(&Sensitive::new("old-password-1"))
        .await
        .unwrap();
    let user = store.create_user(new).await.unwrap();
    let session = shared::domain::model::Session {
        user_id: user.id.clone(),
        ..session("s-before-reset", now() + 3600)
    };
    store.create_session(&session).await.unwrap();
    store
        .put_reset_token("reset-cleanup-token", &user.id, now() + 600)
        .await
        .unwrap();
    let config = store
        .client()
        .config()
        .to_builder()
        .interceptor(FailingSessionQueries)
        .build();
    let failing = Store::new(
        aws_sdk_dynamodb::Client::from_conf(config),
        store.tables().clone(),
    );
    assert!(failing.revoke_user_sessions(&user.id).await.is_err());
    let state = state_for(failing);
    let (token, _) = state
        .links
        .issue(
            Scope::PasswordReset,
            &user.id,
            &user.email,
            Some("reset-cleanup-token".into()),
            Some(password_fingerprint(user.password.as_ref())),
            u64::try_from(now()).unwrap(),
            std::time::Duration::from_secs(600),
            None,
        )
        .unwrap();
    shared::flows::password_reset::reset_password(
        &state,
        &passwords,
        shared::flows::password_reset::PasswordReset {
            token,
            password: Sensitive::new("new-password-1"),
        },
        &shared::domain::client::Client {
            ip: Some("192.0.2.55".into()),
            ..Default::default()
        },
        present(),
    )
    .await
    .expect("the password was written and the token spent: the reset succeeded");
    let after = store.get_user(&user.id).await.unwrap().unwrap();
    assert!(
        passwords
            .verify(&Sensitive::new("new-password-1"), after.password.as_ref())
            .await
            .unwrap()
    );
    // The session the cleanup could not delete is over all the same.
    assert!(after.ended_session(&session));
}

/// A collection with two indexed fields: `date_created` (unique, or absent on five items) and
/// `score` (negative and fractional), and an owner for row permissions.
fn indexed_document(items: usize, with_index: bool) -> Document {
    let base = 1_700_000_000_000i64;
    let rows: Vec<Value> =
        (1..=items as i64)
            .map(|id| {
                // 7919 is prime, so every id gets its own minute.
                let minute = (id * 7919) % items as i64;
                json!({
                    "id": id,
                    "date_created": shared::domain::access::filter::iso8601(base + minute * 60_000),
                    "score": (id % 11) as f64 - 5.5,
                    "title": format!("t{id}"),
                    "owner": if id % 10 == 0 { "a" } else { "b" },
                })
            })
            .chain((1..=5).map(
                |n| json!({"id": items as i64 + n, "title": "undated", "score": 0, "owner": "b"}),
            ))
            .collect();
    let indexed = |field: &str, field_type: &str| {
        if with_index {
            json!({"field": field, "type": field_type, "schema": {"is_indexed": true}})
        } else {
            json!({"field": field, "type": field_type})
        }
    };
    let document = json!({"collections": [{
        "collection": "events",
        "primary_key": "id",
        "fields": [
            {"field": "id", "type": "integer"},
            indexed("date_created", "dateTime"),
            indexed("score", "float"),
            {"field": "title", "type": "string"},
            {"field": "owner", "type": "string"},
        ],
        "items": rows,
    }]});
    Document::from_json(&document.to_string()).unwrap()
}

fn owner_a_reader() -> access::Accountability {
    access::Accountability {
        permissions: vec![shared::domain::model::Permission {
            id: "0".into(),
            policy: "p".into(),
            collection: "events".into(),
            action: "read".into(),
            fields: vec!["*".into()],
            permissions: Some(json!({"owner": {"_eq": "a"}})),
            presets: None,
            validation: None,
        }],
        ..Default::default()
    }
}

async fn read_events(
    store: &Store,
    accountability: &access::Accountability,
    pairs: &[(&str, &str)],
    bound: usize,
) -> Result<shared::flows::items::ReadOutcome, shared::ApiError> {
    let schema = store.collection("events").await.unwrap().unwrap();
    let plan = access::ReadPlan::new(accountability, schema, None, 0).unwrap();
    let bound = shared::flows::items::ScanBound {
        items: bound,
        bytes: u64::MAX,
    };
    shared::flows::items::read_collection(store, &plan, &items_query(pairs), bound).await
}

fn ids_of(outcome: &shared::flows::items::ReadOutcome) -> Vec<i64> {
    outcome
        .items
        .iter()
        .map(|i| i["id"].as_i64().unwrap())
        .collect()
}

#[tokio::test]
async fn indexed_reads_cost_a_page_and_keep_permissions() {
    const ITEMS: usize = 1500;
    let store = fresh_store().await;
    indexed_document(ITEMS, true).apply(&store).await.unwrap();
    let admin = access::Accountability {
        admin: true,
        ..Default::default()
    };
    let date_of = |id: i64| (id * 7919) % ITEMS as i64;
    let mut by_date: Vec<i64> = (1..=ITEMS as i64).collect();
    by_date.sort_by_key(|id| date_of(*id));

    // Newest first, within a bound far below the collection's size.
    let newest = read_events(
        &store,
        &admin,
        &[("sort", "-date_created"), ("limit", "25")],
        100,
    )
    .await
    .unwrap();
    let expected: Vec<i64> = by_date.iter().rev().take(25).copied().collect();
    assert_eq!(ids_of(&newest), expected);
    assert_eq!(newest.stats.requests, 1);
    assert_eq!(newest.stats.examined, 25);

    // Nulls first ascending, in key order; then the oldest; a later page.
    let oldest = read_events(
        &store,
        &admin,
        &[("sort", "date_created"), ("limit", "7")],
        100,
    )
    .await
    .unwrap();
    let mut expected: Vec<i64> = (ITEMS as i64 + 1..=ITEMS as i64 + 5).collect();
    expected.extend(&by_date[..2]);
    assert_eq!(ids_of(&oldest), expected);
    let page = read_events(
        &store,
        &admin,
        &[("sort", "-date_created"), ("limit", "10"), ("page", "4")],
        100,
    )
    .await
    .unwrap();
    let expected: Vec<i64> = by_date.iter().rev().skip(30).take(10).copied().collect();
    assert_eq!(ids_of(&page), expected);

    // A range on the sorted field, as a query string and with a variable-free date.
    let since = shared::domain::access::filter::iso8601(1_700_000_000_000 + 1490 * 60_000);
    let recent = read_events(
        &store,
        &admin,
        &[
            ("sort", "-date_created"),
            ("filter[date_created][_gte]", &since),
        ],
        100,
    )
    .await
    .unwrap();
    let expected: Vec<i64> = by_date.iter().rev().take(10).copied().collect();
    assert_eq!(ids_of(&recent), expected);
    assert_eq!(recent.stats.examined, 10, "only the range is read");

    // An equality on a float in key order: one value's entries, in key order.
    let equal = read_events(
        &store,
        &admin,
        &[
            ("filter", r#"{"score":{"_eq":-0.5}}"#),
            ("limit", "25"),
            ("sort", "-id"),
        ],
        100,
    )
    .await
    .unwrap();
    let expected: Vec<i64> = (1..=ITEMS as i64)
        .rev()
        .filter(|id| id % 11 == 5)
        .take(25)
        .collect();
    assert_eq!(ids_of(&equal), expected);
    assert_eq!(equal.stats.examined, 25);

    // A range with another sort: the range is read and sorted in memory, with exact counts.
    let ranged = read_events(
        &store,
        &admin,
        &[
            ("filter", r#"{"score":{"_lt":-4}}"#),
            ("sort", "-title"),
            ("meta", "*"),
            ("limit", "3"),
        ],
        300,
    )
    .await
    .unwrap();
    let mut expected: Vec<i64> = (1..=ITEMS as i64).filter(|id| id % 11 <= 1).collect();
    assert_eq!(ranged.filter_count, Some(expected.len()));
    assert_eq!(ranged.total_count, Some(ITEMS + 5));
    expected.sort_by_key(|id| std::cmp::Reverse(format!("t{id}")));
    assert_eq!(ids_of(&ranged), expected[..3]);
    assert_eq!(ranged.stats.examined, expected.len());

    // A dense range in key order exceeds the bound as a range, and is read in key order.
    let dense = read_events(
        &store,
        &admin,
        &[("filter", r#"{"score":{"_gt":-5}}"#), ("limit", "5")],
        200,
    )
    .await
    .unwrap();
    assert_eq!(ids_of(&dense), vec![1, 2, 3, 4, 5]);

    // The count is one read whatever the size.
    let counted = read_events(
        &store,
        &admin,
        &[
            ("sort", "-date_created"),
            ("meta", "total_count"),
            ("limit", "1"),
        ],
        100,
    )
    .await
    .unwrap();
    assert_eq!(counted.total_count, Some(ITEMS + 5));
    assert_eq!(counted.stats.requests, 2);

    // Every row read through the index still passes the permission filter; pages fill.
    let reader = owner_a_reader();
    let theirs = read_events(
        &store,
        &reader,
        &[("sort", "-date_created"), ("limit", "25")],
        10_000,
    )
    .await
    .unwrap();
    let expected: Vec<i64> = by_date
        .iter()
        .rev()
        .filter(|id| *id % 10 == 0)
        .take(25)
        .copied()
        .collect();
    assert_eq!(ids_of(&theirs), expected);
    assert!(theirs.items.iter().all(|i| i["owner"] == json!("a")));
    let bounded = read_events(
        &store,
        &reader,
        &[("sort", "-date_created"), ("limit", "25")],
        100,
    )
    .await
    .unwrap_err();
    assert_eq!(bounded.code(), "INVALID_QUERY");

    // An unindexed sort is still bounded.
    let unindexed = read_events(&store, &admin, &[("sort", "title")], 100)
        .await
        .unwrap_err();
    assert!(
        unindexed.to_string().contains("more than 100 items"),
        "{unindexed}"
    );
}

#[tokio::test]
async fn index_entries_follow_writes_and_a_new_index_covers_stored_items() {
    let store = fresh_store().await;
    let admin = access::Accountability {
        admin: true,
        ..Default::default()
    };
    // Written without the index, then declared: the index is built from the stored items.
    indexed_document(40, false).apply(&store).await.unwrap();
    assert!(
        store
            .collection("events")
            .await
            .unwrap()
            .unwrap()
            .indexed_fields()
            .is_empty()
    );
    let empty = Document::from_json(
        &json!({"collections": [{
            "collection": "events", "primary_key": "id",
            "fields": [
                {"field": "id", "type": "integer"},
                {"field": "date_created", "type": "dateTime", "schema": {"is_indexed": true}},
                {"field": "score", "type": "float", "schema": {"is_indexed": true}},
                {"field": "title", "type": "string"},
                {"field": "owner", "type": "string"},
            ],
        }]})
        .to_string(),
    )
    .unwrap();
    empty.apply(&store).await.unwrap();
    let all = store
        .query_index(
            "events",
            "date_created",
            &shared::domain::index_plan::IndexRange::Everything,
            None,
            1000,
            true,
        )
        .await
        .unwrap();
    assert_eq!(all.items.len(), 45);
    assert_eq!(store.item_count("events").await.unwrap(), Some(45));

    // A changed value moves its entry (the stale one is deleted), with the new data.
    let moved = Document::from_json(
        &json!({"collections": [{
            "collection": "events", "primary_key": "id",
            "fields": [
                {"field": "id", "type": "integer"},
                {"field": "date_created", "type": "dateTime", "schema": {"is_indexed": true}},
                {"field": "score", "type": "float", "schema": {"is_indexed": true}},
                {"field": "title", "type": "string"},
                {"field": "owner", "type": "string"},
            ],
            "items": [{"id": 3, "date_created": "2999-01-01T00:00:00.000Z", "score": -100, "title": "moved"}],
        }]})
        .to_string(),
    )
    .unwrap();
    moved.apply(&store).await.unwrap();
    for field in ["date_created", "score"] {
        let entries = store
            .query_index(
                "events",
                field,
                &shared::domain::index_plan::IndexRange::Everything,
                None,
                1000,
                true,
            )
            .await
            .unwrap();
        assert_eq!(entries.items.len(), 45, "{field}");
        assert_eq!(
            entries.items.iter().filter(|i| i["id"] == json!(3)).count(),
            1
        );
    }
    assert_eq!(
        store.item_count("events").await.unwrap(),
        Some(45),
        "a replacement is not counted"
    );
    let newest = read_events(
        &store,
        &admin,
        &[("sort", "-date_created"), ("limit", "1")],
        100,
    )
    .await
    .unwrap();
    assert_eq!(newest.items[0]["title"], json!("moved"));
    let lowest = read_events(&store, &admin, &[("sort", "score"), ("limit", "1")], 100)
        .await
        .unwrap();
    assert_eq!(lowest.items[0]["id"], json!(3));
    // Item 3's score was 3 - 5.5 before it moved.
    let old_value = read_events(&store, &admin, &[("filter[score][_eq]", "-2.5")], 100)
        .await
        .unwrap();
    assert!(!ids_of(&old_value).contains(&3), "no stale entry answers");
    assert!(ids_of(&old_value).contains(&14));
}

#[test]
fn index_declarations_are_checked() {
    let document = |fields: Value, items: Value| {
        Document::from_json(
            &json!({"collections": [{"collection": "c", "primary_key": "id", "fields": fields, "items": items}]})
                .to_string(),
        )
    };
    let indexed = |field: &str, field_type: &str| json!({"field": field, "type": field_type, "schema": {"is_indexed": true}});
    let id = json!({"field": "id", "type": "integer"});
    assert!(
        document(json!([indexed("id", "integer")]), json!([])).is_err(),
        "the primary key"
    );
    assert!(
        document(json!([id, indexed("meta", "json")]), json!([])).is_err(),
        "json"
    );
    assert!(
        document(
            json!([id, indexed("n", "integer")]),
            json!([{"id": 1, "n": "7"}])
        )
        .is_err(),
        "a string in an integer"
    );
    assert!(
        document(
            json!([id, indexed("d", "dateTime")]),
            json!([{"id": 1, "d": "x".repeat(2000)}])
        )
        .is_err(),
        "too long"
    );
    let accepted = document(
        json!([id, indexed("n", "integer"), {"field": "d", "type": "date", "schema": {"is_indexed": false, "max_length": null}}]),
        json!([{"id": 1, "n": 7}, {"id": 2}]),
    )
    .unwrap();
    assert_eq!(
        accepted.collections[0].schema().indexed_fields(),
        vec!["n".to_owned()]
    );
}

/// A `read` permission on `directus_users` granting `fields` on the rows `filter` matches.
fn users_read(fields: &[&str], filter: Option<Value>) -> shared::domain::model::Permission {
    shared::domain::model::Permission {
        id: format!("read-{}", fields.join("-")),
        policy: "directory-policy".into(),
        collection: "directus_users".into(),
        action: "read".into(),
        fields: fields.iter().map(|f| (*f).to_owned()).collect(),
        permissions: filter,
        presets: None,
        validation: None,
    }
}

fn user_with_policies(email: &str, policies: &[&str]) -> NewUser {
    NewUser {
        policies: policies.iter().map(|p| (*p).to_owned()).collect(),
        ..new_user(email)
    }
}

#[tokio::test]
async fn directory_policies_show_only_on_rows_whose_permission_grants_them() {
    let store = fresh_store().await;
    let me = store
        .create_user(user_with_policies("me@example.com", &["own-policy"]))
        .await
        .unwrap();
    let other = store
        .create_user(user_with_policies("other@example.com", &["administrator"]))
        .await
        .unwrap();
    let state = state_for(store);
    // Two overlapping permissions: everything of one's own row, `id` and `first_name` of every
    // row. `policies` is a field of the plan (granted on one row), so every row has the key.
    let caller = access::Accountability {
        user: Some(me.id.clone()),
        permissions: vec![
            users_read(&["*"], Some(json!({"id": {"_eq": "$CURRENT_USER"}}))),
            users_read(&["id", "first_name"], None),
        ],
        ..Default::default()
    };
    let read = |pairs: &'static [(&'static str, &'static str)], id: Option<String>| {
        let state = state.clone();
        let caller = caller.clone();
        async move {
            shared::flows::directory::serve(
                &state,
                &caller,
                &items_query(pairs),
                id.as_deref(),
                present(),
            )
            .await
            .unwrap()["data"]
                .clone()
        }
    };
    let listed = read(&[("fields", "id,policies")], None).await;
    let mut expected = vec![
        json!({"id": me.id, "policies": ["own-policy"]}),
        json!({"id": other.id, "policies": null}),
    ];
    expected.sort_by(|a, b| a["id"].as_str().cmp(&b["id"].as_str()));
    assert_eq!(listed, json!(expected));
    // Without `id` among the fields (in `id` order still), and row by row.
    let only = read(&[("fields", "policies")], None).await;
    let policies_only: Vec<Value> = expected
        .iter()
        .map(|row| json!({"policies": row["policies"]}))
        .collect();
    assert_eq!(only, json!(policies_only));
    let theirs = read(&[("fields", "id,policies")], Some(other.id.clone())).await;
    assert_eq!(theirs, json!({"id": other.id, "policies": null}));
    let mine = read(&[], Some(me.id.clone())).await;
    assert_eq!(mine["policies"], json!(["own-policy"]));
    assert_eq!(mine["email"], json!("me@example.com"));
    // An administrator sees every user's.
    let admin = access::Accountability {
        admin: true,
        ..Default::default()
    };
    let all = shared::flows::directory::serve(
        &state,
        &admin,
        &items_query(&[("fields", "email,policies"), ("sort", "email")]),
        None,
        present(),
    )
    .await
    .unwrap();
    assert_eq!(
        all["data"],
        json!([
            {"email": "me@example.com", "policies": ["own-policy"]},
            {"email": "other@example.com", "policies": ["administrator"]}
        ])
    );
}

#[tokio::test]
async fn directory_policy_lookups_count_against_the_scan_bound() {
    let store = fresh_store().await;
    for n in 0..3 {
        store
            .create_user(user_with_policies(&format!("u{n}@example.com"), &["p"]))
            .await
            .unwrap();
    }
    let state = state_with(store, &[("ITEMS_SCAN_LIMIT", "4")]);
    let admin = access::Accountability {
        admin: true,
        ..Default::default()
    };
    let read = |pairs: &'static [(&'static str, &'static str)]| {
        let state = state.clone();
        let admin = admin.clone();
        async move {
            shared::flows::directory::serve(&state, &admin, &items_query(pairs), None, present())
                .await
        }
    };
    // Three users examined, and no lookup.
    let ids = read(&[("fields", "id")]).await.unwrap();
    assert_eq!(ids["data"].as_array().unwrap().len(), 3);
    // Three examined plus three users' policies: over the bound of four, refused.
    let error = read(&[("fields", "id,policies")]).await.unwrap_err();
    assert_eq!(error.code(), "INVALID_QUERY");
    assert!(error.to_string().contains("more than 4 items"), "{error}");
    // One row read, one lookup: within it.
    let one = read(&[("fields", "id,policies"), ("limit", "1")])
        .await
        .unwrap();
    assert_eq!(one["data"][0]["policies"], json!(["p"]));
}

#[tokio::test]
async fn the_directory_leaves_out_expired_unverified_accounts() {
    let store = fresh_store().await;
    let active = store
        .create_user(new_user("active@example.com"))
        .await
        .unwrap();
    let unverified = |email: &str| NewUser {
        status: UserStatus::Unverified,
        ..new_user(email)
    };
    let pending = store
        .create_user_expiring(unverified("pending@example.com"), Some(now() + 3600))
        .await
        .unwrap();
    let expired = store
        .create_user_expiring(unverified("expired@example.com"), Some(now() - 1))
        .await
        .unwrap();

    let page = store.query_user_directory(None, 100, true).await.unwrap();
    let mut listed: Vec<&str> = page.users.iter().map(|u| u.id.as_str()).collect();
    listed.sort_unstable();
    let mut live = vec![active.id.as_str(), pending.id.as_str()];
    live.sort_unstable();
    assert_eq!(listed, live);
    assert_eq!(page.expired, 1);
    let tool = shared::flows::provision::list_users(&store, Some("expired@"))
        .await
        .unwrap();
    assert!(tool.is_empty(), "{tool:?}");

    let state = state_for(store);
    let admin = access::Accountability {
        admin: true,
        ..Default::default()
    };
    let read = |pairs: &'static [(&'static str, &'static str)], id: Option<String>| {
        let state = state.clone();
        let admin = admin.clone();
        async move {
            shared::flows::directory::serve(
                &state,
                &admin,
                &items_query(pairs),
                id.as_deref(),
                present(),
            )
            .await
        }
    };
    let counted = read(
        &[("meta", "*"), ("fields", "email"), ("sort", "email")],
        None,
    )
    .await
    .unwrap();
    assert_eq!(
        counted,
        json!({"meta": {"total_count": 2, "filter_count": 2},
               "data": [{"email": "active@example.com"}, {"email": "pending@example.com"}]})
    );
    let aggregated = read(&[("aggregate[count]", "*")], None).await.unwrap();
    assert_eq!(aggregated["data"], json!([{"count": 2}]));
    let by_status = read(
        &[
            ("aggregate[count]", "*"),
            ("groupBy[]", "status"),
            ("sort", "status"),
        ],
        None,
    )
    .await
    .unwrap();
    assert_eq!(
        by_status["data"],
        json!([{"status": "active", "count": 1}, {"status": "unverified", "count": 1}])
    );
    for pairs in [
        &[("search", "expired")][..],
        &[("filter", r#"{"email":{"_eq":"expired@example.com"}}"#)][..],
        &[
            ("filter", r#"{"status":{"_eq":"unverified"}}"#),
            ("fields", "email"),
        ][..],
    ] {
        let reply = read(pairs, None).await.unwrap();
        let rows = reply["data"].as_array().unwrap();
        assert!(
            rows.iter()
                .all(|row| row["email"] != json!("expired@example.com")),
            "{pairs:?}: {reply}"
        );
    }
    let one = read(&[], Some(expired.id.clone())).await.unwrap_err();
    assert_eq!(one.code(), "FORBIDDEN");
}

#[tokio::test]
async fn a_directory_index_without_expiry_is_made_again_by_ensure_tables() {
    use aws_sdk_dynamodb::types::{
        CreateGlobalSecondaryIndexAction, DeleteGlobalSecondaryIndexAction,
        GlobalSecondaryIndexUpdate, KeySchemaElement, KeyType, Projection, ProjectionType,
    };
    let store = fresh_store().await;
    let table = store.tables().users.clone();
    let update = |change: GlobalSecondaryIndexUpdate| {
        store
            .client()
            .update_table()
            .table_name(&table)
            .attribute_definitions(
                aws_sdk_dynamodb::types::AttributeDefinition::builder()
                    .attribute_name("directory")
                    .attribute_type(aws_sdk_dynamodb::types::ScalarAttributeType::S)
                    .build()
                    .unwrap(),
            )
            .attribute_definitions(
                aws_sdk_dynamodb::types::AttributeDefinition::builder()
                    .attribute_name("id")
                    .attribute_type(aws_sdk_dynamodb::types::ScalarAttributeType::S)
                    .build()
                    .unwrap(),
            )
            .global_secondary_index_updates(change)
            .send()
    };
    // The index as the version before expiry was projected made it.
    update(
        GlobalSecondaryIndexUpdate::builder()
            .delete(
                DeleteGlobalSecondaryIndexAction::builder()
                    .index_name("directory")
                    .build()
                    .unwrap(),
            )
            .build(),
    )
    .await
    .unwrap();
    let key = |name: &str, key_type| {
        KeySchemaElement::builder()
            .attribute_name(name)
            .key_type(key_type)
            .build()
            .unwrap()
    };
    update(
        GlobalSecondaryIndexUpdate::builder()
            .create(
                CreateGlobalSecondaryIndexAction::builder()
                    .index_name("directory")
                    .key_schema(key("directory", KeyType::Hash))
                    .key_schema(key("id", KeyType::Range))
                    .projection(
                        Projection::builder()
                            .projection_type(ProjectionType::Include)
                            .set_non_key_attributes(Some(
                                shared::store::USER_DIRECTORY_PROJECTION[..7]
                                    .iter()
                                    .map(|a| (*a).to_owned())
                                    .collect(),
                            ))
                            .build(),
                    )
                    .build()
                    .unwrap(),
            )
            .build(),
    )
    .await
    .unwrap();
    let mut unverified = new_user("stale@example.com");
    unverified.status = UserStatus::Unverified;
    store
        .create_user_expiring(unverified, Some(now() - 1))
        .await
        .unwrap();
    // That index cannot tell the account expired.
    let before = store.query_user_directory(None, 100, true).await.unwrap();
    assert_eq!(before.users.len(), 1);

    ensure_tables(store.client(), store.tables()).await.unwrap();
    let after = store.query_user_directory(None, 100, true).await.unwrap();
    assert!(after.users.is_empty(), "{:?}", after.users);
    assert_eq!(after.expired, 1);
}

/// A store seeded with infra/seed.json (its public create permission on users) whose settings
/// are changed by `change`, and a state over it.
async fn registration_state(change: impl FnOnce(&mut shared::domain::model::Settings)) -> AppState {
    let store = seeded_store().await;
    let mut settings = store.settings().await.unwrap().unwrap();
    change(&mut settings);
    store.put_settings(&settings).await.unwrap();
    state_for(store)
}

/// The verification token of the registration `pending` of `user` (its own when `None`), as
/// the mail would carry it.
fn verification_token(
    state: &AppState,
    user: &shared::domain::model::User,
    pending: Option<&shared::store::PendingRegistration>,
) -> String {
    use shared::credential::link_token::{Scope, password_fingerprint};
    let password = pending.map_or(user.password.as_ref(), |p| Some(&p.password));
    let now = u64::try_from(now()).unwrap();
    let (token, _) = state
        .links
        .issue(
            Scope::PendingRegistration,
            &user.id,
            &user.email,
            pending.map(|p| p.id.clone()),
            Some(password_fingerprint(password)),
            now,
            std::time::Duration::from_secs(600),
            None,
        )
        .unwrap();
    token.expose().to_owned()
}

async fn login_status(state: &AppState, email: &str, password: &str) -> u16 {
    let body = json!({"email": email, "password": password});
    match shared::adapters::rest::login(state, &cheap_passwords(), &post(body)).await {
        Ok(response) => response.status().as_u16(),
        Err(error) => shared::adapters::http::status_of(&error).as_u16(),
    }
}

/// Registers `email` with `password` (and `first_name`) through `users/register`.
async fn register_as(state: &AppState, email: &str, password: &str, first_name: &str) {
    let body = json!({"email": email, "password": password, "first_name": first_name});
    let response = shared::adapters::rest::register(state, &cheap_passwords(), &post(body))
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 204);
}

#[tokio::test]
async fn registering_an_unverified_address_again_records_a_registration_beside_the_account() {
    let state = registration_state(|s| s.public_registration_verify_email = true).await;
    let email = "owner@example.com";
    register_as(&state, email, "owner-password-1", "Owner").await;
    let (account, none) = {
        let user = state
            .store
            .find_user_by_email(email)
            .await
            .unwrap()
            .unwrap();
        state
            .store
            .get_user_with_registrations(&user.id)
            .await
            .unwrap()
            .unwrap()
    };
    assert!(none.is_empty());
    register_as(&state, email, "intruder-password-1", "Intruder").await;
    let (same, later) = state
        .store
        .get_user_with_registrations(&account.id)
        .await
        .unwrap()
        .unwrap();
    // The account is untouched: its password and names are the first registration's.
    assert_eq!(same.password, account.password);
    assert_eq!(same.first_name.as_deref(), Some("Owner"));
    assert_eq!(same.status, UserStatus::Unverified);
    assert_eq!(later.len(), 1);
    assert_ne!(Some(&later[0].password), account.password.as_ref());
    assert_eq!(later[0].first_name.as_deref(), Some("Intruder"));

    let own = verification_token(&state, &account, None);
    let theirs = verification_token(&state, &account, Some(&later[0]));
    // A link naming a registration the account does not record, or with another password.
    let mut forged = later[0].clone();
    forged.id = "f".repeat(32);
    let unknown = verification_token(&state, &account, Some(&forged));
    let mut wrong_password = later[0].clone();
    wrong_password.password = account.password.clone().unwrap();
    let mismatched = verification_token(&state, &account, Some(&wrong_password));
    for token in [unknown, mismatched] {
        let refused =
            shared::flows::verification::verify_registration(&state, &token, present()).await;
        assert_eq!(refused.unwrap_err().code(), "INVALID_PAYLOAD");
    }

    // The owner's link: the owner's password.
    shared::flows::verification::verify_registration(&state, &own, present())
        .await
        .unwrap();
    assert_eq!(login_status(&state, email, "owner-password-1").await, 200);
    assert_eq!(
        login_status(&state, email, "intruder-password-1").await,
        401
    );
    // The first link used wins: the later registration's link is a used one now.
    let late = shared::flows::verification::verify_registration(&state, &theirs, present()).await;
    assert_eq!(late.unwrap_err().code(), "INVALID_PAYLOAD");
    let (active, left) = state
        .store
        .get_user_with_registrations(&account.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(active.status, UserStatus::Active);
    assert!(left.is_empty(), "the later registrations are forgotten");
    assert_eq!(login_status(&state, email, "owner-password-1").await, 200);
    // Registering the active address again records nothing.
    register_as(&state, email, "third-password-11", "Third").await;
    let (_, none) = state
        .store
        .get_user_with_registrations(&account.id)
        .await
        .unwrap()
        .unwrap();
    assert!(none.is_empty());
}

#[tokio::test]
async fn a_later_registrations_link_activates_it_with_its_password_and_names() {
    let state = registration_state(|s| s.public_registration_verify_email = true).await;
    let email = "second@example.com";
    register_as(&state, email, "first-password-1", "First").await;
    register_as(&state, email, "second-password-1", "Second").await;
    let user = state
        .store
        .find_user_by_email(email)
        .await
        .unwrap()
        .unwrap();
    let (account, later) = state
        .store
        .get_user_with_registrations(&user.id)
        .await
        .unwrap()
        .unwrap();
    let theirs = verification_token(&state, &account, Some(&later[0]));
    shared::flows::verification::verify_registration(&state, &theirs, present())
        .await
        .unwrap();
    assert_eq!(login_status(&state, email, "second-password-1").await, 200);
    assert_eq!(login_status(&state, email, "first-password-1").await, 401);
    let active = state.store.get_user(&user.id).await.unwrap().unwrap();
    assert_eq!(active.first_name.as_deref(), Some("Second"));
    let own = verification_token(&state, &account, None);
    let late = shared::flows::verification::verify_registration(&state, &own, present()).await;
    assert_eq!(late.unwrap_err().code(), "INVALID_PAYLOAD");
    assert_eq!(login_status(&state, email, "second-password-1").await, 200);
}

#[tokio::test]
async fn concurrent_verifications_of_two_registrations_activate_exactly_one() {
    let state = registration_state(|s| s.public_registration_verify_email = true).await;
    let email = "race@example.com";
    register_as(&state, email, "first-password-1", "First").await;
    register_as(&state, email, "second-password-1", "Second").await;
    let user = state
        .store
        .find_user_by_email(email)
        .await
        .unwrap()
        .unwrap();
    let (account, later) = state
        .store
        .get_user_with_registrations(&user.id)
        .await
        .unwrap()
        .unwrap();
    let own = verification_token(&state, &account, None);
    let theirs = verification_token(&state, &account, Some(&later[0]));
    let (a, b) = tokio::join!(
        shared::flows::verification::verify_registration(&state, &own, present()),
        shared::flows::verification::verify_registration(&state, &theirs, present()),
    );
    assert_eq!(u8::from(a.is_ok()) + u8::from(b.is_ok()), 1, "{a:?} {b:?}");
    let loser = if a.is_ok() { b } else { a };
    assert_eq!(loser.unwrap_err().code(), "INVALID_PAYLOAD");
    let winner = if login_status(&state, email, "first-password-1").await == 200 {
        "first"
    } else {
        "second"
    };
    let other = if winner == "first" { "second" } else { "first" };
    assert_eq!(
        login_status(&state, email, &format!("{winner}-password-1")).await,
        200
    );
    assert_eq!(
        login_status(&state, email, &format!("{other}-password-1")).await,
        401
    );
}

#[tokio::test]
async fn an_unverified_account_records_the_latest_later_registrations() {
    let store = fresh_store().await;
    let mut unverified = new_user("bounded@example.com");
    unverified.status = UserStatus::Unverified;
    let user = store
        .create_user_expiring(unverified, Some(now() + 600))
        .await
        .unwrap();
    let later = |i: usize| shared::store::PendingRegistration {
        id: format!("registration-{i}"),
        password: Sensitive::new(format!("$argon2id$hash-{i}")),
        first_name: None,
        last_name: None,
    };
    for i in 0..shared::store::MAX_PENDING_REGISTRATIONS {
        store
            .add_pending_registration(&user.id, &later(i))
            .await
            .unwrap();
    }
    // Full: the newest registration pushes out the oldest, so whoever registers last always
    // gets a link (five registrations by someone else cannot lock the owner out).
    store
        .add_pending_registration(&user.id, &later(99))
        .await
        .unwrap();
    let (_, recorded) = store
        .get_user_with_registrations(&user.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        recorded.iter().map(|r| r.id.clone()).collect::<Vec<_>>(),
        (1..shared::store::MAX_PENDING_REGISTRATIONS)
            .map(|i| format!("registration-{i}"))
            .chain(["registration-99".to_owned()])
            .collect::<Vec<_>>()
    );
    // An active account, or an expired one, records none.
    let active = store
        .create_user(new_user("active@example.com"))
        .await
        .unwrap();
    assert!(matches!(
        store.add_pending_registration(&active.id, &later(0)).await,
        Err(StoreError::Stale)
    ));
    let mut expired = new_user("expired@example.com");
    expired.status = UserStatus::Unverified;
    let expired = store
        .create_user_expiring(expired, Some(now() - 1))
        .await
        .unwrap();
    assert!(matches!(
        store.add_pending_registration(&expired.id, &later(0)).await,
        Err(StoreError::Stale)
    ));
    // Nor an unverified account without an expiry (an administrator's, not a registration's):
    // nobody may attach a password to it.
    let mut permanent = new_user("permanent-unverified@example.com");
    permanent.status = UserStatus::Unverified;
    let permanent = store.create_user(permanent).await.unwrap();
    assert!(matches!(
        store
            .add_pending_registration(&permanent.id, &later(0))
            .await,
        Err(StoreError::Stale)
    ));
    // An administrator activating the account forgets them.
    store
        .update_user(
            &store.get_user(&user.id).await.unwrap().unwrap(),
            &shared::store::UserChanges {
                status: Some(UserStatus::Active),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let (_, left) = store
        .get_user_with_registrations(&user.id)
        .await
        .unwrap()
        .unwrap();
    assert!(left.is_empty());
}

/// `POST /users` without a caller (seed 001's public create).
async fn public_create(
    state: &AppState,
    email: &str,
) -> Result<u16, shared::domain::error::ApiError> {
    let body = json!({"email": email, "password": "d1r3ctu5"});
    shared::adapters::rest::create_user(state, &cheap_passwords(), &post(body))
        .await
        .map(|response| response.status().as_u16())
}

#[tokio::test]
async fn public_user_creation_follows_the_registration_settings() {
    // Closed: the answer users/register gives, and nothing written.
    let closed = registration_state(|s| s.public_registration = false).await;
    let refused = public_create(&closed, "closed@example.com")
        .await
        .unwrap_err();
    let register_refused = shared::adapters::rest::register(
        &closed,
        &cheap_passwords(),
        &post(json!({"email": "closed@example.com", "password": "d1r3ctu5"})),
    )
    .await
    .unwrap_err();
    assert_eq!(
        shared::adapters::http::respond(Err(refused)).into_body(),
        shared::adapters::http::respond(Err(register_refused)).into_body()
    );
    assert!(
        closed
            .store
            .find_user_by_email("closed@example.com")
            .await
            .unwrap()
            .is_none()
    );
    // An administrator still creates users.
    let admin_role = "7c1e2d3f-4a5b-4c6d-8e9f-0a1b2c3d4e5f";
    shared::flows::provision::create_user(
        &closed.store,
        &cheap_passwords(),
        "admin@example.com",
        &Sensitive::new("a long operator password"),
        Some(admin_role),
    )
    .await
    .unwrap();
    let login = shared::adapters::rest::login(
        &closed,
        &cheap_passwords(),
        &post(json!({"email": "admin@example.com", "password": "a long operator password"})),
    )
    .await
    .unwrap();
    let token = data_of(&login)["access_token"].as_str().unwrap().to_owned();
    let by_admin = http::Request::builder()
        .header("content-type", "application/json")
        .header("authorization", format!("Bearer {token}"))
        .method("POST")
        .body(Body::Text(
            json!({"email": "made@example.com", "password": "d1r3ctu5"}).to_string(),
        ))
        .unwrap();
    let made = shared::adapters::rest::create_user(&closed, &cheap_passwords(), &by_admin)
        .await
        .unwrap();
    assert_eq!(made.status().as_u16(), 200);

    // The email filter.
    let filtered = registration_state(|s| {
        s.public_registration_email_filter = Some(json!({"email": {"_ends_with": "@acme.com"}}));
    })
    .await;
    let outsider = public_create(&filtered, "x@example.com").await.unwrap_err();
    assert_eq!(outsider.code(), "FORBIDDEN");
    assert!(
        filtered
            .store
            .find_user_by_email("x@example.com")
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(public_create(&filtered, "x@acme.com").await.unwrap(), 204);

    // Verification on: an unverified account that expires, as users/register makes one.
    let verified = registration_state(|s| s.public_registration_verify_email = true).await;
    assert_eq!(
        public_create(&verified, "v@example.com").await.unwrap(),
        204
    );
    let user = verified
        .store
        .find_user_by_email("v@example.com")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(user.status, UserStatus::Unverified);
    assert_eq!(
        login_status(&verified, "v@example.com", "d1r3ctu5").await,
        401
    );
    let item = verified
        .store
        .client()
        .get_item()
        .table_name(&verified.store.tables().users)
        .key(
            "pk",
            aws_sdk_dynamodb::types::AttributeValue::S(format!("user#{}", user.id)),
        )
        .consistent_read(true)
        .send()
        .await
        .unwrap()
        .item
        .unwrap();
    assert!(item.contains_key("expires_at"), "the account expires");
    // Created again (by anyone): the account keeps its password; the registration is recorded.
    assert_eq!(
        public_create(&verified, "v@example.com").await.unwrap(),
        204
    );
    let (same, later) = verified
        .store
        .get_user_with_registrations(&user.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(same.password, user.password);
    assert_eq!(later.len(), 1);
    // Verified with its own link, the account has the first password.
    shared::flows::verification::verify_registration(
        &verified,
        &verification_token(&verified, &user, None),
        present(),
    )
    .await
    .unwrap();
    assert_eq!(
        login_status(&verified, "v@example.com", "d1r3ctu5").await,
        200
    );
}

#[tokio::test]
async fn a_verification_cancelled_by_a_conflict_is_retried_to_the_normal_answer() {
    use shared::store::Activation;
    let store = fresh_store().await;
    let mut unverified = new_user("contended-link@example.com");
    unverified.status = UserStatus::Unverified;
    let user = store
        .create_user_expiring(unverified, Some(now() + 600))
        .await
        .unwrap();
    let password_hash = user.password.clone().unwrap();
    let own = Activation::Account {
        password_hash: &password_hash,
    };
    // Contention that never ends is a 503's Conflict, and writes nothing.
    let endless = with_conflicts(&store, 100)
        .activate_unverified(&user.id, &user.email, &own)
        .await;
    assert!(matches!(endless, Err(StoreError::Conflict)), "{endless:?}");
    let still = store.get_user(&user.id).await.unwrap().unwrap();
    assert_eq!(still.status, UserStatus::Unverified);
    // Two conflicts, then the write goes through.
    with_conflicts(&store, 2)
        .activate_unverified(&user.id, &user.email, &own)
        .await
        .unwrap();
    let active = store.get_user(&user.id).await.unwrap().unwrap();
    assert_eq!(active.status, UserStatus::Active);
    // A retried loser finds the account active: the used link's answer.
    let again = with_conflicts(&store, 1)
        .activate_unverified(&user.id, &user.email, &own)
        .await;
    assert!(matches!(again, Err(StoreError::Stale)), "{again:?}");
}

#[tokio::test]
async fn an_administrator_setting_an_unverified_accounts_password_voids_its_later_registrations() {
    let store = fresh_store().await;
    let mut unverified = new_user("admin-set@example.com");
    unverified.status = UserStatus::Unverified;
    let user = store
        .create_user_expiring(unverified, Some(now() + 600))
        .await
        .unwrap();
    let later = shared::store::PendingRegistration {
        id: "later".into(),
        password: Sensitive::new("$argon2id$later"),
        first_name: None,
        last_name: None,
    };
    store
        .add_pending_registration(&user.id, &later)
        .await
        .unwrap();
    store
        .update_user(
            &user,
            &shared::store::UserChanges {
                password_hash: Some(Sensitive::new("$argon2id$chosen-by-an-administrator")),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let (still, left) = store
        .get_user_with_registrations(&user.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(still.status, UserStatus::Unverified);
    assert!(left.is_empty());
    // The later registration's link can no longer activate its password.
    let activation = shared::store::Activation::Pending {
        index: 0,
        registration: &later,
    };
    let refused = store
        .activate_unverified(&user.id, &user.email, &activation)
        .await;
    assert!(matches!(refused, Err(StoreError::Stale)), "{refused:?}");
}

// ------------------------------------------------------------------------------------------
// Revocation cut-offs in milliseconds, stale session cookies on public routes, and an
// administrator's update as one write.

/// A role that may read posts and change its own password (a self-service password change).
async fn with_own_password_role(store: &Store) {
    Document::from_json(
        &json!({
            "policies": [{
                "id": "own-password",
                "name": "Own password",
                "permissions": [
                    {"collection": "posts", "action": "read", "fields": ["*"]},
                    {"collection": "directus_users", "action": "read", "fields": ["id"],
                     "permissions": {"id": {"_eq": "$CURRENT_USER"}}},
                    {"collection": "directus_users", "action": "update", "fields": ["password"],
                     "permissions": {"id": {"_eq": "$CURRENT_USER"}}}
                ]
            }],
            "roles": [{"id": "changer", "name": "Changer", "policies": ["own-password"]}]
        })
        .to_string(),
    )
    .unwrap()
    .apply(store)
    .await
    .unwrap();
}

/// Logs in from its own client address (the login budget is per address) and returns the
/// access token.
async fn access_token_from(state: &AppState, address: &str, email: &str, password: &str) -> String {
    let login = shared::adapters::rest::login(
        state,
        &cheap_passwords(),
        &post_from(address, json!({"email": email, "password": password})),
    )
    .await
    .unwrap_or_else(|e| panic!("{email} logs in: {e}"));
    data_of(&login)["access_token"].as_str().unwrap().to_owned()
}

/// Waits until at least 600 ms of the current second are left, so what follows fits in it.
async fn early_in_a_second() {
    while shared::store::now_millis() % 1000 > 400 {
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn a_revocation_ends_the_tokens_of_its_second_issued_before_it_and_not_those_after() {
    use shared::credential::link_token::{Scope, password_fingerprint};
    use shared::flows::provision::{AccountAction, account_action, set_password};
    let store = seeded_store().await;
    with_own_password_role(&store).await;
    let state = state_with(store.clone(), &[("PERMISSIONS_CACHE_TTL", "0")]);
    let passwords = cheap_passwords();
    for kind in ["reset", "own-change", "end-sessions", "set-password"] {
        let email = format!("same-second-{kind}@example.com");
        let mut new = new_user(&email);
        new.role = Some("changer".into());
        new.password_hash = passwords
            .hash(&Sensitive::new("first-password"))
            .await
            .unwrap();
        store.create_user(new).await.unwrap();
        let mut password = "first-password".to_owned();
        for attempt in 0.. {
            assert!(
                attempt < 20,
                "{kind}: the logins and the revocation never fit one second"
            );
            let address = format!("198.51.100.{attempt}");
            let login = |password: String| {
                let (state, address, email) = (&state, address.clone(), email.clone());
                async move { access_token_from(state, &address, &email, &password).await }
            };
            let changer = login(password.clone()).await;
            early_in_a_second().await;
            let before = login(password.clone()).await;
            let next = format!("{kind}-passphrase-{attempt}");
            let user = store.find_user_by_email(&email).await.unwrap().unwrap();
            match kind {
                "reset" => {
                    let token_id = format!("same-second-{attempt}");
                    store
                        .put_reset_token(&token_id, &user.id, now() + 600)
                        .await
                        .unwrap();
                    let (token, _) = state
                        .links
                        .issue(
                            Scope::PasswordReset,
                            &user.id,
                            &user.email,
                            Some(token_id),
                            Some(password_fingerprint(user.password.as_ref())),
                            u64::try_from(now()).unwrap(),
                            std::time::Duration::from_secs(600),
                            None,
                        )
                        .unwrap();
                    shared::flows::password_reset::reset_password(
                        &state,
                        &passwords,
                        shared::flows::password_reset::PasswordReset {
                            token,
                            password: Sensitive::new(next.clone()),
                        },
                        &shared::domain::client::Client::default(),
                        present(),
                    )
                    .await
                    .unwrap();
                    password = next;
                }
                "own-change" => {
                    let claims = state.tokens.verify(&changer).unwrap();
                    shared::flows::users::update_me(
                        &state,
                        &passwords,
                        &claims,
                        json!({"password": next}).as_object().unwrap().clone(),
                        None,
                        &shared::domain::client::Client {
                            ip: Some(address.clone()),
                            ..Default::default()
                        },
                        present(),
                    )
                    .await
                    .unwrap();
                    password = next;
                }
                "end-sessions" => {
                    account_action(&store, &email, AccountAction::EndSessions)
                        .await
                        .unwrap();
                }
                _ => {
                    set_password(&store, &passwords, &email, &Sensitive::new(next.clone()))
                        .await
                        .unwrap();
                    password = next;
                }
            }
            let after = login(password.clone()).await;
            let cut_off = store
                .find_user_by_email(&email)
                .await
                .unwrap()
                .unwrap()
                .cut_off()
                .at_ms
                .expect("the revocation stamped its cut-off");
            let second = u64::try_from(cut_off / 1000).unwrap();
            let iat = |token: &str| state.tokens.verify(token).unwrap().iat;
            if iat(&before) != second || iat(&after) != second {
                continue;
            }
            assert_eq!(
                get_posts(&state, &before).await,
                Err("INVALID_CREDENTIALS".into()),
                "{kind}: a token issued just before the revocation, in its second"
            );
            assert_eq!(
                get_posts(&state, &after).await,
                Ok(200),
                "{kind}: a login just after the revocation, in its second"
            );
            if kind == "own-change" {
                // The session that made the change lives on.
                assert_eq!(get_posts(&state, &changer).await, Ok(200));
            }
            break;
        }
    }
}

#[tokio::test]
async fn a_session_mode_token_is_over_once_its_session_began_before_the_cut_off() {
    // A session the lagging by-user index did not list when the user's sessions were ended:
    // its item survives, and its cookie must not.
    let store = seeded_store().await;
    let state = state_with(store.clone(), &[("PERMISSIONS_CACHE_TTL", "0")]);
    let email = "lagging-session@example.com";
    logged_in(&state, email).await;
    let login = shared::adapters::rest::login(
        &state,
        &cheap_passwords(),
        &post(json!({"email": email, "password": "d1r3ctu5", "mode": "session"})),
    )
    .await
    .unwrap();
    let cookie = login
        .headers()
        .get_all("set-cookie")
        .iter()
        .find_map(|c| {
            c.to_str()
                .unwrap()
                .strip_prefix("directus_session_token=")
                .map(|rest| rest.split(';').next().unwrap().to_owned())
        })
        .expect("the session cookie");
    let mut claims: Value = jsonwebtoken::dangerous::insecure_decode_claims(&cookie).unwrap();
    assert!(claims["session_created_ms"].is_i64(), "{claims}");
    let user = store.find_user_by_email(email).await.unwrap().unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    store.invalidate_tokens(&user.id).await.unwrap();

    let check = |token: String| {
        let state = &state;
        async move {
            shared::flows::caller::verify(
                state,
                Some(&shared::domain::client::Presented {
                    token,
                    source: shared::adapters::http::TokenSource::Cookie,
                }),
                &shared::domain::client::Site::default(),
                shared::adapters::http::now(),
            )
            .await
            .map(|claims| claims.map(|c| c.id))
            .map_err(|e| e.code().to_owned())
        }
    };
    assert_eq!(check(cookie).await, Err("INVALID_CREDENTIALS".into()));
    // The same cookie as an earlier version issued it (no session_created_ms) and stamped a
    // second after the cut-off: its `iat` alone would pass; its session's start does not.
    let object = claims.as_object_mut().unwrap();
    object.remove("session_created_ms");
    let later = user_cut_off_second(&store, &user.id).await + 1;
    claims["iat"] = json!(later);
    claims["exp"] = json!(later + 3600);
    let legacy = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(b"integration-secret-of-at-least-32-bytes"),
    )
    .unwrap();
    assert_eq!(check(legacy).await, Err("INVALID_CREDENTIALS".into()));
}

async fn user_cut_off_second(store: &Store, id: &str) -> i64 {
    store
        .get_user(id)
        .await
        .unwrap()
        .unwrap()
        .cut_off()
        .at_ms
        .unwrap()
        / 1000
}

fn request(method: &str, uri: &str, headers: &[(&str, &str)], body: Value) -> lambda_http::Request {
    let mut builder = http::Request::builder()
        .method(method)
        .uri(uri)
        .header("content-type", "application/json");
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    builder.body(Body::Text(body.to_string())).unwrap()
}

fn set_cookies(response: &lambda_http::Response<Body>) -> Vec<String> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn a_stale_session_cookie_does_not_keep_its_owner_from_signing_in() {
    let store = seeded_store().await;
    let state = state_with(store.clone(), &[("PERMISSIONS_CACHE_TTL", "0")]);
    let passwords = cheap_passwords();
    let email = "stale-cookie@example.com";
    logged_in(&state, email).await;
    let credentials = |mode: &str| json!({"email": email, "password": "d1r3ctu5", "mode": mode});
    let session = shared::adapters::rest::login(&state, &passwords, &post(credentials("session")))
        .await
        .unwrap();
    let cookie = set_cookies(&session)[0]
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    // The server ends the session (a reset, reuse detection, an administrator).
    shared::flows::provision::account_action(
        &store,
        email,
        shared::flows::provision::AccountAction::EndSessions,
    )
    .await
    .unwrap();
    let clear = shared::adapters::http::set_cookie(&state.config.session_cookie, "", 0);

    for mode in ["json", "cookie"] {
        let login = shared::adapters::rest::login(
            &state,
            &passwords,
            &request(
                "POST",
                "/auth/login",
                &[("cookie", &cookie)],
                credentials(mode),
            ),
        )
        .await
        .unwrap_or_else(|e| panic!("{mode}: {e}"));
        assert_eq!(login.status(), 200, "{mode}");
        assert!(
            set_cookies(&login).contains(&clear),
            "{mode}: {:?}",
            set_cookies(&login)
        );
    }
    // Session mode sets the new cookie, and only that one.
    let login = shared::adapters::rest::login(
        &state,
        &passwords,
        &request(
            "POST",
            "/auth/login",
            &[("cookie", &cookie)],
            credentials("session"),
        ),
    )
    .await
    .unwrap();
    let session_cookies: Vec<String> = set_cookies(&login)
        .into_iter()
        .filter(|c| c.starts_with("directus_session_token="))
        .collect();
    assert_eq!(session_cookies.len(), 1, "{session_cookies:?}");
    assert_ne!(session_cookies[0], clear);
    // A failed login with the stale cookie is answered as a failed login, the cookie cleared.
    let wrong = shared::adapters::rest::login(
        &state,
        &passwords,
        &request(
            "POST",
            "/auth/login",
            &[("cookie", &cookie)],
            json!({"email": email, "password": "not-the-password"}),
        ),
    )
    .await
    .unwrap();
    assert_eq!(wrong.status(), 401);
    assert!(set_cookies(&wrong).contains(&clear));
    // Registration too.
    let register = shared::adapters::rest::register(
        &state,
        &passwords,
        &request(
            "POST",
            "/users/register",
            &[("cookie", &cookie)],
            json!({"email": "someone-else@example.com", "password": "d1r3ctu5"}),
        ),
    )
    .await
    .unwrap();
    assert_eq!(register.status(), 204);
    assert!(set_cookies(&register).contains(&clear));
    // The same token as a bearer token still fails: the client chose to send it.
    let stale = cookie.split_once('=').unwrap().1;
    let bearer = shared::adapters::rest::login(
        &state,
        &passwords,
        &request(
            "POST",
            "/auth/login",
            &[("authorization", &format!("Bearer {stale}"))],
            credentials("json"),
        ),
    )
    .await;
    assert_eq!(bearer.unwrap_err().code(), "INVALID_CREDENTIALS");
    // And a route that acts for its caller still refuses the cookie.
    let me = shared::adapters::rest::read_me(
        &state,
        &request("GET", "/users/me", &[("cookie", &cookie)], Value::Null),
    )
    .await;
    assert_eq!(me.unwrap_err().code(), "INVALID_CREDENTIALS");
}

#[tokio::test]
async fn an_administrators_update_is_checked_first_and_written_at_once() {
    let store = seeded_store().await;
    let state = state_with(store.clone(), &[("PERMISSIONS_CACHE_TTL", "0")]);
    let passwords = cheap_passwords();
    let admin_role = "7c1e2d3f-4a5b-4c6d-8e9f-0a1b2c3d4e5f";
    let user_role = "0b6f1f0e-7c1d-4c8e-9f55-6a2b9d7e3c10";
    let read_posts = "5e4a4c51-2d0a-4a43-9b8e-3c1f0f6f7a01";
    shared::flows::provision::create_user(
        &store,
        &passwords,
        "patch-admin@example.com",
        &Sensitive::new("an administrator's passphrase"),
        Some(admin_role),
    )
    .await
    .unwrap();
    let admin = full_login(
        &state,
        "patch-admin@example.com",
        "an administrator's passphrase",
    )
    .await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    logged_in(&state, "taken@example.com").await;
    let refresh = logged_in(&state, "patched@example.com").await;
    let access = full_login(&state, "patched@example.com", "d1r3ctu5").await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let before = store
        .find_user_by_email("patched@example.com")
        .await
        .unwrap()
        .unwrap();
    let patch = |body: Value| {
        let (state, passwords, admin, id) = (&state, &passwords, &admin, before.id.clone());
        async move {
            shared::adapters::rest::directory::update(
                state,
                passwords,
                &request(
                    "PATCH",
                    &format!("/users/{id}"),
                    &[("authorization", &format!("Bearer {admin}"))],
                    body,
                ),
            )
            .await
        }
    };

    // A taken email, with a role, a password and policies: refused, and nothing changed.
    let refused = patch(json!({
        "role": admin_role,
        "email": "Taken@example.com",
        "password": "a new passphrase",
        "policies": [read_posts],
        "first_name": "Changed",
    }))
    .await;
    assert_eq!(refused.unwrap_err().code(), "RECORD_NOT_UNIQUE");
    let after = store.get_user(&before.id).await.unwrap().unwrap();
    assert_eq!(after, before, "the user is as it was");
    assert!(store.user_policies(&before.id).await.unwrap().is_empty());
    assert_eq!(get_posts(&state, &access).await, Ok(200), "still logged in");
    let refresh = refresh_with(&state, &refresh)
        .await
        .expect("the session lives on");

    // Everything at once.
    let done = patch(json!({
        "role": user_role,
        "email": "Moved@example.com",
        "password": "a new passphrase",
        "policies": [read_posts],
        "first_name": "Changed",
        "status": "active",
    }))
    .await
    .unwrap();
    assert_eq!(done.status(), 200);
    let after = store.get_user(&before.id).await.unwrap().unwrap();
    assert_eq!(after.email, "Moved@example.com");
    assert_eq!(after.first_name.as_deref(), Some("Changed"));
    assert_eq!(after.role.as_deref(), Some(user_role));
    assert!(
        passwords
            .verify(&Sensitive::new("a new passphrase"), after.password.as_ref())
            .await
            .unwrap()
    );
    assert_eq!(
        store.user_policies(&before.id).await.unwrap(),
        vec![read_posts]
    );
    assert!(
        after.cut_off().at_ms.is_some(),
        "a new password ends the sessions"
    );
    assert_eq!(
        get_posts(&state, &access).await,
        Err("INVALID_CREDENTIALS".into())
    );
    assert_eq!(
        refresh_with(&state, refresh["refresh_token"].as_str().unwrap())
            .await
            .unwrap_err(),
        "INVALID_CREDENTIALS"
    );
    assert!(
        store
            .find_user_by_email("patched@example.com")
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        login_code(&state, "moved@example.com", "a new passphrase")
            .await
            .is_ok()
    );
    // A name alone changes the name and ends nothing.
    let fresh = full_login(&state, "moved@example.com", "a new passphrase").await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    patch(json!({"last_name": "Renamed", "policies": []}))
        .await
        .unwrap();
    let renamed = store.get_user(&before.id).await.unwrap().unwrap();
    assert_eq!(renamed.last_name.as_deref(), Some("Renamed"));
    assert_eq!(renamed.cut_off(), after.cut_off());
    assert!(store.user_policies(&before.id).await.unwrap().is_empty());
    assert_eq!(get_posts(&state, &fresh).await, Ok(200));
}

#[tokio::test]
async fn an_update_whose_email_is_taken_writes_none_of_its_parts() {
    let store = fresh_store().await;
    let user = store
        .create_user(new_user("parts@example.com"))
        .await
        .unwrap();
    store
        .create_user(new_user("occupied@example.com"))
        .await
        .unwrap();
    let outcome = store
        .update_user(
            &user,
            &shared::store::UserChanges {
                email: Some("occupied@example.com".into()),
                password_hash: Some(Sensitive::new("$argon2id$other")),
                revocation: Some(shared::store::Revocation { keep: None }),
                policies: Some(shared::store::PolicyLinks {
                    unlink: Vec::new(),
                    link: vec!["p1".into()],
                }),
                unchanged_since: Some(user.updated_at),
                ..Default::default()
            },
        )
        .await;
    assert!(
        matches!(outcome, Err(StoreError::AlreadyExists)),
        "{outcome:?}"
    );
    assert_eq!(store.get_user(&user.id).await.unwrap().unwrap(), user);
    assert!(store.user_policies(&user.id).await.unwrap().is_empty());
    assert_eq!(
        store.email_holder("PARTS@example.com").await.unwrap(),
        Some(user.id.clone())
    );
    assert_eq!(
        store.email_holder("nobody@example.com").await.unwrap(),
        None
    );
}

mod two_factor {
    //! The second factor's conditional writes against DynamoDB: only the pending secret is
    //! enabled, a step or recovery code is spent once (also by concurrent requests), and a
    //! changed factor refuses writes meant for the old one.

    use std::collections::BTreeMap;

    use shared::domain::model::{PendingTwoFactor, TwoFactor};
    use shared::domain::sensitive::Sensitive;
    use shared::store::{Spent, Store, StoreError};

    use super::{fresh_store, new_user};

    fn factor(secret: &str, last_step: u64, digests: &[&str]) -> TwoFactor {
        TwoFactor {
            secret: Sensitive::new(secret),
            last_step: Some(last_step),
            recovery: digests
                .iter()
                .map(|d| ((*d).to_owned(), true))
                .collect::<BTreeMap<_, _>>(),
            enabled_at: 1,
        }
    }

    async fn user_with_pending(store: &Store, pending: &str) -> String {
        let user = store
            .create_user(new_user(&format!("{}@example.com", uuid::Uuid::new_v4())))
            .await
            .unwrap();
        store
            .set_pending_two_factor(
                &user.id,
                &PendingTwoFactor {
                    secret: Sensitive::new(pending),
                    expires_at: i64::MAX,
                },
            )
            .await
            .unwrap();
        user.id
    }

    #[tokio::test]
    async fn only_the_pending_secret_is_enabled_once_and_the_other_sessions_cut_off() {
        let store = fresh_store().await;
        let id = user_with_pending(&store, "v1.k.pending").await;
        let enabled = factor("v1.k.sealed", 100, &["d1", "d-2_x"]);
        let other = store
            .enable_two_factor(&id, &Sensitive::new("v1.k.other"), &enabled, None)
            .await;
        assert!(matches!(other, Err(StoreError::Stale)), "{other:?}");
        store
            .enable_two_factor(&id, &Sensitive::new("v1.k.pending"), &enabled, Some("s1"))
            .await
            .unwrap();
        let user = store.get_user(&id).await.unwrap().unwrap();
        assert_eq!(user.two_factor.as_ref(), Some(&enabled));
        assert!(user.pending_two_factor.is_none());
        assert!(user.sessions_valid_after.is_some());
        assert_eq!(user.kept_session.as_deref(), Some("s1"));
        // Enabled: no second enable, no new pending secret.
        let again = store
            .enable_two_factor(&id, &Sensitive::new("v1.k.pending"), &enabled, None)
            .await;
        assert!(matches!(again, Err(StoreError::Stale)), "{again:?}");
        let pending = store
            .set_pending_two_factor(
                &id,
                &PendingTwoFactor {
                    secret: Sensitive::new("v1.k.next"),
                    expires_at: i64::MAX,
                },
            )
            .await;
        assert!(matches!(pending, Err(StoreError::Stale)), "{pending:?}");
    }

    #[tokio::test]
    async fn each_step_and_recovery_code_is_spent_once_even_by_concurrent_requests() {
        let store = fresh_store().await;
        let id = user_with_pending(&store, "p").await;
        let secret = Sensitive::new("v1.k.sealed");
        store
            .enable_two_factor(
                &id,
                &Sensitive::new("p"),
                &factor("v1.k.sealed", 100, &["d1", "d2"]),
                None,
            )
            .await
            .unwrap();
        // A step not later than the last is spent.
        for step in [99, 100] {
            let spent = store
                .spend_second_factor(&id, &secret, &Spent::Step(step), None)
                .await;
            assert!(matches!(spent, Err(StoreError::Stale)), "{step}: {spent:?}");
        }
        // Eight concurrent requests with step 101: exactly one passes.
        let attempts = (0..8).map(|_| {
            let (store, id, secret) = (store.clone(), id.clone(), secret.clone());
            tokio::spawn(async move {
                store
                    .spend_second_factor(&id, &secret, &Spent::Step(101), None)
                    .await
                    .is_ok()
            })
        });
        let mut passed = 0;
        for attempt in attempts {
            passed += usize::from(attempt.await.unwrap());
        }
        assert_eq!(passed, 1);
        let user = store.get_user(&id).await.unwrap().unwrap();
        assert_eq!(user.two_factor.as_ref().unwrap().last_step, Some(101));

        // A recovery code: once, the others stay.
        let attempts = (0..4).map(|_| {
            let (store, id, secret) = (store.clone(), id.clone(), secret.clone());
            tokio::spawn(async move {
                store
                    .spend_second_factor(&id, &secret, &Spent::Recovery("d1".into()), None)
                    .await
                    .is_ok()
            })
        });
        let mut passed = 0;
        for attempt in attempts {
            passed += usize::from(attempt.await.unwrap());
        }
        assert_eq!(passed, 1);
        let recovery = store
            .get_user(&id)
            .await
            .unwrap()
            .unwrap()
            .two_factor
            .unwrap()
            .recovery;
        assert_eq!(recovery.keys().collect::<Vec<_>>(), ["d2"]);

        // A write meant for another secret (a factor replaced meanwhile) is refused.
        let foreign = store
            .spend_second_factor(&id, &Sensitive::new("v1.k.old"), &Spent::Step(200), None)
            .await;
        assert!(matches!(foreign, Err(StoreError::Stale)), "{foreign:?}");
    }

    #[tokio::test]
    async fn resealing_replacing_codes_and_disabling_are_conditional_too() {
        let store = fresh_store().await;
        let id = user_with_pending(&store, "p").await;
        let secret = Sensitive::new("v1.old.sealed");
        store
            .enable_two_factor(
                &id,
                &Sensitive::new("p"),
                &factor("v1.old.sealed", 10, &["d1"]),
                None,
            )
            .await
            .unwrap();
        let before = store.get_user(&id).await.unwrap().unwrap().updated_at;
        let resealed = Sensitive::new("v1.new.sealed");
        store
            .spend_second_factor(&id, &secret, &Spent::Step(11), Some(&resealed))
            .await
            .unwrap();
        let user = store.get_user(&id).await.unwrap().unwrap();
        assert_eq!(user.two_factor.as_ref().unwrap().secret, resealed);
        assert_eq!(
            user.updated_at, before,
            "spending a code is no change of the user"
        );

        // New codes for a recovery code: the old map goes as a whole.
        store
            .replace_recovery_codes(
                &id,
                &resealed,
                &Spent::Recovery("d1".into()),
                &["n1".into(), "n2".into()],
            )
            .await
            .unwrap();
        let again = store
            .replace_recovery_codes(&id, &resealed, &Spent::Recovery("d1".into()), &["x".into()])
            .await;
        assert!(matches!(again, Err(StoreError::Stale)), "{again:?}");
        let recovery = store
            .get_user(&id)
            .await
            .unwrap()
            .unwrap()
            .two_factor
            .unwrap()
            .recovery;
        assert_eq!(recovery.keys().collect::<Vec<_>>(), ["n1", "n2"]);

        // Disabling with a spent step or the old secret is refused; with a fresh step it goes.
        for (sealed, step) in [(&resealed, 11), (&secret, 50)] {
            let refused = store
                .disable_two_factor(&id, sealed, &Spent::Step(step))
                .await;
            assert!(matches!(refused, Err(StoreError::Stale)), "{refused:?}");
        }
        store
            .disable_two_factor(&id, &resealed, &Spent::Step(12))
            .await
            .unwrap();
        let user = store.get_user(&id).await.unwrap().unwrap();
        assert!(user.two_factor.is_none() && user.pending_two_factor.is_none());
        // Nothing to spend any more.
        let spent = store
            .spend_second_factor(&id, &resealed, &Spent::Step(13), None)
            .await;
        assert!(matches!(spent, Err(StoreError::Stale)), "{spent:?}");
    }
}
