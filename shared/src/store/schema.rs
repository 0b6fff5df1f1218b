//! Table definitions for local stacks and tests. On AWS, template.yaml creates the same tables
//! (keys, the `by_user` and `directory` indexes, TTL attributes); nothing checks the two against
//! each other, so a change here needs the same change there.

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, CreateGlobalSecondaryIndexAction,
    DeleteGlobalSecondaryIndexAction, GlobalSecondaryIndex, GlobalSecondaryIndexUpdate,
    KeySchemaElement, KeyType, Projection, ProjectionType, ScalarAttributeType,
    TimeToLiveSpecification,
};

use super::{StoreError, Tables};

pub const SESSIONS_BY_USER_INDEX: &str = "by_user";
pub const SESSION_TTL_ATTRIBUTE: &str = "expires_at";
/// The user directory: every user item carries `directory = "user"`, so one Query of this index
/// lists users in `id` order, page by page, with no Scan. It projects the directory's fields
/// only: password hashes are not in it.
pub const USER_DIRECTORY_INDEX: &str = "directory";
pub const USER_DIRECTORY_ATTRIBUTE: &str = "directory";
/// Attributes the directory index carries besides its keys (and the table's `pk`): the
/// directory's fields, and `expires_at` so that it leaves out expired unverified accounts.
pub const USER_DIRECTORY_PROJECTION: [&str; 8] = [
    "email",
    "status",
    "role",
    "first_name",
    "last_name",
    "created_at",
    "updated_at",
    "expires_at",
];

struct IndexSpec<'a> {
    name: &'a str,
    hash: &'a str,
    range: Option<&'a str>,
    /// `None`: keys only.
    include: Option<&'a [&'a str]>,
}

struct TableSpec<'a> {
    name: &'a str,
    hash: &'a str,
    range: Option<&'a str>,
    index: Option<IndexSpec<'a>>,
    ttl: Option<&'a str>,
}

/// Creates any missing table. Safe to run on every start.
pub async fn ensure_tables(client: &Client, tables: &Tables) -> Result<(), StoreError> {
    let specs = [
        TableSpec {
            name: &tables.users,
            hash: "pk",
            range: None,
            index: Some(IndexSpec {
                name: USER_DIRECTORY_INDEX,
                hash: USER_DIRECTORY_ATTRIBUTE,
                range: Some("id"),
                include: Some(&USER_DIRECTORY_PROJECTION),
            }),
            // Only the failed-login counters carry it.
            ttl: Some(SESSION_TTL_ATTRIBUTE),
        },
        TableSpec {
            name: &tables.sessions,
            hash: "id",
            range: None,
            index: Some(IndexSpec {
                name: SESSIONS_BY_USER_INDEX,
                hash: "user_id",
                range: None,
                include: None,
            }),
            ttl: Some(SESSION_TTL_ATTRIBUTE),
        },
        TableSpec {
            name: &tables.config,
            hash: "pk",
            range: Some("sk"),
            index: None,
            ttl: None,
        },
        TableSpec {
            name: &tables.items,
            hash: "collection",
            range: Some("key"),
            index: None,
            ttl: None,
        },
    ];
    for spec in specs {
        create_if_missing(client, &spec).await?;
    }
    Ok(())
}

impl IndexSpec<'_> {
    fn attributes(&self) -> Vec<&str> {
        std::iter::once(self.hash).chain(self.range).collect()
    }

    /// True when an index projecting `projected` (`["*"]`: every attribute) holds every
    /// attribute this one names.
    fn projected_by(&self, projected: &[String]) -> bool {
        projected.iter().any(|a| a == "*")
            || self
                .include
                .unwrap_or_default()
                .iter()
                .all(|wanted| projected.iter().any(|a| a == wanted))
    }

    fn definition(&self) -> GlobalSecondaryIndex {
        let mut keys = vec![key(self.hash, KeyType::Hash)];
        if let Some(range) = self.range {
            keys.push(key(range, KeyType::Range));
        }
        let projection = match self.include {
            None => Projection::builder()
                .projection_type(ProjectionType::KeysOnly)
                .build(),
            Some(attributes) => Projection::builder()
                .projection_type(ProjectionType::Include)
                .set_non_key_attributes(Some(attributes.iter().map(|a| (*a).to_owned()).collect()))
                .build(),
        };
        GlobalSecondaryIndex::builder()
            .index_name(self.name)
            .set_key_schema(Some(keys))
            .projection(projection)
            .build()
            .expect("index name, key schema and projection are set")
    }
}

