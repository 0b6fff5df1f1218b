//! Observed DynamoDB access, for the end-to-end check that template.yaml grants each function
//! exactly the IAM actions it uses (`infra/dynamodb-access.json`, `infra/check_access.py`).
//!
//! Off unless both `DYNAMODB_ACCESS_LOG` (a file) and `AWS_LAMBDA_FUNCTION_NAME` are set; the
//! template sets neither variable's counterpart (Lambda sets the function name, never the log),
//! so a deployed function builds its client exactly as before. The test stack sets the file
//! (`tests/support/mod.rs`); `cargo lambda watch` sets each function's name to its binary.
//!
//! An SDK interceptor reads every request as it is about to be sent: the operation from the
//! `x-amz-target` header, the table (and index) from the JSON body, and, for a transaction, each
//! member's kind and table, since IAM authorises a transaction by its members' item actions.
//! Each distinct access is appended once per process as one line:
//! `<function> <IAM action> <resource> <leading key>`, where the resource is the table's role in
//! [`Tables`] (`users`, `sessions/index/by_user`; another table by its name) and the leading key
//! is the partition key's value up to its first `#` (`user#`), or `-` when the request names no
//! single partition key or the key has no `#`: enough to check a `dynamodb:LeadingKeys`
//! condition without writing keys (emails) to the file.

use std::collections::HashSet;
use std::io::Write as _;
use std::path::PathBuf;
use std::sync::Mutex;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_dynamodb::error::BoxError;
use serde_json::Value;

use super::tables::Tables;

/// The file observations are appended to; unset in production.
pub const ACCESS_LOG_VARIABLE: &str = "DYNAMODB_ACCESS_LOG";
/// Set by Lambda and by `cargo lambda watch` (to the binary's name).
pub const FUNCTION_NAME_VARIABLE: &str = "AWS_LAMBDA_FUNCTION_NAME";

/// One authorisation a request needs.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Access {
    /// `dynamodb:GetItem`, ...
    pub action: String,
    /// `users`, `sessions/index/by_user`, or an unknown table's name.
    pub resource: String,
    /// The partition key up to and including its first `#`, when the request names one.
    pub leading_key: Option<String>,
}

/// Partition key attribute of each table (as `schema::ensure_tables` and template.yaml define
/// them), for the leading key.
fn partition_key(resource: &str) -> Option<&'static str> {
    match resource {
        "users" | "config" => Some("pk"),
        "sessions" => Some("id"),
        "items" => Some("collection"),
        _ => None,
    }
}

fn resource_name(tables: &Tables, table: &str, index: Option<&str>) -> String {
    let base = [
        (&tables.users, "users"),
        (&tables.sessions, "sessions"),
        (&tables.config, "config"),
        (&tables.items, "items"),
    ]
    .into_iter()
    .find(|(name, _)| name.as_str() == table)
    .map_or_else(|| table.to_owned(), |(_, role)| role.to_owned());
    match index {
        Some(index) => format!("{base}/index/{index}"),
        None => base,
    }
}

/// The partition key's class from a `Key` or `Item` map of DynamoDB JSON.
fn leading_key(resource: &str, key_or_item: Option<&Value>) -> Option<String> {
    let value = key_or_item?
        .get(partition_key(resource)?)?
        .get("S")?
        .as_str()?;
    value.find('#').map(|at| value[..=at].to_owned())
}

fn access(tables: &Tables, action: &str, request: &Value) -> Access {
    let table = request
        .get("TableName")
        .and_then(Value::as_str)
        .unwrap_or("?");
    let index = request.get("IndexName").and_then(Value::as_str);
    let resource = resource_name(tables, table, index);
    let key = request.get("Key").or_else(|| request.get("Item"));
    Access {
        action: format!("dynamodb:{action}"),
        leading_key: if index.is_none() {
            leading_key(&resource, key)
        } else {
            None
        },
        resource,
    }
}

/// What IAM checks for one request: `target` is the `x-amz-target` header
/// (`DynamoDB_20120810.GetItem`), `body` the JSON request body.
pub fn accesses(target: &str, body: &[u8], tables: &Tables) -> Vec<Access> {
    let operation = target.rsplit('.').next().unwrap_or(target);
    let Ok(request) = serde_json::from_slice::<Value>(body) else {
        return vec![Access {
            action: format!("dynamodb:{operation}"),
            resource: "?".into(),
            leading_key: None,
        }];
    };
    match operation {
        // Authorised per member: Put needs PutItem on its table, and so on.
        "TransactWriteItems" | "TransactGetItems" => request
            .get("TransactItems")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_object)
            .flat_map(|member| member.iter())
            .map(|(kind, member)| {
                let action = match kind.as_str() {
                    "Put" => "PutItem",
                    "Update" => "UpdateItem",
                    "Delete" => "DeleteItem",
                    "ConditionCheck" => "ConditionCheckItem",
                    "Get" => "GetItem",
                    other => other,
                };
                access(tables, action, member)
            })
            .collect(),
        // Authorised as themselves, on every table they name.
        "BatchWriteItem" | "BatchGetItem" => request
            .get("RequestItems")
            .and_then(Value::as_object)
            .into_iter()
            .flat_map(|items| items.keys())
            .map(|table| Access {
                action: format!("dynamodb:{operation}"),
                resource: resource_name(tables, table, None),
                leading_key: None,
            })
            .collect(),
        _ => vec![access(tables, operation, &request)],
    }
}

