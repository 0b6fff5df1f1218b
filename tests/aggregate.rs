//! `aggregate` and `groupBy` on `/items` (and `/users`): Directus' shapes, both syntaxes,
//! filter/search/sort/limit, and only what the caller may read.

use e2e::{USER_ROLE, admin_token, apply, get, user_with};
use serde_json::{Value, json};

/// A fresh collection with the spec's five rows (`n` = 1, 2, 2, null, 5), a "Counter" role that
/// reads `id`, `n`, `cat`, `dt` of every row and `secret` of the rows it owns, and a "Cat A"
/// role that reads every field of the rows with `cat` = `a`. Returns (collection, counter
/// role, cat-a role).
async fn numbers() -> (String, String, String) {
    let tag = uuid::Uuid::new_v4().simple().to_string();
    let collection = format!("numbers_{tag}");
    let rows = [
        (
            1,
            json!(1),
            json!("a"),
            json!(1),
            "2024-01-02T03:04:05",
            "owner",
        ),
        (
            2,
            json!(2),
            json!("a"),
            json!(0),
            "2024-06-01T00:00:00",
            "other",
        ),
        (
            3,
            json!(2),
            json!("b"),
            json!(1),
            "2024-12-31T23:59:59",
            "other",
        ),
        (
            4,
            json!(null),
            json!(null),
            json!(1),
            "2023-05-05T05:05:05",
            "other",
        ),
        (
            5,
            json!(5),
            json!("b"),
            json!(0),
            "2024-02-02T10:00:00",
            "owner",
        ),
    ];
    let items: Vec<Value> = rows
        .iter()
        .map(|(id, n, cat, flag, dt, owner)| {
            json!({"id": id, "n": n, "cat": cat, "flag": flag, "dt": dt,
                   "secret": id * 100, "owner": owner, "label": format!("label {id}")})
        })
        .collect();
    let counter_policy = format!("counter-{tag}");
    let cat_policy = format!("cat-a-{tag}");
    let counter = format!("counter-role-{tag}");
    let cat_a = format!("cat-a-role-{tag}");
    apply(json!({
        "collections": [{
            "collection": collection,
            "primary_key": "id",
            "fields": [
                {"field": "id", "type": "integer"},
                {"field": "n", "type": "integer"},
                {"field": "cat", "type": "string"},
                {"field": "flag", "type": "integer"},
                {"field": "dt", "type": "dateTime"},
                {"field": "secret", "type": "integer"},
                {"field": "owner", "type": "string"},
                {"field": "label", "type": "string"}
            ],
            "items": items
        }],
        "policies": [
            {"id": counter_policy, "name": "Counter", "permissions": [
                {"collection": collection, "action": "read", "fields": ["id", "n", "cat", "dt", "label"]},
                {"collection": collection, "action": "read", "fields": ["secret", "owner"],
                 "permissions": {"owner": {"_eq": "owner"}}}
            ]},
            {"id": cat_policy, "name": "Cat A", "permissions": [
                {"collection": collection, "action": "read", "fields": ["*"],
                 "permissions": {"cat": {"_eq": "a"}}}
            ]}
        ],
        "roles": [
            {"id": counter, "name": "Counter", "policies": [counter_policy]},
            {"id": cat_a, "name": "Cat A", "policies": [cat_policy]}
        ]
    }))
    .await;
    (collection, counter, cat_a)
}

async fn data(path: &str, token: &str) -> Value {
    let reply = get(path, Some(token)).await;
    assert_eq!(reply.status, 200, "{path}: {reply:?}");
    reply.body["data"].clone()
}

