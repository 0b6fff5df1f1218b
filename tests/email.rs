//! Email verification and password reset, end to end: requests over HTTP to the mail stack
//! (verification on), messages read from the local inbox (maildev) through its API, links
//! followed as a mail reader would. Every test has its own addresses and its own client address.

use e2e::mail::{Mail, get, link_of, messages_to, own_client, post, token_of, wait_for};
use e2e::{MAIL_PREFIX, RESET_URL, Reply, SECRET, VERIFY_URL, mail_stack, now_secs, unique_email};
use serde_json::{Value, json};
use shared::credential::link_token::{LinkTokens, Scope, derive};

const PASSWORD: &str = "d1r3ctu5-mail";

fn mail_store() -> shared::store::Store {
    shared::store::Store::local(
        &mail_stack().dynamo,
        shared::store::Tables::with_prefix(MAIL_PREFIX),
    )
}

fn link_tokens() -> LinkTokens {
    LinkTokens::new(&shared::platform::config::SigningKeys {
        current: SECRET.as_bytes().to_vec(),
        previous: None,
        jwt: None,
    })
}

/// Signs any claims with the link key of the stack's secret (a correctly signed token).
fn sign_link(claims: &Value) -> String {
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        claims,
        &jsonwebtoken::EncodingKey::from_secret(&derive(SECRET.as_bytes())),
    )
    .expect("claims serialize")
}

async fn register(client: &reqwest::Client, email: &str, password: &str) -> Reply {
    post(
        client,
        "/users/register",
        &json!({"email": email, "password": password}),
    )
    .await
}

async fn login(client: &reqwest::Client, email: &str, password: &str) -> Reply {
    post(
        client,
        "/auth/login",
        &json!({"email": email, "password": password}),
    )
    .await
}

/// The verify link's path and query, on the mail stack.
fn local_path(link: &str) -> String {
    link.strip_prefix(&mail_stack().api)
        .unwrap_or_else(|| panic!("{link} is a link to the API"))
        .to_owned()
}

/// Registers `email`, follows the mailed link, and returns once the account is active.
async fn verified_user(client: &reqwest::Client, email: &str) {
    assert_eq!(register(client, email, PASSWORD).await.status, 204);
    let mail = wait_for(email, 1).await.remove(0);
    let verified = get(client, &local_path(&link_of(&mail)), None).await;
    assert_eq!(verified.status, 200, "{verified:?}");
}

async fn request_reset(client: &reqwest::Client, email: &str) -> Reply {
    post(
        client,
        "/auth/password/request",
        &json!({"email": email, "reset_url": RESET_URL}),
    )
    .await
}

async fn reset(client: &reqwest::Client, token: &str, password: &str) -> Reply {
    post(
        client,
        "/auth/password/reset",
        &json!({"token": token, "password": password}),
    )
    .await
}

fn assert_error(reply: &Reply, status: u16, code: &str) {
    assert_eq!(reply.status, status, "{reply:?}");
    assert_eq!(reply.code(), code, "{reply:?}");
}

#[tokio::test]
async fn registration_mails_a_link_that_activates_the_account_once() {
    let client = own_client();
    let email = unique_email("verify");
    let registered = register(&client, &email, PASSWORD).await;
    assert_eq!(registered.status, 204, "{registered:?}");
    assert!(registered.raw.is_empty());
    // Unverified: the same 401 as a wrong password.
    assert_error(
        &login(&client, &email, PASSWORD).await,
        401,
        "INVALID_CREDENTIALS",
    );

    let mail = wait_for(&email, 1).await.remove(0);
    assert_eq!(mail.subject, "Verify your email address");
    assert_eq!(mail.from, "no-reply@mail-test.example.com");
    assert!(
        mail.text
            .contains("Thanks for registering at Mail Test Project")
    );
    assert!(mail.html.contains("<i>Mail Test Project</i>"));
    assert!(mail.text.contains("expire in 7 days"), "{}", mail.text);
    let link = link_of(&mail);
    assert!(
        link.starts_with(&format!(
            "{}/users/register/verify-email?token=",
            mail_stack().api
        )),
        "{link}"
    );
    let claims = e2e::claims_of(&token_of(&link));
    assert_eq!(claims["scope"], "pending-registration");
    assert_eq!(claims["email"], email);
    // Bound to the password hash it was mailed for.
    assert!(claims["hash"].as_str().is_some_and(|h| !h.is_empty()));
    assert_eq!(claims["iss"], "directus");

    let verified = get(&client, &local_path(&link), None).await;
    assert_eq!(verified.status, 200, "{verified:?}");
    assert!(
        verified
            .content_type
            .as_deref()
            .is_some_and(|t| t.starts_with("text/html"))
    );
    assert_eq!(login(&client, &email, PASSWORD).await.status, 200);

    // The second click: Directus' answer.
    let again = get(&client, &local_path(&link), None).await;
    assert_error(&again, 400, "INVALID_PAYLOAD");
    assert_eq!(
        again.body["errors"][0]["message"],
        "Invalid payload. Invalid verification code."
    );
    // Registering the now active address again: the same 204, and no mail.
    assert_eq!(
        register(&client, &email, "another-password").await.status,
        204
    );
    assert_eq!(messages_to(&email).await.len(), 1);
    assert_eq!(login(&client, &email, PASSWORD).await.status, 200);
}

/// What a browser sends when it opens a link (Chromium's navigation headers), and what link
/// scanners imitate.
const BROWSER: [(&str, &str); 3] = [
    (
        "accept",
        "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
    ),
    ("sec-fetch-mode", "navigate"),
    ("sec-fetch-dest", "document"),
];

/// The security headers of the hosted pages, on every HTML answer of the verification route.
fn assert_page_headers(headers: &reqwest::header::HeaderMap) {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_else(|| panic!("{name} in {headers:?}"))
    };
    assert!(header("content-type").starts_with("text/html"));
    assert_eq!(
        header("content-security-policy"),
        shared::adapters::pages::CONTENT_SECURITY_POLICY
    );
    assert!(header("content-security-policy").contains("frame-ancestors 'none'"));
    assert_eq!(header("x-content-type-options"), "nosniff");
    assert_eq!(header("x-frame-options"), "DENY");
    assert_eq!(header("referrer-policy"), "no-referrer");
    assert_eq!(header("cache-control"), "no-store");
}

/// Opens `link` (the mail's) as a browser would, or as a scanner posing as one.
async fn open_in_browser(client: &reqwest::Client, link: &str) -> Reply {
    let mut request = client.get(link);
    for (name, value) in BROWSER {
        request = request.header(name, value);
    }
    let response = request.send().await.expect("request sent");
    assert_page_headers(response.headers());
    Reply::from(response)
        .await
        .documented("GET", "/users/register/verify-email")
}

