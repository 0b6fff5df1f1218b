//! Second factors on the user item: the pending secret (`tfa_pending`), the enabled factor
//! (`tfa`: sealed secret, last accepted step, recovery code digests). Every write is one
//! conditional UpdateItem on the user, so a code is spent by exactly one request however many
//! present it at once, and a secret is only ever enabled if it is the one generated for the
//! user.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;

use super::users::user_pk;
use super::{Store, StoreError, conditional_write, now_millis};
use crate::domain::model::{PendingTwoFactor, TwoFactor};
use crate::domain::sensitive::Sensitive;

/// What spends a second factor: a code's time step (later than the last accepted one), or a
/// recovery code's stored digest (removed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Spent {
    Step(u64),
    Recovery(String),
}

/// A conditional update of one user item, its expression built in parts.
struct UserUpdate {
    sets: Vec<String>,
    removes: Vec<String>,
    conditions: Vec<String>,
    names: HashMap<String, String>,
    values: HashMap<String, AttributeValue>,
}

impl UserUpdate {
    /// An update of the user item; `touches` also stamps `updated_at` (a change of the user
    /// as clients see it: enabling or disabling). Spending a code does not: it must not fail a
    /// concurrent `PATCH` that read the user just before (its write is conditional on
    /// `updated_at`).
    fn new(touches: bool) -> Self {
        let mut update = Self {
            sets: Vec::new(),
            removes: Vec::new(),
            conditions: vec!["attribute_exists(pk)".into()],
            names: HashMap::new(),
            values: HashMap::new(),
        };
        if touches {
            update.sets.push("updated_at = :now".into());
            update.value(":now", AttributeValue::N(now_millis().to_string()));
        }
        update
    }

    fn value(&mut self, name: &str, value: AttributeValue) -> &mut Self {
        self.values.insert(name.to_owned(), value);
        self
    }

    fn secret_is(&mut self, sealed: &Sensitive) -> &mut Self {
        self.conditions.push("tfa.secret = :expected_secret".into());
        self.value(
            ":expected_secret",
            AttributeValue::S(sealed.expose().to_owned()),
        )
    }

    /// Spends `spent`: the condition that it is unspent (a step later than the last, a
    /// recovery code still there) and, unless a write of the whole factor or recovery map
    /// replaces it anyway (`record: false`; DynamoDB refuses two writes to one path), its record.
    fn spend(&mut self, spent: &Spent, record: bool) -> &mut Self {
        match spent {
            Spent::Step(step) => {
                self.conditions
                    .push("(attribute_not_exists(tfa.last_step) OR tfa.last_step < :step)".into());
                if record {
                    self.sets.push("tfa.last_step = :step".into());
                }
                self.value(":step", AttributeValue::N(step.to_string()))
            }
            Spent::Recovery(digest) => {
                self.names.insert("#digest".into(), digest.clone());
                self.conditions
                    .push("attribute_exists(tfa.recovery.#digest)".into());
                if record {
                    self.removes.push("tfa.recovery.#digest".into());
                }
                self
            }
        }
    }

    async fn send(self, store: &Store, user_id: &str) -> Result<(), StoreError> {
        let mut parts = Vec::new();
        if !self.sets.is_empty() {
            parts.push(format!("SET {}", self.sets.join(", ")));
        }
        if !self.removes.is_empty() {
            parts.push(format!("REMOVE {}", self.removes.join(", ")));
        }
        let expression = parts.join(" ");
        let result = store
            .client
            .update_item()
            .table_name(&store.tables.users)
            .key("pk", AttributeValue::S(user_pk(user_id)))
            .update_expression(expression)
            .condition_expression(self.conditions.join(" AND "))
            .set_expression_attribute_names((!self.names.is_empty()).then_some(self.names))
            .set_expression_attribute_values(Some(self.values))
            .send()
            .await;
        conditional_write(result, StoreError::Stale)
    }
}

