//! `POST /auth/password/request` and `POST /auth/password/reset` (GraphQL's
//! `auth_password_request` and `auth_password_reset`).
//!
//! A request answers `204` for every address after the same steps and at the same moment
//! (`EMAIL_SEND_TIMEOUT` after it began; what it does for the address is given up if still
//! running then); only an active user with a password gets a mail.
//! The link's token is short-lived (`PASSWORD_RESET_TOKEN_TTL`), recorded in the store and spent
//! by the reset in the same transaction that writes the new password, and names the password
//! hash it replaces, so it works once. A reset ends every session and every access token of the
//! user issued before it.

use crate::credential::link_token::{LinkClaims, LinkError, Scope, password_fingerprint};
use crate::credential::password::Passwords;
use crate::domain::client::Client;
use crate::domain::error::ApiError;
use crate::domain::links;
use crate::domain::model::{User, UserStatus};
use crate::domain::sensitive::Sensitive;
use crate::domain::text::{MAX_EMAIL_CHARS, valid_email};
use crate::email::templates;
use crate::flows::limits::{Limited, enforce};
use crate::flows::time::Now;
use crate::flows::{AnswerAt, send_link_mail};
use crate::platform::state::AppState;
use crate::store::{StoreError, email_key};

/// The longest `reset_url` accepted (REST and GraphQL alike).
const MAX_RESET_URL_CHARS: usize = 2048;

/// A request for a reset link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswordRequest {
    pub email: String,
    /// Where the link points; must be in `PASSWORD_RESET_URL_ALLOW_LIST`.
    pub reset_url: Option<String>,
}

/// A reset: the link's token and the new password.
#[derive(Debug, Clone)]
pub struct PasswordReset {
    pub token: Sensitive,
    pub password: Sensitive,
}

/// `auth_password_request`: always `Ok(())` for a well-formed request, known address or not.
/// Errors: `400` for a `reset_url` outside the allow-list (checked before the address is looked
/// at, so it reveals nothing), `429` past the per-client limit. Limits are counted and the link
/// issued at `now`.
pub async fn request_password_reset(
    state: &AppState,
    input: PasswordRequest,
    client: &Client,
    now: Now,
) -> Result<(), ApiError> {
    // An empty `reset_url` is none (falsy in Directus too).
    let input = PasswordRequest {
        reset_url: input.reset_url.filter(|url| !url.is_empty()),
        ..input
    };
    if input
        .reset_url
        .as_ref()
        .is_some_and(|u| u.chars().count() > MAX_RESET_URL_CHARS)
    {
        return Err(ApiError::payload(format!(
            "\"reset_url\" length must be less than or equal to {MAX_RESET_URL_CHARS} characters long"
        )));
    }
    if let Some(url) = &input.reset_url
        && !links::is_allowed(url, &state.config.email.password_reset_allow_list)
    {
        tracing::info!("password reset requested with a URL outside the allow-list");
        return Err(ApiError::payload(format!(
            "URL \"{url}\" can't be used to reset passwords"
        )));
    }
    enforce(state, client, Limited::PasswordRequest, now).await?;
    let answer = AnswerAt::after(state.mailer.timeout());
    answer
        .after_work(
            "password reset request",
            for_address(
                state,
                input.email.trim(),
                input.reset_url.as_deref(),
                answer,
                now,
            ),
        )
        .await;
    Ok(())
}

/// What a request does for the address it names: a mail with a link when it is an active
/// user's with a password (and the recipient's mail budget allows one), nothing otherwise.
/// Every problem is logged, none answered.
async fn for_address(
    state: &AppState,
    email: &str,
    reset_url: Option<&str>,
    answer: AnswerAt,
    now: Now,
) {
    // Not an address: nothing to look up (the syntax is no secret).
    if email.chars().count() > MAX_EMAIL_CHARS || !valid_email(email) {
        return;
    }
    let user = match state.store.find_user_by_email(email).await {
        Ok(user) => user,
        Err(error) => {
            tracing::error!(%error, "password reset request: the lookup failed");
            return;
        }
    };
    // Counted for every address, known or not: the same writes either way.
    match crate::flows::limits::mail_allowed(state, email, now).await {
        Ok(true) => {}
        Ok(false) => {
            tracing::warn!("password reset mail not sent: the recipient's mail limit is reached");
            return;
        }
        Err(error) => {
            tracing::error!(%error, "password reset mail not sent");
            return;
        }
    }
    if let Some(user) = user.filter(|u| u.status == UserStatus::Active && u.password.is_some()) {
        send_reset(state, &user, reset_url, answer, now).await;
    }
}

