//! Directus query parameters for item reads, parsed the way Directus parses them:
//! `fields`, `filter` (JSON or `filter[field][_op]=` brackets), `sort`, `limit`, `offset`, `page`,
//! `search`, `meta`. Pure; every bad value is `INVALID_QUERY` with Directus' wording.

use serde_json::{Map, Value};

use crate::error::ApiError;
use crate::value_order::SortKey;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Meta {
    pub total_count: bool,
    pub filter_count: bool,
}

impl Meta {
    pub fn any(self) -> bool {
        self.total_count || self.filter_count
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ItemsQuery {
    pub fields: Option<Vec<String>>,
    pub filter: Option<Value>,
    pub sort: Vec<SortKey>,
    /// Items to return; `limit=-1` becomes the configured maximum.
    pub limit: usize,
    pub offset: usize,
    pub search: Option<String>,
    pub meta: Meta,
    /// `aggregate`, in request order; `aggregating` is set even when it names nothing.
    pub aggregate: Vec<crate::aggregate::Aggregate>,
    pub group_by: Vec<crate::aggregate::GroupKey>,
    aggregate_present: bool,
}

impl ItemsQuery {
    /// True when the answer is aggregated rows (`aggregate` or `groupBy` was given).
    pub fn aggregating(&self) -> bool {
        self.aggregate_present || !self.group_by.is_empty()
    }

    /// Fields named by `aggregate` (but `*`) and `groupBy`: each must be readable.
    pub fn aggregated_fields(&self) -> Vec<String> {
        let mut fields: Vec<String> = self
            .aggregate
            .iter()
            .flat_map(|a| a.referenced_fields().cloned())
            .chain(self.group_by.iter().map(|g| g.field().to_owned()))
            .collect();
        fields.dedup();
        fields
    }
}

/// Parameters Directus has that this API does not serve (relations, exports, versions).
const UNSUPPORTED: [&str; 5] = ["deep", "alias", "backlink", "export", "version"];

/// `name`, `name[]`, `name[0]`, `name[a][b]` → (`name`, [`a`, `b`]).
fn split_key(key: &str) -> (&str, Vec<&str>) {
    match key.find('[') {
        None => (key, Vec::new()),
        Some(start) => {
            let path = key[start..]
                .split('[')
                .filter(|part| !part.is_empty())
                .map(|part| part.trim_end_matches(']'))
                .collect();
            (&key[..start], path)
        }
    }
}

fn csv(values: &[&str]) -> Vec<String> {
    values
        .iter()
        .flat_map(|v| v.split(','))
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
        .collect()
}

/// Query-string values are strings; Directus turns these into their JSON meaning in filters.
fn coerce(value: &str) -> Value {
    match value {
        "true" => Value::Bool(true),
        "false" => Value::Bool(false),
        "null" | "NULL" => Value::Null,
        other => Value::String(other.to_owned()),
    }
}

fn coerce_strings(value: Value) -> Value {
    match value {
        Value::String(s) => coerce(&s),
        Value::Array(items) => Value::Array(items.into_iter().map(coerce_strings).collect()),
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| (k, coerce_strings(v)))
                .collect(),
        ),
        other => other,
    }
}

/// Builds `{"a":{"b":value}}` from the bracket path `[a][b]`; numeric segments under `_and` /
/// `_or` become array positions.
fn insert_path(target: &mut Value, path: &[&str], value: Value) -> Result<(), ApiError> {
    let Some((head, rest)) = path.split_first() else {
        *target = value;
        return Ok(());
    };
    if let Ok(index) = head.parse::<usize>() {
        if !target.is_array() {
            *target = Value::Array(Vec::new());
        }
        let items = target.as_array_mut().expect("just made an array");
        if index >= 100 {
            return Err(ApiError::query("Invalid filter array index"));
        }
        // Query parameters arrive in any order: fill gaps now, validation rejects any left.
        if index >= items.len() {
            items.resize(index + 1, Value::Null);
        }
        return insert_path(&mut items[index], rest, value);
    }
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    let map = target.as_object_mut().expect("just made an object");
    let entry = map.entry((*head).to_owned()).or_insert(Value::Null);
    insert_path(entry, rest, value)
}

