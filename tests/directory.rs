//! The user directory: `GET /users`, `GET /users/{id}` with the `/items` query parameters,
//! `PATCH` and `DELETE /users/{id}` for administrators, and `provision users list`.

use e2e::{
    Reply, USER_ROLE, admin_token, apply, client, get, login_token, now_secs, post, post_with,
    stack, store, unique_email, user_with,
};
use serde_json::{Value, json};
use shared::domain::model::UserStatus;
use shared::domain::sensitive::Sensitive;
use shared::store::NewUser;

async fn send(method: &str, path: &str, bearer: Option<&str>, body: Option<Value>) -> Reply {
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let mut request = client().request(method.clone(), format!("{}{path}", stack().api));
    if let Some(token) = bearer {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    if let Some(body) = body {
        request = request
            .header("content-type", "application/json")
            .body(body.to_string());
    }
    Reply::from(request.send().await.expect("request sent"))
        .await
        .documented(method.as_str(), path)
}

async fn patch(path: &str, bearer: &str, body: Value) -> Reply {
    send("PATCH", path, Some(bearer), Some(body)).await
}

async fn delete(path: &str, bearer: Option<&str>) -> Reply {
    send("DELETE", path, bearer, None).await
}

const PASSWORD: &str = "d1r3ctu5-long";

/// A user created by `admin` with `fields`: (id, email, token).
async fn member(admin: &str, fields: Value) -> (String, String, String) {
    let (id, token) = user_with(admin, fields).await;
    let read = get(&format!("/users/{id}?fields=email"), Some(admin)).await;
    assert_eq!(read.status, 200, "{read:?}");
    let email = read.body["data"]["email"].as_str().unwrap().to_owned();
    (id, email, token)
}

fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[tokio::test]
async fn administrators_list_and_read_users_with_the_items_parameters() {
    let admin = admin_token().await;
    let (id, email, _) = member(&admin, json!({"first_name": "Grace", "role": USER_ROLE})).await;

    let listed = get(
        &format!("/users?filter[email][_eq]={}&meta=*", encode(&email)),
        Some(&admin),
    )
    .await;
    assert_eq!(listed.status, 200, "{listed:?}");
    let data = listed.body["data"].as_array().unwrap();
    assert_eq!(data.len(), 1);
    let user = &data[0];
    assert_eq!(
        user.as_object().unwrap().keys().collect::<Vec<_>>(),
        [
            "id",
            "first_name",
            "last_name",
            "email",
            "password",
            "status",
            "role",
            "policies"
        ]
    );
    assert_eq!(user["id"], id.as_str());
    assert_eq!(user["password"], "**********");
    assert_eq!(user["status"], "active");
    assert_eq!(user["role"], USER_ROLE);
    assert_eq!(user["policies"], json!([]));
    assert_eq!(listed.body["meta"]["filter_count"], 1);
    assert!(listed.body["meta"]["total_count"].as_u64().unwrap() >= 1);

    let one = get(&format!("/users/{id}?fields=id,first_name"), Some(&admin)).await;
    assert_eq!(one.status, 200);
    assert_eq!(one.body, json!({"data": {"id": id, "first_name": "Grace"}}));

    // search, sort, limit, offset and page work as on /items.
    let searched = get(
        &format!(
            "/users?search={}&fields=email",
            encode(&email.to_uppercase())
        ),
        Some(&admin),
    )
    .await;
    assert_eq!(searched.body["data"], json!([{"email": email}]));
    let sorted = get("/users?sort=-email&fields=email&limit=3", Some(&admin)).await;
    let emails: Vec<&str> = sorted.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["email"].as_str().unwrap())
        .collect();
    let mut expected = emails.clone();
    expected.sort_by(|a, b| b.cmp(a));
    assert_eq!(emails, expected);
    let first_two = get("/users?fields=id&limit=2", Some(&admin)).await;
    let second = get("/users?fields=id&limit=1&page=2", Some(&admin)).await;
    let offset = get("/users?fields=id&limit=1&offset=1", Some(&admin)).await;
    assert_eq!(second.body["data"][0], first_two.body["data"][1]);
    assert_eq!(offset.body["data"][0], first_two.body["data"][1]);
    let ids: Vec<&str> = first_two.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["id"].as_str().unwrap())
        .collect();
    assert!(ids[0] < ids[1], "the default sort is id: {ids:?}");
}

