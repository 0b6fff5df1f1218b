//! `/graphql`: Directus' items scope. One schema per set of read permissions, built with
//! `async_graphql::dynamic` from the collections and the fields the caller can read (anything
//! else does not exist in their schema), cached like the policies it comes from. Resolvers only
//! translate arguments into the REST query parameters and call the one read flow
//! ([`crate::flows::items::serve_within`]), so permissions, row filters, the scan bound, counts and
//! aggregates are those of `GET /items`; every read of one request shares one scan budget.

use std::collections::BTreeSet;
use std::sync::{Arc, LazyLock};
use std::time::{Duration, Instant};

use async_graphql::Value as GqlValue;
use async_graphql::dynamic::{
    Field, FieldFuture, FieldValue, InputObject, InputValue, Object, ResolverContext, Scalar,
    Schema, TypeRef,
};
use regex::Regex;
use serde_json::{Map, Value};

use super::limits::Limits;
use super::transport::error;
use crate::domain::access::Accountability;
use crate::domain::aggregate::GroupKey;
use crate::domain::error::ApiError;
use crate::domain::model::Collection;
use crate::domain::query::ItemsQuery;
use crate::domain::timed_map::TimedMap;
use crate::flows::items::{ScanBound, Source};
use crate::flows::time::Now;
use crate::platform::state::AppState;

/// Names graphql-js cannot take, or that clash with the schema's own types (Directus'
/// `sanitize-gql-schema.ts`): such collections are left out.
const RESERVED: [&str; 19] = [
    "Query",
    "Mutation",
    "Subscription",
    "Int",
    "Float",
    "String",
    "Boolean",
    "DateTime",
    "ID",
    "uid",
    "Point",
    "PointList",
    "Polygon",
    "MultiPolygon",
    "JSON",
    "Hash",
    "Date",
    "Void",
    "GraphQLBigInt",
];

static NAME: LazyLock<Regex> =
    LazyLock::new(|| Regex::new("^[_A-Za-z][_0-9A-Za-z]*$").expect("valid"));

const AGGREGATE_FUNCTIONS: [&str; 8] = [
    "count",
    "countDistinct",
    "avg",
    "sum",
    "avgDistinct",
    "sumDistinct",
    "min",
    "max",
];

/// True when `name` can be a collection of the items schema.
pub fn servable(name: &str) -> bool {
    NAME.is_match(name)
        && !name.starts_with("__")
        && !name.starts_with("directus_")
        && !RESERVED.contains(&name)
        // `<c>_by_id`, `<c>_aggregated`, `<c>_filter`, ... of another collection, and the
        // operator inputs, must stay unambiguous.
        && !name.ends_with("_filter_operators")
}

/// How a field's values appear in GraphQL (Directus' `getGraphQLType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Id,
    Int,
    Float,
    BigInt,
    Boolean,
    Json,
    Csv,
    Date,
    Hash,
    Text,
}

impl Kind {
    fn of(field_type: &str) -> Self {
        match field_type {
            "integer" => Self::Int,
            "float" | "decimal" => Self::Float,
            "bigInteger" => Self::BigInt,
            "boolean" => Self::Boolean,
            "json" => Self::Json,
            "csv" => Self::Csv,
            "date" | "time" | "dateTime" | "timestamp" => Self::Date,
            "hash" => Self::Hash,
            _ => Self::Text,
        }
    }

    fn output(self) -> TypeRef {
        match self {
            Self::Id => TypeRef::named_nn(TypeRef::ID),
            Self::Int => TypeRef::named(TypeRef::INT),
            Self::Float => TypeRef::named(TypeRef::FLOAT),
            Self::BigInt => TypeRef::named("GraphQLBigInt"),
            Self::Boolean => TypeRef::named(TypeRef::BOOLEAN),
            Self::Json => TypeRef::named("JSON"),
            Self::Csv => TypeRef::named_list(TypeRef::STRING),
            Self::Date => TypeRef::named("Date"),
            Self::Hash => TypeRef::named("Hash"),
            Self::Text => TypeRef::named(TypeRef::STRING),
        }
    }

