//! Collection items as JSON documents: `collection` is the partition key and `key` (the primary
//! key, encoded so that string order is key order) the sort key. A collection is read with Query,
//! in primary-key order, never with Scan.
//!
//! Each collection's partition also holds its item count under the key [`COUNT_KEY`] (outside
//! both item key forms, and below them, so key-ordered Queries start after it). Every write of a
//! new item adds one to it in the same transaction, conditional on the item not existing; an
//! overwrite leaves it alone. There is no item delete. Items carry a `version`, so an overwrite
//! is conditional on the item it read; the same transactions keep the declared field indexes
//! (`super::index`) in step with the items.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{AttributeValue, Delete, Put, TransactWriteItem, Update};
use serde_json::{Map, Value};

use super::records::{ItemPage, ItemRecord, PageCursor};
use super::{Store, StoreError};

/// Sort key of a collection's item count: below `n#` and `s#`, so never an item's.
pub const COUNT_KEY: &str = "#count";
/// Every item key is at least this (`n#…` or `s#…`).
const FIRST_ITEM_KEY: &str = "n#";
/// Attempts at one item write before giving up (each lost only to a concurrent writer).
const WRITE_ATTEMPTS: u32 = 5;

fn malformed(error: aws_sdk_dynamodb::error::BuildError) -> StoreError {
    StoreError::Malformed(error.to_string())
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
    /// Writes an item and its entries in the indexes of `indexed` fields, in one transaction:
    /// a new item (conditional on not existing) with its collection's count (`ADD 1`,
    /// conditional on existing); an existing one (conditional on its version being the one
    /// read) replacing its entries, the count unchanged. Optimistic: a new item costs one
    /// request; a failed condition says what to read before trying again.
    pub async fn put_item(
        &self,
        collection: &str,
        key: String,
        data: Map<String, Value>,
        indexed: &[String],
    ) -> Result<(), StoreError> {
        let entries = indexed
            .iter()
            .map(|field| super::index::index_entry_item(collection, field, &key, &data))
            .collect::<Result<Vec<_>, StoreError>>()?;
        // What is believed stored: nothing until a condition says otherwise.
        let mut existing: Option<ItemRecord> = None;
        let mut conflicted = false;
        for attempt in 0..WRITE_ATTEMPTS {
            if conflicted {
                tokio::time::sleep(super::jittered_backoff(attempt)).await;
            }
            let version = existing.as_ref().map_or(0, |r| r.version) + 1;
            let item: HashMap<String, AttributeValue> = serde_dynamo::to_item(ItemRecord {
                collection: collection.to_owned(),
                key: key.clone(),
                data: data.clone(),
                version,
            })?;
            let actions = match &existing {
                None => self.insert_actions(collection, item, &entries)?,
                Some(old) => self.replace_actions(collection, item, old, indexed, &entries)?,
            };
            let result = self
                .client
                .transact_write_items()
                .set_transact_items(Some(actions))
                .send()
                .await;
            let error = match result {
                Ok(_) => return Ok(()),
                Err(error) => error,
            };
            let Some(service) = error.as_service_error() else {
                return Err(error.into());
            };
            conflicted = super::transaction_conflict(service);
            if super::condition_failed_at(service, 0) {
                // The item exists, or changed since it was read: read it.
                existing = self.item_record(collection, &key).await?;
            } else if existing.is_none() && super::condition_failed_at(service, 1 + entries.len()) {
                // The collection has no count yet.
                self.ensure_item_count(collection).await?;
            } else if !conflicted {
                return Err(error.into());
            }
        }
        Err(StoreError::Conflict)
    }

    /// A new item: its put (conditional on not existing), its entries, the count's `ADD 1`.
    fn insert_actions(
        &self,
        collection: &str,
        item: HashMap<String, AttributeValue>,
        entries: &[HashMap<String, AttributeValue>],
    ) -> Result<Vec<TransactWriteItem>, StoreError> {
        let put = Put::builder()
            .table_name(&self.tables.items)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(#k)")
            .expression_attribute_names("#k", "key")
            .build()
            .map_err(malformed)?;
        let count = Update::builder()
            .table_name(&self.tables.items)
            .key("collection", AttributeValue::S(collection.to_owned()))
            .key("key", AttributeValue::S(COUNT_KEY.to_owned()))
            .update_expression("ADD #n :one")
            .condition_expression("attribute_exists(#n)")
            .expression_attribute_names("#n", "item_count")
            .expression_attribute_values(":one", AttributeValue::N("1".into()))
            .build()
            .map_err(malformed)?;
        let mut actions = vec![TransactWriteItem::builder().put(put).build()];
        actions.extend(self.entry_puts(entries)?);
        actions.push(TransactWriteItem::builder().update(count).build());
        Ok(actions)
    }

    /// An existing item: its put (conditional on the version read), the deletion of each entry
    /// whose value changed, the new entries.
    fn replace_actions(
        &self,
        collection: &str,
        item: HashMap<String, AttributeValue>,
        old: &ItemRecord,
        indexed: &[String],
        entries: &[HashMap<String, AttributeValue>],
    ) -> Result<Vec<TransactWriteItem>, StoreError> {
        let mut put = Put::builder()
            .table_name(&self.tables.items)
            .set_item(Some(item))
            .expression_attribute_names("#v", "version");
        put = if old.version == 0 {
            put.condition_expression("attribute_exists(#k) AND attribute_not_exists(#v)")
                .expression_attribute_names("#k", "key")
        } else {
            put.condition_expression("#v = :v")
                .expression_attribute_values(":v", AttributeValue::N(old.version.to_string()))
        };
        let mut actions = vec![
            TransactWriteItem::builder()
                .put(put.build().map_err(malformed)?)
                .build(),
        ];
        for (field, entry) in indexed.iter().zip(entries) {
            let old_value = old.data.get(field).unwrap_or(&Value::Null);
            let stale = super::index::index_entry_key(old_value, &old.key)?;
            if entry.get("key").and_then(|k| k.as_s().ok()) != Some(&stale) {
                let delete = Delete::builder()
                    .table_name(&self.tables.items)
                    .key(
                        "collection",
                        AttributeValue::S(super::index::index_partition(collection, field)),
                    )
                    .key("key", AttributeValue::S(stale))
                    .build()
                    .map_err(malformed)?;
                actions.push(TransactWriteItem::builder().delete(delete).build());
            }
        }
        actions.extend(self.entry_puts(entries)?);
        Ok(actions)
    }

    fn entry_puts(
        &self,
        entries: &[HashMap<String, AttributeValue>],
    ) -> Result<Vec<TransactWriteItem>, StoreError> {
        entries
            .iter()
            .map(|entry| {
                let put = Put::builder()
                    .table_name(&self.tables.items)
                    .set_item(Some(entry.clone()))
                    .build()
                    .map_err(malformed)?;
                Ok(TransactWriteItem::builder().put(put).build())
            })
            .collect()
    }

    /// The stored item with its version (strongly consistent).
    async fn item_record(
        &self,
        collection: &str,
        key: &str,
    ) -> Result<Option<ItemRecord>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.tables.items)
            .key("collection", AttributeValue::S(collection.to_owned()))
            .key("key", AttributeValue::S(key.to_owned()))
            .consistent_read(true)
            .send()
            .await?;
        output
            .item
            .map(|item| Ok(serde_dynamo::from_item(item)?))
            .transpose()
    }

    /// Every item of `collection` in key order, page by page (`limit` each), for rebuilding an
    /// index: strongly consistent.
    pub async fn items_page_consistent(
        &self,
        collection: &str,
        start: Option<PageCursor>,
        limit: i32,
    ) -> Result<ItemPage, StoreError> {
        let output = self
            .collection_query(collection)
            .consistent_read(true)
            .set_exclusive_start_key(PageCursor::start_key(start))
            .limit(limit)
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

    /// Creates the collection's count if it has none: a collection written before counts
    /// existed is counted once (a Query of its keys; only the operator tool writes items),
    /// and whichever writer creates the count first wins.
    async fn ensure_item_count(&self, collection: &str) -> Result<(), StoreError> {
        if self.item_count(collection).await?.is_some() {
            return Ok(());
        }
        let mut existing: u64 = 0;
        let mut start = None;
        loop {
            let output = self
                .collection_query(collection)
                .select(aws_sdk_dynamodb::types::Select::Count)
                .consistent_read(true)
                .set_exclusive_start_key(start)
                .send()
                .await?;
            existing += u64::try_from(output.count).unwrap_or(0);
            match output.last_evaluated_key.filter(|key| !key.is_empty()) {
                Some(next) => start = Some(next),
                None => break,
            }
        }
        let created = self
            .client
            .put_item()
            .table_name(&self.tables.items)
            .item("collection", AttributeValue::S(collection.to_owned()))
            .item("key", AttributeValue::S(COUNT_KEY.to_owned()))
            .item("item_count", AttributeValue::N(existing.to_string()))
            .condition_expression("attribute_not_exists(#k)")
            .expression_attribute_names("#k", "key")
            .send()
            .await;
        match created {
            Ok(_) => Ok(()),
            Err(error)
                if error
                    .as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Ok(())
            }
            Err(error) => Err(error.into()),
        }
    }

    /// How many items `collection` holds, from its count (one strongly consistent GetItem);
    /// `None` for a collection never written since counts existed.
    pub async fn item_count(&self, collection: &str) -> Result<Option<u64>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.tables.items)
            .key("collection", AttributeValue::S(collection.to_owned()))
            .key("key", AttributeValue::S(COUNT_KEY.to_owned()))
            .consistent_read(true)
            .send()
            .await?;
        Ok(output
            .item
            .and_then(|item| item.get("item_count").cloned())
            .and_then(|n| n.as_n().ok().and_then(|n| n.parse().ok())))
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

    /// A Query of `collection`'s items (from the first item key on, so never its count).
    fn collection_query(
        &self,
        collection: &str,
    ) -> aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder {
        self.client
            .query()
            .table_name(&self.tables.items)
            .key_condition_expression("#c = :c AND #k >= :first")
            .expression_attribute_names("#c", "collection")
            .expression_attribute_names("#k", "key")
            .expression_attribute_values(":c", AttributeValue::S(collection.to_owned()))
            .expression_attribute_values(":first", AttributeValue::S(FIRST_ITEM_KEY.into()))
    }

    /// Up to `limit` items of `collection` in key order (reversed unless `forward`), starting
    /// after `start`.
    pub async fn query_items(
        &self,
        collection: &str,
        start: Option<PageCursor>,
        limit: i32,
        forward: bool,
    ) -> Result<ItemPage, StoreError> {
        let output = self
            .collection_query(collection)
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
    fn the_count_key_sorts_below_every_item_key() {
        assert!(COUNT_KEY < FIRST_ITEM_KEY);
        for id in [json!(0), json!(u64::MAX), json!("!"), json!("zzz")] {
            let key = item_sort_key(&id).unwrap();
            assert!(key.as_str() >= FIRST_ITEM_KEY, "{key}");
        }
    }

    #[test]
    fn empty_negative_and_fractional_keys_are_rejected() {
        assert_eq!(item_sort_key(&json!("")), None);
        assert_eq!(item_sort_key(&json!(-1)), None);
        assert_eq!(item_sort_key(&json!(1.5)), None);
        assert_eq!(item_sort_key(&json!(null)), None);
    }
}
