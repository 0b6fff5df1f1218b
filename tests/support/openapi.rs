//! Checks real responses against `docs/openapi.yaml`: the route and method are documented, the
//! status is one the operation lists, a 204 has no body, and a JSON body validates against the
//! documented schema (JSON Schema 2020-12, which OpenAPI 3.1 uses, formats included).
//! Every request the end-to-end helpers make goes through [`conform`].

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use serde_json::{Value, json};

pub const DOCUMENT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/openapi.yaml");

/// The document as JSON.
pub fn document() -> &'static Value {
    static DOC: OnceLock<Value> = OnceLock::new();
    DOC.get_or_init(|| {
        let text = std::fs::read_to_string(DOCUMENT).expect("docs/openapi.yaml is readable");
        serde_norway::from_str(&text).expect("docs/openapi.yaml is valid YAML")
    })
}

/// What a response looked like, reduced to what the document describes.
pub struct Observed<'a> {
    pub method: &'a str,
    /// The request path, query string allowed.
    pub path: &'a str,
    pub status: u16,
    pub content_type: Option<&'a str>,
    pub raw: &'a str,
}

/// The documented path template that `path` matches, e.g. `/items/{collection}` for `/items/posts`.
pub fn template_for(document: &Value, path: &str) -> Option<String> {
    let path = path.split('?').next().unwrap_or(path);
    let segments: Vec<&str> = path.split('/').collect();
    let paths = document["paths"].as_object()?;
    // A literal template wins over one with parameters (`/users/register` over a `{...}`).
    let mut candidates: Vec<&String> = paths
        .keys()
        .filter(|template| {
            let parts: Vec<&str> = template.split('/').collect();
            parts.len() == segments.len()
                && parts.iter().zip(&segments).all(|(part, segment)| {
                    (part.starts_with('{') && !segment.is_empty()) || part == segment
                })
        })
        .collect();
    candidates.sort_by_key(|template| template.matches('{').count());
    candidates.first().map(|t| (*t).clone())
}

/// `Ok` when the response is what the document says this operation may answer.
pub fn conform(observed: &Observed) -> Result<(), String> {
    let document = document();
    let Some(template) = template_for(document, observed.path) else {
        // Every other path is the `$default` route's: 404 ROUTE_NOT_FOUND, nothing else.
        return route_not_found(observed);
    };
    let method = observed.method.to_ascii_lowercase();
    if document["paths"][&template].get(&method).is_none() {
        // A documented path with another method is the `$default` route's too.
        return route_not_found(observed);
    }
    let responses = &document["paths"][&template][&method]["responses"];
    let status = observed.status.to_string();
    let mut response = responses
        .get(&status)
        .or_else(|| responses.get("default"))
        .ok_or_else(|| {
            format!(
                "{} {template} answered {status}, which the document does not list",
                observed.method
            )
        })?;
    if let Some(reference) = response.get("$ref").and_then(Value::as_str) {
        response = resolve(document, reference)?;
    }
    let Some(content) = response.get("content") else {
        return if observed.raw.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "{} {template} {status} is documented without a body, got {:?}",
                observed.method, observed.raw
            ))
        };
    };
    let media = observed
        .content_type
        .and_then(|c| c.split(';').next())
        .map(str::trim)
        .unwrap_or("");
    if content.get(media).is_none() {
        return Err(format!(
            "{} {template} {status} has content type {media:?}, documented: {:?}",
            observed.method,
            content.as_object().map(|o| o.keys().collect::<Vec<_>>())
        ));
    }
    // A text body (`/server/ping`'s `pong`) is validated as the JSON string it is.
    let body: Value = if media.starts_with("text/") {
        Ok(Value::String(observed.raw.to_owned()))
    } else {
        serde_json::from_str(observed.raw)
    }
    .map_err(|e| {
        format!(
            "{} {template} {status}: body is not JSON: {e}",
            observed.method
        )
    })?;
    let pointer = format!("#/paths/{}/{method}/responses/{status}", escape(&template));
    let schema_pointer = match responses[&status].get("$ref").and_then(Value::as_str) {
        Some(reference) => format!("{reference}/content/{}/schema", escape(media)),
        None => format!("{pointer}/content/{}/schema", escape(media)),
    };
    validate(&schema_pointer, &body).map_err(|errors| {
        format!(
            "{} {template} {status}: body does not match the document:\n  {}\nbody: {body}",
            observed.method,
            errors.join("\n  ")
        )
    })
}

