//! Every curl command of both quickstart pages, verbatim except for the host, against the
//! shared stack. The commands are read from the pages themselves (tests/seeds, kept identical to
//! shared/seeds), so a changed page changes the test.

use std::path::Path;
use std::process::Command;

const HOST: &str = "https://directus.example.com";

fn page(name: &str) -> String {
    let copy = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("seeds")
        .join(name);
    let text = std::fs::read_to_string(&copy).expect("the seed copy is in the repository");
    let original = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/seeds")
        .join(name);
    if let Ok(original) = std::fs::read_to_string(original) {
        assert_eq!(
            text, original,
            "tests/seeds/{name} differs from shared/seeds/{name}"
        );
    }
    text
}

/// The shell blocks of a page that run curl, in page order.
fn curl_blocks(page: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut current: Option<Vec<&str>> = None;
    for line in page.lines() {
        match (&mut current, line.trim_start()) {
            (None, fence) if fence.starts_with("```bash") => current = Some(Vec::new()),
            (Some(lines), "```") => {
                let block = lines.join("\n");
                if block.contains("curl") {
                    blocks.push(block);
                }
                current = None;
            }
            (Some(lines), _) => lines.push(line),
            _ => {}
        }
    }
    blocks
}

/// Runs one command as written, with the host changed and `YOUR_ACCESS_TOKEN` filled in. The
/// status code and content type come from a .curlrc, so the command line itself is untouched.
/// The response is checked against docs/openapi.yaml too.
fn run(block: &str, token: &str, curl_home: &Path) -> (u16, String) {
    let command = block
        .replace(HOST, &e2e::stack().api)
        .replace("YOUR_ACCESS_TOKEN", token);
    let output = Command::new("bash")
        .args(["-c", &command])
        .env("CURL_HOME", curl_home)
        .output()
        .expect("bash and curl run");
    let text = String::from_utf8_lossy(&output.stdout).to_string();
    let (rest, status) = text.rsplit_once('\n').unwrap_or(("", &text));
    let (body, content_type) = rest.rsplit_once('\n').unwrap_or(("", rest));
    let status = status.trim().parse().unwrap_or(0);

    let method = if block.contains("--request POST") || block.contains("--data") {
        "POST"
    } else {
        "GET"
    };
    let url = block
        .split_whitespace()
        .find_map(|word| word.trim_matches('\'').strip_prefix(HOST))
        .expect("the command has a URL on the documented host");
    let observed = e2e::openapi::Observed {
        method,
        path: url,
        status,
        content_type: Some(content_type).filter(|c| !c.is_empty()),
        raw: body,
    };
    if let Err(problem) = e2e::openapi::conform(&observed) {
        panic!("{block}\nanswered as docs/openapi.yaml does not describe: {problem}");
    }
    (status, body.to_owned())
}

fn check_page(name: &str, first_status: u16) {
    let curl_home = std::env::temp_dir().join(format!("seed-curl-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&curl_home).unwrap();
    std::fs::write(
        curl_home.join(".curlrc"),
        "silent\nwrite-out = \"\\n%{content_type}\\n%{http_code}\"\n",
    )
    .unwrap();
    let blocks = curl_blocks(&page(name));
    assert_eq!(blocks.len(), 3, "{name}: create/register, log in, read");

    let (status, body) = run(&blocks[0], "", &curl_home);
    assert_eq!(
        (status, body.as_str()),
        (first_status, ""),
        "{name}: {}",
        blocks[0]
    );

    let (status, body) = run(&blocks[1], "", &curl_home);
    assert_eq!(status, 200, "{name}: {body}");
    let login: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(login["data"]["expires"], 900_000);
    let token = login["data"]["access_token"].as_str().unwrap();

    let (status, body) = run(&blocks[2], token, &curl_home);
    assert_eq!(status, 200, "{name}: {body}");
    let posts: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(posts["data"][0]["id"], 1, "{name}: the seeded post");
    std::fs::remove_dir_all(curl_home).ok();
}

#[test]
fn every_curl_command_of_the_published_quickstart_works() {
    check_page("000_68b5acd7654385e3.txt", 204);
}

#[test]
fn every_curl_command_of_the_earlier_quickstart_works() {
    check_page("001_9ddd85282a7e82a2.txt", 204);
}

/// The GraphQL blocks of a page (```graphql fences), in page order, verbatim.
fn graphql_blocks(page: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut current: Option<Vec<&str>> = None;
    for line in page.lines() {
        match (&mut current, line.trim_start()) {
            (None, fence) if fence.starts_with("```graphql") => current = Some(Vec::new()),
            (Some(lines), "```") => {
                blocks.push(lines.join("\n"));
                current = None;
            }
            (Some(lines), _) => lines.push(line),
            _ => {}
        }
    }
    blocks
}

#[tokio::test]
async fn both_graphql_blocks_of_the_published_quickstart_work() {
    // Sent as the page's GraphQL tab and `@directus/sdk` send them: POST /graphql/system,
    // `{"query": <block>}`, no token. Directus 11.3.5 crashes on the first (its registration
    // limiter is off there); with the limiter on, as here, it answers `true`.
    let blocks = graphql_blocks(&page("000_68b5acd7654385e3.txt"));
    assert_eq!(blocks.len(), 2, "register, log in");
    assert!(blocks[0].contains("users_register") && blocks[1].contains("auth_login"));

    let register = e2e::system_graphql::system(&blocks[0], None, &[]).await;
    assert_eq!(register.status, 200, "{register:?}");
    assert_eq!(
        register.body,
        serde_json::json!({"data": {"users_register": true}})
    );
    // Again, the address now taken: the same answer.
    let again = e2e::system_graphql::system(&blocks[0], None, &[]).await;
    assert_eq!(again.raw, register.raw);

    let login = e2e::system_graphql::system(&blocks[1], None, &[]).await;
    assert_eq!(login.status, 200, "{login:?}");
    let tokens = login.body["data"]["auth_login"]
        .as_object()
        .expect("tokens");
    assert_eq!(
        tokens.keys().collect::<Vec<_>>(),
        ["access_token", "refresh_token"]
    );
    assert!(login.body.get("errors").is_none(), "{login:?}");
    let access = tokens["access_token"].as_str().unwrap();
    assert_eq!(e2e::claims_of(access)["iss"], "directus");
    assert!(!tokens["refresh_token"].as_str().unwrap().is_empty());
    // The token reads the posts, as the page's next step does.
    let posts = e2e::get("/items/posts", Some(access)).await;
    assert_eq!(posts.status, 200);
}
