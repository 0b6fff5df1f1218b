//! DynamoDB adapters. Each turns SDK outcomes into domain outcomes (`AlreadyExists`, `Stale`) and
//! every other failure into one `Unavailable` carrying its cause for the log.
//! Layout, keys and access patterns: `docs/data-model.md`.

mod access;
pub mod access_log;
pub mod cache;
mod email_tokens;
mod index;
mod items;
mod rate;
mod records;
mod schema;
mod sessions;
mod tables;
mod throttle;
mod two_factor;
mod users;

use std::time::Duration;

use aws_config::{BehaviorVersion, retry::RetryConfig, timeout::TimeoutConfig};
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};

use crate::domain::error::ApiError;

pub use access::{AccessRows, access_holder};
pub use email_tokens::Activation;
pub use index::{index_entry_item, index_entry_key, index_partition};
pub use items::{COUNT_KEY, item_sort_key};
pub use records::{ItemPage, PageCursor};
pub use schema::{USER_DIRECTORY_INDEX, USER_DIRECTORY_PROJECTION, ensure_tables};
pub use tables::Tables;
pub use throttle::{FORGET_AFTER_MS, LoginFailures, Reservation};
pub use two_factor::Spent;
pub use users::{
    DirectoryPage, DirectoryUser, MAX_PENDING_REGISTRATIONS, MAX_USER_POLICIES, NewUser,
    PendingRegistration, PolicyLinks, Revocation, UserChanges, email_key,
};

/// Connect, per-attempt and whole-operation limits, so no request waits on DynamoDB longer than
/// the function's own timeout (template.yaml gives functions 10 s; three attempts fit in 6 s, and
/// `http::REQUEST_BUDGET` bounds a request's sum of operations). See docs/reliability.md.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(2);
pub const OPERATION_TIMEOUT: Duration = Duration::from_secs(6);
/// Attempts per operation (the first and two retries), by the SDK's standard retry strategy:
/// exponential backoff with full jitter, and a client-wide retry quota that stops retrying when
/// most recent attempts failed.
pub const MAX_ATTEMPTS: u32 = 3;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("item already exists")]
    AlreadyExists,
    #[error("item changed or vanished since it was read")]
    Stale,
    /// A transaction was cancelled because another one touched the same items; worth retrying.
    #[error("the transaction conflicted with another one")]
    Conflict,
    #[error("stored item is malformed: {0}")]
    Malformed(String),
    #[error("DynamoDB is unavailable: {0}")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl<E, R> From<SdkError<E, R>> for StoreError
where
    E: std::error::Error + ProvideErrorMetadata + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    fn from(error: SdkError<E, R>) -> Self {
        Self::Unavailable(Box::new(error))
    }
}

impl From<serde_dynamo::Error> for StoreError {
    fn from(error: serde_dynamo::Error) -> Self {
        Self::Malformed(error.to_string())
    }
}

/// A store failure as the flows answer it: an outage or lasting contention is a 503 (its cause
/// logged, never sent); any other failure escaping a flow is a bug.
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

/// The AWS configuration every client shares: standard environment, bounded timeouts, three
/// attempts.
pub async fn sdk_config() -> aws_config::SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .timeout_config(timeouts())
        .retry_config(retries())
        .load()
        .await
}

fn timeouts() -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .operation_attempt_timeout(ATTEMPT_TIMEOUT)
        .operation_timeout(OPERATION_TIMEOUT)
        .build()
}

fn retries() -> RetryConfig {
    RetryConfig::standard().with_max_attempts(MAX_ATTEMPTS)
}

/// For a write that is not idempotent (a counter's `ADD`): the SDK must not resend it after a
/// failure that leaves its effect unknown (a timeout, a reset connection, a 500), so it gets a
/// single attempt, and the caller retries only what DynamoDB refused before applying
/// ([`refused_unapplied`]).
fn single_attempt() -> aws_sdk_dynamodb::config::Builder {
    aws_sdk_dynamodb::config::Builder::default()
        .retry_config(RetryConfig::standard().with_max_attempts(1))
}

/// True when DynamoDB refused the request without applying it: throttling (the request was
/// rejected before any write). Timeouts, dropped connections and server errors are ambiguous.
fn refused_unapplied<E, R>(error: &SdkError<E, R>) -> bool
where
    E: ProvideErrorMetadata,
{
    matches!(
        error
            .as_service_error()
            .and_then(ProvideErrorMetadata::code),
        Some(
            "ProvisionedThroughputExceededException"
                | "ThrottlingException"
                | "RequestLimitExceeded"
        )
    )
}

#[derive(Debug, Clone)]
pub struct Store {
    client: Client,
    tables: Tables,
}