/// Presses the confirmation page's button: its form posts the token, as a browser navigates.
async fn press_the_button(client: &reqwest::Client, token: &str) -> Reply {
    let mut request = client
        .post(format!("{}/users/register/verify-email", mail_stack().api))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("origin", &mail_stack().api)
        .header("sec-fetch-site", "same-origin");
    for (name, value) in BROWSER {
        request = request.header(name, value);
    }
    let body: String = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("token", token)
        .finish();
    let response = request.body(body).send().await.expect("request sent");
    assert_page_headers(response.headers());
    Reply::from(response)
        .await
        .documented("POST", "/users/register/verify-email")
}

/// The token posted as JSON, as the hosted page's script and API clients send it.
async fn post_token(client: &reqwest::Client, token: &str) -> Reply {
    post(
        client,
        "/users/register/verify-email",
        &json!({ "token": token }),
    )
    .await
}

/// The confirmation page a browser gets: a form posting exactly `token`, and nothing verified.
fn assert_confirmation_page(page: &Reply, token: &str) {
    assert_eq!(page.status, 200, "{page:?}");
    assert!(
        page.raw
            .contains("<form id=\"verify-form\" method=\"post\" action=\"verify-email\">"),
        "{}",
        page.raw
    );
    assert!(
        page.raw
            .contains(&format!("name=\"token\" value=\"{token}\"")),
        "{}",
        page.raw
    );
}

/// Registers `email` first with `first` (its owner, say) and then with `second` (anyone), and
/// returns the two mailed links in that order.
async fn registered_twice(
    client: &reqwest::Client,
    email: &str,
    first: &str,
    second: &str,
) -> (String, String) {
    let one = register(client, email, first).await;
    let two = register(client, email, second).await;
    // The same answer to both: nothing tells the second registrant the address was taken.
    assert_eq!((one.status, &one.raw), (204, &String::new()));
    assert_eq!((two.status, &two.raw), (204, &String::new()));
    let mails = wait_for(email, 2).await;
    let (l1, l2) = (link_of(&mails[0]), link_of(&mails[1]));
    assert_ne!(l1, l2);
    let (c1, c2) = (
        e2e::claims_of(&token_of(&l1)),
        e2e::claims_of(&token_of(&l2)),
    );
    assert_eq!(c1["id"], c2["id"], "the same account");
    assert!(c1.get("jti").is_none(), "the account's own registration");
    assert!(c2["jti"].as_str().is_some_and(|j| !j.is_empty()), "{c2}");
    assert_ne!(c1["hash"], c2["hash"], "each bound to its own password");
    (l1, l2)
}

#[tokio::test]
async fn registering_an_unverified_address_again_cannot_take_the_account_over() {
    let client = own_client();
    let email = unique_email("takeover");
    // The owner registers; someone else registers the same address with their own password.
    let (owners, intruders) =
        registered_twice(&client, &email, PASSWORD, "intruder-password-1").await;

    // A mail scanner opening both links as a browser: confirmation pages, nothing verified.
    for link in [&intruders, &owners] {
        let page = open_in_browser(&client, link).await;
        assert_confirmation_page(&page, &token_of(link));
        assert!(page.raw.contains(&email), "{}", page.raw);
    }
    for password in [PASSWORD, "intruder-password-1"] {
        assert_error(
            &login(&client, &email, password).await,
            401,
            "INVALID_CREDENTIALS",
        );
    }

    // The owner opens their link and presses the button: their password is the account's.
    let page = open_in_browser(&client, &owners).await;
    assert_confirmation_page(&page, &token_of(&owners));
    let verified = press_the_button(&client, &token_of(&owners)).await;
    assert_eq!(verified.status, 200, "{verified:?}");
    assert!(verified.raw.contains("Email verified"), "{}", verified.raw);
    assert_eq!(login(&client, &email, PASSWORD).await.status, 200);
    assert_error(
        &login(&client, &email, "intruder-password-1").await,
        401,
        "INVALID_CREDENTIALS",
    );

    // The other link is spent, whichever way it comes: a page for a browser, the API's 400
    // for an API client's GET, a script's POST, GraphQL.
    let late = press_the_button(&client, &token_of(&intruders)).await;
    assert_eq!(late.status, 400, "{late:?}");
    assert!(late.raw.contains("already used"), "{}", late.raw);
    assert_error(
        &get(&client, &local_path(&intruders), None).await,
        400,
        "INVALID_PAYLOAD",
    );
    assert_error(
        &post_token(&client, &token_of(&intruders)).await,
        400,
        "INVALID_PAYLOAD",
    );
    let graphql = system_graphql(
        &client,
        "mutation V($token: String!) { users_register_verify(token: $token) }",
        json!({"token": token_of(&intruders)}),
    )
    .await;
    assert_eq!(graphql_code(&graphql), "INVALID_PAYLOAD");
    assert_eq!(login(&client, &email, PASSWORD).await.status, 200);
    assert_error(
        &login(&client, &email, "intruder-password-1").await,
        401,
        "INVALID_CREDENTIALS",
    );
}

#[tokio::test]
async fn the_link_used_first_activates_its_own_registration_and_spends_the_others() {
    let client = own_client();
    let email = unique_email("later-first");
    let (first, second) = registered_twice(&client, &email, PASSWORD, "second-password-1").await;
    // An API client's GET (the SDK's registerUserVerify) of the second link verifies at once,
    // with the second registration's password.
    let verified = get(&client, &local_path(&second), None).await;
    assert_eq!(verified.status, 200, "{verified:?}");
    assert_eq!(
        login(&client, &email, "second-password-1").await.status,
        200
    );
    assert_error(
        &login(&client, &email, PASSWORD).await,
        401,
        "INVALID_CREDENTIALS",
    );
    // The first link now answers as a used one.
    assert_error(
        &get(&client, &local_path(&first), None).await,
        400,
        "INVALID_PAYLOAD",
    );
    assert_error(
        &post_token(&client, &token_of(&first)).await,
        400,
        "INVALID_PAYLOAD",
    );
    assert_eq!(
        login(&client, &email, "second-password-1").await.status,
        200
    );
}

#[tokio::test]
async fn over_graphql_each_link_activates_its_own_registration() {
    let client = own_client();
    let email = unique_email("gql-takeover");
    let register = "mutation R($email: String!, $password: String!) { users_register(email: $email, password: $password) }";
    for password in [PASSWORD, "gql-intruder-password"] {
        let registered = system_graphql(
            &client,
            register,
            json!({"email": email, "password": password}),
        )
        .await;
        assert_eq!(registered.body, json!({"data": {"users_register": true}}));
    }
    let mails = wait_for(&email, 2).await;
    let (owners, intruders) = (token_of(&link_of(&mails[0])), token_of(&link_of(&mails[1])));
    let verify = "mutation V($token: String!) { users_register_verify(token: $token) }";
    let verified = system_graphql(&client, verify, json!({"token": owners})).await;
    assert_eq!(
        verified.body,
        json!({"data": {"users_register_verify": true}})
    );
    assert_eq!(login(&client, &email, PASSWORD).await.status, 200);
    let late = system_graphql(&client, verify, json!({"token": intruders})).await;
    assert_eq!(graphql_code(&late), "INVALID_PAYLOAD");
    assert_error(
        &login(&client, &email, "gql-intruder-password").await,
        401,
        "INVALID_CREDENTIALS",
    );
}

