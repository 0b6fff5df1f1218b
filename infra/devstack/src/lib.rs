//! What the local stack shares with the tests and the benchmarks: the fault-injecting DynamoDB
//! proxy, and a minimal Lambda Runtime API to run a function binary as Lambda does.

pub mod faults;
pub mod runtime_api;
