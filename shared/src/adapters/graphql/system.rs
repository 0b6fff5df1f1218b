//! `/graphql/system`: Directus' system scope for the journey of the seeds — `auth_login`,
//! `auth_refresh`, `auth_logout`, `users_register`, `users_register_verify`,
//! `auth_password_request`, `auth_password_reset`, `users_me`, `users_me_tfa_*`,
//! `create_users_item(s)` and `server_ping` — over the same flows as REST
//! ([`crate::flows::session`], [`crate::flows::registration`], [`crate::flows`],
//! [`crate::flows::users`], [`crate::flows::two_factor`]): rate limits, lockout, equal work per login outcome, grace window, reuse
//! detection and permission checks hold here because they live there.
//!
//! The schema is per caller, as in Directus: `users_me` exists only for a caller who can read
//! `directus_users`, `create_users_item(s)` only for one who may create users, with an input of
//! exactly the fields they may write. Schemas are built per [`Shape`] and kept in
//! [`SystemSchemas`] (a handful of shapes exist).
//!
//! Adding a mutation: write a `fn(&Shape) -> Option<Field>` that builds its field (arguments,
//! resolver calling the flow through [`System`]) and list it in [`MUTATIONS`]; list its name in
//! [`SENSITIVE`] too if Directus allows it once per operation.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_graphql::Value as GqlValue;
use async_graphql::dynamic::{
    Enum, Field, FieldFuture, FieldValue, InputObject, InputValue, Object, ResolverContext, Scalar,
    Schema, SchemaError, TypeRef,
};
use serde_json::{Map, Value};

use super::limits::Limits;
use super::transport::{self, Incoming, Options};
use crate::adapters::http::HttpResponse;
use crate::credential::password::Passwords;
use crate::credential::token::AccessClaims;
use crate::domain::access::Accountability;
use crate::domain::client::Client;
use crate::domain::error::ApiError;
use crate::domain::sensitive::Sensitive;
use crate::flows::caller::Route;
use crate::flows::password_reset::{self, PasswordRequest, PasswordReset};
use crate::flows::registration::{self, Registration};
use crate::flows::session::{self, Credentials, Issued, Mode, Presentation};
use crate::flows::time::Now;
use crate::flows::two_factor::{self, Generated};
use crate::flows::users::{self, Created};
use crate::flows::verification;
use crate::platform::state::AppState;

const USERS: &str = "directus_users";

/// Root fields allowed at most once per operation: Directus' `limitSensitiveMutations` of
/// 11.3.5, and the two-factor mutations, as later Directus releases count them too (one
/// request cannot try many codes or passwords).
pub const SENSITIVE: &[&str] = &[
    "auth_login",
    "auth_password_request",
    "auth_password_reset",
    "users_register",
    "users_me_tfa_generate",
    "users_me_tfa_enable",
    "users_me_tfa_disable",
    "users_me_tfa_recovery_codes",
];

/// The mutations that act for nobody: a request of these alone is a public route
/// ([`crate::flows::caller::Route::Public`]), where a failing session cookie counts as no token and is
/// cleared. Refresh and logout judge the session cookie themselves, as over REST.
pub const PUBLIC_MUTATIONS: &[&str] = &[
    "auth_login",
    "users_register",
    "users_register_verify",
    "auth_password_request",
    "auth_password_reset",
];

/// How a `/graphql/system` request treats its caller's token: a public route when the
/// operation it runs is a mutation of [`PUBLIC_MUTATIONS`] alone, an authenticated one for
/// anything else (a query, a document that does not parse, any other root field).
pub fn route_of(incoming: &Incoming, limits: &Limits) -> Route {
    match incoming.mutation_root_fields(limits) {
        Some(fields)
            if !fields.is_empty()
                && fields
                    .iter()
                    .all(|field| PUBLIC_MUTATIONS.contains(&field.as_str())) =>
        {
            Route::Public
        }
        _ => Route::Authenticated,
    }
}

/// The mutations of the system scope, each present when its builder says so for the caller.
pub const MUTATIONS: &[fn(&Shape) -> Option<Field>] = &[
    auth_login,
    auth_refresh,
    auth_logout,
    users_register,
    users_register_verify,
    auth_password_request,
    auth_password_reset,
    users_me_tfa_generate,
    users_me_tfa_enable,
    users_me_tfa_disable,
    users_me_tfa_recovery_codes,
    create_users_item,
    create_users_items,
];

/// What one request's resolvers work with: the function's handles, the caller, the client,
/// and the request's one instant (every field of the document is resolved at it).
pub struct System {
    pub state: Arc<AppState>,
    pub passwords: Arc<Passwords>,
    pub claims: Option<AccessClaims>,
    pub client: Client,
    pub now: Now,
}

/// What makes one caller's system schema differ from another's.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Shape {
    /// `users_me` exists.
    pub read_users: bool,
    /// The fields of `create_directus_users_input`; `None`: no `create_users_item(s)`.
    pub create_users: Option<Vec<String>>,
}

/// The fields of `directus_users` this API stores and a create may name (besides `policies`).
const USER_INPUT_FIELDS: [&str; 6] = [
    "email",
    "password",
    "first_name",
    "last_name",
    "status",
    "role",
];

impl Shape {
    /// The caller's shape, from their permissions (app access adds the minimal read of the
    /// own row, as in Directus).
    pub fn of(accountability: &Accountability) -> Self {
        if accountability.admin {
            return Self {
                read_users: true,
                create_users: Some(USER_INPUT_FIELDS.iter().map(|f| (*f).to_owned()).collect()),
            };
        }
        let effective = users::with_app_minimal(accountability);
        let read_users = effective
            .permissions
            .iter()
            .any(|p| p.collection == USERS && p.action == "read");
        let creates: Vec<_> = effective
            .permissions
            .iter()
            .filter(|p| p.collection == USERS && p.action == "create")
            .collect();
        let create_users = (!creates.is_empty()).then(|| {
            USER_INPUT_FIELDS
                .iter()
                .filter(|field| {
                    creates
                        .iter()
                        .any(|p| p.fields.iter().any(|f| f == "*" || f == *field))
                })
                .map(|f| (*f).to_owned())
                .collect()
        });
        Self {
            read_users,
            create_users,
        }
    }
}