#[tokio::test]
async fn every_function_has_directus_shape_in_both_syntaxes() {
    let (collection, _, _) = numbers().await;
    let admin = admin_token().await;
    let base = format!("/items/{collection}");
    for (query, expected) in [
        ("aggregate[count]=*", json!([{"count": 5}])),
        ("aggregate[count]=n", json!([{"count": {"n": 4}}])),
        (
            "aggregate[countDistinct]=n",
            json!([{"countDistinct": {"n": 3}}]),
        ),
        ("aggregate[countAll]=*", json!([{}])),
        ("aggregate[sum]=n", json!([{"sum": {"n": 10}}])),
        (
            "aggregate[sumDistinct]=n",
            json!([{"sumDistinct": {"n": 8}}]),
        ),
        ("aggregate[avg]=n", json!([{"avg": {"n": 2.5}}])),
        (
            "aggregate[avgDistinct]=n",
            json!([{"avgDistinct": {"n": 2.6666666666666665}}]),
        ),
        (
            "aggregate[min]=n&aggregate[max]=n",
            json!([{"min": {"n": 1}, "max": {"n": 5}}]),
        ),
        (
            "aggregate[count]=*&aggregate[sum]=n,flag&aggregate[avg]=n",
            json!([{"count": 5, "sum": {"n": 10, "flag": 3}, "avg": {"n": 2.5}}]),
        ),
        ("aggregate[foo]=n", json!([{}, {}, {}, {}, {}])),
        // With `aggregate`, `fields` is ignored.
        ("aggregate[count]=*&fields=nope", json!([{"count": 5}])),
    ] {
        assert_eq!(
            data(&format!("{base}?{query}"), &admin).await,
            expected,
            "{query}"
        );
    }
    let json_form = "aggregate=%7B%22count%22%3A%22*%22%2C%22sum%22%3A%5B%22n%22%5D%7D";
    assert_eq!(
        data(&format!("{base}?{json_form}"), &admin).await,
        json!([{"count": 5, "sum": {"n": 10}}])
    );
    let bad = get(&format!("{base}?aggregate=notjson"), Some(&admin)).await;
    assert_eq!((bad.status, bad.code()), (400, "INVALID_QUERY"));
}

#[tokio::test]
async fn group_by_filter_search_sort_limit_and_meta() {
    let (collection, _, _) = numbers().await;
    let admin = admin_token().await;
    let base = format!("/items/{collection}");
    assert_eq!(
        data(&format!("{base}?aggregate[count]=*&groupBy[]=cat"), &admin).await,
        json!([{"cat": null, "count": 1}, {"cat": "a", "count": 2}, {"cat": "b", "count": 2}])
    );
    assert_eq!(
        data(&format!("{base}?groupBy=cat"), &admin).await,
        json!([{"cat": null}, {"cat": "a"}, {"cat": "b"}])
    );
    assert_eq!(
        data(
            &format!("{base}?aggregate[sum]=n&aggregate[count]=*&groupBy=cat,flag&limit=2"),
            &admin
        )
        .await,
        json!([
            {"cat": null, "flag": 1, "sum": {"n": null}, "count": 1},
            {"cat": "a", "flag": 0, "sum": {"n": 2}, "count": 1}
        ])
    );
    assert_eq!(
        data(
            &format!("{base}?aggregate[count]=*&groupBy=year(dt)"),
            &admin
        )
        .await,
        json!([{"dt_year": 2023, "count": 1}, {"dt_year": 2024, "count": 4}])
    );
    assert_eq!(
        data(
            &format!("{base}?aggregate[sum]=n&groupBy=cat&sort=-sum.n&limit=1"),
            &admin
        )
        .await,
        json!([{"cat": "b", "sum": {"n": 7}}])
    );
    assert_eq!(
        data(
            &format!("{base}?aggregate[count]=*&groupBy=cat&sort=-count,-cat&page=2&limit=1"),
            &admin
        )
        .await,
        json!([{"cat": "a", "count": 2}])
    );
    // filter and search apply before aggregation; meta counts items, not groups.
    let filtered = get(
        &format!("{base}?aggregate[count]=*&groupBy=cat&filter[n][_gte]=2&meta=*"),
        Some(&admin),
    )
    .await;
    assert_eq!(
        filtered.body,
        json!({"meta": {"total_count": 5, "filter_count": 3},
               "data": [{"cat": "a", "count": 1}, {"cat": "b", "count": 2}]})
    );
    assert_eq!(
        data(
            &format!("{base}?aggregate[count]=*&search=label%205"),
            &admin
        )
        .await,
        json!([{"count": 1}])
    );
    // Sorting by something neither grouped nor aggregated is refused.
    let bad = get(
        &format!("{base}?aggregate[count]=*&groupBy=cat&sort=n"),
        Some(&admin),
    )
    .await;
    assert_eq!((bad.status, bad.code()), (400, "INVALID_QUERY"));
}