/// Directus' `validateFilter`: list operators need non-empty lists, null operators booleans,
/// and the others scalars that are not empty strings.
pub fn validate_filter(filter: &Value) -> Result<(), ApiError> {
    let Value::Object(clauses) = filter else {
        return Err(ApiError::query("Invalid JSON for filter object"));
    };
    for (key, condition) in clauses {
        match key.as_str() {
            "_and" | "_or" => {
                let Value::Array(parts) = condition else {
                    return Err(ApiError::query(format!("\"{key}\" has to be an array")));
                };
                parts.iter().try_for_each(validate_filter)?;
            }
            operator if operator.starts_with('_') => {
                return Err(ApiError::query(format!(
                    "\"{operator}\" is not a valid filter operator here"
                )));
            }
            field => {
                let Value::Object(operators) = condition else {
                    return Err(ApiError::query(format!(
                        "The filter for \"{field}\" has to be an object of operators"
                    )));
                };
                for (operator, value) in operators {
                    validate_operator(operator, value)?;
                }
            }
        }
    }
    Ok(())
}

fn validate_operator(operator: &str, value: &Value) -> Result<(), ApiError> {
    match operator {
        "_in" | "_nin" | "_between" | "_nbetween" => match value {
            Value::Array(items) if !items.is_empty() => Ok(()),
            Value::String(s) if !s.is_empty() => Ok(()),
            _ => Err(ApiError::query(format!(
                "\"{operator}\" has to be an array of values"
            ))),
        },
        "_null" | "_nnull" | "_empty" | "_nempty" => match value {
            Value::Bool(_) => Ok(()),
            _ => Err(ApiError::query(format!(
                "\"{operator}\" has to be a boolean"
            ))),
        },
        // Every other operator the evaluator knows takes one scalar.
        op if ALL_OPERATORS.contains(&op) => match value {
            Value::String(s) if s.is_empty() => Err(ApiError::query(format!(
                "You can't filter for an empty string in \"{operator}\". Use \"_empty\" or \"_nempty\" instead"
            ))),
            Value::String(_) | Value::Number(_) | Value::Bool(_) | Value::Null => Ok(()),
            _ => Err(ApiError::query(format!(
                "The filter value for \"{operator}\" has to be a string, number, or boolean"
            ))),
        },
        // Checked against the field's type once the schema is known
        // (`validate_operator_types`), with Directus' message.
        other if other.starts_with('_') => Ok(()),
        other => Err(ApiError::query(format!(
            "\"{other}\" is not a valid filter operator"
        ))),
    }
}

const STRING_OPERATORS: &[&str] = &[
    "_contains",
    "_ncontains",
    "_icontains",
    "_nicontains",
    "_starts_with",
    "_nstarts_with",
    "_istarts_with",
    "_nistarts_with",
    "_ends_with",
    "_nends_with",
    "_iends_with",
    "_niends_with",
    "_eq",
    "_neq",
    "_ieq",
    "_nieq",
    "_empty",
    "_nempty",
    "_null",
    "_nnull",
    "_in",
    "_nin",
];
const ORDERED_OPERATORS: &[&str] = &[
    "_eq",
    "_neq",
    "_lt",
    "_lte",
    "_gt",
    "_gte",
    "_between",
    "_nbetween",
    "_null",
    "_nnull",
    "_in",
    "_nin",
];

