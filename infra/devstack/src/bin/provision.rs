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

use std::io::BufRead;

use shared::config::HashParams;
use shared::password::Passwords;
use shared::provision::{
    AccountAction, Document, account_action, create_user, list_users, set_password,
};
use shared::sensitive::Sensitive;
use shared::store::{Store, Tables, ensure_tables};

type BoxError = Box<dyn std::error::Error>;

const USAGE: &str = "usage: provision tables\n       provision apply FILE\n       provision create-user --email EMAIL [--role ROLE_ID]   (password on stdin)\n       provision set-password --email EMAIL   (password on stdin)\n       provision end-sessions|suspend|delete --email EMAIL\n       provision users list [--email PART]\n       provision users reindex\n\nThe stack is the one of the standard AWS environment (credentials, region,\nAWS_ENDPOINT_URL_DYNAMODB for a local one) and TABLE_PREFIX (default directus-).";

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
    let store = Store::from_env(Tables::with_prefix(&prefix)).await;
    let args: Vec<String> = std::env::args().skip(1).collect();
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
