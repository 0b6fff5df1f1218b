//! The access configuration: roles, policies, access links, permissions, settings and collection
//! schemas, all in one table keyed `(pk, sk)` so that each lookup a request needs is one Query:
//!
//! | pk                  | sk                                   | item          |
//! |---------------------|--------------------------------------|---------------|
//! | `role#<id>`         | `role`                               | Role          |
//! | `role#<id>`         | `access#<policy id>`                 | access link   |
//! | `user#<id>`         | `access#<policy id>`                 | access link   |
//! | `public`            | `access#<policy id>`                 | access link   |
//! | `policy#<id>`       | `policy`                             | Policy        |
//! | `policy#<id>`       | `permission#<collection>#<action>#<id>` | Permission |
//! | `settings`          | `settings`                           | Settings      |
//! | `collection#<name>` | `collection`                         | Collection    |

use std::collections::HashMap;

use super::{Store, StoreError};
use crate::domain::model::{Collection, Permission, Policy, Role, Settings};
use aws_sdk_dynamodb::types::AttributeValue;
use serde::{Deserialize, Serialize, de::DeserializeOwned};

/// Everything stored under one role, user or the public key: the role itself (for roles) and the
/// ids of the policies attached there.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AccessRows {
    pub role: Option<Role>,
    pub policies: Vec<String>,
}

#[derive(Serialize, Deserialize)]
struct Keyed<T> {
    pk: String,
    sk: String,
    #[serde(flatten)]
    record: T,
}

#[derive(Serialize, Deserialize)]
struct AccessLink {
    policy: String,
}

/// The item that attaches `policy_id` under `holder_pk`.
pub(crate) fn access_link_item(
    holder_pk: String,
    policy_id: &str,
) -> Result<HashMap<String, AttributeValue>, StoreError> {
    Ok(serde_dynamo::to_item(Keyed {
        pk: holder_pk,
        sk: format!("access#{policy_id}"),
        record: AccessLink {
            policy: policy_id.to_owned(),
        },
    })?)
}

pub(crate) fn role_pk(id: &str) -> String {
    format!("role#{id}")
}

pub(crate) fn user_access_pk(user_id: &str) -> String {
    format!("user#{user_id}")
}

pub(crate) const PUBLIC_PK: &str = "public";

/// Concurrent Queries of [`Store::users_policies`]: a page of users' policies in a few round
/// trips, without one request holding many connections.
pub const POLICY_LOOKUPS_AT_ONCE: usize = 16;

/// The partition listing every collection.
const CATALOG_PK: &str = "collections";

#[derive(Serialize, Deserialize)]
struct CatalogEntry {
    collection: String,
}

fn policy_pk(id: &str) -> String {
    format!("policy#{id}")
}

impl Store {
    async fn query_partition(
        &self,
        pk: &str,
    ) -> Result<Vec<HashMap<String, AttributeValue>>, StoreError> {
        self.query_partition_read(pk, false).await
    }

    async fn query_partition_read(
        &self,
        pk: &str,
        consistent: bool,
    ) -> Result<Vec<HashMap<String, AttributeValue>>, StoreError> {
        let mut items = Vec::new();
        let mut start = None;
        loop {
            let output = self
                .client
                .query()
                .table_name(&self.tables.config)
                .key_condition_expression("pk = :pk")
                .expression_attribute_values(":pk", AttributeValue::S(pk.to_owned()))
                .consistent_read(consistent)
                .set_exclusive_start_key(start)
                .send()
                .await?;
            items.extend(output.items.unwrap_or_default());
            match output.last_evaluated_key {
                Some(key) if !key.is_empty() => start = Some(key),
                _ => return Ok(items),
            }
        }
    }

