use super::*;
use crate::state::unreachable_state;
use lambda_http::http as h;

fn config() -> PagesConfig {
    PagesConfig::from_lookup(&|_| None, &[], &[]).unwrap()
}

fn open() -> Settings {
    Settings {
        public_registration: true,
        public_registration_verify_email: false,
        ..Settings::default()
    }
}

fn body(response: &HttpResponse) -> String {
    match response.body() {
        Body::Text(text) => text.clone(),
        Body::Empty => String::new(),
        other => panic!("unexpected body {other:?}"),
    }
}

fn header<'a>(response: &'a HttpResponse, name: &str) -> &'a str {
    response
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_else(|| panic!("no {name} header"))
}

async fn call(method: &str, path: &str) -> HttpResponse {
    let request = h::Request::builder()
        .method(method)
        .uri(path)
        .body(Body::Empty)
        .unwrap();
    handle(&unreachable_state(), &config(), &request).await
}

#[test]
fn names_are_looked_up_never_resolved() {
    assert_eq!(
        Resource::of("/auth/ui/sign-in"),
        Some(Resource::Page(Page::SignIn))
    );
    assert_eq!(
        Resource::of("/prod/auth/ui/posts"),
        Some(Resource::Page(Page::Posts))
    );
    assert_eq!(
        Resource::of("/auth/ui/assets/app.js"),
        Some(Resource::Script)
    );
    for path in [
        "/auth/ui/",
        "/auth/ui",
        "/auth/ui/sign-in/",
        "/auth/ui/../sign-in",
        "/auth/ui/assets/../assets/app.js",
        "/auth/ui/%2e%2e/sign-in",
        "/auth/ui/assets%2fapp.js",
        "/auth/ui/SIGN-IN",
        "/auth/ui/sign-in.html",
        "/auth/ui/assets/",
        "/auth/ui/assets/mod.rs",
        "/auth/ui/assets/app.js%00",
        "/auth/login",
    ] {
        assert_eq!(Resource::of(path), None, "{path}");
    }
    let huge = format!("/auth/ui/{}", "a".repeat(100_000));
    assert_eq!(Resource::of(&huge), None);
}

#[tokio::test]
async fn static_files_are_served_with_their_types_and_the_security_headers() {
    // The store is unreachable: the script and stylesheet read nothing.
    for (path, content_type, marker) in [
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
    ] {
        let response = call("GET", path).await;
        assert_eq!(response.status(), 200, "{path}");
        assert_eq!(header(&response, "content-type"), content_type);
        assert_eq!(
            header(&response, "content-security-policy"),
            CONTENT_SECURITY_POLICY
        );
        assert_eq!(header(&response, "x-content-type-options"), "nosniff");
        assert_eq!(header(&response, "referrer-policy"), "no-referrer");
        assert!(body(&response).contains(marker), "{path}");
        let head = call("HEAD", path).await;
        assert_eq!(head.status(), 200);
        assert_eq!(header(&head, "content-type"), content_type);
        assert!(body(&head).is_empty());
    }
}

#[tokio::test]
async fn unknown_names_and_other_methods_get_the_api_envelope_with_the_headers() {
    for (method, path, status, code) in [
        ("GET", "/auth/ui/nope", 404, "ROUTE_NOT_FOUND"),
        ("GET", "/auth/ui/../etc/passwd", 404, "ROUTE_NOT_FOUND"),
        ("POST", "/auth/ui/nope", 404, "ROUTE_NOT_FOUND"),
        ("POST", "/auth/ui/sign-in", 405, "METHOD_NOT_ALLOWED"),
        (
            "DELETE",
            "/auth/ui/assets/app.js",
            405,
            "METHOD_NOT_ALLOWED",
        ),
        ("PUT", "/auth/ui/posts", 405, "METHOD_NOT_ALLOWED"),
    ] {
        let response = call(method, path).await;
        assert_eq!(response.status(), status, "{method} {path}");
        assert_eq!(
            header(&response, "content-type"),
            "application/json; charset=utf-8"
        );
        assert_eq!(
            header(&response, "content-security-policy"),
            CONTENT_SECURITY_POLICY
        );
        let json: serde_json::Value = serde_json::from_str(&body(&response)).unwrap();
        assert_eq!(json["errors"][0]["extensions"]["code"], code);
        if status == 405 {
            assert_eq!(header(&response, "allow"), "GET, HEAD");
        }
    }
}

#[test]
fn the_policy_is_at_least_as_strict_as_asked() {
    for directive in [
        "script-src 'self'",
        "style-src 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "default-src 'none'",
    ] {
        assert!(CONTENT_SECURITY_POLICY.contains(directive), "{directive}");
    }
    assert!(!CONTENT_SECURITY_POLICY.contains("unsafe"));
}

