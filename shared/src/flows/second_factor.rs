//! The second step of a sign-in, and the check of a code that every two-factor change shares:
//! an unspent code of the user's authenticator (one step of drift either way) or an unused
//! recovery code. Apart from `two_factor` (the set-up routes, which check passwords through the
//! session flow) so that the session flow can call the second step without a cycle.

use crate::domain::error::ApiError;
use crate::domain::model::{TwoFactor, User};
use crate::domain::sensitive::Sensitive;
use crate::domain::two_factor::{Authenticator, MAX_OTP_CHARS, SecondFactor, classify};
use crate::flows::time::Now;
use crate::platform::state::AppState;
use crate::store::{Spent, StoreError};

/// The second step of a sign-in whose password was right: nothing for a user without a second
/// factor; otherwise `otp` must be an unspent code or recovery code, and is spent here
/// (`INVALID_OTP` when missing, wrong or spent). The sign-in's attempt stays counted on the
/// account until this passes, so wrong codes lock the account as wrong passwords do.
pub(crate) async fn second_step(
    state: &AppState,
    user: &User,
    otp: Option<&str>,
    now: Now,
) -> Result<(), ApiError> {
    let Some(factor) = &user.two_factor else {
        return Ok(());
    };
    let otp = otp.filter(|o| !o.is_empty()).ok_or(ApiError::InvalidOtp)?;
    let proof = verify(state, user, factor, otp, now).ok_or(ApiError::InvalidOtp)?;
    match state
        .store
        .spend_second_factor(
            &user.id,
            &factor.secret,
            &proof.spent,
            proof.reseal.as_ref(),
        )
        .await
    {
        Ok(()) => {
            if matches!(proof.spent, Spent::Recovery(_)) {
                tracing::info!(user = %user.id, left = factor.recovery.len() - 1, "signed in with a recovery code");
            }
            Ok(())
        }
        // Spent by a concurrent sign-in (a replay), or the factor changed.
        Err(StoreError::Stale) => Err(ApiError::InvalidOtp),
        Err(other) => Err(other.into()),
    }
}

/// A code that passed the checks that need no write: what spends it, and the secret sealed
/// again when it was sealed under the previous key.
pub(crate) struct Proof {
    pub(crate) spent: Spent,
    pub(crate) reseal: Option<Sensitive>,
}

/// Checks `otp` against `factor` at `now` (a code of an unspent step within one step of drift,
/// or an unused recovery code). `None`: wrong. Reads nothing; the caller's conditional write
/// spends it.
pub(crate) fn verify(
    state: &AppState,
    user: &User,
    factor: &TwoFactor,
    otp: &str,
    now: Now,
) -> Option<Proof> {
    if otp.chars().count() > MAX_OTP_CHARS {
        return None;
    }
    match classify(otp) {
        SecondFactor::Code(code) => {
            let opened = match state.two_factor.open(&user.id, &factor.secret) {
                Ok(opened) => opened,
                Err(error) => {
                    // The signing secret changed twice since it was sealed, or the item was
                    // altered: codes cannot work; recovery codes may.
                    tracing::error!(user = %user.id, %error, "two-factor secret unreadable");
                    return None;
                }
            };
            let authenticator = Authenticator::new(&opened.secret).ok()?;
            let step = authenticator.accepts(&code, now.secs_u64(), factor.last_step)?;
            Some(Proof {
                spent: Spent::Step(step),
                reseal: (!opened.sealed_under_current)
                    .then(|| state.two_factor.seal(&user.id, &opened.secret)),
            })
        }
        SecondFactor::Recovery(code) => state
            .two_factor
            .recovery_candidates(&user.id, &code)
            .into_iter()
            .find(|digest| factor.recovery.contains_key(digest))
            .map(|digest| Proof {
                spent: Spent::Recovery(digest),
                reseal: None,
            }),
        SecondFactor::Malformed => None,
    }
}
