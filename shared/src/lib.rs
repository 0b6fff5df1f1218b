//! The Directus-compatible auth API's common crate. Functions in `functions/` are thin: they
//! build a [`platform::state::AppState`] once and hand each request to an adapter here.
//!
//! One layer per folder (the README's architecture section draws them):
//! `domain` (pure) ← `credential` ← `flows` → `store`, `email`; `adapters` (HTTP, REST,
//! GraphQL, pages) call the flows; `platform` wires configuration, state and the runtime.

pub mod adapters;
pub mod credential;
pub mod email;
pub mod flows;
pub mod platform;
pub mod store;

/// The pure core, a crate of its own so that the compiler keeps transport and AWS out of it.
pub use domain;

pub use domain::error::ApiError;
pub use platform::state::AppState;
