//! Refresh sessions: one item per login, keyed by session id. The refresh token is derived from
//! (session id, generation) with an HMAC (see `refresh_token`), so the item stores the counter
//! and no token. Rotation is a single conditional update on the counter, so of several
//! concurrent refreshes with one token exactly one advances it; `rotated_at` lets the others,
//! inside the grace window, be answered with the same new token.
//! `expires_at` is also the table's TTL attribute, but DynamoDB deletes late (and the local
//! emulator never does), so every read checks it.

use super::schema::SESSIONS_BY_USER_INDEX;
use super::{Store, StoreError, conditional_write};
use crate::domain::model::Session;
use aws_sdk_dynamodb::types::AttributeValue;

impl Store {
    /// Writes a new session. When the SDK resends the put after DynamoDB applied it (the answer
    /// was lost to a timeout or a reset connection), the resend finds the item: if it is this
    /// very session (same owner and creation instant), the write is done, not refused.
    pub async fn create_session(&self, session: &Session) -> Result<(), StoreError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.tables.sessions)
            .set_item(Some(serde_dynamo::to_item(session)?))
            .condition_expression("attribute_not_exists(id)")
            .send()
            .await;
        match conditional_write(result, StoreError::AlreadyExists) {
            Err(StoreError::AlreadyExists) => {
                let stored = self
                    .client
                    .get_item()
                    .table_name(&self.tables.sessions)
                    .key("id", AttributeValue::S(session.id.clone()))
                    .consistent_read(true)
                    .send()
                    .await?;
                match stored.item.map(serde_dynamo::from_item::<_, Session>) {
                    Some(Ok(stored))
                        if stored.user_id == session.user_id
                            && stored.created_at == session.created_at =>
                    {
                        Ok(())
                    }
                    _ => Err(StoreError::AlreadyExists),
                }
            }
            other => other,
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

    /// Moves the session from `generation` to the next one if nobody did so first and it is
    /// still live; `Stale` otherwise.
    pub async fn advance_session(
        &self,
        id: &str,
        generation: u32,
        new_expires_at: i64,
        now_secs: i64,
    ) -> Result<(), StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.tables.sessions)
            .key("id", AttributeValue::S(id.to_owned()))
            .update_expression("SET generation = :next, rotated_at = :now, expires_at = :expires")
            .condition_expression(
                "generation = :current AND expires_at > :now AND absolute_expires_at > :now",
            )
            .expression_attribute_values(":current", AttributeValue::N(generation.to_string()))
            .expression_attribute_values(
                ":next",
                AttributeValue::N((u64::from(generation) + 1).to_string()),
            )
            .expression_attribute_values(":expires", AttributeValue::N(new_expires_at.to_string()))
            .expression_attribute_values(":now", AttributeValue::N(now_secs.to_string()))
            .send()
            .await;
        conditional_write(result, StoreError::Stale)
    }

    /// Ends a session. Ending one that does not exist is not an error.
    pub async fn revoke_session(&self, id: &str) -> Result<(), StoreError> {
        self.client
            .delete_item()
            .table_name(&self.tables.sessions)
            .key("id", AttributeValue::S(id.to_owned()))
            .send()
            .await?;
        Ok(())
    }

    /// Ends every session of a user; returns how many there were.
    pub async fn revoke_user_sessions(&self, user_id: &str) -> Result<usize, StoreError> {
        self.revoke_user_sessions_except(user_id, None).await
    }

    /// Ends every session of a user but `keep`; returns how many it ended.
    pub async fn revoke_user_sessions_except(
        &self,
        user_id: &str,
        keep: Option<&str>,
    ) -> Result<usize, StoreError> {
        let mut ended = 0;
        let mut start = None;
        loop {
            let page = self
                .client
                .query()
                .table_name(&self.tables.sessions)
                .index_name(SESSIONS_BY_USER_INDEX)
                .key_condition_expression("user_id = :user")
                .expression_attribute_values(":user", AttributeValue::S(user_id.to_owned()))
                .set_exclusive_start_key(start)
                .send()
                .await?;
            for item in page.items.unwrap_or_default() {
                if let Some(AttributeValue::S(id)) = item.get("id")
                    && keep != Some(id.as_str())
                {
                    self.revoke_session(id).await?;
                    ended += 1;
                }
            }
            match page.last_evaluated_key {
                Some(key) if !key.is_empty() => start = Some(key),
                _ => return Ok(ended),
            }
        }
    }
}
