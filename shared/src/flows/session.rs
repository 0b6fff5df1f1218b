//! The login, refresh and logout flows (`POST /auth/login`, `/auth/refresh`, `/auth/logout`
//! and GraphQL's `auth_login`, `auth_refresh`, `auth_logout`). Transport-independent: typed
//! input, the [`Client`] facts and the instant `now` in, [`Issued`] tokens (or cookies to clear)
//! or an [`ApiError`] out. Rate limits, lockout, the equal work of every login outcome, the grace
//! window and reuse detection live here, so every transport has them; the store operations they
//! need are the [`crate::flows::ports`] traits. Reading the request and rendering the answer
//! (body, cookies) are the transport adapters'.

use crate::credential::password::Passwords;
use crate::credential::refresh_token::new_session_id;
use crate::credential::token::{Binding, Grants, SessionRef, TokenError};
use crate::domain::client::{AuthCookie, Client, CookieChange};
use crate::domain::error::ApiError;
use crate::domain::model::{Session, User, UserStatus};
use crate::domain::sensitive::Sensitive;
use crate::flows::caller::{grace_secs, within_grace};
use crate::flows::limits::{self, Limited};
use crate::flows::ports::{SessionStore, UserCredentials};
use crate::flows::time::Now;
use crate::platform::state::AppState;
use crate::store::{Reservation, StoreError};

/// How tokens travel: `json` puts the refresh token in the body, `cookie` in an httpOnly cookie;
/// `session` puts the access token itself in the httpOnly session cookie and no refresh token
/// anywhere (the cookie's `session` claim names the session).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Json,
    Cookie,
    Session,
}

impl Mode {
    /// A mode by its name (REST's `mode`, GraphQL's `auth_mode` enum values).
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "json" => Some(Self::Json),
            "cookie" => Some(Self::Cookie),
            "session" => Some(Self::Session),
            _ => None,
        }
    }
}

fn internal(error: impl std::error::Error + Send + Sync + 'static) -> ApiError {
    ApiError::Internal(Box::new(error))
}

/// What a login presents. `email` as sent (surrounding spaces are forgiven); its format is the
/// transport's business (REST answers 400 for a malformed one, GraphQL `INVALID_CREDENTIALS`).
#[derive(Debug, Clone)]
pub struct Credentials {
    pub email: String,
    pub password: Sensitive,
    /// The second factor: a code of the user's authenticator or a recovery code; ignored for a
    /// user without one.
    pub otp: Option<Sensitive>,
    pub mode: Mode,
}

/// What login and refresh issue, per mode: json returns both tokens; cookie returns the access
/// token and sets the refresh cookie; session returns neither and sets the session cookie.
#[derive(Debug, Clone)]
pub struct Issued {
    pub mode: Mode,
    /// `None` in session mode (the token is the cookie).
    pub access_token: Option<String>,
    /// Only in json mode.
    pub refresh_token: Option<Sensitive>,
    /// Lifetime of the access token (or session cookie), milliseconds.
    pub expires_ms: u64,
    pub cookies: Vec<CookieChange>,
}

/// A login of any transport that could never match an account, refused before any work:
/// bounds and control characters protect the service whatever the transport checked.
fn plausible(email: &str, password: &Sensitive) -> bool {
    // The bounds and the character rule the REST adapter applies, so no transport escapes them.
    use crate::domain::text::{MAX_BODY_BYTES, MAX_EMAIL_CHARS, is_control};
    !email.is_empty()
        && email.chars().count() <= MAX_EMAIL_CHARS
        && !email.chars().any(|c| is_control(c) || c.is_whitespace())
        && !password.expose().is_empty()
        && password.expose().chars().count() <= MAX_BODY_BYTES
}

