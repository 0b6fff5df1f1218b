//! `GET`/`PATCH /users/me`, session mode (the access token as the `directus_session_token`
//! cookie), the token precedence of every route (`?access_token=`, `Authorization: Bearer`, the
//! session cookie), session-bound tokens dying with their session, and the CSRF rules of
//! cookie-authenticated writes.

use e2e::{
    ADMIN_ROLE, Reply, admin_token, apply, claims_of, client, now_secs, post_with, sign, stack,
    store, unique_email,
};
use serde_json::{Value, json};

const PASSWORD: &str = "d1r3ctu5-long";
const ALLOWED_ORIGIN: &str = "http://localhost:3000";

/// Any request, validated against docs/openapi.yaml.
async fn send(method: &str, path: &str, headers: &[(&str, &str)], body: Option<Value>) -> Reply {
    send_from(&client(), method, path, headers, body).await
}

/// [`send`] from `from`: a client of its own address where a test spends a small per-address
/// budget (password requests: 5 a minute) that other tests share on the common address.
async fn send_from(
    from: &reqwest::Client,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<Value>,
) -> Reply {
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let mut request = from.request(method.clone(), format!("{}{path}", stack().api));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    if let Some(body) = body {
        request = request
            .header("content-type", "application/json")
            .body(body.to_string());
    }
    let documented = path.split('?').next().unwrap().to_owned();
    Reply::from(request.send().await.expect("request sent"))
        .await
        .documented(method.as_str(), &documented)
}

fn cookie(token: &str) -> String {
    format!("directus_session_token={token}")
}

async fn me_with_cookie(token: &str) -> Reply {
    send("GET", "/users/me", &[("cookie", &cookie(token))], None).await
}

/// A registered user (role User, which the test fixture lets read and update its own row).
async fn registered(tag: &str) -> String {
    let email = unique_email(tag);
    let body = json!({"email": email, "password": PASSWORD}).to_string();
    let reply = e2e::post("/register", &body).await;
    assert_eq!(reply.status, 204, "{reply:?}");
    email
}

/// Logs in with `mode`; returns the reply.
async fn login(email: &str, mode: &str) -> Reply {
    let reply = e2e::post(
        "/auth/login",
        &json!({"email": email, "password": PASSWORD, "mode": mode}).to_string(),
    )
    .await;
    assert_eq!(reply.status, 200, "{reply:?}");
    reply
}

/// Session-mode login: the session cookie's value.
async fn session_login(email: &str) -> String {
    login(email, "session")
        .await
        .cookie("directus_session_token")
        .expect("the session cookie")
}

/// A user created by an administrator with `role`; returns (id, email).
async fn user_in(role: &str) -> (String, String) {
    let admin = admin_token().await;
    let email = unique_email("me");
    let created = post_with(
        "/users",
        &json!({"email": email, "password": PASSWORD, "role": role, "first_name": "Ada"})
            .to_string(),
        &[("authorization", &format!("Bearer {admin}"))],
    )
    .await;
    assert_eq!(created.status, 200, "{created:?}");
    (
        created.body["data"]["id"].as_str().unwrap().to_owned(),
        email,
    )
}