/// The schemas built so far, by shape (few exist: public, each role's permissions).
pub struct SystemSchemas {
    limits: Limits,
    built: Mutex<HashMap<Shape, Schema>>,
}

/// More shapes than this and the cache starts over (each is a few kilobytes).
const MAX_SHAPES: usize = 64;

impl SystemSchemas {
    pub fn new(limits: Limits) -> Self {
        Self {
            limits,
            built: Mutex::new(HashMap::new()),
        }
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    pub fn schema(&self, shape: &Shape) -> Result<Schema, ApiError> {
        let mut built = self.built.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(schema) = built.get(shape) {
            return Ok(schema.clone());
        }
        let schema = build(shape, &self.limits).map_err(|e| ApiError::Internal(Box::new(e)))?;
        if built.len() >= MAX_SHAPES {
            built.clear();
        }
        built.insert(shape.clone(), schema.clone());
        Ok(schema)
    }
}

/// Runs one `/graphql/system` request for a caller already resolved (token errors answered
/// before, with the REST envelope).
pub async fn serve(
    schemas: &SystemSchemas,
    incoming: Incoming,
    system: System,
) -> Result<HttpResponse, ApiError> {
    let state = &system.state;
    let accountability =
        crate::flows::access::accountability(state, system.claims.as_ref()).await?;
    let schema = schemas.schema(&Shape::of(&accountability))?;
    let options = Options {
        limits: schemas.limits(),
        admin: accountability.admin,
        once_per_request: SENSITIVE,
    };
    transport::execute(incoming, &schema, options, |request| {
        request.data(Arc::new(system))
    })
    .await
}

fn build(shape: &Shape, limits: &Limits) -> Result<Schema, SchemaError> {
    let mut query = Object::new("Query")
        .field(Field::new(
            "server_ping",
            TypeRef::named(TypeRef::STRING),
            |_| FieldFuture::from_value(Some(GqlValue::from("pong"))),
        ))
        .field(Field::new("_empty", TypeRef::named("Void"), |_| {
            FieldFuture::from_value(None)
        }));
    if shape.read_users {
        query = query.field(users_me());
    }
    let mut mutation = Object::new("Mutation");
    for builder in MUTATIONS {
        if let Some(field) = builder(shape) {
            mutation = mutation.field(field);
        }
    }
    let mut builder = Schema::build("Query", Some("Mutation"), None)
        .register(query)
        .register(mutation)
        .register(Scalar::new("Void"))
        .register(
            // Directus' big-integer scalar: `expires` is a string (`"900000"`).
            Scalar::new("GraphQLBigInt")
                .validator(|v| matches!(v, GqlValue::String(_) | GqlValue::Number(_))),
        )
        .register(Scalar::new("Hash").validator(|v| matches!(v, GqlValue::String(_))))
        .register(
            Enum::new("auth_mode")
                .item("json")
                .item("cookie")
                .item("session"),
        )
        .register(auth_tokens())
        .register(tfa_generate_data());
    if shape.read_users {
        builder = builder.register(directus_users());
    }
    if let Some(fields) = &shape.create_users {
        let mut input = InputObject::new("create_directus_users_input");
        for field in fields {
            let ty = if field == "password" {
                "Hash"
            } else {
                TypeRef::STRING
            };
            input = input.field(InputValue::new(field, TypeRef::named(ty)));
        }
        builder = builder.register(input);
    }
    limits.apply(builder).finish()
}

// ------------------------------------------------------------------------------------------
// Helpers

fn system<'a>(ctx: &'a ResolverContext<'_>) -> async_graphql::Result<&'a System> {
    Ok(ctx.data::<Arc<System>>()?.as_ref())
}

fn string_arg(ctx: &ResolverContext<'_>, name: &str) -> async_graphql::Result<Option<String>> {
    match ctx.args.get(name) {
        None => Ok(None),
        Some(value) if value.is_null() => Ok(None),
        Some(value) => Ok(Some(value.string()?.to_owned())),
    }
}

/// The caller of a `users_me_tfa_*` mutation. Directus resolves these to `null` without a
/// user; this API answers `INVALID_CREDENTIALS`, as `POST /users/me/tfa/*` does without a
/// token, so a client cannot take a silent `null` for done.
fn signed_in(system: &System) -> async_graphql::Result<&AccessClaims> {
    system
        .claims
        .as_ref()
        .ok_or_else(|| transport::error(ApiError::InvalidCredentials))
}

/// An answer that shows a secret or recovery codes: not kept by any cache.
fn no_store(ctx: &ResolverContext<'_>) {
    ctx.insert_http_header(
        lambda_http::http::header::CACHE_CONTROL,
        lambda_http::http::HeaderValue::from_static("no-store"),
    );
}

fn mode_arg(ctx: &ResolverContext<'_>) -> async_graphql::Result<Mode> {
    match ctx.args.get("mode") {
        Some(value) if !value.is_null() => {
            Ok(Mode::from_name(value.enum_name()?).unwrap_or(Mode::Json))
        }
        _ => Ok(Mode::Json),
    }
}

fn mode_argument() -> InputValue {
    InputValue::new("mode", TypeRef::named("auth_mode"))
}

/// Sets the cookies a flow asked for on the HTTP response.
fn apply_cookies(
    ctx: &ResolverContext<'_>,
    system: &System,
    cookies: &[crate::domain::client::CookieChange],
) {
    for change in cookies {
        transport::set_cookie(
            ctx.ctx,
            &crate::adapters::http::cookie_header(change, &system.state.config),
        );
    }
}

// ------------------------------------------------------------------------------------------
// Types

/// `type auth_tokens { access_token: String  expires: GraphQLBigInt  refresh_token: String }`,
/// resolved from the flow's [`Issued`].
fn auth_tokens() -> Object {
    let issued = |ctx: &ResolverContext<'_>| ctx.parent_value.try_downcast_ref::<Issued>().cloned();
    Object::new("auth_tokens")
        .field(Field::new(
            "access_token",
            TypeRef::named(TypeRef::STRING),
            move |ctx| {
                let value = issued(&ctx).map(|i| i.access_token.map(GqlValue::from));
                FieldFuture::new(async move { Ok(value?.map(FieldValue::value)) })
            },
        ))
        .field(Field::new(
            "expires",
            TypeRef::named("GraphQLBigInt"),
            move |ctx| {
                let value = issued(&ctx).map(|i| GqlValue::from(i.expires_ms.to_string()));
                FieldFuture::new(async move { Ok(Some(FieldValue::value(value?))) })
            },
        ))
        .field(Field::new(
            "refresh_token",
            TypeRef::named(TypeRef::STRING),
            move |ctx| {
                let value = issued(&ctx).map(|i| {
                    i.refresh_token
                        .as_ref()
                        .map(|t| GqlValue::from(t.expose().to_owned()))
                });
                FieldFuture::new(async move { Ok(value?.map(FieldValue::value)) })
            },
        ))
}

/// `type users_me_tfa_generate_data { secret: String  otpauth_url: String }`, resolved from the
/// flow's [`Generated`].
fn tfa_generate_data() -> Object {
    let shown = |ctx: &ResolverContext<'_>, pick: fn(&Generated) -> &Sensitive| {
        ctx.parent_value
            .try_downcast_ref::<Generated>()
            .map(|generated| GqlValue::from(pick(generated).expose().to_owned()))
    };
    Object::new("users_me_tfa_generate_data")
        .field(Field::new(
            "secret",
            TypeRef::named(TypeRef::STRING),
            move |ctx| {
                let value = shown(&ctx, |g| &g.secret);
                FieldFuture::new(async move { Ok(Some(FieldValue::value(value?))) })
            },
        ))
        .field(Field::new(
            "otpauth_url",
            TypeRef::named(TypeRef::STRING),
            move |ctx| {
                let value = shown(&ctx, |g| &g.otpauth_url);
                FieldFuture::new(async move { Ok(Some(FieldValue::value(value?))) })
            },
        ))
}

