//! The one error enum every flow returns, and the one place it becomes a Directus error code.
//! Codes and messages are a contract with clients: never rename them. The transport chooses
//! the HTTP status and renders the envelope (`adapters::http`).

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("Invalid user credentials.")]
    InvalidCredentials,
    /// The password was right; the second factor's code is missing, wrong or spent.
    #[error("Invalid user OTP.")]
    InvalidOtp,
    #[error("Token expired.")]
    TokenExpired,
    #[error("Invalid token.")]
    InvalidToken,
    #[error("User suspended.")]
    UserSuspended,
    /// Directus' generic text, or a reason (collection / field messages).
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
    /// A method the route does not take, and the ones it does (GraphQL: other methods, a
    /// mutation over GET).
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

    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidCredentials => "INVALID_CREDENTIALS",
            Self::InvalidOtp => "INVALID_OTP",
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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forbidden_field_messages_use_singular_and_plural_forms() {
        let one = ApiError::forbidden_fields("posts", &["secret".into()]).to_string();
        assert!(one.contains("field \"secret\" in collection \"posts\" or it does not exist"));
        let two = ApiError::forbidden_fields("posts", &["a".into(), "b".into()]).to_string();
        assert!(two.contains("fields \"a\", \"b\" in collection \"posts\" or they do not exist"));
    }
}