#[tokio::test]
async fn password_hashes_never_leave_the_store() {
    let admin = admin_token().await;
    let (id, _, _) = member(&admin, json!({})).await;
    // The member's stored hash, to look for in every answer: its salt and digest are random,
    // so finding either anywhere means the hash left the store.
    let stored = store()
        .get_user(&id)
        .await
        .unwrap()
        .and_then(|user| user.password)
        .expect("the member has a password");
    let hash = stored.expose().to_owned();
    let parts: Vec<&str> = hash.split('$').collect();
    let (salt, digest) = match parts.as_slice() {
        ["", "argon2id", _, _, salt, digest] => (*salt, *digest),
        _ => panic!("not an argon2id PHC string: {}", parts.len()),
    };
    // A user whose name holds the text every hash starts with: search and filters do find it
    // there, so not finding the member below means its hash is not searched.
    let tag = uuid::Uuid::new_v4().simple().to_string();
    let decoy_name = format!("$argon2id$ decoy {tag}");
    let (decoy, _, _) = member(&admin, json!({"first_name": decoy_name})).await;
    let both = format!("filter[id][_in]={id},{decoy}");

    let ids = |reply: &Reply| -> Vec<String> {
        reply.body["data"]
            .as_array()
            .unwrap_or_else(|| panic!("{reply:?}"))
            .iter()
            .map(|row| row["id"].as_str().unwrap_or_default().to_owned())
            .collect()
    };
    let searched = get("/users?search=argon2id&fields=id&limit=-1", Some(&admin)).await;
    assert_eq!(searched.status, 200, "{searched:?}");
    let found = ids(&searched);
    assert!(found.contains(&decoy), "search looks at names: {found:?}");
    assert!(!found.contains(&id), "search looked at a hash: {found:?}");
    for term in [salt, digest] {
        let reply = get(
            &format!("/users?search={}&fields=id&{both}", encode(term)),
            Some(&admin),
        )
        .await;
        assert_eq!(reply.body["data"], json!([]), "{reply:?}");
    }
    let named = get(
        &format!(
            "/users?filter[first_name][_contains]={}&fields=id",
            encode("$argon2id$")
        ),
        Some(&admin),
    )
    .await;
    assert!(ids(&named).contains(&decoy), "{named:?}");
    // Every hash is the same mask to filters and aggregates: two different hashes are one value.
    let distinct = get(
        &format!("/users?aggregate[countDistinct]=password&{both}"),
        Some(&admin),
    )
    .await;
    assert_eq!(
        distinct.body["data"],
        json!([{"countDistinct": {"password": 1}}]),
        "{distinct:?}"
    );
    let grouped = get(
        &format!("/users?groupBy[]=password&aggregate[count]=*&{both}"),
        Some(&admin),
    )
    .await;
    assert_eq!(
        grouped.body["data"],
        json!([{"password": "**********", "count": 2}]),
        "{grouped:?}"
    );
    // Operators that would compare a hash are refused outright.
    for filter in [
        format!("filter[password][_eq]={}", encode(&hash)),
        "filter[password][_starts_with]=%24argon2".to_owned(),
        "filter[password][_contains]=argon2id".to_owned(),
    ] {
        let reply = get(&format!("/users?{filter}"), Some(&admin)).await;
        assert_eq!(reply.status, 400, "{filter}: {reply:?}");
    }
    // No answer holds any part of the hash.
    for path in [
        "/users?limit=-1".to_owned(),
        "/users?fields=*&limit=-1".to_owned(),
        "/users?fields=password&limit=-1".to_owned(),
        format!("/users/{id}"),
        format!("/users/{id}?fields=password"),
        format!("/users?search=argon2id&{both}"),
        format!("/users?filter[password][_nnull]=true&{both}"),
        format!("/users?aggregate[min]=password&aggregate[max]=password&{both}"),
        format!("/users?groupBy[]=password&groupBy[]=id&{both}"),
    ] {
        let reply = get(&path, Some(&admin)).await;
        assert_eq!(reply.status, 200, "{path}: {reply:?}");
        for part in [hash.as_str(), salt, digest] {
            assert!(!reply.raw.contains(part), "{path}: {}", reply.raw);
        }
    }
}

