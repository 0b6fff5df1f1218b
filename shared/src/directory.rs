//! `GET /users` and `GET /users/{id}`: the user directory, read through the same plan, query
//! parameters and bounds as `/items` ([`crate::items::serve`]). Administrators see every user;
//! others what their `read` permissions on `directus_users` allow, row by row and field by
//! field.
//!
//! Rows come from the users table's `directory` index (one Query per page, `id` order, no
//! Scan), which does not even hold password hashes: `password` is always `"**********"`, as
//! Directus conceals it, and is never searched. `policies` (the user's own policy links) is read
//! for the returned rows only, so it cannot be filtered, sorted or searched on.

use lambda_http::http::StatusCode;
use lambda_http::{Request, RequestExt};
use serde_json::{Map, Value, json};

use crate::error::ApiError;
use crate::http::{self, HttpResponse};
use crate::items::{self, Source};
use crate::query::ItemsQuery;
use crate::state::AppState;
use crate::store::{Collection, DirectoryUser, FieldDef, Store};

pub const COLLECTION: &str = "directus_users";
/// How Directus shows a password that is set.
pub const CONCEALED: &str = "**********";
/// Read for the returned rows only.
const POLICIES: &str = "policies";

/// The fields of `directus_users` this API keeps, in Directus' order, with Directus' types.
pub fn users_collection() -> Collection {
    let fields = [
        ("id", "uuid"),
        ("first_name", "string"),
        ("last_name", "string"),
        ("email", "string"),
        ("password", "hash"),
        ("status", "string"),
        ("role", "uuid"),
        (POLICIES, "alias"),
    ];
    Collection {
        collection: COLLECTION.into(),
        primary_key: "id".into(),
        fields: fields
            .iter()
            .map(|(field, field_type)| FieldDef {
                field: (*field).into(),
                field_type: (*field_type).into(),
                schema: None,
            })
            .collect(),
    }
}

/// A user as a row of `directus_users`. The hash is never part of it.
pub fn user_row(user: &DirectoryUser) -> Map<String, Value> {
    let mut row = Map::new();
    row.insert("id".into(), json!(user.id));
    row.insert("first_name".into(), json!(user.first_name));
    row.insert("last_name".into(), json!(user.last_name));
    row.insert("email".into(), json!(user.email));
    row.insert("password".into(), json!(CONCEALED));
    row.insert("status".into(), json!(user.status));
    row.insert("role".into(), json!(user.role));
    row.insert(POLICIES.into(), Value::Null);
    row
}

/// `policies` is not a stored column: refuse it where every row would be needed.
fn refuse_policies(query: &ItemsQuery) -> Result<(), ApiError> {
    let in_filter = query.filter.as_ref().is_some_and(|f| {
        crate::access::filter::referenced_fields(f)
            .iter()
            .any(|field| field == POLICIES)
    });
    let in_sort = query.sort.iter().any(|k| k.field == POLICIES);
    let in_aggregate = query.aggregated_fields().iter().any(|f| f == POLICIES);
    if in_filter || in_sort || in_aggregate {
        return Err(ApiError::query(
            "\"policies\" cannot be filtered, sorted, grouped or aggregated on",
        ));
    }
    Ok(())
}

/// Fills `policies` on every returned user that shows it.
async fn fill_policies(store: &Store, data: &mut Value) -> Result<(), ApiError> {
    let rows: Vec<&mut Map<String, Value>> = match data {
        Value::Array(items) => items.iter_mut().filter_map(Value::as_object_mut).collect(),
        Value::Object(item) => vec![item],
        _ => Vec::new(),
    };
    for row in rows {
        if !row.contains_key(POLICIES) {
            continue;
        }
        let Some(id) = row.get("id").and_then(Value::as_str).map(str::to_owned) else {
            continue;
        };
        let policies = store.user_access(&id).await?.policies;
        row.insert(POLICIES.into(), json!(policies));
    }
    Ok(())
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

/// Reads users for `accountability` (admin or not) through the one items read path, with
/// `policies` filled in. `Ok(None)` never happens for a list; for one id, missing users are 403.
pub async fn serve(
    state: &AppState,
    accountability: &crate::access::Accountability,
    query: &ItemsQuery,
    id: Option<&str>,
) -> Result<Value, ApiError> {
    if !accountability.admin && !accountability.may_read(COLLECTION) {
        return Err(ApiError::forbidden_collection(COLLECTION));
    }
    refuse_policies(query)?;
    let mut body = items::serve(
        state,
        accountability,
        users_collection(),
        Source::Users,
        query,
        id,
    )
    .await?;
    if let Some(data) = body.get_mut("data") {
        fill_policies(&state.store, data).await?;
    }
    Ok(body)
}

pub async fn read(state: &AppState, request: &Request) -> Result<HttpResponse, ApiError> {
    let claims = crate::auth::caller(state, request).await?;
    let query = items::parse_query(state, request)?;
    let user = claims.as_ref().map(|c| (c.id.as_str(), c.role.as_deref()));
    let accountability = state.access.accountability(&state.store, user).await?;
    let id = path_id(request);
    let body = serve(state, &accountability, &query, id.as_deref()).await?;
    Ok(http::json(StatusCode::OK, &body))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::UserStatus;

    #[test]
    fn rows_conceal_the_password_and_follow_the_schema() {
        let row = user_row(&DirectoryUser {
            id: "u".into(),
            email: "a@example.com".into(),
            status: UserStatus::Active,
            role: None,
            first_name: Some("Ada".into()),
            last_name: None,
        });
        assert_eq!(row["password"], json!(CONCEALED));
        assert_eq!(row["status"], json!("active"));
        let collection = users_collection();
        let fields: Vec<&String> = collection.fields.iter().map(|f| &f.field).collect();
        assert_eq!(row.keys().collect::<Vec<_>>(), fields);
    }

    #[test]
    fn policies_cannot_be_filtered_or_sorted() {
        for pairs in [
            vec![("filter[policies][_null]", "true")],
            vec![("sort", "policies")],
        ] {
            let pairs: Vec<(String, String)> = pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect();
            let query = ItemsQuery::parse(&pairs, 100, 1000).unwrap();
            assert_eq!(refuse_policies(&query).unwrap_err().code(), "INVALID_QUERY");
        }
    }
}
