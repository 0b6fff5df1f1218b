//! Directus' GraphQL HTTP layer (`api/src/middleware/graphql.ts`, `services/graphql`): POST with
//! a JSON body or GET with a query string, the 400/405 answers of its transport, the validation
//! wrapper (`GRAPHQL_VALIDATION`), in-band errors from [`ApiError`], and the masking of
//! request-level errors for non-administrators. async-graphql parses, validates and executes;
//! this module only decides what goes in and how the answer looks.
//!
//! A function uses it in three steps (see `functions/graphql`):
//! 1. [`Incoming::read`] the HTTP request (body errors first, as Directus' body parser);
//! 2. resolve the caller exactly as REST does (`crate::adapters::http::caller`); token errors answer with
//!    the REST envelope;
//! 3. [`execute`] the document against the caller's schema, adding the caller's data to the
//!    async-graphql request, and render the result with [`respond`].
//!
//! Resolvers return [`error`]`(ApiError)` for Directus errors (rendered with their code) and set
//! cookies with [`set_cookie`].

use std::sync::atomic::Ordering;

use async_graphql::dynamic::Schema;
use async_graphql::parser::types::{
    DocumentOperations, ExecutableDocument, OperationDefinition, OperationType, Selection,
    SelectionSet,
};
use async_graphql::{PathSegment, Pos, Positioned, ServerError};
use lambda_http::http::{HeaderValue, Method, StatusCode, header};
use lambda_http::{Body, Request, RequestExt};
use serde_json::{Map, Value, json};

use super::limits::Limits;
use super::messages;
use super::phase::RunHandle;
use crate::adapters::http::HttpResponse;
use crate::domain::error::ApiError;

/// `Directus' message for a request-level error a non-administrator may not see.
const MASKED: &str = "An unexpected error occurred.";

#[derive(Debug, Clone, PartialEq)]
enum QueryIn {
    Missing,
    /// `{"query": 123}`: truthy but not a string.
    NotString,
    Text(String),
}

#[derive(Debug, Clone, PartialEq)]
enum VariablesIn {
    None,
    Object(Map<String, Value>),
    /// A JSON string, number, array or `true`: 400 `GRAPHQL_EXECUTION`.
    NotObject,
    /// GET `variables` that are not JSON: 400 `INVALID_QUERY`.
    InvalidJson,
}

/// A GraphQL request as the HTTP layer read it; nothing is parsed as GraphQL yet.
#[derive(Debug, Clone, PartialEq)]
pub struct Incoming {
    method: Method,
    query: QueryIn,
    variables: VariablesIn,
    operation_name: Option<String>,
}

/// JavaScript truthiness of a JSON value (`body.query || null`).
fn truthy(value: Option<&Value>) -> Option<&Value> {
    value.filter(|v| match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(_) | Value::Object(_) => true,
    })
}

/// Exactly `application/json` (any parameters): Directus' `express.json()` parses nothing else,
/// not even `application/graphql+json`.
fn is_plain_json(request: &Request) -> bool {
    request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<mime::Mime>().ok())
        .is_some_and(|m| m.type_() == mime::APPLICATION && m.subtype() == mime::JSON)
}

fn body_bytes(request: &Request) -> &[u8] {
    match request.body() {
        Body::Text(text) => text.as_bytes(),
        Body::Binary(bytes) => bytes,
        _ => &[],
    }
}

