//! Two-factor sign-in over REST, as a client does it: generate with the password, type the
//! secret into an authenticator (here: the codes are computed from it), enable with a code,
//! sign in with `otp`. And what Directus lets through and this API does not: a secret the
//! client chose, a code used twice, code guessing without a lockout.

use std::time::Duration;

use e2e::{
    Reply, admin_token, get, now_secs, post, post_with, registered_login, store, unique_email,
    user_with,
};
use serde_json::{Value, json};
use shared::domain::two_factor::{Authenticator, STEP_SECS};

const PASSWORD: &str = "d1r3ctu5-two-factor";

struct Account {
    email: String,
    token: String,
}

async fn account(tag: &str) -> Account {
    let email = unique_email(tag);
    let data = registered_login(&email, PASSWORD).await;
    Account {
        email,
        token: data["access_token"].as_str().expect("a token").to_owned(),
    }
}

async fn tfa(action: &str, token: &str, body: Value) -> Reply {
    post_with(
        &format!("/users/me/tfa/{action}"),
        &body.to_string(),
        &[("authorization", &format!("Bearer {token}"))],
    )
    .await
}

async fn login(email: &str, body: Value) -> Reply {
    let mut body = body;
    body["email"] = json!(email);
    post("/auth/login", &body.to_string()).await
}

/// The codes of one authenticator in the order the API accepts them: each of a step later than
/// the last one used (the previous step only early in the current one, so the server's clock
/// cannot have moved two steps on by the time it arrives).
struct Codes {
    authenticator: Authenticator,
    last: Option<u64>,
}

impl Codes {
    fn new(secret: &str) -> Self {
        Self {
            authenticator: Authenticator::from_base32(secret).expect("a base32 secret"),
            last: None,
        }
    }

