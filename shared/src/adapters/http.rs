//! Request parsing and response rendering shared by every function: body limits, JSON payloads,
//! bearer tokens, cookies, client address, and the one place an `ApiError` becomes a response.

use lambda_http::http::{HeaderValue, StatusCode, header};
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};
use serde_json::{Map, Value, json};

use crate::credential::token::AccessClaims;
use crate::domain::client::{AuthCookie, Client, CookieChange, Presented, Site};
use crate::domain::error::ApiError;
use crate::flows::caller::{self, Caller, Route};
use crate::flows::time::Now;
use crate::platform::state::AppState;

pub use crate::domain::text::MAX_BODY_BYTES;
/// Longest user agent kept on a session (Directus truncates to 1024 too).
const MAX_USER_AGENT: usize = 1024;

pub type HttpResponse = Response<Body>;

/// Renders the outcome of a flow. Errors become the Directus envelope; server-side failures are
/// logged with their cause, which never reaches the client.
pub fn respond(result: Result<HttpResponse, ApiError>) -> HttpResponse {
    match result {
        Ok(response) => response,
        Err(error) => {
            if status_of(&error).is_server_error() {
                let cause = std::error::Error::source(&error).map(ToString::to_string);
                tracing::error!(code = error.code(), cause, "request failed");
            } else {
                tracing::info!(
                    code = error.code(),
                    status = status_of(&error).as_u16(),
                    "request refused"
                );
            }
            let mut response = json(status_of(&error), &error_body(&error));
            let retry_after = match &error {
                ApiError::RequestsExceeded { retry_after, .. } => Some(*retry_after),
                ApiError::ServiceUnavailable { .. } => Some(SERVICE_UNAVAILABLE_RETRY_AFTER),
                _ => None,
            };
            if let Some(seconds) = retry_after
                && let Ok(value) = HeaderValue::from_str(&seconds.to_string())
            {
                response.headers_mut().insert(header::RETRY_AFTER, value);
            }
            if let ApiError::MethodNotAllowed { allowed, .. } = &error
                && let Ok(value) = HeaderValue::from_str(&allowed.join(", "))
            {
                response.headers_mut().insert(header::ALLOW, value);
            }
            response
        }
    }
}