impl Incoming {
    /// Reads a GET query string or a POST body. Errors here are the body parser's (too large,
    /// malformed JSON): they come before the token is looked at, as in Directus. Every other
    /// problem is reported by [`execute`], after the caller was resolved.
    pub fn read(request: &Request, limits: &Limits) -> Result<Self, ApiError> {
        let method = request.method().clone();
        if method == Method::GET {
            let params = request.query_string_parameters_ref();
            let param = |name: &str| {
                params
                    .and_then(|p| p.first(name))
                    .filter(|v| !v.is_empty())
                    .map(str::to_owned)
            };
            let variables = match param("variables") {
                None => VariablesIn::None,
                Some(raw) => match serde_json::from_str::<Value>(&raw) {
                    Ok(value) => variables_in(Some(&value)),
                    Err(_) => VariablesIn::InvalidJson,
                },
            };
            return Ok(Self {
                method,
                query: param("query").map_or(QueryIn::Missing, QueryIn::Text),
                variables,
                operation_name: param("operationName"),
            });
        }
        if method != Method::POST {
            return Ok(Self {
                method,
                query: QueryIn::Missing,
                variables: VariablesIn::None,
                operation_name: None,
            });
        }
        let bytes = body_bytes(request);
        if bytes.len() > limits.max_body_bytes {
            return Err(ApiError::payload("request entity too large"));
        }
        let body = if is_plain_json(request) && !bytes.iter().all(u8::is_ascii_whitespace) {
            match serde_json::from_slice::<Value>(bytes) {
                Ok(Value::Object(map)) => map,
                // No batching: an array is a body without `query`.
                Ok(Value::Array(_)) => Map::new(),
                // `express.json()` is strict: only objects and arrays.
                Ok(_) => {
                    return Err(ApiError::payload(
                        "Unexpected token, expected an object or an array",
                    ));
                }
                Err(error) => return Err(ApiError::payload(error.to_string())),
            }
        } else {
            Map::new()
        };
        let query = match truthy(body.get("query")) {
            None => QueryIn::Missing,
            Some(Value::String(text)) => QueryIn::Text(text.clone()),
            Some(_) => QueryIn::NotString,
        };
        let operation_name = match truthy(body.get("operationName")) {
            None => None,
            Some(Value::String(name)) => Some(name.clone()),
            // Not a name any operation has.
            Some(other) => Some(other.to_string()),
        };
        Ok(Self {
            method,
            query,
            variables: variables_in(truthy(body.get("variables"))),
            operation_name,
        })
    }
}

impl Incoming {
    /// The root fields (names, not aliases; fragments followed) of the operation this request
    /// would run, when that operation is a mutation of a document that parses within the token
    /// limit; `None` for anything else. Read before the caller is resolved, to tell a request
    /// of public mutations alone (`system::route_of`); [`execute`] still checks and runs the
    /// document as always.
    pub fn mutation_root_fields(&self, limits: &Limits) -> Option<Vec<String>> {
        let QueryIn::Text(query) = &self.query else {
            return None;
        };
        if token_past_limit(query, limits.token_limit).is_some() {
            return None;
        }
        let document = async_graphql::parser::parse_query(query).ok()?;
        let operation = select(&document, self.operation_name.as_deref())?;
        if operation.node.ty != OperationType::Mutation {
            return None;
        }
        let mut names = Vec::new();
        walk_fields(
            &document,
            &operation.node.selection_set.node,
            &mut Vec::new(),
            false,
            &mut |field| names.push(field.node.name.node.to_string()),
        );
        Some(names)
    }
}

fn variables_in(value: Option<&Value>) -> VariablesIn {
    match value {
        None | Some(Value::Null) => VariablesIn::None,
        Some(Value::Object(map)) => VariablesIn::Object(map.clone()),
        Some(_) => VariablesIn::NotObject,
    }
}

/// How one request runs.
#[derive(Debug, Clone, Copy)]
pub struct Options<'a> {
    pub limits: &'a Limits,
    /// Administrators see the real text of request-level errors (Directus' `process-error.ts`).
    pub admin: bool,
    /// Root fields allowed at most once per operation, aliases included (Directus'
    /// `limitSensitiveMutations`: `auth_login`, `auth_password_request`, ...).
    pub once_per_request: &'a [&'a str],
}

/// A Directus error for a resolver to return: rendered in-band with its code and extensions.
pub fn error(error: ApiError) -> async_graphql::Error {
    async_graphql::Error::new_with_source(error)
}

/// Adds a `Set-Cookie` header to the HTTP response of the request `ctx` belongs to.
pub fn set_cookie(ctx: &async_graphql::Context<'_>, cookie: &str) {
    ctx.append_http_header(header::SET_COOKIE, cookie);
}

/// One inner error of the validation wrapper.
#[derive(Debug, Clone, PartialEq)]
pub struct Invalid {
    pub message: String,
    pub locations: Vec<Pos>,
}

impl Invalid {
    fn new(message: impl Into<String>, locations: Vec<Pos>) -> Self {
        Self {
            message: message.into(),
            locations,
        }
    }

    fn to_json(&self) -> Value {
        let mut map = Map::new();
        map.insert("message".into(), json!(self.message));
        if !self.locations.is_empty() {
            map.insert("locations".into(), locations(&self.locations));
        }
        Value::Object(map)
    }
}

fn locations(positions: &[Pos]) -> Value {
    positions
        .iter()
        .map(|p| json!({"line": p.line, "column": p.column}))
        .collect()
}

fn response(status: StatusCode, body: &Value) -> HttpResponse {
    let mut response = crate::adapters::http::json(status, body);
    response.headers_mut().insert(
        header::VARY,
        HeaderValue::from_static("Origin, Cache-Control"),
    );
    response
}

