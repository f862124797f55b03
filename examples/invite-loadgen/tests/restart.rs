//! Restart (issue #12, rule X7): the real `invite-demo` is killed with SIGKILL in the
//! middle of a load run, then started again on the same database, round after round, on a
//! SQLite file and on PostgreSQL (`INVITE_TEST_POSTGRES_URL`; without it that half says
//! `NOT RUN` and passes, as every PostgreSQL suite does).
//!
//! Each round: the realistic mix of `invite-loadgen` (8 clients) and two writers that
//! record every write the server acknowledged (register, send 201, accept or reject 200);
//! SIGKILL 0–2 s after the writers' fourth acknowledged send and the end of the load's
//! set-up (the point moves from round to round); then, on the database exactly as the
//! crash left it, the invariants of `common::Db::violations` (rules A5, A6, S7, X5, D1,
//! D2, D4) and no acknowledged write lost; then a restart on the same database, 2 s of the
//! mix that must be clean (every request its expected answer), and the invariants again. At the end, every outbox row the killed processes had not leased is
//! delivered by the last server (rule D1: nothing lost; a leased row waits for its lease).
//!
//! 3 rounds per backend by default; `INVITE_RESTART_ROUNDS=20` for the long run whose
//! figures are in `docs/RELIABILITY.md`.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use common::{Db, Demo, DemoConfig, PgDatabase};
use invite_loadgen::run_load;

/// Rounds per backend: `INVITE_RESTART_ROUNDS`, else 3.
fn rounds() -> u32 {
    std::env::var("INVITE_RESTART_ROUNDS")
        .ok()
        .map(|v| v.parse().expect("INVITE_RESTART_ROUNDS is a number"))
        .unwrap_or(3)
}

