//! The server's memory, from `/proc/<pid>/status` (Linux): `VmRSS` (resident now) and
//! `VmHWM` (the most it was ever resident, since it started); and the CPU time a process
//! used, from `/proc/<pid>/stat`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use serde::Serialize;

/// One reading of `/proc/<pid>/status`, in KiB.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct MemoryReading {
    /// `VmRSS`: resident now.
    pub rss_kib: u64,
    /// `VmHWM`: the peak resident size since the process started.
    pub hwm_kib: u64,
}

/// Reads `VmRSS` and `VmHWM` of `pid`.
///
/// # Errors
/// When the file cannot be read (no such process, not Linux) or lacks the fields.
pub fn read(pid: u32) -> std::io::Result<MemoryReading> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    parse(&status).ok_or_else(|| std::io::Error::other(format!("no VmRSS/VmHWM in /proc/{pid}/status")))
}

fn parse(status: &str) -> Option<MemoryReading> {
    let field = |name: &str| {
        status
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
    };
    Some(MemoryReading {
        rss_kib: field("VmRSS:")?,
        hwm_kib: field("VmHWM:")?,
    })
}

/// The machine's 1-minute load average (`/proc/loadavg`): runnable processes, all of
/// them, not only the server and the load generator.
#[must_use]
pub fn load_average() -> Option<f64> {
    std::fs::read_to_string("/proc/loadavg")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// Clock ticks per second of `/proc/<pid>/stat` (`USER_HZ`, 100 on Linux).
const TICKS_PER_SECOND: f64 = 100.0;

/// CPU seconds (user + system) `pid` has used since it started.
///
/// # Errors
/// When `/proc/<pid>/stat` cannot be read or parsed.
pub fn cpu_seconds(pid: u32) -> std::io::Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    parse_cpu(&stat).ok_or_else(|| std::io::Error::other(format!("cannot parse /proc/{pid}/stat")))
}

fn parse_cpu(stat: &str) -> Option<f64> {
    // The command name (field 2) may hold spaces and parentheses: fields are counted from
    // the last `)`, after which field 3 (state) comes; utime and stime are fields 14, 15.
    let (_, rest) = stat.rsplit_once(')')?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) as f64 / TICKS_PER_SECOND)
}

/// What the sampler saw of the server during a run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct RssReport {
    /// The server's pid.
    pub pid: u32,
    /// The largest `VmRSS` sampled during the run (every 100 ms), KiB.
    pub peak_rss_kib: u64,
    /// `VmHWM` at the end of the run: the peak since the server started, KiB.
    pub hwm_kib: u64,
    /// `VmRSS` at the end of the run, KiB.
    pub end_rss_kib: u64,
    /// CPU seconds (user + system) the server used during the run.
    pub cpu_s: f64,
}

/// Samples `VmRSS` of a process every 100 ms until stopped.
#[derive(Debug)]
pub struct Sampler {
    pid: u32,
    peak: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<()>,
    cpu_at_start: f64,
}

impl Sampler {
    /// Starts sampling `pid`.
    #[must_use]
    pub fn start(pid: u32) -> Self {
        let peak = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let task = {
            let (peak, stop) = (peak.clone(), stop.clone());
            tokio::spawn(async move {
                let mut every = tokio::time::interval(Duration::from_millis(100));
                while !stop.load(Ordering::Relaxed) {
                    every.tick().await;
                    if let Ok(reading) = read(pid) {
                        peak.fetch_max(reading.rss_kib, Ordering::Relaxed);
                    }
                }
            })
        };
        Self {
            pid,
            peak,
            stop,
            task,
            cpu_at_start: cpu_seconds(pid).unwrap_or(0.0),
        }
    }

    /// Stops sampling and reads the end state; `None` if the process cannot be read.
    pub async fn finish(self) -> Option<RssReport> {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.task.await;
        let end = read(self.pid).ok()?;
        Some(RssReport {
            pid: self.pid,
            peak_rss_kib: self.peak.load(Ordering::Relaxed).max(end.rss_kib),
            hwm_kib: end.hwm_kib,
            end_rss_kib: end.rss_kib,
            cpu_s: (cpu_seconds(self.pid).unwrap_or(0.0) - self.cpu_at_start).max(0.0),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_proc_status() {
        let status = "Name:\tinvite-demo\nVmPeak:\t  900000 kB\nVmHWM:\t   41236 kB\nVmRSS:\t   39000 kB\n";
        assert_eq!(
            parse(status),
            Some(MemoryReading {
                rss_kib: 39_000,
                hwm_kib: 41_236
            })
        );
        assert_eq!(parse("Name:\tx\n"), None);
    }

    #[test]
    fn parses_proc_stat() {
        let stat = "4242 (invite (demo)) S 1 4242 4242 0 -1 4194560 1234 0 0 0 250 75 0 0 20 0 9 0 1000 0 0";
        assert_eq!(parse_cpu(stat), Some(3.25));
        assert_eq!(parse_cpu("nonsense"), None);
        assert!(cpu_seconds(std::process::id()).unwrap() >= 0.0);
    }

    #[test]
    fn reads_the_load_average() {
        assert!(load_average().is_some_and(|load| load >= 0.0));
    }

    #[test]
    fn reads_this_process() {
        let me = read(std::process::id()).unwrap();
        assert!(me.rss_kib > 0 && me.hwm_kib >= me.rss_kib);
    }
}
