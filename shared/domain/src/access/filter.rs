//! Directus item filters evaluated in memory against one item: `{"field": {"_op": value}}`,
//! `_and` / `_or` lists, and the dynamic variables `$CURRENT_USER`, `$CURRENT_ROLE`,
//! `$CURRENT_ROLES`, `$CURRENT_POLICIES` and `$NOW` (with offsets such as `$NOW(-1 day)`).
//! Pure: no I/O, so it is tested exhaustively here.

use serde_json::{Map, Value};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FilterError {
    #[error("unknown filter operator \"{0}\"")]
    UnknownOperator(String),
    #[error("{0}")]
    Invalid(String),
}

/// Who is asking, for the dynamic variables.
#[derive(Debug, Clone, Default)]
pub struct FilterContext {
    pub user: Option<String>,
    pub role: Option<String>,
    pub roles: Vec<String>,
    pub policies: Vec<String>,
    pub now_millis: i64,
}

/// True when `item` satisfies `filter`. An empty filter (`{}` or `null`) matches everything.
pub fn matches(
    filter: &Value,
    item: &Map<String, Value>,
    context: &FilterContext,
) -> Result<bool, FilterError> {
    match filter {
        Value::Null => Ok(true),
        Value::Object(clauses) => {
            for (key, condition) in clauses {
                let ok = match key.as_str() {
                    "_and" => all_of(condition, item, context)?,
                    "_or" => any_of(condition, item, context)?,
                    field if field.starts_with('_') => {
                        return Err(FilterError::UnknownOperator(field.to_owned()));
                    }
                    field => field_matches(field, condition, item, context)?,
                };
                if !ok {
                    return Ok(false);
                }
            }
            Ok(true)
        }
        _ => Err(FilterError::Invalid("a filter has to be an object".into())),
    }
}

/// Field names a filter reads, so callers can check the caller may read them.
pub fn referenced_fields(filter: &Value) -> Vec<String> {
    let mut fields = Vec::new();
    collect_fields(filter, &mut fields);
    fields.sort();
    fields.dedup();
    fields
}

fn collect_fields(filter: &Value, out: &mut Vec<String>) {
    match filter {
        Value::Object(clauses) => {
            for (key, condition) in clauses {
                if key == "_and" || key == "_or" {
                    if let Value::Array(parts) = condition {
                        parts.iter().for_each(|part| collect_fields(part, out));
                    }
                } else if !key.starts_with('_') {
                    out.push(key.clone());
                }
            }
        }
        Value::Array(parts) => parts.iter().for_each(|part| collect_fields(part, out)),
        _ => {}
    }
}

fn list(condition: &Value, operator: &str) -> Result<Vec<Value>, FilterError> {
    match condition {
        Value::Array(parts) => Ok(parts.clone()),
        _ => Err(FilterError::Invalid(format!(
            "\"{operator}\" has to be an array of filters"
        ))),
    }
}

fn all_of(
    condition: &Value,
    item: &Map<String, Value>,
    context: &FilterContext,
) -> Result<bool, FilterError> {
    for part in list(condition, "_and")? {
        if !matches(&part, item, context)? {
            return Ok(false);
        }
    }
    Ok(true)
}

fn any_of(
    condition: &Value,
    item: &Map<String, Value>,
    context: &FilterContext,
) -> Result<bool, FilterError> {
    let parts = list(condition, "_or")?;
    for part in &parts {
        if matches(part, item, context)? {
            return Ok(true);
        }
    }
    Ok(false)
}

fn field_matches(
    field: &str,
    condition: &Value,
    item: &Map<String, Value>,
    context: &FilterContext,
) -> Result<bool, FilterError> {
    let Value::Object(operators) = condition else {
        return Err(FilterError::Invalid(format!(
            "the filter for \"{field}\" has to be an object of operators"
        )));
    };
    if field.contains('.') {
        return Err(FilterError::Invalid(format!(
            "relational filters (\"{field}\") are not supported"
        )));
    }
    let actual = item.get(field).unwrap_or(&Value::Null);
    for (operator, expected) in operators {
        let expected = resolve_variables(expected, context)?;
        if !apply(operator, actual, &expected)? {
            return Ok(false);
        }
    }
    Ok(true)
}

