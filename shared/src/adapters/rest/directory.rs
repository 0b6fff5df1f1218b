//! The user directory over REST: `GET /users` and `GET /users/{id}` for everyone their
//! permissions allow, `PATCH` and `DELETE /users/{id}` for administrators.

use lambda_http::Request;
use lambda_http::RequestExt;
use lambda_http::http::StatusCode;

use super::items::parse_query;
use crate::adapters::http::{self, HttpResponse};
use crate::credential::password::Passwords;
use crate::domain::error::ApiError;
use crate::flows;
use crate::platform::state::AppState;

/// `GET /users[/{id}]`.
pub async fn read(state: &AppState, request: &Request) -> Result<HttpResponse, ApiError> {
    let now = http::now();
    let claims = http::caller(state, request, now).await?;
    let query = parse_query(state, request)?;
    let id = path_id(request);
    let body = flows::directory::read(state, claims.as_ref(), &query, id.as_deref(), now).await?;
    Ok(http::json(StatusCode::OK, &body))
}

/// `PATCH /users/{id}`: 200 with the user as read back, 204 for an unknown id. The caller
/// must be an administrator before the query or the body is even read.
pub async fn update(
    state: &AppState,
    passwords: &Passwords,
    request: &Request,
) -> Result<HttpResponse, ApiError> {
    let now = http::now();
    let claims = http::caller(state, request, now).await?;
    let admin = flows::users::administrator(state, claims.as_ref()).await?;
    let query = parse_query(state, request)?;
    let body = http::json_object(request)?;
    let id = path_id(request);
    let updated =
        flows::users::update(state, passwords, &admin, id.as_deref(), body, &query, now).await?;
    Ok(match updated {
        Some(body) => http::json(StatusCode::OK, &body),
        None => http::no_content(),
    })
}

/// `DELETE /users/{id}`: 204, whether the id named a user or not.
pub async fn delete(state: &AppState, request: &Request) -> Result<HttpResponse, ApiError> {
    let claims = http::caller(state, request, http::now()).await?;
    let admin = flows::users::administrator(state, claims.as_ref()).await?;
    flows::users::delete(state, &admin, path_id(request).as_deref()).await?;
    Ok(http::no_content())
}

/// The `{id}` of `/users/{id}`, from the route or the path.
pub fn path_id(request: &Request) -> Option<String> {
    if let Some(id) = request.path_parameters().first("id") {
        return Some(id.to_owned());
    }
    let path = request.uri().path().trim_end_matches('/').to_owned();
    let (head, id) = path.rsplit_once('/')?;
    (head.ends_with("/users") && !id.is_empty()).then(|| id.to_owned())
}
