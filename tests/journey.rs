//! The quickstart journey (seed 000) over HTTP against the local stack, with its failure paths.

use e2e::{SECRET, get, now_secs, post, post_with, registered_login, stack, unique_email};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

const SEED_BODY: &str = r#"{ "email": "hello@example.com", "password": "d1r3ctu5" }"#;

fn sign(claims: Value, secret: &str) -> String {
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap()
}

#[tokio::test]
async fn the_seed_journey_works_with_its_bodies_verbatim() {
    // Registering the seed's address twice is fine: the second answer is the same 204.
    let register = post("/register", SEED_BODY).await;
    assert_eq!(register.status, 204, "{register:?}");
    assert_eq!(register.raw, "");
    assert_eq!(register.content_type, None);

    let login = post("/auth/login", SEED_BODY).await;
    assert_eq!(login.status, 200, "{login:?}");
    let data = &login.body["data"];
    assert_eq!(data["expires"], 900_000);
    let access = data["access_token"].as_str().unwrap();
    let refresh = data["refresh_token"].as_str().unwrap();
    assert_eq!(refresh.len(), 64);

    let posts = get("/items/posts", Some(access)).await;
    assert_eq!(posts.status, 200, "{posts:?}");
    let items = posts.body["data"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["id"], 1);
    assert!(items[0]["title"].is_string());
    assert!(items[0]["content"].is_string());

    let refreshed = post(
        "/auth/refresh",
        &json!({"refresh_token": refresh}).to_string(),
    )
    .await;
    assert_eq!(refreshed.status, 200, "{refreshed:?}");
    let new_refresh = refreshed.body["data"]["refresh_token"].as_str().unwrap();
    assert_ne!(new_refresh, refresh);

    let logout = post(
        "/auth/logout",
        &json!({"refresh_token": new_refresh}).to_string(),
    )
    .await;
    assert_eq!(logout.status, 204);
    assert_eq!(logout.raw, "");
}

#[tokio::test]
async fn register_alias_and_sdk_path_behave_alike() {
    let email = unique_email("sdk-path");
    let body = json!({"email": email, "password": "d1r3ctu5"}).to_string();
    assert_eq!(post("/users/register", &body).await.status, 204);
    assert_eq!(post("/auth/login", &body).await.status, 200);
}

#[tokio::test]
async fn access_tokens_carry_directus_claims() {
    let data = registered_login(&unique_email("claims"), "d1r3ctu5").await;
    let token = data["access_token"].as_str().unwrap();
    let payload = token.split('.').nth(1).unwrap();
    use base64_decode::decode;
    let claims: Value = serde_json::from_slice(&decode(payload)).unwrap();
    assert_eq!(claims["iss"], "directus");
    assert_eq!(claims["role"], "0b6f1f0e-7c1d-4c8e-9f55-6a2b9d7e3c10");
    assert_eq!(claims["app_access"], false);
    assert_eq!(claims["admin_access"], false);
    assert_eq!(
        claims["exp"].as_u64().unwrap() - claims["iat"].as_u64().unwrap(),
        900
    );
    assert!(claims["id"].is_string());
}

mod base64_decode {
    /// base64url without padding, enough to read a JWT payload in a test.
    pub fn decode(input: &str) -> Vec<u8> {
        let value = |c: u8| -> u32 {
            match c {
                b'A'..=b'Z' => u32::from(c - b'A'),
                b'a'..=b'z' => u32::from(c - b'a') + 26,
                b'0'..=b'9' => u32::from(c - b'0') + 52,
                b'-' => 62,
                b'_' => 63,
                _ => panic!("not base64url"),
            }
        };
        let mut out = Vec::new();
        let (mut buffer, mut bits) = (0u32, 0);
        for c in input.bytes() {
            buffer = (buffer << 6) | value(c);
            bits += 6;
            if bits >= 8 {
                bits -= 8;
                out.push(((buffer >> bits) & 0xff) as u8);
            }
        }
        out
    }
}

#[tokio::test]
async fn duplicate_registration_is_indistinguishable_and_keeps_the_first_password() {
    let email = unique_email("duplicate");
    let first = json!({"email": email, "password": "first-password"}).to_string();
    let second = json!({"email": email.to_uppercase(), "password": "second-password"}).to_string();
    let a = post("/register", &first).await;
    let b = post("/register", &second).await;
    assert_eq!((a.status, a.raw.as_str()), (204, ""));
    assert_eq!((b.status, b.raw.as_str()), (204, ""));
    assert_eq!(post("/auth/login", &first).await.status, 200);
    let stolen = post("/auth/login", &second).await;
    assert_eq!(stolen.status, 401);
    assert_eq!(stolen.code(), "INVALID_CREDENTIALS");
}

