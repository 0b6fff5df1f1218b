//! `POST /users/me/tfa/{generate,enable,disable,recovery-codes}` over REST: the route from the
//! path, the caller, the body parsed once into the flow's input, and the answer (Directus'
//! statuses; answers that carry a secret or recovery codes are `Cache-Control: no-store`).

use lambda_http::Request;
use lambda_http::http::{HeaderValue, Method, StatusCode, header};
use serde_json::{Map, Value, json};

use crate::adapters::http::{self, HttpResponse};
use crate::credential::password::Passwords;
use crate::domain::error::ApiError;
use crate::domain::sensitive::Sensitive;
use crate::flows::two_factor::{self, recovery_codes_value};
use crate::platform::state::AppState;

/// The four routes, by the last segment of the path (a stage prefix is ignored).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    Generate,
    Enable,
    Disable,
    RecoveryCodes,
}

impl Route {
    pub fn of(path: &str) -> Option<Self> {
        let (_, action) = path.trim_end_matches('/').rsplit_once("/users/me/tfa/")?;
        match action {
            "generate" => Some(Self::Generate),
            "enable" => Some(Self::Enable),
            "disable" => Some(Self::Disable),
            "recovery-codes" => Some(Self::RecoveryCodes),
            _ => None,
        }
    }
}

fn no_store(mut response: HttpResponse) -> HttpResponse {
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// A string field of the body, if any: `"otp": 123456` is Directus' `"otp" must be a string`.
fn text(body: &Map<String, Value>, field: &str) -> Result<Option<Sensitive>, ApiError> {
    Ok(http::optional_string(body, field)?.map(Sensitive::new))
}

/// Answers a request for one of the routes. A failing token fails it as on every route that
/// acts for its caller (and a session cookie carrying it is cleared); once the caller stands, a
/// refusal (a wrong password included, which is also `INVALID_CREDENTIALS`) leaves the session
/// alone: a typo at set-up must not sign the user out.
pub async fn handle(state: &AppState, passwords: &Passwords, request: &Request) -> HttpResponse {
    let now = http::now();
    let (route, claims) = match route_and_caller(state, request, now).await {
        Ok(found) => found,
        Err(error) => return http::respond_authenticated(request, &state.config, Err(error)),
    };
    http::respond(act(state, passwords, request, route, &claims, now).await)
}

async fn route_and_caller(
    state: &AppState,
    request: &Request,
    now: crate::flows::time::Now,
) -> Result<(Route, crate::credential::token::AccessClaims), ApiError> {
    let path = request.uri().path();
    let route = Route::of(path).ok_or_else(|| ApiError::RouteNotFound(path.to_owned()))?;
    if request.method() != Method::POST {
        return Err(ApiError::RouteNotFound(path.to_owned()));
    }
    let claims = http::caller(state, request, now)
        .await?
        .ok_or(ApiError::InvalidCredentials)?;
    Ok((route, claims))
}

async fn act(
    state: &AppState,
    passwords: &Passwords,
    request: &Request,
    route: Route,
    claims: &crate::credential::token::AccessClaims,
    now: crate::flows::time::Now,
) -> Result<HttpResponse, ApiError> {
    let body = http::json_object(request)?;
    let client = crate::adapters::rest::client(state, request);
    let password = |body: &Map<String, Value>| text(body, "password");
    match route {
        Route::Generate => {
            let generated =
                two_factor::generate(state, passwords, claims, password(&body)?, &client, now)
                    .await?;
            Ok(no_store(http::json(
                StatusCode::OK,
                &json!({"data": {
                    "secret": generated.secret.expose(),
                    "otpauth_url": generated.otpauth_url.expose(),
                }}),
            )))
        }
        Route::Enable => {
            let codes = two_factor::enable(
                state,
                claims,
                text(&body, "secret")?,
                text(&body, "otp")?,
                &client,
                now,
            )
            .await?;
            Ok(no_store(http::json(
                StatusCode::OK,
                &json!({ "data": recovery_codes_value(&codes) }),
            )))
        }
        Route::Disable => {
            two_factor::disable(state, claims, text(&body, "otp")?, &client, now).await?;
            Ok(http::no_content())
        }
        Route::RecoveryCodes => {
            let codes = two_factor::regenerate_recovery_codes(
                state,
                passwords,
                claims,
                password(&body)?,
                text(&body, "otp")?,
                &client,
                now,
            )
            .await?;
            Ok(no_store(http::json(
                StatusCode::OK,
                &json!({ "data": recovery_codes_value(&codes) }),
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_are_read_from_the_end_of_the_path() {
        assert_eq!(Route::of("/users/me/tfa/generate"), Some(Route::Generate));
        assert_eq!(Route::of("/prod/users/me/tfa/enable/"), Some(Route::Enable));
        assert_eq!(Route::of("/users/me/tfa/disable"), Some(Route::Disable));
        assert_eq!(
            Route::of("/users/me/tfa/recovery-codes"),
            Some(Route::RecoveryCodes)
        );
        for other in [
            "/users/me/tfa/",
            "/users/me/tfa/generate/x",
            "/users/me/tfa/Generate",
            "/users/other/tfa/enable",
            "/users/me",
        ] {
            assert_eq!(Route::of(other), None, "{other}");
        }
    }
}
