//! End-to-end tests over HTTP against one local stack (see `support/`).

mod access;
mod journey;
mod sdk_client;
mod seed_curls;
mod sessions;
