//! The hosted pages over HTTP through the local API Gateway front: what each name answers,
//! with which type and headers, and the hostile cases (other methods, traversal, huge paths,
//! query junk). The browser side is `browser.rs`.

use reqwest::Method;

const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob:; \
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
            "/auth/ui/account",
            "text/html; charset=utf-8",
            "id=\"tfa-status\"",
        ),
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
    // The prefix itself leads to sign-in (followed here; the 302 is tested below).
    let root = send(Method::GET, "/auth/ui/").await;
    assert_eq!(root.status, 200);
    assert!(root.body.contains("id=\"sign-in-form\""), "{}", root.body);
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

/// Forgot password → the mail → its link, which opens the hosted reset page → the new password
/// (sent as that page's script sends it) → sign-in with it. The stack has `make dev`'s mail
/// defaults (no allow-list): the hosted reset page is the default link and allowed, so a
/// request without `reset_url` (any client's) links there too, not to
/// `PUBLIC_URL/admin/reset-password`, which nothing serves.
#[tokio::test]
async fn a_reset_mail_links_to_the_reset_page_and_the_new_password_signs_in() {
    let api = &e2e::pages_stack().api;
    // Its own loopback address: the pages stack allows 3 logins a minute per address, which
    // the browser test uses up on 127.0.0.1.
    let client = e2e::mail::own_client();
    let email = e2e::unique_email("pages-reset");
    e2e::pages_user(&email, "d1r3ctu5-old-pages").await;
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
    // As the form sends it, and as a client that names no page sends it.
    for (body, mails) in [
        (
            serde_json::json!({"email": email, "reset_url": reset_page}),
            1,
        ),
        (serde_json::json!({"email": email}), 2),
    ] {
        let requested = client
            .post(format!("{api}/auth/password/request"))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(requested.status().as_u16(), 204, "{body}");
        let sent = e2e::mail::wait_for(&email, mails).await;
        let link = e2e::mail::link_of(&sent[mails - 1]);
        assert!(
            link.starts_with(&format!("{reset_page}?token=")),
            "{body}: {link}"
        );
    }
    // Another page of this deployment is not a reset page.
    let elsewhere = client
        .post(format!("{api}/auth/password/request"))
        .json(&serde_json::json!({"email": email, "reset_url": format!("{api}/auth/ui/sign-in")}))
        .send()
        .await
        .unwrap();
    assert_eq!(elsewhere.status().as_u16(), 400);

    let mails = e2e::mail::wait_for(&email, 2).await;
    let link = e2e::mail::link_of(&mails[1]);
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

/// A client that shows redirects instead of following them.
fn not_following() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(std::time::Duration::from_secs(30))
        .build()
        .unwrap()
}

#[tokio::test]
async fn the_root_of_the_pages_leads_to_sign_in_keeping_the_query() {
    let api = &e2e::stack().api;
    let client = not_following();
    for (path, location) in [
        ("/auth/ui", "/auth/ui/sign-in"),
        ("/auth/ui/", "/auth/ui/sign-in"),
        (
            "/auth/ui/?redirect=https%3A%2F%2Fapp.example.com%2Fcallback",
            "/auth/ui/sign-in?redirect=https%3A%2F%2Fapp.example.com%2Fcallback",
        ),
    ] {
        let answer = client.get(format!("{api}{path}")).send().await.unwrap();
        assert_eq!(answer.status().as_u16(), 302, "{path}");
        assert_eq!(answer.headers()["location"], location, "{path}");
        assert_eq!(
            answer.headers()["content-security-policy"],
            CSP,
            "{path} has the pages' headers"
        );
        // A Host of the client's choosing never ends up in the Location.
        let spoofed = client
            .get(format!("{api}{path}"))
            .header("host", "evil.example")
            .send()
            .await
            .unwrap();
        let location = spoofed
            .headers()
            .get("location")
            .map(|v| v.to_str().unwrap().to_owned());
        assert!(
            location
                .as_deref()
                .is_none_or(|l| l.starts_with("/auth/ui/sign-in")),
            "{location:?}"
        );
    }
    let posted = client.post(format!("{api}/auth/ui")).send().await.unwrap();
    assert_eq!(posted.status().as_u16(), 405);
}

