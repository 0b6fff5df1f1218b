//! The local stack in one process: an embedded dynoxide (DynamoDB on SQLite) with the tables
//! created and `infra/seed.json` applied, then every function run by `cargo lambda watch` on an
//! internal port behind a stand-in for API Gateway on the API port (`gateway`: routes, CORS,
//! payload 2.0 events, limits, as the deployed HTTP API), warmed so that the first real request
//! does not wait for a compile.
//!
//! Mail goes to a local inbox: maildev (npm, pinned in `infra/maildev`), an SMTP catcher with a
//! web inbox on loopback (`--inbox SMTP:WEB`, 1025:1080 by default), or to a catcher already
//! running (`--smtp PORT`, as the tests' second stack shares the first one's).
//!
//! `devstack --db .local/dynamodb.sqlite --port 8000 --api-port 9000` is what `make dev` runs.
//! Tests run `devstack --memory --port 0 --api-port <free> --exit-on-eof` and read the
//! `READY` line; the stack stops when their stdin pipe closes, however the test process ends.
//!
//! `--faults` puts the fault-injecting proxy (`devstack::faults`) between the functions and
//! DynamoDB and prints `FAULTS <url>` (its control endpoint is `<url>/_faults`);
//! `--dynamo-endpoint URL` uses a DynamoDB already running (another `devstack --no-api`, which a
//! test can stop and restart) instead of an embedded one. The reliability tests use both.

mod gateway;

use devstack::faults::FaultProxy;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use dynoxide::Database;
use shared::flows::provision::Document;
use shared::store::{Store, Tables, ensure_tables};
use tokio::io::AsyncReadExt;
use tokio::process::{Child, Command};

struct Options {
    db: Option<PathBuf>,
    port: u16,
    api_port: Option<u16>,
    seeds: Vec<PathBuf>,
    /// No seed at all, not even the default (`--no-seed`): a database that already holds its
    /// configuration, opened again as it was.
    no_seed: bool,
    prefix: String,
    exit_on_eof: bool,
    api_log: Option<PathBuf>,
    release: bool,
    /// Instances of each function `cargo lambda watch` may run at once, as Lambda runs
    /// concurrent requests in separate instances.
    concurrency: u16,
    /// Invocations one function process serves at once (`run_concurrent`), as an execution
    /// environment of Lambda Managed Instances does.
    instance_concurrency: u16,
    cors_origins: String,
    /// Start maildev on these loopback ports (SMTP, web); 0 picks a free one.
    inbox: Option<(u16, u16)>,
    /// Send mail to an SMTP catcher already listening on this loopback port.
    smtp: Option<u16>,
    workspace: PathBuf,
    /// A DynamoDB to use instead of the embedded one.
    dynamo_endpoint: Option<String>,
    /// The fault proxy between the functions and DynamoDB.
    faults: bool,
}

const USAGE: &str = "usage: devstack [--db FILE | --memory] [--port N] [--api-port N | --no-api] \
     [--seed FILE]... [--no-seed] [--prefix P] [--exit-on-eof] [--api-log FILE] [--release] \
     [--cors-origins A,B] [--concurrency N] [--instance-concurrency N] \
     [--inbox SMTP:WEB | --no-inbox | --smtp PORT] \
     [--dynamo-endpoint URL] [--faults]

The local stack (`make dev` runs it): DynamoDB (dynoxide) on --port (8000) with its tables and
the seeds applied (infra/seed.json unless --seed is given; none with --no-seed, for a database
opened again as it was), the local inbox (maildev, SMTP 1025,
web 1080), and every function under `cargo lambda watch` (--release for release builds,
--concurrency processes per function, default 4, each serving --instance-concurrency
invocations at once, default 8) behind an API Gateway stand-in on
--api-port (9000). Prints `DYNAMODB <url>` and `READY <url>` when it serves.";

fn usage() -> ! {
    eprintln!("{USAGE}");
    std::process::exit(2)
}

