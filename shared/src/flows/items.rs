//! `GET /items/{collection}` and `GET /items/{collection}/{id}`: the items the caller's policies
//! let them read, field by field and row by row, with Directus' query parameters.
//!
//! Reads never scan a table. A collection is one DynamoDB partition read with Query in primary-key
//! order, so a page in primary-key order (the default sort, or `sort=-<pk>`) stops as soon as it is
//! full. Sorting on other fields and `meta` counts need every readable row; those reads, and
//! filters that skip many rows, examine at most `ITEMS_SCAN_LIMIT` items (default 10,000) and
//! beyond that answer 400 rather than time out. Counts of a whole collection for a caller who
//! sees every row (`aggregate[count]=*` without filter, search or groupBy; `meta`) come from the
//! collection's item count instead, for any size.
//!
//! Fields declared indexed (`schema.is_indexed`) change which rows are read, never which are
//! returned ([`crate::domain::index_plan`]): a page sorted on one indexed field, or filtered with `_eq`
//! on one in key order, streams that field's index and stops as soon as it is full; a range
//! filter on one narrows any other read to the rows of the range (within the same bound).

use std::cmp::Ordering;

use serde_json::{Map, Value, json};

use crate::credential::token::AccessClaims;
use crate::domain::access::{Accountability, ReadPlan, filter};
use crate::domain::error::ApiError;
use crate::domain::index_plan::{IndexAccess, IndexRange};
use crate::domain::model::Collection;
use crate::domain::query::ItemsQuery;
use crate::domain::value_order::SortKey;
use crate::domain::value_order::compare_values;
use crate::flows::time::Now;
use crate::platform::state::AppState;
use crate::store::{DirectoryUser, ItemPage, PageCursor, Store, item_sort_key};

/// DynamoDB pages are at most this many items.
const MAX_PAGE: usize = 1000;
/// And at least this many, so that rows skipped by filters cost few extra requests.
const MIN_PAGE: usize = 25;

/// What a read cost, for logs and the benchmark.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReadStats {
    pub requests: usize,
    pub examined: usize,
    /// Approximate bytes of the examined items (their JSON size).
    pub examined_bytes: u64,
}

/// The most one read may examine, in items and in bytes: past either it answers 400 rather
/// than time out or run out of memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScanBound {
    pub items: usize,
    pub bytes: u64,
}

impl ScanBound {
    /// The request's bound, from the configuration (`ITEMS_SCAN_LIMIT`, `ITEMS_SCAN_BYTES`).
    pub fn of_request(state: &AppState) -> Self {
        Self {
            items: usize::try_from(state.config.items_scan_limit).unwrap_or(usize::MAX),
            bytes: state.config.items_scan_bytes,
        }
    }

    pub fn exceeded(&self, stats: &ReadStats) -> bool {
        stats.examined > self.items || stats.examined_bytes > self.bytes
    }

    /// What is left of this bound once `spent` has been examined.
    pub fn after(&self, spent: &ReadStats) -> Self {
        Self {
            items: self.items.saturating_sub(spent.examined),
            bytes: self.bytes.saturating_sub(spent.examined_bytes),
        }
    }
}

/// About the size of `value` as JSON, without serialising it.
pub(crate) fn approximate_size(value: &Value) -> u64 {
    let len = |n: usize| u64::try_from(n).unwrap_or(u64::MAX);
    match value {
        Value::Null | Value::Bool(_) => 5,
        Value::Number(_) => 12,
        Value::String(s) => len(s.len()).saturating_add(2),
        Value::Array(items) => items
            .iter()
            .map(approximate_size)
            .fold(2, |a, b| a.saturating_add(b).saturating_add(1)),
        Value::Object(map) => map.iter().fold(2, |acc, (key, value)| {
            acc.saturating_add(len(key.len()) + 4)
                .saturating_add(approximate_size(value))
        }),
    }
}

