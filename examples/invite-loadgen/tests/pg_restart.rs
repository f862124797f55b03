//! PostgreSQL restarted in the middle of a load run (issue #12): the demo server rides it
//! out without a restart of its own and loses nothing it acknowledged.
//!
//! The test makes a private PostgreSQL instance of its own — `initdb` into a temporary
//! directory and `pg_ctl start` on a free port, as the `postgres` OS user when run as
//! root — never the shared server other suites use. It starts `invite-demo` on it, runs
//! the realistic mix (8 clients) and two writers that record every acknowledged write,
//! and once writes are being acknowledged (plus 1 s) stops PostgreSQL with
//! `pg_ctl stop -m immediate` (no shutdown checkpoint: a crash, recovered from the WAL at
//! the next start), keeps it down for 2 s, and starts it again. Then:
//!
//! - the demo process is the same one, still running;
//! - every write acknowledged before, during and after the outage is in the database,
//!   and the invariants of rule X7 hold (`common::Db::violations`);
//! - once PostgreSQL is back, the demo serves the mix cleanly (4 clients, 3 s);
//! - every request got an answer (within 35 s, above the 30 s a request may wait for a
//!   connection), every error with the API's JSON error body, and no error outside the
//!   outage (before the stop, or sent from 10 s after PostgreSQL was ready);
//! - during the outage every error was a 5xx: the server's failure, never an answer that
//!   blames the client or takes it for signed out (a 4xx such as 401 `not_authenticated`,
//!   or a view answered 200 with `viewer: signed_out` for a signed-in invitee).
//!
//! It prints a timeline of the writers' errors and slow answers, and what the load got.
//! It runs with the PostgreSQL suites (`INVITE_TEST_POSTGRES_URL` set, which says this
//! machine has PostgreSQL; the binaries are found under `/usr/lib/postgresql/*/bin`, or
//! in `INVITE_TEST_PG_BIN`) and fails loudly when they cannot be found.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use common::{Db, Demo, DemoConfig};
use invite_loadgen::run_load;

/// A PostgreSQL instance of this test's own: stopped (immediately) and its directory
/// deleted when dropped, whatever happened.
struct PrivatePg {
    dir: tempfile::TempDir,
    bin: PathBuf,
    port: u16,
    as_postgres: bool,
}

impl PrivatePg {
    /// `initdb` and `pg_ctl start` on a free port, listening on 127.0.0.1 only, trust
    /// authentication for `postgres`.
    fn start() -> Self {
        let bin = pg_bin();
        let as_postgres = running_as_root();
        let dir = tempfile::Builder::new().prefix("invite-pg-").tempdir().unwrap();
        if as_postgres {
            // initdb refuses to run as root; the directory becomes the postgres user's.
            run(Command::new("chown").arg("postgres:postgres").arg(dir.path()));
        }
        let pg = Self {
            dir,
            bin,
            port: common::free_port(),
            as_postgres,
        };
        let data = pg.data();
        pg.run_pg(
            "initdb",
            &[
                "-D",
                path(&data),
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-sync",
            ],
        );
        pg.start_server();
        pg
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }

    fn start_server(&self) {
        let options = format!(
            "-p {} -c listen_addresses=127.0.0.1 -c unix_socket_directories={}",
            self.port,
            self.dir.path().display()
        );
        let log = self.dir.path().join("postgres.log");
        self.run_pg(
            "pg_ctl",
            &[
                "start",
                "-w",
                "-t",
                "60",
                "-D",
                path(&self.data()),
                "-l",
                path(&log),
                "-o",
                &options,
            ],
        );
    }

    /// `pg_ctl stop -m immediate`: every backend killed, no checkpoint; the next start
    /// recovers from the WAL as after a crash.
    fn stop_immediately(&self) {
        self.run_pg(
            "pg_ctl",
            &[
                "stop",
                "-w",
                "-t",
                "60",
                "-m",
                "immediate",
                "-D",
                path(&self.data()),
            ],
        );
    }

    /// Runs one of PostgreSQL's programs (as the postgres user when this test is root),
    /// its output into `pg_ctl.out`; panics with that output if it fails.
    fn run_pg(&self, program: &str, args: &[&str]) {
        let program = self.bin.join(program);
        let mut command = if self.as_postgres {
            let mut command = Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(&program);
            command
        } else {
            Command::new(&program)
        };
        let out_path = self.dir.path().join("pg_ctl.out");
        let out = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&out_path)
            .unwrap();
        command
            .args(args)
            .current_dir(self.dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::from(out.try_clone().unwrap()))
            .stderr(Stdio::from(out));
        let status = command
            .status()
            .unwrap_or_else(|err| panic!("{}: {err}", program.display()));
        if !status.success() {
            let output = std::fs::read_to_string(&out_path).unwrap_or_default();
            let log = std::fs::read_to_string(self.dir.path().join("postgres.log")).unwrap_or_default();
            panic!("{} {args:?}: {status}\n{output}\n{log}", program.display());
        }
    }
}