/// `type directus_users`: the fields this API stores, each resolved from the row the flow
/// returned (what the caller's permissions show of it; anything else is `null`).
fn directus_users() -> Object {
    let mut object = Object::new("directus_users");
    for field in users::schema().fields {
        let name = field.field.clone();
        let ty = if name == "id" {
            TypeRef::named_nn(TypeRef::ID)
        } else {
            TypeRef::named(TypeRef::STRING)
        };
        object = object.field(Field::new(field.field, ty, move |ctx| {
            let value = ctx
                .parent_value
                .try_downcast_ref::<Map<String, Value>>()
                .map(|row| row.get(&name).cloned().unwrap_or(Value::Null));
            FieldFuture::new(async move {
                Ok(match value? {
                    Value::Null => None,
                    Value::String(s) => Some(FieldValue::value(s)),
                    other => Some(FieldValue::value(other.to_string())),
                })
            })
        }));
    }
    object
}

// ------------------------------------------------------------------------------------------
// Query fields

/// `users_me: directus_users`: the caller's row as their permissions show it (`null` for the
/// public), with the selected fields.
fn users_me() -> Field {
    Field::new("users_me", TypeRef::named("directus_users"), |ctx| {
        FieldFuture::new(async move {
            let system = system(&ctx)?;
            let Some(claims) = &system.claims else {
                return Ok(None);
            };
            let fields: Vec<String> = ctx
                .field()
                .selection_set()
                .map(|f| f.name().to_owned())
                .filter(|name| !name.starts_with("__"))
                .collect();
            let fields = (!fields.is_empty()).then_some(fields);
            let data = users::read_me(&system.state, claims, fields.as_deref(), system.now)
                .await
                .map_err(transport::error)?;
            let row = match data {
                Value::Object(row) => row,
                // A bare id: the caller can read nothing else of the row.
                Value::String(id) => Map::from_iter([("id".to_owned(), Value::String(id))]),
                _ => Map::new(),
            };
            Ok(Some(FieldValue::owned_any(row)))
        })
    })
}

// ------------------------------------------------------------------------------------------
// Mutations

/// `auth_login(email: String!, password: String!, mode: auth_mode, otp: String): auth_tokens`.
/// No email format check (Directus answers `INVALID_CREDENTIALS` for any bad login here).
fn auth_login(_: &Shape) -> Option<Field> {
    Some(
        Field::new("auth_login", TypeRef::named("auth_tokens"), |ctx| {
            FieldFuture::new(async move {
                let system = system(&ctx)?;
                let credentials = Credentials {
                    email: string_arg(&ctx, "email")?.unwrap_or_default(),
                    password: Sensitive::new(string_arg(&ctx, "password")?.unwrap_or_default()),
                    otp: string_arg(&ctx, "otp")?.map(Sensitive::new),
                    mode: mode_arg(&ctx)?,
                };
                let issued = session::login(
                    &system.state,
                    &system.passwords,
                    credentials,
                    &system.client,
                    system.now,
                )
                .await
                .map_err(transport::error)?;
                apply_cookies(&ctx, system, &issued.cookies);
                Ok(Some(FieldValue::owned_any(issued)))
            })
        })
        .argument(InputValue::new("email", TypeRef::named_nn(TypeRef::STRING)))
        .argument(InputValue::new(
            "password",
            TypeRef::named_nn(TypeRef::STRING),
        ))
        .argument(mode_argument())
        .argument(InputValue::new("otp", TypeRef::named(TypeRef::STRING))),
    )
}

