//! What the mailed links change: a verification makes an `unverified` account `active` (once:
//! the write is conditional on the status) with the password of the registration its link was
//! mailed for, and a password reset spends its token. Later registrations of an unverified
//! account's address are recorded on the account (`pending_registrations`, the latest
//! [`MAX_PENDING_REGISTRATIONS`]: a new one pushes out the oldest), never written over its
//! password. Reset
//! tokens are recorded under `pk = reset#<token id>` in the users table (with the TTL attribute)
//! when mailed, and deleted in the same transaction that writes the new password, so a link
//! works once whatever its `exp` says.

use aws_sdk_dynamodb::types::{AttributeValue, Delete, TransactWriteItem, Update};

use super::users::{CONFLICT_RETRIES, PENDING_ATTRIBUTE, email_pk, user_pk};
use super::{
    MAX_PENDING_REGISTRATIONS, PendingRegistration, Store, StoreError, now_millis,
    transaction_outcome,
};
use crate::domain::sensitive::Sensitive;

/// What a verification makes of an unverified account.
#[derive(Debug, Clone, Copy)]
pub enum Activation<'a> {
    /// Its own registration (the one that created it), as long as its password is still
    /// `password_hash`.
    Account { password_hash: &'a Sensitive },
    /// The later registration at `index` of its list, which must still be `registration`: its
    /// password and names become the account's.
    Pending {
        index: usize,
        registration: &'a PendingRegistration,
    },
}

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

    /// Records `registration`, a later registration of the address of the unverified account
    /// `user_id` (a full list gives up its oldest entry). `Stale` when the account is not (or no
    /// longer) `unverified`, has expired, or never expires (an account an administrator made
    /// `unverified` is not one a registration opened: nobody may add a password to it); nothing
    /// is written then.
    pub async fn add_pending_registration(
        &self,
        user_id: &str,
        registration: &PendingRegistration,
    ) -> Result<(), StoreError> {
        let now_secs = now_millis() / 1000;
        let entry = serde_dynamo::to_attribute_value(registration)?;
        let result = self
            .client
            .update_item()
            .table_name(&self.tables.users)
            .key("pk", AttributeValue::S(user_pk(user_id)))
            .update_expression("SET #pending = list_append(if_not_exists(#pending, :none), :entry)")
            .condition_expression(
                "#status = :unverified AND expires_at > :now \
                 AND (attribute_not_exists(#pending) OR size(#pending) < :max)",
            )
            .expression_attribute_names("#status", "status")
            .expression_attribute_names("#pending", PENDING_ATTRIBUTE)
            .expression_attribute_values(":none", AttributeValue::L(Vec::new()))
            .expression_attribute_values(":entry", AttributeValue::L(vec![entry]))
            .expression_attribute_values(":unverified", AttributeValue::S("unverified".into()))
            .expression_attribute_values(":now", AttributeValue::N(now_secs.to_string()))
            .expression_attribute_values(
                ":max",
                AttributeValue::N(MAX_PENDING_REGISTRATIONS.to_string()),
            )
            .send()
            .await;
        match super::conditional_write(result, StoreError::Stale) {
            Err(StoreError::Stale) => self.replace_oldest_pending(user_id, registration).await,
            other => other,
        }
    }

    /// The list is full: the oldest later registration gives way to this one, so whoever
    /// registers the address last always gets a link (five registrations by someone else must
    /// not lock the owner out until the account expires). The account's own registration is
    /// not in the list and keeps its link. Conditional on the list being the one read; `Stale`
    /// when the account is no longer an unverified, unexpired one (or changed meanwhile).
    async fn replace_oldest_pending(
        &self,
        user_id: &str,
        registration: &PendingRegistration,
    ) -> Result<(), StoreError> {
        let Some((user, pending)) = self.get_user_with_registrations(user_id).await? else {
            return Err(StoreError::Stale);
        };
        if user.status != crate::domain::model::UserStatus::Unverified
            || pending.len() < MAX_PENDING_REGISTRATIONS
        {
            return Err(StoreError::Stale);
        }
        let oldest = pending[0].id.clone();
        let mut kept: Vec<PendingRegistration> =
            pending[pending.len() + 1 - MAX_PENDING_REGISTRATIONS..].to_vec();
        kept.push(registration.clone());
        let list = kept
            .iter()
            .map(serde_dynamo::to_attribute_value)
            .collect::<Result<Vec<AttributeValue>, _>>()?;
        let now_secs = now_millis() / 1000;
        let result = self
            .client
            .update_item()
            .table_name(&self.tables.users)
            .key("pk", AttributeValue::S(user_pk(user_id)))
            .update_expression("SET #pending = :list")
            .condition_expression(
                "#status = :unverified AND expires_at > :now \
                 AND size(#pending) = :len AND #pending[0].id = :oldest",
            )
            .expression_attribute_names("#status", "status")
            .expression_attribute_names("#pending", PENDING_ATTRIBUTE)
            .expression_attribute_values(":list", AttributeValue::L(list))
            .expression_attribute_values(":unverified", AttributeValue::S("unverified".into()))
            .expression_attribute_values(":now", AttributeValue::N(now_secs.to_string()))
            .expression_attribute_values(":len", AttributeValue::N(pending.len().to_string()))
            .expression_attribute_values(":oldest", AttributeValue::S(oldest))
            .send()
            .await;
        super::conditional_write(result, StoreError::Stale)
    }

    /// Makes the unverified account `user_id` (with `email`) active and permanent as
    /// `activation` says, in one transaction with its email claim, and forgets every later
    /// registration: the first link used wins. `Stale` when the account is not (or no longer)
    /// `unverified`, has expired, no longer holds the registration (another password, or not
    /// that later registration), or the address is no longer its own; nothing is written then.
    pub async fn activate_unverified(
        &self,
        user_id: &str,
        email: &str,
        activation: &Activation<'_>,
    ) -> Result<(), StoreError> {
        let mut conflicts = 0;
        loop {
            match self.try_activate(user_id, email, activation).await {
                // Another transaction on the account (on AWS: a concurrent verification) was
                // in the way: tried again, the loser now finds the account active.
                Err(StoreError::Conflict) if conflicts < CONFLICT_RETRIES => {
                    conflicts += 1;
                    tokio::time::sleep(super::jittered_backoff(conflicts)).await;
                }
                other => return other,
            }
        }
    }

    async fn try_activate(
        &self,
        user_id: &str,
        email: &str,
        activation: &Activation<'_>,
    ) -> Result<(), StoreError> {
        let now = now_millis();
        let mut user = Update::builder()
            .table_name(&self.tables.users)
            .key("pk", AttributeValue::S(user_pk(user_id)))
            .expression_attribute_names("#status", "status")
            .expression_attribute_names("#pending", PENDING_ATTRIBUTE)
            .expression_attribute_values(":active", AttributeValue::S("active".into()))
            .expression_attribute_values(":unverified", AttributeValue::S("unverified".into()))
            .expression_attribute_values(":ms", AttributeValue::N(now.to_string()))
            .expression_attribute_values(":now", AttributeValue::N((now / 1000).to_string()));
        let unverified =
            "#status = :unverified AND (attribute_not_exists(expires_at) OR expires_at > :now)";
        match activation {
            Activation::Account { password_hash } => {
                user = user
                    .update_expression(
                        "SET #status = :active, updated_at = :ms REMOVE expires_at, #pending",
                    )
                    .condition_expression(format!("{unverified} AND password = :hash"))
                    .expression_attribute_values(
                        ":hash",
                        AttributeValue::S(password_hash.expose().to_owned()),
                    );
            }
            Activation::Pending {
                index,
                registration,
            } => {
                // The registration's names replace the account's, absent ones included.
                let mut sets = vec![
                    "#status = :active".to_owned(),
                    "password = :hash".to_owned(),
                    "updated_at = :ms".to_owned(),
                ];
                let mut removes = vec!["expires_at".to_owned(), "#pending".to_owned()];
                for (field, value) in [
                    ("first_name", &registration.first_name),
                    ("last_name", &registration.last_name),
                ] {
                    match value {
                        Some(value) => {
                            sets.push(format!("{field} = :{field}"));
                            user = user.expression_attribute_values(
                                format!(":{field}"),
                                AttributeValue::S(value.clone()),
                            );
                        }
                        None => removes.push(field.to_owned()),
                    }
                }
                // `index` is ours (a position in the list as read), never the caller's text;
                // the entry there must still be this registration, with this password.
                user = user
                    .update_expression(format!(
                        "SET {} REMOVE {}",
                        sets.join(", "),
                        removes.join(", ")
                    ))
                    .condition_expression(format!(
                        "{unverified} AND #pending[{index}].id = :registration \
                         AND #pending[{index}].password = :hash"
                    ))
                    .expression_attribute_values(
                        ":registration",
                        AttributeValue::S(registration.id.clone()),
                    )
                    .expression_attribute_values(
                        ":hash",
                        AttributeValue::S(registration.password.expose().to_owned()),
                    );
            }
        }
        let user = user.build().map_err(malformed)?;
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
