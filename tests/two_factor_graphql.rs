//! Two-factor sign-in over `/graphql/system`: `users_me_tfa_generate`, `users_me_tfa_enable`,
//! `users_me_tfa_disable`, `users_me_tfa_recovery_codes` and `auth_login(otp:)`, from generate
//! to disable, with the codes computed here from the secret (RFC 6238), and the hostile cases:
//! no token, a bad token, a secret never generated or generated for someone else, a number
//! for a code, control characters, huge values, replays, repeated mutations in one request, a
//! role without update permission on its own `tfa_secret`.

use e2e::system_graphql::{PATH, system};
use e2e::{Reply, admin_token, apply, client, now_secs, post_with, stack, unique_email};
use serde_json::{Value, json};
use shared::domain::two_factor::{Authenticator, STEP_SECS};

const PASSWORD: &str = "d1r3ctu5-second-factor";

/// A role whose policy lets its users read their own row and update their own `tfa_secret`
/// (what enabling needs, as in Directus), or, with `may_enable` false, only read it.
async fn new_role(may_enable: bool) -> String {
    let tag = uuid::Uuid::new_v4().simple().to_string();
    let policy = format!("tfa-policy-{tag}");
    let role = format!("tfa-role-{tag}");
    let mut permissions = vec![json!({
        "collection": "directus_users", "action": "read", "fields": ["*"],
        "permissions": {"id": {"_eq": "$CURRENT_USER"}}
    })];
    if may_enable {
        permissions.push(json!({
            "collection": "directus_users", "action": "update", "fields": ["tfa_secret"],
            "permissions": {"id": {"_eq": "$CURRENT_USER"}}
        }));
    }
    apply(json!({
        "policies": [{"id": policy, "name": "Own second factor", "permissions": permissions}],
        "roles": [{"id": role, "name": "Second factor", "policies": [policy]}]
    }))
    .await;
    role
}

/// A user of `role`, created by an administrator: (id, email, access token from `auth_login`).
struct Member {
    id: String,
    email: String,
    token: String,
}

async fn member(role: &str) -> Member {
    let admin = admin_token().await;
    let email = unique_email("tfa-gql");
    let created = post_with(
        "/users",
        &json!({"email": email, "password": PASSWORD, "role": role}).to_string(),
        &[("authorization", &format!("Bearer {admin}"))],
    )
    .await;
    assert_eq!(created.status, 200, "{created:?}");
    let id = created.body["data"]["id"].as_str().unwrap().to_owned();
    let login = login(&email, PASSWORD, None).await;
    let token = login.body["data"]["auth_login"]["access_token"]
        .as_str()
        .unwrap_or_else(|| panic!("a token: {login:?}"))
        .to_owned();
    Member { id, email, token }
}

async fn login(email: &str, password: &str, otp: Option<&str>) -> Reply {
    system(
        "mutation L($e: String!, $p: String!, $o: String) { auth_login(email: $e, password: $p, otp: $o) { access_token refresh_token expires } }",
        Some(json!({"e": email, "p": password, "o": otp})),
        &[],
    )
    .await
}

/// A document sent with the member's token.
async fn as_member(token: &str, query: &str, variables: Value) -> Reply {
    system(
        query,
        Some(variables),
        &[("authorization", &format!("Bearer {token}"))],
    )
    .await
}

const GENERATE: &str =
    "mutation G($p: String!) { users_me_tfa_generate(password: $p) { secret otpauth_url } }";
const ENABLE: &str =
    "mutation E($o: String!, $s: String!) { users_me_tfa_enable(otp: $o, secret: $s) }";
const DISABLE: &str = "mutation D($o: String!) { users_me_tfa_disable(otp: $o) }";
const RECOVERY: &str =
    "mutation R($p: String!, $o: String!) { users_me_tfa_recovery_codes(password: $p, otp: $o) }";
const ME: &str = "{ users_me { id tfa_secret } }";