/// 400 `{"errors":[{"message":"GraphQL validation error.","extensions":{"errors":[…],"code":"GRAPHQL_VALIDATION"}}]}`.
pub fn validation_response(errors: &[Invalid]) -> HttpResponse {
    let inner: Vec<Value> = errors.iter().map(Invalid::to_json).collect();
    crate::adapters::http::json(
        StatusCode::BAD_REQUEST,
        &json!({"errors":[{"message":"GraphQL validation error.","extensions":{"errors":inner,"code":"GRAPHQL_VALIDATION"}}]}),
    )
}

fn execution_response(messages: &[&str]) -> HttpResponse {
    crate::adapters::http::json(
        StatusCode::BAD_REQUEST,
        &json!({"errors":[{"message":"GraphQL execution error.","extensions":{"errors":messages,"code":"GRAPHQL_EXECUTION"}}]}),
    )
}

/// 200 with one request-level error: masked for everyone but administrators.
fn request_error(message: &str, at: Vec<Pos>, admin: bool) -> HttpResponse {
    let mut error = Map::new();
    if admin {
        error.insert("message".into(), json!(message));
        error.insert(
            "extensions".into(),
            json!({"code": "INTERNAL_SERVER_ERROR"}),
        );
        if !at.is_empty() {
            error.insert("locations".into(), locations(&at));
        }
    } else {
        error.insert("message".into(), json!(MASKED));
        error.insert(
            "extensions".into(),
            json!({"code": "INTERNAL_SERVER_ERROR"}),
        );
    }
    response(StatusCode::OK, &json!({ "errors": [Value::Object(error)] }))
}

/// The document's tokens, as graphql-js counts them (punctuators, names, numbers, strings;
/// not whitespace, commas or comments), counting at most `limit + 1`: where the first token
/// past `limit` starts (a byte offset), if there is one.
fn token_past_limit(query: &str, limit: usize) -> Option<usize> {
    use apollo_parser::TokenKind;
    let mut count = 0usize;
    for token in apollo_parser::Lexer::new(query) {
        let (kind, start) = match &token {
            Ok(token) => (token.kind(), token.index()),
            // A lexing error is a token too; the parser reports it.
            Err(error) => (TokenKind::Name, error.index()),
        };
        match kind {
            TokenKind::Whitespace | TokenKind::Comment | TokenKind::Comma | TokenKind::Eof => {}
            _ => {
                count += 1;
                if count > limit {
                    return Some(start);
                }
            }
        }
    }
    None
}

/// graphql-js' error for a document async-graphql could not parse. Syntax errors are named
/// as graphql-js names them (`super::syntax`); documents it parses but async-graphql refuses
/// get the validation rule's message graphql-js reports instead (at async-graphql's positions:
/// the definitions, where graphql-js points at their names).
fn parse_error(query: &str, error: &async_graphql::parser::Error) -> Invalid {
    use async_graphql::parser::Error;
    match error {
        Error::Syntax { start, .. } => match super::syntax::first_error(query, None) {
            Some(found) => Invalid::new(found.message, vec![found.at]),
            None => unnamed_syntax_error(query, *start),
        },
        Error::MultipleOperations { anonymous, .. } => Invalid::new(
            "This anonymous operation must be the only defined operation.",
            vec![*anonymous],
        ),
        Error::OperationDuplicated {
            operation,
            first,
            second,
        } => Invalid::new(
            format!("There can be only one operation named \"{operation}\"."),
            vec![*first, *second],
        ),
        Error::FragmentDuplicated {
            fragment,
            first,
            second,
        } => Invalid::new(
            format!("There can be only one fragment named \"{fragment}\"."),
            vec![*first, *second],
        ),
        other => Invalid::new(
            format!("Syntax Error: {}.", other.to_string().trim_end_matches('.')),
            other.positions().collect(),
        ),
    }
}

/// A syntax error `super::syntax` does not follow (type system definitions, very deep
/// nesting): graphql-js' `Unexpected` wording, at async-graphql's position.
fn unnamed_syntax_error(query: &str, start: Pos) -> Invalid {
    let found = query
        .lines()
        .nth(start.line.saturating_sub(1))
        .and_then(|line| line.chars().nth(start.column.saturating_sub(1)));
    let message = match found {
        Some(c) => format!("Syntax Error: Unexpected \"{c}\"."),
        None => "Syntax Error: Unexpected <EOF>.".to_owned(),
    };
    Invalid::new(message, vec![start])
}

