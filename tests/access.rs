//! Access control over HTTP: field- and row-level permissions, nested roles, the Public policy,
//! administrators, the items query parameters, and `POST /users` (seed 001).

use e2e::{
    USER_ROLE, admin_token, apply, get, login_token, post, post_with, unique_email, user_with,
};
use serde_json::{Value, json};

/// A fresh collection `articles_<n>` with 12 items, a "Reader" role that reads `id`, `title`,
/// `views` of every row, and an "Author" role nested under it that also reads every field of
/// the rows whose `author` is the caller. Returns (collection, reader role, author role).
pub(crate) async fn articles(author_of_first_three: &str) -> (String, String, String) {
    let tag = uuid::Uuid::new_v4().simple().to_string();
    let collection = format!("articles_{tag}");
    let items: Vec<Value> = (1..=12)
        .map(|i| {
            json!({
                "id": i,
                "title": format!("Article {i:02}"),
                "body": format!("body of {i} with needle{i}"),
                "secret": format!("secret-{i}"),
                "views": (i * 7) % 10,
                "author": if i <= 3 { author_of_first_three.to_owned() } else { format!("someone-{}", i % 2) },
            })
        })
        .collect();
    let reader_policy = format!("reader-policy-{tag}");
    let author_policy = format!("author-policy-{tag}");
    let reader = format!("reader-{tag}");
    let author = format!("author-{tag}");
    apply(json!({
        "collections": [{
            "collection": collection,
            "primary_key": "id",
            "fields": [
                {"field": "id", "type": "integer"},
                {"field": "title", "type": "string"},
                {"field": "body", "type": "text"},
                {"field": "secret", "type": "string"},
                {"field": "views", "type": "integer"},
                {"field": "author", "type": "string"}
            ],
            "items": items
        }],
        "policies": [
            {"id": reader_policy, "name": "Reader", "permissions": [
                {"collection": collection, "action": "read", "fields": ["id", "title", "views"]}
            ]},
            {"id": author_policy, "name": "Own articles", "permissions": [
                {"collection": collection, "action": "read", "fields": ["*"],
                 "permissions": {"author": {"_eq": "$CURRENT_USER"}}}
            ]}
        ],
        "roles": [
            {"id": reader, "name": "Reader", "policies": [reader_policy]},
            {"id": author, "name": "Author", "parent": reader, "policies": [author_policy]}
        ]
    }))
    .await;
    (collection, reader, author)
}

fn ids(reply: &e2e::Reply) -> Vec<i64> {
    reply.body["data"]
        .as_array()
        .unwrap_or_else(|| panic!("no data in {reply:?}"))
        .iter()
        .map(|item| item["id"].as_i64().unwrap())
        .collect()
}

#[tokio::test]
async fn field_level_permissions_narrow_the_wildcard_and_refuse_other_fields() {
    let admin = admin_token().await;
    let (collection, reader, _) = articles("nobody").await;
    let (_, token) = user_with(&admin, json!({"role": reader})).await;

    let all = get(&format!("/items/{collection}?limit=1"), Some(&token)).await;
    assert_eq!(all.status, 200, "{all:?}");
    let keys: Vec<&String> = all.body["data"][0].as_object().unwrap().keys().collect();
    assert_eq!(keys, vec!["id", "title", "views"]);

    let secret = get(
        &format!("/items/{collection}?fields=title,secret"),
        Some(&token),
    )
    .await;
    assert_eq!((secret.status, secret.code()), (403, "FORBIDDEN"));
    assert_eq!(
        secret.body["errors"][0]["message"],
        format!(
            "You don't have permission to access field \"secret\" in collection \"{collection}\" or it does not exist. Queried in root."
        )
    );
    // Probing the hidden field through filter, search and sort: `probes.rs`, over REST and
    // GraphQL from one table.
}