    fn numeric(self) -> bool {
        matches!(self, Self::Int | Self::Float | Self::BigInt)
    }

    /// A JSON value of the read as this kind's GraphQL value.
    fn value(self, value: &Value) -> Option<GqlValue> {
        match (self, value) {
            (_, Value::Null) => None,
            (Self::Id | Self::BigInt, Value::Number(n)) => Some(GqlValue::from(n.to_string())),
            (Self::Csv, Value::String(s)) => Some(GqlValue::List(
                s.split(',')
                    .filter(|p| !p.is_empty())
                    .map(|p| GqlValue::from(p.to_owned()))
                    .collect(),
            )),
            (_, other) => GqlValue::from_json(other.clone()).ok(),
        }
    }
}

/// The filter operator input of a field (Directus' `getReadableTypes`).
fn filter_input(field_type: &str) -> &'static str {
    match Kind::of(field_type) {
        Kind::Int | Kind::Float => "number_filter_operators",
        Kind::BigInt => "big_int_filter_operators",
        Kind::Boolean => "boolean_filter_operators",
        Kind::Date => "date_filter_operators",
        Kind::Hash => "hash_filter_operators",
        _ => "string_filter_operators",
    }
}

fn operators(name: &str, groups: &[(&[&str], TypeRef)]) -> InputObject {
    let mut input = InputObject::new(name);
    for (names, ty) in groups {
        for operator in *names {
            input = input.field(InputValue::new(*operator, ty.clone()));
        }
    }
    input
}

fn operator_inputs() -> Vec<InputObject> {
    let string = || TypeRef::named(TypeRef::STRING);
    let boolean = || TypeRef::named(TypeRef::BOOLEAN);
    let number = || TypeRef::named("GraphQLStringOrFloat");
    let numbers = || TypeRef::named_list("GraphQLStringOrFloat");
    let big = || TypeRef::named("GraphQLBigInt");
    let bigs = || TypeRef::named_list("GraphQLBigInt");
    let nulls: &[&str] = &["_null", "_nnull"];
    let ordered: &[&str] = &["_eq", "_neq", "_gt", "_gte", "_lt", "_lte"];
    let lists: &[&str] = &["_in", "_nin", "_between", "_nbetween"];
    vec![
        operators(
            "string_filter_operators",
            &[
                (
                    &[
                        "_eq",
                        "_neq",
                        "_contains",
                        "_icontains",
                        "_ncontains",
                        "_starts_with",
                        "_nstarts_with",
                        "_istarts_with",
                        "_nistarts_with",
                        "_ends_with",
                        "_nends_with",
                        "_iends_with",
                        "_niends_with",
                    ],
                    string(),
                ),
                (&["_in", "_nin"], TypeRef::named_list(TypeRef::STRING)),
                (&["_null", "_nnull", "_empty", "_nempty"], boolean()),
            ],
        ),
        operators(
            "number_filter_operators",
            &[(ordered, number()), (lists, numbers()), (nulls, boolean())],
        ),
        operators(
            "big_int_filter_operators",
            &[(ordered, big()), (lists, bigs()), (nulls, boolean())],
        ),
        operators(
            "boolean_filter_operators",
            &[(&["_eq", "_neq"], boolean()), (nulls, boolean())],
        ),
        operators(
            "date_filter_operators",
            &[
                (ordered, string()),
                (nulls, boolean()),
                (&["_in", "_nin"], TypeRef::named_list(TypeRef::STRING)),
                (&["_between", "_nbetween"], numbers()),
            ],
        ),
        operators(
            "hash_filter_operators",
            &[(&["_null", "_nnull", "_empty", "_nempty"], boolean())],
        ),
    ]
}

