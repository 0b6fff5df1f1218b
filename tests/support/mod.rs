//! One local stack shared by every end-to-end test in a test binary: the `devstack` binary with
//! an in-memory dynoxide on an ephemeral port and `cargo lambda watch` on a free port, mailing to
//! one local inbox (maildev) it starts. Tests isolate themselves by data (unique emails), never
//! by sleeping. The stack stops when this process exits, because it watches the stdin pipe we
//! hold open. [`mail_stack`] is a second stack with email verification on (`mail` module),
//! sharing the first one's inbox.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::Value;

pub mod faults;
pub mod invariants;
pub mod openapi;
pub mod system_graphql;

pub const SECRET: &str = "e2e-test-secret-that-is-longer-than-32-bytes";
/// Table prefix of the test stack.
pub const PREFIX: &str = "e2e-";
/// Role ids from infra/seed.json.
pub const USER_ROLE: &str = "0b6f1f0e-7c1d-4c8e-9f55-6a2b9d7e3c10";
pub const ADMIN_ROLE: &str = "7c1e2d3f-4a5b-4c6d-8e9f-0a1b2c3d4e5f";
/// Where the stack's functions write their logs.
pub const FUNCTION_LOG: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../target/e2e-functions.log");
/// Where the stack's functions record the DynamoDB access they use (`shared::store::access_log`);
/// `make test` checks it against `infra/dynamodb-access.json` after the tests.
pub const DYNAMODB_ACCESS_LOG: &str =
    concat!(env!("CARGO_MANIFEST_DIR"), "/../target/dynamodb-access.log");

pub mod mail;

pub struct Stack {
    pub api: String,
    pub dynamo: String,
    /// The local inbox's web UI and API (maildev), shared by both stacks.
    pub inbox: String,
    /// Its SMTP port.
    pub smtp_port: u16,
    _process: Child,
}

static STACK: OnceLock<Stack> = OnceLock::new();
static MAIL_STACK: OnceLock<Stack> = OnceLock::new();
/// Table prefix of the mail stack.
pub const MAIL_PREFIX: &str = "e2e-mail-";
/// The `reset_url` and `verification_url` the mail stack allows.
pub const RESET_URL: &str = "https://app.example.com/reset-password";
pub const VERIFY_URL: &str = "https://app.example.com/verify-email";

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    listener.local_addr().expect("bound address").port()
}

/// Starts the stack on first use and returns it.
pub fn stack() -> &'static Stack {
    STACK.get_or_init(|| {
        // Each run observes afresh; devstack passes the variable on to `cargo lambda watch`,
        // which passes it on to every function.
        std::fs::write(DYNAMODB_ACCESS_LOG, "").expect("the access log can be truncated");
        start(
            PREFIX,
            &["fixtures/public.json"],
            &["--inbox", "0:0"],
            &[],
            "e2e-functions.log",
        )
    })
}

/// A second stack, seeded with `tests/fixtures/email.json` (public.json's roles and policies,
/// registration with email verification on, an email filter refusing `@filtered.example.com`,
/// the mail limits), mailing to the first stack's
/// inbox. Its functions reuse no cached permissions (`PERMISSIONS_CACHE_TTL=0`), so a reset's
/// revocation is seen by the next request; they allow [`RESET_URL`] and [`VERIFY_URL`], and
/// mail Directus' default links (`HOSTED_PAGES=false`: the API's own verification route).
pub fn mail_stack() -> &'static Stack {
    MAIL_STACK.get_or_init(|| {
        let first = stack();
        let smtp = first.smtp_port.to_string();
        let mut stack = start(
            MAIL_PREFIX,
            &["fixtures/email.json"],
            &["--smtp", &smtp],
            &[
                ("PERMISSIONS_CACHE_TTL", "0"),
                // Directus' default links (the API's own verification route), which these
                // tests follow; the pages stack has the hosted pages' defaults.
                ("HOSTED_PAGES", "false"),
                ("PASSWORD_RESET_URL_ALLOW_LIST", RESET_URL),
                ("USER_REGISTER_URL_ALLOW_LIST", VERIFY_URL),
                // Generous: the machine running the tests may be busy, and a send still
                // running at the deadline is abandoned.
                ("EMAIL_SEND_TIMEOUT", "3s"),
                ("EMAIL_FROM", "no-reply@mail-test.example.com"),
            ],
            "e2e-mail-functions.log",
        );
        stack.inbox = first.inbox.clone();
        stack.smtp_port = first.smtp_port;
        stack
    })
}

