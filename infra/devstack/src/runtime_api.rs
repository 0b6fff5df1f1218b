//! A minimal Lambda Runtime API (the calls a function's runtime client makes), to run a release
//! binary as Lambda does — spawned with `AWS_LAMBDA_RUNTIME_API` pointing here — and hand it
//! invocations one at a time. `make bench` measures cold starts, DynamoDB requests per
//! invocation and resident memory with it.
//!
//! Each connection is served on its own task: the runtime client may post a response on a new
//! connection while another is still open, and serving connections one after another would then
//! wait on the first forever.

use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::process::{Child, Command};
use tokio::sync::{Mutex, mpsc};

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A request with a JSON body (if any) as API Gateway's HTTP API (payload 2.0) sends it to a
/// function: `target` is the path with its query string, `source_ip` the client's address.
pub fn http_api_event(
    method: &str,
    target: &str,
    bearer: Option<&str>,
    body: Option<Value>,
    source_ip: &str,
) -> Value {
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let mut headers =
        serde_json::json!({"content-type": "application/json", "user-agent": "bench"});
    if let Some(token) = bearer {
        headers["authorization"] = Value::String(format!("Bearer {token}"));
    }
    serde_json::json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": query,
        "headers": headers,
        "requestContext": {
            "accountId": "000000000000", "apiId": "bench", "domainName": "localhost",
            "domainPrefix": "localhost", "requestId": "bench", "routeKey": "$default",
            "stage": "$default", "time": "01/Jan/2026:00:00:00 +0000", "timeEpoch": 0,
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1",
                     "sourceIp": source_ip, "userAgent": "bench"}
        },
        "body": body.map(|b| b.to_string()),
        "isBase64Encoded": false
    })
}

/// What the function posted for one invocation.
#[derive(Debug)]
pub struct Answer {
    /// When the response reached the Runtime API.
    pub at: Instant,
    pub status: u16,
    pub response: Value,
    /// The event this answers, matched by the request id the response was posted under.
    pub event: Value,
}

/// A function process and the Runtime API it takes its invocations from.
pub struct FunctionProcess {
    child: Child,
    spawned: Instant,
    ready: Arc<OnceLock<Instant>>,
    in_flight: Arc<InFlight>,
    events: mpsc::Sender<String>,
    answers: mpsc::Receiver<Result<Answer, String>>,
    server: tokio::task::JoinHandle<()>,
}

/// Invocations handed out and not yet answered, and the most there were at once.
#[derive(Debug, Default)]
struct InFlight {
    now: std::sync::atomic::AtomicUsize,
    most: std::sync::atomic::AtomicUsize,
}

impl InFlight {
    fn handed_out(&self) {
        use std::sync::atomic::Ordering::SeqCst;
        let now = self.now.fetch_add(1, SeqCst) + 1;
        self.most.fetch_max(now, SeqCst);
    }

    fn answered(&self) {
        self.now.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
    }
}

/// Resident memory of a process, from `/proc/<pid>/status`, in bytes.
#[derive(Debug, Clone, Copy)]
pub struct Memory {
    /// `VmRSS`: resident now.
    pub resident: u64,
    /// `VmHWM`: the most it was resident at once.
    pub peak: u64,
}

