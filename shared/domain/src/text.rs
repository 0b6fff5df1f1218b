//! Rules for text people type: the shape of an email address and the characters that never
//! belong in an address or a name. Every transport and flow checks input with these.

/// Largest accepted request body. Auth payloads are tiny; this bounds parsing work and memory,
/// and bounds a password whichever transport brought it.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// Longest first or last name.
pub const MAX_NAME_CHARS: usize = 255;

/// The longest email accepted (RFC 5321's path limit).
pub const MAX_EMAIL_CHARS: usize = 254;

/// Characters that are never part of an email or a name: C0 and C1 controls, DEL, and the
/// invisible formatting characters that make look-alikes (soft hyphen, zero-width characters,
/// bidirectional overrides and isolates, word joiners, the byte-order mark).
pub fn is_control(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{ad}'
                | '\u{200b}'..='\u{200f}'
                | '\u{202a}'..='\u{202e}'
                | '\u{2060}'..='\u{2064}'
                | '\u{2066}'..='\u{2069}'
                | '\u{feff}'
        )
}

/// A syntactically valid email: one `@`, a local part without whitespace or control characters,
/// a dotted domain with an alphabetic TLD.
pub fn valid_email(email: &str) -> bool {
    if email.chars().any(|c| is_control(c) || c.is_whitespace()) {
        return false;
    }
    let Some((local, domain)) = email.rsplit_once('@') else {
        return false;
    };
    let labels: Vec<&str> = domain.split('.').collect();
    !local.is_empty()
        && local.len() <= 64
        && !local.contains(char::is_whitespace)
        && !local.contains('@')
        && labels.len() >= 2
        && labels.iter().all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
        && labels
            .last()
            .is_some_and(|tld| tld.len() >= 2 && tld.chars().all(|c| c.is_ascii_alphabetic()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn email_syntax() {
        for good in ["hello@example.com", "a.b+c@sub.example.co.uk", "X@Y.io"] {
            assert!(valid_email(good), "{good}");
        }
        for bad in [
            "",
            "hello",
            "@example.com",
            "a@b",
            "a@localhost",
            "a@b.c",
            "a b@c.com",
            "a@-b.com",
            "a@b..com",
            "a@b.123",
        ] {
            assert!(!valid_email(bad), "{bad}");
        }
    }
}
