//! Credentials: password hashing and policy, access tokens and their signing keys, refresh
//! tokens, and the tokens carried by mailed links.

pub mod config;
pub mod keys;
pub mod link_token;
pub mod password;
pub mod refresh_token;
pub mod token;
pub mod two_factor;