fn scalars() -> Vec<Scalar> {
    let any = |_: &GqlValue| true;
    vec![
        Scalar::new("JSON").validator(any),
        Scalar::new("Void").validator(any),
        Scalar::new("Hash").validator(|v| matches!(v, GqlValue::String(_))),
        Scalar::new("Date").validator(|v| matches!(v, GqlValue::String(_))),
        Scalar::new("GraphQLBigInt")
            .validator(|v| matches!(v, GqlValue::String(_) | GqlValue::Number(_))),
        Scalar::new("GraphQLStringOrFloat")
            .validator(|v| matches!(v, GqlValue::String(_) | GqlValue::Number(_))),
    ]
}

/// One collection as this schema shows it: its readable fields.
#[derive(Debug, Clone)]
struct Shown {
    collection: Arc<Collection>,
    fields: Vec<(String, Kind, String)>,
}

/// What one request's resolvers need: the state, the caller, the scan budget every read of
/// the request draws from, and the instant it is read at.
struct Env {
    state: Arc<AppState>,
    accountability: Arc<Accountability>,
    budget: tokio::sync::Mutex<ScanBound>,
    /// The request's one instant: every read of the document sees the permissions at it.
    now: Now,
}

/// The fields selected under the resolver's field (fragments followed), `__typename` aside.
fn selected(ctx: &ResolverContext<'_>) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for field in ctx.ctx.field().selection_set() {
        let name = field.name();
        if !name.starts_with("__") && !names.iter().any(|n| n == name) {
            names.push(name.to_owned());
        }
    }
    names
}

fn json_arg(ctx: &ResolverContext<'_>, name: &str) -> Option<Value> {
    ctx.args
        .get(name)
        .and_then(|v| v.as_value().clone().into_json().ok())
        .filter(|v| !v.is_null())
}

fn strings(value: &Value) -> Vec<String> {
    match value {
        Value::Array(items) => items
            .iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect(),
        Value::String(s) => vec![s.clone()],
        _ => Vec::new(),
    }
}

/// `filter`, `sort`, `limit`, `offset`, `page`, `search` as the REST query parameters.
fn common_pairs(ctx: &ResolverContext<'_>) -> Vec<(String, String)> {
    let mut pairs = Vec::new();
    if let Some(filter) = json_arg(ctx, "filter") {
        pairs.push(("filter".into(), filter.to_string()));
    }
    if let Some(sort) = json_arg(ctx, "sort") {
        let keys = strings(&sort);
        if !keys.is_empty() {
            pairs.push(("sort".into(), keys.join(",")));
        }
    }
    for name in ["limit", "offset", "page"] {
        if let Some(value) = json_arg(ctx, name) {
            pairs.push((name.into(), value.to_string()));
        }
    }
    if let Some(Value::String(search)) = json_arg(ctx, "search") {
        pairs.push(("search".into(), search));
    }
    pairs
}

/// Runs one read of the request within what is left of its budget.
async fn read(
    ctx: &ResolverContext<'_>,
    collection: &Collection,
    pairs: &[(String, String)],
    id: Option<&str>,
) -> Result<Value, ApiError> {
    let env = ctx
        .ctx
        .data::<Arc<Env>>()
        .map_err(|_| ApiError::Internal("graphql request without its environment".into()))?;
    let config = &env.state.config;
    let query = ItemsQuery::parse(pairs, config.query_limit_default, config.query_limit_max)?;
    // One read at a time: each sees exactly what the previous ones left.
    let mut budget = env.budget.lock().await;
    let (body, stats) = crate::flows::items::serve_within(
        &env.state,
        &env.accountability,
        collection.clone(),
        Source::Items,
        &query,
        id,
        *budget,
        env.now,
    )
    .await?;
    budget.items = budget.items.saturating_sub(stats.examined.max(1));
    budget.bytes = budget.bytes.saturating_sub(stats.examined_bytes);
    Ok(body)
}

