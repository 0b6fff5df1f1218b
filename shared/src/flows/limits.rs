//! Per-client-address rate limits on login, registration and refresh, counted in DynamoDB (so
//! every instance shares them) before any other work such as hashing. The address is the one
//! API Gateway saw, never a client-supplied header. Limits are settings of the declarative
//! configuration (`rate_limits` in `infra/seed.json`).

use std::net::{IpAddr, Ipv6Addr};

use crate::domain::access::filter::iso8601;
use crate::domain::client::Client;
use crate::domain::error::ApiError;
use crate::domain::model::RateLimit;
use crate::flows::ports::RateCounter;
use crate::flows::time::Now;
use crate::platform::state::AppState;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limited {
    Register,
    Login,
    Refresh,
    /// A password change of one's own (`PATCH /users/me`): an argon2 hash per request, so it
    /// draws on the login budget's numbers, counted apart.
    PasswordChange,
    /// `POST /auth/password/request`: a mail per request.
    PasswordRequest,
    /// `POST /auth/password/reset`: an argon2 hash per request; the request's numbers.
    PasswordReset,
}

impl Limited {
    fn name(self) -> &'static str {
        match self {
            Self::Register => "register",
            Self::Login => "login",
            Self::Refresh => "refresh",
            Self::PasswordChange => "password",
            Self::PasswordRequest => "password-request",
            Self::PasswordReset => "password-reset",
        }
    }
}

/// The window a request falls in: (start, length), epoch seconds.
pub fn window(now: i64, limit: RateLimit) -> (i64, i64) {
    let length = i64::from(limit.duration.max(1));
    (now - now.rem_euclid(length), length)
}

/// Bucket of requests that arrive without a source address (API Gateway always gives one; a
/// misconfigured integration must not lift every limit, so they share one bucket).
const UNKNOWN_ADDRESS: &str = "unknown";

/// The key a client address is counted under: IPv4 as it is, IPv6 by its first `v6_prefix`
/// bits (one /64 is one customer's network, which a client can rotate through at will).
/// Anything that is not an address is counted in the unknown bucket.
pub fn address_key(address: Option<&str>, v6_prefix: u8) -> String {
    match address.and_then(|a| a.trim().parse::<IpAddr>().ok()) {
        Some(IpAddr::V4(v4)) => v4.to_string(),
        Some(IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let bits = u128::from(v6);
                let prefix = u32::from(v6_prefix.clamp(1, 128));
                let mask = u128::MAX << (128 - prefix);
                format!("{}/{prefix}", Ipv6Addr::from(bits & mask))
            }
        },
        None => UNKNOWN_ADDRESS.to_owned(),
    }
}

/// Counts this request against its address at `now`; 429 `REQUESTS_EXCEEDED` with
/// `Retry-After` past the limit. A limit of 0 points switches it off.
pub async fn enforce(
    state: &AppState,
    client: &Client,
    action: Limited,
    now: Now,
) -> Result<(), ApiError> {
    let source = client.ip.clone();
    if source.is_none() {
        tracing::warn!(
            action = action.name(),
            "request without a source address; counted in the shared unknown bucket"
        );
    }
    let address = address_key(source.as_deref(), state.config.rate_limit_ipv6_prefix);
    let settings = state
        .access
        .settings(&state.store, &state.config.default_settings)
        .await?;
    let limit = match action {
        Limited::Register => settings.rate_limits.register,
        Limited::Login | Limited::PasswordChange => settings.rate_limits.login,
        Limited::Refresh => settings.rate_limits.refresh,
        Limited::PasswordRequest | Limited::PasswordReset => settings.rate_limits.password_request,
    };
    charge(&state.store, action, &address, limit, now).await
}

