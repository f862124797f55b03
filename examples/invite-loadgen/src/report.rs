//! What a run measured: per operation and overall, the count, throughput and latency
//! percentiles (HdrHistogram, microseconds), the answers by code, and the server's memory.

use std::collections::BTreeMap;
use std::fmt::{self, Write as _};
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::Serialize;

use crate::mix::Roles;
use crate::rss::RssReport;

/// One kind of request of the mix.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Op {
    /// `POST /register`: a new invitee account, signed in.
    Register,
    /// `POST /api/enterprises/{id}/invitations` by the super admin.
    Send,
    /// `GET /api/enterprises/{id}/invitations?limit=20` by the super admin.
    List,
    /// `POST /api/invitations/view`.
    View,
    /// `POST /api/invitations/accept` of a fresh invitation by its invitee.
    Accept,
    /// `POST /api/invitations/reject` of a fresh invitation by its invitee.
    Reject,
    /// `POST /api/invitations/accept` of an answered invitation: must be 409.
    Replay,
}

impl Op {
    /// Every operation, in report order.
    pub const ALL: [Op; 7] = [
        Op::Register,
        Op::Send,
        Op::List,
        Op::View,
        Op::Accept,
        Op::Reject,
        Op::Replay,
    ];

    /// Its name in reports.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Op::Register => "register",
            Op::Send => "send",
            Op::List => "list",
            Op::View => "view",
            Op::Accept => "accept",
            Op::Reject => "reject",
            Op::Replay => "replay",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// How one request ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The answer the operation expects (for `replay`, its 409).
    Expected {
        /// The status.
        status: u16,
        /// The error code, when the expected answer is a refusal.
        code: Option<String>,
    },
    /// Any other answer: a 5xx, an error code the operation cannot legitimately get, or a
    /// success whose body is wrong.
    Unexpected {
        /// The status.
        status: u16,
        /// The error code, or what was wrong with the body.
        code: String,
    },
    /// No answer (timeout, connection error).
    NoAnswer(&'static str),
}

/// Latencies above this are clamped (microseconds): one minute.
const MAX_LATENCY_US: u64 = 60_000_000;

fn histogram() -> Result<Histogram<u64>, hdrhistogram::CreationError> {
    // Three significant digits from 1 µs to a minute.
    Histogram::new_with_bounds(1, MAX_LATENCY_US, 3)
}

/// Counts of one operation.
#[derive(Clone, Copy, Debug, Default)]
struct Counts {
    count: u64,
    ok: u64,
    unexpected: u64,
    no_answer: u64,
}

/// What one client measured; merged into the report at the end.
#[derive(Debug)]
pub struct Tally {
    histograms: Vec<Histogram<u64>>,
    counts: [Counts; Op::ALL.len()],
    codes: BTreeMap<(Op, u16, String, bool), u64>,
    rotations: u64,
    retries: u64,
}

impl Tally {
    /// An empty tally.
    ///
    /// # Errors
    /// When HdrHistogram refuses the bounds (1 µs to a minute, 3 digits): never in
    /// practice.
    pub fn new() -> Result<Self, hdrhistogram::CreationError> {
        Ok(Self {
            histograms: Op::ALL.iter().map(|_| histogram()).collect::<Result<_, _>>()?,
            counts: [Counts::default(); Op::ALL.len()],
            codes: BTreeMap::new(),
            rotations: 0,
            retries: 0,
        })
    }

