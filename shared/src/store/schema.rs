//! Table definitions for local stacks and tests. On AWS, template.yaml creates the same tables
//! (keys, the `by_user` index, TTL attributes); nothing checks the two against each other, so a
//! change here needs the same change there.

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, TimeToLiveSpecification,
};

use super::{StoreError, Tables};

pub const SESSIONS_BY_USER_INDEX: &str = "by_user";
pub const SESSION_TTL_ATTRIBUTE: &str = "expires_at";

struct TableSpec<'a> {
    name: &'a str,
    hash: &'a str,
    range: Option<&'a str>,
    index_by: Option<(&'a str, &'a str)>,
    ttl: Option<&'a str>,
}

/// Creates any missing table. Safe to run on every start.
pub async fn ensure_tables(client: &Client, tables: &Tables) -> Result<(), StoreError> {
    let specs = [
        TableSpec {
            name: &tables.users,
            hash: "pk",
            range: None,
            index_by: None,
            // Only the failed-login counters carry it.
            ttl: Some(SESSION_TTL_ATTRIBUTE),
        },
        TableSpec {
            name: &tables.sessions,
            hash: "id",
            range: None,
            index_by: Some((SESSIONS_BY_USER_INDEX, "user_id")),
            ttl: Some(SESSION_TTL_ATTRIBUTE),
        },
        TableSpec {
            name: &tables.config,
            hash: "pk",
            range: Some("sk"),
            index_by: None,
            ttl: None,
        },
        TableSpec {
            name: &tables.items,
            hash: "collection",
            range: Some("key"),
            index_by: None,
            ttl: None,
        },
    ];
    for spec in specs {
        create_if_missing(client, &spec).await?;
    }
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
    if let Some((index, attribute)) = spec.index_by {
        request = request
            .attribute_definitions(string_attribute(attribute))
            .global_secondary_indexes(
                GlobalSecondaryIndex::builder()
                    .index_name(index)
                    .key_schema(key(attribute, KeyType::Hash))
                    .projection(
                        Projection::builder()
                            .projection_type(ProjectionType::KeysOnly)
                            .build(),
                    )
                    .build()
                    .expect("index name, key schema and projection are set"),
            );
    }
    match request.send().await {
        Ok(_) => {}
        Err(error)
            if error
                .as_service_error()
                .is_some_and(|e| e.is_resource_in_use_exception()) =>
        {
            return Ok(());
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