/// Logs in with email and password at `now`: one limit count per client address, one lock
/// count per email, always one argon2 verification (the dummy hash for an unknown email, and
/// while the account is locked), then a new session. Every refusal is `INVALID_CREDENTIALS`.
pub async fn login(
    state: &AppState,
    passwords: &Passwords,
    credentials: Credentials,
    client: &Client,
    now: Now,
) -> Result<Issued, ApiError> {
    let email = credentials.email.trim_matches(' ').to_owned();
    let password = credentials.password;
    let mode = credentials.mode;
    if !plausible(&email, &password) {
        return Err(ApiError::InvalidCredentials);
    }
    limits::enforce(state, client, Limited::Login, now).await?;
    let store = &state.store;

    // The attempt is counted before the password is checked, so parallel guesses cannot all
    // pass one lock check: each takes its own count, and none is checked while a lock holds.
    let reservation = reserve_attempt(store, &email, now).await?;
    // The session counts from `now`, before the user is read: a revocation (a reset, a new
    // password, a role change) committed while this login verified the old hash then ends this
    // session too, instead of a session stamped after the cut-off outliving it.
    let user = store.find_user_by_email(&email).await?;
    // Always one argon2 verification: against the user's hash, or the dummy when there is none,
    // and also while the account is locked, so no path is faster than another.
    let stored = user.as_ref().and_then(|u| u.password.as_ref());
    let verified = passwords
        .verify(&password, stored)
        .await
        .map_err(internal)?;
    let Reservation::Granted { attempt } = reservation else {
        return Err(ApiError::InvalidCredentials);
    };
    let user = match user {
        Some(user) if verified && user.status == UserStatus::Active => user,
        user => {
            refuse_attempt(state, attempt, user.as_ref()).await?;
            return Err(ApiError::InvalidCredentials);
        }
    };
    // The second factor, after the password (a wrong password is INVALID_CREDENTIALS whatever
    // the code): until it passes, this attempt stays counted, so wrong codes lock the account
    // as wrong passwords do.
    if let Err(error) = crate::flows::second_factor::second_step(
        state,
        &user,
        credentials.otp.as_ref().map(Sensitive::expose),
        now,
    )
    .await
    {
        if matches!(error, ApiError::InvalidOtp) {
            refuse_attempt(state, attempt, Some(&user)).await?;
        }
        return Err(error);
    }
    store.clear_login_failures(&email).await?;
    if let Some(old) = user.password.as_ref().filter(|h| passwords.needs_rehash(h)) {
        let new = passwords.hash(&password).await.map_err(internal)?;
        match store.update_password_hash(&user.id, old, &new).await {
            Ok(()) => tracing::info!(user = %user.id, "password rehashed with current parameters"),
            // Changed meanwhile: the newer hash stands.
            Err(StoreError::Stale) => {}
            Err(other) => return Err(other.into()),
        }
    }

    let session = new_session(state, &user, client, now);
    store.create_session(&session).await?;
    tracing::info!(user = %user.id, session = %session.id, "login");
    issue(state, &user, &session, 0, now.secs_u64(), mode).await
}

/// What a refused attempt (`attempt`, already counted) does beyond its answer: a log line when
/// it starts a lock, and the suspension the settings may ask for.
async fn refuse_attempt(
    state: &AppState,
    attempt: u32,
    user: Option<&User>,
) -> Result<(), ApiError> {
    if let Some(seconds) = lock_seconds(attempt) {
        tracing::warn!(attempt, seconds, "login locked after repeated failures");
    }
    // Cached, and read whether or not the account exists, so both paths do the same work.
    let settings = state
        .access
        .settings(&state.store, &state.config.default_settings)
        .await?;
    suspend_if_configured(&state.store, settings.auth_login_attempts, attempt, user).await
}

/// One attempt of a signed-in user at a second-factor change (set-up, turning it off, new
/// recovery codes), counted on the account exactly as a sign-in is: the per-address limit and
/// one reservation first, refused outright while the account is locked (nothing is checked
/// then, so a lock stops code guessing as it stops password guessing), and cleared only when
/// the whole change succeeded. A wrong password or code is [`Attempt::refuse`]d.
pub(crate) struct Attempt {
    attempt: u32,
}

/// The account is locked: nothing was checked.
pub(crate) struct Locked;

impl Attempt {
    pub(crate) async fn begin(
        state: &AppState,
        user: &User,
        client: &Client,
        now: Now,
    ) -> Result<Result<Self, Locked>, ApiError> {
        limits::enforce(state, client, Limited::Login, now).await?;
        Ok(
            match reserve_attempt(&state.store, &user.email, now).await? {
                Reservation::Granted { attempt } => Ok(Self { attempt }),
                _ => Err(Locked),
            },
        )
    }

    /// Checks `password` (one argon2 verification).
    pub(crate) async fn password_matches(
        &self,
        passwords: &Passwords,
        user: &User,
        password: &Sensitive,
    ) -> Result<bool, ApiError> {
        passwords
            .verify(password, user.password.as_ref())
            .await
            .map_err(internal)
    }

    /// A wrong password or code: the attempt stays counted (and may lock or suspend).
    pub(crate) async fn refuse(self, state: &AppState, user: &User) -> Result<(), ApiError> {
        refuse_attempt(state, self.attempt, Some(user)).await
    }

    /// The change succeeded: the account's failures are forgotten, as after a sign-in.
    pub(crate) async fn succeed(self, state: &AppState, user: &User) -> Result<(), ApiError> {
        Ok(state.store.clear_login_failures(&user.email).await?)
    }
}

/// A login's new session at `now`: the refresh lifetime, never past the absolute one.
fn new_session(state: &AppState, user: &User, client: &Client, now: Now) -> Session {
    let secs = now.secs_u64();
    let absolute = secs_i64(secs.saturating_add(state.config.refresh_token_absolute_ttl.as_secs()));
    Session {
        id: new_session_id(),
        user_id: user.id.clone(),
        generation: 0,
        rotated_at: None,
        expires_at: expiry(state, secs).min(absolute),
        absolute_expires_at: absolute,
        // Milliseconds, like `sessions_valid_after`: a login in the same second as a revocation
        // but after it must not look older than the cut-off; `now` is taken before the user was
        // read, so a login that read the user before a revocation is older than it.
        created_at: now.millis(),
        ip: client.ip.clone(),
        user_agent: client.user_agent.clone(),
    }
}

