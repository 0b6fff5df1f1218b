//! Properties of permission evaluation, over generated rows, permissions and filters; and of
//! whole reads of `/items` and `/users` (non-interference), against an in-process dynoxide.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering as AtomicOrdering};

use proptest::prelude::*;
use serde_json::{Map, Value, json};
use shared::domain::access::filter::{FilterContext, matches};
use shared::domain::access::{Accountability, ReadPlan};
use shared::domain::model::{Collection, FieldDef, Permission, UserStatus};
use shared::domain::query::ItemsQuery;
use shared::domain::sensitive::Sensitive;
use shared::flows::items::{self, Source};
use shared::platform::config::Config;
use shared::store::{NewUser, Store, Tables, UserChanges, ensure_tables};
use shared::{AppState, flows::directory};

const FIELDS: [&str; 4] = ["id", "title", "author", "secret"];

/// The present as the flows take it (the reads compared here do not depend on it).
fn present() -> shared::flows::time::Now {
    shared::flows::time::Now::from_system(std::time::SystemTime::now())
}

fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        (-5i64..5).prop_map(Value::from),
        "[a-c]{0,3}".prop_map(Value::String),
    ]
}

fn row() -> impl Strategy<Value = Map<String, Value>> {
    (
        scalar(),
        scalar(),
        prop_oneof![Just("u1"), Just("u2")],
        scalar(),
    )
        .prop_map(|(id, title, author, secret)| {
            let mut row = Map::new();
            row.insert("id".into(), id);
            row.insert("title".into(), title);
            row.insert("author".into(), Value::String(author.into()));
            row.insert("secret".into(), secret);
            row
        })
}

fn permission() -> impl Strategy<Value = Permission> {
    (
        proptest::sample::subsequence(FIELDS.to_vec(), 1..=4),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(fields, wildcard, own_rows)| Permission {
            id: "p".into(),
            policy: "pol".into(),
            collection: "things".into(),
            action: "read".into(),
            fields: if wildcard {
                vec!["*".into()]
            } else {
                fields.into_iter().map(str::to_owned).collect()
            },
            permissions: own_rows.then(|| json!({"author": {"_eq": "$CURRENT_USER"}})),
            presets: None,
            validation: None,
        })
}

fn collection() -> Collection {
    Collection {
        collection: "things".into(),
        primary_key: "id".into(),
        fields: FIELDS
            .iter()
            .map(|f| FieldDef {
                field: (*f).into(),
                field_type: "string".into(),
                schema: None,
            })
            .collect(),
    }
}

fn caller(permissions: Vec<Permission>) -> Accountability {
    Accountability {
        user: Some("u1".into()),
        permissions,
        ..Default::default()
    }
}

fn operator_filter() -> impl Strategy<Value = Value> {
    (
        proptest::sample::select(FIELDS.to_vec()),
        proptest::sample::select(vec![
            "_eq",
            "_neq",
            "_lt",
            "_gte",
            "_null",
            "_contains",
            "_in",
        ]),
        scalar(),
    )
        .prop_map(|(field, op, value)| {
            let value = match op {
                "_null" => Value::Bool(value.is_null()),
                "_in" => json!([value, "a"]),
                "_contains" => Value::String(value.as_str().unwrap_or("a").to_owned() + "a"),
                _ => value,
            };
            json!({ field: { op: value } })
        })
}