#[tokio::test]
async fn emails_match_case_insensitively_at_login() {
    let email = unique_email("CaseMix");
    registered_login(&email, "d1r3ctu5").await;
    let lower = json!({"email": email.to_lowercase(), "password": "d1r3ctu5"}).to_string();
    assert_eq!(post("/auth/login", &lower).await.status, 200);
}

#[tokio::test]
async fn bad_payloads_are_400_invalid_payload() {
    for (body, reason) in [
        ("{not json", None),
        (
            r#"{"email":"hello@example.com"}"#,
            Some("\"password\" is required"),
        ),
        (
            r#"{"email":42,"password":"x"}"#,
            Some("\"email\" must be a string"),
        ),
        (
            r#"{"email":"not-an-email","password":"x"}"#,
            Some("\"email\" must be a valid email"),
        ),
        (
            r#"{"email":"a@example.com","password":"x","mode":"pigeon"}"#,
            None,
        ),
    ] {
        let reply = post("/auth/login", body).await;
        assert_eq!(reply.status, 400, "{body}: {reply:?}");
        assert_eq!(reply.code(), "INVALID_PAYLOAD");
        if let Some(reason) = reason {
            assert_eq!(reply.body["errors"][0]["extensions"]["reason"], reason);
        }
    }
    let extra = post(
        "/register",
        &json!({"email": unique_email("extra"), "password": "d1r3ctu5", "role": "admin"})
            .to_string(),
    )
    .await;
    assert_eq!(extra.status, 400);
    assert_eq!(
        extra.body["errors"][0]["message"],
        "Invalid payload. \"role\" is not allowed."
    );
}

#[tokio::test]
async fn oversized_bodies_are_413_and_nothing_is_written() {
    let email = unique_email("huge");
    let body = json!({"email": email, "password": "d1r3ctu5", "first_name": "x".repeat(70 * 1024)})
        .to_string();
    let reply = post("/register", &body).await;
    assert_eq!(reply.status, 413, "{reply:?}");
    assert_eq!(reply.code(), "CONTENT_TOO_LARGE");
    let login = post(
        "/auth/login",
        &json!({"email": email, "password": "d1r3ctu5"}).to_string(),
    )
    .await;
    assert_eq!(
        login.status, 401,
        "the refused registration created no user"
    );
}

#[tokio::test]
async fn items_without_a_token_use_the_public_policy_which_reads_nothing() {
    let reply = get("/items/posts", None).await;
    assert_eq!(reply.status, 403);
    assert_eq!(reply.code(), "FORBIDDEN");
    assert_eq!(
        reply.body["errors"][0]["message"],
        "You don't have permission to access collection \"posts\" or it does not exist. Queried in root."
    );
}

#[tokio::test]
async fn token_errors_have_directus_codes_and_statuses() {
    let data = registered_login(&unique_email("tokens"), "d1r3ctu5").await;
    let valid = data["access_token"].as_str().unwrap();

    let garbage = get("/items/posts", Some("garbage")).await;
    assert_eq!(
        (garbage.status, garbage.code()),
        (401, "INVALID_CREDENTIALS")
    );

    let mut tampered = valid.to_owned();
    tampered.pop();
    tampered.push(if valid.ends_with('A') { 'B' } else { 'A' });
    let reply = get("/items/posts", Some(&tampered)).await;
    assert_eq!((reply.status, reply.code()), (403, "INVALID_TOKEN"));

    let claims = |exp: u64, iss: &str| {
        json!({"id": "someone", "role": null, "app_access": false, "admin_access": false,
               "iat": exp - 900, "exp": exp, "iss": iss})
    };
    let expired = sign(claims(now_secs() - 60, "directus"), SECRET);
    let reply = get("/items/posts", Some(&expired)).await;
    assert_eq!((reply.status, reply.code()), (401, "TOKEN_EXPIRED"));

    let forged = sign(
        claims(now_secs() + 600, "directus"),
        "a-different-secret-of-32-bytes-or-more",
    );
    let reply = get("/items/posts", Some(&forged)).await;
    assert_eq!((reply.status, reply.code()), (403, "INVALID_TOKEN"));

    let foreign = sign(claims(now_secs() + 600, "someone-else"), SECRET);
    let reply = get("/items/posts", Some(&foreign)).await;
    assert_eq!((reply.status, reply.code()), (401, "INVALID_CREDENTIALS"));

    // A bad token fails public routes too, as in Directus.
    let login = post_with(
        "/auth/login",
        SEED_BODY,
        &[("authorization", "Bearer garbage")],
    )
    .await;
    assert_eq!(login.status, 401);

    let both = get(&format!("/items/posts?access_token={valid}"), Some(valid)).await;
    assert_eq!((both.status, both.code()), (400, "INVALID_PAYLOAD"));
    let query_only = get(&format!("/items/posts?access_token={valid}"), None).await;
    assert_eq!(query_only.status, 200);
}

