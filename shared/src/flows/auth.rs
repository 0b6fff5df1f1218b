//! The login, refresh and logout flows (`POST /auth/login`, `/auth/refresh`, `/auth/logout`
//! and GraphQL's `auth_login`, `auth_refresh`, `auth_logout`), and the caller's token check.
//! Transport-independent: typed input and a [`Client`] in, [`Issued`] tokens (or cookies to
//! clear) or an [`ApiError`] out. Rate limits, lockout, the equal work of every login outcome,
//! the grace window and reuse detection live here, so every transport has them. The REST
//! adapters are in [`crate::adapters::rest`].

use lambda_http::Request;
use lambda_http::http::{HeaderValue, StatusCode, header};
use serde_json::Value;

use crate::adapters::http::{self, HttpResponse, TokenSource};
use crate::credential::password::Passwords;
use crate::credential::refresh_token::new_session_id;
use crate::credential::token::{AccessClaims, Binding, SessionRef, TokenError};
use crate::domain::client::{AuthCookie, Client, CookieChange, Presented, Site};
use crate::domain::error::ApiError;
use crate::domain::model::{CutOff, Session, User, UserStatus};
use crate::domain::sensitive::Sensitive;
use crate::platform::state::{AppState, now_secs};
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
    /// The `mode` of a REST body (Joi's message for anything else).
    pub fn parse(value: Option<&Value>) -> Result<Option<Self>, ApiError> {
        match value {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(mode)) if mode == "json" => Ok(Some(Self::Json)),
            Some(Value::String(mode)) if mode == "cookie" => Ok(Some(Self::Cookie)),
            Some(Value::String(mode)) if mode == "session" => Ok(Some(Self::Session)),
            Some(_) => Err(ApiError::payload(
                "\"mode\" must be one of [cookie, json, session]",
            )),
        }
    }

    /// A mode by its name (GraphQL's `auth_mode` enum values).
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "json" => Some(Self::Json),
            "cookie" => Some(Self::Cookie),
            "session" => Some(Self::Session),
            _ => None,
        }
    }
}

/// How a route treats the caller's token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// A route that acts for its caller: a present but failing token fails the request, as in
    /// Directus.
    Authenticated,
    /// Login, registration, password request and reset, email verification: routes that act
    /// for nobody. A session cookie that fails there (its session ended on the server by a
    /// reset, reuse detection or an administrator; expired; forged) is no token, and the answer
    /// clears it: a stale cookie must not keep its owner from signing in again. A failing
    /// `Authorization: Bearer` or `?access_token=` token still fails the request, as in
    /// Directus: the client chose to send it.
    Public,
}

/// The caller of a request as its route sees it.
#[derive(Debug, Clone, Default)]
pub struct Caller {
    pub claims: Option<AccessClaims>,
    /// A public route ignored a failing session cookie: its answer must clear it.
    pub stale_session_cookie: bool,
}

impl Caller {
    /// The cookie changes the route's answer carries, whatever that answer is.
    pub fn cookies(&self) -> Vec<CookieChange> {
        if self.stale_session_cookie {
            vec![CookieChange::clear(AuthCookie::Session)]
        } else {
            Vec::new()
        }
    }
}

/// The caller's verified access token, refused (401 `INVALID_CREDENTIALS`) when its user is gone,
/// no longer active, or had their tokens revoked after it was issued, and, for a session-mode
/// token (one with a `session` claim), when its session is over. Like Directus, a present but
/// bad token fails every route that acts for its caller; no token means a public request. A
/// token taken from the session cookie on a state-changing request must come from an allowed
/// `Origin` (CSRF), checked before anything is read.
pub async fn caller(state: &AppState, request: &Request) -> Result<Option<AccessClaims>, ApiError> {
    Ok(caller_on(state, request, Route::Authenticated)
        .await?
        .claims)
}

