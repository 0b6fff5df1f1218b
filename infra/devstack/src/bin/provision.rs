//! Operator tool for a deployed (or local) stack, using the standard AWS environment
//! (credentials, region, `TABLE_PREFIX`, or `AWS_ENDPOINT_URL_DYNAMODB` for a local one):
//!
//! - `provision tables`: create any missing table (AWS stacks get them from template.yaml);
//! - `provision apply FILE`: apply a declarative configuration (like `infra/seed.json`);
//! - `provision create-user --email E [--role ROLE_ID]`: create an active user, the password
//!   read from the first line of standard input, never from the command line;
//! - `provision set-password --email E`: a new password (stdin); ends every session;
//! - `provision end-sessions|suspend|delete --email E`: end every session of the user and refuse
//!   their earlier access tokens, and suspend or delete the account;
//! - `provision users list [--email PART]`: every user (whose email contains PART), in id order,
//!   one per line: id, email, status, role;
//! - `provision users reindex`: put users written before the directory index existed into it
//!   (a one-off Scan of the users table, after upgrading a stack).
//!
//! `--local` (anywhere on the line) aims at the stack `make dev` runs (DynamoDB at
//! `http://127.0.0.1:8000`, or `AWS_ENDPOINT_URL_DYNAMODB`; dummy credentials, `us-east-1`):
//! without it the tool uses the standard AWS environment and so reaches real AWS. Before any
//! command but `tables`, the users table is described once, so a missing region or
//! credentials, an unreachable endpoint or a wrong `TABLE_PREFIX` is named as such instead of
//! failing later as an SDK "dispatch failure" or "service error".

use std::io::BufRead;

use shared::credential::password::Passwords;
use shared::domain::sensitive::Sensitive;
use shared::flows::provision::{
    AccountAction, Document, account_action, create_user, list_users, set_password,
};
use shared::platform::config::HashParams;
use shared::store::{Store, Tables, ensure_tables};

type BoxError = Box<dyn std::error::Error>;

const USAGE: &str = "usage: provision [--local] tables\n       provision apply FILE\n       provision create-user --email EMAIL [--role ROLE_ID]   (password on stdin)\n       provision set-password --email EMAIL   (password on stdin)\n       provision end-sessions|suspend|delete --email EMAIL\n       provision users list [--email PART]\n       provision users reindex\n\n--local (anywhere) aims at the stack make dev runs: DynamoDB at http://127.0.0.1:8000\n(or AWS_ENDPOINT_URL_DYNAMODB), dummy credentials, region us-east-1.\nWithout it, the stack is the one of the standard AWS environment (credentials, region,\nAWS_ENDPOINT_URL_DYNAMODB) -- real AWS unless an endpoint is set.\nTables are named with TABLE_PREFIX (default directus-, as make dev names them).";

/// Where `make dev` serves DynamoDB (its `--port 8000`).
const LOCAL_ENDPOINT: &str = "http://127.0.0.1:8000";

fn usage() -> ! {
    eprintln!("{USAGE}");
    std::process::exit(2)
}

#[tokio::main]
async fn main() {
    if let Err(error) = run().await {
        eprintln!("provision: {error}");
        std::process::exit(1);
    }
}