/// A fresh role whose one policy holds `permissions`.
async fn role_with(permissions: Value) -> String {
    let tag = uuid::Uuid::new_v4().simple().to_string();
    let policy = format!("me-policy-{tag}");
    let role = format!("me-role-{tag}");
    apply(json!({
        "policies": [{"id": policy, "name": "Me", "permissions": permissions}],
        "roles": [{"id": role, "name": "Me", "policies": [policy]}]
    }))
    .await;
    role
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

fn json_token(reply: &Reply) -> String {
    reply.body["data"]["access_token"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn clears_session_cookie(reply: &Reply) -> bool {
    reply
        .set_cookies
        .iter()
        .any(|c| c.starts_with("directus_session_token=;") && c.contains("Max-Age=0"))
}

#[tokio::test]
async fn session_login_sets_the_access_token_as_an_httponly_cookie() {
    let email = registered("session-login").await;
    let reply = login(&email, "session").await;
    assert_eq!(reply.body, json!({"data": {"expires": 86_400_000}}));
    let set = reply
        .set_cookies
        .iter()
        .find(|c| c.starts_with("directus_session_token="))
        .expect("the session cookie is set");
    for attribute in ["Max-Age=86400", "Path=/", "HttpOnly", "SameSite=Lax"] {
        assert!(set.contains(attribute), "{set}");
    }
    assert!(
        !set.contains("Secure"),
        "Directus' default is not Secure: {set}"
    );
    let token = reply.cookie("directus_session_token").unwrap();
    let claims = claims_of(&token);
    assert!(claims["session"].is_string(), "{claims}");
    assert_eq!(
        claims["exp"].as_u64().unwrap() - claims["iat"].as_u64().unwrap(),
        86_400
    );
    assert_eq!(claims["iss"], "directus");

    // The cookie, the same JWT as a Bearer header, and as ?access_token= all authenticate.
    let me = me_with_cookie(&token).await;
    assert_eq!(me.status, 200, "{me:?}");
    assert_eq!(me.body["data"]["email"], json!(email));
    let by_header = send(
        "GET",
        "/users/me",
        &[("authorization", &bearer(&token))],
        None,
    )
    .await;
    assert_eq!(by_header.status, 200, "{by_header:?}");
    let by_query = send("GET", &format!("/users/me?access_token={token}"), &[], None).await;
    assert_eq!(by_query.status, 200, "{by_query:?}");

    // A bad mode names the three.
    let bad = e2e::post(
        "/auth/login",
        &json!({"email": email, "password": PASSWORD, "mode": "pigeon"}).to_string(),
    )
    .await;
    assert_eq!(bad.status, 400);
    assert!(
        bad.body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("[cookie, json, session]"),
        "{bad:?}"
    );
}

#[tokio::test]
async fn session_refresh_rotates_the_cookie_and_logout_ends_the_session() {
    let email = registered("session-refresh").await;
    let first = session_login(&email).await;

    // Without "mode":"session" the session cookie is not a refresh token: cookie mode, 400.
    let modeless = send(
        "POST",
        "/auth/refresh",
        &[("cookie", &cookie(&first))],
        Some(json!({})),
    )
    .await;
    assert_eq!(modeless.status, 400, "{modeless:?}");

    let refreshed = send(
        "POST",
        "/auth/refresh",
        &[("cookie", &cookie(&first))],
        Some(json!({"mode": "session"})),
    )
    .await;
    assert_eq!(refreshed.status, 200, "{refreshed:?}");
    assert_eq!(refreshed.body, json!({"data": {"expires": 86_400_000}}));
    let second = refreshed.cookie("directus_session_token").unwrap();
    assert_ne!(second, first);
    assert_eq!(
        claims_of(&second)["session"]
            .as_str()
            .unwrap()
            .split('.')
            .next(),
        claims_of(&first)["session"]
            .as_str()
            .unwrap()
            .split('.')
            .next(),
        "the same session, one generation on"
    );
    // Within the grace window the old cookie still works, and refreshing it again returns the
    // very same new cookie (two tabs).
    assert_eq!(me_with_cookie(&first).await.status, 200);
    let again = send(
        "POST",
        "/auth/refresh",
        &[("cookie", &cookie(&first))],
        Some(json!({"mode": "session"})),
    )
    .await;
    assert_eq!(again.status, 200, "{again:?}");
    assert_eq!(again.cookie("directus_session_token").unwrap(), second);
    assert_eq!(me_with_cookie(&second).await.status, 200);

    // Logout needs the mode too, then ends the session and clears the cookie.
    let modeless = send(
        "POST",
        "/auth/logout",
        &[("cookie", &cookie(&second))],
        Some(json!({})),
    )
    .await;
    assert_eq!(modeless.status, 400, "{modeless:?}");
    let out = send(
        "POST",
        "/auth/logout",
        &[("cookie", &cookie(&second))],
        Some(json!({"mode": "session"})),
    )
    .await;
    assert_eq!(out.status, 204, "{out:?}");
    assert!(clears_session_cookie(&out), "{out:?}");

    // Dead at once, not at exp: every token of the session, by any carrier.
    for token in [&first, &second] {
        let after = me_with_cookie(token).await;
        assert_eq!(after.status, 401, "{after:?}");
        assert_eq!(after.code(), "INVALID_CREDENTIALS");
        assert!(clears_session_cookie(&after), "{after:?}");
        let by_header = send(
            "GET",
            "/users/me",
            &[("authorization", &bearer(token))],
            None,
        )
        .await;
        assert_eq!(by_header.status, 401, "{by_header:?}");
        assert!(
            !clears_session_cookie(&by_header),
            "only a failing cookie is cleared"
        );
    }
}

/// Moves the session's last rotation back past the grace window.
async fn age_rotation(session_id: &str) {
    use aws_sdk_dynamodb::types::AttributeValue;
    let store = store();
    store
        .client()
        .update_item()
        .table_name(&store.tables().sessions)
        .key("id", AttributeValue::S(session_id.to_owned()))
        .update_expression("SET rotated_at = :v")
        .expression_attribute_values(":v", AttributeValue::N((now_secs() - 60).to_string()))
        .send()
        .await
        .unwrap();
}

fn session_id(token: &str) -> String {
    claims_of(token)["session"]
        .as_str()
        .unwrap()
        .split('.')
        .next()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn a_spent_session_cookie_is_refused_and_presented_for_refresh_ends_the_session() {
    let email = registered("session-reuse").await;
    let first = session_login(&email).await;
    let refreshed = send(
        "POST",
        "/auth/refresh",
        &[("cookie", &cookie(&first))],
        Some(json!({"mode": "session"})),
    )
    .await;
    let second = refreshed.cookie("directus_session_token").unwrap();
    age_rotation(&session_id(&first)).await;

    let stale = me_with_cookie(&first).await;
    assert_eq!(stale.status, 401, "{stale:?}");
    // The current cookie is untouched by a mere refusal...
    assert_eq!(me_with_cookie(&second).await.status, 200);
    // ...but the spent one presented for rotation is reuse: the whole session ends.
    let reuse = send(
        "POST",
        "/auth/refresh",
        &[("cookie", &cookie(&first))],
        Some(json!({"mode": "session"})),
    )
    .await;
    assert_eq!(reuse.status, 401, "{reuse:?}");
    assert_eq!(reuse.code(), "INVALID_CREDENTIALS");
    let after = me_with_cookie(&second).await;
    assert_eq!(after.status, 401, "{after:?}");
}

#[tokio::test]
async fn revoking_a_users_sessions_ends_session_tokens_at_once() {
    let email = registered("session-revoke").await;
    let token = session_login(&email).await;
    assert_eq!(me_with_cookie(&token).await.status, 200);
    let user_id = claims_of(&token)["id"].as_str().unwrap().to_owned();
    // What the operator tool's end-sessions does, without its stamp: the session items alone
    // decide a session-mode token, whatever a warm function cached about the user.
    store().revoke_user_sessions(&user_id).await.unwrap();
    let after = me_with_cookie(&token).await;
    assert_eq!(after.status, 401, "{after:?}");
    assert_eq!(after.code(), "INVALID_CREDENTIALS");
}

#[tokio::test]
async fn forged_expired_and_foreign_session_cookies_are_refused() {
    let email = registered("session-forged").await;
    let token = session_login(&email).await;
    let mut claims = claims_of(&token);

    // Signed with another key: 403 INVALID_TOKEN, cookie cleared.
    let forged = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(b"another-secret-of-at-least-32-bytes!!"),
    )
    .unwrap();
    let reply = me_with_cookie(&forged).await;
    assert_eq!(
        (reply.status, reply.code()),
        (403, "INVALID_TOKEN"),
        "{reply:?}"
    );
    assert!(clears_session_cookie(&reply));

    // Genuine but expired: 401 TOKEN_EXPIRED, and the cookie is not cleared (as Directus).
    claims["iat"] = json!(now_secs() - 200);
    claims["exp"] = json!(now_secs() - 100);
    let reply = me_with_cookie(&sign(&claims)).await;
    assert_eq!(
        (reply.status, reply.code()),
        (401, "TOKEN_EXPIRED"),
        "{reply:?}"
    );
    assert!(!clears_session_cookie(&reply));
    let reply = send(
        "POST",
        "/auth/refresh",
        &[("cookie", &cookie(&sign(&claims)))],
        Some(json!({"mode": "session"})),
    )
    .await;
    assert_eq!(
        (reply.status, reply.code()),
        (401, "TOKEN_EXPIRED"),
        "{reply:?}"
    );

    // Correctly signed, naming a session that does not exist: 401.
    let mut unknown = claims_of(&token);
    unknown["session"] = json!("no-such-session.0");
    let reply = me_with_cookie(&sign(&unknown)).await;
    assert_eq!(
        (reply.status, reply.code()),
        (401, "INVALID_CREDENTIALS"),
        "{reply:?}"
    );
    let mut malformed = claims_of(&token);
    malformed["session"] = json!("no-generation");
    let reply = me_with_cookie(&sign(&malformed)).await;
    assert_eq!(reply.status, 401, "{reply:?}");

    // Another user's live session cannot carry this user's id.
    let other = session_login(&registered("session-other").await).await;
    let mut borrowed = claims_of(&token);
    borrowed["session"] = claims_of(&other)["session"].clone();
    let reply = me_with_cookie(&sign(&borrowed)).await;
    assert_eq!(
        (reply.status, reply.code()),
        (401, "INVALID_CREDENTIALS"),
        "{reply:?}"
    );
}

#[tokio::test]
async fn tokens_are_taken_from_the_query_then_the_header_then_the_cookie() {
    let email = registered("precedence").await;
    let session = session_login(&email).await;
    let json_login = login(&email, "json").await;
    let access = json_token(&json_login);
    let jar = cookie(&session);

    // A valid header beats a garbage cookie; a garbage header beats a valid cookie.
    let reply = send(
        "GET",
        "/users/me",
        &[
            ("authorization", &bearer(&access)),
            ("cookie", "directus_session_token=garbage"),
        ],
        None,
    )
    .await;
    assert_eq!(reply.status, 200, "{reply:?}");
    let reply = send(
        "GET",
        "/users/me",
        &[("authorization", "Bearer garbage"), ("cookie", &jar)],
        None,
    )
    .await;
    assert_eq!(
        (reply.status, reply.code()),
        (401, "INVALID_CREDENTIALS"),
        "{reply:?}"
    );
    assert!(
        !clears_session_cookie(&reply),
        "the cookie was not the token used"
    );
    // A query token beats a valid cookie.
    let reply = send(
        "GET",
        "/users/me?access_token=garbage",
        &[("cookie", &jar)],
        None,
    )
    .await;
    assert_eq!(reply.status, 401, "{reply:?}");
    // Query and header together: 400 on every route, /auth/login included.
    for (method, path) in [("GET", "/users/me"), ("POST", "/auth/login")] {
        let reply = send(
            method,
            &format!("{path}?access_token={access}"),
            &[("authorization", &bearer(&access))],
            (method == "POST").then(|| json!({"email": email, "password": PASSWORD})),
        )
        .await;
        assert_eq!(
            (reply.status, reply.code()),
            (400, "INVALID_PAYLOAD"),
            "{reply:?}"
        );
    }
    // A header that is not a bearer header is ignored: the cookie is used.
    let reply = send(
        "GET",
        "/users/me",
        &[("authorization", "Basic Zm9vOmJhcg=="), ("cookie", &jar)],
        None,
    )
    .await;
    assert_eq!(reply.status, 200, "{reply:?}");
    // An empty ?access_token= is no token.
    let reply = send("GET", "/users/me?access_token=", &[("cookie", &jar)], None).await;
    assert_eq!(reply.status, 200, "{reply:?}");
}

#[tokio::test]
async fn every_authenticated_route_accepts_the_session_cookie() {
    let email = registered("every-route").await;
    let token = session_login(&email).await;
    let jar = cookie(&token);
    let headers: &[(&str, &str)] = &[("cookie", &jar)];
    let posts = send("GET", "/items/posts", headers, None).await;
    assert_eq!(posts.status, 200, "{posts:?}");
    // The directory (the own row the "Own profile" policy reads) and the server endpoints.
    let listed = send("GET", "/users", headers, None).await;
    assert_eq!(listed.status, 200, "{listed:?}");
    assert_eq!(
        listed.body["data"][0]["email"],
        email.as_str(),
        "{listed:?}"
    );
    for path in ["/server/info", "/server/health"] {
        let reply = send("GET", path, headers, None).await;
        assert_eq!(reply.status, 200, "{path}: {reply:?}");
    }
    let register = send(
        "POST",
        "/register",
        headers,
        Some(json!({"email": unique_email("by-cookie"), "password": PASSWORD})),
    )
    .await;
    assert_eq!(register.status, 204, "{register:?}");
    // A user (not the public) without create permission on directus_users.
    let create = send(
        "POST",
        "/users",
        headers,
        Some(json!({"email": unique_email("by-cookie"), "password": PASSWORD})),
    )
    .await;
    assert_eq!(
        (create.status, create.code()),
        (403, "FORBIDDEN"),
        "{create:?}"
    );
    let relogin = send(
        "POST",
        "/auth/login",
        headers,
        Some(json!({"email": email, "password": PASSWORD})),
    )
    .await;
    assert_eq!(relogin.status, 200, "{relogin:?}");
    let out = send(
        "POST",
        "/auth/logout",
        headers,
        Some(json!({"mode": "session"})),
    )
    .await;
    assert_eq!(out.status, 204, "{out:?}");
    // After logout the same cookie fails every route that acts for its caller...
    for (method, path, body) in [
        ("GET", "/items/posts", None),
        ("GET", "/users", None),
        ("GET", "/server/info", None),
        ("GET", "/server/health", None),
        (
            "POST",
            "/users",
            Some(json!({"email": unique_email("dead"), "password": PASSWORD})),
        ),
        ("POST", "/auth/logout", Some(json!({"mode": "session"}))),
    ] {
        let reply = send(method, path, headers, body).await;
        assert_eq!(
            (reply.status, reply.code()),
            (401, "INVALID_CREDENTIALS"),
            "{path}: {reply:?}"
        );
        assert!(clears_session_cookie(&reply), "{path}: {reply:?}");
    }
    // ...while the public ones treat it as no token, and clear it.
    for (path, body, status) in [
        (
            "/register",
            json!({"email": unique_email("dead"), "password": PASSWORD}),
            204,
        ),
        (
            "/auth/login",
            json!({"email": email, "password": PASSWORD}),
            200,
        ),
    ] {
        let reply = send("POST", path, headers, Some(body)).await;
        assert_eq!(reply.status, status, "{path}: {reply:?}");
        assert!(clears_session_cookie(&reply), "{path}: {reply:?}");
    }
}

/// Ends the session of `cookie` by reuse detection: a refresh, the rotation aged past the
/// grace window, and the spent cookie presented again. Returns the session's newest cookie,
/// what the browser holds: a cookie its owner never misused, ended on the server.
async fn ended_by_reuse_detection(first: &str) -> String {
    let refreshed = send(
        "POST",
        "/auth/refresh",
        &[("cookie", &cookie(first))],
        Some(json!({"mode": "session"})),
    )
    .await;
    let second = refreshed.cookie("directus_session_token").unwrap();
    age_rotation(&session_id(first)).await;
    let reuse = send(
        "POST",
        "/auth/refresh",
        &[("cookie", &cookie(first))],
        Some(json!({"mode": "session"})),
    )
    .await;
    assert_eq!(reuse.code(), "INVALID_CREDENTIALS", "{reuse:?}");
    assert_eq!(
        me_with_cookie(&second).await.status,
        401,
        "the session is over"
    );
    second
}

/// The `Set-Cookie` values of `name` a reply carries.
fn set_cookies_named<'a>(reply: &'a Reply, name: &str) -> Vec<&'a String> {
    reply
        .set_cookies
        .iter()
        .filter(|c| c.starts_with(&format!("{name}=")))
        .collect()
}

#[tokio::test]
async fn a_stale_session_cookie_does_not_keep_its_owner_from_signing_in_over_rest() {
    let email = registered("stale-rest").await;
    let stale = ended_by_reuse_detection(&session_login(&email).await).await;
    let jar = cookie(&stale);
    let credentials = |mode: &str| json!({"email": email, "password": PASSWORD, "mode": mode});

    // Each mode: the login succeeds, and the stale cookie is cleared with the attributes it
    // was set with.
    let json_mode = send(
        "POST",
        "/auth/login",
        &[("cookie", &jar)],
        Some(credentials("json")),
    )
    .await;
    assert_eq!(json_mode.status, 200, "{json_mode:?}");
    assert!(json_mode.body["data"]["access_token"].is_string());
    assert!(clears_session_cookie(&json_mode), "{json_mode:?}");
    let cleared = set_cookies_named(&json_mode, "directus_session_token");
    assert_eq!(cleared.len(), 1, "{cleared:?}");
    for attribute in ["Path=/", "HttpOnly", "SameSite=Lax"] {
        assert!(cleared[0].contains(attribute), "{cleared:?}");
    }
    let cookie_mode = send(
        "POST",
        "/auth/login",
        &[("cookie", &jar)],
        Some(credentials("cookie")),
    )
    .await;
    assert_eq!(cookie_mode.status, 200, "{cookie_mode:?}");
    assert!(cookie_mode.cookie("directus_refresh_token").is_some());
    assert!(clears_session_cookie(&cookie_mode), "{cookie_mode:?}");
    // Session mode sets the new cookie: the only session cookie of the answer, and it works.
    // (The hosted sign-in page's request: same origin, session mode.)
    let page = send(
        "POST",
        "/auth/login",
        &[
            ("cookie", &jar),
            ("origin", &stack().api),
            ("sec-fetch-site", "same-origin"),
        ],
        Some(credentials("session")),
    )
    .await;
    assert_eq!(page.status, 200, "{page:?}");
    let set = set_cookies_named(&page, "directus_session_token");
    assert_eq!(set.len(), 1, "{set:?}");
    let fresh = page.cookie("directus_session_token").unwrap();
    assert!(!fresh.is_empty());
    assert_eq!(me_with_cookie(&fresh).await.status, 200);

    // The other public routes: answered as without a cookie, which they clear.
    let dead = [("cookie", jar.as_str())];
    // Its own loopback address: the password routes allow 5 requests a minute per address,
    // which other tests spend on the common one.
    let own_address = e2e::mail::own_client();
    for (method, path, body, status, code) in [
        (
            "POST",
            "/register",
            Some(json!({"email": unique_email("stale-register"), "password": PASSWORD})),
            204,
            "",
        ),
        (
            "POST",
            "/users/register",
            Some(json!({"email": unique_email("stale-register"), "password": PASSWORD})),
            204,
            "",
        ),
        (
            "POST",
            "/auth/password/request",
            Some(json!({"email": email})),
            204,
            "",
        ),
        (
            "POST",
            "/auth/password/reset",
            Some(json!({"token": "not-a-reset-token", "password": "another-passphrase"})),
            403,
            "INVALID_TOKEN",
        ),
        (
            "GET",
            "/users/register/verify-email?token=not-a-link-token",
            None,
            403,
            "INVALID_TOKEN",
        ),
        // A wrong password stays a wrong password.
        (
            "POST",
            "/auth/login",
            Some(json!({"email": email, "password": "not-the-password"})),
            401,
            "INVALID_CREDENTIALS",
        ),
    ] {
        let reply = send_from(&own_address, method, path, &dead, body).await;
        assert_eq!(
            (reply.status, reply.code()),
            (status, code),
            "{path}: {reply:?}"
        );
        assert!(clears_session_cookie(&reply), "{path}: {reply:?}");
    }

    // The token sent as a bearer token still fails: the client chose to send it (Directus).
    let by_bearer = send(
        "POST",
        "/auth/login",
        &[("authorization", &bearer(&stale))],
        Some(credentials("json")),
    )
    .await;
    assert_eq!(
        (by_bearer.status, by_bearer.code()),
        (401, "INVALID_CREDENTIALS"),
        "{by_bearer:?}"
    );
    assert!(!clears_session_cookie(&by_bearer));
    // Expired and forged cookies are no token there either.
    let mut expired = claims_of(&stale);
    expired["iat"] = json!(now_secs() - 200);
    expired["exp"] = json!(now_secs() - 100);
    let forged = format!("{}x", sign(&claims_of(&stale)));
    for token in [sign(&expired), forged, "garbage".to_owned()] {
        let reply = send(
            "POST",
            "/auth/login",
            &[("cookie", &cookie(&token))],
            Some(credentials("json")),
        )
        .await;
        assert_eq!(reply.status, 200, "{token}: {reply:?}");
        assert!(clears_session_cookie(&reply), "{reply:?}");
    }
    // A route that acts for its caller refuses the stale cookie, as before.
    let me = me_with_cookie(&stale).await;
    assert_eq!((me.status, me.code()), (401, "INVALID_CREDENTIALS"));
    assert!(clears_session_cookie(&me));
    // A cookie that still works is not cleared by a failed login, and keeps working.
    let live = cookie(&fresh);
    let wrong = send(
        "POST",
        "/auth/login",
        &[("cookie", &live)],
        Some(json!({"email": email, "password": "not-the-password"})),
    )
    .await;
    assert_eq!(wrong.status, 401, "{wrong:?}");
    assert!(
        set_cookies_named(&wrong, "directus_session_token").is_empty(),
        "{wrong:?}"
    );
    assert_eq!(me_with_cookie(&fresh).await.status, 200);
}

#[tokio::test]
async fn a_stale_session_cookie_does_not_keep_its_owner_from_signing_in_over_graphql() {
    use e2e::system_graphql::system;
    let email = registered("stale-graphql").await;
    let stale = ended_by_reuse_detection(&session_login(&email).await).await;
    let jar = cookie(&stale);
    let dead = [("cookie", jar.as_str())];
    let login = "mutation L($email: String!, $password: String!, $mode: auth_mode) { auth_login(email: $email, password: $password, mode: $mode) { access_token expires } }";
    let variables = |mode: &str| Some(json!({"email": email, "password": PASSWORD, "mode": mode}));

    let json_mode = system(login, variables("json"), &dead).await;
    assert_eq!(json_mode.status, 200, "{json_mode:?}");
    assert!(
        json_mode.body["data"]["auth_login"]["access_token"].is_string(),
        "{json_mode:?}"
    );
    assert!(clears_session_cookie(&json_mode), "{json_mode:?}");
    let session_mode = system(login, variables("session"), &dead).await;
    assert_eq!(session_mode.status, 200, "{session_mode:?}");
    let set = set_cookies_named(&session_mode, "directus_session_token");
    assert_eq!(set.len(), 1, "{set:?}");
    let fresh = session_mode.cookie("directus_session_token").unwrap();
    assert_eq!(me_with_cookie(&fresh).await.status, 200);
    let register = system(
        "mutation R($email: String!, $password: String!) { users_register(email: $email, password: $password) }",
        Some(json!({"email": unique_email("stale-graphql-register"), "password": PASSWORD})),
        &dead,
    )
    .await;
    assert_eq!(
        register.body,
        json!({"data": {"users_register": true}}),
        "{register:?}"
    );
    assert!(clears_session_cookie(&register));
    // Anything acting for the caller, alone or next to a public mutation, still fails first.
    for query in [
        "{ users_me { id } }",
        "mutation { auth_login(email: \"a@example.com\", password: \"x\") { expires } auth_refresh(mode: session) { expires } }",
    ] {
        let reply = system(query, None, &dead).await;
        assert_eq!(
            (reply.status, reply.code()),
            (401, "INVALID_CREDENTIALS"),
            "{query}: {reply:?}"
        );
        assert!(clears_session_cookie(&reply), "{query}: {reply:?}");
    }
    // A bearer token that fails still fails the public mutation.
    let by_bearer = system(
        login,
        variables("json"),
        &[("authorization", &bearer(&stale))],
    )
    .await;
    assert_eq!(
        (by_bearer.status, by_bearer.code()),
        (401, "INVALID_CREDENTIALS"),
        "{by_bearer:?}"
    );
}

#[tokio::test]
async fn an_own_password_change_ends_the_tokens_of_its_second_from_before_it_only() {
    let (mut saw_before, mut saw_after) = (false, false);
    for attempt in 0.. {
        assert!(
            attempt < 10,
            "the logins and the change never shared a second"
        );
        let email = registered("own-change-second").await;
        let changer = json_token(&login(&email, "json").await);
        e2e::early_in_a_second().await;
        let before = json_token(&login(&email, "json").await);
        let new_password = "the-changed-passphrase";
        let changed = send(
            "PATCH",
            "/users/me",
            &[("authorization", &bearer(&changer))],
            Some(json!({"password": new_password})),
        )
        .await;
        assert_eq!(changed.status, 200, "{changed:?}");
        let after = e2e::post(
            "/auth/login",
            &json!({"email": email, "password": new_password}).to_string(),
        )
        .await;
        assert_eq!(after.status, 200, "{after:?}");
        let after = json_token(&after);
        let user_id = claims_of(&changer)["id"].as_str().unwrap().to_owned();
        let cut_off = store()
            .get_user(&user_id)
            .await
            .unwrap()
            .unwrap()
            .cut_off()
            .at_ms
            .unwrap();
        let second = u64::try_from(cut_off / 1000).unwrap();
        // Checked where no warm function has this user's standing cached: /items/posts.
        let read = send(
            "GET",
            "/items/posts",
            &[("authorization", &bearer(&before))],
            None,
        )
        .await;
        assert_eq!(
            (read.status, read.code()),
            (401, "INVALID_CREDENTIALS"),
            "a token of another session from just before the change: {read:?}"
        );
        for token in [&after, &changer] {
            let read = send(
                "GET",
                "/items/posts",
                &[("authorization", &bearer(token))],
                None,
            )
            .await;
            assert_eq!(read.status, 200, "{read:?}");
        }
        let iat = |token: &str| claims_of(token)["iat"].as_u64().unwrap();
        saw_before |= iat(&before) == second;
        saw_after |= iat(&after) == second;
        if saw_before && saw_after {
            break;
        }
    }
}

#[tokio::test]
async fn cookie_authenticated_writes_from_other_sites_are_refused() {
    let email = registered("csrf").await;
    let token = session_login(&email).await;
    let jar = cookie(&token);
    let evil = "https://evil.example";

    let patch = |origin: &'static str| {
        let jar = jar.clone();
        async move {
            send(
                "PATCH",
                "/users/me",
                &[("cookie", &jar), ("origin", origin)],
                Some(json!({"first_name": "Mallory"})),
            )
            .await
        }
    };
    let refused = patch(evil).await;
    assert_eq!(
        (refused.status, refused.code()),
        (403, "FORBIDDEN"),
        "{refused:?}"
    );
    let null_origin = patch("null").await;
    assert_eq!(null_origin.status, 403, "{null_origin:?}");
    let me = me_with_cookie(&token).await;
    assert_eq!(
        me.body["data"]["first_name"],
        Value::Null,
        "nothing written: {me:?}"
    );
    let allowed = patch(ALLOWED_ORIGIN).await;
    assert_eq!(allowed.status, 200, "{allowed:?}");
    assert_eq!(allowed.body["data"]["first_name"], "Mallory");

    // Refresh and logout driven by a cookie: refused from another site.
    for path in ["/auth/refresh", "/auth/logout"] {
        let reply = send(
            "POST",
            path,
            &[("cookie", &jar), ("origin", evil)],
            Some(json!({"mode": "session"})),
        )
        .await;
        assert_eq!(
            (reply.status, reply.code()),
            (403, "FORBIDDEN"),
            "{path}: {reply:?}"
        );
    }
    let cookie_mode = login(&email, "cookie").await;
    let refresh_jar = format!(
        "directus_refresh_token={}",
        cookie_mode.cookie("directus_refresh_token").unwrap()
    );
    let reply = send(
        "POST",
        "/auth/refresh",
        &[("cookie", &refresh_jar), ("origin", evil)],
        Some(json!({"mode": "cookie"})),
    )
    .await;
    assert_eq!(reply.status, 403, "{reply:?}");
    // The session survived all of it.
    assert_eq!(me_with_cookie(&token).await.status, 200);

    // Reads are not writes, and a bearer token is not sent by a browser on its own.
    let read = send(
        "GET",
        "/users/me",
        &[("cookie", &jar), ("origin", evil)],
        None,
    )
    .await;
    assert_eq!(read.status, 200, "{read:?}");
    let access = json_token(&login(&email, "json").await);
    let by_bearer = send(
        "PATCH",
        "/users/me",
        &[("authorization", &bearer(&access)), ("origin", evil)],
        Some(json!({"last_name": "Bearer"})),
    )
    .await;
    assert_eq!(by_bearer.status, 200, "{by_bearer:?}");

    // A form post (text/plain, no preflight) from any site: the body is not JSON, so it is not
    // read at all.
    let response = client()
        .patch(format!("{}/users/me", stack().api))
        .header("cookie", &jar)
        .header("content-type", "text/plain")
        .body(json!({"first_name": "Form"}).to_string())
        .send()
        .await
        .unwrap();
    let reply = Reply::from(response).await.documented("PATCH", "/users/me");
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(reply.body["data"]["first_name"], "Mallory");
}

