//! What the local stack shares with the tests: the fault-injecting DynamoDB proxy.

pub mod faults;
