//! Users and their email claims. One table, two item kinds:
//! `pk = user#<id>` holds the user; `pk = email#<normalised email>` claims the address for one id.
//! Both are written in one conditional transaction, so DynamoDB itself keeps emails unique.

use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem};
use serde::{Deserialize, Serialize};

use super::{Store, StoreError, conditional_write, now_millis, transaction_outcome};
use crate::domain::model::{User, UserStatus};
use crate::domain::sensitive::Sensitive;

/// What a caller supplies to create a user; the store adds id and timestamps.
#[derive(Debug, Clone)]
pub struct NewUser {
    pub email: String,
    pub password_hash: Sensitive,
    pub status: UserStatus,
    pub role: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    /// Policies attached to the user directly (access links in the config table), written in
    /// the same transaction.
    pub policies: Vec<String>,
}

/// Ends the user's tokens and sessions from the moment of the write on (the cut-off,
/// [`CutOff`]), except the session `keep`.
#[derive(Debug, Clone, PartialEq)]
pub struct Revocation {
    pub keep: Option<String>,
}

/// A later registration of an address whose account is still unverified: recorded on the
/// account (it expires with it) instead of replacing its password, so each mailed link
/// activates the registration it was mailed for, with that registration's password and names.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PendingRegistration {
    /// Random; the `jti` of the link mailed for it.
    pub id: String,
    pub password: Sensitive,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
}

/// The most later registrations an unverified account records; more are not recorded (and not
/// mailed), whatever their answer says.
pub const MAX_PENDING_REGISTRATIONS: usize = 5;

/// A change of a user's own policy links, written in the transaction of the user's update.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PolicyLinks {
    pub unlink: Vec<String>,
    pub link: Vec<String>,
}

impl PolicyLinks {
    /// What turns the links `current` into `wanted`: each policy once, nothing left unchanged
    /// touched (DynamoDB refuses a transaction that names one item twice).
    pub fn between(current: &[String], wanted: &[String]) -> Self {
        let mut links = Self::default();
        for policy in current {
            if !wanted.contains(policy) && !links.unlink.contains(policy) {
                links.unlink.push(policy.clone());
            }
        }
        for policy in wanted {
            if !current.contains(policy) && !links.link.contains(policy) {
                links.link.push(policy.clone());
            }
        }
        links
    }

    pub fn is_empty(&self) -> bool {
        self.unlink.is_empty() && self.link.is_empty()
    }
}

/// Tries of a registration cancelled by a transaction conflict, after the first.
pub(super) const CONFLICT_RETRIES: u32 = 3;

/// DynamoDB transactions hold at most 100 items; two are the user and the email claim.
pub const MAX_USER_POLICIES: usize = 20;

/// The most items one DynamoDB transaction may hold.
const MAX_TRANSACTION_ITEMS: usize = 100;

#[derive(Serialize, Deserialize)]
pub(super) struct UserItem {
    pub(super) pk: String,
    /// `"user"` on every user item: the key of the directory index (see `schema`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) directory: Option<String>,
    /// Epoch seconds (the table's TTL attribute): an account still `unverified` then is gone.
    /// Reads treat it as gone at once; DynamoDB deletes it within days (a local DynamoDB never).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) expires_at: Option<i64>,
    /// Later registrations of the unverified account's address, oldest first (appended only;
    /// removed all at once when the account leaves `unverified`).
    #[serde(
        default,
        rename = "pending_registrations",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub(super) pending: Vec<PendingRegistration>,
    #[serde(flatten)]
    pub(super) user: User,
}

/// The one expiry rule of accounts: an account still `unverified` at its `expires_at` (epoch
/// seconds, the table's TTL attribute) is gone, whether or not DynamoDB has deleted it yet.
fn expired(status: UserStatus, expires_at: Option<i64>, now_secs: i64) -> bool {
    status == UserStatus::Unverified && expires_at.is_some_and(|at| at <= now_secs)
}