impl FunctionProcess {
    /// Spawns `binary` with exactly `environment` (and `AWS_LAMBDA_RUNTIME_API`), stdout
    /// discarded, stderr inherited (a function that fails at start-up says why).
    pub async fn spawn(binary: &Path, environment: &[(&str, &str)]) -> Result<Self, BoxError> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let runtime_api = listener.local_addr()?.to_string();
        let ready = Arc::new(OnceLock::new());
        let in_flight = Arc::new(InFlight::default());
        let (events, pending) = mpsc::channel::<String>(1);
        let (answer, answers) = mpsc::channel(64);
        let server = tokio::spawn(serve(
            listener,
            Arc::clone(&ready),
            Arc::clone(&in_flight),
            Arc::new(Mutex::new(pending)),
            answer,
        ));
        let spawned = Instant::now();
        let child = Command::new(binary)
            .env_clear()
            .envs(environment.iter().copied())
            .env("AWS_LAMBDA_RUNTIME_API", &runtime_api)
            .stdout(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("{}: {e}", binary.display()))?;
        Ok(Self {
            child,
            spawned,
            ready,
            in_flight,
            events,
            answers,
            server,
        })
    }

    /// When the process was spawned.
    pub fn spawned(&self) -> Instant {
        self.spawned
    }

    /// When the function first asked for an invocation (its initialisation done).
    pub fn ready(&self) -> Option<Instant> {
        self.ready.get().copied()
    }

    /// Hands `event` to the function and waits for its answer (at most `limit`).
    pub async fn invoke(&mut self, event: &Value, limit: Duration) -> Result<Answer, BoxError> {
        let outcome = tokio::time::timeout(limit, async {
            self.events
                .send(event.to_string())
                .await
                .map_err(|_| "the Runtime API stopped")?;
            self.answers
                .recv()
                .await
                .ok_or("the Runtime API stopped")?
                .map_err(BoxError::from)
        })
        .await;
        match outcome {
            Ok(answer) => answer,
            Err(_) => match self.child.try_wait()? {
                Some(status) => Err(format!("the function exited ({status})").into()),
                None => Err(format!("the function did not answer within {limit:?}").into()),
            },
        }
    }

    /// Hands out all `events` as fast as the function asks for them, then collects their
    /// answers (in the order they arrive), within `limit` in all.
    pub async fn invoke_all(
        &mut self,
        events: &[Value],
        limit: Duration,
    ) -> Result<Vec<Answer>, BoxError> {
        let outcome = tokio::time::timeout(limit, async {
            let mut answers = Vec::with_capacity(events.len());
            let mut sent = 0;
            while answers.len() < events.len() {
                tokio::select! {
                    permit = self.events.reserve(), if sent < events.len() => {
                        permit.map_err(|_| "the Runtime API stopped")?.send(events[sent].to_string());
                        sent += 1;
                    }
                    answer = self.answers.recv() => {
                        answers.push(answer.ok_or("the Runtime API stopped")??);
                    }
                }
            }
            Ok::<_, BoxError>(answers)
        })
        .await;
        outcome.map_err(|_| format!("the function did not answer within {limit:?}"))?
    }

    /// The most invocations the function had been handed and had not answered at once.
    pub fn most_in_flight(&self) -> usize {
        self.in_flight
            .most
            .load(std::sync::atomic::Ordering::SeqCst)
    }

    /// The process's resident memory now and at its peak.
    pub fn memory(&self) -> Result<Memory, BoxError> {
        let pid = self.child.id().ok_or("the function has exited")?;
        let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
        let kib = |name: &str| -> Result<u64, BoxError> {
            let line = status
                .lines()
                .find(|line| line.starts_with(name))
                .ok_or_else(|| format!("no {name} in /proc/{pid}/status"))?;
            let value: u64 = line[name.len()..]
                .trim()
                .trim_end_matches("kB")
                .trim()
                .parse()?;
            Ok(value * 1024)
        };
        Ok(Memory {
            resident: kib("VmRSS:")?,
            peak: kib("VmHWM:")?,
        })
    }

    pub async fn stop(mut self) {
        let _ = self.child.kill().await;
        self.server.abort();
    }
}

async fn serve(
    listener: TcpListener,
    ready: Arc<OnceLock<Instant>>,
    in_flight: Arc<InFlight>,
    pending: Arc<Mutex<mpsc::Receiver<String>>>,
    answers: mpsc::Sender<Result<Answer, String>>,
) {
    let invocations = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let handed_out = Arc::new(std::sync::Mutex::new(std::collections::HashMap::new()));
    let mut connections = tokio::task::JoinSet::new();
    while let Ok((stream, _)) = listener.accept().await {
        let connection = Connection {
            ready: Arc::clone(&ready),
            in_flight: Arc::clone(&in_flight),
            handed_out: Arc::clone(&handed_out),
            pending: Arc::clone(&pending),
            answers: answers.clone(),
            invocations: Arc::clone(&invocations),
        };
        connections.spawn(async move {
            if let Err(error) = connection.serve(stream).await {
                let _ = connection.answers.send(Err(error.to_string())).await;
            }
        });
    }
}

struct Connection {
    ready: Arc<OnceLock<Instant>>,
    in_flight: Arc<InFlight>,
    handed_out: Arc<std::sync::Mutex<std::collections::HashMap<String, String>>>,
    pending: Arc<Mutex<mpsc::Receiver<String>>>,
    answers: mpsc::Sender<Result<Answer, String>>,
    invocations: Arc<std::sync::atomic::AtomicU64>,
}