/// The demo's worker claims at most this many outbox rows a round (`WorkerConfig::default`),
/// so a killed process leaves at most this many rows leased.
const CLAIM_BATCH: i64 = 32;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_mid_load_leaves_a_consistent_sqlite_database() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("demo.sqlite").display());
    kill_and_restart("sqlite", &url, dir.path()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_mid_load_leaves_a_consistent_postgres_database() {
    let Some(admin) =
        common::postgres_admin_url("restart::sigkill_mid_load_leaves_a_consistent_postgres_database")
    else {
        return;
    };
    let pg = PgDatabase::create(&admin).await;
    let dir = tempfile::tempdir().unwrap();
    kill_and_restart("postgres", &pg.url, dir.path()).await;
    pg.remove().await;
}

async fn kill_and_restart(backend: &str, url: &str, dir: &std::path::Path) {
    let rounds = rounds();
    let config = DemoConfig::for_load(url, dir);
    let mut demo = Demo::start(&config).await;
    let db = Db::open(url).await;
    let started = Instant::now();
    let mut acked_total = common::Acked::default();
    let mut cut_off = 0_usize;
    let mut clean_requests = 0_u64;
    for round in 1..=rounds {
        let (admin, acme) = common::sign_in_admin(&demo.target).await;
        let stop = Arc::new(AtomicBool::new(false));
        let acked = Arc::new(AtomicU64::new(0));
        let writers = common::start_writers(&demo.target, &admin, &acme, backend, 2, &stop, &acked);
        let load_config = common::load_config(&demo.target, 8, Duration::from_secs(60));
        let run_id = load_config.run_id.clone();
        let load = tokio::spawn(async move { run_load(&load_config).await });

        // Once the writers have had a few sends acknowledged and the load has finished its
        // set-up, kill 0 to 2 s later, a different point each round.
        let load_started = Instant::now();
        let writing = common::wait_until(Duration::from_secs(30), || async {
            acked.load(Ordering::Relaxed) >= 4
        })
        .await;
        assert!(
            writing,
            "{backend} round {round}: the writers got nothing acknowledged"
        );
        assert!(
            common::wait_for_load(&db, &run_id).await,
            "{backend} round {round}: the load never started"
        );
        tokio::time::sleep(Duration::from_millis(u64::from(round * 733 % 2000))).await;
        let kill_after = load_started.elapsed();
        assert!(
            !load.is_finished(),
            "the load stopped before the kill: {:?}",
            load.await
        );
        let status = demo.kill9();
        assert!(common::killed_by_sigkill(status), "{status}");
        stop.store(true, Ordering::Relaxed);
        load.abort();
        let _ = load.await;
        let log = common::join_writers(writers).await;
        let killed_requests = log.seen.iter().filter(|s| s.status == 0).count();
        cut_off += killed_requests;

        // The database exactly as the crash left it.
        let violations = db.violations().await;
        assert!(
            violations.is_empty(),
            "{backend} round {round}: after SIGKILL:\n{}\n{}",
            violations.join("\n"),
            demo.log_tail()
        );
        let lost = db.lost(&log.acked).await;
        assert!(lost.is_empty(), "{backend} round {round}: {}", lost.join("\n"));
        assert!(
            !log.acked.sends.is_empty(),
            "{backend} round {round}: no write was acknowledged before the kill"
        );
        acked_total.merge(&log.acked);

        // Started again on the same database, it serves the mix cleanly.
        demo = Demo::start(&config).await;
        let after = run_load(&common::load_config(&demo.target, 4, Duration::from_secs(2)))
            .await
            .unwrap();
        assert!(
            after.is_clean(),
            "{backend} round {round}: after the restart:\n{}\n{}",
            after.render(),
            demo.log_tail()
        );
        clean_requests += after.overall.count;
        let violations = db.violations().await;
        assert!(
            violations.is_empty(),
            "{backend} round {round}: after the restart:\n{}",
            violations.join("\n")
        );
        eprintln!(
            "restart {backend} round {round}: SIGKILL after {kill_after:?} (acknowledged {} sends, {} accepts, {} rejects; \
             {killed_requests} writer requests cut off), restarted: {} requests, all expected; {}",
            log.acked.sends.len(),
            log.acked.accepts.len(),
            log.acked.rejects.len(),
            after.overall.count,
            db.summary().await
        );
    }

    // Rule D1: what the killed processes queued but had not claimed is delivered by the
    // running server; rows claimed by a killed process wait for their lease (5 min).
    let delivered = common::wait_until(Duration::from_secs(30), || async {
        db.count("SELECT count(*) FROM invite_rs_outbox WHERE state = 'queued' AND claim IS NULL")
            .await
            == 0
    })
    .await;
    let summary = db.summary().await;
    assert!(
        delivered,
        "{backend}: unclaimed outbox rows stay queued: {summary}"
    );
    assert!(
        summary.outbox_queued_leased <= CLAIM_BATCH * i64::from(rounds),
        "{backend}: more rows leased than the killed workers can have claimed: {summary}"
    );
    let lost = db.lost(&acked_total).await;
    assert!(lost.is_empty(), "{backend}: {}", lost.join("\n"));
    assert!(db.violations().await.is_empty());
    eprintln!(
        "RESULT restart {backend}: {rounds} SIGKILLs mid-load in {:.0} s; acknowledged before the kills: {} sends, \
         {} accepts, {} rejects, none lost; {cut_off} writer requests cut off by the kills; invariant violations: 0 \
         after each kill and each restart; after each restart the mix ran clean ({clean_requests} requests); \
         outbox rows left leased by killed processes: {}; {summary}",
        started.elapsed().as_secs_f64(),
        acked_total.sends.len(),
        acked_total.accepts.len(),
        acked_total.rejects.len(),
        summary.outbox_queued_leased,
    );
    drop(demo);
    db.close().await;
}

/// The invariant checks are not vacuous: after a short load, each kind of damage a crash
/// could do is made by hand, and the check for it must report it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_invariant_checks_find_each_kind_of_damage() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("demo.sqlite").display());
    find_damage(&url, dir.path()).await;
    if let Some(admin) = common::postgres_admin_url("restart::the_invariant_checks_find_each_kind_of_damage")
    {
        let pg = PgDatabase::create(&admin).await;
        let dir = tempfile::tempdir().unwrap();
        find_damage(&pg.url, dir.path()).await;
        pg.remove().await;
    }
}