fn row_size(row: &Map<String, Value>) -> u64 {
    row.iter().fold(2, |acc, (key, value)| {
        acc.saturating_add(u64::try_from(key.len()).unwrap_or(u64::MAX) + 4)
            .saturating_add(approximate_size(value))
    })
}

#[derive(Debug, Default)]
pub struct ReadOutcome {
    pub items: Vec<Map<String, Value>>,
    pub total_count: Option<usize>,
    pub filter_count: Option<usize>,
    pub stats: ReadStats,
}

/// Where a read's rows come from: a collection of the items table, or the user directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Items,
    Users,
}

/// `GET /items/{collection}[/{id}]` for `claims` (none: the public): the response body
/// (`{"data": …}`, with `meta` when asked), as the permissions show it at `now`.
pub async fn read(
    state: &AppState,
    claims: Option<&AccessClaims>,
    collection: &str,
    id: Option<&str>,
    query: &ItemsQuery,
    now: Now,
) -> Result<Value, ApiError> {
    if collection.starts_with("directus_") {
        return Err(ApiError::forbidden());
    }
    let accountability = crate::flows::access::accountability(state, claims).await?;
    // Access first: a name no permission mentions costs no read and never enters the cache, so
    // random names cannot flush it for everyone.
    if !accountability.admin && !accountability.may_read(collection) {
        return Err(ApiError::forbidden_collection(collection));
    }
    let schema = state
        .access
        .collection(&state.store, collection)
        .await?
        .ok_or_else(|| ApiError::forbidden_collection(collection))?;
    serve(
        state,
        &accountability,
        (*schema).clone(),
        Source::Items,
        query,
        id,
        now,
    )
    .await
}

/// The one read path of `/items` and `/users`: the caller's plan for `collection`, the query's
/// fields, filter and sort checked against it, then one item (`id`) or a bounded page. Returns
/// the response body (`{"data": …}`, with `meta` when asked). Permission filters take `$NOW`
/// as `now`.
pub async fn serve(
    state: &AppState,
    accountability: &Accountability,
    collection: Collection,
    source: Source,
    query: &ItemsQuery,
    id: Option<&str>,
    now: Now,
) -> Result<Value, ApiError> {
    let bound = ScanBound::of_request(state);
    serve_within(
        state,
        accountability,
        collection,
        source,
        query,
        id,
        bound,
        now,
    )
    .await
    .map(|(body, _)| body)
}

/// [`serve`] within `bound` (what is left of a request's budget when one request makes several
/// reads, as GraphQL does), also returning what the read cost.
#[allow(clippy::too_many_arguments)]
pub async fn serve_within(
    state: &AppState,
    accountability: &Accountability,
    collection: Collection,
    source: Source,
    query: &ItemsQuery,
    id: Option<&str>,
    bound: ScanBound,
    now: Now,
) -> Result<(Value, ReadStats), ApiError> {
    // With `aggregate`, Directus ignores `fields`.
    let fields = if query.aggregating() {
        None
    } else {
        query.fields.as_deref()
    };
    let plan = ReadPlan::new(accountability, collection, fields, now.millis())?;
    if let Some(user_filter) = &query.filter {
        plan.check_readable(&filter::referenced_fields(user_filter))?;
        crate::domain::query::validate_operator_types(user_filter, &|field| {
            plan.collection.field(field).map(|f| f.field_type.clone())
        })?;
    }
    if id.is_none() && query.aggregating() {
        return aggregate_with_stats(&state.store, source, &plan, query, bound).await;
    }
    let sort_fields: Vec<String> = query.sort.iter().map(|k| k.field.clone()).collect();
    plan.check_readable(&sort_fields)?;

    match id {
        Some(id) => {
            // The lookup filters on the primary key, so the caller must be able to read it, as
            // in Directus; otherwise an answer would confirm a value they cannot see.
            plan.check_readable(std::slice::from_ref(&plan.collection.primary_key))?;
            // A lookup examines one item: refused before the read when the budget (what a
            // request's earlier reads left) has no room for it, as an over-long scan is.
            if bound.items == 0 || bound.bytes == 0 {
                return Err(too_many(&plan, bound));
            }
            let item = read_one(&state.store, source, &plan, query, id).await?;
            let stats = ReadStats {
                requests: 1,
                examined: 1,
                examined_bytes: row_size(&item),
            };
            Ok((json!({ "data": item }), stats))
        }
        None => {
            let outcome = read_source(&state.store, source, &plan, query, bound).await?;
            tracing::debug!(
                collection = plan.collection.collection,
                requests = outcome.stats.requests,
                examined = outcome.stats.examined,
                "items read"
            );
            let stats = outcome.stats;
            Ok((page_body(query, outcome), stats))
        }
    }
}

