//! `/graphql` (Directus' items scope) over HTTP against the local stack: the seed's query, the
//! per-caller schema, the query arguments, and the transport's hostile cases (spec
//! `directus-graphql.md` sections 1, 2 and 4). The probing cases shared with REST are in
//! `probes.rs`.

use e2e::{
    Reply, admin_token, apply, claims_of, client, registered_login, sign, stack, unique_email,
    user_with,
};
use serde_json::{Value, json};

/// `POST /graphql` with a JSON body and extra headers.
pub async fn post_graphql(path: &str, body: &str, headers: &[(&str, &str)]) -> Reply {
    let mut request = client()
        .post(format!("{}{path}", stack().api))
        .header("content-type", "application/json")
        .body(body.to_owned());
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    Reply::from(request.send().await.expect("request sent"))
        .await
        .documented("POST", path)
}

/// `query` (and `variables`) as `token`'s caller (the public without one).
pub async fn graphql(token: Option<&str>, query: &str, variables: Option<Value>) -> Reply {
    let mut body = json!({ "query": query });
    if let Some(variables) = variables {
        body["variables"] = variables;
    }
    let bearer = token.map(|t| format!("Bearer {t}"));
    let headers: Vec<(&str, &str)> = bearer
        .as_deref()
        .map(|b| vec![("authorization", b)])
        .unwrap_or_default();
    post_graphql("/graphql", &body.to_string(), &headers).await
}

async fn send(
    method: &str,
    path: &str,
    content_type: Option<&str>,
    body: &[u8],
    headers: &[(&str, &str)],
) -> Reply {
    let mut request = client()
        .request(
            method.parse().expect("a method"),
            format!("{}{path}", stack().api),
        )
        .body(body.to_owned());
    if let Some(content_type) = content_type {
        request = request.header("content-type", content_type);
    }
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let reply = Reply::from(request.send().await.expect("request sent")).await;
    if method == "HEAD" {
        reply
    } else {
        reply.documented(method, path)
    }
}

fn inner_messages(reply: &Reply) -> Vec<String> {
    assert_eq!(
        (reply.status, reply.code()),
        (400, "GRAPHQL_VALIDATION"),
        "{reply:?}"
    );
    reply.body["errors"][0]["extensions"]["errors"]
        .as_array()
        .expect("inner errors")
        .iter()
        .map(|e| e["message"].as_str().unwrap_or("").to_owned())
        .collect()
}

/// A fresh collection with 12 rows and a role reading `id`, `title`, `views` of every row:
/// (collection, role).
pub async fn catalogue() -> (String, String) {
    let tag = uuid::Uuid::new_v4().simple().to_string();
    let collection = format!("gql_{tag}");
    let items: Vec<Value> = (1..=12)
        .map(|i| {
            json!({"id": i, "title": format!("Entry {i:02}"), "secret": format!("secret-{i}"),
                   "views": (i * 7) % 10, "kind": if i % 2 == 0 { "even" } else { "odd" }})
        })
        .collect();
    let policy = format!("gql-policy-{tag}");
    let role = format!("gql-role-{tag}");
    apply(json!({
        "collections": [{
            "collection": collection,
            "primary_key": "id",
            "fields": [
                {"field": "id", "type": "integer"},
                {"field": "title", "type": "string"},
                {"field": "secret", "type": "string"},
                {"field": "views", "type": "integer"},
                {"field": "kind", "type": "string"}
            ],
            "items": items
        }],
        "policies": [{"id": policy, "name": "GraphQL reader", "permissions": [
            {"collection": collection, "action": "read", "fields": ["id", "title", "views", "kind"]}
        ]}],
        "roles": [{"id": role, "name": "GraphQL reader", "policies": [policy]}]
    }))
    .await;
    (collection, role)
}

