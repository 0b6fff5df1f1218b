//! Two-factor sign-in's rules over given values: RFC 6238 codes (SHA-1, six digits, 30-second
//! steps, as Directus and every authenticator app), one step of drift either way (RFC 6238
//! §5.2), each step accepted once per user (the caller records the step this returns, with a
//! conditional write), the `otpauth://` URL an authenticator scans, and recovery codes as
//! typed. No clock, no randomness: the instant and the random bytes are given.

use totp_rs::{Algorithm, Secret, Totp};

/// Seconds per time step (RFC 6238's X).
pub const STEP_SECS: u64 = 30;
/// Digits of a code.
pub const DIGITS: u8 = 6;
/// Steps accepted either side of the current one: a phone's clock a little off, or a code
/// typed in the last seconds of its step.
pub const DRIFT_STEPS: u16 = 1;
/// Bytes of a secret: 160 bits, RFC 4226 §4's recommendation (Directus uses 80).
pub const SECRET_BYTES: usize = 20;
/// How long a generated secret waits for its confirmation (`/users/me/tfa/enable`).
pub const PENDING_TTL_MS: i64 = 10 * 60 * 1000;
/// Recovery codes made at enable (and at each regeneration).
pub const RECOVERY_CODES: usize = 10;
/// Random bytes of one recovery code: 80 bits, sixteen base32 characters.
pub const RECOVERY_CODE_BYTES: usize = 10;
const RECOVERY_CODE_CHARS: usize = 16;
/// The most characters an `otp` may have (a recovery code with separators and spaces).
pub const MAX_OTP_CHARS: usize = 64;

/// One user's authenticator: the shared secret and the code rules above.
#[derive(Clone)]
pub struct Authenticator(Totp);

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Authenticator(<redacted>)")
    }
}

/// The secret is not one this API uses: not [`SECRET_BYTES`] long, or not base32.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a two-factor secret of this API")]
pub struct NotASecret;

impl Authenticator {
    /// The authenticator of a raw secret of [`SECRET_BYTES`].
    pub fn new(secret: &[u8]) -> Result<Self, NotASecret> {
        if secret.len() != SECRET_BYTES {
            return Err(NotASecret);
        }
        Self::with_digits(secret, DIGITS)
    }

    fn with_digits(secret: &[u8], digits: u8) -> Result<Self, NotASecret> {
        totp_rs::Builder::new()
            .with_algorithm(Algorithm::SHA1)
            .with_digits(digits)
            // The drift is applied by `accepts`, step by step (an exact check of each).
            .with_skew(0)
            .with_step_duration(STEP_SECS)
            .with_secret(Secret::from(secret.to_vec()))
            .build()
            .map(Self)
            .map_err(|_| NotASecret)
    }

    /// The authenticator of a base32 secret as `/users/me/tfa/generate` shows it (upper or
    /// lower case, no padding).
    pub fn from_base32(text: &str) -> Result<Self, NotASecret> {
        let secret =
            Secret::try_from_base32(text.trim().to_ascii_uppercase()).map_err(|_| NotASecret)?;
        Self::new(secret.as_bytes())
    }

    /// The secret as an authenticator app takes it typed: base32 (RFC 4648), no padding.
    pub fn base32(&self) -> String {
        self.0.secret().to_base32()
    }

    /// The raw secret (what is encrypted at rest).
    pub fn secret_bytes(&self) -> &[u8] {
        self.0.secret().as_bytes()
    }

    /// The code of the step `now_secs` falls in.
    pub fn code_at(&self, now_secs: u64) -> String {
        self.0.generate(now_secs).to_string()
    }

    /// The step `code` belongs to at `now_secs` (the current one or one either side), if it
    /// is later than `after` (the step last accepted for this user): a code is accepted once.
    pub fn accepts(&self, code: &str, now_secs: u64, after: Option<u64>) -> Option<u64> {
        let current = now_secs / STEP_SECS;
        let drift = u64::from(DRIFT_STEPS);
        // Every unspent step of the window, earliest first: a code that happens to match a
        // spent step and an unspent one is still the unspent one's.
        (current.saturating_sub(drift)..=current.saturating_add(drift))
            .filter(|step| after.is_none_or(|last| *step > last))
            .find(|step| self.0.check(code, step * STEP_SECS).is_some())
    }
}