fn rows(body: Value) -> Vec<Map<String, Value>> {
    match body {
        Value::Object(mut map) => match map.remove("data") {
            Some(Value::Array(items)) => items
                .into_iter()
                .filter_map(|v| match v {
                    Value::Object(row) => Some(row),
                    _ => None,
                })
                .collect(),
            _ => Vec::new(),
        },
        _ => Vec::new(),
    }
}

fn list(rows: Vec<Map<String, Value>>) -> FieldValue<'static> {
    FieldValue::list(rows.into_iter().map(FieldValue::owned_any))
}

fn parent_row<'a>(ctx: &'a ResolverContext<'_>) -> async_graphql::Result<&'a Map<String, Value>> {
    ctx.parent_value.try_downcast_ref::<Map<String, Value>>()
}

/// A field read from the parent row (a JSON object), as `kind`.
fn value_field(name: &str, kind: Kind, ty: TypeRef) -> Field {
    let key = name.to_owned();
    Field::new(name, ty, move |ctx| {
        let key = key.clone();
        FieldFuture::new(async move {
            let row = parent_row(&ctx)?;
            Ok(row
                .get(&key)
                .and_then(|v| kind.value(v))
                .map(FieldValue::value))
        })
    })
}

/// A field holding a nested object of the parent row.
fn object_field(name: &str, ty: &str) -> Field {
    let key = name.to_owned();
    Field::new(name, TypeRef::named(ty), move |ctx| {
        let key = key.clone();
        FieldFuture::new(async move {
            let row = parent_row(&ctx)?;
            Ok(match row.get(&key) {
                Some(Value::Object(inner)) => Some(FieldValue::owned_any(inner.clone())),
                _ => None,
            })
        })
    })
}

fn collection_arguments(field: Field, name: &str) -> Field {
    field
        .argument(InputValue::new(
            "filter",
            TypeRef::named(format!("{name}_filter")),
        ))
        .argument(InputValue::new(
            "sort",
            TypeRef::named_list(TypeRef::STRING),
        ))
        .argument(InputValue::new("limit", TypeRef::named(TypeRef::INT)))
        .argument(InputValue::new("offset", TypeRef::named(TypeRef::INT)))
        .argument(InputValue::new("page", TypeRef::named(TypeRef::INT)))
        .argument(InputValue::new("search", TypeRef::named(TypeRef::STRING)))
}

