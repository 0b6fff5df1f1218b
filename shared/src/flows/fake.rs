//! An in-memory store for the flows' unit tests, with the outcomes the DynamoDB code gives:
//! conditional writes refused as `Stale` or `AlreadyExists`, items past their expiry (the TTL
//! attribute, which DynamoDB sweeps late and every read checks) treated as gone. Its clock is
//! set by the test; it stands for the store's own stamps (the revocation cut-off).

use std::collections::HashMap;
use std::sync::Mutex;

use crate::domain::model::{Session, User, UserStatus};
use crate::domain::sensitive::Sensitive;
use crate::flows::ports::{RateCounter, SessionStore, UserCredentials};
use crate::store::{LoginFailures, Reservation, StoreError, email_key};

#[derive(Debug, Default)]
struct Tables {
    sessions: HashMap<String, Session>,
    users: HashMap<String, User>,
    failures: HashMap<String, LoginFailures>,
    /// hits and TTL (epoch seconds) by counter key.
    counters: HashMap<String, (u64, i64)>,
}

#[derive(Debug, Default)]
pub struct FakeStore {
    tables: Mutex<Tables>,
    now_ms: Mutex<i64>,
}

impl FakeStore {
    pub fn at(now_ms: i64) -> Self {
        Self {
            tables: Mutex::default(),
            now_ms: Mutex::new(now_ms),
        }
    }

    /// Moves the store's clock (its own stamps, and the TTL sweep of counters).
    pub fn set_now(&self, now_ms: i64) {
        *self.now_ms.lock().unwrap() = now_ms;
    }

    fn now_ms(&self) -> i64 {
        *self.now_ms.lock().unwrap()
    }

    pub fn put_user(&self, user: User) {
        self.tables
            .lock()
            .unwrap()
            .users
            .insert(user.id.clone(), user);
    }

    pub fn user(&self, id: &str) -> Option<User> {
        self.tables.lock().unwrap().users.get(id).cloned()
    }

    /// The session as stored, live or not.
    pub fn session(&self, id: &str) -> Option<Session> {
        self.tables.lock().unwrap().sessions.get(id).cloned()
    }

    pub fn failures(&self, email: &str) -> Option<LoginFailures> {
        self.tables
            .lock()
            .unwrap()
            .failures
            .get(&email_key(email))
            .cloned()
    }
}

impl SessionStore for FakeStore {
    async fn create_session(&self, session: &Session) -> Result<(), StoreError> {
        let mut tables = self.tables.lock().unwrap();
        match tables.sessions.get(&session.id) {
            // A resend of this very session is done, as `Store::create_session` finds.
            Some(stored)
                if stored.user_id == session.user_id && stored.created_at == session.created_at =>
            {
                Ok(())
            }
            Some(_) => Err(StoreError::AlreadyExists),
            None => {
                tables.sessions.insert(session.id.clone(), session.clone());
                Ok(())
            }
        }
    }

    async fn get_live_session(
        &self,
        id: &str,
        now_secs: i64,
    ) -> Result<Option<Session>, StoreError> {
        let tables = self.tables.lock().unwrap();
        Ok(tables
            .sessions
            .get(id)
            .filter(|s| s.is_live(now_secs))
            .cloned())
    }

    async fn advance_session(
        &self,
        id: &str,
        generation: u32,
        new_expires_at: i64,
        now_secs: i64,
    ) -> Result<(), StoreError> {
        let mut tables = self.tables.lock().unwrap();
        // `generation = :current AND expires_at > :now AND absolute_expires_at > :now`.
        match tables.sessions.get_mut(id) {
            Some(session) if session.generation == generation && session.is_live(now_secs) => {
                session.generation = generation + 1;
                session.rotated_at = Some(now_secs);
                session.expires_at = new_expires_at;
                Ok(())
            }
            _ => Err(StoreError::Stale),
        }
    }

    async fn revoke_session(&self, id: &str) -> Result<(), StoreError> {
        self.tables.lock().unwrap().sessions.remove(id);
        Ok(())
    }