/// graphql-js' `getOperationAST`: the named operation, or the only one.
fn select<'a>(
    doc: &'a ExecutableDocument,
    name: Option<&str>,
) -> Option<&'a Positioned<OperationDefinition>> {
    match (&doc.operations, name) {
        (DocumentOperations::Single(op), None) => Some(op),
        (DocumentOperations::Single(_), Some(_)) => None,
        (DocumentOperations::Multiple(ops), Some(name)) => ops
            .iter()
            .find(|(n, _)| n.as_str() == name)
            .map(|(_, op)| op),
        (DocumentOperations::Multiple(ops), None) if ops.len() == 1 => ops.values().next(),
        (DocumentOperations::Multiple(_), None) => None,
    }
}

/// Every field of `set` (fragments followed once each), with `visit`.
fn walk_fields(
    doc: &ExecutableDocument,
    set: &SelectionSet,
    seen: &mut Vec<String>,
    deep: bool,
    visit: &mut dyn FnMut(&Positioned<async_graphql::parser::types::Field>),
) {
    for item in &set.items {
        match &item.node {
            Selection::Field(field) => {
                visit(field);
                if deep {
                    walk_fields(doc, &field.node.selection_set.node, seen, deep, visit);
                }
            }
            Selection::InlineFragment(fragment) => {
                walk_fields(doc, &fragment.node.selection_set.node, seen, deep, visit);
            }
            Selection::FragmentSpread(spread) => {
                let name = spread.node.fragment_name.node.to_string();
                if seen.contains(&name) {
                    continue;
                }
                seen.push(name.clone());
                if let Some(fragment) = doc.fragments.get(name.as_str()) {
                    walk_fields(doc, &fragment.node.selection_set.node, seen, deep, visit);
                }
            }
        }
    }
}

/// Directus' `limitSensitiveMutations`: each of `names` at most once in the operation, counted
/// as Directus counts: every occurrence among its root fields, aliases included, through inline
/// fragments and fragment spreads at any depth (a fragment spread twice counts twice). One error
/// per name used more than once, at its first occurrence past the limit (the node Directus
/// reports).
pub fn limit_sensitive_mutations(
    doc: &ExecutableDocument,
    operation: &OperationDefinition,
    names: &[&str],
) -> Vec<Invalid> {
    let mut counting = SensitiveCount {
        doc,
        names,
        fragments: std::collections::HashMap::new(),
        expanding: Vec::new(),
    };
    let tally = counting.tally(&operation.selection_set.node);
    names
        .iter()
        .zip(tally.0)
        .filter_map(|(name, seen)| {
            let past_limit = *seen.get(1)?;
            Some(Invalid::new(
                format!("\"{name}\" can only be used once per request"),
                vec![past_limit],
            ))
        })
        .collect()
}

/// Where each sensitive name occurs in a selection set with its fragments expanded, in the
/// order Directus walks them: the first two occurrences per name (one past the limit is all
/// the rule needs), in `SensitiveCount::names` order.
#[derive(Clone)]
struct Tally(Vec<Vec<Pos>>);

impl Tally {
    fn add(&mut self, index: usize, at: Pos) {
        if self.0[index].len() < 2 {
            self.0[index].push(at);
        }
    }

    fn extend(&mut self, other: &Tally) {
        for (index, positions) in other.0.iter().enumerate() {
            for at in positions {
                self.add(index, *at);
            }
        }
    }
}

/// The walk of `limit_sensitive_mutations`. Each fragment's tally is kept once computed, so a
/// fragment spread many times (`fragment A { ...B ...B } fragment B { ...C ...C } …`) is walked
/// once: the count stays linear in the document, where expanding every spread would double with
/// each level. A fragment within its own expansion (a cycle, which validation refuses later)
/// adds nothing, so the walk ends.
struct SensitiveCount<'a> {
    doc: &'a ExecutableDocument,
    names: &'a [&'a str],
    fragments: std::collections::HashMap<&'a str, Tally>,
    expanding: Vec<&'a str>,
}

impl<'a> SensitiveCount<'a> {
    fn tally(&mut self, set: &'a SelectionSet) -> Tally {
        let mut tally = Tally(vec![Vec::new(); self.names.len()]);
        for item in &set.items {
            match &item.node {
                Selection::Field(field) => {
                    let name = field.node.name.node.as_str();
                    if let Some(index) = self.names.iter().position(|n| *n == name) {
                        tally.add(index, field.pos);
                    }
                }
                Selection::InlineFragment(fragment) => {
                    let inner = self.tally(&fragment.node.selection_set.node);
                    tally.extend(&inner);
                }
                Selection::FragmentSpread(spread) => {
                    let name = spread.node.fragment_name.node.as_str();
                    if self.expanding.contains(&name) {
                        continue;
                    }
                    if let Some(known) = self.fragments.get(name) {
                        tally.extend(known);
                        continue;
                    }
                    let Some(fragment) = self.doc.fragments.get(name) else {
                        continue;
                    };
                    self.expanding.push(name);
                    let inner = self.tally(&fragment.node.selection_set.node);
                    self.expanding.pop();
                    tally.extend(&inner);
                    self.fragments.insert(name, inner);
                }
            }
        }
        tally
    }
}

