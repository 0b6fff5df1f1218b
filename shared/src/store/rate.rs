//! Per-client-address request counters in fixed windows, in the users table under
//! `pk = rate#<action>#<address>#<window start>`, expiring with the window (TTL, and the key
//! itself changes with the window, so a late TTL sweep never matters). Shared by every
//! function instance.

use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};

use super::{MAX_ATTEMPTS, Store, StoreError, jittered_backoff, refused_unapplied, single_attempt};

impl Store {
    /// Counts one request and returns the count so far in this window.
    ///
    /// `ADD` is not idempotent: a resend after an ambiguous failure (a timeout or a reset
    /// connection after DynamoDB applied it) would count the request twice. So the SDK sends it
    /// once, and it is sent again only when DynamoDB throttled it (refused before applying),
    /// up to `MAX_ATTEMPTS` times with jittered backoff; any other failure is `Unavailable`.
    pub async fn count_request(
        &self,
        action: &str,
        address: &str,
        window_start: i64,
        window_secs: i64,
    ) -> Result<u64, StoreError> {
        let mut attempt = 0;
        let output = loop {
            let result = self
                .client
                .update_item()
                .table_name(&self.tables.users)
                .key(
                    "pk",
                    AttributeValue::S(format!("rate#{action}#{address}#{window_start}")),
                )
                .update_expression("ADD hits :one SET expires_at = :expires")
                .expression_attribute_values(":one", AttributeValue::N("1".into()))
                .expression_attribute_values(
                    ":expires",
                    AttributeValue::N((window_start + window_secs + 60).to_string()),
                )
                .return_values(ReturnValue::UpdatedNew)
                .customize()
                .config_override(single_attempt())
                .send()
                .await;
            attempt += 1;
            match result {
                Ok(output) => break output,
                Err(error) if attempt < MAX_ATTEMPTS && refused_unapplied(&error) => {
                    tokio::time::sleep(jittered_backoff(attempt)).await;
                }
                Err(error) => return Err(error.into()),
            }
        };
        let hits = output
            .attributes
            .as_ref()
            .and_then(|a| a.get("hits"))
            .and_then(|v| v.as_n().ok())
            .and_then(|n| n.parse().ok())
            .ok_or_else(|| StoreError::Malformed("the counter has no hits".into()))?;
        Ok(hits)
    }
}
