use super::*;
use crate::platform::state::unreachable_state;
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
    // The root itself leads to sign-in (`Resource::Root`, tested with the redirect).
    for path in [
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
fn the_policy_allows_blob_images_and_nothing_else_new() {
    // blob: images for the QR code; no data: URLs, no other source, for anything.
    assert!(CONTENT_SECURITY_POLICY.contains("img-src 'self' blob:;"));
    assert_eq!(CONTENT_SECURITY_POLICY.matches("blob:").count(), 1);
    assert!(!CONTENT_SECURITY_POLICY.contains("data:"));
    assert!(!CONTENT_SECURITY_POLICY.contains('*'));
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
    // Two reviewed sinks. The navigation back to the app after sign-in: `data-redirect` is
    // rendered only for an address the server checked against PAGES_REDIRECT_ALLOW_LIST (an
    // http(s) URL whose origin and path an operator listed), so no `javascript:` URL can reach
    // it. The two-factor QR code's image: its source is always a `blob:` URL the script made of
    // the pages function's SVG answer (an image runs no script). Any other sink, or these with
    // another argument, fails.
    const RETURN: &str = "location.assign(body.dataset.redirect || 'posts');";
    const QR_IMAGE: &str = "qrImage.src = URL.createObjectURL(svg);";
    let line_of = |code: &str| {
        assert_eq!(SCRIPT.matches(code).count(), 1, "{code}");
        SCRIPT[..SCRIPT.find(code).unwrap()].lines().count()
    };
    assert_eq!(
        dom_sinks(SCRIPT),
        vec![
            format!("line {}: assign(…)", line_of(RETURN)),
            format!("line {}: src =", line_of(QR_IMAGE)),
        ]
    );
    assert!(!SCRIPT.contains("http://") && !SCRIPT.contains("https://"));
    // Renewal: every timer is capped below setTimeout's 2^31 ms limit (over it, it fires at
    // once, in a loop), and only a non-transient failure ends the session.
    assert_eq!(SCRIPT.matches("setTimeout(").count(), 1);
    assert!(SCRIPT.contains("Math.min(MAX_RENEW_DELAY, Math.max(1000, delay))"));
    assert!(SCRIPT.contains("const MAX_RENEW_DELAY = 3600000;"));
    assert!(SCRIPT.contains("if (transient(again)) {"));
}

/// A significant token of a script: comments are left out, so only code is looked at.
#[derive(Debug, Clone, PartialEq)]
enum Js {
    Ident(String),
    Keyword(String),
    Punct(String),
    /// A string literal's content, or a template without substitutions.
    Text(String),
    /// Any other literal, or a part of a template with substitutions.
    Other,
}

/// Every place where `script`'s code hands a value to a DOM sink that can run it as markup or
/// code (`innerHTML`, `outerHTML`, `insertAdjacentHTML`, `srcdoc`, `document.write`, `eval`,
/// `Function`, a `setTimeout`/`setInterval` not given a function) or navigate to it (`location`
/// or an `href`/`src`/`action` set to anything but string literals: a `javascript:` URL runs).
/// The script is tokenised as JavaScript (ress), so a sink named in a comment or a string is
/// not one, and one reached through a computed member (`el['innerHTML']`) is.
fn dom_sinks(script: &str) -> Vec<String> {
    use ress::tokens::Token;
    let mut tokens: Vec<(Js, usize)> = Vec::new();
    for item in ress::Scanner::new(script) {
        let item = item.expect("the script tokenises");
        let line = item.location.start.line;
        let token = match &item.token {
            Token::Comment(_) => continue,
            Token::EoF => break,
            Token::Ident(name) => Js::Ident(name.as_ref().to_owned()),
            Token::Keyword(keyword) => Js::Keyword(keyword.as_str().to_owned()),
            Token::Punct(punct) => Js::Punct(punct.to_string()),
            Token::String(text) => Js::Text(match text {
                ress::tokens::StringLit::Single(inner) | ress::tokens::StringLit::Double(inner) => {
                    inner.content.to_owned()
                }
            }),
            Token::Template(ress::tokens::Template::NoSub(text)) => {
                Js::Text(text.content.to_owned())
            }
            _ => Js::Other,
        };
        tokens.push((token, line));
    }
    const MARKUP: &[&str] = &[
        "innerHTML",
        "outerHTML",
        "insertAdjacentHTML",
        "srcdoc",
        "createContextualFragment",
        "setHTMLUnsafe",
        "parseHTMLUnsafe",
    ];
    const URL_PROPERTIES: &[&str] = &["href", "src", "action", "formAction"];
    let is_ident =
        |i: usize, name: &str| matches!(tokens.get(i), Some((Js::Ident(n), _)) if n == name);
    let is_punct = |i: usize, p: &str| matches!(tokens.get(i), Some((Js::Punct(q), _)) if q == p);
    let member = |i: usize| i > 0 && is_punct(i - 1, ".");
    let mut found = Vec::new();
    for (i, (token, line)) in tokens.iter().enumerate() {
        let mut sink = |what: &str| found.push(format!("line {line}: {what}"));
        match token {
            Js::Ident(name) if MARKUP.contains(&name.as_str()) => sink(name),
            // `el['innerHTML']`, `setAttribute('srcdoc', …)`, `document['write']`.
            Js::Text(text) if MARKUP.contains(&text.as_str()) => sink(text),
            Js::Text(text)
                if (text == "write" || text == "writeln") && i > 0 && is_punct(i - 1, "[") =>
            {
                sink(text)
            }
            Js::Ident(name) if (name == "write" || name == "writeln") && member(i) => sink(name),
            Js::Ident(name) if name == "eval" || name == "Function" => sink(name),
            Js::Ident(name) if (name == "setTimeout" || name == "setInterval") => {
                // Given a function: `function`, `async function`, an arrow's `(`, or a name
                // passed as it is. Anything else may be a string of code.
                let given_function = match tokens.get(i + 2) {
                    Some((Js::Keyword(k), _)) => k == "function",
                    Some((Js::Ident(n), _)) if n == "async" => true,
                    Some((Js::Punct(p), _)) => p == "(",
                    Some((Js::Ident(_), _)) => is_punct(i + 3, ",") || is_punct(i + 3, ")"),
                    _ => false,
                };
                if is_punct(i + 1, "(") && !given_function {
                    sink(name);
                }
            }
            // `location = …`, `location.href = …`, `a.href = …`, `img.src = …`.
            Js::Ident(name)
                if is_punct(i + 1, "=")
                    && (name == "location"
                        || (member(i) && URL_PROPERTIES.contains(&name.as_str()))
                        || (member(i) && i >= 2 && is_ident(i - 2, "location")))
                    && !only_literal_urls(&tokens, i + 2) =>
            {
                sink(&format!("{name} ="))
            }
            // `location.assign(…)`, `location.replace(…)`, `window.open(…)`.
            Js::Ident(name)
                if member(i)
                    && is_punct(i + 1, "(")
                    && ((i >= 2
                        && is_ident(i - 2, "location")
                        && (name == "assign" || name == "replace"))
                        || (i >= 2 && is_ident(i - 2, "window") && name == "open"))
                    && !only_literal_urls(&tokens, i + 2) =>
            {
                sink(&format!("{name}(…)"))
            }
            // `setAttribute('href', …)` and event handler attributes (`onclick`).
            Js::Ident(name) if name == "setAttribute" && is_punct(i + 1, "(") => {
                if let Some((Js::Text(attribute), _)) = tokens.get(i + 2) {
                    let attribute = attribute.to_ascii_lowercase();
                    let url = ["href", "src", "action", "formaction", "xlink:href"]
                        .contains(&attribute.as_str());
                    if attribute.starts_with("on") || (url && !only_literal_urls(&tokens, i + 4)) {
                        sink(&format!("setAttribute('{attribute}', …)"));
                    }
                }
            }
            _ => {}
        }
    }
    found
}

/// Whether the expression starting at token `start` (up to a `,`, `;`, `)`, `]` or `}` at its
/// own depth) can only be one of its string literals: a literal, or conditionals whose every
/// branch is one (`a ? 'x' : 'y'`). A value read from anywhere else could be `javascript:…`.
fn only_literal_urls(tokens: &[(Js, usize)], start: usize) -> bool {
    let mut depth = 0usize;
    // The tokens of the current branch, and whether it is a condition (followed by `?`).
    let mut branch: Vec<&Js> = Vec::new();
    let mut branches: Vec<(Vec<&Js>, bool)> = Vec::new();
    for (token, _) in &tokens[start..] {
        if let Js::Punct(p) = token {
            match p.as_str() {
                "(" | "[" | "{" => depth += 1,
                ")" | "]" | "}" if depth == 0 => break,
                ")" | "]" | "}" => depth -= 1,
                "," | ";" if depth == 0 => break,
                "?" | ":" if depth == 0 => {
                    branches.push((std::mem::take(&mut branch), p == "?"));
                    continue;
                }
                _ => {}
            }
        }
        branch.push(token);
    }
    branches.push((branch, false));
    branches
        .iter()
        .filter(|(_, condition)| !condition)
        .all(|(values, _)| matches!(values.as_slice(), [Js::Text(_)]))
}

#[test]
fn the_sink_finder_looks_at_code_not_at_comments_or_strings() {
    // Each of these hands data to a sink, and is found.
    for code in [
        "el.innerHTML = data;",
        "el.outerHTML = data;",
        "el.insertAdjacentHTML('beforeend', data);",
        "el['innerHTML'] = data;",
        "frame.srcdoc = data;",
        "frame.setAttribute('srcdoc', data);",
        "document.write(data);",
        "document.writeln(data);",
        "const d = document; d.write(data);",
        "document['write'](data);",
        "eval(data);",
        "window.eval(data);",
        "new Function('return ' + data)();",
        "Function(data)();",
        "setTimeout('run()', 10);",
        "setTimeout(`run(${data})`, 10);",
        "setInterval(code + data, 10);",
        "location = data.next;",
        "window.location = next;",
        "location.href = '/x?' + data;",
        "location.assign(data);",
        "window.location.replace(next);",
        "location.replace(ok ? next : 'sign-in');",
        "link.href = data.url;",
        "script.src = data;",
        "form.action = target;",
        "window.open(data);",
        "link.setAttribute('href', data);",
        "button.setAttribute('onclick', 'go()');",
        "range.createContextualFragment(data);",
        "const html = `<p>${data}</p>`; el.innerHTML = html;",
    ] {
        assert_ne!(dom_sinks(code), Vec::<String>::new(), "{code}");
    }
    // None of these does: sinks named in comments and strings, reads, and literal URLs.
    for code in [
        "// never use el.innerHTML = data, or document.write(data)\nel.textContent = data;",
        "/* eval(data); location = data; */ el.textContent = data;",
        "showError('Do not set innerHTML or call eval(x) here');",
        "const help = \"document.write(x) and el.outerHTML = y are banned\";",
        "const t = `setTimeout('x') and location = y`;",
        "const re = /innerHTML|eval\\(/;",
        "const here = location.pathname; const h = link.href;",
        "location.assign('posts');",
        "location.replace(hadSession ? 'sign-in?session=expired' : 'sign-in');",
        "location.href = 'sign-in';",
        "setTimeout(async function () { await renew(); }, 1000);",
        "setTimeout(() => renew(), 1000);",
        "setTimeout(renew, 1000);",
        "clearTimeout(renewTimer);",
        "el.setAttribute('aria-busy', on ? 'true' : 'false');",
        "if (a == location) { go(); }",
    ] {
        assert_eq!(dom_sinks(code), Vec::<String>::new(), "{code}");
    }
}

#[test]
fn the_verification_page_verifies_only_when_its_button_is_pressed() {
    let html = render::page(
        Page::VerifyEmail,
        &Branding::from(&open()),
        &open(),
        &config(),
        None,
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

/// The script's code with comments left out, as one string (what the checks below read).
fn script_code() -> String {
    SCRIPT
        .lines()
        .filter(|line| !line.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn the_script_keeps_secrets_codes_and_passwords_out_of_urls_storage_and_the_console() {
    let code = script_code();
    assert!(!code.contains("console"), "no console output at all");
    assert!(!code.contains("localStorage") && !code.contains("indexedDB"));
    assert!(!code.contains("document.cookie"));
    // sessionStorage holds only the signed-in marker.
    assert_eq!(code.matches("sessionStorage.setItem(").count(), 1);
    assert!(code.contains("sessionStorage.setItem(SIGNED_IN, '1');"));
    // No history entry or address is built from anything: the only replaceState drops the
    // query (a mail link's token).
    assert_eq!(code.matches("history.replaceState(").count(), 1);
    assert!(code.contains("history.replaceState(null, '', location.pathname);"));
    assert!(!code.contains("pushState"));
    // The QR code is asked for by POST with a JSON body, never with the URL in a query.
    let qr = code
        .split("async function drawQrCode(")
        .nth(1)
        .and_then(|rest| rest.split("\n    }\n").next())
        .expect("the QR code's request");
    assert!(qr.contains("fetch(base + '/auth/ui/account/qr', {"), "{qr}");
    assert!(qr.contains("method: 'POST'"), "{qr}");
    assert!(
        qr.contains("body: JSON.stringify({ otpauth_url: otpauthUrl })"),
        "{qr}"
    );
    assert!(!qr.contains('?'), "{qr}");
    // Between sign-in's steps the password is emptied from its field.
    assert!(code.contains("document.getElementById('password').value = '';"));
}

fn page_html(page: Page) -> String {
    body(&render(Resource::Page(page), &open(), &config()))
}

#[test]
fn sign_in_has_a_hidden_second_step_for_a_code_or_a_recovery_code() {
    let html = page_html(Page::SignIn);
    assert!(
        html.contains("<form id=\"otp-form\" method=\"post\" action=\"sign-in\" hidden>"),
        "{html}"
    );
    assert!(
        html.contains(
            "<input id=\"otp\" name=\"otp\" type=\"text\" inputmode=\"numeric\" \
             autocomplete=\"one-time-code\""
        ),
        "{html}"
    );
    assert!(
        html.contains("<form id=\"recovery-form\" method=\"post\" action=\"sign-in\" hidden>"),
        "{html}"
    );
    assert!(
        html.contains(
            "<input id=\"recovery-code\" name=\"recovery-code\" type=\"text\" \
                       inputmode=\"text\" autocomplete=\"off\""
        ),
        "{html}"
    );
    assert!(html.contains("id=\"use-recovery-code\""));
    assert!(html.contains("id=\"use-app-code\""));
    // Both steps are one page: the password never travels between pages.
    assert_eq!(html.matches("<form ").count(), 3);
}

#[test]
fn the_account_page_shows_nothing_to_change_until_the_script_knows_the_state() {
    let html = page_html(Page::Account);
    assert!(html.contains("data-page=\"account\""));
    assert!(html.contains("<title>Your account · Directus</title>"));
    for hidden in [
        "<form id=\"tfa-start-form\" method=\"post\" action=\"account\" hidden>",
        "<div id=\"tfa-setup\" hidden>",
        "<div id=\"tfa-recovery\" hidden>",
        "<form id=\"tfa-disable-form\" method=\"post\" action=\"account\" hidden>",
    ] {
        assert!(html.contains(hidden), "{hidden}: {html}");
    }
    assert!(html.contains("<p id=\"tfa-status\" aria-busy=\"true\">"));
    // The set-up's parts: an image for the QR code (no source until the script sets a blob:
    // URL), the key as text, a code field, the recovery codes' list.
    assert!(
        html.contains("<img id=\"tfa-qr\" class=\"qr\" alt=\"QR code"),
        "{html}"
    );
    assert!(!html.contains("src=\"blob") && !html.contains("data:"));
    assert!(html.contains("<code id=\"tfa-secret\" class=\"secret\"></code>"));
    assert!(html.contains(
        "<input id=\"tfa-code\" name=\"tfa-code\" type=\"text\" inputmode=\"numeric\" \
         autocomplete=\"one-time-code\""
    ));
    assert!(html.contains("<ul id=\"tfa-recovery-codes\""));
    assert!(html.contains("autocomplete=\"current-password\""));
    assert!(html.contains("id=\"sign-out\""));
    // Reached from the signed-in page.
    assert!(page_html(Page::Posts).contains("<a href=\"account\">"));
}

fn qr_request(method: &str, headers: &[(&str, &str)], body: &str) -> Request {
    let mut builder = h::Request::builder()
        .method(method)
        .uri("/prod/auth/ui/account/qr");
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    builder.body(Body::Text(body.to_owned())).unwrap()
}

#[tokio::test]
async fn the_qr_code_is_answered_by_the_pages_function_with_the_security_headers() {
    let url = crate::domain::two_factor::otpauth_url(
        "Directus",
        "a@example.com",
        "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP",
    );
    let json = serde_json::json!({ "otpauth_url": url }).to_string();
    // The store is unreachable: drawing reads nothing.
    let drawn = handle(
        &unreachable_state(),
        &config(),
        &qr_request(
            "POST",
            &[
                ("content-type", "application/json"),
                ("sec-fetch-site", "same-origin"),
                ("origin", "https://api.example.com"),
            ],
            &json,
        ),
    )
    .await;
    assert_eq!(drawn.status(), 200);
    assert_eq!(header(&drawn, "content-type"), "image/svg+xml");
    assert_eq!(header(&drawn, "cache-control"), "no-store");
    assert_eq!(
        header(&drawn, "content-security-policy"),
        CONTENT_SECURITY_POLICY
    );
    assert_eq!(header(&drawn, "x-content-type-options"), "nosniff");
    assert!(body(&drawn).contains("<svg"));
    for (method, headers, status) in [
        ("GET", vec![], 405),
        ("HEAD", vec![], 405),
        (
            "POST",
            vec![
                ("content-type", "application/json"),
                ("origin", "https://evil.example"),
                ("sec-fetch-site", "cross-site"),
            ],
            403,
        ),
        ("POST", vec![("content-type", "text/plain")], 400),
    ] {
        let refused = handle(
            &unreachable_state(),
            &config(),
            &qr_request(method, &headers, &json),
        )
        .await;
        assert_eq!(refused.status(), status, "{method} {headers:?}");
        assert_eq!(
            header(&refused, "content-security-policy"),
            CONTENT_SECURITY_POLICY
        );
    }
    // Only that name: nothing under it, nothing like it.
    for path in [
        "/auth/ui/account/qr/",
        "/auth/ui/account/qr.svg",
        "/auth/ui/qr",
    ] {
        let request = h::Request::builder()
            .method("POST")
            .uri(path)
            .header("content-type", "application/json")
            .body(Body::Text(json.clone()))
            .unwrap();
        let answer = handle(&unreachable_state(), &config(), &request).await;
        assert_eq!(answer.status(), 404, "{path}");
    }
}