/// Counts one login attempt for `email` at `now`, locking the account from the fifth failure
/// in a row ([`lock_seconds`]).
async fn reserve_attempt(
    users: &impl UserCredentials,
    email: &str,
    now: Now,
) -> Result<Reservation, ApiError> {
    Ok(users
        .reserve_login_attempt(email, now.millis(), |attempt| {
            lock_seconds(attempt).map(|secs| secs * 1000)
        })
        .await?)
}

/// The token a refresh or logout presents: in json mode `refresh_token` (from the body or the
/// argument), in cookie mode the refresh cookie, in session mode the session cookie (of the
/// [`Client`]); the other sources are ignored.
#[derive(Debug, Clone)]
pub struct Presentation {
    pub mode: Mode,
    pub refresh_token: Option<String>,
}

/// Rotates the session at `now`: the presented token's generation must be the current one, and
/// one conditional update advances it. A token rotated out less than the grace window ago
/// (another tab refreshing at the same moment) gets the same new pair; any older token, or the
/// previous one after the window, is a reuse, and ends the whole session.
pub async fn refresh(
    state: &AppState,
    presentation: Presentation,
    client: &Client,
    now: Now,
) -> Result<Issued, ApiError> {
    let mode = presentation.mode;
    let presented = presented_refresh_token(state, &presentation, client)?;
    let (session_id, generation) =
        presented_session(state, mode, &presented)?.ok_or(ApiError::InvalidCredentials)?;
    // A forged token fails the HMAC (or JWT signature) check above without touching DynamoDB;
    // the limit guards the reads and writes below.
    limits::enforce(state, client, Limited::Refresh, now).await?;
    // Session mode slides by SESSION_COOKIE_TTL (Directus' session refresh), the others by
    // REFRESH_TOKEN_TTL.
    let slide = if mode == Mode::Session {
        state.config.session_cookie_ttl
    } else {
        state.config.refresh_token_ttl
    };
    let rotation = rotate(
        &state.store,
        &session_id,
        generation,
        Window {
            slide_secs: slide.as_secs(),
            grace_secs: grace_secs(state),
        },
        now,
    )
    .await?;
    let user = session_owner(&state.store, &rotation.session).await?;
    issue(
        state,
        &user,
        &rotation.session,
        rotation.generation,
        rotation.issued_at,
        mode,
    )
    .await
}

/// How far a rotation slides the session, and how long the token it replaced still answers.
#[derive(Debug, Clone, Copy)]
struct Window {
    slide_secs: u64,
    grace_secs: i64,
}

/// What a rotation issues: the pair of `generation` stamped `issued_at` (epoch seconds), for
/// `session` as read before it.
#[derive(Debug, Clone)]
struct Rotation {
    session: Session,
    generation: u32,
    issued_at: u64,
}

/// The rotation rule: the current generation advances (one conditional update; of concurrent
/// ones exactly one wins and the others are answered as it was, inside the grace window); the
/// one just rotated out is answered the same pair inside the window; anything else is reuse
/// and ends the session.
async fn rotate(
    sessions: &impl SessionStore,
    session_id: &str,
    generation: u32,
    window: Window,
    now: Now,
) -> Result<Rotation, ApiError> {
    let now_secs = now.secs();
    let within_grace = |session: &Session| within_grace(session, window.grace_secs, now_secs);
    let rotated_secs = |session: &Session| {
        session
            .rotated_at
            .and_then(|at| u64::try_from(at).ok())
            .unwrap_or_else(|| now.secs_u64())
    };
    let session = sessions
        .get_live_session(session_id, now_secs)
        .await?
        .ok_or(ApiError::InvalidCredentials)?;

    let (generation, issued_at) = if generation == session.generation {
        let new_expiry = secs_i64(now.secs_u64().saturating_add(window.slide_secs))
            .min(session.absolute_expires_at);
        match sessions
            .advance_session(session_id, generation, new_expiry, now_secs)
            .await
        {
            Ok(()) => (generation + 1, now.secs_u64()),
            Err(StoreError::Stale) => {
                // Another refresh with this token won the race: answer as it was answered.
                let current = sessions
                    .get_live_session(session_id, now_secs)
                    .await?
                    .filter(|s| s.generation == generation + 1 && within_grace(s))
                    .ok_or(ApiError::InvalidCredentials)?;
                (current.generation, rotated_secs(&current))
            }
            Err(other) => return Err(other.into()),
        }
    } else if generation + 1 == session.generation && within_grace(&session) {
        (session.generation, rotated_secs(&session))
    } else {
        // A spent token came back: whoever holds it may have stolen it. End the session (in
        // session mode too: the cookie of an older generation).
        sessions.revoke_session(session_id).await?;
        tracing::warn!(session = %session_id, presented = generation, current = session.generation, "refresh token reuse; session revoked");
        return Err(ApiError::InvalidCredentials);
    };
    Ok(Rotation {
        session,
        generation,
        issued_at,
    })
}

