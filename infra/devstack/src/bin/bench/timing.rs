//! Response time by outcome, where the bodies are the same on purpose: whether a response's time
//! tells an unknown email from a wrong password (login), a new address from a registered or an
//! unverified one (registration), or a registered address from an unknown one (password
//! request). Each section interleaves its kinds of request, every kind once per round in a
//! random order (so machine noise and any effect of the request before fall on every kind
//! alike), for several runs; each run compares each pair with Welch's t-test, and the runs'
//! p-values are combined with Fisher's method for the verdict.

use std::time::{Duration, Instant};

use rand::seq::SliceRandom;
use serde_json::{Value, json};
use shared::domain::model::UserStatus;
use shared::domain::sensitive::Sensitive;
use shared::store::{NewUser, Store, Tables};

use super::{BoxError, GRAPHQL_LOGIN, percentile};

/// Runs and rounds per run of every section: `BENCH_TIMING_RUNS` (5) and `BENCH_TIMING_ROUNDS`
/// (200).
#[derive(Debug, Clone, Copy)]
pub struct Plan {
    pub runs: usize,
    pub rounds: usize,
}

/// Untimed rounds before the first run: the function instances the runs reach are warm.
const WARM_UP_ROUNDS: usize = 10;
/// The significance level of every verdict.
const ALPHA: f64 = 0.05;
/// The password of every account the sections make.
const PASSWORD: &str = "d1r3ctu5";
/// The role public registration gives (infra/bench-settings.json).
const USER_ROLE: &str = "0b6f1f0e-7c1d-4c8e-9f55-6a2b9d7e3c10";

impl Plan {
    pub fn from_env() -> Result<Self, BoxError> {
        let read = |name: &str, default: usize, least: usize| -> Result<usize, BoxError> {
            match std::env::var(name) {
                Err(_) => Ok(default),
                Ok(raw) => raw
                    .trim()
                    .parse()
                    .ok()
                    .filter(|n| *n >= least)
                    .ok_or_else(|| format!("{name}={raw:?}: a whole number from {least}").into()),
            }
        };
        Ok(Self {
            runs: read("BENCH_TIMING_RUNS", 5, 1)?,
            // A sample standard deviation needs two.
            rounds: read("BENCH_TIMING_ROUNDS", 200, 2)?,
        })
    }

    /// Requests of each kind, the warm-up's included: the fixtures each kind needs.
    fn requests_per_kind(self) -> usize {
        WARM_UP_ROUNDS + self.runs * self.rounds
    }
}

/// The sections `bench timing` runs (all of them without names).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    /// Login by outcome, REST and GraphQL (verification off).
    Login,
    /// Registration of a new and of a registered address, verification off.
    Register,
    /// Registration of a new, a registered and an unverified address, verification on.
    RegisterVerify,
    /// Password request for a registered and an unknown address.
    Password,
}

impl Section {
    pub const ALL: [Section; 4] = [
        Section::Login,
        Section::Register,
        Section::RegisterVerify,
        Section::Password,
    ];

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.name() == name)
    }

    pub fn name(self) -> &'static str {
        match self {
            Section::Login => "login",
            Section::Register => "register",
            Section::RegisterVerify => "register-verify",
            Section::Password => "password",
        }
    }

    /// Whether the section needs the stack that sends mail (verification on, a short
    /// `EMAIL_SEND_TIMEOUT`); the others run where verification is off.
    pub fn mails(self) -> bool {
        matches!(self, Section::RegisterVerify | Section::Password)
    }
}

/// Runs `section` against the API at `api`; `mail` is the inbox and `EMAIL_SEND_TIMEOUT` of a
/// stack that mails, which the sections that mail need. Returns whether an enumerating pair was
/// distinguishable.
pub async fn run(
    section: Section,
    api: &str,
    mail: Option<(&str, &str)>,
    accounts: &Accounts,
    plan: Plan,
) -> Result<bool, BoxError> {
    let mail =
        || mail.ok_or_else(|| format!("the {} section needs a stack that mails", section.name()));
    Ok(match section {
        // Both transports, whatever the first found.
        Section::Login => {
            login(api, accounts, false, plan).await? | login(api, accounts, true, plan).await?
        }
        Section::Register => register(api, accounts, plan).await?,
        Section::RegisterVerify => {
            let (inbox, timeout) = mail()?;
            register_verify(api, inbox, timeout, accounts, plan).await?
        }
        Section::Password => {
            let (inbox, timeout) = mail()?;
            password_request(api, inbox, timeout, accounts, plan).await?
        }
    })
}

