//! A real SMTP server for the tests: `tests/smtp_sink.py` (aiosmtpd) started on a free port
//! of 127.0.0.1, writing each message it receives as JSON into a temp dir. The tests that
//! need it run only with `INVITE_TEST_SMTP=1`; with it set, a missing python3 or aiosmtpd
//! fails them loudly.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead as _, BufReader, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// The variable that switches the SMTP tests on.
pub const SMTP_ENV: &str = "INVITE_TEST_SMTP";

/// Whether the SMTP tests are to run; says on stderr when they are not.
pub fn smtp_enabled() -> bool {
    if std::env::var(SMTP_ENV).is_ok_and(|v| v == "1") {
        return true;
    }
    static SAID: AtomicBool = AtomicBool::new(false);
    if !SAID.swap(true, Ordering::SeqCst) {
        let _ = writeln!(
            std::io::stderr(),
            "invite-notify-lettre: {SMTP_ENV} is not 1: the tests against a real SMTP server were NOT run \
             (pip install aiosmtpd, then INVITE_TEST_SMTP=1)"
        );
    }
    false
}

/// `invite-notify-lettre/tests/smtp_sink.py`, found from the crate whose tests include this
/// module (it is shared with the demo's tests).
fn script() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest
        .ancestors()
        .map(|dir| dir.join("invite-notify-lettre/tests/smtp_sink.py"))
        .find(|path| path.exists())
        .unwrap_or_else(|| manifest.join("tests/smtp_sink.py"))
}

/// One message as the sink saw it.
#[derive(Clone, Debug)]
pub struct Mail {
    /// The envelope recipients.
    pub rcpt_tos: Vec<String>,
    /// The `Subject` header.
    pub subject: String,
    /// The `From` header.
    pub from: String,
    /// The `Message-ID` header.
    pub message_id: String,
    /// The decoded plain-text body.
    pub text: String,
    /// The decoded HTML body.
    pub html: String,
}

/// The aiosmtpd process and where it writes.
pub struct SmtpSink {
    child: Option<Child>,
    /// Its port on 127.0.0.1.
    pub port: u16,
    dir: tempfile::TempDir,
}

impl SmtpSink {
    /// Starts a sink on a free port. Panics (fails the test loudly) when python3 or
    /// aiosmtpd is missing.
    pub fn start() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let (child, port) = spawn(0, dir.path());
        Self {
            child: Some(child),
            port,
            dir,
        }
    }

    /// `smtp://127.0.0.1:{port}`.
    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// Kills the server (the port stops answering); the messages stay.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same port, keeping the messages.
    pub fn restart(&mut self) {
        self.stop();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let (child, _) = spawn(self.port, self.dir.path());
            self.child = Some(child);
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the SMTP sink did not come back on {}",
                self.port
            );
            self.stop();
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Every message received so far, oldest first.
    pub fn messages(&self) -> Vec<Mail> {
        let mut names: Vec<PathBuf> = std::fs::read_dir(self.dir.path())
            .expect("read the mail dir")
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
            .collect();
        names.sort();
        names
            .into_iter()
            .map(|path| {
                let json: serde_json::Value =
                    serde_json::from_str(&std::fs::read_to_string(&path).expect("read mail")).expect("json");
                let text = |k: &str| json[k].as_str().unwrap_or_default().to_owned();
                Mail {
                    rcpt_tos: json["rcpt_tos"]
                        .as_array()
                        .map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect())
                        .unwrap_or_default(),
                    subject: text("subject"),
                    from: text("from"),
                    message_id: text("message_id"),
                    text: text("text"),
                    html: text("html"),
                }
            })
            .collect()
    }

    /// Waits until at least `count` messages arrived (or panics after `timeout`).
    pub async fn wait_for(&self, count: usize, timeout: Duration) -> Vec<Mail> {
        let deadline = Instant::now() + timeout;
        loop {
            let messages = self.messages();
            if messages.len() >= count {
                return messages;
            }
            assert!(
                Instant::now() < deadline,
                "{} of {count} messages after {timeout:?}",
                messages.len()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        self.stop();
    }
}

fn spawn(port: u16, dir: &Path) -> (Child, u16) {
    let mut child = Command::new("python3")
        .arg(script())
        .arg("--port")
        .arg(port.to_string())
        .arg("--dir")
        .arg(dir)
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(dir.join("sink.log")).map_or_else(|_| Stdio::null(), Stdio::from))
        .spawn()
        .unwrap_or_else(|err| panic!("{SMTP_ENV}=1 but python3 cannot be started: {err}"));
    let stdout = child.stdout.take().expect("stdout");
    let mut line = String::new();
    let read = BufReader::new(stdout).read_line(&mut line);
    let Some(port) = line.trim().strip_prefix("READY ").and_then(|p| p.parse().ok()) else {
        let _ = child.kill();
        let _ = child.wait();
        let stderr = std::fs::read_to_string(dir.join("sink.log")).unwrap_or_default();
        panic!(
            "{SMTP_ENV}=1 but the SMTP sink did not start ({read:?}, {line:?}): is aiosmtpd installed \
             (pip install aiosmtpd)?\n{stderr}"
        );
    };
    (child, port)
}