/// `{"meta": …, "data": […]}` of a page.
fn page_body(query: &ItemsQuery, outcome: ReadOutcome) -> Value {
    let mut body = Map::new();
    if query.meta.any() {
        let mut meta = Map::new();
        if let Some(total) = outcome.total_count {
            meta.insert("total_count".into(), json!(total));
        }
        if let Some(filtered) = outcome.filter_count {
            meta.insert("filter_count".into(), json!(filtered));
        }
        body.insert("meta".into(), Value::Object(meta));
    }
    body.insert(
        "data".into(),
        Value::Array(outcome.items.into_iter().map(Value::Object).collect()),
    );
    Value::Object(body)
}

/// `aggregate` / `groupBy`: every field they name must be readable (403 naming it); they run
/// over the rows the caller can see, as the caller sees them (unreadable values `null`), after
/// `filter` and `search`, within the same bound as any read of the whole collection. `limit`,
/// `offset` and `page` count result rows; `meta` counts items.
pub async fn aggregate(
    store: &Store,
    source: Source,
    plan: &ReadPlan,
    query: &ItemsQuery,
    bound: ScanBound,
) -> Result<Value, ApiError> {
    aggregate_with_stats(store, source, plan, query, bound)
        .await
        .map(|(body, _)| body)
}

async fn aggregate_with_stats(
    store: &Store,
    source: Source,
    plan: &ReadPlan,
    query: &ItemsQuery,
    bound: ScanBound,
) -> Result<(Value, ReadStats), ApiError> {
    plan.check_readable(&query.aggregated_fields())?;
    let sort =
        crate::domain::aggregate::result_sort(&query.aggregate, &query.group_by, &query.sort)?;
    let counts_rows = !query.aggregate.is_empty()
        && query.group_by.is_empty()
        && query.filter.is_none()
        && query.search.is_none()
        && query
            .aggregate
            .iter()
            .all(|a| a.function == "count" && a.fields == ["*"]);
    let counted = if counts_rows {
        counted_total(store, source, plan).await?
    } else {
        None
    };
    let (rows, total, filtered, stats) = match counted {
        // `count=*` of every row: the collection's count, whatever its size.
        Some(total) => {
            let mut row = Map::new();
            row.insert("count".into(), json!(total));
            let stats = ReadStats {
                requests: 1,
                ..ReadStats::default()
            };
            (vec![row], total, total, stats)
        }
        None => {
            let (total, matching, stats) = read_all(store, source, plan, query, bound).await?;
            let mut rows =
                crate::domain::aggregate::compute(&query.aggregate, &query.group_by, &matching);
            crate::domain::aggregate::sort_rows(&mut rows, &sort);
            (rows, total, matching.len(), stats)
        }
    };
    let outcome = ReadOutcome {
        items: rows
            .into_iter()
            .skip(query.offset)
            .take(query.limit)
            .collect(),
        total_count: query.meta.total_count.then_some(total),
        filter_count: query.meta.filter_count.then_some(filtered),
        stats,
    };
    Ok((page_body(query, outcome), stats))
}

