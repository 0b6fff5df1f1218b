//! What a hostile client tries, over HTTP against the local stack: tokens with claims from the
//! future, JSON smuggled in other media types, control characters, oversized passwords at
//! login, primary keys the caller cannot read, and filters that break the evaluator.

use e2e::{
    admin_token, apply, claims_of, get, post, post_typed, post_with, registered_login, sign,
    unique_email, user_with,
};
use serde_json::{Value, json};

const DAY: u64 = 86_400;

/// A real user's token with some claims replaced, signed with the stack's key.
async fn token_with(changes: Value) -> String {
    let data = registered_login(&unique_email("claims"), "d1r3ctu5").await;
    let mut claims = claims_of(data["access_token"].as_str().unwrap());
    for (key, value) in changes.as_object().unwrap() {
        claims[key] = value.clone();
    }
    sign(&claims)
}

#[tokio::test]
async fn tokens_from_the_future_are_invalid() {
    let now = e2e::now_secs();
    let untouched = token_with(json!({})).await;
    assert_eq!(get("/items/posts", Some(&untouched)).await.status, 200);

    for changes in [
        json!({"nbf": now + DAY}),
        json!({"iat": now + DAY, "exp": now + 2 * DAY}),
        json!({"iat": now + 120}),
        json!({"exp": "tomorrow"}),
    ] {
        let token = token_with(changes.clone()).await;
        let reply = get("/items/posts", Some(&token)).await;
        assert_eq!(
            (reply.status, reply.code()),
            (403, "INVALID_TOKEN"),
            "{changes}: {reply:?}"
        );
        assert_eq!(reply.body["errors"][0]["message"], "Invalid token.");
        // The same token is refused wherever a token is read.
        let refresh = post_with(
            "/auth/refresh",
            r#"{"refresh_token":"x"}"#,
            &[("authorization", &format!("Bearer {token}"))],
        )
        .await;
        assert_eq!(refresh.code(), "INVALID_TOKEN", "{changes}");
    }
    // Within the documented leeway (60 s) a clock a little ahead is fine.
    let slightly_ahead = token_with(json!({"iat": now + 5, "nbf": now + 5})).await;
    assert_eq!(get("/items/posts", Some(&slightly_ahead)).await.status, 200);
}

#[tokio::test]
async fn json_in_other_media_types_is_no_body_at_all() {
    for content_type in [
        Some("text/plain"),
        Some("text/plain; charset=utf-8"),
        Some("application/x-www-form-urlencoded"),
        Some("application/xml"),
        Some("multipart/form-data; boundary=xyz"),
        None,
    ] {
        let email = unique_email("smuggled");
        let body = json!({"email": email, "password": "d1r3ctu5"}).to_string();
        for path in ["/users/register", "/register", "/auth/login", "/users"] {
            let reply = post_typed(path, content_type, body.as_bytes()).await;
            let expected = if path == "/users" {
                // POST /users reports a missing email as Directus' validation error.
                (400, "FAILED_VALIDATION")
            } else {
                (400, "INVALID_PAYLOAD")
            };
            assert_eq!(
                (reply.status, reply.code()),
                expected,
                "{path} {content_type:?}: {reply:?}"
            );
            if path != "/users" {
                assert_eq!(
                    reply.body["errors"][0]["message"], "Invalid payload. \"email\" is required.",
                    "{path} {content_type:?}"
                );
            }
        }
        // Nothing was written: the address is still free.
        let login = post("/auth/login", &body).await;
        assert_eq!(login.status, 401, "{content_type:?}: {login:?}");
    }
    // Every JSON media type still works.
    for content_type in [
        "application/json; charset=utf-8",
        "application/vnd.api+json",
    ] {
        let email = unique_email("typed");
        let body = json!({"email": email, "password": "d1r3ctu5"}).to_string();
        let register = post_typed("/users/register", Some(content_type), body.as_bytes()).await;
        assert_eq!(register.status, 204, "{content_type}: {register:?}");
        let login = post_typed("/auth/login", Some(content_type), body.as_bytes()).await;
        assert_eq!(login.status, 200, "{content_type}: {login:?}");
    }
}