/// `BENCH_EMAIL_SEND_TIMEOUT` (200ms): the mail stack's `EMAIL_SEND_TIMEOUT`.
pub fn mail_send_timeout() -> Result<String, BoxError> {
    let raw = std::env::var("BENCH_EMAIL_SEND_TIMEOUT").unwrap_or_else(|_| "200ms".to_owned());
    shared::platform::config::parse_duration(&raw)
        .map(|_| raw.clone())
        .ok_or_else(|| format!("BENCH_EMAIL_SEND_TIMEOUT={raw:?} is not a duration").into())
}

/// One kind of request a comparison interleaves.
pub struct Kind<'a> {
    pub name: &'a str,
    /// The status every request of this kind must answer, or the benchmark fails.
    pub status: u16,
    /// The request of the `index`-th round (warm-up included), so that a kind whose path
    /// depends on what came before (a lock, a counter) gets fresh fixtures each round.
    pub request: Box<dyn Fn(usize) -> reqwest::RequestBuilder + 'a>,
    /// Beyond the status: whether a body is this kind's answer (GraphQL answers 200 either way).
    pub body: fn(&[u8]) -> bool,
}

fn any_body(_: &[u8]) -> bool {
    true
}

/// A pair of kinds compared, by index, and whether telling them apart tells whether an address
/// is registered (the section's verdict is about those pairs).
#[derive(Debug, Clone, Copy)]
pub struct Pair {
    pub a: usize,
    pub b: usize,
    pub enumerates: bool,
}

