//! How values order: in memory (sorts, `min`/`max`, index ranges) and as the keys of index
//! entries, which encode each value so that their byte order is that same order.
//!
//! Nulls first, then booleans, numbers (as `f64`, negatives and fractions included) and strings
//! (byte order), then arrays and objects (unordered among themselves). Every encoding is
//! prefix-free, so an item key appended after it only breaks ties, in key order.

use std::cmp::Ordering;

use serde_json::Value;

/// DynamoDB's limit on a sort key, in bytes: a value whose entry key would be longer cannot be
/// indexed, and its item is refused.
pub const MAX_ENTRY_KEY_BYTES: usize = 1024;

/// One key of a sort: a field, ascending unless `descending`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SortKey {
    pub field: String,
    pub descending: bool,
}

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

    pub fn tag(self) -> char {
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
    pub fn end(self) -> char {
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

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

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
        fn dates_encode_in_time_order(a in 0i64..253_402_300_799_000, b in 0i64..253_402_300_799_000) {
            let iso = |ms| json!(crate::access::filter::iso8601(ms));
            let (ea, eb) = (encode_value(&iso(a)), encode_value(&iso(b)));
            prop_assert_eq!(ea.cmp(&eb), a.cmp(&b));
        }

        #[test]
        fn values_encode_in_the_in_memory_order(a in value(), b in value()) {
            let expected = compare_values(&a, &b);
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
