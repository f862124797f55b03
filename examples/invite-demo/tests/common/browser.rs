//! A headless Chromium driven through chromedriver with fantoccini, for the opt-in
//! end-to-end tests (`INVITE_E2E_BROWSER=1`).
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::io::Write as _;
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{Value, json};

/// The environment variable that turns the browser tests on.
pub const OPT_IN: &str = "INVITE_E2E_BROWSER";

/// Whether the browser tests should run; says so on stderr when they do not.
pub fn enabled(test: &str) -> bool {
    if std::env::var(OPT_IN).is_ok_and(|v| v == "1") {
        return true;
    }
    // Straight to stderr, past the test harness's capture, so the skip is always visible.
    let _ = writeln!(
        std::io::stderr(),
        "{test}: browser test NOT RUN; set {OPT_IN}=1 (needs /usr/bin/chromium and /usr/bin/chromedriver)"
    );
    false
}

/// Where axe-core's `axe.min.js` is, when not in `tests/axe/node_modules` (npm, pinned in
/// `tests/axe/package.json` and its lock file).
pub const AXE_JS: &str = "INVITE_AXE_JS";

/// The axe-core rule tags every page state must pass: WCAG 2.0 and 2.1, levels A and AA,
/// and axe's best practices.
pub const AXE_TAGS: [&str; 5] = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"];

/// The path of `axe.min.js`: `$INVITE_AXE_JS`, or the pinned npm install beside the tests.
pub fn axe_path() -> PathBuf {
    match std::env::var_os(AXE_JS) {
        Some(path) if !path.is_empty() => PathBuf::from(path),
        _ => Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/axe/node_modules/axe-core/axe.min.js"),
    }
}

/// The source of `axe.min.js`, read once. Panics (fails the test, never skips it) with the
/// command that installs it when it is missing.
fn axe_source() -> &'static str {
    static SOURCE: OnceLock<String> = OnceLock::new();
    SOURCE.get_or_init(|| {
        let path = axe_path();
        match std::fs::read_to_string(&path) {
            Ok(source) if source.contains("axe") => source,
            Ok(_) => panic!("{} is not axe-core's axe.min.js", path.display()),
            Err(err) => panic!(
                "{OPT_IN}=1 runs axe-core on every page state, but {} cannot be read ({err}).\n\
                 Install it (pinned in examples/invite-demo/tests/axe/package-lock.json) from the workspace root:\n    \
                 npm ci --prefix examples/invite-demo/tests/axe --no-audit --no-fund\n\
                 or point {AXE_JS} at an axe.min.js.",
                path.display()
            ),
        }
    })
}

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const WAIT: Duration = Duration::from_secs(15);

/// chromedriver plus one browser session; both end on drop (or [`Browser::close`]).
pub struct Browser {
    pub client: Client,
    driver: Child,
    _profile: tempfile::TempDir,
}

