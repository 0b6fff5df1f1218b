//! Table definitions for local stacks and tests. On AWS, template.yaml creates the same tables
//! (keys, the `by_user` and `directory` indexes, TTL attributes); nothing checks the two against
//! each other, so a change here needs the same change there.

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, CreateGlobalSecondaryIndexAction, GlobalSecondaryIndex,
    GlobalSecondaryIndexUpdate, KeySchemaElement, KeyType, Projection, ProjectionType,
    ScalarAttributeType, TimeToLiveSpecification,
};

use super::{StoreError, Tables};

pub const SESSIONS_BY_USER_INDEX: &str = "by_user";
pub const SESSION_TTL_ATTRIBUTE: &str = "expires_at";
/// The user directory: every user item carries `directory = "user"`, so one Query of this index
/// lists users in `id` order, page by page, with no Scan. It projects the directory's fields
/// only: password hashes are not in it.
pub const USER_DIRECTORY_INDEX: &str = "directory";
pub const USER_DIRECTORY_ATTRIBUTE: &str = "directory";
/// Attributes the directory index carries besides its keys (and the table's `pk`).
pub const USER_DIRECTORY_PROJECTION: [&str; 7] = [
    "email",
    "status",
    "role",
    "first_name",
    "last_name",
    "created_at",
    "updated_at",
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

/// Creates `index` on an existing table that lacks it (DynamoDB fills it in the background).
async fn add_index_if_missing(
    client: &Client,
    table: &str,
    index: &IndexSpec<'_>,
) -> Result<(), StoreError> {
    let described = client.describe_table().table_name(table).send().await?;
    let present = described
        .table()
        .map(|t| t.global_secondary_indexes())
        .unwrap_or_default()
        .iter()
        .any(|i| i.index_name() == Some(index.name));
    if present {
        return Ok(());
    }
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
            // An existing table (made by an earlier version) gets an index it lacks.
            return match &spec.index {
                Some(index) => add_index_if_missing(client, spec.name, index).await,
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
