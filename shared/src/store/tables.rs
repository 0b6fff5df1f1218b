//! The names of the tables a store reads and writes.

/// Names of the four tables. Defaults come from one prefix so a stack (or a test) can own a set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tables {
    pub users: String,
    pub sessions: String,
    pub config: String,
    pub items: String,
}

impl Tables {
    pub fn with_prefix(prefix: &str) -> Self {
        Self {
            users: format!("{prefix}users"),
            sessions: format!("{prefix}sessions"),
            config: format!("{prefix}config"),
            items: format!("{prefix}items"),
        }
    }

    pub(crate) fn from_lookup(get: &impl Fn(&str) -> Option<String>) -> Self {
        let prefix = get("TABLE_PREFIX").unwrap_or_else(|| "directus-".into());
        let defaults = Self::with_prefix(&prefix);
        Self {
            users: get("USERS_TABLE").unwrap_or(defaults.users),
            sessions: get("SESSIONS_TABLE").unwrap_or(defaults.sessions),
            config: get("CONFIG_TABLE").unwrap_or(defaults.config),
            items: get("ITEMS_TABLE").unwrap_or(defaults.items),
        }
    }
}