#[tokio::test]
async fn users_me_answers_what_the_read_permissions_allow_and_never_403() {
    // The public: 401.
    let public = send("GET", "/users/me", &[], None).await;
    assert_eq!((public.status, public.code()), (401, "INVALID_CREDENTIALS"));
    let public = send("PATCH", "/users/me", &[], Some(json!({"first_name": "X"}))).await;
    assert_eq!((public.status, public.code()), (401, "INVALID_CREDENTIALS"));

    // No permission on directus_users: {"id"} whatever the fields.
    let nothing = role_with(json!([])).await;
    let (bare_id, bare_email) = user_in(&nothing).await;
    let bare = json_token(&login(&bare_email, "json").await);
    for fields in [
        "",
        "?fields=*",
        "?fields=id,email",
        "?fields=role.name",
        "?fields=nope",
    ] {
        let reply = send(
            "GET",
            &format!("/users/me{fields}"),
            &[("authorization", &bearer(&bare))],
            None,
        )
        .await;
        assert_eq!(reply.status, 200, "{fields}: {reply:?}");
        assert_eq!(reply.body, json!({"data": {"id": bare_id}}), "{fields}");
    }

    // Read on id, email, first_name of the own row.
    let reader = role_with(json!([{
        "collection": "directus_users", "action": "read",
        "fields": ["id", "email", "first_name"],
        "permissions": {"id": {"_eq": "$CURRENT_USER"}}
    }]))
    .await;
    let (reader_id, reader_email) = user_in(&reader).await;
    let token = json_token(&login(&reader_email, "json").await);
    let read = |fields: &'static str| {
        let token = token.clone();
        async move {
            send(
                "GET",
                &format!("/users/me{fields}"),
                &[("authorization", &bearer(&token))],
                None,
            )
            .await
            .body["data"]
                .clone()
        }
    };
    assert_eq!(
        read("").await,
        json!({"id": reader_id, "first_name": "Ada", "email": reader_email})
    );
    assert_eq!(read("?fields=*").await.as_object().unwrap().len(), 3);
    assert_eq!(
        read("?fields=email,id").await,
        json!({"email": reader_email, "id": reader_id})
    );
    assert_eq!(read("?fields=id,last_name").await, json!({"id": reader_id}));
    assert_eq!(read("?fields=nonexistent").await, json!({"id": reader_id}));
    assert_eq!(read("?fields=password").await, json!({"id": reader_id}));
    assert_eq!(
        read("?fields=role.name,email").await,
        json!({"email": reader_email})
    );
    assert_eq!(read("?fields=role.name").await, json!(reader_id));
    assert_eq!(
        read("?fields[]=email&fields[]=first_name").await,
        json!({"email": reader_email, "first_name": "Ada"})
    );
}

