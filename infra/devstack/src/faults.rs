//! A fault-injecting HTTP proxy for DynamoDB's JSON API, to put between the functions and the
//! local DynamoDB (dynoxide). Every request is forwarded unchanged unless a rule of the current
//! [`Scenario`] picks it: by operation (`X-Amz-Target`), by a text its body contains (a table
//! name, a key prefix such as `rate#`), for a fraction of the matching requests, at most a number
//! of times. A picked request is delayed, hung, dropped or reset (before it reaches DynamoDB, or
//! after DynamoDB applied it, when only the answer is lost), or answered with one of DynamoDB's
//! own error bodies.
//!
//! Control at run time, on the proxy's own port: `GET /_faults` returns the scenario and the
//! counts since it was set, `PUT /_faults` sets one (JSON, as [`Scenario`] serialises; the counts
//! restart), `DELETE /_faults` clears it. In the same process, [`FaultProxy::set`] and
//! [`FaultProxy::stats`] do the same. `devstack --faults` starts one in front of its DynamoDB
//! for manual trials:
//!
//! ```sh
//! curl -X PUT http://127.0.0.1:PORT/_faults -d \
//!   '{"rules":[{"operation":"GetItem","fraction":0.5,"fault":{"kind":"error","error":"ThrottlingException"}}]}'
//! ```

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde::{Deserialize, Serialize};
use tokio::net::TcpListener;

/// The path of the control endpoint (DynamoDB's API is `POST /`).
pub const CONTROL_PATH: &str = "/_faults";
/// How long a hung request holds its connection before the proxy lets go (clients give up long
/// before: the SDK's attempt timeout is 2 s).
const HANG_FOR: Duration = Duration::from_secs(120);

/// What happens to a picked request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Fault {
    /// Forwarded after `ms` milliseconds.
    Delay { ms: u64 },
    /// Forwarded at once (DynamoDB applies it); the answer is held for `ms` milliseconds.
    DelayResponse { ms: u64 },
    /// Never forwarded, never answered: the connection stays open until the client gives up.
    Hang,
    /// Never forwarded; the connection is closed without an answer.
    Drop,
    /// Never forwarded; the connection is reset (TCP RST).
    Reset,
    /// Forwarded and applied; the connection is then closed without the answer.
    DropAfter,
    /// Forwarded and applied; the connection is then reset without the answer.
    ResetAfter,
    /// Never forwarded; answered with DynamoDB's own error.
    Error { error: DynamoError },
}

impl Fault {
    fn name(&self) -> String {
        match self {
            Self::Delay { .. } => "delay".into(),
            Self::DelayResponse { .. } => "delay_response".into(),
            Self::Hang => "hang".into(),
            Self::Drop => "drop".into(),
            Self::Reset => "reset".into(),
            Self::DropAfter => "drop_after".into(),
            Self::ResetAfter => "reset_after".into(),
            Self::Error { error } => error.code().into(),
        }
    }
}

/// DynamoDB errors the proxy answers with, as DynamoDB sends them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum DynamoError {
    ProvisionedThroughputExceededException,
    ThrottlingException,
    InternalServerError,
    /// On `TransactWriteItems`/`TransactGetItems`: `TransactionCanceledException` with a
    /// `TransactionConflict` reason on the first member (`None` on the others); on any other
    /// operation: `TransactionConflictException` (an item is in an ongoing transaction).
    TransactionConflict,
}

