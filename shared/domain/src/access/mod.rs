//! Who the caller is (their policies) and what they may read, over access configuration already
//! loaded (`store::cache` resolves it).

pub mod filter;

use std::collections::BTreeSet;

use serde_json::{Map, Value};

use crate::error::ApiError;
use crate::model::{Collection, Permission};
pub use filter::FilterContext;

/// The caller's identity and everything their policies grant.
#[derive(Debug, Clone, Default)]
pub struct Accountability {
    pub user: Option<String>,
    pub role: Option<String>,
    /// The role and its ancestors.
    pub roles: Vec<String>,
    pub policies: Vec<String>,
    pub admin: bool,
    pub app: bool,
    /// Some policy of the caller enforces a second factor.
    pub enforce_tfa: bool,
    pub permissions: Vec<Permission>,
}

impl Accountability {
    /// What a session that must set up a second factor first may do (its policies enforce one
    /// and the user has none): read their own id, email and `tfa_secret`, and update their own
    /// `tfa_secret` (which is what `/users/me/tfa/enable` asks), nothing else; no admin or app
    /// access. Identity, role and policies stay, for the logs and `$CURRENT_*` filters.
    pub fn second_factor_setup_only(&self) -> Self {
        let own = |action: &str, fields: &[&str]| Permission {
            id: format!("tfa-setup-{action}"),
            policy: String::new(),
            collection: "directus_users".into(),
            action: action.into(),
            fields: fields.iter().map(|f| (*f).to_owned()).collect(),
            permissions: Some(serde_json::json!({"id": {"_eq": "$CURRENT_USER"}})),
            presets: None,
            validation: None,
        };
        Self {
            user: self.user.clone(),
            role: self.role.clone(),
            roles: self.roles.clone(),
            policies: self.policies.clone(),
            admin: false,
            app: false,
            enforce_tfa: true,
            permissions: vec![
                own("read", &["id", "email", "tfa_secret"]),
                own("update", &["tfa_secret"]),
            ],
        }
    }

    /// True when some permission lets the caller read `collection` (administrators aside).
    pub fn may_read(&self, collection: &str) -> bool {
        self.permissions
            .iter()
            .any(|p| p.collection == collection && p.action == "read")
    }

    pub fn filter_context(&self, now_millis: i64) -> FilterContext {
        FilterContext {
            user: self.user.clone(),
            role: self.role.clone(),
            roles: self.roles.clone(),
            policies: self.policies.clone(),
            now_millis,
        }
    }
}

/// One distinct row filter and the fields it grants on rows that match it.
#[derive(Debug, Clone)]
struct Case {
    filter: Option<Value>,
    all_fields: bool,
    fields: BTreeSet<String>,
}

impl Case {
    fn grants(&self, field: &str) -> bool {
        self.all_fields || self.fields.contains(field)
    }
}

/// How to read one collection for one caller: which fields to return and, per row, which of them
/// the caller may see. Directus' v11 semantics (permissions combine additively, a field is
/// visible on a row only through a permission whose filter matches that row).
#[derive(Debug, Clone)]
pub struct ReadPlan {
    pub collection: Collection,
    pub fields: Vec<String>,
    admin: bool,
    cases: Vec<Case>,
    context: FilterContext,
}

impl ReadPlan {
    /// `requested` is the `fields` query (`None` = `*`). Fields the caller may not read, or that
    /// do not exist, are `Forbidden` with Directus' message, so existence never leaks.
    pub fn new(
        accountability: &Accountability,
        collection: Collection,
        requested: Option<&[String]>,
        now_millis: i64,
    ) -> Result<Self, ApiError> {
        let name = collection.collection.clone();
        let cases = if accountability.admin {
            Vec::new()
        } else {
            let mut cases: Vec<Case> = Vec::new();
            for permission in accountability
                .permissions
                .iter()
                .filter(|p| p.collection == name && p.action == "read")
            {
                let filter = permission
                    .permissions
                    .clone()
                    .filter(|f| !f.is_null() && f.as_object().is_none_or(|o| !o.is_empty()));
                let index = match cases.iter().position(|c| c.filter == filter) {
                    Some(index) => index,
                    None => {
                        cases.push(Case {
                            filter,
                            all_fields: false,
                            fields: BTreeSet::new(),
                        });
                        cases.len() - 1
                    }
                };
                for field in &permission.fields {
                    if field == "*" {
                        cases[index].all_fields = true;
                    } else {
                        cases[index].fields.insert(field.clone());
                    }
                }
            }
            if cases.is_empty() {
                return Err(ApiError::forbidden_collection(&name));
            }
            cases
        };
        let readable = |field: &str| {
            collection.field(field).is_some()
                && (accountability.admin || cases.iter().any(|c| c.grants(field)))
        };
        let mut fields = Vec::new();
        let mut denied = Vec::new();
        for field in requested.unwrap_or(&["*".to_owned()]) {
            if field == "*" {
                fields.extend(
                    collection
                        .fields
                        .iter()
                        .map(|f| f.field.clone())
                        .filter(|f| readable(f)),
                );
            } else if readable(field) {
                fields.push(field.clone());
            } else {
                denied.push(field.clone());
            }
        }
        if !denied.is_empty() {
            denied.dedup();
            return Err(ApiError::forbidden_fields(&name, &denied));
        }
        let mut seen = BTreeSet::new();
        fields.retain(|f| seen.insert(f.clone()));
        Ok(Self {
            collection,
            fields,
            admin: accountability.admin,
            cases,
            context: accountability.filter_context(now_millis),
        })
    }

