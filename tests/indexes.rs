//! Declared indexes at scale: a collection of 12,000 items (more than the scan bound of 10,000)
//! with an indexed `date_created` answers its newest page, date ranges and its total, to an
//! administrator and over GraphQL; a reader limited to some rows, and an unindexed sort, still
//! answer the bound's 400.

use e2e::{admin_token, apply, get, user_with};
use serde_json::{Value, json};

const ITEMS: i64 = 12_000;
const BASE_MILLIS: i64 = 1_700_000_000_000;

/// Item `id`'s minute after `BASE_MILLIS`: a permutation of 0..ITEMS (7919 is prime), so dates
/// are unique and not in key order.
fn minute(id: i64) -> i64 {
    (id * 7919) % ITEMS
}

fn date(minute: i64) -> String {
    shared::domain::access::filter::iso8601(BASE_MILLIS + minute * 60_000)
}

/// Ids by date, oldest first.
fn by_date() -> Vec<i64> {
    let mut ids: Vec<i64> = (1..=ITEMS).collect();
    ids.sort_by_key(|id| minute(*id));
    ids
}

fn ids(data: &Value) -> Vec<i64> {
    data.as_array()
        .expect("a list")
        .iter()
        // GraphQL's `ID` is a string.
        .map(|row| match &row["id"] {
            Value::String(id) => id.parse().expect("a numeric id"),
            id => id.as_i64().expect("an id"),
        })
        .collect()
}

/// The collection, and a role that reads the rows whose `owner` is `a` (every 50th).
async fn big_indexed_collection() -> (String, String) {
    let tag = uuid::Uuid::new_v4().simple().to_string();
    let collection = format!("dated_{tag}");
    let items: Vec<Value> = (1..=ITEMS)
        .map(|id| {
            json!({"id": id, "title": format!("post {id}"), "date_created": date(minute(id)),
                   "owner": if id % 50 == 0 { "a" } else { "b" }})
        })
        .collect();
    let policy = format!("owner-a-{tag}");
    let role = format!("owner-a-role-{tag}");
    apply(json!({
        "collections": [{
            "collection": collection,
            "primary_key": "id",
            "fields": [
                {"field": "id", "type": "integer"},
                {"field": "title", "type": "string"},
                {"field": "date_created", "type": "dateTime", "schema": {"is_indexed": true}},
                {"field": "owner", "type": "string"}
            ],
            "items": items
        }],
        "policies": [{"id": policy, "name": "Owner A", "permissions": [
            {"collection": collection, "action": "read", "fields": ["*"],
             "permissions": {"owner": {"_eq": "a"}}}
        ]}],
        "roles": [{"id": role, "name": "Owner A", "policies": [policy]}]
    }))
    .await;
    (collection, role)
}

async fn data(path: &str, token: &str) -> Value {
    let reply = get(path, Some(token)).await;
    assert_eq!(reply.status, 200, "{path}: {reply:?}");
    reply.body.clone()
}

#[tokio::test]
async fn an_indexed_field_serves_pages_ranges_and_counts_past_the_scan_bound() {
    let (collection, role) = big_indexed_collection().await;
    let admin = admin_token().await;
    let base = format!("/items/{collection}");
    let ordered = by_date();

    let newest = data(&format!("{base}?sort=-date_created&limit=25"), &admin).await;
    let expected: Vec<i64> = ordered.iter().rev().take(25).copied().collect();
    assert_eq!(ids(&newest["data"]), expected);
    assert_eq!(newest["data"][0]["date_created"], json!(date(ITEMS - 1)));

    let oldest = data(&format!("{base}?sort=date_created&limit=5&page=3"), &admin).await;
    assert_eq!(ids(&oldest["data"]), ordered[10..15].to_vec());

    // The last 40 minutes, newest first, then in key order (no sort), then as a between.
    let since = date(ITEMS - 40);
    let recent = data(
        &format!("{base}?filter[date_created][_gte]={since}&sort=-date_created&limit=-1"),
        &admin,
    )
    .await;
    let expected: Vec<i64> = ordered.iter().rev().take(40).copied().collect();
    assert_eq!(ids(&recent["data"]), expected);
    let mut in_key_order = expected.clone();
    in_key_order.sort_unstable();
    let recent = data(
        &format!("{base}?filter[date_created][_gte]={since}&limit=-1&meta=filter_count"),
        &admin,
    )
    .await;
    assert_eq!(ids(&recent["data"]), in_key_order);
    assert_eq!(recent["meta"]["filter_count"], json!(40));
    let between = data(
        &format!(
            "{base}?filter[date_created][_between]={},{}&sort=date_created",
            date(100),
            date(104)
        ),
        &admin,
    )
    .await;
    assert_eq!(ids(&between["data"]), ordered[100..=104].to_vec());
    let exact = data(
        &format!("{base}?filter[date_created][_eq]={}", date(minute(777))),
        &admin,
    )
    .await;
    assert_eq!(ids(&exact["data"]), vec![777]);

    let counted = data(
        &format!("{base}?sort=-date_created&limit=1&meta=total_count"),
        &admin,
    )
    .await;
    assert_eq!(counted["meta"]["total_count"], json!(ITEMS));

    // Not indexed: as before, more than the bound is refused.
    let unindexed = get(&format!("{base}?sort=title&limit=25"), Some(&admin)).await;
    assert_eq!(unindexed.status, 400, "{unindexed:?}");
    assert_eq!(unindexed.code(), "INVALID_QUERY");

    // A reader limited to some rows does not read through the index: it would examine rows
    // they cannot see, and the time of a page or the scan bound's 400 would tell them about
    // those. They get the clear 400 of any read past the bound, as without an index.
    let (_, reader) = user_with(&admin, json!({"role": role})).await;
    let theirs = get(
        &format!("{base}?sort=-date_created&limit=25"),
        Some(&reader),
    )
    .await;
    assert_eq!(theirs.status, 400, "{theirs:?}");
    assert_eq!(theirs.code(), "INVALID_QUERY");
    // A range and no sort reads in key order, as without an index: their rows fill a page.
    let ranged = data(
        &format!("{base}?filter[date_created][_gte]={}&limit=25", date(0)),
        &reader,
    )
    .await;
    let first_theirs: Vec<i64> = (1..=25).map(|n| n * 50).collect();
    assert_eq!(ids(&ranged["data"]), first_theirs);

    // GraphQL reads through the same path. Its schemas hold the collections they were built
    // from for `PERMISSIONS_CACHE_TTL` (30 s here), and every administrator shares one: when
    // another test's GraphQL call built it before this collection existed, the field is
    // unknown (GRAPHQL_VALIDATION); while it was being provisioned, its index was not declared
    // yet (provisioning declares an index once it holds every item) and the read answers the
    // bound's 400. Wait out that documented window, no more; any other answer fails at once.
    let query =
        format!("{{ {collection}(sort: [\"-date_created\"], limit: 3) {{ id date_created }} }}");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(45);
    let reply = loop {
        let reply = crate::graphql::graphql(Some(&admin), &query, None).await;
        let code = reply.body["errors"][0]["extensions"]["code"].as_str();
        let cached = matches!(code, Some("INVALID_QUERY" | "GRAPHQL_VALIDATION"));
        if !cached || std::time::Instant::now() > deadline {
            break reply;
        }
        tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    };
    assert_eq!(reply.status, 200, "{reply:?}");
    assert!(reply.body.get("errors").is_none(), "{reply:?}");
    let expected: Vec<i64> = ordered.iter().rev().take(3).copied().collect();
    assert_eq!(ids(&reply.body["data"][collection.as_str()]), expected);
}