impl DynamoError {
    pub fn code(self) -> &'static str {
        match self {
            Self::ProvisionedThroughputExceededException => {
                "ProvisionedThroughputExceededException"
            }
            Self::ThrottlingException => "ThrottlingException",
            Self::InternalServerError => "InternalServerError",
            Self::TransactionConflict => "TransactionConflict",
        }
    }

    /// Status and body for a request of `operation` with `body`.
    fn response(self, operation: &str, body: &[u8]) -> (StatusCode, String) {
        let dynamo = "com.amazonaws.dynamodb.v20120810";
        let (status, value) = match self {
            Self::ProvisionedThroughputExceededException => (
                StatusCode::BAD_REQUEST,
                serde_json::json!({
                    "__type": format!("{dynamo}#ProvisionedThroughputExceededException"),
                    "message": "The level of configured provisioned throughput for the table was exceeded. Consider increasing your provisioning level with the UpdateTable API.",
                }),
            ),
            Self::ThrottlingException => (
                StatusCode::BAD_REQUEST,
                serde_json::json!({
                    "__type": "com.amazon.coral.availability#ThrottlingException",
                    "message": "Rate of requests exceeds the allowed throughput.",
                }),
            ),
            Self::InternalServerError => (
                StatusCode::INTERNAL_SERVER_ERROR,
                serde_json::json!({
                    "__type": format!("{dynamo}#InternalServerError"),
                    "message": "Internal server error",
                }),
            ),
            Self::TransactionConflict
                if operation == "TransactWriteItems" || operation == "TransactGetItems" =>
            {
                let members = serde_json::from_slice::<serde_json::Value>(body)
                    .ok()
                    .and_then(|v| v["TransactItems"].as_array().map(Vec::len))
                    .unwrap_or(1)
                    .max(1);
                let reasons: Vec<serde_json::Value> = (0..members)
                    .map(|i| {
                        if i == 0 {
                            serde_json::json!({"Code": "TransactionConflict", "Message": "Transaction is ongoing for the item"})
                        } else {
                            serde_json::json!({"Code": "None"})
                        }
                    })
                    .collect();
                let codes: Vec<&str> = (0..members)
                    .map(|i| {
                        if i == 0 {
                            "TransactionConflict"
                        } else {
                            "None"
                        }
                    })
                    .collect();
                (
                    StatusCode::BAD_REQUEST,
                    serde_json::json!({
                        "__type": format!("{dynamo}#TransactionCanceledException"),
                        "CancellationReasons": reasons,
                        "Message": format!("Transaction cancelled, please refer cancellation reasons for specific reasons [{}]", codes.join(", ")),
                    }),
                )
            }
            Self::TransactionConflict => (
                StatusCode::BAD_REQUEST,
                serde_json::json!({
                    "__type": format!("{dynamo}#TransactionConflictException"),
                    "message": "Transaction is ongoing for the item",
                }),
            ),
        };
        (status, value.to_string())
    }
}

fn all() -> f64 {
    1.0
}

/// One rule: which requests, how many of them, and what happens to them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// The operation (`GetItem`, `TransactWriteItems`, ...; the part of `X-Amz-Target` after
    /// the dot); every operation when absent.
    #[serde(default)]
    pub operation: Option<String>,
    /// Only requests whose JSON body contains this text.
    #[serde(default)]
    pub body_contains: Option<String>,
    /// Share of the matching requests picked, from 0 to 1 (1 when absent).
    #[serde(default = "all")]
    pub fraction: f64,
    /// At most this many picks; unlimited when absent.
    #[serde(default)]
    pub limit: Option<u64>,
    pub fault: Fault,
}

impl Rule {
    /// A rule picking every request of `operation` (any when `None`).
    pub fn every(operation: Option<&str>, fault: Fault) -> Self {
        Self {
            operation: operation.map(str::to_owned),
            body_contains: None,
            fraction: 1.0,
            limit: None,
            fault,
        }
    }

    fn matches(&self, operation: &str, body: &[u8]) -> bool {
        self.operation.as_deref().is_none_or(|op| op == operation)
            && self.body_contains.as_deref().is_none_or(|text| {
                !text.is_empty()
                    && body
                        .windows(text.len())
                        .any(|window| window == text.as_bytes())
            })
    }
}

/// The rules in force; the first rule that matches a request and picks it decides.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    #[serde(default)]
    pub rules: Vec<Rule>,
}

impl Scenario {
    pub fn none() -> Self {
        Self::default()
    }

    pub fn with(rules: Vec<Rule>) -> Self {
        Self { rules }
    }
}

/// What the proxy saw since the scenario was set.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Stats {
    /// Requests per operation.
    pub requests: BTreeMap<String, u64>,
    /// Faults injected, per fault (`delay`, `reset_after`, `ThrottlingException`, ...).
    pub injected: BTreeMap<String, u64>,
    /// Requests that reached DynamoDB (picked `delay`/`*_after` ones included).
    pub forwarded: u64,
    /// Forwarded requests DynamoDB did not answer (it was down): the connection was dropped.
    pub upstream_failures: u64,
}

