//! Refresh sessions: one item per login, keyed by session id. Only a hash of the refresh secret is
//! stored. Rotation is a single conditional update on that hash, so of several concurrent
//! refreshes with one token exactly one wins. `previous_hash` and `rotated_at` are kept so that a
//! grace window and reuse detection can be added without changing the item's shape.
//! `expires_at` is also the table's TTL attribute, but DynamoDB deletes late (and the local
//! emulator never does), so every read checks it.

use aws_sdk_dynamodb::types::AttributeValue;
use serde::{Deserialize, Serialize};

use super::{Store, StoreError};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    pub id: String,
    pub user_id: String,
    /// SHA-256 of the refresh secret, base64url.
    pub token_hash: String,
    /// Number of rotations so far.
    pub generation: u64,
    /// Epoch seconds; the TTL attribute.
    pub expires_at: i64,
    /// Epoch milliseconds.
    pub created_at: i64,
    #[serde(default)]
    pub ip: Option<String>,
    #[serde(default)]
    pub user_agent: Option<String>,
    #[serde(default)]
    pub previous_hash: Option<String>,
    #[serde(default)]
    pub rotated_at: Option<i64>,
}

impl Session {
    pub fn is_live(&self, now_secs: i64) -> bool {
        self.expires_at > now_secs
    }
}

impl Store {
    pub async fn create_session(&self, session: &Session) -> Result<(), StoreError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.tables.sessions)
            .set_item(Some(serde_dynamo::to_item(session)?))
            .condition_expression("attribute_not_exists(id)")
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(error)
                if error
                    .as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Err(StoreError::AlreadyExists)
            }
            Err(error) => Err(error.into()),
        }
    }

    /// The session, if it exists and has not expired.
    pub async fn get_live_session(
        &self,
        id: &str,
        now_secs: i64,
    ) -> Result<Option<Session>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.tables.sessions)
            .key("id", AttributeValue::S(id.to_owned()))
            .consistent_read(true)
            .send()
            .await?;
        let Some(item) = output.item else {
            return Ok(None);
        };
        let session: Session = serde_dynamo::from_item(item)?;
        Ok(session.is_live(now_secs).then_some(session))
    }

    /// Replaces the refresh secret's hash if it is still `expected_hash` and the session is live;
    /// `Stale` when another refresh, a logout or expiry got there first.
    pub async fn rotate_session(
        &self,
        id: &str,
        expected_hash: &str,
        new_hash: &str,
        new_expires_at: i64,
        now_millis: i64,
    ) -> Result<(), StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.tables.sessions)
            .key("id", AttributeValue::S(id.to_owned()))
            .update_expression(
                "SET token_hash = :new, previous_hash = :old, generation = generation + :one, \
                 expires_at = :expires, rotated_at = :now",
            )
            .condition_expression("token_hash = :old AND expires_at > :now_secs")
            .expression_attribute_values(":new", AttributeValue::S(new_hash.to_owned()))
            .expression_attribute_values(":old", AttributeValue::S(expected_hash.to_owned()))
            .expression_attribute_values(":one", AttributeValue::N("1".into()))
            .expression_attribute_values(":expires", AttributeValue::N(new_expires_at.to_string()))
            .expression_attribute_values(":now", AttributeValue::N(now_millis.to_string()))
            .expression_attribute_values(
                ":now_secs",
                AttributeValue::N((now_millis / 1000).to_string()),
            )
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(error)
                if error
                    .as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Err(StoreError::Stale)
            }
            Err(error) => Err(error.into()),
        }
    }

    /// Deletes the session when `token_hash` still matches, so only the holder of the current
    /// refresh token can end it. Returns whether a session was deleted.
    pub async fn delete_session(&self, id: &str, token_hash: &str) -> Result<bool, StoreError> {
        let result = self
            .client
            .delete_item()
            .table_name(&self.tables.sessions)
            .key("id", AttributeValue::S(id.to_owned()))
            .condition_expression("token_hash = :hash")
            .expression_attribute_values(":hash", AttributeValue::S(token_hash.to_owned()))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(error)
                if error
                    .as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Ok(false)
            }
            Err(error) => Err(error.into()),
        }
    }

    /// Ends a session whatever its token (a suspended user's session, say).
    pub async fn revoke_session(&self, id: &str) -> Result<(), StoreError> {
        self.client
            .delete_item()
            .table_name(&self.tables.sessions)
            .key("id", AttributeValue::S(id.to_owned()))
            .send()
            .await?;
        Ok(())
    }
}