impl Connection {
    /// Serves the runtime client's requests on one connection until it closes.
    async fn serve(&self, stream: TcpStream) -> Result<(), BoxError> {
        let mut reader = BufReader::new(stream);
        loop {
            let mut request_line = String::new();
            if reader.read_line(&mut request_line).await? == 0 {
                return Ok(());
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
            let path = request_line.split_whitespace().nth(1).unwrap_or("");
            if path.ends_with("/invocation/next") {
                let _ = self.ready.set(Instant::now());
                let Some(event) = self.pending.lock().await.recv().await else {
                    return Ok(());
                };
                self.in_flight.handed_out();
                let id = format!(
                    "bench-{}",
                    self.invocations
                        .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
                );
                self.handed_out
                    .lock()
                    .map_err(|_| "the invocation table is poisoned")?
                    .insert(id.clone(), event.clone());
                let deadline = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)?
                    .as_millis()
                    + 30_000;
                let response = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n\
                     lambda-runtime-aws-request-id: {id}\r\n\
                     lambda-runtime-deadline-ms: {deadline}\r\n\
                     lambda-runtime-invoked-function-arn: arn:aws:lambda:us-east-1:000000000000:function:bench\r\n\
                     lambda-runtime-trace-id: Root=1-00000000-000000000000000000000000\r\n\
                     content-length: {}\r\n\r\n{event}",
                    event.len()
                );
                reader.get_mut().write_all(response.as_bytes()).await?;
            } else if path.ends_with("/response") {
                let at = Instant::now();
                self.in_flight.answered();
                // `/2018-06-01/runtime/invocation/<id>/response`
                let id = path.rsplit('/').nth(1).unwrap_or_default();
                let event = self
                    .handed_out
                    .lock()
                    .map_err(|_| "the invocation table is poisoned")?
                    .remove(id)
                    .ok_or_else(|| {
                        format!("a response for an invocation never handed out: {id}")
                    })?;
                reader
                    .get_mut()
                    .write_all(b"HTTP/1.1 202 Accepted\r\ncontent-length: 0\r\n\r\n")
                    .await?;
                let response: Value = serde_json::from_slice(&payload).unwrap_or(Value::Null);
                let status = response["statusCode"]
                    .as_u64()
                    .and_then(|s| u16::try_from(s).ok())
                    .ok_or_else(|| format!("the function answered {response}"))?;
                let _ = self
                    .answers
                    .send(Ok(Answer {
                        at,
                        status,
                        response,
                        event: serde_json::from_str(&event)?,
                    }))
                    .await;
            } else {
                return Err(format!(
                    "the function reported an error on {path}: {}",
                    String::from_utf8_lossy(&payload)
                )
                .into());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Against a stand-in runtime client: events are handed out in order, each answer comes
    /// back, and the client's first request is recorded.
    #[tokio::test]
    async fn invocations_are_handed_out_in_order_and_answered() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let ready = Arc::new(OnceLock::new());
        let (events, pending) = mpsc::channel::<String>(1);
        let (answer, mut answers) = mpsc::channel(1);
        tokio::spawn(serve(
            listener,
            Arc::clone(&ready),
            Arc::new(InFlight::default()),
            Arc::new(Mutex::new(pending)),
            answer,
        ));
        // A runtime client: takes each event and answers its `n` as the status.
        tokio::spawn(async move {
            let client = reqwest::Client::new();
            let base = format!("http://{address}/2018-06-01/runtime/invocation");
            loop {
                let next = client.get(format!("{base}/next")).send().await.unwrap();
                let id = next.headers()["lambda-runtime-aws-request-id"]
                    .to_str()
                    .unwrap()
                    .to_owned();
                let event: Value = next.json().await.unwrap();
                client
                    .post(format!("{base}/{id}/response"))
                    .body(serde_json::json!({"statusCode": event["n"]}).to_string())
                    .send()
                    .await
                    .unwrap();
            }
        });
        for n in [200, 401, 204] {
            events
                .send(serde_json::json!({ "n": n }).to_string())
                .await
                .unwrap();
            let answer = answers.recv().await.unwrap().unwrap();
            assert_eq!(answer.status, n);
        }
        assert!(ready.get().is_some());
    }
}