#[tokio::test]
async fn sign_in_and_sign_up_accept_only_allow_listed_return_addresses() {
    let api = &e2e::pages_stack().api;
    let client = not_following();
    let encoded =
        |url: &str| url::form_urlencoded::byte_serialize(url.as_bytes()).collect::<String>();
    let allowed_here = format!("{api}{}", e2e::PAGES_RETURN_PATH);
    for page in ["sign-in", "sign-up"] {
        for allowed in [allowed_here.as_str(), e2e::PAGES_RETURN_URL] {
            let answer = client
                .get(format!(
                    "{api}/auth/ui/{page}?redirect={}",
                    encoded(allowed)
                ))
                .send()
                .await
                .unwrap();
            assert_eq!(answer.status().as_u16(), 200, "{page} {allowed}");
            let html = answer.text().await.unwrap();
            assert!(
                html.contains(&format!("data-redirect=\"{allowed}\"")),
                "{page}: {html}"
            );
        }
        for foreign in [
            "https://evil.example/callback".to_owned(),
            format!("{}/more", e2e::PAGES_RETURN_URL),
            format!("{api}/auth/ui/posts"),
            "//app.example.com/callback".to_owned(),
            "/server/ping".to_owned(),
            "javascript:alert(document.cookie)".to_owned(),
            format!("{}\u{0}", e2e::PAGES_RETURN_URL),
        ] {
            let answer = client
                .get(format!(
                    "{api}/auth/ui/{page}?redirect={}",
                    encoded(&foreign)
                ))
                .send()
                .await
                .unwrap();
            assert_eq!(answer.status().as_u16(), 400, "{page} {foreign:?}");
            assert_eq!(answer.headers()["content-security-policy"], CSP);
            let body: serde_json::Value = answer.json().await.unwrap();
            assert_eq!(
                body["errors"][0]["extensions"]["code"], "INVALID_PAYLOAD",
                "{body}"
            );
        }
        // Twice is not a guess between the two.
        let twice = client
            .get(format!(
                "{api}/auth/ui/{page}?redirect={}&redirect={}",
                encoded(e2e::PAGES_RETURN_URL),
                encoded("https://evil.example/")
            ))
            .send()
            .await
            .unwrap();
        assert_eq!(twice.status().as_u16(), 400, "{page}");
    }
    // Pages that do not sign anyone in ignore it.
    let forgot = client
        .get(format!(
            "{api}/auth/ui/forgot-password?redirect={}",
            encoded("https://evil.example/")
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(forgot.status().as_u16(), 200);
    assert!(!forgot.text().await.unwrap().contains("evil.example"));
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

/// `POST /auth/ui/account/qr` with `body` and `headers`, through the gateway.
async fn qr(headers: &[(&str, &str)], body: String) -> Answer {
    let mut request = e2e::client()
        .post(format!("{}/auth/ui/account/qr", e2e::stack().api))
        .body(body);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.expect("request sent");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.text().await.expect("a body");
    Answer {
        status,
        headers,
        body,
    }
}

/// The account page's QR code: the `otpauth_url` a real `generate` answered, drawn by the
/// pages function as SVG for its own pages only, never stored; nothing else is drawn.
#[tokio::test]
async fn the_account_pages_qr_code_is_drawn_for_this_origin_only_and_never_stored() {
    let email = e2e::unique_email("pages-qr");
    let password = "d1r3ctu5-qr-code";
    let login = e2e::registered_login(&email, password).await;
    let token = login["access_token"].as_str().expect("an access token");
    // Straight to the tfa function (docs/openapi.yaml, which `e2e::post_with` checks answers
    // against, is not this module's).
    let generated: serde_json::Value = e2e::client()
        .post(format!("{}/users/me/tfa/generate", e2e::stack().api))
        .bearer_auth(token)
        .json(&serde_json::json!({ "password": password }))
        .send()
        .await
        .expect("request sent")
        .json()
        .await
        .expect("a JSON answer");
    let url = generated["data"]["otpauth_url"]
        .as_str()
        .unwrap_or_else(|| panic!("an otpauth_url: {generated}"))
        .to_owned();
    let secret = generated["data"]["secret"].as_str().unwrap().to_owned();
    let json = serde_json::json!({ "otpauth_url": url }).to_string();
    let same_origin = [
        ("content-type", "application/json"),
        ("origin", e2e::stack().api.as_str()),
        ("sec-fetch-site", "same-origin"),
    ];
    let drawn = qr(&same_origin, json.clone()).await;
    assert_eq!(drawn.status, 200, "{}", drawn.body);
    assert_eq!(header(&drawn, "content-type"), "image/svg+xml");
    assert_eq!(header(&drawn, "cache-control"), "no-store");
    assert_secured(&drawn, "the QR code");
    assert!(
        drawn
            .body
            .contains("<svg xmlns=\"http://www.w3.org/2000/svg\"")
    );
    assert!(!drawn.body.contains(&secret) && !drawn.body.contains("otpauth"));

    // Another site, a body that is no JSON, too big a body, a URL that is no TOTP set-up.
    let foreign = qr(
        &[
            ("content-type", "application/json"),
            ("origin", "https://evil.example"),
            ("sec-fetch-site", "cross-site"),
        ],
        json.clone(),
    )
    .await;
    assert_eq!(foreign.status, 403, "{}", foreign.body);
    assert_secured(&foreign, "a foreign origin");
    let form = qr(
        &[("content-type", "application/x-www-form-urlencoded")],
        format!("otpauth_url={url}"),
    )
    .await;
    assert_eq!(form.status, 400, "{}", form.body);
    let huge = qr(
        &same_origin,
        serde_json::json!({ "otpauth_url": format!("{url}&x={}", "a".repeat(8000)) }).to_string(),
    )
    .await;
    assert_eq!(huge.status, 413, "{}", huge.body);
    let link = qr(
        &same_origin,
        serde_json::json!({ "otpauth_url": "https://evil.example/?secret=JBSWY3DPEHPK3PXP" })
            .to_string(),
    )
    .await;
    assert_eq!(link.status, 400, "{}", link.body);
    assert!(!link.body.contains("<svg"));
    // Reading it is not a thing: the secret never goes into a URL.
    let read = send(
        Method::GET,
        &format!(
            "/auth/ui/account/qr?otpauth_url={}",
            url.replace('&', "%26")
        ),
    )
    .await;
    assert_eq!(read.status, 405, "{}", read.body);
    assert_eq!(header(&read, "allow"), "POST");
}