fn parse_options() -> Options {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut options = Options {
        db: Some(workspace.join(".local/dynamodb.sqlite")),
        port: 8000,
        api_port: Some(9000),
        seeds: Vec::new(),
        no_seed: false,
        prefix: "directus-".into(),
        exit_on_eof: false,
        api_log: None,
        release: false,
        concurrency: 4,
        instance_concurrency: 8,
        // As the template's `CorsAllowOrigins` parameter.
        cors_origins: std::env::var("CORS_ALLOW_ORIGINS")
            .unwrap_or_else(|_| gateway::DEFAULT_CORS_ORIGINS.to_owned()),
        inbox: Some((1025, 1080)),
        smtp: None,
        workspace,
        dynamo_endpoint: None,
        faults: false,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().unwrap_or_else(|| usage());
        match arg.as_str() {
            "--db" => options.db = Some(PathBuf::from(value())),
            "--memory" => options.db = None,
            "--port" => options.port = value().parse().unwrap_or_else(|_| usage()),
            "--api-port" => options.api_port = Some(value().parse().unwrap_or_else(|_| usage())),
            "--no-api" => options.api_port = None,
            "--seed" => options.seeds.push(PathBuf::from(value())),
            "--no-seed" => options.no_seed = true,
            "--prefix" => options.prefix = value(),
            "--exit-on-eof" => options.exit_on_eof = true,
            "--api-log" => options.api_log = Some(PathBuf::from(value())),
            "--release" => options.release = true,
            "--concurrency" => {
                options.concurrency = value()
                    .parse()
                    .ok()
                    .filter(|n| *n > 0)
                    .unwrap_or_else(|| usage())
            }
            "--instance-concurrency" => {
                options.instance_concurrency = value()
                    .parse()
                    .ok()
                    .filter(|n| *n > 0)
                    .unwrap_or_else(|| usage())
            }
            "--cors-origins" => options.cors_origins = value(),
            "--inbox" => {
                let raw = value();
                let (smtp, web) = raw.split_once(':').unwrap_or_else(|| usage());
                options.inbox = Some((
                    smtp.parse().unwrap_or_else(|_| usage()),
                    web.parse().unwrap_or_else(|_| usage()),
                ));
                options.smtp = None;
            }
            "--no-inbox" => options.inbox = None,
            "--smtp" => {
                options.smtp = Some(value().parse().unwrap_or_else(|_| usage()));
                options.inbox = None;
            }
            "--dynamo-endpoint" => options.dynamo_endpoint = Some(value()),
            "--faults" => options.faults = true,
            "-h" | "--help" => {
                println!("{USAGE}");
                std::process::exit(0)
            }
            _ => usage(),
        }
    }
    if options.no_seed && !options.seeds.is_empty() {
        usage();
    }
    if options.seeds.is_empty() && !options.no_seed {
        options
            .seeds
            .push(options.workspace.join("infra/seed.json"));
    }
    options
}

#[tokio::main]
async fn main() {
    if let Err(error) = run(parse_options()).await {
        eprintln!("devstack: {error}");
        std::process::exit(1);
    }
}

