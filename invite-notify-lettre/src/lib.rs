//! # invite-notify-lettre
//!
//! An SMTP email [`Notifier`] for invite-rs (rule D5), on [lettre] with its tokio transport
//! and rustls. Each invitation is one message with a plain-text and an HTML body naming
//! the enterprise, the inviter, the role, the expiry and the link; the sender, the subject
//! and both bodies are templates the host may replace.
//!
//! ```no_run
//! use std::sync::Arc;
//! use invite_core::{Invitations, OutboxKey};
//! use invite_notify_lettre::SmtpNotifier;
//!
//! # async fn run(store: Arc<invite_store_sqlx::SqliteStore>, key: [u8; 32]) -> Result<(), Box<dyn std::error::Error>> {
//! let smtp = SmtpNotifier::builder("smtp://127.0.0.1:2525") // smtps://… or ?tls=required for STARTTLS
//!     .from("Acme Invitations <invites@acme.example>")
//!     .build()?;
//! let invitations = Invitations::builder(store)
//!     .base_url("https://app.acme.example")
//!     .notifier(Arc::new(smtp))
//!     .outbox(OutboxKey::from_bytes(key)) // rule D1: sent from the outbox, retried
//!     .build();
//! let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
//! if let Some(worker) = invitations.delivery_worker() {
//!     tokio::spawn(worker.run(async move { let _ = stopped.await; }));
//! }
//! # drop(stop); Ok(()) }
//! ```
//!
//! The URL is lettre's: `smtp://host:port` talks plain SMTP (for a local relay or tests),
//! `smtp://host:587?tls=required` upgrades with STARTTLS, `smtps://host:465` is TLS from
//! the first byte; `user:password@` before the host authenticates.
//!
//! Failures are told apart as lettre tells them (rule D1): an SMTP 5xx answer is
//! [`NotifyError::permanent`]; a 4xx answer, a refused or dropped connection, a timeout or
//! a TLS failure is [`NotifyError::transient`] and the outbox retries it. The error never
//! carries the link (rule D4): it keeps lettre's error as its `source()` only when that
//! does not quote the token.
//!
//! Each message's `Message-ID` is made from the delivery's idempotency key, so a retry
//! after a crash (delivery is at least once, rule D3) repeats the same id and receiving
//! systems can tell it is one message.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

use std::time::Duration;

use async_trait::async_trait;
use invite_core::{Contact, Delivery, Notifier, NotifyError, Role};
use lettre::message::{Mailbox, MultiPart};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

/// The subject unless the host sets another.
pub const DEFAULT_SUBJECT: &str = "{inviter} invites you to join {enterprise}";

/// The plain-text body unless the host sets another.
pub const DEFAULT_TEXT: &str = "Hello,

{inviter} invites you to join {enterprise} as {role}.

Open this link to accept or decline the invitation:

{link}

The link works once and expires on {expires_at}. If you did not expect this invitation,
you can ignore this message.
";

/// The HTML body unless the host sets another. Every value put into it is HTML-escaped.
pub const DEFAULT_HTML: &str = "<!doctype html>
<html><body style=\"font-family: sans-serif; line-height: 1.5\">
<p>Hello,</p>
<p><strong>{inviter}</strong> invites you to join <strong>{enterprise}</strong> as <strong>{role}</strong>.</p>
<p><a href=\"{link}\">Accept or decline the invitation</a></p>
<p>Or copy this link into your browser:<br><code>{link}</code></p>
<p>The link works once and expires on {expires_at}. If you did not expect this invitation, you can ignore this message.</p>
</body></html>
";

