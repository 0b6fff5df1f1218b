//! The transports: HTTP parsing and rendering (`http`), the REST endpoints (`rest`), GraphQL
//! (`graphql`) and the hosted pages (`pages`). Each parses its input once into a flow's typed
//! input, calls the flow, and renders the outcome.

pub mod graphql;
pub mod http;
pub mod pages;
pub mod rest;