impl Stats {
    pub fn total_requests(&self) -> u64 {
        self.requests.values().sum()
    }

    pub fn total_injected(&self) -> u64 {
        self.injected.values().sum()
    }
}

#[derive(Debug, Default)]
struct State {
    scenario: Scenario,
    picked: Vec<u64>,
    stats: Stats,
}

/// A running proxy; clones share it.
#[derive(Debug, Clone)]
pub struct FaultProxy {
    url: String,
    state: Arc<Mutex<State>>,
}

impl FaultProxy {
    /// Listens on `listener` and forwards to `upstream` (`http://host:port`), until the runtime
    /// it was started on stops.
    pub fn start(listener: TcpListener, upstream: &str) -> std::io::Result<Self> {
        let url = format!("http://{}", listener.local_addr()?);
        let proxy = Self {
            url,
            state: Arc::default(),
        };
        let forward = Forward {
            upstream: upstream.trim_end_matches('/').to_owned(),
            client: reqwest::Client::builder()
                .no_proxy()
                .pool_idle_timeout(Duration::from_secs(5))
                .build()
                .map_err(std::io::Error::other)?,
        };
        let accepting = proxy.clone();
        tokio::spawn(async move { accepting.accept(listener, Arc::new(forward)).await });
        Ok(proxy)
    }

    /// Where clients send DynamoDB requests (and `/_faults`).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Puts `scenario` in force; the counts restart.
    pub fn set(&self, scenario: Scenario) {
        let mut state = self.state.lock().expect("fault state");
        state.picked = vec![0; scenario.rules.len()];
        state.scenario = scenario;
        state.stats = Stats::default();
    }

    pub fn scenario(&self) -> Scenario {
        self.state.lock().expect("fault state").scenario.clone()
    }

    pub fn stats(&self) -> Stats {
        self.state.lock().expect("fault state").stats.clone()
    }

    /// Counts the request and picks the fault for it, if any.
    fn decide(&self, operation: &str, body: &[u8]) -> Option<Fault> {
        let mut state = self.state.lock().expect("fault state");
        *state
            .stats
            .requests
            .entry(operation.to_owned())
            .or_default() += 1;
        let State {
            scenario,
            picked,
            stats,
        } = &mut *state;
        for (index, rule) in scenario.rules.iter().enumerate() {
            if !rule.matches(operation, body) {
                continue;
            }
            if rule.limit.is_some_and(|limit| picked[index] >= limit) {
                continue;
            }
            if rule.fraction < 1.0 && rand::random::<f64>() >= rule.fraction {
                continue;
            }
            picked[index] += 1;
            *stats.injected.entry(rule.fault.name()).or_default() += 1;
            return Some(rule.fault.clone());
        }
        None
    }

    fn count(&self, count: impl FnOnce(&mut Stats)) {
        count(&mut self.state.lock().expect("fault state").stats);
    }