async fn run(options: Options) -> Result<(), Box<dyn std::error::Error>> {
    // Every file is checked before the database is touched.
    let mut documents = Vec::new();
    for path in &options.seeds {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        documents.push(Document::from_json(&text).map_err(|e| format!("{}: {e}", path.display()))?);
    }

    let (dynamo_url, embedded) = match &options.dynamo_endpoint {
        Some(url) => (url.clone(), None),
        None => {
            let database = match &options.db {
                Some(path) => {
                    if let Some(dir) = path.parent() {
                        std::fs::create_dir_all(dir)?;
                    }
                    Database::new(&path.to_string_lossy())?
                }
                None => Database::memory()?,
            };
            let listener = tokio::net::TcpListener::bind(("127.0.0.1", options.port)).await?;
            let dynamo_url = format!("http://{}", listener.local_addr()?);
            let (stop_dynamo, stopped) = tokio::sync::oneshot::channel::<()>();
            let server = tokio::spawn(dynoxide::server::serve_with_shutdown(
                listener,
                database,
                async move {
                    let _ = stopped.await;
                },
            ));
            (dynamo_url, Some((stop_dynamo, server)))
        }
    };

    let tables = Tables::with_prefix(&options.prefix);
    let store = Store::local(&dynamo_url, tables);
    ensure_tables(store.client(), store.tables()).await?;
    for document in &documents {
        document.apply(&store).await?;
    }
    println!("DYNAMODB {dynamo_url}");
    // What the functions talk to: DynamoDB, or the fault proxy in front of it.
    let functions_dynamo = if options.faults {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
        let proxy = FaultProxy::start(listener, &dynamo_url)?;
        println!("FAULTS {}", proxy.url());
        proxy.url().to_owned()
    } else {
        dynamo_url.clone()
    };

    let mut inbox = None;
    let mut smtp_port = options.smtp;
    if let (Some((smtp, web)), Some(_)) = (options.inbox, options.api_port) {
        let smtp = if smtp == 0 { free_port()? } else { smtp };
        let web = if web == 0 { free_port()? } else { web };
        inbox = Some(start_inbox(&options, smtp, web).await?);
        smtp_port = Some(smtp);
        println!("INBOX http://127.0.0.1:{web}");
    }
    if let Some(port) = smtp_port {
        println!("SMTP 127.0.0.1:{port}");
    }

    let mut api = None;
    if let Some(api_port) = options.api_port {
        // The front first: a taken API port fails before anything is compiled.
        let front = tokio::net::TcpListener::bind(("127.0.0.1", api_port))
            .await
            .map_err(|e| format!("cannot listen on 127.0.0.1:{api_port}: {e}"))?;
        let api_url = format!("http://{}", front.local_addr()?);
        let manifest = options.workspace.join("Cargo.toml");
        let routes = std::fs::read_to_string(&manifest)
            .map_err(|e| format!("cannot read {}: {e}", manifest.display()))
            .and_then(|text| gateway::Routes::from_manifest(&text))?;
        let cors = gateway::Cors::new(&options.cors_origins)?;
        let lambda_port = free_port()?;
        let secret = secret(&options)?;
        api = Some(start_api(
            &options,
            lambda_port,
            &functions_dynamo,
            &secret,
            &api_url,
            smtp_port,
        )?);
        let gateway = Arc::new(gateway::Gateway::new(
            routes,
            cors,
            format!("http://127.0.0.1:{lambda_port}"),
            gateway::INTEGRATION_TIMEOUT,
        ));
        tokio::spawn({
            let gateway = gateway.clone();
            async move {
                if let Err(error) = gateway::serve(front, gateway, std::future::pending()).await {
                    eprintln!("devstack: the API front stopped: {error}");
                }
            }
        });
        // Straight to each function, not bounded by the 30 s integration timeout: a first call
        // compiles the function.
        let api_group = api.as_ref().and_then(Child::id);
        let warm = gateway.warm_up(
            Duration::from_secs(900),
            Instant::now() + Duration::from_secs(1800),
        );
        tokio::select! {
            result = warm => {
                if let Err(error) = result {
                    stop(api.take()).await;
                    stop(inbox.take()).await;
                    return Err(format!("warm-up: {error}").into());
                }
            }
            _ = stop_requested(options.exit_on_eof) => {
                stop(api.take()).await;
                stop(inbox.take()).await;
                return Ok(());
            }
            // `cargo lambda watch` gone (not installed, a port taken): the warm-up would wait
            // for it until its deadline.
            status = async { api.as_mut().expect("started above").wait().await } => {
                // Its function processes may outlive it: end its process group.
                if let Some(pid) = api_group {
                    let _ = Command::new("kill")
                        .args(["-TERM", "--", &format!("-{pid}")])
                        .status()
                        .await;
                }
                stop(inbox.take()).await;
                return Err(format!(
                    "cargo lambda watch exited during the warm-up ({}); is cargo-lambda on PATH \
                     (make dev and make test install it into .venv)?",
                    status.map_or_else(|e| e.to_string(), |s| s.to_string())
                )
                .into());
            }
        }
        println!("READY {api_url}");
    } else {
        println!("READY {dynamo_url}");
    }

    stop_requested(options.exit_on_eof).await;
    eprintln!("devstack: stopping");
    stop(api).await;
    stop(inbox).await;
    if let Some((stop_dynamo, server)) = embedded {
        let _ = stop_dynamo.send(());
        let _ = server.await;
    }
    Ok(())
}

