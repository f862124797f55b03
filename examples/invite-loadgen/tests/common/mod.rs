//! Shared by the hardening tests of issue #12 (`restart.rs`, `pg_restart.rs`, `soak.rs`,
//! `secrets.rs`): the real `invite-demo` binary (found next to this test, built when it is
//! missing or older than its sources), a demo process that can be killed with SIGKILL and
//! started again on the same database, the demo's database read directly on SQLite and
//! PostgreSQL with the invariants of rules A5, A6, S7, X5, D1, D2 and D4 written as SQL,
//! and a client that records which writes the server acknowledged.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::collections::BTreeMap;
use std::io::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::str::FromStr as _;
use std::sync::Arc;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use invite_loadgen::http::{Http, Reply};
use invite_loadgen::{LoadConfig, Mix, Target};
use serde_json::{Value, json};
use uuid::Uuid;

// --- the demo binary -----------------------------------------------------------------------

/// The `invite-demo` binary: `INVITE_DEMO_BIN` if set; else the one in this test's target
/// directory (`target/<profile>/invite-demo`), built with `cargo build -p invite-demo` when
/// it is missing or older than the sources it is made of. Under `cargo test --workspace`
/// cargo has just built it (the demo's own tests need it), so nothing is built here.
pub fn demo_bin() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        if let Some(path) = std::env::var_os("INVITE_DEMO_BIN") {
            let path = PathBuf::from(path);
            assert!(path.is_file(), "INVITE_DEMO_BIN={} is not a file", path.display());
            return path;
        }
        let exe = std::env::current_exe().unwrap();
        // target/<profile>/deps/<this test>
        let profile_dir = exe.parent().and_then(Path::parent).unwrap().to_path_buf();
        let bin = profile_dir.join(format!("invite-demo{}", std::env::consts::EXE_SUFFIX));
        if is_fresh(&bin) {
            return bin;
        }
        let profile = match profile_dir.file_name().and_then(|n| n.to_str()) {
            Some("debug") | None => "dev".to_owned(),
            Some(other) => other.to_owned(),
        };
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
        let mut build = Command::new(cargo);
        build
            .args(["build", "-p", "invite-demo", "--bin", "invite-demo", "--profile", &profile])
            .current_dir(workspace_root());
        if let Some(target_dir) = profile_dir.parent().filter(|dir| dir.join("CACHEDIR.TAG").is_file()) {
            build.arg("--target-dir").arg(target_dir);
        }
        let _ = writeln!(
            std::io::stderr(),
            "{} is missing or older than its sources: building it (cargo build -p invite-demo --profile {profile})",
            bin.display()
        );
        let status = build.status().expect("cargo runs");
        assert!(status.success(), "cargo build -p invite-demo failed: {status}");
        assert!(
            bin.is_file(),
            "{} was not built; set INVITE_DEMO_BIN to the invite-demo binary",
            bin.display()
        );
        bin
    })
    .clone()
}

/// The workspace root (two levels above this crate).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Whether `bin` exists and is newer than every source file it is built from.
fn is_fresh(bin: &Path) -> bool {
    let Ok(built) = std::fs::metadata(bin).and_then(|m| m.modified()) else {
        return false;
    };
    let root = workspace_root();
    // The crates' own files only: a change of Cargo.lock that leaves the demo alone does not
    // relink it, and must not send a `cargo test --workspace` run into a rebuild here.
    let sources = [
        "examples/invite-demo",
        "invite-core/src",
        "invite-core/Cargo.toml",
        "invite-store-sqlx",
        "invite-axum/src",
        "invite-axum/Cargo.toml",
        "invite-notify-lettre/src",
        "invite-notify-lettre/Cargo.toml",
    ];
    sources
        .iter()
        .all(|source| newest(&root.join(source)).is_none_or(|newest| newest <= built))
}

/// The newest modification time under `path` (skipping `tests`, `target` and
/// `node_modules`, which do not go into the binary).
fn newest(path: &Path) -> Option<SystemTime> {
    let meta = std::fs::metadata(path).ok()?;
    if meta.is_file() {
        return meta.modified().ok();
    }
    let mut newest = None;
    for entry in std::fs::read_dir(path).ok()?.flatten() {
        let name = entry.file_name();
        if matches!(name.to_str(), Some("tests" | "target" | "node_modules")) {
            continue;
        }
        newest = newest.max(self::newest(&entry.path()));
    }
    newest
}