/// Selections an operation or fragment may expand to, per unit of `Limits::max_complexity`:
/// fields, fragment spreads and inline fragments, a fragment counted each time it is spread.
/// async-graphql's validation walks every one of them (its depth and complexity visitors expand
/// each spread), so fragments that each spread the next twice (`fragment A { ...B ...B }
/// fragment B { ...C ...C } …`) cost it 2^n: 20 such fragments, 1 KB, took about a second of a
/// release build, and each one more doubles it. A document within the complexity limit expands
/// to far fewer.
const EXPANSION_PER_COMPLEXITY: usize = 10;

/// Fragments spread within fragments, at most: every walk of the document recurses once per
/// fragment of a chain.
const MAX_FRAGMENT_CHAIN: usize = 64;

/// Whether every operation and fragment of `doc` expands to at most `cap` selections, with no
/// chain of fragments longer than `MAX_FRAGMENT_CHAIN`. Each fragment's expansion is counted
/// once and kept, so this costs one walk of the document however often its fragments are spread.
fn expands_within(doc: &ExecutableDocument, cap: usize) -> bool {
    let mut expansion = Expansion {
        doc,
        cap,
        fragments: std::collections::HashMap::new(),
        expanding: Vec::new(),
    };
    doc.operations
        .iter()
        .all(|(_, operation)| expansion.size(&operation.node.selection_set.node).is_some())
        && doc
            .fragments
            .values()
            .all(|fragment| expansion.size(&fragment.node.selection_set.node).is_some())
}

/// What a selection set expands to: its selections, and the longest chain of fragment spreads
/// within it.
#[derive(Clone, Copy)]
struct Expanded {
    selections: usize,
    chain: usize,
}

struct Expansion<'a> {
    doc: &'a ExecutableDocument,
    cap: usize,
    fragments: std::collections::HashMap<&'a str, Expanded>,
    expanding: Vec<&'a str>,
}

impl<'a> Expansion<'a> {
    /// What `set` expands to; None past the cap or the chain limit. A spread of an unknown
    /// fragment, or of one within its own expansion (a cycle), counts once: validation refuses
    /// both.
    fn size(&mut self, set: &'a SelectionSet) -> Option<Expanded> {
        let mut total = Expanded {
            selections: 0,
            chain: 0,
        };
        for item in &set.items {
            let inner = match &item.node {
                Selection::Field(field) => self.size(&field.node.selection_set.node)?,
                Selection::InlineFragment(fragment) => {
                    self.size(&fragment.node.selection_set.node)?
                }
                Selection::FragmentSpread(spread) => {
                    let name = spread.node.fragment_name.node.as_str();
                    let known = match (self.fragments.get(name), self.doc.fragments.get(name)) {
                        (Some(known), _) => *known,
                        (None, Some(fragment)) if !self.expanding.contains(&name) => {
                            if self.expanding.len() >= MAX_FRAGMENT_CHAIN {
                                return None;
                            }
                            self.expanding.push(name);
                            let inner = self.size(&fragment.node.selection_set.node);
                            self.expanding.pop();
                            let inner = inner?;
                            self.fragments.insert(name, inner);
                            inner
                        }
                        _ => Expanded {
                            selections: 0,
                            chain: 0,
                        },
                    };
                    Expanded {
                        selections: known.selections,
                        chain: known.chain + 1,
                    }
                }
            };
            total.selections = total.selections.saturating_add(1 + inner.selections);
            total.chain = total.chain.max(inner.chain);
            if total.selections > self.cap || total.chain > MAX_FRAGMENT_CHAIN {
                return None;
            }
        }
        Some(total)
    }
}