#[tokio::test]
async fn the_public_and_users_without_permission_are_forbidden() {
    // A role with no read permission on directus_users (the quickstart's User role has one,
    // on its own row: the "Own profile" policy).
    let role = format!("no-directory-{}", uuid::Uuid::new_v4().simple());
    apply(json!({"roles": [{"id": role, "name": "No directory", "policies": []}]})).await;
    let admin = admin_token().await;
    let (id, _, token) = member(&admin, json!({"role": role})).await;
    let collection = "You don't have permission to access collection \"directus_users\" or it does not exist. Queried in root.";
    for bearer in [None, Some(token.as_str())] {
        for path in ["/users".to_owned(), format!("/users/{id}")] {
            let reply = get(&path, bearer).await;
            assert_eq!(reply.status, 403, "{path}");
            assert_eq!(reply.body["errors"][0]["message"], collection);
        }
    }
    let garbage = get("/users", Some("garbage")).await;
    assert_eq!(garbage.status, 401);
    // Unknown and malformed ids: 403 without a reason, never 404.
    for path in [
        format!("/users/{}", uuid::Uuid::new_v4()),
        "/users/not-a-uuid".to_owned(),
    ] {
        let reply = get(&path, Some(&admin)).await;
        assert_eq!(reply.status, 403, "{path}");
        assert_eq!(
            reply.body["errors"][0]["message"],
            "You don't have permission to access this."
        );
    }
    // Other methods on the directory's paths are the default route's.
    for (method, path) in [("PUT", format!("/users/{id}")), ("DELETE", "/users".into())] {
        let reply = send(method, &path, Some(&admin), None).await;
        assert_eq!(reply.status, 404, "{method} {path}");
        assert_eq!(reply.code(), "ROUTE_NOT_FOUND");
    }
}

#[tokio::test]
async fn read_permissions_on_directus_users_limit_rows_and_fields() {
    let tag = uuid::Uuid::new_v4().simple().to_string();
    let policy = format!("self-policy-{tag}");
    let role = format!("self-role-{tag}");
    apply(json!({
        "policies": [{"id": policy, "name": "Read self", "permissions": [
            {"collection": "directus_users", "action": "read", "fields": ["id", "email", "first_name"],
             "permissions": {"id": {"_eq": "$CURRENT_USER"}}}
        ]}],
        "roles": [{"id": role, "name": "Self reader", "policies": [policy]}]
    }))
    .await;
    let admin = admin_token().await;
    let (id, email, token) = member(&admin, json!({"role": role, "first_name": "Self"})).await;
    let (other, _, _) = member(&admin, json!({"role": role})).await;

    let listed = get("/users", Some(&token)).await;
    assert_eq!(listed.status, 200, "{listed:?}");
    assert_eq!(
        listed.body["data"],
        json!([{"id": id, "email": email, "first_name": "Self"}])
    );
    let own = get(&format!("/users/{id}"), Some(&token)).await;
    assert_eq!(own.status, 200);
    let theirs = get(&format!("/users/{other}"), Some(&token)).await;
    assert_eq!(theirs.status, 403);
    assert_eq!(
        theirs.body["errors"][0]["message"],
        "You don't have permission to access this."
    );
    for path in [
        "/users?fields=password",
        "/users?fields=status",
        "/users?filter[password][_null]=false",
        "/users?filter[role][_null]=true",
        "/users?sort=status",
    ] {
        let reply = get(path, Some(&token)).await;
        assert_eq!(reply.status, 403, "{path}: {reply:?}");
        assert!(
            reply.body["errors"][0]["message"]
                .as_str()
                .unwrap()
                .contains("in collection \"directus_users\""),
            "{path}"
        );
    }
    // A filter or search cannot reach other rows.
    let probe = get(&format!("/users?filter[id][_eq]={other}"), Some(&token)).await;
    assert_eq!(probe.body["data"], json!([]));
}

/// Seed's Administrator policy (`admin_access`).
const ADMINISTRATOR_POLICY: &str = "9f2d3c4b-1a5e-4f60-8b7c-2d1e0f3a4b5c";