    async fn accept(self, listener: TcpListener, forward: Arc<Forward>) {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            // A second descriptor of the socket, to reset it (SO_LINGER 0, then close) when a
            // rule says so.
            let Ok(socket) = stream
                .into_std()
                .and_then(|s| Ok((s.try_clone()?, s)))
                .and_then(|(side, s)| Ok((side, tokio::net::TcpStream::from_std(s)?)))
            else {
                continue;
            };
            let (side, stream) = socket;
            let side = Arc::new(side);
            let proxy = self.clone();
            let forward = forward.clone();
            tokio::spawn(async move {
                let service = service_fn(|request| {
                    let proxy = proxy.clone();
                    let forward = forward.clone();
                    let side = side.clone();
                    async move { proxy.handle(&forward, &side, request).await }
                });
                let _ = http1::Builder::new()
                    .keep_alive(true)
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    }

    async fn handle(
        &self,
        forward: &Forward,
        side: &std::net::TcpStream,
        request: Request<Incoming>,
    ) -> Result<Response<Full<Bytes>>, Abort> {
        if request.uri().path().starts_with(CONTROL_PATH) {
            return Ok(self.control(request).await);
        }
        let (parts, body) = request.into_parts();
        let body = body.collect().await.map_err(Abort::from)?.to_bytes();
        let operation = parts
            .headers
            .get("x-amz-target")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.rsplit('.').next())
            .unwrap_or("")
            .to_owned();
        let fault = self.decide(&operation, &body);
        match &fault {
            Some(Fault::Delay { ms }) => tokio::time::sleep(Duration::from_millis(*ms)).await,
            Some(Fault::Hang) => {
                tokio::time::sleep(HANG_FOR).await;
                return Err("hung request released".into());
            }
            Some(Fault::Drop) => return Err("dropped before forwarding".into()),
            Some(Fault::Reset) => return Err(reset(side)),
            Some(Fault::Error { error }) => {
                let (status, text) = error.response(&operation, &body);
                return Response::builder()
                    .status(status)
                    .header("content-type", "application/x-amz-json-1.0")
                    .header("x-amzn-requestid", uuid::Uuid::new_v4().to_string())
                    .body(Full::new(Bytes::from(text)))
                    .map_err(Abort::from);
            }
            _ => {}
        }
        let answer = match forward.send(parts, body).await {
            Ok(answer) => answer,
            Err(error) => {
                // DynamoDB is down: the client sees its connection closed, as it would.
                self.count(|s| s.upstream_failures += 1);
                return Err(error);
            }
        };
        self.count(|s| s.forwarded += 1);
        match fault {
            Some(Fault::DelayResponse { ms }) => {
                tokio::time::sleep(Duration::from_millis(ms)).await;
            }
            Some(Fault::DropAfter) => return Err("dropped after forwarding".into()),
            Some(Fault::ResetAfter) => return Err(reset(side)),
            _ => {}
        }
        Ok(answer)
    }

    async fn control(&self, request: Request<Incoming>) -> Response<Full<Bytes>> {
        let reply = |status: StatusCode, value: serde_json::Value| {
            Response::builder()
                .status(status)
                .header("content-type", "application/json")
                .body(Full::new(Bytes::from(value.to_string())))
                .expect("a valid response")
        };
        match *request.method() {
            hyper::Method::GET => {}
            hyper::Method::DELETE => self.set(Scenario::none()),
            hyper::Method::PUT | hyper::Method::POST => {
                let body = match request.into_body().collect().await {
                    Ok(body) => body.to_bytes(),
                    Err(error) => {
                        return reply(
                            StatusCode::BAD_REQUEST,
                            serde_json::json!({"error": error.to_string()}),
                        );
                    }
                };
                match serde_json::from_slice::<Scenario>(&body) {
                    Ok(scenario)
                        if scenario
                            .rules
                            .iter()
                            .all(|r| (0.0..=1.0).contains(&r.fraction)) =>
                    {
                        self.set(scenario)
                    }
                    Ok(_) => {
                        return reply(
                            StatusCode::BAD_REQUEST,
                            serde_json::json!({"error": "fraction must be between 0 and 1"}),
                        );
                    }
                    Err(error) => {
                        return reply(
                            StatusCode::BAD_REQUEST,
                            serde_json::json!({"error": error.to_string()}),
                        );
                    }
                }
            }
            _ => {
                return reply(
                    StatusCode::METHOD_NOT_ALLOWED,
                    serde_json::json!({"error": "GET, PUT or DELETE"}),
                );
            }
        }
        reply(
            StatusCode::OK,
            serde_json::json!({"scenario": self.scenario(), "stats": self.stats()}),
        )
    }
}

/// Makes the connection's close a reset, and ends the exchange without an answer.
fn reset(side: &std::net::TcpStream) -> Abort {
    let _ = socket2::SockRef::from(side).set_linger(Some(Duration::ZERO));
    "reset".into()
}

/// Why an exchange ended without an answer (hyper then closes the connection).
#[derive(Debug)]
struct Abort(String);

impl std::fmt::Display for Abort {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Abort {}

impl From<&str> for Abort {
    fn from(reason: &str) -> Self {
        Self(reason.to_owned())
    }
}

impl From<hyper::Error> for Abort {
    fn from(error: hyper::Error) -> Self {
        Self(error.to_string())
    }
}

impl From<hyper::http::Error> for Abort {
    fn from(error: hyper::http::Error) -> Self {
        Self(error.to_string())
    }
}

impl From<reqwest::Error> for Abort {
    fn from(error: reqwest::Error) -> Self {
        Self(error.to_string())
    }
}

struct Forward {
    upstream: String,
    client: reqwest::Client,
}

impl Forward {
    async fn send(
        &self,
        parts: hyper::http::request::Parts,
        body: Bytes,
    ) -> Result<Response<Full<Bytes>>, Abort> {
        let path = parts
            .uri
            .path_and_query()
            .map_or("/", hyper::http::uri::PathAndQuery::as_str);
        let mut request = self
            .client
            .request(parts.method.clone(), format!("{}{path}", self.upstream))
            .body(body);
        for (name, value) in &parts.headers {
            if !matches!(
                name.as_str(),
                "host" | "content-length" | "connection" | "transfer-encoding"
            ) {
                request = request.header(name, value);
            }
        }
        let answer = request.send().await?;
        let mut response = Response::builder().status(answer.status());
        for (name, value) in answer.headers() {
            if !matches!(
                name.as_str(),
                "content-length" | "connection" | "transfer-encoding"
            ) {
                response = response.header(name, value);
            }
        }
        let bytes = answer.bytes().await?;
        Ok(response.body(Full::new(bytes))?)
    }
}

/// The body of `PUT /_faults` for `scenario`.
pub fn scenario_json(scenario: &Scenario) -> String {
    serde_json::to_string(scenario).expect("a scenario serialises")
}

#[cfg(test)]
mod tests {
    use super::*;

