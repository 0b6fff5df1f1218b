//! Users and their refresh sessions, as stored (the serde shapes are the stored format).

use serde::{Deserialize, Serialize};

use crate::sensitive::Sensitive;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UserStatus {
    Draft,
    Invited,
    Unverified,
    Active,
    Suspended,
    Archived,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct User {
    pub id: String,
    /// As the user typed it (trimmed); uniqueness uses the lowercased form.
    pub email: String,
    pub password: Option<Sensitive>,
    pub status: UserStatus,
    pub role: Option<String>,
    #[serde(default)]
    pub first_name: Option<String>,
    #[serde(default)]
    pub last_name: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
    /// Epoch seconds: the revocation cut-off as earlier versions wrote it (a whole second, next
    /// to `sessions_valid_after`). Read only, through [`User::cut_off`]; never written now.
    #[serde(default)]
    pub tokens_valid_after: Option<i64>,
    /// Epoch milliseconds: the revocation cut-off (set by a password change or reset, a
    /// suspension, an administrator or the operator tool ending the user's sessions). Sessions
    /// created before it are over, whether or not the by-user index listed them when sessions
    /// were ended, and so are access tokens issued before it ([`CutOff`]).
    #[serde(default)]
    pub sessions_valid_after: Option<i64>,
    /// The one session a self-service password change kept (the one that made it): its tokens
    /// and refreshes stay valid across the cut-off above. Cleared by every other revocation.
    #[serde(default)]
    pub kept_session: Option<String>,
    /// The second factor, once enabled (`tfa` on the item).
    #[serde(default, rename = "tfa", skip_serializing_if = "Option::is_none")]
    pub two_factor: Option<TwoFactor>,
    /// A secret generated and not yet confirmed (`tfa_pending` on the item).
    #[serde(
        default,
        rename = "tfa_pending",
        skip_serializing_if = "Option::is_none"
    )]
    pub pending_two_factor: Option<PendingTwoFactor>,
}

/// A user's second factor as stored: the authenticator's secret sealed
/// (`credential::two_factor`), the last time step a code was accepted for, and the digests of
/// the recovery codes not used yet.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TwoFactor {
    pub secret: Sensitive,
    /// RFC 6238's T of the last accepted code: a code of this step or an earlier one is spent.
    /// Never written as null (a null would fail every `tfa.last_step < :step` condition).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_step: Option<u64>,
    /// Digest -> `true`: a map, so one code is removed by name in a conditional write.
    #[serde(default)]
    pub recovery: std::collections::BTreeMap<String, bool>,
    /// Epoch milliseconds.
    pub enabled_at: i64,
}

/// A secret `/users/me/tfa/generate` made: only it may be enabled, until `expires_at` (epoch
/// milliseconds); the next generate replaces it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PendingTwoFactor {
    pub secret: Sensitive,
    pub expires_at: i64,
}

impl PendingTwoFactor {
    pub fn is_live(&self, now_ms: i64) -> bool {
        self.expires_at > now_ms
    }
}

impl User {
    /// Where the user's last revocation drew the line.
    pub fn cut_off(&self) -> CutOff {
        // Items written by earlier versions may hold a whole-second stamp only, or one a second
        // later than the millisecond one (the operator tool rounded up): the later one holds.
        let legacy = self
            .tokens_valid_after
            .map(|secs| secs.saturating_mul(1000));
        CutOff {
            at_ms: self.sessions_valid_after.max(legacy),
            kept_session: self.kept_session.clone(),
        }
    }

    /// True when `session` began before the user's sessions were last ended.
    pub fn ended_session(&self, session: &Session) -> bool {
        self.cut_off().ends_session(&session.id, session.created_at)
    }
}

/// Where a user's last revocation drew the line: sessions created before `at_ms` are over, and
/// so is every access token issued before it (the auth flow applies that to tokens), except
/// those of `kept_session`. Compared in milliseconds, so a login just after a revocation, in the
/// same second, is not taken for one before it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CutOff {
    /// Epoch milliseconds; `None` while the user's sessions were never ended.
    pub at_ms: Option<i64>,
    /// The session a self-service password change kept.
    pub kept_session: Option<String>,
}