/// The signing secret: from `SECRET` if set; for a persistent stack, generated once and kept
/// beside the database (git-ignored) so tokens survive restarts; otherwise random per run.
fn secret(options: &Options) -> Result<String, Box<dyn std::error::Error>> {
    if let Ok(secret) = std::env::var("SECRET")
        && !secret.is_empty()
    {
        return Ok(secret);
    }
    let generate = || {
        let mut bytes = [0u8; 48];
        rand::fill(&mut bytes);
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    };
    let Some(db) = &options.db else {
        return Ok(generate());
    };
    let path = db.with_file_name("secret");
    if let Ok(existing) = std::fs::read_to_string(&path)
        && existing.trim().len() >= shared::platform::config::MIN_SECRET_BYTES
    {
        return Ok(existing.trim().to_owned());
    }
    let secret = generate();
    std::fs::write(&path, &secret)?;
    Ok(secret)
}

/// A loopback port nobody listens on now.
fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// `cargo lambda watch` on an internal port: the front reaches the functions through its Lambda
/// invoke API; its own HTTP routing and CORS are not used.
/// maildev (`infra/maildev`, installed by `make dev` and `make test` with `npm ci`) on loopback:
/// SMTP on `smtp`, the web inbox and its API on `web`. Returns once both ports answer.
async fn start_inbox(
    options: &Options,
    smtp: u16,
    web: u16,
) -> Result<Child, Box<dyn std::error::Error>> {
    let script = options
        .workspace
        .join("infra/maildev/node_modules/maildev/dist/bin/maildev.js");
    if !script.exists() {
        return Err(format!(
            "{} is missing: run `make infra/maildev/node_modules` (make dev does), or pass --no-inbox",
            script.display()
        )
        .into());
    }
    let mut child = Command::new("node")
        .arg(&script)
        .args(["--smtp", &smtp.to_string(), "--ip", "127.0.0.1"])
        .args(["--web", &web.to_string(), "--web-ip", "127.0.0.1"])
        .arg("--silent")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .process_group(0)
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("cannot start maildev (is Node.js installed?): {e}"))?;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let smtp_up = tokio::net::TcpStream::connect(("127.0.0.1", smtp))
            .await
            .is_ok();
        let web_up = tokio::net::TcpStream::connect(("127.0.0.1", web))
            .await
            .is_ok();
        if smtp_up && web_up {
            return Ok(child);
        }
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!(
                "maildev exited at start ({status}); are ports {smtp} and {web} free?"
            )
            .into());
        }
        if Instant::now() > deadline {
            stop(Some(child)).await;
            return Err("maildev did not start listening within 30 s".into());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn start_api(
    options: &Options,
    lambda_port: u16,
    dynamo_url: &str,
    secret: &str,
    api_url: &str,
    smtp_port: Option<u16>,
) -> Result<Child, Box<dyn std::error::Error>> {
    let mut command = Command::new("cargo");
    command
        .args([
            "lambda",
            "watch",
            "--disable-cors",
            "-A",
            "127.0.0.1",
            "-P",
            &lambda_port.to_string(),
        ])
        .args(options.release.then_some("--release"))
        .args(["--concurrency", &options.concurrency.to_string()])
        // cargo lambda sets AWS_LAMBDA_MAX_CONCURRENCY=1 in each function whatever it is told;
        // shared::platform::runtime reads this one instead.
        .env(
            shared::platform::runtime::LOCAL_MAX_CONCURRENCY,
            options.instance_concurrency.to_string(),
        )
        .current_dir(&options.workspace)
        .env("AWS_ENDPOINT_URL_DYNAMODB", dynamo_url)
        .env("AWS_ACCESS_KEY_ID", "local")
        .env("AWS_SECRET_ACCESS_KEY", "local")
        .env("AWS_REGION", "us-east-1")
        .env("TABLE_PREFIX", &options.prefix)
        .env("SECRET", secret)
        // The functions refuse cookie-authenticated writes from other origins (CSRF): the same
        // list the front answers CORS for, as the template passes CorsAllowOrigins.
        .env("CORS_ALLOW_ORIGINS", &options.cors_origins);
    if let Some(port) = smtp_port {
        // The local inbox: plain SMTP on loopback (no STARTTLS to a catcher), links to this API.
        command
            .env("EMAIL_TRANSPORT", "smtp")
            .env("EMAIL_SMTP_HOST", "127.0.0.1")
            .env("EMAIL_SMTP_PORT", port.to_string())
            .env("EMAIL_SMTP_IGNORE_TLS", "true");
        if std::env::var_os("PUBLIC_URL").is_none() {
            command.env("PUBLIC_URL", api_url);
        }
    }
    command
        .stdin(Stdio::null())
        // Function logs go to stderr or a file; stdout carries only the DYNAMODB/READY lines.
        .stdout(match &options.api_log {
            Some(path) => Stdio::from(std::fs::File::create(path)?),
            None => Stdio::from(std::io::stderr()),
        })
        .stderr(match &options.api_log {
            Some(path) => Stdio::from(std::fs::OpenOptions::new().append(true).open(path)?),
            None => Stdio::inherit(),
        })
        // Its own process group, so stopping it stops the functions it started too.
        .process_group(0)
        .kill_on_drop(true);
    command
        .spawn()
        .map_err(|e| format!("cannot start `cargo lambda watch` (is cargo-lambda installed? `make dev` installs it): {e}").into())
}

/// Ctrl-C, SIGTERM, or (for tests) the end of stdin.
async fn stop_requested(exit_on_eof: bool) {
    let eof = async {
        if exit_on_eof {
            let mut stdin = tokio::io::stdin();
            let mut buffer = [0u8; 64];
            while matches!(stdin.read(&mut buffer).await, Ok(n) if n > 0) {}
        } else {
            std::future::pending::<()>().await;
        }
    };
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("SIGTERM handler installs");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate.recv() => {}
        _ = eof => {}
    }
}

