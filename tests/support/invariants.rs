//! The invariants every table must satisfy whatever failed on the way (docs/data-model.md,
//! docs/reliability.md), checked by reading the tables directly:
//! - every user has exactly one email claim, and every claim names a user whose email it is;
//! - no session belongs to a missing user; a session's sliding expiry never passes its absolute
//!   one; a session the caller tracked is at the generation its refreshes allow (one rotation per
//!   refresh, never two), or gone when it was logged out;
//! - rate-limit counters count at least one request, login-failure counters are never negative;
//! - every collection's kept item count equals a recount of its items.

use std::collections::{BTreeMap, HashMap};

use aws_sdk_dynamodb::types::AttributeValue;
use shared::store::Store;

type Item = HashMap<String, AttributeValue>;

/// What the caller knows a session must look like.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expect {
    /// Present, at a generation in this range (refreshes whose answers were lost may or may not
    /// have rotated it, once each).
    Generation { at_least: u32, at_most: u32 },
    /// Logged out: absent.
    Gone,
    /// Logged out or not (the logout's answer was lost): absent, or present at a generation in
    /// this range.
    GoneOr { at_least: u32, at_most: u32 },
}

/// Sessions the caller tracked, by session id.
pub type Expectations = BTreeMap<String, Expect>;

/// What the check counted, for the report.
#[derive(Debug, Default, Clone)]
pub struct Census {
    pub users: usize,
    pub claims: usize,
    pub sessions: usize,
    pub rate_counters: usize,
    pub login_counters: usize,
    pub counted_collections: usize,
}

async fn scan(store: &Store, table: &str) -> Vec<Item> {
    let mut items = Vec::new();
    let mut start = None;
    loop {
        let page = store
            .client()
            .scan()
            .table_name(table)
            .consistent_read(true)
            .set_exclusive_start_key(start)
            .send()
            .await
            .expect("the table can be scanned");
        items.extend(page.items.unwrap_or_default());
        match page.last_evaluated_key {
            Some(key) if !key.is_empty() => start = Some(key),
            _ => return items,
        }
    }
}

fn s<'a>(item: &'a Item, name: &str) -> Option<&'a str> {
    item.get(name)
        .and_then(|v| v.as_s().ok())
        .map(String::as_str)
}

fn n(item: &Item, name: &str) -> Option<i128> {
    item.get(name)
        .and_then(|v| v.as_n().ok())
        .and_then(|v| v.parse().ok())
}

fn email_key(email: &str) -> String {
    email.trim().to_lowercase()
}

