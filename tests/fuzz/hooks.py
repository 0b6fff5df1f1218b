"""schemathesis hooks for the local stack (loaded through SCHEMATHESIS_HOOKS by tests/schemathesis.rs).

`cargo lambda watch`, the local stand-in for API Gateway, cannot forward a text body
(`Content-Type: application/json`) that is not UTF-8: it answers 500 itself and never invokes
the function (cargo-lambda 1.9.2, crates/cargo-lambda-watch/src/trigger_router.rs,
`String::from_utf8(..).map_err(ServerError::StringBody)?`). schemathesis' syntax fuzzing sends
such bodies, so here they become the same bytes with invalid sequences replaced: still not JSON,
still fuzzing the body parser, but deliverable. What our code does with bytes that are not UTF-8
(400 INVALID_PAYLOAD) is unit-tested in shared/src/http.rs. Nothing else is changed or skipped.
"""
import schemathesis


@schemathesis.hook
def map_body(ctx, body):
    if isinstance(body, (bytes, bytearray)):
        return bytes(body).decode("utf-8", errors="replace").encode("utf-8")
    return body