impl Drop for PrivatePg {
    fn drop(&mut self) {
        if self.data().join("postmaster.pid").exists() {
            let mut command = if self.as_postgres {
                let mut command = Command::new("runuser");
                command
                    .args(["-u", "postgres", "--"])
                    .arg(self.bin.join("pg_ctl"));
                command
            } else {
                Command::new(self.bin.join("pg_ctl"))
            };
            let _ = command
                .args(["stop", "-w", "-m", "immediate", "-D"])
                .arg(self.data())
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
        // The TempDir removes the directory (root may delete the postgres user's files;
        // otherwise they are this user's own).
    }
}

/// `at - reference` in seconds, negative when `at` is earlier.
fn signed_secs(at: Instant, reference: Instant) -> f64 {
    if at >= reference {
        (at - reference).as_secs_f64()
    } else {
        -(reference - at).as_secs_f64()
    }
}

fn path(p: &Path) -> &str {
    p.to_str().expect("a UTF-8 path")
}

fn run(command: &mut Command) {
    let status = command.status().unwrap();
    assert!(status.success(), "{command:?}: {status}");
}

/// The directory of `initdb` and `pg_ctl`: `INVITE_TEST_PG_BIN`, else the newest
/// `/usr/lib/postgresql/<version>/bin`.
fn pg_bin() -> PathBuf {
    if let Some(dir) = std::env::var_os("INVITE_TEST_PG_BIN") {
        return PathBuf::from(dir);
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = entry.path().join("bin");
            bin.join("initdb").is_file().then_some((version, bin))
        })
        .collect();
    versions.sort();
    versions
        .pop()
        .map(|(_, bin)| bin)
        .expect("no PostgreSQL binaries: install postgresql (initdb, pg_ctl) or set INVITE_TEST_PG_BIN")
}

