//! What the mailed links change: a verification makes an `unverified` account `active` (once:
//! the write is conditional on the status), and a password reset spends its token. Reset
//! tokens are recorded under `pk = reset#<token id>` in the users table (with the TTL attribute)
//! when mailed, and deleted in the same transaction that writes the new password, so a link
//! works once whatever its `exp` says.

use aws_sdk_dynamodb::types::{AttributeValue, Delete, TransactWriteItem, Update};

use super::users::{email_pk, user_pk};
use super::{Store, StoreError, now_millis, transaction_outcome};
use crate::sensitive::Sensitive;

fn reset_pk(token_id: &str) -> String {
    format!("reset#{token_id}")
}

fn malformed(error: impl std::fmt::Display) -> StoreError {
    StoreError::Malformed(error.to_string())
}

impl Store {
    /// Records a reset token issued to `user_id`, usable until `expires_at` (epoch seconds).
    pub async fn put_reset_token(
        &self,
        token_id: &str,
        user_id: &str,
        expires_at: i64,
    ) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(&self.tables.users)
            .item("pk", AttributeValue::S(reset_pk(token_id)))
            .item("user_id", AttributeValue::S(user_id.to_owned()))
            .item("expires_at", AttributeValue::N(expires_at.to_string()))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await?;
        Ok(())
    }

    /// Replaces the password hash of the unverified account `user_id` (a registration of its
    /// address again: the latest registration's password is the one a verification activates).
    /// `Stale` when the account is not (or no longer) `unverified`, or has expired.
    pub async fn replace_unverified_password(
        &self,
        user_id: &str,
        password_hash: &Sensitive,
    ) -> Result<(), StoreError> {
        let now = now_millis();
        let result = self
            .client
            .update_item()
            .table_name(&self.tables.users)
            .key("pk", AttributeValue::S(user_pk(user_id)))
            .update_expression("SET password = :hash, updated_at = :ms")
            .condition_expression(
                "#status = :unverified AND (attribute_not_exists(expires_at) OR expires_at > :now)",
            )
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(
                ":hash",
                AttributeValue::S(password_hash.expose().to_owned()),
            )
            .expression_attribute_values(":unverified", AttributeValue::S("unverified".into()))
            .expression_attribute_values(":ms", AttributeValue::N(now.to_string()))
            .expression_attribute_values(":now", AttributeValue::N((now / 1000).to_string()))
            .send()
            .await;
        super::conditional_write(result, StoreError::Stale)
    }

    /// Makes the unverified account `user_id` (with `email`) active and permanent, in one
    /// transaction with its email claim, only while its password hash is still `password_hash`
    /// (the one the verification link was mailed for). `Stale` when the account is not (or no
    /// longer) `unverified`, has expired, has another password since, or the address is no
    /// longer its own.
    pub async fn activate_unverified(
        &self,
        user_id: &str,
        email: &str,
        password_hash: &Sensitive,
    ) -> Result<(), StoreError> {
        let now = now_millis();
        let user = Update::builder()
            .table_name(&self.tables.users)
            .key("pk", AttributeValue::S(user_pk(user_id)))
            .update_expression("SET #status = :active, updated_at = :ms REMOVE expires_at")
            .condition_expression(
                "#status = :unverified AND password = :hash AND (attribute_not_exists(expires_at) OR expires_at > :now)",
            )
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":active", AttributeValue::S("active".into()))
            .expression_attribute_values(":unverified", AttributeValue::S("unverified".into()))
            .expression_attribute_values(
                ":hash",
                AttributeValue::S(password_hash.expose().to_owned()),
            )
            .expression_attribute_values(":ms", AttributeValue::N(now.to_string()))
            .expression_attribute_values(":now", AttributeValue::N((now / 1000).to_string()))
            .build()
            .map_err(malformed)?;
        let claim = Update::builder()
            .table_name(&self.tables.users)
            .key("pk", AttributeValue::S(email_pk(email)))
            .update_expression("REMOVE expires_at")
            .condition_expression("user_id = :id")
            .expression_attribute_values(":id", AttributeValue::S(user_id.to_owned()))
            .build()
            .map_err(malformed)?;
        let result = self
            .client
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().update(user).build())
            .transact_items(TransactWriteItem::builder().update(claim).build())
            .send()
            .await;
        transaction_outcome(result, |_| Some(StoreError::Stale))?;
        Ok(())
    }

    /// Spends reset token `token_id` (it must exist, be `user_id`'s and be unexpired) and, in
    /// the same transaction, stores the new password hash of the active user `user_id` and
    /// stamps the revocation cut-off (`User::cut_off`): every session created and every access
    /// token issued before this moment ends. `Stale` when the token is spent, expired or another
    /// user's, or the user is gone or not active; nothing is written then.
    pub async fn reset_password(
        &self,
        token_id: &str,
        user_id: &str,
        password_hash: &Sensitive,
    ) -> Result<(), StoreError> {
        let now = now_millis();
        let spend = Delete::builder()
            .table_name(&self.tables.users)
            .key("pk", AttributeValue::S(reset_pk(token_id)))
            .condition_expression("user_id = :id AND expires_at > :now")
            .expression_attribute_values(":id", AttributeValue::S(user_id.to_owned()))
            .expression_attribute_values(":now", AttributeValue::N((now / 1000).to_string()))
            .build()
            .map_err(malformed)?;
        let user = Update::builder()
            .table_name(&self.tables.users)
            .key("pk", AttributeValue::S(user_pk(user_id)))
            .update_expression(
                "SET password = :hash, sessions_valid_after = :ms, updated_at = :ms REMOVE kept_session",
            )
            .condition_expression("#status = :active")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":active", AttributeValue::S("active".into()))
            .expression_attribute_values(":hash", AttributeValue::S(password_hash.expose().to_owned()))
            .expression_attribute_values(":ms", AttributeValue::N(now.to_string()))
            .build()
            .map_err(malformed)?;
        let result = self
            .client
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().delete(spend).build())
            .transact_items(TransactWriteItem::builder().update(user).build())
            .send()
            .await;
        transaction_outcome(result, |_| Some(StoreError::Stale))?;
        Ok(())
    }
}
