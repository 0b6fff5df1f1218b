//! Transport-independent flows: typed input -> typed output or [`crate::ApiError`]. REST
//! handlers (and GraphQL resolvers) parse their transport's input into these types and render
//! the result; the rules live here.

pub mod link_token;
pub mod password_reset;
pub mod verification;

/// The moment a flow that may send mail answers: `EMAIL_SEND_TIMEOUT` after it began, whatever
/// it found, so its timing does not tell whether a message went out (or to whom).
#[derive(Debug, Clone, Copy)]
pub struct AnswerAt(tokio::time::Instant);

impl AnswerAt {
    pub fn after(timeout: std::time::Duration) -> Self {
        Self(tokio::time::Instant::now() + timeout)
    }

    pub fn deadline(self) -> tokio::time::Instant {
        self.0
    }

    /// Waits until the answer is due.
    pub async fn wait(self) {
        tokio::time::sleep_until(self.0).await;
    }
}

/// The project name mail is sent as (settings `project_name`, else Directus').
pub(crate) fn project_name(settings: &crate::store::Settings) -> &str {
    settings
        .project_name
        .as_deref()
        .filter(|n| !n.trim().is_empty())
        .unwrap_or("Directus")
}
