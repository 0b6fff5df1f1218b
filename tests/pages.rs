//! The hosted pages over HTTP through the local API Gateway front: what each name answers,
//! with which type and headers, and the hostile cases (other methods, traversal, huge paths,
//! query junk). The browser side is `browser.rs`.

use reqwest::Method;

const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
                   connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

struct Answer {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: String,
}

async fn send(method: Method, path: &str) -> Answer {
    let response = e2e::client()
        .request(method, format!("{}{path}", e2e::stack().api))
        .send()
        .await
        .expect("request sent");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.text().await.expect("a body");
    Answer {
        status,
        headers,
        body,
    }
}

fn header<'a>(answer: &'a Answer, name: &str) -> &'a str {
    answer
        .headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_else(|| panic!("no {name}: {:?}", answer.headers))
}

fn assert_secured(answer: &Answer, what: &str) {
    assert_eq!(header(answer, "content-security-policy"), CSP, "{what}");
    assert_eq!(
        header(answer, "x-content-type-options"),
        "nosniff",
        "{what}"
    );
    assert_eq!(header(answer, "referrer-policy"), "no-referrer", "{what}");
}

#[tokio::test]
async fn every_page_and_file_answers_with_its_type_and_the_security_headers() {
    for (path, content_type, marker) in [
        (
            "/auth/ui/sign-in",
            "text/html; charset=utf-8",
            "id=\"sign-in-form\"",
        ),
        (
            "/auth/ui/sign-up",
            "text/html; charset=utf-8",
            "id=\"sign-up-form\"",
        ),
        ("/auth/ui/posts", "text/html; charset=utf-8", "id=\"items\""),
        (
            "/auth/ui/forgot-password",
            "text/html; charset=utf-8",
            "id=\"forgot-form\"",
        ),
        (
            "/auth/ui/reset-password",
            "text/html; charset=utf-8",
            "id=\"reset-form\"",
        ),
        (
            "/auth/ui/verify-email",
            "text/html; charset=utf-8",
            "id=\"verify-form\"",
        ),
        (
            "/auth/ui/assets/app.js",
            "text/javascript; charset=utf-8",
            "'use strict'",
        ),
        (
            "/auth/ui/assets/style.css",
            "text/css; charset=utf-8",
            ":root",
        ),
        (
            "/auth/ui/assets/theme.css",
            "text/css; charset=utf-8",
            "--brand",
        ),
    ] {
        let answer = send(Method::GET, path).await;
        assert_eq!(answer.status, 200, "{path}: {}", answer.body);
        assert_eq!(header(&answer, "content-type"), content_type, "{path}");
        assert_secured(&answer, path);
        assert!(answer.body.contains(marker), "{path}: {}", answer.body);
        // Query junk changes nothing.
        let junk = send(
            Method::GET,
            &format!("{path}?token=%00%ff&x[y]=<script>&&==&{}", "q".repeat(2000)),
        )
        .await;
        assert_eq!(junk.status, 200, "{path} with junk");
        assert_eq!(junk.body, answer.body, "{path} with junk");

        let head = send(Method::HEAD, path).await;
        assert_eq!(head.status, 200, "HEAD {path}");
        assert_eq!(header(&head, "content-type"), content_type, "HEAD {path}");
        assert_secured(&head, path);
        assert!(head.body.is_empty(), "HEAD {path}");
    }
}

#[tokio::test]
async fn other_methods_are_405_and_unknown_names_404_with_the_headers() {
    for method in [Method::POST, Method::PUT, Method::PATCH, Method::DELETE] {
        let answer = send(method.clone(), "/auth/ui/sign-in").await;
        assert_eq!(answer.status, 405, "{method}: {}", answer.body);
        assert_eq!(header(&answer, "allow"), "GET, HEAD");
        assert_eq!(
            header(&answer, "content-type"),
            "application/json; charset=utf-8"
        );
        assert_secured(&answer, method.as_str());
        let json: serde_json::Value = serde_json::from_str(&answer.body).unwrap();
        assert_eq!(
            json["errors"][0]["extensions"]["code"],
            "METHOD_NOT_ALLOWED"
        );
    }
    let huge = format!("/auth/ui/{}", "a".repeat(6000));
    for path in [
        "/auth/ui/nothing-here",
        "/auth/ui/assets/",
        "/auth/ui/assets/app.js.map",
        "/auth/ui/%2e%2e%2fCargo.toml",
        "/auth/ui/..%2f..%2fetc%2fpasswd",
        "/auth/ui/assets/..%5c..%5cCargo.toml",
        "/auth/ui/sign-in/",
        "/auth/ui/sign-in%00",
        "/auth/ui/SIGN-IN",
        "/auth/ui/mod.rs",
        huge.as_str(),
    ] {
        let answer = send(Method::GET, path).await;
        assert_eq!(answer.status, 404, "{path}: {}", answer.body);
        assert_secured(&answer, path);
        let json: serde_json::Value = serde_json::from_str(&answer.body).unwrap();
        assert_eq!(json["errors"][0]["extensions"]["code"], "ROUTE_NOT_FOUND");
        assert!(!answer.body.contains("[workspace]"), "{path}");
    }
    // The prefix itself is no page (the gateway's `$default`): the sign-in page is named.
    assert_eq!(send(Method::GET, "/auth/ui/").await.status, 404);
}

