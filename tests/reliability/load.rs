//! A bounded load over the reliability stack: a fixed number of clients for a fixed time, from
//! loopback addresses, each running the journey register → login → read → three concurrent
//! refreshes of one token → refresh → me → logout, over and over; then it stops by itself.
//! Without faults: no 5xx at all, every 204 registration logs in, every refresh round rotates
//! its session once (all concurrent answers carry the same new token). With faults: every
//! failure is a promised 503, the 503s never outnumber the injected faults, and the invariants
//! hold. `make soak` runs it longer (`RELIABILITY_SOAK=1`); both print p50/p99 per endpoint and
//! the sustained rate, and append them to `target/reliability-load.md`.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use e2e::faults::{DynamoError, Fault, FaultStack, Rule, Scenario, exclusive, session_of};
use e2e::invariants::{Expect, Expectations, assert_hold};

use crate::api::{Answer, Api, PASSWORD};

/// Clients and duration: short in `make test`, longer in `make soak`.
pub fn shape() -> (usize, Duration) {
    if std::env::var_os("RELIABILITY_SOAK").is_some() {
        let secs = std::env::var("RELIABILITY_SOAK_SECS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(60);
        let clients = std::env::var("RELIABILITY_SOAK_CLIENTS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(12);
        (clients, Duration::from_secs(secs))
    } else {
        (6, Duration::from_secs(5))
    }
}

/// What the clients saw.
#[derive(Debug, Default)]
pub struct Tally {
    pub latencies: BTreeMap<&'static str, Vec<Duration>>,
    pub statuses: BTreeMap<(&'static str, u16), u64>,
    /// Addresses a 204 answered, and whether a login with them succeeded during the run.
    pub registered: Vec<(String, bool)>,
    pub expectations: Expectations,
    /// Answers that break a promise.
    pub broken: Vec<String>,
    /// Complete journeys (every step answered as without faults).
    pub journeys: u64,
    /// When each complete journey ended, since the load started.
    pub journey_ends: Vec<Duration>,
}

impl Tally {
    pub fn requests(&self) -> u64 {
        self.statuses.values().sum()
    }

    pub fn count(&self, status: u16) -> u64 {
        self.statuses
            .iter()
            .filter(|((_, s), _)| *s == status)
            .map(|(_, n)| n)
            .sum()
    }

    pub fn server_errors(&self) -> u64 {
        self.statuses
            .iter()
            .filter(|((_, s), _)| *s >= 500)
            .map(|(_, n)| n)
            .sum()
    }
}

/// The generation a refresh token names (bytes 16..20).
fn generation_of(refresh_token: &str) -> u32 {
    use base64::Engine as _;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(refresh_token)
        .expect("base64url");
    u32::from_be_bytes(bytes[16..20].try_into().expect("four bytes"))
}

struct Client {
    api: Api,
    tally: Arc<Mutex<Tally>>,
    /// Faults may be on (or DynamoDB away): a promised 503 is then an allowed answer.
    faults: bool,
}

impl Client {
    /// Records an answer; true when it is the one expected without faults.
    fn record(&self, answer: &Answer, expected: u16) -> bool {
        let mut tally = self.tally.lock().expect("tally");
        *tally
            .statuses
            .entry((answer.endpoint, answer.status))
            .or_default() += 1;
        if answer.status == expected {
            tally
                .latencies
                .entry(answer.endpoint)
                .or_default()
                .push(answer.elapsed);
            return true;
        }
        if !(self.faults && answer.is_promised_503()) {
            tally.broken.push(format!(
                "{} answered {} (expected {expected}) after {:?}: {}",
                answer.endpoint, answer.status, answer.elapsed, answer.body
            ));
        }
        false
    }

    fn expect(&self, session: &str, expect: Expect) {
        self.tally
            .lock()
            .expect("tally")
            .expectations
            .insert(session.to_owned(), expect);
    }

    /// One journey; true when every step answered as without faults.
    async fn journey(&self, started: Instant) -> bool {
        let email = e2e::unique_email("load");
        let registered = self.api.register(&email, PASSWORD).await;
        if !self.record(&registered, 204) {
            return false;
        }
        let index = {
            let mut tally = self.tally.lock().expect("tally");
            tally.registered.push((email.clone(), false));
            tally.registered.len() - 1
        };
        let login = self.api.login(&email, PASSWORD).await;
        if !self.record(&login, 200) {
            return false;
        }
        self.tally.lock().expect("tally").registered[index].1 = true;
        let access = login.data("access_token").unwrap_or_default();
        let mut refresh = login.data("refresh_token").unwrap_or_default();
        let session = session_of(&refresh);
        // What the session's generation may be: known exactly after a 200.
        let (mut low, mut high) = (0u32, 0u32);
        self.expect(
            &session,
            Expect::Generation {
                at_least: 0,
                at_most: 0,
            },
        );
        let mut whole = true;

        let read = self.api.read(&access).await;
        whole &= self.record(&read, 200);

        // Three tabs refresh with one token at once: one rotation, one new pair for all.
        let (a, b, c) = tokio::join!(
            self.api.refresh(&refresh),
            self.api.refresh(&refresh),
            self.api.refresh(&refresh)
        );
        let mut pairs = Vec::new();
        for answer in [&a, &b, &c] {
            if self.record(answer, 200) {
                pairs.push(answer.data("refresh_token").unwrap_or_default());
            } else {
                whole = false;
            }
        }
        pairs.dedup();
        match pairs.as_slice() {
            [] => high += 1,
            [token] => {
                let g = generation_of(token);
                if g != low + 1 {
                    self.tally.lock().expect("tally").broken.push(format!(
                        "concurrent refreshes of generation {low} answered generation {g}"
                    ));
                }
                (low, high) = (g, g);
                refresh.clone_from(token);
            }
            several => self.tally.lock().expect("tally").broken.push(format!(
                "concurrent refreshes of one token answered different pairs: {several:?}"
            )),
        }
        self.expect(
            &session,
            Expect::Generation {
                at_least: low,
                at_most: high,
            },
        );

        let next = self.api.refresh(&refresh).await;
        if self.record(&next, 200) {
            let token = next.data("refresh_token").unwrap_or_default();
            let g = generation_of(&token);
            if g < low + 1 || g > high + 1 {
                self.tally.lock().expect("tally").broken.push(format!(
                    "a refresh from generation {low}..={high} answered generation {g}"
                ));
            }
            (low, high) = (g, g);
            refresh = token;
        } else {
            whole = false;
            high += 1;
        }
        self.expect(
            &session,
            Expect::Generation {
                at_least: low,
                at_most: high,
            },
        );

        let me = self.api.me(&access).await;
        whole &= self.record(&me, 200);

        let logout = self.api.logout(&refresh).await;
        if self.record(&logout, 204) {
            self.expect(&session, Expect::Gone);
        } else {
            whole = false;
            self.expect(
                &session,
                Expect::GoneOr {
                    at_least: low,
                    at_most: high,
                },
            );
        }
        if whole {
            let mut tally = self.tally.lock().expect("tally");
            tally.journeys += 1;
            tally.journey_ends.push(started.elapsed());
        }
        whole
    }
}

/// Runs `clients` journeys in a loop each for `duration`, then waits for the journeys under way.
pub async fn run(clients: usize, duration: Duration, faults: bool) -> Tally {
    let tally = Arc::new(Mutex::new(Tally::default()));
    let started = Instant::now();
    let tasks: Vec<_> = (0..clients)
        .map(|_| {
            let client = Client {
                api: Api::from(e2e::faults::unique_address()),
                tally: tally.clone(),
                faults,
            };
            tokio::spawn(async move {
                while started.elapsed() < duration {
                    client.journey(started).await;
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("a client task");
    }
    let elapsed = started.elapsed();
    let mut tally = Arc::try_unwrap(tally)
        .expect("the clients are done")
        .into_inner()
        .expect("tally");
    tally
        .latencies
        .entry("(elapsed)")
        .or_default()
        .push(elapsed);
    tally
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

/// A markdown table of the run.
pub fn report(title: &str, clients: usize, tally: &Tally) -> String {
    let elapsed = tally.latencies["(elapsed)"][0];
    let mut out = format!(
        "### {title}\n\n{clients} clients for {:.1} s: {} requests ({:.1}/s sustained), {} complete journeys, {} answered 503, {} other 5xx\n\n| endpoint | answered as expected | p50 | p99 | 503 |\n|---|---:|---:|---:|---:|\n",
        elapsed.as_secs_f64(),
        tally.requests(),
        tally.requests() as f64 / elapsed.as_secs_f64(),
        tally.journeys,
        tally.count(503),
        tally.server_errors() - tally.count(503),
    );
    for (endpoint, latencies) in &tally.latencies {
        if endpoint.starts_with('(') {
            continue;
        }
        let mut sorted = latencies.clone();
        sorted.sort();
        let unavailable = tally.statuses.get(&(*endpoint, 503)).copied().unwrap_or(0);
        out.push_str(&format!(
            "| {endpoint} | {} | {:.0} ms | {:.0} ms | {unavailable} |\n",
            sorted.len(),
            percentile(&sorted, 0.50).as_secs_f64() * 1000.0,
            percentile(&sorted, 0.99).as_secs_f64() * 1000.0,
        ));
    }
    out
}

pub fn publish(text: &str) {
    println!("{text}");
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../target/reliability-load.md");
    if let Ok(mut file) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
    {
        use std::io::Write as _;
        let _ = writeln!(file, "{text}");
    }
}

/// Every address a 204 answered logs in (once the faults are off), and the invariants hold.
pub async fn settle(stack: &FaultStack, tally: &Tally) {
    let api = Api::from(e2e::faults::unique_address());
    let unproven: Vec<&String> = tally
        .registered
        .iter()
        .filter(|(_, logged_in)| !logged_in)
        .map(|(email, _)| email)
        .collect();
    for chunk in unproven.chunks(4) {
        let logins: Vec<_> = chunk
            .iter()
            .map(|email| {
                let (api, email) = (api.clone(), (*email).clone());
                tokio::spawn(async move { (api.login(&email, PASSWORD).await, email) })
            })
            .collect();
        for login in logins {
            let (answer, email) = login.await.expect("a login task");
            assert_eq!(
                answer.status, 200,
                "{email} was registered (204) and logs in: {answer:?}"
            );
        }
    }
    assert_hold(&stack.store(), &tally.expectations).await;
}

#[tokio::test]
async fn bounded_load_without_faults() {
    let (_guard, stack) = exclusive().await;
    let (clients, duration) = shape();
    let tally = run(clients, duration, false).await;
    publish(&report("Without faults", clients, &tally));
    assert!(
        tally.broken.is_empty(),
        "{} broken answers:\n{}",
        tally.broken.len(),
        tally.broken.join("\n")
    );
    assert_eq!(tally.server_errors(), 0);
    assert!(tally.journeys > 0, "journeys completed");
    assert!(tally.registered.iter().all(|(_, logged_in)| *logged_in));
    settle(stack, &tally).await;
}

/// A mix of faults on a fraction of DynamoDB calls: throttling, server errors, reset
/// connections before and after DynamoDB applied the request, and slow answers.
pub fn mixed_faults(fraction: f64) -> Scenario {
    let rule = |operation: Option<&str>, fault: Fault| Rule {
        fraction,
        ..Rule::every(operation, fault)
    };
    Scenario::with(vec![
        rule(
            None,
            Fault::Error {
                error: DynamoError::ThrottlingException,
            },
        ),
        rule(
            None,
            Fault::Error {
                error: DynamoError::InternalServerError,
            },
        ),
        rule(Some("UpdateItem"), Fault::ResetAfter),
        rule(Some("GetItem"), Fault::Reset),
        rule(
            Some("TransactWriteItems"),
            Fault::Error {
                error: DynamoError::TransactionConflict,
            },
        ),
        rule(None, Fault::Delay { ms: 300 }),
    ])
}

#[tokio::test]
async fn bounded_load_with_faults() {
    let (_guard, stack) = exclusive().await;
    let (clients, duration) = shape();
    stack.set(&mixed_faults(0.05)).await;
    let tally = run(clients, duration, true).await;
    let stats = stack.stats().await;
    stack.clear().await;
    let injected: u64 = stats
        .injected
        .iter()
        .filter(|(fault, _)| fault.as_str() != "delay")
        .map(|(_, n)| n)
        .sum();
    publish(&format!(
        "{}\nDynamoDB calls: {}, failures injected: {injected} ({:.1}%), slowed: {}; requests answered 503: {} of {} ({:.1}%)\n",
        report(
            "With 5% of DynamoDB calls failing per fault kind",
            clients,
            &tally
        ),
        stats.total_requests(),
        100.0 * injected as f64 / stats.total_requests().max(1) as f64,
        stats.injected.get("delay").copied().unwrap_or(0),
        tally.count(503),
        tally.requests(),
        100.0 * tally.count(503) as f64 / tally.requests().max(1) as f64,
    ));
    assert!(
        tally.broken.is_empty(),
        "{} broken answers:\n{}",
        tally.broken.len(),
        tally.broken.join("\n")
    );
    assert!(injected > 0, "faults were injected: {stats:?}");
    assert!(
        tally.count(503) <= injected,
        "every 503 stems from at least one injected failure: {} 503s, {injected} failures",
        tally.count(503)
    );
    assert_eq!(tally.server_errors(), tally.count(503), "no 5xx but 503");
    assert!(tally.journeys > 0, "journeys completed");
    settle(stack, &tally).await;
}