// --- a demo process ------------------------------------------------------------------------

/// How to start the demo.
#[derive(Clone, Debug)]
pub struct DemoConfig {
    /// `--database-url`.
    pub database_url: String,
    /// The working directory; the log (`demo.log`, appended to across restarts) and the
    /// outbox key live here.
    pub dir: PathBuf,
    /// More flags.
    pub extra: Vec<String>,
    /// `RUST_LOG`.
    pub rust_log: String,
}

impl DemoConfig {
    /// For load: both rate limits off (the load comes from one address), info logs.
    pub fn for_load(database_url: &str, dir: &Path) -> Self {
        Self {
            database_url: database_url.to_owned(),
            dir: dir.to_path_buf(),
            extra: [
                "--rate-limit-per-minute",
                "0",
                "--sign-in-rate-limit-per-minute",
                "0",
            ]
            .map(str::to_owned)
            .to_vec(),
            rust_log: "info,sqlx=warn,invite_demo::dev_notifier=error".to_owned(),
        }
    }

    /// The log file.
    pub fn log_path(&self) -> PathBuf {
        self.dir.join("demo.log")
    }
}

/// A running `invite-demo`; killed (SIGKILL) when dropped.
pub struct Demo {
    child: Child,
    /// Its process id.
    pub pid: u32,
    /// Where it listens.
    pub addr: SocketAddr,
    /// The same, for the load generator.
    pub target: Target,
    log: PathBuf,
}

impl Demo {
    /// Starts the demo on a free loopback port and waits until it listens.
    pub async fn start(config: &DemoConfig) -> Self {
        let port = free_port();
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let log = config.log_path();
        let out = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .unwrap();
        let err = out.try_clone().unwrap();
        let mut command = Command::new(demo_bin());
        command
            .args([
                "--bind",
                &addr.to_string(),
                "--database-url",
                &config.database_url,
            ])
            .arg("--outbox-key-file")
            .arg(config.dir.join("outbox-key"))
            .args(&config.extra)
            .env("RUST_LOG", &config.rust_log)
            .current_dir(&config.dir)
            .stdin(Stdio::null())
            .stdout(Stdio::from(out))
            .stderr(Stdio::from(err));
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("INVITE_DEMO_") {
                command.env_remove(name);
            }
        }
        let child = command.spawn().expect("the invite-demo binary starts");
        let mut demo = Self {
            pid: child.id(),
            child,
            addr,
            target: Target::from_addr(addr).unwrap(),
            log,
        };
        demo.wait_ready().await;
        demo
    }

    async fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!(
                    "invite-demo exited with {status} before listening:\n{}",
                    self.log_tail()
                );
            }
            if tokio::net::TcpStream::connect(self.addr).await.is_ok() {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "invite-demo did not listen within 60 s:\n{}",
                self.log_tail()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Kills it with SIGKILL (what `Child::kill` sends on Unix) and reaps it.
    pub fn kill9(&mut self) -> ExitStatus {
        let _ = self.child.kill();
        self.child.wait().unwrap()
    }

    /// Whether it is still running.
    pub fn alive(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    /// Everything logged so far (every start in this directory).
    pub fn log(&self) -> String {
        std::fs::read(&self.log)
            .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
            .unwrap_or_default()
    }

    /// The last 60 lines of the log, for failure messages.
    pub fn log_tail(&self) -> String {
        let log = self.log();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(60)..].join("\n")
    }
}

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A free TCP port on 127.0.0.1 (bound and released; the server binds it a moment later).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Whether `status` is a death by SIGKILL.
pub fn killed_by_sigkill(status: ExitStatus) -> bool {
    use std::os::unix::process::ExitStatusExt as _;
    status.signal() == Some(9)
}

// --- PostgreSQL ----------------------------------------------------------------------------