/// The attribute of [`UserItem::pending`].
pub(super) const PENDING_ATTRIBUTE: &str = "pending_registrations";

impl UserItem {
    /// The user and the later registrations it records, unless it is an unverified account
    /// past its expiry.
    pub(super) fn live(self, now_secs: i64) -> Option<(User, Vec<PendingRegistration>)> {
        (!expired(self.user.status, self.expires_at, now_secs)).then_some((self.user, self.pending))
    }
}

/// The value of the directory index's partition key on every user item.
const DIRECTORY_PARTITION: &str = "user";

/// A user as the directory index holds it: no password hash, no revocation stamps.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DirectoryUser {
    pub id: String,
    pub email: String,
    pub status: UserStatus,
    #[serde(default)]
    pub role: Option<String>,
    #[serde(default)]
    pub first_name: Option<String>,
    #[serde(default)]
    pub last_name: Option<String>,
}

impl From<&User> for DirectoryUser {
    fn from(user: &User) -> Self {
        Self {
            id: user.id.clone(),
            email: user.email.clone(),
            status: user.status,
            role: user.role.clone(),
            first_name: user.first_name.clone(),
            last_name: user.last_name.clone(),
        }
    }
}

/// A user item as the directory index holds it: the user's directory fields and its expiry
/// (projected so that the directory leaves out expired accounts as [`Store::get_user`] does).
#[derive(Deserialize)]
struct DirectoryItem {
    #[serde(default)]
    expires_at: Option<i64>,
    #[serde(flatten)]
    user: DirectoryUser,
}

impl DirectoryItem {
    fn live(self, now_secs: i64) -> Option<DirectoryUser> {
        (!expired(self.user.status, self.expires_at, now_secs)).then_some(self.user)
    }
}

/// One page of the directory and where the next one starts.
#[derive(Debug, Default)]
pub struct DirectoryPage {
    pub users: Vec<DirectoryUser>,
    /// Items the page read but left out (accounts past their expiry): a read's cost counts them.
    pub expired: usize,
    pub next: Option<super::PageCursor>,
}

/// A change to an existing user (`PATCH /users/{id}`, `PATCH /users/me`); `None` leaves a
/// field as it is, `Some(None)` clears it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UserChanges {
    pub email: Option<String>,
    /// A new hash, written in the same update.
    pub password_hash: Option<Sensitive>,
    pub status: Option<UserStatus>,
    pub role: Option<Option<String>>,
    pub first_name: Option<Option<String>>,
    pub last_name: Option<Option<String>>,
    /// Stamps the revocation cut-off (and the kept session) in the same update.
    pub revocation: Option<Revocation>,
    /// The user's own policy links to change, in the same transaction.
    pub policies: Option<PolicyLinks>,
    /// Write only if the user item is exactly as read (its `updated_at`): a revocation or any
    /// other change landing between the read and this write makes it `Stale`, so a write
    /// decided on the strength of a token cannot undo a revocation that ended that token.
    pub unchanged_since: Option<i64>,
}

impl UserChanges {
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

#[derive(Serialize, Deserialize)]
pub(super) struct EmailClaimItem {
    pub(super) pk: String,
    pub(super) user_id: String,
    /// As the unverified user's: an expired claim no longer holds the address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) expires_at: Option<i64>,
}

/// Emails compare case-insensitively, as in Directus (`LOWER(email)`).
pub fn email_key(email: &str) -> String {
    email.trim().to_lowercase()
}

/// Read in place of a user for unknown addresses; no user ever has it.
const ABSENT_USER_ID: &str = "absent";

pub(super) fn user_pk(id: &str) -> String {
    format!("user#{id}")
}

pub(super) fn email_pk(email: &str) -> String {
    format!("email#{}", email_key(email))
}

impl Store {
    /// Creates the user and claims the email in one transaction; `AlreadyExists` if the email is
    /// taken. Nothing is written in that case. A transaction cancelled for a conflict (another
    /// registration of the address at the same moment, on AWS) is tried again, so the race ends
    /// in the normal answer: one user, and `AlreadyExists` for the others.
    pub async fn create_user(&self, new: NewUser) -> Result<User, StoreError> {
        self.create_user_expiring(new, None).await
    }