/// The types and root fields of one collection.
fn add_collection(
    shown: &Shown,
    mut query: Object,
    types: &mut Vec<Object>,
    inputs: &mut Vec<InputObject>,
) -> Object {
    let name = shown.collection.collection.clone();

    let mut item = Object::new(&name);
    let mut filter = InputObject::new(format!("{name}_filter"));
    let mut counts = Object::new(format!("{name}_aggregated_count"));
    let mut numbers = Object::new(format!("{name}_aggregated_fields"));
    let mut any_number = false;
    for (field, kind, field_type) in &shown.fields {
        item = item.field(value_field(field, *kind, kind.output()));
        filter = filter.field(InputValue::new(
            field.as_str(),
            TypeRef::named(filter_input(field_type)),
        ));
        counts = counts.field(value_field(field, Kind::Int, TypeRef::named(TypeRef::INT)));
        if kind.numeric() || (*kind == Kind::Id && Kind::of(field_type).numeric()) {
            any_number = true;
            numbers = numbers.field(value_field(
                field,
                Kind::Float,
                TypeRef::named(TypeRef::FLOAT),
            ));
        }
    }
    filter = filter
        .field(InputValue::new(
            "_and",
            TypeRef::named_list(format!("{name}_filter")),
        ))
        .field(InputValue::new(
            "_or",
            TypeRef::named_list(format!("{name}_filter")),
        ));

    let mut aggregated = Object::new(format!("{name}_aggregated"))
        .field(value_field("group", Kind::Json, TypeRef::named("JSON")))
        .field(Field::new("countAll", TypeRef::named(TypeRef::INT), |_| {
            // Directus 11.3.5 answers `null` here for every query.
            FieldFuture::new(async { Ok(None::<FieldValue>) })
        }))
        .field(object_field("count", &format!("{name}_aggregated_count")))
        .field(object_field(
            "countDistinct",
            &format!("{name}_aggregated_count"),
        ));
    if any_number {
        for function in ["avg", "sum", "avgDistinct", "sumDistinct", "min", "max"] {
            aggregated =
                aggregated.field(object_field(function, &format!("{name}_aggregated_fields")));
        }
        types.push(numbers);
    }
    types.push(item);
    types.push(counts);
    types.push(aggregated);
    inputs.push(filter);

    // <c>(filter, sort, limit, offset, page, search): [c!]!
    let collection = Arc::clone(&shown.collection);
    query = query.field(collection_arguments(
        Field::new(
            name.as_str(),
            TypeRef::named_nn_list_nn(name.as_str()),
            move |ctx| {
                let collection = Arc::clone(&collection);
                FieldFuture::new(async move {
                    let mut pairs = common_pairs(&ctx);
                    pairs.push(("fields".into(), fields_of(&ctx, &collection)));
                    let body = read(&ctx, &collection, &pairs, None).await.map_err(error)?;
                    Ok(Some(list(rows(body))))
                })
            },
        ),
        &name,
    ));

    // <c>_by_id(id: ID!): c
    let collection = Arc::clone(&shown.collection);
    query = query.field(
        Field::new(
            format!("{name}_by_id"),
            TypeRef::named(name.as_str()),
            move |ctx| {
                let collection = Arc::clone(&collection);
                FieldFuture::new(async move {
                    // `ID` takes string and integer literals alike.
                    let id = match ctx.args.try_get("id")?.as_value() {
                        GqlValue::String(s) => s.clone(),
                        GqlValue::Number(n) => n.to_string(),
                        _ => return Ok(None),
                    };
                    let pairs = vec![("fields".to_owned(), fields_of(&ctx, &collection))];
                    match read(&ctx, &collection, &pairs, Some(&id)).await {
                        Ok(Value::Object(mut body)) => Ok(match body.remove("data") {
                            Some(Value::Object(row)) => Some(FieldValue::owned_any(row)),
                            _ => None,
                        }),
                        Ok(_) => Ok(None),
                        // Missing, outside the permission, or not a key of this type: `null`.
                        Err(ApiError::Forbidden(None)) => Ok(None),
                        Err(other) => Err(error(other)),
                    }
                })
            },
        )
        .argument(InputValue::new("id", TypeRef::named_nn(TypeRef::ID))),
    );

    // <c>_aggregated(groupBy, filter, limit, offset, page, search, sort): [c_aggregated!]!
    let collection = Arc::clone(&shown.collection);
    query.field(
        Field::new(
            format!("{name}_aggregated"),
            TypeRef::named_nn_list_nn(format!("{name}_aggregated")),
            move |ctx| {
                let collection = Arc::clone(&collection);
                FieldFuture::new(async move {
                    let mut pairs = common_pairs(&ctx);
                    let group_by = json_arg(&ctx, "groupBy")
                        .map(|v| strings(&v))
                        .unwrap_or_default();
                    if !group_by.is_empty() {
                        pairs.push(("groupBy".into(), group_by.join(",")));
                    }
                    pairs.extend(aggregates_of(&ctx));
                    let body = read(&ctx, &collection, &pairs, None).await.map_err(error)?;
                    let keys: Vec<String> = group_by
                        .iter()
                        .filter_map(|g| GroupKey::parse(g).ok())
                        .map(|g| g.output_key())
                        .collect();
                    Ok(Some(list(
                        rows(body)
                            .into_iter()
                            .map(|row| grouped(row, &keys))
                            .collect(),
                    )))
                })
            },
        )
        // Directus' order: groupBy, filter, limit, offset, page, search, sort.
        .argument(InputValue::new(
            "groupBy",
            TypeRef::named_list(TypeRef::STRING),
        ))
        .argument(InputValue::new(
            "filter",
            TypeRef::named(format!("{name}_filter")),
        ))
        .argument(InputValue::new("limit", TypeRef::named(TypeRef::INT)))
        .argument(InputValue::new("offset", TypeRef::named(TypeRef::INT)))
        .argument(InputValue::new("page", TypeRef::named(TypeRef::INT)))
        .argument(InputValue::new("search", TypeRef::named(TypeRef::STRING)))
        .argument(InputValue::new(
            "sort",
            TypeRef::named_list(TypeRef::STRING),
        )),
    )
}