/// The HTTP status of an error: chosen here, at the transport, and nowhere else.
pub fn status_of(error: &ApiError) -> StatusCode {
    match error {
        ApiError::InvalidCredentials
        | ApiError::InvalidOtp
        | ApiError::TokenExpired
        | ApiError::UserSuspended => StatusCode::UNAUTHORIZED,
        ApiError::InvalidToken | ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
        ApiError::InvalidPayload(_)
        | ApiError::InvalidQuery(_)
        | ApiError::FailedValidation { .. }
        | ApiError::RecordNotUnique { .. }
        | ApiError::InvalidForeignKey { .. } => StatusCode::BAD_REQUEST,
        ApiError::ContentTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        ApiError::RequestsExceeded { .. } => StatusCode::TOO_MANY_REQUESTS,
        ApiError::RouteNotFound(_) => StatusCode::NOT_FOUND,
        ApiError::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
        ApiError::ServiceUnavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
        ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// The Directus envelope: `{"errors":[{"message","extensions":{...,"code"}}]}`, `code` last.
pub fn error_body(error: &ApiError) -> Value {
    let mut extensions = Map::new();
    match error {
        ApiError::Forbidden(Some(reason))
        | ApiError::InvalidPayload(reason)
        | ApiError::InvalidQuery(reason) => {
            extensions.insert("reason".into(), json!(reason));
        }
        ApiError::RouteNotFound(path) => {
            extensions.insert("path".into(), json!(path));
        }
        ApiError::MethodNotAllowed { allowed, current } => {
            extensions.insert("allowed".into(), json!(allowed));
            extensions.insert("current".into(), json!(current));
        }
        ApiError::RequestsExceeded { limit, reset, .. } => {
            extensions.insert("limit".into(), json!(limit));
            extensions.insert("reset".into(), json!(reset));
        }
        ApiError::FailedValidation { field, kind, .. } => {
            extensions.insert("field".into(), json!(field));
            extensions.insert("path".into(), json!([]));
            extensions.insert("type".into(), json!(kind));
        }
        ApiError::RecordNotUnique {
            collection,
            field,
            value,
        }
        | ApiError::InvalidForeignKey {
            collection,
            field,
            value,
        } => {
            extensions.insert("collection".into(), json!(collection));
            extensions.insert("field".into(), json!(field));
            extensions.insert("value".into(), json!(value));
        }
        ApiError::ServiceUnavailable {
            service, reason, ..
        } => {
            extensions.insert("service".into(), json!(service));
            extensions.insert("reason".into(), json!(reason));
        }
        _ => {}
    }
    extensions.insert("code".into(), json!(error.code()));
    json!({ "errors": [{ "message": error.to_string(), "extensions": extensions }] })
}

/// `Retry-After` (seconds) of a 503: DynamoDB throttling and brief outages pass in seconds, and
/// a client that waits this long spreads its retry past the SDK's own (docs/reliability.md).
pub const SERVICE_UNAVAILABLE_RETRY_AFTER: u64 = 2;

/// The most a request may take before it answers 503 by itself: under the functions' timeout
/// (template.yaml's `Timeout: 10`), so a slow DynamoDB never turns into a Lambda timeout (an
/// invocation error, 500 at API Gateway), and far under API Gateway's 29 s. A single DynamoDB
/// operation is bounded by `store::OPERATION_TIMEOUT`; this bounds their sum.
pub const REQUEST_BUDGET: std::time::Duration = std::time::Duration::from_secs(8);

/// Runs a handler within [`REQUEST_BUDGET`]; past it, the handler is dropped (as a Lambda
/// timeout would stop it: every write is one atomic DynamoDB call, so none is half done) and
/// the answer is `503 SERVICE_UNAVAILABLE`. Each function's `main` wraps its handler in it.
pub async fn within_budget<F>(handler: F) -> Result<HttpResponse, lambda_http::Error>
where
    F: std::future::Future<Output = Result<HttpResponse, lambda_http::Error>>,
{
    within(REQUEST_BUDGET, handler).await
}

async fn within<F>(
    budget: std::time::Duration,
    handler: F,
) -> Result<HttpResponse, lambda_http::Error>
where
    F: std::future::Future<Output = Result<HttpResponse, lambda_http::Error>>,
{
    match tokio::time::timeout(budget, handler).await {
        Ok(outcome) => outcome,
        Err(_) => Ok(respond(Err(ApiError::ServiceUnavailable {
            service: "database",
            reason: "Request timed out",
            cause: None,
        }))),
    }
}

/// Directus' answer for a method and path no route serves: `404 ROUTE_NOT_FOUND`.
pub fn route_not_found(request: &Request) -> HttpResponse {
    respond(Err(ApiError::RouteNotFound(
        request.uri().path().to_owned(),
    )))
}

pub fn json(status: StatusCode, body: &Value) -> HttpResponse {
    let mut response = Response::new(Body::Text(body.to_string()));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

/// 204 with an empty body and no Content-Type: the SDK parses JSON only when it is announced.
pub fn no_content() -> HttpResponse {
    let mut response = Response::new(Body::Empty);
    *response.status_mut() = StatusCode::NO_CONTENT;
    response
}

fn body_bytes(request: &Request) -> &[u8] {
    match request.body() {
        Body::Empty => &[],
        Body::Text(text) => text.as_bytes(),
        Body::Binary(bytes) => bytes,
        _ => &[],
    }
}

/// True when the request announces a JSON body: `application/json` or `application/*+json`,
/// with any parameters. Anything else (`text/plain`, forms, XML, none) is not JSON, however the
/// bytes look: an HTML form on any site can send those cross-site without a CORS preflight.
pub fn is_json_content(request: &Request) -> bool {
    request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<mime::Mime>().ok())
        .is_some_and(|media| {
            media.type_() == mime::APPLICATION
                && (media.subtype() == mime::JSON || media.suffix() == Some(mime::JSON))
        })
}

/// The body as a JSON object. An empty body is `{}` (Directus then reports the missing fields),
/// and so is a body that is not announced as JSON (Directus' body parser ignores it too): the one
/// rule for every route that reads a body.
pub fn json_object(request: &Request) -> Result<Map<String, Value>, ApiError> {
    let bytes = body_bytes(request);
    if bytes.len() > MAX_BODY_BYTES {
        return Err(ApiError::ContentTooLarge);
    }
    if !is_json_content(request) || bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(ApiError::payload("\"value\" must be of type object")),
        Err(error) => Err(ApiError::payload(format!("Invalid JSON: {error}"))),
    }
}

/// Reads an optional string field; anything but a string (or absence) is a 400 naming the field.
pub fn optional_string(body: &Map<String, Value>, field: &str) -> Result<Option<String>, ApiError> {
    match body.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(ApiError::payload(format!("\"{field}\" must be a string"))),
    }
}

/// A required, non-empty string no longer than `max_chars`, with Joi's messages.
pub fn required_string(
    body: &Map<String, Value>,
    field: &str,
    max_chars: usize,
) -> Result<String, ApiError> {
    let value = optional_string(body, field)?
        .ok_or_else(|| ApiError::payload(format!("\"{field}\" is required")))?;
    if value.is_empty() {
        return Err(ApiError::payload(format!(
            "\"{field}\" is not allowed to be empty"
        )));
    }
    if value.chars().count() > max_chars {
        return Err(ApiError::payload(format!(
            "\"{field}\" length must be less than or equal to {max_chars} characters long"
        )));
    }
    Ok(value)
}