proptest! {
    /// A value is visible only through a permission that grants its field and whose filter
    /// matches the row.
    #[test]
    fn visible_values_are_always_granted(permissions in prop::collection::vec(permission(), 1..4), row in row()) {
        let accountability = caller(permissions.clone());
        let plan = ReadPlan::new(&accountability, collection(), None, 0).unwrap();
        let context = accountability.filter_context(0);
        if let Some(visible) = plan.visible_row(&row) {
            for (field, value) in &visible {
                if value.is_null() {
                    continue;
                }
                let granted = permissions.iter().any(|p| {
                    (p.fields.iter().any(|f| f == "*" || f == field))
                        && p.permissions.as_ref().is_none_or(|f| matches(f, &row, &context).unwrap())
                });
                prop_assert!(granted, "{field} visible without a matching grant");
                prop_assert_eq!(value, &row[field]);
            }
        } else {
            let any_case = permissions.iter().any(|p| {
                p.permissions.as_ref().is_none_or(|f| matches(f, &row, &context).unwrap())
            });
            prop_assert!(!any_case, "a row some permission matches was hidden");
        }
    }

    /// Filters evaluated on the visible row cannot tell hidden values apart.
    #[test]
    fn filters_cannot_probe_hidden_values(
        permissions in prop::collection::vec(permission(), 1..4),
        row in row(),
        other_secret in scalar(),
        other_title in scalar(),
        filter in operator_filter(),
    ) {
        let accountability = caller(permissions);
        let plan = ReadPlan::new(&accountability, collection(), None, 0).unwrap();
        let Some(visible) = plan.visible_row(&row) else { return Ok(()); };
        // A field is hidden on this row when even a non-null value would show as null.
        let hidden = |field: &str| {
            let mut marked = row.clone();
            marked.insert(field.into(), json!("marker"));
            plan.visible_row(&marked).is_some_and(|v| v[field].is_null())
        };
        let mut changed = row.clone();
        if hidden("secret") { changed.insert("secret".into(), other_secret); }
        if hidden("title") { changed.insert("title".into(), other_title); }
        let changed_visible = plan.visible_row(&changed).expect("same author, same cases");
        let context = plan.filter_context();
        prop_assert_eq!(
            matches(&filter, &visible, context).unwrap(),
            matches(&filter, &changed_visible, context).unwrap()
        );
    }

    /// Each negated operator is the exact complement of its positive form.
    #[test]
    fn negated_operators_complement(value in scalar(), probe in scalar()) {
        let mut row = Map::new();
        row.insert("f".into(), value.clone());
        let context = FilterContext::default();
        let check = |op: &str, operand: Value| matches(&json!({"f": {op: operand}}), &row, &context).unwrap();
        prop_assert_ne!(check("_eq", probe.clone()), check("_neq", probe.clone()));
        prop_assert_ne!(check("_in", json!([probe.clone()])), check("_nin", json!([probe.clone()])));
        prop_assert_ne!(check("_null", json!(true)), check("_nnull", json!(true)));
        prop_assert_ne!(check("_empty", json!(true)), check("_nempty", json!(true)));
        if let Some(text) = probe.as_str().filter(|t| !t.is_empty()) {
            prop_assert_ne!(check("_contains", json!(text)), check("_ncontains", json!(text)));
            prop_assert_ne!(check("_starts_with", json!(text)), check("_nstarts_with", json!(text)));
        }
        // _and of a filter with itself is the filter; _or likewise.
        let single = json!({"f": {"_eq": probe}});
        let alone = matches(&single, &row, &context).unwrap();
        prop_assert_eq!(matches(&json!({"_and": [single.clone(), single.clone()]}), &row, &context).unwrap(), alone);
        prop_assert_eq!(matches(&json!({"_or": [single.clone(), single]}), &row, &context).unwrap(), alone);
    }
}

// Non-interference of whole reads: the same query, run through the read and aggregate paths of
// `/items` and `/users` against two datasets that differ only in values the caller's
// permissions hide, answers the same (data, meta, errors and their messages alike). Against the
// in-process dynoxide the store tests use; few cases, as each writes and reads a collection.

/// dynoxide on its own thread and runtime, shared by every case.
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

fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| tokio::runtime::Runtime::new().expect("runtime"))
}

async fn fresh_state() -> AppState {
    let prefix = format!("p{}-", uuid::Uuid::new_v4().simple());
    let store = Store::local(endpoint(), Tables::with_prefix(&prefix));
    ensure_tables(store.client(), store.tables()).await.unwrap();
    let config = Config::from_lookup(|name| {
        (name == "SECRET").then(|| "property-secret-of-at-least-32-bytes!!".to_owned())
    })
    .unwrap();
    let shared::platform::config::SecretSource::Inline(keys) = config.secret.clone() else {
        unreachable!("an inline secret was configured")
    };
    AppState::new(config, store, &keys).unwrap()
}

/// The items state, one for every case (each case writes its own collection).
fn items_state() -> &'static AppState {
    static STATE: OnceLock<AppState> = OnceLock::new();
    STATE.get_or_init(|| runtime().block_on(fresh_state()))
}

const LEDGER: [(&str, &str); 5] = [
    ("id", "integer"),
    ("title", "string"),
    ("author", "string"),
    ("secret", "string"),
    ("views", "integer"),
];
/// Fields a dataset may vary where hidden (`id` is the key, `author` what row filters test).
const VARIED: [&str; 3] = ["title", "secret", "views"];

fn ledger(name: &str) -> Collection {
    Collection {
        collection: name.into(),
        primary_key: "id".into(),
        fields: LEDGER
            .iter()
            .map(|(f, t)| FieldDef {
                field: (*f).into(),
                field_type: (*t).into(),
                schema: None,
            })
            .collect(),
    }
}

