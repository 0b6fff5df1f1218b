//! `/graphql/system` end to end: every mode of `auth_login`, `auth_refresh` and `auth_logout`,
//! `users_me`, seed 001's public `create_users_item`, and the hostile transport cases (every
//! token problem, content types, methods, sizes, control characters, variables, repeated
//! sensitive mutations).

use e2e::system_graphql::{LOGIN, PATH, system};
use e2e::{Reply, client, registered_login, stack, unique_email};
use serde_json::{Value, json};

const PASSWORD: &str = "d1r3ctu5";

async fn login_in(mode: &str, email: &str) -> Reply {
    system(
        &format!(
            "mutation($e: String!, $p: String!) {{ auth_login(email: $e, password: $p, mode: {mode}) {{ access_token refresh_token expires }} }}"
        ),
        Some(json!({"e": email, "p": PASSWORD})),
        &[],
    )
    .await
}

fn cookie_attributes(reply: &Reply, name: &str) -> String {
    reply
        .set_cookies
        .iter()
        .find(|c| c.starts_with(&format!("{name}=")))
        .cloned()
        .unwrap_or_default()
}

fn in_band_code(reply: &Reply) -> &str {
    assert_eq!(reply.status, 200, "{reply:?}");
    reply.code()
}

#[tokio::test]
async fn json_mode_returns_both_tokens_and_expires_as_a_string() {
    let email = unique_email("gql-json");
    registered_login(&email, PASSWORD).await;
    let login = login_in("json", &email).await;
    assert_eq!(login.status, 200, "{login:?}");
    let tokens = &login.body["data"]["auth_login"];
    assert_eq!(tokens["expires"], "900000");
    assert!(tokens["access_token"].is_string() && tokens["refresh_token"].is_string());
    assert!(login.set_cookies.is_empty());
    assert_eq!(
        login.content_type.as_deref(),
        Some("application/json; charset=utf-8")
    );

    let refresh = system(
        "mutation($t: String) { auth_refresh(refresh_token: $t) { access_token refresh_token expires } }",
        Some(json!({"t": tokens["refresh_token"]})),
        &[],
    )
    .await;
    let rotated = &refresh.body["data"]["auth_refresh"];
    assert!(rotated["refresh_token"].is_string(), "{refresh:?}");
    assert_ne!(rotated["refresh_token"], tokens["refresh_token"]);

    let logout = system(
        "mutation($t: String) { auth_logout(refresh_token: $t) }",
        Some(json!({"t": rotated["refresh_token"]})),
        &[],
    )
    .await;
    assert_eq!(logout.body, json!({"data": {"auth_logout": true}}));
    // Over: the token is refused, in-band, and so is a second logout's token (still true).
    let again = system(
        "mutation($t: String) { auth_refresh(refresh_token: $t) { access_token } }",
        Some(json!({"t": rotated["refresh_token"]})),
        &[],
    )
    .await;
    assert_eq!(in_band_code(&again), "INVALID_CREDENTIALS");
    assert_eq!(again.body["data"], json!({"auth_refresh": null}));
    let twice = system(
        "mutation { auth_logout(refresh_token: \"garbage\") }",
        None,
        &[],
    )
    .await;
    assert_eq!(twice.body, json!({"data": {"auth_logout": true}}));
}