/// Every operator the evaluator knows: the scalar ones and the list and emptiness tests.
const ALL_OPERATORS: &[&str] = &[
    "_eq",
    "_neq",
    "_ieq",
    "_nieq",
    "_lt",
    "_lte",
    "_gt",
    "_gte",
    "_contains",
    "_ncontains",
    "_icontains",
    "_nicontains",
    "_starts_with",
    "_nstarts_with",
    "_istarts_with",
    "_nistarts_with",
    "_ends_with",
    "_nends_with",
    "_iends_with",
    "_niends_with",
    "_in",
    "_nin",
    "_between",
    "_nbetween",
    "_null",
    "_nnull",
    "_empty",
    "_nempty",
];

/// Directus' `getFilterOperatorsForType` (with the case-insensitive string operators it added
/// later); a type it does not know allows every operator we evaluate.
fn operators_for(field_type: &str) -> &'static [&'static str] {
    match field_type {
        "string" | "text" | "csv" | "binary" => STRING_OPERATORS,
        "hash" => &["_empty", "_nempty", "_null", "_nnull"],
        "uuid" => &["_eq", "_neq", "_null", "_nnull", "_in", "_nin"],
        "json" => &["_null", "_nnull"],
        "boolean" => &["_eq", "_neq", "_null", "_nnull"],
        "integer" | "bigInteger" | "float" | "decimal" | "dateTime" | "date" | "time"
        | "timestamp" => ORDERED_OPERATORS,
        _ => ALL_OPERATORS,
    }
}

/// Every operator of `filter` must belong to its field's type, as Directus'
/// `validateOperator` requires: `"integer" field type does not contain the "_contains" filter
/// operator`. `type_of` gives a field's type (fields are checked for existence elsewhere).
pub fn validate_operator_types(
    filter: &Value,
    type_of: &impl Fn(&str) -> Option<String>,
) -> Result<(), ApiError> {
    let Value::Object(clauses) = filter else {
        return Ok(());
    };
    for (key, condition) in clauses {
        match (key.as_str(), condition) {
            ("_and" | "_or", Value::Array(parts)) => {
                for part in parts {
                    validate_operator_types(part, type_of)?;
                }
            }
            (field, Value::Object(operators)) if !field.starts_with('_') => {
                let field_type = type_of(field).unwrap_or_else(|| "unknown".into());
                let allowed = operators_for(&field_type);
                if let Some(operator) = operators.keys().find(|op| !allowed.contains(&op.as_str()))
                {
                    return Err(ApiError::query(format!(
                        "\"{field_type}\" field type does not contain the \"{operator}\" filter operator"
                    )));
                }
            }
            _ => {}
        }
    }
    Ok(())
}