    /// Records one request of `op` that took `latency` and ended with `outcome`.
    pub fn record(&mut self, op: Op, latency: Duration, outcome: &Outcome) {
        let micros = u64::try_from(latency.as_micros())
            .unwrap_or(u64::MAX)
            .clamp(1, MAX_LATENCY_US);
        if let Some(histogram) = self.histograms.get_mut(op.index()) {
            histogram.saturating_record(micros);
        }
        let counts = &mut self.counts[op.index()];
        counts.count += 1;
        match outcome {
            Outcome::Expected { status, code } => {
                counts.ok += 1;
                if let Some(code) = code {
                    *self.codes.entry((op, *status, code.clone(), true)).or_default() += 1;
                }
            }
            Outcome::Unexpected { status, code } => {
                counts.unexpected += 1;
                *self.codes.entry((op, *status, code.clone(), false)).or_default() += 1;
            }
            Outcome::NoAnswer(what) => {
                counts.no_answer += 1;
                *self.codes.entry((op, 0, (*what).to_owned(), false)).or_default() += 1;
            }
        }
    }

    /// Counts a move of a client's token lookups to a fresh source address.
    pub fn note_rotation(&mut self) {
        self.rotations += 1;
    }

    /// Counts a lookup refused with 429 and sent again from a fresh source address.
    pub fn note_rate_limited_retry(&mut self) {
        self.retries += 1;
    }

    /// Adds `other` into this tally.
    pub fn merge(&mut self, other: &Tally) {
        for (mine, theirs) in self.histograms.iter_mut().zip(&other.histograms) {
            // Same bounds on both sides: adding cannot fail.
            let _ = mine.add(theirs);
        }
        for (mine, theirs) in self.counts.iter_mut().zip(&other.counts) {
            mine.count += theirs.count;
            mine.ok += theirs.ok;
            mine.unexpected += theirs.unexpected;
            mine.no_answer += theirs.no_answer;
        }
        for (key, count) in &other.codes {
            *self.codes.entry(key.clone()).or_default() += count;
        }
        self.rotations += other.rotations;
        self.retries += other.retries;
    }

