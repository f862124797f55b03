//! A small HTTP/1.1 client over hyper, for one [`Target`]: JSON bodies, one session
//! cookie per request, keep-alive connections, a timeout on every request.

use std::net::IpAddr;
use std::time::Duration;

use http_body_util::{BodyExt as _, Full};
use hyper::body::Bytes;
use hyper::header::{CONTENT_TYPE, COOKIE, SET_COOKIE};
use hyper::{Method, Request};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use crate::target::Target;

/// An answer: status, body and the `name=value` of its `Set-Cookie`, if any.
#[derive(Clone, Debug)]
pub struct Reply {
    /// The HTTP status.
    pub status: u16,
    /// The body.
    pub body: Bytes,
    /// `name=value` of the first `Set-Cookie` header.
    pub cookie: Option<String>,
}

impl Reply {
    /// The body as JSON (`Null` when it is not JSON).
    #[must_use]
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }

    /// The `error.code` of an error body, if it has one.
    #[must_use]
    pub fn error_code(&self) -> Option<String> {
        #[derive(serde::Deserialize)]
        struct Body {
            error: Detail,
        }
        #[derive(serde::Deserialize)]
        struct Detail {
            code: String,
        }
        serde_json::from_slice::<Body>(&self.body)
            .ok()
            .map(|body| body.error.code)
    }
}

/// A request that got no answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HttpError {
    /// No answer within the request timeout.
    Timeout,
    /// The connection failed or broke.
    Transport(String),
}

impl HttpError {
    /// A short label for the error tally: `timeout` or `transport`.
    #[must_use]
    pub fn label(&self) -> &'static str {
        match self {
            Self::Timeout => "timeout",
            Self::Transport(_) => "transport",
        }
    }
}

impl std::fmt::Display for HttpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Timeout => f.write_str("no answer within the request timeout"),
            Self::Transport(err) => write!(f, "transport error: {err}"),
        }
    }
}

impl std::error::Error for HttpError {}

/// The client: cheap to clone (one pool of keep-alive connections).
#[derive(Clone, Debug)]
pub struct Http {
    client: Client<HttpConnector, Full<Bytes>>,
    base: String,
    timeout: Duration,
}

impl Http {
    /// A client of `target` whose requests give up after `timeout`.
    #[must_use]
    pub fn new(target: &Target, timeout: Duration) -> Self {
        Self::with_source(target, timeout, None)
    }

    /// As [`Http::new`], its connections made from `source` (a loopback address, so that
    /// a server that rate-limits per client IP sees another client).
    #[must_use]
    pub fn with_source(target: &Target, timeout: Duration, source: Option<IpAddr>) -> Self {
        let mut connector = HttpConnector::new();
        connector.set_local_address(source.filter(IpAddr::is_loopback));
        connector.set_nodelay(true);
        connector.enforce_http(true);
        connector.set_connect_timeout(Some(timeout));
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .pool_max_idle_per_host(1024)
            .build(connector);
        Self {
            client,
            base: target.base_url(),
            timeout,
        }
    }

    /// `POST path` with a JSON body.
    ///
    /// # Errors
    /// [`HttpError`] when no answer came.
    pub async fn post(&self, path: &str, cookie: Option<&str>, json: Vec<u8>) -> Result<Reply, HttpError> {
        self.send(Method::POST, path, cookie, Some(json)).await
    }

    /// `GET path`.
    ///
    /// # Errors
    /// [`HttpError`] when no answer came.
    pub async fn get(&self, path: &str, cookie: Option<&str>) -> Result<Reply, HttpError> {
        self.send(Method::GET, path, cookie, None).await
    }

    async fn send(
        &self,
        method: Method,
        path: &str,
        cookie: Option<&str>,
        json: Option<Vec<u8>>,
    ) -> Result<Reply, HttpError> {
        let mut request = Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base));
        if let Some(cookie) = cookie {
            request = request.header(COOKIE, cookie);
        }
        let body = match json {
            Some(json) => {
                request = request.header(CONTENT_TYPE, "application/json");
                Full::new(Bytes::from(json))
            }
            None => Full::new(Bytes::new()),
        };
        let request = request
            .body(body)
            .map_err(|err| HttpError::Transport(err.to_string()))?;
        let exchange = async {
            let response = self
                .client
                .request(request)
                .await
                .map_err(|err| HttpError::Transport(err.to_string()))?;
            let status = response.status().as_u16();
            let cookie = response
                .headers()
                .get(SET_COOKIE)
                .and_then(|value| value.to_str().ok())
                .and_then(|value| value.split(';').next())
                .map(|pair| pair.trim().to_owned());
            let body = response
                .into_body()
                .collect()
                .await
                .map_err(|err| HttpError::Transport(err.to_string()))?
                .to_bytes();
            Ok(Reply { status, body, cookie })
        };
        tokio::time::timeout(self.timeout, exchange)
            .await
            .map_err(|_| HttpError::Timeout)?
    }
}