impl Access {
    fn line(&self, function: &str) -> String {
        format!(
            "{function} {} {} {}\n",
            self.action,
            self.resource,
            self.leading_key.as_deref().unwrap_or("-")
        )
    }
}

/// The interceptor: appends each access not yet written by this process.
#[derive(Debug)]
pub struct AccessLog {
    function: String,
    path: PathBuf,
    tables: Tables,
    written: Mutex<HashSet<String>>,
}

impl AccessLog {
    pub fn new(function: impl Into<String>, path: impl Into<PathBuf>, tables: Tables) -> Self {
        Self {
            function: function.into(),
            path: path.into(),
            tables,
            written: Mutex::new(HashSet::new()),
        }
    }

    fn record(&self, target: &str, body: &[u8]) {
        let mut written = self
            .written
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut new = String::new();
        for access in accesses(target, body, &self.tables) {
            let line = access.line(&self.function);
            if written.insert(line.clone()) {
                new.push_str(&line);
            }
        }
        if new.is_empty() {
            return;
        }
        // One append per request: lines of concurrent processes do not interleave.
        let appended = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
            .and_then(|mut file| file.write_all(new.as_bytes()));
        if let Err(error) = appended {
            tracing::error!(%error, path = %self.path.display(), "cannot append to the DynamoDB access log");
        }
    }
}

impl Intercept for AccessLog {
    fn name(&self) -> &'static str {
        "DynamoDbAccessLog"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let request = context.request();
        let target = request.headers().get("x-amz-target").unwrap_or("?");
        self.record(target, request.body().bytes().unwrap_or_default());
        Ok(())
    }
}

/// `DYNAMODB_REQUEST_LOG`: every request the client sends (each attempt) appended as one line,
/// its operation, for the benchmark's count of DynamoDB requests per invocation (`make bench`).
/// Unset in production and in the test stacks.
pub const REQUEST_LOG_VARIABLE: &str = "DYNAMODB_REQUEST_LOG";

/// Appends one line per request sent (see [`REQUEST_LOG_VARIABLE`]).
#[derive(Debug)]
pub struct RequestLog {
    path: PathBuf,
}

impl Intercept for RequestLog {
    fn name(&self) -> &'static str {
        "DynamoDbRequestLog"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let target = context
            .request()
            .headers()
            .get("x-amz-target")
            .unwrap_or("?");
        let operation = target.rsplit('.').next().unwrap_or(target);
        let appended = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
            .and_then(|mut file| file.write_all(format!("{operation}\n").as_bytes()));
        if let Err(error) = appended {
            tracing::error!(%error, path = %self.path.display(), "cannot append to the DynamoDB request log");
        }
        Ok(())
    }
}

/// The same client with an [`AccessLog`] added.
pub fn with_access_log(client: Client, log: AccessLog) -> Client {
    Client::from_conf(client.config().to_builder().interceptor(log).build())
}