fn route_not_found(observed: &Observed) -> Result<(), String> {
    let what = format!(
        "{} {} (no documented operation)",
        observed.method, observed.path
    );
    if observed.status != 404 {
        return Err(format!("{what} answered {}, not 404", observed.status));
    }
    let body: Value =
        serde_json::from_str(observed.raw).map_err(|e| format!("{what}: body is not JSON: {e}"))?;
    validate(
        "#/components/responses/RouteNotFound/content/application~1json/schema",
        &body,
    )
    .map_err(|errors| format!("{what}: {}\nbody: {body}", errors.join("; ")))
}

/// Validates `instance` against the schema at `pointer` of the document. Validators are built
/// once per schema: `$ref`s resolve against the whole document, so `components` are in reach.
pub fn validate(pointer: &str, instance: &Value) -> Result<(), Vec<String>> {
    static VALIDATORS: OnceLock<Mutex<HashMap<String, std::sync::Arc<jsonschema::Validator>>>> =
        OnceLock::new();
    let cache = VALIDATORS.get_or_init(Default::default);
    let cached = cache.lock().expect("validator cache").get(pointer).cloned();
    let validator = match cached {
        Some(validator) => validator,
        None => {
            let mut root = document().clone();
            root["$ref"] = json!(pointer);
            let validator = std::sync::Arc::new(
                jsonschema::options()
                    .with_draft(jsonschema::Draft::Draft202012)
                    .should_validate_formats(true)
                    .build(&root)
                    .unwrap_or_else(|e| panic!("schema at {pointer} compiles: {e}")),
            );
            cache
                .lock()
                .expect("validator cache")
                .insert(pointer.to_owned(), validator.clone());
            validator
        }
    };
    let errors: Vec<String> = validator
        .iter_errors(instance)
        .map(|e| format!("at {:?}: {e}", e.instance_path().as_str()))
        .collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

fn resolve<'a>(document: &'a Value, reference: &str) -> Result<&'a Value, String> {
    let pointer = reference
        .strip_prefix('#')
        .ok_or_else(|| format!("only local references are used: {reference}"))?;
    document
        .pointer(pointer)
        .ok_or_else(|| format!("dangling reference {reference}"))
}

