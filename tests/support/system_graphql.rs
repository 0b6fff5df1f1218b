//! `/graphql/system` for the end-to-end tests: documents sent as `@directus/sdk` sends them
//! (`POST` JSON `{query, variables}`), and the auth operations over either transport, so one
//! table of cases can run over REST and over GraphQL (tests/hardening.rs).

use serde_json::{Value, json};

use crate::{Reply, post_with};

pub const PATH: &str = "/graphql/system";

/// POSTs `{query, variables?}` to `/graphql/system`.
pub async fn system(query: &str, variables: Option<Value>, headers: &[(&str, &str)]) -> Reply {
    let mut body = json!({ "query": query });
    if let Some(variables) = variables {
        body["variables"] = variables;
    }
    post_with(PATH, &body.to_string(), headers).await
}

/// The transports an auth operation can go over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    Rest,
    Graphql,
}

/// A login or refresh answer reduced to what both transports have: the tokens, or the
/// refusal's code; `raw` is the whole body, for "the same answer" comparisons.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub access_token: Option<String>,
    pub refresh_token: Option<String>,
    pub code: Option<String>,
    pub raw: String,
}

impl Answer {
    pub fn ok(&self) -> bool {
        self.code.is_none() && self.access_token.is_some()
    }

    fn from(reply: Reply, transport: Transport, field: &str) -> Self {
        let data = match transport {
            Transport::Rest => reply.body["data"].clone(),
            Transport::Graphql => {
                // Resolver errors are in-band: GraphQL answers 200 whatever the outcome.
                assert_eq!(reply.status, 200, "{reply:?}");
                reply.body["data"][field].clone()
            }
        };
        let text = |v: &Value| v.as_str().map(str::to_owned);
        let code = reply.body["errors"][0]["extensions"]["code"]
            .as_str()
            .map(str::to_owned);
        Self {
            status: reply.status,
            access_token: text(&data["access_token"]),
            refresh_token: text(&data["refresh_token"]),
            code,
            raw: reply.raw,
        }
    }
}

pub const LOGIN: &str = "mutation Login($email: String!, $password: String!) { auth_login(email: $email, password: $password) { access_token refresh_token expires } }";
pub const REFRESH: &str = "mutation Refresh($token: String) { auth_refresh(refresh_token: $token) { access_token refresh_token expires } }";
pub const REGISTER: &str = "mutation Register($email: String!, $password: String!) { users_register(email: $email, password: $password) }";

impl Transport {
    pub async fn login(self, email: &str, password: &str) -> Answer {
        let headers: &[(&str, &str)] = &[];
        let reply = match self {
            Transport::Rest => {
                post_with(
                    "/auth/login",
                    &json!({"email": email, "password": password}).to_string(),
                    headers,
                )
                .await
            }
            Transport::Graphql => {
                system(
                    LOGIN,
                    Some(json!({"email": email, "password": password})),
                    headers,
                )
                .await
            }
        };
        Answer::from(reply, self, "auth_login")
    }

    /// A json-mode refresh with `token`.
    pub async fn refresh(self, token: &str) -> Answer {
        let reply = match self {
            Transport::Rest => {
                post_with(
                    "/auth/refresh",
                    &json!({ "refresh_token": token }).to_string(),
                    &[],
                )
                .await
            }
            Transport::Graphql => system(REFRESH, Some(json!({ "token": token })), &[]).await,
        };
        Answer::from(reply, self, "auth_refresh")
    }

    /// Registers; panics unless the transport's success answer came back.
    pub async fn register(self, email: &str, password: &str) {
        match self {
            Transport::Rest => {
                let reply = post_with(
                    "/register",
                    &json!({"email": email, "password": password}).to_string(),
                    &[],
                )
                .await;
                assert_eq!(reply.status, 204, "{reply:?}");
            }
            Transport::Graphql => {
                let reply = system(
                    REGISTER,
                    Some(json!({"email": email, "password": password})),
                    &[],
                )
                .await;
                assert_eq!(
                    reply.body,
                    json!({"data": {"users_register": true}}),
                    "{reply:?}"
                );
            }
        }
    }

    /// Registers and logs in; returns the tokens.
    pub async fn registered_login(self, email: &str, password: &str) -> Answer {
        self.register(email, password).await;
        let login = self.login(email, password).await;
        assert!(login.ok(), "{login:?}");
        login
    }
}
