//! A short load against the baseline, in process: the load generator and the baseline
//! work end to end (CI can afford it: about 3 s of load).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::time::Duration;

use invite_loadgen::baseline::Baseline;
use invite_loadgen::{LoadConfig, Mix, Op, Target, run_load};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_realistic_mix_runs_clean_against_the_baseline() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("baseline.sqlite").display()
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let baseline = Baseline::open(&url, &format!("http://{addr}")).await.unwrap();
    let server = tokio::spawn(async move {
        axum::serve(listener, baseline.router()).await.unwrap();
    });

    let mut config = LoadConfig::new(Target::from_addr(addr).unwrap());
    config.clients = 4;
    config.duration = Duration::from_secs(3);
    config.mix = Mix::REALISTIC;
    config.server_pid = Some(std::process::id());
    // Exercise the move of token lookups to fresh loopback source addresses.
    config.rotate_source_every = Some(25);
    let report = run_load(&config).await.unwrap();
    server.abort();

    let text = report.render();
    println!("{text}");
    assert!(report.is_clean(), "{text}");
    assert!(report.op(Op::Accept).is_some_and(|r| r.ok > 0), "{text}");
    for op in [Op::Register, Op::Send, Op::View, Op::List] {
        assert!(report.op(op).is_some_and(|r| r.ok > 0), "{op} never ran: {text}");
    }
    assert!(
        report.codes.iter().all(|c| c.expected),
        "unexpected codes: {text}"
    );
    assert!(report.source_rotations > 0, "{text}");
    let rss = report.rss.unwrap();
    assert!(rss.peak_rss_kib > 0 && rss.hwm_kib >= rss.end_rss_kib);
    // Bounded: the run stops by itself shortly after its duration.
    assert!(report.elapsed_s < 3.0 + 10.0, "{}", report.elapsed_s);
}

#[tokio::test]
async fn a_target_off_this_machine_is_refused_before_any_request() {
    assert!(Target::parse("http://10.0.0.1:3000").is_err());
    assert!(Target::parse("http://example.com:3000").is_err());
}