#[tokio::test]
async fn concurrent_verifications_of_two_links_of_one_address_activate_exactly_one() {
    let client = own_client();
    let email = unique_email("race");
    let (first, second) = registered_twice(&client, &email, PASSWORD, "second-password-1").await;
    let (first, second) = (token_of(&first), token_of(&second));
    let (a, b) = tokio::join!(post_token(&client, &first), post_token(&client, &second));
    let statuses = [a.status, b.status];
    assert!(
        statuses == [204, 400] || statuses == [400, 204],
        "{a:?} {b:?}"
    );
    let loser = if a.status == 400 { &a } else { &b };
    assert_error(loser, 400, "INVALID_PAYLOAD");
    let (winner, other) = if a.status == 204 {
        (PASSWORD, "second-password-1")
    } else {
        ("second-password-1", PASSWORD)
    };
    assert_eq!(login(&client, &email, winner).await.status, 200);
    assert_error(
        &login(&client, &email, other).await,
        401,
        "INVALID_CREDENTIALS",
    );
}

#[tokio::test]
async fn registration_answers_alike_for_new_unverified_and_active_addresses() {
    let client = own_client();
    let active = unique_email("alike-active");
    verified_user(&client, &active).await;
    let unverified = unique_email("alike-unverified");
    assert_eq!(register(&client, &unverified, PASSWORD).await.status, 204);
    let fresh = unique_email("alike-new");
    let mut answers = Vec::new();
    for email in [&fresh, &unverified, &active] {
        let started = std::time::Instant::now();
        let reply = register(&client, email, "another-password-1").await;
        // Answered at the fixed moment: EMAIL_SEND_TIMEOUT (3 s on the mail stack) after it began.
        assert!(
            started.elapsed() >= std::time::Duration::from_secs(3),
            "{email}: {:?}",
            started.elapsed()
        );
        answers.push((reply.status, reply.raw, reply.content_type));
    }
    assert!(
        answers.iter().all(|a| *a == (204, String::new(), None)),
        "{answers:?}"
    );
    // The new and the unverified address got a link; the active one nothing more.
    assert_eq!(wait_for(&fresh, 1).await.len(), 1);
    assert_eq!(wait_for(&unverified, 2).await.len(), 2);
    assert_eq!(messages_to(&active).await.len(), 1);
    assert_eq!(login(&client, &active, PASSWORD).await.status, 200);
}

#[tokio::test]
async fn the_verification_pages_carry_the_hosted_pages_security_headers() {
    let client = own_client();
    let email = unique_email("headers");
    assert_eq!(register(&client, &email, PASSWORD).await.status, 204);
    let link = link_of(&wait_for(&email, 1).await[0]);
    // A browser's refusals are pages too, with the API's status.
    let forged = format!(
        "{}/users/register/verify-email?token=garbage",
        mail_stack().api
    );
    let refused = open_in_browser(&client, &forged).await;
    assert_eq!(refused.status, 403);
    assert!(!refused.raw.contains("garbage"));
    // An API client's GET: the success page, with the same headers.
    let response = client.get(&link).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 200);
    assert_page_headers(response.headers());
    assert_eq!(login(&client, &email, PASSWORD).await.status, 200);
}

#[tokio::test]
async fn a_public_create_of_a_user_registers_as_users_register_does() {
    let client = own_client();
    let email = unique_email("public-create");
    // Seed 001's curl, on a stack that verifies addresses.
    let create = |password: &'static str| {
        let (client, email) = (client.clone(), email.clone());
        async move {
            post(
                &client,
                "/users",
                &json!({"email": email, "password": password}),
            )
            .await
        }
    };
    let created = create(PASSWORD).await;
    assert_eq!(
        (created.status, created.raw.as_str()),
        (204, ""),
        "{created:?}"
    );
    let user = mail_store()
        .find_user_by_email(&email)
        .await
        .unwrap()
        .expect("the account");
    assert_eq!(user.status, shared::domain::model::UserStatus::Unverified);
    assert_error(
        &login(&client, &email, PASSWORD).await,
        401,
        "INVALID_CREDENTIALS",
    );
    // Created again by someone else: the same answer, and the account keeps its password.
    let again = create("intruder-password-1").await;
    assert_eq!((again.status, again.raw.as_str()), (204, ""));
    let mails = wait_for(&email, 2).await;
    assert_eq!(mails[0].subject, "Verify your email address");
    let owners = link_of(&mails[0]);
    assert!(
        owners.starts_with(&format!(
            "{}/users/register/verify-email?token=",
            mail_stack().api
        )),
        "{owners}"
    );
    let intruders = link_of(&mails[1]);
    // A scanner opens both; the owner presses the button of theirs.
    for link in [&intruders, &owners] {
        assert_confirmation_page(&open_in_browser(&client, link).await, &token_of(link));
    }
    assert_eq!(
        press_the_button(&client, &token_of(&owners)).await.status,
        200
    );
    assert_eq!(login(&client, &email, PASSWORD).await.status, 200);
    assert_error(
        &login(&client, &email, "intruder-password-1").await,
        401,
        "INVALID_CREDENTIALS",
    );
    assert_error(
        &post_token(&client, &token_of(&intruders)).await,
        400,
        "INVALID_PAYLOAD",
    );
    // The account was created with the preset policy: the user reads the posts.
    let token = login(&client, &email, PASSWORD).await.body["data"]["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(get(&client, "/items/posts", Some(&token)).await.status, 200);
}

#[tokio::test]
async fn public_creates_over_graphql_follow_the_registration_settings() {
    let client = own_client();
    let email = unique_email("gql-public-create");
    let one =
        "mutation($e: String, $p: Hash) { create_users_item(data: {email: $e, password: $p}) }";
    let created = system_graphql(&client, one, json!({"e": email, "p": PASSWORD})).await;
    assert_eq!(created.body, json!({"data": {"create_users_item": true}}));
    let user = mail_store()
        .find_user_by_email(&email)
        .await
        .unwrap()
        .expect("the account");
    assert_eq!(user.status, shared::domain::model::UserStatus::Unverified);
    let link = link_of(&wait_for(&email, 1).await[0]);
    assert_eq!(post_token(&client, &token_of(&link)).await.status, 204);
    assert_eq!(login(&client, &email, PASSWORD).await.status, 200);
    // Several at once while addresses are verified: refused before anything is written.
    let (a, b) = (unique_email("gql-many-a"), unique_email("gql-many-b"));
    let many = system_graphql(
        &client,
        "mutation($d: [create_directus_users_input!]) { create_users_items(data: $d) }",
        json!({"d": [{"email": a, "password": PASSWORD}, {"email": b, "password": PASSWORD}]}),
    )
    .await;
    assert_eq!(graphql_code(&many), "INVALID_PAYLOAD");
    for email in [a, b] {
        assert!(
            mail_store()
                .find_user_by_email(&email)
                .await
                .unwrap()
                .is_none()
        );
    }
}