/// The `otpauth://totp/` URL of a secret, as Directus writes it: `issuer:account` as the label,
/// then `secret`, `period`, `digits`, `algorithm` and `issuer`. A colon separates issuer from
/// account in the label, so none is kept inside either.
pub fn otpauth_url(issuer: &str, account: &str, secret_base32: &str) -> String {
    let issuer = issuer.replace(':', "");
    let account = account.replace(':', "");
    let mut url = url::Url::parse("otpauth://totp/").expect("a constant URL");
    url.path_segments_mut()
        .expect("otpauth URLs have a path")
        .clear()
        .push(&format!("{issuer}:{account}"));
    let query = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("secret", secret_base32)
        .append_pair("period", &STEP_SECS.to_string())
        .append_pair("digits", &DIGITS.to_string())
        .append_pair("algorithm", "SHA1")
        .append_pair("issuer", &issuer)
        .finish();
    // Form encoding writes a space as `+`, which authenticator apps show as a plus; a literal
    // plus is `%2B`, so every `+` of the query was a space.
    url.set_query(Some(&query.replace('+', "%20")));
    url.into()
}

/// A recovery code as shown: sixteen base32 characters in four groups (`abcd-efgh-ijkl-mnop`).
pub fn recovery_code(bytes: &[u8; RECOVERY_CODE_BYTES]) -> String {
    let plain = Secret::from(bytes.to_vec())
        .to_base32()
        .to_ascii_lowercase();
    plain
        .as_bytes()
        .chunks(4)
        .map(|chunk| std::str::from_utf8(chunk).expect("base32 is ASCII"))
        .collect::<Vec<_>>()
        .join("-")
}

/// What a sign-in's `otp` holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecondFactor {
    /// Six digits: a code of the authenticator.
    Code(String),
    /// A recovery code, normalised (lower case, no separators or spaces).
    Recovery(String),
    /// Anything else: a wrong code.
    Malformed,
}