/// [`caller`] for a route of either kind ([`Route`]).
pub async fn caller_on(
    state: &AppState,
    request: &Request,
    route: Route,
) -> Result<Caller, ApiError> {
    let presented = http::access_token(request, &state.config.session_cookie.name)?
        .map(|(token, source)| Presented { token, source });
    verify_caller_on(state, presented.as_ref(), &http::site(request), route).await
}

/// [`caller`] for any transport: the token as presented and where the request came from.
pub async fn verify_caller(
    state: &AppState,
    presented: Option<&Presented>,
    site: &Site,
) -> Result<Option<AccessClaims>, ApiError> {
    Ok(
        verify_caller_on(state, presented, site, Route::Authenticated)
            .await?
            .claims,
    )
}

/// [`caller_on`] for any transport.
pub async fn verify_caller_on(
    state: &AppState,
    presented: Option<&Presented>,
    site: &Site,
    route: Route,
) -> Result<Caller, ApiError> {
    let Some(presented) = presented else {
        return Ok(Caller::default());
    };
    match verify_presented(state, presented, site).await {
        Ok(claims) => Ok(Caller {
            claims: Some(claims),
            stale_session_cookie: false,
        }),
        Err(error) if ignored_on(route, presented.source, &error) => {
            tracing::info!(
                code = error.code(),
                "a failing session cookie on a public route: ignored and cleared"
            );
            Ok(Caller {
                claims: None,
                stale_session_cookie: true,
            })
        }
        Err(error) => Err(error),
    }
}

/// The rule of [`Route::Public`]: a token that fails its own check there counts as none when it
/// came from the session cookie. Anything else (a CSRF refusal, an unavailable store, a bearer
/// or query token) still fails the request.
fn ignored_on(route: Route, source: TokenSource, error: &ApiError) -> bool {
    route == Route::Public
        && source == TokenSource::Cookie
        && matches!(
            error,
            ApiError::InvalidCredentials | ApiError::InvalidToken | ApiError::TokenExpired
        )
}

async fn verify_presented(
    state: &AppState,
    presented: &Presented,
    site: &Site,
) -> Result<AccessClaims, ApiError> {
    let claims = state
        .tokens
        .verify(&presented.token)
        .map_err(|error| match error {
            TokenError::NotDirectus => ApiError::InvalidCredentials,
            TokenError::Invalid => ApiError::InvalidToken,
            TokenError::Expired => ApiError::TokenExpired,
        })?;
    if presented.source == TokenSource::Cookie {
        site.check(&state.config.cors_allow_origins)?;
    }
    let standing = state
        .access
        .standing(&state.store, &claims.id)
        .await?
        .filter(|standing| token_stands(&claims, standing.status, &standing.cut_off))
        .ok_or(ApiError::InvalidCredentials)?;
    if claims.session.is_some() {
        let (session_id, generation) = claims
            .session_generation()
            .ok_or(ApiError::InvalidCredentials)?;
        live_session(state, &claims.id, session_id, generation, &standing.cut_off).await?;
    }
    Ok(claims)
}

/// The one rule a token's user must meet: active, and the token issued at or after the user's
/// last revocation cut-off (milliseconds), or belonging to the session that revocation kept.
/// A session-bound token was issued no earlier than its session was created
/// (`session_created_ms`), so that instant is compared with the cut-off: in the same second, a
/// token of a login just after the revocation stands and one of a session begun just before it
/// does not. A token without it (issued by an earlier version) counts from the start of its
/// whole-second `iat`, so one issued in the cut-off's own second is refused (fail closed).
fn token_stands(claims: &AccessClaims, status: UserStatus, cut_off: &CutOff) -> bool {
    let issued_no_earlier_than = match (claims.session_id(), claims.session_created_ms) {
        (Some(_), Some(created_ms)) => created_ms,
        _ => i64::try_from(claims.iat)
            .unwrap_or(i64::MAX)
            .saturating_mul(1000),
    };
    status == UserStatus::Active
        && (cut_off.at_ms.is_none_or(|at| issued_no_earlier_than >= at)
            || cut_off.keeps(claims.session_id()))
}