#[tokio::test]
async fn the_registration_email_filter_holds_on_every_public_door() {
    // tests/fixtures/email.json refuses @filtered.example.com.
    let client = own_client();
    let email = format!("{}@filtered.example.com", uuid::Uuid::new_v4().simple());
    let body = json!({"email": email, "password": PASSWORD});
    let registered = post(&client, "/users/register", &body).await;
    assert_error(&registered, 403, "FORBIDDEN");
    let created = post(&client, "/users", &body).await;
    assert_eq!((created.status, &created.raw), (403, &registered.raw));
    let over_graphql = system_graphql(
        &client,
        "mutation($e: String, $p: Hash) { create_users_item(data: {email: $e, password: $p}) }",
        json!({"e": email, "p": PASSWORD}),
    )
    .await;
    assert_eq!(graphql_code(&over_graphql), "FORBIDDEN");
    assert!(
        mail_store()
            .find_user_by_email(&email)
            .await
            .unwrap()
            .is_none()
    );
    assert!(messages_to(&email).await.is_empty());
}

#[tokio::test]
async fn a_verification_url_must_be_on_the_allow_list() {
    let client = own_client();
    let email = unique_email("allowed");
    let registered = post(
        &client,
        "/users/register",
        &json!({"email": email, "password": PASSWORD,
                "verification_url": format!("{VERIFY_URL}?lang=de#top")}),
    )
    .await;
    assert_eq!(registered.status, 204, "{registered:?}");
    let link = link_of(&wait_for(&email, 1).await[0]);
    assert!(
        link.starts_with(&format!("{VERIFY_URL}?lang=de&token=")),
        "{link}"
    );
    // The app calls the API with the token, as registerUserVerify does.
    let token = token_of(&link);
    let verified = get(
        &client,
        &format!("/users/register/verify-email?token={token}"),
        None,
    )
    .await;
    assert_eq!(verified.status, 200, "{verified:?}");

    let refused_email = unique_email("refused");
    for url in [
        "https://evil.example/verify-email",
        "https://app.example.com/verify-email/other",
        "http://app.example.com/verify-email",
        "https://app.example.com.evil.example/verify-email",
        "javascript:alert(1)",
    ] {
        let refused = post(
            &client,
            "/users/register",
            &json!({"email": refused_email, "password": PASSWORD, "verification_url": url}),
        )
        .await;
        assert_error(&refused, 400, "INVALID_PAYLOAD");
        assert_eq!(
            refused.body["errors"][0]["message"],
            format!("Invalid payload. URL \"{url}\" can't be used to verify registered users.")
        );
    }
    assert!(messages_to(&refused_email).await.is_empty());
    assert!(
        mail_store()
            .find_user_by_email(&refused_email)
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn expired_forged_and_foreign_verification_tokens_are_refused() {
    let client = own_client();
    let email = unique_email("expired");
    assert_eq!(register(&client, &email, PASSWORD).await.status, 204);
    let mail = wait_for(&email, 1).await.remove(0);
    let user = mail_store()
        .find_user_by_email(&email)
        .await
        .unwrap()
        .expect("the unverified user");
    let now = now_secs();
    let verify = |token: String| {
        let client = client.clone();
        async move {
            get(
                &client,
                &format!("/users/register/verify-email?token={token}"),
                None,
            )
            .await
        }
    };

    // Correctly signed but expired: 401 TOKEN_EXPIRED.
    let (expired, _) = link_tokens()
        .issue(
            Scope::PendingRegistration,
            &user.id,
            &email,
            None,
            None,
            now - 100,
            std::time::Duration::from_secs(10),
            None,
        )
        .unwrap();
    assert_error(
        &verify(expired.expose().to_owned()).await,
        401,
        "TOKEN_EXPIRED",
    );
    // A reset token (another scope): 403 FORBIDDEN.
    let reset_scope = sign_link(
        &json!({"id": user.id, "email": email, "scope": "password-reset",
        "jti": "x", "hash": "y", "iat": now, "exp": now + 600, "iss": "directus"}),
    );
    assert_error(&verify(reset_scope).await, 403, "FORBIDDEN");
    // Every claim wrong in turn: 403 INVALID_TOKEN.
    let good = json!({"id": user.id, "email": email, "scope": "pending-registration",
        "iat": now, "exp": now + 600, "iss": "directus"});
    let mut hostile = Vec::new();
    for (claim, value) in [
        ("iat", json!(now + 3600)),
        ("nbf", json!(now + 3600)),
        ("iss", json!("someone")),
        ("exp", json!("later")),
        ("id", json!(7)),
        ("email", json!(null)),
        ("scope", json!("admin")),
        ("role", json!("admin")),
    ] {
        let mut claims = good.clone();
        claims[claim] = value;
        hostile.push(sign_link(&claims));
    }
    for missing in ["iat", "exp", "iss", "id", "email", "scope"] {
        let mut claims = good.clone();
        claims.as_object_mut().unwrap().remove(missing);
        hostile.push(sign_link(&claims));
    }
    // Signed with the secret itself (an access token's key), and an access-token-shaped one.
    hostile.push(e2e::sign(&good));
    hostile.push(e2e::sign(
        &json!({"id": user.id, "role": null, "app_access": false,
        "admin_access": false, "iat": now, "exp": now + 600, "iss": "directus"}),
    ));
    hostile.push("garbage".into());
    hostile.push("a".repeat(8000));
    for token in hostile {
        assert_error(&verify(token).await, 403, "INVALID_TOKEN");
    }
    // No token, an empty one: Directus' verifyJWT of nothing.
    assert_error(
        &get(&client, "/users/register/verify-email", None).await,
        403,
        "INVALID_TOKEN",
    );
    assert_error(
        &get(&client, "/users/register/verify-email?token=", None).await,
        403,
        "INVALID_TOKEN",
    );
    // A well-formed token for another address: no account to verify.
    let other = sign_link(&json!({"id": user.id, "email": "someone-else@example.com",
        "scope": "pending-registration", "iat": now, "exp": now + 600, "iss": "directus"}));
    assert_error(&verify(other).await, 400, "INVALID_PAYLOAD");
    // The right account, but minted for another password (or none): as a used link.
    for hash in [json!("0000000000000000"), json!(null)] {
        let mut claims = good.clone();
        claims["hash"] = hash;
        assert_error(&verify(sign_link(&claims)).await, 400, "INVALID_PAYLOAD");
    }

    // None of that touched the account: the mailed link still works.
    assert_error(
        &login(&client, &email, PASSWORD).await,
        401,
        "INVALID_CREDENTIALS",
    );
    assert_eq!(
        get(&client, &local_path(&link_of(&mail)), None)
            .await
            .status,
        200
    );
    assert_eq!(login(&client, &email, PASSWORD).await.status, 200);
}

#[tokio::test]
async fn an_expired_unverified_account_does_not_hold_its_address() {
    let client = own_client();
    let email = unique_email("squatted");
    let passwords =
        shared::credential::password::Passwords::new(shared::platform::config::HashParams {
            memory_kib: 256,
            iterations: 1,
            parallelism: 1,
        })
        .unwrap();
    let hash = passwords
        .hash(&shared::domain::sensitive::Sensitive::new(
            "squatter-password",
        ))
        .await
        .unwrap();
    let squatter = mail_store()
        .create_user_expiring(
            shared::store::NewUser {
                email: email.clone(),
                password_hash: hash,
                status: shared::domain::model::UserStatus::Unverified,
                role: Some(e2e::USER_ROLE.into()),
                first_name: None,
                last_name: None,
                policies: Vec::new(),
            },
            Some(i64::try_from(now_secs()).unwrap() - 10),
        )
        .await
        .unwrap();
    // Past its expiry it is gone for every read, though the local DynamoDB keeps the item.
    assert!(mail_store().get_user(&squatter.id).await.unwrap().is_none());
    assert!(
        mail_store()
            .find_user_by_email(&email)
            .await
            .unwrap()
            .is_none()
    );
    // A squatter's token for it verifies nothing.
    let (token, _) = link_tokens()
        .issue(
            Scope::PendingRegistration,
            &squatter.id,
            &email,
            None,
            None,
            now_secs(),
            std::time::Duration::from_secs(600),
            None,
        )
        .unwrap();
    let squatted = get(
        &client,
        &format!("/users/register/verify-email?token={}", token.expose()),
        None,
    )
    .await;
    assert_error(&squatted, 400, "INVALID_PAYLOAD");

    // The owner registers the address and verifies it.
    verified_user(&client, &email).await;
    assert_eq!(login(&client, &email, PASSWORD).await.status, 200);
    assert_error(
        &login(&client, &email, "squatter-password").await,
        401,
        "INVALID_CREDENTIALS",
    );
}

/// Logs in in session mode and returns the session cookie.
async fn session_cookie(client: &reqwest::Client, email: &str, password: &str) -> String {
    let reply = post(
        client,
        "/auth/login",
        &json!({"email": email, "password": password, "mode": "session"}),
    )
    .await;
    assert_eq!(reply.status, 200, "{reply:?}");
    reply
        .cookie("directus_session_token")
        .expect("a session cookie")
}

async fn me_with_cookie(client: &reqwest::Client, cookie: &str) -> Reply {
    Reply::from(
        client
            .get(format!("{}/users/me", mail_stack().api))
            .header("cookie", format!("directus_session_token={cookie}"))
            .send()
            .await
            .expect("request sent"),
    )
    .await
    .documented("GET", "/users/me")
}

#[tokio::test]
async fn a_reset_ends_every_session_and_earlier_token_and_its_link_works_once() {
    let client = own_client();
    let email = unique_email("reset");
    verified_user(&client, &email).await;
    let json_login = login(&client, &email, PASSWORD).await;
    assert_eq!(json_login.status, 200);
    let access = json_login.body["data"]["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let refresh = json_login.body["data"]["refresh_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let cookie = session_cookie(&client, &email, PASSWORD).await;
    assert_eq!(get(&client, "/users/me", Some(&access)).await.status, 200);
    assert_eq!(me_with_cookie(&client, &cookie).await.status, 200);

    // The session cookie authenticates the request itself (its own session is checked).
    let requested = Reply::from(
        client
            .post(format!("{}/auth/password/request", mail_stack().api))
            .header("content-type", "application/json")
            .header("cookie", format!("directus_session_token={cookie}"))
            .body(json!({"email": email, "reset_url": RESET_URL}).to_string())
            .send()
            .await
            .unwrap(),
    )
    .await
    .documented("POST", "/auth/password/request");
    assert_eq!(requested.status, 204, "{requested:?}");
    assert!(requested.raw.is_empty());
    let mails = wait_for(&email, 2).await;
    let mail: &Mail = &mails[1];
    assert_eq!(mail.subject, "Password Reset Request");
    assert!(mail.text.contains("expire in 1 hour"), "{}", mail.text);
    let link = link_of(mail);
    assert!(link.starts_with(&format!("{RESET_URL}?token=")), "{link}");
    let token = token_of(&link);
    let claims = e2e::claims_of(&token);
    assert_eq!(claims["scope"], "password-reset");
    assert!(claims["exp"].as_u64().unwrap() <= now_secs() + 3600);

    // A password the policy refuses spends nothing.
    let weak = reset(&client, &token, "short").await;
    assert_error(&weak, 400, "FAILED_VALIDATION");
    let policy = reset(&client, &token, "has <angle> brackets").await;
    assert_error(&policy, 400, "FAILED_VALIDATION");

    let new_password = "n3w-password-after-reset";
    let done = reset(&client, &token, new_password).await;
    assert_eq!(done.status, 204, "{done:?}");
    assert!(done.raw.is_empty());

    // Everything from before is over.
    assert_error(
        &get(&client, "/users/me", Some(&access)).await,
        401,
        "INVALID_CREDENTIALS",
    );
    assert_error(
        &me_with_cookie(&client, &cookie).await,
        401,
        "INVALID_CREDENTIALS",
    );
    let refreshed = post(&client, "/auth/refresh", &json!({"refresh_token": refresh})).await;
    assert_eq!(refreshed.status, 401, "{refreshed:?}");
    assert_error(
        &login(&client, &email, PASSWORD).await,
        401,
        "INVALID_CREDENTIALS",
    );
    let fresh = login(&client, &email, new_password).await;
    assert_eq!(fresh.status, 200);
    let fresh_access = fresh.body["data"]["access_token"].as_str().unwrap();
    assert_eq!(
        get(&client, "/users/me", Some(fresh_access)).await.status,
        200
    );

    // The link again: spent.
    assert_error(
        &reset(&client, &token, "yet-another-password").await,
        403,
        "FORBIDDEN",
    );
    assert_eq!(login(&client, &email, new_password).await.status, 200);
}

#[tokio::test]
async fn a_reset_ends_the_tokens_of_its_second_from_before_it_and_not_a_login_just_after() {
    // The cut-off is compared in milliseconds: a token issued just before the reset, in its
    // second, is over; a login with the new password just after it, in that second, works.
    let (mut saw_before, mut saw_after) = (false, false);
    for attempt in 0.. {
        assert!(
            attempt < 8,
            "the logins and the reset never shared a second"
        );
        // A new address and client each time: the per-recipient and per-client mail limits.
        let client = own_client();
        let email = unique_email("reset-second");
        verified_user(&client, &email).await;
        assert_eq!(request_reset(&client, &email).await.status, 204);
        let mails = wait_for(&email, 2).await;
        let reset_mail = mails
            .iter()
            .find(|m| link_of(m).starts_with(RESET_URL))
            .expect("a reset mail");
        let token = token_of(&link_of(reset_mail));

        e2e::early_in_a_second().await;
        let before = login(&client, &email, PASSWORD).await;
        assert_eq!(before.status, 200, "{before:?}");
        let before = before.body["data"]["access_token"]
            .as_str()
            .unwrap()
            .to_owned();
        let before_cookie = session_cookie(&client, &email, PASSWORD).await;
        let new_password = "reset-in-the-same-second";
        let done = reset(&client, &token, new_password).await;
        assert_eq!(done.status, 204, "{done:?}");
        let after = login(&client, &email, new_password).await;
        assert_eq!(after.status, 200, "{after:?}");
        let after = after.body["data"]["access_token"]
            .as_str()
            .unwrap()
            .to_owned();
        let after_cookie = session_cookie(&client, &email, new_password).await;

        assert_error(
            &get(&client, "/users/me", Some(&before)).await,
            401,
            "INVALID_CREDENTIALS",
        );
        assert_error(
            &me_with_cookie(&client, &before_cookie).await,
            401,
            "INVALID_CREDENTIALS",
        );
        assert_eq!(get(&client, "/users/me", Some(&after)).await.status, 200);
        assert_eq!(me_with_cookie(&client, &after_cookie).await.status, 200);
        // The browser still holding the cookie the reset ended signs in again, and the answer
        // clears that cookie.
        let again = Reply::from(
            client
                .post(format!("{}/auth/login", mail_stack().api))
                .header("content-type", "application/json")
                .header("cookie", format!("directus_session_token={before_cookie}"))
                .body(json!({"email": email, "password": new_password}).to_string())
                .send()
                .await
                .unwrap(),
        )
        .await
        .documented("POST", "/auth/login");
        assert_eq!(again.status, 200, "{again:?}");
        assert!(
            again
                .set_cookies
                .iter()
                .any(|c| c.starts_with("directus_session_token=;") && c.contains("Max-Age=0")),
            "{again:?}"
        );

        let cut_off = mail_store()
            .find_user_by_email(&email)
            .await
            .unwrap()
            .unwrap()
            .cut_off()
            .at_ms
            .unwrap();
        let second = u64::try_from(cut_off / 1000).unwrap();
        let iat = |token: &str| e2e::claims_of(token)["iat"].as_u64().unwrap();
        saw_before |= iat(&before) == second && iat(&before_cookie) == second;
        saw_after |= iat(&after) == second && iat(&after_cookie) == second;
        if saw_before && saw_after {
            break;
        }
    }
}

#[tokio::test]
async fn a_reset_spends_every_link_issued_before_it() {
    let client = own_client();
    let email = unique_email("two-links");
    verified_user(&client, &email).await;
    assert_eq!(request_reset(&client, &email).await.status, 204);
    assert_eq!(request_reset(&client, &email).await.status, 204);
    let mails = wait_for(&email, 3).await;
    let first = token_of(&link_of(&mails[1]));
    let second = token_of(&link_of(&mails[2]));
    assert_eq!(
        reset(&client, &second, "second-link-password").await.status,
        204
    );
    // The first link names the password the second one replaced.
    assert_error(
        &reset(&client, &first, "first-link-password").await,
        403,
        "FORBIDDEN",
    );
    assert_eq!(
        login(&client, &email, "second-link-password").await.status,
        200
    );
}

#[tokio::test]
async fn known_unknown_and_invalid_addresses_get_the_same_answer() {
    let client = own_client();
    let known = unique_email("known");
    verified_user(&client, &known).await;
    let unverified = unique_email("unverified");
    assert_eq!(register(&client, &unverified, PASSWORD).await.status, 204);
    let unknown = unique_email("unknown");
    let mut answers = Vec::new();
    for email in [
        known.as_str(),
        unknown.as_str(),
        unverified.as_str(),
        "not an address",
    ] {
        let reply = request_reset(&client, email).await;
        answers.push((reply.status, reply.raw.clone(), reply.content_type.clone()));
    }
    assert!(
        answers.iter().all(|a| *a == (204, String::new(), None)),
        "{answers:?}"
    );
    // Only the active account got a reset link (the unverified one only its verification).
    assert_eq!(
        wait_for(&known, 2).await[1].subject,
        "Password Reset Request"
    );
    assert!(messages_to(&unknown).await.is_empty());
    assert_eq!(messages_to(&unverified).await.len(), 1);

    // A reset_url outside the allow-list: the same 400 for every address, before any lookup.
    let other = own_client();
    for email in [known.as_str(), unknown.as_str()] {
        let refused = post(
            &other,
            "/auth/password/request",
            &json!({"email": email, "reset_url": "https://evil.example/reset"}),
        )
        .await;
        assert_error(&refused, 400, "INVALID_PAYLOAD");
        assert_eq!(
            refused.body["errors"][0]["message"],
            "Invalid payload. URL \"https://evil.example/reset\" can't be used to reset passwords."
        );
    }
    assert_eq!(messages_to(&known).await.len(), 2);
}

#[tokio::test]
async fn reset_requests_are_limited_per_client_address() {
    // tests/fixtures/email.json: 5 requests a minute per client address.
    let window = |now: u64| now - now % 60;
    loop {
        let client = own_client();
        let start = window(now_secs());
        let requests = (0..5).map(|_| {
            let client = client.clone();
            async move { request_reset(&client, &unique_email("flood")).await.status }
        });
        let statuses: Vec<u16> = futures_join(requests).await;
        let sixth = request_reset(&client, &unique_email("flood")).await;
        if window(now_secs()) != start {
            // The requests straddled two windows: count again in one.
            continue;
        }
        assert_eq!(statuses, vec![204; 5]);
        assert_error(&sixth, 429, "REQUESTS_EXCEEDED");
        break;
    }
}

#[tokio::test]
async fn mail_to_one_recipient_is_limited_without_changing_the_answer() {
    // tests/fixtures/email.json: 3 mails per recipient in 15 minutes.
    let window = |now: u64| now - now % 900;
    loop {
        let start = window(now_secs());
        let email = unique_email("recipient");
        verified_user(&own_client(), &email).await;
        // From three client addresses: the per-client limit is not what stops the mail.
        for _ in 0..3 {
            let reply = request_reset(&own_client(), &email).await;
            assert_eq!(reply.status, 204, "{reply:?}");
        }
        if window(now_secs()) != start {
            continue;
        }
        // The verification and two reset links; the third request sent nothing.
        let mails = wait_for(&email, 3).await;
        assert_eq!(mails[0].subject, "Verify your email address");
        assert_eq!(mails[2].subject, "Password Reset Request");
        assert_eq!(messages_to(&email).await.len(), 3);
        break;
    }
}

async fn futures_join<F: std::future::Future<Output = u16> + Send + 'static>(
    futures: impl Iterator<Item = F>,
) -> Vec<u16> {
    let handles: Vec<_> = futures.map(tokio::spawn).collect();
    let mut out = Vec::new();
    for handle in handles {
        out.push(handle.await.expect("request task"));
    }
    out
}

#[tokio::test]
async fn hostile_reset_tokens_and_bodies_change_nothing() {
    let client = own_client();
    let email = unique_email("hostile");
    verified_user(&client, &email).await;
    let user = mail_store()
        .find_user_by_email(&email)
        .await
        .unwrap()
        .unwrap();
    let access = login(&client, &email, PASSWORD).await.body["data"]["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let now = now_secs();
    let hash = shared::credential::link_token::password_fingerprint(user.password.as_ref());
    let good = json!({"id": user.id, "email": email, "scope": "password-reset",
        "jti": "never-issued", "hash": hash, "iat": now, "exp": now + 600, "iss": "directus"});
    // Each reset from a client address of its own: the per-client limit is not under test.
    // Correctly signed, every claim right, but never issued (not in the store): spent.
    assert_error(
        &reset(&own_client(), &sign_link(&good), "hostile-password-1").await,
        403,
        "FORBIDDEN",
    );
    // Another scope.
    let mut verification = good.clone();
    verification["scope"] = json!("pending-registration");
    assert_error(
        &reset(
            &own_client(),
            &sign_link(&verification),
            "hostile-password-1",
        )
        .await,
        403,
        "FORBIDDEN",
    );
    // Expired.
    let mut expired = good.clone();
    expired["iat"] = json!(now - 100);
    expired["exp"] = json!(now - 50);
    assert_error(
        &reset(&own_client(), &sign_link(&expired), "hostile-password-1").await,
        401,
        "TOKEN_EXPIRED",
    );
    // Each claim wrong or missing; the access token; other keys; garbage: INVALID_TOKEN.
    let mut hostile = vec![
        access.clone(),
        e2e::sign(&good),
        "garbage".to_owned(),
        String::new(),
        "\u{0}\u{1}".to_owned(),
        "x".repeat(60_000),
    ];
    for (claim, value) in [
        ("iat", json!(now + 3600)),
        ("nbf", json!(now + 3600)),
        ("iss", json!("other")),
        ("jti", json!(5)),
        ("hash", json!([])),
        ("id", json!("")),
        ("scope", json!("access")),
    ] {
        let mut claims = good.clone();
        claims[claim] = value;
        hostile.push(sign_link(&claims));
    }
    for missing in ["jti", "hash", "exp", "iat", "email"] {
        let mut claims = good.clone();
        claims.as_object_mut().unwrap().remove(missing);
        hostile.push(sign_link(&claims));
    }
    for token in hostile {
        let reply = reset(&own_client(), &token, "hostile-password-1").await;
        assert!(
            matches!(reply.status, 403 | 413)
                && matches!(reply.code(), "INVALID_TOKEN" | "CONTENT_TOO_LARGE"),
            "{reply:?}"
        );
    }
    // Bodies: not JSON, missing or mistyped fields.
    for (content_type, body) in [
        (
            "text/plain",
            json!({"token": "t", "password": "p"}).to_string(),
        ),
        (
            "application/x-www-form-urlencoded",
            "token=t&password=p".to_owned(),
        ),
        ("application/json", "{\"token\":".to_owned()),
        (
            "application/json",
            json!({"token": ["t"], "password": "p"}).to_string(),
        ),
        (
            "application/json",
            json!({"token": "t", "password": 12345678}).to_string(),
        ),
    ] {
        let reply = Reply::from(
            client
                .post(format!("{}/auth/password/reset", mail_stack().api))
                .header("content-type", content_type)
                .body(body)
                .send()
                .await
                .unwrap(),
        )
        .await
        .documented("POST", "/auth/password/reset");
        assert_error(&reply, 400, "INVALID_PAYLOAD");
    }
    // A bad bearer token fails the route, as every route.
    let bad_bearer = Reply::from(
        client
            .post(format!("{}/auth/password/request", mail_stack().api))
            .header("content-type", "application/json")
            .header("authorization", "Bearer not-a-token")
            .body(json!({"email": email}).to_string())
            .send()
            .await
            .unwrap(),
    )
    .await
    .documented("POST", "/auth/password/request");
    assert_error(&bad_bearer, 401, "INVALID_CREDENTIALS");
    // Other methods on the same paths.
    for (method, path) in [
        ("GET", "/auth/password/request"),
        ("PUT", "/auth/password/reset"),
        ("DELETE", "/auth/password/reset"),
        ("PUT", "/users/register/verify-email"),
        ("PATCH", "/users/register/verify-email"),
    ] {
        let reply = Reply::from(
            client
                .request(
                    method.parse().unwrap(),
                    format!("{}{path}", mail_stack().api),
                )
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_error(&reply, 404, "ROUTE_NOT_FOUND");
    }
    // Control characters, huge and empty addresses: the usual 204, no mail anywhere.
    for email in [
        "",
        "a\u{0}@example.com",
        "\u{202e}x@example.com",
        &"a".repeat(5000),
    ] {
        let reply = post(
            &own_client(),
            "/auth/password/request",
            &json!({"email": email}),
        )
        .await;
        assert_eq!(reply.status, 204, "{reply:?}");
    }

    // Nothing above changed the password or ended the session.
    assert_eq!(login(&client, &email, PASSWORD).await.status, 200);
    assert_eq!(get(&client, "/users/me", Some(&access)).await.status, 200);
    assert_eq!(messages_to(&email).await.len(), 1);
}

#[tokio::test]
async fn a_session_cookie_may_accompany_the_verification_link() {
    // A browser logged in as someone else opens the link: the session is checked and kept.
    let client = own_client();
    let someone = unique_email("browser");
    verified_user(&client, &someone).await;
    let cookie = session_cookie(&client, &someone, PASSWORD).await;
    let email = unique_email("link-in-browser");
    assert_eq!(register(&client, &email, PASSWORD).await.status, 204);
    let link = link_of(&wait_for(&email, 1).await[0]);
    let verified = Reply::from(
        client
            .get(&link)
            .header("cookie", format!("directus_session_token={cookie}"))
            .send()
            .await
            .unwrap(),
    )
    .await
    .documented("GET", "/users/register/verify-email");
    assert_eq!(verified.status, 200, "{verified:?}");
    assert_eq!(login(&client, &email, PASSWORD).await.status, 200);
    assert_eq!(me_with_cookie(&client, &cookie).await.status, 200);
}

/// POSTs a document to the mail stack's `/graphql/system`, as `@directus/sdk` sends it.
async fn system_graphql(client: &reqwest::Client, query: &str, variables: Value) -> Reply {
    post(
        client,
        "/graphql/system",
        &json!({"query": query, "variables": variables}),
    )
    .await
}

/// The in-band error code of a GraphQL answer (resolver errors are 200 with `errors`).
fn graphql_code(reply: &Reply) -> &str {
    assert_eq!(reply.status, 200, "{reply:?}");
    reply.body["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or_else(|| panic!("an in-band error in {reply:?}"))
}

#[tokio::test]
async fn over_graphql_registration_is_verified_once_through_the_same_flow() {
    let client = own_client();
    let email = unique_email("gql-verify");
    let registered = system_graphql(
        &client,
        "mutation R($email: String!, $password: String!) { users_register(email: $email, password: $password) }",
        json!({"email": email, "password": PASSWORD}),
    )
    .await;
    assert_eq!(registered.body, json!({"data": {"users_register": true}}));
    let mail = wait_for(&email, 1).await.remove(0);
    let token = token_of(&link_of(&mail));
    let verify = "mutation V($token: String!) { users_register_verify(token: $token) }";

    // A malformed token: in-band INVALID_TOKEN, as Directus answers; nothing changes.
    let garbage = system_graphql(&client, verify, json!({"token": "garbage"})).await;
    assert_eq!(graphql_code(&garbage), "INVALID_TOKEN");
    assert_error(
        &login(&client, &email, PASSWORD).await,
        401,
        "INVALID_CREDENTIALS",
    );

    let verified = system_graphql(&client, verify, json!({"token": token})).await;
    assert_eq!(
        verified.body,
        json!({"data": {"users_register_verify": true}})
    );
    assert_eq!(login(&client, &email, PASSWORD).await.status, 200);
    // The second use, over either transport: Directus' "Invalid verification code".
    let again = system_graphql(&client, verify, json!({"token": token})).await;
    assert_eq!(graphql_code(&again), "INVALID_PAYLOAD");
    assert_eq!(
        again.body["errors"][0]["message"],
        "Invalid payload. Invalid verification code."
    );
    let by_link = get(&client, &local_path(&link_of(&mail)), None).await;
    assert_error(&by_link, 400, "INVALID_PAYLOAD");
}

#[tokio::test]
async fn over_graphql_a_password_reset_works_once_and_ends_the_old_password() {
    let client = own_client();
    let email = unique_email("gql-reset");
    verified_user(&client, &email).await;
    let request = "mutation Q($email: String!, $url: String) { auth_password_request(email: $email, reset_url: $url) }";

    // Known and unknown addresses: the same answer.
    let known = system_graphql(&client, request, json!({"email": email, "url": RESET_URL})).await;
    let unknown = system_graphql(
        &client,
        request,
        json!({"email": unique_email("gql-nobody"), "url": RESET_URL}),
    )
    .await;
    assert_eq!(known.body, json!({"data": {"auth_password_request": true}}));
    assert_eq!(known.raw, unknown.raw);
    // A reset_url outside the allow-list: Directus' in-band INVALID_PAYLOAD, nothing mailed.
    let foreign = system_graphql(
        &client,
        request,
        json!({"email": email, "url": "https://evil.example/reset"}),
    )
    .await;
    assert_eq!(graphql_code(&foreign), "INVALID_PAYLOAD");
    assert_eq!(
        foreign.body["errors"][0]["message"],
        "Invalid payload. URL \"https://evil.example/reset\" can't be used to reset passwords."
    );

    // The verification mail and one reset mail.
    let mails = wait_for(&email, 2).await;
    let reset_mail = mails
        .iter()
        .find(|m| link_of(m).starts_with(RESET_URL))
        .expect("a reset mail");
    let token = token_of(&link_of(reset_mail));
    let reset = "mutation P($token: String!, $password: String!) { auth_password_reset(token: $token, password: $password) }";
    let new_password = "gql-new-password-1";
    let done = system_graphql(
        &client,
        reset,
        json!({"token": token, "password": new_password}),
    )
    .await;
    assert_eq!(done.body, json!({"data": {"auth_password_reset": true}}));
    assert_error(
        &login(&client, &email, PASSWORD).await,
        401,
        "INVALID_CREDENTIALS",
    );
    assert_eq!(login(&client, &email, new_password).await.status, 200);

    // The link again, over GraphQL and over REST: spent.
    let twice = system_graphql(
        &client,
        reset,
        json!({"token": token, "password": "gql-new-password-2"}),
    )
    .await;
    assert_eq!(graphql_code(&twice), "FORBIDDEN");
    assert_error(
        &self::reset(&client, &token, "gql-new-password-3").await,
        403,
        "FORBIDDEN",
    );
    assert_eq!(login(&client, &email, new_password).await.status, 200);
}

#[tokio::test]
async fn an_administrator_activating_an_unverified_account_makes_it_permanent() {
    let client = own_client();
    let email = unique_email("admin-activated");
    assert_eq!(register(&client, &email, PASSWORD).await.status, 204);
    let store = mail_store();
    let user = store.find_user_by_email(&email).await.unwrap().unwrap();
    assert_eq!(user.status, shared::domain::model::UserStatus::Unverified);
    let admin_email = unique_email("mail-admin");
    let admin_password = shared::domain::sensitive::Sensitive::new("mail-admin-password-1");
    let passwords =
        shared::credential::password::Passwords::new(shared::platform::config::HashParams {
            memory_kib: 256,
            iterations: 1,
            parallelism: 1,
        })
        .unwrap();
    shared::flows::provision::create_user(
        &store,
        &passwords,
        &admin_email,
        &admin_password,
        Some(e2e::ADMIN_ROLE),
    )
    .await
    .unwrap();
    let admin = login(&client, &admin_email, admin_password.expose()).await;
    let token = admin.body["data"]["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let patched = Reply::from(
        client
            .patch(format!("{}/users/{}", mail_stack().api, user.id))
            .bearer_auth(&token)
            .header("content-type", "application/json")
            .body(json!({"status": "active"}).to_string())
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(patched.status, 200, "{patched:?}");
    // Neither the user nor its email claim keeps the TTL attribute: DynamoDB would delete
    // the active user, and the address would be free to register, when it came.
    for pk in [format!("user#{}", user.id), format!("email#{email}")] {
        let item = store
            .client()
            .get_item()
            .table_name(&store.tables().users)
            .key(
                "pk",
                aws_sdk_dynamodb::types::AttributeValue::S(pk.to_lowercase()),
            )
            .consistent_read(true)
            .send()
            .await
            .unwrap()
            .item
            .unwrap_or_else(|| panic!("{pk} exists"));
        assert!(!item.contains_key("expires_at"), "{pk} keeps its TTL");
    }
    assert_eq!(login(&client, &email, PASSWORD).await.status, 200);
}