#[tokio::test]
async fn password_hashes_never_leave_the_store() {
    let admin = admin_token().await;
    for fields in ["", "?fields=*", "?fields=password", "?fields=*,password"] {
        let reply = send(
            "GET",
            &format!("/users/me{fields}"),
            &[("authorization", &bearer(&admin))],
            None,
        )
        .await;
        assert_eq!(reply.status, 200, "{reply:?}");
        assert_eq!(reply.body["data"]["password"], "**********", "{fields}");
        assert!(!reply.raw.contains("$argon2"), "{fields}: {}", reply.raw);
    }
    let all = send(
        "GET",
        "/users/me",
        &[("authorization", &bearer(&admin))],
        None,
    )
    .await;
    assert_eq!(all.body["data"]["role"], ADMIN_ROLE);
    for key in [
        "id",
        "email",
        "first_name",
        "last_name",
        "status",
        "role",
        "password",
    ] {
        assert!(all.body["data"].get(key).is_some(), "{key}: {all:?}");
    }
    // A wildcard read permission shows the concealed value too.
    let everything = role_with(json!([{
        "collection": "directus_users", "action": "read", "fields": ["*"],
        "permissions": {"id": {"_eq": "$CURRENT_USER"}}
    }]))
    .await;
    let (_, email) = user_in(&everything).await;
    let token = json_token(&login(&email, "json").await);
    let reply = send(
        "GET",
        "/users/me",
        &[("authorization", &bearer(&token))],
        None,
    )
    .await;
    assert_eq!(reply.body["data"]["password"], "**********");
    assert!(!reply.raw.contains("$argon2"));
}