    /// [`Store::create_user`], for an account that is gone at `expires_at` (epoch seconds)
    /// unless verified before: the user and its email claim carry the table's TTL attribute,
    /// and an expired claim does not keep the address from being registered again.
    pub async fn create_user_expiring(
        &self,
        new: NewUser,
        expires_at: Option<i64>,
    ) -> Result<User, StoreError> {
        let mut conflicts = 0;
        loop {
            match self.try_create_user(&new, expires_at).await {
                Err(StoreError::Conflict) if conflicts < CONFLICT_RETRIES => {
                    conflicts += 1;
                    tokio::time::sleep(super::jittered_backoff(conflicts)).await;
                }
                Err(StoreError::Conflict) => {
                    return Err(StoreError::Unavailable(
                        "the registration kept conflicting with another transaction".into(),
                    ));
                }
                other => return other,
            }
        }
    }

    async fn try_create_user(
        &self,
        new: &NewUser,
        expires_at: Option<i64>,
    ) -> Result<User, StoreError> {
        let new = new.clone();
        let now = now_millis();
        let user = User {
            id: uuid::Uuid::new_v4().to_string(),
            email: new.email.trim().to_owned(),
            password: Some(new.password_hash),
            status: new.status,
            role: new.role,
            first_name: new.first_name,
            last_name: new.last_name,
            created_at: now,
            updated_at: now,
            tokens_valid_after: None,
            sessions_valid_after: None,
            kept_session: None,
            two_factor: None,
            pending_two_factor: None,
        };
        let user_item = serde_dynamo::to_item(UserItem {
            pk: user_pk(&user.id),
            directory: Some(DIRECTORY_PARTITION.to_owned()),
            expires_at,
            pending: Vec::new(),
            user: user.clone(),
        })?;
        let claim_item = serde_dynamo::to_item(EmailClaimItem {
            pk: email_pk(&user.email),
            user_id: user.id.clone(),
            expires_at,
        })?;
        // An unverified account's claim past its expiry is free (DynamoDB may not have
        // deleted it yet; a local DynamoDB never does).
        let put = |item| {
            Put::builder()
                .table_name(&self.tables.users)
                .set_item(Some(item))
                .condition_expression("attribute_not_exists(pk) OR expires_at <= :now")
                .expression_attribute_values(":now", AttributeValue::N((now / 1000).to_string()))
                .build()
                .map(|put| TransactWriteItem::builder().put(put).build())
        };
        let mut request = self
            .client
            .transact_write_items()
            .transact_items(put(user_item).map_err(|e| StoreError::Malformed(e.to_string()))?)
            .transact_items(put(claim_item).map_err(|e| StoreError::Malformed(e.to_string()))?);
        // DynamoDB refuses a transaction that touches one item twice: each link once.
        let mut policies: Vec<&String> = Vec::new();
        for policy in &new.policies {
            if !policies.contains(&policy) {
                policies.push(policy);
            }
        }
        for policy in policies.into_iter().take(MAX_USER_POLICIES) {
            let link =
                super::access::access_link_item(super::access::user_access_pk(&user.id), policy)?;
            let put = Put::builder()
                .table_name(&self.tables.config)
                .set_item(Some(link))
                .build()
                .map_err(|e| StoreError::Malformed(e.to_string()))?;
            request = request.transact_items(TransactWriteItem::builder().put(put).build());
        }
        // Member 1 is the email claim.
        transaction_outcome(request.send().await, |failed| {
            (failed == 1).then_some(StoreError::AlreadyExists)
        })?;
        Ok(user)
    }

    pub async fn get_user(&self, id: &str) -> Result<Option<User>, StoreError> {
        Ok(self
            .get_user_with_registrations(id)
            .await?
            .map(|(user, _)| user))
    }