/// The limit's rule: one count under `address` in the window `now` falls in; past `limit`'s
/// points, 429 with the seconds to the window's end (at least one).
async fn charge(
    counter: &impl RateCounter,
    action: Limited,
    address: &str,
    limit: RateLimit,
    now: Now,
) -> Result<(), ApiError> {
    if limit.points == 0 {
        return Ok(());
    }
    let now = now.secs();
    let (start, length) = window(now, limit);
    let hits = counter
        .count_request(action.name(), address, start, length)
        .await?;
    if hits > u64::from(limit.points) {
        let reset = start + length;
        return Err(ApiError::RequestsExceeded {
            limit: limit.points,
            retry_after: u64::try_from((reset - now).max(1)).unwrap_or(1),
            reset: iso8601(reset * 1000),
        });
    }
    Ok(())
}

/// Counts one mail to `email` (case-insensitively) and says whether it may be sent: false past
/// the `email_recipient` limit. The caller answers the same either way, so the limit tells a
/// client nothing about the address; it only keeps an address from being flooded. Counted in
/// the window `now` falls in.
pub async fn mail_allowed(state: &AppState, email: &str, now: Now) -> Result<bool, ApiError> {
    let settings = state
        .access
        .settings(&state.store, &state.config.default_settings)
        .await?;
    mail_allowed_at(
        &state.store,
        email,
        settings.rate_limits.email_recipient,
        now,
    )
    .await
}

