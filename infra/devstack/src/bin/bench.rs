//! `make bench`: the figures reported in docs/benchmarks.md.
//!
//! 1. Stripped release binary sizes of every function.
//! 2. Cold start: each release binary is started against a minimal Lambda Runtime API served
//!    here, with the local DynamoDB behind it; the time from process spawn to the first
//!    invocation's response arriving at the Runtime API (init + first invoke), median of 7. Each
//!    first request takes a real path (a live session for refresh and logout, an administrator's
//!    token for items) and must answer the status the table states, or the benchmark fails.
//! 3. The cost of item reads in a collection of 100,000 items (and of 1,000,000 with
//!    `BENCH_SCALE_MILLION=1`) with one indexed field: DynamoDB requests, items examined and
//!    p50 time, for pages in key order, reads that must look further, and reads through the
//!    index. `bench items` runs only this part.
//! 4. Warm latency of each endpoint over HTTP through the local stack (its API Gateway front and
//!    `cargo lambda watch --release`), 50 sequential requests each after one warm-up request;
//!    every response must have the endpoint's success status.
//! 5. Login timing by outcome (unknown email, wrong password, right password), 200 interleaved
//!    rounds compared with Welch's t-test, to show whether a response's time tells them apart;
//!    over REST (`POST /auth/login`) and over GraphQL (`auth_login` on `/graphql/system`).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio::process::{Child, Command};

const FUNCTIONS: [&str; 10] = [
    "register",
    "login",
    "graphql_system",
    "refresh",
    "logout",
    "items",
    "graphql",
    "users",
    "jwks",
    "not_found",
];
const SECRET: &str = "benchmark-secret-that-is-longer-than-32-bytes";
const COLD_RUNS: usize = 7;
const WARM_RUNS: usize = 50;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let release = std::env::current_exe()?
        .parent()
        .ok_or("no target directory")?
        .to_path_buf();
    println!(
        "## Binary sizes (stripped, release, {})\n",
        std::env::consts::ARCH
    );
    println!("| function | bytes | MiB |\n|---|---:|---:|");
    for function in FUNCTIONS {
        let size = std::fs::metadata(release.join(function))
            .map_err(|e| format!("{function}: {e} (run `make bench`, which builds it)"))?
            .len();
        println!("| {function} | {size} | {:.1} |", size as f64 / 1_048_576.0);
    }

    let (mut dynamo_stack, dynamo) = start_devstack(&release, &["--no-api"]).await?;
    if std::env::args().nth(1).as_deref() == Some("items") {
        items_cost(&dynamo).await?;
        drop(dynamo_stack.stdin.take());
        let _ = dynamo_stack.wait().await;
        return Ok(());
    }
    println!("\n## Cold start (process spawn to first response, median of {COLD_RUNS})\n");
    println!(
        "| function | first request | status (checked) | median ms | min ms | max ms |\n|---|---|---:|---:|---:|---:|"
    );
    let fixtures = ColdFixtures::new(&dynamo).await?;
    for function in FUNCTIONS {
        let mut samples = Vec::new();
        let mut described = ("", 0);
        for _ in 0..COLD_RUNS {
            // A fresh event per run: a refresh or logout spends its session.
            let (label, expected, event) = cold_event(function, &fixtures).await?;
            described = (label, expected);
            samples.push(cold_start(&release.join(function), &dynamo, &event, expected).await?);
        }
        let (median, min, max) = summary(&mut samples);
        let (label, expected) = described;
        println!("| {function} | {label} | {expected} | {median:.1} | {min:.1} | {max:.1} |");
    }
    items_cost(&dynamo).await?;
    drop(dynamo_stack.stdin.take());
    let _ = dynamo_stack.wait().await;

    let api_port = free_port()?;
    let (mut api_stack, api) = start_devstack(
        &release,
        // Mail to a local inbox on free ports, so a reset request for a known address really
        // sends (over SMTP) inside its time.
        &[
            "--api-port",
            &api_port.to_string(),
            "--release",
            "--inbox",
            "0:0",
        ],
    )
    .await?;
    println!(
        "\n## Warm latency through the local stack (API Gateway front, `cargo lambda watch --release`; {WARM_RUNS} sequential requests)\n"
    );
    println!("| endpoint | status | p50 ms | p95 ms | mean ms |\n|---|---:|---:|---:|---:|");
    warm_latency(&api).await?;
    login_timing(&api, false).await?;
    login_timing(&api, true).await?;
    password_request_timing(&api).await?;
    drop(api_stack.stdin.take());
    let _ = api_stack.wait().await;
    Ok(())
}

fn free_port() -> Result<u16, BoxError> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

fn summary(samples: &mut [f64]) -> (f64, f64, f64) {
    samples.sort_by(f64::total_cmp);
    (
        samples[samples.len() / 2],
        samples[0],
        samples[samples.len() - 1],
    )
}