/// `fields` for a read: the selected fields, or the primary key when only `__typename` was.
fn fields_of(ctx: &ResolverContext<'_>, collection: &Collection) -> String {
    let fields = selected(ctx);
    if fields.is_empty() {
        collection.primary_key.clone()
    } else {
        fields.join(",")
    }
}

/// `aggregate[<function>]=<fields>` for each function selected (`count { id }`).
fn aggregates_of(ctx: &ResolverContext<'_>) -> Vec<(String, String)> {
    let mut pairs = Vec::new();
    let mut any = false;
    for function in ctx.ctx.field().selection_set() {
        if !AGGREGATE_FUNCTIONS.contains(&function.name()) {
            continue;
        }
        let fields: BTreeSet<String> = function
            .selection_set()
            .map(|f| f.name().to_owned())
            .filter(|n| !n.starts_with("__"))
            .collect();
        if !fields.is_empty() {
            any = true;
            pairs.push((
                format!("aggregate[{}]", function.name()),
                fields.into_iter().collect::<Vec<_>>().join(","),
            ));
        }
    }
    if !any {
        // Aggregated rows even when only `group` (or nothing) is asked for.
        pairs.push(("aggregate".into(), "{}".into()));
    }
    pairs
}

/// A REST aggregate row as GraphQL shows it: group keys under `group`.
fn grouped(row: Map<String, Value>, keys: &[String]) -> Map<String, Value> {
    let mut group = Map::new();
    let mut out = Map::new();
    for (key, value) in row {
        if keys.contains(&key) {
            group.insert(key, value);
        } else {
            out.insert(key, value);
        }
    }
    if !keys.is_empty() {
        out.insert("group".into(), Value::Object(group));
    }
    out
}

/// The collections and fields `accountability` may read, as the schema shows them.
async fn shown_collections(
    state: &AppState,
    accountability: &Accountability,
) -> Result<Vec<Shown>, ApiError> {
    let mut shown = Vec::new();
    for (name, collection) in
        crate::flows::access::readable_collections(state, accountability, servable).await?
    {
        let granted: Vec<&String> = accountability
            .permissions
            .iter()
            .filter(|p| p.collection == name && p.action == "read")
            .flat_map(|p| p.fields.iter())
            .collect();
        let readable = |field: &str| {
            accountability.admin
                || granted
                    .iter()
                    .any(|g| g.as_str() == "*" || g.as_str() == field)
        };
        let fields: Vec<(String, Kind, String)> = collection
            .fields
            .iter()
            .filter(|f| readable(&f.field) && NAME.is_match(&f.field) && !f.field.starts_with("__"))
            .map(|f| {
                let kind = if f.field == collection.primary_key {
                    Kind::Id
                } else {
                    Kind::of(&f.field_type)
                };
                (f.field.clone(), kind, f.field_type.clone())
            })
            .collect();
        if !fields.is_empty() {
            shown.push(Shown { collection, fields });
        }
    }
    Ok(shown)
}

