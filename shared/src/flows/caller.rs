//! Who is calling: the access token the transport extracted (and where it came from), checked
//! at `now` against its signature, its user's standing (active, not revoked since it was
//! issued) and, for a session-mode token, its session. Transport-independent: reading the token
//! out of a request, and reading the clock, is the transport adapter's.

use crate::credential::token::{AccessClaims, TokenError};
use crate::domain::client::{AuthCookie, CookieChange, Presented, Site, TokenSource};
use crate::domain::error::ApiError;
use crate::domain::model::{CutOff, Session, User, UserStatus};
use crate::flows::ports::SessionStore;
use crate::flows::time::Now;
use crate::platform::state::AppState;

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
pub async fn verify(
    state: &AppState,
    presented: Option<&Presented>,
    site: &Site,
    now: Now,
) -> Result<Option<AccessClaims>, ApiError> {
    Ok(verify_on(state, presented, site, Route::Authenticated, now)
        .await?
        .claims)
}

/// [`verify`] for a route of either kind ([`Route`]).
pub async fn verify_on(
    state: &AppState,
    presented: Option<&Presented>,
    site: &Site,
    route: Route,
    now: Now,
) -> Result<Caller, ApiError> {
    let Some(presented) = presented else {
        return Ok(Caller::default());
    };
    match verify_presented(state, presented, site, now).await {
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
    now: Now,
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
        live_session(
            &state.store,
            SessionClaim {
                user_id: &claims.id,
                session_id,
                generation,
            },
            &standing.cut_off,
            grace_secs(state),
            now,
        )
        .await?;
    }
    Ok(claims)
}

/// The refresh grace window in seconds (0: off).
pub(crate) fn grace_secs(state: &AppState) -> i64 {
    i64::try_from(state.config.refresh_grace.as_secs()).unwrap_or(i64::MAX)
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

/// [`verify`] checks a token against a cached view of its user (up to `PERMISSIONS_CACHE_TTL`
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

/// What a session-mode token names: its user, its session and the generation it was issued at.
#[derive(Debug, Clone, Copy)]
struct SessionClaim<'a> {
    user_id: &'a str,
    session_id: &'a str,
    generation: u32,
}

/// A session-mode token lives as long as its session: the item must exist, be unexpired, belong
/// to the token's user, not have begun before the user's revocation `cut_off` (a session the
/// lagging by-user index did not list when sessions were ended is over all the same, as a
/// refresh finds), and be at the token's generation, or one past it within the grace window
/// (a refresh in another tab). One strongly consistent GetItem, never cached. A spent token is
/// only refused here; presented to `POST /auth/refresh` it is reuse, and ends the whole session.
async fn live_session(
    sessions: &impl SessionStore,
    claim: SessionClaim<'_>,
    cut_off: &CutOff,
    grace_secs: i64,
    now: Now,
) -> Result<Session, ApiError> {
    let now = now.secs();
    let session = sessions
        .get_live_session(claim.session_id, now)
        .await?
        .filter(|s| s.user_id == claim.user_id && !cut_off.ends_session(&s.id, s.created_at))
        .ok_or(ApiError::InvalidCredentials)?;
    if session.generation == claim.generation
        || (claim.generation + 1 == session.generation && within_grace(&session, grace_secs, now))
    {
        return Ok(session);
    }
    Err(ApiError::InvalidCredentials)
}