/// Interleaves `plan.runs` runs of `plan.rounds` rounds of `kinds` (after a warm-up), every kind
/// once per round in a random order, and compares each pair: Welch's t-test per run, Fisher's
/// method across runs. Prints the tables and the verdict under `title`; returns whether any
/// enumerating pair is distinguishable.
pub async fn compare(
    title: &str,
    kinds: &[Kind<'_>],
    pairs: &[Pair],
    plan: Plan,
) -> Result<bool, BoxError> {
    let samples = measure(kinds, plan).await?;
    report(title, &[], kinds, pairs, plan, &samples)
}

/// The interleaved rounds of [`compare`]: milliseconds per run, per kind.
async fn measure(kinds: &[Kind<'_>], plan: Plan) -> Result<Vec<Vec<Vec<f64>>>, BoxError> {
    let mut index = 0;
    for _ in 0..WARM_UP_ROUNDS {
        round(kinds, index).await?;
        index += 1;
    }
    let mut samples = Vec::with_capacity(plan.runs);
    for _ in 0..plan.runs {
        let mut run = vec![Vec::with_capacity(plan.rounds); kinds.len()];
        for _ in 0..plan.rounds {
            for (kind, ms) in round(kinds, index).await? {
                run[kind].push(ms);
            }
            index += 1;
        }
        samples.push(run);
    }
    Ok(samples)
}

/// One request of each kind, in a random order: (kind, milliseconds to the whole answer).
async fn round(kinds: &[Kind<'_>], index: usize) -> Result<Vec<(usize, f64)>, BoxError> {
    let order = {
        let mut order: Vec<usize> = (0..kinds.len()).collect();
        order.shuffle(&mut rand::rng());
        order
    };
    let mut timed = Vec::with_capacity(kinds.len());
    for kind in order {
        let request = (kinds[kind].request)(index);
        let started = Instant::now();
        let response = request.send().await?;
        let status = response.status().as_u16();
        let body = response.bytes().await?;
        let elapsed = started.elapsed().as_secs_f64() * 1000.0;
        if status != kinds[kind].status || !(kinds[kind].body)(&body) {
            return Err(format!(
                "{}: answered {status} ({}), expected {}",
                kinds[kind].name,
                String::from_utf8_lossy(&body),
                kinds[kind].status
            )
            .into());
        }
        timed.push((kind, elapsed));
    }
    Ok(timed)
}

/// What the runs say about one pair.
struct Combined {
    /// Difference of the means over every run's samples (a − b), ms.
    difference: f64,
    /// Runs whose difference has the sign of `difference`.
    same_sign: usize,
    /// Runs with p < ALPHA.
    significant: usize,
    chi_squared: f64,
    df: usize,
    p: f64,
}

fn report(
    title: &str,
    notes: &[String],
    kinds: &[Kind<'_>],
    pairs: &[Pair],
    plan: Plan,
    samples: &[Vec<Vec<f64>>],
) -> Result<bool, BoxError> {
    let Plan { runs, rounds } = plan;
    println!(
        "\n## {title} ({runs} runs × {rounds} rounds, interleaved in random order; Welch's t-test per run, Fisher's method across runs)\n"
    );
    for note in notes {
        println!("{note}\n");
    }
    println!(
        "| request | status | requests | mean ms | sd ms | median ms | p95 ms |\n|---|---:|---:|---:|---:|---:|---:|"
    );
    let all: Vec<Vec<f64>> = (0..kinds.len())
        .map(|kind| samples.iter().flat_map(|run| run[kind].clone()).collect())
        .collect();
    for (kind, values) in kinds.iter().zip(&all) {
        let (mean, sd, n) = moments(values);
        let mut sorted = values.clone();
        let median = percentile(&mut sorted, 0.5);
        let p95 = percentile(&mut sorted, 0.95);
        println!(
            "| {} | {} | {n} | {mean:.2} | {sd:.2} | {median:.2} | {p95:.2} |",
            kind.name, kind.status
        );
    }
    println!(
        "\n| pair | run | mean difference ms | t | df | p (two-sided) |\n|---|---:|---:|---:|---:|---:|"
    );
    let mut combined = Vec::with_capacity(pairs.len());
    for pair in pairs {
        let name = pair_name(kinds, pair);
        let mut differences = Vec::with_capacity(runs);
        let mut p_values = Vec::with_capacity(runs);
        for (number, run) in samples.iter().enumerate() {
            let (a, b) = (&run[pair.a], &run[pair.b]);
            let (t, df, p) = welch(a, b)?;
            let difference = moments(a).0 - moments(b).0;
            println!(
                "| {name} | {} | {difference:+.2} | {t:.2} | {df:.0} | {p:.3} |",
                number + 1
            );
            differences.push(difference);
            p_values.push(p);
        }
        let difference = moments(&all[pair.a]).0 - moments(&all[pair.b]).0;
        let (chi_squared, df, p) = fisher(&p_values)?;
        combined.push(Combined {
            difference,
            same_sign: differences
                .iter()
                .filter(|d| d.signum() == difference.signum())
                .count(),
            significant: p_values.iter().filter(|p| **p < ALPHA).count(),
            chi_squared,
            df,
            p,
        });
    }
    println!(
        "\n| pair | mean difference ms (all runs) | runs of that sign | runs with p < {ALPHA} | Fisher χ² | df | combined p | at the 5% level |\n|---|---:|---:|---:|---:|---:|---:|---|"
    );
    for (pair, c) in pairs.iter().zip(&combined) {
        println!(
            "| {} | {:+.2} | {} of {runs} | {} of {runs} | {:.2} | {} | {:.3} | {} |",
            pair_name(kinds, pair),
            c.difference,
            c.same_sign,
            c.significant,
            c.chi_squared,
            c.df,
            c.p,
            if c.p < ALPHA {
                "distinguishable"
            } else {
                "not distinguishable"
            }
        );
    }
    let mut leaks = false;
    let mut verdicts = Vec::new();
    for (pair, c) in pairs.iter().zip(&combined) {
        if pair.enumerates {
            leaks |= c.p < ALPHA;
            verdicts.push(format!(
                "{} {} (combined p = {:.3})",
                pair_name(kinds, pair),
                if c.p < ALPHA {
                    "ARE distinguishable"
                } else {
                    "are not distinguishable"
                },
                c.p
            ));
        }
    }
    println!(
        "\nVerdict at the 5% level, over all {runs} runs: {}.",
        verdicts.join("; ")
    );
    Ok(leaks)
}

fn pair_name(kinds: &[Kind<'_>], pair: &Pair) -> String {
    format!("{} vs {}", kinds[pair.a].name, kinds[pair.b].name)
}

/// Mean, sample standard deviation and count.
pub fn moments(samples: &[f64]) -> (f64, f64, usize) {
    let n = samples.len();
    let mean = samples.iter().sum::<f64>() / n as f64;
    let variance = samples.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n as f64 - 1.0);
    (mean, variance.sqrt(), n)
}

/// Welch's t-test of two samples: (t, degrees of freedom, two-sided p-value).
pub fn welch(a: &[f64], b: &[f64]) -> Result<(f64, f64, f64), BoxError> {
    use statrs::distribution::{ContinuousCDF, StudentsT};
    let (mean_a, sd_a, n_a) = moments(a);
    let (mean_b, sd_b, n_b) = moments(b);
    let (va, vb) = (sd_a.powi(2) / n_a as f64, sd_b.powi(2) / n_b as f64);
    let t = (mean_a - mean_b) / (va + vb).sqrt();
    let df =
        (va + vb).powi(2) / (va.powi(2) / (n_a as f64 - 1.0) + vb.powi(2) / (n_b as f64 - 1.0));
    // The survival function keeps small p-values exact (1 − cdf rounds them to 0).
    let p = 2.0 * StudentsT::new(0.0, 1.0, df)?.sf(t.abs());
    Ok((t, df, p))
}

/// Fisher's method: independent p-values of one null hypothesis combined into one,
/// −2 Σ ln pᵢ following χ² with 2k degrees of freedom. Returns (χ², df, p).
pub fn fisher(p_values: &[f64]) -> Result<(f64, usize, f64), BoxError> {
    use statrs::distribution::{ChiSquared, ContinuousCDF};
    let chi_squared = -2.0
        * p_values
            .iter()
            // A p-value rounded to 0 would make the sum infinite.
            .map(|p| p.max(f64::MIN_POSITIVE).ln())
            .sum::<f64>();
    let df = 2 * p_values.len();
    let p = ChiSquared::new(df as f64)?.sf(chi_squared);
    Ok((chi_squared, df, p))
}

/// Accounts made straight in the stack's tables (no registration request, one argon2 hash for
/// all): each round's registered, wrong-password or unverified address.
pub struct Accounts {
    store: Store,
    hash: Sensitive,
}

impl Accounts {
    pub async fn new(dynamo: &str) -> Result<Self, BoxError> {
        let passwords = shared::credential::password::Passwords::new(
            shared::platform::config::HashParams::default(),
        )?;
        Ok(Self {
            store: Store::local(dynamo, Tables::with_prefix(super::PREFIX)),
            hash: passwords.hash(&Sensitive::new(PASSWORD)).await?,
        })
    }

    /// `count` accounts `format(i)` with `status` (an unverified one expiring in a week, as a
    /// registration with verification on makes it).
    async fn make(
        &self,
        count: usize,
        status: UserStatus,
        email: impl Fn(usize) -> String,
    ) -> Result<(), BoxError> {
        let expires_at = (status == UserStatus::Unverified).then(|| {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default()
                .as_secs();
            i64::try_from(now + 7 * 86_400).unwrap_or(i64::MAX)
        });
        for i in 0..count {
            self.store
                .create_user_expiring(
                    NewUser {
                        email: email(i),
                        password_hash: self.hash.clone(),
                        status,
                        role: Some(USER_ROLE.to_owned()),
                        first_name: None,
                        last_name: None,
                        policies: Vec::new(),
                    },
                    expires_at,
                )
                .await?;
        }
        Ok(())
    }
}

fn post(client: &reqwest::Client, api: &str, path: &str, body: Value) -> reqwest::RequestBuilder {
    client
        .post(format!("{api}{path}"))
        .header("content-type", "application/json")
        .body(body.to_string())
}

/// A tag that keeps this run's addresses apart from any earlier run's on the same tables.
fn tag() -> String {
    format!(
        "{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs()
    )
}

/// Login by outcome: an unknown email, a wrong password (each to its own account, so every
/// failed attempt takes the same path: a first reservation, no lock) and the right password,
/// over REST (`POST /auth/login`) or GraphQL (`auth_login` on `/graphql/system`).
pub async fn login(
    api: &str,
    accounts: &Accounts,
    graphql: bool,
    plan: Plan,
) -> Result<bool, BoxError> {
    let client = reqwest::Client::new();
    let tag = tag();
    let transport = if graphql { "gql" } else { "rest" };
    let wrong = |i: usize| format!("login-{transport}-{i}-{tag}@example.com");
    let right = format!("login-{transport}-right-{tag}@example.com");
    accounts
        .make(plan.requests_per_kind(), UserStatus::Active, wrong)
        .await?;
    accounts
        .make(1, UserStatus::Active, |_| right.clone())
        .await?;
    let request = |email: String, password: &str| {
        let credentials = json!({"email": email, "password": password});
        if graphql {
            post(
                &client,
                api,
                "/graphql/system",
                json!({"query": GRAPHQL_LOGIN, "variables": credentials}),
            )
        } else {
            post(&client, api, "/auth/login", credentials)
        }
    };
    // GraphQL answers 200 with an in-band error for a refusal.
    fn logged_in(body: &[u8]) -> bool {
        serde_json::from_slice::<Value>(body)
            .is_ok_and(|b| b["errors"].is_null() && b["data"].is_object())
    }
    fn refused(body: &[u8]) -> bool {
        !logged_in(body)
    }
    let refusal = if graphql { 200 } else { 401 };
    let kinds = [
        Kind {
            name: "unknown email",
            status: refusal,
            request: Box::new(|i| {
                request(
                    format!("login-nobody-{transport}-{i}-{tag}@example.com"),
                    PASSWORD,
                )
            }),
            body: refused,
        },
        Kind {
            name: "wrong password",
            status: refusal,
            request: Box::new(|i| request(wrong(i), "wrong-password")),
            body: refused,
        },
        Kind {
            name: "right password",
            status: 200,
            request: Box::new(|_| request(right.clone(), PASSWORD)),
            body: logged_in,
        },
    ];
    let heading = if graphql {
        "Login time by outcome, GraphQL `auth_login`"
    } else {
        "Login time by outcome, REST `POST /auth/login`"
    };
    compare(
        heading,
        &kinds,
        &[
            Pair {
                a: 0,
                b: 1,
                enumerates: true,
            },
            Pair {
                a: 1,
                b: 2,
                enumerates: false,
            },
            Pair {
                a: 0,
                b: 2,
                enumerates: false,
            },
        ],
        plan,
    )
    .await
}

/// Registration with verification off: a new address (a user written) and a registered one
/// (the same argon2 hash, the transaction refused), both 204.
pub async fn register(api: &str, accounts: &Accounts, plan: Plan) -> Result<bool, BoxError> {
    let client = reqwest::Client::new();
    let tag = tag();
    let registered = |i: usize| format!("register-taken-{i}-{tag}@example.com");
    accounts
        .make(plan.requests_per_kind(), UserStatus::Active, registered)
        .await?;
    let register = |email: String| {
        post(
            &client,
            api,
            "/register",
            json!({"email": email, "password": PASSWORD}),
        )
    };
    let kinds = [
        Kind {
            name: "new address",
            status: 204,
            request: Box::new(|i| register(format!("register-new-{i}-{tag}@example.com"))),
            body: any_body,
        },
        Kind {
            name: "registered address",
            status: 204,
            request: Box::new(|i| register(registered(i))),
            body: any_body,
        },
    ];
    compare(
        "Registration time by address, verification off (REST `POST /register`)",
        &kinds,
        &[Pair {
            a: 0,
            b: 1,
            enumerates: true,
        }],
        plan,
    )
    .await
}

/// The mail stack's settings: the bench's, with verification on. Returns the seed file.
pub fn mail_settings(directory: &std::path::Path) -> Result<std::path::PathBuf, BoxError> {
    let mut document: Value =
        serde_json::from_str(include_str!("../../../../bench-settings.json"))?;
    document["settings"]["public_registration_verify_email"] = Value::Bool(true);
    let path = directory.join("bench-mail-settings.json");
    std::fs::write(&path, serde_json::to_vec_pretty(&document)?)?;
    Ok(path)
}

/// The mail stack's notes: its `EMAIL_SEND_TIMEOUT`, and the mails the inbox got.
fn mail_notes(timeout: &str, requests: usize, delivered: usize, expected: usize) -> Vec<String> {
    vec![
        format!(
            "This stack's `EMAIL_SEND_TIMEOUT` is {timeout} (`BENCH_EMAIL_SEND_TIMEOUT`; the functions' default is 1s, the benchmark's 200ms keeps the section's {requests} requests to minutes): every request of the section answers that long after it began, whatever the address."
        ),
        format!(
            "Mails in the inbox from the timed and warm-up requests: {delivered} of the {expected} due{}.",
            if delivered == expected {
                ""
            } else {
                " (work unfinished at the deadline is given up: the sending path was not timed whole; raise BENCH_EMAIL_SEND_TIMEOUT)"
            }
        ),
    ]
}

/// Messages in the inbox to addresses containing `tag`, once their count stops growing (at most
/// 10 s after the last request).
async fn mails_to(inbox: &str, tag: &str, expected: usize) -> Result<usize, BoxError> {
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let list: Value = client
            .get(format!("{inbox}/api/email"))
            .send()
            .await?
            .json()
            .await?;
        let count = list
            .as_array()
            .ok_or("the inbox lists no array")?
            .iter()
            .filter(|m| {
                m["to"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|to| to["address"].as_str().is_some_and(|a| a.contains(tag)))
            })
            .count();
        if count >= expected || Instant::now() > deadline {
            return Ok(count);
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Registration with verification on, where the answer is due `EMAIL_SEND_TIMEOUT` after the
/// request began: a new address (an unverified user written, a mail sent), a registered one
/// (nothing written, no mail) and an unverified one (its password replaced, a new mail sent).
pub async fn register_verify(
    api: &str,
    inbox: &str,
    timeout: &str,
    accounts: &Accounts,
    plan: Plan,
) -> Result<bool, BoxError> {
    let client = reqwest::Client::new();
    let tag = tag();
    let registered = |i: usize| format!("verify-taken-{i}-{tag}@example.com");
    let unverified = |i: usize| format!("verify-unverified-{i}-{tag}@example.com");
    accounts
        .make(plan.requests_per_kind(), UserStatus::Active, registered)
        .await?;
    accounts
        .make(plan.requests_per_kind(), UserStatus::Unverified, unverified)
        .await?;
    let register = |email: String| {
        post(
            &client,
            api,
            "/register",
            json!({"email": email, "password": PASSWORD}),
        )
    };
    let kinds = [
        Kind {
            name: "new address (user written, mail sent)",
            status: 204,
            request: Box::new(|i| register(format!("verify-new-{i}-{tag}@example.com"))),
            body: any_body,
        },
        Kind {
            name: "registered address",
            status: 204,
            request: Box::new(|i| register(registered(i))),
            body: any_body,
        },
        Kind {
            name: "unverified address (password replaced, mail sent)",
            status: 204,
            request: Box::new(|i| register(unverified(i))),
            body: any_body,
        },
    ];
    let pairs = [(0, 1), (0, 2), (1, 2)].map(|(a, b)| Pair {
        a,
        b,
        enumerates: true,
    });
    // Count the mails first: the tables follow the notes.
    let samples = measure(&kinds, plan).await?;
    let expected = 2 * plan.requests_per_kind();
    let delivered = mails_to(inbox, &tag, expected).await?;
    report(
        "Registration time by address, verification on (REST `POST /register`)",
        &mail_notes(
            timeout,
            kinds.len() * plan.requests_per_kind(),
            delivered,
            expected,
        ),
        &kinds,
        &pairs,
        plan,
        &samples,
    )
}

/// `POST /auth/password/request` for a registered address (a token written, a mail sent over
/// SMTP to the local inbox) and for an unknown one, each round's its own: the answer is due
/// `EMAIL_SEND_TIMEOUT` after the request began whatever the address.
pub async fn password_request(
    api: &str,
    inbox: &str,
    timeout: &str,
    accounts: &Accounts,
    plan: Plan,
) -> Result<bool, BoxError> {
    let client = reqwest::Client::new();
    let tag = tag();
    let registered = |i: usize| format!("reset-{i}-{tag}@example.com");
    accounts
        .make(plan.requests_per_kind(), UserStatus::Active, registered)
        .await?;
    let request = |email: String| {
        post(
            &client,
            api,
            "/auth/password/request",
            json!({"email": email}),
        )
    };
    let kinds = [
        Kind {
            name: "registered (token written, mail sent)",
            status: 204,
            request: Box::new(|i| request(registered(i))),
            body: any_body,
        },
        Kind {
            name: "unknown",
            status: 204,
            request: Box::new(|i| request(format!("reset-nobody-{i}-{tag}@example.com"))),
            body: any_body,
        },
    ];
    let samples = measure(&kinds, plan).await?;
    let expected = plan.requests_per_kind();
    let delivered = mails_to(inbox, &tag, expected).await?;
    report(
        "Password request time by address (REST `POST /auth/password/request`)",
        &mail_notes(
            timeout,
            kinds.len() * plan.requests_per_kind(),
            delivered,
            expected,
        ),
        &kinds,
        &[Pair {
            a: 0,
            b: 1,
            enumerates: true,
        }],
        plan,
        &samples,
    )
}