async fn find_damage(url: &str, dir: &std::path::Path) {
    let mut demo = Demo::start(&DemoConfig::for_load(url, dir)).await;
    let report = run_load(&common::load_config(&demo.target, 4, Duration::from_secs(2)))
        .await
        .unwrap();
    assert!(report.is_clean(), "{}", report.render());
    // Let the outbox deliver what the load queued, so that `delivered` rows exist.
    tokio::time::sleep(Duration::from_millis(500)).await;
    demo.kill9();
    let db = Db::open(url).await;
    assert_eq!(db.violations().await, Vec::<String>::new());
    let summary = db.summary().await;
    assert!(summary.outbox_delivered > 0 && summary.members > 3, "{summary}");

    let sqlite = matches!(db, Db::Sqlite(_));
    let random_digest = if sqlite {
        "randomblob(32)"
    } else {
        "sha256(gen_random_uuid()::text::bytea)"
    };
    let damage = [
        (
            "A5: accepted invitation",
            "DELETE FROM members WHERE user_id = (SELECT user_id FROM members \
             WHERE role <> 'super_admin' ORDER BY user_id LIMIT 1)"
                .to_owned(),
        ),
        (
            "A5: membership of",
            "INSERT INTO members (enterprise_id, user_id, role) SELECT e.id, u.id, 'member' \
             FROM enterprises e, users u WHERE e.name = 'Acme Robotics' AND u.email_normalized = 'bob@example.com'"
                .to_owned(),
        ),
        (
            "S7: 2 pending invitations",
            "DROP INDEX invite_rs_invitations_pending_contact; \
             UPDATE invite_rs_invitations SET contact_normalized = 'twice@example.com' WHERE id IN \
             (SELECT id FROM invite_rs_invitations WHERE status = 'pending' ORDER BY id LIMIT 2)"
                .to_owned(),
        ),
        (
            "X5: invitation",
            "DELETE FROM invite_rs_events WHERE id = (SELECT min(id) FROM invite_rs_events WHERE kind = 'sent')"
                .to_owned(),
        ),
        (
            "X5: event",
            "INSERT INTO invite_rs_events (invitation_id, enterprise_id, kind, actor, at) \
             SELECT outbox.id, outbox.enterprise_id, 'sent', NULL, outbox.queued_at \
             FROM invite_rs_outbox outbox ORDER BY outbox.id LIMIT 1"
                .to_owned(),
        ),
        (
            "D1: invitation",
            "UPDATE invite_rs_invitations SET delivery = 'queued' WHERE id = (SELECT id FROM invite_rs_invitations \
             WHERE status = 'pending' AND delivery = 'delivered' ORDER BY id LIMIT 1)"
                .to_owned(),
        ),
        (
            "D2: queued outbox row",
            format!(
                "UPDATE invite_rs_outbox SET state = 'queued', link_sealed = token_digest, finished_at = NULL, \
                 token_digest = {random_digest} WHERE id = (SELECT o.id FROM invite_rs_outbox o \
                 JOIN invite_rs_invitations i ON i.id = o.invitation_id \
                 WHERE i.status = 'accepted' AND o.state = 'delivered' ORDER BY o.id LIMIT 1)"
            ),
        ),
    ];
    for (expected, sql) in damage {
        for statement in sql.split("; ") {
            db.execute(statement).await;
        }
        let found = db.violations().await;
        assert!(
            found.iter().any(|v| v.starts_with(expected)),
            "{} after `{sql}`: {found:#?}",
            db.backend()
        );
    }
    // D4 is also a CHECK of the outbox table: the database itself refuses the damage.
    db.close().await;
}
