//! Two-factor sign-in (TOTP), as Directus' `/users/me/tfa/*` and `users_me_tfa_*`, without
//! its two holes: only the secret generated for the user (with their password, within ten
//! minutes) can be enabled, and every code is accepted once (the step is recorded by a
//! conditional write, so of concurrent requests with one code exactly one passes). Wrong codes
//! count where wrong passwords count (the sign-in's attempt, the per-address limit). Beyond
//! Directus: recovery codes (shown once, stored as keyed digests, each usable once), the
//! secrets sealed at rest (`credential::two_factor`), the other sessions ended at enable, and
//! a notice by mail at enable and disable.
//!
//! Transport-independent: the caller's claims, typed input and `now` in; typed output or an
//! [`ApiError`] out (the messages are Directus').

use serde_json::{Map, Value, json};

use crate::credential::password::Passwords;
use crate::credential::token::AccessClaims;
use crate::credential::two_factor::{new_recovery_codes, new_secret};
use crate::domain::client::Client;
use crate::domain::error::ApiError;
use crate::domain::model::{PendingTwoFactor, TwoFactor, User};
use crate::domain::sensitive::Sensitive;
use crate::domain::two_factor::{
    Authenticator, PENDING_TTL_MS, SecondFactor, classify, otpauth_url,
};
use crate::email::templates::Kind;
use crate::flows::second_factor;
use crate::flows::session::{Attempt, Locked};
use crate::flows::time::Now;
use crate::flows::users::{authorize_write, row};
use crate::platform::state::AppState;
use crate::store::StoreError;

/// What `generate` shows: the secret to type into an authenticator, and the URL to scan.
#[derive(Debug, Clone)]
pub struct Generated {
    pub secret: Sensitive,
    pub otpauth_url: Sensitive,
}

/// The recovery codes, shown once.
#[derive(Debug, Clone)]
pub struct RecoveryCodes(pub Vec<Sensitive>);

fn required(field: &str) -> ApiError {
    ApiError::payload(format!("\"{field}\" is required"))
}

fn invalid(field: &str) -> ApiError {
    ApiError::payload(format!("\"{field}\" is invalid"))
}

fn already_set() -> ApiError {
    ApiError::payload("TFA Secret is already set for this user")
}

/// A value the client must send: present and not empty (Directus' Joi messages).
fn present(value: Option<Sensitive>, field: &str) -> Result<Sensitive, ApiError> {
    value
        .filter(|v| !v.expose().is_empty())
        .ok_or_else(|| required(field))
}

/// The caller's user, active and not revoked since the token was issued.
async fn caller_user(state: &AppState, claims: &AccessClaims) -> Result<User, ApiError> {
    let user = state
        .store
        .get_user(&claims.id)
        .await?
        .ok_or(ApiError::InvalidCredentials)?;
    crate::flows::caller::still_valid(claims, &user)?;
    Ok(user)
}

/// The password a change needs: present and not empty.
fn password_given(password: Option<Sensitive>) -> Result<Sensitive, ApiError> {
    password
        .filter(|p| !p.expose().is_empty())
        .ok_or_else(|| required("password"))
}

/// The account's attempt for a change that a password opens: refused as wrong while the
/// account is locked (nothing is checked then), a wrong password counted.
async fn password_attempt(
    state: &AppState,
    passwords: &Passwords,
    user: &User,
    password: &Sensitive,
    client: &Client,
    now: Now,
) -> Result<Attempt, ApiError> {
    let Ok(attempt) = Attempt::begin(state, user, client, now).await? else {
        // The same argon2 work as a check, so a lock does not answer faster.
        let _ = passwords.verify(password, user.password.as_ref()).await;
        return Err(ApiError::InvalidCredentials);
    };
    if attempt.password_matches(passwords, user, password).await? {
        Ok(attempt)
    } else {
        attempt.refuse(state, user).await?;
        Err(ApiError::InvalidCredentials)
    }
}

