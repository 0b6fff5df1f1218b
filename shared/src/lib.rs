//! The Directus-compatible auth API's common crate. Functions in `functions/` are thin: they
//! build an [`state::AppState`] once and hand each request to a flow here.

pub mod access;
pub mod aggregate;
pub mod auth;
pub mod client;
pub mod config;
pub mod directory;
pub mod email;
pub mod error;
pub mod flows;
pub mod graphql;
pub mod http;
pub mod index_plan;
pub mod items;
pub mod keys;
pub mod limits;
pub mod pages;
pub mod password;
pub mod provision;
pub mod query;
pub mod refresh_token;
pub mod registration;
pub mod rest;
pub mod runtime;
pub mod sensitive;
pub mod server;
pub mod state;
pub mod store;
#[cfg(any(test, feature = "test-support"))]
pub mod testing;
pub mod token;
pub mod users;

pub use error::ApiError;
pub use state::AppState;
