//! The caller's policies resolved from the access configuration ([`resolve`]; evaluating them
//! is the domain's), and the warm-function cache of them and of collection schemas. Each entry
//! lives for a bounded, configured time (`PERMISSIONS_CACHE_TTL`, default 30 s), so a change to
//! roles, policies or permissions applies everywhere within that time, and each map holds at
//! most `MAX_ENTRIES`, evicting the least recently used: a flood of new keys pushes out old ones
//! one at a time instead of emptying the cache for everyone. Collections are looked up only
//! after the caller's permissions name them (`items::read`), so random names never get here.

use std::collections::BTreeSet;
use std::hash::Hash;
use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use lru::LruCache;

use crate::domain::access::Accountability;
use crate::domain::model::{Collection, CutOff, Settings, UserStatus};
use crate::store::{Store, StoreError};

const MAX_ENTRIES: usize = 10_000;

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
            accountability.policies.push(policy.id);
            accountability.permissions.extend(permissions);
        }
    }
    Ok(accountability)
}

/// A map whose entries expire after a fixed time, holding at most a bounded number (LRU).
#[derive(Debug)]
pub(crate) struct TimedMap<K: Hash + Eq, V> {
    ttl: Duration,
    entries: Mutex<LruCache<K, (Instant, V)>>,
}

impl<K: Eq + Hash, V: Clone> TimedMap<K, V> {
    pub(crate) fn new(ttl: Duration) -> Self {
        Self::bounded(ttl, MAX_ENTRIES)
    }

    pub(crate) fn bounded(ttl: Duration, capacity: usize) -> Self {
        Self {
            ttl,
            entries: Mutex::new(LruCache::new(
                NonZeroUsize::new(capacity).unwrap_or(NonZeroUsize::MIN),
            )),
        }
    }

    pub(crate) fn get(&self, key: &K, now: Instant) -> Option<V> {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries
            .get(key)
            .filter(|(stored, _)| now.duration_since(*stored) < self.ttl)
            .map(|(_, value)| value.clone())
    }

    pub(crate) fn put(&self, key: K, value: V, now: Instant) {
        if self.ttl.is_zero() {
            return;
        }
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries.put(key, (now, value));
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_expire_after_the_ttl() {
        let map = TimedMap::new(Duration::from_secs(30));
        let start = Instant::now();
        map.put("k", 1, start);
        assert_eq!(map.get(&"k", start + Duration::from_secs(29)), Some(1));
        assert_eq!(map.get(&"k", start + Duration::from_secs(30)), None);
    }

    #[test]
    fn a_zero_ttl_disables_caching() {
        let map = TimedMap::new(Duration::ZERO);
        let now = Instant::now();
        map.put("k", 1, now);
        assert_eq!(map.get(&"k", now), None);
    }

    #[test]
    fn the_map_never_grows_past_its_bound() {
        let map = TimedMap::new(Duration::from_secs(30));
        let now = Instant::now();
        for i in 0..(MAX_ENTRIES + 5) {
            map.put(i, i, now);
        }
        assert!(map.entries.lock().unwrap().len() <= MAX_ENTRIES);
        assert_eq!(map.get(&(MAX_ENTRIES + 4), now), Some(MAX_ENTRIES + 4));
    }

    #[test]
    fn a_flood_of_new_keys_evicts_the_least_recently_used_not_everything() {
        let map = TimedMap::bounded(Duration::from_secs(30), 3);
        let now = Instant::now();
        map.put("hot", 1, now);
        map.put("a", 2, now);
        map.put("b", 3, now);
        for flood in 0..100 {
            // The hot entry stays in use while strangers flood the map.
            assert_eq!(map.get(&"hot", now), Some(1));
            map.put(if flood % 2 == 0 { "x" } else { "y" }, flood, now);
        }
        assert_eq!(map.get(&"hot", now), Some(1));
        assert_eq!(map.get(&"a", now), None);
    }
}
