//! End-to-end tests over HTTP against one local stack (see `support/`).

mod access;
mod aggregate;
mod directory;
mod email;
mod gateway;
mod hostile;
mod journey;
mod schemathesis;
mod sdk_client;
mod seed_curls;
mod server;
mod session_mode;
mod sessions;
