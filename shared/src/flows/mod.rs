//! Transport-independent flows: typed input -> typed output or [`crate::ApiError`]. REST
//! handlers (and GraphQL resolvers) parse their transport's input into these types and render
//! the result; the rules live here.

pub mod access;
pub mod caller;
pub mod directory;
#[cfg(test)]
mod fake;
pub mod items;
pub mod limits;
pub mod password_reset;
pub mod ports;
pub mod provision;
pub mod registration;
pub mod second_factor;
pub mod server;
pub mod session;
pub mod time;
pub mod two_factor;
pub mod user_rows;
pub mod users;
pub mod verification;

/// The moment a flow that may send mail answers: `EMAIL_SEND_TIMEOUT` after it began, whatever
/// it found, so its timing does not tell whether a message went out (or to whom). Everything
/// the flow does because of the address it was given runs inside [`AnswerAt::after_work`].
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

    /// Does `work` (what the flow does for the address it was given: look-ups, writes, the
    /// mail) and waits until the answer is due. Work still running then is given up and logged
    /// as `what`'s: however long the store or the mail server takes for one address, the answer
    /// comes at its moment, as for every other address.
    pub async fn after_work(self, what: &'static str, work: impl std::future::Future<Output = ()>) {
        if tokio::time::timeout_at(self.0, work).await.is_err() {
            tracing::error!(flow = what, "unfinished when the answer was due: given up");
        }
        self.wait().await;
    }
}

/// The project name mail is sent as (settings `project_name`, else Directus').
pub(crate) fn project_name(settings: &crate::domain::model::Settings) -> &str {
    settings
        .project_name
        .as_deref()
        .filter(|n| !n.trim().is_empty())
        .unwrap_or("Directus")
}

/// Renders `kind` for `user` with the link `url` and sends it, giving up at `answer`'s deadline.
/// Never fails: a problem is logged with the mail's purpose (never the message or the link).
pub(crate) async fn send_link_mail(
    state: &crate::platform::state::AppState,
    settings: &crate::domain::model::Settings,
    kind: crate::email::templates::Kind,
    user: &crate::domain::model::User,
    url: &str,
    expires_in: String,
    answer: AnswerAt,
) {
    send_mail(
        state,
        settings,
        kind,
        user,
        url,
        expires_in,
        answer.deadline(),
    )
    .await;
}

/// Renders the notice `kind` (a mail without a link) for `user` and sends it, giving up at
/// `deadline`. Never fails, as [`send_link_mail`].
pub(crate) async fn send_notice_mail(
    state: &crate::platform::state::AppState,
    settings: &crate::domain::model::Settings,
    kind: crate::email::templates::Kind,
    user: &crate::domain::model::User,
    deadline: tokio::time::Instant,
) {
    send_mail(state, settings, kind, user, "", String::new(), deadline).await;
}

async fn send_mail(
    state: &crate::platform::state::AppState,
    settings: &crate::domain::model::Settings,
    kind: crate::email::templates::Kind,
    user: &crate::domain::model::User,
    url: &str,
    expires_in: String,
    deadline: tokio::time::Instant,
) {
    use crate::email::{Message, templates};
    let what = match kind {
        templates::Kind::PasswordReset => "password reset",
        templates::Kind::UserRegistration => "email verification",
        templates::Kind::TwoFactorEnabled => "two-factor enabled notice",
        templates::Kind::TwoFactorDisabled => "two-factor disabled notice",
        templates::Kind::RecoveryCodesReplaced => "recovery codes notice",
    };
    let rendered = templates::render(
        kind,
        &templates::Data {
            url,
            email: &user.email,
            project_name: project_name(settings),
            expires_in,
            first_name: user.first_name.as_deref(),
            last_name: user.last_name.as_deref(),
        },
        settings.email_templates.as_ref(),
    );
    let message = Message {
        to: user.email.clone(),
        subject: rendered.subject,
        text: rendered.text,
        html: rendered.html,
    };
    state
        .mailer
        .send_within(message, project_name(settings), deadline, what)
        .await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// Real time (the paused clock needs a tokio feature the functions do not build with):
    /// bounds generous enough for a loaded machine, far apart enough to tell the cases apart.
    #[tokio::test]
    async fn the_answer_comes_at_its_moment_however_long_the_work() {
        let timeout = Duration::from_millis(300);
        for (work, finishes) in [
            (Duration::ZERO, true),
            (Duration::from_millis(50), true),
            (Duration::from_secs(30), false),
        ] {
            let began = tokio::time::Instant::now();
            let answer = AnswerAt::after(timeout);
            let mut finished = false;
            answer
                .after_work("test", async {
                    tokio::time::sleep(work).await;
                    finished = true;
                })
                .await;
            let elapsed = began.elapsed();
            assert!(elapsed >= timeout, "{work:?}: answered after {elapsed:?}");
            assert!(
                elapsed < timeout + Duration::from_secs(5),
                "{work:?}: answered after {elapsed:?}"
            );
            assert_eq!(finished, finishes, "{work:?}");
        }
    }
}