#[tokio::test]
async fn patch_users_me_follows_the_update_permissions() {
    // No update permission (reading is allowed): 403 naming the collection.
    let reader = role_with(json!([{
        "collection": "directus_users", "action": "read", "fields": ["*"],
        "permissions": {"id": {"_eq": "$CURRENT_USER"}}
    }]))
    .await;
    let (_, email) = user_in(&reader).await;
    let token = json_token(&login(&email, "json").await);
    let auth = bearer(&token);
    let reply = send(
        "PATCH",
        "/users/me",
        &[("authorization", &auth)],
        Some(json!({"first_name": "B"})),
    )
    .await;
    assert_eq!(
        (reply.status, reply.code()),
        (403, "FORBIDDEN"),
        "{reply:?}"
    );
    assert!(
        reply.raw.contains("collection \\\"directus_users\\\""),
        "{reply:?}"
    );

    // Update on first_name only, and no read: the write happens, then 403 (Directus' order).
    let writer = role_with(json!([{
        "collection": "directus_users", "action": "update", "fields": ["first_name"],
        "permissions": {"id": {"_eq": "$CURRENT_USER"}},
        "presets": {"last_name": "Preset"},
        "validation": {"first_name": {"_starts_with": "A"}}
    }]))
    .await;
    let (writer_id, writer_email) = user_in(&writer).await;
    let token = json_token(&login(&writer_email, "json").await);
    let auth = bearer(&token);
    let reply = send(
        "PATCH",
        "/users/me",
        &[("authorization", &auth)],
        Some(json!({"first_name": "Anne"})),
    )
    .await;
    assert_eq!(
        (reply.status, reply.code()),
        (403, "FORBIDDEN"),
        "{reply:?}"
    );
    let stored = store().get_user(&writer_id).await.unwrap().unwrap();
    assert_eq!(stored.first_name.as_deref(), Some("Anne"));
    assert_eq!(
        stored.last_name.as_deref(),
        Some("Preset"),
        "presets fill in"
    );
    // Validation: 400, nothing written.
    let reply = send(
        "PATCH",
        "/users/me",
        &[("authorization", &auth)],
        Some(json!({"first_name": "Bob"})),
    )
    .await;
    assert_eq!(
        (reply.status, reply.code()),
        (400, "FAILED_VALIDATION"),
        "{reply:?}"
    );
    // A field outside the permission: 403 naming it, nothing written.
    let reply = send(
        "PATCH",
        "/users/me",
        &[("authorization", &auth)],
        Some(json!({"first_name": "Alma", "email": unique_email("x"), "role": ADMIN_ROLE})),
    )
    .await;
    assert_eq!(
        (reply.status, reply.code()),
        (403, "FORBIDDEN"),
        "{reply:?}"
    );
    assert!(
        reply.raw.contains("\\\"email\\\", \\\"role\\\""),
        "{reply:?}"
    );
    let stored = store().get_user(&writer_id).await.unwrap().unwrap();
    assert_eq!(stored.first_name.as_deref(), Some("Anne"));
    assert_eq!(stored.role.as_deref(), Some(writer.as_str()));
}

