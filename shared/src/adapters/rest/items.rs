//! `GET /items/{collection}` and `GET /items/{collection}/{id}` over REST: the route's
//! collection and id, the query string, then [`flows::items::read`]; and the query-string
//! parsing the `/users` routes share.

use lambda_http::http::StatusCode;
use lambda_http::{Request, RequestExt};

use crate::adapters::http::{self, HttpResponse};
use crate::domain::error::ApiError;
use crate::domain::query::ItemsQuery;
use crate::flows;
use crate::platform::state::AppState;

/// `GET /items/{collection}[/{id}]`. The caller first (a bad token fails every route), then
/// the path, then the query.
pub async fn read(state: &AppState, request: &Request) -> Result<HttpResponse, ApiError> {
    let now = http::now();
    let claims = http::caller(state, request, now).await?;
    let (collection, id) = path_parts(request)?;
    let query = parse_query(state, request)?;
    let body = flows::items::read(
        state,
        claims.as_ref(),
        &collection,
        id.as_deref(),
        &query,
        now,
    )
    .await?;
    Ok(http::json(StatusCode::OK, &body))
}

fn path_parts(request: &Request) -> Result<(String, Option<String>), ApiError> {
    let params = request.path_parameters();
    if let Some(collection) = params.first("collection") {
        return Ok((collection.to_owned(), params.first("id").map(str::to_owned)));
    }
    // Without route parameters (a catch-all route), read them from the path itself.
    let path = request.uri().path().to_owned();
    let mut segments = path.trim_matches('/').split('/');
    match (
        segments.next(),
        segments.next(),
        segments.next(),
        segments.next(),
    ) {
        (Some("items"), Some(collection), id, None) if !collection.is_empty() => Ok((
            collection.to_owned(),
            id.filter(|id| !id.is_empty()).map(str::to_owned),
        )),
        _ => Err(ApiError::RouteNotFound(path)),
    }
}

fn query_pairs(request: &Request) -> Vec<(String, String)> {
    request
        .query_string_parameters_ref()
        .map(|q| {
            q.iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect()
        })
        .unwrap_or_default()
}

/// The request's query parameters, with the configured limits.
pub fn parse_query(state: &AppState, request: &Request) -> Result<ItemsQuery, ApiError> {
    ItemsQuery::parse(
        &query_pairs(request),
        state.config.query_limit_default,
        state.config.query_limit_max,
    )
}

/// `fields` of the query string (`a,b`, repeated, or `fields[]=`), `None` when absent.
pub fn requested_fields(request: &Request) -> Option<Vec<String>> {
    let query = request.query_string_parameters_ref()?;
    let mut fields: Option<Vec<String>> = None;
    for (key, value) in query.iter() {
        if key == "fields" || key.starts_with("fields[") {
            fields.get_or_insert_with(Vec::new).extend(
                value
                    .split(',')
                    .map(|f| f.trim().to_owned())
                    .filter(|f| !f.is_empty()),
            );
        }
    }
    fields
}