/// Checks every invariant; returns what it counted, or every violation found.
pub async fn check(store: &Store, expected: &Expectations) -> Result<Census, Vec<String>> {
    let tables = store.tables().clone();
    let mut violations = Vec::new();
    let mut census = Census::default();

    let users_table = scan(store, &tables.users).await;
    let mut users: HashMap<String, &Item> = HashMap::new();
    let mut claims: HashMap<String, &Item> = HashMap::new();
    for item in &users_table {
        let pk = s(item, "pk").unwrap_or_default();
        if let Some(id) = pk.strip_prefix("user#") {
            users.insert(id.to_owned(), item);
        } else if let Some(key) = pk.strip_prefix("email#") {
            claims.insert(key.to_owned(), item);
        } else if pk.starts_with("rate#") {
            census.rate_counters += 1;
            match n(item, "hits") {
                Some(hits) if hits >= 1 => {}
                other => violations.push(format!("{pk}: hits {other:?}, not a count")),
            }
        } else if pk.starts_with("throttle#") {
            census.login_counters += 1;
            for field in ["failures", "last_failure", "locked_until"] {
                if n(item, field).is_some_and(|v| v < 0) {
                    violations.push(format!("{pk}: negative {field}"));
                }
            }
            if n(item, "failures").is_none() {
                violations.push(format!("{pk}: no failures count"));
            }
        }
    }
    census.users = users.len();
    census.claims = claims.len();
    let mut claims_of: HashMap<&str, usize> = HashMap::new();
    for (key, claim) in &claims {
        let Some(owner) = s(claim, "user_id") else {
            violations.push(format!("email#{key}: no user_id"));
            continue;
        };
        *claims_of.entry(owner).or_default() += 1;
        match users.get(owner) {
            None => violations.push(format!("email#{key}: claims missing user {owner}")),
            Some(user) => {
                let email = s(user, "email").map(email_key);
                if email.as_deref() != Some(key.as_str()) {
                    violations.push(format!(
                        "email#{key}: user {owner} has email {email:?}, not this one"
                    ));
                }
            }
        }
    }
    for (id, user) in &users {
        if s(user, "id") != Some(id.as_str()) {
            violations.push(format!("user#{id}: id attribute {:?}", s(user, "id")));
        }
        match s(user, "email") {
            None => violations.push(format!("user#{id}: no email")),
            Some(email) => match claims.get(&email_key(email)) {
                Some(claim) if s(claim, "user_id") == Some(id.as_str()) => {}
                _ => violations.push(format!("user#{id}: no claim of its email {email}")),
            },
        }
        let count = claims_of.get(id.as_str()).copied().unwrap_or(0);
        if count != 1 {
            violations.push(format!("user#{id}: {count} email claims"));
        }
    }

    let sessions = scan(store, &tables.sessions).await;
    census.sessions = sessions.len();
    let mut generations: HashMap<&str, i128> = HashMap::new();
    for session in &sessions {
        let id = s(session, "id").unwrap_or_default();
        let owner = s(session, "user_id").unwrap_or_default();
        if !users.contains_key(owner) {
            violations.push(format!("session {id}: of missing user {owner:?}"));
        }
        let generation = n(session, "generation");
        match generation {
            Some(g) if g >= 0 => {
                generations.insert(id, g);
            }
            other => violations.push(format!("session {id}: generation {other:?}")),
        }
        if let (Some(sliding), Some(absolute)) =
            (n(session, "expires_at"), n(session, "absolute_expires_at"))
            && sliding > absolute
        {
            violations.push(format!(
                "session {id}: expires at {sliding}, past its absolute end {absolute}"
            ));
        }
    }
    for (id, expect) in expected {
        let found = generations.get(id.as_str()).copied();
        let within = |at_least: u32, at_most: u32| {
            found.is_some_and(|g| g >= i128::from(at_least) && g <= i128::from(at_most))
        };
        let fine = match expect {
            Expect::Generation { at_least, at_most } => within(*at_least, *at_most),
            Expect::Gone => found.is_none(),
            Expect::GoneOr { at_least, at_most } => found.is_none() || within(*at_least, *at_most),
        };
        if !fine {
            violations.push(format!(
                "session {id}: expected {expect:?}, found generation {found:?}"
            ));
        }
    }

    let items = scan(store, &tables.items).await;
    let mut kept: BTreeMap<&str, i128> = BTreeMap::new();
    let mut recount: BTreeMap<&str, i128> = BTreeMap::new();
    for item in &items {
        let collection = s(item, "collection").unwrap_or_default();
        if s(item, "key") == Some("#count") {
            kept.insert(collection, n(item, "item_count").unwrap_or(-1));
        } else {
            *recount.entry(collection).or_default() += 1;
        }
    }
    census.counted_collections = kept.len();
    for (collection, count) in kept {
        let actual = recount.get(collection).copied().unwrap_or(0);
        if count != actual {
            violations.push(format!(
                "collection {collection}: kept count {count}, recount {actual}"
            ));
        }
    }

    if violations.is_empty() {
        Ok(census)
    } else {
        Err(violations)
    }
}

/// Panics with every violation, or returns the census.
pub async fn assert_hold(store: &Store, expected: &Expectations) -> Census {
    match check(store, expected).await {
        Ok(census) => census,
        Err(violations) => panic!(
            "{} invariant violations:\n{}",
            violations.len(),
            violations.join("\n")
        ),
    }
}
