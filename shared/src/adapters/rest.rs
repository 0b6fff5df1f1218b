//! REST adapters over the transport-independent flows: parse the body, cookies and headers into
//! typed input (with Joi's 400s, which GraphQL does not give), call the flow, and render its
//! output as Directus' REST responses (Set-Cookie included).

pub mod directory;
pub mod items;
pub mod server;
pub mod two_factor;

use lambda_http::Request;
use lambda_http::http::{HeaderValue, StatusCode, header};
use serde_json::{Map, Value, json};

use crate::adapters::http::{self, HttpResponse, TokenSource};
use crate::credential::password::{MAX_PASSWORD_CHARS, Passwords};
use crate::domain::client::Client;
use crate::domain::error::ApiError;
use crate::domain::sensitive::Sensitive;
use crate::flows::caller::{self, Route};
use crate::flows::password_reset;
use crate::flows::registration::{self, ALLOWED_FIELDS, MAX_URL_CHARS, Registration};
use crate::flows::session::{self, Credentials, Issued, Mode, Presentation};
use crate::flows::time::Now;
use crate::flows::users::{self, Created, MAX_NAME_CHARS};
use crate::platform::state::AppState;

pub(crate) fn client(state: &AppState, request: &Request) -> Client {
    http::client(request, &state.config)
}

/// Tokens as REST returns them: `{"data":{expires, refresh_token?, access_token}}` (session
/// mode: only `expires`), cookies as Set-Cookie.
pub fn issued_response(state: &AppState, issued: &Issued) -> HttpResponse {
    let mut data = json!({ "expires": issued.expires_ms });
    if let Some(refresh_token) = &issued.refresh_token {
        data["refresh_token"] = json!(refresh_token.expose());
    }
    if let Some(access_token) = &issued.access_token {
        data["access_token"] = json!(access_token);
    }
    let mut response = http::json(StatusCode::OK, &json!({ "data": data }));
    http::apply_cookies(&mut response, &state.config, &issued.cookies);
    response
}

/// A public route ([`Route::Public`]): the caller is resolved first, as on every route (a
/// bad bearer or query token fails the request), then `handler` runs; a failing session cookie
/// counts as no token, and the answer, whatever it is, clears it. The caller is checked at
/// `now`, the instant `handler` is given too.
async fn public_route(
    state: &AppState,
    request: &Request,
    now: Now,
    handler: impl std::future::Future<Output = Result<HttpResponse, ApiError>>,
) -> Result<HttpResponse, ApiError> {
    let caller = http::caller_on(state, request, Route::Public, now).await?;
    http::with_cookies(handler.await, &state.config, &caller.cookies())
}

/// `POST /auth/login`: a public route ([`Route::Public`]), the request read once into the
/// caller's token, the [`Client`] facts and the credentials, at one instant.
pub async fn login(
    state: &AppState,
    passwords: &Passwords,
    request: &Request,
) -> Result<HttpResponse, ApiError> {
    let now = http::now();
    let presented = http::presented_token(request, &state.config.session_cookie.name)?;
    let client = client(state, request);
    let caller =
        caller::verify_on(state, presented.as_ref(), &client.site, Route::Public, now).await?;
    let issued = match credentials(request) {
        Ok(credentials) => session::login(state, passwords, credentials, &client, now).await,
        Err(error) => Err(error),
    };
    let answer = issued.map(|issued| issued_response(state, &issued));
    http::with_cookies(answer, &state.config, &caller.cookies())
}

/// The login payload: a malformed one is a 400 that touches nothing.
fn credentials(request: &Request) -> Result<Credentials, ApiError> {
    let body = http::json_object(request)?;
    let email = http::required_email(&body)?;
    // No password rule applies at login (only the body limit): a login never describes the
    // policy, and a Directus-imported hash of a longer password still verifies.
    let password = Sensitive::new(http::required_string(
        &body,
        "password",
        http::MAX_BODY_BYTES,
    )?);
    let otp = http::optional_string(&body, "otp")?.map(Sensitive::new);
    let mode = mode(body.get("mode"))?.unwrap_or(Mode::Json);
    Ok(Credentials {
        email,
        password,
        otp,
        mode,
    })
}

/// The `mode` of a REST body (Joi's message for anything else).
fn mode(value: Option<&Value>) -> Result<Option<Mode>, ApiError> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(name)) if Mode::from_name(name).is_some() => Ok(Mode::from_name(name)),
        Some(_) => Err(ApiError::payload(
            "\"mode\" must be one of [cookie, json, session]",
        )),
    }
}

