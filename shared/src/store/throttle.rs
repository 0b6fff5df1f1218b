//! Failed-login counters, one per account (by normalised email, known or not, so that the
//! lockout itself reveals nothing), in the users table under `pk = throttle#<email>`. Shared by
//! every function instance, unlike Directus' per-process counter.
//!
//! An attempt is reserved before the password is checked: one conditional write that counts it
//! and, from the fifth on, sets the lock the next attempt must wait out. The write is
//! conditional on the counter being what was just read, so of several concurrent attempts
//! exactly one takes each count; the others read again, and none passes while a lock holds.
//! Each write also stores a fresh reservation id: when the SDK resends a write that DynamoDB had
//! already applied (its answer was lost to a timeout or a reset connection), the resend fails
//! its condition, and the id read back shows the count is this attempt's own, so it is not
//! counted twice.

use aws_sdk_dynamodb::types::AttributeValue;
use serde::{Deserialize, Serialize};

use super::{Store, StoreError, conditional_write};

/// Failures are forgotten this long after the last attempt (milliseconds): strictly longer than
/// the longest lock (15 minutes), so an attempt arriving as a lock ends still counts on from it.
pub const FORGET_AFTER_MS: i64 = 30 * 60 * 1000;
/// Concurrent attempts that lose the race for a count read again, up to this many times, then
/// are refused like a locked attempt (never checked against the password). Each lost race means
/// another attempt took a count, and the fifth count sets a lock, so six tries let every
/// contender either take a count or see the lock.
const RESERVE_TRIES: usize = 6;

/// Times in epoch milliseconds, so a one-second lock lasts a second, not "until the next
/// second starts".
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoginFailures {
    pub failures: u32,
    pub last_failure: i64,
    #[serde(default)]
    pub locked_until: i64,
}

impl LoginFailures {
    /// The counter after one more attempt at `now` (epoch milliseconds), or `None` while a lock
    /// holds. Failures older than [`FORGET_AFTER_MS`] are forgotten: the attempt counts as the
    /// first. `lock_after` gives the milliseconds the account stays locked after its n-th
    /// attempt in a row, if any. The one rule of every store of these counters.
    pub fn next_attempt(&self, now: i64, lock_after: impl Fn(u32) -> Option<i64>) -> Option<Self> {
        if self.locked_until > now {
            return None;
        }
        let forgotten = self.failures == 0 || now - self.last_failure >= FORGET_AFTER_MS;
        let failures = if forgotten {
            1
        } else {
            self.failures.saturating_add(1)
        };
        Some(Self {
            failures,
            last_failure: now,
            locked_until: lock_after(failures).map_or(0, |ms| now + ms),
        })
    }

    /// The TTL attribute (epoch seconds) of the counter: gone once it is forgotten.
    pub fn expires_at(&self) -> i64 {
        (self.last_failure.max(self.locked_until) + FORGET_AFTER_MS) / 1000 + 60
    }
}

/// Whether an attempt may be checked against the password.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reservation {
    /// Counted as the `attempt`-th in a row; a successful login clears the count.
    Granted { attempt: u32 },
    /// Locked, or lost every race for a count: refused without checking the password.
    Refused,
}

fn throttle_pk(email: &str) -> String {
    format!("throttle#{}", super::users::email_key(email))
}

impl Store {
    pub async fn login_failures(&self, email: &str) -> Result<LoginFailures, StoreError> {
        Ok(self
            .stored_failures(email)
            .await?
            .map(|(failures, _)| failures)
            .unwrap_or_default())
    }

    /// The counter and the id of the reservation that wrote it last.
    async fn stored_failures(
        &self,
        email: &str,
    ) -> Result<Option<(LoginFailures, Option<String>)>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.tables.users)
            .key("pk", AttributeValue::S(throttle_pk(email)))
            .consistent_read(true)
            .send()
            .await?;
        Ok(match output.item {
            Some(item) => {
                let reservation = item.get("reservation").and_then(|v| v.as_s().ok()).cloned();
                Some((serde_dynamo::from_item(item)?, reservation))
            }
            None => None,
        })
    }

    /// Reserves one login attempt at `now` (epoch milliseconds). `lock_after` gives the
    /// milliseconds the account stays locked after its n-th attempt in a row, if any.
    pub async fn reserve_login_attempt(
        &self,
        email: &str,
        now: i64,
        lock_after: impl Fn(u32) -> Option<i64>,
    ) -> Result<Reservation, StoreError> {
        // The reservation this call last tried to write, and the count it would have taken.
        let mut sent: Option<(String, u32)> = None;
        for _ in 0..RESERVE_TRIES {
            let stored = self.stored_failures(email).await?;
            if let (Some((_, Some(written))), Some((id, attempt))) = (&stored, &sent)
                && written == id
            {
                // The previous write was applied; only its answer was lost.
                return Ok(Reservation::Granted { attempt: *attempt });
            }
            let stored = stored.map(|(failures, _)| failures);
            let seen = stored.clone().unwrap_or_default();
            let Some(next) = seen.next_attempt(now, &lock_after) else {
                return Ok(Reservation::Refused);
            };
            let (attempt, locked_until) = (next.failures, next.locked_until);
            let id = uuid::Uuid::new_v4().simple().to_string();
            let request = self
                .client
                .update_item()
                .table_name(&self.tables.users)
                .key("pk", AttributeValue::S(throttle_pk(email)))
                .update_expression(
                    "SET failures = :attempt, last_failure = :now, locked_until = :until, \
                     expires_at = :expires, reservation = :reservation",
                )
                .expression_attribute_values(":reservation", AttributeValue::S(id.clone()))
                .expression_attribute_values(":attempt", AttributeValue::N(attempt.to_string()))
                .expression_attribute_values(":now", AttributeValue::N(now.to_string()))
                .expression_attribute_values(":until", AttributeValue::N(locked_until.to_string()))
                .expression_attribute_values(
                    ":expires",
                    // The TTL attribute is epoch seconds.
                    AttributeValue::N(next.expires_at().to_string()),
                );
            // The counter must still be the one just read: exactly one concurrent attempt
            // takes each count.
            let request = if stored.is_none() {
                request.condition_expression("attribute_not_exists(pk)")
            } else {
                // Counters written before locks were stored with them may lack `locked_until`.
                request
                    .condition_expression(
                        "failures = :seen AND last_failure = :seen_last \
                         AND (locked_until = :seen_until OR attribute_not_exists(locked_until))",
                    )
                    .expression_attribute_values(
                        ":seen",
                        AttributeValue::N(seen.failures.to_string()),
                    )
                    .expression_attribute_values(
                        ":seen_last",
                        AttributeValue::N(seen.last_failure.to_string()),
                    )
                    .expression_attribute_values(
                        ":seen_until",
                        AttributeValue::N(seen.locked_until.to_string()),
                    )
            };
            sent = Some((id, attempt));
            match conditional_write(request.send().await, StoreError::Stale) {
                Ok(()) => return Ok(Reservation::Granted { attempt }),
                Err(StoreError::Stale) => continue,
                Err(other) => return Err(other),
            }
        }
        Ok(Reservation::Refused)
    }

    /// Forgets the account's failures (after a successful login).
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
