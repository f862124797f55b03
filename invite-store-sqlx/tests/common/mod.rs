//! Real databases for the tests: a fresh SQLite file in a temp dir, or a fresh PostgreSQL
//! database per test on the server named by `INVITE_TEST_POSTGRES_URL`. Never mocks,
//! never a shared database.

#![allow(dead_code)]

use std::io::Write as _;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sqlx::postgres::PgConnectOptions;
use sqlx::{AssertSqlSafe, Connection, PgConnection};

pub mod cases;
pub mod faults;
pub mod fixtures;

pub use fixtures::*;

/// The variable that names the PostgreSQL server for the tests.
pub const PG_ENV: &str = "INVITE_TEST_POSTGRES_URL";

/// Test databases older than this are left-overs of earlier runs and are removed.
const STALE_AFTER: Duration = Duration::from_secs(15 * 60);

fn unix_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn fresh_name() -> String {
    let random = uuid::Uuid::new_v4().simple().to_string();
    format!("invite_test_{}_{}", unix_secs(), &random[..12])
}

/// Whether a name written by [`fresh_name`] is older than [`STALE_AFTER`].
fn is_stale(name: &str) -> bool {
    let secs = name
        .strip_prefix("invite_test_")
        .and_then(|rest| rest.split('_').next())
        .and_then(|secs| secs.parse::<u64>().ok());
    secs.is_some_and(|secs| unix_secs().saturating_sub(secs) > STALE_AFTER.as_secs())
}

// --- SQLite ----------------------------------------------------------------------------

fn sqlite_root() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("invite-store-sqlx")
}

/// The URL of a new SQLite file (not yet created) in its own directory.
pub fn sqlite_url() -> String {
    static CLEANED: AtomicBool = AtomicBool::new(false);
    let root = sqlite_root();
    if !CLEANED.swap(true, Ordering::SeqCst)
        && let Ok(entries) = std::fs::read_dir(&root)
    {
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if is_stale(&name) {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
    }
    let dir = root.join(fresh_name());
    std::fs::create_dir_all(&dir).expect("create the test directory");
    format!("sqlite://{}?mode=rwc", dir.join("invite.db").display())
}

// --- PostgreSQL ------------------------------------------------------------------------

/// The server URL, or `None` (said on stderr) when the PostgreSQL suite is not to run.
pub fn pg_url() -> Option<String> {
    match std::env::var(PG_ENV) {
        Ok(url) if !url.trim().is_empty() => Some(url),
        _ => {
            static SAID: AtomicBool = AtomicBool::new(false);
            if !SAID.swap(true, Ordering::SeqCst) {
                // Straight to the process's stderr, past the test harness's capture, so
                // that a passing run still says what it did not test.
                let _ = writeln!(
                    std::io::stderr(),
                    "invite-store-sqlx: {PG_ENV} is not set: the PostgreSQL suite was NOT run \
                     (set it, e.g. postgres://postgres@127.0.0.1:5432/test)"
                );
            }
            None
        }
    }
}

/// Creates a new database on the server and returns options that point at it. Panics
/// (fails the test loudly) when the server cannot be reached.
pub async fn pg_fresh_database(url: &str) -> PgConnectOptions {
    let options = PgConnectOptions::from_str(url)
        .unwrap_or_else(|err| panic!("{PG_ENV} is not a valid PostgreSQL URL: {err}"));
    let mut admin = PgConnection::connect_with(&options)
        .await
        .unwrap_or_else(|err| panic!("{PG_ENV} is set but the PostgreSQL server is unreachable: {err}"));
    static CLEANED: AtomicBool = AtomicBool::new(false);
    if !CLEANED.swap(true, Ordering::SeqCst) {
        let names: Vec<String> =
            sqlx::query_scalar("SELECT datname FROM pg_database WHERE datname LIKE 'invite\\_test\\_%'")
                .fetch_all(&mut admin)
                .await
                .unwrap_or_default();
        for name in names.into_iter().filter(|n| is_stale(n)) {
            let drop = format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)");
            let _ = sqlx::raw_sql(AssertSqlSafe(drop)).execute(&mut admin).await;
        }
    }
    let name = fresh_name();
    sqlx::raw_sql(AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
        .execute(&mut admin)
        .await
        .unwrap_or_else(|err| panic!("CREATE DATABASE {name}: {err}"));
    let _ = admin.close().await;
    options.database(&name)
}