#[tokio::test]
async fn control_characters_in_emails_and_names_are_refused_and_nothing_is_written() {
    let admin = admin_token().await;
    for bad in ["nul\u{0}abc", "tab\tabc", "del\u{7f}abc", "nl\nabc"] {
        let email = format!("{bad}-{}@example.com", uuid::Uuid::new_v4().simple());
        let body = json!({"email": email, "password": "d1r3ctu5"}).to_string();
        for path in ["/users/register", "/auth/login"] {
            let reply = post(path, &body).await;
            assert_eq!(
                (reply.status, reply.code()),
                (400, "INVALID_PAYLOAD"),
                "{path} {bad:?}"
            );
            assert_eq!(
                reply.body["errors"][0]["message"],
                "Invalid payload. \"email\" must be a valid email.",
                "{path} {bad:?}"
            );
        }
        let public = post("/users", &body).await;
        assert_eq!(
            (public.status, public.code()),
            (400, "FAILED_VALIDATION"),
            "{bad:?}: {public:?}"
        );
        let as_admin = post_with(
            "/users",
            &body,
            &[("authorization", &format!("Bearer {admin}"))],
        )
        .await;
        assert_eq!(
            as_admin.code(),
            "FAILED_VALIDATION",
            "{bad:?}: {as_admin:?}"
        );
        // The same address without the control character was never claimed.
        let cleaned: String = email.chars().filter(|c| !c.is_control()).collect();
        let probe = json!({"email": cleaned, "password": "d1r3ctu5"}).to_string();
        assert_eq!(post("/auth/login", &probe).await.status, 401);
    }

    for field in ["first_name", "last_name"] {
        let email = unique_email("named");
        let body = json!({"email": email, "password": "d1r3ctu5", field: "Ada\u{0}Lovelace"});
        let register = post("/users/register", &body.to_string()).await;
        assert_eq!(
            (register.status, register.code()),
            (400, "INVALID_PAYLOAD"),
            "{register:?}"
        );
        let created = post_with(
            "/users",
            &body.to_string(),
            &[("authorization", &format!("Bearer {admin}"))],
        )
        .await;
        assert_eq!(
            (created.status, created.code()),
            (400, "FAILED_VALIDATION"),
            "{created:?}"
        );
        assert_eq!(created.body["errors"][0]["extensions"]["field"], field);
        let login = post(
            "/auth/login",
            &json!({"email": email, "password": "d1r3ctu5"}).to_string(),
        )
        .await;
        assert_eq!(login.status, 401, "nothing written for {field}");
    }
}

#[tokio::test]
async fn a_long_password_at_login_is_a_wrong_password_not_a_rule() {
    let email = unique_email("long");
    registered_login(&email, "d1r3ctu5").await;
    let long = "x".repeat(10_000);
    let reply = post(
        "/auth/login",
        &json!({"email": email, "password": long}).to_string(),
    )
    .await;
    assert_eq!(
        (reply.status, reply.code()),
        (401, "INVALID_CREDENTIALS"),
        "{reply:?}"
    );
    // Registration still caps passwords at 256 characters.
    let register = post(
        "/users/register",
        &json!({"email": unique_email("long"), "password": long}).to_string(),
    )
    .await;
    assert_eq!(register.status, 400, "{register:?}");
    assert!(
        register.body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("256"),
        "{register:?}"
    );
}

/// A collection whose readers may not read its primary key.
async fn keyless_reader() -> (String, String) {
    let tag = uuid::Uuid::new_v4().simple().to_string();
    let collection = format!("articles_{tag}");
    let policy = format!("keyless-{tag}");
    let role = format!("keyless-role-{tag}");
    apply(json!({
        "collections": [{
            "collection": collection,
            "primary_key": "id",
            "fields": [
                {"field": "id", "type": "integer"},
                {"field": "title", "type": "string"},
                {"field": "views", "type": "integer"}
            ],
            "items": [{"id": 3, "title": "Three", "views": 9}]
        }],
        "policies": [{"id": policy, "name": "Keyless", "permissions": [
            {"collection": collection, "action": "read", "fields": ["title", "views"]}
        ]}],
        "roles": [{"id": role, "name": "Keyless", "policies": [policy]}]
    }))
    .await;
    (collection, role)
}

#[tokio::test]
async fn reading_by_id_needs_the_primary_key_readable() {
    let admin = admin_token().await;
    let (collection, role) = keyless_reader().await;
    let (_, token) = user_with(&admin, json!({"role": role})).await;
    let list = get(&format!("/items/{collection}"), Some(&token)).await;
    assert_eq!(list.status, 200, "{list:?}");
    assert_eq!(list.body["data"], json!([{"title": "Three", "views": 9}]));
    for id in ["3", "4"] {
        let one = get(&format!("/items/{collection}/{id}"), Some(&token)).await;
        assert_eq!((one.status, one.code()), (403, "FORBIDDEN"), "{one:?}");
        assert_eq!(
            one.body["errors"][0]["message"],
            format!(
                "You don't have permission to access field \"id\" in collection \"{collection}\" or it does not exist. Queried in root."
            )
        );
    }
    let as_admin = get(&format!("/items/{collection}/3"), Some(&admin)).await;
    assert_eq!(as_admin.body["data"]["id"], 3);
}

#[tokio::test]
async fn filters_with_unknown_operators_or_extreme_offsets_are_invalid_queries() {
    let admin = admin_token().await;
    let (collection, _) = keyless_reader().await;
    let cases: [(Value, &str); 3] = [
        (
            json!({"title": {"_bogus": 1}}),
            "Invalid query. \"string\" field type does not contain the \"_bogus\" filter operator.",
        ),
        (
            json!({"views": {"_contains": "9"}}),
            "Invalid query. \"integer\" field type does not contain the \"_contains\" filter operator.",
        ),
        (
            json!({"views": {"_lt": "$NOW(--9223372036854775808 ms)"}}),
            "",
        ),
    ];
    for (filter, message) in cases {
        let encoded: String = filter
            .to_string()
            .bytes()
            .map(|b| format!("%{b:02X}"))
            .collect();
        let reply = get(
            &format!("/items/{collection}?filter={encoded}"),
            Some(&admin),
        )
        .await;
        assert_eq!(
            (reply.status, reply.code()),
            (400, "INVALID_QUERY"),
            "{filter}: {reply:?}"
        );
        if !message.is_empty() {
            assert_eq!(reply.body["errors"][0]["message"], message);
        }
    }
}