/// How many rows the caller can see, from the collection's count (one GetItem, whatever its
/// size), when that is the answer: `/items`, and a caller who sees every row (an administrator,
/// or a read permission without a row filter). `None` otherwise, or for a collection not
/// written since counts were kept: then the rows are examined, within the bound.
async fn counted_total(
    store: &Store,
    source: Source,
    plan: &ReadPlan,
) -> Result<Option<usize>, ApiError> {
    if source != Source::Items || !plan.sees_every_row() {
        return Ok(None);
    }
    Ok(store
        .item_count(&plan.collection.collection)
        .await?
        .and_then(|n| usize::try_from(n).ok()))
}

/// The row as the caller sees it (unreadable fields `null`) if it passes the request's filter
/// and search. Both look only at that view, so neither can probe a hidden value.
fn visible_match(
    plan: &ReadPlan,
    query: &ItemsQuery,
    row: &Map<String, Value>,
) -> Result<(Option<Map<String, Value>>, bool), ApiError> {
    let Some(visible) = plan.visible_row(row) else {
        return Ok((None, false));
    };
    let mut matched = true;
    if let Some(user_filter) = &query.filter {
        matched = filter::matches(user_filter, &visible, plan.filter_context())
            .map_err(|e| ApiError::query(e.to_string()))?;
    }
    if matched && let Some(term) = &query.search {
        matched = search_matches(plan, &visible, term);
    }
    Ok((Some(visible), matched))
}

/// Directus' search: case-insensitive substring over text fields, equality over numeric fields
/// when the term is a number, exact match over UUID fields.
fn search_matches(plan: &ReadPlan, row: &Map<String, Value>, term: &str) -> bool {
    let needle = term.to_lowercase();
    let number: Option<f64> = term.parse().ok();
    plan.collection.fields.iter().any(|field| {
        let Some(value) = row.get(&field.field) else {
            return false;
        };
        match field.field_type.as_str() {
            // `hash` (passwords) is never searched, as in Directus.
            "string" | "text" | "csv" => value
                .as_str()
                .is_some_and(|s| s.to_lowercase().contains(&needle)),
            "integer" | "bigInteger" | "float" | "decimal" => {
                number.is_some_and(|n| value.as_f64() == Some(n))
            }
            "uuid" => value.as_str().is_some_and(|s| s.eq_ignore_ascii_case(term)),
            _ => false,
        }
    })
}

async fn read_one(
    store: &Store,
    source: Source,
    plan: &ReadPlan,
    query: &ItemsQuery,
    id: &str,
) -> Result<Map<String, Value>, ApiError> {
    let row = match source {
        Source::Items => {
            let pk_type = plan
                .collection
                .field(&plan.collection.primary_key)
                .map(|f| f.field_type.as_str())
                .unwrap_or("string");
            let typed_id = match pk_type {
                "integer" | "bigInteger" => id
                    .parse::<u64>()
                    .map(Value::from)
                    .map_err(|_| ApiError::forbidden())?,
                _ => Value::String(id.to_owned()),
            };
            let key = item_sort_key(&typed_id).ok_or_else(ApiError::forbidden)?;
            store
                .get_item(&plan.collection.collection, &key)
                .await?
                .ok_or_else(ApiError::forbidden)?
        }
        Source::Users => {
            // Ids are UUIDs; anything else is unknown without a read, as in Directus.
            let id = uuid::Uuid::parse_str(id).map_err(|_| ApiError::forbidden())?;
            let user = store
                .get_user(&id.hyphenated().to_string())
                .await?
                .ok_or_else(ApiError::forbidden)?;
            crate::flows::user_rows::user_row(&DirectoryUser::from(&user))
        }
    };
    match visible_match(plan, query, &row)? {
        (Some(visible), true) => Ok(plan.project(&visible)),
        // Missing, unreadable and filtered out all look the same: existence never leaks.
        _ => Err(ApiError::forbidden()),
    }
}

/// Where a streamed read's pages come from, each already in the requested order.
#[derive(Debug, Clone, Copy)]
enum Cursor<'a> {
    /// The collection in primary-key order.
    Key { forward: bool },
    /// A declared index of the collection, in its value order.
    Index {
        field: &'a str,
        range: &'a IndexRange,
        forward: bool,
    },
}