/// The active user a refreshed session belongs to. A session that began before the user's
/// sessions were ended is over, even if the by-user index (which lags on AWS) did not show it
/// to the revocation; it is ended here, as is the session of a user gone or no longer active.
async fn session_owner(
    store: &(impl UserCredentials + SessionStore),
    session: &Session,
) -> Result<User, ApiError> {
    match store.get_user(&session.user_id).await? {
        Some(user) if user.status == UserStatus::Active && !user.ended_session(session) => Ok(user),
        other => {
            store.revoke_session(&session.id).await?;
            Err(match other.map(|u| u.status) {
                Some(UserStatus::Suspended) => ApiError::UserSuspended,
                _ => ApiError::InvalidCredentials,
            })
        }
    }
}

/// Failures before the first lock, and the longest lock.
const FREE_FAILURES: u32 = 5;
const MAX_LOCK_SECS: i64 = 15 * 60;

/// Seconds an account stays locked after its `failures`-th failure in a row:
/// 2^(n-5) from the fifth on, at most 15 minutes.
pub fn lock_seconds(failures: u32) -> Option<i64> {
    let over = failures.checked_sub(FREE_FAILURES)?;
    Some(if over >= 10 {
        MAX_LOCK_SECS
    } else {
        (1i64 << over).min(MAX_LOCK_SECS)
    })
}

/// Suspends the account once `failures` reach `limit` (the settings' `auth_login_attempts`,
/// off unless set), ending its sessions.
async fn suspend_if_configured(
    store: &(impl UserCredentials + SessionStore),
    limit: Option<u32>,
    failures: u32,
    user: Option<&User>,
) -> Result<(), ApiError> {
    let suspend = limit.is_some_and(|limit| failures >= limit);
    if let Some(user) = user.filter(|u| suspend && u.status == UserStatus::Active) {
        store
            .set_user_status(&user.id, UserStatus::Suspended)
            .await?;
        // As the operator tool does: stamp first, so sessions the lagging index misses stay
        // over even if the account is reactivated later.
        store.invalidate_tokens(&user.id).await?;
        store.revoke_user_sessions(&user.id).await?;
        tracing::warn!(user = %user.id, failures, "account suspended after repeated failures");
    }
    Ok(())
}

/// Ends the session the presented token names; an unknown or already ended one is still a
/// success, as in Directus. Returns the cookies to clear: the refresh cookie if the client
/// presented one, the session cookie in session mode.
pub async fn logout(
    state: &AppState,
    presentation: Presentation,
    client: &Client,
) -> Result<Vec<CookieChange>, ApiError> {
    let mode = presentation.mode;
    let presented = presented_refresh_token(state, &presentation, client)?;
    if let Some((session_id, _)) = presented_session(state, mode, &presented)? {
        state.store.revoke_session(&session_id).await?;
        tracing::info!(session = %session_id, "logout");
    }
    let mut cookies = Vec::new();
    if client.refresh_cookie.is_some() {
        cookies.push(CookieChange::clear(AuthCookie::Refresh));
    }
    if mode == Mode::Session {
        cookies.push(CookieChange::clear(AuthCookie::Session));
    }
    Ok(cookies)
}

/// The (session id, generation) a presented token names: a refresh token by its HMAC, a
/// session cookie by its JWT signature and `session` claim. `None` when it is not genuine; a
/// session cookie past its `exp` is `TOKEN_EXPIRED` (refresh before `exp`, as in Directus).
fn presented_session(
    state: &AppState,
    mode: Mode,
    presented: &str,
) -> Result<Option<(String, u32)>, ApiError> {
    if mode != Mode::Session {
        return Ok(state.refresh_keys.verify(presented));
    }
    match state.tokens.verify(presented) {
        Ok(claims) => Ok(claims
            .session_generation()
            .map(|(id, generation)| (id.to_owned(), generation))),
        Err(TokenError::Expired) => Err(ApiError::TokenExpired),
        Err(TokenError::Invalid) => Err(ApiError::InvalidToken),
        Err(TokenError::NotDirectus) => Ok(None),
    }
}

/// The token presented for rotation or logout, by mode. Both cookie-driven modes must come
/// from an allowed `Origin` (CSRF).
fn presented_refresh_token(
    state: &AppState,
    presentation: &Presentation,
    client: &Client,
) -> Result<String, ApiError> {
    let token = match presentation.mode {
        Mode::Json => presentation.refresh_token.clone(),
        Mode::Cookie => {
            client.site.check(&state.config.cors_allow_origins)?;
            client.refresh_cookie.clone()
        }
        Mode::Session => {
            client.site.check(&state.config.cors_allow_origins)?;
            client.session_cookie.clone()
        }
    };
    token.filter(|t| !t.is_empty()).ok_or_else(|| {
        ApiError::payload("The refresh token is required in either the payload or cookie")
    })
}