/// One reference token of a JSON Pointer in a URI fragment: RFC 6901 escaping, then
/// percent-encoding of what a fragment may not hold (the braces of path templates).
fn escape(token: &str) -> String {
    let mut escaped = String::new();
    for c in token.replace('~', "~0").replace('/', "~1").chars() {
        match c {
            '{' | '}' | '%' | '"' | ' ' | '<' | '>' | '\\' | '^' | '`' | '|' => {
                escaped.push_str(&format!("%{:02X}", c as u32));
            }
            _ => escaped.push(c),
        }
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::*;

    fn observed<'a>(method: &'a str, path: &'a str, status: u16, raw: &'a str) -> Observed<'a> {
        Observed {
            method,
            path,
            status,
            content_type: (!raw.is_empty()).then_some("application/json; charset=utf-8"),
            raw,
        }
    }

    #[test]
    fn literal_paths_win_over_templates() {
        let doc = document();
        assert_eq!(
            template_for(doc, "/items/posts?limit=1").as_deref(),
            Some("/items/{collection}")
        );
        assert_eq!(
            template_for(doc, "/items/posts/1").as_deref(),
            Some("/items/{collection}/{id}")
        );
        assert_eq!(
            template_for(doc, "/users/register").as_deref(),
            Some("/users/register")
        );
        assert_eq!(template_for(doc, "/nowhere"), None);
    }

    #[test]
    fn conforming_responses_pass() {
        let pair = r#"{"data":{"access_token":"a.b.c","expires":900000,"refresh_token":"r"}}"#;
        conform(&observed("POST", "/auth/login", 200, pair)).unwrap();
        conform(&observed("POST", "/register", 204, "")).unwrap();
        let error = r#"{"errors":[{"message":"Invalid user credentials.","extensions":{"code":"INVALID_CREDENTIALS"}}]}"#;
        conform(&observed("POST", "/auth/login", 401, error)).unwrap();
        let not_found = r#"{"errors":[{"message":"Route /nowhere doesn't exist.","extensions":{"path":"/nowhere","code":"ROUTE_NOT_FOUND"}}]}"#;
        conform(&observed("DELETE", "/nowhere", 404, not_found)).unwrap();
    }

    #[test]
    fn nonconforming_responses_fail() {
        // `expires` as a timestamp string, an undocumented status, a body on a 204, a wrong
        // code for the status, and a missing envelope.
        let wrong_expires = r#"{"data":{"access_token":"a","expires":"2026-01-01"}}"#;
        assert!(conform(&observed("POST", "/auth/login", 200, wrong_expires)).is_err());
        assert!(conform(&observed("POST", "/auth/login", 418, "{}")).is_err());
        assert!(conform(&observed("POST", "/register", 204, "{}")).is_err());
        let wrong_code = r#"{"errors":[{"message":"x","extensions":{"code":"FORBIDDEN"}}]}"#;
        assert!(conform(&observed("POST", "/auth/login", 401, wrong_code)).is_err());
        assert!(conform(&observed("GET", "/items/posts", 403, r#"{"error":"no"}"#)).is_err());
        let bad_uuid = r#"{"data":{"id":"not-a-uuid","email":"a@b.co","password":"**********","status":"active","role":null,"policies":[]}}"#;
        assert!(conform(&observed("POST", "/users", 200, bad_uuid)).is_err());
        assert!(conform(&observed("GET", "/nowhere", 200, "{}")).is_err());
        assert!(
            conform(&observed(
                "GET",
                "/nowhere",
                404,
                r#"{"message":"Not Found"}"#
            ))
            .is_err()
        );
    }

    #[test]
    fn two_factor_answers_are_documented() {
        let generated = r#"{"data":{"secret":"MRFQWWDPNMAC2YLRMRFQWWDPNMAC2YLR","otpauth_url":"otpauth://totp/Directus:a%40b.co?secret=MRFQWWDPNMAC2YLRMRFQWWDPNMAC2YLR&period=30&digits=6&algorithm=SHA1&issuer=Directus"}}"#;
        conform(&observed("POST", "/users/me/tfa/generate", 200, generated)).unwrap();
        let codes: Vec<String> = "abcdefghij"
            .chars()
            .map(|c| format!("abcd-efgh-ijkl-mno{c}"))
            .collect();
        let recovery = serde_json::json!({"data": {"recovery_codes": codes}}).to_string();
        conform(&observed("POST", "/users/me/tfa/enable", 200, &recovery)).unwrap();
        conform(&observed(
            "POST",
            "/users/me/tfa/recovery-codes",
            200,
            &recovery,
        ))
        .unwrap();
        conform(&observed("POST", "/users/me/tfa/disable", 204, "")).unwrap();
        let invalid_otp = r#"{"errors":[{"message":"Invalid payload. \"otp\" is invalid.","extensions":{"code":"INVALID_PAYLOAD"}}]}"#;
        conform(&observed("POST", "/users/me/tfa/disable", 400, invalid_otp)).unwrap();
        let forbidden = r#"{"errors":[{"message":"You don't have permission to access collection \"directus_users\" or it does not exist. Queried in root.","extensions":{"code":"FORBIDDEN"}}]}"#;
        conform(&observed("POST", "/users/me/tfa/enable", 403, forbidden)).unwrap();
        let otp_missing =
            r#"{"errors":[{"message":"Invalid user OTP.","extensions":{"code":"INVALID_OTP"}}]}"#;
        conform(&observed("POST", "/auth/login", 401, otp_missing)).unwrap();
        let me =
            r#"{"data":{"id":"6f1c5e0e-8a8b-4c1e-9f3e-2b7a7d8c9e01","tfa_secret":"**********"}}"#;
        conform(&observed("GET", "/users/me", 200, me)).unwrap();
        let me_off = r#"{"data":{"id":"6f1c5e0e-8a8b-4c1e-9f3e-2b7a7d8c9e01","tfa_secret":null}}"#;
        conform(&observed("GET", "/users/me", 200, me_off)).unwrap();

        // INVALID_OTP is the sign-in's alone; a secret that is not base32 of 160 bits; nine
        // codes; a revealed secret; a body on the 204; another method.
        assert!(conform(&observed("POST", "/users/me/tfa/enable", 401, otp_missing)).is_err());
        let short = r#"{"data":{"secret":"MRFQWWDPNMAC2YLR","otpauth_url":"otpauth://totp/x"}}"#;
        assert!(conform(&observed("POST", "/users/me/tfa/generate", 200, short)).is_err());
        let nine = serde_json::json!({"data": {"recovery_codes": &codes[..9]}}).to_string();
        assert!(conform(&observed("POST", "/users/me/tfa/enable", 200, &nine)).is_err());
        let revealed = r#"{"data":{"id":"6f1c5e0e-8a8b-4c1e-9f3e-2b7a7d8c9e01","tfa_secret":"MRFQWWDPNMAC2YLR"}}"#;
        assert!(conform(&observed("GET", "/users/me", 200, revealed)).is_err());
        assert!(conform(&observed("POST", "/users/me/tfa/disable", 204, "{}")).is_err());
        assert!(conform(&observed("GET", "/users/me/tfa/generate", 200, generated)).is_err());
    }
}