static PAGES_STACK: OnceLock<Stack> = OnceLock::new();
/// Table prefix of the pages stack.
pub const PAGES_PREFIX: &str = "e2e-pages-";
/// A path on the pages stack its pages may return to after sign-in (it answers `pong`).
pub const PAGES_RETURN_PATH: &str = "/server/ping";
/// An address elsewhere its pages may return to.
pub const PAGES_RETURN_URL: &str = "https://app.example.com/callback";

/// A third stack for the hosted pages' browser test, seeded with `tests/fixtures/pages.json`:
/// public registration off (though the Public policy may create users), a login budget of 3 per
/// minute per address, and branding. What it
/// shows (registration closed, too many attempts) would break the other tests on a shared
/// stack, and the browser cannot pick its own loopback address as the HTTP clients do. It
/// mails to the first stack's inbox. Its mail settings are `make dev`'s defaults (no
/// allow-lists: the hosted pages are the links' defaults); the pages may send a user back to
/// [`PAGES_RETURN_PATH`] on it or to [`PAGES_RETURN_URL`].
pub fn pages_stack() -> &'static Stack {
    PAGES_STACK.get_or_init(|| {
        let first = stack();
        let smtp = first.smtp_port.to_string();
        let port = free_port();
        let api = format!("http://127.0.0.1:{port}");
        let returns = format!("{api}{PAGES_RETURN_PATH},{PAGES_RETURN_URL}");
        let mut stack = start_on(
            port,
            PAGES_PREFIX,
            &["fixtures/pages.json"],
            &["--smtp", &smtp],
            &[
                ("PAGES_REDIRECT_ALLOW_LIST", &returns),
                ("EMAIL_SEND_TIMEOUT", "3s"),
                ("EMAIL_FROM", "no-reply@pages-test.example.com"),
            ],
            "e2e-pages-functions.log",
        );
        assert_eq!(
            stack.api, api,
            "the pages stack listens where its allow-lists say"
        );
        stack.inbox = first.inbox.clone();
        stack.smtp_port = first.smtp_port;
        stack
    })
}

/// The pages stack's own user (its registration is off): created in its tables directly.
pub async fn pages_user(email: &str, password: &str) {
    let store = shared::store::Store::local(
        &pages_stack().dynamo,
        shared::store::Tables::with_prefix(PAGES_PREFIX),
    );
    let passwords =
        shared::credential::password::Passwords::new(shared::platform::config::HashParams {
            memory_kib: 256,
            iterations: 1,
            parallelism: 1,
        })
        .expect("hash parameters");
    let password = shared::domain::sensitive::Sensitive::new(password.to_owned());
    shared::flows::provision::create_user(&store, &passwords, email, &password, None)
        .await
        .expect("user created");
}

fn start(prefix: &str, fixtures: &[&str], args: &[&str], env: &[(&str, &str)], log: &str) -> Stack {
    start_on(free_port(), prefix, fixtures, args, env, log)
}

fn start_on(
    api_port: u16,
    prefix: &str,
    fixtures: &[&str],
    args: &[&str],
    env: &[(&str, &str)],
    log: &str,
) -> Stack {
    let workspace = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let tests = env!("CARGO_MANIFEST_DIR");
    let mut command = Command::new(env!("CARGO"));
    command
        .args(["run", "--quiet", "-p", "devstack", "--"])
        .args(["--memory", "--port", "0", "--exit-on-eof"])
        .args(["--api-port", &api_port.to_string()])
        .args(["--prefix", prefix])
        .args([
            "--seed",
            concat!(env!("CARGO_MANIFEST_DIR"), "/../infra/seed.json"),
        ]);
    for fixture in fixtures {
        command.args(["--seed", &format!("{tests}/{fixture}")]);
    }
    command
        .args(args)
        .args(["--api-log", &format!("{workspace}/target/{log}")])
        .current_dir(workspace)
        .env("SECRET", SECRET)
        .env(
            shared::store::access_log::ACCESS_LOG_VARIABLE,
            DYNAMODB_ACCESS_LOG,
        );
    for (name, value) in env {
        command.env(name, value);
    }
    let mut process = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("devstack starts");
    let stdout = process.stdout.take().expect("piped stdout");
    let mut api = None;
    let mut dynamo = None;
    let mut inbox = String::new();
    let mut smtp_port = 0;
    for line in BufReader::new(stdout).lines() {
        let line = line.expect("devstack output");
        if let Some(url) = line.strip_prefix("DYNAMODB ") {
            dynamo = Some(url.to_owned());
        }
        if let Some(url) = line.strip_prefix("INBOX ") {
            inbox = url.to_owned();
        }
        if let Some(address) = line.strip_prefix("SMTP ") {
            smtp_port = address
                .rsplit(':')
                .next()
                .and_then(|p| p.parse().ok())
                .expect("devstack printed its SMTP port");
        }
        if let Some(url) = line.strip_prefix("READY ") {
            api = Some(url.to_owned());
            break;
        }
    }
    Stack {
        api: api.unwrap_or_else(|| {
            panic!("devstack printed READY (see its stderr above and target/{log})")
        }),
        dynamo: dynamo.expect("devstack printed its DynamoDB endpoint"),
        inbox,
        smtp_port,
        _process: process,
    }
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(30))
        .build()
        .expect("HTTP client")
}