/// `INVITE_TEST_POSTGRES_URL`, or `None` after a `NOT RUN` line naming `test` (PostgreSQL
/// runs are opt-in, as in every other suite).
pub fn postgres_admin_url(test: &str) -> Option<String> {
    match std::env::var("INVITE_TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            let _ = writeln!(
                std::io::stderr(),
                "{test}: NOT RUN on PostgreSQL; set INVITE_TEST_POSTGRES_URL=postgres://…"
            );
            None
        }
    }
}

/// A fresh database of a test's own on the server `admin_url` names (the test fails if
/// the server cannot be reached). Drop it with [`PgDatabase::remove`].
pub struct PgDatabase {
    /// The URL of the fresh database.
    pub url: String,
    admin_url: String,
    name: String,
}

impl PgDatabase {
    pub async fn create(admin_url: &str) -> Self {
        use sqlx::Connection as _;
        // The name is ours, a UUID: safe to splice into SQL.
        let name = format!("invite_loadgen_{}", Uuid::new_v4().simple());
        let mut admin = sqlx::PgConnection::connect(admin_url)
            .await
            .unwrap_or_else(|err| panic!("PostgreSQL at INVITE_TEST_POSTGRES_URL is unreachable: {err}"));
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut admin)
            .await
            .unwrap();
        let _ = admin.close().await;
        Self {
            url: with_database(admin_url, &name),
            admin_url: admin_url.to_owned(),
            name,
        }
    }

    /// Drops the database (and whatever is still connected to it).
    pub async fn remove(self) {
        use sqlx::Connection as _;
        let mut admin = sqlx::PgConnection::connect(&self.admin_url).await.unwrap();
        let drop = format!("DROP DATABASE {} WITH (FORCE)", self.name);
        let _ = sqlx::query(sqlx::AssertSqlSafe(drop)).execute(&mut admin).await;
    }
}

/// `url` with its database name replaced by `name`.
pub fn with_database(url: &str, name: &str) -> String {
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let (prefix, _) = base.rsplit_once('/').unwrap();
    if query.is_empty() {
        format!("{prefix}/{name}")
    } else {
        format!("{prefix}/{name}?{query}")
    }
}

// --- the demo's database -------------------------------------------------------------------

/// The demo's database, read directly (self-contained layout: `enterprises`, `users`,
/// `members`, and the library's `invite_rs_invitations`, `invite_rs_events`,
/// `invite_rs_outbox`).
pub enum Db {
    Sqlite(sqlx::SqlitePool),
    Postgres(sqlx::PgPool),
}

impl Db {
    /// Opens `url` (the demo's `--database-url`).
    pub async fn open(url: &str) -> Self {
        if url.starts_with("sqlite:") {
            let options = sqlx::sqlite::SqliteConnectOptions::from_str(url)
                .unwrap()
                .busy_timeout(Duration::from_secs(30));
            let pool = sqlx::sqlite::SqlitePoolOptions::new()
                .max_connections(2)
                .connect_with(options)
                .await
                .unwrap();
            Self::Sqlite(pool)
        } else {
            let pool = sqlx::postgres::PgPoolOptions::new()
                .max_connections(2)
                .connect(url)
                .await
                .unwrap();
            Self::Postgres(pool)
        }
    }

