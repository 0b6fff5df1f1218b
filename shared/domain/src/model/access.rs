//! The access configuration: roles, policies, their permissions and collection schemas, as
//! stored (the serde shapes are the stored format).

use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Role {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub parent: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Policy {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub admin_access: bool,
    #[serde(default)]
    pub app_access: bool,
    /// Directus 11's flag: its users must have a second factor. Directus' API does not enforce
    /// it (only its app does); here a user without one signs in to a session that can only set
    /// one up.
    #[serde(default)]
    pub enforce_tfa: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Permission {
    pub id: String,
    pub policy: String,
    pub collection: String,
    /// `create`, `read`, `update` or `delete`.
    pub action: String,
    /// Field names, or `*` for all.
    pub fields: Vec<String>,
    /// Item filter (Directus `permissions`); `None` or `{}` allows every item.
    #[serde(default)]
    pub permissions: Option<Value>,
    #[serde(default)]
    pub presets: Option<Value>,
    #[serde(default)]
    pub validation: Option<Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FieldDef {
    pub field: String,
    /// Directus field type: `integer`, `string`, `text`, `uuid`, `boolean`, `timestamp`, ...
    #[serde(rename = "type")]
    pub field_type: String,
    /// Directus' `schema` of a field; only `is_indexed` is used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<FieldSchema>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FieldSchema {
    /// Reads sorted or filtered on the field use its index (`store::index`).
    #[serde(default)]
    pub is_indexed: bool,
}

impl FieldDef {
    pub fn new(field: &str, field_type: &str) -> Self {
        Self {
            field: field.to_owned(),
            field_type: field_type.to_owned(),
            schema: None,
        }
    }

    pub fn is_indexed(&self) -> bool {
        self.schema.as_ref().is_some_and(|s| s.is_indexed)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Collection {
    pub collection: String,
    pub primary_key: String,
    pub fields: Vec<FieldDef>,
}

impl Collection {
    pub fn field(&self, name: &str) -> Option<&FieldDef> {
        self.fields.iter().find(|f| f.field == name)
    }

    /// The fields whose index reads may use.
    pub fn indexed_fields(&self) -> Vec<String> {
        self.fields
            .iter()
            .filter(|f| f.is_indexed())
            .map(|f| f.field.clone())
            .collect()
    }
}