/// graphql-js' `NoSchemaIntrospectionCustomRule`.
fn introspection_fields(doc: &ExecutableDocument) -> Vec<Invalid> {
    let mut errors = Vec::new();
    let mut visit = |field: &Positioned<async_graphql::parser::types::Field>| {
        let name = field.node.name.node.as_str();
        if name == "__schema" || name == "__type" {
            errors.push(Invalid::new(
                format!("GraphQL introspection has been disabled, but the requested query contained the field \"{name}\"."),
                vec![field.pos],
            ));
        }
    };
    for (_, operation) in doc.operations.iter() {
        walk_fields(
            doc,
            &operation.node.selection_set.node,
            &mut Vec::new(),
            true,
            &mut visit,
        );
    }
    errors
}

/// Non-null variables without a default that the request does not give.
fn missing_variables(
    operation: &OperationDefinition,
    given: &Map<String, Value>,
) -> Option<(String, Pos)> {
    operation
        .variable_definitions
        .iter()
        .find_map(|definition| {
            let var = &definition.node;
            let name = var.name.node.as_str();
            let missing = !var.var_type.node.nullable
                && var.default_value.is_none()
                && given.get(name).is_none_or(Value::is_null);
            missing.then(|| {
                (
                    format!(
                        "Variable \"${name}\" of required type \"{}\" was not provided.",
                        var.var_type.node
                    ),
                    definition.pos,
                )
            })
        })
}

/// The most validation errors one answer reports; past it the list ends with graphql-js'
/// `maxErrors` entry (its default is 100 too).
pub const MAX_VALIDATION_ERRORS: usize = 100;

/// graphql-js' last entry when validation stops at [`MAX_VALIDATION_ERRORS`].
const TOO_MANY_VALIDATION_ERRORS: &str =
    "Too many validation errors, error limit reached. Validation aborted.";

/// The type of an argument, from the schema's SDL as parsed once for the request's error
/// answer (only on the missing-argument error path).
fn argument_type(
    document: Option<&async_graphql::parser::types::ServiceDocument>,
    parent: &str,
    field: &str,
    argument: &str,
) -> Option<String> {
    use async_graphql::parser::types::{TypeKind, TypeSystemDefinition};
    document?.definitions.iter().find_map(|definition| {
        let TypeSystemDefinition::Type(ty) = definition else {
            return None;
        };
        if ty.node.name.node.as_str() != parent {
            return None;
        }
        let TypeKind::Object(object) = &ty.node.kind else {
            return None;
        };
        let field = object
            .fields
            .iter()
            .find(|f| f.node.name.node.as_str() == field)?;
        let argument = field
            .node
            .arguments
            .iter()
            .find(|a| a.node.name.node.as_str() == argument)?;
        Some(argument.node.ty.node.to_string())
    })
}

fn method_not_allowed(allowed: &'static [&'static str], current: &Method) -> ApiError {
    ApiError::MethodNotAllowed {
        allowed,
        current: current.as_str().to_owned(),
    }
}

