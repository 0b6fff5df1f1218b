//! What the functions are built on: configuration read once at cold start, the state each
//! function builds once, the Lambda runtime's set-up, and helpers for the handlers' tests.

pub mod config;
pub mod runtime;
pub mod state;
#[cfg(any(test, feature = "test-support"))]
pub mod testing;
