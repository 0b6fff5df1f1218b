//! `directus_users` as the items read path sees it: its fields, and a user as one of its rows
//! (the directory's and a single user's read share it).

use serde_json::{Map, Value, json};

use crate::domain::model::{Collection, FieldDef};
use crate::store::DirectoryUser;

pub const COLLECTION: &str = "directus_users";
/// How Directus shows a password that is set.
pub const CONCEALED: &str = "**********";
/// Read for the returned rows only.
pub(crate) const POLICIES: &str = "policies";

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

/// A user as a row of `directus_users`. The hash is never part of it. `policies` holds the
/// user's id, standing for their policies: the read plan hides it (`null`) on rows where the
/// caller may not read `policies`, as any other field, and `directory::fill_policies` replaces each one
/// left with that user's policies.
pub fn user_row(user: &DirectoryUser) -> Map<String, Value> {
    let mut row = Map::new();
    row.insert("id".into(), json!(user.id));
    row.insert("first_name".into(), json!(user.first_name));
    row.insert("last_name".into(), json!(user.last_name));
    row.insert("email".into(), json!(user.email));
    row.insert("password".into(), json!(CONCEALED));
    row.insert("status".into(), json!(user.status));
    row.insert("role".into(), json!(user.role));
    row.insert(POLICIES.into(), json!(user.id));
    row
}
