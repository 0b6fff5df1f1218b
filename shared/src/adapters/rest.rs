//! REST adapters over the transport-independent flows: parse the body, cookies and headers into
//! typed input (with Joi's 400s, which GraphQL does not give), call the flow, and render its
//! output as Directus' REST responses (Set-Cookie included).

pub mod directory;
pub mod items;
pub mod server;

use lambda_http::Request;
use lambda_http::http::{Method, StatusCode, header};
use serde_json::{Map, Value, json};

use crate::adapters::http::{self, HttpResponse, TokenSource};
use crate::credential::password::{MAX_PASSWORD_CHARS, Passwords};
use crate::domain::client::Client;
use crate::domain::error::ApiError;
use crate::domain::sensitive::Sensitive;
use crate::flows::auth::{self, Credentials, Issued, Mode, Presentation};
use crate::flows::registration::{self, ALLOWED_FIELDS, MAX_URL_CHARS, Registration};
use crate::flows::users::{self, Created, MAX_NAME_CHARS};
use crate::flows::{password_reset, verification};
use crate::platform::state::AppState;

fn client(state: &AppState, request: &Request) -> Client {
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

/// A public route ([`auth::Route::Public`]): the caller is resolved first, as on every route (a
/// bad bearer or query token fails the request), then `handler` runs; a failing session cookie
/// counts as no token, and the answer, whatever it is, clears it.
async fn public_route(
    state: &AppState,
    request: &Request,
    handler: impl std::future::Future<Output = Result<HttpResponse, ApiError>>,
) -> Result<HttpResponse, ApiError> {
    let caller = auth::caller_on(state, request, auth::Route::Public).await?;
    http::with_cookies(handler.await, &state.config, &caller.cookies())
}

/// `POST /auth/login`.
pub async fn login(
    state: &AppState,
    passwords: &Passwords,
    request: &Request,
) -> Result<HttpResponse, ApiError> {
    public_route(state, request, login_route(state, passwords, request)).await
}

async fn login_route(
    state: &AppState,
    passwords: &Passwords,
    request: &Request,
) -> Result<HttpResponse, ApiError> {
    // The payload first: a malformed one is a 400 that touches nothing.
    let body = http::json_object(request)?;
    let email = http::required_email(&body)?;
    // No password rule applies at login (only the body limit): a login never describes the
    // policy, and a Directus-imported hash of a longer password still verifies.
    let password = Sensitive::new(http::required_string(
        &body,
        "password",
        http::MAX_BODY_BYTES,
    )?);
    let otp = http::optional_string(&body, "otp")?;
    let mode = Mode::parse(body.get("mode"))?.unwrap_or(Mode::Json);
    let credentials = Credentials {
        email,
        password,
        otp,
        mode,
    };
    let issued = auth::login(state, passwords, credentials, &client(state, request)).await?;
    Ok(issued_response(state, &issued))
}

/// Directus' REST mode resolution: `mode` if given; else `json` when the body has a refresh
/// token; else `cookie`.
fn presentation(body: &Map<String, Value>) -> Result<Presentation, ApiError> {
    let in_body = http::optional_string(body, "refresh_token")?.filter(|t| !t.is_empty());
    let mode = Mode::parse(body.get("mode"))?.unwrap_or(if in_body.is_some() {
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
    // In session mode the cookie is both the caller's token and the one presented for rotation:
    // the flow judges it (a spent one ends the session there, where the generic check would
    // only refuse it). Any other token is checked first, as on every route.
    let cookie_is_caller = matches!(
        http::access_token(request, &state.config.session_cookie.name),
        Ok(Some((_, TokenSource::Cookie)))
    );
    if !cookie_is_caller {
        auth::caller(state, request).await?;
    }
    let body = http::json_object(request)?;
    if cookie_is_caller && Mode::parse(body.get("mode"))? != Some(Mode::Session) {
        auth::caller(state, request).await?;
    }
    let presentation = presentation(&body)?;
    let issued = auth::refresh(state, presentation, &client(state, request)).await?;
    Ok(issued_response(state, &issued))
}

/// `POST /auth/logout`: 204, with the cookies the flow clears.
pub async fn logout(state: &AppState, request: &Request) -> Result<HttpResponse, ApiError> {
    auth::caller(state, request).await?;
    let body = http::json_object(request)?;
    let presentation = presentation(&body)?;
    let cookies = auth::logout(state, presentation, &client(state, request)).await?;
    let mut response = http::no_content();
    http::apply_cookies(&mut response, &state.config, &cookies);
    Ok(response)
}

/// `POST /users/register` and `POST /register`: 204 for new and existing emails alike.
pub async fn register(
    state: &AppState,
    passwords: &Passwords,
    request: &Request,
) -> Result<HttpResponse, ApiError> {
    public_route(state, request, register_route(state, passwords, request)).await
}

async fn register_route(
    state: &AppState,
    passwords: &Passwords,
    request: &Request,
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
    registration::register(state, passwords, registration, &client(state, request)).await?;
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
    let claims = auth::caller(state, request)
        .await?
        .ok_or(ApiError::InvalidCredentials)?;
    let fields = items::requested_fields(request);
    let data = users::read_me(state, &claims, fields.as_deref()).await?;
    Ok(http::json(StatusCode::OK, &json!({ "data": data })))
}

/// `PATCH /users/me`.
pub async fn update_me(
    state: &AppState,
    passwords: &Passwords,
    request: &Request,
) -> Result<HttpResponse, ApiError> {
    let claims = auth::caller(state, request)
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
    let claims = auth::caller(state, request).await?;
    let body = http::json_object(request)?;
    let created = users::create(
        state,
        passwords,
        claims.as_ref(),
        body,
        &client(state, request),
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
    public_route(state, request, password_request_route(state, request)).await
}

async fn password_request_route(
    state: &AppState,
    request: &Request,
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
    password_reset::request_password_reset(state, input, &client(state, request)).await?;
    Ok(http::no_content())
}

/// `POST /auth/password/reset`: `token` and `password` must be strings (Directus' messages).
pub async fn password_reset(
    state: &AppState,
    passwords: &Passwords,
    request: &Request,
) -> Result<HttpResponse, ApiError> {
    public_route(
        state,
        request,
        password_reset_route(state, passwords, request),
    )
    .await
}

async fn password_reset_route(
    state: &AppState,
    passwords: &Passwords,
    request: &Request,
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
    password_reset::reset_password(state, passwords, input, &client(state, request)).await?;
    Ok(http::no_content())
}

/// `/users/register/verify-email`. The token comes in the query of a `GET` (the mailed link,
/// `@directus/sdk`'s `registerUserVerify`) or in the body of a `POST` (a form's `token` field or
/// a JSON `{"token"}`).
///
/// A browser navigating to the link (see [`http::is_navigation`]) — a person opening the mail,
/// or a mail scanner imitating one — gets a confirmation page whose button posts the token, and
/// nothing is verified until it is pressed. Any other `GET` verifies at once, as Directus does,
/// so API clients keep working. Verified: a small page saying so for a `GET` or a browser's
/// `POST` (there is no admin app to redirect to, as Directus does), `204` for a script's
/// `POST`. Errors are the API's; a browser gets them as a page with the same status. Every page
/// carries the hosted pages' security headers.
pub async fn verify_email(state: &AppState, request: &Request) -> HttpResponse {
    use crate::adapters::pages::verification::Refused;
    let navigation = http::is_navigation(request);
    // A public route: a failing session cookie counts as no token and the answer clears it; a
    // token that still fails (a bad bearer, a cross-site cookie) is about the session, not the
    // link, and the page says so.
    let (result, refused, cookies) =
        match auth::caller_on(state, request, auth::Route::Public).await {
            // Only a token's own failure is about the session; a store outage or a cross-site
            // refusal is not, and the page must not send the user to sign in again for it.
            Err(error) => {
                let about_session = matches!(
                    error,
                    ApiError::InvalidCredentials | ApiError::InvalidToken | ApiError::TokenExpired
                );
                let refused = if about_session {
                    Refused::Session
                } else {
                    Refused::Link
                };
                (Err(error), refused, Vec::new())
            }
            Ok(caller) => (
                verify_email_answer(state, request, navigation).await,
                Refused::Link,
                caller.cookies(),
            ),
        };
    let failure = result.as_ref().err().map(|e| (e.status(), e.code()));
    let response = http::respond(http::with_cookies(result, &state.config, &cookies));
    match failure {
        Some((status, code)) if navigation => {
            // The same status and headers (Retry-After, Allow, a cleared cookie) as a page.
            let mut page = crate::adapters::pages::verification::refused(status, code, refused);
            for name in [header::SET_COOKIE, header::RETRY_AFTER, header::ALLOW] {
                for value in response.headers().get_all(&name) {
                    page.headers_mut().append(name.clone(), value.clone());
                }
            }
            page
        }
        _ => response,
    }
}

async fn verify_email_answer(
    state: &AppState,
    request: &Request,
    navigation: bool,
) -> Result<HttpResponse, ApiError> {
    let method = request.method();
    if method == Method::GET {
        let token = verification_token_of_query(request)?;
        if navigation {
            // Only a token of ours is written into the page; nothing is read or written.
            let claims = verification::check_link(state, &token)?;
            return Ok(crate::adapters::pages::verification::confirmation(
                &token,
                &claims.email,
            ));
        }
        verification::verify_registration(state, &token).await?;
        return Ok(crate::adapters::pages::verification::verified());
    }
    if method != Method::POST {
        return Err(ApiError::MethodNotAllowed {
            allowed: &["GET", "POST"],
            current: method.as_str().chars().take(32).collect(),
        });
    }
    let token = verification_token_of_body(request)?;
    verification::verify_registration(state, &token).await?;
    Ok(if navigation {
        crate::adapters::pages::verification::verified()
    } else {
        http::no_content()
    })
}

/// The one non-empty token: none (or an empty one) is Directus' verifyJWT of nothing, two are
/// refused with `several`.
fn one_token(tokens: Vec<String>, several: impl FnOnce() -> ApiError) -> Result<String, ApiError> {
    let mut tokens = tokens.into_iter();
    match (tokens.next(), tokens.next()) {
        (None, _) => Err(ApiError::InvalidToken),
        (Some(_), Some(_)) => Err(several()),
        (Some(one), None) if one.is_empty() => Err(ApiError::InvalidToken),
        (Some(one), None) => Ok(one),
    }
}

fn verification_token_of_query(request: &Request) -> Result<String, ApiError> {
    use lambda_http::RequestExt;
    let tokens: Vec<String> = request
        .query_string_parameters_ref()
        .and_then(|q| q.all("token"))
        .map(|all| all.into_iter().map(str::to_owned).collect())
        .unwrap_or_default();
    one_token(tokens, || ApiError::query("\"token\" must be given once"))
}

fn verification_token_of_body(request: &Request) -> Result<String, ApiError> {
    let tokens = if http::is_form_content(request) {
        http::form_values(request, "token")?
    } else {
        http::optional_string(&http::json_object(request)?, "token")?
            .into_iter()
            .collect()
    };
    one_token(tokens, || ApiError::payload("\"token\" must be given once"))
}