fn percentile(samples: &mut [f64], p: f64) -> f64 {
    samples.sort_by(f64::total_cmp);
    let index = ((samples.len() as f64 - 1.0) * p).round() as usize;
    samples[index]
}

/// Starts `devstack --memory` and returns it with the URL of its last READY line.
async fn start_devstack(release: &Path, extra: &[&str]) -> Result<(Child, String), BoxError> {
    let log = release.join("bench-functions.log");
    let mut child = Command::new(release.join("devstack"))
        .args([
            "--memory",
            "--port",
            "0",
            "--exit-on-eof",
            "--prefix",
            "bench-",
        ])
        .args(["--api-log", &log.to_string_lossy()])
        // The quickstart, with rate limits a benchmark from one address does not trip.
        .args([
            "--seed",
            concat!(env!("CARGO_MANIFEST_DIR"), "/../seed.json"),
        ])
        .args([
            "--seed",
            concat!(env!("CARGO_MANIFEST_DIR"), "/../bench-settings.json"),
        ])
        .args(extra)
        .env("SECRET", SECRET)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()?;
    let mut lines = BufReader::new(child.stdout.take().ok_or("stdout")?).lines();
    let mut dynamo = None;
    while let Some(line) = lines.next_line().await? {
        if let Some(url) = line.strip_prefix("DYNAMODB ") {
            dynamo = Some(url.to_owned());
        }
        if let Some(url) = line.strip_prefix("READY ") {
            let url = if extra.contains(&"--no-api") {
                dynamo.clone().ok_or("no DynamoDB line")?
            } else {
                url.to_owned()
            };
            return Ok((child, url));
        }
    }
    Err("devstack exited before READY".into())
}

/// A Lambda event as API Gateway (HTTP API, payload 2.0) sends it.
fn gateway_event(method: &str, path: &str, bearer: Option<&str>, body: Option<Value>) -> Value {
    let mut headers = json!({"content-type": "application/json", "user-agent": "bench"});
    if let Some(token) = bearer {
        headers["authorization"] = json!(format!("Bearer {token}"));
    }
    json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": "",
        "headers": headers,
        "requestContext": {
            "accountId": "000000000000", "apiId": "bench", "domainName": "localhost",
            "domainPrefix": "localhost", "requestId": "bench", "routeKey": "$default",
            "stage": "$default", "time": "01/Jan/2026:00:00:00 +0000", "timeEpoch": 0,
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1",
                     "sourceIp": "127.0.0.1", "userAgent": "bench"}
        },
        "body": body.map(|b| b.to_string()),
        "isBase64Encoded": false
    })
}

/// What the cold-start requests need to take their real paths: an administrator and its
/// access token, and the keys that make genuine refresh tokens for sessions made per run.
struct ColdFixtures {
    store: shared::store::Store,
    admin_id: String,
    admin_token: String,
    refresh_keys: shared::refresh_token::RefreshKeys,
}

impl ColdFixtures {
    async fn new(dynamo: &str) -> Result<Self, BoxError> {
        use shared::config::{HashParams, SigningKeys};
        let store =
            shared::store::Store::local(dynamo, shared::store::Tables::with_prefix("bench-"));
        let passwords = shared::password::Passwords::new(HashParams::default())?;
        let admin = shared::provision::create_user(
            &store,
            &passwords,
            "cold-admin@example.com",
            &shared::sensitive::Sensitive::new("cold-admin-password"),
            Some(ADMIN_ROLE),
        )
        .await?;
        let keys = SigningKeys {
            current: SECRET.as_bytes().to_vec(),
            previous: None,
            jwt: None,
        };
        let tokens = shared::token::Tokens::new(&keys, Duration::from_secs(3600))?;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)?
            .as_secs();
        let admin_token = tokens
            .issue(&admin.id, Some(ADMIN_ROLE), true, true, now)?
            .token;
        Ok(Self {
            store,
            admin_id: admin.id,
            admin_token,
            refresh_keys: shared::refresh_token::RefreshKeys::new(&keys),
        })
    }

    /// A live session of the administrator and its genuine refresh token.
    async fn session_token(&self) -> Result<String, BoxError> {
        let now = i64::try_from(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)?
                .as_secs(),
        )?;
        let session = shared::store::Session {
            id: uuid::Uuid::new_v4().to_string(),
            user_id: self.admin_id.clone(),
            generation: 0,
            rotated_at: None,
            expires_at: now + 3600,
            absolute_expires_at: now + 3600,
            created_at: now * 1000 + 1000,
            ip: None,
            user_agent: None,
        };
        self.store.create_session(&session).await?;
        Ok(self.refresh_keys.token(&session.id, 0).expose().to_owned())
    }
}

const ADMIN_ROLE: &str = "7c1e2d3f-4a5b-4c6d-8e9f-0a1b2c3d4e5f";
/// `auth_login` as a client sends it to `/graphql/system`.
const GRAPHQL_LOGIN: &str = "mutation Login($email: String!, $password: String!) { auth_login(email: $email, password: $password) { access_token refresh_token expires } }";