/// One page of `source` from `cursor`.
async fn fetch_page(
    store: &Store,
    source: Source,
    collection: &str,
    cursor: Cursor<'_>,
    start: Option<PageCursor>,
    limit: usize,
) -> Result<ItemPage, ApiError> {
    let limit = i32::try_from(limit).unwrap_or(1000);
    Ok(match (source, cursor) {
        (Source::Items, Cursor::Key { forward }) => {
            store.query_items(collection, start, limit, forward).await?
        }
        (
            Source::Items,
            Cursor::Index {
                field,
                range,
                forward,
            },
        ) => {
            store
                .query_index(collection, field, range, start, limit, forward)
                .await?
        }
        (Source::Users, Cursor::Key { forward }) => {
            let page = store.query_user_directory(start, limit, forward).await?;
            ItemPage {
                items: page
                    .users
                    .iter()
                    .map(crate::flows::user_rows::user_row)
                    .collect(),
                skipped: page.expired,
                next: page.next,
            }
        }
        (Source::Users, Cursor::Index { .. }) => {
            return Err(ApiError::query("the user directory has no declared index"));
        }
    })
}

/// True when rows come out of DynamoDB already in the requested order.
fn key_order(plan: &ReadPlan, sort: &[SortKey]) -> Option<bool> {
    match sort {
        [] => Some(true),
        [key] if key.field == plan.collection.primary_key => Some(!key.descending),
        _ => None,
    }
}

fn too_many(plan: &ReadPlan, bound: ScanBound) -> ApiError {
    too_many_in(&plan.collection, bound)
}

/// The answer to a read of `collection` that would examine more than `bound`.
pub(crate) fn too_many_in(collection: &Collection, bound: ScanBound) -> ApiError {
    ApiError::query(format!(
        "This query would examine more than {} items or {} bytes of \"{}\". Narrow it, sort by \"{}\", or use a smaller offset",
        bound.items, bound.bytes, collection.collection, collection.primary_key
    ))
}

/// Reads a page of the collection for `plan`, examining at most `bound` items and bytes.
pub async fn read_collection(
    store: &Store,
    plan: &ReadPlan,
    query: &ItemsQuery,
    bound: ScanBound,
) -> Result<ReadOutcome, ApiError> {
    read_source(store, Source::Items, plan, query, bound).await
}

