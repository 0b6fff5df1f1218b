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
use crate::flows::time::Now;
use crate::flows::{AnswerAt, send_link_mail};
use crate::platform::state::AppState;
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

/// When an unverified account created at `now` expires (epoch seconds).
pub fn unverified_expiry(state: &AppState, now: Now) -> i64 {
    now.secs().saturating_add(
        i64::try_from(state.config.email.unverified_user_ttl.as_secs()).unwrap_or(i64::MAX),
    )
}

/// Mails the unverified account `user` a link that verifies one registration of its address:
/// its own (`pending` is `None`: the registration that created it) or the later one `pending`.
/// The link is bound to that registration (its id as `jti`, a fingerprint of its password) and
/// greets its names. Skipped when the recipient's mail budget is spent; gives up at `answer`'s
/// deadline. The link is issued at `now`. Never fails: every problem is logged (not the link).
pub async fn send_verification(
    state: &AppState,
    user: &User,
    pending: Option<&PendingRegistration>,
    verification_url: Option<&str>,
    answer: AnswerAt,
    now: Now,
) {
    if user.status != UserStatus::Unverified {
        return;
    }
    match crate::flows::limits::mail_allowed(state, &user.email, now).await {
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
        now.secs_u64(),
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
            exp.saturating_sub(now.secs_u64()),
        )),
        answer,
    )
    .await;
}

/// The checks of a verification token at `now` that read nothing: signature, claims, expiry,
/// scope. A token that is not one of ours is `INVALID_TOKEN`, an expired one `TOKEN_EXPIRED`
/// (from the second its `exp` names), one of another scope `FORBIDDEN`.
pub fn check_link(state: &AppState, token: &str, now: Now) -> Result<LinkClaims, ApiError> {
    state
        .links
        .verify(token, Scope::PendingRegistration, now.secs_u64())
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
pub async fn verify_registration(
    state: &AppState,
    token: &str,
    now: Now,
) -> Result<String, ApiError> {
    let claims = check_link(state, token, now)?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::state::unreachable_state;
    use std::time::Duration;

    /// When the links here are issued (epoch seconds): long past, so a check that read the
    /// clock instead of its `now` would find every one of them expired.
    const ISSUED: u64 = 1_700_000_000;
    const TTL: Duration = Duration::from_secs(600);
    /// The second the links' `exp` names.
    const EXP: u64 = ISSUED + 600;

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
                TTL,
                None,
            )
            .unwrap();
        assert_eq!(exp, EXP);
        token.expose().to_owned()
    }

    #[test]
    fn a_verification_link_holds_until_the_second_its_exp_names() {
        let state = unreachable_state();
        let token = link(&state, Scope::PendingRegistration, None);
        let claims = check_link(&state, &token, at_millis(ISSUED * 1000)).unwrap();
        assert_eq!(
            (claims.id.as_str(), claims.email.as_str()),
            ("u1", "a@example.com")
        );
        // Its last millisecond still counts as the second before `exp`.
        assert!(check_link(&state, &token, at_millis(EXP * 1000 - 1)).is_ok());
        for expired in [EXP * 1000, EXP * 1000 + 1, (EXP + 1) * 1000] {
            assert_eq!(
                check_link(&state, &token, at_millis(expired))
                    .unwrap_err()
                    .code(),
                "TOKEN_EXPIRED",
                "{expired}"
            );
        }
        // A reset link is refused here at any time.
        let reset = link(&state, Scope::PasswordReset, Some("r1"));
        assert_eq!(
            check_link(&state, &reset, at_millis(ISSUED * 1000))
                .unwrap_err()
                .code(),
            "FORBIDDEN"
        );
    }

    #[test]
    fn an_unverified_account_expires_its_ttl_after_the_whole_second_it_was_made_in() {
        let state = unreachable_state();
        let ttl = i64::try_from(state.config.email.unverified_user_ttl.as_secs()).unwrap();
        assert_eq!(
            unverified_expiry(&state, Now::from_millis(1_700_000_000_999)),
            1_700_000_000 + ttl
        );
    }
}
