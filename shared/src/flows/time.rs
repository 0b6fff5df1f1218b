//! The instant a request is handled. No flow reads the clock to decide a rule: the adapter
//! reads it once, when the request arrives ([`Now::from_system`]), and passes it down, so every
//! rule that depends on time (lockout, grace window, revocation cut-offs, rate-limit windows,
//! link expiries, `$NOW` in permissions) is tested at fixed instants, and one request sees one
//! instant. Only durations are measured inside flows (a response's deadline, `AnswerAt`; the
//! health check's timing); the store stamps its own writes with its own clock.

use std::time::{SystemTime, UNIX_EPOCH};

/// An instant in epoch milliseconds. Seconds are the whole seconds before it, as
/// `SystemTime::duration_since(UNIX_EPOCH).as_secs()` counts them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Now {
    millis: i64,
}

impl Now {
    pub const fn from_millis(millis: i64) -> Self {
        Self { millis }
    }

    /// `at` as an instant (the epoch for a time before it).
    pub fn from_system(at: SystemTime) -> Self {
        let millis = at
            .duration_since(UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
            .unwrap_or(0);
        Self { millis }
    }

    pub const fn millis(self) -> i64 {
        self.millis
    }

    /// Whole epoch seconds.
    pub const fn secs(self) -> i64 {
        self.millis.div_euclid(1000)
    }

    /// Whole epoch seconds, unsigned (0 before the epoch).
    pub fn secs_u64(self) -> u64 {
        u64::try_from(self.secs()).unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn seconds_are_the_whole_seconds_before_the_instant() {
        let at = Now::from_system(UNIX_EPOCH + Duration::from_millis(1_700_000_000_999));
        assert_eq!(at.millis(), 1_700_000_000_999);
        assert_eq!(at.secs(), 1_700_000_000);
        assert_eq!(at.secs_u64(), 1_700_000_000);
        assert_eq!(Now::from_millis(-1).secs(), -1);
        assert_eq!(Now::from_millis(-1).secs_u64(), 0);
        assert_eq!(
            Now::from_system(UNIX_EPOCH - Duration::from_secs(5)).millis(),
            0
        );
    }
}
