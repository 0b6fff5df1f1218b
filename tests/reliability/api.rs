//! The calls a client makes, timed, against the reliability stack, and what every answer under
//! a fault must look like.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use e2e::faults::{client_from, fault_stack};
use serde_json::{Value, json};

/// The functions' timeout in template.yaml (`Globals.Function.Timeout`): an answer later than
/// this would have been a Lambda timeout (an invocation error) on AWS.
pub const FUNCTION_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, Clone)]
pub struct Answer {
    pub endpoint: &'static str,
    pub status: u16,
    pub body: Value,
    pub retry_after: Option<String>,
    pub elapsed: Duration,
}

impl Answer {
    pub fn code(&self) -> &str {
        self.body["errors"][0]["extensions"]["code"]
            .as_str()
            .unwrap_or("")
    }

    pub fn data(&self, field: &str) -> Option<String> {
        self.body["data"][field].as_str().map(str::to_owned)
    }

    /// A 503 as promised: the envelope with `SERVICE_UNAVAILABLE`, `Retry-After`, in time.
    pub fn is_promised_503(&self) -> bool {
        self.status == 503
            && self.code() == "SERVICE_UNAVAILABLE"
            && self.body["errors"][0]["message"].is_string()
            && self
                .retry_after
                .as_deref()
                .is_some_and(|v| v.parse::<u64>().is_ok_and(|s| s > 0))
            && self.elapsed < FUNCTION_TIMEOUT
    }

    /// Panics unless the answer is a promised 503.
    pub fn assert_503(&self) {
        assert!(
            self.is_promised_503(),
            "{} did not answer a prompt 503 SERVICE_UNAVAILABLE with Retry-After: {self:?}",
            self.endpoint
        );
    }
}

/// A client of the reliability stack, from one loopback address.
#[derive(Clone)]
pub struct Api {
    http: reqwest::Client,
    base: String,
}

impl Api {
    pub fn from(address: IpAddr) -> Self {
        Self {
            http: client_from(address),
            base: fault_stack().api.clone(),
        }
    }

    async fn call(&self, endpoint: &'static str, request: reqwest::RequestBuilder) -> Answer {
        let started = Instant::now();
        let response = request.send().await.unwrap_or_else(|e| {
            panic!(
                "{endpoint}: no HTTP answer at all after {:?}: {e}",
                started.elapsed()
            )
        });
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let text = response.text().await.unwrap_or_default();
        Answer {
            endpoint,
            status,
            body: serde_json::from_str(&text).unwrap_or(Value::Null),
            retry_after,
            elapsed: started.elapsed(),
        }
    }

    fn post(&self, path: &str, body: Value) -> reqwest::RequestBuilder {
        self.http
            .post(format!("{}{path}", self.base))
            .header("content-type", "application/json")
            .body(body.to_string())
    }

    pub async fn register(&self, email: &str, password: &str) -> Answer {
        let body = json!({"email": email, "password": password});
        self.call("register", self.post("/users/register", body))
            .await
    }

    pub async fn login(&self, email: &str, password: &str) -> Answer {
        let body = json!({"email": email, "password": password});
        self.call("login", self.post("/auth/login", body)).await
    }

    pub async fn refresh(&self, refresh_token: &str) -> Answer {
        let body = json!({"refresh_token": refresh_token});
        self.call("refresh", self.post("/auth/refresh", body)).await
    }

    pub async fn logout(&self, refresh_token: &str) -> Answer {
        let body = json!({"refresh_token": refresh_token});
        self.call("logout", self.post("/auth/logout", body)).await
    }

    pub async fn read(&self, access_token: &str) -> Answer {
        let request = self
            .http
            .get(format!("{}/items/posts", self.base))
            .bearer_auth(access_token);
        self.call("read", request).await
    }

    pub async fn me(&self, access_token: &str) -> Answer {
        let request = self
            .http
            .get(format!("{}/users/me", self.base))
            .bearer_auth(access_token);
        self.call("me", request).await
    }

    pub async fn directory(&self, access_token: &str) -> Answer {
        let request = self
            .http
            .get(format!("{}/users?limit=1", self.base))
            .bearer_auth(access_token);
        self.call("directory", request).await
    }

    pub async fn create_user(&self, admin_token: &str, email: &str) -> Answer {
        let body = json!({"email": email, "password": "d1r3ctu5-created"});
        self.call(
            "create_user",
            self.post("/users", body).bearer_auth(admin_token),
        )
        .await
    }

