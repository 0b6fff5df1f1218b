//! `aggregate` and `groupBy` as Directus 11.3.5 answers them (`api/src/utils/apply-query.ts`,
//! `PayloadService.processAggregates`), computed over the rows a read already made visible to
//! the caller. Pure.
//!
//! Shapes: `count=*` is flat (`"count":5`), every other function nested by field
//! (`"sum":{"n":10}`); `countAll` is computed and then stripped (`{}`); a name that is not a
//! function adds nothing, and with no function and no `groupBy` the answer is one `{}` per row.
//! Group keys come first, then the aggregates in request order; `year(dt)` is keyed `dt_year`.

use std::cmp::Ordering;
use std::collections::HashMap;

use serde_json::{Map, Value};

use crate::error::ApiError;
use crate::value_order::{SortKey, compare_values};

/// Directus' aggregate functions.
pub const FUNCTIONS: [&str; 9] = [
    "count",
    "countDistinct",
    "countAll",
    "sum",
    "sumDistinct",
    "avg",
    "avgDistinct",
    "min",
    "max",
];

/// Date functions `groupBy` accepts, on ISO 8601 date-time strings.
const DATE_FUNCTIONS: [&str; 6] = ["year", "month", "day", "hour", "minute", "second"];

/// One `aggregate[<function>]=<fields>`, in request order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Aggregate {
    pub function: String,
    pub fields: Vec<String>,
}

impl Aggregate {
    fn known(&self) -> bool {
        FUNCTIONS.contains(&self.function.as_str())
    }

    /// Fields the caller must be able to read: all named ones but `*`.
    pub fn referenced_fields(&self) -> impl Iterator<Item = &String> {
        self.fields.iter().filter(|f| f.as_str() != "*")
    }
}

/// A `groupBy` entry: a field, or a date function of one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupKey {
    Field(String),
    Function { function: String, field: String },
}

impl GroupKey {
    pub fn parse(raw: &str) -> Result<Self, ApiError> {
        let raw = raw.trim();
        let Some((function, rest)) = raw.split_once('(') else {
            return Ok(Self::Field(raw.to_owned()));
        };
        let field = rest
            .strip_suffix(')')
            .filter(|f| !f.is_empty() && !f.contains(['(', ')']))
            .ok_or_else(|| ApiError::query(format!("Invalid groupBy \"{raw}\"")))?;
        if !DATE_FUNCTIONS.contains(&function) {
            return Err(ApiError::query(format!(
                "\"{function}\" is not a supported groupBy function (one of {})",
                DATE_FUNCTIONS.join(", ")
            )));
        }
        Ok(Self::Function {
            function: function.to_owned(),
            field: field.to_owned(),
        })
    }

    pub fn field(&self) -> &str {
        match self {
            Self::Field(field) | Self::Function { field, .. } => field,
        }
    }

    /// The key in each result row: the field, or `<field>_<function>`.
    pub fn output_key(&self) -> String {
        match self {
            Self::Field(field) => field.clone(),
            Self::Function { function, field } => format!("{field}_{function}"),
        }
    }

    /// Names a sort key may use for this group: its output key or `function(field)`.
    fn answers_to(&self, name: &str) -> bool {
        match self {
            Self::Field(field) => field == name,
            Self::Function { function, field } => {
                name == self.output_key() || name == format!("{function}({field})")
            }
        }
    }

    fn value(&self, row: &Map<String, Value>) -> Value {
        let value = row.get(self.field()).unwrap_or(&Value::Null);
        match self {
            Self::Field(_) => value.clone(),
            Self::Function { function, .. } => {
                date_part(value, function).map_or(Value::Null, Value::from)
            }
        }
    }
}