#[tokio::test]
async fn nested_roles_and_current_user_filters_give_full_rows_only_for_own_items() {
    let admin = admin_token().await;
    // The author's id is known only after creation, so the rows are written afterwards.
    let placeholder = format!("pending-{}", uuid::Uuid::new_v4());
    let (collection, _, author) = articles(&placeholder).await;
    let (author_id, token) = user_with(&admin, json!({"role": author})).await;
    for i in 1..=3 {
        let item = json!({"id": i, "title": format!("Article {i:02}"), "body": format!("body of {i} with needle{i}"),
                          "secret": format!("secret-{i}"), "views": (i * 7) % 10, "author": author_id});
        e2e::store()
            .put_item(
                &collection,
                shared::store::item_sort_key(&json!(i)).unwrap(),
                item.as_object().unwrap().clone(),
                &[],
            )
            .await
            .unwrap();
    }

    let reply = get(&format!("/items/{collection}?limit=-1"), Some(&token)).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    let rows = reply.body["data"].as_array().unwrap();
    assert_eq!(rows.len(), 12, "the parent role's policy shows every row");
    for row in rows {
        let own = row["id"].as_i64().unwrap() <= 3;
        assert!(row["title"].is_string(), "titles come from the parent role");
        assert_eq!(row["secret"].is_string(), own, "{row}");
        assert_eq!(row["body"].is_string(), own, "{row}");
    }

    // The filter, the search and the sort see only what this caller can read on each row:
    // `probes.rs`, over REST and GraphQL from one table.

    let foreign = get(
        &format!("/items/{collection}/5?fields=secret"),
        Some(&token),
    )
    .await;
    assert_eq!(foreign.status, 200);
    assert_eq!(foreign.body["data"]["secret"], Value::Null);
}

#[tokio::test]
async fn query_parameters_sort_page_filter_search_and_count() {
    let admin = admin_token().await;
    let (collection, reader, _) = articles("nobody").await;
    let (_, token) = user_with(&admin, json!({"role": reader})).await;
    let path = |query: &str| format!("/items/{collection}?{query}");

    assert_eq!(
        ids(&get(&path("limit=3"), Some(&token)).await),
        vec![1, 2, 3]
    );
    assert_eq!(
        ids(&get(&path("limit=3&offset=2"), Some(&token)).await),
        vec![3, 4, 5]
    );
    assert_eq!(
        ids(&get(&path("limit=5&page=3"), Some(&token)).await),
        vec![11, 12]
    );
    assert_eq!(
        ids(&get(&path("sort=-id&limit=2"), Some(&token)).await),
        vec![12, 11]
    );
    // views = (id * 7) % 10; 2 and 12 tie on 4, and the second key orders them.
    assert_eq!(
        ids(&get(&path("sort=views,-id&limit=6"), Some(&token)).await),
        vec![10, 3, 6, 9, 12, 2]
    );
    assert_eq!(
        ids(&get(
            &path("filter=%7B%22views%22%3A%7B%22_gte%22%3A8%7D%7D"),
            Some(&token)
        )
        .await),
        vec![4, 7]
    );
    assert_eq!(
        ids(&get(
            &path("filter[_or][0][id][_eq]=2&filter[_or][1][id][_eq]=11"),
            Some(&token)
        )
        .await),
        vec![2, 11]
    );
    assert_eq!(
        ids(&get(&path("filter[id][_in]=3,5,7&fields=id"), Some(&token)).await),
        vec![3, 5, 7]
    );
    assert_eq!(
        ids(&get(&path("search=Article%2007"), Some(&token)).await),
        vec![7]
    );

    let counted = get(&path("meta=*&filter[id][_lte]=4&limit=1"), Some(&token)).await;
    assert_eq!(counted.status, 200, "{counted:?}");
    assert_eq!(
        counted.body["meta"],
        json!({"total_count": 12, "filter_count": 4})
    );
    let keys: Vec<&String> = counted.body.as_object().unwrap().keys().collect();
    assert_eq!(keys, vec!["meta", "data"], "meta precedes data");
    assert_eq!(ids(&counted), vec![1]);

    for bad in [
        "limit=abc",
        "meta=nope",
        "filter[id][_regex]=x",
        "filter=%7B",
        "sort=nope",
    ] {
        let reply = get(&path(bad), Some(&token)).await;
        assert!(
            matches!(
                (reply.status, reply.code()),
                (400, "INVALID_QUERY") | (403, "FORBIDDEN")
            ),
            "{bad}: {reply:?}"
        );
    }
}

#[tokio::test]
async fn the_public_policy_reads_only_matching_rows_and_fields() {
    let reply = get("/items/public_notes", None).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(
        reply.body["data"],
        json!([{"id": 1, "title": "Published note", "published": true}])
    );
    let hidden = get("/items/public_notes/2", None).await;
    assert_eq!((hidden.status, hidden.code()), (403, "FORBIDDEN"));
    let field = get("/items/public_notes?fields=draft_text", None).await;
    assert_eq!(field.status, 403);
}