/// The account's attempt for a change that a code opens: refused as a wrong code while the
/// account is locked, so a lock stops code guessing here as at sign-in.
async fn code_attempt(
    state: &AppState,
    user: &User,
    client: &Client,
    now: Now,
) -> Result<Attempt, ApiError> {
    match Attempt::begin(state, user, client, now).await? {
        Ok(attempt) => Ok(attempt),
        Err(Locked) => Err(invalid("otp")),
    }
}

/// `POST /users/me/tfa/generate {password}`: a new secret, pending for ten minutes (the next
/// generate replaces it). `INVALID_PAYLOAD` when a second factor is set already (after the
/// password, as in Directus; that attempt is not cleared, so asking again and again cannot
/// reset the account's failure count between code guesses at sign-in).
pub async fn generate(
    state: &AppState,
    passwords: &Passwords,
    claims: &AccessClaims,
    password: Option<Sensitive>,
    client: &Client,
    now: Now,
) -> Result<Generated, ApiError> {
    let password = password_given(password)?;
    let user = caller_user(state, claims).await?;
    let attempt = password_attempt(state, passwords, &user, &password, client, now).await?;
    if user.two_factor.is_some() {
        return Err(already_set());
    }
    let authenticator = Authenticator::new(&new_secret()).map_err(internal)?;
    let pending = PendingTwoFactor {
        secret: state
            .two_factor
            .seal(&user.id, authenticator.secret_bytes()),
        expires_at: now.millis().saturating_add(PENDING_TTL_MS),
    };
    match state.store.set_pending_two_factor(&user.id, &pending).await {
        Ok(()) => {}
        // Enabled meanwhile, or the user is gone.
        Err(StoreError::Stale) => return Err(already_set()),
        Err(other) => return Err(other.into()),
    }
    attempt.succeed(state, &user).await?;
    let settings = crate::flows::access::settings(state).await?;
    let secret = authenticator.base32();
    let url = otpauth_url(crate::flows::project_name(&settings), &user.email, &secret);
    tracing::info!(user = %user.id, "two-factor secret generated");
    Ok(Generated {
        secret: Sensitive::new(secret),
        otpauth_url: Sensitive::new(url),
    })
}

/// `POST /users/me/tfa/enable {secret, otp}`: enables the pending secret if `secret` is it and
/// `otp` is its code; ends every other session of the user; returns the recovery codes. The
/// caller needs update permission on their own `tfa_secret`, as in Directus.
pub async fn enable(
    state: &AppState,
    claims: &AccessClaims,
    secret: Option<Sensitive>,
    otp: Option<Sensitive>,
    client: &Client,
    now: Now,
) -> Result<RecoveryCodes, ApiError> {
    let otp = present(otp, "otp")?;
    let secret = present(secret, "secret")?;
    let user = caller_user(state, claims).await?;
    let accountability = crate::flows::access::accountability(state, Some(claims)).await?;
    let mut wanted = Map::new();
    wanted.insert(
        "tfa_secret".into(),
        json!(crate::flows::directory::CONCEALED),
    );
    authorize_write(&accountability, "update", wanted, Some(&row(&user)), now)?;
    if user.two_factor.is_some() {
        return Err(already_set());
    }
    // Only the secret generated for this user, still pending: never one the client chose.
    let pending = user
        .pending_two_factor
        .as_ref()
        .filter(|pending| pending.is_live(now.millis()))
        .ok_or_else(|| invalid("secret"))?;
    let generated = state
        .two_factor
        .open(&user.id, &pending.secret)
        .map_err(|_| invalid("secret"))?;
    let sent = Authenticator::from_base32(secret.expose()).map_err(|_| invalid("secret"))?;
    if !constant_time_eq(sent.secret_bytes(), &generated.secret) {
        return Err(invalid("secret"));
    }
    let attempt = code_attempt(state, &user, client, now).await?;
    let step = match classify(otp.expose()) {
        SecondFactor::Code(code) => sent.accepts(&code, now.secs_u64(), None),
        _ => None,
    };
    let Some(step) = step else {
        return Err(wrong_code(state, &user, attempt).await);
    };
    let codes = new_recovery_codes();
    let factor = TwoFactor {
        secret: state.two_factor.seal(&user.id, &generated.secret),
        last_step: Some(step),
        recovery: codes
            .iter()
            .map(|code| {
                (
                    state.two_factor.recovery_digest(&user.id, &plain(code)),
                    true,
                )
            })
            .collect(),
        enabled_at: now.millis(),
    };
    let keep = claims.session_id();
    match state
        .store
        .enable_two_factor(&user.id, &pending.secret, &factor, keep)
        .await
    {
        Ok(()) => {}
        // Enabled by a concurrent request, or a newer generate replaced the secret.
        Err(StoreError::Stale) => return Err(already_set()),
        Err(other) => return Err(other.into()),
    }
    attempt.succeed(state, &user).await?;
    // The other sessions began with one factor: the cut-off written with the factor already
    // ends them for every check; deleting them is the tidy-up, and its failure must not cost
    // the user the recovery codes they are about to be shown.
    match state
        .store
        .revoke_user_sessions_except(&user.id, keep)
        .await
    {
        Ok(ended) => {
            tracing::info!(user = %user.id, ended, "two-factor sign-in enabled; other sessions ended")
        }
        Err(error) => {
            tracing::warn!(user = %user.id, %error, "two-factor sign-in enabled; other sessions ended by the cut-off only")
        }
    }
    send_notice(state, &user, Kind::TwoFactorEnabled).await;
    Ok(RecoveryCodes(
        codes.into_iter().map(Sensitive::new).collect(),
    ))
}

