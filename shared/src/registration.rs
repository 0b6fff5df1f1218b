//! `POST /users/register` (and its alias `POST /register`): public self-registration.
//! New and existing emails get the same 204 after the same work (one argon2 hash), so the
//! endpoint never reveals whether an address is registered.

use serde_json::{Map, Value};

use crate::access::filter;
use crate::client::Client;
use crate::error::ApiError;
use crate::http;
use crate::password::MAX_PASSWORD_CHARS;
use crate::password::Passwords;
use crate::sensitive::Sensitive;
use crate::store::{NewUser, StoreError, User, UserStatus, now_millis};
use crate::users::MAX_NAME_CHARS;

use crate::state::AppState;

/// The fields a registration may carry.
pub const ALLOWED_FIELDS: [&str; 5] = [
    "email",
    "password",
    "verification_url",
    "first_name",
    "last_name",
];
pub const MAX_URL_CHARS: usize = 2048;

/// What a registration presents (REST's body, GraphQL's `users_register` arguments).
#[derive(Debug, Clone)]
pub struct Registration {
    pub email: String,
    pub password: Sensitive,
    pub verification_url: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
}

fn invalid(field: &str, kind: &'static str, detail: &str) -> ApiError {
    ApiError::FailedValidation {
        field: field.to_owned(),
        kind,
        detail: detail.to_owned(),
    }
}

/// The bounds every transport gets (REST checks the same with Joi's 400s first): a valid email
/// without control characters, a password within the limit, bounded names free of control
/// characters, a bounded URL. `FAILED_VALIDATION`, as Directus' create step answers.
fn validate(registration: &Registration) -> Result<String, ApiError> {
    let email = registration.email.trim_matches(' ');
    if email.chars().count() > http::MAX_EMAIL_CHARS || !http::valid_email(email) {
        return Err(invalid(
            "email",
            "email",
            "Value has to be a valid email address.",
        ));
    }
    let password = registration.password.expose();
    if password.is_empty() {
        return Err(invalid("password", "required", "Value is required."));
    }
    if password.chars().count() > MAX_PASSWORD_CHARS {
        return Err(invalid(
            "password",
            "max",
            &format!("Value can't be longer than {MAX_PASSWORD_CHARS} characters."),
        ));
    }
    for (field, value) in [
        ("first_name", &registration.first_name),
        ("last_name", &registration.last_name),
    ] {
        let Some(value) = value else { continue };
        if value.chars().count() > MAX_NAME_CHARS {
            return Err(invalid(
                field,
                "max",
                &format!("Value can't be longer than {MAX_NAME_CHARS} characters."),
            ));
        }
        if value.chars().any(http::is_control) {
            return Err(invalid(
                field,
                "regex",
                "Value can't contain control characters.",
            ));
        }
    }
    if registration
        .verification_url
        .as_ref()
        .is_some_and(|url| url.chars().count() > MAX_URL_CHARS)
    {
        return Err(invalid(
            "verification_url",
            "max",
            &format!("Value can't be longer than {MAX_URL_CHARS} characters."),
        ));
    }
    Ok(email.to_owned())
}