/// The processes whose parent is `parent` (from /proc; none where there is no /proc).
fn children_of(parent: u32) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            // `pid (comm) state ppid ...`: the command may hold spaces and parentheses.
            std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
                stat.rsplit_once(')')
                    .and_then(|(_, rest)| rest.split_whitespace().nth(1)?.parse::<u32>().ok())
                    == Some(parent)
            })
        })
        .collect()
}

async fn stop(api: Option<Child>) {
    let Some(mut child) = api else { return };
    if let Some(pid) = child.id() {
        // cargo lambda starts each function instance in a process group of its own, through a
        // `cargo run` that becomes the function. One still waiting for cargo's lock when cargo
        // lambda ends would start its function afterwards, orphaned, and spin on every core
        // polling a Runtime API that is gone (its end-with-parent guard sees no parent die). So:
        // cargo lambda paused (it starts no more), its children ended, then cargo lambda.
        let kill = |signal: &'static str, target: String| async move {
            let _ = Command::new("kill")
                .args([signal, "--", &target])
                .status()
                .await;
        };
        kill("-STOP", format!("-{pid}")).await;
        for instance in children_of(pid) {
            kill("-TERM", instance.to_string()).await;
        }
        kill("-TERM", format!("-{pid}")).await;
        kill("-CONT", format!("-{pid}")).await;
        if tokio::time::timeout(Duration::from_secs(5), child.wait())
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

#[cfg(test)]
mod tests {
    #[test]
    fn children_of_finds_a_spawned_child_and_nothing_else() {
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let children = super::children_of(std::process::id());
        child.kill().unwrap();
        child.wait().unwrap();
        assert!(children.contains(&child.id()), "{children:?}");
        assert!(!children.contains(&std::process::id()));
        assert!(super::children_of(child.id()).is_empty());
    }
}