/// `caller` checks a token against a cached view of its user (up to `PERMISSIONS_CACHE_TTL`
/// old). Before a write that changes who can do what — passwords, roles, statuses, other
/// users — the token is checked again against `user` as just read with a strongly consistent
/// read, so a revocation that already happened cannot be outrun by a warm cache.
pub fn still_valid(claims: &AccessClaims, user: &User) -> Result<(), ApiError> {
    if token_stands(claims, user.status, &user.cut_off()) {
        Ok(())
    } else {
        Err(ApiError::InvalidCredentials)
    }
}

/// A session-mode token lives as long as its session: the item must exist, be unexpired, belong
/// to the token's user, not have begun before the user's revocation `cut_off` (a session the
/// lagging by-user index did not list when sessions were ended is over all the same, as a
/// refresh finds), and be at the token's generation, or one past it within the grace window
/// (a refresh in another tab). One strongly consistent GetItem, never cached. A spent token is
/// only refused here; presented to `POST /auth/refresh` it is reuse, and ends the whole session.
async fn live_session(
    state: &AppState,
    user_id: &str,
    session_id: &str,
    generation: u32,
    cut_off: &CutOff,
) -> Result<Session, ApiError> {
    let now = secs_i64(now_secs());
    let session = state
        .store
        .get_live_session(session_id, now)
        .await?
        .filter(|s| s.user_id == user_id && !cut_off.ends_session(&s.id, s.created_at))
        .ok_or(ApiError::InvalidCredentials)?;
    if session.generation == generation
        || (generation + 1 == session.generation && within_grace(state, &session, now))
    {
        return Ok(session);
    }
    Err(ApiError::InvalidCredentials)
}

fn within_grace(state: &AppState, session: &Session, now: i64) -> bool {
    let grace = secs_i64(state.config.refresh_grace.as_secs());
    session
        .rotated_at
        .is_some_and(|at| grace > 0 && now.saturating_sub(at) < grace)
}

/// The JWK Set of the access-token keys, for services that verify tokens without the secret.
/// Cacheable for five minutes: a rotation publishes the new key as `previous` first.
pub fn jwks(state: &AppState) -> HttpResponse {
    let mut response = http::json(StatusCode::OK, &state.tokens.jwks());
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    response
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
    /// Accepted and ignored: this API has no TFA.
    pub otp: Option<String>,
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
    !email.is_empty()
        && email.chars().count() <= http::MAX_EMAIL_CHARS
        && !email
            .chars()
            .any(|c| http::is_control(c) || c.is_whitespace())
        && !password.expose().is_empty()
        && password.expose().chars().count() <= http::MAX_BODY_BYTES
}