/// The token a GraphQL refresh or logout presents: json mode (the default) the argument,
/// cookie mode the refresh cookie, session mode the session cookie.
fn presentation(ctx: &ResolverContext<'_>) -> async_graphql::Result<Presentation> {
    Ok(Presentation {
        mode: mode_arg(ctx)?,
        refresh_token: string_arg(ctx, "refresh_token")?,
    })
}

/// `auth_refresh(refresh_token: String, mode: auth_mode): auth_tokens`.
fn auth_refresh(_: &Shape) -> Option<Field> {
    Some(
        Field::new("auth_refresh", TypeRef::named("auth_tokens"), |ctx| {
            FieldFuture::new(async move {
                let system = system(&ctx)?;
                let issued = session::refresh(
                    &system.state,
                    presentation(&ctx)?,
                    &system.client,
                    system.now,
                )
                .await
                .map_err(transport::error)?;
                apply_cookies(&ctx, system, &issued.cookies);
                Ok(Some(FieldValue::owned_any(issued)))
            })
        })
        .argument(InputValue::new(
            "refresh_token",
            TypeRef::named(TypeRef::STRING),
        ))
        .argument(mode_argument()),
    )
}

/// `auth_logout(refresh_token: String, mode: auth_mode): Boolean`.
fn auth_logout(_: &Shape) -> Option<Field> {
    Some(
        Field::new("auth_logout", TypeRef::named(TypeRef::BOOLEAN), |ctx| {
            FieldFuture::new(async move {
                let system = system(&ctx)?;
                let cookies = session::logout(&system.state, presentation(&ctx)?, &system.client)
                    .await
                    .map_err(transport::error)?;
                apply_cookies(&ctx, system, &cookies);
                Ok(Some(FieldValue::value(true)))
            })
        })
        .argument(InputValue::new(
            "refresh_token",
            TypeRef::named(TypeRef::STRING),
        ))
        .argument(mode_argument()),
    )
}

/// `users_register(email: String!, password: String!, verification_url: String,
/// first_name: String, last_name: String): Boolean`: `true` for new and existing emails alike
/// (11.3.5 crashes here when its limiter is off; the limit is REST's, per client address).
fn users_register(_: &Shape) -> Option<Field> {
    Some(
        Field::new("users_register", TypeRef::named(TypeRef::BOOLEAN), |ctx| {
            FieldFuture::new(async move {
                let system = system(&ctx)?;
                let registration = Registration {
                    email: string_arg(&ctx, "email")?.unwrap_or_default(),
                    password: Sensitive::new(string_arg(&ctx, "password")?.unwrap_or_default()),
                    verification_url: string_arg(&ctx, "verification_url")?,
                    first_name: string_arg(&ctx, "first_name")?,
                    last_name: string_arg(&ctx, "last_name")?,
                };
                registration::register(
                    &system.state,
                    &system.passwords,
                    registration,
                    &system.client,
                    system.now,
                )
                .await
                .map_err(transport::error)?;
                Ok(Some(FieldValue::value(true)))
            })
        })
        .argument(InputValue::new("email", TypeRef::named_nn(TypeRef::STRING)))
        .argument(InputValue::new(
            "password",
            TypeRef::named_nn(TypeRef::STRING),
        ))
        .argument(InputValue::new(
            "verification_url",
            TypeRef::named(TypeRef::STRING),
        ))
        .argument(InputValue::new(
            "first_name",
            TypeRef::named(TypeRef::STRING),
        ))
        .argument(InputValue::new(
            "last_name",
            TypeRef::named(TypeRef::STRING),
        )),
    )
}

/// `users_register_verify(token: String!): Boolean`: the link of the verification mail, as
/// `POST /users/register/verify-email` takes it: it activates the registration the link was
/// mailed for (a malformed token is in-band `INVALID_TOKEN`).
fn users_register_verify(_: &Shape) -> Option<Field> {
    Some(
        Field::new(
            "users_register_verify",
            TypeRef::named(TypeRef::BOOLEAN),
            |ctx| {
                FieldFuture::new(async move {
                    let system = system(&ctx)?;
                    let token = string_arg(&ctx, "token")?.unwrap_or_default();
                    verification::verify_registration(&system.state, &token, system.now)
                        .await
                        .map_err(transport::error)?;
                    Ok(Some(FieldValue::value(true)))
                })
            },
        )
        .argument(InputValue::new("token", TypeRef::named_nn(TypeRef::STRING))),
    )
}

/// `auth_password_request(email: String!, reset_url: String): Boolean`: `true` for every
/// address after the same work, as `POST /auth/password/request` answers 204.
fn auth_password_request(_: &Shape) -> Option<Field> {
    Some(
        Field::new(
            "auth_password_request",
            TypeRef::named(TypeRef::BOOLEAN),
            |ctx| {
                FieldFuture::new(async move {
                    let system = system(&ctx)?;
                    let input = PasswordRequest {
                        email: string_arg(&ctx, "email")?.unwrap_or_default(),
                        reset_url: string_arg(&ctx, "reset_url")?,
                    };
                    password_reset::request_password_reset(
                        &system.state,
                        input,
                        &system.client,
                        system.now,
                    )
                    .await
                    .map_err(transport::error)?;
                    Ok(Some(FieldValue::value(true)))
                })
            },
        )
        .argument(InputValue::new("email", TypeRef::named_nn(TypeRef::STRING)))
        .argument(InputValue::new(
            "reset_url",
            TypeRef::named(TypeRef::STRING),
        )),
    )
}