#[tokio::test]
async fn administrators_read_everything_but_unknown_names_stay_forbidden() {
    let admin = admin_token().await;
    let (collection, _, _) = articles("nobody").await;
    let all = get(&format!("/items/{collection}/4"), Some(&admin)).await;
    assert_eq!(all.status, 200);
    assert_eq!(all.body["data"]["secret"], "secret-4");
    let unknown = get(&format!("/items/{collection}?fields=nope"), Some(&admin)).await;
    assert_eq!(unknown.status, 403);
    let missing = get("/items/no_such_collection", Some(&admin)).await;
    assert_eq!(missing.status, 403);
}

#[tokio::test]
async fn administrators_create_users_with_any_field_and_see_duplicates() {
    let admin = admin_token().await;
    let bearer = format!("Bearer {admin}");
    let email = unique_email("made-by-admin");
    let body = json!({"email": email, "password": "d1r3ctu5-long", "role": USER_ROLE,
                      "status": "active", "first_name": "Ada"});
    let created = post_with("/users", &body.to_string(), &[("authorization", &bearer)]).await;
    assert_eq!(created.status, 200, "{created:?}");
    assert_eq!(created.body["data"]["role"], USER_ROLE);
    assert_eq!(created.body["data"]["password"], "**********");
    let token = login_token(&email, "d1r3ctu5-long").await;
    assert_eq!(get("/items/posts", Some(&token)).await.status, 200);

    let again = post_with("/users", &body.to_string(), &[("authorization", &bearer)]).await;
    assert_eq!((again.status, again.code()), (400, "RECORD_NOT_UNIQUE"));
    let bad_role = json!({"email": unique_email("bad-role"), "password": "d1r3ctu5-long", "role": "no-such-role"});
    let reply = post_with(
        "/users",
        &bad_role.to_string(),
        &[("authorization", &bearer)],
    )
    .await;
    assert_eq!((reply.status, reply.code()), (400, "INVALID_FOREIGN_KEY"));
}

#[tokio::test]
async fn seed_001_public_user_creation_then_login_and_read() {
    let email = unique_email("seed-001");
    let body = json!({ "email": email, "password": "d1r3ctu5" }).to_string();
    let created = post("/users", &body).await;
    assert_eq!(
        (created.status, created.raw.as_str()),
        (204, ""),
        "{created:?}"
    );
    let token = login_token(&email, "d1r3ctu5").await;
    let posts = get("/items/posts", Some(&token)).await;
    assert_eq!(
        posts.status, 200,
        "the preset attached the Read Posts policy: {posts:?}"
    );
    assert_eq!(posts.body["data"][0]["id"], 1);
}

#[tokio::test]
async fn seed_001_curl_body_verbatim() {
    let reply = post(
        "/users",
        r#"{ "email": "hello@example.com", "password": "d1r3ctu5" }"#,
    )
    .await;
    assert_eq!(reply.status, 204, "{reply:?}");
    let login = post(
        "/auth/login",
        r#"{ "email": "hello@example.com", "password": "d1r3ctu5" }"#,
    )
    .await;
    assert_eq!(login.status, 200);
}

#[tokio::test]
async fn public_user_creation_refuses_other_fields_and_writes_nothing() {
    let email = unique_email("sneaky");
    let body = json!({"email": email, "password": "d1r3ctu5", "role": USER_ROLE}).to_string();
    let reply = post("/users", &body).await;
    assert_eq!((reply.status, reply.code()), (403, "FORBIDDEN"));
    assert_eq!(
        reply.body["errors"][0]["message"],
        "You don't have permission to access field \"role\" in collection \"directus_users\" or it does not exist."
    );
    let login = post(
        "/auth/login",
        &json!({"email": email, "password": "d1r3ctu5"}).to_string(),
    )
    .await;
    assert_eq!(login.status, 401, "nothing was written");
}

#[tokio::test]
async fn public_user_creation_with_a_taken_email_looks_like_a_new_one() {
    let email = unique_email("taken");
    let first = post(
        "/users",
        &json!({"email": email, "password": "first-password"}).to_string(),
    )
    .await;
    let second = post(
        "/users",
        &json!({"email": email.to_uppercase(), "password": "second-password"}).to_string(),
    )
    .await;
    assert_eq!((first.status, first.raw.as_str()), (204, ""));
    assert_eq!((second.status, second.raw.as_str()), (204, ""));
    let stolen = post(
        "/auth/login",
        &json!({"email": email, "password": "second-password"}).to_string(),
    )
    .await;
    assert_eq!(stolen.status, 401);
    login_token(&email, "first-password").await;
}