    /// True when every row is visible to the caller (an administrator, or a read permission
    /// with no row filter): then how many rows they can see is how many there are.
    pub fn sees_every_row(&self) -> bool {
        self.admin || self.cases.iter().any(|c| c.filter.is_none())
    }

    /// True when the caller may read every row and `field` on each (an administrator, or a read
    /// permission without a row filter that grants it): a read through `field`'s index then
    /// examines only what the caller may see, so neither its time nor the scan bound tells
    /// anything about hidden rows or values.
    pub fn reads_field_on_every_row(&self, field: &str) -> bool {
        self.admin
            || self
                .cases
                .iter()
                .any(|c| c.filter.is_none() && c.grants(field))
    }

    /// Fields the caller may use in a filter: the same rule as explicit `fields`.
    pub fn check_readable(&self, fields: &[String]) -> Result<(), ApiError> {
        let denied: Vec<String> = fields
            .iter()
            .filter(|f| {
                self.collection.field(f).is_none()
                    || !(self.admin || self.cases.iter().any(|c| c.grants(f)))
            })
            .cloned()
            .collect();
        if denied.is_empty() {
            Ok(())
        } else {
            Err(ApiError::forbidden_fields(
                &self.collection.collection,
                &denied,
            ))
        }
    }

    /// The row as this caller may see it: every readable field of the schema, unreadable ones
    /// `null`; `None` when no permission's filter matches the row.
    pub fn visible_row(&self, row: &Map<String, Value>) -> Option<Map<String, Value>> {
        let matching: Vec<&Case> = if self.admin {
            Vec::new()
        } else {
            let matching: Vec<&Case> = self
                .cases
                .iter()
                .filter(|case| match &case.filter {
                    None => true,
                    Some(filter) => match filter::matches(filter, row, &self.context) {
                        Ok(matched) => matched,
                        Err(error) => {
                            // A broken permission filter grants nothing (fail closed).
                            tracing::warn!(%error, collection = %self.collection.collection, "invalid permission filter");
                            false
                        }
                    },
                })
                .collect();
            if matching.is_empty() {
                return None;
            }
            matching
        };
        let visible = self
            .collection
            .fields
            .iter()
            .map(|f| {
                let field = &f.field;
                let value = if self.admin || matching.iter().any(|c| c.grants(field)) {
                    row.get(field).cloned().unwrap_or(Value::Null)
                } else {
                    Value::Null
                };
                (field.clone(), value)
            })
            .collect();
        Some(visible)
    }

    /// Keeps only the requested fields, in the requested order.
    pub fn project(&self, row: &Map<String, Value>) -> Map<String, Value> {
        self.fields
            .iter()
            .map(|f| (f.clone(), row.get(f).cloned().unwrap_or(Value::Null)))
            .collect()
    }