fn secs_i64(secs: u64) -> i64 {
    i64::try_from(secs).unwrap_or(i64::MAX)
}

fn expiry(state: &AppState, now: u64) -> i64 {
    secs_i64(now.saturating_add(state.config.refresh_token_ttl.as_secs()))
}

/// The pair for `generation` of the session. Both halves are deterministic in (session,
/// generation, issue time), which is what lets a refresh inside the grace window return the
/// very same pair.
async fn issue(
    state: &AppState,
    user: &User,
    session: &Session,
    generation: u32,
    issued_at: u64,
    mode: Mode,
) -> Result<Issued, ApiError> {
    let session_id = session.id.as_str();
    let accountability = state
        .access
        .accountability(&state.store, Some((&user.id, user.role.as_deref())))
        .await?;
    // A user whose policies enforce a second factor and who has none gets a token that can
    // only set one up (and no app or admin access meanwhile).
    let tfa_setup = accountability.enforce_tfa && user.two_factor.is_none();
    let flags = Grants {
        app_access: accountability.app && !tfa_setup,
        admin_access: accountability.admin && !tfa_setup,
        tfa_setup,
    };
    let role = user.role.as_deref();
    if mode == Mode::Session {
        let claim = format!("{session_id}.{generation}");
        let ttl = state.config.session_cookie_ttl;
        let access = state
            .tokens
            .issue_bound(
                &user.id,
                role,
                flags,
                issued_at,
                Binding::Session(SessionRef {
                    claim: &claim,
                    created_ms: session.created_at,
                }),
                ttl,
            )
            .map_err(internal)?;
        return Ok(Issued {
            mode,
            access_token: None,
            refresh_token: None,
            expires_ms: access.expires_ms,
            cookies: vec![CookieChange::set(
                AuthCookie::Session,
                &access.token,
                ttl.as_secs(),
            )],
        });
    }
    let access = state
        .tokens
        .issue_bound(
            &user.id,
            role,
            flags,
            issued_at,
            Binding::Sid(SessionRef {
                claim: session_id,
                created_ms: session.created_at,
            }),
            state.tokens.ttl(),
        )
        .map_err(internal)?;
    let refresh_token = state.refresh_keys.token(session_id, generation);
    let cookies = if mode == Mode::Cookie {
        vec![CookieChange::set(
            AuthCookie::Refresh,
            refresh_token.expose(),
            state.config.refresh_token_ttl.as_secs(),
        )]
    } else {
        Vec::new()
    };
    Ok(Issued {
        mode,
        access_token: Some(access.token),
        refresh_token: (mode == Mode::Json).then_some(refresh_token),
        expires_ms: access.expires_ms,
        cookies,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::http;
    use crate::flows::fake::FakeStore;
    use crate::store::FORGET_AFTER_MS;

    #[test]
    fn locks_double_from_the_fifth_failure_up_to_fifteen_minutes() {
        assert_eq!(lock_seconds(4), None);
        assert_eq!(lock_seconds(5), Some(1));
        assert_eq!(lock_seconds(6), Some(2));
        assert_eq!(lock_seconds(10), Some(32));
        assert_eq!(lock_seconds(15), Some(900));
        assert_eq!(lock_seconds(u32::MAX), Some(900));
    }
    #[test]
    fn implausible_logins_are_refused_before_any_work() {
        let ok = Sensitive::new("d1r3ctu5");
        assert!(plausible("hello@example.com", &ok));
        // Format is the transport's business: GraphQL looks such an email up like any other.
        assert!(plausible("not-an-email", &ok));
        for email in [
            "",
            "a\u{0}b@example.com",
            "a b@example.com",
            "adm\u{200b}in@x.io",
        ] {
            assert!(!plausible(email, &ok), "{email:?}");
        }
        assert!(!plausible(&"a".repeat(255), &ok));
        assert!(!plausible("hello@example.com", &Sensitive::new("")));
        let huge = Sensitive::new("x".repeat(http::MAX_BODY_BYTES + 1));
        assert!(!plausible("hello@example.com", &huge));
        assert_eq!(Mode::from_name("session"), Some(Mode::Session));
        assert_eq!(Mode::from_name("Session"), None);
    }

    /// An instant in the middle of a second, so second and millisecond arithmetic differ.
    const T: i64 = 1_700_000_000_500;
    const S: i64 = 1_700_000_000;

    fn at(ms: i64) -> Now {
        Now::from_millis(ms)
    }

    fn user(id: &str, status: UserStatus) -> User {
        User {
            id: id.into(),
            email: format!("{id}@example.com"),
            password: None,
            status,
            role: None,
            first_name: None,
            last_name: None,
            created_at: 0,
            updated_at: 0,
            tokens_valid_after: None,
            sessions_valid_after: None,
            kept_session: None,
            two_factor: None,
            pending_two_factor: None,
        }
    }

    fn session(id: &str, user_id: &str, created_ms: i64) -> Session {
        Session {
            id: id.into(),
            user_id: user_id.into(),
            generation: 0,
            rotated_at: None,
            expires_at: S + 100,
            absolute_expires_at: S + 1000,
            created_at: created_ms,
            ip: None,
            user_agent: None,
        }
    }

    fn granted(attempt: u32) -> Reservation {
        Reservation::Granted { attempt }
    }

    #[tokio::test]
    async fn the_fifth_failure_locks_for_one_second_to_the_millisecond_and_each_next_doubles() {
        let store = FakeStore::at(T);
        let email = "locked@example.com";
        for attempt in 1..=4 {
            assert_eq!(
                reserve_attempt(&store, email, at(T)).await.unwrap(),
                granted(attempt)
            );
            assert_eq!(store.failures(email).unwrap().locked_until, 0);
        }
        assert_eq!(
            reserve_attempt(&store, email, at(T)).await.unwrap(),
            granted(5)
        );
        assert_eq!(store.failures(email).unwrap().locked_until, T + 1000);
        // Locked to its last millisecond, whatever the case of the address.
        assert_eq!(
            reserve_attempt(&store, email, at(T + 999)).await.unwrap(),
            Reservation::Refused
        );
        assert_eq!(
            reserve_attempt(&store, " LOCKED@example.com", at(T + 500))
                .await
                .unwrap(),
            Reservation::Refused
        );
        // A refused attempt takes no count.
        assert_eq!(store.failures(email).unwrap().failures, 5);
        // Unlocked at its end: the sixth counts and locks for two seconds, the seventh four.
        assert_eq!(
            reserve_attempt(&store, email, at(T + 1000)).await.unwrap(),
            granted(6)
        );
        assert_eq!(store.failures(email).unwrap().locked_until, T + 3000);
        assert_eq!(
            reserve_attempt(&store, email, at(T + 2999)).await.unwrap(),
            Reservation::Refused
        );
        assert_eq!(
            reserve_attempt(&store, email, at(T + 3000)).await.unwrap(),
            granted(7)
        );
        assert_eq!(store.failures(email).unwrap().locked_until, T + 7000);
        // Another address is its own count.
        assert_eq!(
            reserve_attempt(&store, "other@example.com", at(T + 3000))
                .await
                .unwrap(),
            granted(1)
        );
        // A successful login clears the count.
        store.clear_login_failures(email).await.unwrap();
        assert_eq!(
            reserve_attempt(&store, email, at(T + 3000)).await.unwrap(),
            granted(1)
        );
    }

    #[tokio::test]
    async fn failures_are_forgotten_thirty_minutes_after_the_last_and_not_a_millisecond_sooner() {
        let store = FakeStore::at(T);
        let email = "slow@example.com";
        for attempt in 1..=3 {
            assert_eq!(
                reserve_attempt(&store, email, at(T)).await.unwrap(),
                granted(attempt)
            );
        }
        let last = T + FORGET_AFTER_MS - 1;
        assert_eq!(
            reserve_attempt(&store, email, at(last)).await.unwrap(),
            granted(4)
        );
        assert_eq!(
            reserve_attempt(&store, email, at(last + FORGET_AFTER_MS))
                .await
                .unwrap(),
            granted(1)
        );
    }

    #[tokio::test]
    async fn the_configured_attempts_suspend_an_active_account_and_end_its_sessions() {
        let store = FakeStore::at(T);
        let owner = user("u1", UserStatus::Active);
        store.put_user(owner.clone());
        store.put_user(user("u2", UserStatus::Active));
        for (id, user_id) in [("s1", "u1"), ("s2", "u1"), ("s3", "u2")] {
            store
                .create_session(&session(id, user_id, T))
                .await
                .unwrap();
        }
        // Below the limit, or no limit configured: nothing changes.
        suspend_if_configured(&store, Some(3), 2, Some(&owner))
            .await
            .unwrap();
        suspend_if_configured(&store, None, u32::MAX, Some(&owner))
            .await
            .unwrap();
        assert_eq!(store.user("u1").unwrap(), owner);
        assert!(store.session("s1").is_some());

        store.set_now(T + 5);
        suspend_if_configured(&store, Some(3), 3, Some(&owner))
            .await
            .unwrap();
        let suspended = store.user("u1").unwrap();
        assert_eq!(suspended.status, UserStatus::Suspended);
        assert_eq!(suspended.sessions_valid_after, Some(T + 5));
        assert!(store.session("s1").is_none());
        assert!(store.session("s2").is_none());
        // Nobody else's.
        assert!(store.session("s3").is_some());
        assert_eq!(store.user("u2").unwrap().status, UserStatus::Active);
        // An unknown address: nothing to suspend, and no error.
        suspend_if_configured(&store, Some(3), 9, None)
            .await
            .unwrap();
        // An account that is not active is left as it is.
        let archived = user("u3", UserStatus::Archived);
        store.put_user(archived.clone());
        suspend_if_configured(&store, Some(3), 9, Some(&archived))
            .await
            .unwrap();
        assert_eq!(store.user("u3").unwrap(), archived);
    }

    const WINDOW: Window = Window {
        slide_secs: 100,
        grace_secs: 10,
    };

    #[tokio::test]
    async fn the_token_rotated_out_gets_the_same_pair_inside_the_window_and_ends_the_session_after()
    {
        let store = FakeStore::at(T);
        store.create_session(&session("s1", "u1", T)).await.unwrap();
        let first = rotate(&store, "s1", 0, WINDOW, at((S + 5) * 1000 + 999))
            .await
            .unwrap();
        assert_eq!((first.generation, first.issued_at), (1, (S + 5) as u64));
        let stored = store.session("s1").unwrap();
        assert_eq!(
            (stored.generation, stored.rotated_at, stored.expires_at),
            (1, Some(S + 5), S + 105)
        );
        // The old token again in the window's last second: the very same pair, nothing moved.
        let again = rotate(&store, "s1", 0, WINDOW, at((S + 14) * 1000 + 999))
            .await
            .unwrap();
        assert_eq!((again.generation, again.issued_at), (1, (S + 5) as u64));
        assert_eq!(store.session("s1").unwrap(), stored);
        // One second later it is reuse: the session ends.
        let reuse = rotate(&store, "s1", 0, WINDOW, at((S + 15) * 1000)).await;
        assert_eq!(reuse.unwrap_err().code(), "INVALID_CREDENTIALS");
        assert!(store.session("s1").is_none());
    }

    #[tokio::test]
    async fn the_current_token_rotates_on_and_older_ones_are_reuse_at_once() {
        let store = FakeStore::at(T);
        store.create_session(&session("s1", "u1", T)).await.unwrap();
        rotate(&store, "s1", 0, WINDOW, at(S * 1000)).await.unwrap();
        // The new token rotates at once, inside the old one's window too.
        let second = rotate(&store, "s1", 1, WINDOW, at((S + 1) * 1000))
            .await
            .unwrap();
        assert_eq!((second.generation, second.issued_at), (2, (S + 1) as u64));
        // Generation 0 is two behind now: reuse even inside a window.
        let reuse = rotate(&store, "s1", 0, WINDOW, at((S + 1) * 1000)).await;
        assert_eq!(reuse.unwrap_err().code(), "INVALID_CREDENTIALS");
        assert!(store.session("s1").is_none());
        // A token of a generation the session never had is reuse too.
        store.create_session(&session("s2", "u1", T)).await.unwrap();
        let ahead = rotate(&store, "s2", 1, WINDOW, at(S * 1000)).await;
        assert_eq!(ahead.unwrap_err().code(), "INVALID_CREDENTIALS");
        assert!(store.session("s2").is_none());
    }

    #[tokio::test]
    async fn rotation_never_slides_past_the_absolute_end() {
        let store = FakeStore::at(T);
        store.create_session(&session("s1", "u1", T)).await.unwrap();
        rotate(&store, "s1", 0, WINDOW, at((S + 50) * 1000))
            .await
            .unwrap();
        rotate(&store, "s1", 1, WINDOW, at((S + 140) * 1000))
            .await
            .unwrap();
        rotate(&store, "s1", 2, WINDOW, at((S + 230) * 1000))
            .await
            .unwrap();
        assert_eq!(store.session("s1").unwrap().expires_at, S + 330);
        let mut generation = 3;
        for secs in [320, 410, 500, 590, 680, 770, 860, 950] {
            rotate(&store, "s1", generation, WINDOW, at((S + secs) * 1000))
                .await
                .unwrap();
            generation += 1;
        }
        assert_eq!(store.session("s1").unwrap().expires_at, S + 1000);
        // At the absolute end the session is gone for every token, and no slide revives it.
        let over = rotate(&store, "s1", generation, WINDOW, at((S + 1000) * 1000)).await;
        assert_eq!(over.unwrap_err().code(), "INVALID_CREDENTIALS");
        // Past its sliding end too (no refresh for 100 seconds).
        store.create_session(&session("s2", "u1", T)).await.unwrap();
        let idle = rotate(&store, "s2", 0, WINDOW, at((S + 100) * 1000)).await;
        assert_eq!(idle.unwrap_err().code(), "INVALID_CREDENTIALS");
        assert_eq!(store.session("s2").unwrap().generation, 0);
    }

    #[tokio::test]
    async fn a_refresh_of_a_session_begun_before_the_cut_off_ends_it_even_in_the_same_second() {
        let store = FakeStore::at(T);
        let revoked = User {
            sessions_valid_after: Some(T),
            ..user("u1", UserStatus::Active)
        };
        store.put_user(revoked.clone());
        for (id, created) in [("before", T - 1), ("at", T), ("after", T + 1)] {
            store
                .create_session(&session(id, "u1", created))
                .await
                .unwrap();
        }
        let before = store.session("before").unwrap();
        assert_eq!(
            session_owner(&store, &before).await.unwrap_err().code(),
            "INVALID_CREDENTIALS"
        );
        assert!(store.session("before").is_none());
        for id in ["at", "after"] {
            let stands = store.session(id).unwrap();
            assert_eq!(session_owner(&store, &stands).await.unwrap(), revoked);
        }
        // The kept session stands though it began before.
        store.put_user(User {
            kept_session: Some("kept".into()),
            ..revoked.clone()
        });
        store
            .create_session(&session("kept", "u1", T - 1))
            .await
            .unwrap();
        let kept = store.session("kept").unwrap();
        assert!(session_owner(&store, &kept).await.is_ok());
        // A suspended user's session ends with USER_SUSPENDED; a missing user's as any other.
        store.put_user(user("u1", UserStatus::Suspended));
        assert_eq!(
            session_owner(&store, &kept).await.unwrap_err().code(),
            "USER_SUSPENDED"
        );
        assert!(store.session("kept").is_none());
        store
            .create_session(&session("orphan", "nobody", T))
            .await
            .unwrap();
        let orphan = store.session("orphan").unwrap();
        assert_eq!(
            session_owner(&store, &orphan).await.unwrap_err().code(),
            "INVALID_CREDENTIALS"
        );
        assert!(store.session("orphan").is_none());
    }

    /// A store where another refresh advances the session just before this one's update lands
    /// (the race the conditional update settles), as two tabs refreshing at once do.
    struct LosesTheRace(FakeStore);

    impl SessionStore for LosesTheRace {
        async fn create_session(&self, session: &Session) -> Result<(), StoreError> {
            self.0.create_session(session).await
        }

        async fn get_live_session(
            &self,
            id: &str,
            now_secs: i64,
        ) -> Result<Option<Session>, StoreError> {
            self.0.get_live_session(id, now_secs).await
        }

        async fn advance_session(
            &self,
            id: &str,
            generation: u32,
            new_expires_at: i64,
            now_secs: i64,
        ) -> Result<(), StoreError> {
            // The winner's update, a second earlier; then this one's, with the same condition.
            self.0
                .advance_session(id, generation, new_expires_at, now_secs - 1)
                .await?;
            self.0
                .advance_session(id, generation, new_expires_at, now_secs)
                .await
        }

        async fn revoke_session(&self, id: &str) -> Result<(), StoreError> {
            self.0.revoke_session(id).await
        }

        async fn revoke_user_sessions(&self, user_id: &str) -> Result<usize, StoreError> {
            self.0.revoke_user_sessions(user_id).await
        }
    }

    #[tokio::test]
    async fn a_refresh_that_loses_the_race_is_answered_as_the_winner_was() {
        let store = LosesTheRace(FakeStore::at(T));
        store.create_session(&session("s1", "u1", T)).await.unwrap();
        let lost = rotate(&store, "s1", 0, WINDOW, at((S + 5) * 1000))
            .await
            .unwrap();
        // The winner's pair: its generation, stamped at its rotation.
        assert_eq!((lost.generation, lost.issued_at), (1, (S + 4) as u64));
        assert_eq!(store.0.session("s1").unwrap().generation, 1);
        // Without a grace window the loser is refused, and the session is left to the winner.
        let store = LosesTheRace(FakeStore::at(T));
        store.create_session(&session("s1", "u1", T)).await.unwrap();
        let no_grace = Window {
            grace_secs: 0,
            ..WINDOW
        };
        let refused = rotate(&store, "s1", 0, no_grace, at((S + 5) * 1000)).await;
        assert_eq!(refused.unwrap_err().code(), "INVALID_CREDENTIALS");
        assert_eq!(store.0.session("s1").unwrap().generation, 1);
    }

    #[test]
    fn a_login_session_counts_from_now_in_milliseconds_and_ends_by_the_absolute_lifetime() {
        let mut state = crate::platform::state::unreachable_state();
        state.config.refresh_token_ttl = std::time::Duration::from_secs(600);
        state.config.refresh_token_absolute_ttl = std::time::Duration::from_secs(3600);
        let client = Client {
            ip: Some("203.0.113.7".into()),
            user_agent: Some("agent".into()),
            ..Client::default()
        };
        let owner = user("u1", UserStatus::Active);
        let fresh = new_session(&state, &owner, &client, at(T));
        assert_eq!(fresh.created_at, T);
        assert_eq!(fresh.generation, 0);
        assert_eq!(fresh.rotated_at, None);
        assert_eq!(fresh.expires_at, S + 600);
        assert_eq!(fresh.absolute_expires_at, S + 3600);
        assert_eq!(fresh.user_id, "u1");
        assert_eq!(fresh.ip.as_deref(), Some("203.0.113.7"));
        assert_eq!(fresh.user_agent.as_deref(), Some("agent"));
        // A refresh lifetime longer than the absolute one is cut to it.
        state.config.refresh_token_ttl = std::time::Duration::from_secs(7200);
        assert_eq!(
            new_session(&state, &owner, &client, at(T)).expires_at,
            S + 3600
        );
    }
}