#[tokio::test]
async fn cookie_mode_sets_the_refresh_cookie_and_refreshes_and_logs_out_with_it() {
    let email = unique_email("gql-cookie");
    registered_login(&email, PASSWORD).await;
    let login = login_in("cookie", &email).await;
    let tokens = &login.body["data"]["auth_login"];
    assert!(tokens["access_token"].is_string(), "{login:?}");
    assert_eq!(tokens["refresh_token"], Value::Null);
    assert_eq!(tokens["expires"], "900000");
    let set = cookie_attributes(&login, "directus_refresh_token");
    assert!(
        set.contains("HttpOnly") && set.contains("Max-Age=604800"),
        "{set}"
    );
    let cookie = format!(
        "directus_refresh_token={}",
        login.cookie("directus_refresh_token").unwrap()
    );

    // The argument is ignored in cookie mode: the cookie is the token.
    let refresh = system(
        "mutation { auth_refresh(refresh_token: \"ignored\", mode: cookie) { access_token refresh_token } }",
        None,
        &[("cookie", &cookie)],
    )
    .await;
    assert!(
        refresh.body["data"]["auth_refresh"]["access_token"].is_string(),
        "{refresh:?}"
    );
    assert_eq!(
        refresh.body["data"]["auth_refresh"]["refresh_token"],
        Value::Null
    );
    let rotated = format!(
        "directus_refresh_token={}",
        refresh
            .cookie("directus_refresh_token")
            .expect("a new cookie")
    );
    assert_ne!(rotated, cookie);

    // A cookie-driven refresh from a foreign site is refused (CSRF), in-band.
    let foreign = system(
        "mutation { auth_refresh(mode: cookie) { access_token } }",
        None,
        &[("cookie", &rotated), ("origin", "https://evil.example")],
    )
    .await;
    assert_eq!(in_band_code(&foreign), "FORBIDDEN");

    let logout = system(
        "mutation { auth_logout(mode: cookie) }",
        None,
        &[("cookie", &rotated)],
    )
    .await;
    assert_eq!(logout.body, json!({"data": {"auth_logout": true}}));
    let cleared = cookie_attributes(&logout, "directus_refresh_token");
    assert!(cleared.starts_with("directus_refresh_token=;"), "{cleared}");
    let after = system(
        "mutation { auth_refresh(mode: cookie) { access_token } }",
        None,
        &[("cookie", &rotated)],
    )
    .await;
    assert_eq!(in_band_code(&after), "INVALID_CREDENTIALS");
    // No cookie at all: the refresh token is required.
    let none = system(
        "mutation { auth_refresh(mode: cookie) { access_token } }",
        None,
        &[],
    )
    .await;
    assert_eq!(in_band_code(&none), "INVALID_PAYLOAD");
    assert_eq!(
        none.body["errors"][0]["message"],
        "Invalid payload. The refresh token is required in either the payload or cookie."
    );
}

#[tokio::test]
async fn session_mode_sets_the_session_cookie_which_authenticates_refreshes_and_logs_out() {
    let email = unique_email("gql-session");
    registered_login(&email, PASSWORD).await;
    let login = login_in("session", &email).await;
    assert_eq!(
        login.body["data"]["auth_login"],
        json!({"access_token": null, "refresh_token": null, "expires": "86400000"}),
        "{login:?}"
    );
    let session = login
        .cookie("directus_session_token")
        .expect("a session cookie");
    let cookie = format!("directus_session_token={session}");
    assert!(cookie_attributes(&login, "directus_session_token").contains("HttpOnly"));

    // The cookie authenticates: users_me over GraphQL reads the caller.
    let me = system("{ users_me { id email } }", None, &[("cookie", &cookie)]).await;
    assert_eq!(me.body["data"]["users_me"]["email"], email, "{me:?}");

    let refresh = system(
        "mutation { auth_refresh(mode: session) { access_token refresh_token expires } }",
        None,
        &[("cookie", &cookie)],
    )
    .await;
    assert_eq!(
        refresh.body["data"]["auth_refresh"],
        json!({"access_token": null, "refresh_token": null, "expires": "86400000"}),
        "{refresh:?}"
    );
    let renewed = format!(
        "directus_session_token={}",
        refresh.cookie("directus_session_token").unwrap()
    );
    let logout = system(
        "mutation { auth_logout(mode: session) }",
        None,
        &[("cookie", &renewed)],
    )
    .await;
    assert_eq!(logout.body, json!({"data": {"auth_logout": true}}));
    assert!(
        cookie_attributes(&logout, "directus_session_token")
            .starts_with("directus_session_token=;")
    );
    // The ended session's cookie fails the whole request, before GraphQL, and is cleared.
    let after = system("{ server_ping }", None, &[("cookie", &renewed)]).await;
    assert_eq!((after.status, after.code()), (401, "INVALID_CREDENTIALS"));
    assert!(
        cookie_attributes(&after, "directus_session_token").starts_with("directus_session_token=;")
    );
}