/// `POST /users/me/tfa/disable {otp}`: removes the second factor, given a code (or a recovery
/// code) of it. Needs the update permission on one's own `tfa_secret` that enabling needs, and
/// is refused while a policy of the caller enforces a second factor.
pub async fn disable(
    state: &AppState,
    claims: &AccessClaims,
    otp: Option<Sensitive>,
    client: &Client,
    now: Now,
) -> Result<(), ApiError> {
    let otp = present(otp, "otp")?;
    let user = caller_user(state, claims).await?;
    let accountability = crate::flows::access::accountability(state, Some(claims)).await?;
    let mut wanted = Map::new();
    wanted.insert("tfa_secret".into(), Value::Null);
    authorize_write(&accountability, "update", wanted, Some(&row(&user)), now)?;
    let Some(factor) = &user.two_factor else {
        return Err(not_enabled(&user));
    };
    if accountability.enforce_tfa {
        return Err(ApiError::payload(
            "Two-factor sign-in is required for this user",
        ));
    }
    let attempt = code_attempt(state, &user, client, now).await?;
    let Some(proof) = second_factor::verify(state, &user, factor, otp.expose(), now) else {
        return Err(wrong_code(state, &user, attempt).await);
    };
    let written = state
        .store
        .disable_two_factor(&user.id, &factor.secret, &proof.spent)
        .await;
    spent(state, &user, attempt, written).await?;
    tracing::info!(user = %user.id, "two-factor sign-in disabled");
    send_notice(state, &user, Kind::TwoFactorDisabled).await;
    Ok(())
}

/// `POST /users/me/tfa/recovery-codes {password, otp}`: ten new recovery codes replace the
/// old ones (not a Directus route: Directus has no recovery codes). The password and the code
/// are one attempt on the account: it is cleared only when both were right and the codes
/// replaced, and the user is told by mail.
pub async fn regenerate_recovery_codes(
    state: &AppState,
    passwords: &Passwords,
    claims: &AccessClaims,
    password: Option<Sensitive>,
    otp: Option<Sensitive>,
    client: &Client,
    now: Now,
) -> Result<RecoveryCodes, ApiError> {
    let otp = present(otp, "otp")?;
    let password = password_given(password)?;
    let user = caller_user(state, claims).await?;
    let Some(factor) = &user.two_factor else {
        return Err(not_enabled(&user));
    };
    let attempt = password_attempt(state, passwords, &user, &password, client, now).await?;
    let Some(proof) = second_factor::verify(state, &user, factor, otp.expose(), now) else {
        return Err(wrong_code(state, &user, attempt).await);
    };
    let codes = new_recovery_codes();
    let digests: Vec<String> = codes
        .iter()
        .map(|code| state.two_factor.recovery_digest(&user.id, &plain(code)))
        .collect();
    let written = state
        .store
        .replace_recovery_codes(&user.id, &factor.secret, &proof.spent, &digests)
        .await;
    spent(state, &user, attempt, written).await?;
    tracing::info!(user = %user.id, "recovery codes replaced");
    send_notice(state, &user, Kind::RecoveryCodesReplaced).await;
    Ok(RecoveryCodes(
        codes.into_iter().map(Sensitive::new).collect(),
    ))
}

