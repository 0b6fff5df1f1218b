//! Declared field indexes of collections, kept in the items table beside the items.
//!
//! Each indexed field of a collection has its own partition, `#index#<collection>#<field>`,
//! holding one entry per item: its sort key is the field's value in an order-preserving
//! encoding followed by the item's key, and its `data` is a copy of the item, so a page sorted
//! or filtered on the field is one strongly consistent Query with no read per row. Entries are
//! written in the same transaction as their item (`Store::put_item`).
//!
//! The encoding ([`crate::domain::value_order`]) orders values as the in-memory sort does, and
//! is prefix-free, so the item key after it only breaks ties, in key order.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::{Map, Value};

use super::records::{ItemPage, ItemRecord, PageCursor};
use super::{Store, StoreError};
use crate::domain::index_plan::IndexRange;
use crate::domain::value_order::{MAX_ENTRY_KEY_BYTES, encode_value};

/// Every item key starts with `n` or `s` (`n#…`, `s#…`): below this upper end, after any value.
const ITEM_KEYS_END: &str = "t";

/// The partition of `field`'s index in `collection`.
pub fn index_partition(collection: &str, field: &str) -> String {
    format!("#index#{collection}#{field}")
}

/// Sort key of an item's entry in an index: the value's encoding, then the item key.
pub fn index_entry_key(value: &Value, item_key: &str) -> Result<String, StoreError> {
    let key = format!("{}{item_key}", encode_value(value));
    if key.len() > MAX_ENTRY_KEY_BYTES {
        return Err(StoreError::Malformed(format!(
            "an indexed value is too long to index ({} bytes of key, at most {MAX_ENTRY_KEY_BYTES})",
            key.len()
        )));
    }
    Ok(key)
}

/// The DynamoDB item of an index entry: the item's data under the entry's keys.
pub fn index_entry_item(
    collection: &str,
    field: &str,
    item_key: &str,
    data: &Map<String, Value>,
) -> Result<HashMap<String, AttributeValue>, StoreError> {
    let value = data.get(field).unwrap_or(&Value::Null);
    Ok(serde_dynamo::to_item(ItemRecord {
        collection: index_partition(collection, field),
        key: index_entry_key(value, item_key)?,
        data: data.clone(),
        version: 0,
    })?)
}

/// Inclusive sort-key bounds for `BETWEEN`, or `None` when nothing can be inside.
fn key_bounds(range: &IndexRange) -> Option<(String, String)> {
    let above = |value: &Value| format!("{}{ITEM_KEYS_END}", encode_value(value));
    let (low, high) = match range {
        IndexRange::Everything => ("0".to_owned(), "6".to_owned()),
        IndexRange::Nothing => return None,
        IndexRange::Exactly(value) => (encode_value(value), above(value)),
        IndexRange::Values { kind, low, high } => {
            let low = match low {
                None => kind.tag().to_string(),
                Some(end) if end.inclusive => encode_value(&end.value),
                Some(end) => above(&end.value),
            };
            let high = match high {
                None => kind.end().to_string(),
                Some(end) if end.inclusive => above(&end.value),
                Some(end) => encode_value(&end.value),
            };
            (low, high)
        }
    };
    (low < high).then_some((low, high))
}

