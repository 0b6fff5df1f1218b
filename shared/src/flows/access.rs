//! What a caller may do, the settings in force and the collections' schemas, read through the
//! access cache: the one way a transport learns them (GraphQL builds its schema from them, the
//! pages their branding), so no transport reads the store itself.

use std::collections::BTreeSet;
use std::sync::Arc;

use crate::credential::token::AccessClaims;
use crate::domain::access::Accountability;
use crate::domain::error::ApiError;
use crate::domain::model::{Collection, Settings};
use crate::platform::state::AppState;

/// The permissions of `claims`' user and role (none: the public's). A token issued to set up
/// a second factor (`tfa_setup`) gets only that, whatever the policies grant.
pub async fn accountability(
    state: &AppState,
    claims: Option<&AccessClaims>,
) -> Result<Arc<Accountability>, ApiError> {
    let user = claims.map(|c| (c.id.as_str(), c.role.as_deref()));
    let accountability = state.access.accountability(&state.store, user).await?;
    if claims.is_some_and(|c| c.tfa_setup) {
        return Ok(Arc::new(accountability.second_factor_setup_only()));
    }
    Ok(accountability)
}

/// The settings in force: the stored item, else the configured defaults.
pub async fn settings(state: &AppState) -> Result<Arc<Settings>, ApiError> {
    Ok(state
        .access
        .settings(&state.store, &state.config.default_settings)
        .await?)
}

/// The collections `accountability` has a read permission on (an administrator: every
/// collection), by name in name order, those whose name `wanted` refuses left unread.
pub async fn readable_collections(
    state: &AppState,
    accountability: &Accountability,
    wanted: impl Fn(&str) -> bool,
) -> Result<Vec<(String, Arc<Collection>)>, ApiError> {
    let mut names: BTreeSet<String> = accountability
        .permissions
        .iter()
        .filter(|p| p.action == "read")
        .map(|p| p.collection.clone())
        .collect();
    if accountability.admin {
        names.extend(state.store.collection_names().await?);
    }
    let mut collections = Vec::new();
    for name in names.into_iter().filter(|n| wanted(n)) {
        if let Some(collection) = state.access.collection(&state.store, &name).await? {
            collections.push((name, collection));
        }
    }
    Ok(collections)
}