/// Directus' REST mode resolution: `mode` if given; else `json` when the body has a refresh
/// token; else `cookie`.
fn presentation(body: &Map<String, Value>) -> Result<Presentation, ApiError> {
    let in_body = http::optional_string(body, "refresh_token")?.filter(|t| !t.is_empty());
    let mode = mode(body.get("mode"))?.unwrap_or(if in_body.is_some() {
        Mode::Json
    } else {
        Mode::Cookie
    });
    Ok(Presentation {
        mode,
        refresh_token: in_body,
    })
}

/// `POST /auth/refresh`.
pub async fn refresh(state: &AppState, request: &Request) -> Result<HttpResponse, ApiError> {
    let now = http::now();
    let presented = http::presented_token(request, &state.config.session_cookie.name)?;
    let client = client(state, request);
    // In session mode the cookie is both the caller's token and the one presented for rotation:
    // the flow judges it (a spent one ends the session there, where the generic check would
    // only refuse it). Any other token is checked first, as on every route.
    let cookie_is_caller = presented
        .as_ref()
        .is_some_and(|p| p.source == TokenSource::Cookie);
    if !cookie_is_caller {
        caller::verify(state, presented.as_ref(), &client.site, now).await?;
    }
    let body = http::json_object(request)?;
    if cookie_is_caller && mode(body.get("mode"))? != Some(Mode::Session) {
        caller::verify(state, presented.as_ref(), &client.site, now).await?;
    }
    let presentation = presentation(&body)?;
    let issued = session::refresh(state, presentation, &client, now).await?;
    Ok(issued_response(state, &issued))
}

/// `POST /auth/logout`: 204, with the cookies the flow clears.
pub async fn logout(state: &AppState, request: &Request) -> Result<HttpResponse, ApiError> {
    let presented = http::presented_token(request, &state.config.session_cookie.name)?;
    let client = client(state, request);
    caller::verify(state, presented.as_ref(), &client.site, http::now()).await?;
    let body = http::json_object(request)?;
    let presentation = presentation(&body)?;
    let cookies = session::logout(state, presentation, &client).await?;
    let mut response = http::no_content();
    http::apply_cookies(&mut response, &state.config, &cookies);
    Ok(response)
}

/// `GET /.well-known/jwks.json`: the JWK Set of the access-token keys, for services that verify
/// tokens without the secret. Cacheable for five minutes: a rotation publishes the new key as
/// `previous` first.
pub fn jwks(state: &AppState) -> HttpResponse {
    let mut response = http::json(StatusCode::OK, &state.tokens.jwks());
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    response
}

/// `POST /users/register` and `POST /register`: 204 for new and existing emails alike.
pub async fn register(
    state: &AppState,
    passwords: &Passwords,
    request: &Request,
) -> Result<HttpResponse, ApiError> {
    let now = http::now();
    public_route(
        state,
        request,
        now,
        register_route(state, passwords, request, now),
    )
    .await
}

async fn register_route(
    state: &AppState,
    passwords: &Passwords,
    request: &Request,
    now: Now,
) -> Result<HttpResponse, ApiError> {
    // The payload first: a malformed one is a 400 that touches nothing.
    let body = http::json_object(request)?;
    if let Some(unknown) = body.keys().find(|k| !ALLOWED_FIELDS.contains(&k.as_str())) {
        return Err(ApiError::payload(format!("\"{unknown}\" is not allowed")));
    }
    let email = http::required_email(&body)?;
    let password = Sensitive::new(http::required_string(
        &body,
        "password",
        MAX_PASSWORD_CHARS,
    )?);
    let first_name = name(&body, "first_name")?;
    let last_name = name(&body, "last_name")?;
    let verification_url = bounded(&body, "verification_url", MAX_URL_CHARS)?;
    let registration = Registration {
        email,
        password,
        verification_url,
        first_name,
        last_name,
    };
    registration::register(state, passwords, registration, &client(state, request), now).await?;
    Ok(http::no_content())
}

/// A name: bounded, and free of control characters.
fn name(body: &Map<String, Value>, field: &str) -> Result<Option<String>, ApiError> {
    let value = bounded(body, field, MAX_NAME_CHARS)?;
    if value
        .as_deref()
        .is_some_and(|v| v.chars().any(http::is_control))
    {
        return Err(ApiError::payload(format!(
            "\"{field}\" must not contain control characters"
        )));
    }
    Ok(value)
}

fn bounded(
    body: &Map<String, Value>,
    field: &str,
    max_chars: usize,
) -> Result<Option<String>, ApiError> {
    let value = http::optional_string(body, field)?;
    if value
        .as_ref()
        .is_some_and(|v| v.chars().count() > max_chars)
    {
        return Err(ApiError::payload(format!(
            "\"{field}\" length must be less than or equal to {max_chars} characters long"
        )));
    }
    Ok(value)
}

