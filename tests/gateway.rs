//! The local stack answers as API Gateway (HTTP API, payload format 2.0, template.yaml) will:
//! `$default` takes every method and path no route takes, bodies that are not UTF-8 reach the
//! function, CORS is the template's, payloads are limited, and the client address a function
//! sees is the connection's.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use e2e::{Reply, client, now_secs, stack, store, unique_email};
use reqwest::Method;
use serde_json::json;

const ALLOWED_ORIGIN: &str = "http://localhost:3000";
const FOREIGN_ORIGIN: &str = "https://evil.example";

async fn send(method: Method, path: &str, headers: &[(&str, &str)], body: Vec<u8>) -> Reply {
    let mut request = client().request(method, format!("{}{path}", stack().api));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    Reply::from(request.body(body).send().await.expect("request sent")).await
}

async fn headers_of(
    method: Method,
    path: &str,
    headers: &[(&str, &str)],
) -> (u16, reqwest::header::HeaderMap) {
    let mut request = client().request(method, format!("{}{path}", stack().api));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.expect("request sent");
    (response.status().as_u16(), response.headers().clone())
}

fn cors_headers(headers: &reqwest::header::HeaderMap) -> Vec<String> {
    headers
        .keys()
        .map(|name| name.as_str().to_owned())
        .filter(|name| name.starts_with("access-control-"))
        .collect()
}

#[tokio::test]
async fn routed_paths_with_another_method_are_route_not_found() {
    for (method, path) in [
        (Method::POST, "/items/posts"),
        (Method::PUT, "/users"),
        (Method::GET, "/auth/login"),
        (Method::DELETE, "/auth/login"),
        (Method::PUT, "/users/register"),
    ] {
        let body = if method == Method::GET {
            Vec::new()
        } else {
            b"{}".to_vec()
        };
        let reply = send(
            method.clone(),
            path,
            &[("content-type", "application/json")],
            body,
        )
        .await
        .documented(method.as_str(), path);
        assert_eq!(reply.status, 404, "{method} {path}: {reply:?}");
        assert_eq!(
            reply.body,
            json!({"errors": [{
                "message": format!("Route {path} doesn't exist."),
                "extensions": {"path": path, "code": "ROUTE_NOT_FOUND"}
            }]}),
            "{method} {path}"
        );
    }
}

#[tokio::test]
async fn a_json_body_that_is_not_utf8_reaches_the_function() {
    let reply = send(
        Method::POST,
        "/auth/login",
        &[("content-type", "application/json")],
        b"{\"email\":\"\xff@example.com\",\"password\":\"x\"}".to_vec(),
    )
    .await
    .documented("POST", "/auth/login");
    assert_eq!(
        (reply.status, reply.code()),
        (400, "INVALID_PAYLOAD"),
        "{reply:?}"
    );
}

#[tokio::test]
async fn allowed_origins_get_cors_headers_on_requests_and_preflights() {
    let (status, headers) = headers_of(
        Method::GET,
        "/.well-known/jwks.json",
        &[("origin", ALLOWED_ORIGIN)],
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(headers["access-control-allow-origin"], ALLOWED_ORIGIN);
    assert_eq!(headers["access-control-allow-credentials"], "true");

    let (status, headers) = headers_of(
        Method::OPTIONS,
        "/auth/login",
        &[
            ("origin", ALLOWED_ORIGIN),
            ("access-control-request-method", "POST"),
            (
                "access-control-request-headers",
                "content-type,authorization",
            ),
        ],
    )
    .await;
    assert_eq!(status, 204);
    assert_eq!(headers["access-control-allow-origin"], ALLOWED_ORIGIN);
    assert_eq!(headers["access-control-allow-credentials"], "true");
    let methods = headers["access-control-allow-methods"].to_str().unwrap();
    assert!(methods.split(',').any(|m| m == "POST"), "{methods}");
    let allowed = headers["access-control-allow-headers"].to_str().unwrap();
    for needed in ["content-type", "authorization"] {
        assert!(allowed.split(',').any(|h| h == needed), "{allowed}");
    }
    assert_eq!(headers["access-control-max-age"], "600");
}

#[tokio::test]
async fn foreign_origins_get_no_cors_headers() {
    let (status, headers) = headers_of(
        Method::GET,
        "/.well-known/jwks.json",
        &[("origin", FOREIGN_ORIGIN)],
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(cors_headers(&headers), Vec::<String>::new());

    let (status, headers) = headers_of(
        Method::OPTIONS,
        "/auth/login",
        &[
            ("origin", FOREIGN_ORIGIN),
            ("access-control-request-method", "POST"),
        ],
    )
    .await;
    assert_eq!(status, 204);
    assert_eq!(cors_headers(&headers), Vec::<String>::new());

    // A function's error answer is no exception.
    let (status, headers) =
        headers_of(Method::GET, "/items/posts", &[("origin", FOREIGN_ORIGIN)]).await;
    assert_eq!(status, 403);
    assert_eq!(cors_headers(&headers), Vec::<String>::new());
}

#[tokio::test]
async fn payloads_over_10_mb_are_refused_before_any_function() {
    let reply = send(
        Method::POST,
        "/auth/login",
        &[("content-type", "application/json")],
        vec![b' '; 10 * 1024 * 1024 + 1],
    )
    .await;
    assert_eq!(reply.status, 413, "{}", reply.raw);
    assert_eq!(reply.body, json!({"message": "Request Entity Too Large"}));
}

/// The address rate limits count is the TCP peer's, as API Gateway's `sourceIp`: a client on a
/// loopback address of its own (all of 127.0.0.0/8 is loopback) is counted under it, and an
/// `X-Forwarded-For` it sends counts for nothing.
#[tokio::test]
async fn the_client_address_is_the_connections_not_a_header() {
    let id = uuid::Uuid::new_v4();
    let bytes = id.as_bytes();
    let address = Ipv4Addr::new(127, bytes[0], bytes[1], bytes[2].max(2));
    let spoofed = format!("198.51.100.{}", bytes[3]);
    let peer = reqwest::Client::builder()
        .local_address(IpAddr::V4(address))
        .timeout(Duration::from_secs(30))
        .build()
        .expect("HTTP client");
    let body = json!({"email": unique_email("peer"), "password": "not-the-password"}).to_string();
    // The login limit's window in tests/fixtures/public.json.
    let window = |now: u64| i64::try_from(now - now % 60).unwrap();
    loop {
        let start = window(now_secs());
        for _ in 0..3 {
            let reply = Reply::from(
                peer.post(format!("{}/auth/login", stack().api))
                    .header("content-type", "application/json")
                    .header("x-forwarded-for", &spoofed)
                    .body(body.clone())
                    .send()
                    .await
                    .expect("request sent"),
            )
            .await
            .documented("POST", "/auth/login");
            assert_eq!(reply.status, 401, "{reply:?}");
        }
        if window(now_secs()) != start {
            // The requests straddled two windows: count again in one.
            continue;
        }
        let store = store();
        // Counting once more returns the count so far, this one included.
        let counted = store
            .count_request("login", &address.to_string(), start, 60)
            .await
            .unwrap();
        assert_eq!(counted, 4, "three logins counted under {address}");
        let forwarded = store
            .count_request("login", &spoofed, start, 60)
            .await
            .unwrap();
        assert_eq!(forwarded, 1, "X-Forwarded-For {spoofed} counted nothing");
        break;
    }
}