    /// Turns the tally of a run that lasted `elapsed` into its report.
    #[must_use]
    pub fn into_report(
        self,
        header: ReportHeader,
        elapsed: Duration,
        rss: Option<RssReport>,
        loadgen_cpu_s: Option<f64>,
    ) -> Report {
        let seconds = elapsed.as_secs_f64().max(f64::EPSILON);
        let summary = |op: Option<Op>, histogram: Option<&Histogram<u64>>, counts: Counts| {
            let at = |q: f64| histogram.map_or(0, |h| h.value_at_quantile(q));
            OpReport {
                op: op.map_or("overall", Op::name).to_owned(),
                count: counts.count,
                ok: counts.ok,
                unexpected: counts.unexpected,
                no_answer: counts.no_answer,
                per_second: counts.count as f64 / seconds,
                p50_us: at(0.50),
                p95_us: at(0.95),
                p99_us: at(0.99),
                max_us: histogram.map_or(0, Histogram::max),
                mean_us: histogram.map_or(0.0, Histogram::mean),
            }
        };
        let mut overall: Option<Histogram<u64>> = None;
        let mut total = Counts::default();
        let mut ops = Vec::new();
        for op in Op::ALL {
            let counts = self.counts[op.index()];
            let Some(histogram) = self.histograms.get(op.index()) else {
                continue;
            };
            match &mut overall {
                // Same bounds on both sides: adding cannot fail.
                Some(all) => {
                    let _ = all.add(histogram);
                }
                None => overall = Some(histogram.clone()),
            }
            total.count += counts.count;
            total.ok += counts.ok;
            total.unexpected += counts.unexpected;
            total.no_answer += counts.no_answer;
            if counts.count > 0 {
                ops.push(summary(Some(op), Some(histogram), counts));
            }
        }
        let codes = self
            .codes
            .into_iter()
            .map(|((op, status, code, expected), count)| CodeCount {
                op: op.name().to_owned(),
                status,
                code,
                expected,
                count,
            })
            .collect();
        Report {
            header,
            elapsed_s: seconds,
            overall: summary(None, overall.as_ref(), total),
            ops,
            codes,
            source_rotations: self.rotations,
            rate_limited_retries: self.retries,
            rss,
            loadgen_cpu_s,
            load_average: None,
        }
    }
}

/// What a report is about.
#[derive(Clone, Debug, Serialize)]
pub struct ReportHeader {
    /// A name for the server (`demo`, `baseline`, or the target).
    pub label: String,
    /// The target URL.
    pub target: String,
    /// Concurrent clients.
    pub clients: usize,
    /// How they split into roles.
    pub roles: Roles,
    /// The mix, as `key=value` pairs.
    pub mix: String,
    /// The run's id (in the invitee emails).
    pub run_id: String,
}

/// One operation (or all of them) in a report.
#[derive(Clone, Debug, Serialize)]
pub struct OpReport {
    /// `register`, `send`, `list`, `view`, `accept`, `reject`, `replay` or `overall`.
    pub op: String,
    /// Requests completed (any outcome).
    pub count: u64,
    /// Requests answered as the operation expects.
    pub ok: u64,
    /// Requests answered otherwise (5xx, an unexpected code, a wrong body).
    pub unexpected: u64,
    /// Requests without an answer.
    pub no_answer: u64,
    /// `count` per second of the run.
    pub per_second: f64,
    /// Median latency, µs.
    pub p50_us: u64,
    /// 95th percentile, µs.
    pub p95_us: u64,
    /// 99th percentile, µs.
    pub p99_us: u64,
    /// Slowest, µs.
    pub max_us: u64,
    /// Mean, µs.
    pub mean_us: f64,
}

/// Answers with an error code (or no answer, status 0), by operation.
#[derive(Clone, Debug, Serialize)]
pub struct CodeCount {
    /// The operation.
    pub op: String,
    /// The status (0: no answer).
    pub status: u16,
    /// The error code, or what was wrong.
    pub code: String,
    /// Whether the operation expects it.
    pub expected: bool,
    /// How many.
    pub count: u64,
}

/// The report of one run against one server.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    /// What was run against what.
    pub header: ReportHeader,
    /// Wall time from the start of the load to the last answer, seconds.
    pub elapsed_s: f64,
    /// All operations together.
    pub overall: OpReport,
    /// Each operation that ran.
    pub ops: Vec<OpReport>,
    /// Error answers by code.
    pub codes: Vec<CodeCount>,
    /// Moves of the clients' token lookups to fresh source addresses
    /// ([`LoadConfig::rotate_source_every`](crate::LoadConfig::rotate_source_every)).
    pub source_rotations: u64,
    /// Lookups refused with 429 and sent again from a fresh source address (not in the
    /// counts above).
    pub rate_limited_retries: u64,
    /// The server's memory and CPU, when its pid was known.
    pub rss: Option<RssReport>,
    /// CPU seconds the load generator itself used during the run.
    pub loadgen_cpu_s: Option<f64>,
    /// The machine's 1-minute load average at the start and at the end of the run (every
    /// process on the machine counts).
    pub load_average: Option<(f64, f64)>,
}

impl Report {
    /// The operation's figures, if it ran.
    #[must_use]
    pub fn op(&self, op: Op) -> Option<&OpReport> {
        self.ops.iter().find(|r| r.op == op.name())
    }

    /// Requests that got a 5xx, an unexpected code or a wrong body, or no answer.
    #[must_use]
    pub fn failures(&self) -> u64 {
        self.overall.unexpected + self.overall.no_answer
    }

    /// The server's CPU time per request of the run, µs (when its pid was known).
    #[must_use]
    pub fn server_cpu_per_request_us(&self) -> Option<f64> {
        let rss = self.rss.as_ref()?;
        (self.overall.count > 0).then(|| rss.cpu_s * 1e6 / self.overall.count as f64)
    }

    /// Whether every request got the answer its operation expects.
    #[must_use]
    pub fn is_clean(&self) -> bool {
        self.failures() == 0
    }

