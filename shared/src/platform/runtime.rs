//! What every function's `main` does around its handler: answer `--help`, set up logging and
//! the allocator, then serve invocations — several at once in one process where the platform
//! allows it (Lambda Managed Instances; the local stack through `LOCAL_MAX_CONCURRENCY`), one
//! at a time on classic Lambda, where `AWS_LAMBDA_MAX_CONCURRENCY` is unset or 1 (lambda_runtime
//! falls back to sequential then).

use std::future::Future;

use lambda_http::{Body, Error, Request, Response, service_fn};

/// The local stack's stand-in for `AWS_LAMBDA_MAX_CONCURRENCY`, which `cargo lambda watch` sets
/// to 1 in every function it runs: `devstack` sets this one so that each local process serves
/// several invocations at once, as on Lambda Managed Instances. Lambda never sets it.
pub const LOCAL_MAX_CONCURRENCY: &str = "LOCAL_MAX_CONCURRENCY";

/// Handles the command line and sets up the process, then builds the Tokio runtime the
/// function runs on. Exits for `--help` (status 0) and for any other argument (status 2): the
/// Lambda runtime starts a function with none.
pub fn start(function: &str, serves: &str) -> std::io::Result<tokio::runtime::Runtime> {
    let usage = format!(
        "{function}: the Directus-compatible auth API's AWS Lambda function for {serves}.\n\n\
         Usage: {function} [--help]\n\n\
         It takes no arguments: the Lambda runtime (or `cargo lambda watch`, as `make dev` runs it)\n\
         starts it with AWS_LAMBDA_RUNTIME_API set, and it is configured by environment variables\n\
         (docs/configuration.md). Run alone, it has no Runtime API to take invocations from."
    );
    match std::env::args().nth(1).as_deref() {
        None => {}
        Some("-h" | "--help") => {
            println!("{usage}");
            std::process::exit(0);
        }
        Some(other) => {
            eprintln!("unexpected argument `{other}`\n\n{usage}");
            std::process::exit(2);
        }
    }
    return_large_allocations_to_the_system();
    if let Some(concurrency) = std::env::var_os(LOCAL_MAX_CONCURRENCY) {
        // SAFETY: no other thread exists yet (the Tokio runtime is built below), so nothing
        // reads the environment while it changes.
        unsafe { std::env::set_var("AWS_LAMBDA_MAX_CONCURRENCY", concurrency) };
        end_with_parent();
    }
    lambda_http::tracing::init_default_subscriber();
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
}

/// Serves invocations with `handler` until the runtime ends the process. The handler puts each
/// request in its time budget (`crate::adapters::http::within_budget`); what it captures is shared by the
/// invocations in flight, so it holds `Arc`s.
pub async fn serve<H, F>(handler: H) -> Result<(), Error>
where
    H: Fn(Request) -> F + Clone + Send + 'static,
    F: Future<Output = Result<Response<Body>, Error>> + Send + 'static,
{
    lambda_http::run_concurrent(service_fn(handler)).await
}

/// Locally, the function ends with the process that started it (`cargo run`, under `cargo
/// lambda watch`). lambda_runtime's concurrent pollers retry `/next` at once and forever when
/// it fails, so a function left behind by a stopped local stack (it runs in its own process
/// group) would spin on every core; on Lambda the Runtime API lives as long as the process.
fn end_with_parent() {
    #[cfg(target_os = "linux")]
    {
        let parent = std::os::unix::process::parent_id();
        // SAFETY: prctl(PR_SET_PDEATHSIG) only sets a signal for this process.
        unsafe {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
        }
        // The parent may have gone before the call: then the process was adopted already (by
        // init, or it was adopted before it started: a `cargo run` left waiting for cargo's
        // lock by a stopped `cargo lambda watch`).
        if std::os::unix::process::parent_id() != parent || parent == 1 {
            std::process::exit(1);
        }
    }
}

/// glibc raises its mmap threshold to the size of each large block freed, so after the first
/// argon2 hash (19 MiB of blocks) every later one comes from the heap of the blocking thread
/// that ran it — one arena per thread — and stays resident after it is freed: the login
/// function sat at 130 MB after 50 logins. A fixed threshold keeps blocks of 1 MiB and more in
/// their own mappings, returned to the system when freed.
fn return_large_allocations_to_the_system() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        const THRESHOLD_BYTES: libc::c_int = 1024 * 1024;
        // SAFETY: mallopt only sets a parameter of the allocator; glibc takes its own lock.
        unsafe {
            libc::mallopt(libc::M_MMAP_THRESHOLD, THRESHOLD_BYTES);
        }
    }
}