#[tokio::test]
async fn patch_users_me_validates_like_user_creation() {
    let editor = role_with(json!([
        {"collection": "directus_users", "action": "read", "fields": ["*"],
         "permissions": {"id": {"_eq": "$CURRENT_USER"}}},
        {"collection": "directus_users", "action": "update", "fields": ["*"],
         "permissions": {"id": {"_eq": "$CURRENT_USER"}}}
    ]))
    .await;
    let (id, email) = user_in(&editor).await;
    let token = json_token(&login(&email, "json").await);
    let auth = bearer(&token);
    let patch = |body: Value| {
        let auth = auth.clone();
        async move {
            send(
                "PATCH",
                "/users/me",
                &[("authorization", &auth)],
                Some(body),
            )
            .await
        }
    };
    let reply = patch(json!({"tfa_secret": "x"})).await;
    assert_eq!(reply.status, 400, "{reply:?}");
    assert!(
        reply
            .raw
            .contains("You can't change the \\\"tfa_secret\\\" value manually")
    );
    let reply = patch(json!({"email": "not-an-email"})).await;
    assert_eq!(
        (reply.status, reply.code()),
        (400, "FAILED_VALIDATION"),
        "{reply:?}"
    );
    let taken = registered("taken").await;
    let reply = patch(json!({"email": taken.to_uppercase()})).await;
    assert_eq!(
        (reply.status, reply.code()),
        (400, "RECORD_NOT_UNIQUE"),
        "{reply:?}"
    );
    let reply = patch(json!({"password": "password"})).await;
    assert_eq!(reply.status, 400, "a common password: {reply:?}");
    let reply = patch(json!({"first_name": "a\u{1}b"})).await;
    assert_eq!(
        (reply.status, reply.code()),
        (400, "FAILED_VALIDATION"),
        "{reply:?}"
    );
    let reply = patch(json!({"role": "no-such-role"})).await;
    assert_eq!(
        (reply.status, reply.code()),
        (400, "INVALID_FOREIGN_KEY"),
        "{reply:?}"
    );

    // An email change moves the claim: the new address logs in, the old one is free again.
    let new_email = unique_email("moved");
    let reply = patch(json!({"email": new_email, "last_name": "Moved"})).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(reply.body["data"]["email"], json!(new_email));
    assert_eq!(reply.body["data"]["last_name"], "Moved");
    assert_eq!(reply.body["data"]["id"], json!(id));
    login(&new_email, "json").await;
    let old = e2e::post(
        "/auth/login",
        &json!({"email": email, "password": PASSWORD}).to_string(),
    )
    .await;
    assert_eq!(old.status, 401);
    let reuse = e2e::post(
        "/register",
        &json!({"email": email, "password": PASSWORD}).to_string(),
    )
    .await;
    assert_eq!(reuse.status, 204);
    login(&email, "json").await;
    // ?fields narrows the answer; {} changes nothing and answers the row.
    let reply = send(
        "PATCH",
        "/users/me?fields=last_name",
        &[("authorization", &auth)],
        Some(json!({})),
    )
    .await;
    assert_eq!(reply.body, json!({"data": {"last_name": "Moved"}}));
}