    pub fn backend(&self) -> &'static str {
        match self {
            Self::Sqlite(_) => "sqlite",
            Self::Postgres(_) => "postgres",
        }
    }

    pub async fn close(self) {
        match self {
            Self::Sqlite(pool) => pool.close().await,
            Self::Postgres(pool) => pool.close().await,
        }
    }

    /// The first column of every row of `sql`, as text.
    pub async fn texts(&self, sql: &str) -> Vec<String> {
        let sql = sqlx::AssertSqlSafe(sql.to_owned());
        match self {
            Self::Sqlite(pool) => sqlx::query_scalar::<_, String>(sql)
                .fetch_all(pool)
                .await
                .unwrap_or_else(|err| panic!("{err}")),
            Self::Postgres(pool) => sqlx::query_scalar::<_, String>(sql)
                .fetch_all(pool)
                .await
                .unwrap_or_else(|err| panic!("{err}")),
        }
    }

    /// Runs a statement (to break the database on purpose, in the checks' own test).
    pub async fn execute(&self, sql: &str) {
        let sql = sqlx::AssertSqlSafe(sql.to_owned());
        match self {
            Self::Sqlite(pool) => sqlx::query(sql).execute(pool).await.map(drop),
            Self::Postgres(pool) => sqlx::query(sql).execute(pool).await.map(drop),
        }
        .unwrap_or_else(|err| panic!("{err}"));
    }

    /// `SELECT count(*) …`.
    pub async fn count(&self, sql: &str) -> i64 {
        let sql = sqlx::AssertSqlSafe(sql.to_owned());
        match self {
            Self::Sqlite(pool) => sqlx::query_scalar::<_, i64>(sql).fetch_one(pool).await.unwrap(),
            Self::Postgres(pool) => sqlx::query_scalar::<_, i64>(sql).fetch_one(pool).await.unwrap(),
        }
    }

    /// A UUID key of the self-contained layout (a 16-byte BLOB on SQLite, `uuid` on
    /// PostgreSQL) as the canonical text the library stores keys as.
    fn key_text(&self, column: &str) -> String {
        match self {
            Self::Sqlite(_) => format!(
                "lower(substr(hex({column}), 1, 8) || '-' || substr(hex({column}), 9, 4) || '-' || \
                 substr(hex({column}), 13, 4) || '-' || substr(hex({column}), 17, 4) || '-' || \
                 substr(hex({column}), 21, 12))"
            ),
            Self::Postgres(_) => format!("({column})::text"),
        }
    }

    /// A library id (16-byte BLOB / `uuid`) as 32 hex digits, for messages.
    fn id_hex(&self, column: &str) -> String {
        match self {
            Self::Sqlite(_) => format!("lower(hex({column}))"),
            Self::Postgres(_) => format!("replace(({column})::text, '-', '')"),
        }
    }

    /// Every violation of the invariants a crash must never break (rule X7), one line
    /// each; empty when the database is consistent.
    ///
    /// - A5: every accepted invitation has its membership (same enterprise, user, role),
    ///   and every membership but the seeded super admins has its accepted invitation.
    /// - A6: no user accepted two invitations of one enterprise.
    /// - S7: at most one pending invitation per enterprise and normalized contact.
    /// - X5: every invitation has exactly one `sent` event; each `accepted`, `rejected`,
    ///   `revoked` status exactly one event of its kind and no other status any; an
    ///   `expired` status an `expired` event; a `delivered` delivery a `delivered` event;
    ///   no event without its invitation.
    /// - D1, D2, D4: every invitation has an outbox row for its current link in the state
    ///   its delivery says (a pending invitation whose delivery is queued has a queued
    ///   row, so no delivery is lost); no queued row for a link that is no longer current;
    ///   at most one queued row per invitation; no finished row still holding its link.
    pub async fn violations(&self) -> Vec<String> {
        let id = |column: &str| self.id_hex(column);
        let key = |column: &str| self.key_text(column);
        let checks = [
            format!(
                "SELECT 'A5: accepted invitation to ' || x.u || ' in ' || x.e || ' as ' || x.r \
                 || ' has no membership' FROM ( \
                   SELECT enterprise_id AS e, coalesce(responded_by, '(nobody)') AS u, role AS r \
                   FROM invite_rs_invitations WHERE status = 'accepted' \
                   EXCEPT SELECT {}, {}, role FROM members) x",
                key("enterprise_id"),
                key("user_id")
            ),
            format!(
                "SELECT 'A5: membership of ' || x.u || ' in ' || x.e || ' as ' || x.r \
                 || ' has no accepted invitation' FROM ( \
                   SELECT {} AS e, {} AS u, role AS r FROM members WHERE role <> 'super_admin' \
                   EXCEPT SELECT enterprise_id, responded_by, role FROM invite_rs_invitations \
                   WHERE status = 'accepted') x",
                key("enterprise_id"),
                key("user_id")
            ),
            "SELECT 'A6: ' || responded_by || ' accepted ' || count(*) || ' invitations of ' \
             || enterprise_id FROM invite_rs_invitations WHERE status = 'accepted' \
             GROUP BY enterprise_id, responded_by HAVING count(*) > 1"
                .to_owned(),
            "SELECT 'S7: ' || count(*) || ' pending invitations to ' || contact_normalized \
             || ' in ' || enterprise_id FROM invite_rs_invitations WHERE status = 'pending' \
             GROUP BY enterprise_id, contact_normalized HAVING count(*) > 1"
                .to_owned(),
            format!(
                "SELECT 'X5: invitation ' || {} || ' (' || i.status || ', delivery ' || i.delivery \
                 || ') has events sent=' || coalesce(c.sent, 0) || ' accepted=' || coalesce(c.accepted, 0) \
                 || ' rejected=' || coalesce(c.rejected, 0) || ' revoked=' || coalesce(c.revoked, 0) \
                 || ' expired=' || coalesce(c.expired, 0) || ' delivered=' || coalesce(c.delivered, 0) \
                 FROM invite_rs_invitations i LEFT JOIN ( \
                   SELECT invitation_id, \
                     sum(CASE WHEN kind = 'sent' THEN 1 ELSE 0 END) AS sent, \
                     sum(CASE WHEN kind = 'accepted' THEN 1 ELSE 0 END) AS accepted, \
                     sum(CASE WHEN kind = 'rejected' THEN 1 ELSE 0 END) AS rejected, \
                     sum(CASE WHEN kind = 'revoked' THEN 1 ELSE 0 END) AS revoked, \
                     sum(CASE WHEN kind = 'expired' THEN 1 ELSE 0 END) AS expired, \
                     sum(CASE WHEN kind = 'delivered' THEN 1 ELSE 0 END) AS delivered \
                   FROM invite_rs_events GROUP BY invitation_id) c ON c.invitation_id = i.id \
                 WHERE coalesce(c.sent, 0) <> 1 \
                   OR coalesce(c.accepted, 0) <> CASE WHEN i.status = 'accepted' THEN 1 ELSE 0 END \
                   OR coalesce(c.rejected, 0) <> CASE WHEN i.status = 'rejected' THEN 1 ELSE 0 END \
                   OR coalesce(c.revoked, 0) <> CASE WHEN i.status = 'revoked' THEN 1 ELSE 0 END \
                   OR (i.status = 'expired' AND coalesce(c.expired, 0) = 0) \
                   OR (i.delivery = 'delivered' AND coalesce(c.delivered, 0) = 0)",
                id("i.id")
            ),
            format!(
                "SELECT 'X5: event ' || e.id || ' (' || e.kind || ') of ' || {} || ' has no invitation' \
                 FROM invite_rs_events e WHERE NOT EXISTS (SELECT 1 FROM invite_rs_invitations i \
                 WHERE i.id = e.invitation_id AND i.enterprise_id = e.enterprise_id)",
                id("e.invitation_id")
            ),
            format!(
                "SELECT 'D1: invitation ' || {} || ' (' || i.status || ', delivery ' || i.delivery \
                 || ') has no outbox row in a matching state for its current link' \
                 FROM invite_rs_invitations i WHERE NOT EXISTS (SELECT 1 FROM invite_rs_outbox o \
                 WHERE o.invitation_id = i.id AND o.token_digest = i.token_digest AND ( \
                   (i.delivery = 'queued' AND i.status = 'pending' AND o.state = 'queued') \
                   OR (i.delivery = 'queued' AND i.status <> 'pending' AND o.state IN ('queued', 'dropped')) \
                   OR (i.delivery = 'delivered' AND o.state = 'delivered') \
                   OR (i.delivery = 'failed' AND o.state = 'failed')))",
                id("i.id")
            ),
            format!(
                "SELECT 'D2: queued outbox row ' || {} || ' is not for the current link of its invitation' \
                 FROM invite_rs_outbox o WHERE o.state = 'queued' AND NOT EXISTS ( \
                 SELECT 1 FROM invite_rs_invitations i WHERE i.id = o.invitation_id \
                 AND i.token_digest = o.token_digest)",
                id("o.id")
            ),
            format!(
                "SELECT 'D1: invitation ' || {} || ' has ' || count(*) || ' queued outbox rows' \
                 FROM invite_rs_outbox WHERE state = 'queued' GROUP BY invitation_id HAVING count(*) > 1",
                id("invitation_id")
            ),
            format!(
                "SELECT 'D4: finished outbox row ' || {} || ' (' || state || ') still holds its link' \
                 FROM invite_rs_outbox WHERE state <> 'queued' AND link_sealed IS NOT NULL",
                id("id")
            ),
        ];
        let mut found = Vec::new();
        for check in &checks {
            found.extend(self.texts(check).await);
        }
        found
    }

    /// Counts of the database, for reports.
    pub async fn summary(&self) -> Summary {
        let by = |sql: &str| sql.to_owned();
        let statuses = self
            .texts(&by(
                "SELECT status || '=' || count(*) FROM invite_rs_invitations GROUP BY status ORDER BY status",
            ))
            .await;
        Summary {
            invitations: self.count("SELECT count(*) FROM invite_rs_invitations").await,
            statuses: statuses.join(" "),
            members: self.count("SELECT count(*) FROM members").await,
            events: self.count("SELECT count(*) FROM invite_rs_events").await,
            outbox_queued: self
                .count("SELECT count(*) FROM invite_rs_outbox WHERE state = 'queued'")
                .await,
            outbox_queued_leased: self
                .count("SELECT count(*) FROM invite_rs_outbox WHERE state = 'queued' AND claim IS NOT NULL")
                .await,
            outbox_delivered: self
                .count("SELECT count(*) FROM invite_rs_outbox WHERE state = 'delivered'")
                .await,
        }
    }

    /// The stored status of invitation `id`, if it exists.
    pub async fn status_of(&self, id: Uuid) -> Option<String> {
        const SQL: &str = "SELECT status FROM invite_rs_invitations WHERE id = $1";
        match self {
            Self::Sqlite(pool) => sqlx::query_scalar::<_, String>(SQL)
                .bind(id.as_bytes().to_vec())
                .fetch_optional(pool)
                .await
                .unwrap(),
            Self::Postgres(pool) => sqlx::query_scalar::<_, String>(SQL)
                .bind(id)
                .fetch_optional(pool)
                .await
                .unwrap(),
        }
    }

    /// Checks that every write the server acknowledged is in the database: each sent
    /// invitation exists, each accepted one is `accepted`, each rejected one `rejected`.
    /// Returns what is missing or wrong.
    pub async fn lost(&self, acked: &Acked) -> Vec<String> {
        let mut lost = Vec::new();
        for (ids, want) in [
            (&acked.sends, None),
            (&acked.accepts, Some("accepted")),
            (&acked.rejects, Some("rejected")),
        ] {
            for id in ids {
                match (self.status_of(*id).await, want) {
                    (None, _) => lost.push(format!("invitation {id} (answered 2xx) is missing")),
                    (Some(seen), Some(want)) if seen != want => {
                        lost.push(format!("invitation {id} was {want} (answered 200) but is {seen}"));
                    }
                    _ => {}
                }
            }
        }
        lost
    }
}

