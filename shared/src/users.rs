//! `POST /users`: user creation governed by `create` permissions on `directus_users` (the
//! quickstart's older flow: the Public policy may create users with `email` and `password`
//! only, presets attaching a policy), and by administrators with any field.
//!
//! Differences from Directus, on purpose: a duplicate email is answered like a new one for
//! everyone but administrators (Directus says 400 RECORD_NOT_UNIQUE, revealing the account),
//! after the same hashing work; nothing is written in that case.

use lambda_http::Request;
use lambda_http::http::StatusCode;
use serde_json::{Map, Value, json};

use crate::access::{Accountability, filter};
use crate::error::ApiError;
use crate::http::{self, HttpResponse};
use crate::password::MAX_PASSWORD_CHARS;
use crate::password::Passwords;
use crate::sensitive::Sensitive;
use crate::state::AppState;
use crate::store::{
    MAX_USER_POLICIES, NewUser, StoreError, User, UserChanges, UserStatus, now_millis,
};

const COLLECTION: &str = "directus_users";
/// Longest first or last name.
pub const MAX_NAME_CHARS: usize = 255;

/// The payload after permission checks and presets: what will be written.
#[derive(Debug, Clone, PartialEq)]
pub struct UserPayload {
    pub email: String,
    pub password: Sensitive,
    pub status: UserStatus,
    pub role: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub policies: Vec<String>,
}

/// Applies the caller's create permissions to `body`: every key must be an allowed field (403
/// naming the others), presets fill what the body leaves out, and every permission's
/// `validation` must hold. Pure.
pub fn authorize(
    accountability: &Accountability,
    body: Map<String, Value>,
) -> Result<Map<String, Value>, ApiError> {
    if accountability.admin {
        return Ok(body);
    }
    let permissions: Vec<_> = accountability
        .permissions
        .iter()
        .filter(|p| p.collection == COLLECTION && p.action == "create")
        .collect();
    if permissions.is_empty() {
        return Err(ApiError::forbidden_collection(COLLECTION));
    }
    let all_fields = permissions
        .iter()
        .any(|p| p.fields.iter().any(|f| f == "*"));
    if !all_fields {
        let denied: Vec<String> = body
            .keys()
            .filter(|key| {
                !permissions
                    .iter()
                    .any(|p| p.fields.iter().any(|f| f == *key))
            })
            .cloned()
            .collect();
        if !denied.is_empty() {
            return Err(ApiError::forbidden_fields_to_write(COLLECTION, &denied));
        }
    }
    // Presets are defaults: later permissions win over earlier ones, the body over all.
    let mut payload = Map::new();
    for permission in &permissions {
        if let Some(Value::Object(presets)) = &permission.presets {
            payload.extend(presets.clone());
        }
    }
    payload.extend(body);
    let context = accountability.filter_context(now_millis());
    for permission in &permissions {
        let Some(rule) = permission
            .validation
            .as_ref()
            .filter(|v| v.as_object().is_some_and(|o| !o.is_empty()))
        else {
            continue;
        };
        let valid = filter::matches(rule, &payload, &context).unwrap_or(false);
        if !valid {
            let field = filter::referenced_fields(rule)
                .into_iter()
                .next()
                .unwrap_or_else(|| "payload".into());
            return Err(ApiError::FailedValidation {
                field,
                kind: "validation",
                detail: "Value doesn't pass the validation rules.".into(),
            });
        }
    }
    Ok(payload)
}

fn required(field: &str) -> ApiError {
    ApiError::FailedValidation {
        field: field.to_owned(),
        kind: "required",
        detail: "Value is required.".into(),
    }
}

fn string_field(
    payload: &Map<String, Value>,
    field: &str,
    max_chars: usize,
) -> Result<Option<String>, ApiError> {
    match payload.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.chars().count() <= max_chars => Ok(Some(s.clone())),
        Some(Value::String(_)) => Err(ApiError::FailedValidation {
            field: field.to_owned(),
            kind: "max",
            detail: format!("Value can't be longer than {max_chars} characters."),
        }),
        Some(_) => Err(ApiError::payload(format!("\"{field}\" must be a string"))),
    }
}

/// A name: bounded, and free of control characters.
fn name_field(payload: &Map<String, Value>, field: &str) -> Result<Option<String>, ApiError> {
    let value = string_field(payload, field, MAX_NAME_CHARS)?;
    if value
        .as_deref()
        .is_some_and(|v| v.chars().any(http::is_control))
    {
        return Err(ApiError::FailedValidation {
            field: field.to_owned(),
            kind: "regex",
            detail: "Value can't contain control characters.".into(),
        });
    }
    Ok(value)
}