pub use crate::domain::text::{MAX_EMAIL_CHARS, is_control, valid_email};

/// Surrounding spaces are forgiven (trimmed); a control character anywhere is not.
pub fn required_email(body: &Map<String, Value>) -> Result<String, ApiError> {
    let email = required_string(body, "email", MAX_EMAIL_CHARS)?;
    if valid_email(email.trim_matches(' ')) {
        Ok(email.trim_matches(' ').to_owned())
    } else {
        Err(ApiError::payload("\"email\" must be a valid email"))
    }
}

/// The value of cookie `name`, if the request carries it.
pub fn cookie(request: &Request, name: &str) -> Option<String> {
    request
        .headers()
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.to_owned())
}

/// The client address as API Gateway saw it, never from `X-Forwarded-For` (client-controlled).
/// The template's HTTP API sends version 2 events only (lambda_http is built for no other).
pub fn client_ip(request: &Request) -> Option<String> {
    match request.request_context_ref()? {
        RequestContext::ApiGatewayV2(context) => context.http.source_ip.clone(),
        _ => None,
    }
}

pub fn user_agent(request: &Request) -> Option<String> {
    let agent = request.headers().get(header::USER_AGENT)?.to_str().ok()?;
    Some(agent.chars().take(MAX_USER_AGENT).collect())
}

pub use crate::domain::client::TokenSource;

/// The caller's token with Directus' precedence (`extract-token.ts`): `?access_token=` (a
/// non-empty value), then `Authorization: Bearer <token>` (exactly two parts; both at once is a
/// 400), and only when neither is present the session cookie (an empty value is no token). Any
/// other Authorization header is ignored. The one place every route reads a token.
pub fn access_token(
    request: &Request,
    session_cookie: &str,
) -> Result<Option<(String, TokenSource)>, ApiError> {
    let from_query = request
        .query_string_parameters_ref()
        .and_then(|q| q.first("access_token"))
        .filter(|t| !t.is_empty())
        .map(str::to_owned);
    let from_header = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let parts: Vec<&str> = v.split(' ').collect();
            match parts.as_slice() {
                [scheme, token] if scheme.eq_ignore_ascii_case("bearer") => {
                    Some((*token).to_owned())
                }
                _ => None,
            }
        });
    match (from_query, from_header) {
        (Some(_), Some(_)) => Err(ApiError::payload(
            "The request uses more than one method for including an access token",
        )),
        (Some(query), None) => Ok(Some((query, TokenSource::Query))),
        (None, Some(header)) => Ok(Some((header, TokenSource::Header))),
        (None, None) => Ok(cookie(request, session_cookie)
            .filter(|t| !t.is_empty())
            .map(|t| (t, TokenSource::Cookie))),
    }
}

/// The token [`access_token`] finds, as the caller flow takes it.
pub fn presented_token(
    request: &Request,
    session_cookie: &str,
) -> Result<Option<Presented>, ApiError> {
    Ok(access_token(request, session_cookie)?.map(|(token, source)| Presented { token, source }))
}

/// The instant a request is handled: the one clock read of a request, passed to the flows.
pub fn now() -> Now {
    Now::from_system(std::time::SystemTime::now())
}

/// The caller of a route that acts for its caller ([`crate::flows::caller::verify`]): the token
/// read from the request, checked at `now` (the request's [`now`]).
pub async fn caller(
    state: &AppState,
    request: &Request,
    now: Now,
) -> Result<Option<AccessClaims>, ApiError> {
    Ok(caller_on(state, request, Route::Authenticated, now)
        .await?
        .claims)
}

/// [`caller`] for a route of either kind ([`Route`]).
pub async fn caller_on(
    state: &AppState,
    request: &Request,
    route: Route,
    now: Now,
) -> Result<Caller, ApiError> {
    let presented = presented_token(request, &state.config.session_cookie.name)?;
    caller::verify_on(state, presented.as_ref(), &site(request), route, now).await
}

/// True for methods that change state (everything but GET, HEAD, OPTIONS).
pub fn is_state_changing(request: &Request) -> bool {
    !matches!(
        *request.method(),
        lambda_http::http::Method::GET
            | lambda_http::http::Method::HEAD
            | lambda_http::http::Method::OPTIONS
    )
}

/// What the CSRF check reads of a request.
pub fn site(request: &Request) -> Site {
    let header = |name| {
        request
            .headers()
            .get(name)
            .map(|v: &HeaderValue| v.to_str().unwrap_or("null").to_owned())
    };
    Site {
        state_changing: is_state_changing(request),
        origin: header(header::ORIGIN.as_str()),
        fetch_site: header("sec-fetch-site"),
    }
}

