//! The stored shapes of collection items shared by the item writes (`super::items`) and the
//! index maintenance (`super::index`): the item as written, and a page as read.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

#[derive(Serialize, Deserialize)]
pub(super) struct ItemRecord {
    pub collection: String,
    pub key: String,
    pub data: Map<String, Value>,
    /// Bumped by every write, so a replacement is conditional on the item it read (and so on
    /// the index entries it removes). Items written before versions existed have none (0).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub version: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// One page of a collection and where the next one starts.
#[derive(Debug, Default)]
pub struct ItemPage {
    pub items: Vec<Map<String, Value>>,
    /// Items read but not returned (accounts past their expiry in the user directory): the
    /// read examined them all the same.
    pub skipped: usize,
    pub next: Option<PageCursor>,
}

/// Where the next page of a read starts: DynamoDB's last evaluated key, opaque outside the
/// store (a flow only hands it back for the next page).
#[derive(Debug, Clone, PartialEq)]
pub struct PageCursor(HashMap<String, AttributeValue>);

impl PageCursor {
    /// The cursor a query's output leaves: none when the read is complete.
    pub(super) fn after(
        last_evaluated_key: Option<HashMap<String, AttributeValue>>,
    ) -> Option<Self> {
        last_evaluated_key.filter(|key| !key.is_empty()).map(Self)
    }

    /// The exclusive start key of the next query.
    pub(super) fn start_key(cursor: Option<Self>) -> Option<HashMap<String, AttributeValue>> {
        cursor.map(|c| c.0)
    }
}
