use std::sync::Arc;

use lambda_http::Error;
use shared::AppState;
use shared::adapters::graphql::Limits;
use shared::adapters::graphql::system::SystemSchemas;
use shared::platform::state::Passwords;

fn main() -> Result<(), Error> {
    shared::platform::runtime::start(
        "graphql_system",
        "/graphql/system (GraphQL: registration, login, refresh, logout, password reset, users_me, two-factor sign-in)",
    )?
    .block_on(async {
        let state = Arc::new(AppState::from_env_with_mail().await?);
        let passwords = Arc::new(Passwords::new(state.config.hashing)?);
        let app = Arc::new(graphql_system::App {
            state,
            passwords,
            schemas: SystemSchemas::new(Limits::from_env()?),
        });
        shared::platform::runtime::serve(move |request| {
            let app = Arc::clone(&app);
            async move {
                shared::adapters::http::within_budget(graphql_system::handle(&app, request)).await
            }
        })
        .await
    })
}