/// True when a browser navigates to the request's URL (a link opened, a form posted) rather
/// than a script or an API client fetching it: `Sec-Fetch-Mode: navigate` or
/// `Sec-Fetch-Dest: document` (Fetch Metadata, set by the browser alone), or an `Accept` that
/// names `text/html`, which browsers send on navigation and link scanners imitate. Fetch (the
/// SDKs, a page's script) sends neither unless asked to.
pub fn is_navigation(request: &Request) -> bool {
    let headers = request.headers();
    let is = |name: &str, value: &str| {
        headers.get_all(name).iter().any(|v| {
            v.to_str()
                .is_ok_and(|v| v.trim().eq_ignore_ascii_case(value))
        })
    };
    if is("sec-fetch-mode", "navigate") || is("sec-fetch-dest", "document") {
        return true;
    }
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .filter_map(|range| range.split(';').next())
        .any(|media| {
            media
                .trim()
                .eq_ignore_ascii_case(mime::TEXT_HTML.essence_str())
        })
}

/// True when the request announces an HTML form's body (`application/x-www-form-urlencoded`).
pub fn is_form_content(request: &Request) -> bool {
    request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<mime::Mime>().ok())
        .is_some_and(|media| {
            media.essence_str() == mime::APPLICATION_WWW_FORM_URLENCODED.essence_str()
        })
}

/// The values of `field` in a form body (any other body: none), bounded as a JSON body is.
pub fn form_values(request: &Request, field: &str) -> Result<Vec<String>, ApiError> {
    let bytes = body_bytes(request);
    if bytes.len() > MAX_BODY_BYTES {
        return Err(ApiError::ContentTooLarge);
    }
    if !is_form_content(request) {
        return Ok(Vec::new());
    }
    Ok(url::form_urlencoded::parse(bytes)
        .filter(|(name, _)| name == field)
        .map(|(_, value)| value.into_owned())
        .collect())
}

/// CSRF defence for requests a cookie authenticates ([`Site::check`]).
pub fn check_origin(request: &Request, allowed: &[String]) -> Result<(), ApiError> {
    site(request).check(allowed)
}

/// The typed facts the flows read of a REST request (the access token is read apart, with
/// [`access_token`]: its error, two token sources at once, comes first).
pub fn client(request: &Request, config: &crate::platform::config::Config) -> Client {
    Client {
        ip: client_ip(request),
        user_agent: user_agent(request),
        refresh_cookie: cookie(request, &config.refresh_cookie.name).filter(|t| !t.is_empty()),
        session_cookie: cookie(request, &config.session_cookie.name).filter(|t| !t.is_empty()),
        site: site(request),
    }
}

/// Adds the cookies a flow set or cleared to a response.
pub fn apply_cookies(
    response: &mut HttpResponse,
    config: &crate::platform::config::Config,
    cookies: &[CookieChange],
) {
    for change in cookies {
        append_cookie(response, &cookie_header(change, config));
    }
}

/// `result` carrying `cookies`, whatever it is: an error is rendered here, as [`respond`] renders
/// it, so the cookies go with it too. A cookie the answer sets already (the new session cookie
/// of a session-mode login) is left as the answer sets it: one `Set-Cookie` per name. Without
/// cookies, `result` as it is.
pub fn with_cookies(
    result: Result<HttpResponse, ApiError>,
    config: &crate::platform::config::Config,
    cookies: &[CookieChange],
) -> Result<HttpResponse, ApiError> {
    if cookies.is_empty() {
        return result;
    }
    let mut response = respond(result);
    let already_set = |name: &str| {
        response
            .headers()
            .get_all(header::SET_COOKIE)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .any(|value| value.split_once('=').is_some_and(|(key, _)| key == name))
    };
    let missing: Vec<CookieChange> = cookies
        .iter()
        .filter(|change| !already_set(cookie_name(change, config)))
        .cloned()
        .collect();
    apply_cookies(&mut response, config, &missing);
    Ok(response)
}

/// The `Set-Cookie` header value of a flow's cookie change, with the configured name and
/// attributes.
pub fn cookie_header(change: &CookieChange, config: &crate::platform::config::Config) -> String {
    set_cookie(
        cookie_options(change, config),
        change.value.as_ref().map_or("", |v| v.expose()),
        change.max_age,
    )
}

/// The configured name of a flow's cookie.
pub fn cookie_name<'a>(
    change: &CookieChange,
    config: &'a crate::platform::config::Config,
) -> &'a str {
    &cookie_options(change, config).name
}

