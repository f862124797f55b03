//! The load itself: set-up (the super admin's sessions, the enterprise, a few invitations
//! to view), then every client in its role until the deadline, then the report.

use std::future::Future;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::json;

use crate::http::{Http, HttpError, Reply};
use crate::mix::{Mix, Roles};
use crate::report::{Op, Outcome, Report, ReportHeader, Tally};
use crate::rss::Sampler;
use crate::target::Target;

/// What to run against which server.
#[derive(Clone, Debug)]
pub struct LoadConfig {
    /// The server (loopback only).
    pub target: Target,
    /// A name for the server in the report.
    pub label: String,
    /// Concurrent clients (each one request at a time).
    pub clients: usize,
    /// How long to send load; the run stops by itself after it.
    pub duration: Duration,
    /// The mix.
    pub mix: Mix,
    /// The super admin who sends and lists (`POST /login {"contact"}`).
    pub admin: String,
    /// The pid of the server, to read its memory from `/proc`.
    pub server_pid: Option<u32>,
    /// How long one request may take before it counts as unanswered.
    pub request_timeout: Duration,
    /// How long to wait for the server to answer the first sign-in.
    pub ready_timeout: Duration,
    /// Tells this run's accounts apart (`load-<run_id>-<n>@example.com`).
    pub run_id: String,
    /// Token lookups (view, accept, reject) a client sends from one source address before
    /// it moves to another loopback address (`127.a.b.c`), for a server that rate-limits
    /// lookups per client IP and cannot be told not to; a lookup refused with 429 is then
    /// sent once more from a fresh address. `None`: every request from 127.0.0.1.
    pub rotate_source_every: Option<u32>,
}

impl LoadConfig {
    /// The defaults: 16 clients, 30 s, the realistic mix, signed in as
    /// `alice@example.com`, 10 s per request, 30 s for the server to come up.
    #[must_use]
    pub fn new(target: Target) -> Self {
        Self {
            label: target.to_string(),
            target,
            clients: 16,
            duration: Duration::from_secs(30),
            mix: Mix::REALISTIC,
            admin: "alice@example.com".to_owned(),
            server_pid: None,
            request_timeout: Duration::from_secs(10),
            ready_timeout: Duration::from_secs(30),
            run_id: new_run_id(),
            rotate_source_every: None,
        }
    }
}

/// A fresh run id: 8 hex digits from the clock and the pid.
#[must_use]
pub fn new_run_id() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let mixed = (nanos as u64) ^ (u64::from(std::process::id()) << 32);
    format!("{:08x}", splitmix(mixed) & 0xffff_ffff)
}

/// Why a run could not start.
#[derive(Debug)]
pub enum LoadError {
    /// The server did not answer the first sign-in in time.
    NotReady(String),
    /// The set-up (sign-in, enterprise, first invitations) failed.
    Setup(String),
    /// The configuration cannot be run.
    Config(String),
}

impl std::fmt::Display for LoadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::NotReady(why) => write!(f, "the server is not ready: {why}"),
            Self::Setup(why) => write!(f, "set-up failed: {why}"),
            Self::Config(why) => write!(f, "cannot run: {why}"),
        }
    }
}

impl std::error::Error for LoadError {}

/// The most clients a run may have.
pub const MAX_CLIENTS: usize = 1024;
/// The longest a run may last.
pub const MAX_DURATION: Duration = Duration::from_secs(3600);
/// Invitations sent during set-up, so that viewers have links from the first instant.
const SEEDED_INVITATIONS: usize = 8;