async fn run() -> Result<(), BoxError> {
    if matches!(std::env::args().nth(1).as_deref(), Some("-h" | "--help")) {
        println!("{USAGE}");
        return Ok(());
    }
    let prefix = std::env::var("TABLE_PREFIX").unwrap_or_else(|_| "directus-".into());
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let local = args.iter().any(|arg| arg == "--local");
    args.retain(|arg| arg != "--local");
    // An unknown command is a usage error before anything is reached.
    const COMMANDS: [&str; 8] = [
        "tables",
        "apply",
        "create-user",
        "set-password",
        "end-sessions",
        "suspend",
        "delete",
        "users",
    ];
    if !args
        .first()
        .is_some_and(|command| COMMANDS.contains(&command.as_str()))
    {
        usage();
    }
    let tables = Tables::with_prefix(&prefix);
    let (store, target) = if local {
        let endpoint = std::env::var("AWS_ENDPOINT_URL_DYNAMODB")
            .ok()
            .filter(|url| !url.trim().is_empty())
            .unwrap_or_else(|| LOCAL_ENDPOINT.to_owned());
        (
            Store::local(&endpoint, tables),
            format!("the local DynamoDB at {endpoint}"),
        )
    } else {
        let config = shared::store::sdk_config().await;
        let Some(region) = config.region() else {
            return Err("no AWS region: set AWS_REGION (or a profile's region) to reach a deployed stack, or pass --local for the stack make dev runs".into());
        };
        let target = match std::env::var("AWS_ENDPOINT_URL_DYNAMODB")
            .or_else(|_| std::env::var("AWS_ENDPOINT_URL"))
        {
            Ok(endpoint) if !endpoint.trim().is_empty() => format!("DynamoDB at {endpoint}"),
            _ => format!("DynamoDB in AWS region {region}"),
        };
        (
            Store::new(aws_sdk_dynamodb::Client::new(&config), tables),
            target,
        )
    };
    if args.first().map(String::as_str) != Some("tables") {
        preflight(&store, &target, &prefix).await?;
    }
    match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["tables"] => {
            ensure_tables(store.client(), store.tables()).await?;
            println!("tables ready: {:?}", store.tables());
        }
        ["apply", file] => {
            let document = Document::from_json(&std::fs::read_to_string(file)?)?;
            document.apply(&store).await?;
            println!("applied {file}");
        }
        ["create-user", rest @ ..] => {
            let mut email = None;
            let mut role = None;
            let mut rest = rest.iter();
            while let Some(flag) = rest.next() {
                match (*flag, rest.next()) {
                    ("--email", Some(value)) => email = Some((*value).to_owned()),
                    ("--role", Some(value)) => role = Some((*value).to_owned()),
                    _ => usage(),
                }
            }
            let email = email.unwrap_or_else(|| usage());
            let password = read_password()?;
            let passwords = Passwords::new(HashParams::default())?;
            let user = create_user(&store, &passwords, &email, &password, role.as_deref()).await?;
            println!("created user {} ({})", user.id, user.email);
        }
        ["set-password", "--email", email] => {
            let password = read_password()?;
            let passwords = Passwords::new(HashParams::default())?;
            let ended = set_password(&store, &passwords, email, &password).await?;
            println!("password set; {ended} sessions ended");
        }
        [
            command @ ("end-sessions" | "suspend" | "delete"),
            "--email",
            email,
        ] => {
            let action = match *command {
                "end-sessions" => AccountAction::EndSessions,
                "suspend" => AccountAction::Suspend,
                _ => AccountAction::Delete,
            };
            let ended = account_action(&store, email, action).await?;
            println!("{command}: done; {ended} sessions ended");
        }
        ["users", "reindex"] => {
            let marked = store.backfill_user_directory().await?;
            println!("{marked} users added to the directory");
        }
        ["users", "list", rest @ ..] => {
            let filter = match rest {
                [] => None,
                ["--email", part] => Some(*part),
                _ => usage(),
            };
            for user in list_users(&store, filter).await? {
                println!(
                    "{}\t{}\t{}\t{}",
                    user.id,
                    user.email,
                    serde_json::to_value(user.status)?.as_str().unwrap_or("?"),
                    user.role.as_deref().unwrap_or("-")
                );
            }
        }
        _ => usage(),
    }
    Ok(())
}

fn read_password() -> Result<Sensitive, BoxError> {
    let mut password = String::new();
    std::io::stdin().lock().read_line(&mut password)?;
    Ok(Sensitive::new(password.trim_end_matches(['\r', '\n'])))
}

/// Describes the users table once, naming what is wrong in the operator's terms.
async fn preflight(store: &Store, target: &str, prefix: &str) -> Result<(), BoxError> {
    let table = &store.tables().users;
    match store
        .client()
        .describe_table()
        .table_name(table)
        .send()
        .await
    {
        Ok(_) => Ok(()),
        Err(error) => Err(explain(&error, target, prefix, table).into()),
    }
}

/// The cause of a failed first call, as a sentence.
fn explain(
    error: &aws_sdk_dynamodb::error::SdkError<
        aws_sdk_dynamodb::operation::describe_table::DescribeTableError,
    >,
    target: &str,
    prefix: &str,
    table: &str,
) -> String {
    use aws_sdk_dynamodb::error::SdkError;
    let detail = aws_sdk_dynamodb::error::DisplayErrorContext(error).to_string();
    match error {
        SdkError::ServiceError(service) if service.err().is_resource_not_found_exception() => {
            format!(
                "{target} has no table {table}: TABLE_PREFIX is {prefix:?} (make dev uses \"directus-\", a deployed stack its stack name's prefix); `provision tables` creates missing tables"
            )
        }
        _ if detail.to_ascii_lowercase().contains("credential") => {
            format!(
                "no AWS credentials for {target}: set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or pass --local for the stack make dev runs ({detail})"
            )
        }
        SdkError::DispatchFailure(_) | SdkError::TimeoutError(_) => format!(
            "{target} cannot be reached (is make dev running, or the endpoint right?): {detail}"
        ),
        SdkError::ServiceError(service) => {
            let code = service.err().meta().code().unwrap_or("an unnamed error");
            let message = service.err().meta().message().unwrap_or("");
            format!("{target} refused to describe {table}: {code} {message}")
        }
        _ => format!("{target} could not be used: {detail}"),
    }
}
