//! The reliability tests' own stack, apart from the end-to-end one (faults are global to it):
//! a DynamoDB emulator in a process of its own (`devstack --no-api` on an SQLite file, so it can
//! be killed and restarted on the same data and port), and the API (`devstack
//! --dynamo-endpoint <emulator> --faults`) whose functions reach DynamoDB through the
//! fault-injecting proxy (`devstack::faults`), controlled over its `/_faults` endpoint.
//!
//! Scenarios are global, so the tests that set them take [`exclusive`] first; it clears the
//! faults and makes sure the emulator runs.

use super::target_dir;
use std::io::{BufRead, BufReader};
use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

pub use devstack::faults::{DynamoError, Fault, Rule, Scenario, Stats};
use serde_json::Value;

/// Table prefix of the reliability stack.
pub const PREFIX: &str = "rel-";
const WORKSPACE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/..");

pub struct FaultStack {
    pub api: String,
    /// The emulator, straight (the invariant checks read it without faults).
    pub dynamo: String,
    /// The proxy (`<faults>/_faults` controls it).
    pub faults: String,
    port: u16,
    db: PathBuf,
    emulator: Mutex<Option<Child>>,
    _api: Child,
}

static STACK: OnceLock<FaultStack> = OnceLock::new();
static EXCLUSIVE: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn read_lines(child: &mut Child, wanted: &[&str]) -> Vec<String> {
    let stdout = child.stdout.take().expect("piped stdout");
    let mut found = vec![String::new(); wanted.len()];
    let mut lines = BufReader::new(stdout).lines();
    for line in lines.by_ref() {
        let line = line.expect("devstack output");
        for (i, prefix) in wanted.iter().enumerate() {
            if let Some(rest) = line.strip_prefix(prefix) {
                found[i] = rest.trim().to_owned();
            }
        }
        if line.starts_with("READY ") {
            break;
        }
    }
    // Keep draining, so the process never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    found
}

/// The emulator on `db`: seeded when it starts the stack (`seed`), and opened as it was when it
/// comes back on the same data (`--no-seed`). Seeding again, or devstack's default seed, would
/// put `infra/seed.json`'s settings (5 registrations a minute) in place of `public.json`'s for
/// every test after the restart (seen: registrations refused 429 with `limit: 5`).
fn start_emulator(db: &std::path::Path, port: u16, seed: bool) -> (Child, String) {
    let binary = target_dir().join("debug/devstack");
    let mut command = Command::new(&binary);
    command
        .args(["--no-api", "--exit-on-eof", "--prefix", PREFIX])
        .args(["--db", &db.to_string_lossy()])
        .args(["--port", &port.to_string()]);
    if seed {
        command
            .args(["--seed", &format!("{WORKSPACE}/infra/seed.json")])
            .args(["--seed", &format!("{WORKSPACE}/tests/fixtures/public.json")]);
    } else {
        // Without it devstack applies its default, infra/seed.json, whose 5 registrations a
        // minute then held for every later test (the stored settings showed it).
        command.arg("--no-seed");
    }
    let mut child = command
        .current_dir(WORKSPACE)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{} starts: {e}", binary.display()));
    let found = read_lines(&mut child, &["DYNAMODB "]);
    assert!(!found[0].is_empty(), "the emulator printed its endpoint");
    (child, found[0].clone())
}

/// Starts the stack on first use.
pub fn fault_stack() -> &'static FaultStack {
    STACK.get_or_init(|| {
        let built = Command::new(env!("CARGO"))
            .args(["build", "--quiet", "-p", "devstack"])
            .current_dir(WORKSPACE)
            .status()
            .expect("cargo build runs");
        assert!(built.success(), "devstack builds");
        let dir = target_dir().join("reliability");
        std::fs::create_dir_all(&dir).expect("a directory for the emulator's data");
        let db = dir.join(format!("dynamodb-{}.sqlite", std::process::id()));
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let (emulator, dynamo) = start_emulator(&db, port, true);
        let api_port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let mut api = Command::new(env!("CARGO"))
            .args(["run", "--quiet", "-p", "devstack", "--"])
            .args(["--dynamo-endpoint", &dynamo, "--faults", "--exit-on-eof"])
            .args(["--api-port", &api_port.to_string(), "--prefix", PREFIX])
            // The emulator was seeded with infra/seed.json then public.json. Applying seed.json
            // again would put its 5-registrations-a-minute settings back until public.json
            // follows; public.json alone (idempotent) leaves no such moment.
            .args(["--seed", &format!("{WORKSPACE}/tests/fixtures/public.json")])
            // Its own free ports for the inbox: the default 1025/1080 may still be held by
            // another stack's maildev on its way out.
            .args(["--inbox", "0:0"])
            .args([
                "--api-log",
                &target_dir()
                    .join("reliability-functions.log")
                    .to_string_lossy(),
            ])
            .current_dir(WORKSPACE)
            .env("SECRET", super::SECRET)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("devstack starts");
        let found = read_lines(&mut api, &["FAULTS ", "READY "]);
        assert!(
            !found[1].is_empty(),
            "devstack printed READY (see its stderr and target/reliability-functions.log)"
        );
        FaultStack {
            api: found[1].clone(),
            dynamo,
            faults: found[0].clone(),
            port,
            db,
            emulator: Mutex::new(Some(emulator)),
            _api: api,
        }
    })
}