/// Counts of a demo database.
#[derive(Clone, Debug, Default)]
pub struct Summary {
    pub invitations: i64,
    pub statuses: String,
    pub members: i64,
    pub events: i64,
    pub outbox_queued: i64,
    pub outbox_queued_leased: i64,
    pub outbox_delivered: i64,
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} invitations ({}), {} members, {} events, outbox: {} delivered, {} queued ({} leased)",
            self.invitations,
            self.statuses,
            self.members,
            self.events,
            self.outbox_delivered,
            self.outbox_queued,
            self.outbox_queued_leased
        )
    }
}

// --- load ----------------------------------------------------------------------------------

/// The realistic mix with `clients` clients for `duration` against `target`.
pub fn load_config(target: &Target, clients: usize, duration: Duration) -> LoadConfig {
    let mut config = LoadConfig::new(target.clone());
    config.clients = clients;
    config.duration = duration;
    config.mix = Mix::REALISTIC;
    config.request_timeout = Duration::from_secs(10);
    config.ready_timeout = Duration::from_secs(30);
    config
}

/// Signs in as Alice: her session cookie and the id of Acme Robotics.
pub async fn sign_in_admin(target: &Target) -> (String, String) {
    let http = Http::new(target, Duration::from_secs(10));
    let reply = http
        .post("/login", None, body(&json!({ "contact": "alice@example.com" })))
        .await
        .unwrap();
    assert_eq!(reply.status, 200, "{}", text(&reply));
    let me = reply.json();
    let acme = me["memberships"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["enterprise_name"] == "Acme Robotics")
        .unwrap()["enterprise_id"]
        .as_str()
        .unwrap()
        .to_owned();
    (reply.cookie.unwrap(), acme)
}

