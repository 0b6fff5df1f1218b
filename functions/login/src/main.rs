use std::sync::Arc;

use lambda_http::Error;
use shared::AppState;
use shared::platform::state::Passwords;

fn main() -> Result<(), Error> {
    shared::platform::runtime::start("login", "POST /auth/login")?.block_on(async {
        let state = Arc::new(AppState::from_env().await?);
        let passwords = Passwords::new(state.config.hashing)?;
        shared::platform::runtime::serve(move |request| {
            let (state, passwords) = (Arc::clone(&state), passwords.clone());
            async move {
                shared::adapters::http::within_budget(login::handle(&state, &passwords, request))
                    .await
            }
        })
        .await
    })
}
