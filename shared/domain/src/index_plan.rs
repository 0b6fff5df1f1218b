//! Which declared index, if any, serves a read of a collection. Pure.
//!
//! An index only chooses which rows are read and in which order: every row still goes through
//! the caller's permissions, the whole filter and the search, as any other read. So an index is
//! used for a field only when the caller may read every row and that field on it (an
//! administrator, or a read permission without a row filter that grants the field): a caller
//! with a row filter would otherwise examine rows they cannot see, and how long a page takes or
//! when the scan bound answers 400 would tell them about those rows. A range is derived only
//! from conditions every matching row satisfies (`_eq`, `_gt`, `_gte`, `_lt`, `_lte`,
//! `_between`, at the top of the filter or under `_and`), with the evaluator's own casts.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use serde_json::Value;

use crate::access::ReadPlan;
use crate::access::filter::{self, FilterContext};
use crate::query::ItemsQuery;
use crate::value_order::SortKey;
use crate::value_order::{MAX_ENTRY_KEY_BYTES, ValueKind, compare_values, encode_value};

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

/// How a read uses an index.
#[derive(Debug, Clone, PartialEq)]
pub enum IndexAccess {
    /// Rows arrive in the requested order: a page stops as soon as it is full.
    Stream {
        field: String,
        range: IndexRange,
        forward: bool,
    },
    /// Every row the filter can match is in `range`: read it all (within the scan bound), then
    /// sort in memory as any other read.
    Collect { field: String, range: IndexRange },
}

/// The index access for `query`, if one helps. `key_order` is the direction of a read in
/// primary-key order (`None` for another sort); `streaming` says `meta` needs no row examined;
/// `total_needs_rows` says `meta=total_count` must count every row.
pub fn choose(
    plan: &ReadPlan,
    query: &ItemsQuery,
    key_order: Option<bool>,
    streaming: bool,
    total_needs_rows: bool,
) -> Option<IndexAccess> {
    let usable = |field: &str| {
        field != plan.collection.primary_key
            && plan.collection.field(field).is_some_and(|f| f.is_indexed())
            && plan.reads_field_on_every_row(field)
    };
    let ranges = match &query.filter {
        Some(user_filter) => ranges(user_filter, plan, plan.filter_context(), &usable),
        None => BTreeMap::new(),
    };
    if streaming
        && let [SortKey { field, descending }] = query.sort.as_slice()
        && usable(field)
    {
        return Some(IndexAccess::Stream {
            field: field.clone(),
            range: ranges.get(field).cloned().unwrap_or(IndexRange::Everything),
            forward: !descending,
        });
    }
    // Entries of one value come in primary-key order.
    let exact = ranges
        .iter()
        .find(|(_, range)| matches!(range, IndexRange::Exactly(_) | IndexRange::Nothing));
    if streaming
        && let Some(forward) = key_order
        && let Some((field, range)) = exact
    {
        return Some(IndexAccess::Stream {
            field: field.clone(),
            range: range.clone(),
            forward,
        });
    }
    if total_needs_rows {
        return None;
    }
    exact
        .or_else(|| ranges.iter().next())
        .map(|(field, range)| IndexAccess::Collect {
            field: field.clone(),
            range: range.clone(),
        })
}

/// The narrowest range per usable field that every row matching `user_filter` is in.
fn ranges(
    user_filter: &Value,
    plan: &ReadPlan,
    context: &FilterContext,
    usable: &impl Fn(&str) -> bool,
) -> BTreeMap<String, IndexRange> {
    let mut found: BTreeMap<String, IndexRange> = BTreeMap::new();
    let mut add = |field: &str, range: IndexRange| {
        let combined = match found.remove(field) {
            Some(existing) => intersect(existing, range),
            None => range,
        };
        found.insert(field.to_owned(), combined);
    };
    let mut pending = vec![user_filter];
    while let Some(Value::Object(clauses)) = pending.pop() {
        for (key, condition) in clauses {
            match (key.as_str(), condition) {
                ("_and", Value::Array(parts)) => pending.extend(parts),
                (field, Value::Object(operators)) if !field.starts_with('_') && usable(field) => {
                    let Some(kind) = plan
                        .collection
                        .field(field)
                        .map(|f| ValueKind::of_type(&f.field_type))
                    else {
                        continue;
                    };
                    for (operator, expected) in operators {
                        let Ok(expected) = filter::resolve_variables(expected, context) else {
                            continue;
                        };
                        if let Some(range) = narrowing(operator, &expected, kind) {
                            add(field, range);
                        }
                    }
                }
                _ => {}
            }
        }
    }
    found
}