/// `policies` as Directus clients send it: ids, `{policy}` objects, or `{create: [{policy}]}`.
fn policy_ids(value: Option<&Value>) -> Result<Vec<String>, ApiError> {
    let items = match value {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(items)) => items.clone(),
        Some(Value::Object(object)) => match object.get("create") {
            Some(Value::Array(items)) => items.clone(),
            _ => return Err(ApiError::payload("\"policies\" must be an array")),
        },
        Some(_) => return Err(ApiError::payload("\"policies\" must be an array")),
    };
    let ids = items
        .iter()
        .map(|item| match item {
            Value::String(id) => Some(id.clone()),
            Value::Object(link) => link.get("policy").and_then(|p| {
                p.as_str()
                    .map(str::to_owned)
                    .or_else(|| p.get("id")?.as_str().map(str::to_owned))
            }),
            _ => None,
        })
        .collect::<Option<Vec<String>>>()
        .ok_or_else(|| ApiError::payload("\"policies\" must hold policy ids"))?;
    // Each policy once: a repeated id would be linked (and echoed) twice.
    let mut ids = ids;
    let mut seen = std::collections::HashSet::new();
    ids.retain(|id| seen.insert(id.clone()));
    if ids.len() > MAX_USER_POLICIES {
        return Err(ApiError::payload(format!(
            "\"policies\" must contain less than or equal to {MAX_USER_POLICIES} items"
        )));
    }
    Ok(ids)
}

/// Reads the authorized payload into the user to write. Pure.
pub fn parse_payload(payload: &Map<String, Value>) -> Result<UserPayload, ApiError> {
    let email =
        string_field(payload, "email", http::MAX_EMAIL_CHARS)?.ok_or_else(|| required("email"))?;
    if !http::valid_email(email.trim_matches(' ')) {
        return Err(ApiError::FailedValidation {
            field: "email".into(),
            kind: "email",
            detail: "Value has to be a valid email address.".into(),
        });
    }
    let password = string_field(payload, "password", MAX_PASSWORD_CHARS)?
        .filter(|p| !p.is_empty())
        .ok_or_else(|| required("password"))?;
    let status = match payload.get("status") {
        None | Some(Value::Null) => UserStatus::Active,
        Some(value) => serde_json::from_value(value.clone()).map_err(|_| ApiError::FailedValidation {
            field: "status".into(),
            kind: "in",
            detail: "Value has to be one of draft, invited, unverified, active, suspended, archived.".into(),
        })?,
    };
    Ok(UserPayload {
        email: email.trim_matches(' ').to_owned(),
        password: Sensitive::new(password),
        status,
        role: string_field(payload, "role", 64)?,
        first_name: name_field(payload, "first_name")?,
        last_name: name_field(payload, "last_name")?,
        policies: policy_ids(payload.get("policies"))?,
    })
}

/// What an administrator gets back: the user as Directus shows it, password concealed.
fn user_view(user: &User, policies: &[String]) -> Value {
    json!({
        "id": user.id,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "email": user.email,
        "password": "**********",
        "status": user.status,
        "role": user.role,
        "policies": policies,
    })
}