fn text() -> impl Strategy<Value = Value> {
    prop_oneof![Just(Value::Null), "[ab1]{0,2}".prop_map(Value::String)]
}

fn number() -> impl Strategy<Value = Value> {
    prop_oneof![Just(Value::Null), (0i64..4).prop_map(Value::from)]
}

/// `title`, `secret`, `views` of one row.
fn varied_values() -> impl Strategy<Value = [Value; 3]> {
    (text(), text(), number()).prop_map(|(t, s, v)| [t, s, v])
}

fn ledger_rows() -> impl Strategy<Value = Vec<(bool, [Value; 3], [Value; 3])>> {
    prop::collection::vec((any::<bool>(), varied_values(), varied_values()), 2..6)
}

fn read_permission(
    collection: &'static str,
    fields: &'static [&'static str],
    row_filter: Value,
) -> impl Strategy<Value = Permission> {
    (
        proptest::sample::subsequence(fields.to_vec(), 0..=fields.len()),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(move |(fields, wildcard, filtered)| Permission {
            id: "p".into(),
            policy: "pol".into(),
            collection: collection.into(),
            action: "read".into(),
            fields: if wildcard {
                vec!["*".into()]
            } else {
                fields.into_iter().map(str::to_owned).collect()
            },
            permissions: filtered.then(|| row_filter.clone()),
            presets: None,
            validation: None,
        })
}

fn grants(permission: &Permission, field: &str) -> bool {
    permission.fields.iter().any(|f| f == "*" || f == field)
}

/// Whether `field` is hidden on a row, decided from the permissions alone: no permission both
/// matches the row (`row_matches` tells whether a filtered one does) and grants the field.
fn hidden(permissions: &[Permission], row_matches: bool, field: &str) -> bool {
    !permissions
        .iter()
        .any(|p| (p.permissions.is_none() || row_matches) && grants(p, field))
}

fn optional<T: std::fmt::Debug + Clone + 'static>(
    values: Vec<T>,
) -> impl Strategy<Value = Option<T>> {
    prop_oneof![2 => Just(None), 1 => proptest::sample::select(values).prop_map(Some)]
}

/// A query mixing `fields`, `filter`, `search`, `sort`, `aggregate`, `groupBy`, `meta`,
/// `limit` and `offset`, over `fields` (what may be filtered, sorted, grouped, aggregated).
fn query_pairs(
    field_lists: Vec<&'static str>,
    fields: Vec<&'static str>,
    searches: Vec<&'static str>,
) -> impl Strategy<Value = Vec<(String, String)>> {
    let filter = (
        proptest::sample::select(fields.clone()),
        proptest::sample::select(vec![
            "_eq",
            "_neq",
            "_lt",
            "_gte",
            "_null",
            "_contains",
            "_contains",
            "_starts_with",
            "_in",
        ]),
        prop_oneof![
            1 => text(),
            1 => number(),
            2 => "[ab]".prop_map(Value::String)
        ],
    )
        .prop_map(|(field, op, value)| {
            let value = match op {
                "_null" => Value::Bool(value.is_null()),
                "_in" => json!([value]),
                "_contains" => Value::String(value.as_str().unwrap_or("a").to_owned()),
                _ => value,
            };
            json!({ field: { op: value } }).to_string()
        });
    let sorts: Vec<String> = fields
        .iter()
        .flat_map(|f| [(*f).to_owned(), format!("-{f}")])
        .chain(["count".to_owned(), "-count".to_owned()])
        .collect();
    let aggregate = (
        proptest::sample::select(vec!["count", "countDistinct", "sum", "avg", "min", "max"]),
        proptest::sample::select(
            std::iter::once("*")
                .chain(fields.iter().copied())
                .collect::<Vec<_>>(),
        ),
    );
    (
        optional(field_lists),
        prop_oneof![2 => Just(None), 1 => filter.prop_map(Some)],
        prop_oneof![
            Just(None),
            proptest::sample::select(searches).prop_map(Some)
        ],
        optional(sorts),
        prop_oneof![2 => Just(None), 1 => aggregate.prop_map(Some)],
        optional(fields),
        prop_oneof![
            Just(None),
            proptest::sample::select(vec!["total_count", "filter_count", "*"]).prop_map(Some)
        ],
        2usize..6,
        prop_oneof![3 => Just(0usize), 1 => Just(1usize)],
    )
        .prop_map(
            |(fields, filter, search, sort, aggregate, group_by, meta, limit, offset)| {
                let mut pairs = vec![
                    ("limit".to_owned(), limit.to_string()),
                    ("offset".to_owned(), offset.to_string()),
                ];
                let mut add = |key: &str, value: Option<String>| {
                    if let Some(value) = value {
                        pairs.push((key.to_owned(), value));
                    }
                };
                add("fields", fields.map(str::to_owned));
                add("filter", filter);
                add("search", search.map(str::to_owned));
                add("sort", sort);
                if let Some((function, field)) = aggregate {
                    add(&format!("aggregate[{function}]"), Some(field.to_owned()));
                }
                add("groupBy[]", group_by.map(str::to_owned));
                add("meta", meta.map(str::to_owned));
                pairs
            },
        )
}

