//! Failed-login counters, one per account (by normalised email, known or not, so that the
//! lockout itself reveals nothing), in the users table under `pk = throttle#<email>`. Shared by
//! every function instance, unlike Directus' per-process counter.

use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use serde::{Deserialize, Serialize};

use super::{Store, StoreError};

/// Failures are forgotten after this long without one.
pub const QUIET_RESET_SECS: i64 = 15 * 60;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoginFailures {
    pub failures: u32,
    pub last_failure: i64,
    #[serde(default)]
    pub locked_until: i64,
}

fn throttle_pk(email: &str) -> String {
    format!("throttle#{}", super::users::email_key(email))
}

impl Store {
    pub async fn login_failures(&self, email: &str) -> Result<LoginFailures, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.tables.users)
            .key("pk", AttributeValue::S(throttle_pk(email)))
            .consistent_read(true)
            .send()
            .await?;
        Ok(match output.item {
            Some(item) => serde_dynamo::from_item(item)?,
            None => LoginFailures::default(),
        })
    }

    /// Counts one more failure and returns the count, starting over when `previous` (read at
    /// the start of the login) is older than the quiet period. One write either way, so a failed
    /// login costs the same whatever its history.
    pub async fn record_login_failure(
        &self,
        email: &str,
        previous: &LoginFailures,
        now: i64,
    ) -> Result<u32, StoreError> {
        let recent = previous.failures > 0 && previous.last_failure > now - QUIET_RESET_SECS;
        let update = if recent {
            "ADD failures :one SET last_failure = :now, expires_at = :expires"
        } else {
            "SET failures = :one, last_failure = :now, locked_until = :zero, expires_at = :expires"
        };
        let mut request = self
            .client
            .update_item()
            .table_name(&self.tables.users)
            .key("pk", AttributeValue::S(throttle_pk(email)))
            .update_expression(update)
            .expression_attribute_values(":one", AttributeValue::N("1".into()))
            .expression_attribute_values(":now", AttributeValue::N(now.to_string()))
            .expression_attribute_values(
                ":expires",
                AttributeValue::N((now + QUIET_RESET_SECS + 3600).to_string()),
            )
            .return_values(ReturnValue::AllNew);
        if !recent {
            request = request.expression_attribute_values(":zero", AttributeValue::N("0".into()));
        }
        let output = request.send().await?;
        let record: LoginFailures = serde_dynamo::from_item(output.attributes.unwrap_or_default())?;
        Ok(record.failures)
    }

    pub async fn lock_login(&self, email: &str, until: i64) -> Result<(), StoreError> {
        self.client
            .update_item()
            .table_name(&self.tables.users)
            .key("pk", AttributeValue::S(throttle_pk(email)))
            .update_expression("SET locked_until = :until, expires_at = :expires")
            .expression_attribute_values(":until", AttributeValue::N(until.to_string()))
            .expression_attribute_values(
                ":expires",
                AttributeValue::N((until + QUIET_RESET_SECS + 3600).to_string()),
            )
            .send()
            .await?;
        Ok(())
    }

    pub async fn clear_login_failures(&self, email: &str) -> Result<(), StoreError> {
        self.client
            .delete_item()
            .table_name(&self.tables.users)
            .key("pk", AttributeValue::S(throttle_pk(email)))
            .send()
            .await?;
        Ok(())
    }
}