pub async fn create(
    state: &AppState,
    passwords: &Passwords,
    request: &Request,
) -> Result<HttpResponse, ApiError> {
    let claims = crate::auth::caller(state, request).await?;
    let body = http::json_object(request)?;
    let user = claims.as_ref().map(|c| (c.id.as_str(), c.role.as_deref()));
    let accountability = state.access.accountability(&state.store, user).await?;
    // Creation by anyone but an administrator is self-registration by another door: it shares
    // the registration budget per client address, checked before any hashing.
    if !accountability.admin {
        crate::limits::enforce(state, request, crate::limits::Limited::Register).await?;
    }
    let payload = parse_payload(&authorize(&accountability, body)?)?;

    // References must exist; checked before any write.
    if let Some(role) = &payload.role
        && state.store.role_access(role).await?.role.is_none()
    {
        return Err(ApiError::InvalidForeignKey {
            collection: COLLECTION,
            field: "role",
            value: role.clone(),
        });
    }
    for policy in &payload.policies {
        if state.store.policy_with_permissions(policy).await?.is_none() {
            return Err(ApiError::InvalidForeignKey {
                collection: COLLECTION,
                field: "policies",
                value: policy.clone(),
            });
        }
    }

    // The same cached item the rate limiter just read: one settings read per cache period.
    let settings = state
        .access
        .settings(&state.store, &state.config.default_settings)
        .await?;
    crate::password::enforce_policy(&payload.password, &settings)?;

    // Hash before knowing whether the email is taken: both answers cost the same.
    let password_hash = passwords
        .hash(&payload.password)
        .await
        .map_err(|e| ApiError::Internal(Box::new(e)))?;
    let new_user = NewUser {
        email: payload.email.clone(),
        password_hash,
        status: payload.status,
        role: payload.role.clone(),
        first_name: payload.first_name.clone(),
        last_name: payload.last_name.clone(),
        policies: payload.policies.clone(),
    };
    match state.store.create_user(new_user).await {
        Ok(user) => {
            tracing::info!(user = %user.id, by = ?claims.as_ref().map(|c| &c.id), "user created");
            if accountability.admin {
                Ok(http::json(
                    StatusCode::OK,
                    &json!({ "data": user_view(&user, &payload.policies) }),
                ))
            } else {
                // The caller may create but not read users: Directus answers 204.
                Ok(http::no_content())
            }
        }
        Err(StoreError::AlreadyExists) if accountability.admin => Err(ApiError::RecordNotUnique {
            collection: COLLECTION,
            field: "email",
            value: payload.email.to_lowercase(),
        }),
        Err(StoreError::AlreadyExists) => {
            tracing::info!("public user creation for a taken email");
            Ok(http::no_content())
        }
        Err(other) => Err(other.into()),
    }
}

/// Fields an administrator may change with `PATCH /users/{id}`.
const UPDATABLE: [&str; 7] = [
    "email",
    "password",
    "role",
    "status",
    "first_name",
    "last_name",
    "policies",
];

/// A parsed `PATCH /users/{id}` body: the profile changes, a new password, new policies.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UserUpdate {
    pub changes: UserChanges,
    pub password: Option<Sensitive>,
    pub policies: Option<Vec<String>>,
}

/// Reads a `PATCH /users/{id}` body. Pure. Unknown fields are 400 naming them: this API keeps
/// only the fields listed in [`UPDATABLE`].
pub fn parse_update(body: &Map<String, Value>) -> Result<UserUpdate, ApiError> {
    let unknown: Vec<&str> = body
        .keys()
        .map(String::as_str)
        .filter(|key| !UPDATABLE.contains(key))
        .collect();
    if !unknown.is_empty() {
        return Err(ApiError::payload(format!(
            "{} cannot be changed here (only {})",
            unknown
                .iter()
                .map(|k| format!("\"{k}\""))
                .collect::<Vec<_>>()
                .join(", "),
            UPDATABLE.join(", ")
        )));
    }
    let mut update = UserUpdate::default();
    if body.contains_key("email") {
        let email =
            string_field(body, "email", http::MAX_EMAIL_CHARS)?.ok_or_else(|| required("email"))?;
        let email = email.trim_matches(' ').to_owned();
        if !http::valid_email(&email) {
            return Err(ApiError::FailedValidation {
                field: "email".into(),
                kind: "email",
                detail: "Value has to be a valid email address.".into(),
            });
        }
        update.changes.email = Some(email);
    }
    if body.contains_key("password") {
        let password = string_field(body, "password", MAX_PASSWORD_CHARS)?
            .filter(|p| !p.is_empty())
            .ok_or_else(|| required("password"))?;
        update.password = Some(Sensitive::new(password));
    }
    if let Some(value) = body.get("status") {
        update.changes.status = Some(serde_json::from_value(value.clone()).map_err(|_| {
            ApiError::FailedValidation {
                field: "status".into(),
                kind: "in",
                detail: "Value has to be one of draft, invited, unverified, active, suspended, archived.".into(),
            }
        })?);
    }
    if body.contains_key("role") {
        update.changes.role = Some(string_field(body, "role", 64)?);
    }
    if body.contains_key("first_name") {
        update.changes.first_name = Some(name_field(body, "first_name")?);
    }
    if body.contains_key("last_name") {
        update.changes.last_name = Some(name_field(body, "last_name")?);
    }
    if body.contains_key("policies") {
        let mut policies = policy_ids(body.get("policies"))?;
        policies.dedup();
        update.policies = Some(policies);
    }
    Ok(update)
}

/// Administrators only: anyone else is refused as Directus refuses a caller with no
/// permission on the collection.
async fn administrator(
    state: &AppState,
    request: &Request,
) -> Result<std::sync::Arc<Accountability>, ApiError> {
    let claims = crate::auth::caller(state, request).await?;
    let user = claims.as_ref().map(|c| (c.id.as_str(), c.role.as_deref()));
    let accountability = state.access.accountability(&state.store, user).await?;
    if accountability.admin {
        Ok(accountability)
    } else {
        Err(ApiError::forbidden_collection(COLLECTION))
    }
}

