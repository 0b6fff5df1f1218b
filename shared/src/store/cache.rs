//! The caller's policies resolved from the access configuration ([`resolve`]; evaluating them
//! is the domain's), and the warm-function cache of them and of collection schemas. Each entry
//! lives for a bounded, configured time (`PERMISSIONS_CACHE_TTL`, default 30 s), so a change to
//! roles, policies or permissions applies everywhere within that time, and each map holds at
//! most `domain::timed_map::MAX_ENTRIES`, evicting the least recently used: a flood of new keys pushes out old ones
//! one at a time instead of emptying the cache for everyone. Collections are looked up only
//! after the caller's permissions name them (`items::read`), so random names never get here.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::domain::access::Accountability;
use crate::domain::model::{Collection, CutOff, Settings, UserStatus};
use crate::domain::timed_map::TimedMap;
use crate::store::{Store, StoreError};

/// Roles nest at most this deep; deeper (or cyclic) chains stop here.
const MAX_ROLE_DEPTH: usize = 10;

/// Collects the policies of a user (or, with `None`, of an unauthenticated request): the role and
/// its ancestors' policies, the user's own, and the Public policies when there is no role.
/// Flags are recomputed from the policies, never taken from a token.
pub async fn resolve(
    store: &Store,
    user: Option<(&str, Option<&str>)>,
) -> Result<Accountability, StoreError> {
    let mut accountability = Accountability::default();
    let mut policy_ids: Vec<String> = Vec::new();
    if let Some((user_id, role)) = user {
        accountability.user = Some(user_id.to_owned());
        accountability.role = role.map(str::to_owned);
        let mut next = role.map(str::to_owned);
        let mut chain = Vec::new();
        while let Some(role_id) = next.take() {
            if chain.len() >= MAX_ROLE_DEPTH || accountability.roles.contains(&role_id) {
                break;
            }
            let rows = store.role_access(&role_id).await?;
            if rows.role.is_none() {
                break;
            }
            accountability.roles.push(role_id);
            next = rows.role.as_ref().and_then(|r| r.parent.clone());
            chain.push(rows.policies);
        }
        // Directus orders parent-role policies first, then child roles, then the user's own.
        policy_ids.extend(chain.into_iter().rev().flatten());
        policy_ids.extend(store.user_access(user_id).await?.policies);
    }
    if accountability.roles.is_empty() {
        policy_ids.extend(store.public_access().await?.policies);
    }
    let mut seen = BTreeSet::new();
    for policy_id in policy_ids {
        if !seen.insert(policy_id.clone()) {
            continue;
        }
        if let Some((policy, permissions)) = store.policy_with_permissions(&policy_id).await? {
            accountability.admin |= policy.admin_access;
            accountability.app |= policy.app_access;
            accountability.enforce_tfa |= policy.enforce_tfa;
            accountability.policies.push(policy.id);
            accountability.permissions.extend(permissions);
        }
    }
    Ok(accountability)
}

type CallerKey = (Option<String>, Option<String>);

/// What an access token's validity depends on besides its signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenStanding {
    pub status: UserStatus,
    /// The user's last revocation (and the session it kept).
    pub cut_off: CutOff,
}

#[derive(Debug)]
pub struct AccessCache {
    accountabilities: TimedMap<CallerKey, Arc<Accountability>>,
    collections: TimedMap<String, Option<Arc<Collection>>>,
    standings: TimedMap<String, Option<TokenStanding>>,
    settings: TimedMap<(), Arc<Settings>>,
}

impl AccessCache {
    pub fn new(ttl: Duration) -> Self {
        Self {
            accountabilities: TimedMap::new(ttl),
            collections: TimedMap::new(ttl),
            standings: TimedMap::new(ttl),
            settings: TimedMap::new(ttl),
        }
    }

    /// The caller's resolved policies, from the cache when fresh.
    pub async fn accountability(
        &self,
        store: &Store,
        user: Option<(&str, Option<&str>)>,
    ) -> Result<Arc<Accountability>, StoreError> {
        let key = (
            user.map(|(id, _)| id.to_owned()),
            user.and_then(|(_, role)| role.map(str::to_owned)),
        );
        if let Some(hit) = self.accountabilities.get(&key, Instant::now()) {
            return Ok(hit);
        }
        let resolved = Arc::new(resolve(store, user).await?);
        self.accountabilities
            .put(key, Arc::clone(&resolved), Instant::now());
        Ok(resolved)
    }

    /// The user's status and revocation cut-off (`None`: the user is gone), cached like policies,
    /// so a revocation reaches every warm function within the cache's lifetime.
    pub async fn standing(
        &self,
        store: &Store,
        user_id: &str,
    ) -> Result<Option<TokenStanding>, StoreError> {
        if let Some(hit) = self.standings.get(&user_id.to_owned(), Instant::now()) {
            return Ok(hit);
        }
        let standing = store.get_user(user_id).await?.map(|user| TokenStanding {
            status: user.status,
            cut_off: user.cut_off(),
        });
        self.standings
            .put(user_id.to_owned(), standing.clone(), Instant::now());
        Ok(standing)
    }

    /// The settings item, or `defaults` while none is stored.
    pub async fn settings(
        &self,
        store: &Store,
        defaults: &Settings,
    ) -> Result<Arc<Settings>, StoreError> {
        if let Some(hit) = self.settings.get(&(), Instant::now()) {
            return Ok(hit);
        }
        let settings = Arc::new(store.settings().await?.unwrap_or_else(|| defaults.clone()));
        self.settings.put((), Arc::clone(&settings), Instant::now());
        Ok(settings)
    }

    /// A collection's schema (or its absence), from the cache when fresh.
    pub async fn collection(
        &self,
        store: &Store,
        name: &str,
    ) -> Result<Option<Arc<Collection>>, StoreError> {
        if let Some(hit) = self.collections.get(&name.to_owned(), Instant::now()) {
            return Ok(hit);
        }
        let loaded = store.collection(name).await?.map(Arc::new);
        self.collections
            .put(name.to_owned(), loaded.clone(), Instant::now());
        Ok(loaded)
    }
}