/// Builds the schema of `shown` (the `_empty` schema when nothing is readable).
fn build(shown: &[Shown], limits: &Limits) -> Result<Schema, ApiError> {
    let mut query = Object::new("Query");
    let mut types = Vec::new();
    let mut inputs = operator_inputs();
    if shown.is_empty() {
        query = query.field(Field::new("_empty", TypeRef::named("Void"), |_| {
            FieldFuture::new(async { Ok(None::<FieldValue>) })
        }));
    }
    for collection in shown {
        query = add_collection(collection, query, &mut types, &mut inputs);
    }
    let mut builder = Schema::build("Query", None, None).register(query);
    for ty in types {
        builder = builder.register(ty);
    }
    for input in inputs {
        builder = builder.register(input);
    }
    for scalar in scalars() {
        builder = builder.register(scalar);
    }
    limits
        .apply(builder)
        .finish()
        .map_err(|e| ApiError::Internal(Box::new(std::io::Error::other(e.0))))
}

/// What a schema depends on: administrator or not, and each readable collection's granted
/// fields. A permission change gives a new key as soon as the caller's policies are re-read.
type SchemaKey = (bool, Vec<(String, Vec<String>)>);

/// The items scope: schemas cached per permission set, for `ttl` (the access cache's period,
/// so a change to collections or permissions applies within the same time as for REST).
pub struct ItemsScope {
    limits: Limits,
    schemas: TimedMap<SchemaKey, Arc<Schema>>,
}

/// Schemas kept at once (Directus' `GRAPHQL_SCHEMA_CACHE_CAPACITY`).
const SCHEMA_CACHE_CAPACITY: usize = 100;

