//! `/server/ping`, `/server/info`, `/server/health` for the public, users and administrators.

use e2e::{Reply, admin_token, client, get, registered_login, stack, unique_email};
use serde_json::json;

async fn request(method: reqwest::Method, path: &str, bearer: Option<&str>) -> Reply {
    let mut request = client().request(method.clone(), format!("{}{path}", stack().api));
    if let Some(token) = bearer {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    Reply::from(request.send().await.expect("request sent"))
        .await
        .documented(method.as_str(), path)
}

#[tokio::test]
async fn ping_is_pong_as_text_html_even_with_a_garbage_token() {
    for bearer in [None, Some("garbage")] {
        let reply = get("/server/ping", bearer).await;
        assert_eq!(reply.status, 200);
        assert_eq!(reply.raw, "pong");
        assert_eq!(
            reply.content_type.as_deref(),
            Some("text/html; charset=utf-8")
        );
    }
}

#[tokio::test]
async fn other_methods_on_server_routes_are_route_not_found() {
    for path in ["/server/ping", "/server/info", "/server/health"] {
        for method in [reqwest::Method::POST, reqwest::Method::DELETE] {
            let reply = request(method.clone(), path, None).await;
            assert_eq!(reply.status, 404, "{method} {path}");
            assert_eq!(reply.code(), "ROUTE_NOT_FOUND");
        }
    }
    let reply = get("/server/specs/oas", None).await;
    assert_eq!(reply.status, 404);
}

#[tokio::test]
async fn info_shows_the_project_to_everyone_and_limits_to_users() {
    let public = get("/server/info", None).await;
    assert_eq!(public.status, 200, "{public:?}");
    let data = public.body["data"].as_object().unwrap();
    assert_eq!(data.keys().collect::<Vec<_>>(), vec!["project"]);
    assert_eq!(data["project"]["project_name"], "Directus");
    // The seed turns registration on, verify-email off.
    assert_eq!(data["project"]["public_registration"], true);
    assert_eq!(data["project"]["public_registration_verify_email"], false);

    let user = registered_login(&unique_email("info"), "d1r3ctu5-info").await;
    let user_token = user["access_token"].as_str().unwrap();
    let admin = admin_token().await;
    let as_user = get("/server/info", Some(user_token)).await;
    let as_admin = get("/server/info", Some(&admin)).await;
    assert_eq!(as_user.status, 200);
    assert_eq!(as_admin.status, 200);
    // Administrators also see which build answers; nothing else differs.
    let mut admin_data = as_admin.body["data"].clone();
    let build = admin_data
        .as_object_mut()
        .unwrap()
        .remove("build")
        .expect("administrators see the build");
    assert_eq!(build["version"], env!("CARGO_PKG_VERSION"));
    let commit = build["commit"].as_str().unwrap();
    let head = std::process::Command::new("git")
        .args(["rev-parse", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("git");
    let head = String::from_utf8_lossy(&head.stdout).trim().to_owned();
    assert_eq!(commit, head, "the build states the commit it was made from");
    assert_eq!(
        as_user.body["data"], admin_data,
        "otherwise users and admins see the same"
    );
    assert!(as_user.body["data"].get("build").is_none());
    let data = &as_user.body["data"];
    assert_eq!(data["rateLimit"], false);
    assert_eq!(data["rateLimitGlobal"], false);
    assert_eq!(data["extensions"], json!({"limit": null}));
    assert_eq!(data["queryLimit"], json!({"default": 100, "max": 1000}));
    assert_eq!(data["websocket"], false);
    assert_eq!(data["version"], "11.3.5");

    let garbage = get("/server/info", Some("garbage")).await;
    assert_eq!(garbage.status, 401);
    assert_eq!(garbage.code(), "INVALID_CREDENTIALS");
}

#[tokio::test]
async fn health_is_terse_for_users_and_detailed_for_administrators() {
    let public = get("/server/health", None).await;
    assert_eq!(public.status, 200, "{public:?}");
    assert_eq!(
        public.content_type.as_deref(),
        Some("application/health+json; charset=utf-8")
    );
    assert_eq!(public.body, json!({"status": "ok"}));

    let user = registered_login(&unique_email("health"), "d1r3ctu5-health").await;
    let as_user = get("/server/health", user["access_token"].as_str()).await;
    assert_eq!(as_user.body, json!({"status": "ok"}));

    let admin = admin_token().await;
    let as_admin = get("/server/health", Some(&admin)).await;
    assert_eq!(as_admin.status, 200);
    let body = &as_admin.body;
    assert!(
        matches!(body["status"].as_str(), Some("ok" | "warn")),
        "{body}"
    );
    assert_eq!(body["releaseId"], "11.3.5");
    assert!(body["serviceId"].as_str().unwrap().starts_with("http"));
    let check = &body["checks"]["dynamodb:responseTime"][0];
    assert_eq!(check["componentType"], "datastore");
    assert_eq!(check["observedUnit"], "ms");
    assert_eq!(check["threshold"], 150.0);
    assert!(check["observedValue"].as_f64().unwrap() >= 0.0);

    let garbage = get("/server/health", Some("garbage")).await;
    assert_eq!(garbage.status, 401);
}