/// Reads a page of `source` for `plan`, examining at most `bound` items and bytes.
pub async fn read_source(
    store: &Store,
    source: Source,
    plan: &ReadPlan,
    query: &ItemsQuery,
    bound: ScanBound,
) -> Result<ReadOutcome, ApiError> {
    let mut outcome = ReadOutcome::default();
    // `meta` from the collection's count: the total, and the filtered count when nothing
    // filters.
    let unfiltered = query.filter.is_none() && query.search.is_none();
    let counted = if query.meta.total_count || (query.meta.filter_count && unfiltered) {
        if source == Source::Items && plan.sees_every_row() {
            outcome.stats.requests += 1;
        }
        counted_total(store, source, plan).await?
    } else {
        None
    };
    let filter_counted = counted.filter(|_| unfiltered);
    let forward = key_order(plan, &query.sort);
    // Whether every count asked for is known without examining rows.
    let streaming = (!query.meta.total_count || counted.is_some())
        && (!query.meta.filter_count || filter_counted.is_some());
    if query.meta.total_count {
        outcome.total_count = counted;
    }
    let index_access = match source {
        Source::Items => crate::domain::index_plan::choose(
            plan,
            query,
            forward,
            streaming,
            query.meta.total_count && counted.is_none(),
        ),
        Source::Users => None,
    };
    match index_access {
        Some(IndexAccess::Stream {
            field,
            range,
            forward,
        }) => {
            let cursor = Cursor::Index {
                field: &field,
                range: &range,
                forward,
            };
            if query.meta.filter_count {
                outcome.filter_count = filter_counted;
            }
            stream(store, source, plan, query, bound, cursor, &mut outcome).await?;
            return Ok(outcome);
        }
        Some(IndexAccess::Collect { field, range }) => {
            match collect(store, plan, query, bound, &field, &range, &mut outcome).await? {
                Collected::Page => return Ok(outcome),
                // The range is too large to sort in memory; in key order, a dense filter still
                // fills a page quickly, as without the index: that read gets a bound of its
                // own (so such a request examines at most twice the bound).
                Collected::TooMany if forward.is_some() && streaming => {}
                Collected::TooMany => return Err(too_many(plan, bound)),
            }
        }
        None => {}
    }
    if let (Some(forward), true) = (forward, streaming) {
        if query.meta.filter_count {
            outcome.filter_count = filter_counted;
        }
        let spent = std::mem::take(&mut outcome.stats);
        outcome.stats.requests = spent.requests;
        stream(
            store,
            source,
            plan,
            query,
            bound,
            Cursor::Key { forward },
            &mut outcome,
        )
        .await?;
        outcome.stats.examined += spent.examined;
        outcome.stats.examined_bytes = outcome
            .stats
            .examined_bytes
            .saturating_add(spent.examined_bytes);
        return Ok(outcome);
    }

    // Another order, or counts: every readable row is needed.
    let (total, mut matching, stats) = read_all(store, source, plan, query, bound).await?;
    outcome.stats = ReadStats {
        requests: outcome.stats.requests + stats.requests,
        examined: outcome.stats.examined + stats.examined,
        examined_bytes: outcome
            .stats
            .examined_bytes
            .saturating_add(stats.examined_bytes),
    };
    if query.meta.total_count {
        outcome.total_count = Some(total);
    }
    if query.meta.filter_count {
        outcome.filter_count = Some(matching.len());
    }
    // Stable: rows arrive in key order, which breaks ties.
    matching.sort_by(|a, b| compare_rows(a, b, &query.sort));
    outcome.items = matching
        .iter()
        .skip(query.offset)
        .take(query.limit)
        .map(|row| plan.project(row))
        .collect();
    Ok(outcome)
}

/// Rows from `cursor`, already in the requested order, until the page is full: each through
/// the caller's permissions, filter and search, at most `bound` examined in all.
async fn stream(
    store: &Store,
    source: Source,
    plan: &ReadPlan,
    query: &ItemsQuery,
    bound: ScanBound,
    cursor: Cursor<'_>,
    outcome: &mut ReadOutcome,
) -> Result<(), ApiError> {
    let name = &plan.collection.collection;
    let wanted = query.offset.saturating_add(query.limit);
    let mut matched = 0usize;
    let mut start = None;
    while matched < wanted {
        let page_size = (wanted - matched).clamp(MIN_PAGE, MAX_PAGE);
        let page = fetch_page(store, source, name, cursor, start, page_size).await?;
        outcome.stats.requests += 1;
        outcome.stats.examined += page.skipped;
        if bound.exceeded(&outcome.stats) {
            return Err(too_many(plan, bound));
        }
        for row in &page.items {
            outcome.stats.examined += 1;
            outcome.stats.examined_bytes =
                outcome.stats.examined_bytes.saturating_add(row_size(row));
            if bound.exceeded(&outcome.stats) {
                return Err(too_many(plan, bound));
            }
            if let (Some(visible), true) = visible_match(plan, query, row)? {
                if matched >= query.offset && matched < wanted {
                    outcome.items.push(plan.project(&visible));
                }
                matched += 1;
                if matched >= wanted {
                    break;
                }
            }
        }
        match page.next {
            Some(next) if matched < wanted => {
                if outcome.stats.examined >= bound.items {
                    return Err(too_many(plan, bound));
                }
                start = Some(next);
            }
            _ => break,
        }
    }
    Ok(())
}

enum Collected {
    Page,
    /// The range holds more than the bound; nothing was kept but the cost.
    TooMany,
}