impl Store {
    /// Up to `limit` entries of `field`'s index in `collection` within `range`, in value order
    /// (reversed unless `forward`), starting after `start`; strongly consistent, so a read sees
    /// every transaction that committed before it.
    pub async fn query_index(
        &self,
        collection: &str,
        field: &str,
        range: &IndexRange,
        start: Option<PageCursor>,
        limit: i32,
        forward: bool,
    ) -> Result<ItemPage, StoreError> {
        let Some((low, high)) = key_bounds(range) else {
            return Ok(ItemPage::default());
        };
        let output = self
            .client
            .query()
            .table_name(&self.tables.items)
            .key_condition_expression("#c = :c AND #k BETWEEN :low AND :high")
            .expression_attribute_names("#c", "collection")
            .expression_attribute_names("#k", "key")
            .expression_attribute_values(
                ":c",
                AttributeValue::S(index_partition(collection, field)),
            )
            .expression_attribute_values(":low", AttributeValue::S(low))
            .expression_attribute_values(":high", AttributeValue::S(high))
            .consistent_read(true)
            .set_exclusive_start_key(PageCursor::start_key(start))
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
            skipped: 0,
            next: PageCursor::after(output.last_evaluated_key),
        })
    }

    /// Deletes every entry of `field`'s index in `collection`, before it is built again from
    /// the items (entries left from an earlier declaration may be stale).
    pub async fn clear_index(&self, collection: &str, field: &str) -> Result<(), StoreError> {
        use aws_sdk_dynamodb::types::{DeleteRequest, WriteRequest};
        let partition = index_partition(collection, field);
        loop {
            let output = self
                .client
                .query()
                .table_name(&self.tables.items)
                .key_condition_expression("#c = :c")
                .expression_attribute_names("#c", "collection")
                .expression_attribute_values(":c", AttributeValue::S(partition.clone()))
                .projection_expression("#c, #k")
                .expression_attribute_names("#k", "key")
                .consistent_read(true)
                .limit(25)
                .send()
                .await?;
            let keys = output.items.unwrap_or_default();
            if keys.is_empty() {
                return Ok(());
            }
            let mut requests = keys
                .into_iter()
                .map(|key| {
                    Ok(WriteRequest::builder()
                        .delete_request(DeleteRequest::builder().set_key(Some(key)).build()?)
                        .build())
                })
                .collect::<Result<Vec<_>, aws_sdk_dynamodb::error::BuildError>>()
                .map_err(|e| StoreError::Malformed(e.to_string()))?;
            // Unprocessed deletes are sent again until none is left.
            while !requests.is_empty() {
                let output = self
                    .client
                    .batch_write_item()
                    .request_items(&self.tables.items, requests)
                    .send()
                    .await?;
                requests = output
                    .unprocessed_items
                    .and_then(|mut left| left.remove(&self.tables.items))
                    .unwrap_or_default();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::index_plan::RangeEnd;
    use crate::domain::value_order::ValueKind;
    use proptest::prelude::*;
    use serde_json::json;

    fn entry(value: Value, id: u64) -> String {
        index_entry_key(&value, &super::super::item_sort_key(&json!(id)).unwrap()).unwrap()
    }

    proptest! {
        #[test]
        fn entries_order_by_value_then_key(a in "[a-c]{0,3}", b in "[a-c]{0,3}", x in 0u64..50, y in 0u64..50) {
            let (ea, eb) = (entry(json!(a), x), entry(json!(b), y));
            let expected = a.cmp(&b).then(x.cmp(&y));
            prop_assert_eq!(ea.cmp(&eb), expected);
        }
    }

    #[test]
    fn ranges_bound_exactly_the_entries_of_their_values() {
        let inside = |range: &IndexRange, key: &str| {
            key_bounds(range).is_some_and(|(low, high)| low.as_str() <= key && key <= high.as_str())
        };
        let five = entry(json!(5), 3);
        let six = entry(json!(6), 1);
        let string = entry(json!("5"), 1);
        let null = entry(json!(null), 9);
        let at_least_five = IndexRange::Values {
            kind: ValueKind::Number,
            low: Some(RangeEnd {
                value: json!(5),
                inclusive: true,
            }),
            high: None,
        };
        assert!(inside(&at_least_five, &five) && inside(&at_least_five, &six));
        assert!(!inside(&at_least_five, &string) && !inside(&at_least_five, &null));
        let above_five = IndexRange::Values {
            kind: ValueKind::Number,
            low: Some(RangeEnd {
                value: json!(5),
                inclusive: false,
            }),
            high: Some(RangeEnd {
                value: json!(6),
                inclusive: false,
            }),
        };
        assert!(!inside(&above_five, &five) && !inside(&above_five, &six));
        assert!(key_bounds(&IndexRange::Exactly(json!(5))).is_some());
        assert!(inside(&IndexRange::Exactly(json!(5)), &five));
        assert!(!inside(&IndexRange::Exactly(json!(5)), &six));
        assert!(inside(&IndexRange::Exactly(json!(null)), &null));
        assert!(inside(&IndexRange::Everything, &null) && inside(&IndexRange::Everything, &string));
        assert_eq!(key_bounds(&IndexRange::Nothing), None);
        let backwards = IndexRange::Values {
            kind: ValueKind::Number,
            low: Some(RangeEnd {
                value: json!(7),
                inclusive: true,
            }),
            high: Some(RangeEnd {
                value: json!(6),
                inclusive: true,
            }),
        };
        assert_eq!(key_bounds(&backwards), None);
    }

    #[test]
    fn too_long_values_are_refused() {
        let long = json!("x".repeat(MAX_ENTRY_KEY_BYTES));
        assert!(index_entry_key(&long, "n#1").is_err());
    }
}