fn apply(operator: &str, actual: &Value, expected: &Value) -> Result<bool, FilterError> {
    let text = |v: &Value| v.as_str().map(str::to_owned);
    let ok = match operator {
        "_eq" => equal(actual, expected),
        "_neq" => !equal(actual, expected),
        "_ieq" => lower(actual) == lower(expected) && lower(actual).is_some(),
        "_nieq" => lower(actual) != lower(expected) || lower(actual).is_none(),
        "_lt" => compare(actual, expected).is_some_and(|o| o.is_lt()),
        "_lte" => compare(actual, expected).is_some_and(|o| o.is_le()),
        "_gt" => compare(actual, expected).is_some_and(|o| o.is_gt()),
        "_gte" => compare(actual, expected).is_some_and(|o| o.is_ge()),
        "_in" => values(expected, operator)?.iter().any(|v| equal(actual, v)),
        "_nin" => !values(expected, operator)?.iter().any(|v| equal(actual, v)),
        "_null" => actual.is_null() == boolean(expected, operator)?,
        "_nnull" => actual.is_null() != boolean(expected, operator)?,
        "_empty" => is_empty(actual) == boolean(expected, operator)?,
        "_nempty" => is_empty(actual) != boolean(expected, operator)?,
        "_between" | "_nbetween" => {
            let bounds = values(expected, operator)?;
            let [low, high] = bounds.as_slice() else {
                return Err(FilterError::Invalid(format!(
                    "\"{operator}\" needs exactly two values"
                )));
            };
            let inside = compare(actual, low).is_some_and(|o| o.is_ge())
                && compare(actual, high).is_some_and(|o| o.is_le());
            if operator == "_between" {
                inside
            } else {
                !inside
            }
        }
        "_contains" | "_ncontains" | "_icontains" | "_nicontains" | "_starts_with"
        | "_nstarts_with" | "_istarts_with" | "_nistarts_with" | "_ends_with" | "_nends_with"
        | "_iends_with" | "_niends_with" => {
            let needle = scalar_text(expected).ok_or_else(|| {
                FilterError::Invalid(format!(
                    "The filter value for \"{operator}\" has to be a string, number, or boolean"
                ))
            })?;
            let insensitive = operator.starts_with("_i") || operator.starts_with("_ni");
            let negated = operator.starts_with("_n");
            let Some(haystack) = text(actual).or_else(|| scalar_text(actual)) else {
                // A null value neither contains nor starts with anything.
                return Ok(negated);
            };
            let (haystack, needle) = if insensitive {
                (haystack.to_lowercase(), needle.to_lowercase())
            } else {
                (haystack, needle)
            };
            let found = if operator.contains("contains") {
                haystack.contains(&needle)
            } else if operator.contains("starts_with") {
                haystack.starts_with(&needle)
            } else {
                haystack.ends_with(&needle)
            };
            found != negated
        }
        other => return Err(FilterError::UnknownOperator(other.to_owned())),
    };
    Ok(ok)
}

pub(crate) fn values(expected: &Value, operator: &str) -> Result<Vec<Value>, FilterError> {
    match expected {
        Value::Array(items) if !items.is_empty() => Ok(items.clone()),
        // Directus accepts comma-separated strings for list operators.
        Value::String(csv) if !csv.is_empty() => Ok(csv
            .split(',')
            .map(|s| Value::String(s.trim().to_owned()))
            .collect()),
        _ => Err(FilterError::Invalid(format!(
            "\"{operator}\" has to be an array of values"
        ))),
    }
}

fn boolean(expected: &Value, operator: &str) -> Result<bool, FilterError> {
    match expected {
        Value::Bool(b) => Ok(*b),
        Value::String(s) if s == "true" => Ok(true),
        Value::String(s) if s == "false" => Ok(false),
        _ => Err(FilterError::Invalid(format!(
            "\"{operator}\" has to be a boolean"
        ))),
    }
}

fn is_empty(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        _ => false,
    }
}

fn scalar_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn lower(value: &Value) -> Option<String> {
    value.as_str().map(str::to_lowercase)
}