    /// The report as a table for people.
    #[must_use]
    pub fn render(&self) -> String {
        let h = &self.header;
        let mut out = String::new();
        let _ = writeln!(
            out,
            "== {} ({}) — {} clients ({}), {:.1} s, mix {}",
            h.label, h.target, h.clients, h.roles, self.elapsed_s, h.mix
        );
        let _ = writeln!(
            out,
            "{:<9} {:>8} {:>9} {:>9} {:>9} {:>9} {:>9} {:>6}",
            "op", "count", "req/s", "p50 ms", "p95 ms", "p99 ms", "max ms", "bad"
        );
        for r in self.ops.iter().chain(std::iter::once(&self.overall)) {
            let ms = |us: u64| us as f64 / 1000.0;
            let _ = writeln!(
                out,
                "{:<9} {:>8} {:>9.1} {:>9.2} {:>9.2} {:>9.2} {:>9.1} {:>6}",
                r.op,
                r.count,
                r.per_second,
                ms(r.p50_us),
                ms(r.p95_us),
                ms(r.p99_us),
                ms(r.max_us),
                r.unexpected + r.no_answer
            );
        }
        if self.codes.is_empty() {
            let _ = writeln!(out, "errors by code: none");
        } else {
            let _ = writeln!(out, "errors by code:");
            for c in &self.codes {
                let status = if c.status == 0 {
                    "no answer".to_owned()
                } else {
                    c.status.to_string()
                };
                let verdict = if c.expected { "expected" } else { "UNEXPECTED" };
                let _ = writeln!(
                    out,
                    "  {:<8} {:>9} {:<24} {:>7}  {verdict}",
                    c.op, status, c.code, c.count
                );
            }
        }
        if let Some((start, end)) = self.load_average {
            let cores = std::thread::available_parallelism().map_or(0, std::num::NonZero::get);
            let _ = writeln!(
                out,
                "machine load average (1 min, all processes): {start:.2} at start, {end:.2} at end, {cores} cores"
            );
        }
        if self.source_rotations > 0 {
            let _ = writeln!(
                out,
                "token lookups moved to a fresh loopback source address {} times ({} after a 429, sent again)",
                self.source_rotations, self.rate_limited_retries
            );
        }
        match &self.rss {
            Some(rss) => {
                let _ = writeln!(
                    out,
                    "server pid {}: peak RSS under load {:.1} MiB (VmRSS sampled every 100 ms), VmHWM {:.1} MiB, at end {:.1} MiB",
                    rss.pid,
                    mib(rss.peak_rss_kib),
                    mib(rss.hwm_kib),
                    mib(rss.end_rss_kib)
                );
                let _ = writeln!(
                    out,
                    "server CPU {:.1} s = {:.2} cores, {:.0} µs per request{}",
                    rss.cpu_s,
                    rss.cpu_s / self.elapsed_s,
                    self.server_cpu_per_request_us().unwrap_or(0.0),
                    self.loadgen_cpu_s.map_or(String::new(), |cpu| format!(
                        "; load generator CPU {cpu:.1} s = {:.2} cores",
                        cpu / self.elapsed_s
                    ))
                );
            }
            None => {
                let _ = writeln!(
                    out,
                    "server RSS: not measured (give --server-pid, or use --compare)"
                );
            }
        }
        out
    }
}

