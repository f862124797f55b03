//! Shared by the demo server's tests: start the real `invite-demo` binary on a free port
//! with a fresh SQLite file, and talk HTTP to it.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::io::Read as _;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::header::{CONTENT_TYPE, COOKIE, HeaderMap};
use hyper::{Method, Request, StatusCode};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;

/// A free TCP port on localhost (released before use; good enough for tests).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A running `invite-demo`; killed on drop.
pub struct DemoServer {
    child: Child,
    pub addr: SocketAddr,
    pub base_url: String,
    pub dir: tempfile::TempDir,
    log: PathBuf,
}

impl DemoServer {
    /// Starts the demo with a fresh SQLite file and the given extra flags.
    pub fn start(extra: &[&str]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        Self::start_in(dir, extra)
    }

    /// Starts the demo in `dir` (its SQLite file kept there), with extra flags.
    pub fn start_in(dir: tempfile::TempDir, extra: &[&str]) -> Self {
        let db = format!("sqlite://{}?mode=rwc", dir.path().join("demo.sqlite").display());
        Self::start_with(dir, &db, extra)
    }

    /// Starts the demo on the database at `db`, working in `dir`.
    pub fn start_with(dir: tempfile::TempDir, db: &str, extra: &[&str]) -> Self {
        let port = free_port();
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let log = dir.path().join(format!("server-{port}.log"));
        let out = std::fs::File::create(&log).unwrap();
        let err = out.try_clone().unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_invite-demo"))
            .args(["--bind", &addr.to_string(), "--database-url", db])
            .args(extra)
            .env("RUST_LOG", "info,sqlx=warn")
            .env_remove("INVITE_DEMO_BASE_URL")
            .env_remove("INVITE_DEMO_INVITE_TTL")
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::from(out))
            .stderr(Stdio::from(err))
            .spawn()
            .expect("the invite-demo binary starts");
        let mut server = Self {
            child,
            addr,
            base_url: format!("http://{addr}"),
            dir,
            log,
        };
        server.wait_ready();
        server
    }

    fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!(
                    "invite-demo exited with {status} before listening:\n{}",
                    self.log()
                );
            }
            if TcpStream::connect_timeout(&self.addr, Duration::from_millis(200)).is_ok() {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "invite-demo did not listen in time:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Everything the server logged so far.
    pub fn log(&self) -> String {
        let mut text = String::new();
        if let Ok(mut file) = std::fs::File::open(&self.log) {
            let _ = file.read_to_string(&mut text);
        }
        text
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// Stops the server and gives back its directory (to restart on the same database).
    pub fn stop(mut self) -> tempfile::TempDir {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let dir = tempfile::tempdir().unwrap();
        std::mem::replace(&mut self.dir, dir)
    }
}

impl Drop for DemoServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A response, read whole.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|err| panic!("not JSON ({err}): {}", self.body))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The session cookie `name=value` this reply set.
    pub fn session_cookie(&self) -> Option<String> {
        let set = self.header("set-cookie")?;
        Some(set.split(';').next()?.to_owned())
    }
}

/// A tiny HTTP client that keeps one cookie.
pub struct Http {
    client: Client<HttpConnector, Full<Bytes>>,
    base: String,
    pub cookie: Option<String>,
}

impl Http {
    pub fn new(server: &DemoServer) -> Self {
        Self {
            client: Client::builder(TokioExecutor::new()).build_http(),
            base: server.base_url.clone(),
            cookie: None,
        }
    }

    /// Sends a raw body with a content type.
    pub async fn send(&self, method: Method, path: &str, content_type: Option<&str>, body: &str) -> Reply {
        let mut request = Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base));
        if let Some(content_type) = content_type {
            request = request.header(CONTENT_TYPE, content_type);
        }
        if let Some(cookie) = &self.cookie {
            request = request.header(COOKIE, cookie);
        }
        let request = request.body(Full::new(Bytes::from(body.to_owned()))).unwrap();
        let response = self.client.request(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        Reply {
            status,
            headers,
            body: String::from_utf8_lossy(&bytes).into_owned(),
        }
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.send(Method::GET, path, None, "").await
    }

    pub async fn post(&self, path: &str, body: &Value) -> Reply {
        self.send(Method::POST, path, Some("application/json"), &body.to_string())
            .await
    }

    /// Signs in with the demo sign-in and keeps the cookie.
    pub async fn login(&mut self, contact: &str) -> Value {
        self.cookie = None;
        let reply = self
            .post("/login", &serde_json::json!({ "contact": contact }))
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        self.cookie = reply.session_cookie();
        reply.json()
    }
}

/// The id of the enterprise `name` in a `/me` body.
pub fn enterprise_id(me: &Value, name: &str) -> String {
    me["memberships"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["enterprise_name"] == name)
        .unwrap_or_else(|| panic!("no membership in {name}: {me}"))["enterprise_id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// The token of an invite link.
pub fn token_of(link: &str) -> String {
    link.rsplit_once("token=").unwrap().1.to_owned()
}

/// Where screenshots go: `docs/screenshots/` of the workspace with
/// `INVITE_E2E_SCREENSHOTS=1` (to refresh the README's pictures), else the test scratch
/// directory under `target/`, so that a CI run leaves the working tree clean.
pub fn screenshot_dir() -> PathBuf {
    if std::env::var("INVITE_E2E_SCREENSHOTS").is_ok_and(|v| v == "1") {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/screenshots")
    } else {
        Path::new(env!("CARGO_TARGET_TMPDIR")).join("screenshots")
    }
}

pub mod browser;

/// A fresh PostgreSQL database of a test's own, next to the one `INVITE_TEST_POSTGRES_URL`
/// names (so parallel tests never share tables). Drop it with [`PgDatabase::remove`].
pub struct PgDatabase {
    /// The URL of the fresh database.
    pub url: String,
    admin_url: String,
    name: String,
}

impl PgDatabase {
    /// Creates the database, or `None` (with a `NOT RUN` line naming `test`) when
    /// `INVITE_TEST_POSTGRES_URL` is not set: PostgreSQL runs are opt-in.
    pub async fn create(test: &str) -> Option<Self> {
        use sqlx::Connection as _;
        use std::io::Write as _;
        let Ok(admin_url) = std::env::var("INVITE_TEST_POSTGRES_URL") else {
            let _ = writeln!(
                std::io::stderr(),
                "{test}: NOT RUN; set INVITE_TEST_POSTGRES_URL=postgres://…"
            );
            return None;
        };
        // The name is ours, a UUID: safe to splice into SQL.
        let name = format!("invite_demo_{}", uuid::Uuid::new_v4().simple());
        let mut admin = sqlx::PgConnection::connect(&admin_url).await.unwrap();
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut admin)
            .await
            .unwrap();
        let (base, query) = admin_url.split_once('?').unwrap_or((&admin_url, ""));
        let (prefix, _) = base.rsplit_once('/').unwrap();
        let url = if query.is_empty() {
            format!("{prefix}/{name}")
        } else {
            format!("{prefix}/{name}?{query}")
        };
        Some(Self { url, admin_url, name })
    }

    /// Drops the database (and whatever is still connected to it).
    pub async fn remove(self) {
        use sqlx::Connection as _;
        let mut admin = sqlx::PgConnection::connect(&self.admin_url).await.unwrap();
        let drop = format!("DROP DATABASE {} WITH (FORCE)", self.name);
        let _ = sqlx::query(sqlx::AssertSqlSafe(drop)).execute(&mut admin).await;
    }
}
