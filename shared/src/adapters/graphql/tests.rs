//! The transport against a small schema: every row of the spec's section 1 table, the error
//! format of section 2, limits, cookies from resolvers.

use async_graphql::Value as GqlValue;
use async_graphql::dynamic::{
    Field, FieldFuture, FieldValue, InputValue, Object, Schema, SchemaBuilder, TypeRef,
};
use lambda_http::http;
use lambda_http::{Body, Request, RequestExt};
use serde_json::{Value, json};
use std::collections::HashMap;

use super::*;
use crate::domain::error::ApiError;

fn schema_with(limits: &Limits, mutation: bool) -> Schema {
    let post = Object::new("posts")
        .field(Field::new("id", TypeRef::named_nn(TypeRef::ID), |_| {
            FieldFuture::new(async { Ok(Some(GqlValue::from("1"))) })
        }))
        .field(Field::new("title", TypeRef::named(TypeRef::STRING), |_| {
            FieldFuture::new(async { Ok(Some(GqlValue::from("Hello World"))) })
        }))
        .field(Field::new("inner", TypeRef::named("posts"), |_| {
            FieldFuture::new(async { Ok(Some(FieldValue::NULL)) })
        }));
    let mut query = Object::new("Query")
        .field(Field::new(
            "posts",
            TypeRef::named_nn_list_nn("posts"),
            |_| FieldFuture::new(async { Ok(Some(FieldValue::list(vec![FieldValue::NULL]))) }),
        ))
        .field(
            Field::new("posts_by_id", TypeRef::named("posts"), |_| {
                FieldFuture::new(async { Ok(Some(FieldValue::NULL)) })
            })
            .argument(InputValue::new("id", TypeRef::named_nn(TypeRef::ID))),
        )
        .field(Field::new(
            "forbidden",
            TypeRef::named(TypeRef::STRING),
            |_| {
                FieldFuture::new(async {
                    Err::<Option<FieldValue>, _>(error(ApiError::forbidden_fields(
                        "posts",
                        &["nope".into()],
                    )))
                })
            },
        ))
        .field(Field::new(
            "strict",
            TypeRef::named_nn(TypeRef::STRING),
            |_| {
                FieldFuture::new(async {
                    Err::<Option<FieldValue>, _>(error(ApiError::query(
                        "\"limit\" must be greater than or equal to -1",
                    )))
                })
            },
        ))
        .field(Field::new(
            "unavailable",
            TypeRef::named(TypeRef::STRING),
            |_| {
                FieldFuture::new(async {
                    Err::<Option<FieldValue>, _>(error(ApiError::from(
                        crate::store::StoreError::Conflict,
                    )))
                })
            },
        ))
        .field(Field::new(
            "second_factor",
            TypeRef::named(TypeRef::STRING),
            |_| {
                FieldFuture::new(async {
                    Err::<Option<FieldValue>, _>(error(ApiError::InvalidOtp))
                })
            },
        ))
        .field(Field::new(
            "shown_once",
            TypeRef::named(TypeRef::STRING),
            |ctx| {
                FieldFuture::new(async move {
                    ctx.insert_http_header(
                        http::header::CACHE_CONTROL,
                        http::HeaderValue::from_static("no-store"),
                    );
                    Ok(Some(GqlValue::from("secret")))
                })
            },
        ))
        .field(Field::new("boom", TypeRef::named(TypeRef::STRING), |_| {
            FieldFuture::new(async {
                Err::<Option<FieldValue>, _>(async_graphql::Error::new("secret detail"))
            })
        }))
        .field(
            Field::new("echo", TypeRef::named(TypeRef::INT), |ctx| {
                FieldFuture::new(async move {
                    let n = ctx.args.try_get("n")?.i64()?;
                    Ok(Some(GqlValue::from(n)))
                })
            })
            .argument(InputValue::new("n", TypeRef::named_nn(TypeRef::INT))),
        );
    let mut builder: SchemaBuilder;
    if mutation {
        let mutation = Object::new("Mutation")
            .field(Field::new(
                "auth_login",
                TypeRef::named(TypeRef::STRING),
                |ctx| {
                    FieldFuture::new(async move {
                        set_cookie(ctx.ctx, "directus_session_token=abc; Path=/; HttpOnly");
                        Ok(Some(GqlValue::from("ok")))
                    })
                },
            ))
            .field(Field::new(
                "unavailable_write",
                TypeRef::named(TypeRef::BOOLEAN),
                |_| {
                    FieldFuture::new(async {
                        Err::<Option<FieldValue>, _>(error(ApiError::from(
                            crate::store::StoreError::Conflict,
                        )))
                    })
                },
            ));
        builder = Schema::build("Query", Some("Mutation"), None).register(mutation);
    } else {
        builder = Schema::build("Query", None, None);
        query = query.field(Field::new(
            "_empty",
            TypeRef::named(TypeRef::STRING),
            |_| FieldFuture::new(async { Ok(Some(FieldValue::NULL)) }),
        ));
    }
    builder = builder.register(post).register(query);
    limits.apply(builder).finish().unwrap()
}