#[tokio::test]
async fn only_readable_rows_and_fields_are_aggregated() {
    let (collection, counter, cat_a) = numbers().await;
    let admin = admin_token().await;
    let base = format!("/items/{collection}");
    let (_, counting) = user_with(&admin, json!({"role": counter})).await;
    let (_, cat_reader) = user_with(&admin, json!({"role": cat_a})).await;
    let (_, stranger) = user_with(&admin, json!({"role": USER_ROLE})).await;

    assert_eq!(
        data(
            &format!("{base}?aggregate[count]=*&aggregate[sum]=n"),
            &counting
        )
        .await,
        json!([{"count": 5, "sum": {"n": 10}}])
    );
    // `secret` is readable on the owner's rows only: the others count as null.
    assert_eq!(
        data(
            &format!("{base}?aggregate[sum]=secret&aggregate[count]=secret"),
            &counting
        )
        .await,
        json!([{"sum": {"secret": 600}, "count": {"secret": 2}}])
    );
    // A field readable on no row, or unknown, is 403 naming it, even under an unknown function.
    for query in [
        "aggregate[sum]=flag",
        "aggregate[foo]=flag",
        "groupBy=flag",
        "aggregate[count]=*&groupBy=nope",
        "aggregate[countAll]=",
    ] {
        let reply = get(&format!("{base}?{query}"), Some(&counting)).await;
        assert_eq!(reply.status, 403, "{query}: {reply:?}");
        assert!(
            reply.body["errors"][0]["message"]
                .as_str()
                .unwrap()
                .contains("field"),
            "{query}"
        );
    }
    let named = get(&format!("{base}?aggregate[sum]=flag"), Some(&counting)).await;
    assert!(
        named.body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("\"flag\"")
    );
    // A filter on a field the caller cannot read is refused too.
    let probe = get(
        &format!("{base}?aggregate[count]=*&filter[flag][_eq]=1"),
        Some(&counting),
    )
    .await;
    assert_eq!(probe.status, 403);
    // Row filters apply.
    assert_eq!(
        data(
            &format!("{base}?aggregate[count]=*&groupBy=cat"),
            &cat_reader
        )
        .await,
        json!([{"cat": "a", "count": 2}])
    );
    // No read permission: the collection is forbidden, as for the public.
    for token in [Some(stranger.as_str()), None] {
        let reply = get(&format!("{base}?aggregate[count]=*"), token).await;
        assert_eq!(reply.status, 403);
        assert_eq!(
            reply.body["errors"][0]["message"],
            format!(
                "You don't have permission to access collection \"{collection}\" or it does not exist. Queried in root."
            )
        );
    }
}

#[tokio::test]
async fn users_aggregate_like_items() {
    let admin = admin_token().await;
    let counted = get("/users?aggregate[count]=*&groupBy=status", Some(&admin)).await;
    assert_eq!(counted.status, 200, "{counted:?}");
    assert!(
        counted.body["data"]
            .as_array()
            .unwrap()
            .iter()
            .any(|row| row["status"] == "active" && row["count"].as_u64().unwrap() >= 1)
    );
    for query in ["aggregate[count]=policies", "groupBy=policies"] {
        let reply = get(&format!("/users?{query}"), Some(&admin)).await;
        assert_eq!(reply.status, 400, "{query}");
    }
    // min/max over password give the mask, never a hash.
    let masked = get("/users?aggregate[max]=password", Some(&admin)).await;
    assert_eq!(
        masked.body["data"],
        json!([{"max": {"password": "**********"}}])
    );
}
