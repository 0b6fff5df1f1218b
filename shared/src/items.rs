//! `GET /items/{collection}` and `GET /items/{collection}/{id}`: the items the caller's policies
//! let them read, field by field and row by row.

use lambda_http::http::StatusCode;
use lambda_http::{Request, RequestExt};
use serde_json::{Map, Value, json};

use crate::access::{self, ReadPlan, filter};
use crate::error::ApiError;
use crate::http::{self, HttpResponse};
use crate::state::AppState;
use crate::store::{item_sort_key, now_millis};

/// Items read from DynamoDB per Query page.
const PAGE_SIZE: i32 = 100;

/// The query parameters this endpoint understands.
#[derive(Debug, Clone, PartialEq)]
pub struct ItemsQuery {
    pub fields: Option<Vec<String>>,
    pub filter: Option<Value>,
    /// `None` means every item (`limit=-1`), bounded by the configured maximum.
    pub limit: Option<usize>,
    pub offset: usize,
}

/// Directus parameters whose support arrives with the full query API; refusing them is better
/// than silently ignoring a `sort` or `search` the client relies on.
const NOT_YET_SUPPORTED: [&str; 9] = [
    "sort",
    "search",
    "meta",
    "deep",
    "alias",
    "aggregate",
    "groupBy",
    "backlink",
    "export",
];

impl ItemsQuery {
    pub fn parse(
        pairs: &[(String, String)],
        default_limit: u32,
        max_limit: u32,
    ) -> Result<Self, ApiError> {
        let get = |name: &str| {
            pairs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.trim().to_owned())
        };
        if let Some((name, _)) = pairs.iter().find(|(k, _)| {
            let base = k.split('[').next().unwrap_or(k);
            NOT_YET_SUPPORTED.contains(&base)
        }) {
            return Err(ApiError::query(format!(
                "\"{}\" is not supported by this API yet",
                name.split('[').next().unwrap_or(name)
            )));
        }
        let mut fields: Vec<String> = pairs
            .iter()
            .filter(|(k, _)| k == "fields" || k == "fields[]")
            .flat_map(|(_, v)| v.split(','))
            .map(|f| f.trim().to_owned())
            .filter(|f| !f.is_empty())
            .collect();
        fields.dedup();
        let filter = match get("filter") {
            None => None,
            Some(raw) => {
                let value: Value = serde_json::from_str(&raw)
                    .map_err(|_| ApiError::query("Invalid JSON for filter object"))?;
                if !value.is_object() {
                    return Err(ApiError::query("Invalid JSON for filter object"));
                }
                Some(value)
            }
        };
        if pairs.iter().any(|(k, _)| k.starts_with("filter[")) {
            return Err(ApiError::query(
                "the filter[field][_op]= form is not supported yet; send filter as JSON",
            ));
        }
        let integer = |name: &str| -> Result<Option<i64>, ApiError> {
            match get(name) {
                None => Ok(None),
                Some(raw) => raw
                    .parse::<i64>()
                    .map(Some)
                    .map_err(|_| ApiError::query(format!("\"{name}\" must be a number"))),
            }
        };
        let max = usize::try_from(max_limit).unwrap_or(usize::MAX);
        let limit = match integer("limit")? {
            None => Some(
                usize::try_from(default_limit)
                    .unwrap_or(usize::MAX)
                    .min(max),
            ),
            Some(-1) => None,
            Some(n) if n < -1 => {
                return Err(ApiError::query(
                    "\"limit\" must be greater than or equal to -1",
                ));
            }
            Some(n) => {
                let n = usize::try_from(n).unwrap_or(usize::MAX);
                if n > max {
                    return Err(ApiError::query(format!(
                        "\"limit\" must be less than or equal to {max_limit}"
                    )));
                }
                Some(n)
            }
        };
        let offset = match integer("offset")? {
            None => 0,
            Some(n) if n < 0 => {
                return Err(ApiError::query(
                    "\"offset\" must be greater than or equal to 0",
                ));
            }
            Some(n) => usize::try_from(n).unwrap_or(usize::MAX),
        };
        // `page` (1-based) overrides `offset` when a limit applies, as in Directus.
        let offset = match (integer("page")?, limit) {
            (Some(n), _) if n < 0 => {
                return Err(ApiError::query(
                    "\"page\" must be greater than or equal to 0",
                ));
            }
            (Some(page), Some(limit)) if page > 0 => {
                limit.saturating_mul(usize::try_from(page - 1).unwrap_or(usize::MAX))
            }
            _ => offset,
        };
        Ok(Self {
            fields: (!fields.is_empty()).then_some(fields),
            filter,
            limit: limit.or(Some(max)),
            offset,
        })
    }
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

pub async fn read(state: &AppState, request: &Request) -> Result<HttpResponse, ApiError> {
    let claims = http::authenticate(request, &state.tokens)?;
    let (collection, id) = path_parts(request)?;
    let query = ItemsQuery::parse(
        &query_pairs(request),
        state.config.query_limit_default,
        state.config.query_limit_max,
    )?;
    if collection.starts_with("directus_") {
        return Err(ApiError::forbidden());
    }
    let user = claims.as_ref().map(|c| (c.id.as_str(), c.role.as_deref()));
    let accountability = access::resolve(&state.store, user).await?;
    let schema = state
        .store
        .collection(&collection)
        .await?
        .ok_or_else(|| ApiError::forbidden_collection(&collection))?;
    let plan = ReadPlan::new(
        &accountability,
        schema,
        query.fields.as_deref(),
        now_millis(),
    )?;
    if let Some(user_filter) = &query.filter {
        plan.check_readable(&filter::referenced_fields(user_filter))?;
    }
    match id {
        Some(id) => read_one(state, &plan, &query, &id).await,
        None => read_many(state, &plan, &query).await,
    }
}