    use std::sync::atomic::{AtomicUsize, Ordering};

    /// An upstream that counts the requests it got and answers `{}`; and a proxy before it.
    async fn proxy_before_counter() -> (FaultProxy, Arc<AtomicUsize>) {
        let hits = Arc::new(AtomicUsize::new(0));
        let upstream = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let upstream_url = format!("http://{}", upstream.local_addr().unwrap());
        let counter = hits.clone();
        let app = axum::Router::new().route(
            "/",
            axum::routing::post(move || {
                let counter = counter.clone();
                async move {
                    counter.fetch_add(1, Ordering::SeqCst);
                    "{}"
                }
            }),
        );
        tokio::spawn(async move { axum::serve(upstream, app).await });
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        (FaultProxy::start(listener, &upstream_url).unwrap(), hits)
    }

    async fn call(proxy: &FaultProxy, operation: &str) -> Result<(u16, String), reqwest::Error> {
        // A new connection per call, as a reset connection cannot be reused.
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(0)
            .build()
            .unwrap();
        let response = client
            .post(proxy.url())
            .header("x-amz-target", format!("DynamoDB_20120810.{operation}"))
            .body(r#"{"TableName":"t"}"#)
            .send()
            .await?;
        let status = response.status().as_u16();
        Ok((status, response.text().await?))
    }

    #[tokio::test]
    async fn faults_happen_before_or_after_the_upstream_as_named() {
        let (proxy, hits) = proxy_before_counter().await;
        assert_eq!(call(&proxy, "GetItem").await.unwrap(), (200, "{}".into()));
        assert_eq!(hits.load(Ordering::SeqCst), 1);

        for (fault, forwarded) in [
            (Fault::Drop, false),
            (Fault::Reset, false),
            (Fault::DropAfter, true),
            (Fault::ResetAfter, true),
        ] {
            proxy.set(Scenario::with(vec![Rule::every(
                Some("PutItem"),
                fault.clone(),
            )]));
            let before = hits.load(Ordering::SeqCst);
            let error = call(&proxy, "PutItem").await.expect_err("no answer");
            let reset = matches!(fault, Fault::Reset | Fault::ResetAfter);
            assert_eq!(
                format!("{error:?}").contains("ConnectionReset"),
                reset,
                "{fault:?}: {error:?}"
            );
            assert_eq!(
                hits.load(Ordering::SeqCst) - before,
                usize::from(forwarded),
                "{fault:?}"
            );
            // Other operations pass.
            assert_eq!(call(&proxy, "GetItem").await.unwrap().0, 200);
            assert_eq!(proxy.stats().injected.get(&fault.name()), Some(&1));
        }

        proxy.set(Scenario::with(vec![Rule {
            limit: Some(1),
            ..Rule::every(
                None,
                Fault::Error {
                    error: DynamoError::ThrottlingException,
                },
            )
        }]));
        let (status, body) = call(&proxy, "Query").await.unwrap();
        assert_eq!(status, 400);
        assert!(body.contains("ThrottlingException"), "{body}");
        assert_eq!(
            call(&proxy, "Query").await.unwrap().0,
            200,
            "the limit is spent"
        );
        assert_eq!(proxy.stats().requests.get("Query"), Some(&2));
    }

    #[tokio::test]
    async fn the_control_endpoint_sets_reads_and_clears_the_scenario() {
        let (proxy, _) = proxy_before_counter().await;
        let client = reqwest::Client::new();
        let control = format!("{}{CONTROL_PATH}", proxy.url());
        let scenario = Scenario::with(vec![Rule::every(Some("GetItem"), Fault::Hang)]);
        let set = client
            .put(&control)
            .body(scenario_json(&scenario))
            .send()
            .await
            .unwrap();
        assert_eq!(set.status(), 200);
        assert_eq!(proxy.scenario(), scenario);
        let refused = client
            .put(&control)
            .body(r#"{"rules":[{"fraction":2,"fault":{"kind":"drop"}}]}"#)
            .send()
            .await
            .unwrap();
        assert_eq!(refused.status(), 400);
        assert_eq!(
            proxy.scenario(),
            scenario,
            "a refused scenario changes nothing"
        );
        let read: serde_json::Value = client
            .get(&control)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(read["scenario"]["rules"][0]["fault"]["kind"], "hang");
        let cleared = client.delete(&control).send().await.unwrap();
        assert_eq!(cleared.status(), 200);
        assert_eq!(proxy.scenario(), Scenario::none());
    }

    #[test]
    fn scenarios_read_as_documented() {
        let scenario: Scenario = serde_json::from_str(
            r#"{"rules":[{"operation":"GetItem","fraction":0.5,"fault":{"kind":"error","error":"ThrottlingException"}},
                         {"body_contains":"rate#","limit":1,"fault":{"kind":"reset_after"}}]}"#,
        )
        .unwrap();
        assert_eq!(scenario.rules[0].operation.as_deref(), Some("GetItem"));
        assert_eq!(
            scenario.rules[0].fault,
            Fault::Error {
                error: DynamoError::ThrottlingException
            }
        );
        assert_eq!(scenario.rules[1].fraction, 1.0);
        assert_eq!(scenario.rules[1].fault, Fault::ResetAfter);
        assert!(
            serde_json::from_str::<Scenario>(r#"{"rules":[{"fault":{"kind":"melt"}}]}"#).is_err()
        );
    }

    #[test]
    fn rules_match_operation_and_body_text() {
        let rule = Rule {
            operation: Some("UpdateItem".into()),
            body_contains: Some("rate#".into()),
            fraction: 1.0,
            limit: None,
            fault: Fault::Drop,
        };
        assert!(rule.matches("UpdateItem", br#"{"Key":{"pk":{"S":"rate#login#1"}}}"#));
        assert!(!rule.matches("UpdateItem", br#"{"Key":{"pk":{"S":"throttle#a"}}}"#));
        assert!(!rule.matches("GetItem", br#"{"Key":{"pk":{"S":"rate#login#1"}}}"#));
    }

    #[test]
    fn transaction_conflicts_name_every_member() {
        let body = br#"{"TransactItems":[{"Put":{}},{"Put":{}},{"Update":{}}]}"#;
        let (status, text) = DynamoError::TransactionConflict.response("TransactWriteItems", body);
        assert_eq!(status, StatusCode::BAD_REQUEST);
        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert!(
            value["__type"]
                .as_str()
                .unwrap()
                .ends_with("#TransactionCanceledException")
        );
        let codes: Vec<&str> = value["CancellationReasons"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["Code"].as_str().unwrap())
            .collect();
        assert_eq!(codes, ["TransactionConflict", "None", "None"]);
        let (_, single) = DynamoError::TransactionConflict.response("UpdateItem", b"{}");
        assert!(single.contains("TransactionConflictException"));
    }
}