#[tokio::test]
async fn the_seed_query_reads_posts_with_a_user_token() {
    let data = registered_login(&unique_email("gql-seed"), "d1r3ctu5").await;
    let token = data["access_token"].as_str().unwrap();
    let reply = graphql(Some(token), "query { posts { id title content } }", None).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    let posts = reply.body["data"]["posts"].as_array().expect("posts");
    assert!(!posts.is_empty(), "{reply:?}");
    // Primary keys are `ID`: strings.
    assert_eq!(posts[0]["id"], "1");
    assert!(posts[0]["title"].is_string() && posts[0]["content"].is_string());
    assert!(reply.body.get("errors").is_none());
    // The same read as REST, field for field.
    let rest = e2e::get("/items/posts?fields=id,title,content", Some(token)).await;
    assert_eq!(rest.body["data"][0]["title"], posts[0]["title"]);
}

#[tokio::test]
async fn the_schema_holds_only_what_the_caller_can_read() {
    let admin = admin_token().await;
    let (collection, role) = catalogue().await;
    let (_, token) = user_with(&admin, json!({"role": role})).await;

    // Fields and collections the caller cannot read do not exist in their schema.
    let secret = graphql(
        Some(&token),
        &format!("{{ {collection} {{ id secret }} }}"),
        None,
    )
    .await;
    assert_eq!(
        inner_messages(&secret),
        vec![format!(
            "Cannot query field \"secret\" on type \"{collection}\"."
        )]
    );
    let filter = graphql(
        Some(&token),
        &format!("{{ {collection}(filter: {{secret: {{_eq: \"secret-1\"}}}}) {{ id }} }}"),
        None,
    )
    .await;
    assert_eq!(
        inner_messages(&filter),
        vec![format!(
            "Field \"secret\" is not defined by type \"{collection}_filter\"."
        )]
    );
    let posts = graphql(Some(&token), "{ posts { id } }", None).await;
    assert_eq!(
        inner_messages(&posts),
        vec!["Cannot query field \"posts\" on type \"Query\".".to_owned()]
    );
    // The public reads `public_notes` (tests/fixtures/public.json) and nothing else.
    let public = graphql(None, "{ public_notes { id title } posts { id } }", None).await;
    assert_eq!(
        inner_messages(&public),
        vec!["Cannot query field \"posts\" on type \"Query\".".to_owned()]
    );
    let notes = graphql(None, "{ public_notes { id title } }", None).await;
    assert_eq!(notes.status, 200, "{notes:?}");
    assert_eq!(
        notes.body,
        json!({"data":{"public_notes":[{"id":"1","title":"Published note"}]}})
    );
    // No mutation type: a mutation is a masked request-level error.
    let mutation = graphql(
        Some(&token),
        "mutation { users_register(email: \"a@example.com\", password: \"x\") }",
        None,
    )
    .await;
    assert_eq!(
        mutation.body,
        json!({"errors":[{"message":"An unexpected error occurred.","extensions":{"code":"INTERNAL_SERVER_ERROR"}}]})
    );
    // Administrators see every collection, the ones no permission names included.
    let everything = graphql(
        Some(&admin),
        &format!("{{ {collection}(limit: 1) {{ secret }} posts(limit: 1) {{ id }} public_notes(limit: 1) {{ draft_text }} }}"),
        None,
    )
    .await;
    assert_eq!(everything.status, 200, "{everything:?}");
    assert_eq!(
        everything.body["data"][&collection][0]["secret"],
        "secret-1"
    );
}

#[tokio::test]
async fn a_caller_who_reads_nothing_gets_the_empty_schema() {
    let admin = admin_token().await;
    let tag = uuid::Uuid::new_v4().simple().to_string();
    let (policy, role) = (format!("nothing-{tag}"), format!("nothing-role-{tag}"));
    apply(json!({
        "policies": [{"id": policy, "name": "Nothing", "permissions": []}],
        "roles": [{"id": role, "name": "Nothing", "policies": [policy]}]
    }))
    .await;
    let (_, token) = user_with(&admin, json!({"role": role})).await;
    let empty = graphql(Some(&token), "{ _empty }", None).await;
    assert_eq!(empty.body, json!({"data":{"_empty":null}}));
    let roots = graphql(
        Some(&token),
        "{ __schema { queryType { name } mutationType { name } subscriptionType { name } } }",
        None,
    )
    .await;
    assert_eq!(
        roots.body,
        json!({"data":{"__schema":{"queryType":{"name":"Query"},"mutationType":null,"subscriptionType":null}}})
    );
    let query = graphql(
        Some(&token),
        "{ __type(name: \"Query\") { fields { name } } }",
        None,
    )
    .await;
    assert_eq!(
        query.body,
        json!({"data":{"__type":{"fields":[{"name":"_empty"}]}}})
    );
}

