//! The domain: model types, error codes, the typed facts about a client, permission evaluation,
//! query parsing with aggregates and index planning. Pure: no transport, no AWS, no clock.

pub mod access;
pub mod aggregate;
pub mod client;
pub mod error;
pub mod index_plan;
pub mod links;
pub mod ordering;
pub mod query;
pub mod sensitive;
pub mod text;