/// An answer as the caller receives it: the body, or the error's code and message.
fn answer(
    result: Result<Value, shared::domain::error::ApiError>,
) -> Result<Value, (String, String)> {
    result.map_err(|e| (e.code().to_owned(), e.to_string()))
}

static CASE: AtomicUsize = AtomicUsize::new(0);

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    /// `/items`: reads of the whole collection and of each item, with any mix of query
    /// parameters, cannot tell two datasets apart that differ only where the caller is blind.
    #[test]
    fn items_reads_cannot_tell_hidden_values_apart(
        permissions in prop::collection::vec(
            read_permission("ledger", &["id", "title", "author", "secret", "views"], json!({"author": {"_eq": "$CURRENT_USER"}})),
            1..4,
        ),
        rows in ledger_rows(),
        unseen in prop::collection::vec(varied_values(), 0..3),
        queries in prop::collection::vec(
            query_pairs(
                vec!["*", "id,title", "secret", "title,views", "author,secret"],
                vec!["id", "title", "author", "secret", "views"],
                vec!["a", "b1", "1", "2", "u1"],
            ),
            6,
        ),
    ) {
        let state = items_state();
        let name = format!("ledger{}", CASE.fetch_add(1, AtomicOrdering::Relaxed));
        let mut permissions = permissions;
        for permission in &mut permissions {
            permission.collection.clone_from(&name);
        }
        let accountability = caller(permissions.clone());
        let write = |second: bool| {
            let name = name.clone();
            let rows = rows.clone();
            let permissions = permissions.clone();
            let unseen = unseen.clone();
            async move {
                for (index, (own, first_values, second_values)) in rows.iter().enumerate() {
                    let id = index as u64 + 1;
                    let mut item = Map::new();
                    item.insert("id".into(), json!(id));
                    item.insert("author".into(), json!(if *own { "u1" } else { "u2" }));
                    for (i, field) in VARIED.iter().enumerate() {
                        let value = if second && hidden(&permissions, *own, field) {
                            &second_values[i]
                        } else {
                            &first_values[i]
                        };
                        item.insert((*field).into(), value.clone());
                    }
                    let key = shared::store::item_sort_key(&json!(id)).unwrap();
                    state.store.put_item(&name, key, item, &[]).await.unwrap();
                }
                // Rows the caller cannot see at all exist only in the second dataset.
                if second && permissions.iter().all(|p| p.permissions.is_some()) {
                    for (index, values) in unseen.iter().enumerate() {
                        let id = (rows.len() + index) as u64 + 1;
                        let mut item = Map::new();
                        item.insert("id".into(), json!(id));
                        item.insert("author".into(), json!("u2"));
                        for (field, value) in VARIED.iter().zip(values) {
                            item.insert((*field).into(), value.clone());
                        }
                        let key = shared::store::item_sort_key(&json!(id)).unwrap();
                        state.store.put_item(&name, key, item, &[]).await.unwrap();
                    }
                }
            }
        };
        let read_all = || {
            let name = name.clone();
            let accountability = accountability.clone();
            let queries = queries.clone();
            let unseen = unseen.clone();
            let count = rows.len() + unseen.len();
            async move {
                let mut answers = Vec::new();
                for pairs in &queries {
                    let Ok(query) = ItemsQuery::parse(pairs, 100, 1000) else { continue };
                    let result = items::serve(state, &accountability, ledger(&name), Source::Items, &query, None, present()).await;
                    answers.push(answer(result));
                    for id in 1..=count {
                        let result = items::serve(state, &accountability, ledger(&name), Source::Items, &query, Some(&id.to_string()), present()).await;
                        answers.push(answer(result));
                    }
                }
                answers
            }
        };
        let (first, second) = runtime().block_on(async {
            write(false).await;
            let first = read_all().await;
            write(true).await;
            let second = read_all().await;
            (first, second)
        });
        let added = if permissions.iter().all(|p| p.permissions.is_some()) { unseen.len() } else { 0 };
        prop_assert_eq!(
            state_count(&name),
            Some((rows.len() + added) as u64),
            "overwrites do not count twice"
        );
        prop_assert_eq!(first, second);
    }

    /// `/users`: the directory's view. Hidden names and emails cannot be told apart, and the
    /// password hash never appears (it differs between the datasets and is never in a row).
    #[test]
    fn directory_reads_cannot_tell_hidden_values_apart(
        permissions in prop::collection::vec(
            read_permission(
                "directus_users",
                &["id", "first_name", "last_name", "email", "password", "status", "role"],
                json!({"status": {"_eq": "active"}}),
            ),
            1..4,
        ),
        users in prop::collection::vec(
            (any::<bool>(), "[ab]{1,2}", "[ab]{1,2}", "[ab]{1,2}", "[ab]{1,2}", "[ab]{1,2}", "[ab]{1,2}"),
            2..5,
        ),
        unseen in prop::collection::vec("[ab]{1,2}", 0..3),
        queries in prop::collection::vec(
            query_pairs(
                vec!["*", "id,first_name", "email", "password", "last_name,status"],
                vec!["first_name", "last_name", "email", "password", "status"],
                vec!["a", "b", "ab", "active", "@example"],
            ),
            6,
        ),
    ) {
        let accountability = caller(permissions.clone());
        let hash = |tag: &str| Sensitive::new(format!("$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHQ${tag}hash"));
        let (first, second, ids) = runtime().block_on(async {
            let state = fresh_state().await;
            let mut ids = Vec::new();
            for (index, (active, first_name, last_name, email, ..)) in users.iter().enumerate() {
                let user = state.store.create_user(NewUser {
                    email: format!("{email}{index}@example.com"),
                    password_hash: hash(&format!("first{index}")),
                    status: if *active { UserStatus::Active } else { UserStatus::Suspended },
                    role: None,
                    first_name: Some(first_name.clone()),
                    last_name: Some(last_name.clone()),
                    policies: Vec::new(),
                }).await.unwrap();
                ids.push(user.id);
            }
            let read_all = || {
                let (state, accountability, queries, ids) = (&state, &accountability, &queries, &ids);
                async move {
                let mut answers = Vec::new();
                for pairs in queries {
                    let Ok(query) = ItemsQuery::parse(pairs, 100, 1000) else { continue };
                    answers.push(answer(directory::serve(state, accountability, &query, None, present()).await));
                    for id in ids {
                        answers.push(answer(directory::serve(state, accountability, &query, Some(id), present()).await));
                    }
                }
                answers
                }
            };
            let first = read_all().await;
            for (index, (active, _, _, _, first_name, last_name, email)) in users.iter().enumerate() {
                let id = &ids[index];
                let user = state.store.get_user(id).await.unwrap().unwrap();
                let blind = |field| hidden(&permissions, *active, field);
                let changes = UserChanges {
                    email: Some(format!("{email}{index}@example.com"))
                        .filter(|new| blind("email") && *new != user.email),
                    first_name: blind("first_name").then(|| Some(first_name.clone())),
                    last_name: blind("last_name").then(|| Some(last_name.clone())),
                    password_hash: Some(hash(&format!("second{index}"))),
                    ..UserChanges::default()
                };
                state.store.update_user(&user, &changes).await.unwrap();
            }
            // Users the caller cannot see at all exist only in the second dataset.
            if permissions.iter().all(|p| p.permissions.is_some()) {
                for (index, name) in unseen.iter().enumerate() {
                    state.store.create_user(NewUser {
                        email: format!("unseen{index}@example.com"),
                        password_hash: hash(&format!("unseen{index}")),
                        status: UserStatus::Suspended,
                        role: None,
                        first_name: Some(name.clone()),
                        last_name: Some(name.clone()),
                        policies: Vec::new(),
                    }).await.unwrap();
                }
            }
            let second = read_all().await;
            (first, second, ids)
        });
        prop_assert!(!ids.is_empty());
        let shown = format!("{first:?}{second:?}");
        prop_assert!(!shown.contains("argon2"), "a password hash left the store: {shown}");
        prop_assert_eq!(first, second);
    }
}

fn state_count(collection: &str) -> Option<u64> {
    runtime()
        .block_on(items_state().store.item_count(collection))
        .unwrap()
}