/// The range holding every value of `kind` (or null) for which `actual <operator> expected`
/// can hold, as `filter::apply` evaluates it; `None` when no single range does.
fn narrowing(operator: &str, expected: &Value, kind: ValueKind) -> Option<IndexRange> {
    match operator {
        "_eq" => equal_to(expected, kind),
        "_gt" => bound(expected, kind, true, false),
        "_gte" => bound(expected, kind, true, true),
        "_lt" => bound(expected, kind, false, false),
        "_lte" => bound(expected, kind, false, true),
        "_between" => {
            let bounds = filter::values(expected, operator).ok()?;
            let [low, high] = bounds.as_slice() else {
                return None;
            };
            Some(intersect(
                bound(low, kind, true, true)?,
                bound(high, kind, false, true)?,
            ))
        }
        _ => None,
    }
}

/// A finite number as a JSON value (the evaluator compares numbers as `f64`).
fn finite(n: f64) -> Option<Value> {
    serde_json::Number::from_f64(n).map(Value::Number)
}

/// True when a key made of `value` stays under DynamoDB's sort-key limit: a longer bound in a
/// Query is refused (ValidationException, a 503 and an alarm), and no stored entry can hold
/// such a value (writes refuse it).
fn fits_a_key(value: &Value) -> bool {
    encode_value(value).len() < MAX_ENTRY_KEY_BYTES
}

fn equal_to(expected: &Value, kind: ValueKind) -> Option<IndexRange> {
    if !fits_a_key(expected) {
        return Some(IndexRange::Nothing);
    }
    Some(match (kind, expected) {
        (_, Value::Null) => IndexRange::Exactly(Value::Null),
        (ValueKind::Number, Value::Number(_) | Value::String(_)) => {
            match filter::number(expected) {
                Some(n) => IndexRange::Exactly(finite(n)?),
                None => IndexRange::Nothing,
            }
        }
        (ValueKind::Number, _) => IndexRange::Nothing,
        (ValueKind::String, Value::String(_)) => IndexRange::Exactly(expected.clone()),
        (ValueKind::String, Value::Bool(b)) => IndexRange::Exactly(Value::String(b.to_string())),
        (ValueKind::Bool, Value::Bool(_)) => IndexRange::Exactly(expected.clone()),
        (ValueKind::Bool, Value::String(s)) => match s.as_str() {
            "true" => IndexRange::Exactly(Value::Bool(true)),
            "false" => IndexRange::Exactly(Value::Bool(false)),
            _ => IndexRange::Nothing,
        },
        (ValueKind::Bool, _) => IndexRange::Nothing,
        // A number against strings compares their parsed values: no single range.
        _ => return None,
    })
}

/// `_gt`/`_gte` (`lower`) or `_lt`/`_lte` against `expected`.
fn bound(expected: &Value, kind: ValueKind, lower: bool, inclusive: bool) -> Option<IndexRange> {
    if !fits_a_key(expected) {
        // No index for this condition: the read examines rows as without one.
        return None;
    }
    let value = match (kind, expected) {
        // Nothing compares with null.
        (_, Value::Null) => return Some(IndexRange::Nothing),
        (ValueKind::Number, Value::Number(_) | Value::String(_)) => {
            match filter::number(expected) {
                Some(n) => finite(n)?,
                None => return Some(IndexRange::Nothing),
            }
        }
        (ValueKind::Number, _) => return Some(IndexRange::Nothing),
        (ValueKind::String, Value::String(_)) => expected.clone(),
        (ValueKind::String, Value::Bool(_)) => return Some(IndexRange::Nothing),
        _ => return None,
    };
    let end = Some(RangeEnd { value, inclusive });
    Some(if lower {
        IndexRange::Values {
            kind,
            low: end,
            high: None,
        }
    } else {
        IndexRange::Values {
            kind,
            low: None,
            high: end,
        }
    })
}