/// A wrong code: the attempt stays counted (it may lock the account), and the answer is
/// Directus' `"otp" is invalid` (or what counting it failed with).
async fn wrong_code(state: &AppState, user: &User, attempt: Attempt) -> ApiError {
    match attempt.refuse(state, user).await {
        Ok(()) => invalid("otp"),
        Err(error) => error,
    }
}

/// The end of a change a code opened: the conditional write that spends the code went through
/// (the account's failures are forgotten), or found it spent meanwhile (a wrong code).
async fn spent(
    state: &AppState,
    user: &User,
    attempt: Attempt,
    written: Result<(), StoreError>,
) -> Result<(), ApiError> {
    match written {
        Ok(()) => attempt.succeed(state, user).await,
        Err(StoreError::Stale) => Err(wrong_code(state, user, attempt).await),
        Err(other) => Err(other.into()),
    }
}

fn not_enabled(user: &User) -> ApiError {
    ApiError::payload(format!("User \"{}\" doesn't have TFA enabled", user.id))
}

/// A recovery code as its digest is made: lower case, no separators.
fn plain(code: &str) -> String {
    match classify(code) {
        SecondFactor::Recovery(plain) => plain,
        _ => code.to_owned(),
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn internal(error: impl std::error::Error + Send + Sync + 'static) -> ApiError {
    ApiError::Internal(Box::new(error))
}

/// Tells the user their second factor changed, by mail, within the mail transport's own time
/// bound. Never fails the request: the change is made; a mail problem is logged.
async fn send_notice(state: &AppState, user: &User, kind: Kind) {
    let settings = match crate::flows::access::settings(state).await {
        Ok(settings) => settings,
        Err(error) => {
            tracing::warn!(%error, "settings unreadable; two-factor notice not sent");
            return;
        }
    };
    let deadline = tokio::time::Instant::now() + state.mailer.timeout();
    crate::flows::send_notice_mail(state, &settings, kind, user, deadline).await;
}

/// What a transport shows of the recovery codes.
pub fn recovery_codes_value(codes: &RecoveryCodes) -> Value {
    json!({ "recovery_codes": codes.0.iter().map(Sensitive::expose).collect::<Vec<_>>() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_compare_in_full() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
        assert!(constant_time_eq(b"", b""));
    }

    #[test]
    fn recovery_codes_are_digested_as_typed_without_separators() {
        assert_eq!(plain("ABCD-EFGH-IJKL-MNOP"), "abcdefghijklmnop");
        assert_eq!(plain("abcdefghijklmnop"), "abcdefghijklmnop");
    }

    #[test]
    fn payload_messages_are_directus() {
        assert_eq!(
            present(None, "otp").unwrap_err().to_string(),
            "Invalid payload. \"otp\" is required."
        );
        assert_eq!(
            present(Some(Sensitive::new("")), "secret")
                .unwrap_err()
                .to_string(),
            "Invalid payload. \"secret\" is required."
        );
        assert_eq!(
            invalid("otp").to_string(),
            "Invalid payload. \"otp\" is invalid."
        );
        assert_eq!(
            already_set().to_string(),
            "Invalid payload. TFA Secret is already set for this user."
        );
    }
}