/// The first request each function answers in the cold-start table: what it does, the status
/// it must answer (anything else fails the benchmark), and the event.
async fn cold_event(
    function: &str,
    fixtures: &ColdFixtures,
) -> Result<(&'static str, u16, Value), BoxError> {
    let credentials = json!({"email": "cold-admin@example.com", "password": "d1r3ctu5"});
    Ok(match function {
        "register" => (
            "register an existing email (argon2 hash, failed transaction)",
            204,
            gateway_event("POST", "/users/register", None, Some(credentials)),
        ),
        "login" => (
            "login, unknown email (reservation read + write, 2 GetItems, dummy argon2 verify)",
            401,
            gateway_event(
                "POST",
                "/auth/login",
                None,
                Some(json!({"email": "nobody@example.com", "password": "d1r3ctu5"})),
            ),
        ),
        "graphql_system" => (
            "auth_login over GraphQL, unknown email (schema, limits, dummy argon2 verify; in-band error)",
            200,
            gateway_event(
                "POST",
                "/graphql/system",
                None,
                Some(
                    json!({"query": GRAPHQL_LOGIN, "variables": {"email": "nobody@example.com", "password": "d1r3ctu5"}}),
                ),
            ),
        ),
        "refresh" => (
            "refresh a live session (GetItem, conditional UpdateItem, user GetItem, policies, new pair)",
            200,
            gateway_event(
                "POST",
                "/auth/refresh",
                None,
                Some(json!({"refresh_token": fixtures.session_token().await?})),
            ),
        ),
        "logout" => (
            "logout of a live session (DeleteItem)",
            204,
            gateway_event(
                "POST",
                "/auth/logout",
                None,
                Some(json!({"refresh_token": fixtures.session_token().await?})),
            ),
        ),
        "jwks" => (
            "GET /.well-known/jwks.json (no DynamoDB)",
            200,
            gateway_event("GET", "/.well-known/jwks.json", None, None),
        ),
        "not_found" => (
            "GET /nowhere (no configuration, no DynamoDB)",
            404,
            gateway_event("GET", "/nowhere", None, None),
        ),
        "users" => (
            "public POST /users, existing email (argon2 hash, failed transaction)",
            204,
            gateway_event("POST", "/users", None, Some(credentials)),
        ),
        "graphql" => (
            "POST /graphql `{ posts { id title content } }` as an administrator (user GetItem, policy reads, catalog and schema, Query)",
            200,
            gateway_event(
                "POST",
                "/graphql",
                Some(&fixtures.admin_token),
                Some(json!({"query": "{ posts { id title content } }"})),
            ),
        ),
        _ => (
            "GET /items/posts as an administrator (user GetItem, policy reads, Query)",
            200,
            gateway_event("GET", "/items/posts", Some(&fixtures.admin_token), None),
        ),
    })
}

/// Milliseconds from spawning `binary` to its first response reaching the Runtime API.
async fn cold_start(
    binary: &PathBuf,
    dynamo: &str,
    event: &Value,
    expected: u16,
) -> Result<f64, BoxError> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let runtime_api = listener.local_addr()?.to_string();
    let started = Instant::now();
    let mut child = Command::new(binary)
        .env_clear()
        .env("AWS_LAMBDA_RUNTIME_API", &runtime_api)
        .env("AWS_LAMBDA_FUNCTION_NAME", "bench")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "1769")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_LOG_LEVEL", "ERROR")
        .env("AWS_ENDPOINT_URL_DYNAMODB", dynamo)
        .env("AWS_ACCESS_KEY_ID", "local")
        .env("AWS_SECRET_ACCESS_KEY", "local")
        .env("AWS_REGION", "us-east-1")
        .env("TABLE_PREFIX", "bench-")
        .env("SECRET", SECRET)
        .stdout(Stdio::null())
        .kill_on_drop(true)
        .spawn()?;
    let (elapsed, status) = tokio::time::timeout(
        Duration::from_secs(30),
        serve_one_invocation(&listener, event),
    )
    .await
    .map_err(|_| "the function did not answer within 30 s")??;
    let _ = child.kill().await;
    if status != expected {
        return Err(format!(
            "{} answered {status}, expected {expected}",
            binary.display()
        )
        .into());
    }
    Ok(elapsed.duration_since(started).as_secs_f64() * 1000.0)
}

/// A minimal Runtime API: hands out `event` on `/invocation/next` and returns when the first
/// response is posted, with the status the function answered. Each connection is served on its own task: the runtime
/// client may post the response on a new connection while the first is still open, and serving
/// connections one after another would then wait on the first forever.
async fn serve_one_invocation(
    listener: &TcpListener,
    event: &Value,
) -> Result<(Instant, u16), BoxError> {
    let body = std::sync::Arc::new(event.to_string());
    let (outcome, mut outcomes) = tokio::sync::mpsc::channel(1);
    let mut connections = tokio::task::JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, _) = accepted?;
                let (body, outcome) = (body.clone(), outcome.clone());
                connections.spawn(async move {
                    if let Some(result) = serve_connection(stream, &body).await.transpose() {
                        let _ = outcome.send(result).await;
                    }
                });
            }
            Some(result) = outcomes.recv() => return result,
        }
    }
}