/// KiB as MiB.
#[must_use]
pub fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// The ratios of a compare run: demo / baseline throughput and baseline / demo p50
/// latency for `view`, `accept` and overall, and both servers' memory.
#[must_use]
pub fn render_ratios(demo: &Report, baseline: &Report) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "== demo / baseline");
    let _ = writeln!(
        out,
        "{:<9} {:>12} {:>12} {:>10} {:>12} {:>12} {:>10}",
        "op", "demo req/s", "base req/s", "ratio", "demo p50 ms", "base p50 ms", "p50 ratio"
    );
    let pairs = [Op::View, Op::Accept]
        .into_iter()
        .map(|op| (op.name(), demo.op(op), baseline.op(op)))
        .chain(std::iter::once((
            "overall",
            Some(&demo.overall),
            Some(&baseline.overall),
        )));
    for (name, d, b) in pairs {
        let (Some(d), Some(b)) = (d, b) else {
            let _ = writeln!(out, "{name:<9} (did not run on both)");
            continue;
        };
        let _ = writeln!(
            out,
            "{:<9} {:>12.1} {:>12.1} {:>10.2} {:>12.2} {:>12.2} {:>10.2}",
            name,
            d.per_second,
            b.per_second,
            ratio(d.per_second, b.per_second),
            d.p50_us as f64 / 1000.0,
            b.p50_us as f64 / 1000.0,
            ratio(b.p50_us as f64, d.p50_us as f64),
        );
    }
    if let (Some(d), Some(b)) = (
        demo.server_cpu_per_request_us(),
        baseline.server_cpu_per_request_us(),
    ) {
        let _ = writeln!(
            out,
            "server CPU per request (all ops): demo {d:.0} µs, baseline {b:.0} µs, baseline / demo {:.2}",
            ratio(b, d)
        );
    }
    for (name, report) in [("demo", demo), ("baseline", baseline)] {
        if let Some(rss) = &report.rss {
            let _ = writeln!(
                out,
                "{name} peak RSS under load: {:.1} MiB (VmHWM {:.1} MiB)",
                mib(rss.peak_rss_kib),
                mib(rss.hwm_kib)
            );
        }
    }
    out
}

/// `a / b`, or 0 when `b` is 0.
#[must_use]
pub fn ratio(a: f64, b: f64) -> f64 {
    if b > 0.0 { a / b } else { 0.0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header() -> ReportHeader {
        ReportHeader {
            label: "t".into(),
            target: "http://127.0.0.1:1".into(),
            clients: 1,
            roles: Roles::default(),
            mix: String::new(),
            run_id: "r".into(),
        }
    }

    #[test]
    fn tallies_merge_and_report_percentiles() {
        let mut a = Tally::new().unwrap();
        let mut b = Tally::new().unwrap();
        let ok = Outcome::Expected {
            status: 200,
            code: None,
        };
        for ms in 1..=100 {
            a.record(Op::View, Duration::from_millis(ms), &ok);
        }
        b.record(
            Op::Accept,
            Duration::from_millis(5),
            &Outcome::Unexpected {
                status: 500,
                code: "internal".into(),
            },
        );
        b.record(
            Op::Accept,
            Duration::from_millis(5),
            &Outcome::NoAnswer("timeout"),
        );
        a.merge(&b);
        let report = a.into_report(header(), Duration::from_secs(2), None, None);
        let view = report.op(Op::View).unwrap();
        assert_eq!(view.count, 100);
        assert!((view.per_second - 50.0).abs() < 1e-9);
        assert!((49_000..=51_000).contains(&view.p50_us), "{}", view.p50_us);
        assert!((98_000..=100_100).contains(&view.p99_us), "{}", view.p99_us);
        assert_eq!(report.overall.count, 102);
        assert_eq!(report.failures(), 2);
        assert!(!report.is_clean());
        assert_eq!(report.codes.len(), 2);
        let text = report.render();
        assert!(text.contains("UNEXPECTED"), "{text}");
        assert!(report.op(Op::List).is_none());
    }

    #[test]
    fn expected_refusals_are_clean() {
        let mut a = Tally::new().unwrap();
        a.record(
            Op::Replay,
            Duration::from_millis(1),
            &Outcome::Expected {
                status: 409,
                code: Some("already_accepted".into()),
            },
        );
        let report = a.into_report(header(), Duration::from_secs(1), None, None);
        assert!(report.is_clean());
        assert_eq!(report.codes.len(), 1);
        assert!(report.codes[0].expected);
    }
}