/// Runs `config.mix` with `config.clients` clients against `config.target` for
/// `config.duration`, and reports. Bounded: no request starts after the deadline and each
/// one gives up after the request timeout.
///
/// # Errors
/// [`LoadError`] when the configuration is out of bounds or the set-up fails. Failed
/// requests during the load are not errors here: they are in the report
/// ([`Report::is_clean`]).
pub async fn run_load(config: &LoadConfig) -> Result<Report, LoadError> {
    if config.clients == 0 || config.clients > MAX_CLIENTS {
        return Err(LoadError::Config(format!("clients must be 1 to {MAX_CLIENTS}")));
    }
    if config.duration.is_zero() || config.duration > MAX_DURATION {
        return Err(LoadError::Config(
            "duration must be positive and at most 1 h".to_owned(),
        ));
    }
    let http = Http::new(&config.target, config.request_timeout);
    let first = wait_for_admin(&http, config).await?;
    let enterprise = super_admin_enterprise(&first.json()).ok_or_else(|| {
        LoadError::Setup(format!(
            "{} is super admin of no certified enterprise",
            config.admin
        ))
    })?;
    let invitations = format!("/api/enterprises/{enterprise}/invitations");

    let roles = config.mix.roles(config.clients);
    let mut clients = Vec::with_capacity(config.clients);
    for index in 0..config.clients {
        let session = login(&http, &config.admin).await?;
        let tally = Tally::new().map_err(|err| LoadError::Setup(err.to_string()))?;
        clients.push((index, session, tally));
    }
    let mut seeded = Vec::with_capacity(SEEDED_INVITATIONS);
    for n in 0..SEEDED_INVITATIONS {
        let contact = format!("load-{}-s{n}@example.com", config.run_id);
        let invitee = register(&http, &contact, &format!("Seed Invitee {n}"))
            .await
            .map_err(LoadError::Setup)?;
        let reply = http
            .post(
                &invitations,
                Some(&first_cookie(&first)?),
                body(&json!({ "contact": contact, "role": "member" })),
            )
            .await
            .map_err(|err| LoadError::Setup(format!("send: {err}")))?;
        let token = (reply.status == 201)
            .then(|| token_of(&reply))
            .flatten()
            .ok_or_else(|| LoadError::Setup(format!("send answered {}: {}", reply.status, text(&reply))))?;
        seeded.push(Arc::new(Entry::new(token, Some(invitee))));
    }

    let sampler = config.server_pid.map(Sampler::start);
    let me = std::process::id();
    let loadgen_cpu_at_start = crate::rss::cpu_seconds(me).ok();
    let load_at_start = crate::rss::load_average();
    let start = Instant::now();
    let shared = Arc::new(Shared {
        http,
        target: config.target.clone(),
        request_timeout: config.request_timeout,
        rotate_every: config.rotate_source_every.filter(|n| *n > 0),
        run_id: config.run_id.clone(),
        invitations,
        deadline: start + config.duration,
        counter: AtomicU64::new(0),
        pool: RwLock::new(seeded),
        mix: config.mix,
    });
    let mut tasks = tokio::task::JoinSet::new();
    for (index, admin, tally) in clients {
        let role = role_of(index, roles);
        let lookups = match shared.rotate_every {
            Some(_) => Http::with_source(&config.target, config.request_timeout, Some(source_ip(index, 0))),
            None => shared.http.clone(),
        };
        let client = Client {
            shared: shared.clone(),
            index,
            rng: Rng::new(index as u64 ^ u64::from_str_radix(&config.run_id, 16).unwrap_or(7)),
            admin,
            tally,
            lookups,
            lookups_used: 0,
            rotation: 0,
        };
        tasks.spawn(client.run(role));
    }
    // Every request gives up after the request timeout, and none starts after the
    // deadline; this only guards against a bug.
    let bound = config.duration + config.request_timeout * 2 + Duration::from_secs(5);
    let mut total = Tally::new().map_err(|err| LoadError::Setup(err.to_string()))?;
    let joined = tokio::time::timeout(bound, async {
        while let Some(done) = tasks.join_next().await {
            match done {
                Ok(tally) => total.merge(&tally),
                Err(err) => return Err(LoadError::Setup(format!("a client failed: {err}"))),
            }
        }
        Ok(())
    })
    .await;
    let elapsed = start.elapsed();
    match joined {
        Ok(result) => result?,
        Err(_) => {
            tasks.abort_all();
            return Err(LoadError::Setup("the clients did not stop in time".to_owned()));
        }
    }
    let rss = match sampler {
        Some(sampler) => sampler.finish().await,
        None => None,
    };
    let header = ReportHeader {
        label: config.label.clone(),
        target: config.target.to_string(),
        clients: config.clients,
        roles,
        mix: config.mix.to_string(),
        run_id: config.run_id.clone(),
    };
    let loadgen_cpu = loadgen_cpu_at_start
        .zip(crate::rss::cpu_seconds(me).ok())
        .map(|(before, after)| (after - before).max(0.0))
        // In process (the smoke test) the server's CPU is the load generator's too.
        .filter(|_| config.server_pid != Some(me));
    let mut report = total.into_report(header, elapsed, rss, loadgen_cpu);
    report.load_average = load_at_start.zip(crate::rss::load_average());
    Ok(report)
}