fn within(value: &Value, low: &Option<RangeEnd>, high: &Option<RangeEnd>) -> bool {
    let above = low.as_ref().is_none_or(|end| {
        let order = compare_values(value, &end.value);
        order.is_gt() || (end.inclusive && order.is_eq())
    });
    let below = high.as_ref().is_none_or(|end| {
        let order = compare_values(value, &end.value);
        order.is_lt() || (end.inclusive && order.is_eq())
    });
    above && below
}

/// The tighter of two ends (`lower`: the higher low end); on equal values the exclusive one.
fn tighter(a: Option<RangeEnd>, b: Option<RangeEnd>, lower: bool) -> Option<RangeEnd> {
    match (a, b) {
        (None, end) | (end, None) => end,
        (Some(a), Some(b)) => match compare_values(&a.value, &b.value) {
            Ordering::Equal => Some(RangeEnd {
                value: a.value,
                inclusive: a.inclusive && b.inclusive,
            }),
            order if order.is_gt() == lower => Some(a),
            _ => Some(b),
        },
    }
}

fn intersect(a: IndexRange, b: IndexRange) -> IndexRange {
    use IndexRange::{Everything, Exactly, Nothing, Values};
    match (a, b) {
        (Nothing, _) | (_, Nothing) => Nothing,
        (Everything, other) | (other, Everything) => other,
        (Exactly(x), Exactly(y)) => {
            if ValueKind::of(&x) == ValueKind::of(&y) && compare_values(&x, &y).is_eq() {
                Exactly(x)
            } else {
                Nothing
            }
        }
        (Exactly(x), Values { kind, low, high }) | (Values { kind, low, high }, Exactly(x)) => {
            if ValueKind::of(&x) == kind && within(&x, &low, &high) {
                Exactly(x)
            } else {
                Nothing
            }
        }
        (
            Values {
                kind,
                low: low_a,
                high: high_a,
            },
            Values {
                kind: other,
                low: low_b,
                high: high_b,
            },
        ) => {
            if kind != other {
                return Nothing;
            }
            let low = tighter(low_a, low_b, true);
            let high = tighter(high_a, high_b, false);
            match (&low, &high) {
                (Some(l), Some(h)) => match compare_values(&l.value, &h.value) {
                    Ordering::Greater => Nothing,
                    Ordering::Equal if l.inclusive && h.inclusive => Exactly(l.value.clone()),
                    Ordering::Equal => Nothing,
                    Ordering::Less => Values { kind, low, high },
                },
                _ => Values { kind, low, high },
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::access::Accountability;
    use crate::model::{Collection, FieldDef, FieldSchema, Permission};
    use serde_json::json;

    fn field(name: &str, field_type: &str, indexed: bool) -> FieldDef {
        FieldDef {
            schema: indexed.then_some(FieldSchema { is_indexed: true }),
            ..FieldDef::new(name, field_type)
        }
    }

    fn collection() -> Collection {
        Collection {
            collection: "posts".into(),
            primary_key: "id".into(),
            fields: vec![
                field("id", "integer", false),
                field("date_created", "dateTime", true),
                field("views", "integer", true),
                field("published", "boolean", true),
                field("title", "string", false),
            ],
        }
    }

    fn admin() -> ReadPlan {
        let admin = Accountability {
            admin: true,
            ..Default::default()
        };
        ReadPlan::new(&admin, collection(), None, 0).unwrap()
    }

    /// A reader who sees `views` only on published rows, everything else on every row.
    fn partial_reader() -> ReadPlan {
        let permission = |id: &str, fields: &[&str], filter: Option<Value>| Permission {
            id: id.into(),
            policy: "p".into(),
            collection: "posts".into(),
            action: "read".into(),
            fields: fields.iter().map(|f| (*f).to_owned()).collect(),
            permissions: filter,
            presets: None,
            validation: None,
        };
        let accountability = Accountability {
            permissions: vec![
                permission("1", &["id", "date_created", "title", "published"], None),
                permission("2", &["views"], Some(json!({"published": {"_eq": true}}))),
            ],
            ..Default::default()
        };
        ReadPlan::new(&accountability, collection(), None, 0).unwrap()
    }

    fn query(pairs: &[(&str, &str)]) -> ItemsQuery {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        ItemsQuery::parse(&pairs, 100, 1000).unwrap()
    }

    fn at_least(value: Value) -> IndexRange {
        IndexRange::Values {
            kind: ValueKind::of(&value),
            low: Some(RangeEnd {
                value,
                inclusive: true,
            }),
            high: None,
        }
    }

    #[test]
    fn a_sort_on_an_indexed_field_streams_its_index() {
        let access = choose(
            &admin(),
            &query(&[("sort", "-date_created")]),
            None,
            true,
            false,
        );
        assert_eq!(
            access,
            Some(IndexAccess::Stream {
                field: "date_created".into(),
                range: IndexRange::Everything,
                forward: false
            })
        );
    }

    #[test]
    fn a_caller_with_a_row_filter_never_reads_through_an_index() {
        // Every field granted, but only on the rows the filter lets through: an index read
        // would examine the others.
        let accountability = Accountability {
            permissions: vec![Permission {
                id: "1".into(),
                policy: "p".into(),
                collection: "posts".into(),
                action: "read".into(),
                fields: vec!["*".into()],
                permissions: Some(json!({"published": {"_eq": true}})),
                presets: None,
                validation: None,
            }],
            ..Default::default()
        };
        let plan = ReadPlan::new(&accountability, collection(), None, 0).unwrap();
        let sorted = choose(
            &plan,
            &query(&[("sort", "-date_created")]),
            None,
            true,
            false,
        );
        assert_eq!(sorted, None);
        let ranged = query(&[("filter", r#"{"views":{"_gt":7}}"#)]);
        assert_eq!(choose(&plan, &ranged, Some(true), true, false), None);
    }

    #[test]
    fn a_bound_too_long_for_a_sort_key_uses_no_index() {
        let long = json!("x".repeat(MAX_ENTRY_KEY_BYTES));
        // No stored entry can hold it: an equality matches nothing, without a Query.
        assert_eq!(
            equal_to(&long, ValueKind::String),
            Some(IndexRange::Nothing)
        );
        assert_eq!(bound(&long, ValueKind::String, true, true), None);
        assert_eq!(bound(&long, ValueKind::String, false, false), None);
        let short = json!("x");
        assert_eq!(
            equal_to(&short, ValueKind::String),
            Some(IndexRange::Exactly(short.clone()))
        );
        assert!(bound(&short, ValueKind::String, true, true).is_some());
    }

    #[test]
    fn a_range_on_the_sorted_field_narrows_the_stream() {
        let access = choose(
            &admin(),
            &query(&[
                ("sort", "date_created"),
                ("filter[date_created][_gte]", "2024-01-01"),
            ]),
            None,
            true,
            false,
        );
        assert_eq!(
            access,
            Some(IndexAccess::Stream {
                field: "date_created".into(),
                range: at_least(json!("2024-01-01")),
                forward: true
            })
        );
    }

    #[test]
    fn an_equality_in_key_order_streams_one_value() {
        let q = query(&[("filter", r#"{"views":{"_eq":"7"}}"#)]);
        assert_eq!(
            choose(&admin(), &q, Some(false), true, false),
            Some(IndexAccess::Stream {
                field: "views".into(),
                range: IndexRange::Exactly(json!(7.0)),
                forward: false
            })
        );
        // A string that is no number matches no integer.
        let q = query(&[("filter", r#"{"views":{"_eq":"seven"}}"#)]);
        assert!(matches!(
            choose(&admin(), &q, Some(true), true, false),
            Some(IndexAccess::Stream {
                range: IndexRange::Nothing,
                ..
            })
        ));
    }

    #[test]
    fn ranges_in_key_order_or_another_sort_are_collected() {
        let q = query(&[
            (
                "filter",
                r#"{"_and":[{"views":{"_gt":3}},{"views":{"_lte":9}}]}"#,
            ),
            ("sort", "title"),
        ]);
        assert_eq!(
            choose(&admin(), &q, None, true, false),
            Some(IndexAccess::Collect {
                field: "views".into(),
                range: IndexRange::Values {
                    kind: ValueKind::Number,
                    low: Some(RangeEnd {
                        value: json!(3.0),
                        inclusive: false
                    }),
                    high: Some(RangeEnd {
                        value: json!(9.0),
                        inclusive: true
                    }),
                }
            })
        );
        // A total over every row cannot come from a range.
        assert_eq!(choose(&admin(), &q, None, false, true), None);
    }

    #[test]
    fn contradictions_match_nothing() {
        let q = query(&[(
            "filter",
            r#"{"views":{"_gt":9,"_lt":3},"date_created":{"_eq":null}}"#,
        )]);
        let Some(IndexAccess::Stream { range, .. }) = choose(&admin(), &q, Some(true), true, false)
        else {
            panic!("an exact range streams");
        };
        assert_eq!(range, IndexRange::Exactly(Value::Null));
        let q = query(&[("filter", r#"{"views":{"_gt":9,"_lt":3}}"#)]);
        assert!(matches!(
            choose(&admin(), &q, Some(true), true, false),
            Some(IndexAccess::Stream {
                range: IndexRange::Nothing,
                ..
            })
        ));
    }

    #[test]
    fn or_negations_unindexed_fields_and_other_sorts_use_no_index() {
        for pairs in [
            vec![(
                "filter",
                r#"{"_or":[{"views":{"_eq":1}},{"title":{"_eq":"a"}}]}"#,
            )],
            vec![("filter", r#"{"views":{"_neq":1}}"#)],
            vec![("filter", r#"{"title":{"_eq":"a"}}"#)],
            vec![("sort", "title")],
            vec![("sort", "date_created,title")],
            vec![],
        ] {
            assert_eq!(
                choose(&admin(), &query(&pairs), Some(true), true, false),
                None,
                "{pairs:?}"
            );
        }
    }

    #[test]
    fn a_field_hidden_on_some_rows_is_never_read_through_its_index() {
        let reader = partial_reader();
        assert_eq!(
            choose(&reader, &query(&[("sort", "views")]), None, true, false),
            None
        );
        let q = query(&[("filter", r#"{"views":{"_eq":null}}"#)]);
        assert_eq!(choose(&reader, &q, Some(true), true, false), None);
        assert!(
            choose(
                &reader,
                &query(&[("sort", "-date_created")]),
                None,
                true,
                false
            )
            .is_some()
        );
    }

    #[test]
    fn booleans_and_between_follow_the_evaluator() {
        let q = query(&[("filter[published][_eq]", "true")]);
        assert!(matches!(
            choose(&admin(), &q, Some(true), true, false),
            Some(IndexAccess::Stream {
                range: IndexRange::Exactly(Value::Bool(true)),
                ..
            })
        ));
        let q = query(&[("filter[views][_between]", "2,5")]);
        let Some(IndexAccess::Collect { range, .. }) =
            choose(&admin(), &q, Some(true), true, false)
        else {
            panic!("a range is collected");
        };
        assert_eq!(
            range,
            IndexRange::Values {
                kind: ValueKind::Number,
                low: Some(RangeEnd {
                    value: json!(2.0),
                    inclusive: true
                }),
                high: Some(RangeEnd {
                    value: json!(5.0),
                    inclusive: true
                }),
            }
        );
    }
}