/// Logs in with email and password: one limit count per client address, one lock count per
/// email, always one argon2 verification (the dummy hash for an unknown email, and while the
/// account is locked), then a new session. Every refusal is `INVALID_CREDENTIALS`.
pub async fn login(
    state: &AppState,
    passwords: &Passwords,
    credentials: Credentials,
    client: &Client,
) -> Result<Issued, ApiError> {
    let email = credentials.email.trim_matches(' ').to_owned();
    let password = credentials.password;
    let mode = credentials.mode;
    if !plausible(&email, &password) {
        return Err(ApiError::InvalidCredentials);
    }
    crate::flows::limits::enforce(state, client, crate::flows::limits::Limited::Login).await?;

    // The attempt is counted before the password is checked, so parallel guesses cannot all
    // pass one lock check: each takes its own count, and none is checked while a lock holds.
    let reservation = state
        .store
        .reserve_login_attempt(&email, crate::store::now_millis(), |attempt| {
            lock_seconds(attempt).map(|secs| secs * 1000)
        })
        .await?;
    // The session counts from before the user is read: a revocation (a reset, a new password,
    // a role change) committed while this login verified the old hash then ends this session
    // too, instead of a session stamped after the cut-off outliving it.
    let read_at = crate::store::now_millis();
    let user = state.store.find_user_by_email(&email).await?;
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
            if let Some(seconds) = lock_seconds(attempt) {
                tracing::warn!(attempt, seconds, "login locked after repeated failures");
            }
            suspend_if_configured(state, attempt, user.as_ref()).await?;
            return Err(ApiError::InvalidCredentials);
        }
    };
    state.store.clear_login_failures(&email).await?;
    if let Some(old) = user.password.as_ref().filter(|h| passwords.needs_rehash(h)) {
        let new = passwords.hash(&password).await.map_err(internal)?;
        match state.store.update_password_hash(&user.id, old, &new).await {
            Ok(()) => tracing::info!(user = %user.id, "password rehashed with current parameters"),
            // Changed meanwhile: the newer hash stands.
            Err(StoreError::Stale) => {}
            Err(other) => return Err(other.into()),
        }
    }

    let now = now_secs();
    let absolute = secs_i64(now.saturating_add(state.config.refresh_token_absolute_ttl.as_secs()));
    let session = Session {
        id: new_session_id(),
        user_id: user.id.clone(),
        generation: 0,
        rotated_at: None,
        expires_at: expiry(state, now).min(absolute),
        absolute_expires_at: absolute,
        // Milliseconds, like `sessions_valid_after`: a login in the same second as a revocation
        // but after it must not look older than the cut-off; taken before the user was read
        // (above), so a login that read the user before a revocation is older than it.
        created_at: read_at,
        ip: client.ip.clone(),
        user_agent: client.user_agent.clone(),
    };
    state.store.create_session(&session).await?;
    tracing::info!(user = %user.id, session = %session.id, "login");
    issue(state, &user, &session, 0, now, mode).await
}

/// The token a refresh or logout presents: in json mode `refresh_token` (from the body or the
/// argument), in cookie mode the refresh cookie, in session mode the session cookie (of the
/// [`Client`]); the other sources are ignored.
#[derive(Debug, Clone)]
pub struct Presentation {
    pub mode: Mode,
    pub refresh_token: Option<String>,
}

