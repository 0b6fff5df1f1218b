//! The domain of the Directus-compatible auth API: model types, error codes, the typed facts
//! about a client, permission evaluation, query parsing with aggregates and index planning.
//!
//! The rule of this crate: it is pure. No transport (no HTTP types, no statuses, no requests),
//! no AWS or other I/O, no clock: everything it decides is decided over values it is given,
//! the current time included. Its dependencies say so (serde, serde_json, thiserror, the
//! `tracing` facade, the `url` parser, the `lru` map and `totp-rs`'s RFC 6238 arithmetic only; the purity test below keeps the
//! list); the transports, the store and the mailer build on it in `shared`.

#![forbid(unsafe_code)]

pub mod access;
pub mod aggregate;
pub mod client;
pub mod error;
pub mod index_plan;
pub mod links;
pub mod model;
pub mod query;
pub mod sensitive;
pub mod text;
pub mod timed_map;
pub mod two_factor;
pub mod value_order;

#[cfg(test)]
mod purity {
    /// The crates this one may depend on. Adding one is a review decision: nothing that brings
    /// transport (lambda_http, http, hyper), AWS (aws-*), a runtime (tokio) or the clock.
    /// `url` is the WHATWG URL parser (links in mail and the pages' redirects): parsing only;
    /// `lru` the bounded map under `timed_map`: a data structure; `totp-rs` (without its `std`
    /// feature, whose `*_current` functions read the clock) RFC 6238 codes of a given instant.
    const ALLOWED: [&str; 7] = [
        "serde",
        "serde_json",
        "thiserror",
        "tracing",
        "url",
        "lru",
        "totp-rs",
    ];

    #[test]
    fn dependencies_stay_pure() {
        let manifest: toml::Table = include_str!("../Cargo.toml").parse().unwrap();
        for section in ["dependencies", "build-dependencies"] {
            let Some(dependencies) = manifest.get(section).and_then(|d| d.as_table()) else {
                continue;
            };
            for name in dependencies.keys() {
                assert!(
                    ALLOWED.contains(&name.as_str()),
                    "the domain crate must stay pure, and `{name}` ({section}) is not allowed"
                );
            }
        }
        assert!(
            !manifest.contains_key("target"),
            "no platform-specific dependencies either"
        );
    }
}
