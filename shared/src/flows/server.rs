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

use lambda_http::http::{HeaderValue, StatusCode, header};
use lambda_http::{Body, Request, Response};
use serde_json::{Value, json};

use crate::adapters::http::{self, HttpResponse};
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

/// Which of the three routes a request is for, from the end of its path (a stage prefix, if
/// any, is ignored).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    Ping,
    Info,
    Health,
}

impl Route {
    pub fn of(path: &str) -> Option<Self> {
        let path = path.trim_end_matches('/');
        if path.ends_with("/server/ping") {
            Some(Self::Ping)
        } else if path.ends_with("/server/info") {
            Some(Self::Info)
        } else if path.ends_with("/server/health") {
            Some(Self::Health)
        } else {
            None
        }
    }
}

pub async fn handle(state: &AppState, request: &Request) -> HttpResponse {
    match Route::of(request.uri().path()) {
        Some(Route::Ping) => ping(),
        Some(Route::Info) => {
            http::respond_authenticated(request, &state.config, info(state, request).await)
        }
        Some(Route::Health) => {
            http::respond_authenticated(request, &state.config, health(state, request).await)
        }
        None => http::route_not_found(request),
    }
}

/// Exactly Express' `res.send('pong')`.
pub fn ping() -> HttpResponse {
    let mut response = Response::new(Body::Text("pong".into()));
    *response.status_mut() = StatusCode::OK;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    response
}

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

pub async fn info(state: &AppState, request: &Request) -> Result<HttpResponse, ApiError> {
    let claims = crate::adapters::http::caller(state, request).await?;
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
        if claims.as_ref().is_some_and(|claims| claims.admin_access)
            && let Some(target) = data.as_object_mut()
        {
            target.insert(
                "build".into(),
                json!({"version": BUILD_VERSION, "commit": BUILD_COMMIT}),
            );
        }
    }
    Ok(http::json(StatusCode::OK, &json!({ "data": data })))
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

/// The health document (Directus' shape) for a probe; `checks` only for administrators.
pub fn health_body(probe: Probe, admin: bool, service_id: &str) -> (StatusCode, Value) {
    let (status, check) = match probe {
        Probe::Answered { millis } => {
            let status = if millis > DATASTORE_THRESHOLD_MS {
                "warn"
            } else {
                "ok"
            };
            (
                status,
                json!({
                    "status": status,
                    "componentType": "datastore",
                    "observedUnit": "ms",
                    "observedValue": millis,
                    "threshold": DATASTORE_THRESHOLD_MS,
                }),
            )
        }
        Probe::Failed => (
            "error",
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
    let code = if status == "error" {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::OK
    };
    let body = if admin {
        json!({
            "status": status,
            "releaseId": DIRECTUS_VERSION,
            "serviceId": service_id,
            "checks": { CHECK_NAME: [check] },
        })
    } else {
        json!({ "status": status })
    };
    (code, body)
}

fn health_response(status: StatusCode, body: &Value) -> HttpResponse {
    let mut response = http::json(status, body);
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/health+json; charset=utf-8"),
    );
    response
}

/// Directus reports its `PUBLIC_URL`; here, the address the request was made to.
fn service_id(request: &Request) -> String {
    let host = request
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| {
            !h.is_empty()
                && h.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'))
        });
    let scheme = request
        .headers()
        .get("x-forwarded-proto")
        .and_then(|h| h.to_str().ok())
        .filter(|p| matches!(*p, "http" | "https"))
        .unwrap_or("https");
    match host {
        Some(host) => format!("{scheme}://{host}"),
        None => "directus-auth-api".into(),
    }
}

pub async fn health(state: &AppState, request: &Request) -> Result<HttpResponse, ApiError> {
    // A bad token fails here as on every route. When DynamoDB is down the caller cannot be
    // told apart, so the answer is the health document everyone gets, saying so.
    let admin = match crate::adapters::http::caller(state, request).await {
        Ok(None) => false,
        Ok(Some(claims)) => {
            match state
                .access
                .accountability(
                    &state.store,
                    Some((claims.id.as_str(), claims.role.as_deref())),
                )
                .await
            {
                Ok(accountability) => accountability.admin,
                Err(error) => {
                    tracing::error!(%error, "health: the caller's policies could not be read");
                    let (status, body) = health_body(Probe::Failed, false, "");
                    return Ok(health_response(status, &body));
                }
            }
        }
        Err(ApiError::ServiceUnavailable { .. }) => {
            let (status, body) = health_body(Probe::Failed, false, "");
            return Ok(health_response(status, &body));
        }
        Err(other) => return Err(other),
    };
    let (status, body) = health_body(probe(state).await, admin, &service_id(request));
    Ok(health_response(status, &body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_are_read_from_the_end_of_the_path() {
        assert_eq!(Route::of("/server/ping"), Some(Route::Ping));
        assert_eq!(Route::of("/prod/server/info/"), Some(Route::Info));
        assert_eq!(Route::of("/server/health"), Some(Route::Health));
        assert_eq!(Route::of("/server/specs/oas"), None);
    }

    #[test]
    fn health_shapes_follow_directus() {
        let (status, body) = health_body(Probe::Answered { millis: 3.5 }, false, "x");
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body, json!({"status": "ok"}));
        let (status, body) = health_body(Probe::Answered { millis: 300.0 }, true, "x");
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body["status"], "warn");
        assert_eq!(body["checks"][CHECK_NAME][0]["threshold"], json!(150.0));
        let (status, body) = health_body(Probe::Failed, true, "x");
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(body["status"], "error");
        assert_eq!(body["releaseId"], DIRECTUS_VERSION);
    }

    #[test]
    fn ping_is_plain_pong() {
        let response = ping();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(
            response.headers()[header::CONTENT_TYPE],
            "text/html; charset=utf-8"
        );
        assert!(matches!(response.body(), Body::Text(t) if t == "pong"));
    }
}
