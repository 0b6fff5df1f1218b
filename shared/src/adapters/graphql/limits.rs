//! What one GraphQL request may cost, from the environment (read once per cold start).

/// The limits every GraphQL request runs under. Defaults keep a hostile query within what a REST
/// read costs: the token limit bounds parsing (Directus' `GRAPHQL_QUERY_TOKEN_LIMIT`), depth and
/// complexity bound validation and execution, and the reads themselves share one scan budget
/// per request (see `crate::adapters::graphql::items`), so a thousand aliases examine no more rows than
/// one `GET /items/...`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// `GRAPHQL_QUERY_TOKEN_LIMIT` (5000): tokens of the document, counted before parsing.
    pub token_limit: usize,
    /// `GRAPHQL_MAX_DEPTH` (16): nesting of selections. The standard introspection query
    /// (13 levels) fits; the items schema itself is at most 3 deep.
    pub max_depth: usize,
    /// `GRAPHQL_MAX_COMPLEXITY` (1000): selected fields, fragments expanded (each field 1).
    pub max_complexity: usize,
    /// `GRAPHQL_MAX_DIRECTIVES` (10): directives on one field.
    pub max_directives: usize,
    /// Nesting the parser accepts (lists, objects, selections) before giving up: 64.
    pub recursive_depth: usize,
    /// `GRAPHQL_INTROSPECTION` (true): `false` refuses `__schema` and `__type`, for everyone.
    pub introspection: bool,
    /// `GRAPHQL_MAX_PAYLOAD_SIZE` (1 MB, Directus' `MAX_PAYLOAD_SIZE`): bytes of a POST body.
    pub max_body_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            token_limit: 5000,
            max_depth: 16,
            max_complexity: 1000,
            max_directives: 10,
            recursive_depth: 64,
            introspection: true,
            max_body_bytes: 1024 * 1024,
        }
    }
}

/// A limit that does not parse, or is 0, is a configuration error.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{name} must be a positive integer, got \"{value}\"")]
pub struct LimitError {
    pub name: &'static str,
    pub value: String,
}

impl Limits {
    pub fn from_env() -> Result<Self, LimitError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, LimitError> {
        let defaults = Self::default();
        let number = |name: &'static str, default: usize| -> Result<usize, LimitError> {
            match lookup(name) {
                None => Ok(default),
                Some(raw) => match raw.trim().parse::<usize>() {
                    Ok(n) if n > 0 => Ok(n),
                    _ => Err(LimitError { name, value: raw }),
                },
            }
        };
        let introspection = match lookup("GRAPHQL_INTROSPECTION") {
            None => defaults.introspection,
            Some(raw) => match raw.trim().to_ascii_lowercase().as_str() {
                "true" | "1" => true,
                "false" | "0" => false,
                _ => {
                    return Err(LimitError {
                        name: "GRAPHQL_INTROSPECTION",
                        value: raw,
                    });
                }
            },
        };
        Ok(Self {
            token_limit: number("GRAPHQL_QUERY_TOKEN_LIMIT", defaults.token_limit)?,
            max_depth: number("GRAPHQL_MAX_DEPTH", defaults.max_depth)?,
            max_complexity: number("GRAPHQL_MAX_COMPLEXITY", defaults.max_complexity)?,
            max_directives: number("GRAPHQL_MAX_DIRECTIVES", defaults.max_directives)?,
            recursive_depth: defaults.recursive_depth,
            introspection,
            max_body_bytes: number("GRAPHQL_MAX_PAYLOAD_SIZE", defaults.max_body_bytes)?,
        })
    }

    /// A schema builder with these limits applied (and introspection off when configured).
    pub fn apply(
        &self,
        builder: async_graphql::dynamic::SchemaBuilder,
    ) -> async_graphql::dynamic::SchemaBuilder {
        let builder = builder
            .limit_depth(self.max_depth)
            .limit_complexity(self.max_complexity)
            .limit_directives(self.max_directives)
            .limit_recursive_depth(self.recursive_depth)
            .extension(super::phase::PhaseExtension);
        if self.introspection {
            builder
        } else {
            builder.disable_introspection().disable_suggestions()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_directus_where_it_has_one() {
        let limits = Limits::from_lookup(|_| None).unwrap();
        assert_eq!(limits.token_limit, 5000);
        assert!(limits.introspection);
        assert_eq!(limits.max_body_bytes, 1024 * 1024);
    }

    #[test]
    fn settings_are_read_and_bad_ones_refused() {
        let limits = Limits::from_lookup(|name| match name {
            "GRAPHQL_QUERY_TOKEN_LIMIT" => Some("10".into()),
            "GRAPHQL_INTROSPECTION" => Some("false".into()),
            _ => None,
        })
        .unwrap();
        assert_eq!(limits.token_limit, 10);
        assert!(!limits.introspection);
        for bad in ["0", "-1", "x", ""] {
            let error =
                Limits::from_lookup(|name| (name == "GRAPHQL_MAX_DEPTH").then(|| bad.to_owned()))
                    .unwrap_err();
            assert_eq!(error.name, "GRAPHQL_MAX_DEPTH");
        }
        assert!(
            Limits::from_lookup(|name| (name == "GRAPHQL_INTROSPECTION").then(|| "maybe".into()))
                .is_err()
        );
    }
}