/// The first inline event handler: an ` on<letters>=` attribute (whitespace or `/` before it,
/// `=` after, maybe spaced; case-insensitive, as HTML is).
fn inline_handler(html: &str) -> Option<String> {
    let lower = html.to_ascii_lowercase();
    lower.match_indices("on").find_map(|(at, _)| {
        let before = lower[..at].chars().next_back()?;
        let name_end = lower[at + 2..]
            .find(|c: char| !c.is_ascii_lowercase())
            .map_or(lower.len(), |n| at + 2 + n);
        ((before.is_ascii_whitespace() || before == '/')
            && name_end > at + 2
            && lower[name_end..].trim_start().starts_with('='))
        .then(|| lower[at..name_end].to_owned())
    })
}

#[test]
fn inline_handlers_of_any_name_are_found() {
    for html in [
        "<button onclick=\"x()\">",
        "<img src=a\nONERROR = \"x()\">",
        "<details ontoggle='x()'>",
        "<svg/onload=x()>",
    ] {
        assert!(inline_handler(html).is_some(), "{html}");
    }
    for html in [
        "<p>Sign on = here</p> <a class=\"button\">",
        "<input id=\"one\">",
    ] {
        assert_eq!(inline_handler(html), None, "{html}");
    }
}

#[test]
fn pages_have_no_inline_script_or_style() {
    let settings = open();
    for page in Page::ALL {
        let html = body(&render(Resource::Page(page), &settings, &config()));
        assert!(html.starts_with("<!doctype html>"), "{page:?}");
        assert!(html.contains("<html lang=\"en\">"));
        assert!(html.contains("name=\"viewport\""));
        assert!(!html.contains("style="), "{page:?}");
        assert!(!html.contains("<style"), "{page:?}");
        assert!(!html.contains("javascript:"), "{page:?}");
        assert_eq!(inline_handler(&html), None, "{page:?}");
        assert_eq!(html.matches("<script").count(), 1, "{page:?}");
        assert!(html.contains("<script src=\"assets/app.js\" defer></script>"));
        // Every input has a label naming it.
        for id in html
            .split("<input id=\"")
            .skip(1)
            .map(|rest| rest.split('"').next().unwrap())
        {
            assert!(
                html.contains(&format!("<label for=\"{id}\">")),
                "{page:?} {id}"
            );
        }
    }
}

#[test]
fn sign_up_is_offered_only_while_registration_is_open() {
    let closed = Settings {
        public_registration: false,
        ..open()
    };
    let sign_in =
        |settings: &Settings| body(&render(Resource::Page(Page::SignIn), settings, &config()));
    let sign_up =
        |settings: &Settings| body(&render(Resource::Page(Page::SignUp), settings, &config()));
    assert!(sign_in(&open()).contains("href=\"sign-up\""));
    assert!(!sign_in(&closed).contains("href=\"sign-up\""));
    assert!(sign_up(&open()).contains("id=\"sign-up-form\""));
    let page = sign_up(&closed);
    assert!(!page.contains("<form"));
    assert!(page.contains("Registration is closed."));
}

#[test]
fn branding_is_escaped_and_checked() {
    let settings = Settings {
        project_name: Some("<script>alert(\"x\")</script> & 'co'".into()),
        project_color: Some("red; } body { display: none".into()),
        project_logo: Some("javascript:alert(1)".into()),
        ..open()
    };
    let html = body(&render(Resource::Page(Page::SignIn), &settings, &config()));
    assert!(!html.contains("<script>alert"));
    assert!(html.contains("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;co&#39;"));
    assert!(!html.contains("<img"));
    let theme = body(&render(Resource::Theme, &settings, &config()));
    assert!(theme.contains("--brand: #6644ff;"), "{theme}");
    assert!(!theme.contains("display"));

    let branded = Settings {
        project_name: Some("Acme".into()),
        project_color: Some("#FFE".into()),
        project_logo: Some("/files/logo.svg".into()),
        ..open()
    };
    let html = body(&render(Resource::Page(Page::SignIn), &branded, &config()));
    assert!(html.contains("<title>Sign in · Acme</title>"));
    assert!(html.contains("<img class=\"logo\" src=\"/files/logo.svg\" alt=\"\""));
    let theme = body(&render(Resource::Theme, &branded, &config()));
    // A light brand colour: dark text on it, and links in the dark text colour.
    assert!(theme.contains("--brand: #ffffee;"), "{theme}");
    assert!(theme.contains("--on-brand: #1f2933;"), "{theme}");
    assert!(theme.contains("--link: #1f2933;"), "{theme}");
    for foreign in [
        "//evil.example/x.png",
        "https://evil.example/x.png",
        "/a\"b",
    ] {
        let settings = Settings {
            project_logo: Some(foreign.into()),
            ..open()
        };
        assert_eq!(Branding::from(&settings).logo, None, "{foreign}");
    }
}