#[tokio::test]
async fn users_me_exists_for_callers_who_can_read_users() {
    let email = unique_email("gql-me");
    let data = registered_login(&email, PASSWORD).await;
    let token = data["access_token"].as_str().unwrap();
    let bearer = format!("Bearer {token}");
    let me = system(
        "query Me { users_me { id email first_name } }",
        None,
        &[("authorization", &bearer)],
    )
    .await;
    assert_eq!(me.status, 200, "{me:?}");
    assert_eq!(me.body["data"]["users_me"]["email"], email);
    assert_eq!(
        me.body["data"]["users_me"]["id"],
        e2e::claims_of(token)["id"]
    );
    // The public cannot read users: the field does not exist for them.
    let public = system("{ users_me { id } }", None, &[]).await;
    assert_eq!((public.status, public.code()), (400, "GRAPHQL_VALIDATION"));
    assert_eq!(
        public.body["errors"][0]["extensions"]["errors"][0]["message"],
        "Cannot query field \"users_me\" on type \"Query\"."
    );
}

#[tokio::test]
async fn the_earlier_quickstarts_public_create_works_over_graphql() {
    let email = unique_email("gql-create");
    let create = system(
        "mutation($e: String, $p: Hash) { create_users_item(data: {email: $e, password: $p}) }",
        Some(json!({"e": email, "p": PASSWORD})),
        &[],
    )
    .await;
    assert_eq!(
        create.body,
        json!({"data": {"create_users_item": true}}),
        "{create:?}"
    );
    // The preset policy applies: the new user reads the posts.
    let login = login_in("json", &email).await;
    let token = login.body["data"]["auth_login"]["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(e2e::get("/items/posts", Some(&token)).await.status, 200);
    // A taken address answers as a new one, as REST's POST /users does for the public.
    let again = system(
        "mutation($e: String, $p: Hash) { create_users_item(data: {email: $e, password: $p}) }",
        Some(json!({"e": email, "p": "another-password"})),
        &[],
    )
    .await;
    assert_eq!(again.body, create.body);
    // Fields outside the permission do not exist in the input type.
    let role = system(
        "mutation { create_users_item(data: {email: \"x@example.com\", password: \"d1r3ctu5\", role: \"admin\"}) }",
        None,
        &[],
    )
    .await;
    assert_eq!((role.status, role.code()), (400, "GRAPHQL_VALIDATION"));
    // A bad email is the flow's FAILED_VALIDATION, in-band.
    let bad = system(
        "mutation { create_users_item(data: {email: \"not-an-email\", password: \"d1r3ctu5\"}) }",
        None,
        &[],
    )
    .await;
    assert_eq!(in_band_code(&bad), "FAILED_VALIDATION");
    // Several at once.
    let (a, b) = (unique_email("gql-many"), unique_email("gql-many"));
    let many = system(
        "mutation($d: [create_directus_users_input!]) { create_users_items(data: $d) }",
        Some(
            json!({"d": [{"email": a, "password": PASSWORD}, {"email": b, "password": PASSWORD}]}),
        ),
        &[],
    )
    .await;
    assert_eq!(many.body, json!({"data": {"create_users_items": true}}));
    assert!(login_in("json", &b).await.body["data"]["auth_login"]["access_token"].is_string());
}

#[tokio::test]
async fn create_users_items_checks_every_item_before_writing_any_and_is_capped() {
    let many = |items: Value| async move {
        system(
            "mutation($d: [create_directus_users_input!]) { create_users_items(data: $d) }",
            Some(json!({ "d": items })),
            &[],
        )
        .await
    };
    let exists = |email: String| async move {
        e2e::store()
            .find_user_by_email(&email)
            .await
            .unwrap()
            .is_some()
    };
    // A bad item after a good one: refused in-band, and the good one is not created either.
    let first = unique_email("gql-many-first");
    let bad = many(json!([
        {"email": first, "password": PASSWORD},
        {"email": "not-an-email", "password": PASSWORD},
    ]))
    .await;
    assert_eq!(in_band_code(&bad), "FAILED_VALIDATION");
    assert!(!exists(first.clone()).await);
    // The same address twice: refused before any write.
    let twice = many(json!([
        {"email": first, "password": PASSWORD},
        {"email": first.to_uppercase(), "password": PASSWORD},
    ]))
    .await;
    assert_eq!(in_band_code(&twice), "INVALID_PAYLOAD");
    assert!(!exists(first.clone()).await);
    // More than 25 items: INVALID_PAYLOAD before any item is checked, hashed or written.
    let emails: Vec<String> = (0..26).map(|_| unique_email("gql-many-cap")).collect();
    let items: Vec<Value> = emails
        .iter()
        .map(|e| json!({"email": e, "password": PASSWORD}))
        .collect();
    let capped = many(Value::Array(items)).await;
    assert_eq!(in_band_code(&capped), "INVALID_PAYLOAD");
    assert_eq!(
        capped.body["errors"][0]["message"],
        "Invalid payload. \"data\" must contain less than or equal to 25 items."
    );
    assert_eq!(capped.body["data"]["create_users_items"], Value::Null);
    for email in emails {
        assert!(!exists(email).await);
    }
}

#[tokio::test]
async fn graphql_login_refuses_any_bad_login_in_band_without_format_rules() {
    // Directus' GraphQL login checks no format: every bad login is INVALID_CREDENTIALS.
    for email in [
        "not-an-email",
        "",
        "nul\u{0}byte@example.com",
        "bidi\u{202e}@example.com",
        &"a".repeat(100_000),
    ] {
        let reply = system(
            LOGIN,
            Some(json!({"email": email, "password": PASSWORD})),
            &[],
        )
        .await;
        assert_eq!(in_band_code(&reply), "INVALID_CREDENTIALS", "{email:?}");
        assert_eq!(reply.body["data"], json!({"auth_login": null}));
    }
    // And the email matches case-insensitively.
    let email = unique_email("GqlCase");
    registered_login(&email, PASSWORD).await;
    let upper = system(
        LOGIN,
        Some(json!({"email": email.to_uppercase(), "password": PASSWORD})),
        &[],
    )
    .await;
    assert!(
        upper.body["data"]["auth_login"]["access_token"].is_string(),
        "{upper:?}"
    );
}

#[tokio::test]
async fn graphql_registration_validates_in_band() {
    for (variables, field) in [
        (json!({"e": "not-an-email", "p": PASSWORD}), "email"),
        (json!({"e": "ctl\u{1}@example.com", "p": PASSWORD}), "email"),
        (json!({"e": unique_email("gql-reg"), "p": ""}), "password"),
    ] {
        let reply = system(
            "mutation($e: String!, $p: String!) { users_register(email: $e, password: $p) }",
            Some(variables),
            &[],
        )
        .await;
        assert_eq!(in_band_code(&reply), "FAILED_VALIDATION", "{field}");
        assert_eq!(reply.body["errors"][0]["extensions"]["field"], field);
    }
    let name = system(
        "mutation($e: String!) { users_register(email: $e, password: \"d1r3ctu5\", first_name: \"a\\u202eb\") }",
        Some(json!({"e": unique_email("gql-reg")})),
        &[],
    )
    .await;
    assert_eq!(in_band_code(&name), "FAILED_VALIDATION");
    // The password policy is the flow's too.
    let weak = system(
        "mutation($e: String!) { users_register(email: $e, password: \"password1\") }",
        Some(json!({"e": unique_email("gql-reg")})),
        &[],
    )
    .await;
    assert_eq!(in_band_code(&weak), "FAILED_VALIDATION");
}

fn expired_or_bad(claims: Value) -> String {
    e2e::sign(&claims)
}

#[tokio::test]
async fn every_token_problem_fails_before_graphql_with_the_rest_envelope() {
    let now = e2e::now_secs();
    let expired = expired_or_bad(
        json!({"id": "u", "role": null, "app_access": false, "admin_access": false, "iat": now - 1000, "exp": now - 100, "iss": "directus"}),
    );
    let forged = {
        let valid =
            expired_or_bad(json!({"id": "u", "iat": now, "exp": now + 100, "iss": "directus"}));
        let (head, _) = valid.rsplit_once('.').unwrap();
        format!("{head}.c2lnbmF0dXJl")
    };
    let foreign = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &json!({"id": "u", "iat": now, "exp": now + 100, "iss": "someone-else"}),
        &jsonwebtoken::EncodingKey::from_secret(b"another-secret-of-sufficient-length!!"),
    )
    .unwrap();
    let login =
        "mutation { auth_login(email: \"a@example.com\", password: \"x\") { access_token } }";
    for (token, status, code) in [
        ("garbage".to_owned(), 401, "INVALID_CREDENTIALS"),
        (foreign, 401, "INVALID_CREDENTIALS"),
        (forged, 403, "INVALID_TOKEN"),
        (expired, 401, "TOKEN_EXPIRED"),
    ] {
        let bearer = format!("Bearer {token}");
        let reply = system(login, None, &[("authorization", &bearer)]).await;
        assert_eq!((reply.status, reply.code()), (status, code), "{reply:?}");
        assert!(reply.body.get("data").is_none());
        let by_query = e2e::get(
            &format!("{PATH}?query=%7Bserver_ping%7D&access_token={token}"),
            None,
        )
        .await;
        assert_eq!((by_query.status, by_query.code()), (status, code));
    }
    // Both a query token and a header: 400.
    let both = e2e::post_with(
        &format!("{PATH}?access_token=a"),
        &json!({"query": "{ server_ping }"}).to_string(),
        &[("authorization", "Bearer b")],
    )
    .await;
    assert_eq!((both.status, both.code()), (400, "INVALID_PAYLOAD"));
    // A Basic header is no token: the caller is public.
    let basic = system("{ server_ping }", None, &[("authorization", "Basic abc")]).await;
    assert_eq!(basic.body, json!({"data": {"server_ping": "pong"}}));
}

