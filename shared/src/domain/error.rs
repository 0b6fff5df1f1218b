//! The one error enum every handler returns, and the one place it becomes an HTTP status and a
//! Directus error code. Codes and messages are a contract with clients: never rename them.

use lambda_http::http::StatusCode;
use serde_json::{Map, Value, json};

use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("Invalid user credentials.")]
    InvalidCredentials,
    #[error("Token expired.")]
    TokenExpired,
    #[error("Invalid token.")]
    InvalidToken,
    #[error("User suspended.")]
    UserSuspended,
    /// 403 with Directus' generic text, or with a reason (collection / field messages).
    #[error("{}", .0.as_deref().unwrap_or("You don't have permission to access this."))]
    Forbidden(Option<String>),
    #[error("Invalid payload. {0}.")]
    InvalidPayload(String),
    #[error("Invalid query. {0}.")]
    InvalidQuery(String),
    /// A value breaks a rule; `kind` is Directus' validation type (`required`, `email`, ...).
    #[error("Validation failed for field \"{field}\". {detail}")]
    FailedValidation {
        field: String,
        kind: &'static str,
        detail: String,
    },
    #[error(
        "Value \"{value}\" for field \"{field}\" in collection \"{collection}\" has to be unique."
    )]
    RecordNotUnique {
        collection: &'static str,
        field: &'static str,
        value: String,
    },
    #[error(
        "Invalid foreign key \"{value}\" for field \"{field}\" in collection \"{collection}\"."
    )]
    InvalidForeignKey {
        collection: &'static str,
        field: &'static str,
        value: String,
    },
    #[error("Too many requests, retry after {retry_after}s.")]
    RequestsExceeded {
        limit: u32,
        retry_after: u64,
        /// When the window resets, ISO 8601.
        reset: String,
    },
    #[error("Uploaded content is too large.")]
    ContentTooLarge,
    /// 405 with an `Allow` header (GraphQL: other methods, a mutation over GET).
    #[error(
        "Invalid method \"{current}\" used. Should be one of {}.",
        quoted(allowed)
    )]
    MethodNotAllowed {
        allowed: &'static [&'static str],
        current: String,
    },
    #[error("Route {0} doesn't exist.")]
    RouteNotFound(String),
    /// A dependency failed. The cause is logged, never sent to the client.
    #[error("Service \"{service}\" is unavailable. {reason}.")]
    ServiceUnavailable {
        service: &'static str,
        reason: &'static str,
        #[source]
        cause: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
    #[error("An unexpected error occurred.")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

fn quoted(names: &[&str]) -> String {
    names
        .iter()
        .map(|n| format!("\"{n}\""))
        .collect::<Vec<_>>()
        .join(", ")
}

fn fields_message(collection: &str, fields: &[String]) -> String {
    let quoted: Vec<String> = fields.iter().map(|f| format!("\"{f}\"")).collect();
    if quoted.len() == 1 {
        format!(
            "You don't have permission to access field {} in collection \"{collection}\" or it does not exist.",
            quoted[0]
        )
    } else {
        format!(
            "You don't have permission to access fields {} in collection \"{collection}\" or they do not exist.",
            quoted.join(", ")
        )
    }
}

impl ApiError {
    pub fn forbidden() -> Self {
        Self::Forbidden(None)
    }

    pub fn forbidden_collection(collection: &str) -> Self {
        Self::Forbidden(Some(format!(
            "You don't have permission to access collection \"{collection}\" or it does not exist. Queried in root."
        )))
    }

    /// Fields a read may not touch; Directus adds where in the query they were asked for.
    pub fn forbidden_fields(collection: &str, fields: &[String]) -> Self {
        Self::Forbidden(Some(format!(
            "{} Queried in root.",
            fields_message(collection, fields)
        )))
    }

    /// Fields a write may not set: the same words without the query location.
    pub fn forbidden_fields_to_write(collection: &str, fields: &[String]) -> Self {
        Self::Forbidden(Some(fields_message(collection, fields)))
    }

    pub fn payload(reason: impl Into<String>) -> Self {
        Self::InvalidPayload(reason.into())
    }

    pub fn query(reason: impl Into<String>) -> Self {
        Self::InvalidQuery(reason.into())
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Self::InvalidCredentials | Self::TokenExpired | Self::UserSuspended => {
                StatusCode::UNAUTHORIZED
            }
            Self::InvalidToken | Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::InvalidPayload(_)
            | Self::InvalidQuery(_)
            | Self::FailedValidation { .. }
            | Self::RecordNotUnique { .. }
            | Self::InvalidForeignKey { .. } => StatusCode::BAD_REQUEST,
            Self::ContentTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::RequestsExceeded { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::RouteNotFound(_) => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            Self::ServiceUnavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidCredentials => "INVALID_CREDENTIALS",
            Self::TokenExpired => "TOKEN_EXPIRED",
            Self::InvalidToken => "INVALID_TOKEN",
            Self::UserSuspended => "USER_SUSPENDED",
            Self::Forbidden(_) => "FORBIDDEN",
            Self::InvalidPayload(_) => "INVALID_PAYLOAD",
            Self::InvalidQuery(_) => "INVALID_QUERY",
            Self::FailedValidation { .. } => "FAILED_VALIDATION",
            Self::RecordNotUnique { .. } => "RECORD_NOT_UNIQUE",
            Self::InvalidForeignKey { .. } => "INVALID_FOREIGN_KEY",
            Self::ContentTooLarge => "CONTENT_TOO_LARGE",
            Self::RequestsExceeded { .. } => "REQUESTS_EXCEEDED",
            Self::RouteNotFound(_) => "ROUTE_NOT_FOUND",
            Self::MethodNotAllowed { .. } => "METHOD_NOT_ALLOWED",
            Self::ServiceUnavailable { .. } => "SERVICE_UNAVAILABLE",
            Self::Internal(_) => "INTERNAL_SERVER_ERROR",
        }
    }

    /// The Directus envelope: `{"errors":[{"message","extensions":{...,"code"}}]}`, `code` last.
    pub fn body(&self) -> Value {
        let mut extensions = Map::new();
        match self {
            Self::Forbidden(Some(reason))
            | Self::InvalidPayload(reason)
            | Self::InvalidQuery(reason) => {
                extensions.insert("reason".into(), json!(reason));
            }
            Self::RouteNotFound(path) => {
                extensions.insert("path".into(), json!(path));
            }
            Self::MethodNotAllowed { allowed, current } => {
                extensions.insert("allowed".into(), json!(allowed));
                extensions.insert("current".into(), json!(current));
            }
            Self::RequestsExceeded { limit, reset, .. } => {
                extensions.insert("limit".into(), json!(limit));
                extensions.insert("reset".into(), json!(reset));
            }
            Self::FailedValidation { field, kind, .. } => {
                extensions.insert("field".into(), json!(field));
                extensions.insert("path".into(), json!([]));
                extensions.insert("type".into(), json!(kind));
            }
            Self::RecordNotUnique {
                collection,
                field,
                value,
            }
            | Self::InvalidForeignKey {
                collection,
                field,
                value,
            } => {
                extensions.insert("collection".into(), json!(collection));
                extensions.insert("field".into(), json!(field));
                extensions.insert("value".into(), json!(value));
            }
            Self::ServiceUnavailable {
                service, reason, ..
            } => {
                extensions.insert("service".into(), json!(service));
                extensions.insert("reason".into(), json!(reason));
            }
            _ => {}
        }
        extensions.insert("code".into(), json!(self.code()));
        json!({ "errors": [{ "message": self.to_string(), "extensions": extensions }] })
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Unavailable(cause) => Self::ServiceUnavailable {
                service: "database",
                reason: "Database unreachable",
                cause: Some(cause),
            },
            // Contention that outlived its retries: the client may try again.
            StoreError::Conflict => Self::ServiceUnavailable {
                service: "database",
                reason: "Database busy",
                cause: Some(Box::new(StoreError::Conflict)),
            },
            // Other conflicts are domain outcomes; a caller that lets one escape has a bug.
            other => Self::Internal(Box::new(other)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_token_is_403_and_expired_token_is_401() {
        assert_eq!(ApiError::InvalidToken.status(), StatusCode::FORBIDDEN);
        assert_eq!(ApiError::TokenExpired.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(
            ApiError::InvalidCredentials.status(),
            StatusCode::UNAUTHORIZED
        );
    }

    #[test]
    fn envelope_puts_reason_before_code() {
        let body = ApiError::payload("\"email\" is required").body();
        assert_eq!(
            body.to_string(),
            r#"{"errors":[{"message":"Invalid payload. \"email\" is required.","extensions":{"reason":"\"email\" is required","code":"INVALID_PAYLOAD"}}]}"#
        );
    }

    #[test]
    fn method_not_allowed_lists_the_allowed_methods() {
        let error = ApiError::MethodNotAllowed {
            allowed: &["GET", "POST"],
            current: "PUT".into(),
        };
        assert_eq!(error.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(
            error.body().to_string(),
            r#"{"errors":[{"message":"Invalid method \"PUT\" used. Should be one of \"GET\", \"POST\".","extensions":{"allowed":["GET","POST"],"current":"PUT","code":"METHOD_NOT_ALLOWED"}}]}"#
        );
    }

    #[test]
    fn errors_without_extensions_carry_only_the_code() {
        let body = ApiError::InvalidCredentials.body();
        assert_eq!(
            body,
            json!({"errors":[{"message":"Invalid user credentials.","extensions":{"code":"INVALID_CREDENTIALS"}}]})
        );
    }

    #[test]
    fn forbidden_field_messages_use_singular_and_plural_forms() {
        let one = ApiError::forbidden_fields("posts", &["secret".into()]).to_string();
        assert!(one.contains("field \"secret\" in collection \"posts\" or it does not exist"));
        let two = ApiError::forbidden_fields("posts", &["a".into(), "b".into()]).to_string();
        assert!(two.contains("fields \"a\", \"b\" in collection \"posts\" or they do not exist"));
    }

    #[test]
    fn store_outage_becomes_503_without_details_in_the_body() {
        let error: ApiError =
            StoreError::Unavailable("connection refused at 10.0.0.1".into()).into();
        assert_eq!(error.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(!error.body().to_string().contains("10.0.0.1"));
    }
}