#[test]
fn the_collection_and_mail_links_come_from_the_configuration() {
    let configured = PagesConfig::from_lookup(
        &|name| (name == "PAGES_COLLECTION").then(|| "articles".into()),
        &[
            "https://app.example.com/reset".into(),
            "https://api.example.com/auth/ui/reset-password".into(),
        ],
        &["https://api.example.com/auth/ui/verify-email".into()],
    )
    .unwrap();
    assert_eq!(configured.collection, "articles");
    assert_eq!(
        configured.reset_url.as_deref(),
        Some("https://api.example.com/auth/ui/reset-password")
    );
    let html = body(&render(Resource::Page(Page::SignUp), &open(), &configured));
    assert!(html.contains("data-collection=\"articles\""));
    assert!(
        html.contains("data-verification-url=\"https://api.example.com/auth/ui/verify-email\"")
    );
    assert!(html.contains("data-verify-email=\"false\""));
    assert!(config().reset_url.is_none());
    // Of several entries naming the page, the one on PUBLIC_URL's origin.
    let list: Vec<String> = vec![
        "https://other.example.com/auth/ui/reset-password".into(),
        "https://api.example.com/auth/ui/reset-password".into(),
    ];
    let on_public = PagesConfig::from_lookup(
        &|name| (name == "PUBLIC_URL").then(|| "https://api.example.com".into()),
        &list,
        &[],
    )
    .unwrap();
    assert_eq!(
        on_public.reset_url.as_deref(),
        Some("https://api.example.com/auth/ui/reset-password")
    );
    let elsewhere = PagesConfig::from_lookup(
        &|name| (name == "PUBLIC_URL").then(|| "https://third.example.com/".into()),
        &list,
        &[],
    )
    .unwrap();
    assert_eq!(
        elsewhere.reset_url.as_deref(),
        Some("https://other.example.com/auth/ui/reset-password")
    );
    for bad in ["", "a b", "x\"y", "../posts"] {
        assert!(
            PagesConfig::from_lookup(&|_| Some(bad.to_owned()), &[], &[]).is_err(),
            "{bad:?}"
        );
    }
}

#[test]
fn the_script_calls_only_the_same_origin_api_and_never_stores_tokens() {
    assert!(SCRIPT.contains("credentials: 'same-origin'"));
    assert!(SCRIPT.contains("mode: 'session'"));
    assert!(!SCRIPT.contains("localStorage"));
    assert!(!SCRIPT.contains("access_token"));
    assert!(!SCRIPT.contains("innerHTML"));
    assert!(!SCRIPT.contains("http://") && !SCRIPT.contains("https://"));
    // Renewal: every timer is capped below setTimeout's 2^31 ms limit (over it, it fires at
    // once, in a loop), and only a non-transient failure ends the session.
    assert_eq!(SCRIPT.matches("setTimeout(").count(), 1);
    assert!(SCRIPT.contains("Math.min(MAX_RENEW_DELAY, Math.max(1000, delay))"));
    assert!(SCRIPT.contains("const MAX_RENEW_DELAY = 3600000;"));
    assert!(SCRIPT.contains("if (transient(again)) {"));
}

#[test]
fn the_verification_page_verifies_only_when_its_button_is_pressed() {
    let html = render::page(
        Page::VerifyEmail,
        &Branding::from(&open()),
        &open(),
        &config(),
    );
    assert!(
        html.contains("<form id=\"verify-form\" method=\"post\" action=\"verify-email\">"),
        "{html}"
    );
    assert!(html.contains("Verify my email address</button>"), "{html}");
    // The script posts the token from the button's submit handler, never on load.
    let handler = SCRIPT
        .split("function verifyEmailPage()")
        .nth(1)
        .and_then(|rest| rest.split("\n  }\n").next())
        .expect("the page's handler");
    let submit = handler
        .find("onSubmit(form")
        .expect("the token is sent on submit");
    let post = handler
        .find("call('POST', '/users/register/verify-email'")
        .expect("the token is posted");
    assert!(submit < post, "{handler}");
    assert!(!SCRIPT.contains("call('GET', '/users/register/verify-email"));
}