impl Browser {
    /// Starts chromedriver on a free port and a headless Chromium session. Panics (fails
    /// the test, never skips it) when either cannot start.
    pub async fn start() -> Self {
        for path in [CHROMIUM, CHROMEDRIVER] {
            assert!(
                std::path::Path::new(path).exists(),
                "{OPT_IN}=1 but {path} is missing: apt-get install -y chromium chromium-driver"
            );
        }
        // Before anything starts: no browser test runs without its accessibility check.
        axe_source();
        let port = super::free_port();
        let mut driver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
            if let Some(status) = driver.try_wait().unwrap() {
                panic!("chromedriver exited with {status}");
            }
            assert!(Instant::now() < deadline, "chromedriver did not listen on {addr}");
            std::thread::sleep(Duration::from_millis(100));
        }
        let profile = tempfile::tempdir().unwrap();
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".to_owned(),
            json!({
                "binary": CHROMIUM,
                "args": [
                    "--headless",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                    "--disable-quic",
                    "--no-first-run",
                    "--disable-dev-shm-usage",
                    "--window-size=1366,900",
                    "--hide-scrollbars",
                    format!("--user-data-dir={}", profile.path().display()),
                ],
            }),
        );
        let client = match ClientBuilder::new(HttpConnector::new())
            .capabilities(caps)
            .connect(&format!("http://{addr}"))
            .await
        {
            Ok(client) => client,
            Err(err) => {
                let _ = driver.kill();
                panic!("headless Chromium did not start through chromedriver: {err}");
            }
        };
        Self {
            client,
            driver,
            _profile: profile,
        }
    }

    pub async fn close(mut self) {
        let client = self.client.clone();
        let _ = client.close().await;
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }

    pub async fn goto(&self, url: &str) {
        self.client.goto(url).await.unwrap();
    }

    /// Waits until an element matching `css` exists and is displayed.
    pub async fn visible(&self, css: &str) -> Element {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Ok(found) = self.client.find(Locator::Css(css)).await
                && found.is_displayed().await.unwrap_or(false)
            {
                return found;
            }
            if Instant::now() > deadline {
                let url = self
                    .client
                    .current_url()
                    .await
                    .map(|u| u.to_string())
                    .unwrap_or_default();
                let text = self.body_text().await;
                panic!("no visible {css} on {url} after {WAIT:?}; the page says:\n{text}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Whether an element matching `css` is displayed right now.
    pub async fn is_visible(&self, css: &str) -> bool {
        match self.client.find(Locator::Css(css)).await {
            Ok(found) => found.is_displayed().await.unwrap_or(false),
            Err(_) => false,
        }
    }

    pub async fn click(&self, css: &str) {
        self.visible(css).await.click().await.unwrap();
    }

    pub async fn fill(&self, css: &str, text: &str) {
        let field = self.visible(css).await;
        field.clear().await.unwrap();
        field.send_keys(text).await.unwrap();
    }

    pub async fn text(&self, css: &str) -> String {
        self.visible(css).await.text().await.unwrap()
    }

    pub async fn value(&self, css: &str) -> String {
        self.visible(css)
            .await
            .prop("value")
            .await
            .unwrap()
            .unwrap_or_default()
    }

    pub async fn body_text(&self) -> String {
        match self.client.find(Locator::Css("body")).await {
            Ok(body) => body.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        }
    }

    pub async fn path(&self) -> String {
        let url = self.client.current_url().await.unwrap();
        match url.query() {
            Some(query) => format!("{}?{query}", url.path()),
            None => url.path().to_owned(),
        }
    }

    /// Waits until the page's path (with query) satisfies `pred`.
    pub async fn wait_path(&self, what: &str, pred: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + WAIT;
        loop {
            let path = self.path().await;
            if pred(&path) {
                return path;
            }
            assert!(Instant::now() < deadline, "expected {what}, still on {path}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Signs out by forgetting the cookie (the server session just idles).
    pub async fn forget_session(&self) {
        self.client.delete_all_cookies().await.unwrap();
    }

    /// Signs in on `/` with the demo sign-in form.
    pub async fn sign_in(&self, base: &str, contact: &str) {
        self.forget_session().await;
        self.goto(&format!("{base}/")).await;
        self.fill("[data-testid=login-contact]", contact).await;
        self.click("[data-testid=login-submit]").await;
    }

    /// Writes a PNG of the viewport to `docs/screenshots/{name}.png`.
    pub async fn screenshot(&self, name: &str) {
        // Let transitions and fonts settle.
        tokio::time::sleep(Duration::from_millis(250)).await;
        let png = self.client.screenshot().await.unwrap();
        let dir = super::screenshot_dir();
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
    }

    pub async fn script(&self, js: &str) -> Value {
        self.client.execute(js, vec![]).await.unwrap()
    }
}

impl Browser {
    pub async fn refresh(&self) {
        self.client.refresh().await.unwrap();
    }

    /// Waits for the members page's records row of `contact` to show `status`.
    pub async fn wait_record(&self, contact: &str, status: &str) {
        self.visible(&format!(
            "[data-testid=record-row][data-contact='{contact}'][data-status={status}]"
        ))
        .await;
    }

    /// Runs axe-core on the page as it is now (`state` names it in the failure) and fails
    /// on any violation of [`AXE_TAGS`]: every rule id with its impact, help, and the
    /// selectors and HTML of the nodes at fault.
    pub async fn assert_accessible(&self, state: &str) {
        if let Some(report) = self.accessibility_report(state).await {
            panic!("{report}");
        }
    }

    /// axe-core's violations of [`AXE_TAGS`] on the page as it is now, as a readable
    /// report, or `None` when there are none.
    pub async fn accessibility_report(&self, state: &str) -> Option<String> {
        // Let the page's scripts finish their current render.
        tokio::time::sleep(Duration::from_millis(150)).await;
        // Once per page load: the script is large.
        let mut loaded = self.script("return typeof window.axe;").await;
        if loaded != json!("object") {
            loaded = self
                .client
                .execute(&format!("{}\n;return typeof window.axe;", axe_source()), vec![])
                .await
                .unwrap_or_else(|err| panic!("{state}: axe-core could not be injected: {err}"));
        }
        assert_eq!(loaded, json!("object"), "{state}: axe-core did not load");
        let outcome = self
            .client
            .execute_async(
                r#"const [tags, done] = arguments;
                window.axe
                  .run(document, { runOnly: { type: 'tag', values: tags }, resultTypes: ['violations'] })
                  .then((result) => done({
                    url: window.location.pathname,
                    violations: result.violations.map((v) => ({
                      id: v.id, impact: v.impact, help: v.help, tags: v.tags,
                      nodes: v.nodes.map((n) => ({
                        target: n.target.map(String).join(' '),
                        html: n.html,
                        summary: n.failureSummary || '',
                      })),
                    })),
                  }), (err) => done({ error: String(err) }));"#,
                vec![json!(AXE_TAGS)],
            )
            .await
            .unwrap_or_else(|err| panic!("{state}: axe.run did not answer: {err}"));
        if let Some(error) = outcome.get("error") {
            panic!("{state}: axe.run failed: {error}");
        }
        let violations = outcome["violations"].as_array().cloned().unwrap_or_default();
        if violations.is_empty() {
            return None;
        }
        let mut report = format!(
            "{state} ({}): {} accessibility violation(s) ({}):",
            outcome["url"].as_str().unwrap_or("?"),
            violations.len(),
            AXE_TAGS.join(", ")
        );
        for v in &violations {
            report.push_str(&format!(
                "\n- {} [{}] {}",
                v["id"].as_str().unwrap_or("?"),
                v["impact"].as_str().unwrap_or("?"),
                v["help"].as_str().unwrap_or("")
            ));
            for node in v["nodes"].as_array().into_iter().flatten() {
                report.push_str(&format!(
                    "\n    at {}: {}\n      {}",
                    node["target"].as_str().unwrap_or("?"),
                    node["html"].as_str().unwrap_or(""),
                    node["summary"].as_str().unwrap_or("").replace('\n', "\n      ")
                ));
            }
        }
        Some(report)
    }
}