/// Creates `index` on an existing table that lacks it (DynamoDB fills it in the background),
/// or re-creates it when it projects fewer attributes than `index` names (made by an earlier
/// version: DynamoDB cannot change an index's projection in place).
async fn ensure_index(
    client: &Client,
    table: &str,
    index: &IndexSpec<'_>,
) -> Result<(), StoreError> {
    match existing_projection(client, table, index.name).await? {
        None => {}
        Some(projected) if index.projected_by(&projected) => return Ok(()),
        Some(_) => {
            tracing::warn!(
                table,
                index = index.name,
                "re-creating an index whose projection is out of date"
            );
            delete_index(client, table, index.name).await?;
        }
    }
    add_index(client, table, index).await
}

/// The non-key attributes `name` projects (`None`: no such index; `ALL` as `["*"]`).
async fn existing_projection(
    client: &Client,
    table: &str,
    name: &str,
) -> Result<Option<Vec<String>>, StoreError> {
    let described = client.describe_table().table_name(table).send().await?;
    let existing = described
        .table()
        .map(|t| t.global_secondary_indexes())
        .unwrap_or_default()
        .iter()
        .find(|i| i.index_name() == Some(name))
        .map(|i| {
            let projection = i.projection();
            if projection.and_then(|p| p.projection_type()) == Some(&ProjectionType::All) {
                vec!["*".to_owned()]
            } else {
                projection
                    .map(|p| p.non_key_attributes().to_vec())
                    .unwrap_or_default()
            }
        });
    Ok(existing)
}

/// Deletes index `name`, and waits until the table no longer lists it.
async fn delete_index(client: &Client, table: &str, name: &str) -> Result<(), StoreError> {
    client
        .update_table()
        .table_name(table)
        .global_secondary_index_updates(
            GlobalSecondaryIndexUpdate::builder()
                .delete(
                    DeleteGlobalSecondaryIndexAction::builder()
                        .index_name(name)
                        .build()
                        .map_err(|e| StoreError::Malformed(e.to_string()))?,
                )
                .build(),
        )
        .send()
        .await?;
    for _ in 0..INDEX_DELETION_CHECKS {
        if existing_projection(client, table, name).await?.is_none() {
            return Ok(());
        }
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    }
    Err(StoreError::Unavailable(
        format!("index {name} of {table} is still being deleted: run again once it is gone").into(),
    ))
}

/// How many seconds [`delete_index`] waits (a local DynamoDB deletes at once).
const INDEX_DELETION_CHECKS: u32 = 600;

async fn add_index(client: &Client, table: &str, index: &IndexSpec<'_>) -> Result<(), StoreError> {
    let definition = index.definition();
    let mut create = CreateGlobalSecondaryIndexAction::builder()
        .index_name(index.name)
        .set_key_schema(Some(definition.key_schema().to_vec()));
    if let Some(projection) = definition.projection() {
        create = create.projection(projection.clone());
    }
    client
        .update_table()
        .table_name(table)
        .set_attribute_definitions(Some(
            index
                .attributes()
                .into_iter()
                .map(string_attribute)
                .collect(),
        ))
        .global_secondary_index_updates(
            GlobalSecondaryIndexUpdate::builder()
                .create(
                    create
                        .build()
                        .map_err(|e| StoreError::Malformed(e.to_string()))?,
                )
                .build(),
        )
        .send()
        .await?;
    Ok(())
}

