//! The local stack's stand-in for API Gateway (HTTP API, payload format 2.0), in front of
//! `cargo lambda watch`, so that clients see locally what the deployed API (template.yaml) does:
//!
//! - **Routes**: method and path are matched against the local router of the workspace
//!   Cargo.toml (`[workspace.metadata.lambda.watch.router]`, which `infra/check_template.py`
//!   keeps equal to the template's routes); `{name}` segments are path parameters, and the
//!   catch-all `/{*path}` is `$default`: it takes every method and path no other route takes, a
//!   known path with another method included.
//! - **CORS** as the HttpApi's `CorsConfiguration`: preflights are answered here; other
//!   responses carry `access-control-allow-origin` and `-allow-credentials` for an allowed
//!   origin only, and whatever CORS headers a function set are dropped.
//! - **The event**: an `ApiGatewayV2httpRequest` (the type `lambda_http` reads), with the TCP
//!   peer as `sourceIp`, sent to the function through cargo lambda's Lambda invoke endpoint;
//!   the function's v2 response becomes the HTTP response.
//! - **Limits**: payloads over 10 MB are `413`, an integration that takes more than 30 s is
//!   `503`, and a function error is `500`, each with API Gateway's own `{"message": …}` body.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, State};
use axum::http::request::Parts;
use axum::http::{
    HeaderMap, HeaderName, HeaderValue, Method, Request, Response, StatusCode, header,
};
use base64::Engine as _;
use http_body_util::BodyExt as _;
use lambda_http::aws_lambda_events::apigw::{
    ApiGatewayV2httpRequest, ApiGatewayV2httpRequestContext,
    ApiGatewayV2httpRequestContextHttpDescription, ApiGatewayV2httpResponse,
};
use lambda_http::aws_lambda_events::query_map::QueryMap;
use serde::Deserialize;

/// API Gateway's integration timeout for HTTP APIs.
pub const INTEGRATION_TIMEOUT: Duration = Duration::from_secs(30);
/// API Gateway's payload limit for HTTP APIs (10 MB).
pub const PAYLOAD_LIMIT: usize = 10 * 1024 * 1024;
/// The template's `CorsAllowOrigins` default.
pub const DEFAULT_CORS_ORIGINS: &str = "http://localhost:3000";
/// The template's `CorsConfiguration` (`AllowHeaders`, `AllowMethods`, `MaxAge`); checked
/// against template.yaml by infra/check_template.py.
pub const CORS_ALLOW_HEADERS: &str = "authorization,content-type";
pub const CORS_ALLOW_METHODS: &str = "GET,POST,PATCH,DELETE,OPTIONS";
pub const CORS_MAX_AGE: &str = "600";

/// The local router's spelling of API Gateway's `$default` route.
const DEFAULT_ROUTE: &str = "/{*path}";
const INVOKE_PATH: &str = "/2015-03-31/functions";

// ----------------------------------------------------------------------------------------------
// Routes

#[derive(Deserialize)]
struct Manifest {
    workspace: ManifestWorkspace,
}

#[derive(Deserialize)]
struct ManifestWorkspace {
    metadata: ManifestMetadata,
}

#[derive(Deserialize)]
struct ManifestMetadata {
    lambda: ManifestLambda,
}

#[derive(Deserialize)]
struct ManifestLambda {
    watch: ManifestWatch,
}

#[derive(Deserialize)]
struct ManifestWatch {
    router: BTreeMap<String, RouteSpec>,
}

/// A path's routes: one function for every method, or a function per method.
#[derive(Deserialize)]
#[serde(untagged)]
enum RouteSpec {
    Any(String),
    Methods(Vec<MethodRoute>),
}

#[derive(Deserialize)]
struct MethodRoute {
    method: String,
    function: String,
}

#[derive(Debug, Clone)]
struct Target {
    function: String,
    route_key: String,
}

/// Where a request goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Matched {
    pub function: String,
    /// `POST /auth/login`, `GET /items/{collection}`, or `$default`.
    pub route_key: String,
    pub path_parameters: HashMap<String, String>,
}

/// The routes of the local router, matched as API Gateway matches an HTTP API's routes: a route
/// for the request's method first, then an `ANY` route, then `$default`.
pub struct Routes {
    by_method: HashMap<Method, matchit::Router<Target>>,
    any: matchit::Router<Target>,
    default: Option<String>,
    /// One request per function that reaches it: (method, path), for the warm-up.
    samples: BTreeMap<String, (Method, String)>,
}

impl Routes {
    /// The routes of `[workspace.metadata.lambda.watch.router]` in a workspace Cargo.toml.
    pub fn from_manifest(text: &str) -> Result<Self, String> {
        let manifest: Manifest = toml::from_str(text)
            .map_err(|e| format!("[workspace.metadata.lambda.watch.router]: {e}"))?;
        let mut routes = Self {
            by_method: HashMap::new(),
            any: matchit::Router::new(),
            default: None,
            samples: BTreeMap::new(),
        };
        for (path, spec) in manifest.workspace.metadata.lambda.watch.router {
            match spec {
                RouteSpec::Any(function) if path == DEFAULT_ROUTE => {
                    routes.sample(&function, Method::GET, &path);
                    routes.default = Some(function);
                }
                RouteSpec::Any(function) => routes.insert(None, &path, function)?,
                RouteSpec::Methods(list) => {
                    for route in list {
                        let method = match route.method.to_ascii_uppercase().as_str() {
                            "ANY" => None,
                            name => Some(Method::from_bytes(name.as_bytes()).map_err(|_| {
                                format!("route {path}: {:?} is not a method", route.method)
                            })?),
                        };
                        routes.insert(method, &path, route.function)?;
                    }
                }
            }
        }
        Ok(routes)
    }

    fn insert(
        &mut self,
        method: Option<Method>,
        path: &str,
        function: String,
    ) -> Result<(), String> {
        let label = method.as_ref().map_or("ANY", Method::as_str).to_owned();
        let route_key = format!("{label} {}", gateway_path(path));
        self.sample(&function, method.clone().unwrap_or(Method::GET), path);
        let router = match method {
            Some(method) => self.by_method.entry(method).or_default(),
            None => &mut self.any,
        };
        router
            .insert(
                path,
                Target {
                    function,
                    route_key,
                },
            )
            .map_err(|e| format!("route {label} {path}: {e}"))
    }

    fn sample(&mut self, function: &str, method: Method, path: &str) {
        let concrete: Vec<&str> = path
            .split('/')
            .map(|segment| {
                if segment.starts_with('{') {
                    "warm-up"
                } else {
                    segment
                }
            })
            .collect();
        self.samples
            .entry(function.to_owned())
            .or_insert((method, concrete.join("/")));
    }

