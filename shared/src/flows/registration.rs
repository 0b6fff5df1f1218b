//! `POST /users/register` (and its alias `POST /register`): public self-registration, and the
//! rule every public door shares ([`admit`]: anonymous creates of `directus_users` follow it
//! too). New and existing emails get the same 204 after the same work (one argon2 hash), so the
//! endpoint never reveals whether an address is registered.

use serde_json::{Map, Value};

use crate::credential::password::MAX_PASSWORD_CHARS;
use crate::credential::password::Passwords;
use crate::domain::access::filter;
use crate::domain::client::Client;
use crate::domain::error::ApiError;
use crate::domain::model::{Settings, User, UserStatus};
use crate::domain::sensitive::Sensitive;
use crate::domain::text::{self, MAX_NAME_CHARS};
use crate::flows::AnswerAt;
use crate::flows::time::Now;
use crate::store::{NewUser, PendingRegistration, StoreError};

use crate::platform::state::AppState;

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
    if email.chars().count() > text::MAX_EMAIL_CHARS || !text::valid_email(email) {
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
        if value.chars().any(text::is_control) {
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
/// any hashing; new and existing emails get the same answer after the same work. Everything
/// that depends on time (the limit's window, the email filter's `$NOW`, the account's expiry,
/// the link) is taken at `now`.
pub async fn register(
    state: &AppState,
    passwords: &Passwords,
    registration: Registration,
    client: &Client,
    now: Now,
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
    crate::flows::limits::enforce(state, client, crate::flows::limits::Limited::Register, now)
        .await?;

    // The same cached item the rate limiter just read: one settings read per cache period.
    let settings = state
        .access
        .settings(&state.store, &state.config.default_settings)
        .await?;
    let admitted = admit(state, &settings, &email, now)?;
    crate::credential::password::enforce_policy(&password, &settings)?;
    let password_hash = passwords
        .hash(&password)
        .await
        .map_err(|e| ApiError::Internal(Box::new(e)))?;
    let new_user = NewUser {
        email,
        password_hash,
        status: UserStatus::Active,
        role: settings.public_registration_role.clone(),
        first_name,
        last_name,
        policies: Vec::new(),
    };
    admitted
        .open(state, new_user, verification_url.as_deref(), now)
        .await
}

/// The one rule of public registration, whichever door it comes through (`users/register`,
/// GraphQL's `users_register`, and a create of `directus_users` by a caller with no user):
/// registration must be open (`public_registration`, else the 403 Directus gives) and the
/// address must pass `public_registration_email_filter` at `now` (its `$NOW`; an unusable
/// filter refuses). Pure.
pub fn check_admission(settings: &Settings, email: &str, now: Now) -> Result<(), ApiError> {
    if !settings.public_registration {
        return Err(ApiError::forbidden());
    }
    if let Some(email_filter) = &settings.public_registration_email_filter {
        let mut candidate = Map::new();
        candidate.insert("email".into(), Value::String(email.to_owned()));
        let context = filter::FilterContext {
            now_millis: now.millis(),
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
    Ok(())
}

/// A public registration [`check_admission`] let in: how its account is opened.
#[derive(Debug, Clone, Copy)]
pub struct Admitted {
    /// With `public_registration_verify_email`: when the registration answers (a mail may go
    /// out, so new, unverified and active addresses all answer at this one moment).
    answer: Option<AnswerAt>,
}

/// [`check_admission`], and with verification on, the moment the answer is due (from now: call
/// it before hashing, so the hash is inside the fixed time too).
pub fn admit(
    state: &AppState,
    settings: &Settings,
    email: &str,
    now: Now,
) -> Result<Admitted, ApiError> {
    check_admission(settings, email, now)?;
    Ok(Admitted {
        answer: settings
            .public_registration_verify_email
            .then(|| AnswerAt::after(state.mailer.timeout())),
    })
}

impl Admitted {
    /// True when the account must verify its address before it is active.
    pub fn verifies(&self) -> bool {
        self.answer.is_some()
    }

    /// Opens the account of `new_user` (its password hashed already). Without verification, as
    /// asked (a taken address: nothing, and the same answer). With it: a new address gets an
    /// unverified account that expires unless verified, and a mail with its link; an address
    /// whose account is still unverified keeps its account as it is and gets this registration
    /// recorded beside it and a link of its own (see `flows::verification`); an active address
    /// gets nothing. Every case answers at the same moment. The account's expiry and its link
    /// count from `now`.
    pub async fn open(
        self,
        state: &AppState,
        mut new_user: NewUser,
        verification_url: Option<&str>,
        now: Now,
    ) -> Result<(), ApiError> {
        let Some(answer) = self.answer else {
            return match state.store.create_user(new_user).await {
                Ok(user) => {
                    tracing::info!(user = %user.id, "registered");
                    Ok(())
                }
                // Same answer as for a new address: no enumeration.
                Err(StoreError::AlreadyExists) => {
                    tracing::info!("registration for a taken email");
                    Ok(())
                }
                Err(other) => Err(other.into()),
            };
        };
        // No link could be mailed (verification turned on by the settings item while the
        // deployment has no PUBLIC_URL): refuse every address alike rather than open accounts
        // nobody can activate. Cold start refuses the same combination from the environment.
        if verification_url.is_none() && state.config.email.default_verification_base().is_none() {
            tracing::error!("registration refused: verification is on but PUBLIC_URL is not set");
            return Err(ApiError::ServiceUnavailable {
                service: "email",
                reason: "Verification links cannot be made: PUBLIC_URL is not set",
                cause: None,
            });
        }
        new_user.status = UserStatus::Unverified;
        let later = PendingRegistration {
            id: uuid::Uuid::new_v4().simple().to_string(),
            password: new_user.password_hash.clone(),
            first_name: new_user.first_name.clone(),
            last_name: new_user.last_name.clone(),
        };
        let expires_at = crate::flows::verification::unverified_expiry(state, now);
        let email = new_user.email.clone();
        let created = match state
            .store
            .create_user_expiring(new_user, Some(expires_at))
            .await
        {
            Ok(user) => {
                tracing::info!(user = %user.id, "registered");
                Some(user)
            }
            Err(StoreError::AlreadyExists) => {
                tracing::info!("registration for a taken email");
                None
            }
            Err(other) => return Err(other.into()),
        };
        // What the address decides (a later registration recorded beside an unverified
        // account, the mail) runs within the answer's deadline and is given up then, so a slow
        // lookup, write or send for one address does not move the answer's moment.
        answer
            .after_work("registration", async {
                let mail = match created {
                    Some(user) => Some((user, None)),
                    None => record_later_registration(state, &email, later)
                        .await
                        .map(|(user, later)| (user, Some(later))),
                };
                if let Some((user, later)) = &mail {
                    crate::flows::verification::send_verification(
                        state,
                        user,
                        later.as_ref(),
                        verification_url,
                        answer,
                        now,
                    )
                    .await;
                }
            })
            .await;
        Ok(())
    }
}

/// Records `later` beside the account of `email` when that account is still unverified, and
/// returns both, or `None` (logged) when there is nothing to mail: the account is active (or
/// gone, or verified meanwhile), or already records as many later registrations as it may.
async fn record_later_registration(
    state: &AppState,
    email: &str,
    later: PendingRegistration,
) -> Option<(User, PendingRegistration)> {
    let user = match state.store.find_user_by_email(email).await {
        Ok(Some(user)) if user.status == UserStatus::Unverified => user,
        Ok(_) => return None,
        Err(error) => {
            tracing::error!(%error, "registration: the taken address could not be read");
            return None;
        }
    };
    match state.store.add_pending_registration(&user.id, &later).await {
        Ok(()) => {
            tracing::info!(user = %user.id, "registration of an unverified address recorded");
            Some((user, later))
        }
        Err(StoreError::Stale) => {
            tracing::info!(user = %user.id, "registration of an unverified address not recorded: verified, expired, or too many");
            None
        }
        Err(error) => {
            tracing::error!(%error, "registration: a later registration could not be recorded");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Any fixed instant: nothing here depends on which.
    const AT: Now = Now::from_millis(1_700_000_000_000);

    fn registration(email: &str, password: &str) -> Registration {
        Registration {
            email: email.into(),
            password: Sensitive::new(password),
            verification_url: None,
            first_name: None,
            last_name: None,
        }
    }

    fn settings(open: bool, email_filter: Option<Value>) -> Settings {
        let mut settings = crate::platform::config::Config::from_lookup(|name| {
            (name == "SECRET").then(|| "unit-test-secret-of-at-least-32-bytes".to_owned())
        })
        .unwrap()
        .default_settings;
        settings.public_registration = open;
        settings.public_registration_email_filter = email_filter;
        settings
    }

    #[tokio::test]
    async fn verification_without_a_public_url_is_refused_before_anything_is_written() {
        // No PUBLIC_URL and an unreachable store: a write would fail as "database".
        let state = crate::platform::state::unreachable_state();
        assert!(state.config.email.public_url.is_none());
        let mut verifying = settings(true, None);
        verifying.public_registration_verify_email = true;
        let new_user = || NewUser {
            email: "a@example.com".into(),
            password_hash: Sensitive::new("$argon2id$unused"),
            status: UserStatus::Active,
            role: None,
            first_name: None,
            last_name: None,
            policies: Vec::new(),
        };
        let admitted = admit(&state, &verifying, "a@example.com", AT).unwrap();
        let refused = admitted
            .open(&state, new_user(), None, AT)
            .await
            .unwrap_err();
        assert!(
            matches!(
                refused,
                ApiError::ServiceUnavailable {
                    service: "email",
                    ..
                }
            ),
            "{refused:?}"
        );
        // With a verification_url the link can be made: it gets as far as the store.
        let admitted = admit(&state, &verifying, "a@example.com", AT).unwrap();
        let reached = admitted
            .open(
                &state,
                new_user(),
                Some("https://app.example.com/verify"),
                AT,
            )
            .await
            .unwrap_err();
        assert!(
            !matches!(
                reached,
                ApiError::ServiceUnavailable {
                    service: "email",
                    ..
                }
            ),
            "{reached:?}"
        );
    }

    #[test]
    fn admission_needs_open_registration_and_a_passing_address() {
        assert!(check_admission(&settings(true, None), "a@example.com", AT).is_ok());
        let closed = check_admission(&settings(false, None), "a@example.com", AT).unwrap_err();
        assert_eq!(closed.code(), "FORBIDDEN");
        let acme = settings(
            true,
            Some(serde_json::json!({"email": {"_ends_with": "@acme.com"}})),
        );
        assert!(check_admission(&acme, "x@acme.com", AT).is_ok());
        assert_eq!(
            check_admission(&acme, "x@example.com", AT)
                .unwrap_err()
                .code(),
            "FORBIDDEN"
        );
        // A filter that cannot be applied refuses everyone.
        let broken = settings(true, Some(serde_json::json!({"email": {"_nope": 1}})));
        assert_eq!(
            check_admission(&broken, "x@acme.com", AT)
                .unwrap_err()
                .code(),
            "FORBIDDEN"
        );
        // Closed wins over a passing filter.
        let mut closed_acme = acme.clone();
        closed_acme.public_registration = false;
        assert!(check_admission(&closed_acme, "x@acme.com", AT).is_err());
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