/// True while the session's last rotation is less than `grace_secs` old at `now_secs`.
pub(crate) fn within_grace(session: &Session, grace_secs: i64, now_secs: i64) -> bool {
    session
        .rotated_at
        .is_some_and(|at| grace_secs > 0 && now_secs.saturating_sub(at) < grace_secs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flows::fake::FakeStore;
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
            tfa_setup: false,
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

    const GRACE: i64 = 10;

    /// Session `id` of user `u1` at `generation`, created at `created_ms`, rotated at
    /// `rotated_at`, live until `expires_at` (seconds).
    fn session(id: &str, generation: u32, created_ms: i64, rotated_at: Option<i64>) -> Session {
        Session {
            id: id.into(),
            user_id: "u1".into(),
            generation,
            rotated_at,
            expires_at: SECOND as i64 + 3600,
            absolute_expires_at: SECOND as i64 + 7200,
            created_at: created_ms,
            ip: None,
            user_agent: None,
        }
    }

    async fn check(
        store: &FakeStore,
        session_id: &str,
        generation: u32,
        cut_off: &CutOff,
        grace: i64,
        at: Now,
    ) -> Result<u32, &'static str> {
        live_session(
            store,
            SessionClaim {
                user_id: "u1",
                session_id,
                generation,
            },
            cut_off,
            grace,
            at,
        )
        .await
        .map(|s| s.generation)
        .map_err(|e| e.code())
    }

    fn at_secs(secs: i64) -> Now {
        Now::from_millis(secs * 1000)
    }

    #[tokio::test]
    async fn a_session_begun_a_millisecond_before_the_cut_off_is_over_and_one_at_it_stands() {
        let store = FakeStore::at(CUT_OFF_MS);
        for (id, created) in [
            ("before", CUT_OFF_MS - 1),
            ("at", CUT_OFF_MS),
            ("after", CUT_OFF_MS + 1),
        ] {
            store
                .create_session(&session(id, 0, created, None))
                .await
                .unwrap();
        }
        let now = at_secs(SECOND as i64 + 1);
        let revoked = cut_off(CUT_OFF_MS, None);
        assert_eq!(
            check(&store, "before", 0, &revoked, GRACE, now).await,
            Err("INVALID_CREDENTIALS")
        );
        assert_eq!(check(&store, "at", 0, &revoked, GRACE, now).await, Ok(0));
        assert_eq!(check(&store, "after", 0, &revoked, GRACE, now).await, Ok(0));
        // The kept session stands though it began before.
        assert_eq!(
            check(
                &store,
                "before",
                0,
                &cut_off(CUT_OFF_MS, Some("before")),
                GRACE,
                now
            )
            .await,
            Ok(0)
        );
        // Without a revocation, every live session stands.
        assert_eq!(
            check(&store, "before", 0, &CutOff::default(), GRACE, now).await,
            Ok(0)
        );
    }

    #[tokio::test]
    async fn a_session_token_stands_only_while_its_session_is_live_and_its_users() {
        let store = FakeStore::at(CUT_OFF_MS);
        let live = session("s1", 0, CUT_OFF_MS, None);
        let expires_at = live.expires_at;
        store.create_session(&live).await.unwrap();
        let never = CutOff::default();
        // Expired at its `expires_at` second (the TTL attribute), whether or not swept.
        assert_eq!(
            check(&store, "s1", 0, &never, GRACE, at_secs(expires_at - 1)).await,
            Ok(0)
        );
        assert_eq!(
            check(&store, "s1", 0, &never, GRACE, at_secs(expires_at)).await,
            Err("INVALID_CREDENTIALS")
        );
        // Another user's session.
        let theirs = Session {
            user_id: "u2".into(),
            ..session("s2", 0, CUT_OFF_MS, None)
        };
        store.create_session(&theirs).await.unwrap();
        assert_eq!(
            check(&store, "s2", 0, &never, GRACE, at_secs(SECOND as i64)).await,
            Err("INVALID_CREDENTIALS")
        );
        assert_eq!(
            check(&store, "gone", 0, &never, GRACE, at_secs(SECOND as i64)).await,
            Err("INVALID_CREDENTIALS")
        );
    }

    #[tokio::test]
    async fn the_token_just_rotated_out_stands_for_the_grace_window_and_not_a_second_more() {
        let rotated = SECOND as i64 + 100;
        let store = FakeStore::at(CUT_OFF_MS);
        store
            .create_session(&session("s1", 3, CUT_OFF_MS, Some(rotated)))
            .await
            .unwrap();
        let never = CutOff::default();
        // The current generation, whenever.
        assert_eq!(
            check(&store, "s1", 3, &never, GRACE, at_secs(rotated + 1000)).await,
            Ok(3)
        );
        // The previous one: inside the window up to its last second, refused from its end on.
        assert_eq!(
            check(&store, "s1", 2, &never, GRACE, at_secs(rotated)).await,
            Ok(3)
        );
        assert_eq!(
            check(&store, "s1", 2, &never, GRACE, at_secs(rotated + GRACE - 1)).await,
            Ok(3)
        );
        assert_eq!(
            check(&store, "s1", 2, &never, GRACE, at_secs(rotated + GRACE)).await,
            Err("INVALID_CREDENTIALS")
        );
        // Two generations back, or no window at all: refused at once.
        assert_eq!(
            check(&store, "s1", 1, &never, GRACE, at_secs(rotated)).await,
            Err("INVALID_CREDENTIALS")
        );
        assert_eq!(
            check(&store, "s1", 2, &never, 0, at_secs(rotated)).await,
            Err("INVALID_CREDENTIALS")
        );
        // A later generation than the session's is no token of it.
        assert_eq!(
            check(&store, "s1", 4, &never, GRACE, at_secs(rotated)).await,
            Err("INVALID_CREDENTIALS")
        );
        // Refusing is all the check does: the session is still there for its owner.
        assert_eq!(store.session("s1").map(|s| s.generation), Some(3));
    }
}