pub fn body(value: &Value) -> Vec<u8> {
    serde_json::to_vec(value).unwrap()
}

pub fn text(reply: &Reply) -> String {
    String::from_utf8_lossy(&reply.body).chars().take(300).collect()
}

/// The token of the `invite_url` of a send's answer.
pub fn token_of(sent: &Value) -> Option<String> {
    let url = sent["invite_url"].as_str()?;
    url.split_once("token=").map(|(_, token)| token.to_owned())
}

// --- acknowledged writes -------------------------------------------------------------------

/// The writes the server acknowledged with a 2xx: invitation ids.
#[derive(Clone, Debug, Default)]
pub struct Acked {
    pub sends: Vec<Uuid>,
    pub accepts: Vec<Uuid>,
    pub rejects: Vec<Uuid>,
}

impl Acked {
    pub fn merge(&mut self, other: &Acked) {
        self.sends.extend(&other.sends);
        self.accepts.extend(&other.accepts);
        self.rejects.extend(&other.rejects);
    }

    pub fn total(&self) -> usize {
        self.sends.len() + self.accepts.len() + self.rejects.len()
    }
}

/// One answer (or its absence) the writer saw.
#[derive(Clone, Debug)]
pub struct Seen {
    /// When the request was sent.
    pub at: Instant,
    pub latency: Duration,
    pub step: &'static str,
    /// The status, 0 for no answer.
    pub status: u16,
    /// The error code of an error body, `(no JSON error body)` if a 4xx/5xx had none,
    /// or the kind of failure (`timeout`, `transport`) when nothing came back.
    pub code: String,
}