pub(crate) fn number(value: &Value) -> Option<f64> {
    match value {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// Equality with the casts Directus applies to filter values: numbers compare numerically even
/// when one side arrives as a query-string string.
fn equal(actual: &Value, expected: &Value) -> bool {
    match (actual, expected) {
        (Value::Null, Value::Null) => true,
        (Value::Number(_), _) | (_, Value::Number(_)) => {
            matches!((number(actual), number(expected)), (Some(a), Some(b)) if a == b)
        }
        (Value::Bool(a), Value::String(b)) | (Value::String(b), Value::Bool(a)) => {
            b == if *a { "true" } else { "false" }
        }
        _ => actual == expected,
    }
}

fn compare(actual: &Value, expected: &Value) -> Option<std::cmp::Ordering> {
    if actual.is_null() || expected.is_null() {
        return None;
    }
    if actual.is_number() || expected.is_number() {
        return number(actual)?.partial_cmp(&number(expected)?);
    }
    // ISO-8601 timestamps compare correctly as strings.
    Some(actual.as_str()?.cmp(expected.as_str()?))
}

/// `value` with its dynamic variables (`$CURRENT_USER`, `$NOW(-1 day)`, …) replaced.
pub fn resolve_variables(value: &Value, context: &FilterContext) -> Result<Value, FilterError> {
    match value {
        Value::String(s) if s.starts_with('$') => resolve_variable(s, context),
        Value::Array(items) => items
            .iter()
            .map(|v| resolve_variables(v, context))
            .collect::<Result<Vec<_>, _>>()
            .map(Value::Array),
        other => Ok(other.clone()),
    }
}

fn strings(values: &[String]) -> Value {
    Value::Array(values.iter().cloned().map(Value::String).collect())
}

fn resolve_variable(name: &str, context: &FilterContext) -> Result<Value, FilterError> {
    let optional = |v: &Option<String>| v.clone().map_or(Value::Null, Value::String);
    Ok(match name {
        "$CURRENT_USER" => optional(&context.user),
        "$CURRENT_ROLE" => optional(&context.role),
        "$CURRENT_ROLES" => strings(&context.roles),
        "$CURRENT_POLICIES" => strings(&context.policies),
        "$NOW" => Value::String(iso8601(context.now_millis)),
        now if now.starts_with("$NOW(") && now.ends_with(')') => {
            let offset = &now[5..now.len() - 1];
            let millis = parse_offset(offset).ok_or_else(|| {
                FilterError::Invalid(format!("\"{offset}\" is not a valid $NOW offset"))
            })?;
            let at = context.now_millis.checked_add(millis).ok_or_else(|| {
                FilterError::Invalid(format!("\"{offset}\" is out of range for $NOW"))
            })?;
            Value::String(iso8601(at))
        }
        // Not a variable: a literal that happens to start with "$".
        _ => Value::String(name.to_owned()),
    })
}

/// `-1 day`, `+2 hours`, `30 minutes`, `1 year` (a year is 365 days, a month 30).
fn parse_offset(offset: &str) -> Option<i64> {
    let offset = offset.trim();
    let (sign, rest) = match offset.strip_prefix('-') {
        Some(rest) => (-1, rest),
        None => (1, offset.strip_prefix('+').unwrap_or(offset)),
    };
    let mut parts = rest.split_whitespace();
    // Digits only: a second sign ("--5") or i64::MIN would overflow once negated.
    let digits = parts.next()?;
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let amount: i64 = digits.parse().ok()?;
    let unit = parts.next()?.trim_end_matches('s');
    if parts.next().is_some() {
        return None;
    }
    let unit_millis: i64 = match unit {
        "millisecond" | "ms" => 1,
        "second" | "sec" => 1_000,
        "minute" | "min" => 60_000,
        "hour" => 3_600_000,
        "day" => 86_400_000,
        "week" => 7 * 86_400_000,
        "month" => 30 * 86_400_000,
        "year" => 365 * 86_400_000,
        _ => return None,
    };
    amount.checked_mul(unit_millis)?.checked_mul(sign)
}

/// Epoch milliseconds as `YYYY-MM-DDTHH:MM:SS.mmmZ` (Howard Hinnant's civil-from-days).
pub fn iso8601(millis: i64) -> String {
    let secs = millis.div_euclid(1000);
    let ms = millis.rem_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{ms:03}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn item() -> Map<String, Value> {
        json!({
            "id": 7,
            "title": "Hello World",
            "author": "u1",
            "views": 42,
            "published_at": "2026-01-15T10:00:00.000Z",
            "draft": false,
            "note": null,
            "empty": ""
        })
        .as_object()
        .unwrap()
        .clone()
    }

    fn context() -> FilterContext {
        FilterContext {
            user: Some("u1".into()),
            role: Some("r1".into()),
            roles: vec!["r1".into(), "r0".into()],
            policies: vec!["p1".into()],
            now_millis: 1_768_471_200_000, // 2026-01-15T10:00:00Z
        }
    }

    fn check(filter: Value) -> bool {
        matches(&filter, &item(), &context()).unwrap()
    }

    #[test]
    fn empty_filters_match_everything() {
        assert!(check(json!({})));
        assert!(check(Value::Null));
    }

    #[test]
    fn equality_operators() {
        assert!(check(json!({"title": {"_eq": "Hello World"}})));
        assert!(!check(json!({"title": {"_eq": "hello world"}})));
        assert!(check(json!({"title": {"_ieq": "hello world"}})));
        assert!(check(json!({"views": {"_eq": "42"}})));
        assert!(check(json!({"views": {"_neq": 41}})));
        assert!(check(json!({"draft": {"_eq": "false"}})));
        assert!(check(json!({"note": {"_eq": null}})));
        assert!(check(json!({"missing": {"_eq": null}})));
    }

    #[test]
    fn ordering_operators_compare_numbers_and_timestamps() {
        assert!(check(json!({"views": {"_gt": 41, "_lt": 43}})));
        assert!(check(json!({"views": {"_gte": 42, "_lte": 42}})));
        assert!(!check(json!({"views": {"_gt": 42}})));
        assert!(check(
            json!({"published_at": {"_lt": "2026-02-01T00:00:00.000Z"}})
        ));
        assert!(!check(json!({"note": {"_lt": 5}})));
    }

    #[test]
    fn list_operators_accept_arrays_and_csv() {
        assert!(check(json!({"id": {"_in": [1, 7]}})));
        assert!(check(json!({"id": {"_in": "1,7"}})));
        assert!(check(json!({"id": {"_nin": [1, 2]}})));
        assert!(check(json!({"views": {"_between": [40, 50]}})));
        assert!(check(json!({"views": {"_nbetween": [1, 5]}})));
        assert!(matches(&json!({"id": {"_in": []}}), &item(), &context()).is_err());
        assert!(matches(&json!({"id": {"_between": [1]}}), &item(), &context()).is_err());
    }

    #[test]
    fn null_and_empty_operators() {
        assert!(check(json!({"note": {"_null": true}})));
        assert!(check(json!({"title": {"_nnull": true}})));
        assert!(check(json!({"title": {"_null": false}})));
        assert!(check(json!({"empty": {"_empty": true}})));
        assert!(check(json!({"note": {"_empty": true}})));
        assert!(check(json!({"title": {"_nempty": true}})));
        assert!(matches(&json!({"note": {"_null": 1}}), &item(), &context()).is_err());
    }

    #[test]
    fn string_operators() {
        assert!(check(json!({"title": {"_contains": "World"}})));
        assert!(!check(json!({"title": {"_contains": "world"}})));
        assert!(check(json!({"title": {"_icontains": "world"}})));
        assert!(check(json!({"title": {"_ncontains": "Bye"}})));
        assert!(check(json!({"title": {"_starts_with": "Hello"}})));
        assert!(check(json!({"title": {"_ends_with": "World"}})));
        assert!(check(json!({"title": {"_istarts_with": "hello"}})));
        assert!(check(json!({"title": {"_nends_with": "Hello"}})));
        assert!(!check(json!({"note": {"_contains": "x"}})));
        assert!(check(json!({"note": {"_ncontains": "x"}})));
    }

    #[test]
    fn logical_operators_nest() {
        assert!(check(
            json!({"_or": [{"id": {"_eq": 1}}, {"id": {"_eq": 7}}]})
        ));
        assert!(!check(
            json!({"_and": [{"id": {"_eq": 7}}, {"views": {"_lt": 10}}]})
        ));
        assert!(check(
            json!({"_and": [{"_or": [{"id": {"_eq": 7}}]}, {"title": {"_nnull": true}}]})
        ));
        assert!(check(json!({"id": {"_eq": 7}, "views": {"_eq": 42}})));
        assert!(!check(json!({"id": {"_eq": 7}, "views": {"_eq": 41}})));
    }

    #[test]
    fn dynamic_variables_resolve_from_the_caller() {
        assert!(check(json!({"author": {"_eq": "$CURRENT_USER"}})));
        let stranger = FilterContext {
            user: Some("u2".into()),
            ..context()
        };
        assert!(
            !matches(
                &json!({"author": {"_eq": "$CURRENT_USER"}}),
                &item(),
                &stranger
            )
            .unwrap()
        );
        let anonymous = FilterContext::default();
        assert!(
            !matches(
                &json!({"author": {"_eq": "$CURRENT_USER"}}),
                &item(),
                &anonymous
            )
            .unwrap()
        );
        let with_role = json!({"owner_role": "r0"}).as_object().unwrap().clone();
        assert!(
            matches(
                &json!({"owner_role": {"_in": "$CURRENT_ROLES"}}),
                &with_role,
                &context()
            )
            .unwrap()
        );
        assert!(
            matches(
                &json!({"owner_role": {"_in": ["$CURRENT_ROLE", "x"]}}),
                &json!({"owner_role": "r1"}).as_object().unwrap().clone(),
                &context()
            )
            .unwrap()
        );
    }

    #[test]
    fn now_and_offsets() {
        assert!(check(json!({"published_at": {"_lte": "$NOW"}})));
        for extreme in [
            "$NOW(-9223372036854775808 ms)",
            "$NOW(--9223372036854775808 ms)",
            "$NOW(9223372036854775807 ms)",
            "$NOW(+9223372036854775807 years)",
            "$NOW(-1000000000000000 days)",
        ] {
            let outcome = matches(
                &json!({"published_at": {"_lt": extreme}}),
                &json!({"published_at": "2026-01-01T00:00:00.000Z"})
                    .as_object()
                    .unwrap()
                    .clone(),
                &FilterContext {
                    now_millis: 1_700_000_000_000,
                    ..Default::default()
                },
            );
            assert!(
                matches!(outcome, Err(FilterError::Invalid(_))),
                "{extreme}: {outcome:?}"
            );
        }
        assert!(!check(json!({"published_at": {"_lt": "$NOW(-1 day)"}})));
        assert!(check(json!({"published_at": {"_lt": "$NOW(+1 hour)"}})));
        assert!(
            matches(
                &json!({"published_at": {"_lt": "$NOW(soon)"}}),
                &item(),
                &context()
            )
            .is_err()
        );
    }

    #[test]
    fn unknown_operators_and_bad_shapes_are_errors() {
        assert_eq!(
            matches(&json!({"id": {"_regex": "x"}}), &item(), &context()),
            Err(FilterError::UnknownOperator("_regex".into()))
        );
        assert!(matches(&json!({"id": 7}), &item(), &context()).is_err());
        assert!(matches(&json!({"_or": {}}), &item(), &context()).is_err());
        assert!(matches(&json!([1]), &item(), &context()).is_err());
        assert!(matches(&json!({"author.name": {"_eq": "x"}}), &item(), &context()).is_err());
    }

    #[test]
    fn referenced_fields_walk_logical_operators() {
        let filter = json!({"_or": [{"a": {"_eq": 1}}, {"_and": [{"b": {"_eq": 2}}]}], "c": {"_null": true}});
        assert_eq!(referenced_fields(&filter), vec!["a", "b", "c"]);
    }

    #[test]
    fn iso8601_formats_epoch_millis() {
        assert_eq!(iso8601(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso8601(1_768_471_200_123), "2026-01-15T10:00:00.123Z");
        assert_eq!(iso8601(951_782_400_000), "2000-02-29T00:00:00.000Z");
    }
}
