//! The domain of the Directus-compatible auth API: model types, error codes, the typed facts
//! about a client, permission evaluation, query parsing with aggregates and index planning.
//!
//! The rule of this crate: it is pure. No transport (no HTTP types, no statuses, no requests),
//! no AWS or other I/O, no clock: everything it decides is decided over values it is given,
//! the current time included. Its dependencies say so (serde, serde_json, thiserror and the
//! `tracing` facade only); the transports, the store and the mailer build on it in `shared`.

#![forbid(unsafe_code)]

pub mod access;
pub mod aggregate;
pub mod client;
pub mod error;
pub mod index_plan;
pub mod model;
pub mod query;
pub mod sensitive;
pub mod value_order;