fn first_cookie(reply: &Reply) -> Result<String, LoadError> {
    reply
        .cookie
        .clone()
        .ok_or_else(|| LoadError::Setup("the sign-in set no cookie".to_owned()))
}

/// Signs in as the admin until the server answers (it may still be starting).
async fn wait_for_admin(http: &Http, config: &LoadConfig) -> Result<Reply, LoadError> {
    let give_up = Instant::now() + config.ready_timeout;
    loop {
        match http
            .post("/login", None, body(&json!({ "contact": config.admin })))
            .await
        {
            Ok(reply) if reply.status == 200 && reply.cookie.is_some() => return Ok(reply),
            Ok(reply) => {
                return Err(LoadError::Setup(format!(
                    "POST /login as {} answered {}: {}",
                    config.admin,
                    reply.status,
                    text(&reply)
                )));
            }
            Err(err) if Instant::now() >= give_up => {
                return Err(LoadError::NotReady(format!(
                    "{} did not answer within {:?}: {err}",
                    config.target, config.ready_timeout
                )));
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

async fn login(http: &Http, contact: &str) -> Result<String, LoadError> {
    let reply = http
        .post("/login", None, body(&json!({ "contact": contact })))
        .await
        .map_err(|err| LoadError::Setup(format!("POST /login: {err}")))?;
    match (&reply.cookie, reply.status) {
        (Some(cookie), 200) => Ok(cookie.clone()),
        _ => Err(LoadError::Setup(format!(
            "POST /login answered {}: {}",
            reply.status,
            text(&reply)
        ))),
    }
}

async fn register(http: &Http, contact: &str, name: &str) -> Result<String, String> {
    let reply = http
        .post(
            "/register",
            None,
            body(&json!({ "name": name, "contact": contact })),
        )
        .await
        .map_err(|err| format!("POST /register: {err}"))?;
    match (&reply.cookie, reply.status) {
        (Some(cookie), 200) => Ok(cookie.clone()),
        _ => Err(format!(
            "POST /register answered {}: {}",
            reply.status,
            text(&reply)
        )),
    }
}

/// The id of the first certified enterprise the signed-in user is super admin of, from
/// the `memberships` of a sign-in answer.
fn super_admin_enterprise(me: &serde_json::Value) -> Option<String> {
    me["memberships"]
        .as_array()?
        .iter()
        .find(|m| m["role"] == "super_admin" && m["certified"] != false)
        .and_then(|m| match &m["enterprise_id"] {
            serde_json::Value::String(id) => Some(id.clone()),
            serde_json::Value::Number(id) => Some(id.to_string()),
            _ => None,
        })
}

/// The token of the `invite_url` of a send's answer.
fn token_of(reply: &Reply) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Sent {
        invite_url: String,
    }
    let sent: Sent = serde_json::from_slice(&reply.body).ok()?;
    let (_, query) = sent.invite_url.split_once('?')?;
    query
        .split('&')
        .find_map(|pair| pair.strip_prefix("token="))
        .filter(|token| !token.is_empty())
        .map(str::to_owned)
}

fn body(value: &serde_json::Value) -> Vec<u8> {
    serde_json::to_vec(value).unwrap_or_default()
}

/// The start of a body, for error messages.
fn text(reply: &Reply) -> String {
    String::from_utf8_lossy(&reply.body).chars().take(300).collect()
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Role {
    Viewer,
    Invitee,
    Admin,
}

/// Clients `0..viewers` view, the next `invitees` walk journeys, the rest are admins.
fn role_of(index: usize, roles: Roles) -> Role {
    if index < roles.viewers {
        Role::Viewer
    } else if index < roles.viewers + roles.invitees {
        Role::Invitee
    } else {
        Role::Admin
    }
}

// The lifecycle of an invitation as the run knows it, for checking what `view` shows.
const PENDING: u8 = 0;
const ACCEPTING: u8 = 1;
const REJECTING: u8 = 2;
const ACCEPTED: u8 = 3;
const REJECTED: u8 = 4;
const UNKNOWN: u8 = 5;

/// An invitation the run sent: its token, its invitee's session (none for outside
/// contacts), and where it is in its lifecycle.
#[derive(Debug)]
struct Entry {
    token: String,
    cookie: Option<String>,
    state: AtomicU8,
}

impl Entry {
    fn new(token: String, cookie: Option<String>) -> Self {
        Self {
            token,
            cookie,
            state: AtomicU8::new(PENDING),
        }
    }

    fn state(&self) -> u8 {
        self.state.load(Ordering::Acquire)
    }

    fn set(&self, state: u8) {
        self.state.store(state, Ordering::Release);
    }
}

/// The `state`s a view may show, given the lifecycle before the request was sent and
/// after its answer came (an answer may be committed in between).
fn allowed_states(before: u8, after: u8) -> &'static [&'static str] {
    const INFO: &str = "invitation_info";
    match (before, after) {
        (ACCEPTED, _) => &["accepted"],
        (REJECTED, _) => &["rejected"],
        (UNKNOWN, _) | (_, UNKNOWN) => &[INFO, "accepted", "rejected"],
        (_, PENDING) => &[INFO],
        (_, ACCEPTING | ACCEPTED) => &[INFO, "accepted"],
        (_, _) => &[INFO, "rejected"],
    }
}

struct Shared {
    http: Http,
    target: Target,
    request_timeout: Duration,
    rotate_every: Option<u32>,
    run_id: String,
    invitations: String,
    deadline: Instant,
    counter: AtomicU64,
    pool: RwLock<Vec<Arc<Entry>>>,
    mix: Mix,
}

impl Shared {
    fn pick(&self, rng: &mut Rng) -> Option<Arc<Entry>> {
        let pool = self
            .pool
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if pool.is_empty() {
            return None;
        }
        pool.get(rng.below(pool.len())).cloned()
    }

    fn publish(&self, entry: Arc<Entry>) {
        self.pool
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(entry);
    }
}

/// The loopback address client `client` uses for its `rotation`-th batch of token
/// lookups: `127.a.b.c`, distinct for up to 1 250 clients × 12 500 rotations.
fn source_ip(client: usize, rotation: u32) -> IpAddr {
    let client = u32::try_from(client).unwrap_or(u32::MAX);
    let a = 1 + client % 250;
    let b = (client / 250) * 50 + (rotation / 250) % 50;
    let c = 1 + rotation % 250;
    let octet = |x: u32| u8::try_from(x).unwrap_or(u8::MAX);
    IpAddr::V4(Ipv4Addr::new(127, octet(a), octet(b), octet(c)))
}

struct Client {
    shared: Arc<Shared>,
    index: usize,
    rng: Rng,
    admin: String,
    tally: Tally,
    /// The client of token lookups (view, accept, reject), from a source address of its
    /// own when lookups rotate.
    lookups: Http,
    lookups_used: u32,
    rotation: u32,
}

/// The answer of a request that ended as its operation expects, or why it did not.
enum Judged {
    Good(Reply),
    Bad,
    Late,
}

/// Whether a request is a token lookup, which a server may rate-limit per client IP.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Plain,
    Lookup,
}

impl Client {
    async fn run(mut self, role: Role) -> Tally {
        loop {
            let more = match role {
                Role::Viewer => self.view_any().await,
                Role::Invitee => self.journey().await,
                Role::Admin => self.admin_action().await,
            };
            if !more || Instant::now() >= self.shared.deadline {
                return self.tally;
            }
        }
    }

    /// The client for the next token lookup, moved to a fresh source address after
    /// `rotate_every` lookups.
    fn lookup_http(&mut self) -> Http {
        if let Some(every) = self.shared.rotate_every {
            if self.lookups_used >= every {
                self.rotate();
            }
            self.lookups_used += 1;
        }
        self.lookups.clone()
    }

    fn rotate(&mut self) {
        self.rotation += 1;
        self.lookups_used = 0;
        self.tally.note_rotation();
        let shared = &self.shared;
        self.lookups = Http::with_source(
            &shared.target,
            shared.request_timeout,
            Some(source_ip(self.index, self.rotation)),
        );
    }

    /// Sends one request of `op` (made by `make` on the client to use) unless the deadline
    /// has passed, times it, and judges the answer. A lookup refused with 429 while
    /// lookups rotate is sent once more from a fresh source address; only that second
    /// attempt is timed.
    async fn call<F, Fut>(
        &mut self,
        op: Op,
        kind: Kind,
        make: F,
        judge: impl FnOnce(&Reply) -> Outcome,
    ) -> Judged
    where
        F: Fn(Http) -> Fut,
        Fut: Future<Output = Result<Reply, HttpError>>,
    {
        let mut retried = false;
        loop {
            if Instant::now() >= self.shared.deadline {
                return Judged::Late;
            }
            let http = match kind {
                Kind::Lookup => self.lookup_http(),
                Kind::Plain => self.shared.http.clone(),
            };
            let start = Instant::now();
            let result = make(http).await;
            let latency = start.elapsed();
            let limited = matches!(&result, Ok(reply) if reply.status == 429);
            if kind == Kind::Lookup && limited && !retried && self.shared.rotate_every.is_some() {
                retried = true;
                self.tally.note_rate_limited_retry();
                self.rotate();
                continue;
            }
            return match result {
                Ok(reply) => {
                    let outcome = judge(&reply);
                    self.tally.record(op, latency, &outcome);
                    match outcome {
                        Outcome::Expected { .. } => Judged::Good(reply),
                        _ => Judged::Bad,
                    }
                }
                Err(err) => {
                    self.tally.record(op, latency, &Outcome::NoAnswer(err.label()));
                    Judged::Bad
                }
            };
        }
    }

    /// A viewer's step: one view of any invitation of the run.
    async fn view_any(&mut self) -> bool {
        let Some(entry) = self.shared.pick(&mut self.rng) else {
            return false;
        };
        let signed_in = entry.cookie.is_some() && self.rng.percent(self.shared.mix.signed_in);
        !matches!(self.view(&entry, signed_in).await, Judged::Late)
    }

    async fn view(&mut self, entry: &Entry, signed_in: bool) -> Judged {
        let cookie = if signed_in { entry.cookie.as_deref() } else { None };
        let before = entry.state();
        let body = token_body(&entry.token);
        let make = |http: Http| {
            let body = body.clone();
            async move { http.post("/api/invitations/view", cookie, body).await }
        };
        let viewer = if signed_in { "matching" } else { "signed_out" };
        self.call(Op::View, Kind::Lookup, make, |reply| {
            if reply.status != 200 {
                return unexpected(reply);
            }
            let seen = reply.json();
            let allowed = allowed_states(before, entry.state());
            let state_ok = seen["state"].as_str().is_some_and(|s| allowed.contains(&s));
            if !state_ok {
                return Outcome::Unexpected {
                    status: 200,
                    code: format!("wrong state {}", seen["state"]),
                };
            }
            if seen["viewer"] != viewer {
                return Outcome::Unexpected {
                    status: 200,
                    code: format!("wrong viewer {}", seen["viewer"]),
                };
            }
            Outcome::Expected {
                status: 200,
                code: None,
            }
        })
        .await
    }

    /// An invitee's journey on a fresh invitation: register, be invited, view, answer,
    /// and sometimes replay.
    async fn journey(&mut self) -> bool {
        let shared = self.shared.clone();
        let n = shared.counter.fetch_add(1, Ordering::Relaxed);
        let contact = format!("load-{}-{n}@example.com", shared.run_id);
        let body = body(&json!({ "name": format!("Load Invitee {n}"), "contact": contact }));
        let make = |http: Http| {
            let body = body.clone();
            async move { http.post("/register", None, body).await }
        };
        let invitee = match self
            .call(Op::Register, Kind::Plain, make, |r| status_is(r, 200))
            .await
        {
            Judged::Good(reply) => match reply.cookie {
                Some(cookie) => cookie,
                None => return true,
            },
            Judged::Bad => return true,
            Judged::Late => return false,
        };
        let Some(token) = self.send(&contact, "member").await else {
            return Instant::now() < shared.deadline;
        };
        let entry = Arc::new(Entry::new(token, Some(invitee)));
        shared.publish(entry.clone());
        if let Judged::Late = self.view(&entry, true).await {
            return false;
        }
        let rejecting = self.rng.percent(shared.mix.reject);
        let (op, path, doing, done, code) = if rejecting {
            (
                Op::Reject,
                "/api/invitations/reject",
                REJECTING,
                REJECTED,
                "already_rejected",
            )
        } else {
            (
                Op::Accept,
                "/api/invitations/accept",
                ACCEPTING,
                ACCEPTED,
                "already_accepted",
            )
        };
        entry.set(doing);
        let cookie = entry.cookie.as_deref();
        let body = token_body(&entry.token);
        let make = |path: &'static str| {
            let body = &body;
            move |http: Http| {
                let body = body.clone();
                async move { http.post(path, cookie, body).await }
            }
        };
        match self
            .call(op, Kind::Lookup, make(path), |r| status_is(r, 200))
            .await
        {
            Judged::Good(_) => entry.set(done),
            Judged::Bad => {
                entry.set(UNKNOWN);
                return true;
            }
            Judged::Late => {
                entry.set(UNKNOWN);
                return false;
            }
        }
        if self.rng.percent(shared.mix.replay) {
            let judged = self
                .call(
                    Op::Replay,
                    Kind::Lookup,
                    make("/api/invitations/accept"),
                    |reply| match reply.error_code() {
                        Some(seen) if reply.status == 409 && seen == code => Outcome::Expected {
                            status: 409,
                            code: Some(seen),
                        },
                        _ => unexpected(reply),
                    },
                )
                .await;
            if let Judged::Late = judged {
                return false;
            }
        }
        true
    }

    /// The super admin sends an invitation to `contact`; its token.
    async fn send(&mut self, contact: &str, role: &str) -> Option<String> {
        let shared = self.shared.clone();
        let admin = self.admin.clone();
        let body = body(&json!({ "contact": contact, "role": role }));
        let make = |http: Http| {
            let body = body.clone();
            let (path, admin) = (&shared.invitations, &admin);
            async move { http.post(path, Some(admin), body).await }
        };
        let judged = self
            .call(Op::Send, Kind::Plain, make, |reply| {
                if reply.status != 201 {
                    unexpected(reply)
                } else if token_of(reply).is_none() {
                    Outcome::Unexpected {
                        status: 201,
                        code: "no token in invite_url".to_owned(),
                    }
                } else {
                    Outcome::Expected {
                        status: 201,
                        code: None,
                    }
                }
            })
            .await;
        match judged {
            Judged::Good(reply) => token_of(&reply),
            _ => None,
        }
    }

    /// An admin's step: list the first page of records, or invite an outside contact.
    async fn admin_action(&mut self) -> bool {
        let shared = self.shared.clone();
        if self.rng.percent(shared.mix.admin_send) {
            let n = shared.counter.fetch_add(1, Ordering::Relaxed);
            let contact = format!("load-{}-o{n}@example.com", shared.run_id);
            if let Some(token) = self.send(&contact, "dev_admin").await {
                shared.publish(Arc::new(Entry::new(token, None)));
            }
            return Instant::now() < shared.deadline;
        }
        let path = format!("{}?limit=20", shared.invitations);
        let admin = self.admin.clone();
        let make = |http: Http| {
            let (path, admin) = (&path, &admin);
            async move { http.get(path, Some(admin)).await }
        };
        let judged = self
            .call(Op::List, Kind::Plain, make, |reply| {
                if reply.status != 200 {
                    return unexpected(reply);
                }
                match reply.json()["items"].as_array() {
                    Some(items) if !items.is_empty() && items.len() <= 20 => Outcome::Expected {
                        status: 200,
                        code: None,
                    },
                    _ => Outcome::Unexpected {
                        status: 200,
                        code: "no items".to_owned(),
                    },
                }
            })
            .await;
        !matches!(judged, Judged::Late)
    }
}

fn token_body(token: &str) -> Vec<u8> {
    body(&json!({ "token": token }))
}

fn status_is(reply: &Reply, status: u16) -> Outcome {
    if reply.status == status {
        Outcome::Expected { status, code: None }
    } else {
        unexpected(reply)
    }
}

fn unexpected(reply: &Reply) -> Outcome {
    Outcome::Unexpected {
        status: reply.status,
        code: reply.error_code().unwrap_or_else(|| "(no error code)".to_owned()),
    }
}

/// A small, fast, deterministic random source for the mix (xorshift64*): the mix needs
/// no cryptographic randomness.
#[derive(Clone, Debug)]
struct Rng(u64);

fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

impl Rng {
    fn new(seed: u64) -> Self {
        Self(splitmix(seed) | 1)
    }

    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % (n.max(1) as u64)).unwrap_or(0)
    }

    fn percent(&mut self, p: u32) -> bool {
        self.next() % 100 < u64::from(p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_comes_from_invite_url() {
        let reply = Reply {
            status: 201,
            body: r#"{"id":"x","invite_url":"http://127.0.0.1:3000/invite?token=abc_DEF-123"}"#
                .as_bytes()
                .to_vec()
                .into(),
            cookie: None,
        };
        assert_eq!(token_of(&reply).as_deref(), Some("abc_DEF-123"));
        let none = Reply {
            body: br#"{"invite_url":"http://x/invite"}"#.to_vec().into(),
            ..reply
        };
        assert_eq!(token_of(&none), None);
    }

    #[test]
    fn the_enterprise_is_the_first_certified_one_of_a_super_admin() {
        let me = json!({ "memberships": [
            { "enterprise_id": "u", "role": "super_admin", "certified": false },
            { "enterprise_id": "m", "role": "member", "certified": true },
            { "enterprise_id": "a", "role": "super_admin", "certified": true },
        ]});
        assert_eq!(super_admin_enterprise(&me).as_deref(), Some("a"));
        assert_eq!(super_admin_enterprise(&json!({})), None);
    }

    #[test]
    fn views_racing_an_answer_may_show_either_side() {
        assert_eq!(allowed_states(PENDING, PENDING), &["invitation_info"]);
        assert_eq!(
            allowed_states(PENDING, ACCEPTED),
            &["invitation_info", "accepted"]
        );
        assert_eq!(
            allowed_states(REJECTING, REJECTED),
            &["invitation_info", "rejected"]
        );
        assert_eq!(allowed_states(ACCEPTED, ACCEPTED), &["accepted"]);
        assert_eq!(allowed_states(PENDING, UNKNOWN).len(), 3);
    }

    #[test]
    fn the_random_source_spreads() {
        let mut rng = Rng::new(1);
        let hits = (0..10_000).filter(|_| rng.percent(20)).count();
        assert!((1_600..2_400).contains(&hits), "{hits}");
        assert!((0..1000).all(|_| rng.below(7) < 7));
        assert_ne!(new_run_id(), "");
    }

    #[test]
    fn source_addresses_are_loopback_and_distinct() {
        let mut seen = std::collections::HashSet::new();
        for client in [0, 1, 249, 250, 1023] {
            for rotation in [0, 1, 249, 250, 12_499] {
                let ip = source_ip(client, rotation);
                assert!(ip.is_loopback(), "{ip}");
                assert!(seen.insert(ip), "{ip} twice");
            }
        }
    }

    #[test]
    fn roles_are_assigned_in_order() {
        let roles = Roles {
            viewers: 2,
            invitees: 1,
            admins: 1,
        };
        let seen: Vec<Role> = (0..4).map(|i| role_of(i, roles)).collect();
        assert_eq!(seen, [Role::Viewer, Role::Viewer, Role::Invitee, Role::Admin]);
    }
}
