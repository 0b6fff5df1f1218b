//! Properties of permission evaluation, over generated rows, permissions and filters.

use proptest::prelude::*;
use serde_json::{Map, Value, json};
use shared::access::filter::{FilterContext, matches};
use shared::access::{Accountability, ReadPlan};
use shared::store::{Collection, FieldDef, Permission};

const FIELDS: [&str; 4] = ["id", "title", "author", "secret"];

fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        (-5i64..5).prop_map(Value::from),
        "[a-c]{0,3}".prop_map(Value::String),
    ]
}

fn row() -> impl Strategy<Value = Map<String, Value>> {
    (
        scalar(),
        scalar(),
        prop_oneof![Just("u1"), Just("u2")],
        scalar(),
    )
        .prop_map(|(id, title, author, secret)| {
            let mut row = Map::new();
            row.insert("id".into(), id);
            row.insert("title".into(), title);
            row.insert("author".into(), Value::String(author.into()));
            row.insert("secret".into(), secret);
            row
        })
}

fn permission() -> impl Strategy<Value = Permission> {
    (
        proptest::sample::subsequence(FIELDS.to_vec(), 1..=4),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(fields, wildcard, own_rows)| Permission {
            id: "p".into(),
            policy: "pol".into(),
            collection: "things".into(),
            action: "read".into(),
            fields: if wildcard {
                vec!["*".into()]
            } else {
                fields.into_iter().map(str::to_owned).collect()
            },
            permissions: own_rows.then(|| json!({"author": {"_eq": "$CURRENT_USER"}})),
            presets: None,
            validation: None,
        })
}

fn collection() -> Collection {
    Collection {
        collection: "things".into(),
        primary_key: "id".into(),
        fields: FIELDS
            .iter()
            .map(|f| FieldDef {
                field: (*f).into(),
                field_type: "string".into(),
            })
            .collect(),
    }
}

fn caller(permissions: Vec<Permission>) -> Accountability {
    Accountability {
        user: Some("u1".into()),
        permissions,
        ..Default::default()
    }
}

fn operator_filter() -> impl Strategy<Value = Value> {
    (
        proptest::sample::select(FIELDS.to_vec()),
        proptest::sample::select(vec![
            "_eq",
            "_neq",
            "_lt",
            "_gte",
            "_null",
            "_contains",
            "_in",
        ]),
        scalar(),
    )
        .prop_map(|(field, op, value)| {
            let value = match op {
                "_null" => Value::Bool(value.is_null()),
                "_in" => json!([value, "a"]),
                "_contains" => Value::String(value.as_str().unwrap_or("a").to_owned() + "a"),
                _ => value,
            };
            json!({ field: { op: value } })
        })
}

proptest! {
    /// A value is visible only through a permission that grants its field and whose filter
    /// matches the row.
    #[test]
    fn visible_values_are_always_granted(permissions in prop::collection::vec(permission(), 1..4), row in row()) {
        let accountability = caller(permissions.clone());
        let plan = ReadPlan::new(&accountability, collection(), None, 0).unwrap();
        let context = accountability.filter_context(0);
        if let Some(visible) = plan.visible_row(&row) {
            for (field, value) in &visible {
                if value.is_null() {
                    continue;
                }
                let granted = permissions.iter().any(|p| {
                    (p.fields.iter().any(|f| f == "*" || f == field))
                        && p.permissions.as_ref().is_none_or(|f| matches(f, &row, &context).unwrap())
                });
                prop_assert!(granted, "{field} visible without a matching grant");
                prop_assert_eq!(value, &row[field]);
            }
        } else {
            let any_case = permissions.iter().any(|p| {
                p.permissions.as_ref().is_none_or(|f| matches(f, &row, &context).unwrap())
            });
            prop_assert!(!any_case, "a row some permission matches was hidden");
        }
    }

    /// Filters evaluated on the visible row cannot tell hidden values apart.
    #[test]
    fn filters_cannot_probe_hidden_values(
        permissions in prop::collection::vec(permission(), 1..4),
        row in row(),
        other_secret in scalar(),
        other_title in scalar(),
        filter in operator_filter(),
    ) {
        let accountability = caller(permissions);
        let plan = ReadPlan::new(&accountability, collection(), None, 0).unwrap();
        let Some(visible) = plan.visible_row(&row) else { return Ok(()); };
        // A field is hidden on this row when even a non-null value would show as null.
        let hidden = |field: &str| {
            let mut marked = row.clone();
            marked.insert(field.into(), json!("marker"));
            plan.visible_row(&marked).is_some_and(|v| v[field].is_null())
        };
        let mut changed = row.clone();
        if hidden("secret") { changed.insert("secret".into(), other_secret); }
        if hidden("title") { changed.insert("title".into(), other_title); }
        let changed_visible = plan.visible_row(&changed).expect("same author, same cases");
        let context = plan.filter_context();
        prop_assert_eq!(
            matches(&filter, &visible, context).unwrap(),
            matches(&filter, &changed_visible, context).unwrap()
        );
    }

    /// Each negated operator is the exact complement of its positive form.
    #[test]
    fn negated_operators_complement(value in scalar(), probe in scalar()) {
        let mut row = Map::new();
        row.insert("f".into(), value.clone());
        let context = FilterContext::default();
        let check = |op: &str, operand: Value| matches(&json!({"f": {op: operand}}), &row, &context).unwrap();
        prop_assert_ne!(check("_eq", probe.clone()), check("_neq", probe.clone()));
        prop_assert_ne!(check("_in", json!([probe.clone()])), check("_nin", json!([probe.clone()])));
        prop_assert_ne!(check("_null", json!(true)), check("_nnull", json!(true)));
        prop_assert_ne!(check("_empty", json!(true)), check("_nempty", json!(true)));
        if let Some(text) = probe.as_str().filter(|t| !t.is_empty()) {
            prop_assert_ne!(check("_contains", json!(text)), check("_ncontains", json!(text)));
            prop_assert_ne!(check("_starts_with", json!(text)), check("_nstarts_with", json!(text)));
        }
        // _and of a filter with itself is the filter; _or likewise.
        let single = json!({"f": {"_eq": probe}});
        let alone = matches(&single, &row, &context).unwrap();
        prop_assert_eq!(matches(&json!({"_and": [single.clone(), single.clone()]}), &row, &context).unwrap(), alone);
        prop_assert_eq!(matches(&json!({"_or": [single.clone(), single]}), &row, &context).unwrap(), alone);
    }
}