/// Serves one Runtime API connection: `Some` once the function posted its response or an
/// error, `None` when the connection closed first.
async fn serve_connection(
    stream: tokio::net::TcpStream,
    body: &str,
) -> Result<Option<(Instant, u16)>, BoxError> {
    let mut reader = BufReader::new(stream);
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line).await? == 0 {
            return Ok(None);
        }
        let mut length = 0usize;
        loop {
            let mut header = String::new();
            reader.read_line(&mut header).await?;
            if header.trim().is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                length = value.trim().parse()?;
            }
        }
        let mut payload = vec![0u8; length];
        reader.read_exact(&mut payload).await?;
        let path = request_line
            .split_whitespace()
            .nth(1)
            .unwrap_or("")
            .to_owned();
        if path.ends_with("/invocation/next") {
            let deadline = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)?
                .as_millis()
                + 30_000;
            let response = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n\
                 lambda-runtime-aws-request-id: bench-1\r\n\
                 lambda-runtime-deadline-ms: {deadline}\r\n\
                 lambda-runtime-invoked-function-arn: arn:aws:lambda:us-east-1:000000000000:function:bench\r\n\
                 lambda-runtime-trace-id: Root=1-00000000-000000000000000000000000\r\n\
                 content-length: {}\r\n\r\n{body}",
                body.len()
            );
            reader.get_mut().write_all(response.as_bytes()).await?;
        } else if path.ends_with("/response") {
            let now = Instant::now();
            let _ = reader
                .get_mut()
                .write_all(b"HTTP/1.1 202 Accepted\r\ncontent-length: 0\r\n\r\n")
                .await;
            let answer: Value = serde_json::from_slice(&payload).unwrap_or(Value::Null);
            let status = answer["statusCode"]
                .as_u64()
                .and_then(|s| u16::try_from(s).ok())
                .ok_or_else(|| format!("the function answered {answer}"))?;
            return Ok(Some((now, status)));
        } else {
            return Err(format!(
                "the function reported an error on {path}: {}",
                String::from_utf8_lossy(&payload)
            )
            .into());
        }
    }
}