/// `YYYY-MM-DD[T| ]HH:MM:SS…` → the named part.
fn date_part(value: &Value, function: &str) -> Option<i64> {
    let text = value.as_str()?;
    let bytes = text.as_bytes();
    let number = |range: std::ops::Range<usize>| -> Option<i64> {
        let part = text.get(range)?;
        part.bytes()
            .all(|b| b.is_ascii_digit())
            .then(|| part.parse().ok())
            .flatten()
    };
    if bytes.get(4) != Some(&b'-') || bytes.get(7) != Some(&b'-') {
        return None;
    }
    let time = |range| {
        if matches!(bytes.get(10), Some(b'T' | b't' | b' ')) {
            number(range)
        } else {
            None
        }
    };
    match function {
        "year" => number(0..4),
        "month" => number(5..7),
        "day" => number(8..10),
        "hour" => time(11..13),
        "minute" => time(14..16),
        "second" => time(17..19),
        _ => None,
    }
}

/// `aggregate[fn]=a,b` (bracket form, `path` = `[fn]`) into `into`, keeping request order.
pub fn add_bracket(into: &mut Vec<Aggregate>, function: &str, value: &str) {
    push(into, function, split(value));
}

/// `aggregate={"count":"*","sum":["n"]}`.
pub fn add_json(into: &mut Vec<Aggregate>, raw: &str) -> Result<(), ApiError> {
    let parsed: Value = serde_json::from_str(raw)
        .map_err(|_| ApiError::query("Invalid JSON for aggregate object"))?;
    let Value::Object(functions) = parsed else {
        return Err(ApiError::query("\"aggregate\" must be of type object"));
    };
    for (function, fields) in functions {
        let fields = match fields {
            Value::String(s) => split(&s),
            Value::Array(items) => items
                .iter()
                .map(|item| {
                    item.as_str().map(str::to_owned).ok_or_else(|| {
                        ApiError::query(format!("\"aggregate.{function}\" must hold field names"))
                    })
                })
                .collect::<Result<Vec<_>, _>>()?,
            _ => {
                return Err(ApiError::query(format!(
                    "\"aggregate.{function}\" must hold field names"
                )));
            }
        };
        push(into, &function, fields);
    }
    Ok(())
}

fn split(value: &str) -> Vec<String> {
    // `countAll` with no value names the field "" (Directus then refuses it as unreadable).
    value.split(',').map(|f| f.trim().to_owned()).collect()
}

fn push(into: &mut Vec<Aggregate>, function: &str, fields: Vec<String>) {
    match into.iter_mut().find(|a| a.function == function) {
        Some(existing) => existing.fields.extend(fields),
        None => into.push(Aggregate {
            function: function.to_owned(),
            fields,
        }),
    }
}

/// A value as SQL arithmetic sees it (SQLite's casts): numbers, numeric strings, booleans;
/// other strings count as 0.
fn numeric(value: &Value) -> Option<f64> {
    match value {
        Value::Null => None,
        Value::Number(n) => n.as_f64(),
        Value::Bool(b) => Some(if *b { 1.0 } else { 0.0 }),
        Value::String(s) => Some(s.trim().parse().unwrap_or(0.0)),
        _ => Some(0.0),
    }
}

/// Integral results print as integers, as JavaScript prints them.
fn number(value: f64) -> Value {
    if value.is_finite() && value.fract() == 0.0 && value.abs() < 9_007_199_254_740_992.0 {
        // Exact: integral and within 2^53.
        #[allow(clippy::cast_possible_truncation)]
        Value::from(value as i64)
    } else {
        serde_json::Number::from_f64(value).map_or(Value::Null, Value::Number)
    }
}

fn distinct(values: Vec<&Value>) -> Vec<&Value> {
    let mut seen = std::collections::HashSet::new();
    values
        .into_iter()
        .filter(|v| seen.insert(v.to_string()))
        .collect()
}