/// What a writer did: the writes acknowledged and every answer.
#[derive(Clone, Debug, Default)]
pub struct WriterLog {
    pub acked: Acked,
    pub seen: Vec<Seen>,
}

impl WriterLog {
    /// Answers by (step, status, code), for reports.
    pub fn tally(&self, window: impl Fn(&Seen) -> bool) -> BTreeMap<(String, u16, String), u64> {
        let mut tally = BTreeMap::new();
        for seen in self.seen.iter().filter(|s| window(s)) {
            *tally
                .entry((seen.step.to_owned(), seen.status, seen.code.clone()))
                .or_default() += 1;
        }
        tally
    }
}

/// How long a writer waits for one answer: longer than the 30 s a request of the demo can
/// wait for a PostgreSQL connection (sqlx's default `acquire_timeout`), so that a slow
/// answer is told apart from none.
pub const WRITER_TIMEOUT: Duration = Duration::from_secs(35);

/// A writer: until `stop`, registers an invitee (`<prefix>-<n>@example.com`), sends them
/// an invitation as the admin, and accepts it with their session (every fourth one
/// rejects), recording each 2xx as an acknowledged write and every answer. After a failed
/// step it waits 50 ms and starts over with the next invitee.
pub async fn write_until(
    target: Target,
    admin_cookie: String,
    enterprise: String,
    prefix: String,
    stop: Arc<AtomicBool>,
    acked_sends: Arc<AtomicU64>,
) -> WriterLog {
    let http = Http::new(&target, WRITER_TIMEOUT);
    let invitations = format!("/api/enterprises/{enterprise}/invitations");
    let mut log = WriterLog::default();
    let mut n = 0_u64;
    while !stop.load(Ordering::Relaxed) {
        n += 1;
        let contact = format!("{prefix}-{n}@example.com");
        let register = body(&json!({ "name": format!("Writer {n}"), "contact": contact }));
        let Some(reply) = step(&http, &mut log, "register", "/register", None, register).await else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let Some(invitee) = reply.cookie.filter(|_| reply.status == 200) else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let send = body(&json!({ "contact": contact, "role": "member" }));
        let Some(reply) = step(&http, &mut log, "send", &invitations, Some(&admin_cookie), send).await else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let sent = reply.json();
        let (Some(id), Some(token)) = (
            sent["id"].as_str().and_then(|id| Uuid::parse_str(id).ok()),
            token_of(&sent),
        ) else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        if reply.status == 201 {
            log.acked.sends.push(id);
            acked_sends.fetch_add(1, Ordering::Relaxed);
        }
        let rejecting = n.is_multiple_of(4);
        let (name, path) = if rejecting {
            ("reject", "/api/invitations/reject")
        } else {
            ("accept", "/api/invitations/accept")
        };
        let answer = body(&json!({ "token": token }));
        match step(&http, &mut log, name, path, Some(&invitee), answer).await {
            Some(reply) if reply.status == 200 && rejecting => log.acked.rejects.push(id),
            Some(reply) if reply.status == 200 => log.acked.accepts.push(id),
            _ => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
    log
}

/// Sends one step, records what came back, and gives the reply if it is a 2xx.
async fn step(
    http: &Http,
    log: &mut WriterLog,
    name: &'static str,
    path: &str,
    cookie: Option<&str>,
    payload: Vec<u8>,
) -> Option<Reply> {
    let at = Instant::now();
    let result = http.post(path, cookie, payload).await;
    let latency = at.elapsed();
    let (status, code) = match &result {
        Ok(reply) if reply.status < 400 => (reply.status, String::new()),
        Ok(reply) => (
            reply.status,
            reply
                .error_code()
                .unwrap_or_else(|| "(no JSON error body)".to_owned()),
        ),
        Err(err) => (0, err.label().to_owned()),
    };
    log.seen.push(Seen {
        at,
        latency,
        step: name,
        status,
        code,
    });
    result.ok().filter(|reply| (200..300).contains(&reply.status))
}

/// Starts `writers` writers against `target`, counting acknowledged sends in
/// `acked_sends`; stop them with the flag and join the handles.
pub fn start_writers(
    target: &Target,
    admin_cookie: &str,
    enterprise: &str,
    label: &str,
    writers: usize,
    stop: &Arc<AtomicBool>,
    acked_sends: &Arc<AtomicU64>,
) -> Vec<tokio::task::JoinHandle<WriterLog>> {
    (0..writers)
        .map(|w| {
            tokio::spawn(write_until(
                target.clone(),
                admin_cookie.to_owned(),
                enterprise.to_owned(),
                format!("writer-{label}-{w}-{}", invite_loadgen::load::new_run_id()),
                stop.clone(),
                acked_sends.clone(),
            ))
        })
        .collect()
}

/// Joins writers into one log.
pub async fn join_writers(handles: Vec<tokio::task::JoinHandle<WriterLog>>) -> WriterLog {
    let mut all = WriterLog::default();
    for handle in handles {
        let log = handle.await.unwrap();
        all.acked.merge(&log.acked);
        all.seen.extend(log.seen);
    }
    all
}

/// Waits until the load run `run_id` has finished its set-up (its last seeded invitation,
/// to `load-<run>-s7@example.com`, is in the database): from then on its clients run.
pub async fn wait_for_load(db: &Db, run_id: &str) -> bool {
    // The run id is 8 hex digits of our own: safe in SQL.
    assert!(run_id.chars().all(|c| c.is_ascii_hexdigit()));
    let sql = format!(
        "SELECT count(*) FROM invite_rs_invitations WHERE contact_normalized = 'load-{run_id}-s7@example.com'"
    );
    wait_until(Duration::from_secs(60), || async { db.count(&sql).await > 0 }).await
}

/// Polls `check` every 100 ms until it holds or `limit` passes; whether it held.
pub async fn wait_until<F, Fut>(limit: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + limit;
    loop {
        if check().await {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
