//! `POST /users`: user creation governed by `create` permissions on `directus_users` (the
//! quickstart's older flow: the Public policy may create users with `email` and `password`
//! only, presets attaching a policy), and by administrators with any field.
//!
//! Differences from Directus, on purpose: a duplicate email is answered like a new one for
//! everyone but administrators (Directus says 400 RECORD_NOT_UNIQUE, revealing the account),
//! after the same hashing work; nothing is written in that case. A create by a caller with no
//! user follows the settings of public registration (open, email filter, verification by
//! email), as `users/register` does: Directus applies them to `users/register` only, which
//! would let anyone open an active account for an address they do not own.

use serde_json::{Map, Value, json};

use crate::credential::password::MAX_PASSWORD_CHARS;
use crate::credential::password::Passwords;
use crate::credential::token::AccessClaims;
use crate::domain::access::{Accountability, ReadPlan, filter};
use crate::domain::client::Client;
use crate::domain::error::ApiError;
use crate::domain::model::{Collection, FieldDef, Permission, User, UserStatus};
use crate::domain::query::ItemsQuery;
use crate::domain::sensitive::Sensitive;
use crate::domain::text;
use crate::flows::time::Now;
use crate::platform::state::AppState;
use crate::store::{
    MAX_USER_POLICIES, NewUser, PolicyLinks, Revocation, StoreError, UserChanges, email_key,
};

const COLLECTION: &str = "directus_users";
pub use crate::domain::text::MAX_NAME_CHARS;

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
/// `validation` must hold (`$NOW` in them is `now`). Pure.
pub fn authorize(
    accountability: &Accountability,
    body: Map<String, Value>,
    now: Now,
) -> Result<Map<String, Value>, ApiError> {
    authorize_write(accountability, "create", body, None, now)
}