#[tokio::test]
async fn arguments_variables_aliases_fragments_and_aggregates() {
    let admin = admin_token().await;
    let (c, role) = catalogue().await;
    let (_, token) = user_with(&admin, json!({"role": role})).await;
    let ids = |reply: &Reply, key: &str| -> Vec<String> {
        reply.body["data"][key]
            .as_array()
            .unwrap_or_else(|| panic!("no {key} in {reply:?}"))
            .iter()
            .map(|row| row["id"].as_str().unwrap().to_owned())
            .collect()
    };
    let run = |q: String| {
        let token = token.clone();
        async move { graphql(Some(&token), &q, None).await }
    };

    let filtered = run(format!(
        "{{ {c}(filter: {{_or: [{{id: {{_lte: 2}}}}, {{title: {{_eq: \"Entry 12\"}}}}]}}, sort: [\"-id\"]) {{ id }} }}"
    ))
    .await;
    assert_eq!(ids(&filtered, &c), vec!["12", "2", "1"]);
    let string_number = run(format!(
        "{{ {c}(filter: {{id: {{_eq: \"3\"}}}}) {{ id }} }}"
    ))
    .await;
    assert_eq!(ids(&string_number, &c), vec!["3"]);
    let paged = run(format!(
        "{{ {c}(sort: \"id\", limit: 3, page: 2) {{ id }} }}"
    ))
    .await;
    assert_eq!(ids(&paged, &c), vec!["4", "5", "6"]);
    let offset = run(format!("{{ {c}(limit: 2, offset: 10) {{ id }} }}")).await;
    assert_eq!(ids(&offset, &c), vec!["11", "12"]);
    let search = run(format!("{{ {c}(search: \"Entry 07\") {{ id title }} }}")).await;
    assert_eq!(ids(&search, &c), vec!["7"]);
    let by_views = run(format!(
        "{{ {c}(sort: [\"views\", \"-id\"], limit: 2) {{ id views }} }}"
    ))
    .await;
    assert_eq!(ids(&by_views, &c), vec!["10", "3"]);

    // Limits are checked as REST checks them, in-band; a non-null root field erases `data`.
    let negative = run(format!("{{ {c}(limit: -5) {{ id }} }}")).await;
    assert_eq!(negative.status, 200);
    assert!(negative.body.get("data").is_none(), "{negative:?}");
    assert_eq!(
        negative.body["errors"][0]["message"],
        "Invalid query. \"limit\" must be greater than or equal to -1."
    );
    assert_eq!(
        negative.body["errors"][0]["extensions"]["code"],
        "INVALID_QUERY"
    );
    assert_eq!(negative.body["errors"][0]["path"], json!([c]));
    let offset = run(format!("{{ {c}(offset: -1) {{ id }} }}")).await;
    assert_eq!(
        offset.body["errors"][0]["message"],
        "Invalid query. \"offset\" must be greater than or equal to 0."
    );
    let all = run(format!("{{ {c}(limit: -1) {{ id }} }}")).await;
    assert_eq!(ids(&all, &c).len(), 12);

    // By id: numbers and strings alike; missing or malformed ids are null.
    let by_id = run(format!(
        "{{ a: {c}_by_id(id: 1) {{ id title }} b: {c}_by_id(id: \"2\") {{ title }} missing: {c}_by_id(id: 99) {{ id }} bad: {c}_by_id(id: \"x\") {{ id }} }}"
    ))
    .await;
    // Root fields in document order, as graphql-js answers.
    assert_eq!(
        by_id.raw,
        r#"{"data":{"a":{"id":"1","title":"Entry 01"},"b":{"title":"Entry 02"},"missing":null,"bad":null}}"#
    );

    // Variables, operationName, aliases, fragments, __typename.
    let body = json!({
        "query": format!("query Pick($n: Int!, $f: {c}_filter) {{ first: {c}(limit: $n, filter: $f) {{ pid: id ...T }} }} fragment T on {c} {{ t: title __typename }} query Other {{ __typename }}"),
        "variables": {"n": 1, "f": {"kind": {"_eq": "even"}}},
        "operationName": "Pick"
    });
    let bearer = format!("Bearer {token}");
    let varied = post_graphql("/graphql", &body.to_string(), &[("authorization", &bearer)]).await;
    assert_eq!(
        varied.body,
        json!({"data":{"first":[{"pid":"2","t":"Entry 02","__typename":c}]}})
    );
    let inline = run(format!("{{ {c}(limit: 1) {{ ... on {c} {{ id }} }} }}")).await;
    assert_eq!(ids(&inline, &c), vec!["1"]);

    // Aggregates and groups.
    let aggregated = run(format!(
        "{{ {c}_aggregated {{ count {{ id }} max {{ views }} sum {{ views }} countAll }} }}"
    ))
    .await;
    assert_eq!(
        aggregated.body,
        json!({"data":{format!("{c}_aggregated"):[{"count":{"id":12},"max":{"views":9},"sum":{"views":56},"countAll":null}]}})
    );
    let grouped = run(format!(
        "{{ {c}_aggregated(groupBy: [\"kind\"], sort: [\"kind\"]) {{ group count {{ id }} }} }}"
    ))
    .await;
    assert_eq!(
        grouped.body,
        json!({"data":{format!("{c}_aggregated"):[
            {"group":{"kind":"even"},"count":{"id":6}},
            {"group":{"kind":"odd"},"count":{"id":6}}
        ]}})
    );
    let filtered_count = run(format!(
        "{{ {c}_aggregated(filter: {{views: {{_gte: 5}}}}) {{ count {{ id }} }} }}"
    ))
    .await;
    assert_eq!(
        filtered_count.body["data"][format!("{c}_aggregated")][0]["count"]["id"],
        json!(6)
    );

    // GET runs queries too.
    let query = format!("{{ {c}(limit: 1) {{ id }} }}");
    let url = format!("/graphql?query={}&access_token={token}", urlencode(&query));
    let get = send("GET", &url, None, b"", &[]).await;
    assert_eq!(ids(&get, &c), vec!["1"]);
    // And the proxy path is the same scope.
    let proxied = post_graphql(
        "/graphql/anything",
        &json!({"query": query}).to_string(),
        &[("authorization", &bearer)],
    )
    .await;
    assert_eq!(ids(&proxied, &c), vec!["1"]);
}

fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}

const MUST_PROVIDE: &str = r#"{"errors":[{"message":"Invalid payload. Must provide query string.","extensions":{"reason":"Must provide query string","code":"INVALID_PAYLOAD"}}]}"#;

#[tokio::test]
async fn the_transport_answers_as_directus() {
    let query = r#"{"query":"{ public_notes { id } }"}"#;
    // Only application/json bodies are read.
    for (content_type, body) in [
        (Some("application/graphql"), "{ public_notes { id } }"),
        (Some("application/graphql+json"), query),
        (Some("application/vnd.api+json"), query),
        (Some("application/x-www-form-urlencoded"), "query=%7B%7D"),
        (Some("text/plain"), query),
        (None, query),
        (Some("application/json"), ""),
        (
            Some("application/json"),
            "[{\"query\":\"{ public_notes { id } }\"}]",
        ),
        (Some("application/json"), r#"{"query":""}"#),
    ] {
        let reply = send("POST", "/graphql", content_type, body.as_bytes(), &[]).await;
        assert_eq!(reply.status, 400, "{content_type:?} {body}");
        assert_eq!(reply.raw, MUST_PROVIDE, "{content_type:?} {body}");
    }
    let charset = send(
        "POST",
        "/graphql",
        Some("application/json; charset=utf-8"),
        query.as_bytes(),
        &[],
    )
    .await;
    assert_eq!(charset.status, 200, "{charset:?}");
    // Malformed JSON, a huge body.
    let malformed = send(
        "POST",
        "/graphql",
        Some("application/json"),
        b"{\"query\":",
        &[],
    )
    .await;
    assert_eq!(
        (malformed.status, malformed.code()),
        (400, "INVALID_PAYLOAD")
    );
    let huge = format!(
        "{{\"query\":\"{{ public_notes {{ id }} }} #{}\"}}",
        "x".repeat(1_100_000)
    );
    let too_large = send(
        "POST",
        "/graphql",
        Some("application/json"),
        huge.as_bytes(),
        &[],
    )
    .await;
    assert_eq!(
        too_large.body["errors"][0]["message"],
        "Invalid payload. request entity too large."
    );
    // Variables that are not an object.
    let variables = send(
        "POST",
        "/graphql",
        Some("application/json"),
        br#"{"query":"query($n: Int) { public_notes(limit: $n) { id } }","variables":"{\"n\":1}"}"#,
        &[],
    )
    .await;
    assert_eq!(
        (variables.status, variables.code()),
        (400, "GRAPHQL_EXECUTION")
    );
    // GET: bad variables, a mutation, several operations without a name.
    let bad_variables = send(
        "GET",
        &format!(
            "/graphql?query={}&variables=%7B",
            urlencode("{ public_notes { id } }")
        ),
        None,
        b"",
        &[],
    )
    .await;
    assert_eq!(
        bad_variables.raw,
        r#"{"errors":[{"message":"Invalid query. Variables are invalid JSON.","extensions":{"reason":"Variables are invalid JSON","code":"INVALID_QUERY"}}]}"#
    );
    for document in [
        "mutation { x }",
        "query A { public_notes { id } } query B { public_notes { id } }",
    ] {
        let reply = send(
            "GET",
            &format!("/graphql?query={}", urlencode(document)),
            None,
            b"",
            &[],
        )
        .await;
        assert_eq!(reply.status, 405, "{document}: {reply:?}");
        assert_eq!(
            reply.raw,
            r#"{"errors":[{"message":"Invalid method \"GET\" used. Should be one of \"POST\".","extensions":{"allowed":["POST"],"current":"GET","code":"METHOD_NOT_ALLOWED"}}]}"#
        );
    }
    let empty_get = send("GET", "/graphql", None, b"", &[]).await;
    assert_eq!(empty_get.raw, MUST_PROVIDE);
    // Other methods.
    for method in ["PUT", "PATCH", "DELETE", "HEAD"] {
        let reply = send(
            method,
            "/graphql",
            Some("application/json"),
            query.as_bytes(),
            &[],
        )
        .await;
        assert_eq!(reply.status, 405, "{method}");
        if method == "HEAD" {
            assert!(reply.raw.is_empty());
        } else {
            assert_eq!(
                reply.raw,
                format!(
                    r#"{{"errors":[{{"message":"Invalid method \"{method}\" used. Should be one of \"GET\", \"POST\".","extensions":{{"allowed":["GET","POST"],"current":"{method}","code":"METHOD_NOT_ALLOWED"}}}}]}}"#
                )
            );
        }
    }
    // Syntax and validation errors: 400, wrapped, all listed.
    // Syntax errors in graphql-js' words and places.
    for (document, message, column) in [
        (
            "{ public_notes { id ",
            "Syntax Error: Expected Name, found <EOF>.",
            21,
        ),
        ("   ", "Syntax Error: Unexpected <EOF>.", 4),
        (
            "{ public_notes(limit 1) { id } }",
            "Syntax Error: Expected \":\", found Int \"1\".",
            22,
        ),
        (
            "{ public_notes { id } } }",
            "Syntax Error: Unexpected \"}\".",
            25,
        ),
        (
            "{ public_notes(filter: \"x) { id } }",
            "Syntax Error: Unterminated string.",
            36,
        ),
    ] {
        let syntax = graphql(None, document, None).await;
        assert_eq!(inner_messages(&syntax), vec![message], "{document:?}");
        assert_eq!(
            syntax.body["errors"][0]["extensions"]["errors"][0]["locations"],
            json!([{"line": 1, "column": column}]),
            "{document:?}"
        );
    }
    let unknown = graphql(None, "{ public_notes { nope1 } nope2 }", None).await;
    assert_eq!(
        inner_messages(&unknown),
        vec![
            "Cannot query field \"nope1\" on type \"public_notes\".",
            "Cannot query field \"nope2\" on type \"Query\"."
        ]
    );
    let missing = graphql(None, "{ public_notes_by_id { id } }", None).await;
    assert_eq!(
        inner_messages(&missing),
        vec![
            "Field \"public_notes_by_id\" argument \"id\" of type \"ID!\" is required, but it was not provided."
        ]
    );
    // Request-level errors are masked for everyone but administrators.
    let unknown_operation = post_graphql(
        "/graphql",
        r#"{"query":"query A { public_notes { id } }","operationName":"B"}"#,
        &[],
    )
    .await;
    assert_eq!(
        unknown_operation.raw,
        r#"{"errors":[{"message":"An unexpected error occurred.","extensions":{"code":"INTERNAL_SERVER_ERROR"}}]}"#
    );
    let admin = format!("Bearer {}", admin_token().await);
    let as_admin = post_graphql(
        "/graphql",
        r#"{"query":"query A { public_notes { id } }","operationName":"B"}"#,
        &[("authorization", &admin)],
    )
    .await;
    assert_eq!(
        as_admin.body["errors"][0]["message"],
        "Unknown operation named \"B\"."
    );
}

#[tokio::test]
async fn limits_stop_hostile_documents() {
    // Tokens: 5000 by default.
    let many = format!("{{ {} }}", "public_notes { id } ".repeat(1300));
    let tokens = graphql(None, &many, None).await;
    assert_eq!(
        inner_messages(&tokens),
        vec!["Syntax Error: Document contains more that 5000 tokens. Parsing aborted."]
    );
    // Depth and complexity.
    let deep = format!(
        "{{ __schema {{ types {{ {}name{} }} }} }}",
        "ofType { ".repeat(20),
        " }".repeat(20)
    );
    assert_eq!(
        inner_messages(&graphql(None, &deep, None).await),
        vec!["Query is nested too deep."]
    );
    let wide: String = (0..600)
        .map(|i| format!("a{i}: public_notes {{ id }} "))
        .collect();
    assert_eq!(
        inner_messages(&graphql(None, &format!("{{ {wide} }}"), None).await),
        vec!["Query is too complex."]
    );
    // Fragments each spreading the next twice: 2^24 selections once expanded (minutes of
    // validation), 1.5 KB of document. Refused before anything expands them.
    let mut bomb = String::from("{ ...F0 } ");
    for level in 0..24 {
        let next = level + 1;
        bomb.push_str(&format!(
            "fragment F{level} on Query {{ ...F{next} ...F{next} }} "
        ));
    }
    bomb.push_str("fragment F24 on Query { __typename }");
    let started = std::time::Instant::now();
    let refused = graphql(None, &bomb, None).await;
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    assert_eq!(inner_messages(&refused), vec!["Query is too complex."]);
    // Control characters, huge and empty values: errors, never a crash.
    for query in [
        "{ public_notes { id\u{0} } }".to_owned(),
        "{ public_notes(search: \"\u{1}\u{7f}\") { id } }".to_owned(),
        format!(
            "{{ public_notes(search: \"{}\") {{ id }} }}",
            "x".repeat(200_000)
        ),
        "{ public_notes(limit: 99999999999) { id } }".to_owned(),
        "{ public_notes(limit: 2147483647) { id } }".to_owned(),
        "{ public_notes(page: 2147483647, limit: 1000) { id } }".to_owned(),
        "{ public_notes(filter: {}) { id } }".to_owned(),
        "{ public_notes(filter: {title: {_eq: \"\"}}) { id } }".to_owned(),
        "{ public_notes(sort: \"\") { id } }".to_owned(),
        "{ public_notes_by_id(id: \"\") { id } }".to_owned(),
        "{ public_notes_by_id(id: \"../../x\") { id } }".to_owned(),
        "[".repeat(3000),
    ] {
        let reply = graphql(None, &query, None).await;
        assert!(
            reply.status == 200 || reply.status == 400,
            "{:.60}: {reply:?}",
            query
        );
        assert!(
            reply.body.get("data").is_some() || reply.body["errors"].is_array(),
            "{:.60}: {reply:?}",
            query
        );
    }
}

#[tokio::test]
async fn token_problems_fail_before_graphql_with_the_rest_envelope() {
    let data = registered_login(&unique_email("gql-tokens"), "d1r3ctu5").await;
    let good = data["access_token"].as_str().unwrap().to_owned();
    let mut claims = claims_of(&good);
    let now = e2e::now_secs();
    claims["exp"] = json!(now - 10);
    claims["iat"] = json!(now - 100);
    let expired = sign(&claims);
    let mut foreign = claims_of(&good);
    foreign["iss"] = json!("someone-else");
    let foreign = sign(&foreign);
    let mut future = claims_of(&good);
    future["nbf"] = json!(now + 86_400);
    let future = sign(&future);
    let forged = format!("{}x", &good[..good.len() - 1]);
    let cases: Vec<(String, u16, &str)> = vec![
        ("Bearer garbage".into(), 401, "INVALID_CREDENTIALS"),
        (format!("Bearer {foreign}"), 401, "INVALID_CREDENTIALS"),
        (format!("Bearer {forged}"), 403, "INVALID_TOKEN"),
        (format!("Bearer {future}"), 403, "INVALID_TOKEN"),
        (format!("Bearer {expired}"), 401, "TOKEN_EXPIRED"),
    ];
    let body = r#"{"query":"{ posts { id } }"}"#;
    for (authorization, status, code) in &cases {
        let reply = post_graphql("/graphql", body, &[("authorization", authorization)]).await;
        assert_eq!(
            (reply.status, reply.code()),
            (*status, *code),
            "{authorization:.30}"
        );
        assert_eq!(
            reply.body["errors"][0]["extensions"]
                .as_object()
                .unwrap()
                .len(),
            1,
            "the REST envelope: {reply:?}"
        );
        // The same over GET and the query parameter.
        let token = authorization.trim_start_matches("Bearer ");
        let get = send(
            "GET",
            &format!(
                "/graphql?query=%7Bposts%7Bid%7D%7D&access_token={}",
                urlencode(token)
            ),
            None,
            b"",
            &[],
        )
        .await;
        assert_eq!(
            (get.status, get.code()),
            (*status, *code),
            "GET {authorization:.30}"
        );
    }
    // Two token sources at once.
    let both = post_graphql(
        &format!("/graphql?access_token={good}"),
        body,
        &[("authorization", &format!("Bearer {good}"))],
    )
    .await;
    assert_eq!((both.status, both.code()), (400, "INVALID_PAYLOAD"));
    // Basic is no token: the public's schema.
    let basic = post_graphql("/graphql", body, &[("authorization", "Basic YTpi")]).await;
    assert_eq!(
        inner_messages(&basic),
        vec!["Cannot query field \"posts\" on type \"Query\".".to_owned()]
    );
    // The session cookie of session mode is a token too.
    let email = unique_email("gql-session");
    registered_login(&email, "d1r3ctu5").await;
    let login = e2e::post(
        "/auth/login",
        &json!({"email": email, "password": "d1r3ctu5", "mode": "session"}).to_string(),
    )
    .await;
    let session = login
        .cookie("directus_session_token")
        .expect("a session cookie");
    let cookie = format!("directus_session_token={session}");
    let with_cookie = post_graphql("/graphql", body, &[("cookie", &cookie)]).await;
    assert_eq!(with_cookie.status, 200, "{with_cookie:?}");
    assert!(with_cookie.body["data"]["posts"].is_array());
    // After logout the cookie fails the request, and is cleared.
    let logout = post_graphql(
        "/auth/logout",
        r#"{"mode":"session"}"#,
        &[("cookie", &cookie)],
    )
    .await;
    assert_eq!(logout.status, 204, "{logout:?}");
    let after = post_graphql("/graphql", body, &[("cookie", &cookie)]).await;
    assert_eq!((after.status, after.code()), (401, "INVALID_CREDENTIALS"));
    assert!(
        after
            .set_cookies
            .iter()
            .any(|c| c.starts_with("directus_session_token=;")),
        "{after:?}"
    );
}
