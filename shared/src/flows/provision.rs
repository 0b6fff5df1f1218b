//! Applies a declarative access configuration (`infra/seed.json`: collections and their items,
//! roles, policies with permissions, public access, settings) to the store. Every write is a
//! put of a fixed key, so applying the same document twice changes nothing.

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::credential::password::Passwords;
use crate::domain::model::{
    Collection, FieldDef, Permission, Policy, Role, Settings, User, UserStatus,
};
use crate::domain::sensitive::Sensitive;
use crate::domain::value_order::ValueKind;
use crate::store::{
    DirectoryUser, NewUser, Revocation, Store, StoreError, UserChanges, item_sort_key,
};

#[derive(Debug, thiserror::Error)]
pub enum ProvisionError {
    #[error("configuration document is invalid: {0}")]
    Invalid(String),
    #[error("{0}")]
    Refused(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Document {
    #[serde(default)]
    pub collections: Vec<CollectionSpec>,
    #[serde(default)]
    pub policies: Vec<PolicySpec>,
    #[serde(default)]
    pub roles: Vec<RoleSpec>,
    /// Policies that apply to unauthenticated requests (and users without a role).
    #[serde(default)]
    pub public_policies: Vec<String>,
    pub settings: Option<Settings>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CollectionSpec {
    pub collection: String,
    pub primary_key: String,
    pub fields: Vec<FieldDef>,
    #[serde(default)]
    pub items: Vec<Map<String, Value>>,
}

impl CollectionSpec {
    /// The schema the functions read.
    pub fn schema(&self) -> Collection {
        Collection {
            collection: self.collection.clone(),
            primary_key: self.primary_key.clone(),
            fields: self.fields.clone(),
        }
    }

    /// Indexes only on scalar fields other than the primary key (whose order is the
    /// collection's own), with names that keep index partitions apart.
    fn validate_indexes(&self) -> Result<(), ProvisionError> {
        let indexed: Vec<&FieldDef> = self.fields.iter().filter(|f| f.is_indexed()).collect();
        let invalid = |m: String| Err(ProvisionError::Invalid(m));
        if indexed.len() > MAX_INDEXED_FIELDS {
            return invalid(format!(
                "collection {}: at most {MAX_INDEXED_FIELDS} indexed fields",
                self.collection
            ));
        }
        if !indexed.is_empty() && self.collection.contains('#') {
            return invalid(format!(
                "collection {}: a collection with indexes cannot have # in its name",
                self.collection
            ));
        }
        for field in indexed {
            if field.field == self.primary_key {
                return invalid(format!(
                    "collection {}: the primary key {} is not indexed (items are read in its order already)",
                    self.collection, field.field
                ));
            }
            if !INDEXABLE_TYPES.contains(&field.field_type.as_str()) {
                return invalid(format!(
                    "collection {}: field {} of type {} cannot be indexed",
                    self.collection, field.field, field.field_type
                ));
            }
            if field.field.contains('#') {
                return invalid(format!(
                    "collection {}: an indexed field cannot have # in its name ({})",
                    self.collection, field.field
                ));
            }
        }
        Ok(())
    }

    /// Writes the schema and the items. A newly declared index is built first from every
    /// stored item (its partition cleared of entries an earlier declaration may have left),
    /// while readers still see the schema without it; the full schema is written once the
    /// index holds every item.
    async fn apply(&self, store: &Store) -> Result<(), ProvisionError> {
        let declared = self.schema();
        let built: Vec<String> = store
            .collection(&self.collection)
            .await?
            .map(|stored| stored.indexed_fields())
            .unwrap_or_default();
        let mut readable_now = declared.clone();
        for field in &mut readable_now.fields {
            if field.is_indexed() && !built.contains(&field.field) {
                field.schema = None;
            }
        }
        let new_indexes: Vec<String> = declared
            .indexed_fields()
            .into_iter()
            .filter(|f| !built.contains(f))
            .collect();
        store.put_collection(&readable_now).await?;
        let indexed = declared.indexed_fields();
        if !new_indexes.is_empty() {
            for field in &new_indexes {
                store.clear_index(&self.collection, field).await?;
            }
            let mut start = None;
            loop {
                let page = store
                    .items_page_consistent(&self.collection, start, 100)
                    .await?;
                write_items(store, &declared, &indexed, page.items).await?;
                match page.next {
                    Some(next) => start = Some(next),
                    None => break,
                }
            }
        }
        write_items(store, &declared, &indexed, self.items.clone()).await?;
        if readable_now != declared {
            store.put_collection(&declared).await?;
        }
        Ok(())
    }
}

/// Writes items with their index entries, [`APPLY_CONCURRENCY`] at a time.
async fn write_items(
    store: &Store,
    collection: &Collection,
    indexed: &[String],
    items: Vec<Map<String, Value>>,
) -> Result<(), ProvisionError> {
    let mut writes = tokio::task::JoinSet::new();
    for item in items {
        check_indexed_values(collection, &item)?;
        let key = item
            .get(&collection.primary_key)
            .and_then(item_sort_key)
            .ok_or_else(|| {
                ProvisionError::Invalid(format!(
                    "collection {}: an item lacks a usable primary key {}",
                    collection.collection, collection.primary_key
                ))
            })?;
        if writes.len() >= APPLY_CONCURRENCY
            && let Some(done) = writes.join_next().await
        {
            done.map_err(|e| ProvisionError::Refused(e.to_string()))??;
        }
        let (store, name, indexed) = (
            store.clone(),
            collection.collection.clone(),
            indexed.to_vec(),
        );
        writes.spawn(async move { store.put_item(&name, key, item, &indexed).await });
    }
    while let Some(done) = writes.join_next().await {
        done.map_err(|e| ProvisionError::Refused(e.to_string()))??;
    }
    Ok(())
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicySpec {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub admin_access: bool,
    #[serde(default)]
    pub app_access: bool,
    /// Its users must set up a second factor before anything else.
    #[serde(default)]
    pub enforce_tfa: bool,
    #[serde(default)]
    pub permissions: Vec<PermissionSpec>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PermissionSpec {
    pub collection: String,
    pub action: String,
    pub fields: Vec<String>,
    #[serde(default)]
    pub permissions: Option<Value>,
    #[serde(default)]
    pub presets: Option<Value>,
    #[serde(default)]
    pub validation: Option<Value>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoleSpec {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub parent: Option<String>,
    #[serde(default)]
    pub policies: Vec<String>,
}

const ACTIONS: [&str; 4] = ["create", "read", "update", "delete"];
/// Field types that may be indexed: scalars whose stored values have one JSON kind.
const INDEXABLE_TYPES: [&str; 10] = [
    "string",
    "integer",
    "bigInteger",
    "float",
    "decimal",
    "boolean",
    "dateTime",
    "timestamp",
    "date",
    "uuid",
];
/// Each index adds up to two actions to an item's transaction (at most 100 actions).
const MAX_INDEXED_FIELDS: usize = 16;
/// Item writes of one collection in flight at once while applying (each a transaction). One:
/// every new item's transaction adds to the collection's count item, and DynamoDB cancels
/// concurrent transactions on one item (TransactionConflict), which the retries would not
/// outlast on a large document (dynoxide serialises transactions, so it never shows this).
const APPLY_CONCURRENCY: usize = 1;

/// Refuses an item whose indexed values have another kind than their field's type, or are
/// too long to index.
fn check_indexed_values(
    collection: &Collection,
    item: &Map<String, Value>,
) -> Result<(), ProvisionError> {
    for field in collection.fields.iter().filter(|f| f.is_indexed()) {
        let value = item.get(&field.field).unwrap_or(&Value::Null);
        let kind = ValueKind::of(value);
        if kind != ValueKind::Null && kind != ValueKind::of_type(&field.field_type) {
            return Err(ProvisionError::Invalid(format!(
                "collection {}: indexed field {} ({}) has the value {value} of another type",
                collection.collection, field.field, field.field_type
            )));
        }
        if crate::store::index_entry_key(value, "n#00000000000000000000").is_err() {
            return Err(ProvisionError::Invalid(format!(
                "collection {}: a value of indexed field {} is longer than an index allows",
                collection.collection, field.field
            )));
        }
    }
    Ok(())
}

impl Document {
    pub fn from_json(text: &str) -> Result<Self, ProvisionError> {
        let document: Self =
            serde_json::from_str(text).map_err(|e| ProvisionError::Invalid(e.to_string()))?;
        document.validate()?;
        Ok(document)
    }

    /// Checks references before anything is written, so a typo cannot leave half a config.
    fn validate(&self) -> Result<(), ProvisionError> {
        let invalid = |m: String| Err(ProvisionError::Invalid(m));
        let policy_ids: Vec<&str> = self.policies.iter().map(|p| p.id.as_str()).collect();
        let role_ids: Vec<&str> = self.roles.iter().map(|r| r.id.as_str()).collect();
        for collection in &self.collections {
            if collection.collection.starts_with("directus_") {
                return invalid(format!(
                    "collection {} uses the reserved directus_ prefix",
                    collection.collection
                ));
            }
            if collection.collection.is_empty() || collection.collection.starts_with('#') {
                return invalid(format!(
                    "collection name {:?} is empty or starts with the reserved #",
                    collection.collection
                ));
            }
            if collection
                .fields
                .iter()
                .all(|f| f.field != collection.primary_key)
            {
                return invalid(format!(
                    "collection {}: primary key {} is not one of its fields",
                    collection.collection, collection.primary_key
                ));
            }
            collection.validate_indexes()?;
            let schema = collection.schema();
            for item in &collection.items {
                let key = item.get(&collection.primary_key).and_then(item_sort_key);
                if key.is_none() {
                    return invalid(format!(
                        "collection {}: an item lacks a usable primary key {}",
                        collection.collection, collection.primary_key
                    ));
                }
                check_indexed_values(&schema, item)?;
            }
        }
        for policy in &self.policies {
            for permission in &policy.permissions {
                if !ACTIONS.contains(&permission.action.as_str()) {
                    return invalid(format!(
                        "policy {}: unknown action {}",
                        policy.name, permission.action
                    ));
                }
            }
        }
        for role in &self.roles {
            if let Some(parent) = &role.parent
                && !role_ids.contains(&parent.as_str())
            {
                return invalid(format!("role {}: unknown parent {parent}", role.name));
            }
            if let Some(policy) = role
                .policies
                .iter()
                .find(|p| !policy_ids.contains(&p.as_str()))
            {
                return invalid(format!("role {}: unknown policy {policy}", role.name));
            }
        }
        if let Some(policy) = self
            .public_policies
            .iter()
            .find(|p| !policy_ids.contains(&p.as_str()))
        {
            return invalid(format!("public_policies: unknown policy {policy}"));
        }
        if let Some(role) = self
            .settings
            .as_ref()
            .and_then(|s| s.public_registration_role.as_ref())
            && !role_ids.contains(&role.as_str())
        {
            return invalid(format!(
                "settings.public_registration_role: unknown role {role}"
            ));
        }
        Ok(())
    }

    pub async fn apply(&self, store: &Store) -> Result<(), ProvisionError> {
        for spec in &self.collections {
            spec.apply(store).await?;
        }
        for spec in &self.policies {
            store
                .put_policy(&Policy {
                    id: spec.id.clone(),
                    name: spec.name.clone(),
                    admin_access: spec.admin_access,
                    app_access: spec.app_access,
                    enforce_tfa: spec.enforce_tfa,
                })
                .await?;
            for (index, permission) in spec.permissions.iter().enumerate() {
                store
                    .put_permission(&Permission {
                        id: index.to_string(),
                        policy: spec.id.clone(),
                        collection: permission.collection.clone(),
                        action: permission.action.clone(),
                        fields: permission.fields.clone(),
                        permissions: permission.permissions.clone(),
                        presets: permission.presets.clone(),
                        validation: permission.validation.clone(),
                    })
                    .await?;
            }
        }
        for spec in &self.roles {
            store
                .put_role(&Role {
                    id: spec.id.clone(),
                    name: spec.name.clone(),
                    parent: spec.parent.clone(),
                })
                .await?;
            for policy in &spec.policies {
                store
                    .put_access(crate::store::access_holder::role(&spec.id), policy)
                    .await?;
            }
        }
        for policy in &self.public_policies {
            store
                .put_access(crate::store::access_holder::public(), policy)
                .await?;
        }
        if let Some(settings) = &self.settings {
            store.put_settings(settings).await?;
        }
        Ok(())
    }
}

/// Creates an active user with `role`, for operators (the first administrator, say): there
/// are no default accounts, and the password never passes through a command line.
pub async fn create_user(
    store: &Store,
    passwords: &Passwords,
    email: &str,
    password: &Sensitive,
    role: Option<&str>,
) -> Result<User, ProvisionError> {
    let email = email.trim();
    if !crate::domain::text::valid_email(email) {
        return Err(ProvisionError::Refused(format!(
            "{email:?} is not a valid email"
        )));
    }
    crate::credential::password::check_policy(password.expose(), None)
        .map_err(|e| ProvisionError::Refused(format!("the password is refused: {e}")))?;
    if let Some(role) = role
        && store.role_access(role).await?.role.is_none()
    {
        return Err(ProvisionError::Refused(format!("there is no role {role}")));
    }
    let password_hash = passwords
        .hash(password)
        .await
        .map_err(|e| ProvisionError::Refused(e.to_string()))?;
    let user = NewUser {
        email: email.to_owned(),
        password_hash,
        status: UserStatus::Active,
        role: role.map(str::to_owned),
        first_name: None,
        last_name: None,
        policies: Vec::new(),
    };
    match store.create_user(user).await {
        Err(StoreError::AlreadyExists) => Err(ProvisionError::Refused(format!(
            "a user with the email {email} already exists"
        ))),
        other => Ok(other?),
    }
}

/// What an administrator can do to an account from the operator tool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountAction {
    /// End every session and refuse access tokens issued until now.
    EndSessions,
    Suspend,
    Delete,
}

async fn existing_user(store: &Store, email: &str) -> Result<User, ProvisionError> {
    store
        .find_user_by_email(email)
        .await?
        .ok_or_else(|| ProvisionError::Refused(format!("there is no user with the email {email}")))
}

/// Ends the user's sessions and refuses their earlier access tokens, then suspends or deletes
/// the account if asked. Returns how many sessions ended.
pub async fn account_action(
    store: &Store,
    email: &str,
    action: AccountAction,
) -> Result<usize, ProvisionError> {
    let user = existing_user(store, email).await?;
    Ok(apply_account_action(store, &user, action).await?)
}

/// [`account_action`] on a user already read: the one code path of the operator tool and of
/// `DELETE /users/{id}`. The revocation is the store's millisecond cut-off (`User::cut_off`),
/// the rule every revocation follows: a login just after it, in the same second, stands.
pub async fn apply_account_action(
    store: &Store,
    user: &User,
    action: AccountAction,
) -> Result<usize, StoreError> {
    match action {
        AccountAction::EndSessions => {}
        AccountAction::Suspend => {
            store
                .set_user_status(&user.id, UserStatus::Suspended)
                .await?
        }
        AccountAction::Delete => store.delete_user(user).await?,
    }
    if action != AccountAction::Delete {
        store.invalidate_tokens(&user.id).await?;
    }
    store.revoke_user_sessions(&user.id).await
}

/// Sets a new password (policy-checked); every session ends and earlier access tokens stop
/// working.
pub async fn set_password(
    store: &Store,
    passwords: &Passwords,
    email: &str,
    password: &Sensitive,
) -> Result<usize, ProvisionError> {
    crate::credential::password::check_policy(password.expose(), None)
        .map_err(|e| ProvisionError::Refused(format!("the password is refused: {e}")))?;
    let user = existing_user(store, email).await?;
    let hash = passwords
        .hash(password)
        .await
        .map_err(|e| ProvisionError::Refused(e.to_string()))?;
    Ok(replace_password(store, &user, &hash).await?)
}

/// Stores a new password hash and the revocation cut-off in one write (earlier access tokens
/// and sessions end with it), then deletes every session. `Stale` when the user changed email
/// or vanished since it was read.
pub async fn replace_password(
    store: &Store,
    user: &User,
    hash: &Sensitive,
) -> Result<usize, StoreError> {
    let changes = UserChanges {
        password_hash: Some(hash.clone()),
        revocation: Some(Revocation { keep: None }),
        ..UserChanges::default()
    };
    store.update_user(user, &changes).await?;
    store.revoke_user_sessions(&user.id).await
}

/// Every user whose email contains `email_filter` (case-insensitively; every user without
/// one), in `id` order, read page by page from the directory index: what `provision users
/// list` prints.
pub async fn list_users(
    store: &Store,
    email_filter: Option<&str>,
) -> Result<Vec<DirectoryUser>, ProvisionError> {
    let needle = email_filter.map(str::to_lowercase);
    let mut users = Vec::new();
    let mut start = None;
    loop {
        let page = store.query_user_directory(start, 1000, true).await?;
        users.extend(page.users.into_iter().filter(|user| {
            needle
                .as_deref()
                .is_none_or(|n| user.email.to_lowercase().contains(n))
        }));
        match page.next {
            Some(next) => start = Some(next),
            None => return Ok(users),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_seed_is_valid() {
        let text = include_str!("../../../infra/seed.json");
        let document = Document::from_json(text).unwrap();
        assert!(document.collections.iter().any(|c| c.collection == "posts"));
        let settings = document.settings.unwrap();
        assert!(settings.public_registration);
        assert!(!settings.public_registration_verify_email);
    }

    #[test]
    fn dangling_references_are_refused_before_any_write() {
        let text = r#"{"roles":[{"id":"r","name":"User","policies":["missing"]}]}"#;
        assert!(
            Document::from_json(text)
                .unwrap_err()
                .to_string()
                .contains("unknown policy")
        );
        let text = r#"{"settings":{"public_registration":true,"public_registration_role":"nope"}}"#;
        assert!(Document::from_json(text).is_err());
        let text = r#"{"collections":[{"collection":"posts","primary_key":"id","fields":[{"field":"id","type":"integer"}],"items":[{"title":"no id"}]}]}"#;
        assert!(Document::from_json(text).is_err());
        let text = r#"{"policies":[{"id":"p","name":"P","permissions":[{"collection":"posts","action":"share","fields":["*"]}]}]}"#;
        assert!(Document::from_json(text).is_err());
        assert!(Document::from_json(r#"{"colections":[]}"#).is_err());
    }
}