impl Store {
    pub fn new(client: Client, tables: Tables) -> Self {
        // Test stacks only: see `access_log` (nothing changes unless DYNAMODB_ACCESS_LOG is set).
        let client = access_log::from_environment(client, &tables);
        Self { client, tables }
    }

    /// Builds the SDK client from the standard AWS environment. `AWS_ENDPOINT_URL_DYNAMODB`
    /// points it at a local DynamoDB with no code change.
    pub async fn from_env(tables: Tables) -> Self {
        Self::new(Client::new(&sdk_config().await), tables)
    }

    /// A client for a local DynamoDB-compatible server (dynoxide) with dummy credentials.
    pub fn local(endpoint: &str, tables: Tables) -> Self {
        let config = aws_sdk_dynamodb::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(aws_sdk_dynamodb::config::Region::new("us-east-1"))
            .endpoint_url(endpoint)
            .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
                "local", "local", None, None, "local",
            ))
            .timeout_config(timeouts())
            .retry_config(retries())
            .build();
        Self::new(Client::from_conf(config), tables)
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn tables(&self) -> &Tables {
        &self.tables
    }
}

/// The outcome of a single-item conditional write: `refused` when DynamoDB reports that the
/// condition did not hold, `Unavailable` for any other failure.
fn conditional_write<T, E, R>(
    result: Result<T, SdkError<E, R>>,
    refused: StoreError,
) -> Result<(), StoreError>
where
    E: std::error::Error + ProvideErrorMetadata + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    match result {
        Ok(_) => Ok(()),
        Err(error)
            if error
                .as_service_error()
                .and_then(ProvideErrorMetadata::code)
                == Some("ConditionalCheckFailedException") =>
        {
            Err(refused)
        }
        Err(error) => Err(error.into()),
    }
}

/// True when a transaction was cancelled because the condition on item `index` failed.
fn condition_failed_at(
    error: &aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError,
    index: usize,
) -> bool {
    use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
    match error {
        TransactWriteItemsError::TransactionCanceledException(cancelled) => cancelled
            .cancellation_reasons()
            .get(index)
            .and_then(|reason| reason.code())
            .is_some_and(|code| code == "ConditionalCheckFailed"),
        _ => false,
    }
}

/// True when a transaction was cancelled for a conflict with another one (DynamoDB's
/// `TransactionConflict` cancellation reason, or the whole call refused as in progress).
fn transaction_conflict(
    error: &aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError,
) -> bool {
    use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
    match error {
        TransactWriteItemsError::TransactionCanceledException(cancelled) => cancelled
            .cancellation_reasons()
            .iter()
            .any(|reason| reason.code() == Some("TransactionConflict")),
        TransactWriteItemsError::TransactionInProgressException(_) => true,
        _ => false,
    }
}

/// The outcome of a transaction: `refused(i)` for the first member `i` whose condition failed
/// (when it names an outcome), `Conflict` when it was cancelled for another transaction,
/// `Unavailable` for anything else.
fn transaction_outcome<T, R>(
    result: Result<
        T,
        SdkError<aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError, R>,
    >,
    refused: impl Fn(usize) -> Option<StoreError>,
) -> Result<T, StoreError>
where
    R: std::fmt::Debug + Send + Sync + 'static,
{
    let error = match result {
        Ok(output) => return Ok(output),
        Err(error) => error,
    };
    if let Some(service) = error.as_service_error() {
        let failed = match service {
            aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError::TransactionCanceledException(
                cancelled,
            ) => cancelled
                .cancellation_reasons()
                .iter()
                .position(|reason| reason.code() == Some("ConditionalCheckFailed")),
            _ => None,
        };
        if let Some(refusal) = failed.and_then(&refused) {
            return Err(refusal);
        }
        if transaction_conflict(service) {
            return Err(StoreError::Conflict);
        }
    }
    Err(error.into())
}

/// 20-60 ms, doubling per attempt: spreads retried transactions apart.
fn jittered_backoff(attempt: u32) -> Duration {
    let base = 20u64.saturating_mul(1 << attempt.min(4));
    Duration::from_millis(base / 2 + rand::random_range(0..=base))
}

pub fn now_millis() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_outage_becomes_service_unavailable_without_its_cause_in_the_message() {
        let error: ApiError =
            StoreError::Unavailable("connection refused at 10.0.0.1".into()).into();
        assert!(matches!(
            error,
            ApiError::ServiceUnavailable {
                service: "database",
                ..
            }
        ));
        assert!(!error.to_string().contains("10.0.0.1"));
        assert_eq!(error.code(), "SERVICE_UNAVAILABLE");
    }
}
