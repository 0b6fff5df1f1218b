//! `GET /server/ping`, `GET /server/info` and `GET /server/health` over REST: the route from
//! the path, the caller, and Directus' responses (ping's `text/html`, health's
//! `application/health+json` with 503 when DynamoDB does not answer).

use lambda_http::http::{HeaderValue, StatusCode, header};
use lambda_http::{Body, Request, Response};
use serde_json::Value;

use crate::adapters::http::{self, HttpResponse};
use crate::domain::error::ApiError;
use crate::flows::server::{self, HealthStatus};
use crate::platform::state::AppState;

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

/// `GET /server/info`.
pub async fn info(state: &AppState, request: &Request) -> Result<HttpResponse, ApiError> {
    let claims = http::caller(state, request, http::now()).await?;
    let body = server::info(state, claims.as_ref()).await?;
    Ok(http::json(StatusCode::OK, &body))
}

/// `GET /server/health`: 503 when the check failed, else 200.
pub async fn health(state: &AppState, request: &Request) -> Result<HttpResponse, ApiError> {
    let caller = http::caller(state, request, http::now()).await;
    let (status, body) = server::health(state, caller, &service_id(request)).await?;
    Ok(health_response(health_status(status), &body))
}

fn health_status(status: HealthStatus) -> StatusCode {
    match status {
        HealthStatus::Ok | HealthStatus::Warn => StatusCode::OK,
        HealthStatus::Error => StatusCode::SERVICE_UNAVAILABLE,
    }
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
    fn ping_is_plain_pong() {
        let response = ping();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(
            response.headers()[header::CONTENT_TYPE],
            "text/html; charset=utf-8"
        );
        assert!(matches!(response.body(), Body::Text(t) if t == "pong"));
    }

    #[test]
    fn only_a_failed_check_is_503() {
        assert_eq!(health_status(HealthStatus::Ok), StatusCode::OK);
        assert_eq!(health_status(HealthStatus::Warn), StatusCode::OK);
        assert_eq!(
            health_status(HealthStatus::Error),
            StatusCode::SERVICE_UNAVAILABLE
        );
    }
}
