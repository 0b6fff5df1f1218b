//! The one order of item values, as sorts, aggregates (`min`, `max`) and the index encoding all
//! follow it: nulls first, then booleans, numbers, strings (arrays and objects after them).

use std::cmp::Ordering;

use serde_json::Value;

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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn nulls_then_booleans_numbers_strings() {
        let ascending = [
            json!(null),
            json!(false),
            json!(true),
            json!(-1.5),
            json!(2),
            json!(10),
            json!("10"),
            json!("9"),
            json!("a"),
        ];
        for pair in ascending.windows(2) {
            assert_eq!(
                compare_values(&pair[0], &pair[1]),
                Ordering::Less,
                "{pair:?}"
            );
            assert_eq!(
                compare_values(&pair[1], &pair[0]),
                Ordering::Greater,
                "{pair:?}"
            );
        }
        assert_eq!(compare_values(&json!(1), &json!(1.0)), Ordering::Equal);
    }
}
