//! Email verification of public registrations (`public_registration_verify_email`): the mail a
//! registration sends, and the verification (`POST /users/register/verify-email`, an API
//! client's `GET`, GraphQL's `users_register_verify`) that makes the account active, once.
//!
//! Registering an unverified address again never changes the account: the new registration is
//! recorded beside it (its own password and names, a random id) and mailed a link of its own.
//! Each link activates the registration it was mailed for, with that registration's password;
//! the first link used wins, and every other one then answers as a used link. So whoever
//! registers an address first (or last) cannot take over the account its owner verifies with
//! the link of their own registration.

use crate::credential::link_token::{LinkClaims, LinkError, Scope, password_fingerprint};
use crate::domain::error::ApiError;
use crate::domain::links;
use crate::domain::model::{User, UserStatus};
use crate::email::templates;
use crate::flows::{AnswerAt, send_link_mail};
use crate::platform::state::{AppState, now_secs};
use crate::store::{Activation, PendingRegistration, StoreError, email_key};

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

/// Mails the unverified account `user` a link that verifies one registration of its address:
/// its own (`pending` is `None`: the registration that created it) or the later one `pending`.
/// The link is bound to that registration (its id as `jti`, a fingerprint of its password) and
/// greets its names. Skipped when the recipient's mail budget is spent; gives up at `answer`'s
/// deadline. Never fails: every problem is logged (not the link).
pub async fn send_verification(
    state: &AppState,
    user: &User,
    pending: Option<&PendingRegistration>,
    verification_url: Option<&str>,
    answer: AnswerAt,
) {
    if user.status != UserStatus::Unverified {
        return;
    }
    match crate::flows::limits::mail_allowed(state, &user.email).await {
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
        None => match email.default_verification_base() {
            Some(default) => default,
            None => {
                tracing::error!("verification mail not sent: PUBLIC_URL is not set");
                return;
            }
        },
    };
    // The account's own expiry bounds the link's.
    let expires = user.created_at / 1000
        + i64::try_from(email.unverified_user_ttl.as_secs()).unwrap_or(i64::MAX);
    let mut registrant = user.clone();
    if let Some(pending) = pending {
        registrant.password = Some(pending.password.clone());
        registrant.first_name.clone_from(&pending.first_name);
        registrant.last_name.clone_from(&pending.last_name);
    }
    let issued = state.links.issue(
        Scope::PendingRegistration,
        &user.id,
        &user.email,
        pending.map(|p| p.id.clone()),
        Some(password_fingerprint(registrant.password.as_ref())),
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
        &registrant,
        &url,
        templates::in_words(std::time::Duration::from_secs(
            exp.saturating_sub(now_secs()),
        )),
        answer,
    )
    .await;
}

/// The checks of a verification token that read nothing: signature, claims, expiry, scope. A
/// token that is not one of ours is `INVALID_TOKEN`, an expired one `TOKEN_EXPIRED`, one of
/// another scope `FORBIDDEN`.
pub fn check_link(state: &AppState, token: &str) -> Result<LinkClaims, ApiError> {
    state
        .links
        .verify(token, Scope::PendingRegistration, now_secs())
        .map_err(|error| match error {
            LinkError::Invalid => ApiError::InvalidToken,
            LinkError::Expired => ApiError::TokenExpired,
            LinkError::WrongScope => ApiError::forbidden(),
        })
}

/// `users_register_verify` / the verification link: makes the account the token names active
/// with the password (and names) of the registration the link was mailed for. Returns the
/// user's id. Token errors as [`check_link`]; Directus' `400 Invalid verification code.` when
/// the account is not (or no longer) unverified — a second click, or another link of the
/// address used first: the first one used wins — or no longer holds that registration (a link
/// without the password fingerprint, or for another password, or for a later registration it
/// does not record). The activating write checks it all again.
pub async fn verify_registration(state: &AppState, token: &str) -> Result<String, ApiError> {
    let claims = check_link(state, token)?;
    let invalid_code = || ApiError::payload("Invalid verification code");
    let fingerprint = claims.hash.as_deref().ok_or_else(invalid_code)?;
    let (user, pending) = state
        .store
        .get_user_with_registrations(&claims.id)
        .await?
        .filter(|(user, _)| {
            user.status == UserStatus::Unverified
                && email_key(&user.email) == email_key(&claims.email)
        })
        .ok_or_else(invalid_code)?;
    let activation = match claims.jti.as_deref() {
        None => {
            let password_hash = user
                .password
                .as_ref()
                .filter(|hash| password_fingerprint(Some(hash)) == fingerprint)
                .ok_or_else(invalid_code)?;
            Activation::Account { password_hash }
        }
        Some(id) => {
            let (index, registration) = pending
                .iter()
                .enumerate()
                .find(|(_, registration)| {
                    registration.id == id
                        && password_fingerprint(Some(&registration.password)) == fingerprint
                })
                .ok_or_else(invalid_code)?;
            Activation::Pending {
                index,
                registration,
            }
        }
    };
    match state
        .store
        .activate_unverified(&user.id, &user.email, &activation)
        .await
    {
        Ok(()) => {
            tracing::info!(user = %user.id, later = claims.jti.is_some(), "email verified");
            Ok(user.id)
        }
        Err(StoreError::Stale) => Err(invalid_code()),
        Err(other) => Err(other.into()),
    }
}
