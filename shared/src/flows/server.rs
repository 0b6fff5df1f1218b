//! `GET /server/ping`, `GET /server/info` and `GET /server/health`, as Directus 11.3.5 answers
//! them (`api/src/controllers/server.ts`, `api/src/services/server.ts`, ping in `app.ts`):
//!
//! - ping: `200 text/html "pong"` before any authentication, so a bad token still gets it;
//! - info: the project block for everyone, plus the server's limits for any logged-in user;
//! - health: `application/health+json`; `{"status":"ok"}` for everyone but administrators, who
//!   also get the checks. One check here: a strongly bounded `GetItem` of the settings item in
//!   the config table (the read every request depends on). Over 150 ms is `warn`, a failure
//!   or no answer within [`HEALTH_TIMEOUT`] is `error` and the status is `503`.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::credential::token::AccessClaims;
use crate::domain::error::ApiError;
use crate::platform::state::AppState;

/// The Directus release whose behaviour this API reproduces, reported as `version`/`releaseId`.
pub const DIRECTUS_VERSION: &str = "11.3.5";
/// This API's own version (the workspace's) and the commit it was built from (`build.rs`).
pub const BUILD_VERSION: &str = env!("CARGO_PKG_VERSION");
pub const BUILD_COMMIT: &str = env!("BUILD_COMMIT");
/// The health check gives DynamoDB this long to answer.
pub const HEALTH_TIMEOUT: Duration = Duration::from_secs(2);
/// Directus' threshold for a datastore's response time, in milliseconds.
const DATASTORE_THRESHOLD_MS: f64 = 150.0;
const CHECK_NAME: &str = "dynamodb:responseTime";

/// The project block Directus shows everyone. This API keeps no project settings of its own,
/// so these are Directus' defaults, with the registration settings in force.
fn project(public_registration: bool, verify_email: bool) -> Value {
    json!({
        "project_name": "Directus",
        "project_descriptor": null,
        "project_logo": null,
        "project_color": "#6644FF",
        "default_appearance": "auto",
        "default_theme_light": null,
        "default_theme_dark": null,
        "theme_light_overrides": null,
        "theme_dark_overrides": null,
        "default_language": "en-US",
        "public_foreground": null,
        "public_favicon": null,
        "public_note": null,
        "custom_css": null,
        "public_registration": public_registration,
        "public_registration_verify_email": verify_email,
        "public_background": null,
    })
}

/// `GET /server/info` for `claims` (none: the public): the response body.
pub async fn info(state: &AppState, claims: Option<&AccessClaims>) -> Result<Value, ApiError> {
    let settings = state
        .access
        .settings(&state.store, &state.config.default_settings)
        .await?;
    let mut data = json!({
        "project": project(
            settings.public_registration,
            settings.public_registration_verify_email,
        ),
    });
    if claims.is_some() {
        // Directus' global rate limiter and websockets do not exist here; the per-address
        // limits of register, login and refresh are not that limiter.
        let extra = json!({
            "rateLimit": false,
            "rateLimitGlobal": false,
            "extensions": {"limit": null},
            "queryLimit": {
                "default": state.config.query_limit_default,
                "max": state.config.query_limit_max,
            },
            "websocket": false,
            "version": DIRECTUS_VERSION,
        });
        if let (Some(target), Value::Object(extra)) = (data.as_object_mut(), extra) {
            target.extend(extra);
        }
        // Not a Directus field: which build of this API answers, for an operator checking a
        // deployment. `version` above stays the Directus release clients compare against.
        if claims.is_some_and(|claims| claims.admin_access)
            && let Some(target) = data.as_object_mut()
        {
            target.insert(
                "build".into(),
                json!({"version": BUILD_VERSION, "commit": BUILD_COMMIT}),
            );
        }
    }
    Ok(json!({ "data": data }))
}

/// One timed, bounded round trip to DynamoDB.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Probe {
    Answered { millis: f64 },
    Failed,
}

