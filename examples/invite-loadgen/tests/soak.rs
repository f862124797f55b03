//! Soak (issue #12): the load generator's realistic mix against the real `invite-demo`
//! (a fresh SQLite file, both rate limits off, 16 clients) for `INVITE_SOAK_SECONDS`
//! (default 20 s, so that CI runs a short one; 300 for the 5-minute soak whose figures are
//! in `docs/RELIABILITY.md`). `INVITE_SOAK_BACKEND=postgres` runs it on a fresh database of
//! the PostgreSQL server `INVITE_TEST_POSTGRES_URL` names instead.
//!
//! Asserted: zero 5xx, zero unexpected codes and no unanswered request in every window
//! (`Report::is_clean`: each request got the answer its operation expects). With at least
//! 3 minutes, also a flat memory: the mean resident size (`VmRSS`, sampled every second)
//! of the last whole minute is within 10 % of the second minute's (the first minute is
//! the warm-up: pools, caches and the allocator's arenas fill). A run of 2 minutes or more
//! is made of 1-minute windows, each a `run_load` of its own (a fresh run id: new accounts
//! and invitations, over the same growing database), so the figures are per minute.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::{Db, Demo, DemoConfig, PgDatabase};
use invite_loadgen::run_load;

/// `INVITE_SOAK_SECONDS`, else 20.
fn soak_seconds() -> u64 {
    std::env::var("INVITE_SOAK_SECONDS")
        .ok()
        .map(|v| v.parse().expect("INVITE_SOAK_SECONDS is a number of seconds"))
        .unwrap_or(20)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_holds_the_realistic_mix_with_flat_memory() {
    let seconds = soak_seconds();
    assert!(seconds >= 5, "INVITE_SOAK_SECONDS must be at least 5");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("demo.sqlite");
    let postgres = std::env::var("INVITE_SOAK_BACKEND").is_ok_and(|b| b == "postgres");
    let pg = if postgres {
        let admin = std::env::var("INVITE_TEST_POSTGRES_URL")
            .expect("INVITE_SOAK_BACKEND=postgres needs INVITE_TEST_POSTGRES_URL");
        Some(PgDatabase::create(&admin).await)
    } else {
        None
    };
    let url = match &pg {
        Some(pg) => pg.url.clone(),
        None => format!("sqlite://{}?mode=rwc", file.display()),
    };
    let mut demo = Demo::start(&DemoConfig::for_load(&url, dir.path())).await;
    let pid = demo.pid;

    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let sampler = {
        let stop = stop.clone();
        tokio::spawn(async move {
            let mut samples = Vec::new();
            let mut every = tokio::time::interval(Duration::from_secs(1));
            while !stop.load(Ordering::Relaxed) {
                every.tick().await;
                if let Ok(reading) = invite_loadgen::rss::read(pid) {
                    samples.push((started.elapsed(), reading.rss_kib));
                }
            }
            samples
        })
    };

    let window = if seconds >= 120 { 60 } else { seconds };
    let windows = seconds.div_ceil(window);
    let mut reports = Vec::new();
    for n in 0..windows {
        let length = window.min(seconds - n * window);
        let mut config = common::load_config(&demo.target, 16, Duration::from_secs(length));
        config.server_pid = Some(pid);
        config.label = format!("soak window {}", n + 1);
        let report = run_load(&config).await.unwrap();
        eprintln!("{}", report.render());
        reports.push(report);
    }
    stop.store(true, Ordering::Relaxed);
    let samples = sampler.await.unwrap();
    assert!(demo.alive(), "the demo died:\n{}", demo.log_tail());

    // Per window: requests, throughput, answers by code; per minute of the run: RSS.
    let minutes = samples
        .last()
        .map_or(0, |(at, _)| usize::try_from(at.as_secs() / 60).unwrap() + 1);
    let mean_rss = |minute: usize| -> Option<f64> {
        let inside: Vec<u64> = samples
            .iter()
            .filter(|(at, _)| usize::try_from(at.as_secs() / 60).unwrap() == minute)
            .map(|(_, kib)| *kib)
            .collect();
        (!inside.is_empty()).then(|| inside.iter().sum::<u64>() as f64 / inside.len() as f64 / 1024.0)
    };
    let max_rss = |minute: usize| -> u64 {
        samples
            .iter()
            .filter(|(at, _)| usize::try_from(at.as_secs() / 60).unwrap() == minute)
            .map(|(_, kib)| *kib)
            .max()
            .unwrap_or(0)
    };
    let mut table = String::from(
        "| window | requests | req/s | p50 / p99 ms | 5xx | unexpected | no answer | expected refusals | server CPU s |\n|---|---|---|---|---|---|---|---|---|\n",
    );
    for (n, report) in reports.iter().enumerate() {
        let five_xx: u64 = report
            .codes
            .iter()
            .filter(|c| c.status >= 500)
            .map(|c| c.count)
            .sum();
        let refusals: u64 = report.codes.iter().filter(|c| c.expected).map(|c| c.count).sum();
        table.push_str(&format!(
            "| {} | {} | {:.0} | {:.2} / {:.2} | {five_xx} | {} | {} | {refusals} | {:.1} |\n",
            n + 1,
            report.overall.count,
            report.overall.per_second,
            report.overall.p50_us as f64 / 1000.0,
            report.overall.p99_us as f64 / 1000.0,
            report.overall.unexpected,
            report.overall.no_answer,
            report.rss.map_or(0.0, |r| r.cpu_s),
        ));
    }
    table.push_str("\n| minute | RSS mean MiB | RSS max MiB | samples |\n|---|---|---|---|\n");
    for minute in 0..minutes {
        let count = samples
            .iter()
            .filter(|(at, _)| usize::try_from(at.as_secs() / 60).unwrap() == minute)
            .count();
        table.push_str(&format!(
            "| {} | {:.1} | {:.1} | {count} |\n",
            minute + 1,
            mean_rss(minute).unwrap_or(0.0),
            max_rss(minute) as f64 / 1024.0
        ));
    }
    let db = Db::open(&url).await;
    let summary = db.summary().await;
    let violations = db.violations().await;
    db.close().await;
    let total: u64 = reports.iter().map(|r| r.overall.count).sum();
    let size: u64 = ["", "-wal"]
        .iter()
        .filter_map(|suffix| std::fs::metadata(format!("{}{suffix}", file.display())).ok())
        .map(|meta| meta.len())
        .sum();
    let backend = if postgres {
        "PostgreSQL".to_owned()
    } else {
        format!("SQLite, {:.1} MiB with its WAL", size as f64 / 1_048_576.0)
    };
    eprintln!(
        "RESULT soak: {seconds} s, 16 clients, realistic mix, {total} requests; database ({backend}) at the end: \
         {summary}\n{table}"
    );
    drop(demo);
    if let Some(pg) = pg {
        pg.remove().await;
    }

    for report in &reports {
        assert!(report.is_clean(), "{}", report.render());
        assert!(
            report.codes.iter().all(|c| c.expected && c.status < 500),
            "{}",
            report.render()
        );
    }
    assert!(violations.is_empty(), "{}", violations.join("\n"));
    assert!(!samples.is_empty(), "the server's memory could not be read");
    // The last whole minute against the second; a last minute cut short by the end of the
    // run does not count.
    let whole_minutes = usize::try_from(seconds / 60).unwrap();
    if whole_minutes >= 3 {
        let second = mean_rss(1).unwrap();
        let last = mean_rss(whole_minutes - 1).unwrap();
        let drift = (last - second) / second;
        assert!(
            drift.abs() <= 0.10,
            "RSS not flat: minute {whole_minutes} mean {last:.1} MiB against minute 2 {second:.1} MiB ({:+.1} %)\n{table}",
            drift * 100.0
        );
    }
}