async fn warm_latency(api: &str) -> Result<(), BoxError> {
    let client = reqwest::Client::new();
    let post = |path: &str, body: Value| {
        client
            .post(format!("{api}{path}"))
            .header("content-type", "application/json")
            .body(body.to_string())
    };
    let email = format!("bench-{}@example.com", std::process::id());
    let credentials = json!({"email": email, "password": "d1r3ctu5"});
    let registered = post("/register", credentials.clone())
        .send()
        .await?
        .status();
    if registered != 204 {
        return Err(format!("registering the benchmark user answered {registered}").into());
    }
    let login = |credentials: Value| post("/auth/login", credentials);

    let report = |name: &str, status: u16, samples: &mut [f64]| {
        let mean = samples.iter().sum::<f64>() / samples.len() as f64;
        let p50 = percentile(samples, 0.5);
        let p95 = percentile(samples, 0.95);
        println!("| {name} | {status} | {p50:.2} | {p95:.2} | {mean:.2} |");
    };

    /// Times one request; any status but `expected` fails the benchmark, so a table never
    /// reports the speed of an error path under an endpoint's name.
    async fn time(
        request: reqwest::RequestBuilder,
        expected: u16,
    ) -> Result<(f64, u16, Value), BoxError> {
        let started = Instant::now();
        let response = request.send().await?;
        let status = response.status().as_u16();
        let text = response.text().await?;
        let elapsed = started.elapsed().as_secs_f64() * 1000.0;
        if status != expected {
            return Err(format!("answered {status}, expected {expected}: {text}").into());
        }
        Ok((
            elapsed,
            status,
            serde_json::from_str(&text).unwrap_or(Value::Null),
        ))
    }

    // register: a new address each time.
    let mut samples = Vec::new();
    let mut status = 0;
    for i in 0..=WARM_RUNS {
        let body = json!({"email": format!("bench-{i}-{}@example.com", std::process::id()), "password": "d1r3ctu5"});
        let (ms, s, _) = time(post("/register", body), 204).await?;
        if i > 0 {
            samples.push(ms);
            status = s;
        }
    }
    report("POST /register", status, &mut samples);

    // login: collect sessions for refresh and logout below.
    let mut samples = Vec::new();
    let mut refresh_tokens = Vec::new();
    let mut access = String::new();
    for i in 0..=WARM_RUNS {
        let (ms, s, body) = time(login(credentials.clone()), 200).await?;
        status = s;
        access = body["data"]["access_token"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        refresh_tokens.push(
            body["data"]["refresh_token"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        );
        if i > 0 {
            samples.push(ms);
        }
    }
    report("POST /auth/login", status, &mut samples);

    let mut samples = Vec::new();
    for i in 0..=WARM_RUNS {
        let request = post(
            "/graphql/system",
            json!({"query": GRAPHQL_LOGIN, "variables": credentials}),
        );
        let (ms, s, body) = time(request, 200).await?;
        if body["data"]["auth_login"]["access_token"]
            .as_str()
            .is_none()
        {
            return Err(format!("auth_login over GraphQL did not log in: {body}").into());
        }
        status = s;
        refresh_tokens.push(
            body["data"]["auth_login"]["refresh_token"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        );
        if i > 0 {
            samples.push(ms);
        }
    }
    report("POST /graphql/system auth_login", status, &mut samples);

    let mut samples = Vec::new();
    let mut token = refresh_tokens[0].clone();
    for i in 0..=WARM_RUNS {
        let (ms, s, body) =
            time(post("/auth/refresh", json!({"refresh_token": token})), 200).await?;
        status = s;
        token = body["data"]["refresh_token"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        if i > 0 {
            samples.push(ms);
        }
    }
    report("POST /auth/refresh", status, &mut samples);

    for (name, path) in [
        ("GET /items/posts", "/items/posts"),
        ("GET /items/posts/1", "/items/posts/1"),
    ] {
        let mut samples = Vec::new();
        for i in 0..=WARM_RUNS {
            let request = client.get(format!("{api}{path}")).bearer_auth(&access);
            let (ms, s, _) = time(request, 200).await?;
            status = s;
            if i > 0 {
                samples.push(ms);
            }
        }
        report(name, status, &mut samples);
    }

    // The same read over GraphQL (the seed's query), beside GET /items/posts.
    let mut samples = Vec::new();
    for i in 0..=WARM_RUNS {
        let request = post(
            "/graphql",
            json!({"query": "query { posts { id title content } }"}),
        )
        .bearer_auth(&access);
        let (ms, s, body) = time(request, 200).await?;
        if body.get("errors").is_some() {
            return Err(format!("POST /graphql answered errors: {body}").into());
        }
        status = s;
        if i > 0 {
            samples.push(ms);
        }
    }
    report(
        "POST /graphql `{ posts { id title content } }`",
        status,
        &mut samples,
    );

    let mut samples = Vec::new();
    for (i, token) in refresh_tokens.iter().skip(1).enumerate() {
        let (ms, s, _) = time(post("/auth/logout", json!({"refresh_token": token})), 204).await?;
        status = s;
        if i > 0 {
            samples.push(ms);
        }
    }
    report("POST /auth/logout", status, &mut samples);
    Ok(())
}

const BIG_COLLECTION: usize = 100_000;
const MILLION: usize = 1_000_000;
/// BatchWriteItem requests in flight while loading.
const LOAD_CONCURRENCY: usize = 8;
/// Fields of the benchmark collection: `score` is indexed, a permutation of 0..size (7919 is
/// prime), so its order is not key order.
const BIG_FIELDS: [(&str, &str, bool); 4] = [
    ("id", "integer", false),
    ("title", "string", false),
    ("rank", "integer", false),
    ("score", "integer", true),
];

fn big_collection(name: &str) -> shared::store::Collection {
    use shared::store::{Collection, FieldDef, FieldSchema};
    Collection {
        collection: name.into(),
        primary_key: "id".into(),
        fields: BIG_FIELDS
            .iter()
            .map(|(field, field_type, indexed)| FieldDef {
                schema: indexed.then_some(FieldSchema { is_indexed: true }),
                ..FieldDef::new(field, field_type)
            })
            .collect(),
    }
}

/// Loads `size` items (and their `score` index entries) into the new collection `name`: all but
/// the last with BatchWriteItem, [`LOAD_CONCURRENCY`] requests at a time, and their count; the
/// last through the write path (`Store::put_item`), which adds itself to the count in its
/// transaction. (Counting a million stored items with the write path's one-off Query of the
/// whole partition takes longer than one DynamoDB operation may.)
async fn load_big(store: &shared::store::Store, name: &str, size: usize) -> Result<f64, BoxError> {
    use aws_sdk_dynamodb::types::{AttributeValue, PutRequest, WriteRequest};
    use shared::store::{COUNT_KEY, index_entry_item, item_sort_key};
    let loading = Instant::now();
    let row = move |id: u64| {
        json!({"id": id, "title": format!("Item {id}"), "rank": (id * 7919) % 1000,
               "score": (id * 7919) % size as u64})
    };
    let mut writers = tokio::task::JoinSet::new();
    let per_writer = (size - 1).div_ceil(LOAD_CONCURRENCY) as u64;
    for writer in 0..LOAD_CONCURRENCY as u64 {
        let first = 1 + writer * per_writer;
        let last = ((writer + 1) * per_writer).min(size as u64 - 1);
        let (store, name) = (store.clone(), name.to_owned());
        writers.spawn(async move {
            let mut batch = Vec::new();
            for id in first..=last {
                let data = row(id);
                let data = data.as_object().ok_or("an object")?;
                let key = item_sort_key(&json!(id)).ok_or("key")?;
                let item = serde_dynamo::to_item(json!({
                    "collection": name, "key": key, "data": data, "version": 1,
                }))?;
                let entry = index_entry_item(&name, "score", &key, data)?;
                for record in [item, entry] {
                    batch.push(
                        WriteRequest::builder()
                            .put_request(PutRequest::builder().set_item(Some(record)).build()?)
                            .build(),
                    );
                }
                if batch.len() >= 24 || id == last {
                    let mut pending = std::mem::take(&mut batch);
                    while !pending.is_empty() {
                        let output = store
                            .client()
                            .batch_write_item()
                            .request_items(&store.tables().items, pending)
                            .send()
                            .await?;
                        pending = output
                            .unprocessed_items
                            .and_then(|mut left| left.remove(&store.tables().items))
                            .unwrap_or_default();
                    }
                }
            }
            Ok::<(), BoxError>(())
        });
    }
    while let Some(done) = writers.join_next().await {
        done??;
    }
    store
        .client()
        .put_item()
        .table_name(&store.tables().items)
        .item("collection", AttributeValue::S(name.to_owned()))
        .item("key", AttributeValue::S(COUNT_KEY.to_owned()))
        .item("item_count", AttributeValue::N((size - 1).to_string()))
        .send()
        .await?;
    let last = size as u64;
    let data = row(last);
    store
        .put_item(
            name,
            item_sort_key(&json!(last)).ok_or("key")?,
            data.as_object().ok_or("an object")?.clone(),
            &["score".to_owned()],
        )
        .await?;
    store.put_collection(&big_collection(name)).await?;
    if store.item_count(name).await? != Some(size as u64) {
        return Err(format!("{name}: the count is not {size}").into());
    }
    Ok(loading.elapsed().as_secs_f64())
}

/// Loads a collection of 100,000 items (and one of 1,000,000 with `BENCH_SCALE_MILLION=1`) with
/// an indexed field, then measures reads through the items module: DynamoDB requests as the read
/// path counts them (every Query and GetItem it sends), items examined, and time.
async fn items_cost(dynamo: &str) -> Result<(), BoxError> {
    use shared::access::{Accountability, ReadPlan};
    use shared::query::ItemsQuery;
    use shared::store::{Store, Tables};

    let store = Store::local(dynamo, Tables::with_prefix("bench-"));
    let mut sizes = vec![BIG_COLLECTION];
    // Loading a million items took 17 minutes on the 2-core development machine
    // under other builds (100,000 took 6 s): opt-in.
    if std::env::var("BENCH_SCALE_MILLION").as_deref() == Ok("1") {
        sizes.push(MILLION);
    }
    for size in sizes {
        let name = format!("big{size}");
        let loaded = load_big(&store, &name, size).await?;
        let admin = Accountability {
            admin: true,
            ..Default::default()
        };
        let plan = ReadPlan::new(&admin, big_collection(&name), None, 0)?;
        println!(
            "\n## Reading a collection of {size} items (loaded in {loaded:.1} s with its `score` index; limit examined per read: 10,000)\n"
        );
        println!(
            "| query | status | DynamoDB requests | items examined | p50 ms of {ITEM_RUNS} |\n|---|---|---:|---:|---:|"
        );
        let eq = format!(r#"{{"score":{{"_eq":{}}}}}"#, size / 2);
        let key_order_cases: [(&str, Vec<(&str, &str)>); 7] = [
            ("limit=25 (key order)", vec![("limit", "25")]),
            ("limit=25&page=100", vec![("limit", "25"), ("page", "100")]),
            ("limit=25&sort=-id", vec![("limit", "25"), ("sort", "-id")]),
            (
                "limit=25&filter={rank:{_eq:7}} (1 in 1000, not indexed)",
                vec![("limit", "25"), ("filter", r#"{"rank":{"_eq":7}}"#)],
            ),
            (
                "limit=25&filter={rank:{_lt:100}} (1 in 10, not indexed)",
                vec![("limit", "25"), ("filter", r#"{"rank":{"_lt":100}}"#)],
            ),
            (
                "limit=25&sort=rank (not indexed)",
                vec![("limit", "25"), ("sort", "rank")],
            ),
            (
                "limit=25&meta=total_count",
                vec![("limit", "25"), ("meta", "total_count")],
            ),
        ];
        let indexed_cases: [(&str, Vec<(&str, &str)>); 4] = [
            (
                "limit=25&sort=-score (indexed)",
                vec![("limit", "25"), ("sort", "-score")],
            ),
            (
                "limit=25&filter={score:{_eq:size/2}} (indexed, 1 item)",
                vec![("limit", "25"), ("filter", &eq)],
            ),
            (
                "limit=25&filter={score:{_lt:100}} (indexed range, 100 items)",
                vec![("limit", "25"), ("filter", r#"{"score":{"_lt":100}}"#)],
            ),
            (
                "limit=25&filter={score:{_gte:1000}}&sort=score (indexed range and sort)",
                vec![
                    ("limit", "25"),
                    ("filter", r#"{"score":{"_gte":1000}}"#),
                    ("sort", "score"),
                ],
            ),
        ];
        for (label, pairs) in key_order_cases.iter().chain(indexed_cases.iter()) {
            let pairs: Vec<(String, String)> = pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect();
            let query = ItemsQuery::parse(&pairs, 100, 1000)?;
            let mut samples = Vec::new();
            let mut last = None;
            for _ in 0..ITEM_RUNS {
                let started = Instant::now();
                let outcome = shared::items::read_collection(
                    &store,
                    &plan,
                    &query,
                    shared::items::ScanBound {
                        items: 10_000,
                        bytes: 8 * 1024 * 1024,
                    },
                )
                .await;
                samples.push(started.elapsed().as_secs_f64() * 1000.0);
                last = Some(outcome);
            }
            let p50 = percentile(&mut samples, 0.5);
            match last.ok_or("no sample")? {
                Ok(outcome) => println!(
                    "| {label} | 200, {} items | {} | {} | {p50:.1} |",
                    outcome.items.len(),
                    outcome.stats.requests,
                    outcome.stats.examined
                ),
                Err(error) => println!(
                    "| {label} | {} {} (bound reached) | - | > 10,000 | {p50:.1} |",
                    error.status().as_u16(),
                    error.code()
                ),
            }
        }
    }
    Ok(())
}

/// Runs of each item read.
const ITEM_RUNS: usize = 7;

const TIMING_ROUNDS: usize = 200;

/// Mean, sample standard deviation and count.
fn moments(samples: &[f64]) -> (f64, f64, usize) {
    let n = samples.len();
    let mean = samples.iter().sum::<f64>() / n as f64;
    let variance = samples.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n as f64 - 1.0);
    (mean, variance.sqrt(), n)
}

/// Welch's t-test of two samples: (t, degrees of freedom, two-sided p-value).
fn welch(a: &[f64], b: &[f64]) -> Result<(f64, f64, f64), BoxError> {
    use statrs::distribution::{ContinuousCDF, StudentsT};
    let (mean_a, sd_a, n_a) = moments(a);
    let (mean_b, sd_b, n_b) = moments(b);
    let (va, vb) = (sd_a.powi(2) / n_a as f64, sd_b.powi(2) / n_b as f64);
    let t = (mean_a - mean_b) / (va + vb).sqrt();
    let df =
        (va + vb).powi(2) / (va.powi(2) / (n_a as f64 - 1.0) + vb.powi(2) / (n_b as f64 - 1.0));
    let p = 2.0 * (1.0 - StudentsT::new(0.0, 1.0, df)?.cdf(t.abs()));
    Ok((t, df, p))
}

fn transport(graphql: bool) -> &'static str {
    if graphql { "gql" } else { "rest" }
}

/// Login time for an unknown email, a wrong password and the right password, measured
/// round-robin so that machine noise falls on all three alike, then compared pairwise with
/// Welch's t-test. Each wrong password goes to its own account and each unknown email is new,
/// so every failed attempt takes the same path (a first reservation, no lock).
async fn login_timing(api: &str, graphql: bool) -> Result<(), BoxError> {
    let client = reqwest::Client::new();
    let tag = std::process::id();
    let post = |path: &str, body: Value| {
        client
            .post(format!("{api}{path}"))
            .header("content-type", "application/json")
            .body(body.to_string())
    };
    for i in 0..=TIMING_ROUNDS {
        let body = json!({"email": format!("timing-{}-{i}-{tag}@example.com", transport(graphql)), "password": "d1r3ctu5"});
        let status = post("/register", body).send().await?.status();
        if status != 204 {
            return Err(format!("registration for the timing run answered {status}").into());
        }
    }
    let mut unknown = Vec::new();
    let mut wrong = Vec::new();
    let mut right = Vec::new();
    for i in 0..TIMING_ROUNDS {
        for (samples, email, password, expected) in [
            (
                &mut unknown,
                format!("nobody-{i}-{tag}@example.com"),
                "d1r3ctu5",
                false,
            ),
            (
                &mut wrong,
                format!("timing-{}-{i}-{tag}@example.com", transport(graphql)),
                "wrong-password",
                false,
            ),
            (
                &mut right,
                format!(
                    "timing-{}-{TIMING_ROUNDS}-{tag}@example.com",
                    transport(graphql)
                ),
                "d1r3ctu5",
                true,
            ),
        ] {
            let credentials = json!({"email": email, "password": password});
            let request = if graphql {
                post(
                    "/graphql/system",
                    json!({"query": GRAPHQL_LOGIN, "variables": credentials}),
                )
            } else {
                post("/auth/login", credentials)
            };
            let started = Instant::now();
            let response = request.send().await?;
            let status = response.status().as_u16();
            let body = response.bytes().await?;
            samples.push(started.elapsed().as_secs_f64() * 1000.0);
            let logged_in = serde_json::from_slice::<Value>(&body)
                .map(|b| b["errors"].is_null() && status == 200)
                .unwrap_or(false);
            if logged_in != expected {
                return Err(format!("login for {email} answered {status}").into());
            }
        }
    }
    let (heading, failed, succeeded) = if graphql {
        ("GraphQL `auth_login`", 200, 200)
    } else {
        ("REST `POST /auth/login`", 401, 200)
    };
    println!(
        "\n## Login time by outcome, {heading} ({TIMING_ROUNDS} rounds, interleaved, Welch's t-test)\n"
    );
    println!("| outcome | status | mean ms | sd ms | median ms |\n|---|---:|---:|---:|---:|");
    for (name, status, samples) in [
        ("unknown email", failed, &mut unknown),
        ("wrong password", failed, &mut wrong),
        ("right password", succeeded, &mut right),
    ] {
        let (mean, sd, _) = moments(samples);
        let median = percentile(samples, 0.5);
        println!("| {name} | {status} | {mean:.2} | {sd:.2} | {median:.2} |");
    }
    println!("\n| pair | mean difference ms | t | df | p (two-sided) |\n|---|---:|---:|---:|---:|");
    for (name, a, b) in [
        ("unknown email vs wrong password", &unknown, &wrong),
        ("wrong password vs right password", &wrong, &right),
        ("unknown email vs right password", &unknown, &right),
    ] {
        let (t, df, p) = welch(a, b)?;
        let difference = moments(a).0 - moments(b).0;
        println!("| {name} | {difference:+.2} | {t:.2} | {df:.0} | {p:.3} |");
    }
    let (_, _, p) = welch(&unknown, &wrong)?;
    println!(
        "\nThe two refusals (unknown email, wrong password) {} at the 5% level (p = {p:.3}).",
        if p >= 0.05 {
            "are not distinguishable"
        } else {
            "ARE distinguishable"
        }
    );
    Ok(())
}

/// Rounds of the password-request timing (each request takes `EMAIL_SEND_TIMEOUT`, 1 s).
const RESET_TIMING_ROUNDS: usize = 40;

/// `POST /auth/password/request` for a registered address (a token written, a mail sent over
/// SMTP to the local inbox) and for unknown ones, interleaved, compared with Welch's t-test: the
/// answer is due `EMAIL_SEND_TIMEOUT` after the request began whatever the address.
async fn password_request_timing(api: &str) -> Result<(), BoxError> {
    let client = reqwest::Client::new();
    let tag = std::process::id();
    let known = format!("reset-timing-{tag}@example.com");
    let post = |path: &str, body: Value| {
        client
            .post(format!("{api}{path}"))
            .header("content-type", "application/json")
            .body(body.to_string())
    };
    let status = post("/register", json!({"email": known, "password": "d1r3ctu5"}))
        .send()
        .await?
        .status();
    if status != 204 {
        return Err(format!("registration for the reset timing answered {status}").into());
    }
    let mut known_samples = Vec::new();
    let mut unknown_samples = Vec::new();
    for i in 0..RESET_TIMING_ROUNDS {
        for (samples, email) in [
            (&mut known_samples, known.clone()),
            (
                &mut unknown_samples,
                format!("reset-nobody-{i}-{tag}@example.com"),
            ),
        ] {
            let started = Instant::now();
            let response = post("/auth/password/request", json!({"email": email}))
                .send()
                .await?;
            let status = response.status().as_u16();
            response.bytes().await?;
            samples.push(started.elapsed().as_secs_f64() * 1000.0);
            if status != 204 {
                return Err(format!("password request for {email} answered {status}").into());
            }
        }
    }
    println!(
        "\n## Password request time by address ({RESET_TIMING_ROUNDS} rounds, interleaved, Welch's t-test)\n"
    );
    println!("| address | status | mean ms | sd ms | median ms |\n|---|---:|---:|---:|---:|");
    for (name, samples) in [
        ("registered (token written, mail sent)", &mut known_samples),
        ("unknown", &mut unknown_samples),
    ] {
        let (mean, sd, _) = moments(samples);
        let median = percentile(samples, 0.5);
        println!("| {name} | 204 | {mean:.2} | {sd:.2} | {median:.2} |");
    }
    let (t, df, p) = welch(&known_samples, &unknown_samples)?;
    let difference = moments(&known_samples).0 - moments(&unknown_samples).0;
    println!(
        "\nregistered vs unknown: mean difference {difference:+.2} ms, t = {t:.2}, df = {df:.0}, p = {p:.3}: {}.",
        if p >= 0.05 {
            "not distinguishable at the 5% level"
        } else {
            "DISTINGUISHABLE at the 5% level"
        }
    );
    Ok(())
}