/// `auth_password_reset(token: String!, password: String!): Boolean`: the reset link's token
/// and the new password, through the flow of `POST /auth/password/reset`.
fn auth_password_reset(_: &Shape) -> Option<Field> {
    Some(
        Field::new(
            "auth_password_reset",
            TypeRef::named(TypeRef::BOOLEAN),
            |ctx| {
                FieldFuture::new(async move {
                    let system = system(&ctx)?;
                    let input = PasswordReset {
                        token: Sensitive::new(string_arg(&ctx, "token")?.unwrap_or_default()),
                        password: Sensitive::new(string_arg(&ctx, "password")?.unwrap_or_default()),
                    };
                    password_reset::reset_password(
                        &system.state,
                        &system.passwords,
                        input,
                        &system.client,
                        system.now,
                    )
                    .await
                    .map_err(transport::error)?;
                    Ok(Some(FieldValue::value(true)))
                })
            },
        )
        .argument(InputValue::new("token", TypeRef::named_nn(TypeRef::STRING)))
        .argument(InputValue::new(
            "password",
            TypeRef::named_nn(TypeRef::STRING),
        )),
    )
}

/// `users_me_tfa_generate(password: String!): users_me_tfa_generate_data`: a new secret for the
/// caller, as `POST /users/me/tfa/generate` makes it (the password checked as a sign-in checks
/// it).
fn users_me_tfa_generate(_: &Shape) -> Option<Field> {
    Some(
        Field::new(
            "users_me_tfa_generate",
            TypeRef::named("users_me_tfa_generate_data"),
            |ctx| {
                FieldFuture::new(async move {
                    let system = system(&ctx)?;
                    let claims = signed_in(system)?;
                    let generated = two_factor::generate(
                        &system.state,
                        &system.passwords,
                        claims,
                        string_arg(&ctx, "password")?.map(Sensitive::new),
                        &system.client,
                        system.now,
                    )
                    .await
                    .map_err(transport::error)?;
                    no_store(&ctx);
                    Ok(Some(FieldValue::owned_any(generated)))
                })
            },
        )
        .argument(InputValue::new(
            "password",
            TypeRef::named_nn(TypeRef::STRING),
        )),
    )
}

/// `users_me_tfa_enable(otp: String!, secret: String!): Boolean`: enables the generated secret,
/// as `POST /users/me/tfa/enable` does. Directus' schema answers a Boolean, so the recovery
/// codes the flow made are not shown here (REST shows them once); a GraphQL client gets its
/// codes from [`users_me_tfa_recovery_codes`], which replaces these unseen ones.
fn users_me_tfa_enable(_: &Shape) -> Option<Field> {
    Some(
        Field::new(
            "users_me_tfa_enable",
            TypeRef::named(TypeRef::BOOLEAN),
            |ctx| {
                FieldFuture::new(async move {
                    let system = system(&ctx)?;
                    let claims = signed_in(system)?;
                    two_factor::enable(
                        &system.state,
                        claims,
                        string_arg(&ctx, "secret")?.map(Sensitive::new),
                        string_arg(&ctx, "otp")?.map(Sensitive::new),
                        &system.client,
                        system.now,
                    )
                    .await
                    .map_err(transport::error)?;
                    Ok(Some(FieldValue::value(true)))
                })
            },
        )
        .argument(InputValue::new("otp", TypeRef::named_nn(TypeRef::STRING)))
        .argument(InputValue::new(
            "secret",
            TypeRef::named_nn(TypeRef::STRING),
        )),
    )
}

/// `users_me_tfa_disable(otp: String!): Boolean`: removes the caller's second factor given one
/// of its codes or a recovery code, as `POST /users/me/tfa/disable` does.
fn users_me_tfa_disable(_: &Shape) -> Option<Field> {
    Some(
        Field::new(
            "users_me_tfa_disable",
            TypeRef::named(TypeRef::BOOLEAN),
            |ctx| {
                FieldFuture::new(async move {
                    let system = system(&ctx)?;
                    let claims = signed_in(system)?;
                    two_factor::disable(
                        &system.state,
                        claims,
                        string_arg(&ctx, "otp")?.map(Sensitive::new),
                        &system.client,
                        system.now,
                    )
                    .await
                    .map_err(transport::error)?;
                    Ok(Some(FieldValue::value(true)))
                })
            },
        )
        .argument(InputValue::new("otp", TypeRef::named_nn(TypeRef::STRING))),
    )
}

/// `users_me_tfa_recovery_codes(password: String!, otp: String!): [String]` (not Directus':
/// Directus has no recovery codes): ten new recovery codes replace the old ones, as
/// `POST /users/me/tfa/recovery-codes` does. `users_me_tfa_enable` answers a Boolean, as in
/// Directus' schema, so this is how a GraphQL client gets codes it has seen; it asks for the
/// password and a code, as a change of the second factor should.
fn users_me_tfa_recovery_codes(_: &Shape) -> Option<Field> {
    Some(
        Field::new(
            "users_me_tfa_recovery_codes",
            TypeRef::named_list(TypeRef::STRING),
            |ctx| {
                FieldFuture::new(async move {
                    let system = system(&ctx)?;
                    let claims = signed_in(system)?;
                    let codes = two_factor::regenerate_recovery_codes(
                        &system.state,
                        &system.passwords,
                        claims,
                        string_arg(&ctx, "password")?.map(Sensitive::new),
                        string_arg(&ctx, "otp")?.map(Sensitive::new),
                        &system.client,
                        system.now,
                    )
                    .await
                    .map_err(transport::error)?;
                    no_store(&ctx);
                    Ok(Some(FieldValue::list(codes.0.iter().map(|code| {
                        FieldValue::value(GqlValue::from(code.expose().to_owned()))
                    }))))
                })
            },
        )
        .argument(InputValue::new(
            "password",
            TypeRef::named_nn(TypeRef::STRING),
        ))
        .argument(InputValue::new("otp", TypeRef::named_nn(TypeRef::STRING))),
    )
}

/// One `create_directus_users_input` as the flow's payload.
fn user_input(
    value: async_graphql::dynamic::ValueAccessor<'_>,
) -> async_graphql::Result<Map<String, Value>> {
    match value.as_value().clone().into_json()? {
        Value::Object(map) => Ok(map.into_iter().filter(|(_, v)| !v.is_null()).collect()),
        _ => Err(transport::error(ApiError::payload(
            "\"data\" must be of type object",
        ))),
    }
}