impl ItemsScope {
    pub fn new(limits: Limits, ttl: Duration) -> Self {
        Self {
            limits,
            schemas: TimedMap::bounded(ttl, SCHEMA_CACHE_CAPACITY),
        }
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    fn key(accountability: &Accountability) -> SchemaKey {
        let mut grants: Vec<(String, Vec<String>)> = accountability
            .permissions
            .iter()
            .filter(|p| p.action == "read")
            .map(|p| {
                let mut fields = p.fields.clone();
                fields.sort();
                (p.collection.clone(), fields)
            })
            .collect();
        grants.sort();
        grants.dedup();
        (accountability.admin, grants)
    }

    /// The caller's schema, from the cache when fresh.
    pub async fn schema(
        &self,
        state: &AppState,
        accountability: &Accountability,
    ) -> Result<Arc<Schema>, ApiError> {
        let key = Self::key(accountability);
        if let Some(hit) = self.schemas.get(&key, Instant::now()) {
            return Ok(hit);
        }
        let shown = shown_collections(state, accountability).await?;
        let schema = Arc::new(build(&shown, &self.limits)?);
        self.schemas.put(key, Arc::clone(&schema), Instant::now());
        Ok(schema)
    }

    /// Adds what the resolvers need to the request: the state, the caller, the scan budget,
    /// the request's instant.
    pub fn request_data(
        &self,
        state: Arc<AppState>,
        accountability: Arc<Accountability>,
        now: Now,
    ) -> impl FnOnce(async_graphql::Request) -> async_graphql::Request {
        let budget = ScanBound::of_request(&state);
        let env = Arc::new(Env {
            state,
            accountability,
            budget: tokio::sync::Mutex::new(budget),
            now,
        });
        move |request| request.data(env)
    }
}

/// `GET|POST /graphql`: the HTTP request read (body errors first), the caller resolved exactly
/// as REST does (token errors answer with the REST envelope), then the document run against
/// the caller's schema.
pub async fn serve(
    state: &Arc<AppState>,
    scope: &ItemsScope,
    request: &lambda_http::Request,
) -> Result<crate::adapters::http::HttpResponse, ApiError> {
    let now = crate::adapters::http::now();
    let incoming = super::Incoming::read(request, &scope.limits)?;
    let claims = crate::adapters::http::caller(state, request, now).await?;
    let accountability = crate::flows::access::accountability(state, claims.as_ref()).await?;
    let schema = scope.schema(state, &accountability).await?;
    let options = super::Options {
        limits: &scope.limits,
        admin: accountability.admin,
        once_per_request: &[],
    };
    let data = scope.request_data(Arc::clone(state), accountability, now);
    super::execute(incoming, &schema, options, data).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::model::FieldDef;

    fn posts(fields: &[(&str, &str)]) -> Shown {
        let collection = Arc::new(Collection {
            collection: "posts".into(),
            primary_key: "id".into(),
            fields: fields
                .iter()
                .map(|(f, t)| FieldDef {
                    field: (*f).into(),
                    field_type: (*t).into(),
                    schema: None,
                })
                .collect(),
        });
        Shown {
            fields: collection
                .fields
                .iter()
                .map(|f| {
                    let kind = if f.field == "id" {
                        Kind::Id
                    } else {
                        Kind::of(&f.field_type)
                    };
                    (f.field.clone(), kind, f.field_type.clone())
                })
                .collect(),
            collection,
        }
    }

    #[test]
    fn the_schema_has_directus_root_fields_and_types() {
        let schema = build(
            &[posts(&[
                ("id", "integer"),
                ("title", "string"),
                ("content", "text"),
            ])],
            &Limits::default(),
        )
        .unwrap();
        let sdl = schema.sdl();
        for expected in [
            "posts(filter: posts_filter, sort: [String], limit: Int, offset: Int, page: Int, search: String): [posts!]!",
            "posts_by_id(id: ID!): posts",
            "posts_aggregated(groupBy: [String], filter: posts_filter, limit: Int, offset: Int, page: Int, search: String, sort: [String]): [posts_aggregated!]!",
            "id: ID!",
            "title: String",
            "id: number_filter_operators",
            "title: string_filter_operators",
            "_and: [posts_filter]",
            "max: posts_aggregated_fields",
            "countAll: Int",
        ] {
            assert!(sdl.contains(expected), "missing {expected} in\n{sdl}");
        }
        assert!(!sdl.contains("_empty: Void"));
        assert!(!sdl.contains("type Mutation"));
    }

    #[test]
    fn nothing_readable_is_the_empty_schema() {
        let sdl = build(&[], &Limits::default()).unwrap().sdl();
        assert!(sdl.contains("_empty: Void"), "{sdl}");
    }

    #[test]
    fn numeric_functions_only_with_a_numeric_field() {
        let sdl = build(
            &[posts(&[("id", "uuid"), ("title", "string")])],
            &Limits::default(),
        )
        .unwrap()
        .sdl();
        assert!(!sdl.contains("posts_aggregated_fields"), "{sdl}");
        assert!(sdl.contains("count: posts_aggregated_count"));
    }

    #[test]
    fn reserved_and_system_names_are_left_out() {
        for name in [
            "Query",
            "JSON",
            "__x",
            "directus_users",
            "1posts",
            "a-b",
            "x_filter_operators",
        ] {
            assert!(!servable(name), "{name}");
        }
        for name in ["posts", "_private", "Posts2"] {
            assert!(servable(name), "{name}");
        }
    }

    #[test]
    fn values_keep_directus_shapes() {
        assert_eq!(
            Kind::Id.value(&serde_json::json!(1)),
            Some(GqlValue::from("1"))
        );
        assert_eq!(
            Kind::BigInt.value(&serde_json::json!(9007199254740993u64)),
            Some(GqlValue::from("9007199254740993"))
        );
        assert_eq!(Kind::Text.value(&Value::Null), None);
        assert_eq!(
            Kind::Csv.value(&serde_json::json!("a,b")),
            Some(GqlValue::List(vec![
                GqlValue::from("a"),
                GqlValue::from("b")
            ]))
        );
    }

    #[test]
    fn aggregate_rows_put_group_keys_under_group() {
        let row = serde_json::json!({"title": "Hello", "count": {"id": 2}});
        let out = grouped(row.as_object().unwrap().clone(), &["title".into()]);
        assert_eq!(
            Value::Object(out),
            serde_json::json!({"count": {"id": 2}, "group": {"title": "Hello"}})
        );
    }
}