#[tokio::test]
async fn unknown_collections_unknown_fields_and_missing_items_are_403() {
    let data = registered_login(&unique_email("reader"), "d1r3ctu5").await;
    let token = data["access_token"].as_str().unwrap();

    let nope = get("/items/nope", Some(token)).await;
    assert_eq!(nope.status, 403);
    assert_eq!(
        nope.body["errors"][0]["message"],
        "You don't have permission to access collection \"nope\" or it does not exist. Queried in root."
    );
    let field = get("/items/posts?fields=secret", Some(token)).await;
    assert_eq!(field.status, 403);
    assert!(
        field.body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("field \"secret\"")
    );
    let missing = get("/items/posts/999", Some(token)).await;
    assert_eq!((missing.status, missing.code()), (403, "FORBIDDEN"));
    let system = get("/items/directus_users", Some(token)).await;
    assert_eq!(system.status, 403);
}

#[tokio::test]
async fn items_read_by_id_with_fields_limit_and_filter() {
    let data = registered_login(&unique_email("query"), "d1r3ctu5").await;
    let token = data["access_token"].as_str().unwrap();

    let one = get("/items/posts/1?fields=title", Some(token)).await;
    assert_eq!(one.status, 200, "{one:?}");
    assert_eq!(
        one.body["data"]
            .as_object()
            .unwrap()
            .keys()
            .collect::<Vec<_>>(),
        vec!["title"]
    );

    let none = get("/items/posts?limit=0", Some(token)).await;
    assert_eq!(none.body["data"], json!([]));

    let filtered = get(
        "/items/posts?filter=%7B%22id%22%3A%7B%22_eq%22%3A2%7D%7D",
        Some(token),
    )
    .await;
    assert_eq!(filtered.status, 200, "{filtered:?}");
    assert_eq!(filtered.body["data"], json!([]));

    let bad = get("/items/posts?limit=abc", Some(token)).await;
    assert_eq!((bad.status, bad.code()), (400, "INVALID_QUERY"));
}

#[tokio::test]
async fn logout_ends_the_session() {
    let data = registered_login(&unique_email("logout"), "d1r3ctu5").await;
    let token = data["refresh_token"].as_str().unwrap();
    let body = json!({"refresh_token": token}).to_string();
    let logout = post("/auth/logout", &body).await;
    assert_eq!(logout.status, 204);
    let refresh = post("/auth/refresh", &body).await;
    assert_eq!(
        (refresh.status, refresh.code()),
        (401, "INVALID_CREDENTIALS")
    );
    // Logging out twice is still a success, as in Directus.
    assert_eq!(post("/auth/logout", &body).await.status, 204);
}

#[tokio::test]
async fn cookie_mode_keeps_the_refresh_token_in_an_http_only_cookie() {
    let email = unique_email("cookie");
    registered_login(&email, "d1r3ctu5").await;
    let login = post(
        "/auth/login",
        &json!({"email": email, "password": "d1r3ctu5", "mode": "cookie"}).to_string(),
    )
    .await;
    assert_eq!(login.status, 200);
    assert!(login.body["data"].get("refresh_token").is_none());
    assert!(login.body["data"]["access_token"].is_string());
    let header = &login.set_cookies[0];
    assert!(
        header.contains("HttpOnly") && header.contains("SameSite=Lax") && header.contains("Path=/"),
        "{header}"
    );
    assert!(header.contains("Max-Age=604800"), "{header}");
    let cookie = login.cookie("directus_refresh_token").unwrap();

    let cookie_header = format!("directus_refresh_token={cookie}");
    // No mode and no body token: cookie mode, as the contract resolves it.
    let refreshed = post_with("/auth/refresh", "{}", &[("cookie", &cookie_header)]).await;
    assert_eq!(refreshed.status, 200, "{refreshed:?}");
    assert!(refreshed.body["data"].get("refresh_token").is_none());
    let next = refreshed.cookie("directus_refresh_token").unwrap();
    assert_ne!(next, cookie);

    // Within the grace window the rotated-out cookie gets the same new cookie.
    let repeat = post_with(
        "/auth/refresh",
        r#"{"mode":"cookie"}"#,
        &[("cookie", &cookie_header)],
    )
    .await;
    assert_eq!(repeat.status, 200);
    assert_eq!(repeat.cookie("directus_refresh_token").unwrap(), next);

    let next_header = format!("directus_refresh_token={next}");
    let logout = post_with(
        "/auth/logout",
        r#"{"mode":"cookie"}"#,
        &[("cookie", &next_header)],
    )
    .await;
    assert_eq!(logout.status, 204);
    assert!(
        logout
            .set_cookies
            .iter()
            .any(|c| c.starts_with("directus_refresh_token=;") && c.contains("Max-Age=0"))
    );
    let after = post_with(
        "/auth/refresh",
        r#"{"mode":"cookie"}"#,
        &[("cookie", &next_header)],
    )
    .await;
    assert_eq!(after.status, 401);
}

