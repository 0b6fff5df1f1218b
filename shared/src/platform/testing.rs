//! Helpers for the functions' handler tests (feature `test-support`), so each test says only
//! what it sends and what it expects.

use lambda_http::{Body, Response};
use serde_json::Value;

use crate::credential::password::Passwords;
use crate::platform::config::HashParams;

pub use crate::platform::state::unreachable_state;

/// argon2id at its cheapest: handler tests hash and verify, they do not measure.
pub fn cheap_passwords() -> Passwords {
    Passwords::new(HashParams {
        memory_kib: 64,
        iterations: 1,
        parallelism: 1,
    })
    .expect("valid hash parameters")
}

/// The status and the JSON body of a response (`null` for an empty one).
pub fn status_and_json(response: &Response<Body>) -> (u16, Value) {
    let body = match response.body() {
        Body::Text(text) => serde_json::from_str(text).expect("a JSON body"),
        _ => Value::Null,
    };
    (response.status().as_u16(), body)
}
