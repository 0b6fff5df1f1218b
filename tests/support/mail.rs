//! The mail stack's side of the tests: a client with a loopback address of its own (so its rate
//! limits are its own), and the local inbox read through maildev's HTTP API.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use serde_json::Value;

use super::{Reply, mail_stack};

/// An HTTP client on a loopback address no other test uses (all of 127.0.0.0/8 is loopback):
/// the stack counts its requests under that address.
pub fn own_client() -> reqwest::Client {
    let id = uuid::Uuid::new_v4();
    let bytes = id.as_bytes();
    let address = Ipv4Addr::new(127, bytes[0].max(1), bytes[1], bytes[2].max(2));
    reqwest::Client::builder()
        .local_address(IpAddr::V4(address))
        .timeout(Duration::from_secs(30))
        .build()
        .expect("HTTP client")
}

/// POSTs JSON to the mail stack.
pub async fn post(client: &reqwest::Client, path: &str, body: &Value) -> Reply {
    Reply::from(
        client
            .post(format!("{}{path}", mail_stack().api))
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .expect("request sent"),
    )
    .await
    .documented("POST", path)
}

/// GETs a path (with its query) of the mail stack.
pub async fn get(client: &reqwest::Client, path_and_query: &str, bearer: Option<&str>) -> Reply {
    let mut request = client.get(format!("{}{path_and_query}", mail_stack().api));
    if let Some(token) = bearer {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    let path = path_and_query.split('?').next().unwrap_or(path_and_query);
    Reply::from(request.send().await.expect("request sent"))
        .await
        .documented("GET", path)
}

/// One message as the inbox holds it.
#[derive(Debug, Clone)]
pub struct Mail {
    pub subject: String,
    pub text: String,
    pub html: String,
    pub from: String,
}

/// Every message to `address` so far.
pub async fn messages_to(address: &str) -> Vec<Mail> {
    // The first stack's inbox, which the mail and pages stacks mail to.
    let inbox = &super::stack().inbox;
    let url = url::Url::parse_with_params(&format!("{inbox}/api/email"), [("to.address", address)])
        .expect("the inbox URL");
    let list: Value = super::client()
        .get(url)
        .send()
        .await
        .expect("the inbox answers")
        .json()
        .await
        .expect("the inbox lists JSON");
    list.as_array()
        .expect("a list of messages")
        .iter()
        .map(|m| Mail {
            subject: m["subject"].as_str().unwrap_or_default().to_owned(),
            text: m["text"].as_str().unwrap_or_default().to_owned(),
            html: m["html"].as_str().unwrap_or_default().to_owned(),
            from: m["from"][0]["address"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        })
        .collect()
}

/// Waits (at most 20 s) until `address` has `count` messages, and returns them.
pub async fn wait_for(address: &str, count: usize) -> Vec<Mail> {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let messages = messages_to(address).await;
        if messages.len() >= count || std::time::Instant::now() > deadline {
            assert_eq!(messages.len(), count, "messages to {address}");
            return messages;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The one link of a message: in its text part, and the same in its HTML (escaped there).
pub fn link_of(mail: &Mail) -> String {
    let links: Vec<&str> = mail
        .text
        .split_whitespace()
        .filter(|w| w.starts_with("http://") || w.starts_with("https://"))
        .collect();
    assert_eq!(links.len(), 1, "one link in {:?}", mail.text);
    let link = links[0].to_owned();
    assert!(
        mail.html
            .contains(&format!("href=\"{}\"", link.replace('&', "&amp;"))),
        "the HTML part carries the same link: {}",
        mail.html
    );
    link
}

/// The `token` query parameter of a link.
pub fn token_of(link: &str) -> String {
    let url = url::Url::parse(link).expect("a URL");
    let tokens: Vec<String> = url
        .query_pairs()
        .filter(|(k, _)| k == "token")
        .map(|(_, v)| v.into_owned())
        .collect();
    assert_eq!(tokens.len(), 1, "one token in {link}");
    tokens[0].clone()
}