fn string_attribute(name: &str) -> AttributeDefinition {
    AttributeDefinition::builder()
        .attribute_name(name)
        .attribute_type(ScalarAttributeType::S)
        .build()
        .expect("name and type are set")
}

fn key(name: &str, key_type: KeyType) -> KeySchemaElement {
    KeySchemaElement::builder()
        .attribute_name(name)
        .key_type(key_type)
        .build()
        .expect("name and key type are set")
}

async fn create_if_missing(client: &Client, spec: &TableSpec<'_>) -> Result<(), StoreError> {
    let mut request = client
        .create_table()
        .table_name(spec.name)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(string_attribute(spec.hash))
        .key_schema(key(spec.hash, KeyType::Hash));
    if let Some(range) = spec.range {
        request = request
            .attribute_definitions(string_attribute(range))
            .key_schema(key(range, KeyType::Range));
    }
    if let Some(index) = &spec.index {
        for attribute in index.attributes() {
            if attribute != spec.hash && Some(attribute) != spec.range {
                request = request.attribute_definitions(string_attribute(attribute));
            }
        }
        request = request.global_secondary_indexes(index.definition());
    }
    match request.send().await {
        Ok(_) => {}
        Err(error)
            if error
                .as_service_error()
                .is_some_and(|e| e.is_resource_in_use_exception()) =>
        {
            // An existing table (made by an earlier version) gets an index it lacks, or one
            // projecting what this version reads.
            return match &spec.index {
                Some(index) => ensure_index(client, spec.name, index).await,
                None => Ok(()),
            };
        }
        Err(error) => return Err(error.into()),
    }
    if let Some(attribute) = spec.ttl {
        client
            .update_time_to_live()
            .table_name(spec.name)
            .time_to_live_specification(
                TimeToLiveSpecification::builder()
                    .enabled(true)
                    .attribute_name(attribute)
                    .build()
                    .expect("enabled and attribute name are set"),
            )
            .send()
            .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// template.yaml's `NonKeyAttributes` of the `directory` index.
    fn template_directory_projection() -> Vec<String> {
        let template = include_str!("../../../template.yaml");
        let index = template
            .find("- IndexName: directory")
            .expect("template.yaml defines the directory index");
        let line = template[index..]
            .lines()
            .find(|line| line.trim_start().starts_with("NonKeyAttributes:"))
            .expect("the directory index names its projected attributes");
        let list = line
            .split_once('[')
            .and_then(|(_, rest)| rest.split_once(']'));
        list.expect("a flow sequence")
            .0
            .split(',')
            .map(|a| a.trim().to_owned())
            .collect()
    }

    #[test]
    fn the_template_projects_the_directory_index_as_local_tables_do() {
        assert_eq!(template_directory_projection(), USER_DIRECTORY_PROJECTION);
    }

    #[test]
    fn a_directory_index_projecting_less_is_out_of_date() {
        let index = IndexSpec {
            name: USER_DIRECTORY_INDEX,
            hash: USER_DIRECTORY_ATTRIBUTE,
            range: Some("id"),
            include: Some(&USER_DIRECTORY_PROJECTION),
        };
        let names = |list: &[&str]| list.iter().map(|a| (*a).to_owned()).collect::<Vec<_>>();
        assert!(index.projected_by(&names(&USER_DIRECTORY_PROJECTION)));
        assert!(index.projected_by(&names(&["*"])));
        let before_expiry = &USER_DIRECTORY_PROJECTION[..7];
        assert!(!before_expiry.contains(&"expires_at"));
        assert!(!index.projected_by(&names(before_expiry)));
        let keys_only = IndexSpec {
            name: SESSIONS_BY_USER_INDEX,
            hash: "user_id",
            range: None,
            include: None,
        };
        assert!(keys_only.projected_by(&[]));
    }
}