fn post(content_type: &str, body: &str) -> Request {
    http::Request::builder()
        .method("POST")
        .uri("/graphql")
        .header("content-type", content_type)
        .body(Body::Text(body.to_owned()))
        .unwrap()
}

fn get(params: &[(&str, &str)]) -> Request {
    let map: HashMap<String, String> = params
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    http::Request::builder()
        .method("GET")
        .uri("/graphql")
        .body(Body::Empty)
        .unwrap()
        .with_query_string_parameters(map)
}

struct Answer {
    status: u16,
    headers: http::HeaderMap,
    body: Value,
}

async fn run_with(request: Request, limits: &Limits, admin: bool, mutation: bool) -> Answer {
    let schema = schema_with(limits, mutation);
    let once: &[&str] = &["auth_login"];
    let result = match Incoming::read(&request, limits) {
        Ok(incoming) => {
            execute(
                incoming,
                &schema,
                Options {
                    limits,
                    admin,
                    once_per_request: once,
                },
                |r| r,
            )
            .await
        }
        Err(error) => Err(error),
    };
    let config = crate::platform::testing::unreachable_state().config.clone();
    let response = respond(&request, &config, result);
    let body = match response.body() {
        Body::Text(text) => serde_json::from_str(text).unwrap(),
        Body::Empty => Value::Null,
        Body::Binary(bytes) => serde_json::from_slice(bytes).unwrap(),
        _ => Value::Null,
    };
    Answer {
        status: response.status().as_u16(),
        headers: response.headers().clone(),
        body,
    }
}

async fn run(request: Request) -> Answer {
    run_with(request, &Limits::default(), false, false).await
}

async fn query(q: &str) -> Answer {
    run(post("application/json", &json!({ "query": q }).to_string())).await
}

fn validation(messages: &[&str]) -> Value {
    let inner: Vec<Value> = messages.iter().map(|m| json!(m)).collect();
    json!(inner)
}

