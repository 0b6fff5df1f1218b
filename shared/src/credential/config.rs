//! What every configuration reader shares (the keys here, mail, the platform's settings): the
//! error, which names the variable so a misconfigured function stops at cold start with a
//! sentence, and the duration syntax.

use std::time::Duration;

#[derive(thiserror::Error)]
pub enum ConfigError {
    #[error("configuration variable {0} is required but not set")]
    Missing(&'static str),
    #[error("configuration variable {name} is invalid: {reason}")]
    Invalid { name: &'static str, reason: String },
}

/// The sentence, not the variant: a function's `main` returns this error at cold start, and
/// Rust prints a returned error with `Debug` (`Error: Invalid { name: … }` otherwise), which is
/// what an operator reads in the function's log.
impl std::fmt::Debug for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self, f)
    }
}

/// Durations as Directus writes them (the `ms` package): a bare number is milliseconds.
pub fn parse_duration(raw: &str) -> Option<Duration> {
    let raw = raw.trim();
    let split = raw.find(|c: char| !c.is_ascii_digit()).unwrap_or(raw.len());
    let (digits, unit) = raw.split_at(split);
    let value: u64 = digits.parse().ok()?;
    let millis = match unit.trim() {
        "" | "ms" => value,
        "s" => value.checked_mul(1_000)?,
        "m" => value.checked_mul(60_000)?,
        "h" => value.checked_mul(3_600_000)?,
        "d" => value.checked_mul(86_400_000)?,
        _ => return None,
    };
    (millis > 0).then(|| Duration::from_millis(millis))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_like_the_ms_package() {
        assert_eq!(parse_duration("900000"), Some(Duration::from_secs(900)));
        assert_eq!(parse_duration("15m"), Some(Duration::from_secs(900)));
        assert_eq!(parse_duration("7d"), Some(Duration::from_secs(604_800)));
        assert_eq!(parse_duration("10s"), Some(Duration::from_secs(10)));
        assert_eq!(parse_duration("soon"), None);
        assert_eq!(parse_duration("0"), None);
        assert_eq!(parse_duration("5 weeks"), None);
    }
}