/// The caller's view of a row if it passes the request filter. The filter sees only what the
/// caller may read on that row, so it can never probe a hidden value.
fn select(
    plan: &ReadPlan,
    query: &ItemsQuery,
    row: &Map<String, Value>,
) -> Result<Option<Map<String, Value>>, ApiError> {
    let Some(visible) = plan.visible_row(row) else {
        return Ok(None);
    };
    if let Some(user_filter) = &query.filter {
        let matched = filter::matches(user_filter, &visible, plan.filter_context())
            .map_err(|e| ApiError::query(e.to_string()))?;
        if !matched {
            return Ok(None);
        }
    }
    Ok(Some(plan.project(&visible)))
}

async fn read_one(
    state: &AppState,
    plan: &ReadPlan,
    query: &ItemsQuery,
    id: &str,
) -> Result<HttpResponse, ApiError> {
    let pk_type = plan
        .collection
        .field(&plan.collection.primary_key)
        .map(|f| f.field_type.as_str())
        .unwrap_or("string");
    let typed_id = match pk_type {
        "integer" | "bigInteger" => id
            .parse::<u64>()
            .map(Value::from)
            .map_err(|_| ApiError::forbidden())?,
        _ => Value::String(id.to_owned()),
    };
    let key = item_sort_key(&typed_id).ok_or_else(ApiError::forbidden)?;
    let row = state
        .store
        .get_item(&plan.collection.collection, &key)
        .await?
        .ok_or_else(ApiError::forbidden)?;
    let item = select(plan, query, &row)?.ok_or_else(ApiError::forbidden)?;
    Ok(http::json(StatusCode::OK, &json!({ "data": item })))
}

async fn read_many(
    state: &AppState,
    plan: &ReadPlan,
    query: &ItemsQuery,
) -> Result<HttpResponse, ApiError> {
    let limit = query.limit.unwrap_or(usize::MAX);
    let mut skipped = 0;
    let mut items = Vec::new();
    let mut start = None;
    while items.len() < limit {
        let page = state
            .store
            .query_items(&plan.collection.collection, start, PAGE_SIZE)
            .await?;
        for row in &page.items {
            if items.len() >= limit {
                break;
            }
            if let Some(item) = select(plan, query, row)? {
                if skipped < query.offset {
                    skipped += 1;
                } else {
                    items.push(Value::Object(item));
                }
            }
        }
        match page.next {
            Some(next) => start = Some(next),
            None => break,
        }
    }
    Ok(http::json(StatusCode::OK, &json!({ "data": items })))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(pairs: &[(&str, &str)]) -> Result<ItemsQuery, ApiError> {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        ItemsQuery::parse(&pairs, 100, 1000)
    }

    #[test]
    fn defaults_are_limit_100_offset_0_all_fields() {
        let query = parse(&[]).unwrap();
        assert_eq!(query.limit, Some(100));
        assert_eq!(query.offset, 0);
        assert_eq!(query.fields, None);
    }

    #[test]
    fn fields_accept_csv_and_array_forms() {
        let query = parse(&[("fields", "id, title"), ("fields[]", "content")]).unwrap();
        assert_eq!(
            query.fields.unwrap(),
            vec!["id".to_owned(), "title".into(), "content".into()]
        );
    }

    #[test]
    fn page_overrides_offset() {
        let query = parse(&[("limit", "10"), ("offset", "3"), ("page", "3")]).unwrap();
        assert_eq!(query.offset, 20);
        let query = parse(&[("limit", "10"), ("offset", "3"), ("page", "0")]).unwrap();
        assert_eq!(query.offset, 3);
    }

    #[test]
    fn limit_minus_one_means_the_configured_maximum() {
        assert_eq!(parse(&[("limit", "-1")]).unwrap().limit, Some(1000));
        assert!(parse(&[("limit", "1001")]).is_err());
        assert!(parse(&[("limit", "-2")]).is_err());
    }

    #[test]
    fn bad_values_are_invalid_query() {
        for pairs in [
            vec![("limit", "abc")],
            vec![("offset", "-1")],
            vec![("filter", "{nope")],
            vec![("filter", "[1]")],
            vec![("sort", "-id")],
            vec![("meta", "*")],
        ] {
            let error = parse(&pairs).unwrap_err();
            assert_eq!(error.code(), "INVALID_QUERY", "{pairs:?}");
        }
        assert_eq!(
            parse(&[("limit", "abc")]).unwrap_err().to_string(),
            "Invalid query. \"limit\" must be a number."
        );
    }

    #[test]
    fn filter_json_is_parsed() {
        let query = parse(&[("filter", r#"{"title":{"_eq":"x"}}"#)]).unwrap();
        assert_eq!(query.filter.unwrap()["title"]["_eq"], "x");
    }
}