/// An address no other test uses.
/// Cargo's target directory (`CARGO_TARGET_DIR`, else the workspace's `target/`).
pub fn target_dir() -> std::path::PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            std::path::PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../target"))
        })
}

/// A binary of the workspace as `cargo build` (debug) left it.
pub fn debug_binary(name: &str) -> std::path::PathBuf {
    target_dir().join("debug").join(name)
}

pub fn unique_email(tag: &str) -> String {
    format!("{tag}-{}@example.com", uuid::Uuid::new_v4().simple())
}

pub fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs()
}

/// Waits until at least 600 ms of the current second are left, so that what follows (a few
/// requests) most likely happens within one second: what a test of whole-second `iat` against a
/// millisecond revocation cut-off needs.
pub async fn early_in_a_second() {
    while SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .subsec_millis()
        > 400
    {
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}

/// A response reduced to what tests assert on.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub body: Value,
    pub raw: String,
    pub content_type: Option<String>,
    pub set_cookies: Vec<String>,
}

impl Reply {
    pub async fn from(response: reqwest::Response) -> Self {
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let set_cookies = response
            .headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .map(str::to_owned)
            .collect();
        let raw = response.text().await.expect("response body");
        let body = serde_json::from_str(&raw).unwrap_or(Value::Null);
        Self {
            status,
            body,
            raw,
            content_type,
            set_cookies,
        }
    }

    /// Panics unless docs/openapi.yaml describes this response of `method path`.
    pub fn documented(self, method: &str, path: &str) -> Self {
        let observed = openapi::Observed {
            method,
            path,
            status: self.status,
            content_type: self.content_type.as_deref(),
            raw: &self.raw,
        };
        if let Err(problem) = openapi::conform(&observed) {
            panic!("response not as documented in docs/openapi.yaml: {problem}");
        }
        self
    }

    pub fn code(&self) -> &str {
        self.body["errors"][0]["extensions"]["code"]
            .as_str()
            .unwrap_or("")
    }

    /// The value of a cookie this response set.
    pub fn cookie(&self, name: &str) -> Option<String> {
        self.set_cookies.iter().find_map(|c| {
            let first = c.split(';').next()?;
            let (key, value) = first.split_once('=')?;
            (key.trim() == name).then(|| value.to_owned())
        })
    }
}

pub async fn post(path: &str, body: &str) -> Reply {
    post_with(path, body, &[]).await
}

pub async fn post_with(path: &str, body: &str, headers: &[(&str, &str)]) -> Reply {
    let mut request = client()
        .post(format!("{}{path}", stack().api))
        .header("content-type", "application/json")
        .body(body.to_owned());
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    Reply::from(request.send().await.expect("request sent"))
        .await
        .documented("POST", path)
}