    /// The user and the later registrations of its address it records (unverified accounts
    /// only have any), in one strongly consistent read.
    pub async fn get_user_with_registrations(
        &self,
        id: &str,
    ) -> Result<Option<(User, Vec<PendingRegistration>)>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.tables.users)
            .key("pk", AttributeValue::S(user_pk(id)))
            .consistent_read(true)
            .send()
            .await?;
        match output.item {
            Some(item) => {
                Ok(serde_dynamo::from_item::<_, UserItem>(item)?.live(now_millis() / 1000))
            }
            None => Ok(None),
        }
    }

    /// Ends the user's sessions and access tokens from this moment on ([`CutOff`]): every
    /// session created and every access token issued before it is refused from now on.
    pub async fn invalidate_tokens(&self, user_id: &str) -> Result<(), StoreError> {
        let ms = now_millis();
        self.client
            .update_item()
            .table_name(&self.tables.users)
            .key("pk", AttributeValue::S(user_pk(user_id)))
            .update_expression(
                "SET sessions_valid_after = :ms, updated_at = :ms REMOVE kept_session",
            )
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_values(":ms", AttributeValue::N(ms.to_string()))
            .send()
            .await?;
        Ok(())
    }

    /// The id of the user whose claim holds `email` now (an unverified account's claim past its
    /// expiry holds nothing), if any. One strongly consistent read.
    pub async fn email_holder(&self, email: &str) -> Result<Option<String>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.tables.users)
            .key("pk", AttributeValue::S(email_pk(email)))
            .consistent_read(true)
            .send()
            .await?;
        let Some(item) = output.item else {
            return Ok(None);
        };
        let claim: EmailClaimItem = serde_dynamo::from_item(item)?;
        let now_secs = now_millis() / 1000;
        Ok(claim
            .expires_at
            .is_none_or(|at| at > now_secs)
            .then_some(claim.user_id))
    }

    /// Deletes the user and its email claim together, only while the user still has the email
    /// it was read with and the claim is still theirs (`Stale` otherwise): a concurrent email
    /// change can neither orphan the new claim nor delete another user's.
    pub async fn delete_user(&self, user: &User) -> Result<(), StoreError> {
        use aws_sdk_dynamodb::types::Delete;
        let delete = |pk: String, condition: &str, name: &str, value: &str| {
            Delete::builder()
                .table_name(&self.tables.users)
                .key("pk", AttributeValue::S(pk))
                .condition_expression(condition)
                .expression_attribute_names("#field", name)
                .expression_attribute_values(":value", AttributeValue::S(value.to_owned()))
                .build()
                .map(|d| TransactWriteItem::builder().delete(d).build())
                .map_err(|e| StoreError::Malformed(e.to_string()))
        };
        let result = self
            .client
            .transact_write_items()
            .transact_items(delete(
                user_pk(&user.id),
                "#field = :value",
                "email",
                &user.email,
            )?)
            .transact_items(delete(
                email_pk(&user.email),
                "#field = :value",
                "user_id",
                &user.id,
            )?)
            .send()
            .await;
        transaction_outcome(result, |_| Some(StoreError::Stale))?;
        Ok(())
    }

    pub async fn set_user_status(
        &self,
        user_id: &str,
        status: UserStatus,
    ) -> Result<(), StoreError> {
        let status = serde_dynamo::to_attribute_value(status)?;
        self.client
            .update_item()
            .table_name(&self.tables.users)
            .key("pk", AttributeValue::S(user_pk(user_id)))
            .update_expression("SET #status = :status, updated_at = :now")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":status", status)
            .expression_attribute_values(":now", AttributeValue::N(now_millis().to_string()))
            .send()
            .await?;
        Ok(())
    }

    /// Replaces the password hash if it is still `old` (a rehash with new parameters).
    pub async fn update_password_hash(
        &self,
        user_id: &str,
        old: &Sensitive,
        new: &Sensitive,
    ) -> Result<(), StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.tables.users)
            .key("pk", AttributeValue::S(user_pk(user_id)))
            .update_expression("SET password = :new, updated_at = :now")
            .condition_expression("password = :old")
            .expression_attribute_values(":new", AttributeValue::S(new.expose().to_owned()))
            .expression_attribute_values(":old", AttributeValue::S(old.expose().to_owned()))
            .expression_attribute_values(":now", AttributeValue::N(now_millis().to_string()))
            .send()
            .await;
        conditional_write(result, StoreError::Stale)
    }

    /// Up to `limit` users in `id` order (reversed unless `forward`) after `start`, from the
    /// directory index: one Query, no Scan, no password hashes. Accounts past their expiry are
    /// left out (counted in `expired`), as everywhere.
    pub async fn query_user_directory(
        &self,
        start: Option<super::PageCursor>,
        limit: i32,
        forward: bool,
    ) -> Result<DirectoryPage, StoreError> {
        let output = self
            .client
            .query()
            .table_name(&self.tables.users)
            .index_name(super::schema::USER_DIRECTORY_INDEX)
            .key_condition_expression("#d = :d")
            .expression_attribute_names("#d", super::schema::USER_DIRECTORY_ATTRIBUTE)
            .expression_attribute_values(":d", AttributeValue::S(DIRECTORY_PARTITION.to_owned()))
            .set_exclusive_start_key(super::PageCursor::start_key(start))
            .limit(limit)
            .scan_index_forward(forward)
            .send()
            .await?;
        let now_secs = now_millis() / 1000;
        let items = output.items.unwrap_or_default();
        let read = items.len();
        let mut users = Vec::with_capacity(read);
        for item in items {
            if let Some(user) = serde_dynamo::from_item::<_, DirectoryItem>(item)?.live(now_secs) {
                users.push(user);
            }
        }
        Ok(DirectoryPage {
            expired: read - users.len(),
            users,
            next: super::PageCursor::after(output.last_evaluated_key),
        })
    }

    /// Applies `changes` to `user` (as read just before) in one transaction: the user item,
    /// conditional on its email being still `user`'s (so two changes cannot both move the
    /// claim), and, when the address changes, the new email claim (`AlreadyExists` if taken;
    /// nothing written then) and the old claim's deletion. `Stale` if the user vanished or
    /// changed email meanwhile. A revocation in the changes stamps the cut-off and records the
    /// kept session in the same write; policy links to change are deleted and written in the
    /// same transaction. Also marks the item for the directory index (users written by earlier
    /// versions lack it).
    pub async fn update_user(&self, user: &User, changes: &UserChanges) -> Result<(), StoreError> {
        use aws_sdk_dynamodb::types::{Delete, Update};
        let now = now_millis();
        let mut sets = vec![
            "updated_at = :now".to_owned(),
            "#directory = :directory".to_owned(),
        ];
        let mut removes: Vec<String> = Vec::new();
        let mut names = std::collections::HashMap::from([(
            "#directory".to_owned(),
            super::schema::USER_DIRECTORY_ATTRIBUTE.to_owned(),
        )]);
        let mut values = std::collections::HashMap::from([
            (":now".to_owned(), AttributeValue::N(now.to_string())),
            (
                ":directory".to_owned(),
                AttributeValue::S(DIRECTORY_PARTITION.to_owned()),
            ),
            (
                ":old_email".to_owned(),
                AttributeValue::S(user.email.clone()),
            ),
        ]);
        let mut set = |name: &str, value: Option<AttributeValue>| {
            names.insert(format!("#{name}"), name.to_owned());
            match value {
                Some(value) => {
                    sets.push(format!("#{name} = :{name}"));
                    values.insert(format!(":{name}"), value);
                }
                None => removes.push(format!("#{name}")),
            }
        };
        let new_email = changes.email.as_deref().map(str::trim);
        if let Some(email) = new_email {
            set("email", Some(AttributeValue::S(email.to_owned())));
        }
        if let Some(hash) = &changes.password_hash {
            set(
                "password",
                Some(AttributeValue::S(hash.expose().to_owned())),
            );
        }
        if let Some(status) = changes.status {
            set("status", Some(serde_dynamo::to_attribute_value(status)?));
        }
        // An account leaving `unverified` is permanent: the TTL attribute goes from the user
        // (whatever it was read as, in case it changed meanwhile) and, when it was read as
        // unverified, from its email claim (below), as a verification does.
        let permanent = changes
            .status
            .is_some_and(|status| status != UserStatus::Unverified);
        if permanent {
            set("expires_at", None);
        }
        // Later registrations of an unverified account's address are void once it leaves
        // `unverified` or an administrator sets its password: no link may then activate
        // another password.
        if permanent || changes.password_hash.is_some() {
            set(PENDING_ATTRIBUTE, None);
        }
        let leaves_unverified = permanent && user.status == UserStatus::Unverified;
        if let Some(role) = &changes.role {
            set("role", Some(serde_dynamo::to_attribute_value(role)?));
        }
        if let Some(first_name) = &changes.first_name {
            set(
                "first_name",
                Some(serde_dynamo::to_attribute_value(first_name)?),
            );
        }
        if let Some(last_name) = &changes.last_name {
            set(
                "last_name",
                Some(serde_dynamo::to_attribute_value(last_name)?),
            );
        }
        if let Some(revocation) = &changes.revocation {
            set(
                "sessions_valid_after",
                Some(AttributeValue::N(now.to_string())),
            );
            set(
                "kept_session",
                revocation.keep.clone().map(AttributeValue::S),
            );
        }
        names.insert("#current_email".to_owned(), "email".to_owned());
        if let Some(read_at) = changes.unchanged_since {
            values.insert(
                ":read_at".to_owned(),
                AttributeValue::N(read_at.to_string()),
            );
        }
        let mut expression = format!("SET {}", sets.join(", "));
        if !removes.is_empty() {
            expression.push_str(&format!(" REMOVE {}", removes.join(", ")));
        }
        let update = Update::builder()
            .table_name(&self.tables.users)
            .key("pk", AttributeValue::S(user_pk(&user.id)))
            .update_expression(expression)
            .condition_expression(if changes.unchanged_since.is_some() {
                "attribute_exists(pk) AND #current_email = :old_email AND updated_at = :read_at"
            } else {
                "attribute_exists(pk) AND #current_email = :old_email"
            })
            .set_expression_attribute_names(Some(names))
            .set_expression_attribute_values(Some(values))
            .build()
            .map_err(|e| StoreError::Malformed(e.to_string()))?;
        let moves_claim = new_email.is_some_and(|email| email_key(email) != email_key(&user.email));
        let mut request = self
            .client
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().update(update).build());
        if let (true, Some(email)) = (moves_claim, new_email) {
            let claim = serde_dynamo::to_item(EmailClaimItem {
                pk: email_pk(email),
                user_id: user.id.clone(),
                expires_at: None,
            })?;
            let put = Put::builder()
                .table_name(&self.tables.users)
                .set_item(Some(claim))
                .condition_expression("attribute_not_exists(pk) OR expires_at <= :now")
                .expression_attribute_values(":now", AttributeValue::N((now / 1000).to_string()))
                .build()
                .map_err(|e| StoreError::Malformed(e.to_string()))?;
            // Only this user's claim: never one another user has taken since.
            let delete = Delete::builder()
                .table_name(&self.tables.users)
                .key("pk", AttributeValue::S(email_pk(&user.email)))
                .condition_expression("user_id = :id")
                .expression_attribute_values(":id", AttributeValue::S(user.id.clone()))
                .build()
                .map_err(|e| StoreError::Malformed(e.to_string()))?;
            request = request
                .transact_items(TransactWriteItem::builder().put(put).build())
                .transact_items(TransactWriteItem::builder().delete(delete).build());
        } else if leaves_unverified {
            // The claim stays where it is: it becomes permanent with the user (the new claim
            // of a moved address is written without the TTL attribute already).
            let claim = Update::builder()
                .table_name(&self.tables.users)
                .key("pk", AttributeValue::S(email_pk(&user.email)))
                .update_expression("REMOVE expires_at")
                .condition_expression("user_id = :id")
                .expression_attribute_values(":id", AttributeValue::S(user.id.clone()))
                .build()
                .map_err(|e| StoreError::Malformed(e.to_string()))?;
            request = request.transact_items(TransactWriteItem::builder().update(claim).build());
        }
        // The policy links last: they carry no condition, so they never name the failure.
        let links = changes.policies.clone().unwrap_or_default();
        if 3 + links.unlink.len() + links.link.len() > MAX_TRANSACTION_ITEMS {
            return Err(StoreError::Malformed(
                "too many policy links to change in one transaction".into(),
            ));
        }
        for policy in &links.unlink {
            let delete = Delete::builder()
                .table_name(&self.tables.config)
                .key(
                    "pk",
                    AttributeValue::S(super::access::user_access_pk(&user.id)),
                )
                .key("sk", AttributeValue::S(format!("access#{policy}")))
                .build()
                .map_err(|e| StoreError::Malformed(e.to_string()))?;
            request = request.transact_items(TransactWriteItem::builder().delete(delete).build());
        }
        for policy in &links.link {
            let link =
                super::access::access_link_item(super::access::user_access_pk(&user.id), policy)?;
            let put = Put::builder()
                .table_name(&self.tables.config)
                .set_item(Some(link))
                .build()
                .map_err(|e| StoreError::Malformed(e.to_string()))?;
            request = request.transact_items(TransactWriteItem::builder().put(put).build());
        }
        // Members: 0 the user (changed or gone: Stale), then either 1 the new claim (taken)
        // and 2 the old claim (no longer this user's: Stale), or 1 the kept claim made
        // permanent (no longer this user's: Stale); then the policy links.
        transaction_outcome(request.send().await, |failed| match failed {
            1 if moves_claim => Some(StoreError::AlreadyExists),
            _ => Some(StoreError::Stale),
        })?;
        Ok(())
    }

    /// Marks every user item written before the directory index existed (no `directory`
    /// attribute), so the directory lists it. An operator's one-off migration: it Scans the
    /// table (no request path does). Returns how many items it marked.
    pub async fn backfill_user_directory(&self) -> Result<usize, StoreError> {
        let mut marked = 0;
        let mut start = None;
        loop {
            let page = self
                .client
                .scan()
                .table_name(&self.tables.users)
                .filter_expression("begins_with(pk, :user) AND attribute_not_exists(#d)")
                .expression_attribute_names("#d", super::schema::USER_DIRECTORY_ATTRIBUTE)
                .expression_attribute_values(":user", AttributeValue::S("user#".into()))
                .projection_expression("pk")
                .set_exclusive_start_key(start)
                .send()
                .await?;
            for item in page.items.unwrap_or_default() {
                let Some(pk) = item.get("pk").cloned() else {
                    continue;
                };
                let result = self
                    .client
                    .update_item()
                    .table_name(&self.tables.users)
                    .key("pk", pk)
                    .update_expression("SET #d = :d")
                    .condition_expression("attribute_exists(pk)")
                    .expression_attribute_names("#d", super::schema::USER_DIRECTORY_ATTRIBUTE)
                    .expression_attribute_values(
                        ":d",
                        AttributeValue::S(DIRECTORY_PARTITION.to_owned()),
                    )
                    .send()
                    .await;
                match conditional_write(result, StoreError::Stale) {
                    Ok(()) => marked += 1,
                    // Deleted meanwhile.
                    Err(StoreError::Stale) => {}
                    Err(other) => return Err(other),
                }
            }
            match page.last_evaluated_key {
                Some(key) if !key.is_empty() => start = Some(key),
                _ => return Ok(marked),
            }
        }
    }

    /// Finds a user by email, case-insensitively. Known and unknown addresses cost the same two
    /// strongly consistent reads (an unknown one reads a user id that never exists), so the time
    /// a login takes does not tell whether the address is registered.
    pub async fn find_user_by_email(&self, email: &str) -> Result<Option<User>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.tables.users)
            .key("pk", AttributeValue::S(email_pk(email)))
            .consistent_read(true)
            .send()
            .await?;
        let Some(item) = output.item else {
            // Never a user id (ids are UUIDs): the read finds nothing, at the same cost.
            self.get_user(ABSENT_USER_ID).await?;
            return Ok(None);
        };
        let claim: EmailClaimItem = serde_dynamo::from_item(item)?;
        self.get_user(&claim.user_id).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_links_change_only_what_differs_each_once() {
        let ids = |list: &[&str]| list.iter().map(|p| (*p).to_owned()).collect::<Vec<_>>();
        let links = PolicyLinks::between(&ids(&["a", "b", "b"]), &ids(&["b", "c", "c"]));
        assert_eq!(links.unlink, ids(&["a"]));
        assert_eq!(links.link, ids(&["c"]));
        assert!(PolicyLinks::between(&ids(&["a"]), &ids(&["a"])).is_empty());
        let cleared = PolicyLinks::between(&ids(&["a", "b"]), &[]);
        assert_eq!(cleared.unlink, ids(&["a", "b"]));
        assert!(cleared.link.is_empty());
    }

    #[test]
    fn email_keys_ignore_case_and_surrounding_space() {
        assert_eq!(email_key("  Hello@Example.COM "), "hello@example.com");
        assert_eq!(email_pk("A@B.co"), "email#a@b.co");
    }

    #[test]
    fn directory_items_of_unverified_accounts_past_their_expiry_are_gone() {
        let item = |status: &str, expires_at: Option<i64>| {
            let mut item: std::collections::HashMap<String, AttributeValue> = [
                ("pk", AttributeValue::S("user#u1".into())),
                ("directory", AttributeValue::S("user".into())),
                ("id", AttributeValue::S("u1".into())),
                ("email", AttributeValue::S("a@example.com".into())),
                ("status", AttributeValue::S(status.into())),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect();
            if let Some(at) = expires_at {
                item.insert("expires_at".into(), AttributeValue::N(at.to_string()));
            }
            serde_dynamo::from_item::<_, DirectoryItem>(item).unwrap()
        };
        let now = 1_000;
        assert!(item("unverified", Some(now)).live(now).is_none());
        assert!(item("unverified", Some(now - 1)).live(now).is_none());
        assert!(item("unverified", Some(now + 1)).live(now).is_some());
        assert!(item("unverified", None).live(now).is_some());
        // Only an account still unverified expires (verification removes the attribute, but a
        // stale one on an active account never hides it).
        assert!(item("active", Some(now - 1)).live(now).is_some());
        let user = item("active", None).live(now).unwrap();
        assert_eq!(user.email, "a@example.com");
    }

    #[test]
    fn user_items_round_trip_through_dynamodb_attributes() {
        let user = User {
            id: "u1".into(),
            email: "Hello@example.com".into(),
            password: Some(Sensitive::new(
                "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA",
            )),
            status: UserStatus::Active,
            role: None,
            first_name: Some("Ada".into()),
            last_name: None,
            created_at: 1,
            updated_at: 2,
            tokens_valid_after: None,
            sessions_valid_after: None,
            kept_session: None,
            two_factor: None,
            pending_two_factor: None,
        };
        let item: std::collections::HashMap<String, AttributeValue> =
            serde_dynamo::to_item(UserItem {
                pk: user_pk(&user.id),
                directory: Some(DIRECTORY_PARTITION.to_owned()),
                expires_at: None,
                pending: Vec::new(),
                user: user.clone(),
            })
            .unwrap();
        assert_eq!(item["directory"], AttributeValue::S("user".into()));
        assert_eq!(item["status"], AttributeValue::S("active".into()));
        let back: UserItem = serde_dynamo::from_item(item).unwrap();
        assert_eq!(back.user, user);
    }
}