impl FaultStack {
    /// Kills the emulator (SIGKILL: no chance to flush or close anything).
    pub fn kill_emulator(&self) {
        let mut emulator = self.emulator.lock().expect("emulator handle");
        if let Some(mut child) = emulator.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the emulator again on the same file and port, if it is not running.
    pub fn start_emulator(&self) {
        let mut emulator = self.emulator.lock().expect("emulator handle");
        if emulator.is_none() {
            // The port was just released; retry briefly if the kernel still holds it.
            for _ in 0..50 {
                if std::net::TcpListener::bind(("127.0.0.1", self.port)).is_ok() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            let (child, url) = start_emulator(&self.db, self.port, false);
            assert_eq!(url, self.dynamo, "the emulator came back on its port");
            *emulator = Some(child);
        }
    }

    /// The emulator's tables, read directly (no faults).
    pub fn store(&self) -> shared::store::Store {
        shared::store::Store::local(&self.dynamo, shared::store::Tables::with_prefix(PREFIX))
    }

    /// Puts `scenario` in force in the proxy (its counts restart).
    pub async fn set(&self, scenario: &Scenario) {
        let response = reqwest::Client::new()
            .put(format!("{}{}", self.faults, devstack::faults::CONTROL_PATH))
            .body(devstack::faults::scenario_json(scenario))
            .send()
            .await
            .expect("the fault proxy answers");
        assert_eq!(response.status(), 200, "scenario accepted");
    }

    pub async fn clear(&self) {
        self.set(&Scenario::none()).await;
    }

    /// What the proxy saw since the scenario was set.
    pub async fn stats(&self) -> Stats {
        let body: Value = reqwest::Client::new()
            .get(format!("{}{}", self.faults, devstack::faults::CONTROL_PATH))
            .send()
            .await
            .expect("the fault proxy answers")
            .json()
            .await
            .expect("JSON");
        serde_json::from_value(body["stats"].clone()).expect("stats")
    }
}

/// The stack, for one test at a time, with no faults and the emulator running.
pub async fn exclusive() -> (tokio::sync::MutexGuard<'static, ()>, &'static FaultStack) {
    let guard = EXCLUSIVE.lock().await;
    let stack = tokio::task::spawn_blocking(|| {
        let stack = fault_stack();
        stack.start_emulator();
        stack
    })
    .await
    .expect("the stack starts");
    stack.clear().await;
    (guard, stack)
}

/// A loopback address no other test uses (the API sees it as the client's address, so rate
/// limits count this test's requests alone).
pub fn unique_address() -> IpAddr {
    let n: u32 = rand::random_range(1..(1 << 23));
    IpAddr::V4(Ipv4Addr::new(
        127,
        128 | ((n >> 16) as u8 & 0x7f),
        (n >> 8) as u8,
        (n as u8).max(1),
    ))
}

/// An HTTP client whose requests come from `address`. Its timeout is far past every budget, so
/// a hang shows as a slow answer the test measures, not a client error.
pub fn client_from(address: IpAddr) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(address)
        .timeout(Duration::from_secs(60))
        .pool_max_idle_per_host(4)
        .build()
        .expect("HTTP client")
}

/// The session id a refresh token names (its first 16 bytes).
pub fn session_of(refresh_token: &str) -> String {
    use base64::Engine as _;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(refresh_token)
        .expect("a refresh token is base64url");
    uuid::Uuid::from_slice(&bytes[..16])
        .expect("16 bytes of session id")
        .to_string()
}
