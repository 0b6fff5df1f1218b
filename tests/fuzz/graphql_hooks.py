"""schemathesis hooks for the GraphQL fuzzing runs (tests/graphql_fuzz.rs).

- Strategies for Directus' custom scalars (input positions: filter operators).
- `directus_graphql_answer`: the check the runs use. schemathesis' own GraphQL check counts
  every in-band error with a `path` as a server failure, but Directus answers rejected
  arguments in-band (`INVALID_QUERY` for `limit: -5`, `FORBIDDEN` for an unknown sort field),
  so this check asks what the brief asks instead: no 5xx, every response a valid GraphQL
  response in Directus' shape, and no `INTERNAL_SERVER_ERROR` (nothing this endpoint serves
  should ever fail inside a resolver).
"""

import json

import schemathesis
from hypothesis import strategies as st
from schemathesis.graphql import nodes

_text = st.text(max_size=40)
schemathesis.graphql.scalar(
    "GraphQLStringOrFloat",
    st.one_of(
        _text.map(nodes.String),
        st.integers(min_value=-(2**31), max_value=2**31 - 1).map(nodes.Int),
        st.floats(allow_nan=False, allow_infinity=False).map(nodes.Float),
    ),
)
schemathesis.graphql.scalar(
    "GraphQLBigInt",
    st.one_of(
        st.integers(min_value=-(2**63), max_value=2**63 - 1).map(str).map(nodes.String),
        st.integers(min_value=-(2**31), max_value=2**31 - 1).map(nodes.Int),
    ),
)
schemathesis.graphql.scalar("Hash", _text.map(nodes.String))
schemathesis.graphql.scalar("JSON", _text.map(nodes.String))
schemathesis.graphql.scalar("Void", st.just(nodes.Null))

# Codes the transport answers with a 400 (spec directus-graphql.md section 1).
BAD_REQUEST_CODES = {"GRAPHQL_VALIDATION", "GRAPHQL_EXECUTION", "INVALID_PAYLOAD", "INVALID_QUERY"}


@schemathesis.check
def directus_graphql_answer(ctx, response, case):
    status = response.status_code
    if status >= 500:
        raise AssertionError(f"server error {status}: {response.text[:500]}")
    try:
        payload = json.loads(response.content)
    except ValueError:
        raise AssertionError(f"not JSON ({status}): {response.text[:200]!r}")
    if not isinstance(payload, dict) or not payload:
        raise AssertionError(f"not a GraphQL response object: {payload!r:.200}")
    extra = set(payload) - {"data", "errors"}
    if extra:
        raise AssertionError(f"unexpected top-level keys {sorted(extra)}")
    if "data" in payload and not isinstance(payload["data"], dict):
        raise AssertionError(f"`data` is not an object: {payload['data']!r:.200}")
    errors = payload.get("errors", [])
    if "errors" in payload and (not isinstance(errors, list) or not errors):
        raise AssertionError("`errors` is present but not a non-empty list")
    for error in errors:
        if not isinstance(error, dict) or not isinstance(error.get("message"), str):
            raise AssertionError(f"an error without a message: {error!r:.200}")
        code = (error.get("extensions") or {}).get("code")
        if not isinstance(code, str):
            raise AssertionError(f"an error without extensions.code: {error!r:.200}")
        if code == "INTERNAL_SERVER_ERROR":
            raise AssertionError(f"a resolver failed: {error!r:.300}")
    if status == 200 and "data" not in payload and not errors:
        raise AssertionError("200 without data or errors")
    if status == 400 and (len(errors) != 1 or errors[0]["extensions"]["code"] not in BAD_REQUEST_CODES):
        raise AssertionError(f"400 that is not a transport or validation answer: {payload!r:.300}")
    if status not in (200, 400):
        raise AssertionError(f"unexpected status {status}: {payload!r:.300}")