#[tokio::test]
async fn the_transport_is_narrow() {
    // Only application/json bodies; anything else has no query.
    for content_type in [
        Some("application/graphql"),
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        None,
    ] {
        let reply = e2e::post_typed(PATH, content_type, b"{\"query\":\"{ server_ping }\"}").await;
        assert_eq!(
            (reply.status, reply.code()),
            (400, "INVALID_PAYLOAD"),
            "{content_type:?}"
        );
        assert_eq!(
            reply.body["errors"][0]["message"],
            "Invalid payload. Must provide query string."
        );
    }
    for body in [&b""[..], b"[]", b"{}", b"[{\"query\":\"{ server_ping }\"}]"] {
        let reply = e2e::post_typed(PATH, Some("application/json"), body).await;
        assert_eq!((reply.status, reply.code()), (400, "INVALID_PAYLOAD"));
    }
    let malformed = e2e::post_typed(PATH, Some("application/json"), b"{nope").await;
    assert_eq!(
        (malformed.status, malformed.code()),
        (400, "INVALID_PAYLOAD")
    );
    let huge = format!(
        "{{\"query\":\"{{ server_ping }}\",\"x\":\"{}\"}}",
        "a".repeat(1_100_000)
    );
    let too_large = e2e::post_typed(PATH, Some("application/json"), huge.as_bytes()).await;
    assert_eq!(
        (too_large.status, too_large.code()),
        (400, "INVALID_PAYLOAD")
    );

    // GET runs queries, never mutations.
    let ping = e2e::get(&format!("{PATH}?query=%7B%20server_ping%20%7D"), None).await;
    assert_eq!(ping.body, json!({"data": {"server_ping": "pong"}}));
    let below = e2e::get(&format!("{PATH}/anything?query=%7Bserver_ping%7D"), None).await;
    assert_eq!(below.body, ping.body);
    let mutation = e2e::get(
        &format!("{PATH}?query=mutation%20%7B%20auth_logout%20%7D"),
        None,
    )
    .await;
    assert_eq!(
        (mutation.status, mutation.code()),
        (405, "METHOD_NOT_ALLOWED")
    );
    let bad_variables = e2e::get(
        &format!("{PATH}?query=%7Bserver_ping%7D&variables=%7Bnope"),
        None,
    )
    .await;
    assert_eq!(
        (bad_variables.status, bad_variables.code()),
        (400, "INVALID_QUERY")
    );

    // Other methods: 405 with Allow.
    for method in ["PUT", "PATCH", "DELETE"] {
        let response = client()
            .request(method.parse().unwrap(), format!("{}{PATH}", stack().api))
            .send()
            .await
            .unwrap();
        assert_eq!(
            response
                .headers()
                .get("allow")
                .and_then(|v| v.to_str().ok()),
            Some("GET, POST"),
            "{method}"
        );
        let reply = Reply::from(response).await.documented(method, PATH);
        assert_eq!((reply.status, reply.code()), (405, "METHOD_NOT_ALLOWED"));
    }
}