    /// The route of a request, or `None` when nothing takes it (there is no `$default`).
    pub fn route(&self, method: &Method, path: &str) -> Option<Matched> {
        let found = self
            .by_method
            .get(method)
            .and_then(|router| router.at(path).ok())
            .or_else(|| self.any.at(path).ok());
        if let Some(found) = found {
            return Some(Matched {
                function: found.value.function.clone(),
                route_key: found.value.route_key.clone(),
                path_parameters: found
                    .params
                    .iter()
                    .map(|(name, value)| (name.to_owned(), value.to_owned()))
                    .collect(),
            });
        }
        self.default.as_ref().map(|function| Matched {
            function: function.clone(),
            route_key: "$default".into(),
            path_parameters: HashMap::new(),
        })
    }

    /// Every function the routes name, each with a request that reaches it.
    pub fn samples(&self) -> impl Iterator<Item = (&str, &Method, &str)> {
        self.samples
            .iter()
            .map(|(function, (method, path))| (function.as_str(), method, path.as_str()))
    }
}

/// A route path as API Gateway writes it: a greedy `{*name}` is `{name+}`.
fn gateway_path(path: &str) -> String {
    path.split('/')
        .map(|segment| match segment.strip_prefix("{*") {
            Some(rest) => format!("{{{}+}}", rest.trim_end_matches('}')),
            None => segment.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("/")
}

// ----------------------------------------------------------------------------------------------
// CORS

/// The HttpApi's `CorsConfiguration`: these origins, credentials allowed, and the template's
/// headers, methods and max age.
#[derive(Debug, Clone)]
pub struct Cors {
    origins: Vec<String>,
}

impl Cors {
    /// Comma-separated origins, as the template's `CorsAllowOrigins` parameter.
    pub fn new(list: &str) -> Result<Self, String> {
        let origins: Vec<String> = list
            .split(',')
            .map(str::trim)
            .filter(|origin| !origin.is_empty())
            .map(str::to_owned)
            .collect();
        if origins.iter().any(|origin| origin == "*") {
            // API Gateway refuses `*` with AllowCredentials too.
            return Err("CORS origins: `*` cannot be allowed when credentials are".into());
        }
        Ok(Self { origins })
    }

    /// The request's `Origin`, if it is an allowed one.
    fn allowed<'a>(&self, request: &'a HeaderMap) -> Option<&'a HeaderValue> {
        let origin = request.get(header::ORIGIN)?;
        let text = origin.to_str().ok()?;
        self.origins.iter().any(|o| o == text).then_some(origin)
    }

    pub fn is_preflight(request: &Parts) -> bool {
        request.method == Method::OPTIONS
            && request.headers.contains_key(header::ORIGIN)
            && request
                .headers
                .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD)
    }

    /// API Gateway's own answer to a preflight: 204, with the CORS headers only for an allowed
    /// origin.
    pub fn preflight(&self, request: &HeaderMap) -> Response<Body> {
        let mut response = Response::new(Body::empty());
        *response.status_mut() = StatusCode::NO_CONTENT;
        if let Some(origin) = self.allowed(request) {
            let headers = response.headers_mut();
            headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
            headers.insert(
                header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
                HeaderValue::from_static("true"),
            );
            headers.insert(
                header::ACCESS_CONTROL_ALLOW_METHODS,
                HeaderValue::from_static(CORS_ALLOW_METHODS),
            );
            headers.insert(
                header::ACCESS_CONTROL_ALLOW_HEADERS,
                HeaderValue::from_static(CORS_ALLOW_HEADERS),
            );
            headers.insert(
                header::ACCESS_CONTROL_MAX_AGE,
                HeaderValue::from_static(CORS_MAX_AGE),
            );
            headers.append(header::VARY, HeaderValue::from_static("origin"));
        }
        response
    }

    /// A response's CORS headers are the API's, never a function's.
    pub fn apply(&self, request: &HeaderMap, response: &mut HeaderMap) {
        let theirs: Vec<HeaderName> = response
            .keys()
            .filter(|name| name.as_str().starts_with("access-control-"))
            .cloned()
            .collect();
        for name in theirs {
            response.remove(name);
        }
        // Every answer varies by Origin, allowed or not, so a shared cache never hands one
        // origin's CORS answer to another (jwks is cacheable).
        response.append(header::VARY, HeaderValue::from_static("origin"));
        if let Some(origin) = self.allowed(request) {
            response.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
            response.insert(
                header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
                HeaderValue::from_static("true"),
            );
        }
    }
}

// ----------------------------------------------------------------------------------------------
// The event

