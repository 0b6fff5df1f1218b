//! The one order of item values, as sorts, aggregates (`min`, `max`) and the index encoding all
//! follow it: nulls first, then booleans, numbers, strings (arrays and objects after them).

use std::cmp::Ordering;

use serde_json::{Map, Value};

use crate::domain::query::SortKey;

fn rank(value: &Value) -> u8 {
    match value {
        Value::Null => 0,
        Value::Bool(_) => 1,
        Value::Number(_) => 2,
        Value::String(_) => 3,
        Value::Array(_) => 4,
        Value::Object(_) => 5,
    }
}

/// Nulls first ascending (last descending), then booleans, numbers, strings.
pub fn compare_values(a: &Value, b: &Value) -> Ordering {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x
            .as_f64()
            .partial_cmp(&y.as_f64())
            .unwrap_or(Ordering::Equal),
        (Value::String(x), Value::String(y)) => x.cmp(y),
        (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
        _ => rank(a).cmp(&rank(b)),
    }
}

/// Rows in the order of `sort`: each key in turn, [`compare_values`] on its field (missing:
/// null), reversed for a descending key.
pub fn compare_rows(a: &Map<String, Value>, b: &Map<String, Value>, sort: &[SortKey]) -> Ordering {
    for key in sort {
        let left = a.get(&key.field).unwrap_or(&Value::Null);
        let right = b.get(&key.field).unwrap_or(&Value::Null);
        let order = compare_values(left, right);
        let order = if key.descending {
            order.reverse()
        } else {
            order
        };
        if order != Ordering::Equal {
            return order;
        }
    }
    Ordering::Equal
}
