//! Email verification of public registrations (`public_registration_verify_email`): the mail a
//! registration sends, and `GET /users/register/verify-email?token=` that makes the account
//! active, once.

use crate::email::{links, templates};
use crate::error::ApiError;
use crate::flows::link_token::{LinkError, Scope, password_fingerprint};
use crate::flows::{AnswerAt, send_link_mail};
use crate::state::{AppState, now_secs};
use crate::store::{StoreError, User, UserStatus, email_key};

/// Refuses a `verification_url` outside `USER_REGISTER_URL_ALLOW_LIST` (Directus' first check of
/// a registration, before anything is read).
pub fn check_verification_url(state: &AppState, url: Option<&str>) -> Result<(), ApiError> {
    match url {
        Some(url) if !links::is_allowed(url, &state.config.email.register_allow_list) => {
            Err(ApiError::payload(format!(
                "URL \"{url}\" can't be used to verify registered users"
            )))
        }
        _ => Ok(()),
    }
}

/// When a new unverified account expires (epoch seconds).
pub fn unverified_expiry(state: &AppState) -> i64 {
    let secs = i64::try_from(now_secs()).unwrap_or(i64::MAX);
    secs.saturating_add(
        i64::try_from(state.config.email.unverified_user_ttl.as_secs()).unwrap_or(i64::MAX),
    )
}

/// Mails `user` (unverified) a verification link, unless the recipient's mail budget is spent,
/// giving up at `answer`'s deadline. Never fails: every problem is logged (not the link).
pub async fn send_verification(
    state: &AppState,
    user: &User,
    verification_url: Option<&str>,
    answer: AnswerAt,
) {
    if user.status != UserStatus::Unverified {
        return;
    }
    match crate::limits::mail_allowed(state, &user.email).await {
        Ok(true) => {}
        Ok(false) => {
            tracing::warn!(user = %user.id, "verification mail not sent: the recipient's mail limit is reached");
            return;
        }
        Err(error) => {
            tracing::error!(%error, "verification mail not sent: the mail limit could not be counted");
            return;
        }
    }
    let settings = match state
        .access
        .settings(&state.store, &state.config.default_settings)
        .await
    {
        Ok(settings) => settings,
        Err(error) => {
            tracing::error!(%error, "verification mail not sent: no settings");
            return;
        }
    };
    let email = &state.config.email;
    let base = match verification_url {
        Some(url) => url.to_owned(),
        None => match &email.public_url {
            Some(public) => format!("{public}/users/register/verify-email"),
            None => {
                tracing::error!("verification mail not sent: PUBLIC_URL is not set");
                return;
            }
        },
    };
    // The account's own expiry bounds the link's.
    let expires = user.created_at / 1000
        + i64::try_from(email.unverified_user_ttl.as_secs()).unwrap_or(i64::MAX);
    // Bound to the password this registration set: a later registration of the address
    // replaces it, and this link then answers as a used one does.
    let issued = state.links.issue(
        Scope::PendingRegistration,
        &user.id,
        &user.email,
        None,
        Some(password_fingerprint(user.password.as_ref())),
        now_secs(),
        email.verification_ttl,
        u64::try_from(expires).ok(),
    );
    let (token, exp) = match issued {
        Ok(issued) => issued,
        Err(error) => {
            tracing::error!(%error, "verification mail not sent: the token could not be signed");
            return;
        }
    };
    let Some(url) = links::with_token(&base, token.expose()) else {
        tracing::error!("verification mail not sent: the link base is not a URL");
        return;
    };
    send_link_mail(
        state,
        &settings,
        templates::Kind::UserRegistration,
        user,
        &url,
        templates::in_words(std::time::Duration::from_secs(
            exp.saturating_sub(now_secs()),
        )),
        answer,
    )
    .await;
}

/// `users_register_verify` / `GET /users/register/verify-email`: makes the account the token
/// names active. Returns the user's id. A token that is not one of ours is `INVALID_TOKEN`, an
/// expired one `TOKEN_EXPIRED`, one of another scope `FORBIDDEN`, and one whose account is not
/// (or no longer) unverified — a second click — Directus' `400 Invalid verification code.`
/// So is a link mailed for another password than the account's (an earlier registration of
/// the address, or a link without the fingerprint): only the latest registration's link
/// activates, with that registration's password, checked again in the activating write.
pub async fn verify_registration(state: &AppState, token: &str) -> Result<String, ApiError> {
    let claims = state
        .links
        .verify(token, Scope::PendingRegistration, now_secs())
        .map_err(|error| match error {
            LinkError::Invalid => ApiError::InvalidToken,
            LinkError::Expired => ApiError::TokenExpired,
            LinkError::WrongScope => ApiError::forbidden(),
        })?;
    let invalid_code = || ApiError::payload("Invalid verification code");
    let fingerprint = claims.hash.as_deref().ok_or_else(invalid_code)?;
    let user = state
        .store
        .get_user(&claims.id)
        .await?
        .filter(|u| {
            email_key(&u.email) == email_key(&claims.email)
                && password_fingerprint(u.password.as_ref()) == fingerprint
        })
        .ok_or_else(invalid_code)?;
    if user.status != UserStatus::Unverified {
        return Err(invalid_code());
    }
    let Some(password) = &user.password else {
        return Err(invalid_code());
    };
    match state
        .store
        .activate_unverified(&user.id, &user.email, password)
        .await
    {
        Ok(()) => {
            tracing::info!(user = %user.id, "email verified");
            Ok(user.id)
        }
        Err(StoreError::Stale) => Err(invalid_code()),
        Err(other) => Err(other.into()),
    }
}