#[tokio::test]
async fn overlapping_permissions_show_policies_only_on_rows_that_grant_them() {
    // Two read permissions: every field of one's own row, `id` and `first_name` of every row.
    let tag = uuid::Uuid::new_v4().simple().to_string();
    let policy = format!("overlap-policy-{tag}");
    let role = format!("overlap-role-{tag}");
    apply(json!({
        "policies": [{"id": policy, "name": "Own row and names", "permissions": [
            {"collection": "directus_users", "action": "read", "fields": ["*"],
             "permissions": {"id": {"_eq": "$CURRENT_USER"}}},
            {"collection": "directus_users", "action": "read", "fields": ["id", "first_name"]}
        ]}],
        "roles": [{"id": role, "name": "Overlapping reader", "policies": [policy]}]
    }))
    .await;
    let admin = admin_token().await;
    let (me, _, token) = member(&admin, json!({"role": role, "policies": [READ_POSTS]})).await;
    // Someone holding the Administrator policy as their own.
    let (boss, _, _) = member(
        &admin,
        json!({"role": role, "first_name": "Boss", "policies": [ADMINISTRATOR_POLICY]}),
    )
    .await;

    let both = format!("filter[id][_in]={me},{boss}");
    let listed = get(&format!("/users?fields=id,policies&{both}"), Some(&token)).await;
    assert_eq!(listed.status, 200, "{listed:?}");
    let mut expected = vec![
        json!({"id": me, "policies": [READ_POSTS]}),
        json!({"id": boss, "policies": null}),
    ];
    expected.sort_by(|a, b| a["id"].as_str().cmp(&b["id"].as_str()));
    assert_eq!(listed.body["data"], json!(expected));
    // Every row but the caller's: the field is there (another row grants it), hidden.
    let everyone = get("/users?fields=id,policies&limit=-1", Some(&token)).await;
    assert_eq!(everyone.status, 200, "{everyone:?}");
    let rows = everyone.body["data"].as_array().unwrap();
    assert!(rows.len() >= 2);
    for row in rows {
        let expected = if row["id"] == me.as_str() {
            json!([READ_POSTS])
        } else {
            Value::Null
        };
        assert_eq!(row["policies"], expected, "{row}");
    }
    assert!(
        !everyone.raw.contains(ADMINISTRATOR_POLICY),
        "{}",
        everyone.raw
    );
    // `policies` alone (no `id` to look up by), every field, and one row at a time.
    let alone = get(&format!("/users?fields=policies&{both}"), Some(&token)).await;
    let policies_only: Vec<Value> = expected
        .iter()
        .map(|row| json!({"policies": row["policies"]}))
        .collect();
    assert_eq!(alone.body["data"], json!(policies_only), "{alone:?}");
    let all_fields = get(&format!("/users?{both}"), Some(&token)).await;
    assert!(
        !all_fields.raw.contains(ADMINISTRATOR_POLICY),
        "{}",
        all_fields.raw
    );
    let theirs = get(&format!("/users/{boss}"), Some(&token)).await;
    assert_eq!(theirs.status, 200, "{theirs:?}");
    assert_eq!(theirs.body["data"]["first_name"], "Boss");
    assert_eq!(theirs.body["data"]["policies"], Value::Null);
    assert_eq!(theirs.body["data"]["email"], Value::Null);
    let mine = get(&format!("/users/{me}?fields=policies"), Some(&token)).await;
    assert_eq!(mine.body["data"], json!({"policies": [READ_POSTS]}));
    // Nor can a filter, sort or aggregate reach them.
    for path in [
        format!("/users?filter[policies][_nnull]=true&{both}"),
        format!("/users?filter[_or][0][policies][_null]=false&{both}"),
        "/users?sort=-policies".to_owned(),
        "/users?groupBy[]=policies".to_owned(),
        "/users?aggregate[count]=policies".to_owned(),
    ] {
        let reply = get(&path, Some(&token)).await;
        assert_eq!(reply.status, 400, "{path}: {reply:?}");
    }
    // GraphQL has no read of other users, nor a `policies` field to ask for.
    let bearer = format!("Bearer {token}");
    for (path, query) in [
        ("/graphql/system", "{ users { id policies } }".to_owned()),
        (
            "/graphql/system",
            format!("{{ users_by_id(id: \"{boss}\") {{ id policies }} }}"),
        ),
        ("/graphql/system", "{ users_me { id policies } }".to_owned()),
        ("/graphql", "{ directus_users { id policies } }".to_owned()),
    ] {
        let reply = post_with(
            path,
            &json!({ "query": query }).to_string(),
            &[("authorization", &bearer)],
        )
        .await;
        assert!(
            reply.body["errors"][0]["message"].is_string(),
            "{query}: {reply:?}"
        );
        assert!(
            !reply.raw.contains(ADMINISTRATOR_POLICY),
            "{query}: {reply:?}"
        );
    }
}