impl CutOff {
    /// True when `session_id` names the session the revocation kept.
    pub fn keeps(&self, session_id: Option<&str>) -> bool {
        session_id.is_some() && session_id == self.kept_session.as_deref()
    }

    /// True when the session `session_id`, created at `created_at_ms`, began before the cut-off
    /// and is not the kept one. One created in the cut-off's very millisecond stands.
    pub fn ends_session(&self, session_id: &str, created_at_ms: i64) -> bool {
        self.at_ms.is_some_and(|at| created_at_ms < at) && !self.keeps(Some(session_id))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    pub id: String,
    pub user_id: String,
    /// Number of rotations so far; the current token is the one for this generation.
    pub generation: u32,
    /// Epoch seconds of the last rotation.
    #[serde(default)]
    pub rotated_at: Option<i64>,
    /// Epoch seconds; sliding (moved on every refresh, never past `absolute_expires_at`); the
    /// TTL attribute.
    pub expires_at: i64,
    /// Epoch seconds after which no refresh succeeds, however active the session.
    pub absolute_expires_at: i64,
    /// Epoch milliseconds.
    pub created_at: i64,
    #[serde(default)]
    pub ip: Option<String>,
    #[serde(default)]
    pub user_agent: Option<String>,
}

impl Session {
    pub fn is_live(&self, now_secs: i64) -> bool {
        self.expires_at > now_secs && self.absolute_expires_at > now_secs
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session_at(id: &str, created_at: i64) -> Session {
        Session {
            id: id.into(),
            user_id: "u1".into(),
            generation: 0,
            rotated_at: None,
            expires_at: i64::MAX,
            absolute_expires_at: i64::MAX,
            created_at,
            ip: None,
            user_agent: None,
        }
    }

    fn user_with(tokens: Option<i64>, sessions: Option<i64>, kept: Option<&str>) -> User {
        User {
            id: "u1".into(),
            email: "a@example.com".into(),
            password: None,
            status: UserStatus::Active,
            role: None,
            first_name: None,
            last_name: None,
            created_at: 0,
            updated_at: 0,
            tokens_valid_after: tokens,
            sessions_valid_after: sessions,
            kept_session: kept.map(str::to_owned),
            two_factor: None,
            pending_two_factor: None,
        }
    }

    #[test]
    fn the_cut_off_ends_sessions_begun_before_it_in_milliseconds() {
        let user = user_with(None, Some(1_700_000_000_500), None);
        assert!(user.ended_session(&session_at("a", 1_700_000_000_499)));
        assert!(!user.ended_session(&session_at("b", 1_700_000_000_500)));
        assert!(!user.ended_session(&session_at("c", 1_700_000_000_501)));
        let kept = user_with(None, Some(1_700_000_000_500), Some("a"));
        assert!(!kept.ended_session(&session_at("a", 1)));
        assert!(kept.ended_session(&session_at("b", 1)));
        assert!(!user_with(None, None, None).ended_session(&session_at("a", 0)));
        assert!(!CutOff::default().keeps(None));
        assert!(
            !user.cut_off().keeps(None),
            "no session is not the kept one"
        );
    }

    #[test]
    fn stamps_of_earlier_versions_still_count_and_the_later_one_holds() {
        // Only the whole-second stamp: from the start of its second.
        assert_eq!(
            user_with(Some(1_700_000_000), None, None).cut_off().at_ms,
            Some(1_700_000_000_000)
        );
        // The operator tool rounded up a second: that later stamp holds.
        assert_eq!(
            user_with(Some(1_700_000_001), Some(1_700_000_000_400), None)
                .cut_off()
                .at_ms,
            Some(1_700_000_001_000)
        );
        // A later revocation writes milliseconds only: they hold over an old stamp.
        assert_eq!(
            user_with(Some(1_700_000_000), Some(1_700_000_009_400), Some("k")).cut_off(),
            CutOff {
                at_ms: Some(1_700_000_009_400),
                kept_session: Some("k".into()),
            }
        );
        assert_eq!(user_with(None, None, None).cut_off(), CutOff::default());
    }
}
