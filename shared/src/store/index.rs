//! Declared field indexes of collections, kept in the items table beside the items.
//!
//! Each indexed field of a collection has its own partition, `#index#<collection>#<field>`,
//! holding one entry per item: its sort key is the field's value in an order-preserving
//! encoding followed by the item's key, and its `data` is a copy of the item, so a page sorted
//! or filtered on the field is one strongly consistent Query with no read per row. Entries are
//! written in the same transaction as their item (`Store::put_item`).
//!
//! The encoding orders values as [`crate::domain::ordering`] does: nulls first, then
//! booleans, numbers (as `f64`, negatives and fractions included) and strings (byte order),
//! then arrays and objects (unordered among themselves, as in memory). Every encoding is
//! prefix-free, so the item key after it only breaks ties, in key order.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::{Map, Value};

use super::items::{ItemPage, ItemRecord};
use super::{Store, StoreError};

/// DynamoDB's limit on a sort key, in bytes: a value whose entry key would be longer cannot be
/// indexed, and its item is refused.
pub const MAX_ENTRY_KEY_BYTES: usize = 1024;
/// Every item key starts with `n` or `s` (`n#…`, `s#…`): below this upper end, after any value.
const ITEM_KEYS_END: &str = "t";

/// Kinds of value, in their sort order; the tag starts every encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueKind {
    Null,
    Bool,
    Number,
    String,
    Array,
    Object,
}

impl ValueKind {
    pub fn of(value: &Value) -> Self {
        match value {
            Value::Null => Self::Null,
            Value::Bool(_) => Self::Bool,
            Value::Number(_) => Self::Number,
            Value::String(_) => Self::String,
            Value::Array(_) => Self::Array,
            Value::Object(_) => Self::Object,
        }
    }

    /// The kind an indexed field's values must have (or be null), by the field's type, so
    /// that an index range of that kind holds every value a filter on it can match.
    pub fn of_type(field_type: &str) -> Self {
        match field_type {
            "integer" | "bigInteger" | "float" | "decimal" => Self::Number,
            "boolean" => Self::Bool,
            _ => Self::String,
        }
    }

    fn tag(self) -> char {
        match self {
            Self::Null => '0',
            Self::Bool => '1',
            Self::Number => '2',
            Self::String => '3',
            Self::Array => '4',
            Self::Object => '5',
        }
    }

    /// The tag of the next kind: above every encoding of this one.
    fn end(self) -> char {
        char::from(self.tag() as u8 + 1)
    }
}

/// `f64` bits flipped so that their big-endian hex order is numeric order: negatives have every
/// bit inverted, positives only the sign bit. `-0.0` is `0.0`, as they compare equal.
fn encode_number(n: f64) -> String {
    let n = if n == 0.0 { 0.0 } else { n };
    let bits = n.to_bits();
    let ordered = if bits >> 63 == 1 {
        !bits
    } else {
        bits | (1 << 63)
    };
    format!("{ordered:016x}")
}

/// Characters 0x00 and 0x01 become `\x01\x02` and `\x01\x03`, and the end is `\x01\x01`: below
/// any continuation, so a string sorts before its extensions and no NUL is stored.
fn encode_string(s: &str, out: &mut String) {
    for c in s.chars() {
        match c {
            '\u{0}' => out.push_str("\u{1}\u{2}"),
            '\u{1}' => out.push_str("\u{1}\u{3}"),
            other => out.push(other),
        }
    }
    out.push_str("\u{1}\u{1}");
}

/// The order-preserving, prefix-free encoding of a value.
pub fn encode_value(value: &Value) -> String {
    let kind = ValueKind::of(value);
    let mut out = String::new();
    out.push(kind.tag());
    match value {
        Value::Bool(b) => out.push(if *b { '1' } else { '0' }),
        Value::Number(n) => out.push_str(&encode_number(n.as_f64().unwrap_or(0.0))),
        Value::String(s) => encode_string(s, &mut out),
        // Nulls are all equal; arrays and objects are unordered among themselves in memory.
        Value::Null | Value::Array(_) | Value::Object(_) => {}
    }
    out
}

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

/// One end of an index range: a value, and whether entries equal to it are inside.
#[derive(Debug, Clone, PartialEq)]
pub struct RangeEnd {
    pub value: Value,
    pub inclusive: bool,
}

/// The entries of an index a read needs, by value.
#[derive(Debug, Clone, PartialEq)]
pub enum IndexRange {
    /// Every entry: a read in the field's order.
    Everything,
    /// No entry: a condition nothing can match.
    Nothing,
    /// Entries of one kind of value (never null) between optional ends.
    Values {
        kind: ValueKind,
        low: Option<RangeEnd>,
        high: Option<RangeEnd>,
    },
    /// Entries whose value is exactly this (null included): they come in item-key order.
    Exactly(Value),
}

