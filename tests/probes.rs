//! No probing of hidden values through filter, search or sort: one table of cases, run over
//! REST (`GET /items/...`) and over GraphQL (`/graphql`). A "Reader" reads `id`, `title`,
//! `views` of every row; an "Author" (nested under Reader) also reads every field of their own
//! rows (1-3). Hidden values are `needle10`, `needle11`, `secret-4`...`secret-12`.

use e2e::{Reply, admin_token, get, user_with};
use serde_json::json;

use crate::access::articles;
use crate::graphql::graphql;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Caller {
    Reader,
    Author,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    /// REST 403 `FORBIDDEN`; GraphQL: the field is not in the caller's schema (400) or the
    /// read is refused in-band with `FORBIDDEN` and no data.
    Refused,
    /// Exactly these rows, in this order.
    Rows(&'static [i64]),
}

struct Probe {
    what: &'static str,
    caller: Caller,
    /// The REST query string.
    rest: &'static str,
    /// The same as GraphQL arguments.
    graphql: &'static str,
    outcome: Outcome,
}

const PROBES: &[Probe] = &[
    Probe {
        what: "a filter on a field the caller cannot read",
        caller: Caller::Reader,
        rest: "filter=%7B%22secret%22%3A%7B%22_eq%22%3A%22secret-1%22%7D%7D",
        graphql: r#"filter: {secret: {_eq: "secret-1"}}"#,
        outcome: Outcome::Refused,
    },
    Probe {
        what: "a bracket filter on a field the caller cannot read",
        caller: Caller::Reader,
        rest: "filter[body][_contains]=needle",
        graphql: r#"filter: {body: {_contains: "needle"}}"#,
        outcome: Outcome::Refused,
    },
    Probe {
        what: "a hidden field inside _or",
        caller: Caller::Reader,
        rest: "filter=%7B%22_or%22%3A%5B%7B%22id%22%3A%7B%22_eq%22%3A1%7D%7D%2C%7B%22secret%22%3A%7B%22_eq%22%3A%22secret-1%22%7D%7D%5D%7D",
        graphql: r#"filter: {_or: [{id: {_eq: 1}}, {secret: {_eq: "secret-1"}}]}"#,
        outcome: Outcome::Refused,
    },
    Probe {
        what: "a sort on a field the caller cannot read",
        caller: Caller::Reader,
        rest: "sort=secret",
        graphql: r#"sort: ["secret"]"#,
        outcome: Outcome::Refused,
    },
    Probe {
        what: "a search for a hidden value",
        caller: Caller::Reader,
        rest: "search=secret-1",
        graphql: r#"search: "secret-1""#,
        outcome: Outcome::Rows(&[]),
    },
    Probe {
        what: "a filter matching a value hidden on another's row",
        caller: Caller::Author,
        rest: "filter[body][_contains]=needle1",
        graphql: r#"filter: {body: {_contains: "needle1"}}"#,
        // Article 10's body (`needle10`) matches too, but it is hidden.
        outcome: Outcome::Rows(&[1]),
    },
    Probe {
        what: "a search for a value hidden on another's row",
        caller: Caller::Author,
        rest: "search=needle11",
        graphql: r#"search: "needle11""#,
        outcome: Outcome::Rows(&[]),
    },
    Probe {
        what: "a search for a value on the caller's own row",
        caller: Caller::Author,
        rest: "search=needle2",
        graphql: r#"search: "needle2""#,
        outcome: Outcome::Rows(&[2]),
    },
    Probe {
        what: "a descending sort on a field hidden on others' rows",
        caller: Caller::Author,
        rest: "sort=-secret,id&limit=4",
        graphql: r#"sort: ["-secret", "id"], limit: 4"#,
        // Own rows by their secret, then the others (their secret is null to this caller).
        outcome: Outcome::Rows(&[3, 2, 1, 4]),
    },
];

/// (collection, reader token, author token), the author owning articles 1-3.
async fn setup() -> (String, String, String) {
    let admin = admin_token().await;
    let placeholder = format!("pending-{}", uuid::Uuid::new_v4());
    let (collection, reader, author) = articles(&placeholder).await;
    let (_, reader_token) = user_with(&admin, json!({"role": reader})).await;
    let (author_id, author_token) = user_with(&admin, json!({"role": author})).await;
    for i in 1..=3 {
        let item = json!({"id": i, "title": format!("Article {i:02}"), "body": format!("body of {i} with needle{i}"),
                          "secret": format!("secret-{i}"), "views": (i * 7) % 10, "author": author_id});
        e2e::store()
            .put_item(
                &collection,
                shared::store::item_sort_key(&json!(i)).unwrap(),
                item.as_object().unwrap().clone(),
                &[],
            )
            .await
            .unwrap();
    }
    (collection, reader_token, author_token)
}

fn rows(reply: &Reply, data: &serde_json::Value) -> Vec<i64> {
    data.as_array()
        .unwrap_or_else(|| panic!("no rows in {reply:?}"))
        .iter()
        .map(|row| match &row["id"] {
            serde_json::Value::String(id) => id.parse().unwrap(),
            other => other.as_i64().unwrap(),
        })
        .collect()
}

#[tokio::test]
async fn hidden_values_cannot_be_probed_over_rest() {
    let (collection, reader, author) = setup().await;
    for probe in PROBES {
        let token = if probe.caller == Caller::Reader {
            &reader
        } else {
            &author
        };
        let reply = get(
            &format!("/items/{collection}?fields=id&{}", probe.rest),
            Some(token),
        )
        .await;
        match probe.outcome {
            Outcome::Refused => assert_eq!(
                (reply.status, reply.code()),
                (403, "FORBIDDEN"),
                "{}: {reply:?}",
                probe.what
            ),
            Outcome::Rows(expected) => {
                assert_eq!(reply.status, 200, "{}: {reply:?}", probe.what);
                assert_eq!(
                    rows(&reply, &reply.body["data"]),
                    expected,
                    "{}",
                    probe.what
                );
            }
        }
    }
}

#[tokio::test]
async fn hidden_values_cannot_be_probed_over_graphql() {
    let (collection, reader, author) = setup().await;
    for probe in PROBES {
        let token = if probe.caller == Caller::Reader {
            &reader
        } else {
            &author
        };
        let query = format!("{{ {collection}({}) {{ id }} }}", probe.graphql);
        let reply = graphql(Some(token), &query, None).await;
        match probe.outcome {
            Outcome::Refused => {
                let refused = match reply.status {
                    400 => reply.code() == "GRAPHQL_VALIDATION",
                    200 => {
                        reply.body.get("data").is_none()
                            && reply.body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
                    }
                    _ => false,
                };
                assert!(refused, "{}: {reply:?}", probe.what);
            }
            Outcome::Rows(expected) => {
                assert_eq!(reply.status, 200, "{}: {reply:?}", probe.what);
                assert!(
                    reply.body.get("errors").is_none(),
                    "{}: {reply:?}",
                    probe.what
                );
                assert_eq!(
                    rows(&reply, &reply.body["data"][&collection]),
                    expected,
                    "{}",
                    probe.what
                );
            }
        }
    }
}