#[tokio::test]
async fn expired_unverified_accounts_are_gone_from_the_directory() {
    let admin = admin_token().await;
    let tag = uuid::Uuid::new_v4().simple().to_string();
    let now = i64::try_from(now_secs()).unwrap();
    // As a registration with verification writes them; dynoxide, like a late TTL sweep, never
    // deletes the expired one.
    let unverified = |email: String, expires_at: i64| {
        let first_name = Some(tag.clone());
        async move {
            store()
                .create_user_expiring(
                    NewUser {
                        email,
                        password_hash: Sensitive::new(
                            "$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo",
                        ),
                        status: UserStatus::Unverified,
                        role: None,
                        first_name,
                        last_name: None,
                        policies: Vec::new(),
                    },
                    Some(expires_at),
                )
                .await
                .unwrap()
        }
    };
    let expired = unverified(unique_email("expired"), now - 1).await;
    let pending = unverified(unique_email("pending"), now + 3600).await;
    let tagged = format!("filter[first_name][_eq]={tag}");

    let listed = get(&format!("/users?{tagged}&fields=id&meta=*"), Some(&admin)).await;
    assert_eq!(listed.status, 200, "{listed:?}");
    assert_eq!(listed.body["data"], json!([{"id": pending.id}]));
    assert_eq!(listed.body["meta"]["filter_count"], 1);
    let searched = get(&format!("/users?search={tag}&fields=id"), Some(&admin)).await;
    assert_eq!(searched.body["data"], json!([{"id": pending.id}]));
    let counted = get(&format!("/users?{tagged}&aggregate[count]=*"), Some(&admin)).await;
    assert_eq!(counted.body["data"], json!([{"count": 1}]));
    let grouped = get(
        &format!("/users?{tagged}&aggregate[count]=*&groupBy[]=status"),
        Some(&admin),
    )
    .await;
    assert_eq!(
        grouped.body["data"],
        json!([{"status": "unverified", "count": 1}])
    );
    let by_email = get(
        &format!("/users?filter[email][_eq]={}", encode(&expired.email)),
        Some(&admin),
    )
    .await;
    assert_eq!(by_email.body["data"], json!([]));
    let found = shared::flows::provision::list_users(&store(), Some(&expired.email))
        .await
        .unwrap();
    assert!(found.is_empty(), "{found:?}");

    // One by id, and a delete: as for a user that does not exist.
    let one = get(&format!("/users/{}", expired.id), Some(&admin)).await;
    assert_eq!(one.status, 403, "{one:?}");
    assert_eq!(
        one.body["errors"][0]["message"],
        "You don't have permission to access this."
    );
    let deleted = delete(&format!("/users/{}", expired.id), Some(&admin)).await;
    assert_eq!(deleted.status, 204, "{deleted:?}");
    assert!(deleted.raw.is_empty());
    let after = get(&format!("/users?{tagged}&fields=id"), Some(&admin)).await;
    assert_eq!(after.body["data"], json!([{"id": pending.id}]));
    let kept = get(
        &format!("/users/{}?fields=status", pending.id),
        Some(&admin),
    )
    .await;
    assert_eq!(kept.body["data"], json!({"status": "unverified"}));
}

