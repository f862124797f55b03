//! An example SMS notifier (rule D5: SMS is a trait the host implements): posts each
//! invitation as JSON to an HTTP endpoint shaped like the messaging APIs of SMS providers
//! (Twilio-like): `POST {url}` with `{"from","to","body"}` and an `Idempotency-Key` header
//! from the delivery's idempotency key, so a retried request is one message.
//!
//! It speaks plain HTTP (`http://`), enough for a local relay or a test; a host that posts
//! to a provider over HTTPS uses a TLS connector (e.g. `hyper-rustls`) the same way.
//! A 2xx answer is delivered; 408, 429 and 5xx, or no answer, are transient; any other 4xx
//! is permanent. The error says only the status (never the body, which may quote the
//! message and so the link: rule D4).

use std::time::Duration;

use async_trait::async_trait;
use http_body_util::Full;
use hyper::body::Bytes;
use hyper::{Method, Request, StatusCode, Uri};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use invite_core::{Contact, Delivery, Notifier, NotifyError};

/// What went wrong with one SMS request. Never holds the message or the link.
#[derive(Debug, thiserror::Error)]
pub enum SmsError {
    /// The URL is not an `http://` URL.
    #[error("the SMS URL must be an http:// URL")]
    Url,
    /// The invitation is addressed to an email address.
    #[error("the contact is an email address, not a phone number")]
    NotAPhone,
    /// The endpoint could not be reached or did not answer in time.
    #[error("the SMS endpoint could not be reached")]
    Unreachable(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The endpoint answered with an error status.
    #[error("the SMS endpoint answered {0}")]
    Status(StatusCode),
}

/// Posts invitations as SMS requests: see the [module docs](self).
#[derive(Clone)]
pub struct HttpSmsNotifier {
    client: Client<HttpConnector, Full<Bytes>>,
    url: Uri,
    from: String,
    timeout: Duration,
}

impl std::fmt::Debug for HttpSmsNotifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpSmsNotifier").finish_non_exhaustive()
    }
}

impl HttpSmsNotifier {
    /// Posts to `url`, sending as `from` (a sender id or number).
    ///
    /// # Errors
    /// [`SmsError::Url`] unless `url` is an `http://` URL.
    pub fn new(url: &str, from: &str) -> Result<Self, SmsError> {
        let url: Uri = url.parse().map_err(|_| SmsError::Url)?;
        if url.scheme_str() != Some("http") || url.host().is_none() {
            return Err(SmsError::Url);
        }
        Ok(Self {
            client: Client::builder(TokioExecutor::new()).build_http(),
            url,
            from: from.to_owned(),
            timeout: Duration::from_secs(10),
        })
    }

    /// The text of the message.
    #[must_use]
    pub fn text(delivery: &Delivery) -> String {
        format!(
            "{} invites you to join {} as {}. Open {} (expires {}).",
            delivery.inviter_name,
            delivery.enterprise_name,
            invite_notify_lettre::role_label(delivery.role),
            delivery.link.expose_secret(),
            delivery.expires_at.format("%Y-%m-%d %H:%M UTC"),
        )
    }

    async fn post(&self, delivery: &Delivery) -> Result<(), (SmsError, bool)> {
        let Contact::Phone(phone) = &delivery.contact else {
            return Err((SmsError::NotAPhone, false));
        };
        // rule X8: SMS goes to the number's E.164 form.
        let body = serde_json::json!({
            "from": self.from,
            "to": phone.normalized(),
            "body": Self::text(delivery),
        });
        let request = Request::builder()
            .method(Method::POST)
            .uri(self.url.clone())
            .header("content-type", "application/json")
            .header("idempotency-key", delivery.idempotency_key.as_str())
            .body(Full::new(Bytes::from(body.to_string())))
            .map_err(|err| (SmsError::Unreachable(err.into()), true))?;
        let response = tokio::time::timeout(self.timeout, self.client.request(request))
            .await
            .map_err(|err| (SmsError::Unreachable(err.into()), true))?
            .map_err(|err| (SmsError::Unreachable(err.into()), true))?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        let transient = status.is_server_error()
            || status == StatusCode::TOO_MANY_REQUESTS
            || status == StatusCode::REQUEST_TIMEOUT;
        Err((SmsError::Status(status), transient))
    }
}

