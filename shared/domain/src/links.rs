//! The links mail carries: a caller-supplied URL is used only when an allow-list entry admits it
//! (Directus' `is-url-allowed`: equal to an entry, or the same origin and path, query and
//! fragment ignored); the token goes in its `token` query parameter, replacing any there.

use url::Url;

/// An absolute `http` or `https` URL with a host and no credentials, else `None`.
pub fn parse_http_url(raw: &str) -> Option<Url> {
    let url = Url::parse(raw.trim()).ok()?;
    (matches!(url.scheme(), "http" | "https")
        && url.host_str().is_some_and(|h| !h.is_empty())
        && url.username().is_empty()
        && url.password().is_none())
    .then_some(url)
}

/// True when `requested` may be used: it parses as an http(s) URL and equals an entry, or has
/// an entry's origin and path.
pub fn is_allowed(requested: &str, allow_list: &[String]) -> bool {
    let Some(url) = parse_http_url(requested) else {
        return false;
    };
    allow_list.iter().any(|entry| {
        entry == requested
            || parse_http_url(entry).is_some_and(|allowed| {
                allowed.origin() == url.origin() && allowed.path() == url.path()
            })
    })
}

/// `base` with `?token=<token>` (other query parameters kept, an earlier `token` replaced, the
/// fragment dropped).
pub fn with_token(base: &str, token: &str) -> Option<String> {
    let mut url = parse_http_url(base)?;
    let kept: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(k, _)| k != "token")
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    url.set_fragment(None);
    {
        let mut query = url.query_pairs_mut();
        query.clear();
        for (k, v) in &kept {
            query.append_pair(k, v);
        }
        query.append_pair("token", token);
    }
    Some(url.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(entries: &[&str]) -> Vec<String> {
        entries.iter().map(|e| (*e).to_owned()).collect()
    }

    #[test]
    fn origin_and_path_must_match_an_entry() {
        let allowed = list(&["https://app.example.com/reset"]);
        assert!(is_allowed("https://app.example.com/reset", &allowed));
        assert!(is_allowed("https://app.example.com/reset?x=1#f", &allowed));
        assert!(!is_allowed("https://app.example.com/reset/more", &allowed));
        assert!(!is_allowed("http://app.example.com/reset", &allowed));
        assert!(!is_allowed("https://app.example.com:8443/reset", &allowed));
        assert!(!is_allowed("https://evil.example/reset", &allowed));
        assert!(!is_allowed(
            "https://app.example.com.evil.example/reset",
            &allowed
        ));
        assert!(!is_allowed("https://user@app.example.com/reset", &allowed));
        assert!(!is_allowed(
            "javascript:alert(1)//app.example.com/reset",
            &allowed
        ));
        assert!(!is_allowed("https://app.example.com/reset", &[]));
    }

    #[test]
    fn the_token_replaces_any_token_already_in_the_link() {
        assert_eq!(
            with_token("https://app.example.com/reset?lang=de&token=evil#x", "abc").unwrap(),
            "https://app.example.com/reset?lang=de&token=abc"
        );
        assert_eq!(
            with_token("http://127.0.0.1:9000/users/register/verify-email", "a.b.c").unwrap(),
            "http://127.0.0.1:9000/users/register/verify-email?token=a.b.c"
        );
    }
}