/// Every row of an index range (which holds every row the filter can match), within the
/// bound, then filtered and sorted in memory exactly as [`read_all`]'s rows are; the filtered
/// count is exact, as no row outside the range can match.
async fn collect(
    store: &Store,
    plan: &ReadPlan,
    query: &ItemsQuery,
    bound: ScanBound,
    field: &str,
    range: &IndexRange,
    outcome: &mut ReadOutcome,
) -> Result<Collected, ApiError> {
    let name = &plan.collection.collection;
    let cursor = Cursor::Index {
        field,
        range,
        forward: true,
    };
    let mut spent = ReadStats::default();
    let mut rows = Vec::new();
    let mut start = None;
    let over = loop {
        let page = fetch_page(store, Source::Items, name, cursor, start, MAX_PAGE).await?;
        spent.requests += 1;
        spent.examined += page.items.len() + page.skipped;
        spent.examined_bytes = page
            .items
            .iter()
            .map(row_size)
            .fold(spent.examined_bytes, u64::saturating_add);
        if bound.exceeded(&spent) {
            break true;
        }
        rows.extend(page.items);
        match page.next {
            Some(next) => start = Some(next),
            None => break false,
        }
    };
    outcome.stats.requests += spent.requests;
    outcome.stats.examined += spent.examined;
    outcome.stats.examined_bytes = outcome
        .stats
        .examined_bytes
        .saturating_add(spent.examined_bytes);
    if over {
        return Ok(Collected::TooMany);
    }
    // Rows of a collection arrive in key order, which breaks the sort's ties.
    rows.sort_by_cached_key(|row| {
        row.get(&plan.collection.primary_key)
            .and_then(item_sort_key)
    });
    let (_, mut matching) = visible_matching(plan, query, &rows)?;
    if query.meta.filter_count {
        outcome.filter_count = Some(matching.len());
    }
    matching.sort_by(|a, b| compare_rows(a, b, &query.sort));
    outcome.items = matching
        .iter()
        .skip(query.offset)
        .take(query.limit)
        .map(|row| plan.project(row))
        .collect();
    Ok(Collected::Page)
}

/// How many of `rows` the caller can see, and those that pass the query's filter and search,
/// as the caller sees them, in the same order.
fn visible_matching(
    plan: &ReadPlan,
    query: &ItemsQuery,
    rows: &[Map<String, Value>],
) -> Result<(usize, Vec<Map<String, Value>>), ApiError> {
    let mut total = 0usize;
    let mut matching = Vec::new();
    for row in rows {
        let (visible, matched) = visible_match(plan, query, row)?;
        if let Some(visible) = visible {
            total += 1;
            if matched {
                matching.push(visible);
            }
        }
    }
    Ok((total, matching))
}

/// Every row of `source` the caller can see (how many), and those that pass the query's filter
/// and search, as the caller sees them, in key order; at most `bound` examined.
async fn read_all(
    store: &Store,
    source: Source,
    plan: &ReadPlan,
    query: &ItemsQuery,
    bound: ScanBound,
) -> Result<(usize, Vec<Map<String, Value>>, ReadStats), ApiError> {
    let name = &plan.collection.collection;
    let mut stats = ReadStats::default();
    let mut rows = Vec::new();
    let mut start = None;
    loop {
        let page = fetch_page(
            store,
            source,
            name,
            Cursor::Key { forward: true },
            start,
            MAX_PAGE,
        )
        .await?;
        stats.requests += 1;
        stats.examined += page.items.len() + page.skipped;
        stats.examined_bytes = page
            .items
            .iter()
            .map(row_size)
            .fold(stats.examined_bytes, u64::saturating_add);
        if bound.exceeded(&stats) {
            return Err(too_many(plan, bound));
        }
        rows.extend(page.items);
        match page.next {
            Some(next) => start = Some(next),
            None => break,
        }
    }
    let (total, matching) = visible_matching(plan, query, &rows)?;
    Ok((total, matching, stats))
}