/// One function over one field of a group's rows.
fn apply(function: &str, field: &str, rows: &[&Map<String, Value>]) -> Value {
    let values: Vec<&Value> = rows
        .iter()
        .map(|row| row.get(field).unwrap_or(&Value::Null))
        .filter(|v| !v.is_null())
        .collect();
    let sum = |values: &[&Value]| -> Value {
        if values.is_empty() {
            return Value::Null;
        }
        number(values.iter().filter_map(|v| numeric(v)).sum())
    };
    let avg = |values: &[&Value]| -> Value {
        if values.is_empty() {
            return Value::Null;
        }
        let total: f64 = values.iter().filter_map(|v| numeric(v)).sum();
        #[allow(clippy::cast_precision_loss)]
        number(total / values.len() as f64)
    };
    match function {
        "count" => Value::from(values.len()),
        "countDistinct" => Value::from(distinct(values).len()),
        "sum" => sum(&values),
        "sumDistinct" => sum(&distinct(values)),
        "avg" => avg(&values),
        "avgDistinct" => avg(&distinct(values)),
        "min" => values
            .into_iter()
            .min_by(|a, b| compare_values(a, b))
            .cloned()
            .unwrap_or(Value::Null),
        "max" => values
            .into_iter()
            .max_by(|a, b| compare_values(a, b))
            .cloned()
            .unwrap_or(Value::Null),
        _ => Value::Null,
    }
}

/// The aggregates of one group, in request order.
fn aggregate_row(
    aggregates: &[Aggregate],
    rows: &[&Map<String, Value>],
    into: &mut Map<String, Value>,
) {
    for aggregate in aggregates.iter().filter(|a| a.known()) {
        match aggregate.function.as_str() {
            // Computed by Directus, then removed as a temporary field.
            "countAll" => {}
            "count" if aggregate.fields.iter().any(|f| f == "*") => {
                into.insert("count".into(), Value::from(rows.len()));
            }
            function => {
                let nested: Map<String, Value> = aggregate
                    .fields
                    .iter()
                    .map(|field| (field.clone(), apply(function, field, rows)))
                    .collect();
                into.insert(function.to_owned(), Value::Object(nested));
            }
        }
    }
}

/// The result rows of `aggregates` grouped by `group_by` over `rows` (already filtered),
/// unsorted and unpaged.
pub fn compute(
    aggregates: &[Aggregate],
    group_by: &[GroupKey],
    rows: &[Map<String, Value>],
) -> Vec<Map<String, Value>> {
    if group_by.is_empty() {
        if !aggregates.iter().any(Aggregate::known) {
            // No SQL function: Directus returns each row with nothing selected.
            return rows.iter().map(|_| Map::new()).collect();
        }
        let all: Vec<&Map<String, Value>> = rows.iter().collect();
        let mut row = Map::new();
        aggregate_row(aggregates, &all, &mut row);
        return vec![row];
    }
    let mut order: Vec<Vec<Value>> = Vec::new();
    let mut groups: HashMap<String, Vec<&Map<String, Value>>> = HashMap::new();
    for row in rows {
        let key: Vec<Value> = group_by.iter().map(|g| g.value(row)).collect();
        let id = Value::Array(key.clone()).to_string();
        groups
            .entry(id)
            .or_insert_with(|| {
                order.push(key);
                Vec::new()
            })
            .push(row);
    }
    order
        .into_iter()
        .map(|key| {
            let members = &groups[&Value::Array(key.clone()).to_string()];
            let mut row: Map<String, Value> = group_by
                .iter()
                .zip(key)
                .map(|(group, value)| (group.output_key(), value))
                .collect();
            aggregate_row(aggregates, members, &mut row);
            row
        })
        .collect()
}

