//! End-to-end tests over HTTP against one local stack (see `support/`).

mod access;
mod gateway;
mod hostile;
mod journey;
mod schemathesis;
mod sdk_client;
mod seed_curls;
mod session_mode;
mod sessions;