/// Rotates the session: the presented token's generation must be the current one, and one
/// conditional update advances it. A token rotated out less than the grace window ago (another
/// tab refreshing at the same moment) gets the same new pair; any older token, or the previous
/// one after the window, is a reuse, and ends the whole session.
pub async fn refresh(
    state: &AppState,
    presentation: Presentation,
    client: &Client,
) -> Result<Issued, ApiError> {
    let mode = presentation.mode;
    let presented = presented_refresh_token(state, &presentation, client)?;
    let (session_id, generation) =
        presented_session(state, mode, &presented)?.ok_or(ApiError::InvalidCredentials)?;
    // A forged token fails the HMAC (or JWT signature) check above without touching DynamoDB;
    // the limit guards the reads and writes below.
    crate::flows::limits::enforce(state, client, crate::flows::limits::Limited::Refresh).await?;
    let now = now_secs();
    let now_i = secs_i64(now);
    let within_grace = |session: &Session| within_grace(state, session, now_i);
    let session = state
        .store
        .get_live_session(&session_id, now_i)
        .await?
        .ok_or(ApiError::InvalidCredentials)?;

    let (issued_generation, issued_at) = if generation == session.generation {
        // Session mode slides by SESSION_COOKIE_TTL (Directus' session refresh), the others by
        // REFRESH_TOKEN_TTL.
        let new_expiry = if mode == Mode::Session {
            secs_i64(now.saturating_add(state.config.session_cookie_ttl.as_secs()))
        } else {
            expiry(state, now)
        }
        .min(session.absolute_expires_at);
        match state
            .store
            .advance_session(&session_id, generation, new_expiry, now_i)
            .await
        {
            Ok(()) => (generation + 1, now),
            Err(StoreError::Stale) => {
                // Another refresh with this token won the race: answer as it was answered.
                let current = state
                    .store
                    .get_live_session(&session_id, now_i)
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
        state.store.revoke_session(&session_id).await?;
        tracing::warn!(session = %session_id, presented = generation, current = session.generation, "refresh token reuse; session revoked");
        return Err(ApiError::InvalidCredentials);
    };

    let user = state.store.get_user(&session.user_id).await?;
    let user = match user {
        // A session that began before the user's sessions were ended is over, even if the
        // by-user index (which lags on AWS) did not show it to the revocation.
        Some(user) if user.status == UserStatus::Active && !user.ended_session(&session) => user,
        other => {
            state.store.revoke_session(&session_id).await?;
            return Err(match other.map(|u| u.status) {
                Some(UserStatus::Suspended) => ApiError::UserSuspended,
                _ => ApiError::InvalidCredentials,
            });
        }
    };
    issue(state, &user, &session, issued_generation, issued_at, mode).await
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

/// Suspends the account once `failures` reach the configured `auth_login_attempts` (off unless
/// set), ending its sessions.
async fn suspend_if_configured(
    state: &AppState,
    failures: u32,
    user: Option<&User>,
) -> Result<(), ApiError> {
    // Cached, and read whether or not the account exists, so both paths do the same work.
    let settings = state
        .access
        .settings(&state.store, &state.config.default_settings)
        .await?;
    let suspend = settings
        .auth_login_attempts
        .is_some_and(|limit| failures >= limit);
    if let Some(user) = user.filter(|u| suspend && u.status == UserStatus::Active) {
        state
            .store
            .set_user_status(&user.id, UserStatus::Suspended)
            .await?;
        // As the operator tool does: stamp first, so sessions the lagging index misses stay
        // over even if the account is reactivated later.
        state.store.invalidate_tokens(&user.id).await?;
        state.store.revoke_user_sessions(&user.id).await?;
        tracing::warn!(user = %user.id, failures, "account suspended after repeated failures");
    }
    Ok(())
}

fn rotated_secs(session: &Session) -> u64 {
    session
        .rotated_at
        .and_then(|at| u64::try_from(at).ok())
        .unwrap_or_else(now_secs)
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
    let flags = (accountability.app, accountability.admin);
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
    use serde_json::json;

    /// A json-mode token of session `sid` created at `created_ms`, issued in second `iat`.
    fn token(iat: u64, sid: Option<&str>, created_ms: Option<i64>) -> AccessClaims {
        AccessClaims {
            id: "u1".into(),
            role: None,
            app_access: false,
            admin_access: false,
            iat,
            exp: iat.saturating_add(900),
            iss: "directus".into(),
            session: None,
            sid: sid.map(str::to_owned),
            session_created_ms: created_ms,
        }
    }

    fn cut_off(at_ms: i64, kept: Option<&str>) -> CutOff {
        CutOff {
            at_ms: Some(at_ms),
            kept_session: kept.map(str::to_owned),
        }
    }

    const SECOND: u64 = 1_700_000_000;
    const CUT_OFF_MS: i64 = 1_700_000_000_500;

    #[test]
    fn a_revocation_ends_tokens_from_before_it_in_the_same_second_and_not_after() {
        let active = UserStatus::Active;
        // Both logins in the cut-off's second: the one before it is over, the one after stands.
        let before = token(SECOND, Some("s1"), Some(CUT_OFF_MS - 100));
        let after = token(SECOND, Some("s2"), Some(CUT_OFF_MS + 100));
        assert!(!token_stands(&before, active, &cut_off(CUT_OFF_MS, None)));
        assert!(token_stands(&after, active, &cut_off(CUT_OFF_MS, None)));
        // A refresh in a later second of a session begun before: over all the same.
        let refreshed = token(SECOND + 5, Some("s1"), Some(CUT_OFF_MS - 100));
        assert!(!token_stands(
            &refreshed,
            active,
            &cut_off(CUT_OFF_MS, None)
        ));
        // One created in the cut-off's very millisecond stands (as its session does).
        let same_ms = token(SECOND, Some("s3"), Some(CUT_OFF_MS));
        assert!(token_stands(&same_ms, active, &cut_off(CUT_OFF_MS, None)));
        // The kept session's tokens stand whenever they began; no other session's do.
        assert!(token_stands(
            &before,
            active,
            &cut_off(CUT_OFF_MS, Some("s1"))
        ));
        assert!(!token_stands(
            &before,
            active,
            &cut_off(CUT_OFF_MS, Some("s2"))
        ));
        // No revocation: everything stands, while the user is active.
        let never = CutOff::default();
        assert!(token_stands(&before, active, &never));
        for status in [
            UserStatus::Suspended,
            UserStatus::Archived,
            UserStatus::Draft,
        ] {
            assert!(!token_stands(&after, status, &never), "{status:?}");
        }
    }

    #[test]
    fn tokens_without_their_sessions_creation_time_count_from_the_start_of_their_second() {
        let active = UserStatus::Active;
        // Issued by an earlier version: in the cut-off's second it cannot tell before from
        // after, so it is refused; from the next second on it stands.
        for claims in [token(SECOND, Some("s1"), None), token(SECOND, None, None)] {
            assert!(!token_stands(&claims, active, &cut_off(CUT_OFF_MS, None)));
            let next = AccessClaims {
                iat: SECOND + 1,
                ..claims.clone()
            };
            assert!(token_stands(&next, active, &cut_off(CUT_OFF_MS, None)));
        }
        assert!(!token_stands(
            &token(SECOND - 1, None, None),
            active,
            &cut_off(CUT_OFF_MS, None)
        ));
        // A cut-off on a whole second: a token of that second is no older than it.
        assert!(token_stands(
            &token(SECOND, None, None),
            active,
            &cut_off(1_700_000_000_000, None)
        ));
        // The kept session by its `sid` alone.
        assert!(token_stands(
            &token(SECOND, Some("kept"), None),
            active,
            &cut_off(CUT_OFF_MS, Some("kept"))
        ));
        // Nothing overflows on absurd values.
        assert!(token_stands(
            &token(u64::MAX, None, None),
            active,
            &cut_off(CUT_OFF_MS, None)
        ));
    }

    #[test]
    fn only_a_failing_session_cookie_on_a_public_route_counts_as_no_token() {
        use TokenSource::{Cookie, Header, Query};
        let failures = [
            ApiError::InvalidCredentials,
            ApiError::InvalidToken,
            ApiError::TokenExpired,
        ];
        for error in &failures {
            assert!(ignored_on(Route::Public, Cookie, error), "{error:?}");
            // The client chose to send a bearer or query token: it still fails.
            assert!(!ignored_on(Route::Public, Header, error));
            assert!(!ignored_on(Route::Public, Query, error));
            // Routes that act for their caller fail on any bad token, as in Directus.
            assert!(!ignored_on(Route::Authenticated, Cookie, error));
        }
        // A cross-site request or an unavailable store is no stale cookie.
        assert!(!ignored_on(Route::Public, Cookie, &ApiError::forbidden()));
        assert!(!ignored_on(
            Route::Public,
            Cookie,
            &ApiError::ServiceUnavailable {
                service: "database",
                reason: "away",
                cause: None,
            }
        ));
        let stale = Caller {
            claims: None,
            stale_session_cookie: true,
        };
        assert_eq!(
            stale.cookies(),
            vec![CookieChange::clear(AuthCookie::Session)]
        );
        assert!(Caller::default().cookies().is_empty());
    }

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

    #[test]
    fn modes_parse_and_reject_unknown_values() {
        assert_eq!(Mode::parse(None).unwrap(), None);
        assert_eq!(Mode::parse(Some(&json!("json"))).unwrap(), Some(Mode::Json));
        assert_eq!(
            Mode::parse(Some(&json!("cookie"))).unwrap(),
            Some(Mode::Cookie)
        );
        assert_eq!(
            Mode::parse(Some(&json!("session"))).unwrap(),
            Some(Mode::Session)
        );
        let error = Mode::parse(Some(&json!("carrier-pigeon"))).unwrap_err();
        assert!(error.to_string().contains("[cookie, json, session]"));
        assert!(Mode::parse(Some(&json!(1))).is_err());
    }
}
