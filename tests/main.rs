//! End-to-end tests over HTTP against one local stack (see `support/`).

mod access;
mod journey;
mod sessions;