fn cookie_options<'a>(
    change: &CookieChange,
    config: &'a crate::platform::config::Config,
) -> &'a crate::platform::config::CookieConfig {
    match change.cookie {
        AuthCookie::Refresh => &config.refresh_cookie,
        AuthCookie::Session => &config.session_cookie,
    }
}

/// A `Set-Cookie` value for `options`; an empty `value` with `max_age` 0 deletes the cookie.
pub fn set_cookie(
    options: &crate::platform::config::CookieConfig,
    value: &str,
    max_age: u64,
) -> String {
    let mut cookie = format!(
        "{}={value}; Max-Age={max_age}; Path=/; HttpOnly; SameSite={}",
        options.name, options.same_site
    );
    if let Some(domain) = &options.domain {
        cookie.push_str(&format!("; Domain={domain}"));
    }
    if options.secure {
        cookie.push_str("; Secure");
    }
    cookie
}

pub fn append_cookie(response: &mut HttpResponse, cookie: &str) {
    if let Ok(value) = HeaderValue::from_str(cookie) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
}

/// [`respond`] for routes that authenticate: when the token that failed was the session
/// cookie (invalid, forged, or its session over), the answer also clears that cookie, as
/// Directus does on `INVALID_CREDENTIALS` and `INVALID_TOKEN` (not on `TOKEN_EXPIRED`).
pub fn respond_authenticated(
    request: &Request,
    config: &crate::platform::config::Config,
    result: Result<HttpResponse, ApiError>,
) -> HttpResponse {
    let clear = matches!(
        result,
        Err(ApiError::InvalidCredentials | ApiError::InvalidToken)
    ) && matches!(
        access_token(request, &config.session_cookie.name),
        Ok(Some((_, TokenSource::Cookie)))
    );
    let mut response = respond(result);
    if clear {
        append_cookie(&mut response, &set_cookie(&config.session_cookie, "", 0));
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_429_carries_directus_extensions() {
        let error = ApiError::RequestsExceeded {
            limit: 5,
            retry_after: 42,
            reset: "2026-01-01T00:01:00.000Z".into(),
        };
        assert_eq!(status_of(&error).as_u16(), 429);
        assert_eq!(error.to_string(), "Too many requests, retry after 42s.");
        let body = error_body(&error);
        assert_eq!(body["errors"][0]["extensions"]["limit"], 5);
        assert_eq!(body["errors"][0]["extensions"]["code"], "REQUESTS_EXCEEDED");
    }

    #[test]
    fn cookie_changes_render_with_the_configured_attributes() {
        let config = crate::platform::state::unreachable_state().config;
        let set = cookie_header(&CookieChange::set(AuthCookie::Refresh, "abc", 60), &config);
        assert!(
            set.starts_with("directus_refresh_token=abc; Max-Age=60; Path=/; HttpOnly"),
            "{set}"
        );
        let clear = cookie_header(&CookieChange::clear(AuthCookie::Session), &config);
        assert!(
            clear.starts_with("directus_session_token=; Max-Age=0;"),
            "{clear}"
        );
        assert!(
            !format!("{:?}", CookieChange::set(AuthCookie::Session, "secret", 1))
                .contains("secret")
        );
    }

    #[test]
    fn invalid_token_is_403_and_expired_token_is_401() {
        assert_eq!(status_of(&ApiError::InvalidToken), StatusCode::FORBIDDEN);
        assert_eq!(status_of(&ApiError::TokenExpired), StatusCode::UNAUTHORIZED);
        assert_eq!(
            status_of(&ApiError::InvalidCredentials),
            StatusCode::UNAUTHORIZED
        );
    }

    #[test]
    fn envelope_puts_reason_before_code() {
        let body = error_body(&ApiError::payload("\"email\" is required"));
        assert_eq!(
            body.to_string(),
            r#"{"errors":[{"message":"Invalid payload. \"email\" is required.","extensions":{"reason":"\"email\" is required","code":"INVALID_PAYLOAD"}}]}"#
        );
    }

    #[test]
    fn method_not_allowed_lists_the_allowed_methods() {
        let error = ApiError::MethodNotAllowed {
            allowed: &["GET", "POST"],
            current: "PUT".into(),
        };
        assert_eq!(status_of(&error), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(
            error_body(&error).to_string(),
            r#"{"errors":[{"message":"Invalid method \"PUT\" used. Should be one of \"GET\", \"POST\".","extensions":{"allowed":["GET","POST"],"current":"PUT","code":"METHOD_NOT_ALLOWED"}}]}"#
        );
    }

    #[test]
    fn errors_without_extensions_carry_only_the_code() {
        let body = error_body(&ApiError::InvalidCredentials);
        assert_eq!(
            body,
            json!({"errors":[{"message":"Invalid user credentials.","extensions":{"code":"INVALID_CREDENTIALS"}}]})
        );
    }

    #[test]
    fn an_outage_is_503_without_its_cause_in_the_body() {
        let error = ApiError::ServiceUnavailable {
            service: "database",
            reason: "Database unreachable",
            cause: Some("connection refused at 10.0.0.1".into()),
        };
        assert_eq!(status_of(&error), StatusCode::SERVICE_UNAVAILABLE);
        assert!(!error_body(&error).to_string().contains("10.0.0.1"));
    }

    fn with_headers(headers: &[(&str, &str)]) -> Request {
        let mut builder = lambda_http::http::Request::builder().uri("/users/register/verify-email");
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        builder.body(Body::Empty).unwrap()
    }

    #[test]
    fn navigations_are_told_from_fetches() {
        for navigation in [
            // Chromium opening a link.
            vec![
                (
                    "accept",
                    "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
                ),
                ("sec-fetch-mode", "navigate"),
                ("sec-fetch-dest", "document"),
            ],
            // A scanner imitating a browser without Fetch Metadata.
            vec![("accept", "application/xml, TEXT/HTML ;q=0.9")],
            vec![("sec-fetch-mode", "Navigate")],
            vec![("sec-fetch-dest", "document"), ("accept", "*/*")],
        ] {
            assert!(is_navigation(&with_headers(&navigation)), "{navigation:?}");
        }
        for fetch in [
            // Node's fetch (@directus/sdk), a browser's fetch, curl, nothing at all.
            vec![("accept", "*/*"), ("sec-fetch-mode", "cors")],
            vec![
                ("accept", "application/json"),
                ("sec-fetch-mode", "same-origin"),
                ("sec-fetch-dest", "empty"),
            ],
            vec![("accept", "*/*")],
            vec![("accept", "text/plain, application/xhtml+xml")],
            vec![("accept", "text/htmlx")],
            vec![],
        ] {
            assert!(!is_navigation(&with_headers(&fetch)), "{fetch:?}");
        }
    }

    #[test]
    fn form_values_come_from_form_bodies_only() {
        let form = |content_type: &str, body: &str| {
            lambda_http::http::Request::builder()
                .method("POST")
                .header("content-type", content_type)
                .body(Body::Text(body.to_owned()))
                .unwrap()
        };
        assert_eq!(
            form_values(
                &form(
                    "application/x-www-form-urlencoded",
                    "token=a%2Bb&other=1&token=c"
                ),
                "token"
            )
            .unwrap(),
            vec!["a+b".to_owned(), "c".to_owned()]
        );
        assert_eq!(
            form_values(
                &form(
                    "application/x-www-form-urlencoded; charset=UTF-8",
                    "token=x+y"
                ),
                "token"
            )
            .unwrap(),
            vec!["x y".to_owned()]
        );
        assert!(
            form_values(&form("text/plain", "token=a"), "token")
                .unwrap()
                .is_empty()
        );
        let huge = format!("token={}", "a".repeat(MAX_BODY_BYTES));
        assert!(matches!(
            form_values(&form("application/x-www-form-urlencoded", &huge), "token"),
            Err(ApiError::ContentTooLarge)
        ));
    }

    #[test]
    fn cookies_go_with_every_answer_but_never_twice_under_one_name() {
        use crate::domain::client::AuthCookie;
        let config = crate::platform::state::unreachable_state().config;
        let clear = [CookieChange::clear(AuthCookie::Session)];
        let set_cookies = |response: &HttpResponse| -> Vec<String> {
            response
                .headers()
                .get_all(header::SET_COOKIE)
                .iter()
                .map(|v| v.to_str().unwrap().to_owned())
                .collect()
        };
        // An error is rendered with its status and the clearing cookie.
        let refused = with_cookies(Err(ApiError::InvalidCredentials), &config, &clear).unwrap();
        assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(
            set_cookies(&refused),
            vec![set_cookie(&config.session_cookie, "", 0)]
        );
        // A success that sets no session cookie gets the clearing one.
        let done = with_cookies(Ok(no_content()), &config, &clear).unwrap();
        assert_eq!(done.status(), StatusCode::NO_CONTENT);
        assert_eq!(set_cookies(&done).len(), 1);
        // A session-mode login sets the new cookie: it stays the only one of that name.
        let mut login = json(StatusCode::OK, &serde_json::json!({"data": {}}));
        append_cookie(
            &mut login,
            &cookie_header(
                &CookieChange::set(AuthCookie::Session, "new-token", 60),
                &config,
            ),
        );
        append_cookie(
            &mut login,
            &cookie_header(
                &CookieChange::set(AuthCookie::Refresh, "other", 60),
                &config,
            ),
        );
        let login = with_cookies(Ok(login), &config, &clear).unwrap();
        let cookies = set_cookies(&login);
        assert_eq!(cookies.len(), 2, "{cookies:?}");
        assert!(cookies[0].starts_with("directus_session_token=new-token;"));
        // Nothing to carry: the result as it was, an error still an error.
        assert!(with_cookies(Err(ApiError::InvalidCredentials), &config, &[]).is_err());
    }

    #[tokio::test]
    async fn a_handler_past_its_budget_answers_503_with_retry_after() {
        let slow = async {
            tokio::time::sleep(std::time::Duration::from_secs(60)).await;
            Ok(no_content())
        };
        let response = within(std::time::Duration::from_millis(20), slow)
            .await
            .expect("a response, not an invocation error");
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(
            response.headers().get(header::RETRY_AFTER).unwrap(),
            &SERVICE_UNAVAILABLE_RETRY_AFTER.to_string()
        );
        let Body::Text(body) = response.body() else {
            panic!("a JSON body")
        };
        let body: Value = serde_json::from_str(body).unwrap();
        assert_eq!(
            body["errors"][0]["extensions"]["code"],
            "SERVICE_UNAVAILABLE"
        );
        let fast = within(std::time::Duration::from_secs(5), async {
            Ok(no_content())
        })
        .await
        .unwrap();
        assert_eq!(fast.status(), StatusCode::NO_CONTENT);
    }
    use lambda_http::http;

    fn request(body: &str) -> Request {
        typed_request("application/json", body)
    }

    fn typed_request(content_type: &str, body: &str) -> Request {
        http::Request::builder()
            .header("content-type", content_type)
            .body(Body::Text(body.to_owned()))
            .unwrap()
    }

    #[test]
    fn only_json_media_types_are_parsed() {
        let body = r#"{"email":"a@example.com","password":"secret"}"#;
        for json_type in [
            "application/json",
            "application/json; charset=utf-8",
            "Application/JSON;charset=UTF-8",
            "application/vnd.api+json",
            "application/merge-patch+json; charset=utf-8",
        ] {
            let parsed = json_object(&typed_request(json_type, body)).unwrap();
            assert_eq!(parsed["email"], "a@example.com", "{json_type}");
        }
        for other in [
            "text/plain",
            "text/plain; charset=utf-8",
            "application/x-www-form-urlencoded",
            "multipart/form-data; boundary=x",
            "application/xml",
            "text/json",
            "application/jsonx",
            "application/json-patch",
            "",
            "json",
        ] {
            assert!(
                json_object(&typed_request(other, body)).unwrap().is_empty(),
                "{other:?}"
            );
        }
        let untyped = http::Request::builder()
            .body(Body::Text(body.to_owned()))
            .unwrap();
        assert!(json_object(&untyped).unwrap().is_empty());
        // Malformed JSON is only an error where JSON was announced.
        assert!(
            json_object(&typed_request("text/plain", "{nope"))
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn control_characters_are_never_part_of_an_email() {
        for bad in [
            "nul\u{0}abc@example.com",
            "tab\tabc@example.com",
            "a@example.com\n",
            "\u{7f}a@example.com",
            "a@exam\u{1}ple.com",
            "a\u{a0}b@example.com",
            "adm\u{200b}in@example.com",
            "evil\u{202e}moc.elgoog@example.com",
            "c1\u{85}x@example.com",
            "\u{feff}bom@example.com",
        ] {
            assert!(!valid_email(bad), "{bad:?}");
            let body = serde_json::json!({"email": bad});
            assert_eq!(
                required_email(body.as_object().unwrap())
                    .unwrap_err()
                    .to_string(),
                "Invalid payload. \"email\" must be a valid email."
            );
        }
        let spaced = serde_json::json!({"email": "  Hello@Example.com "});
        assert_eq!(
            required_email(spaced.as_object().unwrap()).unwrap(),
            "Hello@Example.com"
        );
    }

    #[test]
    fn bodies_over_the_limit_are_413() {
        let big = format!("{{\"email\":\"{}\"}}", "a".repeat(MAX_BODY_BYTES));
        assert!(matches!(
            json_object(&request(&big)),
            Err(ApiError::ContentTooLarge)
        ));
    }

    #[test]
    fn malformed_and_non_object_json_are_invalid_payload() {
        assert!(matches!(
            json_object(&request("{nope")),
            Err(ApiError::InvalidPayload(_))
        ));
        assert!(matches!(
            json_object(&request("[1]")),
            Err(ApiError::InvalidPayload(_))
        ));
        assert!(json_object(&request("")).unwrap().is_empty());
    }

    #[test]
    fn bodies_that_are_not_utf8_are_invalid_payload() {
        // API Gateway hands such bodies over base64-encoded (Body::Binary); the local emulator
        // cannot forward them at all, so this is where they are tested.
        let binary = http::Request::builder()
            .header("content-type", "application/json")
            .body(Body::Binary(vec![0xff, 0xfe, b'{', 0x80]))
            .unwrap();
        let error = json_object(&binary).unwrap_err();
        assert_eq!(error.code(), "INVALID_PAYLOAD");
        let json_with_bad_bytes = http::Request::builder()
            .header("content-type", "application/json; charset=utf-8")
            .body(Body::Binary(b"{\"email\":\"\xff@example.com\"}".to_vec()))
            .unwrap();
        assert_eq!(
            json_object(&json_with_bad_bytes).unwrap_err().code(),
            "INVALID_PAYLOAD"
        );
    }

    #[test]
    fn required_strings_report_like_joi() {
        let body = serde_json::json!({"email": 5, "password": ""});
        let body = body.as_object().unwrap();
        assert_eq!(
            required_string(body, "email", 10).unwrap_err().to_string(),
            "Invalid payload. \"email\" must be a string."
        );
        assert_eq!(
            required_string(body, "password", 10)
                .unwrap_err()
                .to_string(),
            "Invalid payload. \"password\" is not allowed to be empty."
        );
        assert_eq!(
            required_string(body, "otp", 10).unwrap_err().to_string(),
            "Invalid payload. \"otp\" is required."
        );
    }

    #[test]
    fn cookies_are_found_by_name() {
        let request = http::Request::builder()
            .header("cookie", "a=1; directus_refresh_token=abc; b=2")
            .body(Body::Empty)
            .unwrap();
        assert_eq!(
            cookie(&request, "directus_refresh_token").as_deref(),
            Some("abc")
        );
        assert_eq!(cookie(&request, "missing"), None);
    }

    #[test]
    fn bearer_scheme_is_case_insensitive_and_needs_two_parts() {
        let with = |value: &str| {
            http::Request::builder()
                .header("authorization", value)
                .body(Body::Empty)
                .unwrap()
        };
        let token = |request: &Request| {
            access_token(request, "directus_session_token")
                .unwrap()
                .map(|(t, _)| t)
        };
        assert_eq!(token(&with("bearer abc")).as_deref(), Some("abc"));
        assert_eq!(token(&with("Bearer a b")), None);
        assert_eq!(token(&with("Basic abc")), None);
    }

    #[test]
    fn the_session_cookie_counts_only_without_a_header_or_query_token() {
        let request = |auth: Option<&str>, cookie: &str| {
            let mut builder = http::Request::builder().header("cookie", cookie);
            if let Some(auth) = auth {
                builder = builder.header("authorization", auth);
            }
            builder.body(Body::Empty).unwrap()
        };
        let name = "directus_session_token";
        assert_eq!(
            access_token(&request(None, "directus_session_token=c"), name).unwrap(),
            Some(("c".into(), TokenSource::Cookie))
        );
        assert_eq!(
            access_token(&request(Some("Bearer h"), "directus_session_token=c"), name).unwrap(),
            Some(("h".into(), TokenSource::Header))
        );
        // Not a bearer header: ignored, the cookie is used.
        assert_eq!(
            access_token(&request(Some("Basic h"), "directus_session_token=c"), name).unwrap(),
            Some(("c".into(), TokenSource::Cookie))
        );
        assert_eq!(
            access_token(&request(None, "directus_session_token="), name).unwrap(),
            None
        );
    }

    #[test]
    fn cookie_driven_writes_from_foreign_origins_are_refused() {
        let allowed = vec!["http://localhost:3000".to_owned()];
        let request = |method: &str, origin: Option<&str>| {
            let mut builder = http::Request::builder().method(method);
            if let Some(origin) = origin {
                builder = builder.header("origin", origin);
            }
            builder.body(Body::Empty).unwrap()
        };
        assert!(check_origin(&request("POST", Some("http://localhost:3000")), &allowed).is_ok());
        assert!(check_origin(&request("POST", None), &allowed).is_ok());
        assert!(check_origin(&request("GET", Some("https://evil.example")), &allowed).is_ok());
        for (method, origin) in [
            ("POST", "https://evil.example"),
            ("PATCH", "null"),
            ("DELETE", "http://localhost:3000.evil.example"),
        ] {
            let error = check_origin(&request(method, Some(origin)), &allowed).unwrap_err();
            assert_eq!(error.code(), "FORBIDDEN", "{method} {origin}");
        }
    }

    #[test]
    fn empty_responses_have_no_content_type() {
        let response = no_content();
        assert_eq!(response.status(), StatusCode::NO_CONTENT);
        assert!(response.headers().get(header::CONTENT_TYPE).is_none());
    }
}