/// The payload format 2.0 event of a request, as API Gateway builds it.
pub fn event(
    matched: &Matched,
    request: &Parts,
    body: &[u8],
    source_ip: Option<String>,
    request_id: &str,
    now: SystemTime,
) -> ApiGatewayV2httpRequest {
    let lossy = |value: &HeaderValue| String::from_utf8_lossy(value.as_bytes()).into_owned();
    let headers = &request.headers;

    // Lowercase names (`http` keeps them so), duplicates joined with commas, cookies apart.
    let mut joined = HeaderMap::new();
    for name in headers.keys() {
        if name == header::COOKIE {
            continue;
        }
        let value = headers
            .get_all(name)
            .iter()
            .map(lossy)
            .collect::<Vec<_>>()
            .join(",");
        if let Ok(value) = HeaderValue::from_str(&value) {
            joined.insert(name.clone(), value);
        }
    }
    if let Some(ip) = &source_ip {
        let forwarded = match joined.get("x-forwarded-for") {
            Some(previous) => format!("{}, {ip}", lossy(previous)),
            None => ip.clone(),
        };
        if let Ok(value) = HeaderValue::from_str(&forwarded) {
            joined.insert("x-forwarded-for", value);
        }
    }
    joined.insert("x-forwarded-proto", HeaderValue::from_static("http"));

    let cookies: Vec<String> = headers
        .get_all(header::COOKIE)
        .iter()
        .flat_map(|value| {
            lossy(value)
                .split(';')
                .map(str::trim)
                .filter(|cookie| !cookie.is_empty())
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .collect();

    let path = request.uri.path().to_owned();
    let query = request.uri.query().unwrap_or("").to_owned();
    let domain = headers
        .get(header::HOST)
        .and_then(|host| host.to_str().ok())
        .map(|host| {
            host.rsplit_once(':')
                .map_or(host, |(name, _)| name)
                .to_owned()
        })
        .unwrap_or_else(|| "localhost".into());
    let since_epoch = now.duration_since(UNIX_EPOCH).unwrap_or_default();

    let mut http = ApiGatewayV2httpRequestContextHttpDescription::default();
    http.method = request.method.clone();
    http.path = Some(path.clone());
    http.protocol = Some(format!("{:?}", request.version));
    http.source_ip = source_ip;
    http.user_agent = headers.get(header::USER_AGENT).map(lossy);

    let mut context = ApiGatewayV2httpRequestContext::default();
    context.route_key = Some(matched.route_key.clone());
    context.account_id = Some("000000000000".into());
    context.apiid = Some("local".into());
    context.stage = Some("$default".into());
    context.request_id = Some(request_id.to_owned());
    context.domain_prefix = domain.split('.').next().map(str::to_owned);
    context.domain_name = Some(domain);
    context.time = Some(clf_time(since_epoch.as_secs()));
    context.time_epoch = i64::try_from(since_epoch.as_millis()).unwrap_or(i64::MAX);
    context.http = http;

    let mut event = ApiGatewayV2httpRequest::default();
    event.version = Some("2.0".into());
    event.route_key = Some(matched.route_key.clone());
    event.raw_path = Some(path);
    event.query_string_parameters = query.parse::<QueryMap>().unwrap_or_default();
    event.raw_query_string = Some(query);
    event.cookies = (!cookies.is_empty()).then_some(cookies);
    event.headers = joined;
    event.path_parameters = matched.path_parameters.clone();
    event.request_context = context;
    if !body.is_empty() {
        match std::str::from_utf8(body) {
            Ok(text) => event.body = Some(text.to_owned()),
            Err(_) => {
                event.body = Some(base64::engine::general_purpose::STANDARD.encode(body));
                event.is_base64_encoded = true;
            }
        }
    }
    event
}

/// The event as JSON, without the members `aws_lambda_events` keeps for other payloads (custom
/// authorizers, REST APIs) that an HTTP API's event does not have.
pub fn event_json(event: &ApiGatewayV2httpRequest) -> Result<serde_json::Value, String> {
    let mut json = serde_json::to_value(event).map_err(|e| format!("event: {e}"))?;
    if let Some(object) = json.as_object_mut() {
        for key in [
            "type",
            "methodArn",
            "httpMethod",
            "identitySource",
            "authorizationToken",
            "resource",
        ] {
            object.remove(key);
        }
        if object
            .get("stageVariables")
            .and_then(serde_json::Value::as_object)
            .is_some_and(serde_json::Map::is_empty)
        {
            object.remove("stageVariables");
        }
    }
    Ok(json)
}

/// `04/Mar/2020:19:03:58 +0000`, the format of `requestContext.time`.
fn clf_time(epoch_secs: u64) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let secs = epoch_secs % 86_400;
    // Days to a civil date (H. Hinnant's algorithm), for days since 1970-01-01.
    let z = i64::try_from(epoch_secs / 86_400).unwrap_or(0) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{day:02}/{}/{year}:{:02}:{:02}:{:02} +0000",
        MONTHS[usize::try_from(month - 1).unwrap_or(0)],
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

/// An id in the style of API Gateway's (`apigw-requestid`, `requestContext.requestId`).
fn request_id() -> String {
    let mut bytes = [0u8; 10];
    rand::fill(&mut bytes);
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

// ----------------------------------------------------------------------------------------------
// The response

/// The HTTP response of a function's payload format 2.0 response.
pub fn http_response(answer: ApiGatewayV2httpResponse) -> Result<Response<Body>, String> {
    let status = u16::try_from(answer.status_code)
        .ok()
        .and_then(|code| StatusCode::from_u16(code).ok())
        .ok_or_else(|| format!("statusCode {} is not an HTTP status", answer.status_code))?;
    let mut headers = answer.headers;
    for name in answer.multi_value_headers.keys() {
        headers.remove(name);
        for value in answer.multi_value_headers.get_all(name) {
            headers.append(name.clone(), value.clone());
        }
    }
    // Framing is the front's business.
    for name in [
        header::CONTENT_LENGTH,
        header::TRANSFER_ENCODING,
        header::CONNECTION,
    ] {
        headers.remove(name);
    }
    for cookie in &answer.cookies {
        let value = HeaderValue::from_str(cookie)
            .map_err(|_| format!("cookie {cookie:?} is not a header value"))?;
        headers.append(header::SET_COOKIE, value);
    }
    let body = match &answer.body {
        None => Vec::new(),
        Some(body) if answer.is_base64_encoded => base64::engine::general_purpose::STANDARD
            .decode(body.as_ref() as &[u8])
            .map_err(|e| format!("body is not base64: {e}"))?,
        Some(body) => body.as_ref().to_vec(),
    };
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    *response.headers_mut() = headers;
    Ok(response)
}

/// One of API Gateway's own answers, `{"message": …}`.
fn message(status: StatusCode, text: &str) -> Response<Body> {
    let mut response = Response::new(Body::from(
        serde_json::json!({ "message": text }).to_string(),
    ));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

// ----------------------------------------------------------------------------------------------
// The gateway

/// Why an invocation gave no response.
#[derive(Debug)]
pub enum Failure {
    /// cargo lambda did not take the request (not listening yet, or the connection broke).
    Unreachable(String),
    /// No answer within the integration timeout.
    Timeout,
    /// The function failed (the Lambda invoke API's error).
    Function(String),
    /// The function answered something that is not a payload format 2.0 response.
    Malformed(String),
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Unreachable(detail) => write!(f, "cargo lambda unreachable: {detail}"),
            Self::Timeout => write!(f, "no response in time"),
            Self::Function(detail) => write!(f, "function error: {detail}"),
            Self::Malformed(detail) => write!(f, "not a payload format 2.0 response: {detail}"),
        }
    }
}

pub struct Gateway {
    routes: Routes,
    cors: Cors,
    client: reqwest::Client,
    /// `http://127.0.0.1:<port>` of `cargo lambda watch`.
    lambda: String,
    timeout: Duration,
    /// Requests in flight at once; more wait their turn (within the request's `timeout`, which
    /// the wait, the body and the invocation share), then get API Gateway's throttling answer
    /// (429).
    in_flight: Arc<tokio::sync::Semaphore>,
}

/// Requests the front serves at once: above what the functions behind it can take, a bound on
/// the memory a flood of large bodies can hold (a waiting request has not been read yet).
/// Requests beyond it queue rather than fail at once: API Gateway's own throttle (10,000
/// requests per second) is far above what a burst of 50 concurrent logins on loopback reaches,
/// so refusing them would answer 429 where the deployed API answers.
const MAX_IN_FLIGHT: usize = 64;

/// True for a `Host` that names this machine's loopback: a page whose domain a DNS-rebinding
/// attack points at 127.0.0.1 sends its own name, and is refused, so CORS cannot be bypassed
/// by making the request same-origin.
fn loopback_host(headers: &HeaderMap) -> bool {
    let Some(host) = headers.get(header::HOST).and_then(|h| h.to_str().ok()) else {
        return false;
    };
    let name = match host.rsplit_once(':') {
        Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
        _ => host,
    };
    let name = name.trim_start_matches('[').trim_end_matches(']');
    name.eq_ignore_ascii_case("localhost")
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

impl Gateway {
    pub fn new(routes: Routes, cors: Cors, lambda: String, timeout: Duration) -> Self {
        Self {
            routes,
            cors,
            client: reqwest::Client::new(),
            lambda,
            timeout,
            in_flight: Arc::new(tokio::sync::Semaphore::new(MAX_IN_FLIGHT)),
        }
    }

    /// Answers one request as API Gateway would.
    pub async fn respond(&self, request: Request<Body>, peer: SocketAddr) -> Response<Body> {
        let request_id = request_id();
        let (parts, body) = request.into_parts();
        // One deadline for the whole request: waiting for a permit, the body, the invocation.
        let deadline = tokio::time::Instant::now() + self.timeout;
        let permit = tokio::time::timeout_at(deadline, self.in_flight.clone().acquire_owned());
        let Ok(Ok(_permit)) = permit.await else {
            return message(StatusCode::TOO_MANY_REQUESTS, "Too Many Requests");
        };
        let mut response = if !loopback_host(&parts.headers) {
            message(StatusCode::FORBIDDEN, "Forbidden")
        } else if Cors::is_preflight(&parts) {
            self.cors.preflight(&parts.headers)
        } else {
            let mut response = self
                .forward(&parts, body, peer, &request_id, deadline)
                .await;
            self.cors.apply(&parts.headers, response.headers_mut());
            response
        };
        if let Ok(value) = HeaderValue::from_str(&request_id) {
            response.headers_mut().insert("apigw-requestid", value);
        }
        response
    }

    async fn forward(
        &self,
        parts: &Parts,
        body: Body,
        peer: SocketAddr,
        request_id: &str,
        deadline: tokio::time::Instant,
    ) -> Response<Body> {
        // The body's arrival is bounded like the invocation: a client trickling bytes cannot
        // hold a request open forever.
        let body = match tokio::time::timeout_at(deadline, read_body(&parts.headers, body)).await {
            Ok(Ok(body)) => body,
            Ok(Err(response)) => return response,
            Err(_) => return message(StatusCode::REQUEST_TIMEOUT, "Request Timeout"),
        };
        let Some(matched) = self.routes.route(&parts.method, parts.uri.path()) else {
            return message(StatusCode::NOT_FOUND, "Not Found");
        };
        let event = event(
            &matched,
            parts,
            &body,
            Some(peer.ip().to_string()),
            request_id,
            SystemTime::now(),
        );
        let outcome = self
            .invoke(
                &matched.function,
                &event,
                deadline.saturating_duration_since(tokio::time::Instant::now()),
            )
            .await
            .and_then(|answer| http_response(answer).map_err(Failure::Malformed));
        match outcome {
            Ok(response) => response,
            Err(Failure::Timeout) => {
                eprintln!(
                    "devstack: {} {} ({}): no response in {} s: 503",
                    parts.method,
                    parts.uri.path(),
                    matched.function,
                    self.timeout.as_secs_f64()
                );
                message(StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable")
            }
            Err(failure) => {
                eprintln!(
                    "devstack: {} {} ({}): {failure}: 500",
                    parts.method,
                    parts.uri.path(),
                    matched.function
                );
                message(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error")
            }
        }
    }

    /// Invokes `function` with `event` through cargo lambda's Lambda invoke API.
    pub async fn invoke(
        &self,
        function: &str,
        event: &ApiGatewayV2httpRequest,
        timeout: Duration,
    ) -> Result<ApiGatewayV2httpResponse, Failure> {
        let payload = event_json(event).map_err(Failure::Malformed)?;
        let url = format!("{}{INVOKE_PATH}/{function}/invocations", self.lambda);
        let call = async {
            let response = self
                .client
                .post(&url)
                .json(&payload)
                .send()
                .await
                .map_err(|e| Failure::Unreachable(e.to_string()))?;
            let status = response.status();
            let bytes = response
                .bytes()
                .await
                .map_err(|e| Failure::Unreachable(e.to_string()))?;
            Ok::<_, Failure>((status, bytes))
        };
        let (status, bytes) = tokio::time::timeout(timeout, call)
            .await
            .map_err(|_| Failure::Timeout)??;
        if status != reqwest::StatusCode::OK {
            return Err(Failure::Function(format!(
                "{status} {}",
                String::from_utf8_lossy(&bytes)
            )));
        }
        serde_json::from_slice(&bytes)
            .map_err(|e| Failure::Malformed(format!("{e}: {}", String::from_utf8_lossy(&bytes))))
    }

    /// Sends every function one request, so that each is compiled and running before the stack
    /// says it is ready. All at once: `cargo lambda watch` starts each through its own
    /// `cargo run`, ~1.5 s apiece, which one after another made most of a second `make dev`'s
    /// wait. The first call compiles (a minute or more), so each may take up to `per_call`;
    /// until cargo lambda listens, calls are retried until `deadline`. The first failure ends
    /// the warm-up.
    pub async fn warm_up(&self, per_call: Duration, deadline: Instant) -> Result<(), String> {
        let calls = self.routes.samples().map(|(function, method, path)| {
            self.warm_one(function, method, path, per_call, deadline)
        });
        futures_util::future::try_join_all(calls).await.map(drop)
    }

    async fn warm_one(
        &self,
        function: &str,
        method: &Method,
        path: &str,
        per_call: Duration,
        deadline: Instant,
    ) -> Result<(), String> {
        let started = Instant::now();
        let mut request = Request::builder()
            .method(method.clone())
            .uri(path)
            .header(header::HOST, "localhost")
            .header(header::USER_AGENT, "devstack warm-up");
        let body: &[u8] = if method == Method::GET {
            b""
        } else {
            request = request.header(header::CONTENT_TYPE, "application/json");
            b"{}"
        };
        let (parts, ()) = request
            .body(())
            .map_err(|e| format!("warm-up request {method} {path}: {e}"))?
            .into_parts();
        let matched = self
            .routes
            .route(method, path)
            .ok_or_else(|| format!("{method} {path} reaches no function"))?;
        // No source address: the warm-up does not spend the per-address rate limits.
        let event = event(
            &matched,
            &parts,
            body,
            None,
            &request_id(),
            SystemTime::now(),
        );
        loop {
            match self.invoke(function, &event, per_call).await {
                Ok(_) => break,
                Err(Failure::Unreachable(_)) if Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(250)).await;
                }
                Err(failure) => return Err(format!("{function} ({method} {path}): {failure}")),
            }
        }
        eprintln!(
            "devstack: {function} ready ({:.1} s)",
            started.elapsed().as_secs_f64()
        );
        Ok(())
    }
}

/// The request body, at most `PAYLOAD_LIMIT` bytes; beyond that API Gateway's 413. A larger
/// body is still read to its end (up to `DRAIN_LIMIT`) before the answer, so that a client
/// still sending it gets the 413 rather than a broken connection.
async fn read_body(headers: &HeaderMap, mut body: Body) -> Result<Bytes, Response<Body>> {
    const DRAIN_LIMIT: usize = 8 * PAYLOAD_LIMIT;
    let too_large = || message(StatusCode::PAYLOAD_TOO_LARGE, "Request Entity Too Large");
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    if declared.is_some_and(|length| length > DRAIN_LIMIT as u64) {
        return Err(too_large());
    }
    let mut received = Vec::new();
    let mut total = 0usize;
    while let Some(frame) = body.frame().await {
        let Ok(frame) = frame else {
            return Err(message(StatusCode::BAD_REQUEST, "Bad Request"));
        };
        if let Ok(data) = frame.into_data() {
            total = total.saturating_add(data.len());
            if total <= PAYLOAD_LIMIT {
                received.extend_from_slice(&data);
            } else if total > DRAIN_LIMIT {
                break;
            }
        }
    }
    if total > PAYLOAD_LIMIT {
        return Err(too_large());
    }
    Ok(Bytes::from(received))
}

/// Serves the gateway on `listener` until `shutdown` completes.
pub async fn serve(
    listener: tokio::net::TcpListener,
    gateway: Arc<Gateway>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = axum::Router::new().fallback(front).with_state(gateway);
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}

async fn front(
    State(gateway): State<Arc<Gateway>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request<Body>,
) -> Response<Body> {
    gateway.respond(request, peer).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use lambda_http::RequestExt as _;
    use lambda_http::request::RequestContext;
    use serde_json::{Value, json};

    const WORKSPACE_MANIFEST: &str = include_str!("../../../Cargo.toml");

    #[test]
    fn only_loopback_hosts_are_served() {
        let with = |host: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(header::HOST, HeaderValue::from_str(host).unwrap());
            loopback_host(&headers)
        };
        for good in [
            "127.0.0.1:9000",
            "localhost:9000",
            "LOCALHOST",
            "[::1]:9000",
            "127.3.4.5:1",
        ] {
            assert!(with(good), "{good}");
        }
        for bad in [
            "evil.example:9000",
            "rebind.attacker.test",
            "10.0.0.1:9000",
            "localhost.evil.example",
        ] {
            assert!(!with(bad), "{bad}");
        }
        assert!(!loopback_host(&HeaderMap::new()));
    }

    fn workspace_routes() -> Routes {
        Routes::from_manifest(WORKSPACE_MANIFEST).expect("the workspace router loads")
    }

    fn parts(method: &str, uri: &str, headers: &[(&str, &str)]) -> Parts {
        let mut builder = Request::builder().method(method).uri(uri);
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        builder.body(()).unwrap().into_parts().0
    }

    #[test]
    fn routed_paths_reach_their_function_with_path_parameters() {
        let routes = workspace_routes();
        let login = routes.route(&Method::POST, "/auth/login").unwrap();
        assert_eq!(login.function, "login");
        assert_eq!(login.route_key, "POST /auth/login");
        assert!(login.path_parameters.is_empty());

        let item = routes.route(&Method::GET, "/items/posts/7").unwrap();
        assert_eq!(item.function, "items");
        assert_eq!(item.route_key, "GET /items/{collection}/{id}");
        assert_eq!(
            item.path_parameters,
            HashMap::from([
                ("collection".to_owned(), "posts".to_owned()),
                ("id".to_owned(), "7".to_owned())
            ])
        );
        assert_eq!(
            routes
                .route(&Method::POST, "/users/register")
                .unwrap()
                .function,
            "register"
        );
        assert_eq!(
            routes
                .route(&Method::GET, "/.well-known/jwks.json")
                .unwrap()
                .function,
            "jwks"
        );
    }

    #[test]
    fn every_other_method_and_path_is_the_default_route() {
        let routes = workspace_routes();
        for (method, path) in [
            (Method::POST, "/items/posts"),
            (Method::PUT, "/users"),
            (Method::GET, "/auth/login"),
            (Method::DELETE, "/auth/login"),
            (Method::PUT, "/users/register"),
            (Method::HEAD, "/items/posts"),
            (Method::OPTIONS, "/auth/login"),
            (Method::GET, "/"),
            (Method::GET, "/nowhere/at/all"),
            (Method::GET, "/items/posts/1/extra"),
            (Method::POST, "/auth/login/"),
        ] {
            let matched = routes.route(&method, path).unwrap();
            assert_eq!(
                (matched.function.as_str(), matched.route_key.as_str()),
                ("not_found", "$default"),
                "{method} {path}"
            );
            assert!(matched.path_parameters.is_empty(), "{method} {path}");
        }
    }

    #[test]
    fn the_pages_take_every_method_below_their_prefix_only() {
        let routes = workspace_routes();
        for (method, path) in [
            (Method::GET, "/auth/ui/sign-in"),
            (Method::HEAD, "/auth/ui/sign-in"),
            (Method::POST, "/auth/ui/sign-in"),
            (Method::GET, "/auth/ui/assets/app.js"),
        ] {
            let matched = routes.route(&method, path).unwrap();
            assert_eq!(
                (matched.function.as_str(), matched.route_key.as_str()),
                ("pages", "ANY /auth/ui/{proxy+}"),
                "{method} {path}"
            );
        }
        // The prefix without its slash leads to sign-in: the pages function's own route.
        let root = routes.route(&Method::GET, "/auth/ui").unwrap();
        assert_eq!(
            (root.function.as_str(), root.route_key.as_str()),
            ("pages", "ANY /auth/ui")
        );
        assert_eq!(
            routes.route(&Method::POST, "/auth/login").unwrap().function,
            "login"
        );
    }

    #[test]
    fn graphql_takes_every_method_and_deeper_path_but_a_more_specific_route() {
        let routes = workspace_routes();
        for (method, path) in [
            (Method::POST, "/graphql"),
            (Method::GET, "/graphql"),
            (Method::PUT, "/graphql"),
            (Method::HEAD, "/graphql"),
            (Method::POST, "/graphql/anything"),
            (Method::GET, "/graphql/a/b"),
        ] {
            let matched = routes.route(&method, path).unwrap();
            assert_eq!(matched.function, "graphql", "{method} {path}");
        }
        assert_eq!(
            routes.route(&Method::POST, "/graphql/x").unwrap().route_key,
            "ANY /graphql/{proxy+}"
        );
        // API Gateway picks the most specific route: `/graphql/system` (the system scope's
        // function) over the greedy `/graphql/{proxy+}`, and so does the local front.
        let with_system = Routes::from_manifest(
            r#"
            [workspace.metadata.lambda.watch.router]
            "/graphql" = [{ method = "ANY", function = "graphql" }]
            "/graphql/{*proxy}" = [{ method = "ANY", function = "graphql" }]
            "/graphql/system" = [{ method = "GET", function = "graphql_system" }, { method = "POST", function = "graphql_system" }]
            "/graphql/system/{*proxy}" = [{ method = "POST", function = "graphql_system" }]
            "/{*path}" = "not_found"
            "#,
        )
        .unwrap();
        for (method, path, function) in [
            (Method::POST, "/graphql/system", "graphql_system"),
            (Method::GET, "/graphql/system", "graphql_system"),
            (Method::POST, "/graphql/system/x", "graphql_system"),
            (Method::POST, "/graphql/systemx", "graphql"),
            (Method::POST, "/graphql/other", "graphql"),
            (Method::POST, "/graphql", "graphql"),
        ] {
            assert_eq!(
                with_system.route(&method, path).unwrap().function,
                function,
                "{method} {path}"
            );
        }
    }

    #[test]
    fn method_routes_come_before_any_routes_and_the_default() {
        let routes = Routes::from_manifest(
            r#"
            [workspace.metadata.lambda.watch.router]
            "/things/{id}" = [{ method = "GET", function = "read" }]
            "/things/special" = "special"
            "/files/{*rest}" = [{ method = "any", function = "files" }]
            "#,
        )
        .unwrap();
        assert_eq!(
            routes
                .route(&Method::GET, "/things/special")
                .unwrap()
                .function,
            "read"
        );
        let special = routes.route(&Method::POST, "/things/special").unwrap();
        assert_eq!(
            (special.function.as_str(), special.route_key.as_str()),
            ("special", "ANY /things/special")
        );
        let files = routes.route(&Method::PUT, "/files/a/b").unwrap();
        assert_eq!(files.route_key, "ANY /files/{rest+}");
        assert_eq!(files.path_parameters["rest"], "a/b");
        // No `$default` route: API Gateway's own 404.
        assert_eq!(routes.route(&Method::GET, "/elsewhere"), None);
    }

    #[test]
    fn conflicting_or_malformed_routes_are_refused() {
        let conflict = Routes::from_manifest(
            r#"
            [workspace.metadata.lambda.watch.router]
            "/a/{x}" = [{ method = "GET", function = "one" }]
            "/a/{y}" = [{ method = "GET", function = "two" }]
            "#,
        );
        assert!(conflict.is_err());
        let bad_method = Routes::from_manifest(
            r#"
            [workspace.metadata.lambda.watch.router]
            "/a" = [{ method = "G E T", function = "one" }]
            "#,
        );
        assert!(bad_method.is_err());
        assert!(Routes::from_manifest("[workspace]").is_err());
    }

    #[test]
    fn every_function_has_a_warm_up_request_that_reaches_it() {
        let routes = workspace_routes();
        let functions: Vec<&str> = routes.samples().map(|(f, _, _)| f).collect();
        assert_eq!(
            functions,
            [
                "directory",
                "graphql",
                "graphql_system",
                "items",
                "jwks",
                "login",
                "logout",
                "me",
                "not_found",
                "pages",
                "password",
                "refresh",
                "register",
                "server",
                "tfa",
                "users",
                "verify"
            ]
        );
        for (function, method, path) in routes.samples() {
            assert_eq!(
                routes.route(method, path).unwrap().function,
                function,
                "{path}"
            );
        }
    }

    fn sample_event(body: &[u8]) -> Value {
        let routes = workspace_routes();
        let request = parts(
            "GET",
            "/items/posts?fields=id,title&filter[id][_eq]=1&limit=2&limit=3",
            &[
                ("host", "127.0.0.1:9000"),
                ("User-Agent", "test-agent/1.0"),
                ("Accept", "application/json"),
                ("accept", "text/plain"),
                ("Cookie", "a=1; b=2"),
                ("cookie", "c=3"),
                ("X-Forwarded-For", "203.0.113.9"),
                ("Authorization", "Bearer abc"),
            ],
        );
        let matched = routes.route(&request.method, request.uri.path()).unwrap();
        let event = event(
            &matched,
            &request,
            body,
            Some("127.0.0.5".into()),
            "req-1",
            UNIX_EPOCH + Duration::from_millis(1_583_348_638_390),
        );
        event_json(&event).unwrap()
    }

    #[test]
    fn the_event_is_an_http_api_payload_2_0_event() {
        let event = sample_event(b"");
        assert_eq!(event["version"], "2.0");
        assert_eq!(event["routeKey"], "GET /items/{collection}");
        assert_eq!(event["rawPath"], "/items/posts");
        assert_eq!(
            event["rawQueryString"],
            "fields=id,title&filter[id][_eq]=1&limit=2&limit=3"
        );
        assert_eq!(event["queryStringParameters"]["limit"], "2,3");
        assert_eq!(event["queryStringParameters"]["filter[id][_eq]"], "1");
        assert_eq!(event["pathParameters"], json!({"collection": "posts"}));
        assert_eq!(event["cookies"], json!(["a=1", "b=2", "c=3"]));
        let headers = &event["headers"];
        assert_eq!(headers["accept"], "application/json,text/plain");
        assert_eq!(headers["user-agent"], "test-agent/1.0");
        assert_eq!(headers["authorization"], "Bearer abc");
        assert_eq!(headers["x-forwarded-for"], "203.0.113.9, 127.0.0.5");
        assert!(headers.get("cookie").is_none(), "cookies travel apart");
        let context = &event["requestContext"];
        assert_eq!(context["routeKey"], "GET /items/{collection}");
        assert_eq!(context["stage"], "$default");
        assert_eq!(context["requestId"], "req-1");
        assert_eq!(context["domainName"], "127.0.0.1");
        assert_eq!(context["time"], "04/Mar/2020:19:03:58 +0000");
        assert_eq!(context["timeEpoch"], 1_583_348_638_390_i64);
        assert_eq!(
            context["http"],
            json!({
                "method": "GET",
                "path": "/items/posts",
                "protocol": "HTTP/1.1",
                "sourceIp": "127.0.0.5",
                "userAgent": "test-agent/1.0"
            })
        );
        assert_eq!(event["isBase64Encoded"], false);
        assert!(event.get("body").is_none());
        for absent in [
            "httpMethod",
            "type",
            "resource",
            "methodArn",
            "stageVariables",
        ] {
            assert!(
                event.get(absent).is_none(),
                "{absent} is not in an HTTP API event"
            );
        }
    }

    #[test]
    fn bodies_are_text_when_utf8_and_base64_otherwise() {
        let text = sample_event("{\"é\":1}".as_bytes());
        assert_eq!(text["body"], "{\"é\":1}");
        assert_eq!(text["isBase64Encoded"], false);
        let bytes = sample_event(b"{\"email\":\"\xff@example.com\"}");
        assert_eq!(bytes["isBase64Encoded"], true);
        assert_eq!(
            base64::engine::general_purpose::STANDARD
                .decode(bytes["body"].as_str().unwrap())
                .unwrap(),
            b"{\"email\":\"\xff@example.com\"}"
        );
    }

    #[test]
    fn lambda_http_reads_the_event_as_the_functions_will() {
        let event = sample_event(b"\xff\xfe");
        let request = lambda_http::request::from_str(&event.to_string()).unwrap();
        assert_eq!(request.method(), Method::GET);
        assert_eq!(request.uri().path(), "/items/posts");
        let query = request.query_string_parameters();
        assert_eq!(query.first("fields"), Some("id,title"));
        assert_eq!(query.all("limit"), Some(vec!["2", "3"]));
        assert_eq!(request.path_parameters().first("collection"), Some("posts"));
        assert_eq!(request.headers()["cookie"], "a=1; b=2; c=3");
        match request.request_context_ref() {
            Some(RequestContext::ApiGatewayV2(context)) => {
                assert_eq!(context.http.source_ip.as_deref(), Some("127.0.0.5"));
                assert_eq!(
                    context.route_key.as_deref(),
                    Some("GET /items/{collection}")
                );
            }
            other => panic!("not an HTTP API request context: {other:?}"),
        }
        assert_eq!(request.body().as_ref(), b"\xff\xfe");
    }

    #[test]
    fn request_times_are_in_api_gateway_format() {
        assert_eq!(clf_time(0), "01/Jan/1970:00:00:00 +0000");
        assert_eq!(clf_time(951_782_400), "29/Feb/2000:00:00:00 +0000");
        assert_eq!(clf_time(1_798_761_599), "31/Dec/2026:23:59:59 +0000");
    }

    fn cors() -> Cors {
        Cors::new(" http://localhost:3000, https://app.example ").unwrap()
    }

    #[test]
    fn preflights_get_the_cors_headers_only_for_allowed_origins() {
        let request = parts(
            "OPTIONS",
            "/auth/login",
            &[
                ("origin", "https://app.example"),
                ("access-control-request-method", "POST"),
            ],
        );
        assert!(Cors::is_preflight(&request));
        let allowed = cors().preflight(&request.headers);
        assert_eq!(allowed.status(), StatusCode::NO_CONTENT);
        let headers = allowed.headers();
        assert_eq!(
            headers["access-control-allow-origin"],
            "https://app.example"
        );
        assert_eq!(headers["access-control-allow-credentials"], "true");
        assert_eq!(
            headers["access-control-allow-methods"],
            "GET,POST,PATCH,DELETE,OPTIONS"
        );
        assert_eq!(
            headers["access-control-allow-headers"],
            "authorization,content-type"
        );
        assert_eq!(headers["access-control-max-age"], "600");

        let foreign = parts(
            "OPTIONS",
            "/auth/login",
            &[
                ("origin", "https://evil.example"),
                ("access-control-request-method", "POST"),
            ],
        );
        let denied = cors().preflight(&foreign.headers);
        assert_eq!(denied.status(), StatusCode::NO_CONTENT);
        assert!(
            denied
                .headers()
                .keys()
                .all(|name| !name.as_str().starts_with("access-control-"))
        );

        // Without both headers an OPTIONS request is routed like any other.
        assert!(!Cors::is_preflight(&parts(
            "OPTIONS",
            "/",
            &[("origin", "https://app.example")]
        )));
        assert!(!Cors::is_preflight(&parts(
            "OPTIONS",
            "/",
            &[("access-control-request-method", "POST")]
        )));
    }

    #[test]
    fn responses_carry_the_apis_cors_headers_never_the_functions() {
        let mut from_function = HeaderMap::new();
        from_function.insert("access-control-allow-origin", HeaderValue::from_static("*"));
        from_function.insert(
            "access-control-expose-headers",
            HeaderValue::from_static("x"),
        );
        from_function.insert("content-type", HeaderValue::from_static("application/json"));

        let mut allowed = from_function.clone();
        let request = parts("GET", "/", &[("origin", "http://localhost:3000")]);
        cors().apply(&request.headers, &mut allowed);
        assert_eq!(
            allowed["access-control-allow-origin"],
            "http://localhost:3000"
        );
        assert_eq!(allowed["access-control-allow-credentials"], "true");
        assert!(allowed.get("access-control-expose-headers").is_none());
        assert_eq!(allowed["vary"], "origin");
        assert_eq!(allowed["content-type"], "application/json");

        for origin in [Some("https://evil.example"), None] {
            let mut denied = from_function.clone();
            let headers: Vec<(&str, &str)> = origin.map(|o| ("origin", o)).into_iter().collect();
            cors().apply(&parts("GET", "/", &headers).headers, &mut denied);
            assert!(
                denied
                    .keys()
                    .all(|name| !name.as_str().starts_with("access-control-")),
                "{origin:?}: {denied:?}"
            );
            assert_eq!(denied["content-type"], "application/json");
        }
        assert!(Cors::new("http://a.example,*").is_err());
    }

    #[test]
    fn function_responses_become_http_responses() {
        let answer: ApiGatewayV2httpResponse = serde_json::from_value(json!({
            "statusCode": 201,
            "headers": {"content-type": "text/plain", "content-length": "999", "x-one": "a"},
            "multiValueHeaders": {"x-many": ["b", "c"]},
            "cookies": ["a=1; Path=/", "b=2; HttpOnly"],
            "body": base64::engine::general_purpose::STANDARD.encode(b"\x00\x01binary"),
            "isBase64Encoded": true
        }))
        .unwrap();
        let response = http_response(answer).unwrap();
        assert_eq!(response.status(), StatusCode::CREATED);
        let headers = response.headers();
        assert_eq!(headers["content-type"], "text/plain");
        assert!(headers.get("content-length").is_none());
        assert_eq!(headers["x-one"], "a");
        let many: Vec<_> = headers.get_all("x-many").iter().collect();
        assert_eq!(many, ["b", "c"]);
        let cookies: Vec<_> = headers.get_all("set-cookie").iter().collect();
        assert_eq!(cookies, ["a=1; Path=/", "b=2; HttpOnly"]);

        let bad: ApiGatewayV2httpResponse = serde_json::from_value(json!({
            "statusCode": 1000, "cookies": []
        }))
        .unwrap();
        assert!(http_response(bad).is_err());
    }

    // The whole front over HTTP, against a stand-in for cargo lambda's invoke API.

    const STUB_ROUTER: &str = r#"
        [workspace.metadata.lambda.watch.router]
        "/echo/{name}" = [{ method = "POST", function = "echo" }, { method = "GET", function = "echo" }]
        "/fail" = [{ method = "GET", function = "fail" }]
        "/slow" = [{ method = "GET", function = "slow" }]
        "/nap" = [{ method = "GET", function = "nap" }]
        "/garbled" = [{ method = "GET", function = "garbled" }]
        "/{*path}" = "echo"
    "#;

    /// The invoke API of a few fake functions: `echo` answers with the event it got as body.
    async fn stub_lambda() -> String {
        async fn invoke(
            axum::extract::Path(function): axum::extract::Path<String>,
            event: String,
        ) -> Response<Body> {
            let json = |status: StatusCode, value: Value| {
                let mut response = Response::new(Body::from(value.to_string()));
                *response.status_mut() = status;
                response
            };
            match function.as_str() {
                "echo" => json(
                    StatusCode::OK,
                    json!({
                        "statusCode": 200,
                        "headers": {
                            "content-type": "application/json",
                            "access-control-allow-origin": "*"
                        },
                        "multiValueHeaders": {},
                        "cookies": ["session=1; HttpOnly"],
                        "body": event,
                        "isBase64Encoded": false
                    }),
                ),
                "fail" => json(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    json!({"errorType": "Panic", "errorMessage": "boom"}),
                ),
                "nap" => {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    json(StatusCode::OK, json!({"statusCode": 204, "cookies": []}))
                }
                "slow" => {
                    tokio::time::sleep(Duration::from_secs(5)).await;
                    json(StatusCode::OK, json!({"statusCode": 204, "cookies": []}))
                }
                _ => Response::new(Body::from("not json")),
            }
        }
        // cargo lambda's invoke API takes bodies of any size.
        let app = axum::Router::new()
            .route(
                "/2015-03-31/functions/{function}/invocations",
                axum::routing::post(invoke),
            )
            .layer(axum::extract::DefaultBodyLimit::disable());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        url
    }

    async fn front_with_stub(timeout: Duration) -> String {
        let gateway = Gateway::new(
            Routes::from_manifest(STUB_ROUTER).unwrap(),
            Cors::new(DEFAULT_CORS_ORIGINS).unwrap(),
            stub_lambda().await,
            timeout,
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(serve(listener, Arc::new(gateway), std::future::pending()));
        url
    }

    #[tokio::test]
    async fn a_burst_beyond_the_in_flight_bound_waits_its_turn_instead_of_failing() {
        let front = front_with_stub(INTEGRATION_TIMEOUT).await;
        let client = reqwest::Client::new();
        let burst: Vec<_> = (0..MAX_IN_FLIGHT * 2 + 5)
            .map(|_| {
                let request = client.get(format!("{front}/nap")).send();
                tokio::spawn(async move { request.await.unwrap().status().as_u16() })
            })
            .collect();
        let mut statuses = Vec::new();
        for request in burst {
            statuses.push(request.await.unwrap());
        }
        assert!(statuses.iter().all(|s| *s == 204), "{statuses:?}");
    }

    #[tokio::test]
    async fn the_front_invokes_the_routed_function_with_the_event() {
        let front = front_with_stub(INTEGRATION_TIMEOUT).await;
        let client = reqwest::Client::new();
        let response = client
            .post(format!("{front}/echo/hello?x=1"))
            .header("origin", "http://localhost:3000")
            .header("content-type", "application/json")
            .body(&b"\xff not utf-8"[..])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let headers = response.headers().clone();
        assert_eq!(
            headers["access-control-allow-origin"],
            "http://localhost:3000"
        );
        assert_eq!(headers["access-control-allow-credentials"], "true");
        assert_eq!(headers["set-cookie"], "session=1; HttpOnly");
        assert!(headers.contains_key("apigw-requestid"));
        let event: Value = response.json().await.unwrap();
        assert_eq!(event["routeKey"], "POST /echo/{name}");
        assert_eq!(event["pathParameters"]["name"], "hello");
        assert_eq!(event["rawQueryString"], "x=1");
        assert_eq!(event["isBase64Encoded"], true);
        assert_eq!(event["requestContext"]["http"]["sourceIp"], "127.0.0.1");
        assert_eq!(
            event["requestContext"]["requestId"],
            headers["apigw-requestid"].to_str().unwrap()
        );

        // A routed path with another method is `$default`'s.
        let other: Value = client
            .delete(format!("{front}/echo/hello"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(other["routeKey"], "$default");
        assert!(other.get("pathParameters").is_none());

        // A foreign origin gets no CORS headers, the function's "*" included.
        let foreign = client
            .get(format!("{front}/echo/x"))
            .header("origin", "https://evil.example")
            .send()
            .await
            .unwrap();
        assert!(
            foreign
                .headers()
                .keys()
                .all(|name| !name.as_str().starts_with("access-control-"))
        );

        // Payloads: 10 MB pass, a byte more is API Gateway's 413.
        let too_large = client
            .post(format!("{front}/echo/big"))
            .body(vec![b'a'; PAYLOAD_LIMIT + 1])
            .send()
            .await
            .unwrap();
        assert_eq!(too_large.status(), 413);
        let body: Value = too_large.json().await.unwrap();
        assert_eq!(body, json!({"message": "Request Entity Too Large"}));
        let at_limit = client
            .post(format!("{front}/echo/big"))
            .body(vec![b'a'; PAYLOAD_LIMIT])
            .send()
            .await
            .unwrap();
        assert_eq!(at_limit.status(), 200);
    }

    #[tokio::test]
    async fn failures_are_api_gateways_answers() {
        let front = front_with_stub(Duration::from_millis(300)).await;
        let client = reqwest::Client::new();
        for (path, status, text) in [
            ("/fail", 500, "Internal Server Error"),
            ("/garbled", 500, "Internal Server Error"),
            ("/slow", 503, "Service Unavailable"),
        ] {
            let response = client.get(format!("{front}{path}")).send().await.unwrap();
            assert_eq!(response.status(), status, "{path}");
            assert_eq!(response.headers()["content-type"], "application/json");
            let body: Value = response.json().await.unwrap();
            assert_eq!(body, json!({"message": text}), "{path}");
        }
    }

    #[tokio::test]
    async fn the_warm_up_reaches_every_function_and_reports_failures() {
        let gateway = Gateway::new(
            Routes::from_manifest(STUB_ROUTER).unwrap(),
            Cors::new(DEFAULT_CORS_ORIGINS).unwrap(),
            stub_lambda().await,
            INTEGRATION_TIMEOUT,
        );
        let error = gateway
            .warm_up(
                Duration::from_secs(10),
                Instant::now() + Duration::from_secs(10),
            )
            .await
            .unwrap_err();
        assert!(
            error.starts_with("fail (GET /fail): function error"),
            "{error}"
        );

        // Nothing listening: retried until the deadline, then reported.
        let nowhere = Gateway::new(
            Routes::from_manifest(STUB_ROUTER).unwrap(),
            Cors::new(DEFAULT_CORS_ORIGINS).unwrap(),
            "http://127.0.0.1:9".into(),
            INTEGRATION_TIMEOUT,
        );
        let error = nowhere
            .warm_up(
                Duration::from_secs(1),
                Instant::now() + Duration::from_millis(600),
            )
            .await
            .unwrap_err();
        assert!(error.contains("cargo lambda unreachable"), "{error}");
    }
}