pub async fn get(path: &str, bearer: Option<&str>) -> Reply {
    let mut request = client().get(format!("{}{path}", stack().api));
    if let Some(token) = bearer {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    Reply::from(request.send().await.expect("request sent"))
        .await
        .documented("GET", path)
}

/// Registers `email` with `password` and logs in; returns the login reply's data.
pub async fn registered_login(email: &str, password: &str) -> Value {
    let body = serde_json::json!({"email": email, "password": password}).to_string();
    let register = post("/register", &body).await;
    assert_eq!(register.status, 204, "{register:?}");
    let login = post("/auth/login", &body).await;
    assert_eq!(login.status, 200, "{login:?}");
    login.body["data"].clone()
}

/// The test stack's DynamoDB, for arranging data and checking what was written.
pub fn store() -> shared::store::Store {
    shared::store::Store::local(&stack().dynamo, shared::store::Tables::with_prefix(PREFIX))
}

/// Logs in and returns the access token.
pub async fn login_token(email: &str, password: &str) -> String {
    let login = post(
        "/auth/login",
        &serde_json::json!({"email": email, "password": password}).to_string(),
    )
    .await;
    assert_eq!(login.status, 200, "{login:?}");
    login.body["data"]["access_token"]
        .as_str()
        .expect("an access token")
        .to_owned()
}

/// An administrator's access token. The administrator is created straight in the store with
/// the operator tool's code path, as `provision create-user` would.
pub async fn admin_token() -> String {
    let (email, password) = admin_credentials().await;
    login_token(&email, &password).await
}

/// A new administrator's (email, password), created as `admin_token` creates one.
pub async fn admin_credentials() -> (String, String) {
    let email = unique_email("admin");
    let password =
        shared::domain::sensitive::Sensitive::new(format!("admin-{}", uuid::Uuid::new_v4()));
    let passwords =
        shared::credential::password::Passwords::new(shared::platform::config::HashParams {
            memory_kib: 256,
            iterations: 1,
            parallelism: 1,
        })
        .expect("hash parameters");
    shared::flows::provision::create_user(
        &store(),
        &passwords,
        &email,
        &password,
        Some(ADMIN_ROLE),
    )
    .await
    .expect("administrator created");
    (email, password.expose().to_owned())
}

/// Applies a configuration document (collections, items, policies, roles) to the test stack.
/// Tests use fresh ids and names, so no function has cached an older view of them.
pub async fn apply(document: serde_json::Value) {
    shared::flows::provision::Document::from_json(&document.to_string())
        .expect("a valid document")
        .apply(&store())
        .await
        .expect("document applied");
}

/// Creates a user through the API as an administrator and returns (id, access token).
pub async fn user_with(admin: &str, fields: serde_json::Value) -> (String, String) {
    let email = unique_email("user");
    let password = "d1r3ctu5-long";
    let mut body = fields;
    body["email"] = serde_json::json!(email);
    body["password"] = serde_json::json!(password);
    let created = post_with(
        "/users",
        &body.to_string(),
        &[("authorization", &format!("Bearer {admin}"))],
    )
    .await;
    assert_eq!(created.status, 200, "{created:?}");
    let id = created.body["data"]["id"]
        .as_str()
        .expect("an id")
        .to_owned();
    (id, login_token(&email, password).await)
}

/// POSTs `body` with exactly the given `Content-Type` (none when `None`).
pub async fn post_typed(path: &str, content_type: Option<&str>, body: &[u8]) -> Reply {
    let mut request = client()
        .post(format!("{}{path}", stack().api))
        .body(body.to_owned());
    if let Some(content_type) = content_type {
        request = request.header("content-type", content_type);
    }
    Reply::from(request.send().await.expect("request sent"))
        .await
        .documented("POST", path)
}

/// Signs `claims` with the test stack's HS256 secret.
pub fn sign(claims: &Value) -> String {
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        claims,
        &jsonwebtoken::EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .expect("claims serialize")
}

/// The claims of a token, unverified (tests read what the stack issued).
pub fn claims_of(token: &str) -> Value {
    jsonwebtoken::dangerous::insecure_decode_claims::<Value>(token).expect("a JWT")
}

/// Runs `node --test` in `tests/<directory>` with `env`, and checks that it passed and that
/// every `test(` of `files` ran. Returns how many tests ran.
pub fn node_tests(directory: &str, files: &[&str], env: &[(&str, &str)]) -> usize {
    let directory = format!("{}/{directory}", env!("CARGO_MANIFEST_DIR"));
    let output = std::process::Command::new("node")
        .args(["--test", "--test-reporter=spec"])
        .current_dir(&directory)
        .envs(env.iter().copied())
        .output()
        .expect("node runs");
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        output.status.success(),
        "the node tests in {directory} failed:\n{report}"
    );
    let tests: usize = files
        .iter()
        .map(|file| {
            std::fs::read_to_string(format!("{directory}/{file}"))
                .expect("the node test file")
                .matches("\ntest(")
                .count()
        })
        .sum();
    assert!(tests > 0, "the node tests in {directory} were found");
    assert!(
        report.contains(&format!("pass {tests}")),
        "all {tests} node tests in {directory} ran:\n{report}"
    );
    tests
}