/// Public self-registration: counted against the client address's registration budget before
/// any hashing; new and existing emails get the same answer after the same work.
pub async fn register(
    state: &AppState,
    passwords: &Passwords,
    registration: Registration,
    client: &Client,
) -> Result<(), ApiError> {
    let email = validate(&registration)?;
    let Registration {
        password,
        verification_url,
        first_name,
        last_name,
        ..
    } = registration;
    // Directus' first check: a link only to an allow-listed URL (400 for every address). An
    // empty one is none (falsy there too).
    let verification_url = verification_url.filter(|url| !url.is_empty());
    crate::flows::verification::check_verification_url(state, verification_url.as_deref())?;
    crate::limits::enforce(state, client, crate::limits::Limited::Register).await?;

    // The same cached item the rate limiter just read: one settings read per cache period.
    let settings = state
        .access
        .settings(&state.store, &state.config.default_settings)
        .await?;
    if !settings.public_registration {
        return Err(ApiError::forbidden());
    }
    if let Some(email_filter) = &settings.public_registration_email_filter {
        let mut candidate = Map::new();
        candidate.insert("email".into(), Value::String(email.clone()));
        let context = filter::FilterContext {
            now_millis: now_millis(),
            ..Default::default()
        };
        let allowed = filter::matches(email_filter, &candidate, &context).unwrap_or_else(|error| {
            tracing::warn!(%error, "invalid public_registration_email_filter; refusing registration");
            false
        });
        if !allowed {
            return Err(ApiError::forbidden());
        }
    }

    // With verification on, a mail may go out: the answer comes at one fixed moment for new,
    // unverified and active addresses alike.
    let verify = settings.public_registration_verify_email;
    let answer = verify.then(|| crate::flows::AnswerAt::after(state.mailer.timeout()));
    crate::password::enforce_policy(&password, &settings)?;
    let password_hash = passwords
        .hash(&password)
        .await
        .map_err(|e| ApiError::Internal(Box::new(e)))?;
    let new_user_hash = password_hash.clone();
    let new_user = NewUser {
        email: email.clone(),
        password_hash,
        status: if settings.public_registration_verify_email {
            UserStatus::Unverified
        } else {
            UserStatus::Active
        },
        role: settings.public_registration_role.clone(),
        first_name,
        last_name,
        policies: Vec::new(),
    };
    let expires_at = verify.then(|| crate::flows::verification::unverified_expiry(state));
    let created = match state.store.create_user_expiring(new_user, expires_at).await {
        Ok(user) => {
            tracing::info!(user = %user.id, "registered");
            Some(user)
        }
        // Same answer as for a new address: no enumeration.
        Err(StoreError::AlreadyExists) => {
            tracing::info!("registration for a taken email");
            None
        }
        Err(other) => return Err(other.into()),
    };
    if let Some(answer) = answer {
        answer
            .after_work("registration", async {
                let unverified = match created {
                    Some(user) => Some(user),
                    None => taken_unverified(state, &email, &new_user_hash).await,
                };
                if let Some(user) = &unverified {
                    crate::flows::verification::send_verification(
                        state,
                        user,
                        verification_url.as_deref(),
                        answer,
                    )
                    .await;
                }
            })
            .await;
    }
    Ok(())
}

/// A taken address still unverified gets a new link, for this registration's password: it
/// replaces the earlier one, so the link the owner of the address clicks never activates a
/// password someone else chose by registering the address first. The account to mail, or
/// `None` (an active account, or a problem, logged).
async fn taken_unverified(
    state: &AppState,
    email: &str,
    password_hash: &Sensitive,
) -> Option<User> {
    match state.store.find_user_by_email(email).await {
        Ok(Some(user)) if user.status == UserStatus::Unverified => {
            replace_unverified_password(state, user, password_hash).await
        }
        Ok(_) => None,
        Err(error) => {
            tracing::error!(%error, "registration: the taken address could not be read");
            None
        }
    }
}

/// The unverified `user` with `password_hash` in place of its own, or `None` (logged) when it
/// could not be replaced (verified or expired meanwhile: no mail then).
async fn replace_unverified_password(
    state: &AppState,
    mut user: User,
    password_hash: &Sensitive,
) -> Option<User> {
    match state
        .store
        .replace_unverified_password(&user.id, password_hash)
        .await
    {
        Ok(()) => {
            user.password = Some(password_hash.clone());
            Some(user)
        }
        Err(StoreError::Stale) => {
            tracing::info!(user = %user.id, "registration: the unverified account changed meanwhile");
            None
        }
        Err(error) => {
            tracing::error!(%error, "registration: the unverified account's password could not be replaced");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn registration(email: &str, password: &str) -> Registration {
        Registration {
            email: email.into(),
            password: Sensitive::new(password),
            verification_url: None,
            first_name: None,
            last_name: None,
        }
    }

    #[test]
    fn every_transport_gets_the_bounds_as_failed_validation() {
        assert_eq!(
            validate(&registration(" Hello@Example.com ", "d1r3ctu5")).unwrap(),
            "Hello@Example.com"
        );
        for (bad, field) in [
            (registration("nope", "d1r3ctu5"), "email"),
            (registration("a\u{1}@example.com", "d1r3ctu5"), "email"),
            (registration("a@example.com", ""), "password"),
            (
                registration("a@example.com", &"x".repeat(MAX_PASSWORD_CHARS + 1)),
                "password",
            ),
            (
                Registration {
                    first_name: Some("a\u{202e}b".into()),
                    ..registration("a@example.com", "d1r3ctu5")
                },
                "first_name",
            ),
            (
                Registration {
                    last_name: Some("x".repeat(MAX_NAME_CHARS + 1)),
                    ..registration("a@example.com", "d1r3ctu5")
                },
                "last_name",
            ),
            (
                Registration {
                    verification_url: Some("x".repeat(MAX_URL_CHARS + 1)),
                    ..registration("a@example.com", "d1r3ctu5")
                },
                "verification_url",
            ),
        ] {
            let error = validate(&bad).unwrap_err();
            assert_eq!(error.code(), "FAILED_VALIDATION", "{field}");
            assert!(error.to_string().contains(field), "{error}");
        }
    }
}