fn compare_rows(a: &Map<String, Value>, b: &Map<String, Value>, sort: &[SortKey]) -> Ordering {
    for key in sort {
        let left = a.get(&key.field).unwrap_or(&Value::Null);
        let right = b.get(&key.field).unwrap_or(&Value::Null);
        let order = compare_values(left, right);
        let order = if key.descending {
            order.reverse()
        } else {
            order
        };
        if order != Ordering::Equal {
            return order;
        }
    }
    Ordering::Equal
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::access::Accountability;
    use crate::domain::model::{Collection, FieldDef, Permission};

    fn plan(fields: &[&str], filter: Option<Value>) -> ReadPlan {
        let collection = Collection {
            collection: "posts".into(),
            primary_key: "id".into(),
            fields: [
                ("id", "integer"),
                ("title", "string"),
                ("secret", "string"),
                ("views", "integer"),
            ]
            .iter()
            .map(|(f, t)| FieldDef {
                field: (*f).into(),
                field_type: (*t).into(),
                schema: None,
            })
            .collect(),
        };
        let accountability = Accountability {
            permissions: vec![Permission {
                id: "p".into(),
                policy: "pol".into(),
                collection: "posts".into(),
                action: "read".into(),
                fields: fields.iter().map(|f| (*f).to_owned()).collect(),
                permissions: filter,
                presets: None,
                validation: None,
            }],
            ..Default::default()
        };
        ReadPlan::new(&accountability, collection, None, 0).unwrap()
    }

    fn row(value: Value) -> Map<String, Value> {
        value.as_object().unwrap().clone()
    }

    #[test]
    fn search_never_matches_a_field_the_caller_cannot_read() {
        let plan = plan(&["id", "title"], None);
        let visible = plan
            .visible_row(&row(
                json!({"id": 1, "title": "Hello", "secret": "needle", "views": 7}),
            ))
            .unwrap();
        assert!(search_matches(&plan, &visible, "hell"));
        assert!(!search_matches(&plan, &visible, "needle"));
        assert!(search_matches(&plan, &visible, "1"));
        assert!(!search_matches(&plan, &visible, "7"), "views is unreadable");
    }

    #[test]
    fn filters_see_only_the_visible_row() {
        let plan = plan(&["id", "title"], None);
        let query = ItemsQuery::parse(
            &[("filter".into(), r#"{"secret":{"_eq":"needle"}}"#.into())],
            100,
            1000,
        )
        .unwrap();
        let (visible, matched) = visible_match(
            &plan,
            &query,
            &row(json!({"id": 1, "title": "Hello", "secret": "needle"})),
        )
        .unwrap();
        assert!(visible.is_some());
        assert!(!matched);
    }

    #[test]
    fn sorting_orders_nulls_numbers_and_strings() {
        let rows = [
            row(json!({"v": "b"})),
            row(json!({"v": null})),
            row(json!({"v": 2})),
            row(json!({"v": "a"})),
            row(json!({"v": 10})),
        ];
        let mut ascending = rows.to_vec();
        let key = |descending| {
            vec![SortKey {
                field: "v".into(),
                descending,
            }]
        };
        ascending.sort_by(|a, b| compare_rows(a, b, &key(false)));
        let values: Vec<Value> = ascending.iter().map(|r| r["v"].clone()).collect();
        assert_eq!(
            values,
            vec![json!(null), json!(2), json!(10), json!("a"), json!("b")]
        );
        let mut descending = rows.to_vec();
        descending.sort_by(|a, b| compare_rows(a, b, &key(true)));
        assert_eq!(descending[0]["v"], json!("b"));
        assert_eq!(descending[4]["v"], json!(null));
    }

    #[test]
    fn only_primary_key_sorts_read_in_key_order() {
        let plan = plan(&["*"], None);
        let sort = |field: &str, descending| {
            vec![SortKey {
                field: field.into(),
                descending,
            }]
        };
        assert_eq!(key_order(&plan, &[]), Some(true));
        assert_eq!(key_order(&plan, &sort("id", true)), Some(false));
        assert_eq!(key_order(&plan, &sort("title", false)), None);
    }
}