/// Building the notifier or sending one message failed. Its `Display` and its `source()`
/// never hold the link (rule D4).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SmtpError {
    /// The SMTP URL could not be read.
    #[error("invalid SMTP URL")]
    Url(#[source] lettre::transport::smtp::Error),
    /// The sender is not a mailbox (`Name <address>` or `address`).
    #[error("invalid sender address")]
    From(#[source] lettre::address::AddressError),
    /// No sender was set.
    #[error("no sender address: call SmtpNotifierBuilder::from")]
    NoFrom,
    /// The invitation is addressed to a phone number: SMS is another notifier's job.
    #[error("the contact is a phone number, not an email address")]
    NotAnEmail,
    /// The invited address is one lettre cannot write into a message.
    #[error("the invited address cannot be used as a recipient")]
    Recipient(#[source] lettre::address::AddressError),
    /// The message could not be assembled.
    #[error("could not build the message")]
    Message(#[source] lettre::error::Error),
    /// The SMTP exchange failed: the server answered with `code` (4xx: try later, 5xx:
    /// refused), or the connection, the TLS handshake or a timeout failed.
    #[error("SMTP delivery failed{}", code.map(|c| format!(" with code {c}")).unwrap_or_default())]
    Smtp {
        /// The server's reply code, if it answered.
        code: Option<u16>,
        /// lettre's error, unless its text quotes the link (then `None`).
        #[source]
        source: Option<lettre::transport::smtp::Error>,
    },
}

/// Where a placeholder's value goes: into plain text or HTML (escaped).
#[derive(Clone, Copy)]
enum Markup {
    Text,
    Html,
}

/// Replaces `{enterprise}`, `{inviter}`, `{role}`, `{expires_at}`, `{link}` and
/// `{contact}` in `template` in one pass (a value is never scanned again, so a name that
/// contains `{link}` stays text). Unknown `{…}` stay as they are.
fn render(template: &str, delivery: &Delivery, markup: Markup) -> String {
    let mut out = String::with_capacity(template.len() + 256);
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let value = after.find('}').and_then(|close| {
            let name = &after[..close];
            value_of(name, delivery).map(|value| (value, close))
        });
        match value {
            Some((value, close)) => {
                match markup {
                    Markup::Text => out.push_str(&value),
                    Markup::Html => out.push_str(&escape_html(&value)),
                }
                rest = &after[close + 1..];
            }
            None => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

fn value_of(name: &str, delivery: &Delivery) -> Option<String> {
    Some(match name {
        "enterprise" => delivery.enterprise_name.clone(),
        "inviter" => delivery.inviter_name.clone(),
        "role" => role_label(delivery.role).to_owned(),
        "expires_at" => delivery.expires_at.format("%Y-%m-%d %H:%M UTC").to_string(),
        "link" => delivery.link.expose_secret().to_owned(),
        "contact" => delivery.contact.entered().to_owned(),
        _ => return None,
    })
}

/// A role as people read it.
#[must_use]
pub fn role_label(role: Role) -> &'static str {
    match role {
        Role::SuperAdmin => "Super admin",
        Role::FinanceAdmin => "Finance admin",
        Role::DevAdmin => "Developer admin",
        _ => "Member",
    }
}

fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            other => out.push(other),
        }
    }
    out
}

/// Subject and line breaks: a header value is one line.
fn one_line(text: &str) -> String {
    text.split(['\r', '\n']).collect::<Vec<_>>().join(" ")
}

/// Builds an [`SmtpNotifier`].
#[derive(Clone, Debug)]
pub struct SmtpNotifierBuilder {
    url: String,
    from: Option<String>,
    subject: String,
    text: String,
    html: String,
    timeout: Duration,
}

impl SmtpNotifierBuilder {
    /// The sender, e.g. `Acme Invitations <invites@acme.example>` (required).
    #[must_use]
    pub fn from(mut self, from: impl Into<String>) -> Self {
        self.from = Some(from.into());
        self
    }

    /// The subject template (default [`DEFAULT_SUBJECT`]).
    #[must_use]
    pub fn subject(mut self, template: impl Into<String>) -> Self {
        self.subject = template.into();
        self
    }

    /// The plain-text body template (default [`DEFAULT_TEXT`]).
    #[must_use]
    pub fn text_template(mut self, template: impl Into<String>) -> Self {
        self.text = template.into();
        self
    }

    /// The HTML body template (default [`DEFAULT_HTML`]); values are HTML-escaped.
    #[must_use]
    pub fn html_template(mut self, template: impl Into<String>) -> Self {
        self.html = template.into();
        self
    }

    /// How long one SMTP command may take (default 30 s). Keep it well below the outbox
    /// worker's lease.
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The notifier. Opens no connection yet (see [`SmtpNotifier::test_connection`]).
    /// Call it inside the tokio runtime that will use it (its connection pool lives there).
    ///
    /// # Errors
    /// [`SmtpError::Url`], [`SmtpError::From`] or [`SmtpError::NoFrom`].
    pub fn build(self) -> Result<SmtpNotifier, SmtpError> {
        let from: Mailbox = self
            .from
            .as_deref()
            .ok_or(SmtpError::NoFrom)?
            .parse()
            .map_err(SmtpError::From)?;
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(&self.url)
            .map_err(SmtpError::Url)?
            .timeout(Some(self.timeout))
            .build();
        Ok(SmtpNotifier {
            transport,
            message_id_domain: from.email.domain().to_owned(),
            from,
            subject: self.subject,
            text: self.text,
            html: self.html,
        })
    }
}

/// Sends each invitation as an email over SMTP: see the [crate docs](crate).
#[derive(Clone)]
pub struct SmtpNotifier {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    message_id_domain: String,
    subject: String,
    text: String,
    html: String,
}

impl std::fmt::Debug for SmtpNotifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The transport holds the URL's credentials: not shown.
        f.debug_struct("SmtpNotifier")
            .field("from", &self.from.to_string())
            .finish_non_exhaustive()
    }
}