async fn send_reset(
    state: &AppState,
    user: &User,
    reset_url: Option<&str>,
    answer: AnswerAt,
    now: Now,
) {
    let settings = match state
        .access
        .settings(&state.store, &state.config.default_settings)
        .await
    {
        Ok(settings) => settings,
        Err(error) => {
            tracing::error!(%error, "password reset mail not sent: no settings");
            return;
        }
    };
    let config = &state.config.email;
    let base = match (reset_url, config.default_reset_base()) {
        (Some(url), _) => url.to_owned(),
        // The hosted reset page (Directus' default, its admin app's page, with HOSTED_PAGES
        // off).
        (None, Some(default)) => default,
        (None, None) => {
            tracing::error!("password reset mail not sent: no reset_url and no PUBLIC_URL");
            return;
        }
    };
    let token_id = uuid::Uuid::new_v4().simple().to_string();
    let issued = state.links.issue(
        Scope::PasswordReset,
        &user.id,
        &user.email,
        Some(token_id.clone()),
        Some(password_fingerprint(user.password.as_ref())),
        now.secs_u64(),
        config.password_reset_ttl,
        None,
    );
    let (token, exp) = match issued {
        Ok(issued) => issued,
        Err(error) => {
            tracing::error!(%error, "password reset mail not sent: the token could not be signed");
            return;
        }
    };
    if let Err(error) = state
        .store
        .put_reset_token(&token_id, &user.id, i64::try_from(exp).unwrap_or(i64::MAX))
        .await
    {
        tracing::error!(%error, "password reset mail not sent: the token could not be recorded");
        return;
    }
    let Some(url) = links::with_token(&base, token.expose()) else {
        tracing::error!("password reset mail not sent: the link base is not a URL");
        return;
    };
    send_link_mail(
        state,
        &settings,
        templates::Kind::PasswordReset,
        user,
        &url,
        templates::in_words(config.password_reset_ttl),
        answer,
    )
    .await;
}

/// `auth_password_reset`: sets the new password and ends every session and earlier access
/// token of the user. Errors: `429` past the per-client limit; `403 INVALID_TOKEN` for a token
/// that is not a reset token of ours, `401 TOKEN_EXPIRED` for an expired one, `403 FORBIDDEN`
/// for one of another scope, one already used, one issued before the password last changed, or
/// a user who is gone or not active; `400 FAILED_VALIDATION` for a password the policy refuses.
/// The limit is counted and the token checked at `now`.
pub async fn reset_password(
    state: &AppState,
    passwords: &Passwords,
    input: PasswordReset,
    client: &Client,
    now: Now,
) -> Result<(), ApiError> {
    enforce(state, client, Limited::PasswordReset, now).await?;
    let claims = check_link(state, input.token.expose(), now)?;
    let (Some(token_id), Some(fingerprint)) = (claims.jti.as_deref(), claims.hash.as_deref())
    else {
        return Err(ApiError::InvalidToken);
    };
    let user = state
        .store
        .get_user(&claims.id)
        .await?
        .filter(|u| {
            u.status == UserStatus::Active
                && email_key(&u.email) == email_key(&claims.email)
                && password_fingerprint(u.password.as_ref()) == fingerprint
        })
        .ok_or_else(ApiError::forbidden)?;
    let settings = state
        .access
        .settings(&state.store, &state.config.default_settings)
        .await?;
    crate::credential::password::enforce_policy(&input.password, &settings)?;
    let hash = passwords
        .hash(&input.password)
        .await
        .map_err(|e| ApiError::Internal(Box::new(e)))?;
    match state.store.reset_password(token_id, &user.id, &hash).await {
        Ok(()) => {}
        // Spent, expired, or the user changed meanwhile.
        Err(StoreError::Stale) => return Err(ApiError::forbidden()),
        Err(other) => return Err(other.into()),
    }
    // The password is written and the token spent: the reset has happened, whatever follows.
    // The cut-off written with it already ends every earlier session and access token
    // (`User::cut_off`: a refresh, the caller check and a session-mode token's session check
    // all apply it); this only removes the session items, so a failure here is logged, not
    // answered (a retry would find the token spent and answer 403).
    match state.store.revoke_user_sessions(&user.id).await {
        Ok(ended) => tracing::info!(user = %user.id, sessions = ended, "password reset"),
        Err(error) => tracing::error!(
            user = %user.id,
            %error,
            "password reset; its sessions (already ended by the cut-off) could not be deleted"
        ),
    }
    Ok(())
}