    pub fn filter_context(&self) -> &FilterContext {
        &self.context
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::FieldDef;
    use serde_json::json;

    fn posts() -> Collection {
        Collection {
            collection: "posts".into(),
            primary_key: "id".into(),
            fields: ["id", "title", "content", "author", "secret"]
                .iter()
                .map(|f| FieldDef {
                    field: (*f).into(),
                    field_type: "string".into(),
                    schema: None,
                })
                .collect(),
        }
    }

    fn permission(fields: &[&str], filter: Option<Value>) -> Permission {
        Permission {
            id: "p".into(),
            policy: "pol".into(),
            collection: "posts".into(),
            action: "read".into(),
            fields: fields.iter().map(|f| (*f).to_owned()).collect(),
            permissions: filter,
            presets: None,
            validation: None,
        }
    }

    fn caller(permissions: Vec<Permission>) -> Accountability {
        Accountability {
            user: Some("u1".into()),
            role: Some("r1".into()),
            roles: vec!["r1".into()],
            policies: vec!["pol".into()],
            admin: false,
            app: false,
            enforce_tfa: false,
            permissions,
        }
    }

    fn row(author: &str) -> Map<String, Value> {
        json!({"id": 1, "title": "T", "content": "C", "author": author, "secret": "S"})
            .as_object()
            .unwrap()
            .clone()
    }

    fn fields(names: &[&str]) -> Vec<String> {
        names.iter().map(|f| (*f).to_owned()).collect()
    }

    #[test]
    fn a_second_factor_setup_session_may_only_see_and_set_its_own_factor() {
        let mut full = caller(vec![permission(&["*"], None)]);
        full.admin = true;
        full.app = true;
        let setup = full.second_factor_setup_only();
        assert!(!setup.admin && !setup.app && setup.enforce_tfa);
        assert_eq!(setup.user.as_deref(), Some("u1"));
        assert!(!setup.may_read("posts"), "the policies' grants are gone");
        assert!(ReadPlan::new(&setup, posts(), None, 0).is_err());
        assert!(setup.may_read("directus_users"));
        let own = |action: &str| {
            setup
                .permissions
                .iter()
                .filter(|p| p.action == action)
                .map(|p| (p.fields.clone(), p.permissions.clone()))
                .collect::<Vec<_>>()
        };
        let mine = Some(json!({"id": {"_eq": "$CURRENT_USER"}}));
        assert_eq!(
            own("read"),
            vec![(
                vec!["id".into(), "email".into(), "tfa_secret".into()],
                mine.clone()
            )]
        );
        assert_eq!(own("update"), vec![(vec!["tfa_secret".into()], mine)]);
        assert!(own("create").is_empty() && own("delete").is_empty());
    }

    #[test]
    fn no_read_permission_is_forbidden_like_a_missing_collection() {
        let error = ReadPlan::new(&caller(vec![]), posts(), None, 0).unwrap_err();
        assert!(
            error
                .to_string()
                .contains("collection \"posts\" or it does not exist")
        );
        let mut wrong_action = permission(&["*"], None);
        wrong_action.action = "create".into();
        assert!(ReadPlan::new(&caller(vec![wrong_action]), posts(), None, 0).is_err());
    }

    #[test]
    fn wildcard_expands_to_readable_fields_only() {
        let plan = ReadPlan::new(
            &caller(vec![permission(&["id", "title"], None)]),
            posts(),
            None,
            0,
        )
        .unwrap();
        assert_eq!(plan.fields, fields(&["id", "title"]));
    }

    #[test]
    fn explicit_unreadable_or_unknown_fields_are_forbidden() {
        let accountability = caller(vec![permission(&["id", "title"], None)]);
        let error =
            ReadPlan::new(&accountability, posts(), Some(&fields(&["secret"])), 0).unwrap_err();
        assert!(error.to_string().contains("field \"secret\""));
        let error =
            ReadPlan::new(&accountability, posts(), Some(&fields(&["nope"])), 0).unwrap_err();
        assert!(error.to_string().contains("field \"nope\""));
    }

    #[test]
    fn row_filters_hide_rows_and_fields_per_row() {
        let accountability = caller(vec![
            permission(&["id", "title"], None),
            permission(
                &["content"],
                Some(json!({"author": {"_eq": "$CURRENT_USER"}})),
            ),
        ]);
        let plan = ReadPlan::new(&accountability, posts(), None, 0).unwrap();
        assert_eq!(plan.fields, fields(&["id", "title", "content"]));
        let own = plan.visible_row(&row("u1")).unwrap();
        assert_eq!(own["content"], json!("C"));
        let other = plan.visible_row(&row("u2")).unwrap();
        assert_eq!(other["content"], Value::Null);
        assert_eq!(other["title"], json!("T"));
    }

    #[test]
    fn rows_outside_every_filter_are_not_returned() {
        let accountability = caller(vec![permission(
            &["*"],
            Some(json!({"author": {"_eq": "$CURRENT_USER"}})),
        )]);
        let plan = ReadPlan::new(&accountability, posts(), None, 0).unwrap();
        assert!(plan.visible_row(&row("u1")).is_some());
        assert!(plan.visible_row(&row("u2")).is_none());
    }

    #[test]
    fn broken_permission_filters_grant_nothing() {
        let accountability = caller(vec![permission(&["*"], Some(json!({"id": {"_bogus": 1}})))]);
        let plan = ReadPlan::new(&accountability, posts(), None, 0).unwrap();
        assert!(plan.visible_row(&row("u1")).is_none());
    }

    #[test]
    fn admin_reads_everything_but_unknown_fields_stay_forbidden() {
        let admin = Accountability {
            admin: true,
            ..caller(vec![])
        };
        let plan = ReadPlan::new(&admin, posts(), None, 0).unwrap();
        assert_eq!(plan.fields.len(), 5);
        assert_eq!(plan.visible_row(&row("x")).unwrap()["secret"], json!("S"));
        assert!(ReadPlan::new(&admin, posts(), Some(&fields(&["nope"])), 0).is_err());
    }

    #[test]
    fn projection_keeps_requested_order() {
        let plan = ReadPlan::new(
            &caller(vec![permission(&["*"], None)]),
            posts(),
            Some(&fields(&["title", "id"])),
            0,
        )
        .unwrap();
        let visible = plan.visible_row(&row("u1")).unwrap();
        let projected = plan.project(&visible);
        assert_eq!(projected.keys().collect::<Vec<_>>(), vec!["title", "id"]);
    }

    #[test]
    fn filter_fields_must_be_readable() {
        let plan = ReadPlan::new(
            &caller(vec![permission(&["id", "title"], None)]),
            posts(),
            None,
            0,
        )
        .unwrap();
        assert!(plan.check_readable(&fields(&["title"])).is_ok());
        assert!(plan.check_readable(&fields(&["secret"])).is_err());
    }
}
