//! Collection items as JSON documents: `collection` is the partition key and `key` (the primary
//! key, encoded so that string order is key order) the sort key. A collection is read with Query,
//! in primary-key order, never with Scan.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{Store, StoreError};

#[derive(Serialize, Deserialize)]
struct ItemRecord {
    collection: String,
    key: String,
    data: Map<String, Value>,
}

/// One page of a collection and where the next one starts.
#[derive(Debug, Default)]
pub struct ItemPage {
    pub items: Vec<Map<String, Value>>,
    pub next: Option<HashMap<String, AttributeValue>>,
}

/// Sort-key form of a primary key: non-negative integers are zero-padded to 20 digits so that
/// DynamoDB's byte order is numeric order; strings sort as themselves.
pub fn item_sort_key(id: &Value) -> Option<String> {
    match id {
        Value::Number(n) => n.as_u64().map(|n| format!("n#{n:020}")),
        Value::String(s) if !s.is_empty() => Some(format!("s#{s}")),
        _ => None,
    }
}

impl Store {
    pub async fn put_item(
        &self,
        collection: &str,
        key: String,
        data: Map<String, Value>,
    ) -> Result<(), StoreError> {
        let item = serde_dynamo::to_item(ItemRecord {
            collection: collection.to_owned(),
            key,
            data,
        })?;
        self.client
            .put_item()
            .table_name(&self.tables.items)
            .set_item(Some(item))
            .send()
            .await?;
        Ok(())
    }

    pub async fn get_item(
        &self,
        collection: &str,
        key: &str,
    ) -> Result<Option<Map<String, Value>>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.tables.items)
            .key("collection", AttributeValue::S(collection.to_owned()))
            .key("key", AttributeValue::S(key.to_owned()))
            .send()
            .await?;
        match output.item {
            Some(item) => Ok(Some(serde_dynamo::from_item::<_, ItemRecord>(item)?.data)),
            None => Ok(None),
        }
    }

    /// Up to `limit` items of `collection` in key order (reversed unless `forward`), starting
    /// after `start`.
    pub async fn query_items(
        &self,
        collection: &str,
        start: Option<HashMap<String, AttributeValue>>,
        limit: i32,
        forward: bool,
    ) -> Result<ItemPage, StoreError> {
        let output = self
            .client
            .query()
            .table_name(&self.tables.items)
            .key_condition_expression("#c = :c")
            .expression_attribute_names("#c", "collection")
            .expression_attribute_values(":c", AttributeValue::S(collection.to_owned()))
            .set_exclusive_start_key(start)
            .limit(limit)
            .scan_index_forward(forward)
            .send()
            .await?;
        let items = output
            .items
            .unwrap_or_default()
            .into_iter()
            .map(|item| Ok(serde_dynamo::from_item::<_, ItemRecord>(item)?.data))
            .collect::<Result<Vec<_>, StoreError>>()?;
        Ok(ItemPage {
            items,
            next: output.last_evaluated_key.filter(|key| !key.is_empty()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn integer_keys_sort_numerically_as_strings() {
        let nine = item_sort_key(&json!(9)).unwrap();
        let ten = item_sort_key(&json!(10)).unwrap();
        assert!(nine < ten);
    }

    #[test]
    fn empty_negative_and_fractional_keys_are_rejected() {
        assert_eq!(item_sort_key(&json!("")), None);
        assert_eq!(item_sort_key(&json!(-1)), None);
        assert_eq!(item_sort_key(&json!(1.5)), None);
        assert_eq!(item_sort_key(&json!(null)), None);
    }
}