/// Runs `incoming` against `schema` and renders the answer. `data` adds the caller's data
/// (accountability, state handles, ...) to the async-graphql request. `Err` only for the
/// answers Directus throws out of its handler (400 `INVALID_PAYLOAD` / `INVALID_QUERY`, 405),
/// which render as REST errors.
pub async fn execute(
    incoming: Incoming,
    schema: &Schema,
    options: Options<'_>,
    data: impl FnOnce(async_graphql::Request) -> async_graphql::Request,
) -> Result<HttpResponse, ApiError> {
    if incoming.method != Method::GET && incoming.method != Method::POST {
        return Err(method_not_allowed(&["GET", "POST"], &incoming.method));
    }
    let query = match incoming.query {
        QueryIn::Missing => return Err(ApiError::payload("Must provide query string")),
        // graphql-js' `{}` for a document that is not a string.
        QueryIn::NotString => {
            return Ok(crate::adapters::http::json(
                StatusCode::BAD_REQUEST,
                &json!({"errors":[{"message":"GraphQL validation error.","extensions":{"errors":[{}],"code":"GRAPHQL_VALIDATION"}}]}),
            ));
        }
        QueryIn::Text(text) => text,
    };
    if incoming.variables == VariablesIn::InvalidJson {
        return Err(ApiError::query("Variables are invalid JSON"));
    }
    let limits = options.limits;
    if let Some(past) = token_past_limit(&query, limits.token_limit) {
        // graphql-js counts tokens as it parses: a syntax error before the limit is the answer.
        let error = match super::syntax::first_error(&query, Some(limits.token_limit)) {
            Some(found) => Invalid::new(found.message, vec![found.at]),
            // Not followed (nested too deep): the limit, where graphql-js puts it.
            None => Invalid::new(
                format!(
                    "Syntax Error: Document contains more that {} tokens. Parsing aborted.",
                    limits.token_limit
                ),
                vec![super::syntax::position(&query, past)],
            ),
        };
        return Ok(validation_response(&[error]));
    }
    let document = match async_graphql::parser::parse_query(&query) {
        Ok(document) => document,
        Err(error) => return Ok(validation_response(&[parse_error(&query, &error)])),
    };
    let operation_name = incoming.operation_name;
    let operation = select(&document, operation_name.as_deref());
    if incoming.method == Method::GET
        && operation.is_none_or(|op| op.node.ty != OperationType::Query)
    {
        return Err(method_not_allowed(&["POST"], &Method::GET));
    }
    let expansion_cap = limits
        .max_complexity
        .saturating_mul(EXPANSION_PER_COMPLEXITY);
    if !expands_within(&document, expansion_cap) {
        return Ok(validation_response(&[Invalid::new(
            "Query is too complex.",
            vec![],
        )]));
    }
    if !limits.introspection {
        let errors = introspection_fields(&document);
        if !errors.is_empty() {
            return Ok(validation_response(&errors));
        }
    }
    let variables = match incoming.variables {
        VariablesIn::NotObject => {
            return Ok(execution_response(&[
                "Variables must be provided as an Object where each property is a variable value. Perhaps look to see if an unparsed JSON string was provided.",
            ]));
        }
        VariablesIn::Object(map) => map,
        VariablesIn::None | VariablesIn::InvalidJson => Map::new(),
    };
    let Some(operation) = operation else {
        let message = match &operation_name {
            Some(name) => format!("Unknown operation named \"{name}\"."),
            None => "Must provide operation name if query contains multiple operations.".into(),
        };
        return Ok(request_error(&message, vec![], options.admin));
    };
    if !options.once_per_request.is_empty() {
        let errors =
            limit_sensitive_mutations(&document, &operation.node, options.once_per_request);
        if !errors.is_empty() {
            return Ok(validation_response(&errors));
        }
    }
    if let Some((message, at)) = missing_variables(&operation.node, &variables) {
        return Ok(request_error(&message, vec![at], options.admin));
    }

    let mutation = operation.node.ty == OperationType::Mutation;
    // graphql-js answers root fields in document order; async-graphql in completion order.
    let mut order: Vec<String> = Vec::new();
    walk_fields(
        &document,
        &operation.node.selection_set.node,
        &mut Vec::new(),
        false,
        &mut |field| {
            let key = field.node.response_key().node.to_string();
            if !order.contains(&key) {
                order.push(key);
            }
        },
    );

    let run = RunHandle::default();
    let mut request = async_graphql::Request::new(query)
        .variables(async_graphql::Variables::from_json(Value::Object(
            variables,
        )))
        .data(run.clone());
    if let Some(name) = operation_name {
        request = request.operation_name(name);
    }
    request.set_parsed_query(document);
    let request = data(request);
    let answer = schema.execute(request).await;

    if !run.0.started.load(Ordering::SeqCst) {
        // Refused before execution: validation (or a root type the caller does not have).
        let unconfigured = answer
            .errors
            .iter()
            .find(|e| e.message.starts_with("Schema is not configured for"));
        if let Some(error) = unconfigured {
            let kind = if error.message.contains("subscription") {
                "subscription"
            } else {
                "mutation"
            };
            return Ok(request_error(
                &format!("Schema is not configured to execute {kind} operation."),
                error.locations.clone(),
                options.admin,
            ));
        }
        // The SDL is generated and parsed at most once per answer, however many errors ask.
        let sdl = std::cell::OnceCell::new();
        let lookup = |parent: &str, field: &str, argument: &str| {
            let document =
                sdl.get_or_init(|| async_graphql::parser::parse_schema(schema.sdl()).ok());
            argument_type(document.as_ref(), parent, field, argument)
        };
        let mut errors: Vec<Invalid> = answer
            .errors
            .iter()
            .take(MAX_VALIDATION_ERRORS)
            .map(|e| {
                Invalid::new(
                    messages::graphql_js(&e.message, &lookup),
                    e.locations.clone(),
                )
            })
            .collect();
        if answer.errors.len() > MAX_VALIDATION_ERRORS {
            errors.push(Invalid::new(TOO_MANY_VALIDATION_ERRORS, vec![]));
        }
        return Ok(validation_response(&errors));
    }

    let mut body = Map::new();
    let data = match answer.data.into_json().unwrap_or(Value::Null) {
        Value::Object(mut map) => {
            let mut ordered = Map::new();
            for key in &order {
                if let Some(value) = map.remove(key) {
                    ordered.insert(key.clone(), value);
                }
            }
            ordered.extend(map);
            Value::Object(ordered)
        }
        other => other,
    };
    // A mutation field that answered has done its work: the answer must say so, not ask for a
    // retry that would do it again.
    let erased = run.0.erase_data.load(Ordering::SeqCst);
    let mutation_answered = mutation
        && !erased
        && data
            .as_object()
            .is_some_and(|fields| fields.values().any(|v| !v.is_null()));
    if !data.is_null() && !erased {
        body.insert("data".into(), data);
    }
    let mut errors = std::mem::take(&mut *run.0.errors.lock().unwrap_or_else(|e| e.into_inner()));
    errors.extend(answer.errors);
    errors.sort_by_key(|e| e.locations.first().map(|p| (p.line, p.column)));
    // A field that failed for a passing reason (DynamoDB throttled, slow or away) makes the
    // whole answer a 503 with `Retry-After`, as the same failure is over REST: a client and
    // its retry logic see "try again", not a 200 to pick apart (Directus answers 200; the body
    // is the same GraphQL result, `data` of the fields that succeeded included). Not once a
    // mutation field has answered: repeating the document would repeat that mutation.
    let unavailable = !mutation_answered
        && errors.iter().any(|e| {
            matches!(
                e.source::<ApiError>(),
                Some(ApiError::ServiceUnavailable { .. })
            )
        });
    if !errors.is_empty() {
        let errors: Vec<Value> = errors.iter().map(|e| in_band(e, options.admin)).collect();
        body.insert("errors".into(), Value::Array(errors));
    }
    let status = if unavailable {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::OK
    };
    let mut http = response(status, &Value::Object(body));
    if unavailable {
        http.headers_mut().insert(
            header::RETRY_AFTER,
            HeaderValue::from(crate::adapters::http::SERVICE_UNAVAILABLE_RETRY_AFTER),
        );
    }
    for (name, value) in answer.http_headers.iter() {
        if name == header::CACHE_CONTROL {
            // A resolver that shows a secret replaces the default `no-cache` with `no-store`.
            http.headers_mut().insert(name.clone(), value.clone());
        } else {
            http.headers_mut().append(name.clone(), value.clone());
        }
    }
    Ok(http)
}