/// The checks of a reset token at `now` that read nothing: signature, claims, expiry, scope. A
/// token that is not one of ours is `INVALID_TOKEN`, an expired one `TOKEN_EXPIRED` (from the
/// second its `exp` names), one of another scope `FORBIDDEN`.
pub fn check_link(state: &AppState, token: &str, now: Now) -> Result<LinkClaims, ApiError> {
    state
        .links
        .verify(token, Scope::PasswordReset, now.secs_u64())
        .map_err(|error| match error {
            LinkError::Invalid => ApiError::InvalidToken,
            LinkError::Expired => ApiError::TokenExpired,
            LinkError::WrongScope => ApiError::forbidden(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::state::unreachable_state;
    use std::time::Duration;

    /// When the links here are issued (epoch seconds): long past, so a check that read the
    /// clock instead of its `now` would find every one of them expired.
    const ISSUED: u64 = 1_700_000_000;
    /// The second the links' `exp` names (an hour, `PASSWORD_RESET_TOKEN_TTL`'s default).
    const EXP: u64 = ISSUED + 3600;

    fn at_millis(millis: u64) -> Now {
        Now::from_millis(i64::try_from(millis).unwrap())
    }

    fn link(state: &AppState, scope: Scope, jti: Option<&str>) -> String {
        let (token, exp) = state
            .links
            .issue(
                scope,
                "u1",
                "a@example.com",
                jti.map(str::to_owned),
                Some(password_fingerprint(None)),
                ISSUED,
                Duration::from_secs(3600),
                None,
            )
            .unwrap();
        assert_eq!(exp, EXP);
        token.expose().to_owned()
    }

    #[test]
    fn a_reset_link_is_accepted_at_its_last_second_and_expired_one_second_later() {
        let state = unreachable_state();
        let token = link(&state, Scope::PasswordReset, Some("t1"));
        let last_second = at_millis((EXP - 1) * 1000);
        let claims = check_link(&state, &token, last_second).unwrap();
        assert_eq!(claims.jti.as_deref(), Some("t1"));
        assert!(check_link(&state, &token, at_millis(EXP * 1000 - 1)).is_ok());
        for expired in [EXP * 1000, (EXP - 1) * 1000 + 1000] {
            assert_eq!(
                check_link(&state, &token, at_millis(expired))
                    .unwrap_err()
                    .code(),
                "TOKEN_EXPIRED"
            );
        }
        // A verification link is not a reset link, and a reset link must name its record.
        let verification = link(&state, Scope::PendingRegistration, None);
        assert_eq!(
            check_link(&state, &verification, last_second)
                .unwrap_err()
                .code(),
            "FORBIDDEN"
        );
        let unrecorded = link(&state, Scope::PasswordReset, None);
        assert_eq!(
            check_link(&state, &unrecorded, last_second)
                .unwrap_err()
                .code(),
            "INVALID_TOKEN"
        );
    }
}