/// Checks that every sort key names a group or an aggregate (`count`, `sum.n`), and returns
/// the keys to sort result rows by: the request's, or the first group ascending.
pub fn result_sort(
    aggregates: &[Aggregate],
    group_by: &[GroupKey],
    sort: &[SortKey],
) -> Result<Vec<SortKey>, ApiError> {
    if group_by.is_empty() {
        // One row: Directus drops the sort.
        return Ok(Vec::new());
    }
    let mut keys = Vec::new();
    for key in sort {
        if let Some(group) = group_by.iter().find(|g| g.answers_to(&key.field)) {
            keys.push(SortKey {
                field: group.output_key(),
                descending: key.descending,
            });
            continue;
        }
        let named =
            aggregates
                .iter()
                .filter(|a| a.known())
                .any(|a| match key.field.split_once('.') {
                    Some((function, field)) => {
                        a.function == function && a.fields.iter().any(|f| f == field)
                    }
                    None => {
                        a.function == key.field
                            && a.function == "count"
                            && a.fields.iter().any(|f| f == "*")
                    }
                });
        if !named {
            return Err(ApiError::query(format!(
                "Cannot sort by \"{}\": with groupBy, sort by a grouped field or an aggregate (\"count\", \"sum.<field>\")",
                key.field
            )));
        }
        keys.push(key.clone());
    }
    // Ties, and no sort at all, fall back to the groups in order (the first one is Directus'
    // default).
    for group in group_by {
        keys.push(SortKey {
            field: group.output_key(),
            descending: false,
        });
    }
    Ok(keys)
}

fn lookup<'a>(row: &'a Map<String, Value>, key: &str) -> &'a Value {
    if let Some(value) = row.get(key) {
        return value;
    }
    match key.split_once('.') {
        Some((outer, inner)) => row
            .get(outer)
            .and_then(|v| v.get(inner))
            .unwrap_or(&Value::Null),
        None => &Value::Null,
    }
}