#[tokio::test]
async fn administrators_update_users() {
    let admin = admin_token().await;
    let (id, email, _) = member(&admin, json!({"role": USER_ROLE})).await;
    let path = format!("/users/{id}");

    let named = patch(
        &path,
        &admin,
        json!({"first_name": "Ada", "last_name": "L"}),
    )
    .await;
    assert_eq!(named.status, 200, "{named:?}");
    assert_eq!(named.body["data"]["first_name"], "Ada");
    assert_eq!(named.body["data"]["password"], "**********");
    let fields = patch(
        &format!("{path}?fields=id,last_name"),
        &admin,
        json!({"last_name": "Lovelace"}),
    )
    .await;
    assert_eq!(
        fields.body,
        json!({"data": {"id": id, "last_name": "Lovelace"}})
    );

    // Email: the new address logs in, the old one no longer does; a taken one is refused.
    let new_email = unique_email("moved");
    let moved = patch(&path, &admin, json!({"email": new_email})).await;
    assert_eq!(moved.status, 200);
    assert_eq!(moved.body["data"]["email"], new_email.as_str());
    login_token(&new_email, PASSWORD).await;
    let gone = post(
        "/auth/login",
        &json!({"email": email, "password": PASSWORD}).to_string(),
    )
    .await;
    assert_eq!(gone.status, 401);
    let (_, taken, _) = member(&admin, json!({})).await;
    let clash = patch(&path, &admin, json!({"email": taken.to_uppercase()})).await;
    assert_eq!(clash.status, 400);
    assert_eq!(clash.code(), "RECORD_NOT_UNIQUE");

    // Policies are replaced: added, then removed.
    let added = patch(&path, &admin, json!({"policies": [READ_POSTS]})).await;
    assert_eq!(added.status, 200, "{added:?}");
    assert_eq!(added.body["data"]["policies"], json!([READ_POSTS]));
    let removed = patch(&path, &admin, json!({"policies": []})).await;
    assert_eq!(removed.body["data"]["policies"], json!([]));

    for (body, code) in [
        (json!({"title": "x"}), "INVALID_PAYLOAD"),
        (json!({"email": "nope"}), "FAILED_VALIDATION"),
        (json!({"status": "boss"}), "FAILED_VALIDATION"),
        (json!({"role": "no-such-role"}), "INVALID_FOREIGN_KEY"),
        (
            json!({"policies": ["no-such-policy"]}),
            "INVALID_FOREIGN_KEY",
        ),
        (json!({"password": "password"}), "FAILED_VALIDATION"),
    ] {
        let reply = patch(&path, &admin, body.clone()).await;
        assert_eq!(
            (reply.status, reply.code()),
            (400, code),
            "{body}: {reply:?}"
        );
    }
    let unknown = patch(
        &format!("/users/{}", uuid::Uuid::new_v4()),
        &admin,
        json!({"first_name": "x"}),
    )
    .await;
    assert_eq!(unknown.status, 204);
    assert!(unknown.raw.is_empty());
}

const READ_POSTS: &str = "5e4a4c51-2d0a-4a43-9b8e-3c1f0f6f7a01";

/// A user with a session: (id, email, access token, refresh token). Its access token is used
/// nowhere before the test's change, so no warm function holds its standing in cache.
async fn session_of_new_member(admin: &str) -> (String, String, String, String) {
    let (id, email, _) = member(admin, json!({"role": USER_ROLE})).await;
    let login = post(
        "/auth/login",
        &json!({"email": email, "password": PASSWORD}).to_string(),
    )
    .await;
    assert_eq!(login.status, 200);
    let data = &login.body["data"];
    (
        id,
        email,
        data["access_token"].as_str().unwrap().to_owned(),
        data["refresh_token"].as_str().unwrap().to_owned(),
    )
}

#[tokio::test]
async fn role_status_and_password_changes_revoke_as_the_operator_tool_does() {
    let admin = admin_token().await;
    for (change, can_log_in_after) in [
        (json!({"role": null}), Some(PASSWORD)),
        (json!({"status": "suspended"}), None),
        (json!({"status": "draft"}), None),
        (
            json!({"password": "an0ther-long-pass"}),
            Some("an0ther-long-pass"),
        ),
    ] {
        let (id, email, access, refresh) = session_of_new_member(&admin).await;
        let changed = patch(&format!("/users/{id}"), &admin, change.clone()).await;
        assert_eq!(changed.status, 200, "{change}: {changed:?}");
        let read = get("/items/posts", Some(&access)).await;
        assert_eq!(
            (read.status, read.code()),
            (401, "INVALID_CREDENTIALS"),
            "{change}"
        );
        let refreshed = post(
            "/auth/refresh",
            &json!({"refresh_token": refresh}).to_string(),
        )
        .await;
        assert_eq!(refreshed.status, 401, "{change}");
        let old_password = post(
            "/auth/login",
            &json!({"email": email, "password": PASSWORD}).to_string(),
        )
        .await;
        match can_log_in_after {
            Some(PASSWORD) => assert_eq!(old_password.status, 200, "{change}"),
            Some(new) => {
                assert_eq!(old_password.status, 401, "{change}");
                login_token(&email, new).await;
            }
            None => assert_eq!(old_password.status, 401, "{change}"),
        }
    }
    // Names, email and policies end nothing.
    let (id, _, access, refresh) = session_of_new_member(&admin).await;
    let renamed = patch(
        &format!("/users/{id}"),
        &admin,
        json!({"first_name": "Kept", "email": unique_email("kept"), "policies": [READ_POSTS]}),
    )
    .await;
    assert_eq!(renamed.status, 200);
    assert_eq!(get("/items/posts", Some(&access)).await.status, 200);
    let refreshed = post(
        "/auth/refresh",
        &json!({"refresh_token": refresh}).to_string(),
    )
    .await;
    assert_eq!(refreshed.status, 200);
}