fn inner_messages(answer: &Answer) -> Value {
    assert_eq!(answer.status, 400, "{}", answer.body);
    assert_eq!(
        answer.body["errors"][0]["message"],
        "GraphQL validation error."
    );
    assert_eq!(
        answer.body["errors"][0]["extensions"]["code"],
        "GRAPHQL_VALIDATION"
    );
    answer.body["errors"][0]["extensions"]["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["message"].clone())
        .collect()
}

const MUST_PROVIDE: &str = r#"{"errors":[{"message":"Invalid payload. Must provide query string.","extensions":{"reason":"Must provide query string","code":"INVALID_PAYLOAD"}}]}"#;

#[tokio::test]
async fn a_query_answers_data_with_directus_headers() {
    let answer = query("{ posts { id title } }").await;
    assert_eq!(answer.status, 200);
    assert_eq!(
        answer.body,
        json!({"data":{"posts":[{"id":"1","title":"Hello World"}]}})
    );
    assert_eq!(
        answer.headers["content-type"],
        "application/json; charset=utf-8"
    );
    assert_eq!(answer.headers["cache-control"], "no-cache");
    assert_eq!(answer.headers["vary"], "Origin, Cache-Control");
}

#[tokio::test]
async fn bodies_that_are_not_a_json_query_must_provide_a_query_string() {
    let q = r#"{"query":"{ posts { id } }"}"#;
    for request in [
        post("application/graphql", "{ posts { id } }"),
        post("application/graphql+json", q),
        post("application/vnd.api+json", q),
        post(
            "application/x-www-form-urlencoded",
            "query=%7Bposts%7Bid%7D%7D",
        ),
        post("text/plain", q),
        post("application/json", ""),
        post("application/json", "   "),
        post("application/json", &format!("[{q}]")),
        post("application/json", r#"{"query":""}"#),
        post("application/json", r#"{"query":null,"extensions":{}}"#),
        get(&[]),
    ] {
        let answer = run(request).await;
        assert_eq!(answer.status, 400);
        assert_eq!(answer.body.to_string(), MUST_PROVIDE);
    }
    // With a charset, the JSON is read.
    let answer = run(post("application/json; charset=utf-8", q)).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
}

#[tokio::test]
async fn malformed_and_oversized_bodies_are_invalid_payloads() {
    for body in [
        "{",
        "{\"query\":",
        "\"text\"",
        "123",
        "{\"query\":\"\u{0}\"",
        "\u{1}",
    ] {
        let answer = run(post("application/json", body)).await;
        assert_eq!(answer.status, 400, "{body}");
        assert_eq!(
            answer.body["errors"][0]["extensions"]["code"],
            "INVALID_PAYLOAD"
        );
    }
    let limits = Limits {
        max_body_bytes: 100,
        ..Limits::default()
    };
    let big = json!({"query": format!("{{ posts {{ id }} }} #{}", "x".repeat(200))}).to_string();
    let answer = run_with(post("application/json", &big), &limits, false, false).await;
    assert_eq!(answer.status, 400);
    assert_eq!(
        answer.body["errors"][0]["message"],
        "Invalid payload. request entity too large."
    );
}

/// The one inner error of a 400 `GRAPHQL_VALIDATION` answer.
fn only_error(answer: &Answer) -> Value {
    inner_messages(answer);
    let errors = answer.body["errors"][0]["extensions"]["errors"]
        .as_array()
        .unwrap();
    assert_eq!(errors.len(), 1, "{}", answer.body);
    errors[0].clone()
}

#[tokio::test]
async fn syntax_errors_read_as_graphql_js_words_and_places_them() {
    // graphql-js 16.9's `parse` errors for these documents (checked against it).
    for (document, message, line, column) in [
        ("{", "Syntax Error: Expected Name, found <EOF>.", 1, 2),
        ("query {", "Syntax Error: Expected Name, found <EOF>.", 1, 8),
        ("{ a(", "Syntax Error: Expected Name, found <EOF>.", 1, 5),
        ("\"abc", "Syntax Error: Unterminated string.", 1, 5),
        ("{ a } }", "Syntax Error: Unexpected \"}\".", 1, 7),
        (
            "mutation { x(a: ) }",
            "Syntax Error: Unexpected \")\".",
            1,
            17,
        ),
        ("query", "Syntax Error: Expected \"{\", found <EOF>.", 1, 6),
        (
            "{ posts(id 1) { id } }",
            "Syntax Error: Expected \":\", found Int \"1\".",
            1,
            12,
        ),
        (
            "{ posts { id\u{0} } }",
            "Syntax Error: Unexpected character: U+0000.",
            1,
            13,
        ),
        (
            "{ posts(id: \"x\\q\") }",
            "Syntax Error: Invalid character escape sequence: \"\\q\".",
            1,
            15,
        ),
        (
            "fragment F X { id }",
            "Syntax Error: Expected \"on\", found Name \"X\".",
            1,
            12,
        ),
        (
            "{\n  posts {\n    id(\n  }\n}",
            "Syntax Error: Expected Name, found \"}\".",
            4,
            3,
        ),
    ] {
        let answer = query(document).await;
        assert_eq!(
            only_error(&answer),
            json!({"message": message, "locations": [{"line": line, "column": column}]}),
            "{document:?}"
        );
    }
}

#[tokio::test]
async fn documents_async_graphql_refuses_whole_read_as_graphql_js_validation() {
    for (document, message) in [
        (
            "{ posts { id } } query Q { posts { id } }",
            "This anonymous operation must be the only defined operation.",
        ),
        (
            "query Q { posts { id } } query Q { posts { title } }",
            "There can be only one operation named \"Q\".",
        ),
        (
            "{ posts { ...F } } fragment F on posts { id } fragment F on posts { title }",
            "There can be only one fragment named \"F\".",
        ),
    ] {
        let answer = query(document).await;
        assert_eq!(only_error(&answer)["message"], message, "{document:?}");
    }
}

#[tokio::test]
async fn a_syntax_error_before_the_token_limit_is_reported_as_graphql_js_does() {
    let limits = Limits {
        token_limit: 10,
        ..Limits::default()
    };
    let run = |document: String| {
        let limits = limits.clone();
        async move {
            let body = json!({ "query": document }).to_string();
            run_with(post("application/json", &body), &limits, false, false).await
        }
    };
    // graphql-js stops at the first token it cannot use, before counting the rest.
    let early = run("} ".repeat(20)).await;
    assert_eq!(
        only_error(&early),
        json!({"message": "Syntax Error: Unexpected \"}\".", "locations": [{"line": 1, "column": 1}]})
    );
    // Past the limit without an error: the limit, at the eleventh token.
    let late = run(format!("{{ posts {{ {} }} }}", "id ".repeat(20))).await;
    assert_eq!(
        only_error(&late),
        json!({
            "message": "Syntax Error: Document contains more that 10 tokens. Parsing aborted.",
            "locations": [{"line": 1, "column": 32}]
        })
    );
}

#[tokio::test]
async fn a_query_that_is_not_a_string_is_a_validation_error() {
    let answer = run(post("application/json", r#"{"query":123}"#)).await;
    assert_eq!(
        answer.body.to_string(),
        r#"{"errors":[{"message":"GraphQL validation error.","extensions":{"errors":[{}],"code":"GRAPHQL_VALIDATION"}}]}"#
    );
    assert_eq!(answer.status, 400);
}

#[tokio::test]
async fn syntax_and_validation_errors_are_wrapped_with_graphql_js_messages() {
    assert_eq!(
        inner_messages(&query("   ").await),
        validation(&["Syntax Error: Unexpected <EOF>."])
    );
    assert_eq!(
        inner_messages(&query("{ posts { id }").await),
        validation(&["Syntax Error: Expected Name, found <EOF>."])
    );
    let answer = query("{ posts { nope1 } nope2 }").await;
    assert_eq!(
        inner_messages(&answer),
        validation(&[
            r#"Cannot query field "nope1" on type "posts"."#,
            r#"Cannot query field "nope2" on type "Query"."#
        ])
    );
    assert_eq!(
        answer.body["errors"][0]["extensions"]["errors"][0]["locations"],
        json!([{"line":1,"column":11}])
    );
    assert_eq!(
        inner_messages(&query("{ posts_by_id { id } }").await),
        validation(&[
            r#"Field "posts_by_id" argument "id" of type "ID!" is required, but it was not provided."#
        ])
    );
    assert_eq!(
        inner_messages(&query("{ posts(foo: 1) { id } }").await),
        validation(&[r#"Unknown argument "foo" on field "Query.posts"."#])
    );
    assert_eq!(
        inner_messages(&query("query($x: Nope) { posts { id } }").await)[0],
        json!(r#"Unknown type "Nope"."#)
    );
    assert_eq!(
        inner_messages(&query("{ posts }").await),
        validation(&[
            r#"Field "posts" of type "posts" must have a selection of subfields. Did you mean "posts { ... }"?"#
        ])
    );
}

#[tokio::test]
async fn variables_that_are_not_an_object_are_an_execution_error() {
    for variables in [json!("{\"n\":1}"), json!(5), json!([1]), json!(true)] {
        let body = json!({"query": "query($n: Int!) { echo(n: $n) }", "variables": variables});
        let answer = run(post("application/json", &body.to_string())).await;
        assert_eq!(answer.status, 400);
        assert_eq!(
            answer.body.to_string(),
            r#"{"errors":[{"message":"GraphQL execution error.","extensions":{"errors":["Variables must be provided as an Object where each property is a variable value. Perhaps look to see if an unparsed JSON string was provided."],"code":"GRAPHQL_EXECUTION"}}]}"#
        );
    }
    let body = json!({"query": "query($n: Int!) { echo(n: $n) }", "variables": {"n": 7}});
    let answer = run(post("application/json", &body.to_string())).await;
    assert_eq!(answer.body, json!({"data":{"echo":7}}));
}

#[tokio::test]
async fn request_level_errors_are_masked_for_everyone_but_administrators() {
    let masked = json!({"errors":[{"message":"An unexpected error occurred.","extensions":{"code":"INTERNAL_SERVER_ERROR"}}]});
    let cases = [
        (
            json!({"query": "query A { posts { id } }", "operationName": "B"}),
            "Unknown operation named \"B\".",
        ),
        (
            json!({"query": "query A { posts { id } } query B { posts { id } }"}),
            "Must provide operation name if query contains multiple operations.",
        ),
        (
            json!({"query": "query($n: Int!) { echo(n: $n) }"}),
            "Variable \"$n\" of required type \"Int!\" was not provided.",
        ),
        (
            json!({"query": "mutation { auth_login }"}),
            "Schema is not configured to execute mutation operation.",
        ),
    ];
    for (body, message) in cases {
        let answer = run(post("application/json", &body.to_string())).await;
        assert_eq!(answer.status, 200, "{body}");
        assert_eq!(answer.body, masked, "{body}");
        let admin = run_with(
            post("application/json", &body.to_string()),
            &Limits::default(),
            true,
            false,
        )
        .await;
        assert_eq!(admin.status, 200);
        assert_eq!(admin.body["errors"][0]["message"], message, "{body}");
        assert_eq!(
            admin.body["errors"][0]["extensions"]["code"],
            "INTERNAL_SERVER_ERROR"
        );
    }
}

#[tokio::test]
async fn resolver_errors_are_in_band_with_the_code_first() {
    let answer = query("{ posts { id } forbidden }").await;
    assert_eq!(answer.status, 200);
    assert_eq!(
        answer.body.to_string(),
        r#"{"data":{"posts":[{"id":"1"}],"forbidden":null},"errors":[{"message":"You don't have permission to access field \"nope\" in collection \"posts\" or it does not exist. Queried in root.","extensions":{"code":"FORBIDDEN","reason":"You don't have permission to access field \"nope\" in collection \"posts\" or it does not exist. Queried in root."},"locations":[{"line":1,"column":16}],"path":["forbidden"]}]}"#
    );
    // A failing non-null root field erases `data`.
    let answer = query("{ posts { id } strict }").await;
    assert_eq!(answer.status, 200);
    assert!(answer.body.get("data").is_none(), "{}", answer.body);
    assert_eq!(
        answer.body["errors"][0]["extensions"]["code"],
        "INVALID_QUERY"
    );
    assert_eq!(
        answer.body["errors"][0]["message"],
        "Invalid query. \"limit\" must be greater than or equal to -1."
    );
    // Other errors are masked, without location or path, but for administrators.
    let answer = query("{ boom }").await;
    assert_eq!(
        answer.body,
        json!({"data":{"boom":null},"errors":[{"message":"An unexpected error occurred.","extensions":{"code":"INTERNAL_SERVER_ERROR"}}]})
    );
    let admin = run_with(
        post("application/json", r#"{"query":"{ boom }"}"#),
        &Limits::default(),
        true,
        false,
    )
    .await;
    assert_eq!(admin.body["errors"][0]["message"], "secret detail");
    assert_eq!(admin.body["errors"][0]["path"], json!(["boom"]));
}

#[tokio::test]
async fn a_wrong_second_factor_is_in_band_invalid_otp_as_in_directus() {
    let answer = query("{ second_factor }").await;
    assert_eq!(answer.status, 200);
    assert_eq!(
        answer.body.to_string(),
        r#"{"data":{"second_factor":null},"errors":[{"message":"Invalid user OTP.","extensions":{"code":"INVALID_OTP"},"locations":[{"line":1,"column":3}],"path":["second_factor"]}]}"#
    );
}

#[tokio::test]
async fn a_resolver_showing_a_secret_replaces_no_cache_with_no_store() {
    let answer = query("{ shown_once }").await;
    assert_eq!(answer.body, json!({"data":{"shown_once":"secret"}}));
    let values: Vec<_> = answer.headers.get_all("cache-control").iter().collect();
    assert_eq!(values, ["no-store"]);
    // Others keep the default.
    let plain = query("{ posts { id } }").await;
    let values: Vec<_> = plain.headers.get_all("cache-control").iter().collect();
    assert_eq!(values, ["no-cache"]);
}

#[tokio::test]
async fn a_field_the_database_failed_makes_the_answer_a_503_with_retry_after() {
    let answer = query("{ posts { id } unavailable }").await;
    assert_eq!(answer.status, 503);
    assert_eq!(
        answer.headers["retry-after"],
        crate::adapters::http::SERVICE_UNAVAILABLE_RETRY_AFTER.to_string()
    );
    // The GraphQL result as it would be at 200: what succeeded, and the error in the envelope.
    assert_eq!(answer.body["data"]["posts"], json!([{"id": "1"}]));
    assert_eq!(
        answer.body["errors"][0]["extensions"]["code"],
        "SERVICE_UNAVAILABLE"
    );
    assert_eq!(
        answer.body["errors"][0]["extensions"]["service"],
        "database"
    );
    // Other in-band errors stay at 200 without Retry-After.
    let answer = query("{ posts { id } forbidden }").await;
    assert_eq!(answer.status, 200);
    assert!(answer.headers.get("retry-after").is_none());

    // A mutation is a 503 only when none of its fields answered: a retry repeats the document.
    let limits = Limits::default();
    let mutate = |document: &str| {
        run_with(
            post(
                "application/json",
                &json!({ "query": document }).to_string(),
            ),
            &limits,
            false,
            true,
        )
    };
    let failed = mutate("mutation { unavailable_write }").await;
    assert_eq!(failed.status, 503, "{}", failed.body);
    assert!(failed.headers.contains_key("retry-after"));
    let partly = mutate("mutation { auth_login unavailable_write }").await;
    assert_eq!(partly.status, 200, "{}", partly.body);
    assert!(partly.headers.get("retry-after").is_none());
    assert_eq!(partly.body["data"]["auth_login"], "ok");
    assert_eq!(
        partly.body["errors"][0]["extensions"]["code"],
        "SERVICE_UNAVAILABLE"
    );
}

#[tokio::test]
async fn get_runs_queries_only() {
    let answer = run(get(&[("query", "{ posts { id } }")])).await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.body, json!({"data":{"posts":[{"id":"1"}]}}));
    let answer = run(get(&[
        ("query", "query($n: Int!) { echo(n: $n) }"),
        ("variables", r#"{"n":3}"#),
    ]))
    .await;
    assert_eq!(answer.body, json!({"data":{"echo":3}}));
    let answer = run(get(&[("query", "{ posts { id } }"), ("variables", "{")])).await;
    assert_eq!(answer.status, 400);
    assert_eq!(
        answer.body.to_string(),
        r#"{"errors":[{"message":"Invalid query. Variables are invalid JSON.","extensions":{"reason":"Variables are invalid JSON","code":"INVALID_QUERY"}}]}"#
    );
    let post_only = r#"{"errors":[{"message":"Invalid method \"GET\" used. Should be one of \"POST\".","extensions":{"allowed":["POST"],"current":"GET","code":"METHOD_NOT_ALLOWED"}}]}"#;
    for params in [
        vec![("query", "mutation { auth_login }")],
        vec![("query", "query A { posts { id } } query B { posts { id } }")],
        vec![
            (
                "query",
                "query A { posts { id } } mutation B { auth_login }",
            ),
            ("operationName", "B"),
        ],
    ] {
        let answer = run_with(get(&params), &Limits::default(), false, true).await;
        assert_eq!(answer.status, 405);
        assert_eq!(answer.headers["allow"], "POST");
        assert_eq!(answer.body.to_string(), post_only);
    }
    // The query of a mixed document runs when named.
    let answer = run_with(
        get(&[
            (
                "query",
                "query A { posts { id } } mutation B { auth_login }",
            ),
            ("operationName", "A"),
        ]),
        &Limits::default(),
        false,
        true,
    )
    .await;
    assert_eq!(answer.status, 200);
}

#[tokio::test]
async fn other_methods_are_405_and_head_has_no_body() {
    for method in ["PUT", "DELETE", "PATCH", "OPTIONS", "HEAD"] {
        let request = http::Request::builder()
            .method(method)
            .uri("/graphql")
            .body(Body::Empty)
            .unwrap();
        let answer = run(request).await;
        assert_eq!(answer.status, 405, "{method}");
        assert_eq!(answer.headers["allow"], "GET, POST");
        if method == "HEAD" {
            assert_eq!(answer.body, Value::Null);
        } else {
            assert_eq!(
                answer.body.to_string(),
                format!(
                    r#"{{"errors":[{{"message":"Invalid method \"{method}\" used. Should be one of \"GET\", \"POST\".","extensions":{{"allowed":["GET","POST"],"current":"{method}","code":"METHOD_NOT_ALLOWED"}}}}]}}"#
                )
            );
        }
    }
}

#[tokio::test]
async fn the_token_limit_stops_parsing() {
    let limits = Limits {
        token_limit: 10,
        ..Limits::default()
    };
    // 10 tokens: `{ posts { id title } }` is 7; commas and comments are not tokens.
    let ok = run_with(
        post(
            "application/json",
            r#"{"query":"{ posts { id, title } } # a b c d e"}"#,
        ),
        &limits,
        false,
        false,
    )
    .await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    let big = json!({"query": format!("{{ posts {{ {} }} }}", "id ".repeat(20))}).to_string();
    let answer = run_with(post("application/json", &big), &limits, false, false).await;
    assert_eq!(
        inner_messages(&answer),
        validation(&["Syntax Error: Document contains more that 10 tokens. Parsing aborted."])
    );
}

#[tokio::test]
async fn depth_and_complexity_are_limited() {
    let limits = Limits {
        max_depth: 3,
        max_complexity: 5,
        ..Limits::default()
    };
    let deep = run_with(
        post(
            "application/json",
            r#"{"query":"{ posts { inner { inner { id } } } }"}"#,
        ),
        &limits,
        false,
        false,
    )
    .await;
    assert_eq!(
        inner_messages(&deep),
        validation(&["Query is nested too deep."])
    );
    let aliases: String = (0..10).map(|i| format!("a{i}: posts {{ id }} ")).collect();
    let wide = run_with(
        post(
            "application/json",
            &json!({"query": format!("{{ {aliases} }}")}).to_string(),
        ),
        &limits,
        false,
        false,
    )
    .await;
    assert_eq!(
        inner_messages(&wide),
        validation(&["Query is too complex."])
    );
}

#[tokio::test]
async fn fragments_spread_twice_at_every_level_are_refused_before_validation_expands_them() {
    // async-graphql's validation expands every spread: 2^20 selections here, about ten seconds of
    // a debug build (a second in release), doubling with each level. Refused at once instead,
    // whatever the innermost fragment holds (`__typename` is not in async-graphql's complexity).
    for leaf in ["posts { id }", "__typename", "...Missing"] {
        let mut document = String::from("{ ...F0 } ");
        for level in 0..20 {
            let next = level + 1;
            document.push_str(&format!(
                "fragment F{level} on Query {{ ...F{next} ...F{next} }} "
            ));
        }
        document.push_str(&format!("fragment F20 on Query {{ {leaf} }}"));
        let started = std::time::Instant::now();
        let answer = query(&document).await;
        assert!(
            started.elapsed() < std::time::Duration::from_secs(1),
            "{leaf}: {:?}",
            started.elapsed()
        );
        assert_eq!(
            only_error(&answer),
            json!({"message": "Query is too complex."}),
            "{leaf}"
        );
    }
    // So is a chain of 65 fragments each spreading the next (every walk recurses through it).
    let mut chain = String::from("{ ...F0 } ");
    for level in 0..65 {
        chain.push_str(&format!(
            "fragment F{level} on Query {{ ...F{} }} ",
            level + 1
        ));
    }
    chain.push_str("fragment F65 on Query { posts { id } }");
    assert_eq!(
        only_error(&query(&chain).await),
        json!({"message": "Query is too complex."})
    );
    // Fragments spread more than once within the limit still answer.
    let reused = query(
        "{ ...A ...A } fragment A on Query { ...B ... on Query { ...B } } fragment B on Query { posts { id } }",
    )
    .await;
    assert_eq!(reused.status, 200, "{}", reused.body);
    assert_eq!(reused.body, json!({"data":{"posts":[{"id":"1"}]}}));
}

#[tokio::test]
async fn introspection_can_be_disabled() {
    let on = query("{ __schema { queryType { name } } }").await;
    assert_eq!(
        on.body,
        json!({"data":{"__schema":{"queryType":{"name":"Query"}}}})
    );
    let limits = Limits {
        introspection: false,
        ..Limits::default()
    };
    let off = run_with(
        post(
            "application/json",
            r#"{"query":"{ ...F } fragment F on Query { __type(name: \"posts\") { name } }"}"#,
        ),
        &limits,
        false,
        false,
    )
    .await;
    assert_eq!(
        inner_messages(&off),
        validation(&[
            r#"GraphQL introspection has been disabled, but the requested query contained the field "__type"."#
        ])
    );
    // `__typename` is not introspection.
    let typename = run_with(
        post("application/json", r#"{"query":"{ __typename }"}"#),
        &limits,
        false,
        false,
    )
    .await;
    assert_eq!(typename.body, json!({"data":{"__typename":"Query"}}));
}

#[tokio::test]
async fn sensitive_mutations_run_once_per_request_and_set_cookies() {
    let limits = Limits::default();
    let once = run_with(
        post("application/json", r#"{"query":"mutation { auth_login }"}"#),
        &limits,
        false,
        true,
    )
    .await;
    assert_eq!(once.body, json!({"data":{"auth_login":"ok"}}));
    assert_eq!(
        once.headers["set-cookie"],
        "directus_session_token=abc; Path=/; HttpOnly"
    );
    let twice = run_with(
        post("application/json", r#"{"query":"mutation { a: auth_login ...F } fragment F on Mutation { b: auth_login }"}"#),
        &limits,
        false,
        true,
    )
    .await;
    assert_eq!(
        inner_messages(&twice),
        validation(&[r#""auth_login" can only be used once per request"#])
    );
    assert!(twice.headers.get("set-cookie").is_none());
}

#[tokio::test]
async fn sensitive_mutations_are_counted_through_fragments_as_directus_counts() {
    let limits = Limits::default();
    let send = |document: &str| {
        let body = json!({ "query": document }).to_string();
        let limits = limits.clone();
        async move { run_with(post("application/json", &body), &limits, false, true).await }
    };
    let once = r#""auth_login" can only be used once per request"#;
    // Twice or more in the operation, however it is reached: refused, nothing run. The location
    // is the node Directus' rule reports (checked against it on graphql-js).
    for (document, line, column) in [
        ("mutation { a: auth_login b: auth_login }", 1, 26),
        // A fragment spread twice counts twice (Directus' rule; async-graphql would run both).
        (
            "mutation { ...F ...F } fragment F on Mutation { auth_login }",
            1,
            49,
        ),
        (
            "mutation { ... on Mutation { a: auth_login b: auth_login } }",
            1,
            44,
        ),
        (
            "mutation { auth_login ... on Mutation { b: auth_login } }",
            1,
            41,
        ),
        // Nested: a named fragment reached twice through an inline one inside another.
        (
            "mutation { ...A } fragment A on Mutation { ...B ... on Mutation { ... on Mutation { ...B } } } fragment B on Mutation { auth_login }",
            1,
            121,
        ),
        (
            "mutation { ...A b: auth_login } fragment A on Mutation { a: auth_login }",
            1,
            17,
        ),
        // A fragment spread inside its own expansion is not expanded again, but both spreads
        // of A count.
        (
            "mutation { ...A ...A } fragment A on Mutation { auth_login ...A }",
            1,
            49,
        ),
    ] {
        let answer = send(document).await;
        assert_eq!(
            only_error(&answer),
            json!({"message": once, "locations": [{"line": line, "column": column}]}),
            "{document}"
        );
        assert!(answer.headers.get("set-cookie").is_none(), "{document}");
    }
    // Once: runs.
    for document in [
        "mutation { auth_login }",
        "mutation { ...F } fragment F on Mutation { auth_login }",
        "mutation { ... on Mutation { ...F } } fragment F on Mutation { x: auth_login }",
    ] {
        let answer = send(document).await;
        assert_eq!(answer.status, 200, "{document}: {}", answer.body);
        assert!(answer.headers.get("set-cookie").is_some(), "{document}");
    }
    // A fragment cycle ends the count (once here); validation then refuses the cycle.
    let cycle = tokio::time::timeout(
        std::time::Duration::from_secs(30),
        send("mutation { ...A } fragment A on Mutation { auth_login ...B } fragment B on Mutation { ...A }"),
    )
    .await
    .expect("the count ends");
    assert_eq!(cycle.status, 400, "{}", cycle.body);
    assert!(cycle.headers.get("set-cookie").is_none());
}

#[test]
fn the_sensitive_count_walks_each_fragment_once() {
    // 60 levels of fragments each spreading the next twice: 2^60 expansions, counted in one walk
    // of each fragment (and saturated: one past the limit is enough).
    let mut document = String::from("mutation { ...F0 } ");
    for level in 0..60 {
        let next = level + 1;
        document.push_str(&format!(
            "fragment F{level} on Mutation {{ ...F{next} ...F{next} }} "
        ));
    }
    document.push_str("fragment F60 on Mutation { auth_login }");
    let parsed = async_graphql::parser::parse_query(&document).unwrap();
    let operation = match &parsed.operations {
        async_graphql::parser::types::DocumentOperations::Single(operation) => operation,
        _ => unreachable!("one anonymous operation"),
    };
    let started = std::time::Instant::now();
    let errors = limit_sensitive_mutations(&parsed, &operation.node, &["auth_login"]);
    assert!(started.elapsed() < std::time::Duration::from_secs(1));
    assert_eq!(errors.len(), 1);
    assert_eq!(
        errors[0].message,
        r#""auth_login" can only be used once per request"#
    );
}

#[tokio::test]
async fn aliases_fragments_and_typename_work() {
    let answer = query(
        "query Q { a: posts { pid: id ...T } b: posts { ... on posts { title } } } fragment T on posts { t: title __typename }",
    )
    .await;
    assert_eq!(
        answer.body,
        json!({"data":{"a":[{"pid":"1","t":"Hello World","__typename":"posts"}],"b":[{"title":"Hello World"}]}})
    );
}

#[tokio::test]
async fn control_characters_and_huge_values_are_validation_errors_as_in_directus() {
    // graphql-js refuses each before execution: Directus answers 400 GRAPHQL_VALIDATION with one
    // error (`only_error` checks both). Where the message is graphql-js' text it is checked too;
    // graphql-js words the two integer errors `Int cannot represent …`.
    let long_string = format!("{{ echo(n: \"{}\") }}", "x".repeat(100_000));
    let brackets = "[".repeat(10_000);
    let deep = format!("{}{}", "{ posts ".repeat(2000), "}".repeat(2000));
    let cases: [(&str, Option<&str>); 7] = [
        (
            "{ posts { id\u{0} } }",
            Some("Syntax Error: Unexpected character: U+0000."),
        ),
        (
            "{ posts(limit: 99999999999999999999999) { id } }",
            Some(r#"Unknown argument "limit" on field "Query.posts"."#),
        ),
        ("{ echo(n: 99999999999999999999) }", None),
        (
            "{ \u{7f}posts { id } }",
            Some("Syntax Error: Unexpected character: U+007F."),
        ),
        (&long_string, None),
        // graphql-js stops at the first `[`, before the token limit.
        (&brackets, Some(r#"Syntax Error: Unexpected "["."#)),
        (
            &deep,
            Some("Syntax Error: Document contains more that 5000 tokens. Parsing aborted."),
        ),
    ];
    for (q, message) in cases {
        let answer = query(q).await;
        let error = only_error(&answer);
        if q == deep {
            // Where graphql-js counts the 5001st token.
            assert_eq!(error["locations"], json!([{"line": 1, "column": 17001}]));
        }
        if let Some(message) = message {
            let start: String = q.chars().take(40).collect();
            assert_eq!(error["message"], message, "{start}");
        }
    }
}

#[tokio::test]
async fn validation_errors_stop_at_a_hundred_as_graphql_js_does() {
    // 150 fields each missing a required argument: 150 validation errors in async-graphql.
    let aliases: String = (0..150)
        .map(|i| format!("a{i}: posts_by_id {{ id }} "))
        .collect();
    let answer = query(&format!("{{ {aliases} }}")).await;
    let messages = inner_messages(&answer);
    let messages = messages.as_array().unwrap();
    assert_eq!(
        messages.len(),
        transport::MAX_VALIDATION_ERRORS + 1,
        "{messages:?}"
    );
    assert_eq!(
        messages[0],
        r#"Field "posts_by_id" argument "id" of type "ID!" is required, but it was not provided."#
    );
    assert_eq!(
        messages[transport::MAX_VALIDATION_ERRORS],
        "Too many validation errors, error limit reached. Validation aborted."
    );
}
