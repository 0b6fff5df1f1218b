//! `POST /users/register` (and its alias `POST /register`): public self-registration.
//! New and existing emails get the same 204 after the same work (one argon2 hash), so the
//! endpoint never reveals whether an address is registered.

use lambda_http::Request;
use serde_json::{Map, Value};

use crate::access::filter;
use crate::error::ApiError;
use crate::http::{self, HttpResponse};
use crate::password::MAX_PASSWORD_CHARS;
use crate::password::Passwords;
use crate::sensitive::Sensitive;
use crate::store::{NewUser, StoreError, UserStatus, now_millis};
use crate::users::MAX_NAME_CHARS;

use crate::state::AppState;

const ALLOWED_FIELDS: [&str; 5] = [
    "email",
    "password",
    "verification_url",
    "first_name",
    "last_name",
];
const MAX_URL_CHARS: usize = 2048;

pub async fn register(
    state: &AppState,
    passwords: &Passwords,
    request: &Request,
) -> Result<HttpResponse, ApiError> {
    crate::auth::caller(state, request).await?;
    // The payload first: a malformed one is a 400 that touches nothing. Then the limit, before
    // any hashing.
    let body = http::json_object(request)?;
    if let Some(unknown) = body.keys().find(|k| !ALLOWED_FIELDS.contains(&k.as_str())) {
        return Err(ApiError::payload(format!("\"{unknown}\" is not allowed")));
    }
    let email = http::required_email(&body)?;
    let password = Sensitive::new(http::required_string(
        &body,
        "password",
        MAX_PASSWORD_CHARS,
    )?);
    let first_name = name(&body, "first_name")?;
    let last_name = name(&body, "last_name")?;
    let verification_url = bounded(&body, "verification_url", MAX_URL_CHARS)?;
    crate::flows::verification::check_verification_url(state, verification_url.as_deref())?;
    crate::limits::enforce(state, request, crate::limits::Limited::Register).await?;

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
    let registered = match state.store.create_user_expiring(new_user, expires_at).await {
        Ok(user) => {
            tracing::info!(user = %user.id, "registered");
            Some(user)
        }
        // Same answer as for a new address: no enumeration.
        Err(StoreError::AlreadyExists) => {
            tracing::info!("registration for a taken email");
            // An address still unverified gets its link again (its password is kept).
            match answer {
                Some(_) => state.store.find_user_by_email(&email).await.unwrap_or_else(|error| {
                    tracing::error!(%error, "registration: the taken address could not be read");
                    None
                }),
                None => None,
            }
        }
        Err(other) => return Err(other.into()),
    };
    if let Some(answer) = answer {
        if let Some(user) = &registered {
            crate::flows::verification::send_verification(
                state,
                user,
                verification_url.as_deref(),
                answer,
            )
            .await;
        }
        answer.wait().await;
    }
    Ok(http::no_content())
}

/// A name: bounded, and free of control characters.
fn name(body: &Map<String, Value>, field: &str) -> Result<Option<String>, ApiError> {
    let value = bounded(body, field, MAX_NAME_CHARS)?;
    if value
        .as_deref()
        .is_some_and(|v| v.chars().any(http::is_control))
    {
        return Err(ApiError::payload(format!(
            "\"{field}\" must not contain control characters"
        )));
    }
    Ok(value)
}

fn bounded(
    body: &Map<String, Value>,
    field: &str,
    max_chars: usize,
) -> Result<Option<String>, ApiError> {
    let value = http::optional_string(body, field)?;
    if value
        .as_ref()
        .is_some_and(|v| v.chars().count() > max_chars)
    {
        return Err(ApiError::payload(format!(
            "\"{field}\" length must be less than or equal to {max_chars} characters long"
        )));
    }
    Ok(value)
}