#[tokio::test]
async fn only_administrators_write_users() {
    let admin = admin_token().await;
    let (id, _, token) = member(&admin, json!({"role": USER_ROLE})).await;
    let path = format!("/users/{id}");
    for bearer in [None, Some(token.as_str())] {
        let patched = send("PATCH", &path, bearer, Some(json!({"role": null}))).await;
        assert_eq!(patched.status, 403, "{patched:?}");
        let deleted = delete(&path, bearer).await;
        assert_eq!(deleted.status, 403);
    }
    let read = get(&format!("{path}?fields=role"), Some(&admin)).await;
    assert_eq!(read.body["data"]["role"], USER_ROLE);
}

#[tokio::test]
async fn administrators_delete_users_and_their_sessions() {
    let admin = admin_token().await;
    let (id, email, token, refresh) = session_of_new_member(&admin).await;
    let path = format!("/users/{id}");
    let deleted = delete(&path, Some(&admin)).await;
    assert_eq!(deleted.status, 204, "{deleted:?}");
    assert!(deleted.raw.is_empty());
    assert_eq!(get("/items/posts", Some(&token)).await.status, 401);
    let refreshed = post(
        "/auth/refresh",
        &json!({"refresh_token": refresh}).to_string(),
    )
    .await;
    assert_eq!(refreshed.status, 401);
    assert_eq!(get(&path, Some(&admin)).await.status, 403);
    let login = post(
        "/auth/login",
        &json!({"email": email, "password": PASSWORD}).to_string(),
    )
    .await;
    assert_eq!(login.status, 401);
    // Again, or an id that never existed: 204, as in Directus.
    assert_eq!(delete(&path, Some(&admin)).await.status, 204);
    assert_eq!(delete("/users/not-a-uuid", Some(&admin)).await.status, 204);
    // The address is free again.
    let again = post(
        "/register",
        &json!({"email": email, "password": PASSWORD}).to_string(),
    )
    .await;
    assert_eq!(again.status, 204);
    login_token(&email, PASSWORD).await;
}

#[tokio::test]
async fn the_operator_tool_lists_users_by_email() {
    let admin = admin_token().await;
    let (id, email, _) = member(&admin, json!({})).await;
    let found = shared::flows::provision::list_users(&store(), Some(&email.to_uppercase()))
        .await
        .unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].id, id);
    let all = shared::flows::provision::list_users(&store(), None)
        .await
        .unwrap();
    assert!(all.len() >= 2);
    assert!(all.windows(2).all(|w| w[0].id < w[1].id));
}

#[tokio::test]
async fn users_written_before_the_index_are_reindexed() {
    let admin = admin_token().await;
    let (id, email, _) = member(&admin, json!({})).await;
    // As an earlier version wrote it: no `directory` attribute.
    store()
        .client()
        .update_item()
        .table_name(store().tables().users.clone())
        .key(
            "pk",
            aws_sdk_dynamodb::types::AttributeValue::S(format!("user#{id}")),
        )
        .update_expression("REMOVE directory")
        .send()
        .await
        .unwrap();
    assert!(
        shared::flows::provision::list_users(&store(), Some(&email))
            .await
            .unwrap()
            .is_empty()
    );
    assert!(store().backfill_user_directory().await.unwrap() >= 1);
    let found = shared::flows::provision::list_users(&store(), Some(&email))
        .await
        .unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].id, id);
}
