//! Benchmarks of invite-rs live in `benches/benches/`; this library holds the set-up they
//! share.

use std::str::FromStr as _;

use sqlx::postgres::PgConnectOptions;
use sqlx::{AssertSqlSafe, Connection as _, PgConnection};

/// The variable that names the PostgreSQL server the benches measure on.
pub const PG_ENV: &str = "INVITE_TEST_POSTGRES_URL";

/// A fresh database `invite_bench_<tag>` (dropped first if an earlier run left it) on the
/// server of [`PG_ENV`], or `None` when the variable is not set.
///
/// # Panics
/// When the variable is set but the server cannot be reached or the database made: a
/// bench asked to measure PostgreSQL must not quietly measure nothing.
#[allow(clippy::expect_used)] // set-up of a bench: failing loudly is the point
pub async fn pg_database(tag: &str) -> Option<PgConnectOptions> {
    let url = std::env::var(PG_ENV).ok()?;
    let options = PgConnectOptions::from_str(&url).expect("INVITE_TEST_POSTGRES_URL is a PostgreSQL URL");
    let mut admin = PgConnection::connect_with(&options)
        .await
        .expect("the PostgreSQL server of INVITE_TEST_POSTGRES_URL answers");
    let name = format!("invite_bench_{tag}");
    sqlx::raw_sql(AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
    )))
    .execute(&mut admin)
    .await
    .expect("drop the bench database");
    sqlx::raw_sql(AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut admin)
        .await
        .expect("create the bench database");
    Some(options.database(&name))
}

/// The `q`-quantile of `values` (nearest rank); `NaN` for no values.
#[must_use]
pub fn quantile(values: &[f64], q: f64) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    if sorted.is_empty() {
        return f64::NAN;
    }
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss
    )]
    let rank = ((sorted.len() - 1) as f64 * q).round() as usize;
    sorted[rank]
}

/// The budget an opt-in interleaved measurement is given by the environment variable
/// `name` (seconds, e.g. `INVITE_BENCH_PAIRED=60`); `None` when it is unset or not a
/// non-negative number, and the measurement is skipped.
#[must_use]
pub fn env_seconds(name: &str) -> Option<std::time::Duration> {
    let seconds: f64 = std::env::var(name).ok()?.trim().parse().ok()?;
    std::time::Duration::try_from_secs_f64(seconds).ok()
}

/// `values` in microseconds.
#[must_use]
pub fn micros(values: &[std::time::Duration]) -> Vec<f64> {
    values.iter().map(|d| d.as_secs_f64() * 1e6).collect()
}

/// The host's role name of a library role name, as `examples/embed-host-schema` maps them
/// (the hand-written sides of the benches write the host's names themselves).
#[must_use]
pub fn host_role(role: &str) -> &'static str {
    match role {
        "super_admin" => "owner",
        "finance_admin" => "billing",
        "dev_admin" => "developer",
        _ => "member",
    }
}