/// [`mail_allowed`]'s rule at `now` under `limit` (0 points: no limit).
async fn mail_allowed_at(
    counter: &impl RateCounter,
    email: &str,
    limit: RateLimit,
    now: Now,
) -> Result<bool, ApiError> {
    if limit.points == 0 {
        return Ok(true);
    }
    let (start, length) = window(now.secs(), limit);
    let hits = counter
        .count_request("mail", &crate::store::email_key(email), start, length)
        .await?;
    Ok(hits <= u64::from(limit.points))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flows::fake::FakeStore;

    /// A whole minute: windows of 60 seconds start here.
    const S: i64 = 1_700_000_040;

    fn at(secs: i64, ms: i64) -> Now {
        Now::from_millis(secs * 1000 + ms)
    }

    const THREE_A_MINUTE: RateLimit = RateLimit {
        points: 3,
        duration: 60,
    };

    #[tokio::test]
    async fn a_limit_refuses_the_request_past_its_points_until_the_window_turns() {
        let store = FakeStore::at(S * 1000);
        let ip = "203.0.113.7";
        for secs in [0, 1, 2] {
            charge(&store, Limited::Login, ip, THREE_A_MINUTE, at(S + secs, 0))
                .await
                .unwrap();
        }
        let refused = charge(&store, Limited::Login, ip, THREE_A_MINUTE, at(S + 10, 0)).await;
        match refused {
            Err(ApiError::RequestsExceeded {
                limit,
                retry_after,
                reset,
            }) => {
                assert_eq!(limit, 3);
                assert_eq!(retry_after, 50);
                assert_eq!(reset, "2023-11-14T22:15:00.000Z");
            }
            other => panic!("{other:?}"),
        }
        // The window's last millisecond: still refused, and at least a second to wait.
        match charge(&store, Limited::Login, ip, THREE_A_MINUTE, at(S + 59, 999)).await {
            Err(ApiError::RequestsExceeded { retry_after, .. }) => assert_eq!(retry_after, 1),
            other => panic!("{other:?}"),
        }
        // The next window counts afresh.
        for _ in 0..3 {
            charge(&store, Limited::Login, ip, THREE_A_MINUTE, at(S + 60, 0))
                .await
                .unwrap();
        }
        assert!(
            charge(&store, Limited::Login, ip, THREE_A_MINUTE, at(S + 60, 1))
                .await
                .is_err()
        );
    }

    #[tokio::test]
    async fn each_action_and_each_network_has_its_own_count_and_zero_points_is_off() {
        let store = FakeStore::at(S * 1000);
        let now = at(S, 0);
        let home = address_key(Some("2001:db8:1:2::1"), 64);
        for _ in 0..3 {
            charge(&store, Limited::Login, &home, THREE_A_MINUTE, now)
                .await
                .unwrap();
        }
        // Another address of the same /64 is the same client.
        let same_network = address_key(Some("2001:db8:1:2:ffff:eeee:dddd:cccc"), 64);
        assert!(
            charge(&store, Limited::Login, &same_network, THREE_A_MINUTE, now)
                .await
                .is_err()
        );
        // The next /64, and another action of the first, count apart.
        let next_network = address_key(Some("2001:db8:1:3::1"), 64);
        charge(&store, Limited::Login, &next_network, THREE_A_MINUTE, now)
            .await
            .unwrap();
        charge(&store, Limited::Refresh, &home, THREE_A_MINUTE, now)
            .await
            .unwrap();
        // Off: never refused, never counted.
        let off = RateLimit {
            points: 0,
            duration: 60,
        };
        for _ in 0..10 {
            charge(&store, Limited::Register, &home, off, now)
                .await
                .unwrap();
        }
        charge(&store, Limited::Register, &home, THREE_A_MINUTE, now)
            .await
            .unwrap();
        assert_eq!(
            store.count_request("register", &home, S, 60).await.unwrap(),
            2
        );
    }

    #[tokio::test]
    async fn mail_to_one_address_stops_past_its_points_whatever_the_case() {
        let store = FakeStore::at(S * 1000);
        let two = RateLimit {
            points: 2,
            duration: 60,
        };
        let now = at(S, 0);
        assert!(
            mail_allowed_at(&store, "a@example.com", two, now)
                .await
                .unwrap()
        );
        assert!(
            mail_allowed_at(&store, "A@Example.com", two, now)
                .await
                .unwrap()
        );
        assert!(
            !mail_allowed_at(&store, "a@example.com", two, now)
                .await
                .unwrap()
        );
        assert!(
            mail_allowed_at(&store, "b@example.com", two, now)
                .await
                .unwrap()
        );
        assert!(
            mail_allowed_at(&store, "a@example.com", two, at(S + 60, 0))
                .await
                .unwrap()
        );
        let off = RateLimit {
            points: 0,
            duration: 60,
        };
        assert!(
            mail_allowed_at(&store, "a@example.com", off, now)
                .await
                .unwrap()
        );
    }

    #[test]
    fn windows_are_aligned_to_their_length() {
        let limit = RateLimit {
            points: 5,
            duration: 60,
        };
        assert_eq!(window(125, limit), (120, 60));
        assert_eq!(window(120, limit), (120, 60));
        assert_eq!(
            window(
                5,
                RateLimit {
                    points: 5,
                    duration: 0
                }
            ),
            (5, 1)
        );
    }

    #[test]
    fn ipv6_clients_are_counted_by_network_and_missing_addresses_share_a_bucket() {
        assert_eq!(address_key(Some("203.0.113.7"), 64), "203.0.113.7");
        assert_eq!(
            address_key(Some("2001:db8:1:2:aaaa::1"), 64),
            address_key(Some("2001:db8:1:2:ffff:eeee:dddd:cccc"), 64)
        );
        assert_eq!(
            address_key(Some("2001:db8:1:2:aaaa::1"), 64),
            "2001:db8:1:2::/64"
        );
        assert_ne!(
            address_key(Some("2001:db8:1:2::1"), 64),
            address_key(Some("2001:db8:1:3::1"), 64)
        );
        assert_eq!(address_key(Some("2001:db8::1"), 128), "2001:db8::1/128");
        assert_eq!(address_key(Some("2001:db8::1"), 48), "2001:db8::/48");
        assert_eq!(address_key(Some("::ffff:198.51.100.9"), 64), "198.51.100.9");
        assert_eq!(address_key(None, 64), "unknown");
        assert_eq!(address_key(Some("not an address"), 64), "unknown");
    }
}