#[tokio::test]
async fn a_password_change_ends_the_other_sessions_and_keeps_its_own() {
    let email = registered("password-change").await;
    // Three sessions: json (makes the change), session mode, cookie mode.
    let own = login(&email, "json").await;
    let own_access = json_token(&own);
    let own_refresh = own.body["data"]["refresh_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let other_session = session_login(&email).await;
    let other_json = login(&email, "json").await;
    let other_refresh = other_json.body["data"]["refresh_token"]
        .as_str()
        .unwrap()
        .to_owned();

    let new_password = "another-long-passphrase";
    let reply = send(
        "PATCH",
        "/users/me",
        &[("authorization", &bearer(&own_access))],
        Some(json!({"password": new_password})),
    )
    .await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(reply.body["data"]["email"], json!(email));

    // The other sessions are over at once.
    let dead = me_with_cookie(&other_session).await;
    assert_eq!(dead.status, 401, "{dead:?}");
    let dead = e2e::post(
        "/auth/refresh",
        &json!({"refresh_token": other_refresh}).to_string(),
    )
    .await;
    assert_eq!(dead.status, 401, "{dead:?}");
    // The session that made the change lives on: its token and its refresh.
    let alive = send(
        "GET",
        "/users/me",
        &[("authorization", &bearer(&own_access))],
        None,
    )
    .await;
    assert_eq!(alive.status, 200, "{alive:?}");
    let refreshed = e2e::post(
        "/auth/refresh",
        &json!({"refresh_token": own_refresh}).to_string(),
    )
    .await;
    assert_eq!(refreshed.status, 200, "{refreshed:?}");
    let own_refresh = refreshed.body["data"]["refresh_token"]
        .as_str()
        .unwrap()
        .to_owned();
    // Hashed, and the old password no longer logs in.
    let stored = store()
        .get_user(claims_of(&own_access)["id"].as_str().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert!(stored.password.unwrap().expose().starts_with("$argon2id$"));
    assert!(stored.sessions_valid_after.is_some());
    let old = e2e::post(
        "/auth/login",
        &json!({"email": email, "password": PASSWORD}).to_string(),
    )
    .await;
    assert_eq!(old.status, 401);
    let new = e2e::post(
        "/auth/login",
        &json!({"email": email, "password": new_password}).to_string(),
    )
    .await;
    assert_eq!(new.status, 200, "{new:?}");

    // In session mode, the changing session is the cookie's.
    let session = {
        let reply = e2e::post(
            "/auth/login",
            &json!({"email": email, "password": new_password, "mode": "session"}).to_string(),
        )
        .await;
        reply.cookie("directus_session_token").unwrap()
    };
    let reply = send(
        "PATCH",
        "/users/me",
        &[("cookie", &cookie(&session))],
        Some(json!({"password": PASSWORD})),
    )
    .await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(me_with_cookie(&session).await.status, 200);
    // This time the json session was one of the others. (Its access token, not bound to a
    // session, stops within PERMISSIONS_CACHE_TTL wherever a warm function cached the user.)
    let gone = e2e::post(
        "/auth/refresh",
        &json!({"refresh_token": own_refresh}).to_string(),
    )
    .await;
    assert_eq!(
        gone.status, 401,
        "the first session ended this time: {gone:?}"
    );
}

#[tokio::test]
async fn a_revoked_token_cannot_change_the_password_through_a_warm_cache() {
    // The attacker's json-mode token is seen (and its user's standing cached) by the warm `me`
    // function; then the account's sessions are ended. Within the cache's lifetime the token
    // must still not be able to set a password.
    let email = registered("takeover").await;
    let stolen = json_token(&login(&email, "json").await);
    let warm = send(
        "GET",
        "/users/me",
        &[("authorization", &bearer(&stolen))],
        None,
    )
    .await;
    assert_eq!(warm.status, 200, "{warm:?}");
    shared::flows::provision::account_action(
        &store(),
        &email,
        shared::flows::provision::AccountAction::EndSessions,
    )
    .await
    .unwrap();
    let takeover = send(
        "PATCH",
        "/users/me",
        &[("authorization", &bearer(&stolen))],
        Some(json!({"password": "attacker-chosen-password"})),
    )
    .await;
    assert_eq!(
        (takeover.status, takeover.code()),
        (401, "INVALID_CREDENTIALS"),
        "{takeover:?}"
    );
    // The owner's password still works; the attacker's never took.
    let owner = e2e::post(
        "/auth/login",
        &json!({"email": email, "password": PASSWORD}).to_string(),
    )
    .await;
    assert_eq!(owner.status, 200, "{owner:?}");
    let attacker = e2e::post(
        "/auth/login",
        &json!({"email": email, "password": "attacker-chosen-password"}).to_string(),
    )
    .await;
    assert_eq!(attacker.status, 401);
}

#[tokio::test]
async fn cookie_writes_without_origin_are_refused_when_fetch_metadata_says_cross_site() {
    let email = registered("fetchmeta").await;
    let token = session_login(&email).await;
    let jar = cookie(&token);
    for site in ["cross-site", "same-site"] {
        let reply = send(
            "PATCH",
            "/users/me",
            &[("cookie", &jar), ("sec-fetch-site", site)],
            Some(json!({"first_name": "Mallory"})),
        )
        .await;
        assert_eq!(
            (reply.status, reply.code()),
            (403, "FORBIDDEN"),
            "{site}: {reply:?}"
        );
    }
    // A non-browser client (no Origin, no Fetch Metadata) and a same-origin page still work.
    for headers in [
        vec![("cookie", jar.as_str())],
        vec![("cookie", jar.as_str()), ("sec-fetch-site", "same-origin")],
    ] {
        let reply = send(
            "PATCH",
            "/users/me",
            &headers,
            Some(json!({"first_name": "Ada"})),
        )
        .await;
        assert_eq!(reply.status, 200, "{headers:?}: {reply:?}");
    }
}