    pub async fn update_me(&self, access_token: &str, changes: Value) -> Answer {
        let request = self
            .http
            .patch(format!("{}/users/me", self.base))
            .header("content-type", "application/json")
            .bearer_auth(access_token)
            .body(changes.to_string());
        self.call("update_me", request).await
    }

    pub async fn update_user(&self, admin_token: &str, id: &str, changes: Value) -> Answer {
        let request = self
            .http
            .patch(format!("{}/users/{id}", self.base))
            .header("content-type", "application/json")
            .bearer_auth(admin_token)
            .body(changes.to_string());
        self.call("update_user", request).await
    }

    /// `POST /graphql` as `@directus/sdk`'s `graphql()` sends it: the posts the caller reads.
    pub async fn graphql_read(&self, access_token: &str) -> Answer {
        let body = json!({"query": "query { posts { id title } }"});
        self.call(
            "graphql_read",
            self.post("/graphql", body).bearer_auth(access_token),
        )
        .await
    }

    /// `auth_login` over `/graphql/system`.
    pub async fn graphql_login(&self, email: &str, password: &str) -> Answer {
        let body = json!({
            "query": "mutation Login($email: String!, $password: String!) { auth_login(email: $email, password: $password) { access_token refresh_token } }",
            "variables": {"email": email, "password": password},
        });
        self.call("graphql_login", self.post("/graphql/system", body))
            .await
    }

    pub async fn password_request(&self, email: &str) -> Answer {
        let body = json!({ "email": email });
        self.call(
            "password_request",
            self.post("/auth/password/request", body),
        )
        .await
    }

    pub async fn password_reset(&self, token: &str, password: &str) -> Answer {
        let body = json!({ "token": token, "password": password });
        self.call("password_reset", self.post("/auth/password/reset", body))
            .await
    }

    pub async fn verify_email(&self, token: &str) -> Answer {
        // A JWT is URL-safe as it is (base64url and dots).
        let request = self.http.get(format!(
            "{}/users/register/verify-email?token={token}",
            self.base
        ));
        self.call("verify_email", request).await
    }

    pub async fn health(&self, access_token: &str) -> Answer {
        let request = self
            .http
            .get(format!("{}/server/health", self.base))
            .bearer_auth(access_token);
        self.call("health", request).await
    }
}

pub const PASSWORD: &str = "d1r3ctu5-reliable";

/// A correctly signed link token of `scope` for the user `id` (the stack's secret): the
/// functions check it and then read the store, which is what a fault should meet.
pub fn link_token(scope: shared::credential::link_token::Scope, id: &str, email: &str) -> String {
    let links =
        shared::credential::link_token::LinkTokens::new(&shared::platform::config::SigningKeys {
            current: e2e::SECRET.as_bytes().to_vec(),
            previous: None,
            jwt: None,
        });
    let now = u64::try_from(shared::store::now_millis() / 1000).expect("after 1970");
    let fingerprint = shared::credential::link_token::password_fingerprint(None);
    links
        .issue(
            scope,
            id,
            email,
            Some(uuid::Uuid::new_v4().to_string()),
            Some(fingerprint),
            now,
            Duration::from_secs(600),
            None,
        )
        .expect("a link token")
        .0
        .expose()
        .to_owned()
}

/// A user registered and logged in while no fault is set: (email, access, refresh).
pub async fn member(api: &Api) -> (String, String, String) {
    let email = e2e::unique_email("rel");
    let registered = api.register(&email, PASSWORD).await;
    assert_eq!(registered.status, 204, "{registered:?}");
    let login = api.login(&email, PASSWORD).await;
    assert_eq!(login.status, 200, "{login:?}");
    (
        email,
        login.data("access_token").expect("an access token"),
        login.data("refresh_token").expect("a refresh token"),
    )
}

/// An administrator of the reliability stack, created with the operator tool's code path, and
/// logged in: the access token.
pub async fn admin(api: &Api) -> String {
    let email = e2e::unique_email("rel-admin");
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
        &fault_stack().store(),
        &passwords,
        &email,
        &password,
        Some(e2e::ADMIN_ROLE),
    )
    .await
    .expect("administrator created");
    let login = api.login(&email, password.expose()).await;
    assert_eq!(login.status, 200, "{login:?}");
    login.data("access_token").expect("an access token")
}