/// The user `/users/{id}` names, if there is one. Not a UUID: no user, and no read.
async fn target(state: &AppState, request: &Request) -> Result<Option<User>, ApiError> {
    let Some(id) = crate::directory::path_id(request)
        .and_then(|id| uuid::Uuid::parse_str(&id).ok())
        .map(|id| id.hyphenated().to_string())
    else {
        return Ok(None);
    };
    Ok(state.store.get_user(&id).await?)
}

/// `PATCH /users/{id}` (administrators): names, email, role, status, password, policies. A new
/// password, a suspension, or a change of role or status ends the user's sessions and refuses
/// their earlier access tokens, through the operator tool's own functions
/// ([`crate::provision`]). An unknown id is 204, as in Directus.
pub async fn update(
    state: &AppState,
    passwords: &Passwords,
    request: &Request,
) -> Result<HttpResponse, ApiError> {
    let accountability = administrator(state, request).await?;
    let query = crate::items::parse_query(state, request)?;
    let update = parse_update(&http::json_object(request)?)?;
    let Some(user) = target(state, request).await? else {
        return Ok(http::no_content());
    };
    if let Some(Some(role)) = &update.changes.role
        && state.store.role_access(role).await?.role.is_none()
    {
        return Err(ApiError::InvalidForeignKey {
            collection: COLLECTION,
            field: "role",
            value: role.clone(),
        });
    }
    for policy in update.policies.iter().flatten() {
        if state.store.policy_with_permissions(policy).await?.is_none() {
            return Err(ApiError::InvalidForeignKey {
                collection: COLLECTION,
                field: "policies",
                value: policy.clone(),
            });
        }
    }
    let password_hash = match &update.password {
        Some(password) => {
            let settings = state
                .access
                .settings(&state.store, &state.config.default_settings)
                .await?;
            crate::password::enforce_policy(password, &settings)?;
            Some(
                passwords
                    .hash(password)
                    .await
                    .map_err(|e| ApiError::Internal(Box::new(e)))?,
            )
        }
        None => None,
    };

    // A suspension goes through the operator tool's action; the rest is one update.
    let mut changes = update.changes.clone();
    let suspend =
        changes.status == Some(UserStatus::Suspended) && user.status != UserStatus::Suspended;
    if suspend {
        changes.status = None;
    }
    let revoke = changes.role.as_ref().is_some_and(|role| *role != user.role)
        || changes.status.is_some_and(|status| status != user.status);
    if !changes.is_empty() {
        match state.store.update_user(&user, &changes).await {
            Ok(()) => {}
            Err(StoreError::AlreadyExists) => {
                return Err(ApiError::RecordNotUnique {
                    collection: COLLECTION,
                    field: "email",
                    value: changes.email.unwrap_or_default().to_lowercase(),
                });
            }
            Err(StoreError::Stale) => {
                return Err(ApiError::ServiceUnavailable {
                    service: "database",
                    reason: "The user changed while it was being updated, try again",
                    cause: None,
                });
            }
            Err(other) => return Err(other.into()),
        }
    }
    if let Some(policies) = &update.policies {
        let current = state.store.user_access(&user.id).await?.policies;
        state
            .store
            .replace_user_policies(&user.id, &current, policies)
            .await?;
    }
    let mut ended = 0;
    if let Some(hash) = &password_hash {
        ended += crate::provision::replace_password(&state.store, &user.id, hash).await?;
    }
    if suspend {
        ended += crate::provision::apply_account_action(
            &state.store,
            &user,
            crate::provision::AccountAction::Suspend,
        )
        .await?;
    } else if revoke && password_hash.is_none() {
        ended += crate::provision::apply_account_action(
            &state.store,
            &user,
            crate::provision::AccountAction::EndSessions,
        )
        .await?;
    }
    tracing::info!(user = %user.id, by = ?accountability.user, ended, "user updated");
    let body = crate::directory::serve(state, &accountability, &query, Some(&user.id)).await?;
    Ok(http::json(StatusCode::OK, &body))
}

