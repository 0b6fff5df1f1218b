//! async-graphql's wording of the common validation errors, rewritten to graphql-js 16's, which
//! Directus clients see (and some match on). Messages not listed here pass through unchanged.

use std::sync::LazyLock;

use regex::Regex;

/// The type of argument `argument` of `field` on `parent`, as the schema's SDL spells it
/// (`ID!`), for the missing-argument message. Looked up only when that error happens.
pub type ArgumentType<'a> = &'a dyn Fn(&str, &str, &str) -> Option<String>;

static UNKNOWN_FIELD: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"^Unknown field "([^"]*)" on type "([^"]*)"\.(.*)$"#).expect("valid")
});
static MISSING_ARGUMENT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r#"^Field "([^"]*)" argument "([^"]*)" of type "([^"]*)" is required but not provided$"#,
    )
    .expect("valid")
});
static UNKNOWN_ARGUMENT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"^Unknown argument "([^"]*)" on field "([^"]*)" of type "([^"]*)"\.(.*)$"#)
        .expect("valid")
});
static UNKNOWN_TYPE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r#"^Unknown type "([^"]*)"$"#).expect("valid"));
static UNKNOWN_INPUT_FIELD: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"^Invalid value for argument .*unknown field "([^"]*)" of type "([^"]*)"$"#)
        .expect("valid")
});
static NEEDS_SELECTION: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"^Field "([^"]*)" of type "([^"]*)" must have a selection of subfields$"#)
        .expect("valid")
});
static NO_SELECTION: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r#"^Field "([^"]*)" must not have a selection since type "([^"]*)" has no subfields$"#,
    )
    .expect("valid")
});

/// graphql-js' text for a validation message of async-graphql.
pub fn graphql_js(message: &str, argument_type: ArgumentType<'_>) -> String {
    if let Some(c) = UNKNOWN_FIELD.captures(message) {
        return format!(
            "Cannot query field \"{}\" on type \"{}\".{}",
            &c[1], &c[2], &c[3]
        );
    }
    if let Some(c) = MISSING_ARGUMENT.captures(message) {
        // async-graphql names the parent type where graphql-js names the argument's type.
        let ty = argument_type(&c[3], &c[1], &c[2]).unwrap_or_else(|| c[3].to_owned());
        return format!(
            "Field \"{}\" argument \"{}\" of type \"{ty}\" is required, but it was not provided.",
            &c[1], &c[2]
        );
    }
    if let Some(c) = UNKNOWN_ARGUMENT.captures(message) {
        return format!(
            "Unknown argument \"{}\" on field \"{}.{}\".{}",
            &c[1], &c[3], &c[2], &c[4]
        );
    }
    if let Some(c) = UNKNOWN_TYPE.captures(message) {
        return format!("Unknown type \"{}\".", &c[1]);
    }
    if let Some(c) = UNKNOWN_INPUT_FIELD.captures(message) {
        return format!("Field \"{}\" is not defined by type \"{}\".", &c[1], &c[2]);
    }
    if let Some(c) = NEEDS_SELECTION.captures(message) {
        return format!(
            "Field \"{0}\" of type \"{1}\" must have a selection of subfields. Did you mean \"{0} {{ ... }}\"?",
            &c[1], &c[2]
        );
    }
    if let Some(c) = NO_SELECTION.captures(message) {
        return format!(
            "Field \"{}\" must not have a selection since type \"{}\" has no subfields.",
            &c[1], &c[2]
        );
    }
    message.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn none(_: &str, _: &str, _: &str) -> Option<String> {
        None
    }

    #[test]
    fn common_messages_read_as_graphql_js() {
        let cases = [
            (
                r#"Unknown field "nope" on type "Query"."#,
                r#"Cannot query field "nope" on type "Query"."#,
            ),
            (
                r#"Unknown field "titel" on type "posts". Did you mean "title"?"#,
                r#"Cannot query field "titel" on type "posts". Did you mean "title"?"#,
            ),
            (
                r#"Unknown argument "foo" on field "posts" of type "Query"."#,
                r#"Unknown argument "foo" on field "Query.posts"."#,
            ),
            (r#"Unknown type "Foo""#, r#"Unknown type "Foo"."#),
            (
                r#"Invalid value for argument "filter.id", unknown field "_foo" of type "number_filter_operators""#,
                r#"Field "_foo" is not defined by type "number_filter_operators"."#,
            ),
            (
                r#"Field "posts" of type "posts" must have a selection of subfields"#,
                r#"Field "posts" of type "posts" must have a selection of subfields. Did you mean "posts { ... }"?"#,
            ),
            ("Query is too complex.", "Query is too complex."),
        ];
        for (from, to) in cases {
            assert_eq!(graphql_js(from, &none), to);
        }
    }

    #[test]
    fn missing_argument_names_the_argument_type() {
        let lookup = |parent: &str, field: &str, argument: &str| {
            (parent == "Query" && field == "posts_by_id" && argument == "id")
                .then(|| "ID!".to_owned())
        };
        assert_eq!(
            graphql_js(
                r#"Field "posts_by_id" argument "id" of type "Query" is required but not provided"#,
                &lookup
            ),
            r#"Field "posts_by_id" argument "id" of type "ID!" is required, but it was not provided."#
        );
    }
}
