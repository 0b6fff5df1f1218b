//! Per-client-address request counters in fixed windows, in the users table under
//! `pk = rate#<action>#<address>#<window start>`, expiring with the window (TTL, and the key
//! itself changes with the window, so a late TTL sweep never matters). Shared by every
//! function instance.

use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};

use super::{Store, StoreError};

impl Store {
    /// Counts one request and returns the count so far in this window.
    pub async fn count_request(
        &self,
        action: &str,
        address: &str,
        window_start: i64,
        window_secs: i64,
    ) -> Result<u64, StoreError> {
        let output = self
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
            .send()
            .await?;
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