fn running_as_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            let line = status.lines().find(|l| l.starts_with("Uid:"))?.to_owned();
            Some(line.split_whitespace().nth(2)? == "0")
        })
        .unwrap_or(false)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_rides_out_a_postgres_restart_mid_load_and_loses_nothing_acknowledged() {
    if common::postgres_admin_url("pg_restart::the_demo_rides_out_a_postgres_restart_mid_load").is_none() {
        return;
    }
    let pg = Arc::new(tokio::task::spawn_blocking(PrivatePg::start).await.unwrap());
    {
        use sqlx::Connection as _;
        let mut admin = sqlx::PgConnection::connect(&pg.url("postgres")).await.unwrap();
        sqlx::query("CREATE DATABASE invite")
            .execute(&mut admin)
            .await
            .unwrap();
        admin.close().await.unwrap();
    }
    let url = pg.url("invite");
    let dir = tempfile::tempdir().unwrap();
    let mut demo = Demo::start(&DemoConfig::for_load(&url, dir.path())).await;
    let pid = demo.pid;
    let (admin, acme) = common::sign_in_admin(&demo.target).await;

    let stop = Arc::new(AtomicBool::new(false));
    let acked = Arc::new(AtomicU64::new(0));
    let writers = common::start_writers(&demo.target, &admin, &acme, "pg", 2, &stop, &acked);
    let mut load_config = common::load_config(&demo.target, 8, Duration::from_secs(12));
    load_config.request_timeout = common::WRITER_TIMEOUT;
    let run_id = load_config.run_id.clone();
    let load = tokio::spawn(async move { run_load(&load_config).await });
    let db = Db::open(&url).await;

    // Stop PostgreSQL once writes are being acknowledged and the load is under way.
    let writing = common::wait_until(Duration::from_secs(30), || async {
        acked.load(Ordering::Relaxed) >= 4
    })
    .await;
    assert!(writing, "the writers got nothing acknowledged");
    assert!(
        common::wait_for_load(&db, &run_id).await,
        "the load never started"
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    let down_at = Instant::now();
    {
        let pg = pg.clone();
        tokio::task::spawn_blocking(move || pg.stop_immediately())
            .await
            .unwrap();
    }
    let stopped_in = down_at.elapsed();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let start_at = Instant::now();
    {
        let pg = pg.clone();
        tokio::task::spawn_blocking(move || pg.start_server())
            .await
            .unwrap();
    }
    let up_at = Instant::now();
    let alive_when_up = demo.alive();

    let load_report = load.await.unwrap().expect("the load ran");
    // The writers go on until the load has ended, at least 8 s after PostgreSQL is back.
    stop.store(true, Ordering::Relaxed);
    let log = common::join_writers(writers).await;
    let alive_after_load = demo.alive();

    // Back to clean, in the same process.
    let after = run_load(&common::load_config(&demo.target, 4, Duration::from_secs(3)))
        .await
        .unwrap();

    let lost = db.lost(&log.acked).await;
    let violations = db.violations().await;
    let summary = db.summary().await;
    db.close().await;

    // What happened, whatever the verdict.
    let t = |at: Instant| signed_secs(at, down_at);
    let line = |s: &common::Seen| {
        format!(
            "  {:>8} sent at {:+7.3} s, answered {:+7.3} s ({:.3} s): {} {}",
            s.step,
            t(s.at),
            t(s.at + s.latency),
            s.latency.as_secs_f64(),
            s.status,
            s.code
        )
    };
    let notable: Vec<String> = log
        .seen
        .iter()
        .filter(|s| s.status >= 400 || s.status == 0 || s.latency > Duration::from_millis(500))
        .map(line)
        .collect();
    let first_ok_after = log
        .seen
        .iter()
        .filter(|s| s.at + s.latency >= up_at && s.status > 0 && s.status < 400)
        .map(|s| t(s.at + s.latency))
        .reduce(f64::min);
    let slowest = log.seen.iter().map(|s| s.latency).max().unwrap_or_default();
    let acked_before = log
        .seen
        .iter()
        .filter(|s| s.at + s.latency < down_at && s.status > 0 && s.status < 300)
        .count();
    let mut load_errors: BTreeMap<String, u64> = BTreeMap::new();
    for code in load_report.codes.iter().filter(|c| !c.expected) {
        *load_errors
            .entry(format!("{} {} {}", code.op, code.status, code.code))
            .or_default() += code.count;
    }
    eprintln!(
        "RESULT pg_restart: PostgreSQL (private instance) stopped with -m immediate at 0 s (took {:.3} s), \
         started at {:+.3} s, ready at {:+.3} s; the demo (pid {pid}) alive when PostgreSQL was up: {alive_when_up}, \
         after the load: {alive_after_load}; first writer success once ready at {first_ok_after:?} s \
         (from the stop); slowest writer answer {:.3} s; load (12 s, 8 clients, {} requests) errors: {load_errors:?}; \
         load max latency {:.3} s; acknowledged writes: {} sends, {} accepts, {} rejects ({acked_before} before the \
         stop); lost: {}; invariant violations: {}; after: {} requests, clean: {}; {summary}\n\
         writer answers that were errors or slower than 0.5 s (time from the stop):\n{}",
        stopped_in.as_secs_f64(),
        t(start_at),
        t(up_at),
        slowest.as_secs_f64(),
        load_report.overall.count,
        load_report.overall.max_us as f64 / 1e6,
        log.acked.sends.len(),
        log.acked.accepts.len(),
        log.acked.rejects.len(),
        lost.len(),
        violations.len(),
        after.overall.count,
        after.is_clean(),
        notable.join("\n"),
    );

    // The verdict.
    assert!(
        alive_when_up && alive_after_load && demo.alive(),
        "the demo died:\n{}",
        demo.log_tail()
    );
    assert_eq!(demo.pid, pid);
    assert!(lost.is_empty(), "acknowledged writes lost:\n{}", lost.join("\n"));
    assert!(acked_before > 0, "nothing was acknowledged before the stop");
    assert!(violations.is_empty(), "{}", violations.join("\n"));
    assert!(
        after.is_clean(),
        "after PostgreSQL came back:\n{}",
        after.render()
    );
    // Every request was answered (within 35 s), every error with the API's JSON error body.
    assert!(
        log.seen.iter().all(|s| s.status != 0),
        "writer requests got no answer within {:?}",
        common::WRITER_TIMEOUT
    );
    let no_body: Vec<String> = log
        .seen
        .iter()
        .filter(|s| s.status >= 400 && s.code == "(no JSON error body)")
        .map(line)
        .collect();
    assert!(
        no_body.is_empty(),
        "errors without the JSON error body:\n{}",
        no_body.join("\n")
    );
    let unanswered: Vec<_> = load_report
        .codes
        .iter()
        .filter(|c| !c.expected && (c.status == 0 || c.code == "(no error code)"))
        .collect();
    assert!(
        unanswered.is_empty(),
        "the load got no answer, or an error without the API's error body: {unanswered:?}\n{}",
        load_report.render()
    );
    // Outside the outage (before the stop, and from 10 s after PostgreSQL was up), only
    // expected answers.
    let outside: Vec<String> = log
        .seen
        .iter()
        .filter(|s| (s.at + s.latency < down_at || s.at > up_at + Duration::from_secs(10)) && s.status >= 400)
        .map(line)
        .collect();
    assert!(
        outside.is_empty(),
        "errors outside the outage:\n{}",
        outside.join("\n")
    );
    // The database being down is the server's failure, answered 500/503 `internal`: never a
    // refusal that blames the client, such as 401 `not_authenticated` for a signed-in user
    // whose session could not be read, and never a 200 that shows a signed-in invitee the
    // page as signed out (`viewer: signed_out`).
    let not_5xx: Vec<String> = log
        .seen
        .iter()
        .filter(|s| (400..500).contains(&s.status))
        .map(line)
        .collect();
    let load_not_5xx: Vec<_> = load_report
        .codes
        .iter()
        .filter(|c| !c.expected && c.status < 500)
        .collect();
    assert!(
        not_5xx.is_empty() && load_not_5xx.is_empty(),
        "during the PostgreSQL outage the demo answered as if the client were at fault or signed out \
         (the session lookup failed and was taken for no session):\nwriters:\n{}\nload: {load_not_5xx:?}",
        not_5xx.join("\n")
    );
    drop(demo);
    drop(pg);
}
