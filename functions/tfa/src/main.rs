use std::sync::Arc;

use lambda_http::Error;
use shared::AppState;
use shared::platform::state::Passwords;

fn main() -> Result<(), Error> {
    shared::platform::runtime::start(
        "tfa",
        "POST /users/me/tfa/generate, /enable, /disable and /recovery-codes",
    )?
    .block_on(async {
        // With mail: enabling and disabling send the user a notice.
        let state = Arc::new(AppState::from_env_with_mail().await?);
        let passwords = Passwords::new(state.config.hashing)?;
        shared::platform::runtime::serve(move |request| {
            let (state, passwords) = (Arc::clone(&state), passwords.clone());
            async move {
                shared::adapters::http::within_budget(tfa::handle(&state, &passwords, request))
                    .await
            }
        })
        .await
    })
}