impl SmtpNotifier {
    /// A builder for the server at `url` (`smtp://`, `smtps://`, `?tls=required`).
    #[must_use]
    pub fn builder(url: impl Into<String>) -> SmtpNotifierBuilder {
        SmtpNotifierBuilder {
            url: url.into(),
            from: None,
            subject: DEFAULT_SUBJECT.to_owned(),
            text: DEFAULT_TEXT.to_owned(),
            html: DEFAULT_HTML.to_owned(),
            timeout: Duration::from_secs(30),
        }
    }

    /// Whether the server answers (an SMTP `NOOP`), e.g. to log a warning at start-up.
    ///
    /// # Errors
    /// [`SmtpError::Smtp`] when it cannot be reached.
    pub async fn test_connection(&self) -> Result<bool, SmtpError> {
        self.transport
            .test_connection()
            .await
            .map_err(|err| SmtpError::Smtp {
                code: code_of(&err),
                source: Some(err),
            })
    }

    /// The message for `delivery`: to the address as the inviter entered it (rule X8),
    /// with both bodies and a `Message-ID` from its idempotency key.
    ///
    /// # Errors
    /// [`SmtpError::NotAnEmail`], [`SmtpError::Recipient`], [`SmtpError::Message`].
    pub fn message(&self, delivery: &Delivery) -> Result<Message, SmtpError> {
        let Contact::Email(email) = &delivery.contact else {
            return Err(SmtpError::NotAnEmail);
        };
        let to: Mailbox = email.entered().parse().map_err(SmtpError::Recipient)?;
        Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(one_line(&render(&self.subject, delivery, Markup::Text)))
            .message_id(Some(format!(
                "<{}@{}>",
                delivery.idempotency_key, self.message_id_domain
            )))
            .multipart(MultiPart::alternative_plain_html(
                render(&self.text, delivery, Markup::Text),
                render(&self.html, delivery, Markup::Html),
            ))
            .map_err(SmtpError::Message)
    }
}

/// The server's reply code in lettre's error, if it answered.
fn code_of(err: &lettre::transport::smtp::Error) -> Option<u16> {
    err.status().and_then(|code| code.to_string().parse().ok())
}

/// Maps lettre's error to the notifier's (rule D1: lettre's own classification) and drops
/// its text if it quotes the token (rule D4).
fn classify(err: lettre::transport::smtp::Error, delivery: &Delivery) -> NotifyError {
    let permanent = err.is_permanent();
    let code = code_of(&err);
    let token = delivery.link.token();
    let quotes_link = !token.is_empty() && error_chain(&err).contains(token);
    let error = SmtpError::Smtp {
        code,
        source: (!quotes_link).then_some(err),
    };
    if permanent {
        NotifyError::permanent(error)
    } else {
        NotifyError::transient(error)
    }
}

fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[async_trait]
impl Notifier for SmtpNotifier {
    async fn deliver(&self, delivery: &Delivery) -> Result<(), NotifyError> {
        // A message that cannot be built will not build on a retry either.
        let message = self.message(delivery).map_err(NotifyError::permanent)?;
        self.transport
            .send(message)
            .await
            .map(|_| ())
            .map_err(|err| classify(err, delivery))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use chrono::{DateTime, Utc};
    use invite_core::{ContactPolicy, InvitationId, InviteLink, InviteToken};

    fn delivery(contact: &str, enterprise: &str) -> Delivery {
        let token = InviteToken::generate();
        let id = InvitationId::new();
        Delivery {
            invitation_id: id,
            contact: ContactPolicy::default().parse(contact).unwrap(),
            enterprise_name: enterprise.to_owned(),
            inviter_name: "Alice <Admin>".to_owned(),
            role: Role::DevAdmin,
            link: InviteLink::new("https://app.example", &token),
            expires_at: DateTime::<Utc>::from_timestamp(1_900_000_000, 0).unwrap(),
            idempotency_key: Delivery::idempotency_key_for(id, &token.digest()),
        }
    }

    /// rule D5: TLS runs on rustls with aws-lc-rs, the one crypto provider the build
    /// enables. A TLS connection to a server that answers in plain text fails the handshake
    /// and is a transient error; without a usable provider rustls would panic here instead.
    #[tokio::test]
    async fn a_failed_tls_handshake_is_a_transient_error() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = tokio::spawn(async move {
            use tokio::io::AsyncWriteExt as _;
            while let Ok((mut socket, _)) = listener.accept().await {
                let _ = socket.write_all(b"220 plain.example ESMTP\r\n").await;
            }
        });
        for url in [
            format!("smtps://127.0.0.1:{port}"),
            format!("smtp://127.0.0.1:{port}?tls=required"),
        ] {
            let notifier = SmtpNotifier::builder(&url)
                .from("Acme <invites@acme.example>")
                .timeout(std::time::Duration::from_secs(5))
                .build()
                .unwrap();
            let err = notifier
                .deliver(&delivery("bob@example.com", "Acme"))
                .await
                .expect_err(&url);
            assert_eq!(
                err.kind(),
                invite_core::NotifyErrorKind::Transient,
                "{url}: {err}"
            );
        }
        server.abort();
    }