async fn create_one(system: &System, payload: Map<String, Value>) -> async_graphql::Result<()> {
    let created = users::create(
        &system.state,
        &system.passwords,
        system.claims.as_ref(),
        payload,
        &system.client,
        system.now,
    )
    .await
    .map_err(transport::error)?;
    match created {
        Created::Visible(_) | Created::Hidden => Ok(()),
    }
}

/// `create_users_item(data: create_directus_users_input!): Boolean` (seed 001's public
/// create): `true` once created. A taken email answers `true` too, except to administrators
/// (`RECORD_NOT_UNIQUE`), as REST's `POST /users` answers.
fn create_users_item(shape: &Shape) -> Option<Field> {
    shape.create_users.as_ref()?;
    Some(
        Field::new(
            "create_users_item",
            TypeRef::named(TypeRef::BOOLEAN),
            |ctx| {
                FieldFuture::new(async move {
                    let system = system(&ctx)?;
                    create_one(system, user_input(ctx.args.try_get("data")?)?).await?;
                    Ok(Some(FieldValue::value(true)))
                })
            },
        )
        .argument(InputValue::new(
            "data",
            TypeRef::named_nn("create_directus_users_input"),
        )),
    )
}

/// `create_users_items(data: [create_directus_users_input!]): Boolean`: at most
/// [`users::MAX_CREATE_MANY`] items, all checked before any is written, then each created in
/// order through the same flow (each counted against the registration budget); see
/// [`users::create_many`] for a failure part-way.
fn create_users_items(shape: &Shape) -> Option<Field> {
    shape.create_users.as_ref()?;
    Some(
        Field::new(
            "create_users_items",
            TypeRef::named(TypeRef::BOOLEAN),
            |ctx| {
                FieldFuture::new(async move {
                    let system = system(&ctx)?;
                    let Some(list) = ctx.args.get("data").filter(|v| !v.is_null()) else {
                        return Ok(Some(FieldValue::value(true)));
                    };
                    let list = list.list()?;
                    if list.len() > users::MAX_CREATE_MANY {
                        // Before reading the items: none is parsed, checked or hashed.
                        return Err(transport::error(ApiError::payload(format!(
                            "\"data\" must contain less than or equal to {} items",
                            users::MAX_CREATE_MANY
                        ))));
                    }
                    let items = list
                        .iter()
                        .map(user_input)
                        .collect::<async_graphql::Result<Vec<_>>>()?;
                    users::create_many(
                        &system.state,
                        &system.passwords,
                        system.claims.as_ref(),
                        items,
                        &system.client,
                        system.now,
                    )
                    .await
                    .map_err(|stopped| transport::error(stopped.error))?;
                    Ok(Some(FieldValue::value(true)))
                })
            },
        )
        .argument(InputValue::new(
            "data",
            TypeRef::named_nn_list("create_directus_users_input"),
        )),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::model::Permission;

    fn permission(action: &str, fields: &[&str]) -> Permission {
        Permission {
            id: "p".into(),
            policy: "public".into(),
            collection: USERS.into(),
            action: action.into(),
            fields: fields.iter().map(|f| (*f).to_owned()).collect(),
            permissions: None,
            presets: None,
            validation: None,
        }
    }

    fn sdl(shape: &Shape) -> String {
        build(shape, &Limits::default()).unwrap().sdl()
    }

    fn incoming(body: Value) -> Incoming {
        let request = lambda_http::http::Request::builder()
            .method("POST")
            .uri("/graphql/system")
            .header("content-type", "application/json")
            .body(lambda_http::Body::Text(body.to_string()))
            .unwrap();
        Incoming::read(&request, &Limits::default()).unwrap()
    }

    #[test]
    fn only_a_request_of_public_mutations_alone_is_a_public_route() {
        let route = |body: Value| route_of(&incoming(body), &Limits::default());
        for public in [
            serde_json::json!({"query": "mutation { auth_login(email: \"a@b.co\", password: \"x\") { expires } }"}),
            serde_json::json!({"query": "mutation R($e: String!) { a: users_register(email: $e, password: \"x\") b: auth_password_request(email: $e) }"}),
            serde_json::json!({"query": "mutation { ...F } fragment F on Mutation { users_register_verify(token: \"t\") }"}),
            serde_json::json!({"query": "mutation P { auth_password_reset(token: \"t\", password: \"p\") } query Q { server_ping }", "operationName": "P"}),
        ] {
            assert_eq!(route(public.clone()), Route::Public, "{public}");
        }
        for authenticated in [
            // Anything that acts for the caller, alone or next to a public mutation.
            serde_json::json!({"query": "mutation { auth_login(email: \"a@b.co\", password: \"x\") { expires } create_users_item(data: {}) { id } }"}),
            serde_json::json!({"query": "mutation { auth_refresh(mode: session) { expires } }"}),
            serde_json::json!({"query": "mutation { auth_logout(mode: session) }"}),
            serde_json::json!({"query": "mutation { ... on Mutation { create_users_items(data: []) } }"}),
            serde_json::json!({"query": "{ users_me { id } }"}),
            serde_json::json!({"query": "query { server_ping }"}),
            // Not a public mutation by name: aliases do not count.
            serde_json::json!({"query": "mutation { auth_login: create_users_item(data: {}) { id } }"}),
            // The other operation of the document is the one that runs.
            serde_json::json!({"query": "mutation P { auth_login(email: \"a@b.co\", password: \"x\") { expires } } query Q { users_me { id } }", "operationName": "Q"}),
            serde_json::json!({"query": "mutation P { auth_login(email: \"a@b.co\", password: \"x\") { expires } } mutation Q { auth_logout }"}),
            // Nothing that parses, or nothing at all.
            serde_json::json!({"query": "mutation { auth_login("}),
            serde_json::json!({"query": "mutation { }"}),
            serde_json::json!({"query": 5}),
            serde_json::json!({}),
        ] {
            assert_eq!(
                route(authenticated.clone()),
                Route::Authenticated,
                "{authenticated}"
            );
        }
        // Past the token limit the document is not even parsed.
        let long = format!(
            "mutation {{ {} }}",
            (0..2000)
                .map(|i| format!("a{i}: auth_password_request(email: \"a@b.co\")"))
                .collect::<Vec<_>>()
                .join(" ")
        );
        assert_eq!(
            route(serde_json::json!({ "query": long })),
            Route::Authenticated
        );
    }

    #[test]
    fn the_public_without_permissions_has_auth_but_no_users() {
        let shape = Shape::of(&Accountability::default());
        assert_eq!(
            shape,
            Shape {
                read_users: false,
                create_users: None
            }
        );
        let sdl = sdl(&shape);
        for present in [
            "auth_login(email: String!, password: String!, mode: auth_mode, otp: String): auth_tokens",
            "auth_refresh(refresh_token: String, mode: auth_mode): auth_tokens",
            "auth_logout(refresh_token: String, mode: auth_mode): Boolean",
            "users_register(email: String!, password: String!, verification_url: String, first_name: String, last_name: String): Boolean",
            "users_register_verify(token: String!): Boolean",
            "auth_password_request(email: String!, reset_url: String): Boolean",
            "auth_password_reset(token: String!, password: String!): Boolean",
            "expires: GraphQLBigInt",
            "server_ping: String",
        ] {
            assert!(sdl.contains(present), "{present} in {sdl}");
        }
        // `users_me:` the query field (the `users_me_tfa_*` mutations are everyone's).
        for absent in ["users_me:", "create_users_item", "directus_users"] {
            assert!(!sdl.contains(absent), "{absent} in {sdl}");
        }
    }

    #[test]
    fn a_public_create_permission_adds_the_creates_with_its_fields_only() {
        let public = Accountability {
            permissions: vec![permission("create", &["email", "password"])],
            ..Default::default()
        };
        let shape = Shape::of(&public);
        assert_eq!(
            shape.create_users,
            Some(vec!["email".to_owned(), "password".to_owned()])
        );
        let sdl = sdl(&shape);
        assert!(sdl.contains("create_users_item(data: create_directus_users_input!): Boolean"));
        assert!(sdl.contains("create_users_items(data: [create_directus_users_input!]): Boolean"));
        assert!(sdl.contains("password: Hash"), "{sdl}");
        assert!(!sdl.contains("role: String"), "{sdl}");
        assert!(!sdl.contains("users_me:"), "{sdl}");
    }

    #[test]
    fn readers_of_users_and_app_users_get_users_me() {
        let reader = Accountability {
            user: Some("u".into()),
            permissions: vec![permission("read", &["*"])],
            ..Default::default()
        };
        assert!(Shape::of(&reader).read_users);
        let app = Accountability {
            user: Some("u".into()),
            app: true,
            ..Default::default()
        };
        assert!(Shape::of(&app).read_users);
        let admin = Accountability {
            admin: true,
            ..Default::default()
        };
        let shape = Shape::of(&admin);
        assert!(shape.read_users && shape.create_users.is_some());
        assert!(sdl(&shape).contains("users_me: directus_users"));
    }

    /// A caller's claims: the two-factor resolvers check that there is one, the flows read
    /// the rest from the store.
    fn claims() -> AccessClaims {
        AccessClaims {
            id: "u".into(),
            role: None,
            app_access: false,
            admin_access: false,
            iat: 1_700_000_000,
            exp: 1_700_000_900,
            iss: "directus".into(),
            session: None,
            sid: None,
            session_created_ms: None,
            tfa_setup: false,
        }
    }

    /// Runs `body` against the public shape's schema for `claims`, over a store that refuses
    /// connections: what answers here answered before touching it.
    async fn answer(body: Value, claims: Option<AccessClaims>) -> (u16, Value) {
        let shape = Shape::of(&Accountability::default());
        let schema = build(&shape, &Limits::default()).unwrap();
        let system = System {
            state: Arc::new(crate::platform::testing::unreachable_state()),
            passwords: Arc::new(crate::platform::testing::cheap_passwords()),
            claims,
            client: Client::default(),
            now: Now::from_millis(1_700_000_100_000),
        };
        let options = Options {
            limits: &Limits::default(),
            admin: false,
            once_per_request: SENSITIVE,
        };
        let response = transport::execute(incoming(body), &schema, options, |request| {
            request.data(Arc::new(system))
        })
        .await
        .unwrap();
        crate::platform::testing::status_and_json(&response)
    }

    /// The single in-band error of a 200 answer whose field is `null`.
    fn in_band(field: &str, (status, body): (u16, Value)) -> (String, String) {
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["data"][field], Value::Null, "{body}");
        let errors = body["errors"].as_array().expect("errors");
        assert_eq!(errors.len(), 1, "{body}");
        assert_eq!(errors[0]["path"], serde_json::json!([field]), "{body}");
        (
            errors[0]["extensions"]["code"].as_str().unwrap().to_owned(),
            errors[0]["message"].as_str().unwrap().to_owned(),
        )
    }

    /// The messages of a 400 `GRAPHQL_VALIDATION` answer.
    fn invalid((status, body): (u16, Value)) -> Vec<String> {
        assert_eq!(status, 400, "{body}");
        assert_eq!(
            body["errors"][0]["extensions"]["code"],
            "GRAPHQL_VALIDATION"
        );
        body["errors"][0]["extensions"]["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["message"].as_str().unwrap().to_owned())
            .collect()
    }

    #[test]
    fn every_caller_has_the_two_factor_mutations_with_directus_types() {
        let public = sdl(&Shape::of(&Accountability::default()));
        for present in [
            "users_me_tfa_generate(password: String!): users_me_tfa_generate_data",
            "users_me_tfa_enable(otp: String!, secret: String!): Boolean",
            "users_me_tfa_disable(otp: String!): Boolean",
            "users_me_tfa_recovery_codes(password: String!, otp: String!): [String]",
        ] {
            assert!(public.contains(present), "{present} in {public}");
        }
        let data = public
            .split("type users_me_tfa_generate_data {")
            .nth(1)
            .and_then(|rest| rest.split('}').next())
            .expect("the generate type");
        let fields: Vec<&str> = data.split_whitespace().collect();
        assert_eq!(fields, ["secret:", "String", "otpauth_url:", "String"]);
        // `users_me` shows whether a second factor is set (concealed by the flow).
        let reader = sdl(&Shape {
            read_users: true,
            create_users: None,
        });
        let users = reader
            .split("type directus_users {")
            .nth(1)
            .and_then(|rest| rest.split('}').next())
            .expect("the users type");
        assert!(users.contains("tfa_secret: String"), "{users}");
    }

    #[tokio::test]
    async fn the_two_factor_mutations_without_a_token_are_invalid_credentials() {
        for (field, document) in [
            (
                "users_me_tfa_generate",
                r#"mutation { users_me_tfa_generate(password: "d1r3ctu5") { secret otpauth_url } }"#,
            ),
            (
                "users_me_tfa_enable",
                r#"mutation { users_me_tfa_enable(otp: "123456", secret: "JBSWY3DPEHPK3PXP") }"#,
            ),
            (
                "users_me_tfa_disable",
                r#"mutation { users_me_tfa_disable(otp: "123456") }"#,
            ),
            (
                "users_me_tfa_recovery_codes",
                r#"mutation { users_me_tfa_recovery_codes(password: "d1r3ctu5", otp: "123456") }"#,
            ),
        ] {
            let (code, message) = in_band(
                field,
                answer(serde_json::json!({ "query": document }), None).await,
            );
            assert_eq!(code, "INVALID_CREDENTIALS", "{field}");
            assert_eq!(message, "Invalid user credentials.", "{field}");
        }
    }

    #[tokio::test]
    async fn empty_codes_and_secrets_are_the_flows_payload_errors() {
        for (field, document, message) in [
            (
                "users_me_tfa_enable",
                r#"mutation { users_me_tfa_enable(otp: "", secret: "JBSWY3DPEHPK3PXP") }"#,
                "Invalid payload. \"otp\" is required.",
            ),
            (
                "users_me_tfa_enable",
                r#"mutation { users_me_tfa_enable(otp: "123456", secret: "") }"#,
                "Invalid payload. \"secret\" is required.",
            ),
            (
                "users_me_tfa_disable",
                r#"mutation { users_me_tfa_disable(otp: "") }"#,
                "Invalid payload. \"otp\" is required.",
            ),
            (
                "users_me_tfa_recovery_codes",
                r#"mutation { users_me_tfa_recovery_codes(password: "d1r3ctu5", otp: "") }"#,
                "Invalid payload. \"otp\" is required.",
            ),
        ] {
            let (code, said) = in_band(
                field,
                answer(serde_json::json!({ "query": document }), Some(claims())).await,
            );
            assert_eq!(code, "INVALID_PAYLOAD", "{document}");
            assert_eq!(said, message, "{document}");
        }
    }

    #[tokio::test]
    async fn missing_null_and_non_string_arguments_are_graphql_validation_errors() {
        let run = |body: Value| answer(body, Some(claims()));
        assert_eq!(
            invalid(
                run(serde_json::json!({"query": "mutation { users_me_tfa_enable(otp: \"123456\") }"}))
                    .await
            ),
            [
                "Field \"users_me_tfa_enable\" argument \"secret\" of type \"String!\" is required, but it was not provided."
            ]
        );
        assert_eq!(
            invalid(
                run(serde_json::json!({"query": "mutation { users_me_tfa_generate { secret } }"}))
                    .await
            ),
            [
                "Field \"users_me_tfa_generate\" argument \"password\" of type \"String!\" is required, but it was not provided."
            ]
        );
        for document in [
            "mutation { users_me_tfa_disable(otp: 123456) }",
            "mutation { users_me_tfa_disable(otp: null) }",
            "mutation { users_me_tfa_generate(password: 5) { secret } }",
            "mutation { users_me_tfa_recovery_codes(password: [\"x\"], otp: \"123456\") }",
        ] {
            let messages = invalid(run(serde_json::json!({ "query": document })).await);
            assert_eq!(messages.len(), 1, "{document}: {messages:?}");
        }
        // In variables: a number for a `String!` is refused before any resolver runs.
        let messages = invalid(
            run(serde_json::json!({
                "query": "mutation D($otp: String!) { users_me_tfa_disable(otp: $otp) }",
                "variables": {"otp": 123456}
            }))
            .await,
        );
        assert_eq!(messages.len(), 1, "{messages:?}");
        assert!(messages[0].contains("\"otp\""), "{messages:?}");
    }

    #[tokio::test]
    async fn the_two_factor_mutations_run_once_per_request() {
        let (_, body) = answer(
            serde_json::json!({"query": "mutation { a: users_me_tfa_disable(otp: \"1\") b: users_me_tfa_disable(otp: \"2\") }"}),
            Some(claims()),
        )
        .await;
        assert_eq!(
            body["errors"][0]["extensions"]["errors"][0]["message"],
            "\"users_me_tfa_disable\" can only be used once per request",
            "{body}"
        );
    }

    #[test]
    fn schemas_are_kept_per_shape() {
        let schemas = SystemSchemas::new(Limits::default());
        let shape = Shape::of(&Accountability::default());
        let first = schemas.schema(&shape).unwrap();
        let again = schemas.schema(&shape).unwrap();
        assert_eq!(first.sdl(), again.sdl());
        assert_eq!(schemas.built.lock().unwrap().len(), 1);
    }
}