#[tokio::test]
async fn refresh_and_logout_without_a_token_are_400() {
    for path in ["/auth/refresh", "/auth/logout"] {
        let reply = post(path, "{}").await;
        assert_eq!(reply.status, 400, "{path}");
        assert_eq!(
            reply.body["errors"][0]["message"],
            "Invalid payload. The refresh token is required in either the payload or cookie."
        );
    }
}

#[tokio::test]
async fn refresh_tokens_are_never_stored() {
    use shared::store::{Store, Tables};
    let data = registered_login(&unique_email("at-rest"), "d1r3ctu5").await;
    let token = data["refresh_token"].as_str().unwrap();
    let store = Store::local(&stack().dynamo, Tables::with_prefix("e2e-"));
    let scan = store
        .client()
        .scan()
        .table_name(&store.tables().sessions)
        .send()
        .await
        .unwrap();
    let dump = format!("{:?}", scan.items());
    assert!(dump.contains("generation"), "sessions were written");
    assert!(!dump.contains(token), "the refresh token is never stored");
    assert!(!dump.contains(&token[22..]), "nor its tag");
}

#[tokio::test]
async fn passwords_and_tokens_never_reach_the_function_logs() {
    let password = format!("secret-{}", uuid::Uuid::new_v4().simple());
    let email = unique_email("logs");
    let data = registered_login(&email, &password).await;
    let refresh = data["refresh_token"].as_str().unwrap().to_owned();
    let access = data["access_token"].as_str().unwrap().to_owned();
    let wrong = post(
        "/auth/login",
        &json!({"email": email, "password": format!("{password}-wrong")}).to_string(),
    )
    .await;
    assert_eq!(wrong.status, 401);
    let rotated = post(
        "/auth/refresh",
        &json!({"refresh_token": refresh}).to_string(),
    )
    .await;
    assert_eq!(rotated.status, 200);
    assert_eq!(get("/items/posts", Some(&access)).await.status, 200);

    // The sanity check must be a line our login function wrote for this very login (cargo's
    // own build output also says "login"): its event names the user's id.
    let user = e2e::store()
        .find_user_by_email(&email)
        .await
        .unwrap()
        .expect("registered");
    let mut log = String::new();
    for _ in 0..50 {
        log = std::fs::read_to_string(e2e::FUNCTION_LOG).expect("the stack writes a function log");
        if log
            .lines()
            .any(|line| line.contains(&user.id) && line.contains("login"))
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(
        log.lines()
            .any(|line| line.contains(&user.id) && line.contains("login")),
        "the login function logged this login"
    );
    for secret in [&password, &refresh, &access] {
        assert!(!log.contains(secret.as_str()), "a secret reached the log");
    }
}

#[tokio::test]
async fn the_jwks_endpoint_publishes_no_shared_secret() {
    let reply = get("/.well-known/jwks.json", None).await;
    assert_eq!(reply.status, 200);
    assert_eq!(
        reply.body,
        json!({"keys": []}),
        "an HS256 stack has no public keys"
    );
}

#[tokio::test]
async fn unknown_routes_are_directus_route_not_found() {
    for path in [
        "/nowhere",
        "/items",
        "/items/posts/1/extra",
        "/auth/register",
    ] {
        let reply = get(path, None).await;
        assert_eq!(
            (reply.status, reply.code()),
            (404, "ROUTE_NOT_FOUND"),
            "{reply:?}"
        );
        assert_eq!(
            reply.body["errors"][0]["message"],
            format!("Route {path} doesn't exist.")
        );
        assert_eq!(reply.body["errors"][0]["extensions"]["path"], path);
    }
    let reply = post("/auth/nowhere", "{}").await;
    assert_eq!(
        (reply.status, reply.code()),
        (404, "ROUTE_NOT_FOUND"),
        "{reply:?}"
    );
}