pub async fn probe(state: &AppState) -> Probe {
    let started = Instant::now();
    match tokio::time::timeout(HEALTH_TIMEOUT, state.store.settings()).await {
        Ok(Ok(_)) => Probe::Answered {
            millis: (started.elapsed().as_secs_f64() * 1000.0 * 1000.0).round() / 1000.0,
        },
        Ok(Err(error)) => {
            tracing::error!(%error, "health check: DynamoDB failed");
            Probe::Failed
        }
        Err(_) => {
            tracing::error!("health check: DynamoDB did not answer in time");
            Probe::Failed
        }
    }
}

/// The overall health, as the document's `status` says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HealthStatus {
    Ok,
    Warn,
    Error,
}

impl HealthStatus {
    fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Warn => "warn",
            Self::Error => "error",
        }
    }
}

/// The health document (Directus' shape) for a probe; `checks` only for administrators.
pub fn health_body(probe: Probe, admin: bool, service_id: &str) -> (HealthStatus, Value) {
    let (status, check) = match probe {
        Probe::Answered { millis } => {
            let status = if millis > DATASTORE_THRESHOLD_MS {
                HealthStatus::Warn
            } else {
                HealthStatus::Ok
            };
            (
                status,
                json!({
                    "status": status.as_str(),
                    "componentType": "datastore",
                    "observedUnit": "ms",
                    "observedValue": millis,
                    "threshold": DATASTORE_THRESHOLD_MS,
                }),
            )
        }
        Probe::Failed => (
            HealthStatus::Error,
            json!({
                "status": "error",
                "componentType": "datastore",
                "observedUnit": "ms",
                "observedValue": null,
                "threshold": DATASTORE_THRESHOLD_MS,
                "output": "DynamoDB did not answer",
            }),
        ),
    };
    let body = if admin {
        json!({
            "status": status.as_str(),
            "releaseId": DIRECTUS_VERSION,
            "serviceId": service_id,
            "checks": { CHECK_NAME: [check] },
        })
    } else {
        json!({ "status": status.as_str() })
    };
    (status, body)
}

/// `GET /server/health`: the document and its status, for the caller as the transport found
/// them (`caller`: a bad token fails here as on every route) and the address the request was
/// made to (`service_id`, Directus' `PUBLIC_URL`). When DynamoDB is down the caller cannot be
/// told apart, so the answer is the health document everyone gets, saying so.
pub async fn health(
    state: &AppState,
    caller: Result<Option<AccessClaims>, ApiError>,
    service_id: &str,
) -> Result<(HealthStatus, Value), ApiError> {
    let admin = match caller {
        Ok(None) => false,
        Ok(Some(claims)) => {
            match crate::flows::access::accountability(state, Some(&claims)).await {
                Ok(accountability) => accountability.admin,
                Err(error) => {
                    tracing::error!(%error, "health: the caller's policies could not be read");
                    return Ok(health_body(Probe::Failed, false, ""));
                }
            }
        }
        Err(ApiError::ServiceUnavailable { .. }) => {
            return Ok(health_body(Probe::Failed, false, ""));
        }
        Err(other) => return Err(other),
    };
    Ok(health_body(probe(state).await, admin, service_id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn health_shapes_follow_directus() {
        let (status, body) = health_body(Probe::Answered { millis: 3.5 }, false, "x");
        assert_eq!(status, HealthStatus::Ok);
        assert_eq!(body, json!({"status": "ok"}));
        let (status, body) = health_body(Probe::Answered { millis: 300.0 }, true, "x");
        assert_eq!(status, HealthStatus::Warn);
        assert_eq!(body["status"], "warn");
        assert_eq!(body["checks"][CHECK_NAME][0]["threshold"], json!(150.0));
        let (status, body) = health_body(Probe::Failed, true, "x");
        assert_eq!(status, HealthStatus::Error);
        assert_eq!(body["status"], "error");
        assert_eq!(body["releaseId"], DIRECTUS_VERSION);
    }
}