/// Reads an `otp` as typed: a code, or a recovery code with or without its dashes and spaces,
/// in any case.
pub fn classify(otp: &str) -> SecondFactor {
    let trimmed = otp.trim();
    if trimmed.len() == usize::from(DIGITS) && trimmed.bytes().all(|b| b.is_ascii_digit()) {
        return SecondFactor::Code(trimmed.to_owned());
    }
    if otp.chars().count() > MAX_OTP_CHARS {
        return SecondFactor::Malformed;
    }
    let normalised: String = trimmed
        .chars()
        .filter(|c| *c != '-' && *c != ' ')
        .map(|c| c.to_ascii_lowercase())
        .collect();
    let base32 = |c: char| c.is_ascii_lowercase() || ('2'..='7').contains(&c);
    if normalised.len() == RECOVERY_CODE_CHARS && normalised.chars().all(base32) {
        SecondFactor::Recovery(normalised)
    } else {
        SecondFactor::Malformed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RFC_SECRET: &[u8] = b"12345678901234567890";

    /// RFC 6238 Appendix B, the SHA-1 column (eight digits).
    #[test]
    fn rfc_6238_appendix_b_vectors() {
        let rfc = Authenticator::with_digits(RFC_SECRET, 8).unwrap();
        for (time, code) in [
            (59, "94287082"),
            (1_111_111_109, "07081804"),
            (1_111_111_111, "14050471"),
            (1_234_567_890, "89005924"),
            (2_000_000_000, "69279037"),
            (20_000_000_000, "65353130"),
        ] {
            assert_eq!(rfc.code_at(time), code, "T = {time}");
        }
        // Six digits are the last six of the same values (RFC 4226 §5.3's modulo).
        let six = Authenticator::new(RFC_SECRET).unwrap();
        assert_eq!(six.code_at(59), "287082");
        assert_eq!(six.code_at(1_111_111_109), "081804");
    }

    #[test]
    fn one_step_of_drift_either_way_and_no_more() {
        let auth = Authenticator::new(RFC_SECRET).unwrap();
        let now = 1_234_567_890;
        let step = now / STEP_SECS;
        assert_eq!(auth.accepts(&auth.code_at(now), now, None), Some(step));
        assert_eq!(
            auth.accepts(&auth.code_at(now - STEP_SECS), now, None),
            Some(step - 1)
        );
        assert_eq!(
            auth.accepts(&auth.code_at(now + STEP_SECS), now, None),
            Some(step + 1)
        );
        assert_eq!(
            auth.accepts(&auth.code_at(now - 2 * STEP_SECS), now, None),
            None
        );
        assert_eq!(
            auth.accepts(&auth.code_at(now + 2 * STEP_SECS), now, None),
            None
        );
        assert_eq!(
            auth.accepts("000000", now, None)
                .filter(|_| auth.code_at(now) != "000000"),
            None
        );
    }

    #[test]
    fn a_step_is_accepted_once_and_never_an_earlier_one_after_it() {
        let auth = Authenticator::new(RFC_SECRET).unwrap();
        let now = 1_234_567_890;
        let step = now / STEP_SECS;
        let code = auth.code_at(now);
        assert_eq!(auth.accepts(&code, now, Some(step - 1)), Some(step));
        assert_eq!(auth.accepts(&code, now, Some(step)), None, "replay");
        // After the next step's code was used, the current one (still within drift) is spent.
        assert_eq!(auth.accepts(&code, now, Some(step + 1)), None);
        assert_eq!(
            auth.accepts(&auth.code_at(now + STEP_SECS), now, Some(step)),
            Some(step + 1)
        );
    }

    #[test]
    fn a_code_that_two_steps_share_counts_for_the_unspent_one() {
        // Find a secret and an instant where the previous and the current step have one code
        // (one chance in a million per pair, so search the steps of a few secrets).
        let (auth, now) = (0u8..=255)
            .find_map(|seed| {
                let auth = Authenticator::new(&[seed; SECRET_BYTES]).unwrap();
                let mut previous = auth.code_at(0);
                (1..2_000_000u64)
                    .find_map(|step| {
                        let code = auth.code_at(step * STEP_SECS);
                        let repeats = code == previous;
                        previous = code;
                        repeats.then_some(step * STEP_SECS)
                    })
                    .map(|now| (auth, now))
            })
            .expect("some secret repeats a code in consecutive steps");
        let current = now / STEP_SECS;
        let code = auth.code_at(now);
        assert_eq!(auth.accepts(&code, now, None), Some(current - 1));
        assert_eq!(auth.accepts(&code, now, Some(current - 1)), Some(current));
    }

    #[test]
    fn codes_are_six_ascii_digits_exactly() {
        let auth = Authenticator::new(RFC_SECRET).unwrap();
        let now = 1_234_567_890;
        let code = auth.code_at(now);
        for variant in [
            format!("+{}", &code[1..]),
            format!("{code}0"),
            code[1..].to_owned(),
            format!(" {code}"),
            code.replace('0', "٠"),
            String::new(),
        ] {
            if variant != code {
                assert_eq!(auth.accepts(&variant, now, None), None, "{variant:?}");
            }
        }
    }

    #[test]
    fn secrets_are_twenty_bytes_in_base32_either_case() {
        assert_eq!(Authenticator::new(&[7; 19]).unwrap_err(), NotASecret);
        assert_eq!(Authenticator::new(&[7; 21]).unwrap_err(), NotASecret);
        let auth = Authenticator::new(RFC_SECRET).unwrap();
        let text = auth.base32();
        assert_eq!(text, "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
        assert_eq!(
            Authenticator::from_base32(&text.to_lowercase())
                .unwrap()
                .secret_bytes(),
            RFC_SECRET
        );
        for bad in [
            "",
            "MRFQWWDPNMAC2YLR",
            "not base32!",
            "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJ1",
        ] {
            assert!(Authenticator::from_base32(bad).is_err(), "{bad}");
        }
        assert_eq!(format!("{auth:?}"), "Authenticator(<redacted>)");
    }

    #[test]
    fn the_otpauth_url_is_directus_shape() {
        assert_eq!(
            otpauth_url("Directus", "a+b@example.com", "MRFQWWDPNMAC2YLR"),
            "otpauth://totp/Directus:a+b@example.com?secret=MRFQWWDPNMAC2YLR&period=30&digits=6&algorithm=SHA1&issuer=Directus"
        );
        let spaced = otpauth_url("My: Project", "x@y.z", "AB");
        assert_eq!(
            spaced,
            "otpauth://totp/My%20Project:x@y.z?secret=AB&period=30&digits=6&algorithm=SHA1&issuer=My%20Project"
        );
        let odd = otpauth_url("P", "we/ird?#@x.y", "AB");
        let parsed = url::Url::parse(&odd).unwrap();
        assert_eq!(parsed.path_segments().unwrap().count(), 1, "{odd}");
        assert_eq!(parsed.query_pairs().count(), 5, "{odd}");
    }

    #[test]
    fn recovery_codes_read_back_however_they_are_typed() {
        let code = recovery_code(&[0xAB; RECOVERY_CODE_BYTES]);
        assert_eq!(code.len(), 19);
        assert_eq!(code.matches('-').count(), 3);
        let plain = code.replace('-', "");
        for typed in [
            code.clone(),
            code.to_uppercase(),
            plain.clone(),
            format!(" {} ", code.replace('-', " ")),
        ] {
            assert_eq!(
                classify(&typed),
                SecondFactor::Recovery(plain.clone()),
                "{typed}"
            );
        }
        assert_eq!(classify("123456"), SecondFactor::Code("123456".into()));
        assert_eq!(classify(" 123456 "), SecondFactor::Code("123456".into()));
        for wrong in [
            "12345",
            "1234567",
            "abc",
            "",
            &"a".repeat(100),
            "abcd-efgh-ijkl-mno1",
        ] {
            assert_eq!(classify(wrong), SecondFactor::Malformed, "{wrong}");
        }
    }
}