/// The in-band error of a 200 answer: (code, message); the field is `null`.
fn refused(reply: &Reply, field: &str) -> (String, String) {
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(reply.body["data"][field], Value::Null, "{reply:?}");
    assert_eq!(reply.body["errors"][0]["path"], json!([field]), "{reply:?}");
    (
        reply.code().to_owned(),
        reply.body["errors"][0]["message"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
    )
}

fn payload(reason: &str) -> (String, String) {
    (
        "INVALID_PAYLOAD".to_owned(),
        format!("Invalid payload. {reason}."),
    )
}

fn invalid_otp() -> (String, String) {
    ("INVALID_OTP".to_owned(), "Invalid user OTP.".to_owned())
}

/// The code of `secret` for the step `step` (Unix seconds / 30).
fn code(secret: &str, step: u64) -> String {
    Authenticator::from_base32(secret)
        .expect("a base32 secret")
        .code_at(step * STEP_SECS)
}

/// The current step, once at least `margin` seconds of it are left.
async fn step_with(margin: u64) -> u64 {
    loop {
        let now = now_secs();
        if STEP_SECS - now % STEP_SECS >= margin {
            return now / STEP_SECS;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

/// `users_me_tfa_generate` for the member: the secret.
async fn generate(token: &str) -> String {
    let reply = as_member(token, GENERATE, json!({"p": PASSWORD})).await;
    reply.body["data"]["users_me_tfa_generate"]["secret"]
        .as_str()
        .unwrap_or_else(|| panic!("a secret: {reply:?}"))
        .to_owned()
}

#[tokio::test]
async fn a_second_factor_over_graphql_from_generate_to_disable() {
    let role = new_role(true).await;
    let user = member(&role).await;
    let token = user.token.as_str();

    // The password is checked as a sign-in checks it.
    let wrong = as_member(token, GENERATE, json!({"p": "not-the-password"})).await;
    assert_eq!(
        refused(&wrong, "users_me_tfa_generate"),
        (
            "INVALID_CREDENTIALS".to_owned(),
            "Invalid user credentials.".to_owned()
        )
    );
    let empty = as_member(token, GENERATE, json!({"p": ""})).await;
    assert_eq!(
        refused(&empty, "users_me_tfa_generate"),
        payload("\"password\" is required")
    );

    // Generate: Directus' shape, kept by no cache.
    let response = client()
        .post(format!("{}{PATH}", stack().api))
        .header("authorization", format!("Bearer {token}"))
        .json(&json!({"query": GENERATE, "variables": {"p": PASSWORD}}))
        .send()
        .await
        .expect("request sent");
    let cache_control: Vec<String> = response
        .headers()
        .get_all("cache-control")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    assert_eq!(cache_control, ["no-store"]);
    let generated = Reply::from(response).await;
    let data = &generated.body["data"]["users_me_tfa_generate"];
    assert_eq!(
        generated
            .body
            .as_object()
            .unwrap()
            .keys()
            .collect::<Vec<_>>(),
        ["data"],
        "{generated:?}"
    );
    let secret = data["secret"].as_str().expect("a secret").to_owned();
    let url = data["otpauth_url"].as_str().expect("a URL");
    assert!(url.starts_with("otpauth://totp/"), "{url}");
    assert!(url.contains(&format!("secret={secret}&")), "{url}");

    let me = as_member(token, ME, json!({})).await;
    assert_eq!(
        me.body,
        json!({"data": {"users_me": {"id": user.id, "tfa_secret": null}}})
    );

    // Enable: a wrong code, then a secret this API never generated (with its right code), are
    // refused; the generated secret with its code is enabled.
    let start = step_with(20).await;
    let wrong = as_member(token, ENABLE, json!({"o": "12345", "s": secret})).await;
    assert_eq!(
        refused(&wrong, "users_me_tfa_enable"),
        payload("\"otp\" is invalid")
    );
    let chosen = Authenticator::new(&[7u8; 20]).unwrap();
    let foreign = as_member(
        token,
        ENABLE,
        json!({"o": chosen.code_at(now_secs()), "s": chosen.base32()}),
    )
    .await;
    assert_eq!(
        refused(&foreign, "users_me_tfa_enable"),
        payload("\"secret\" is invalid")
    );
    // The previous step's code (one step of drift): the next two stay free for what follows.
    let enabled = as_member(
        token,
        ENABLE,
        json!({"o": code(&secret, start - 1), "s": secret}),
    )
    .await;
    assert_eq!(enabled.body, json!({"data": {"users_me_tfa_enable": true}}));

    let me = as_member(token, ME, json!({})).await;
    assert_eq!(me.body["data"]["users_me"]["tfa_secret"], "**********");
    let again = as_member(token, GENERATE, json!({"p": PASSWORD})).await;
    assert_eq!(
        refused(&again, "users_me_tfa_generate"),
        payload("TFA Secret is already set for this user")
    );

    // Sign-in: Directus' answer without a code.
    let without = login(&user.email, PASSWORD, None).await;
    assert_eq!(refused(&without, "auth_login"), invalid_otp());
    assert_eq!(
        without.body["errors"][0]["extensions"],
        json!({"code": "INVALID_OTP"})
    );
    assert!(without.body["errors"][0]["locations"].is_array());

    let signed_in = login(&user.email, PASSWORD, Some(&code(&secret, start))).await;
    assert!(
        signed_in.body["data"]["auth_login"]["access_token"].is_string(),
        "{signed_in:?}"
    );
    // The same code again: spent (Directus accepts it again within its window).
    let replay = login(&user.email, PASSWORD, Some(&code(&secret, start))).await;
    assert_eq!(refused(&replay, "auth_login"), invalid_otp());
    // A wrong password stays INVALID_CREDENTIALS whatever the code; session mode asks for the
    // code as json mode does, and sets no cookie without it. (Wrong codes count as failed
    // sign-ins: a success comes between every few.)
    let bad_password = login(
        &user.email,
        "not-the-password",
        Some(&code(&secret, start + 1)),
    )
    .await;
    assert_eq!(
        refused(&bad_password, "auth_login").0,
        "INVALID_CREDENTIALS"
    );
    let session = system(
        "mutation L($e: String!, $p: String!) { auth_login(email: $e, password: $p, mode: session) { expires } }",
        Some(json!({"e": user.email, "p": PASSWORD})),
        &[],
    )
    .await;
    assert_eq!(refused(&session, "auth_login"), invalid_otp());
    assert!(session.set_cookies.is_empty(), "{session:?}");

    // Enable answered a Boolean; the codes come from users_me_tfa_recovery_codes.
    let response = client()
        .post(format!("{}{PATH}", stack().api))
        .header("authorization", format!("Bearer {token}"))
        .json(&json!({"query": RECOVERY, "variables": {"p": PASSWORD, "o": code(&secret, start + 1)}}))
        .send()
        .await
        .expect("request sent");
    assert_eq!(response.headers()["cache-control"], "no-store");
    let recovery = Reply::from(response).await;
    let codes: Vec<String> = recovery.body["data"]["users_me_tfa_recovery_codes"]
        .as_array()
        .unwrap_or_else(|| panic!("codes: {recovery:?}"))
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(codes.len(), 10);
    let mut distinct = codes.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), 10, "{codes:?}");

    let by_recovery = login(&user.email, PASSWORD, Some(&codes[0])).await;
    assert!(
        by_recovery.body["data"]["auth_login"]["access_token"].is_string(),
        "{by_recovery:?}"
    );
    let recovery_replay = login(&user.email, PASSWORD, Some(&codes[0])).await;
    assert_eq!(refused(&recovery_replay, "auth_login"), invalid_otp());

    // Disable: wrong and huge codes are refused; a recovery code disables.
    for otp in ["12345".to_owned(), "1".repeat(10_000)] {
        let wrong = as_member(token, DISABLE, json!({ "o": otp })).await;
        assert_eq!(
            refused(&wrong, "users_me_tfa_disable"),
            payload("\"otp\" is invalid")
        );
    }
    let disabled = as_member(token, DISABLE, json!({"o": codes[1]})).await;
    assert_eq!(
        disabled.body,
        json!({"data": {"users_me_tfa_disable": true}})
    );
    let me = as_member(token, ME, json!({})).await;
    assert_eq!(me.body["data"]["users_me"]["tfa_secret"], Value::Null);
    let plain = login(&user.email, PASSWORD, None).await;
    assert!(
        plain.body["data"]["auth_login"]["access_token"].is_string(),
        "{plain:?}"
    );
    let twice = as_member(token, DISABLE, json!({"o": codes[2]})).await;
    assert_eq!(
        refused(&twice, "users_me_tfa_disable"),
        payload(&format!("User \"{}\" doesn't have TFA enabled", user.id))
    );
}

#[tokio::test]
async fn hostile_two_factor_calls_over_graphql_are_refused() {
    let role = new_role(true).await;
    let user = member(&role).await;
    let token = user.token.as_str();

    // Without a token: INVALID_CREDENTIALS in-band, as REST's 401; a bad token fails before
    // GraphQL runs, with the REST envelope.
    for (field, document, variables) in [
        ("users_me_tfa_generate", GENERATE, json!({"p": PASSWORD})),
        (
            "users_me_tfa_enable",
            ENABLE,
            json!({"o": "123456", "s": "JBSWY3DPEHPK3PXP"}),
        ),
        ("users_me_tfa_disable", DISABLE, json!({"o": "123456"})),
        (
            "users_me_tfa_recovery_codes",
            RECOVERY,
            json!({"p": PASSWORD, "o": "123456"}),
        ),
    ] {
        let anonymous = system(document, Some(variables.clone()), &[]).await;
        assert_eq!(
            refused(&anonymous, field),
            (
                "INVALID_CREDENTIALS".to_owned(),
                "Invalid user credentials.".to_owned()
            )
        );
        let forged = system(
            document,
            Some(variables),
            &[("authorization", "Bearer garbage")],
        )
        .await;
        assert_eq!(forged.status, 401, "{forged:?}");
        assert_eq!(forged.code(), "INVALID_CREDENTIALS");
    }

    let secret = generate(token).await;
    // A number for a code, in variables or inline: GraphQL's type error, nothing run.
    let number = as_member(
        token,
        "mutation E($o: String!, $s: String!) { users_me_tfa_enable(otp: $o, secret: $s) }",
        json!({"o": 123456, "s": secret}),
    )
    .await;
    assert_eq!(number.status, 400, "{number:?}");
    assert_eq!(number.code(), "GRAPHQL_VALIDATION");
    let inline = as_member(
        token,
        "mutation E($s: String!) { users_me_tfa_enable(otp: 123456, secret: $s) }",
        json!({ "s": secret }),
    )
    .await;
    assert_eq!(inline.code(), "GRAPHQL_VALIDATION", "{inline:?}");
    // Twice in one request: refused before either runs.
    let repeated = as_member(
        token,
        "mutation E($s: String!) { a: users_me_tfa_enable(otp: \"111111\", secret: $s) b: users_me_tfa_enable(otp: \"222222\", secret: $s) }",
        json!({ "s": secret }),
    )
    .await;
    assert_eq!(repeated.status, 400, "{repeated:?}");
    assert_eq!(
        repeated.body["errors"][0]["extensions"]["errors"][0]["message"],
        "\"users_me_tfa_enable\" can only be used once per request"
    );

    // A control character before a right code, and the secret generated for someone else.
    let start = step_with(10).await;
    let control = as_member(
        token,
        ENABLE,
        json!({"o": format!("\u{0}{}", code(&secret, start)), "s": secret}),
    )
    .await;
    assert_eq!(
        refused(&control, "users_me_tfa_enable"),
        payload("\"otp\" is invalid")
    );
    let other = member(&role).await;
    let theirs = generate(&other.token).await;
    let stolen = as_member(
        token,
        ENABLE,
        json!({"o": code(&theirs, start), "s": theirs}),
    )
    .await;
    assert_eq!(
        refused(&stolen, "users_me_tfa_enable"),
        payload("\"secret\" is invalid")
    );
    // Nothing was enabled by any of these: the user signs in without a code.
    let me = as_member(token, ME, json!({})).await;
    assert_eq!(me.body["data"]["users_me"]["tfa_secret"], Value::Null);
    let plain = login(&user.email, PASSWORD, None).await;
    assert!(
        plain.body["data"]["auth_login"]["access_token"].is_string(),
        "{plain:?}"
    );

    // Through the session cookie: refused from another site before GraphQL runs, served to a
    // caller without `Origin` (not a browser's cross-site request).
    let session = system(
        "mutation L($e: String!, $p: String!) { auth_login(email: $e, password: $p, mode: session) { expires } }",
        Some(json!({"e": user.email, "p": PASSWORD})),
        &[],
    )
    .await;
    let jar = format!(
        "directus_session_token={}",
        session
            .cookie("directus_session_token")
            .unwrap_or_else(|| panic!("a session cookie: {session:?}"))
    );
    for origin in ["https://evil.example", "null"] {
        let cross_site = system(
            GENERATE,
            Some(json!({"p": PASSWORD})),
            &[("cookie", &jar), ("origin", origin)],
        )
        .await;
        assert_eq!(
            (cross_site.status, cross_site.code()),
            (403, "FORBIDDEN"),
            "{cross_site:?}"
        );
    }
    let by_cookie = system(GENERATE, Some(json!({"p": PASSWORD})), &[("cookie", &jar)]).await;
    assert!(
        by_cookie.body["data"]["users_me_tfa_generate"]["secret"].is_string(),
        "{by_cookie:?}"
    );

    // A role without update permission on its own `tfa_secret` may generate, not enable.
    let reader = member(&new_role(false).await).await;
    let secret = generate(&reader.token).await;
    let forbidden = as_member(
        &reader.token,
        ENABLE,
        json!({"o": code(&secret, step_with(5).await), "s": secret}),
    )
    .await;
    assert_eq!(refused(&forbidden, "users_me_tfa_enable").0, "FORBIDDEN");
    let plain = login(&reader.email, PASSWORD, None).await;
    assert!(
        plain.body["data"]["auth_login"]["access_token"].is_string(),
        "{plain:?}"
    );
}