fn recovery_map(digests: &[String]) -> AttributeValue {
    AttributeValue::M(
        digests
            .iter()
            .map(|digest| (digest.clone(), AttributeValue::Bool(true)))
            .collect(),
    )
}

impl Store {
    /// Records a generated secret, replacing an earlier one; `Stale` when the user is gone or
    /// already has a second factor.
    pub async fn set_pending_two_factor(
        &self,
        user_id: &str,
        pending: &PendingTwoFactor,
    ) -> Result<(), StoreError> {
        let mut update = UserUpdate::new(false);
        update.sets.push("tfa_pending = :pending".into());
        update.conditions.push("attribute_not_exists(tfa)".into());
        update.value(":pending", serde_dynamo::to_attribute_value(pending)?);
        update.send(self, user_id).await
    }

    /// Enables `factor` if the pending secret is still `pending` (and none is enabled), and
    /// ends the user's sessions but `keep` in the same write (the revocation cut-off).
    /// `Stale` otherwise.
    pub async fn enable_two_factor(
        &self,
        user_id: &str,
        pending: &Sensitive,
        factor: &TwoFactor,
        keep: Option<&str>,
    ) -> Result<(), StoreError> {
        let mut update = UserUpdate::new(true);
        update
            .sets
            .extend(["tfa = :factor".into(), "sessions_valid_after = :now".into()]);
        update.removes.push("tfa_pending".into());
        update.conditions.extend([
            "attribute_not_exists(tfa)".into(),
            "tfa_pending.secret = :pending".into(),
        ]);
        update.value(":factor", serde_dynamo::to_attribute_value(factor)?);
        update.value(":pending", AttributeValue::S(pending.expose().to_owned()));
        match keep {
            Some(session) => {
                update.sets.push("kept_session = :keep".into());
                update.value(":keep", AttributeValue::S(session.to_owned()));
            }
            None => update.removes.push("kept_session".into()),
        }
        update.send(self, user_id).await
    }

    /// Spends a code or recovery code of the factor sealed as `secret`, and seals the secret
    /// anew (`reseal`) when it was sealed under an older key. `Stale` when the code was spent
    /// already (a replay, or a concurrent request won) or the factor changed.
    pub async fn spend_second_factor(
        &self,
        user_id: &str,
        secret: &Sensitive,
        spent: &Spent,
        reseal: Option<&Sensitive>,
    ) -> Result<(), StoreError> {
        let mut update = UserUpdate::new(false);
        update.secret_is(secret).spend(spent, true);
        if let Some(sealed) = reseal {
            update.sets.push("tfa.secret = :resealed".into());
            update.value(":resealed", AttributeValue::S(sealed.expose().to_owned()));
        }
        update.send(self, user_id).await
    }

    /// Replaces the recovery codes, spending `spent`. `Stale` as [`Self::spend_second_factor`].
    pub async fn replace_recovery_codes(
        &self,
        user_id: &str,
        secret: &Sensitive,
        spent: &Spent,
        digests: &[String],
    ) -> Result<(), StoreError> {
        let mut update = UserUpdate::new(false);
        update
            .secret_is(secret)
            .spend(spent, matches!(spent, Spent::Step(_)));
        update.sets.push("tfa.recovery = :recovery".into());
        update.value(":recovery", recovery_map(digests));
        update.send(self, user_id).await
    }

    /// Removes the second factor sealed as `secret`, spending `spent`. `Stale` as
    /// [`Self::spend_second_factor`].
    pub async fn disable_two_factor(
        &self,
        user_id: &str,
        secret: &Sensitive,
        spent: &Spent,
    ) -> Result<(), StoreError> {
        let mut update = UserUpdate::new(true);
        // The factor goes as a whole: the spent code is only its condition.
        update.secret_is(secret).spend(spent, false);
        update.removes.extend(["tfa".into(), "tfa_pending".into()]);
        update.send(self, user_id).await
    }
}