    /// A code of a step not used yet, waiting for the next step if all three are spent.
    async fn next(&mut self) -> String {
        loop {
            let now = now_secs();
            let current = now / STEP_SECS;
            let early = now % STEP_SECS < STEP_SECS / 3;
            let earliest = if early { current - 1 } else { current };
            let step = self.last.map_or(earliest, |last| earliest.max(last + 1));
            if step <= current + 1 {
                self.last = Some(step);
                return self.authenticator.code_at(step * STEP_SECS);
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    /// The current step's code, not recorded as used (for requests refused before the code is
    /// looked at).
    fn current(&self) -> String {
        self.authenticator.code_at(now_secs())
    }

    /// A code no step around now has (wrong whatever the clock).
    fn wrong(&self) -> String {
        let now = now_secs();
        let taken: Vec<String> = (0..=3)
            .map(|i| self.authenticator.code_at(now + i * STEP_SECS - STEP_SECS))
            .collect();
        (0..1_000_000)
            .map(|n| format!("{n:06}"))
            .find(|candidate| !taken.contains(candidate))
            .expect("a code no step has")
    }
}

/// Generates a secret and enables it; returns the secret's codes and the recovery codes.
async fn enabled(account: &Account) -> (Codes, Vec<String>) {
    let generated = tfa("generate", &account.token, json!({"password": PASSWORD})).await;
    assert_eq!(generated.status, 200, "{generated:?}");
    let secret = generated.body["data"]["secret"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut codes = Codes::new(&secret);
    let enable = tfa(
        "enable",
        &account.token,
        json!({"secret": secret, "otp": codes.next().await}),
    )
    .await;
    assert_eq!(enable.status, 200, "{enable:?}");
    let recovery: Vec<String> = enable.body["data"]["recovery_codes"]
        .as_array()
        .expect("recovery codes")
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();
    (codes, recovery)
}

#[tokio::test]
async fn a_second_factor_is_set_up_with_the_password_and_a_code() {
    let account = account("tfa-setup").await;
    let token = &account.token;

    let missing = tfa("generate", token, json!({})).await;
    assert_eq!((missing.status, missing.code()), (400, "INVALID_PAYLOAD"));
    assert_eq!(
        missing.body["errors"][0]["message"],
        "Invalid payload. \"password\" is required."
    );
    let wrong = tfa("generate", token, json!({"password": "not-it"})).await;
    assert_eq!((wrong.status, wrong.code()), (401, "INVALID_CREDENTIALS"));
    let public = post(
        "/users/me/tfa/generate",
        &json!({"password": PASSWORD}).to_string(),
    )
    .await;
    assert_eq!((public.status, public.code()), (401, "INVALID_CREDENTIALS"));

    let first = tfa("generate", token, json!({"password": PASSWORD})).await;
    assert_eq!(first.status, 200, "{first:?}");
    let secret = first.body["data"]["secret"].as_str().unwrap().to_owned();
    assert_eq!(secret.len(), 32, "160 bits in base32: {secret}");
    let url = first.body["data"]["otpauth_url"].as_str().unwrap();
    assert!(
        url.starts_with("otpauth://totp/")
            && url.contains(&format!("secret={secret}"))
            && url.contains("period=30&digits=6&algorithm=SHA1"),
        "{url}"
    );
    let second = tfa("generate", token, json!({"password": PASSWORD})).await;
    let newer = second.body["data"]["secret"].as_str().unwrap().to_owned();
    assert_ne!(newer, secret, "each generate makes a new secret");

    // The replaced secret, one never generated, and the right one with a wrong code.
    let mut old_codes = Codes::new(&secret);
    let replaced = tfa(
        "enable",
        token,
        json!({"secret": secret, "otp": old_codes.next().await}),
    )
    .await;
    assert_eq!(
        (
            replaced.status,
            replaced.body["errors"][0]["message"].as_str()
        ),
        (400, Some("Invalid payload. \"secret\" is invalid."))
    );
    let chosen = Authenticator::new(&[7; 20]).unwrap();
    let foreign = tfa(
        "enable",
        token,
        json!({"secret": chosen.base32(), "otp": chosen.code_at(now_secs())}),
    )
    .await;
    assert_eq!((foreign.status, foreign.code()), (400, "INVALID_PAYLOAD"));
    let mut codes = Codes::new(&newer);
    let bad_code = tfa(
        "enable",
        token,
        json!({"secret": newer, "otp": codes.wrong()}),
    )
    .await;
    assert_eq!(
        (
            bad_code.status,
            bad_code.body["errors"][0]["message"].as_str()
        ),
        (400, Some("Invalid payload. \"otp\" is invalid."))
    );
    for (body, message) in [
        (
            json!({"secret": newer}),
            "Invalid payload. \"otp\" is required.",
        ),
        (
            json!({"otp": "123456"}),
            "Invalid payload. \"secret\" is required.",
        ),
        (
            json!({"secret": newer, "otp": 123456}),
            "Invalid payload. \"otp\" must be a string.",
        ),
    ] {
        let refused = tfa("enable", token, body.clone()).await;
        assert_eq!(
            (
                refused.status,
                refused.body["errors"][0]["message"].as_str()
            ),
            (400, Some(message)),
            "{body}"
        );
    }
    let still_off = get("/users/me?fields=tfa_secret", Some(token)).await;
    assert_eq!(still_off.body["data"]["tfa_secret"], Value::Null);

    let enable = tfa(
        "enable",
        token,
        json!({"secret": newer.to_lowercase(), "otp": codes.next().await}),
    )
    .await;
    assert_eq!(enable.status, 200, "{enable:?}");
    let recovery = enable.body["data"]["recovery_codes"].as_array().unwrap();
    assert_eq!(recovery.len(), 10);
    let on = get("/users/me?fields=tfa_secret", Some(token)).await;
    assert_eq!(on.body["data"]["tfa_secret"], "**********");
    let everything = get("/users/me", Some(token)).await;
    assert!(
        !everything.raw.contains(&newer) && !everything.raw.contains("v1."),
        "{}",
        everything.raw
    );

    for action in ["enable", "generate"] {
        let again = tfa(
            action,
            token,
            json!({"password": PASSWORD, "secret": newer, "otp": codes.current()}),
        )
        .await;
        assert_eq!(
            (again.status, again.body["errors"][0]["message"].as_str()),
            (
                400,
                Some("Invalid payload. TFA Secret is already set for this user.")
            ),
            "{action}"
        );
    }
    // The secret is stored sealed: not in the item in clear.
    let stored = store()
        .find_user_by_email(&account.email)
        .await
        .unwrap()
        .unwrap();
    let factor = stored.two_factor.expect("a second factor");
    assert!(factor.secret.expose().starts_with("v1."));
    assert!(!factor.secret.expose().contains(&newer));
    assert_eq!(factor.recovery.len(), 10);
    assert!(stored.pending_two_factor.is_none());
}

#[tokio::test]
async fn sign_in_asks_for_the_code_after_the_password_and_takes_each_code_once() {
    let account = account("tfa-login").await;
    let (mut codes, recovery) = enabled(&account).await;
    let email = &account.email;

    let no_code = login(email, json!({"password": PASSWORD})).await;
    assert_eq!((no_code.status, no_code.code()), (401, "INVALID_OTP"));
    assert_eq!(no_code.body["errors"][0]["message"], "Invalid user OTP.");
    let wrong_password = login(email, json!({"password": "nope", "otp": codes.current()})).await;
    assert_eq!(
        (wrong_password.status, wrong_password.code()),
        (401, "INVALID_CREDENTIALS")
    );
    let numeric = login(email, json!({"password": PASSWORD, "otp": 123456})).await;
    assert_eq!((numeric.status, numeric.code()), (400, "INVALID_PAYLOAD"));
    let code = codes.next().await;
    let signed_in = login(email, json!({"password": PASSWORD, "otp": code})).await;
    assert_eq!(signed_in.status, 200, "{signed_in:?}");
    let replay = login(email, json!({"password": PASSWORD, "otp": code})).await;
    assert_eq!(
        (replay.status, replay.code()),
        (401, "INVALID_OTP"),
        "replay"
    );

    // Refresh needs no code.
    let refreshed = post(
        "/auth/refresh",
        &json!({"refresh_token": signed_in.body["data"]["refresh_token"], "mode": "json"})
            .to_string(),
    )
    .await;
    assert_eq!(refreshed.status, 200, "{refreshed:?}");

    // A recovery code in place of a code, typed in upper case without dashes; once.
    let typed = recovery[0].replace('-', "").to_uppercase();
    let with_recovery = login(email, json!({"password": PASSWORD, "otp": typed})).await;
    assert_eq!(with_recovery.status, 200, "{with_recovery:?}");
    let again = login(email, json!({"password": PASSWORD, "otp": recovery[0]})).await;
    assert_eq!((again.status, again.code()), (401, "INVALID_OTP"));

    // Session mode: the same second step.
    let session = login(
        email,
        json!({"password": PASSWORD, "otp": codes.next().await, "mode": "session"}),
    )
    .await;
    assert_eq!(session.status, 200, "{session:?}");
    assert!(session.cookie("directus_session_token").is_some());
}

#[tokio::test]
async fn of_concurrent_sign_ins_with_one_code_exactly_one_succeeds() {
    let account = account("tfa-race").await;
    let (mut codes, _) = enabled(&account).await;
    let code = codes.next().await;
    let attempts = (0..6).map(|_| {
        let email = account.email.clone();
        let code = code.clone();
        tokio::spawn(async move {
            login(&email, json!({"password": PASSWORD, "otp": code}))
                .await
                .status
        })
    });
    let mut statuses = Vec::new();
    for attempt in attempts {
        statuses.push(attempt.await.unwrap());
    }
    statuses.sort();
    assert_eq!(statuses, vec![200, 401, 401, 401, 401, 401], "{statuses:?}");
}

#[tokio::test]
async fn wrong_codes_of_any_shape_are_refused_and_lock_the_account_as_wrong_passwords_do() {
    let account = account("tfa-lock").await;
    let (codes, _) = enabled(&account).await;
    let wrong = codes.wrong();
    let odd = [
        "",
        "12345",
        "1234567",
        "abcdef",
        "12 345",
        "١٢٣٤٥٦",
        "123456\n",
        "\u{0}23456",
        wrong.as_str(),
        wrong.as_str(),
        wrong.as_str(),
    ];
    let mut codes_seen = Vec::new();
    for otp in odd {
        let refused = login(&account.email, json!({"password": PASSWORD, "otp": otp})).await;
        assert_eq!(refused.status, 401, "{otp:?}: {refused:?}");
        codes_seen.push(refused.code().to_owned());
    }
    // The right password with wrong codes: INVALID_OTP until the account locks, then the lock's
    // INVALID_CREDENTIALS (whatever the code). Without the count, it would never lock.
    assert_eq!(codes_seen[0], "INVALID_OTP");
    assert!(
        codes_seen.iter().any(|code| code == "INVALID_CREDENTIALS"),
        "{codes_seen:?}"
    );
    let huge = login(
        &account.email,
        json!({"password": PASSWORD, "otp": "9".repeat(100_000)}),
    )
    .await;
    assert!(matches!(huge.status, 401 | 413), "{huge:?}");
}

#[tokio::test]
async fn enabling_ends_the_other_sessions_and_keeps_the_callers() {
    let email = unique_email("tfa-sessions");
    let first = registered_login(&email, PASSWORD).await;
    let second = login(&email, json!({"password": PASSWORD})).await;
    assert_eq!(second.status, 200);
    let account = Account {
        email: email.clone(),
        token: first["access_token"].as_str().unwrap().to_owned(),
    };
    enabled(&account).await;
    async fn refresh(token: &Value) -> Reply {
        post(
            "/auth/refresh",
            &json!({"refresh_token": token, "mode": "json"}).to_string(),
        )
        .await
    }
    let other = refresh(&second.body["data"]["refresh_token"]).await;
    assert_eq!((other.status, other.code()), (401, "INVALID_CREDENTIALS"));
    let other_token = get("/users/me", second.body["data"]["access_token"].as_str()).await;
    assert_eq!(other_token.status, 401, "{other_token:?}");
    let own = refresh(&first["refresh_token"]).await;
    assert_eq!(own.status, 200, "{own:?}");
}

#[tokio::test]
async fn turning_it_off_takes_a_code_and_then_sign_in_needs_none() {
    let account = account("tfa-off").await;
    let (mut codes, recovery) = enabled(&account).await;
    let token = &account.token;
    let missing = tfa("disable", token, json!({})).await;
    assert_eq!(
        missing.body["errors"][0]["message"],
        "Invalid payload. \"otp\" is required."
    );
    let wrong = tfa("disable", token, json!({"otp": codes.wrong()})).await;
    assert_eq!(
        (wrong.status, wrong.body["errors"][0]["message"].as_str()),
        (400, Some("Invalid payload. \"otp\" is invalid."))
    );
    // New recovery codes need the password and a code; the old ones stop working.
    let renewed = tfa(
        "recovery-codes",
        token,
        json!({"password": PASSWORD, "otp": codes.next().await}),
    )
    .await;
    assert_eq!(renewed.status, 200, "{renewed:?}");
    let fresh = renewed.body["data"]["recovery_codes"].as_array().unwrap();
    assert_eq!(fresh.len(), 10);
    let old = login(
        &account.email,
        json!({"password": PASSWORD, "otp": recovery[1]}),
    )
    .await;
    assert_eq!(old.code(), "INVALID_OTP");

    let off = tfa("disable", token, json!({"otp": fresh[0]})).await;
    assert_eq!(off.status, 204, "{off:?}");
    let none = tfa("disable", token, json!({"otp": codes.current()})).await;
    assert_eq!(none.status, 400);
    assert!(
        none.body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .ends_with("doesn't have TFA enabled."),
        "{none:?}"
    );
    let plain = login(&account.email, json!({"password": PASSWORD})).await;
    assert_eq!(plain.status, 200, "{plain:?}");
    let me = get("/users/me?fields=tfa_secret", Some(token)).await;
    assert_eq!(me.body["data"]["tfa_secret"], Value::Null);
}

#[tokio::test]
async fn enabling_needs_update_permission_on_ones_own_tfa_secret() {
    let admin = admin_token().await;
    // A user with no role and no policy: no permission to update anything of theirs.
    let (_, token) = user_with(&admin, json!({})).await;
    let generated = tfa("generate", &token, json!({"password": "d1r3ctu5-long"})).await;
    assert_eq!(generated.status, 200, "{generated:?}");
    let secret = generated.body["data"]["secret"].as_str().unwrap();
    let mut codes = Codes::new(secret);
    let refused = tfa(
        "enable",
        &token,
        json!({"secret": secret, "otp": codes.next().await}),
    )
    .await;
    assert_eq!(
        (refused.status, refused.code()),
        (403, "FORBIDDEN"),
        "{refused:?}"
    );

    // An administrator may (admin access passes every permission).
    let (email, password) = e2e::admin_credentials().await;
    let administrator = Account {
        token: e2e::login_token(&email, &password).await,
        email,
    };
    let generated = tfa(
        "generate",
        &administrator.token,
        json!({"password": password}),
    )
    .await;
    assert_eq!(generated.status, 200, "{generated:?}");
    let secret = generated.body["data"]["secret"].as_str().unwrap();
    let mut codes = Codes::new(secret);
    let enabled = tfa(
        "enable",
        &administrator.token,
        json!({"secret": secret, "otp": codes.next().await}),
    )
    .await;
    assert_eq!(enabled.status, 200, "{enabled:?}");
}

#[tokio::test]
async fn the_secret_never_reads_back_through_the_user_directory_or_filters() {
    let account = account("tfa-hidden").await;
    enabled(&account).await;
    let admin = admin_token().await;
    for query in [
        "/users?fields=tfa_secret",
        "/users?filter[tfa_secret][_nnull]=true",
        "/users?sort=tfa_secret",
    ] {
        let reply = get(query, Some(&admin)).await;
        assert!(
            !reply.raw.contains("v1.") && reply.status != 500,
            "{query}: {reply:?}"
        );
    }
    let sorted = get("/users/me?fields=*", Some(&account.token)).await;
    assert_eq!(sorted.body["data"]["tfa_secret"], "**********");
}

#[tokio::test]
async fn enabling_and_disabling_mail_the_user_a_notice() {
    use e2e::mail::{get as mail_get, link_of, own_client, post as mail_post, wait_for};
    let client = own_client();
    let email = unique_email("tfa-notice");
    let registered = mail_post(
        &client,
        "/users/register",
        &json!({"email": email, "password": PASSWORD}),
    )
    .await;
    assert_eq!(registered.status, 204, "{registered:?}");
    let link = link_of(&wait_for(&email, 1).await.remove(0));
    let path = link
        .strip_prefix(&e2e::mail_stack().api)
        .expect("a link to the API")
        .to_owned();
    assert_eq!(mail_get(&client, &path, None).await.status, 200);
    let login = mail_post(
        &client,
        "/auth/login",
        &json!({"email": email, "password": PASSWORD}),
    )
    .await;
    let token = login.body["data"]["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let call = |action: &'static str, body: Value| {
        let client = client.clone();
        let token = token.clone();
        async move {
            Reply::from(
                client
                    .post(format!("{}/users/me/tfa/{action}", e2e::mail_stack().api))
                    .header("content-type", "application/json")
                    .header("authorization", format!("Bearer {token}"))
                    .body(body.to_string())
                    .send()
                    .await
                    .expect("request sent"),
            )
            .await
        }
    };
    let generated = call("generate", json!({"password": PASSWORD})).await;
    assert_eq!(generated.status, 200, "{generated:?}");
    let secret = generated.body["data"]["secret"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut codes = Codes::new(&secret);
    let enabled = call(
        "enable",
        json!({"secret": secret, "otp": codes.next().await}),
    )
    .await;
    assert_eq!(enabled.status, 200, "{enabled:?}");
    let mails = wait_for(&email, 2).await;
    assert_eq!(mails[1].subject, "Two-factor sign-in turned on");
    assert!(mails[1].text.contains(&email), "{}", mails[1].text);
    for mail in &mails {
        assert!(!mail.text.contains(&secret) && !mail.html.contains(&secret));
    }
    let renewed = call(
        "recovery-codes",
        json!({"password": PASSWORD, "otp": codes.next().await}),
    )
    .await;
    assert_eq!(renewed.status, 200, "{renewed:?}");
    let mails = wait_for(&email, 3).await;
    assert_eq!(mails[2].subject, "New recovery codes");
    let disabled = call("disable", json!({"otp": codes.next().await})).await;
    assert_eq!(disabled.status, 204, "{disabled:?}");
    let mails = wait_for(&email, 4).await;
    assert_eq!(mails[3].subject, "Two-factor sign-in turned off");
}

#[tokio::test]
async fn a_policy_that_enforces_a_second_factor_gives_a_session_that_can_only_set_one_up() {
    let policy = uuid::Uuid::new_v4().to_string();
    let role = uuid::Uuid::new_v4().to_string();
    e2e::apply(json!({
        "policies": [{"id": policy, "name": "Readers with two factors", "enforce_tfa": true,
            "app_access": true, "permissions": [
            {"collection": "posts", "action": "read", "fields": ["*"]},
            {"collection": "directus_users", "action": "read", "fields": ["*"],
             "permissions": {"id": {"_eq": "$CURRENT_USER"}}},
            {"collection": "directus_users", "action": "update", "fields": ["tfa_secret", "first_name"],
             "permissions": {"id": {"_eq": "$CURRENT_USER"}}}
        ]}],
        "roles": [{"id": role, "name": "Enforced", "policies": [policy]}]
    }))
    .await;
    let admin = admin_token().await;
    let email = unique_email("tfa-enforced");
    let created = post_with(
        "/users",
        &json!({"email": email, "password": PASSWORD, "role": role}).to_string(),
        &[("authorization", &format!("Bearer {admin}"))],
    )
    .await;
    assert_eq!(created.status, 200, "{created:?}");

    let setup = login(&email, json!({"password": PASSWORD})).await;
    assert_eq!(setup.status, 200, "{setup:?}");
    let token = setup.body["data"]["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let claims = e2e::claims_of(&token);
    assert_eq!(claims["tfa_setup"], true, "{claims}");
    assert_eq!(claims["app_access"], false, "{claims}");
    // Not a Directus token to anyone who checks the issuer, and no role to grant anything.
    assert_eq!(claims["iss"], "directus-tfa-setup", "{claims}");
    assert_eq!(claims["role"], Value::Null, "{claims}");
    // Nothing but the set-up: no posts, not even the fields the policy grants on one's own row.
    let posts = get("/items/posts", Some(&token)).await;
    assert_eq!(posts.status, 403, "{posts:?}");
    let me = get("/users/me", Some(&token)).await;
    assert_eq!(me.status, 200, "{me:?}");
    let shown: Vec<&String> = me.body["data"].as_object().unwrap().keys().collect();
    assert_eq!(shown, ["id", "email", "tfa_secret"], "{me:?}");
    let renamed = e2e::Reply::from(
        e2e::client()
            .patch(format!("{}/users/me", e2e::stack().api))
            .header("authorization", format!("Bearer {token}"))
            .header("content-type", "application/json")
            .body(json!({"first_name": "X"}).to_string())
            .send()
            .await
            .expect("request sent"),
    )
    .await;
    assert_eq!(
        (renamed.status, renamed.code()),
        (403, "FORBIDDEN"),
        "a set-up session may not change the profile: {renamed:?}"
    );

    let account = Account {
        email: email.clone(),
        token,
    };
    let (mut codes, _) = enabled(&account).await;
    let full = login(
        &email,
        json!({"password": PASSWORD, "otp": codes.next().await}),
    )
    .await;
    assert_eq!(full.status, 200, "{full:?}");
    let token = full.body["data"]["access_token"].as_str().unwrap();
    assert_eq!(e2e::claims_of(token).get("tfa_setup"), None);
    assert_eq!(e2e::claims_of(token)["app_access"], true);
    let posts = get("/items/posts", Some(token)).await;
    assert_eq!(posts.status, 200, "{posts:?}");
    // Required: it cannot be turned off.
    let off = tfa("disable", token, json!({"otp": codes.next().await})).await;
    assert_eq!(off.status, 400, "{off:?}");
    assert_eq!(
        off.body["errors"][0]["message"],
        "Invalid payload. Two-factor sign-in is required for this user."
    );
}

#[tokio::test]
async fn a_wrong_password_at_set_up_keeps_the_session_that_sent_it() {
    let email = unique_email("tfa-typo");
    registered_login(&email, PASSWORD).await;
    let session = login(&email, json!({"password": PASSWORD, "mode": "session"})).await;
    let cookie = format!(
        "directus_session_token={}",
        session
            .cookie("directus_session_token")
            .expect("a session cookie")
    );
    let generate = |password: &'static str| {
        let cookie = cookie.clone();
        async move {
            post_with(
                "/users/me/tfa/generate",
                &json!({"password": password}).to_string(),
                &[("cookie", &cookie)],
            )
            .await
        }
    };
    let typo = generate("not-the-password").await;
    assert_eq!((typo.status, typo.code()), (401, "INVALID_CREDENTIALS"));
    assert!(
        typo.cookie("directus_session_token").is_none(),
        "the session cookie was cleared: {:?}",
        typo.set_cookies
    );
    let again = generate(PASSWORD).await;
    assert_eq!(again.status, 200, "{again:?}");
    // A failing cookie is still cleared, as on every route that acts for its caller.
    let forged = post_with(
        "/users/me/tfa/generate",
        &json!({"password": PASSWORD}).to_string(),
        &[("cookie", "directus_session_token=forged")],
    )
    .await;
    assert_eq!(forged.status, 401);
    assert_eq!(forged.cookie("directus_session_token").as_deref(), Some(""));
}

#[tokio::test]
async fn a_locked_account_checks_no_code_and_a_right_password_does_not_reset_the_count() {
    let account = account("tfa-guess").await;
    let (mut codes, _) = enabled(&account).await;
    let token = &account.token;
    let wrong = codes.wrong();
    // Wrong codes at disable count as failed sign-ins, until the account locks: 1 s after the
    // fifth failure in a row, 2 s after the sixth (the test settings suspend at the seventh).
    // Waiting out the first lock lets the sixth failure count.
    for failure in 1..=6u32 {
        let refused = tfa("disable", token, json!({"otp": wrong})).await;
        assert_eq!(refused.status, 400, "failure {failure}: {refused:?}");
        if failure == 5 {
            tokio::time::sleep(Duration::from_millis(1200)).await;
        }
    }
    // Locked: even the right code is not looked at.
    let right = tfa("disable", token, json!({"otp": codes.next().await})).await;
    assert_eq!(right.status, 400, "{right:?}");
    let stored = store()
        .find_user_by_email(&account.email)
        .await
        .unwrap()
        .unwrap();
    assert!(stored.two_factor.is_some(), "the factor must still be on");

    // New recovery codes with the right password and wrong codes: the password does not
    // clear the count, so the account locks as with wrong passwords.
    let other = self::account("tfa-guess-codes").await;
    let (codes, _) = enabled(&other).await;
    let wrong = codes.wrong();
    let mut answers = Vec::new();
    for _ in 0..6 {
        let refused = tfa(
            "recovery-codes",
            &other.token,
            json!({"password": PASSWORD, "otp": wrong}),
        )
        .await;
        answers.push((refused.status, refused.code().to_owned()));
    }
    assert!(
        answers.contains(&(401, "INVALID_CREDENTIALS".to_owned())),
        "locked by the sixth attempt: {answers:?}"
    );
}