impl ItemsQuery {
    /// Parses the decoded query-string pairs (a key may repeat).
    pub fn parse(
        pairs: &[(String, String)],
        default_limit: u32,
        max_limit: u32,
    ) -> Result<Self, ApiError> {
        let mut fields = Vec::new();
        let mut sort = Vec::new();
        let mut filter: Option<Value> = None;
        let mut bracket_filter = Value::Null;
        let mut scalars: std::collections::HashMap<&str, &str> = Default::default();
        let mut meta = Meta::default();
        let mut saw_fields = false;
        let mut aggregate = Vec::new();
        let mut aggregate_present = false;
        let mut group_by = Vec::new();

        for (key, value) in pairs {
            let (name, path) = split_key(key);
            match name {
                "fields" => {
                    saw_fields = true;
                    fields.extend(csv(&[value]));
                }
                "sort" => sort.extend(csv(&[value])),
                "filter" if path.is_empty() => {
                    let parsed: Value = serde_json::from_str(value)
                        .map_err(|_| ApiError::query("Invalid JSON for filter object"))?;
                    if !parsed.is_object() {
                        return Err(ApiError::query("Invalid JSON for filter object"));
                    }
                    filter = Some(coerce_strings(parsed));
                }
                "filter" => insert_path(&mut bracket_filter, &path, coerce(value))?,
                "meta" => {
                    for item in csv(&[value]) {
                        match item.as_str() {
                            "*" => {
                                meta.total_count = true;
                                meta.filter_count = true;
                            }
                            "total_count" => meta.total_count = true,
                            "filter_count" => meta.filter_count = true,
                            _ => {
                                return Err(ApiError::query(format!(
                                    "\"meta\" must be one of [total_count, filter_count, *], got \"{item}\""
                                )));
                            }
                        }
                    }
                }
                "aggregate" => {
                    aggregate_present = true;
                    match path.first() {
                        None => crate::aggregate::add_json(&mut aggregate, value)?,
                        Some(function) => {
                            crate::aggregate::add_bracket(&mut aggregate, function, value)
                        }
                    }
                }
                "groupBy" => {
                    for key in csv(&[value]) {
                        group_by.push(crate::aggregate::GroupKey::parse(&key)?);
                    }
                }
                "limit" | "offset" | "page" | "search" => {
                    scalars.insert(name, value.as_str());
                }
                unsupported if UNSUPPORTED.contains(&unsupported) => {
                    return Err(ApiError::query(format!(
                        "\"{unsupported}\" is not supported by this API"
                    )));
                }
                // Directus ignores parameters it does not know.
                _ => {}
            }
        }
        if !bracket_filter.is_null() {
            if filter.is_some() {
                return Err(ApiError::query(
                    "Use either the JSON or the bracket form of filter, not both",
                ));
            }
            filter = Some(bracket_filter);
        }
        if let Some(filter) = &filter {
            validate_filter(filter)?;
        }

        let integer = |name: &str| -> Result<Option<i64>, ApiError> {
            scalars
                .get(name)
                .map(|raw| {
                    raw.trim()
                        .parse::<i64>()
                        .map_err(|_| ApiError::query(format!("\"{name}\" must be a number")))
                })
                .transpose()
        };
        let max = usize::try_from(max_limit).unwrap_or(usize::MAX);
        let limit = match integer("limit")? {
            None => usize::try_from(default_limit).unwrap_or(max).min(max),
            Some(-1) => max,
            Some(n) if n < -1 => {
                return Err(ApiError::query(
                    "\"limit\" must be greater than or equal to -1",
                ));
            }
            Some(n) => {
                let n = usize::try_from(n).unwrap_or(usize::MAX);
                if n > max {
                    return Err(ApiError::query(format!(
                        "\"limit\" must be less than or equal to {max_limit}"
                    )));
                }
                n
            }
        };
        let offset = match integer("offset")? {
            None => 0,
            Some(n) if n < 0 => {
                return Err(ApiError::query(
                    "\"offset\" must be greater than or equal to 0",
                ));
            }
            Some(n) => usize::try_from(n).unwrap_or(usize::MAX),
        };
        // `page` (1-based) overrides `offset`, as in Directus; page 0 is ignored.
        let offset = match integer("page")? {
            Some(n) if n < 0 => {
                return Err(ApiError::query(
                    "\"page\" must be greater than or equal to 0",
                ));
            }
            Some(page) if page > 0 => {
                limit.saturating_mul(usize::try_from(page - 1).unwrap_or(usize::MAX))
            }
            _ => offset,
        };
        let search = scalars
            .get("search")
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty());
        let sort = sort
            .into_iter()
            .map(|key| match key.strip_prefix('-') {
                Some(field) => SortKey {
                    field: field.to_owned(),
                    descending: true,
                },
                None => SortKey {
                    field: key,
                    descending: false,
                },
            })
            .collect();
        fields.dedup();
        Ok(Self {
            fields: (saw_fields && !fields.is_empty()).then_some(fields),
            filter,
            sort,
            limit,
            offset,
            search,
            meta,
            aggregate,
            group_by,
            aggregate_present,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(pairs: &[(&str, &str)]) -> Result<ItemsQuery, ApiError> {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        ItemsQuery::parse(&pairs, 100, 1000)
    }

    #[test]
    fn defaults_are_limit_100_offset_0_all_fields() {
        let query = parse(&[]).unwrap();
        assert_eq!(query.limit, 100);
        assert_eq!(query.offset, 0);
        assert_eq!(query.fields, None);
        assert!(query.sort.is_empty());
        assert!(!query.meta.any());
    }

    #[test]
    fn fields_accept_csv_and_array_forms() {
        let query = parse(&[("fields", "id, title"), ("fields[]", "content")]).unwrap();
        assert_eq!(
            query.fields.unwrap(),
            vec!["id".to_owned(), "title".into(), "content".into()]
        );
    }

    #[test]
    fn page_overrides_offset() {
        let query = parse(&[("limit", "10"), ("offset", "3"), ("page", "3")]).unwrap();
        assert_eq!(query.offset, 20);
        let query = parse(&[("limit", "10"), ("offset", "3"), ("page", "0")]).unwrap();
        assert_eq!(query.offset, 3);
    }

    #[test]
    fn limit_minus_one_means_the_configured_maximum() {
        assert_eq!(parse(&[("limit", "-1")]).unwrap().limit, 1000);
        assert!(parse(&[("limit", "1001")]).is_err());
        assert!(parse(&[("limit", "-2")]).is_err());
    }

    #[test]
    fn sort_parses_direction_and_lists() {
        let query = parse(&[("sort", "-title,id"), ("sort[]", "content")]).unwrap();
        assert_eq!(
            query.sort,
            vec![
                SortKey {
                    field: "title".into(),
                    descending: true
                },
                SortKey {
                    field: "id".into(),
                    descending: false
                },
                SortKey {
                    field: "content".into(),
                    descending: false
                },
            ]
        );
    }

    #[test]
    fn meta_accepts_star_and_names() {
        let all = parse(&[("meta", "*")]).unwrap().meta;
        assert!(all.total_count && all.filter_count);
        let one = parse(&[("meta", "filter_count")]).unwrap().meta;
        assert!(one.filter_count && !one.total_count);
        assert_eq!(
            parse(&[("meta", "foo")]).unwrap_err().code(),
            "INVALID_QUERY"
        );
    }

    #[test]
    fn bracket_filters_build_the_same_object_as_json() {
        let brackets = parse(&[("filter[title][_eq]", "Hello"), ("filter[views][_gt]", "3")])
            .unwrap()
            .filter
            .unwrap();
        assert_eq!(
            brackets,
            json!({"title": {"_eq": "Hello"}, "views": {"_gt": "3"}})
        );
        let logical = parse(&[
            ("filter[_or][0][id][_eq]", "1"),
            ("filter[_or][1][id][_eq]", "2"),
        ])
        .unwrap()
        .filter
        .unwrap();
        assert_eq!(
            logical,
            json!({"_or": [{"id": {"_eq": "1"}}, {"id": {"_eq": "2"}}]})
        );
        let reversed = parse(&[
            ("filter[_or][1][id][_eq]", "2"),
            ("filter[_or][0][id][_eq]", "1"),
        ])
        .unwrap()
        .filter
        .unwrap();
        assert_eq!(reversed, logical, "parameter order does not matter");
        assert!(
            parse(&[("filter[_or][1][id][_eq]", "2")]).is_err(),
            "a gap is refused"
        );
        let coerced = parse(&[
            ("filter[draft][_eq]", "false"),
            ("filter[note][_null]", "true"),
        ])
        .unwrap()
        .filter
        .unwrap();
        assert_eq!(
            coerced,
            json!({"draft": {"_eq": false}, "note": {"_null": true}})
        );
    }

    #[test]
    fn bad_values_are_invalid_query() {
        for pairs in [
            vec![("limit", "abc")],
            vec![("offset", "-1")],
            vec![("page", "x")],
            vec![("filter", "{nope")],
            vec![("filter", "[1]")],
            vec![("filter", r#"{"title":{"_eq":""}}"#)],
            vec![("filter", r#"{"title":{"_in":[]}}"#)],
            vec![("filter", r#"{"title":{"_null":"maybe"}}"#)],
            vec![("filter", r#"{"title":{"_eq":{"nested":1}}}"#)],
            vec![("filter", r#"{"_or":{"id":{"_eq":1}}}"#)],
            vec![("filter", r#"{"title":"x"}"#)],
            vec![("deep", "{}")],
            vec![("aggregate", "notjson")],
            vec![("groupBy", "week(dt)")],
            vec![("filter[id][_eq]", "1"), ("filter", r#"{"id":{"_eq":1}}"#)],
        ] {
            let error = parse(&pairs).unwrap_err();
            assert_eq!(error.code(), "INVALID_QUERY", "{pairs:?}");
        }
        assert_eq!(
            parse(&[("limit", "abc")]).unwrap_err().to_string(),
            "Invalid query. \"limit\" must be a number."
        );
    }

    #[test]
    fn operators_must_belong_to_the_field_type() {
        let types = |field: &str| match field {
            "id" => Some("integer".to_owned()),
            "title" => Some("string".to_owned()),
            "flag" => Some("boolean".to_owned()),
            "password" => Some("hash".to_owned()),
            _ => None,
        };
        let check = |filter: Value| validate_operator_types(&filter, &types);
        assert!(check(json!({"id": {"_gt": 1}, "title": {"_icontains": "a"}})).is_ok());
        assert!(
            check(json!({"_or": [{"flag": {"_eq": true}}, {"password": {"_null": false}}]}))
                .is_ok()
        );
        for (filter, message) in [
            (
                json!({"title": {"_bogus": 1}}),
                "Invalid query. \"string\" field type does not contain the \"_bogus\" filter operator.",
            ),
            (
                json!({"id": {"_contains": "1"}}),
                "Invalid query. \"integer\" field type does not contain the \"_contains\" filter operator.",
            ),
            (
                json!({"_and": [{"flag": {"_gt": 1}}]}),
                "Invalid query. \"boolean\" field type does not contain the \"_gt\" filter operator.",
            ),
            (
                json!({"password": {"_eq": "x"}}),
                "Invalid query. \"hash\" field type does not contain the \"_eq\" filter operator.",
            ),
            (
                json!({"title": {"_regex": "x"}}),
                "Invalid query. \"string\" field type does not contain the \"_regex\" filter operator.",
            ),
        ] {
            assert_eq!(check(filter).unwrap_err().to_string(), message);
        }
    }

    #[test]
    fn aggregate_and_group_by_parse_in_both_forms() {
        let brackets = parse(&[
            ("aggregate[count]", "*"),
            ("aggregate[sum]", "n,f"),
            ("groupBy[]", "cat"),
            ("groupBy", "year(dt)"),
        ])
        .unwrap();
        let json = parse(&[
            ("aggregate", r#"{"count":"*","sum":["n","f"]}"#),
            ("groupBy", "cat,year(dt)"),
        ])
        .unwrap();
        assert!(brackets.aggregating());
        assert_eq!(brackets.aggregate, json.aggregate);
        assert_eq!(brackets.group_by, json.group_by);
        assert_eq!(
            brackets.aggregated_fields(),
            vec!["n".to_owned(), "f".into(), "cat".into(), "dt".into()]
        );
        assert!(!parse(&[]).unwrap().aggregating());
    }

    #[test]
    fn unknown_parameters_are_ignored_like_directus() {
        assert!(parse(&[("utm_source", "x")]).is_ok());
    }

    #[test]
    fn json_filter_strings_are_coerced() {
        let filter = parse(&[("filter", r#"{"draft":{"_eq":"true"}}"#)])
            .unwrap()
            .filter
            .unwrap();
        assert_eq!(filter, json!({"draft": {"_eq": true}}));
    }

    #[test]
    fn search_is_trimmed_and_empty_search_is_none() {
        assert_eq!(
            parse(&[("search", "  hello ")]).unwrap().search.as_deref(),
            Some("hello")
        );
        assert_eq!(parse(&[("search", "  ")]).unwrap().search, None);
    }
}
