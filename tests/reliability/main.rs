//! Reliability over HTTP against a stack of its own whose functions reach DynamoDB through the
//! fault-injecting proxy (see `support/faults.rs`, docs/reliability.md). One scenario at a time:
//! each test holds the stack while it sets faults.

mod api;
mod load;
mod restart;
mod scenarios;
mod writes;
