//! A map whose entries expire after a fixed time and which holds a bounded number of them,
//! evicting the least recently used. Pure: the caller passes the time (`now`), so it is tested
//! at chosen instants; the warm caches of the store and of the GraphQL schemas use it.

use std::hash::Hash;
use std::num::NonZeroUsize;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use lru::LruCache;

/// The bound of [`TimedMap::new`]: a flood of new keys pushes out old ones one at a time instead
/// of growing the map.
pub const MAX_ENTRIES: usize = 10_000;

/// A map whose entries expire after a fixed time, holding at most a bounded number (LRU).
#[derive(Debug)]
pub struct TimedMap<K: Hash + Eq, V> {
    ttl: Duration,
    entries: Mutex<LruCache<K, (Instant, V)>>,
}

impl<K: Eq + Hash, V: Clone> TimedMap<K, V> {
    pub fn new(ttl: Duration) -> Self {
        Self::bounded(ttl, MAX_ENTRIES)
    }

    pub fn bounded(ttl: Duration, capacity: usize) -> Self {
        Self {
            ttl,
            entries: Mutex::new(LruCache::new(
                NonZeroUsize::new(capacity).unwrap_or(NonZeroUsize::MIN),
            )),
        }
    }

    pub fn get(&self, key: &K, now: Instant) -> Option<V> {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries
            .get(key)
            .filter(|(stored, _)| now.duration_since(*stored) < self.ttl)
            .map(|(_, value)| value.clone())
    }

    pub fn put(&self, key: K, value: V, now: Instant) {
        if self.ttl.is_zero() {
            return;
        }
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries.put(key, (now, value));
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