/// The rules of [`authorize`] for `action` (`create`, or `update` of `existing`, which only
/// permissions whose item filter matches it apply to). The one code path for every write to
/// `directus_users`. Filters and validations take `$NOW` as `now`. Pure.
pub fn authorize_write(
    accountability: &Accountability,
    action: &str,
    body: Map<String, Value>,
    existing: Option<&Map<String, Value>>,
    now: Now,
) -> Result<Map<String, Value>, ApiError> {
    if accountability.admin {
        return Ok(body);
    }
    let context = accountability.filter_context(now.millis());
    let mut permissions: Vec<_> = accountability
        .permissions
        .iter()
        .filter(|p| p.collection == COLLECTION && p.action == action)
        .collect();
    if permissions.is_empty() {
        return Err(ApiError::forbidden_collection(COLLECTION));
    }
    if let Some(row) = existing {
        permissions.retain(|p| match &p.permissions {
            Some(rule) if rule.as_object().is_some_and(|o| !o.is_empty()) => {
                filter::matches(rule, row, &context).unwrap_or(false)
            }
            _ => true,
        });
        if permissions.is_empty() {
            return Err(ApiError::forbidden());
        }
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
        .is_some_and(|v| v.chars().any(text::is_control))
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

fn email_field(payload: &Map<String, Value>) -> Result<Option<String>, ApiError> {
    let Some(email) = string_field(payload, "email", text::MAX_EMAIL_CHARS)? else {
        return Ok(None);
    };
    if !text::valid_email(email.trim_matches(' ')) {
        return Err(ApiError::FailedValidation {
            field: "email".into(),
            kind: "email",
            detail: "Value has to be a valid email address.".into(),
        });
    }
    Ok(Some(email.trim_matches(' ').to_owned()))
}

fn password_field(payload: &Map<String, Value>) -> Result<Option<Sensitive>, ApiError> {
    if !payload.contains_key("password") {
        return Ok(None);
    }
    string_field(payload, "password", MAX_PASSWORD_CHARS)?
        .filter(|p| !p.is_empty())
        .map(|p| Some(Sensitive::new(p)))
        .ok_or_else(|| required("password"))
}

fn status_field(payload: &Map<String, Value>) -> Result<Option<UserStatus>, ApiError> {
    match payload.get("status") {
        None | Some(Value::Null) => Ok(None),
        Some(value) => serde_json::from_value(value.clone()).map(Some).map_err(|_| ApiError::FailedValidation {
            field: "status".into(),
            kind: "in",
            detail: "Value has to be one of draft, invited, unverified, active, suspended, archived.".into(),
        }),
    }
}

/// Reads the authorized payload into the user to write. Pure.
pub fn parse_payload(payload: &Map<String, Value>) -> Result<UserPayload, ApiError> {
    let email = email_field(payload)?.ok_or_else(|| required("email"))?;
    let password = password_field(payload)?.ok_or_else(|| required("password"))?;
    Ok(UserPayload {
        email,
        password,
        status: status_field(payload)?.unwrap_or(UserStatus::Active),
        role: string_field(payload, "role", 64)?,
        first_name: name_field(payload, "first_name")?,
        last_name: name_field(payload, "last_name")?,
        policies: policy_ids(payload.get("policies"))?,
    })
}

/// Fields of a user a write may change here; any other key is refused as Directus refuses
/// `tfa_secret` (400, nothing written). `policies` only where the caller may link policies
/// (administrators' `PATCH /users/{id}`), never on a user's own row.
const UPDATABLE: [&str; 7] = [
    "email",
    "password",
    "status",
    "role",
    "first_name",
    "last_name",
    "policies",
];

/// A parsed update of a user (`PATCH /users/{id}`, `PATCH /users/me`): the profile changes, a
/// new password (plain text, still to be checked against the policy and hashed), new policies.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UserUpdate {
    pub changes: UserChanges,
    pub password: Option<Sensitive>,
    pub policies: Option<Vec<String>>,
}

/// Reads an authorized update payload, validated with the same rules as creation
/// ([`parse_payload`]); `policies` is accepted only when `may_link_policies`. The one parser of
/// every update of `directus_users`. Pure.
pub fn parse_update(
    payload: &Map<String, Value>,
    may_link_policies: bool,
) -> Result<UserUpdate, ApiError> {
    if let Some(key) = payload.keys().find(|k| {
        !UPDATABLE.contains(&k.as_str()) || (!may_link_policies && k.as_str() == "policies")
    }) {
        return Err(ApiError::payload(format!(
            "You can't change the \"{key}\" value manually"
        )));
    }
    if payload.get("email").is_some_and(Value::is_null) {
        return Err(required("email"));
    }
    if payload.get("status").is_some_and(Value::is_null) {
        return Err(required("status"));
    }
    let optional =
        |field: &str, value: Option<String>| payload.contains_key(field).then_some(value);
    let policies = match payload.contains_key("policies") {
        true => Some(policy_ids(payload.get("policies"))?),
        false => None,
    };
    Ok(UserUpdate {
        changes: UserChanges {
            email: email_field(payload)?,
            status: status_field(payload)?,
            role: optional("role", string_field(payload, "role", 64)?),
            first_name: optional("first_name", name_field(payload, "first_name")?),
            last_name: optional("last_name", name_field(payload, "last_name")?),
            ..UserChanges::default()
        },
        password: password_field(payload)?,
        policies,
    })
}

/// Checks what an update refers to and prepares it, for both `PATCH /users/{id}` and
/// `PATCH /users/me`: a role and policies must exist (400 INVALID_FOREIGN_KEY); a new password
/// must meet the password policy, and comes back hashed.
async fn checked_update(
    state: &AppState,
    passwords: &Passwords,
    update: &UserUpdate,
) -> Result<Option<Sensitive>, ApiError> {
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
    let Some(password) = &update.password else {
        return Ok(None);
    };
    let settings = state
        .access
        .settings(&state.store, &state.config.default_settings)
        .await?;
    crate::credential::password::enforce_policy(password, &settings)?;
    let hash = passwords
        .hash(password)
        .await
        .map_err(|e| ApiError::Internal(Box::new(e)))?;
    Ok(Some(hash))
}

/// Writes `changes` to `user` (as read just before): a taken email is 400
/// RECORD_NOT_UNIQUE; a user changed by another request meanwhile is 503 (nothing written;
/// the client may retry).
async fn write_changes(
    state: &AppState,
    user: &User,
    changes: &UserChanges,
) -> Result<(), ApiError> {
    match state.store.update_user(user, changes).await {
        Ok(()) => Ok(()),
        Err(StoreError::AlreadyExists) => {
            Err(email_taken(changes.email.as_deref().unwrap_or_default()))
        }
        Err(StoreError::Stale) => Err(ApiError::ServiceUnavailable {
            service: "database",
            reason: "The user changed while it was being updated, try again",
            cause: None,
        }),
        Err(other) => Err(other.into()),
    }
}

/// `directus_users` as this API stores it: the fields a read may name. The password and
/// `tfa_secret` are concealed fields (`"**********"` when set, `null` when not); the hash and
/// the secret never leave the store. The user directory (`GET /users`) has no `tfa_secret`
/// (its index holds no second-factor state: `flows::user_rows`).
pub fn schema() -> Collection {
    let field = |name: &str, field_type: &str| FieldDef {
        field: name.into(),
        field_type: field_type.into(),
        schema: None,
    };
    Collection {
        collection: COLLECTION.into(),
        primary_key: "id".into(),
        fields: vec![
            field("id", "uuid"),
            field("first_name", "string"),
            field("last_name", "string"),
            field("email", "string"),
            field("password", "hash"),
            field("status", "string"),
            field("role", "uuid"),
            field("tfa_secret", "hash"),
        ],
    }
}

/// A user as a row of `directus_users`, password concealed: what every read works on.
pub fn row(user: &User) -> Map<String, Value> {
    let mut row = Map::new();
    row.insert("id".into(), json!(user.id));
    row.insert("first_name".into(), json!(user.first_name));
    row.insert("last_name".into(), json!(user.last_name));
    row.insert("email".into(), json!(user.email));
    row.insert(
        "password".into(),
        if user.password.is_some() {
            json!(CONCEALED)
        } else {
            Value::Null
        },
    );
    row.insert("status".into(), json!(user.status));
    row.insert("role".into(), json!(user.role));
    // Concealed as the password: whether a second factor is set, never the secret.
    row.insert(
        "tfa_secret".into(),
        if user.two_factor.is_some() {
            json!(CONCEALED)
        } else {
            Value::Null
        },
    );
    row
}

use crate::flows::directory::CONCEALED;

/// The fields Directus' app-access minimal permissions let a user read of their own row (those
/// this API stores).
const APP_MINIMAL_FIELDS: [&str; 8] = [
    "id",
    "first_name",
    "last_name",
    "email",
    "password",
    "status",
    "role",
    "tfa_secret",
];

/// The caller's permissions plus, for app-access users, Directus' minimal read of their own
/// `directus_users` row (`with-app-minimal-permissions.ts`).
pub fn with_app_minimal(accountability: &Accountability) -> Accountability {
    let mut accountability = accountability.clone();
    if accountability.app && !accountability.admin {
        accountability.permissions.push(Permission {
            id: "app-minimal".into(),
            policy: String::new(),
            collection: COLLECTION.into(),
            action: "read".into(),
            fields: APP_MINIMAL_FIELDS.iter().map(|f| (*f).to_owned()).collect(),
            permissions: Some(json!({"id": {"_eq": "$CURRENT_USER"}})),
            presets: None,
            validation: None,
        });
    }
    accountability
}

/// The caller's own row as their read permissions show it, with the request's `fields`
/// (`None`: `*`). A field path into a relation (`role.name`) is dropped, as Directus drops
/// relations into collections the caller cannot read; when nothing else was asked for the item
/// collapses to its id. `FORBIDDEN` when no permission lets them read the row or a field.
/// Permission filters take `$NOW` as `now`. Pure.
pub fn own_view(
    accountability: &Accountability,
    user: &User,
    fields: Option<&[String]>,
    now: Now,
) -> Result<Value, ApiError> {
    let plain: Option<Vec<String>> =
        fields.map(|f| f.iter().filter(|f| !f.contains('.')).cloned().collect());
    if plain.as_ref().is_some_and(Vec::is_empty) && fields.is_some_and(|f| !f.is_empty()) {
        let plan = ReadPlan::new(accountability, schema(), None, now.millis())?;
        plan.visible_row(&row(user))
            .ok_or_else(ApiError::forbidden)?;
        return Ok(json!(user.id));
    }
    let plan = ReadPlan::new(accountability, schema(), plain.as_deref(), now.millis())?;
    let visible = plan
        .visible_row(&row(user))
        .ok_or_else(ApiError::forbidden)?;
    Ok(Value::Object(plan.project(&visible)))
}

/// The caller's own row (`GET /users/me`, GraphQL's `users_me`) with `fields` (`None`: `*`):
/// never 403 for a user; without read permission on their row, `{"id"}`. Seen at `now`.
pub async fn read_me(
    state: &AppState,
    claims: &AccessClaims,
    fields: Option<&[String]>,
    now: Now,
) -> Result<Value, ApiError> {
    let accountability = crate::flows::access::accountability(state, Some(claims)).await?;
    let user = state
        .store
        .get_user(&claims.id)
        .await?
        .ok_or(ApiError::InvalidCredentials)?;
    match own_view(&with_app_minimal(&accountability), &user, fields, now) {
        Ok(data) => Ok(data),
        Err(ApiError::Forbidden(_)) => Ok(json!({ "id": user.id })),
        Err(other) => Err(other),
    }
}

/// `PATCH /users/me`: the caller's `update` permissions on their own row decide (fields,
/// presets, validation: [`authorize_write`]); values are checked as on creation. A password
/// change is checked against the policy and hashed, and ends every other session of the user:
/// one write stamps `tokens_valid_after`/`sessions_valid_after` and keeps the session that made
/// the change (`kept_session`), then the other sessions are deleted. A role or status change
/// ends all sessions, the caller's too (its token names the old role). Then the row is read
/// back with the request's `fields`; a caller who may update but not read gets 403 after the
/// write, as in Directus. Limits, permissions and the read back are taken at `now`.
pub async fn update_me(
    state: &AppState,
    passwords: &Passwords,
    claims: &AccessClaims,
    body: Map<String, Value>,
    fields: Option<&[String]>,
    client: &Client,
    now: Now,
) -> Result<Value, ApiError> {
    let accountability = crate::flows::access::accountability(state, Some(claims)).await?;
    let user = state
        .store
        .get_user(&claims.id)
        .await?
        .ok_or(ApiError::InvalidCredentials)?;
    crate::flows::caller::still_valid(claims, &user)?;
    let payload = authorize_write(&accountability, "update", body, Some(&row(&user)), now)?;
    let update = parse_update(&payload, false)?;
    if update.password.is_some() {
        // Hashing is the expensive part: limited per client address before it.
        crate::flows::limits::enforce(
            state,
            client,
            crate::flows::limits::Limited::PasswordChange,
            now,
        )
        .await?;
    }
    if update
        .changes
        .email
        .as_deref()
        .is_some_and(|email| email.trim().to_lowercase() != user.email.trim().to_lowercase())
    {
        // A taken address answers RECORD_NOT_UNIQUE, as in Directus, which tells that it is
        // registered: email changes draw on the registration budget (5 a minute per address
        // by default), the same pace at which registration itself could be probed.
        crate::flows::limits::enforce(state, client, crate::flows::limits::Limited::Register, now)
            .await?;
    }
    let password_hash = checked_update(state, passwords, &update).await?;
    let mut changes = update.changes;
    let changes_access = changes.role.as_ref().is_some_and(|r| *r != user.role)
        || changes.status.is_some_and(|s| s != user.status);
    let keep = if changes_access {
        None
    } else {
        claims.session_id().map(str::to_owned)
    };
    let revocation =
        (password_hash.is_some() || changes_access).then(|| Revocation { keep: keep.clone() });
    changes.password_hash = password_hash;
    changes.revocation = revocation.clone();
    // Only onto the row the token was just checked against.
    changes.unchanged_since = Some(user.updated_at);
    write_changes(state, &user, &changes).await?;
    if revocation.is_some() {
        let ended = state
            .store
            .revoke_user_sessions_except(&user.id, keep.as_deref())
            .await?;
        tracing::info!(user = %user.id, ended, kept = ?keep, "own password or access changed; other sessions ended");
    }
    let updated = state
        .store
        .get_user(&user.id)
        .await?
        .ok_or(ApiError::InvalidCredentials)?;
    own_view(&with_app_minimal(&accountability), &updated, fields, now)
}

/// What an administrator gets back: the user as Directus shows it, password concealed.
fn user_view(user: &User, policies: &[String]) -> Value {
    json!({
        "id": user.id,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "email": user.email,
        "password": CONCEALED,
        "status": user.status,
        "role": user.role,
        "tfa_secret": user.two_factor.as_ref().map(|_| CONCEALED),
        "policies": policies,
    })
}

/// What a creation returns: the user as an administrator sees it, or nothing for a caller who
/// may create but not read users (Directus' 204; GraphQL's `true`).
#[derive(Debug, Clone, PartialEq)]
pub enum Created {
    Visible(Value),
    Hidden,
}

/// `POST /users` and GraphQL's `create_users_item`: the caller's create permissions decide
/// (fields, presets, validation); anyone but an administrator draws on the registration budget
/// of their address before any hashing, and a taken email answers as a new one. A caller with
/// no user is registering by another door: the rule of public registration applies as well
/// (`registration::admit`: registration open, the email filter, and with verification on an
/// unverified account and a mail, exactly as `users/register` does). All of it at `now`.
pub async fn create(
    state: &AppState,
    passwords: &Passwords,
    claims: Option<&AccessClaims>,
    body: Map<String, Value>,
    client: &Client,
    now: Now,
) -> Result<Created, ApiError> {
    let accountability = crate::flows::access::accountability(state, claims).await?;
    // Creation by anyone but an administrator is self-registration by another door: it shares
    // the registration budget per client address, checked before any hashing.
    if !accountability.admin {
        crate::flows::limits::enforce(state, client, crate::flows::limits::Limited::Register, now)
            .await?;
    }
    let checked = check_create(state, &accountability, claims.is_none(), body, now).await?;
    write_create(state, passwords, claims, &accountability, checked, now).await
}

/// The most users one `create_users_items` creates (each costs a password hash).
pub const MAX_CREATE_MANY: usize = 25;

/// Why [`create_many`] stopped: `created` of the items (the first ones, in order) were
/// created before `error`; 0 when it refused the list before any write.
#[derive(Debug)]
pub struct CreateManyError {
    pub created: usize,
    pub error: ApiError,
}

/// GraphQL's `create_users_items`: at most [`MAX_CREATE_MANY`] items; every item is checked
/// (permissions, presets, validation, references, password policy, no address twice) before
/// any is written, then each is created in order as [`create`] creates one (the registration
/// budget drawn per item). Not atomic: a failure part-way (a rate limit, a taken email for an
/// administrator, an unavailable store) leaves the items before it created, and says how many.
/// Every item at `now`, the request's one instant.
pub async fn create_many(
    state: &AppState,
    passwords: &Passwords,
    claims: Option<&AccessClaims>,
    bodies: Vec<Map<String, Value>>,
    client: &Client,
    now: Now,
) -> Result<usize, CreateManyError> {
    let refused = |error: ApiError| CreateManyError { created: 0, error };
    if bodies.len() > MAX_CREATE_MANY {
        return Err(refused(ApiError::payload(format!(
            "\"data\" must contain less than or equal to {MAX_CREATE_MANY} items"
        ))));
    }
    let accountability = crate::flows::access::accountability(state, claims)
        .await
        .map_err(refused)?;
    let anonymous = claims.is_none();
    if anonymous && bodies.len() > 1 {
        // Each registration verified by email answers at its own fixed moment (so that its
        // timing cannot tell whether a mail went out): several would add up past the request's
        // time budget. One at a time, as `users/register` takes them.
        let settings = state
            .access
            .settings(&state.store, &state.config.default_settings)
            .await
            .map_err(|error| refused(error.into()))?;
        if settings.public_registration_verify_email {
            return Err(refused(ApiError::payload(
                "\"data\" must contain at most 1 item while registrations are verified by email",
            )));
        }
    }
    let mut payloads: Vec<Checked> = Vec::with_capacity(bodies.len());
    for body in bodies {
        let checked = check_create(state, &accountability, anonymous, body, now)
            .await
            .map_err(refused)?;
        if payloads
            .iter()
            .any(|p| email_key(&p.payload.email) == email_key(&checked.payload.email))
        {
            return Err(refused(ApiError::payload(
                "\"data\" contains the same email more than once",
            )));
        }
        payloads.push(checked);
    }
    let mut created = 0;
    for payload in payloads {
        let outcome = async {
            if !accountability.admin {
                crate::flows::limits::enforce(
                    state,
                    client,
                    crate::flows::limits::Limited::Register,
                    now,
                )
                .await?;
            }
            write_create(state, passwords, claims, &accountability, payload, now).await
        }
        .await;
        match outcome {
            Ok(_) => created += 1,
            Err(error) => {
                tracing::warn!(created, %error, "create_users_items stopped part-way");
                return Err(CreateManyError { created, error });
            }
        }
    }
    Ok(created)
}

/// A payload [`check_create`] accepted, and for a caller with no user, how public registration
/// opens its account.
struct Checked {
    payload: UserPayload,
    registration: Option<crate::flows::registration::Admitted>,
}

/// Everything [`create`] checks before hashing: the caller's permissions and presets, the
/// payload, that the role and policies exist, for a caller with no user (`anonymous`) the rule
/// of public registration, and the password policy. Writes nothing.
async fn check_create(
    state: &AppState,
    accountability: &Accountability,
    anonymous: bool,
    body: Map<String, Value>,
    now: Now,
) -> Result<Checked, ApiError> {
    let payload = parse_payload(&authorize(accountability, body, now)?)?;

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
    let registration = anonymous
        .then(|| crate::flows::registration::admit(state, &settings, &payload.email, now))
        .transpose()?;
    crate::credential::password::enforce_policy(&payload.password, &settings)?;
    Ok(Checked {
        payload,
        registration,
    })
}

/// Hashes and writes a checked payload: a taken email is `RECORD_NOT_UNIQUE` for
/// administrators and answers as a new one to everyone else. A public registration's account is
/// opened as `users/register` opens one, and answers as a new one whatever happened.
async fn write_create(
    state: &AppState,
    passwords: &Passwords,
    claims: Option<&AccessClaims>,
    accountability: &Accountability,
    checked: Checked,
    now: Now,
) -> Result<Created, ApiError> {
    let Checked {
        payload,
        registration,
    } = checked;
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
    if let Some(registration) = registration {
        // No `verification_url` here (not a field of users): the link is PUBLIC_URL's.
        registration.open(state, new_user, None, now).await?;
        return Ok(Created::Hidden);
    }
    match state.store.create_user(new_user).await {
        Ok(user) => {
            tracing::info!(user = %user.id, by = ?claims.map(|c| &c.id), "user created");
            if accountability.admin {
                Ok(Created::Visible(user_view(&user, &payload.policies)))
            } else {
                // The caller may create but not read users: Directus answers 204.
                Ok(Created::Hidden)
            }
        }
        Err(StoreError::AlreadyExists) if accountability.admin => Err(ApiError::RecordNotUnique {
            collection: COLLECTION,
            field: "email",
            value: payload.email.to_lowercase(),
        }),
        Err(StoreError::AlreadyExists) => {
            tracing::info!("public user creation for a taken email");
            Ok(Created::Hidden)
        }
        Err(other) => Err(other.into()),
    }
}

/// Administrators only: anyone else is refused as Directus refuses a caller with no
/// permission on the collection. The administrator's accountability, for [`update`] and
/// [`delete`]: a transport checks this before it parses the rest of the request.
/// Proof that the caller is an administrator whose token still stands: only [`administrator`]
/// makes one, and the administrators' writes ([`update`], [`delete`]) take it, so no transport
/// can reach them with a caller it did not check.
#[derive(Debug, Clone)]
pub struct Administrator(std::sync::Arc<Accountability>);

impl Administrator {
    pub fn accountability(&self) -> &Accountability {
        &self.0
    }
}

pub async fn administrator(
    state: &AppState,
    claims: Option<&AccessClaims>,
) -> Result<Administrator, ApiError> {
    let accountability = crate::flows::access::accountability(state, claims).await?;
    if !accountability.admin {
        return Err(ApiError::forbidden_collection(COLLECTION));
    }
    // Writes to other users: the administrator's own standing read fresh, not from the cache.
    if let Some(claims) = claims {
        let me = state
            .store
            .get_user(&claims.id)
            .await?
            .ok_or(ApiError::InvalidCredentials)?;
        crate::flows::caller::still_valid(claims, &me)?;
    }
    Ok(Administrator(accountability))
}

/// The user `/users/{id}` names, if there is one. Not a UUID: no user, and no read.
async fn target(state: &AppState, id: Option<&str>) -> Result<Option<User>, ApiError> {
    let Some(id) = id
        .and_then(|id| uuid::Uuid::parse_str(id).ok())
        .map(|id| id.hyphenated().to_string())
    else {
        return Ok(None);
    };
    Ok(state.store.get_user(&id).await?)
}

/// `PATCH /users/{id}` (administrators): names, email, role, status, password, policies. Every
/// check comes before any write: the role and policies exist, the password meets the policy,
/// the new email is no other user's (400 RECORD_NOT_UNIQUE, the user untouched). Then one
/// transaction writes everything ([`admin_changes`]): the profile, the email claim, the policy
/// links, the new hash and, for a new password or a change of role or status, the revocation
/// cut-off that ends the user's sessions and earlier access tokens; a failure writes nothing.
/// Only then are the ended sessions' items deleted: the cut-off already ended them, so a
/// failure there is logged, not answered. An unknown id is `None` (204, as in Directus); else
/// the user as read back with `query` at `now`.
pub async fn update(
    state: &AppState,
    passwords: &Passwords,
    admin: &Administrator,
    id: Option<&str>,
    body: Map<String, Value>,
    query: &ItemsQuery,
    now: Now,
) -> Result<Option<Value>, ApiError> {
    let accountability = admin.accountability();
    // The one write path of `directus_users` (an administrator's payload passes as sent).
    let payload = authorize_write(accountability, "update", body, None, now)?;
    let update = parse_update(&payload, true)?;
    let Some(user) = target(state, id).await? else {
        return Ok(None);
    };
    ensure_email_free(state, &user, update.changes.email.as_deref()).await?;
    let password_hash = checked_update(state, passwords, &update).await?;
    let current_policies = match &update.policies {
        Some(_) => state.store.user_policies(&user.id).await?,
        None => Vec::new(),
    };
    let changes = admin_changes(&user, update, password_hash, &current_policies);
    if !changes.is_empty() {
        write_changes(state, &user, &changes).await?;
    }
    let mut ended = 0;
    if changes.revocation.is_some() {
        match state.store.revoke_user_sessions(&user.id).await {
            Ok(count) => ended = count,
            Err(error) => tracing::error!(
                user = %user.id,
                %error,
                "user updated; its sessions (already ended by the cut-off) could not be deleted"
            ),
        }
    }
    tracing::info!(user = %user.id, by = ?accountability.user, ended, "user updated");
    let body =
        crate::flows::directory::serve(state, accountability, query, Some(&user.id), now).await?;
    Ok(Some(body))
}

/// What an administrator's update of `user` (as read) writes, in one transaction: the parsed
/// changes, the new hash, the policy links that turn `current_policies` into the requested ones
/// and, for a new password or a changed role or status, a revocation that keeps no session
/// (the user's earlier tokens carry the old role). Conditional on the user being unchanged
/// since it was read, so two concurrent updates cannot interleave their policy links. Empty
/// when nothing changes. Pure.
pub fn admin_changes(
    user: &User,
    update: UserUpdate,
    password_hash: Option<Sensitive>,
    current_policies: &[String],
) -> UserChanges {
    let mut changes = update.changes;
    let revokes = password_hash.is_some()
        || changes.role.as_ref().is_some_and(|role| *role != user.role)
        || changes.status.is_some_and(|status| status != user.status);
    changes.password_hash = password_hash;
    changes.revocation = revokes.then_some(Revocation { keep: None });
    changes.policies = update
        .policies
        .map(|wanted| PolicyLinks::between(current_policies, &wanted))
        .filter(|links| !links.is_empty());
    if !changes.is_empty() {
        changes.unchanged_since = Some(user.updated_at);
    }
    changes
}

/// A new address for `user` must be no other user's: 400 RECORD_NOT_UNIQUE before anything is
/// hashed or written. (The write's own condition still refuses an address taken in between,
/// writing nothing.) Administrators only: everyone else's email change draws on the
/// registration budget first.
async fn ensure_email_free(
    state: &AppState,
    user: &User,
    email: Option<&str>,
) -> Result<(), ApiError> {
    let Some(email) = email.filter(|email| email_key(email) != email_key(&user.email)) else {
        return Ok(());
    };
    match state.store.email_holder(email).await? {
        Some(holder) if holder != user.id => Err(email_taken(email)),
        _ => Ok(()),
    }
}

fn email_taken(email: &str) -> ApiError {
    ApiError::RecordNotUnique {
        collection: COLLECTION,
        field: "email",
        value: email.to_lowercase(),
    }
}

/// `DELETE /users/{id}` (administrators): the operator tool's delete (the user, its email
/// claim, every session). An unknown id is no error (204, as in Directus).
pub async fn delete(
    state: &AppState,
    admin: &Administrator,
    id: Option<&str>,
) -> Result<(), ApiError> {
    let accountability = admin.accountability();
    if let Some(user) = target(state, id).await? {
        let ended = crate::flows::provision::apply_account_action(
            &state.store,
            &user,
            crate::flows::provision::AccountAction::Delete,
        )
        .await?;
        tracing::info!(user = %user.id, by = ?accountability.user, ended, "user deleted");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::model::Permission;

    /// The instant of the tests that do not depend on time.
    const AT: Now = Now::from_millis(1_700_000_000_000);

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
            AT,
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
            AT,
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
            AT,
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
            AT,
        )
        .unwrap_err();
        assert_eq!(error.code(), "FAILED_VALIDATION");
        assert!(
            authorize(
                &public,
                body(json!({"email": "a@acme.com", "password": "x"})),
                AT
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
        let payload = authorize(
            &admin,
            body(json!({"email": "a@example.com", "role": "r"})),
            AT,
        )
        .unwrap();
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

    fn own_row(action: &str, fields: &[&str]) -> Permission {
        Permission {
            id: "p".into(),
            policy: "pol".into(),
            collection: COLLECTION.into(),
            action: action.into(),
            fields: fields.iter().map(|f| (*f).to_owned()).collect(),
            permissions: Some(json!({"id": {"_eq": "$CURRENT_USER"}})),
            presets: None,
            validation: None,
        }
    }

    fn user_caller(permissions: Vec<Permission>) -> Accountability {
        Accountability {
            user: Some("u1".into()),
            permissions,
            ..Default::default()
        }
    }

    fn stored_user(id: &str) -> User {
        User {
            id: id.into(),
            email: "ada@example.com".into(),
            password: Some(Sensitive::new(
                "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA",
            )),
            status: UserStatus::Active,
            role: None,
            first_name: Some("Ada".into()),
            last_name: None,
            created_at: 1,
            updated_at: 1,
            tokens_valid_after: None,
            sessions_valid_after: None,
            kept_session: None,
            two_factor: None,
            pending_two_factor: None,
        }
    }

    #[test]
    fn updates_apply_only_permissions_whose_filter_matches_the_row() {
        let caller = user_caller(vec![own_row("update", &["first_name"])]);
        let own = row(&stored_user("u1"));
        let other = row(&stored_user("u2"));
        assert!(
            authorize_write(
                &caller,
                "update",
                body(json!({"first_name": "B"})),
                Some(&own),
                AT
            )
            .is_ok()
        );
        let error = authorize_write(
            &caller,
            "update",
            body(json!({"first_name": "B"})),
            Some(&other),
            AT,
        )
        .unwrap_err();
        assert_eq!(
            error.to_string(),
            "You don't have permission to access this."
        );
        let error = authorize_write(
            &caller,
            "update",
            body(json!({"last_name": "B"})),
            Some(&own),
            AT,
        )
        .unwrap_err();
        assert!(error.to_string().contains("field \"last_name\""), "{error}");
        let reader = user_caller(vec![own_row("read", &["*"])]);
        let error =
            authorize_write(&reader, "update", body(json!({})), Some(&own), AT).unwrap_err();
        assert!(
            error.to_string().contains("collection \"directus_users\""),
            "{error}"
        );
    }

    #[test]
    fn changes_use_the_creation_rules_and_refuse_other_keys() {
        assert_eq!(
            parse_update(&body(json!({})), false).unwrap(),
            UserUpdate::default()
        );
        let update = parse_update(
            &body(json!({"first_name": null, "last_name": "L", "email": " b@example.com "})),
            false,
        )
        .unwrap();
        let changes = update.changes;
        assert_eq!(changes.first_name, Some(None));
        assert_eq!(changes.last_name, Some(Some("L".into())));
        assert_eq!(changes.email.as_deref(), Some("b@example.com"));
        assert_eq!(changes.role, None);
        for bad in [
            json!({"email": "nope"}),
            json!({"email": null}),
            json!({"password": ""}),
            json!({"status": "boss"}),
            json!({"status": null}),
            json!({"first_name": "a\u{1}"}),
        ] {
            for may_link_policies in [false, true] {
                assert_eq!(
                    parse_update(&body(bad.clone()), may_link_policies)
                        .unwrap_err()
                        .code(),
                    "FAILED_VALIDATION",
                    "{bad}"
                );
            }
        }
        let error = parse_update(&body(json!({"tfa_secret": "x"})), true).unwrap_err();
        assert_eq!(
            error.to_string(),
            "Invalid payload. You can't change the \"tfa_secret\" value manually."
        );
        // Policies: an administrator's change (each once), never a change of one's own row.
        assert!(parse_update(&body(json!({"policies": []})), false).is_err());
        let linked = parse_update(
            &body(json!({"policies": ["p", {"policy": "p"}, "q"]})),
            true,
        )
        .unwrap();
        assert_eq!(linked.policies, Some(vec!["p".into(), "q".into()]));
    }

    #[test]
    fn an_administrators_update_is_one_write_that_revokes_only_when_access_changes() {
        let user = User {
            role: Some("r1".into()),
            updated_at: 42,
            ..stored_user("u1")
        };
        let parsed = |payload: Value| parse_update(&body(payload), true).unwrap();
        let hash = || Some(Sensitive::new("$argon2id$new"));

        // Nothing asked: nothing written.
        let nothing = admin_changes(&user, parsed(json!({})), None, &[]);
        assert!(nothing.is_empty(), "{nothing:?}");
        // The same role, status and policies: no revocation, no links.
        let same = admin_changes(
            &user,
            parsed(json!({"role": "r1", "status": "active", "policies": ["p"]})),
            None,
            &["p".to_owned()],
        );
        assert_eq!(same.revocation, None);
        assert_eq!(same.policies, None);
        // A name: written on the row as read, nothing revoked.
        let named = admin_changes(&user, parsed(json!({"first_name": "Bea"})), None, &[]);
        assert_eq!(named.first_name, Some(Some("Bea".into())));
        assert_eq!(named.revocation, None);
        assert_eq!(named.unchanged_since, Some(42));
        // A new role, status or password ends every session, none kept.
        for (payload, password) in [
            (json!({"role": "r2"}), None),
            (json!({"role": null}), None),
            (json!({"status": "suspended"}), None),
            (json!({"first_name": "Bea"}), hash()),
        ] {
            let changes = admin_changes(&user, parsed(payload.clone()), password, &[]);
            assert_eq!(
                changes.revocation,
                Some(Revocation { keep: None }),
                "{payload}"
            );
            assert_eq!(changes.unchanged_since, Some(42));
        }
        // Everything at once, in the one change: profile, hash, links and the cut-off.
        let all = admin_changes(
            &user,
            parsed(json!({"email": "new@example.com", "role": "r2", "policies": ["q"]})),
            hash(),
            &["p".to_owned()],
        );
        assert_eq!(all.email.as_deref(), Some("new@example.com"));
        assert_eq!(all.role, Some(Some("r2".into())));
        assert!(all.password_hash.is_some());
        assert_eq!(
            all.policies,
            Some(PolicyLinks {
                unlink: vec!["p".into()],
                link: vec!["q".into()],
            })
        );
        assert!(all.revocation.is_some());
    }

    #[test]
    fn own_view_never_shows_the_hash() {
        let user = stored_user("u1");
        let admin = Accountability {
            admin: true,
            ..Default::default()
        };
        for fields in [
            None,
            Some(vec!["*".to_owned()]),
            Some(vec!["password".to_owned()]),
        ] {
            let view = own_view(&admin, &user, fields.as_deref(), AT).unwrap();
            assert_eq!(view["password"], json!("**********"));
            assert!(!view.to_string().contains("argon2"));
        }
        let reader = user_caller(vec![own_row("read", &["id", "email"])]);
        assert_eq!(
            own_view(&reader, &user, None, AT).unwrap(),
            json!({"id": "u1", "email": "ada@example.com"})
        );
        assert_eq!(
            own_view(&reader, &user, Some(&["role.name".to_owned()]), AT).unwrap(),
            json!("u1")
        );
        assert_eq!(
            own_view(&reader, &user, Some(&["password".to_owned()]), AT)
                .unwrap_err()
                .code(),
            "FORBIDDEN"
        );
        // Someone else's row is not "me" for a filtered permission.
        assert_eq!(
            own_view(&reader, &stored_user("u2"), None, AT)
                .unwrap_err()
                .code(),
            "FORBIDDEN"
        );
        // App access adds the minimal read of the own row.
        let app = Accountability {
            user: Some("u1".into()),
            app: true,
            ..Default::default()
        };
        assert!(own_view(&app, &user, None, AT).is_err());
        let view = own_view(&with_app_minimal(&app), &user, None, AT).unwrap();
        assert_eq!(view["password"], json!("**********"));
        assert_eq!(view["first_name"], json!("Ada"));
    }
}