    async fn revoke_user_sessions(&self, user_id: &str) -> Result<usize, StoreError> {
        let mut tables = self.tables.lock().unwrap();
        let before = tables.sessions.len();
        tables.sessions.retain(|_, s| s.user_id != user_id);
        Ok(before - tables.sessions.len())
    }
}

impl UserCredentials for FakeStore {
    async fn find_user_by_email(&self, email: &str) -> Result<Option<User>, StoreError> {
        let tables = self.tables.lock().unwrap();
        Ok(tables
            .users
            .values()
            .find(|u| email_key(&u.email) == email_key(email))
            .cloned())
    }

    async fn get_user(&self, id: &str) -> Result<Option<User>, StoreError> {
        Ok(self.user(id))
    }

    async fn set_user_status(&self, user_id: &str, status: UserStatus) -> Result<(), StoreError> {
        let now = self.now_ms();
        let mut tables = self.tables.lock().unwrap();
        // `attribute_exists(pk)`: a missing user is a failed condition, which the DynamoDB code
        // does not single out: it surfaces as an outage, as there.
        let user = tables.users.get_mut(user_id).ok_or_else(missing_user)?;
        user.status = status;
        user.updated_at = now;
        Ok(())
    }

    async fn invalidate_tokens(&self, user_id: &str) -> Result<(), StoreError> {
        let now = self.now_ms();
        let mut tables = self.tables.lock().unwrap();
        let user = tables.users.get_mut(user_id).ok_or_else(missing_user)?;
        user.sessions_valid_after = Some(now);
        user.updated_at = now;
        user.kept_session = None;
        Ok(())
    }

    async fn update_password_hash(
        &self,
        user_id: &str,
        old: &Sensitive,
        new: &Sensitive,
    ) -> Result<(), StoreError> {
        let now = self.now_ms();
        let mut tables = self.tables.lock().unwrap();
        match tables.users.get_mut(user_id) {
            Some(user) if user.password.as_ref().map(Sensitive::expose) == Some(old.expose()) => {
                user.password = Some(new.clone());
                user.updated_at = now;
                Ok(())
            }
            _ => Err(StoreError::Stale),
        }
    }

    async fn reserve_login_attempt(
        &self,
        email: &str,
        now_ms: i64,
        lock_after: impl Fn(u32) -> Option<i64> + Send + Sync,
    ) -> Result<Reservation, StoreError> {
        let mut tables = self.tables.lock().unwrap();
        let key = email_key(email);
        // Past its TTL the counter is gone, whether or not a sweep removed it.
        let seen = tables
            .failures
            .get(&key)
            .filter(|f| f.expires_at() > now_ms / 1000)
            .cloned()
            .unwrap_or_default();
        Ok(match seen.next_attempt(now_ms, lock_after) {
            Some(next) => {
                let attempt = next.failures;
                tables.failures.insert(key, next);
                Reservation::Granted { attempt }
            }
            None => Reservation::Refused,
        })
    }

    async fn clear_login_failures(&self, email: &str) -> Result<(), StoreError> {
        self.tables
            .lock()
            .unwrap()
            .failures
            .remove(&email_key(email));
        Ok(())
    }
}

impl RateCounter for FakeStore {
    async fn count_request(
        &self,
        action: &str,
        key: &str,
        window_start: i64,
        window_secs: i64,
    ) -> Result<u64, StoreError> {
        let now_secs = self.now_ms().div_euclid(1000);
        let mut tables = self.tables.lock().unwrap();
        let pk = format!("rate#{action}#{key}#{window_start}");
        let expires_at = window_start + window_secs + 60;
        let counter = tables.counters.entry(pk).or_insert((0, expires_at));
        if counter.1 <= now_secs {
            *counter = (0, expires_at);
        }
        counter.0 += 1;
        counter.1 = expires_at;
        Ok(counter.0)
    }
}

/// What the DynamoDB code returns for a conditional update of a user that is not there: the
/// SDK's ConditionalCheckFailed converted as every SDK error is.
fn missing_user() -> StoreError {
    StoreError::Unavailable("ConditionalCheckFailedException: the user does not exist".into())
}