    #[test]
    fn templates_fill_every_field_once_and_escape_html() {
        // rule D5
        let d = delivery("bob@example.com", "Acme & {link} Co");
        let text = render(DEFAULT_TEXT, &d, Markup::Text);
        assert!(text.contains("Alice <Admin> invites you to join Acme & {link} Co as Developer admin."));
        assert!(text.contains(d.link.expose_secret()));
        assert!(text.contains("2030-03-17 17:46 UTC"), "{text}");
        assert_eq!(
            text.matches(d.link.token()).count(),
            1,
            "a value is not scanned again"
        );
        let html = render(DEFAULT_HTML, &d, Markup::Html);
        assert!(html.contains("<strong>Alice &lt;Admin&gt;</strong>"));
        assert!(html.contains("Acme &amp; {link} Co"));
        assert!(html.contains(&format!("href=\"{}\"", d.link.expose_secret())));
        assert_eq!(render("{unknown} {", &d, Markup::Text), "{unknown} {");
        assert_eq!(
            one_line(&render("Hi\r\n{enterprise}", &d, Markup::Text)),
            "Hi  Acme & {link} Co"
        );
    }

    #[tokio::test]
    async fn the_message_has_both_bodies_the_sender_and_a_stable_message_id() {
        let notifier = SmtpNotifier::builder("smtp://127.0.0.1:2525")
            .from("Acme Invitations <invites@acme.example>")
            .subject("Join {enterprise}")
            .build()
            .unwrap();
        let d = delivery("Bob@Example.com", "Acme");
        let raw = String::from_utf8(notifier.message(&d).unwrap().formatted()).unwrap();
        assert!(raw.contains("To: Bob@Example.com"), "{raw}");
        assert!(
            raw.contains("From: \"Acme Invitations\" <invites@acme.example>"),
            "{raw}"
        );
        assert!(raw.contains("Subject: Join Acme"), "{raw}");
        assert!(raw.contains("multipart/alternative"));
        assert!(raw.contains("text/plain") && raw.contains("text/html"));
        assert!(raw.contains(&format!("Message-ID: <{}@acme.example>", d.idempotency_key)));
        assert!(matches!(
            notifier.message(&delivery("+14155550100", "Acme")),
            Err(SmtpError::NotAnEmail)
        ));
    }

    #[tokio::test]
    async fn a_bad_url_or_sender_is_refused_when_built() {
        assert!(matches!(
            SmtpNotifier::builder("smtp://127.0.0.1:2525").build(),
            Err(SmtpError::NoFrom)
        ));
        assert!(matches!(
            SmtpNotifier::builder("smtp://127.0.0.1:2525")
                .from("not an address")
                .build(),
            Err(SmtpError::From(_))
        ));
        assert!(matches!(
            SmtpNotifier::builder("ftp://x").from("a@b.example").build(),
            Err(SmtpError::Url(_))
        ));
        let debug = format!(
            "{:?}",
            SmtpNotifier::builder("smtp://user:hunter2@127.0.0.1:2525")
                .from("a@b.example")
                .build()
                .unwrap()
        );
        assert!(!debug.contains("hunter2"), "{debug}");
    }

    #[tokio::test]
    async fn a_refused_connection_is_transient_and_says_no_link() {
        // rule D1, D4: nothing listens on this port
        let port = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            listener.local_addr().unwrap().port()
        };
        let notifier = SmtpNotifier::builder(format!("smtp://127.0.0.1:{port}"))
            .from("a@b.example")
            .timeout(Duration::from_secs(5))
            .build()
            .unwrap();
        let d = delivery("bob@example.com", "Acme");
        let err = notifier.deliver(&d).await.unwrap_err();
        assert_eq!(err.kind(), invite_core::NotifyErrorKind::Transient);
        assert!(!error_chain(&err).contains(d.link.token()));
    }
}
