//! What the session flows and the rate limits need of the store, as small traits: the DynamoDB
//! [`Store`] implements them, and the flows' unit tests run against an in-memory fake with the
//! same outcomes (conditional writes refused as `Stale` or `AlreadyExists`, expired items gone).

use std::future::Future;

use crate::domain::model::{Session, User, UserStatus};
use crate::domain::sensitive::Sensitive;
use crate::store::{Reservation, Store, StoreError};

/// Refresh sessions (one item per login, rotated by a conditional update).
pub trait SessionStore: Sync {
    /// `AlreadyExists` when another session has the id.
    fn create_session(
        &self,
        session: &Session,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// The session, if it exists and is live at `now_secs`.
    fn get_live_session(
        &self,
        id: &str,
        now_secs: i64,
    ) -> impl Future<Output = Result<Option<Session>, StoreError>> + Send;
    /// From `generation` to the next, if it is still current and the session live; `Stale`
    /// otherwise (a missing session included).
    fn advance_session(
        &self,
        id: &str,
        generation: u32,
        new_expires_at: i64,
        now_secs: i64,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Ending a missing session is no error.
    fn revoke_session(&self, id: &str) -> impl Future<Output = Result<(), StoreError>> + Send;
    fn revoke_user_sessions(
        &self,
        user_id: &str,
    ) -> impl Future<Output = Result<usize, StoreError>> + Send;
}

/// Users as a login sees them, and the per-email failure counters.
pub trait UserCredentials: Sync {
    fn find_user_by_email(
        &self,
        email: &str,
    ) -> impl Future<Output = Result<Option<User>, StoreError>> + Send;
    fn get_user(&self, id: &str) -> impl Future<Output = Result<Option<User>, StoreError>> + Send;
    fn set_user_status(
        &self,
        user_id: &str,
        status: UserStatus,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Stamps the user's revocation cut-off (milliseconds) at the store's present.
    fn invalidate_tokens(
        &self,
        user_id: &str,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// `Stale` unless the hash is still `old`.
    fn update_password_hash(
        &self,
        user_id: &str,
        old: &Sensitive,
        new: &Sensitive,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// One attempt at `now_ms` ([`crate::store::LoginFailures::next_attempt`]).
    fn reserve_login_attempt(
        &self,
        email: &str,
        now_ms: i64,
        lock_after: impl Fn(u32) -> Option<i64> + Send + Sync,
    ) -> impl Future<Output = Result<Reservation, StoreError>> + Send;
    fn clear_login_failures(
        &self,
        email: &str,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// Request counters in fixed windows, shared by every instance.
pub trait RateCounter: Sync {
    /// Counts one request under `action` and `key` in the window starting at `window_start`
    /// (epoch seconds) and returns the count so far.
    fn count_request(
        &self,
        action: &str,
        key: &str,
        window_start: i64,
        window_secs: i64,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;
}

impl SessionStore for Store {
    async fn create_session(&self, session: &Session) -> Result<(), StoreError> {
        Store::create_session(self, session).await
    }

    async fn get_live_session(
        &self,
        id: &str,
        now_secs: i64,
    ) -> Result<Option<Session>, StoreError> {
        Store::get_live_session(self, id, now_secs).await
    }

    async fn advance_session(
        &self,
        id: &str,
        generation: u32,
        new_expires_at: i64,
        now_secs: i64,
    ) -> Result<(), StoreError> {
        Store::advance_session(self, id, generation, new_expires_at, now_secs).await
    }

    async fn revoke_session(&self, id: &str) -> Result<(), StoreError> {
        Store::revoke_session(self, id).await
    }

    async fn revoke_user_sessions(&self, user_id: &str) -> Result<usize, StoreError> {
        Store::revoke_user_sessions(self, user_id).await
    }
}

impl UserCredentials for Store {
    async fn find_user_by_email(&self, email: &str) -> Result<Option<User>, StoreError> {
        Store::find_user_by_email(self, email).await
    }

    async fn get_user(&self, id: &str) -> Result<Option<User>, StoreError> {
        Store::get_user(self, id).await
    }

    async fn set_user_status(&self, user_id: &str, status: UserStatus) -> Result<(), StoreError> {
        Store::set_user_status(self, user_id, status).await
    }

    async fn invalidate_tokens(&self, user_id: &str) -> Result<(), StoreError> {
        Store::invalidate_tokens(self, user_id).await
    }

    async fn update_password_hash(
        &self,
        user_id: &str,
        old: &Sensitive,
        new: &Sensitive,
    ) -> Result<(), StoreError> {
        Store::update_password_hash(self, user_id, old, new).await
    }

    async fn reserve_login_attempt(
        &self,
        email: &str,
        now_ms: i64,
        lock_after: impl Fn(u32) -> Option<i64> + Send + Sync,
    ) -> Result<Reservation, StoreError> {
        Store::reserve_login_attempt(self, email, now_ms, lock_after).await
    }

    async fn clear_login_failures(&self, email: &str) -> Result<(), StoreError> {
        Store::clear_login_failures(self, email).await
    }
}

impl RateCounter for Store {
    async fn count_request(
        &self,
        action: &str,
        key: &str,
        window_start: i64,
        window_secs: i64,
    ) -> Result<u64, StoreError> {
        Store::count_request(self, action, key, window_start, window_secs).await
    }
}
