//! The model every layer shares: users, sessions, the access configuration and the settings.
//! Their serde shapes are the stored format: change them only with the data.

mod access;
mod settings;
mod user;

pub use access::{Collection, FieldDef, FieldSchema, Permission, Policy, Role};
pub use settings::{RateLimit, RateLimits, Settings, TemplateOverride, TemplateOverrides};
pub use user::{CutOff, PendingTwoFactor, Session, TwoFactor, User, UserStatus};