#[tokio::test]
async fn documents_and_variables_are_checked_before_anything_runs() {
    // Syntax, unknown fields, missing arguments and selections: 400 GRAPHQL_VALIDATION, nothing
    // run. (A string literal for the `auth_mode` enum, `mode: "cookie"`, is 400 in graphql-js
    // but accepted by async-graphql's validation: a known difference.)
    for query in [
        "mutation {",
        "{ nope }",
        "mutation { auth_login(email: \"a@example.com\") { access_token } }",
        "mutation { auth_login(email: \"a@example.com\", password: \"x\") }",
    ] {
        let reply = system(query, None, &[]).await;
        assert_eq!(
            (reply.status, reply.code()),
            (400, "GRAPHQL_VALIDATION"),
            "{query}"
        );
    }
    // Sensitive mutations at most once per operation, aliases included, through fragments
    // (a fragment spread twice counts twice), inline fragments and fragments within them.
    for query in [
        "mutation { a: auth_login(email: \"a@example.com\", password: \"x\") { access_token } b: auth_login(email: \"b@example.com\", password: \"y\") { access_token } }",
        "mutation { a: users_register(email: \"a@example.com\", password: \"x\") b: users_register(email: \"b@example.com\", password: \"y\") }",
        "mutation { a: auth_password_request(email: \"a@example.com\") b: auth_password_request(email: \"a@example.com\") }",
        "mutation { a: auth_password_reset(token: \"t\", password: \"d1r3ctu5\") b: auth_password_reset(token: \"t\", password: \"d1r3ctu5\") }",
        "mutation { ...L ...L } fragment L on Mutation { auth_login(email: \"a@example.com\", password: \"x\") { access_token } }",
        "mutation { ... on Mutation { a: auth_password_request(email: \"a@example.com\") } ... on Mutation { b: auth_password_request(email: \"a@example.com\") } }",
        "mutation { ...R } fragment R on Mutation { a: users_register(email: \"a@example.com\", password: \"x\") ... on Mutation { ...S } } fragment S on Mutation { b: users_register(email: \"b@example.com\", password: \"y\") }",
        "mutation { auth_password_reset(token: \"t\", password: \"d1r3ctu5\") ...P } fragment P on Mutation { ... on Mutation { again: auth_password_reset(token: \"t\", password: \"d1r3ctu5\") } }",
    ] {
        let reply = system(query, None, &[]).await;
        assert_eq!(
            (reply.status, reply.code()),
            (400, "GRAPHQL_VALIDATION"),
            "{query}"
        );
        let inner = reply.body["errors"][0]["extensions"]["errors"][0]["message"]
            .as_str()
            .unwrap();
        assert!(
            inner.ends_with("can only be used once per request"),
            "{inner}"
        );
    }
    // A fragment cycle does not hang the count: the document is refused.
    let cycle = tokio::time::timeout(
        std::time::Duration::from_secs(30),
        system(
            "mutation { ...A } fragment A on Mutation { auth_login(email: \"a@example.com\", password: \"x\") { access_token } ...B } fragment B on Mutation { ...A }",
            None,
            &[],
        ),
    )
    .await
    .expect("answered");
    assert_eq!((cycle.status, cycle.code()), (400, "GRAPHQL_VALIDATION"));
    // Variables: not an object is GRAPHQL_EXECUTION; a missing required one is masked.
    let string_variables = e2e::post(
        PATH,
        &json!({"query": LOGIN, "variables": "{\"email\":\"a\"}"}).to_string(),
    )
    .await;
    assert_eq!(
        (string_variables.status, string_variables.code()),
        (400, "GRAPHQL_EXECUTION")
    );
    let missing = system(LOGIN, Some(json!({"email": "a@example.com"})), &[]).await;
    assert_eq!(
        missing.body,
        json!({"errors":[{"message":"An unexpected error occurred.","extensions":{"code":"INTERNAL_SERVER_ERROR"}}]})
    );
    // An unknown operation name: masked too.
    let unknown = e2e::post(
        PATH,
        &json!({"query": "{ server_ping }", "operationName": "Nope"}).to_string(),
    )
    .await;
    assert_eq!(unknown.code(), "INTERNAL_SERVER_ERROR");
}