    async fn get_config<T: DeserializeOwned>(
        &self,
        pk: &str,
        sk: &str,
    ) -> Result<Option<T>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.tables.config)
            .key("pk", AttributeValue::S(pk.to_owned()))
            .key("sk", AttributeValue::S(sk.to_owned()))
            .send()
            .await?;
        match output.item {
            Some(item) => Ok(Some(serde_dynamo::from_item::<_, Keyed<T>>(item)?.record)),
            None => Ok(None),
        }
    }

    async fn put_config<T: Serialize>(
        &self,
        pk: String,
        sk: String,
        record: T,
    ) -> Result<(), StoreError> {
        let item = serde_dynamo::to_item(Keyed { pk, sk, record })?;
        self.client
            .put_item()
            .table_name(&self.tables.config)
            .set_item(Some(item))
            .send()
            .await?;
        Ok(())
    }

    /// The role and access links under `pk` (`role#<id>`, `user#<id>` or `public`).
    async fn access_rows(&self, pk: &str) -> Result<AccessRows, StoreError> {
        let mut rows = AccessRows::default();
        for item in self.query_partition(pk).await? {
            let sk = item.get("sk").and_then(|v| v.as_s().ok()).cloned();
            match sk.as_deref() {
                Some("role") => {
                    rows.role = Some(serde_dynamo::from_item::<_, Keyed<Role>>(item)?.record)
                }
                Some(sk) if sk.starts_with("access#") => rows.policies.push(
                    serde_dynamo::from_item::<_, Keyed<AccessLink>>(item)?
                        .record
                        .policy,
                ),
                _ => {}
            }
        }
        Ok(rows)
    }

    pub async fn role_access(&self, role_id: &str) -> Result<AccessRows, StoreError> {
        self.access_rows(&role_pk(role_id)).await
    }

    pub async fn user_access(&self, user_id: &str) -> Result<AccessRows, StoreError> {
        self.access_rows(&user_access_pk(user_id)).await
    }

    /// The own policies of each of `user_ids`, in their order: one Query per user (a user's
    /// links are one partition, which BatchGetItem cannot read without knowing them), at most
    /// [`POLICY_LOOKUPS_AT_ONCE`] in flight.
    pub async fn users_policies(
        &self,
        user_ids: &[String],
    ) -> Result<Vec<Vec<String>>, StoreError> {
        use futures_util::{StreamExt, TryStreamExt};
        // Owned ids: futures borrowing the slice's items are not `Send` for every lifetime,
        // which a handler's future must be.
        futures_util::stream::iter(user_ids.to_vec())
            .map(|id| async move { Ok(self.user_access(&id).await?.policies) })
            .buffered(POLICY_LOOKUPS_AT_ONCE)
            .try_collect()
            .await
    }

    /// The user's own policy links, read strongly consistent: a change decided on them must
    /// see every change committed before it.
    pub async fn user_policies(&self, user_id: &str) -> Result<Vec<String>, StoreError> {
        self.query_partition_read(&user_access_pk(user_id), true)
            .await?
            .into_iter()
            .filter(|item| {
                item.get("sk")
                    .and_then(|v| v.as_s().ok())
                    .is_some_and(|sk| sk.starts_with("access#"))
            })
            .map(|item| {
                Ok(serde_dynamo::from_item::<_, Keyed<AccessLink>>(item)?
                    .record
                    .policy)
            })
            .collect()
    }

    pub async fn public_access(&self) -> Result<AccessRows, StoreError> {
        self.access_rows(PUBLIC_PK).await
    }

    /// The policy and all its permissions, in one Query.
    pub async fn policy_with_permissions(
        &self,
        policy_id: &str,
    ) -> Result<Option<(Policy, Vec<Permission>)>, StoreError> {
        let mut policy = None;
        let mut permissions = Vec::new();
        for item in self.query_partition(&policy_pk(policy_id)).await? {
            let sk = item.get("sk").and_then(|v| v.as_s().ok()).cloned();
            match sk.as_deref() {
                Some("policy") => {
                    policy = Some(serde_dynamo::from_item::<_, Keyed<Policy>>(item)?.record)
                }
                Some(sk) if sk.starts_with("permission#") => {
                    permissions.push(serde_dynamo::from_item::<_, Keyed<Permission>>(item)?.record)
                }
                _ => {}
            }
        }
        Ok(policy.map(|policy| (policy, permissions)))
    }

    /// The stored settings, if any.
    pub async fn settings(&self) -> Result<Option<Settings>, StoreError> {
        self.get_config("settings", "settings").await
    }

    pub async fn collection(&self, name: &str) -> Result<Option<Collection>, StoreError> {
        self.get_config(&format!("collection#{name}"), "collection")
            .await
    }

    pub async fn put_role(&self, role: &Role) -> Result<(), StoreError> {
        self.put_config(role_pk(&role.id), "role".into(), role)
            .await
    }

    pub async fn put_policy(&self, policy: &Policy) -> Result<(), StoreError> {
        self.put_config(policy_pk(&policy.id), "policy".into(), policy)
            .await
    }

    pub async fn put_permission(&self, permission: &Permission) -> Result<(), StoreError> {
        let sk = format!(
            "permission#{}#{}#{}",
            permission.collection, permission.action, permission.id
        );
        self.put_config(policy_pk(&permission.policy), sk, permission)
            .await
    }

    /// Attaches a policy to a role (`role#<id>`), a user (`user#<id>`) or everyone (`public`).
    pub async fn put_access(&self, holder_pk: String, policy_id: &str) -> Result<(), StoreError> {
        self.put_config(
            holder_pk,
            format!("access#{policy_id}"),
            AccessLink {
                policy: policy_id.to_owned(),
            },
        )
        .await
    }

    pub async fn put_settings(&self, settings: &Settings) -> Result<(), StoreError> {
        self.put_config("settings".into(), "settings".into(), settings)
            .await
    }

    /// Stores a collection's schema and lists it in the catalog (`collections`), which the
    /// GraphQL schema of an administrator (every collection) is built from.
    pub async fn put_collection(&self, collection: &Collection) -> Result<(), StoreError> {
        self.put_config(
            format!("collection#{}", collection.collection),
            "collection".into(),
            collection,
        )
        .await?;
        self.put_config(
            CATALOG_PK.into(),
            format!("collection#{}", collection.collection),
            CatalogEntry {
                collection: collection.collection.clone(),
            },
        )
        .await
    }

    /// The names of every stored collection (the catalog), in name order.
    pub async fn collection_names(&self) -> Result<Vec<String>, StoreError> {
        self.query_partition(CATALOG_PK)
            .await?
            .into_iter()
            .map(|item| {
                Ok(serde_dynamo::from_item::<_, Keyed<CatalogEntry>>(item)?
                    .record
                    .collection)
            })
            .collect()
    }
}

/// Keys of the holders an access link can hang under: a role, a user, or everyone.
pub mod access_holder {
    pub fn role(id: &str) -> String {
        super::role_pk(id)
    }

    pub fn user(id: &str) -> String {
        super::user_access_pk(id)
    }

    pub fn public() -> String {
        super::PUBLIC_PK.to_owned()
    }
}