impl IndexRange {
    /// Inclusive sort-key bounds for `BETWEEN`, or `None` when nothing can be inside.
    fn key_bounds(&self) -> Option<(String, String)> {
        let above = |value: &Value| format!("{}{ITEM_KEYS_END}", encode_value(value));
        let (low, high) = match self {
            Self::Everything => ("0".to_owned(), "6".to_owned()),
            Self::Nothing => return None,
            Self::Exactly(value) => (encode_value(value), above(value)),
            Self::Values { kind, low, high } => {
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
        start: Option<HashMap<String, AttributeValue>>,
        limit: i32,
        forward: bool,
    ) -> Result<ItemPage, StoreError> {
        let Some((low, high)) = range.key_bounds() else {
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
            skipped: 0,
            next: output.last_evaluated_key.filter(|key| !key.is_empty()),
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
    use proptest::prelude::*;
    use serde_json::json;

    fn entry(value: Value, id: u64) -> String {
        index_entry_key(&value, &super::super::item_sort_key(&json!(id)).unwrap()).unwrap()
    }

    proptest! {
        #[test]
        fn numbers_encode_in_numeric_order(a in any::<f64>(), b in any::<f64>()) {
            prop_assume!(a.is_finite() && b.is_finite());
            let (ea, eb) = (encode_value(&json!(a)), encode_value(&json!(b)));
            prop_assert_eq!(ea < eb, a < b);
            prop_assert_eq!(ea == eb, a == b);
        }

        #[test]
        fn integers_encode_in_numeric_order(a in any::<i64>(), b in any::<i64>()) {
            // As in memory, integers compare as f64.
            let (fa, fb) = (a as f64, b as f64);
            let (ea, eb) = (encode_value(&json!(a)), encode_value(&json!(b)));
            prop_assert_eq!(ea < eb, fa < fb);
        }

        #[test]
        fn strings_encode_in_byte_order(a in "\\PC*|[\\x00-\\x02ab]{0,6}", b in "\\PC*|[\\x00-\\x02ab]{0,6}") {
            let (ea, eb) = (encode_value(&json!(a)), encode_value(&json!(b)));
            prop_assert_eq!(ea.cmp(&eb), a.as_bytes().cmp(b.as_bytes()));
            prop_assert!(!ea.contains(char::from(0)), "no NUL is stored");
        }

        #[test]
        fn entries_order_by_value_then_key(a in "[a-c]{0,3}", b in "[a-c]{0,3}", x in 0u64..50, y in 0u64..50) {
            let (ea, eb) = (entry(json!(a), x), entry(json!(b), y));
            let expected = a.cmp(&b).then(x.cmp(&y));
            prop_assert_eq!(ea.cmp(&eb), expected);
        }

        #[test]
        fn dates_encode_in_time_order(a in 0i64..253_402_300_799_000, b in 0i64..253_402_300_799_000) {
            let iso = |ms| json!(crate::domain::access::filter::iso8601(ms));
            let (ea, eb) = (encode_value(&iso(a)), encode_value(&iso(b)));
            prop_assert_eq!(ea.cmp(&eb), a.cmp(&b));
        }

        #[test]
        fn values_encode_in_the_in_memory_order(a in value(), b in value()) {
            let expected = crate::domain::ordering::compare_values(&a, &b);
            let (ea, eb) = (encode_value(&a), encode_value(&b));
            if expected == std::cmp::Ordering::Equal {
                // Only equal numbers of another representation, or arrays and objects, tie.
                prop_assert!(ea == eb);
            } else {
                prop_assert_eq!(ea.cmp(&eb), expected);
            }
        }
    }

    fn value() -> impl Strategy<Value = Value> {
        prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i32>().prop_map(|n| json!(n)),
            (-1e6f64..1e6).prop_map(|n| json!(n)),
            "[a-z\\x00]{0,4}".prop_map(Value::String),
            Just(json!([1])),
            Just(json!({"a": 1})),
        ]
    }

    #[test]
    fn kinds_sort_nulls_first_then_booleans_numbers_strings() {
        let ordered = [
            json!(null),
            json!(false),
            json!(true),
            json!(-1e300),
            json!(-1),
            json!(-0.5),
            json!(0),
            json!(0.5),
            json!(1e300),
            json!(""),
            json!("a"),
        ];
        for pair in ordered.windows(2) {
            assert!(encode_value(&pair[0]) < encode_value(&pair[1]), "{pair:?}");
        }
        assert_eq!(encode_value(&json!(-0.0)), encode_value(&json!(0)));
    }

    #[test]
    fn ranges_bound_exactly_the_entries_of_their_values() {
        let inside = |range: &IndexRange, key: &str| {
            range
                .key_bounds()
                .is_some_and(|(low, high)| low.as_str() <= key && key <= high.as_str())
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
        assert!(IndexRange::Exactly(json!(5)).key_bounds().is_some());
        assert!(inside(&IndexRange::Exactly(json!(5)), &five));
        assert!(!inside(&IndexRange::Exactly(json!(5)), &six));
        assert!(inside(&IndexRange::Exactly(json!(null)), &null));
        assert!(inside(&IndexRange::Everything, &null) && inside(&IndexRange::Everything, &string));
        assert_eq!(IndexRange::Nothing.key_bounds(), None);
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
        assert_eq!(backwards.key_bounds(), None);
    }

    #[test]
    fn too_long_values_are_refused() {
        let long = json!("x".repeat(MAX_ENTRY_KEY_BYTES));
        assert!(index_entry_key(&long, "n#1").is_err());
    }
}
