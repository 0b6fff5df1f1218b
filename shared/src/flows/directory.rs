//! `GET /users` and `GET /users/{id}`: the user directory, read through the same plan, query
//! parameters and bounds as `/items` ([`crate::flows::items::serve`]). Administrators see every user;
//! others what their `read` permissions on `directus_users` allow, row by row and field by
//! field.
//!
//! Rows come from the users table's `directory` index (one Query per page, `id` order, no
//! Scan), which does not even hold password hashes: `password` is always `"**********"`, as
//! Directus conceals it, and is never searched. Unverified accounts past their expiry are not
//! in it ([`Store::query_user_directory`]), as nowhere else. `policies` (the user's own policy
//! links) is read for the returned rows that show it only, so it cannot be filtered, sorted or
//! searched on.

use serde_json::{Map, Value, json};

use crate::credential::token::AccessClaims;
use crate::domain::error::ApiError;
use crate::domain::query::ItemsQuery;
use crate::flows::items::{self, ReadStats, ScanBound, Source};
use crate::flows::time::Now;
use crate::platform::state::AppState;
use crate::store::Store;

use crate::flows::user_rows::POLICIES;
pub use crate::flows::user_rows::{COLLECTION, CONCEALED, user_row, users_collection};

/// `policies` is not a stored column: refuse it where every row would be needed.
fn refuse_policies(query: &ItemsQuery) -> Result<(), ApiError> {
    let in_filter = query.filter.as_ref().is_some_and(|f| {
        crate::domain::access::filter::referenced_fields(f)
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

/// The returned rows that show `policies`: those still holding a user id there (rows where
/// the caller may not read it hold `null`), with that id.
fn rows_showing_policies(data: &mut Value) -> Vec<(&mut Map<String, Value>, String)> {
    let rows: Vec<&mut Map<String, Value>> = match data {
        Value::Array(items) => items.iter_mut().filter_map(Value::as_object_mut).collect(),
        Value::Object(item) => vec![item],
        _ => Vec::new(),
    };
    rows.into_iter()
        .filter_map(|row| {
            let id = row.get(POLICIES)?.as_str()?.to_owned();
            Some((row, id))
        })
        .collect()
}

/// Fills `policies` on every returned row that shows it, within the request's `bound` together
/// with what the read itself examined (`read`): each user's lookup counts as its links
/// examined (one, without any), so a page whose lookups would pass the bound is refused before
/// any is made, as an over-long read is. Returns what the lookups cost.
async fn fill_policies(
    store: &Store,
    data: &mut Value,
    bound: ScanBound,
    read: &ReadStats,
) -> Result<ReadStats, ApiError> {
    let mut rows = rows_showing_policies(data);
    let mut spent = ReadStats::default();
    if rows.is_empty() {
        return Ok(spent);
    }
    let left = bound.after(read);
    if rows.len() > left.items {
        return Err(items::too_many_in(&users_collection(), bound));
    }
    let ids: Vec<String> = rows.iter().map(|(_, id)| id.clone()).collect();
    let found = store.users_policies(&ids).await?;
    for ((row, _), policies) in rows.iter_mut().zip(found) {
        spent.requests += 1;
        spent.examined += policies.len().max(1);
        let value = json!(policies);
        spent.examined_bytes = spent
            .examined_bytes
            .saturating_add(items::approximate_size(&value));
        row.insert(POLICIES.into(), value);
    }
    if left.exceeded(&spent) {
        return Err(items::too_many_in(&users_collection(), bound));
    }
    Ok(spent)
}

/// Reads users for `accountability` (admin or not) through the one items read path, with
/// `policies` filled in where the caller may read it, all within the request's scan bound. For
/// one id, missing (or expired) users are 403. Permission filters take `$NOW` as `now`.
pub async fn serve(
    state: &AppState,
    accountability: &crate::domain::access::Accountability,
    query: &ItemsQuery,
    id: Option<&str>,
    now: Now,
) -> Result<Value, ApiError> {
    if !accountability.admin && !accountability.may_read(COLLECTION) {
        return Err(ApiError::forbidden_collection(COLLECTION));
    }
    refuse_policies(query)?;
    let bound = ScanBound::of_request(state);
    let (mut body, read) = items::serve_within(
        state,
        accountability,
        users_collection(),
        Source::Users,
        query,
        id,
        bound,
        now,
    )
    .await?;
    if let Some(data) = body.get_mut("data") {
        let filled = fill_policies(&state.store, data, bound, &read).await?;
        tracing::debug!(
            lookups = filled.requests,
            examined = filled.examined,
            "policies read"
        );
    }
    Ok(body)
}

/// `GET /users[/{id}]` for `claims` (none: the public): the response body, as the permissions
/// show it at `now`.
pub async fn read(
    state: &AppState,
    claims: Option<&AccessClaims>,
    query: &ItemsQuery,
    id: Option<&str>,
    now: Now,
) -> Result<Value, ApiError> {
    let accountability = crate::flows::access::accountability(state, claims).await?;
    serve(state, &accountability, query, id, now).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::model::UserStatus;
    use crate::store::DirectoryUser;

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

    fn user(id: &str) -> DirectoryUser {
        DirectoryUser {
            id: id.into(),
            email: format!("{id}@example.com"),
            status: UserStatus::Active,
            role: None,
            first_name: None,
            last_name: None,
        }
    }

    fn users_read(fields: &[&str], filter: Option<Value>) -> crate::domain::model::Permission {
        crate::domain::model::Permission {
            id: fields.join(","),
            policy: "p".into(),
            collection: COLLECTION.into(),
            action: "read".into(),
            fields: fields.iter().map(|f| (*f).to_owned()).collect(),
            permissions: filter,
            presets: None,
            validation: None,
        }
    }

    #[test]
    fn policies_are_looked_up_only_on_rows_whose_permission_grants_them() {
        // Every field of one's own row; `id` and `first_name` of every row.
        let caller = crate::domain::access::Accountability {
            user: Some("me".into()),
            permissions: vec![
                users_read(&["*"], Some(json!({"id": {"_eq": "$CURRENT_USER"}}))),
                users_read(&["id", "first_name"], None),
            ],
            ..Default::default()
        };
        for fields in [vec!["id", "policies"], vec!["policies"]] {
            let fields: Vec<String> = fields.into_iter().map(str::to_owned).collect();
            let plan =
                crate::domain::access::ReadPlan::new(&caller, users_collection(), Some(&fields), 0)
                    .unwrap();
            let mut data = Value::Array(
                ["me", "other"]
                    .iter()
                    .map(|id| {
                        let visible = plan.visible_row(&user_row(&user(id))).unwrap();
                        Value::Object(plan.project(&visible))
                    })
                    .collect(),
            );
            let showing: Vec<String> = rows_showing_policies(&mut data)
                .into_iter()
                .map(|(_, id)| id)
                .collect();
            assert_eq!(showing, ["me"], "{fields:?}");
            // The other row keeps the field, hidden, as any field hidden on one row.
            assert_eq!(data[1][POLICIES], Value::Null, "{fields:?}");
        }
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