#[async_trait]
impl Notifier for HttpSmsNotifier {
    async fn deliver(&self, delivery: &Delivery) -> Result<(), NotifyError> {
        self.post(delivery).await.map_err(|(err, transient)| {
            if transient {
                NotifyError::transient(err)
            } else {
                NotifyError::permanent(err)
            }
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use std::sync::{Arc, Mutex};

    use axum::extract::State;
    use axum::http::HeaderMap;
    use axum::routing::post;
    use axum::{Json, Router};
    use invite_core::{ContactPolicy, InvitationId, InviteLink, InviteToken, NotifyErrorKind, Role};

    use super::*;

    type Seen = Arc<Mutex<Vec<(Option<String>, serde_json::Value)>>>;

    /// A local SMS endpoint on 127.0.0.1:0 that answers `status` and records requests.
    async fn endpoint(status: StatusCode) -> (String, Seen) {
        let seen: Seen = Arc::default();
        let app = Router::new()
            .route(
                "/2010-04-01/Messages.json",
                post(
                    move |State(seen): State<Seen>,
                          headers: HeaderMap,
                          Json(body): Json<serde_json::Value>| async move {
                        let key = headers
                            .get("idempotency-key")
                            .and_then(|v| v.to_str().ok())
                            .map(str::to_owned);
                        seen.lock().unwrap().push((key, body));
                        status
                    },
                ),
            )
            .with_state(seen.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        (format!("http://{addr}/2010-04-01/Messages.json"), seen)
    }

    fn delivery(contact: &str) -> Delivery {
        let token = InviteToken::generate();
        let id = InvitationId::new();
        Delivery {
            invitation_id: id,
            contact: ContactPolicy::default().parse(contact).unwrap(),
            enterprise_name: "Acme Robotics".into(),
            inviter_name: "Alice Admin".into(),
            role: Role::Member,
            link: InviteLink::new("https://app.example", &token),
            expires_at: chrono::DateTime::from_timestamp(1_900_000_000, 0).unwrap(),
            idempotency_key: Delivery::idempotency_key_for(id, &token.digest()),
        }
    }

    #[tokio::test]
    async fn a_phone_invitation_is_posted_as_json_to_the_e164_number() {
        // rule D5, rule X8
        let (url, seen) = endpoint(StatusCode::CREATED).await;
        let sms = HttpSmsNotifier::new(&url, "Acme").unwrap();
        let d = delivery("+1 (415) 555-0100");
        sms.deliver(&d).await.unwrap();
        let seen = seen.lock().unwrap().clone();
        assert_eq!(seen.len(), 1);
        let (key, body) = &seen[0];
        assert_eq!(key.as_deref(), Some(d.idempotency_key.as_str()));
        assert_eq!(body["to"], "+14155550100");
        assert_eq!(body["from"], "Acme");
        let text = body["body"].as_str().unwrap();
        assert!(
            text.contains(d.link.expose_secret()) && text.contains("Acme Robotics"),
            "{text}"
        );
    }

    #[tokio::test]
    async fn statuses_are_told_apart_and_errors_hold_no_link() {
        // rule D1, D4
        for (status, kind) in [
            (StatusCode::SERVICE_UNAVAILABLE, NotifyErrorKind::Transient),
            (StatusCode::TOO_MANY_REQUESTS, NotifyErrorKind::Transient),
            (StatusCode::BAD_REQUEST, NotifyErrorKind::Permanent),
        ] {
            let (url, _) = endpoint(status).await;
            let d = delivery("+14155550100");
            let err = HttpSmsNotifier::new(&url, "Acme")
                .unwrap()
                .deliver(&d)
                .await
                .unwrap_err();
            assert_eq!(err.kind(), kind, "{status}");
            let mut chain = err.to_string();
            let mut source = std::error::Error::source(&err);
            while let Some(cause) = source {
                chain.push_str(&cause.to_string());
                source = cause.source();
            }
            assert!(!chain.contains(d.link.token()), "{chain}");
        }
        let closed = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            listener.local_addr().unwrap().port()
        };
        let sms = HttpSmsNotifier::new(&format!("http://127.0.0.1:{closed}/sms"), "Acme").unwrap();
        let err = sms.deliver(&delivery("+14155550100")).await.unwrap_err();
        assert_eq!(err.kind(), NotifyErrorKind::Transient);
        let err = sms.deliver(&delivery("bob@example.com")).await.unwrap_err();
        assert_eq!(err.kind(), NotifyErrorKind::Permanent);
        assert!(HttpSmsNotifier::new("https://sms.example/x", "Acme").is_err());
    }
}
