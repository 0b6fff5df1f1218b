//! End-to-end tests over HTTP against one local stack (see `support/`).

mod access;
mod aggregate;
mod browser;
mod cli;
mod concurrency;
mod directory;
mod email;
mod gateway;
mod graphql;
mod graphql_fuzz;
mod graphql_system;
mod hardening;
mod hostile;
mod indexes;
mod journey;
mod pages;
mod probes;
mod schemathesis;
mod sdk_client;
mod seed_curls;
mod server;
mod session_mode;
mod sessions;
mod tfa_contract;
mod two_factor;
mod two_factor_graphql;