/// `GET /users/me`.
pub async fn read_me(state: &AppState, request: &Request) -> Result<HttpResponse, ApiError> {
    let now = http::now();
    let claims = http::caller(state, request, now)
        .await?
        .ok_or(ApiError::InvalidCredentials)?;
    let fields = items::requested_fields(request);
    let data = users::read_me(state, &claims, fields.as_deref(), now).await?;
    Ok(http::json(StatusCode::OK, &json!({ "data": data })))
}

/// `PATCH /users/me`.
pub async fn update_me(
    state: &AppState,
    passwords: &Passwords,
    request: &Request,
) -> Result<HttpResponse, ApiError> {
    let now = http::now();
    let claims = http::caller(state, request, now)
        .await?
        .ok_or(ApiError::InvalidCredentials)?;
    let body = http::json_object(request)?;
    let fields = items::requested_fields(request);
    let data = users::update_me(
        state,
        passwords,
        &claims,
        body,
        fields.as_deref(),
        &client(state, request),
        now,
    )
    .await?;
    Ok(http::json(StatusCode::OK, &json!({ "data": data })))
}

/// `POST /users`: 200 with the user for administrators, 204 for anyone else.
pub async fn create_user(
    state: &AppState,
    passwords: &Passwords,
    request: &Request,
) -> Result<HttpResponse, ApiError> {
    let now = http::now();
    let claims = http::caller(state, request, now).await?;
    let body = http::json_object(request)?;
    let created = users::create(
        state,
        passwords,
        claims.as_ref(),
        body,
        &client(state, request),
        now,
    )
    .await?;
    Ok(match created {
        Created::Visible(user) => http::json(StatusCode::OK, &json!({ "data": user })),
        Created::Hidden => http::no_content(),
    })
}

/// `POST /auth/password/request`. Directus' checks: `email` must be a string (`"email" field
/// is required`); other keys (the `subject` newer SDKs send) are ignored.
pub async fn password_request(
    state: &AppState,
    request: &Request,
) -> Result<HttpResponse, ApiError> {
    let now = http::now();
    public_route(
        state,
        request,
        now,
        password_request_route(state, request, now),
    )
    .await
}

async fn password_request_route(
    state: &AppState,
    request: &Request,
    now: Now,
) -> Result<HttpResponse, ApiError> {
    let body = http::json_object(request)?;
    let Some(Value::String(email)) = body.get("email") else {
        return Err(ApiError::payload("\"email\" field is required"));
    };
    let reset_url = http::optional_string(&body, "reset_url")?;
    let input = password_reset::PasswordRequest {
        email: email.clone(),
        reset_url,
    };
    password_reset::request_password_reset(state, input, &client(state, request), now).await?;
    Ok(http::no_content())
}

/// `POST /auth/password/reset`: `token` and `password` must be strings (Directus' messages).
pub async fn password_reset(
    state: &AppState,
    passwords: &Passwords,
    request: &Request,
) -> Result<HttpResponse, ApiError> {
    let now = http::now();
    public_route(
        state,
        request,
        now,
        password_reset_route(state, passwords, request, now),
    )
    .await
}

async fn password_reset_route(
    state: &AppState,
    passwords: &Passwords,
    request: &Request,
    now: Now,
) -> Result<HttpResponse, ApiError> {
    let body = http::json_object(request)?;
    let field = |name: &str| match body.get(name) {
        Some(Value::String(value)) => Ok(Sensitive::new(value.clone())),
        _ => Err(ApiError::payload(format!("\"{name}\" field is required"))),
    };
    let input = password_reset::PasswordReset {
        token: field("token")?,
        password: field("password")?,
    };
    password_reset::reset_password(state, passwords, input, &client(state, request), now).await?;
    Ok(http::no_content())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_parse_and_reject_unknown_values() {
        assert_eq!(mode(None).unwrap(), None);
        assert_eq!(mode(Some(&json!("json"))).unwrap(), Some(Mode::Json));
        assert_eq!(mode(Some(&json!("cookie"))).unwrap(), Some(Mode::Cookie));
        assert_eq!(mode(Some(&json!("session"))).unwrap(), Some(Mode::Session));
        let error = mode(Some(&json!("carrier-pigeon"))).unwrap_err();
        assert!(error.to_string().contains("[cookie, json, session]"));
        assert!(mode(Some(&json!(1))).is_err());
        assert!(mode(Some(&json!("JSON"))).is_err());
    }
}