/// `client` as it is, unless the environment asks for the access log (see the module docs).
pub(crate) fn from_environment(client: Client, tables: &Tables) -> Client {
    let get = |name| std::env::var(name).ok().filter(|v| !v.is_empty());
    let client = match (get(ACCESS_LOG_VARIABLE), get(FUNCTION_NAME_VARIABLE)) {
        (Some(path), Some(function)) => {
            with_access_log(client, AccessLog::new(function, path, tables.clone()))
        }
        _ => client,
    };
    match get(REQUEST_LOG_VARIABLE) {
        Some(path) => Client::from_conf(
            client
                .config()
                .to_builder()
                .interceptor(RequestLog { path: path.into() })
                .build(),
        ),
        None => client,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tables() -> Tables {
        Tables::with_prefix("t-")
    }

    fn lines(target: &str, body: &str) -> Vec<String> {
        accesses(target, body.as_bytes(), &tables())
            .iter()
            .map(|a| a.line("f").trim_end().to_owned())
            .collect()
    }

    #[test]
    fn single_item_operations_name_the_table_and_the_key_class() {
        assert_eq!(
            lines(
                "DynamoDB_20120810.GetItem",
                r#"{"TableName":"t-users","Key":{"pk":{"S":"email#a@b.co"}},"ConsistentRead":true}"#
            ),
            ["f dynamodb:GetItem users email#"]
        );
        assert_eq!(
            lines(
                "DynamoDB_20120810.UpdateItem",
                r#"{"TableName":"t-users","Key":{"pk":{"S":"rate#register#1.2.3.4#60"}},"UpdateExpression":"ADD hits :one"}"#
            ),
            ["f dynamodb:UpdateItem users rate#"]
        );
        // Session ids carry no `#`; config keys are `pk` + `sk` and the class is pk's.
        assert_eq!(
            lines(
                "DynamoDB_20120810.DeleteItem",
                r#"{"TableName":"t-sessions","Key":{"id":{"S":"abc"}}}"#
            ),
            ["f dynamodb:DeleteItem sessions -"]
        );
        assert_eq!(
            lines(
                "DynamoDB_20120810.GetItem",
                r#"{"TableName":"t-config","Key":{"sk":{"S":"x#y"},"pk":{"S":"settings"}}}"#
            ),
            ["f dynamodb:GetItem config -"]
        );
        assert_eq!(
            lines(
                "DynamoDB_20120810.PutItem",
                r#"{"TableName":"t-items","Item":{"collection":{"S":"posts"},"key":{"S":"n#1"}}}"#
            ),
            ["f dynamodb:PutItem items -"]
        );
    }

    #[test]
    fn queries_name_their_index() {
        assert_eq!(
            lines(
                "DynamoDB_20120810.Query",
                r#"{"TableName":"t-sessions","IndexName":"by_user","KeyConditionExpression":"user_id = :user"}"#
            ),
            ["f dynamodb:Query sessions/index/by_user -"]
        );
        assert_eq!(
            lines(
                "DynamoDB_20120810.Query",
                r#"{"TableName":"t-config","KeyConditionExpression":"pk = :pk"}"#
            ),
            ["f dynamodb:Query config -"]
        );
    }

    #[test]
    fn transactions_are_authorised_by_their_members() {
        let body = r#"{"TransactItems":[
            {"Put":{"TableName":"t-users","Item":{"pk":{"S":"user#1"}},"ConditionExpression":"attribute_not_exists(pk)"}},
            {"Put":{"TableName":"t-users","Item":{"pk":{"S":"email#a@b.co"}}}},
            {"Put":{"TableName":"t-config","Item":{"pk":{"S":"user#1"},"sk":{"S":"access#p"}}}},
            {"Update":{"TableName":"t-sessions","Key":{"id":{"S":"s"}}}},
            {"Delete":{"TableName":"t-users","Key":{"pk":{"S":"user#1"}}}},
            {"ConditionCheck":{"TableName":"t-config","Key":{"pk":{"S":"role#r"},"sk":{"S":"role"}}}}
        ]}"#;
        assert_eq!(
            lines("DynamoDB_20120810.TransactWriteItems", body),
            [
                "f dynamodb:PutItem users user#",
                "f dynamodb:PutItem users email#",
                "f dynamodb:PutItem config user#",
                "f dynamodb:UpdateItem sessions -",
                "f dynamodb:DeleteItem users user#",
                "f dynamodb:ConditionCheckItem config role#",
            ]
        );
        assert_eq!(
            lines(
                "DynamoDB_20120810.TransactGetItems",
                r#"{"TransactItems":[{"Get":{"TableName":"t-users","Key":{"pk":{"S":"user#1"}}}}]}"#
            ),
            ["f dynamodb:GetItem users user#"]
        );
    }

    #[test]
    fn batches_unknown_tables_and_unreadable_bodies_are_visible() {
        assert_eq!(
            lines(
                "DynamoDB_20120810.BatchWriteItem",
                r#"{"RequestItems":{"t-items":[],"other":[]}}"#
            ),
            [
                "f dynamodb:BatchWriteItem items -",
                "f dynamodb:BatchWriteItem other -"
            ]
        );
        assert_eq!(
            lines("DynamoDB_20120810.Scan", r#"{"TableName":"elsewhere"}"#),
            ["f dynamodb:Scan elsewhere -"]
        );
        assert_eq!(
            lines("DynamoDB_20120810.Scan", "{"),
            ["f dynamodb:Scan ? -"]
        );
    }

    /// The interceptor sees what the SDK really sends: a transaction of a real `create_user`
    /// against an endpoint that refuses connections still passes through it, and repeats are
    /// written once.
    #[tokio::test]
    async fn the_interceptor_records_real_requests_once() {
        let path = std::env::temp_dir().join(format!(
            "dynamodb-access-{}-{}.log",
            std::process::id(),
            uuid::Uuid::new_v4().simple()
        ));
        let refused = super::super::Store::local("http://127.0.0.1:9", tables());
        let one_attempt = Client::from_conf(
            refused
                .client()
                .config()
                .to_builder()
                .retry_config(aws_sdk_dynamodb::config::retry::RetryConfig::disabled())
                .build(),
        );
        let client = with_access_log(one_attempt, AccessLog::new("register", &path, tables()));
        let store = super::super::Store::new(client, tables());
        for _ in 0..2 {
            assert!(store.get_user("u1").await.is_err());
        }
        assert!(
            store
                .create_user(super::super::NewUser {
                    email: "a@b.co".into(),
                    password_hash: crate::domain::sensitive::Sensitive::new("x"),
                    status: crate::domain::model::UserStatus::Active,
                    role: None,
                    first_name: None,
                    last_name: None,
                    policies: vec!["p1".into()],
                })
                .await
                .is_err()
        );
        let written = std::fs::read_to_string(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        assert_eq!(
            written,
            "register dynamodb:GetItem users user#\n\
             register dynamodb:PutItem users user#\n\
             register dynamodb:PutItem users email#\n\
             register dynamodb:PutItem config user#\n"
        );
    }
}