/// `DELETE /users/{id}` (administrators): the operator tool's delete (the user, its email
/// claim, every session). An unknown id is 204, as in Directus.
pub async fn delete(state: &AppState, request: &Request) -> Result<HttpResponse, ApiError> {
    let accountability = administrator(state, request).await?;
    if let Some(user) = target(state, request).await? {
        let ended = crate::provision::apply_account_action(
            &state.store,
            &user,
            crate::provision::AccountAction::Delete,
        )
        .await?;
        tracing::info!(user = %user.id, by = ?accountability.user, ended, "user deleted");
    }
    Ok(http::no_content())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Permission;

    fn public_with(
        fields: &[&str],
        presets: Option<Value>,
        validation: Option<Value>,
    ) -> Accountability {
        Accountability {
            permissions: vec![Permission {
                id: "0".into(),
                policy: "public".into(),
                collection: COLLECTION.into(),
                action: "create".into(),
                fields: fields.iter().map(|f| (*f).to_owned()).collect(),
                permissions: None,
                presets,
                validation,
            }],
            ..Default::default()
        }
    }

    fn body(value: Value) -> Map<String, Value> {
        value.as_object().unwrap().clone()
    }

    #[test]
    fn no_create_permission_is_forbidden() {
        let error = authorize(
            &Accountability::default(),
            body(json!({"email": "a@example.com"})),
        )
        .unwrap_err();
        assert_eq!(error.code(), "FORBIDDEN");
        assert!(error.to_string().contains("collection \"directus_users\""));
    }

    #[test]
    fn fields_outside_the_permission_are_named_in_the_403() {
        let public = public_with(&["email", "password"], None, None);
        let error = authorize(
            &public,
            body(json!({"email": "a@example.com", "password": "x", "role": "admin", "status": "active"})),
        )
        .unwrap_err();
        assert_eq!(error.code(), "FORBIDDEN");
        assert!(
            error.to_string().contains("fields \"role\", \"status\""),
            "{error}"
        );
    }

    #[test]
    fn presets_fill_in_but_never_override_the_body() {
        let public = public_with(
            &["email", "password", "first_name"],
            Some(json!({"policies": ["read-posts"], "first_name": "Preset"})),
            None,
        );
        let payload = authorize(
            &public,
            body(json!({"email": "a@example.com", "password": "d1r3ctu5", "first_name": "Ada"})),
        )
        .unwrap();
        assert_eq!(payload["policies"], json!(["read-posts"]));
        assert_eq!(payload["first_name"], json!("Ada"));
    }

    #[test]
    fn validation_rules_must_hold() {
        let public = public_with(
            &["email", "password"],
            None,
            Some(json!({"email": {"_ends_with": "@acme.com"}})),
        );
        let error = authorize(
            &public,
            body(json!({"email": "a@example.com", "password": "x"})),
        )
        .unwrap_err();
        assert_eq!(error.code(), "FAILED_VALIDATION");
        assert!(
            authorize(
                &public,
                body(json!({"email": "a@acme.com", "password": "x"}))
            )
            .is_ok()
        );
    }

    #[test]
    fn administrators_may_send_any_field() {
        let admin = Accountability {
            admin: true,
            ..Default::default()
        };
        let payload =
            authorize(&admin, body(json!({"email": "a@example.com", "role": "r"}))).unwrap();
        assert_eq!(payload["role"], json!("r"));
    }

    #[test]
    fn payloads_parse_all_policy_forms() {
        for policies in [
            json!(["p1"]),
            json!([{"policy": "p1"}]),
            json!({"create": [{"policy": "p1"}]}),
            json!({"create": [{"policy": {"id": "p1"}}]}),
        ] {
            let parsed = parse_payload(&body(
                json!({"email": "a@example.com", "password": "d1r3ctu5", "policies": policies}),
            ))
            .unwrap();
            assert_eq!(parsed.policies, vec!["p1".to_owned()]);
        }
    }

    #[test]
    fn payloads_require_a_valid_email_and_a_password() {
        let missing = parse_payload(&body(json!({"password": "x"}))).unwrap_err();
        assert_eq!(missing.code(), "FAILED_VALIDATION");
        assert_eq!(
            missing.to_string(),
            "Validation failed for field \"email\". Value is required."
        );
        let bad = parse_payload(&body(json!({"email": "nope", "password": "x"}))).unwrap_err();
        assert!(bad.to_string().contains("valid email"));
        let no_password = parse_payload(&body(json!({"email": "a@example.com"}))).unwrap_err();
        assert!(no_password.to_string().contains("\"password\""));
        let bad_status = parse_payload(&body(
            json!({"email": "a@example.com", "password": "x", "status": "boss"}),
        ))
        .unwrap_err();
        assert_eq!(bad_status.code(), "FAILED_VALIDATION");
    }
}