/// Sorts result rows by `keys` (nulls first ascending, as SQLite).
pub fn sort_rows(rows: &mut [Map<String, Value>], keys: &[SortKey]) {
    rows.sort_by(|a, b| {
        for key in keys {
            let order = compare_values(lookup(a, &key.field), lookup(b, &key.field));
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
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The spec's table: `n` = 1, 2, 2, null, 5.
    fn rows() -> Vec<Map<String, Value>> {
        [
            json!({"id": 1, "n": 1, "f": 3, "cat": "a", "flag": 1, "dt": "2024-01-02T03:04:05"}),
            json!({"id": 2, "n": 2, "f": 3, "cat": "a", "flag": 0, "dt": "2024-06-01T00:00:00"}),
            json!({"id": 3, "n": 2, "f": 2, "cat": "b", "flag": 1, "dt": "2024-12-31"}),
            json!({"id": 4, "n": null, "f": 1, "cat": null, "flag": 1, "dt": null}),
            json!({"id": 5, "n": 5, "f": 4, "cat": "b", "flag": 0, "dt": "2024-02-02 10:00:00"}),
        ]
        .into_iter()
        .map(|v| v.as_object().unwrap().clone())
        .collect()
    }

    fn parse(raw: &str) -> Vec<Aggregate> {
        let mut aggregates = Vec::new();
        add_json(&mut aggregates, raw).unwrap();
        aggregates
    }

    fn one(raw: &str) -> Value {
        Value::Array(
            compute(&parse(raw), &[], &rows())
                .into_iter()
                .map(Value::Object)
                .collect(),
        )
    }

    #[test]
    fn shapes_match_the_observed_server() {
        assert_eq!(one(r#"{"count":"*"}"#), json!([{"count": 5}]));
        assert_eq!(one(r#"{"count":"n"}"#), json!([{"count": {"n": 4}}]));
        assert_eq!(
            one(r#"{"count":"n,f"}"#),
            json!([{"count": {"n": 4, "f": 5}}])
        );
        assert_eq!(
            one(r#"{"countDistinct":"n"}"#),
            json!([{"countDistinct": {"n": 3}}])
        );
        assert_eq!(one(r#"{"countAll":"*"}"#), json!([{}]));
        assert_eq!(one(r#"{"sum":"n"}"#), json!([{"sum": {"n": 10}}]));
        assert_eq!(
            one(r#"{"sumDistinct":"n"}"#),
            json!([{"sumDistinct": {"n": 8}}])
        );
        assert_eq!(one(r#"{"avg":"n"}"#), json!([{"avg": {"n": 2.5}}]));
        assert_eq!(
            one(r#"{"avgDistinct":"n"}"#),
            json!([{"avgDistinct": {"n": 2.6666666666666665}}])
        );
        assert_eq!(
            one(r#"{"min":"n","max":"n"}"#),
            json!([{"min": {"n": 1}, "max": {"n": 5}}])
        );
        assert_eq!(
            one(r#"{"count":"*","sum":["n","f"],"avg":"n"}"#),
            json!([{"count": 5, "sum": {"n": 10, "f": 13}, "avg": {"n": 2.5}}])
        );
        assert_eq!(one(r#"{"foo":"n"}"#), json!([{}, {}, {}, {}, {}]));
    }

    #[test]
    fn groups_come_first_then_aggregates_in_request_order() {
        let aggregates = parse(r#"{"count":"*"}"#);
        let group = [GroupKey::parse("cat").unwrap()];
        let mut result = compute(&aggregates, &group, &rows());
        sort_rows(&mut result, &result_sort(&aggregates, &group, &[]).unwrap());
        assert_eq!(
            Value::Array(result.into_iter().map(Value::Object).collect()),
            json!([{"cat": null, "count": 1}, {"cat": "a", "count": 2}, {"cat": "b", "count": 2}])
        );
        let aggregates = parse(r#"{"sum":"n","count":"*"}"#);
        let groups = [
            GroupKey::parse("cat").unwrap(),
            GroupKey::parse("flag").unwrap(),
        ];
        let mut result = compute(&aggregates, &groups, &rows());
        sort_rows(
            &mut result,
            &result_sort(&aggregates, &groups, &[]).unwrap(),
        );
        assert_eq!(
            Value::Object(result[0].clone()),
            json!({"cat": null, "flag": 1, "sum": {"n": null}, "count": 1})
        );
        let by_year = [GroupKey::parse("year(dt)").unwrap()];
        let mut result = compute(&parse(r#"{"count":"*"}"#), &by_year, &rows());
        sort_rows(&mut result, &result_sort(&[], &by_year, &[]).unwrap());
        assert_eq!(
            Value::Array(result.into_iter().map(Value::Object).collect()),
            json!([{"dt_year": null, "count": 1}, {"dt_year": 2024, "count": 4}])
        );
    }

    #[test]
    fn sorting_by_aggregates_and_refusing_other_fields() {
        let aggregates = parse(r#"{"count":"*","sum":"n"}"#);
        let group = [GroupKey::parse("cat").unwrap()];
        let descending = |field: &str| {
            vec![SortKey {
                field: field.into(),
                descending: true,
            }]
        };
        let mut result = compute(&aggregates, &group, &rows());
        sort_rows(
            &mut result,
            &result_sort(&aggregates, &group, &descending("sum.n")).unwrap(),
        );
        assert_eq!(result[0]["cat"], json!("b"));
        assert!(result_sort(&aggregates, &group, &descending("count")).is_ok());
        assert!(result_sort(&aggregates, &group, &descending("n")).is_err());
        assert!(result_sort(&aggregates, &group, &descending("avg.n")).is_err());
    }

    #[test]
    fn both_syntaxes_parse_alike() {
        let mut brackets = Vec::new();
        add_bracket(&mut brackets, "count", "*");
        add_bracket(&mut brackets, "sum", "n,f");
        assert_eq!(brackets, parse(r#"{"count":"*","sum":["n","f"]}"#));
        let mut bad = Vec::new();
        assert!(add_json(&mut bad, "notjson").is_err());
        assert!(add_json(&mut bad, "[1]").is_err());
        assert!(GroupKey::parse("week(dt)").is_err());
        assert!(GroupKey::parse("year(dt").is_err());
    }
}