fn path(segments: &[PathSegment]) -> Value {
    segments
        .iter()
        .map(|s| match s {
            PathSegment::Field(name) => json!(name),
            PathSegment::Index(i) => json!(i),
        })
        .collect()
}

/// Directus' `processError`: a Directus error keeps its message and code (first) and
/// extensions; anything else is `INTERNAL_SERVER_ERROR`, its text shown to administrators only.
fn in_band(error: &ServerError, admin: bool) -> Value {
    let mut out = Map::new();
    if let Some(api) = error.source::<ApiError>() {
        if crate::adapters::http::status_of(api).is_server_error() {
            let cause = std::error::Error::source(api).map(ToString::to_string);
            tracing::error!(code = api.code(), cause, "graphql resolver failed");
        }
        let mut extensions = Map::new();
        extensions.insert("code".into(), json!(api.code()));
        if let Some(Value::Object(rest)) =
            crate::adapters::http::error_body(api)["errors"][0].get("extensions")
        {
            for (key, value) in rest {
                if key != "code" {
                    extensions.insert(key.clone(), value.clone());
                }
            }
        }
        out.insert("message".into(), json!(api.to_string()));
        out.insert("extensions".into(), Value::Object(extensions));
    } else if admin {
        out.insert("message".into(), json!(error.message));
        out.insert(
            "extensions".into(),
            json!({"code": "INTERNAL_SERVER_ERROR"}),
        );
    } else {
        tracing::info!(message = error.message, "graphql error masked");
        out.insert("message".into(), json!(MASKED));
        out.insert(
            "extensions".into(),
            json!({"code": "INTERNAL_SERVER_ERROR"}),
        );
        return Value::Object(out);
    }
    if !error.locations.is_empty() {
        out.insert("locations".into(), locations(&error.locations));
    }
    if !error.path.is_empty() {
        out.insert("path".into(), path(&error.path));
    }
    Value::Object(out)
}

/// [`crate::adapters::http::respond_authenticated`] for GraphQL: HEAD answers carry no body.
pub fn respond(
    request: &Request,
    config: &crate::platform::config::Config,
    result: Result<HttpResponse, ApiError>,
) -> HttpResponse {
    let mut response = crate::adapters::http::respond_authenticated(request, config, result);
    if request.method() == Method::HEAD {
        *response.body_mut() = Body::Empty;
    }
    response
}