#[tokio::test]
async fn registration_and_branding_come_from_each_stacks_settings() {
    let page = send(Method::GET, "/auth/ui/sign-in").await;
    // The main stack's settings (tests/fixtures/public.json): registration on, no branding.
    assert!(page.body.contains("href=\"sign-up\""), "{}", page.body);
    assert!(page.body.contains("<title>Sign in · Directus</title>"));
    let closed = pages_stack_text("/auth/ui/sign-in").await;
    // tests/fixtures/pages.json: registration off, a name that must be escaped.
    assert!(!closed.contains("href=\"sign-up\""), "{closed}");
    assert!(
        closed.contains("Quickstart &amp; Co &lt;Pages&gt;"),
        "{closed}"
    );
    let theme = pages_stack_text("/auth/ui/assets/theme.css").await;
    assert!(theme.contains("--brand: #0b6e4f;"), "{theme}");
}

/// The body of `GET path` on the pages stack.
async fn pages_stack_text(path: &str) -> String {
    e2e::client()
        .get(format!("{}{path}", e2e::pages_stack().api))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// The pages stack's own user (its registration is off): created in its tables directly.
async fn pages_user(email: &str, password: &str) {
    let store = shared::store::Store::local(
        &e2e::pages_stack().dynamo,
        shared::store::Tables::with_prefix(e2e::PAGES_PREFIX),
    );
    let passwords = shared::password::Passwords::new(shared::config::HashParams {
        memory_kib: 256,
        iterations: 1,
        parallelism: 1,
    })
    .expect("hash parameters");
    let password = shared::sensitive::Sensitive::new(password.to_owned());
    shared::provision::create_user(&store, &passwords, email, &password, None)
        .await
        .expect("user created");
}

/// Forgot password → the mail → its link, which opens the hosted reset page → the new password
/// (sent as that page's script sends it) → sign-in with it. The stack's allow-list names its own
/// reset page, so the forgot-password form offers it and the mail links there, not to
/// `PUBLIC_URL/admin/reset-password`.
#[tokio::test]
async fn a_reset_mail_links_to_the_reset_page_and_the_new_password_signs_in() {
    let api = &e2e::pages_stack().api;
    // Its own loopback address: the pages stack allows 3 logins a minute per address, which
    // the browser test uses up on 127.0.0.1.
    let client = e2e::mail::own_client();
    let email = e2e::unique_email("pages-reset");
    pages_user(&email, "d1r3ctu5-old-pages").await;
    let reset_page = format!("{api}/auth/ui/reset-password");

    let forgot = client
        .get(format!("{api}/auth/ui/forgot-password"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        forgot.contains(&format!("data-reset-url=\"{reset_page}\"")),
        "{forgot}"
    );
    let requested = client
        .post(format!("{api}/auth/password/request"))
        .json(&serde_json::json!({"email": email, "reset_url": reset_page}))
        .send()
        .await
        .unwrap();
    assert_eq!(requested.status().as_u16(), 204);

    let mails = e2e::mail::wait_for(&email, 1).await;
    let link = e2e::mail::link_of(&mails[0]);
    assert!(link.starts_with(&format!("{reset_page}?token=")), "{link}");
    let page = client.get(&link).send().await.unwrap();
    assert_eq!(page.status().as_u16(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("data-page=\"reset-password\""), "{html}");

    let token = e2e::mail::token_of(&link);
    let reset = client
        .post(format!("{api}/auth/password/reset"))
        .json(&serde_json::json!({"token": token, "password": "d1r3ctu5-new-pages"}))
        .send()
        .await
        .unwrap();
    assert_eq!(reset.status().as_u16(), 204);

    let login = |password: &'static str| {
        client
            .post(format!("{api}/auth/login"))
            .json(&serde_json::json!({"email": email, "password": password, "mode": "session"}))
            .send()
    };
    assert_eq!(
        login("d1r3ctu5-old-pages").await.unwrap().status().as_u16(),
        401
    );
    let signed_in = login("d1r3ctu5-new-pages").await.unwrap();
    assert_eq!(signed_in.status().as_u16(), 200);
    assert!(
        signed_in
            .headers()
            .get_all("set-cookie")
            .iter()
            .any(|c| c.to_str().unwrap().starts_with("directus_session_token=")),
        "a session cookie"
    );
}

/// The pages stack has registration off, though its Public policy may create users (seed 001's
/// permission): a public `POST /users` is refused as `POST /users/register` is, and writes
/// nothing.
#[tokio::test]
async fn with_registration_closed_a_public_create_is_refused_as_registration_is() {
    let api = &e2e::pages_stack().api;
    // Its own loopback address: the pages stack allows 5 registrations a minute per address.
    let client = e2e::mail::own_client();
    let email = e2e::unique_email("pages-closed");
    let body = serde_json::json!({"email": email, "password": "d1r3ctu5-closed"});
    let answer = |path: &'static str| {
        let (client, body) = (client.clone(), body.clone());
        async move {
            e2e::Reply::from(
                client
                    .post(format!("{api}{path}"))
                    .json(&body)
                    .send()
                    .await
                    .unwrap(),
            )
            .await
            .documented("POST", path)
        }
    };
    let registered = answer("/users/register").await;
    assert_eq!(registered.status, 403, "{registered:?}");
    assert_eq!(registered.code(), "FORBIDDEN");
    let created = answer("/users").await;
    assert_eq!((created.status, &created.raw), (403, &registered.raw));
    let store = shared::store::Store::local(
        &e2e::pages_stack().dynamo,
        shared::store::Tables::with_prefix(e2e::PAGES_PREFIX),
    );
    assert!(store.find_user_by_email(&email).await.unwrap().is_none());
}
