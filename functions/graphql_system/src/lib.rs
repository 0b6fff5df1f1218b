//! `GET|POST /graphql/system` (and any path below it): Directus' system-scope GraphQL.

use std::sync::Arc;

use lambda_http::{Body, Error, Request, Response};
use shared::ApiError;
use shared::AppState;
use shared::adapters::graphql::Incoming;
use shared::adapters::graphql::system::{System, SystemSchemas};
use shared::adapters::http::HttpResponse;
use shared::platform::state::Passwords;

/// What the function builds once per cold start.
pub struct App {
    pub state: Arc<AppState>,
    pub passwords: Arc<Passwords>,
    pub schemas: SystemSchemas,
}

pub async fn handle(app: &App, request: Request) -> Result<Response<Body>, Error> {
    let result = serve(app, &request).await;
    Ok(shared::adapters::graphql::respond(
        &request,
        &app.state.config,
        result,
    ))
}

/// Directus' order: the body parser's errors, then the token's (the REST envelope, before
/// GraphQL runs anything), then the document against the caller's schema. A request of public
/// mutations alone (login, registration, password reset) treats a failing session cookie as no
/// token and clears it, as the REST routes do.
async fn serve(app: &App, request: &Request) -> Result<HttpResponse, ApiError> {
    let now = shared::adapters::http::now();
    let incoming = Incoming::read(request, app.schemas.limits())?;
    let route = shared::adapters::graphql::system::route_of(&incoming, app.schemas.limits());
    let caller = shared::adapters::http::caller_on(&app.state, request, route, now).await?;
    let cookies = caller.cookies();
    let system = System {
        state: app.state.clone(),
        passwords: app.passwords.clone(),
        claims: caller.claims,
        client: shared::adapters::http::client(request, &app.state.config),
        now,
    };
    let result = shared::adapters::graphql::system::serve(&app.schemas, incoming, system).await;
    shared::adapters::http::with_cookies(result, &app.state.config, &cookies)
}

#[cfg(test)]
mod tests {
    use super::*;
    use lambda_http::http;
    use shared::adapters::graphql::Limits;
    use shared::platform::testing::{cheap_passwords, status_and_json, unreachable_state};

    fn app() -> App {
        App {
            state: Arc::new(unreachable_state()),
            passwords: Arc::new(cheap_passwords()),
            schemas: SystemSchemas::new(Limits::default()),
        }
    }

    async fn call(method: &str, headers: &[(&str, &str)], body: &str) -> Response<Body> {
        let mut builder = http::Request::builder()
            .method(method)
            .uri("/graphql/system");
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        handle(&app(), builder.body(Body::Text(body.to_owned())).unwrap())
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn a_bad_token_fails_before_graphql_with_the_rest_envelope() {
        let (status, body) = status_and_json(
            &call(
                "POST",
                &[
                    ("content-type", "application/json"),
                    ("authorization", "Bearer garbage"),
                ],
                r#"{"query":"mutation { auth_login(email: \"a@example.com\", password: \"x\") { access_token } }"}"#,
            )
            .await,
        );
        assert_eq!(status, 401);
        assert_eq!(
            body,
            serde_json::json!({"errors":[{"message":"Invalid user credentials.","extensions":{"code":"INVALID_CREDENTIALS"}}]})
        );
    }
}
