//! `/users/register/verify-email` (the verify function): the link a registration mails. A
//! browser gets the verification pages (`super::verification`), an API client Directus'
//! answers; both through the same verification flow.

use lambda_http::Request;
use lambda_http::http::{Method, header};

use crate::adapters::http::{self, HttpResponse};
use crate::domain::error::ApiError;
use crate::flows::caller::Route;
use crate::flows::time::Now;
use crate::flows::verification;
use crate::platform::state::AppState;

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
    use super::verification::Refused;
    let navigation = http::is_navigation(request);
    let now = http::now();
    // A public route: a failing session cookie counts as no token and the answer clears it; a
    // token that still fails (a bad bearer, a cross-site cookie) is about the session, not the
    // link, and the page says so.
    let (result, refused, cookies) = match http::caller_on(state, request, Route::Public, now).await
    {
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
            verify_email_answer(state, request, navigation, now).await,
            Refused::Link,
            caller.cookies(),
        ),
    };
    let failure = result
        .as_ref()
        .err()
        .map(|e| (http::status_of(e), e.code()));
    let response = http::respond(http::with_cookies(result, &state.config, &cookies));
    match failure {
        Some((status, code)) if navigation => {
            // The same status and headers (Retry-After, Allow, a cleared cookie) as a page.
            let mut page = super::verification::refused(status, code, refused);
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
    now: Now,
) -> Result<HttpResponse, ApiError> {
    let method = request.method();
    if method == Method::GET {
        let token = verification_token_of_query(request)?;
        if navigation {
            // Only a token of ours is written into the page; nothing is read or written.
            let claims = verification::check_link(state, &token, now)?;
            return Ok(super::verification::confirmation(&token, &claims.email));
        }
        verification::verify_registration(state, &token, now).await?;
        return Ok(super::verification::verified());
    }
    if method != Method::POST {
        return Err(ApiError::MethodNotAllowed {
            allowed: &["GET", "POST"],
            current: method.as_str().chars().take(32).collect(),
        });
    }
    let token = verification_token_of_body(request)?;
    verification::verify_registration(state, &token, now).await?;
    Ok(if navigation {
        super::verification::verified()
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
