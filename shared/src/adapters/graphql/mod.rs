//! GraphQL over HTTP, shared by `/graphql` (items) and `/graphql/system`: the transport and
//! error format of Directus ([`transport`]), the limits every request runs under ([`limits`]).

pub mod items;
pub mod limits;
mod messages;
mod phase;
mod syntax;
pub mod system;
pub mod transport;

pub use items::ItemsScope;
pub use limits::Limits;
pub use transport::{
    Incoming, Invalid, Options, error, execute, limit_sensitive_mutations, respond, set_cookie,
};

#[cfg(test)]
mod tests;
