//! [`DeliveryWorker`]: drains the delivery outbox (rules D1–D4). The host spawns
//! `DeliveryWorker::run` on its runtime (feature `worker`, tokio), or calls
//! [`DeliveryWorker::drain_once`] from its own scheduler (no runtime needed).
//!
//! One attempt: claim due rows under a lease; drop the stale ones (rule D2); open the
//! sealed link; hand a [`Delivery`] to the notifier; record `delivered`, a retry with
//! exponential backoff and jitter, or `failed` — each in one transaction with the
//! invitation's delivery status and its event — and publish that event. Only kinds are
//! logged, never a link or a notifier's text (rule D4).
//!
//! Why in `invite-core`: the worker is the outbox's rules written against the ports
//! (claim, finish, the notifier, the clock), so every store — the in-memory one, SQLite,
//! PostgreSQL, a host's own — gets the same behaviour and the contract suite can hold
//! them to it. Only its loop needs a runtime (a timer, a wake-up signal), and that part
//! sits behind the `worker` feature; [`DeliveryWorker::drain_once`] does not.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use futures_util::{FutureExt as _, StreamExt as _};
use rand::RngExt as _;

use crate::event::InvitationEvent;
use crate::outbox::{ClaimedDelivery, DeliveryOutcome, Finished, OutboxKey, RetryPolicy, Staleness};
use crate::ports::EventSink;
use crate::ports::{Clock, to_storage_precision};
use crate::ports::{
    Delivery, Directory, InvitationStore, Notifier, NotifyError, NotifyErrorKind, StoreError,
};

/// How a [`DeliveryWorker`] works.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WorkerConfig {
    /// Rows claimed per round.
    pub batch: usize,
    /// Deliveries of one round in flight at once.
    pub concurrency: usize,
    /// How long a claimed row is the worker's. A notifier must give up before this (an
    /// attempt that outlives its lease may be repeated by another worker, rule D3).
    pub lease: Duration,
    /// Attempts and backoff.
    pub retry: RetryPolicy,
    /// How long `DeliveryWorker::run` waits for work when nothing woke it: the latency of
    /// retries and of rows queued by other processes.
    pub poll_interval: Duration,
    /// How long finished rows (delivered, failed, dropped; their links already erased)
    /// are kept before [`DeliveryWorker::prune`] deletes them.
    pub retention: Duration,
    /// How often `DeliveryWorker::run` prunes.
    pub prune_every: Duration,
}

impl Default for WorkerConfig {
    /// 32 rows a round, 4 in flight, a 5-minute lease, [`RetryPolicy::default`], a 2 s poll,
    /// 7 days' retention, pruned hourly.
    fn default() -> Self {
        Self {
            batch: 32,
            concurrency: 4,
            lease: Duration::from_secs(300),
            retry: RetryPolicy::default(),
            poll_interval: Duration::from_secs(2),
            retention: Duration::from_secs(7 * 24 * 3600),
            prune_every: Duration::from_secs(3600),
        }
    }
}

/// What one [`DeliveryWorker::drain_once`] did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DrainReport {
    /// Rows claimed.
    pub claimed: usize,
    /// Handed to the notifier, which took them.
    pub delivered: usize,
    /// Failed for now; another attempt is scheduled.
    pub retried: usize,
    /// Failed for good.
    pub failed: usize,
    /// Stale, not delivered (rule D2).
    pub dropped: usize,
    /// Whose lease ran out before the outcome was recorded (another worker has them).
    pub lost: usize,
    /// Whose outcome could not be recorded (a storage failure): their lease will run out
    /// and they will be attempted again (at least once, rule D3).
    pub unrecorded: usize,
}

/// Wakes a waiting `DeliveryWorker::run` when the service has queued a delivery, so a
/// new link goes out at once rather than at the next poll.
#[derive(Debug, Default)]
pub(crate) struct Wake {
    #[cfg(feature = "worker")]
    notify: tokio::sync::Notify,
}

impl Wake {
    pub(crate) fn wake(&self) {
        #[cfg(feature = "worker")]
        self.notify.notify_one();
    }
}

/// Drains the delivery outbox: see the [module docs](self). Made by
/// [`Invitations::delivery_worker`](crate::Invitations::delivery_worker), which gives it
/// the service's store, directory, notifier, outbox key, clock and event sink.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use std::sync::Arc;
/// use invite_core::testing::{MemoryStore, RecordingNotifier, seed};
/// use invite_core::{DeliveryStatus, Invitations, OutboxKey, SendInvitation};
///
/// let store = Arc::new(MemoryStore::default());
/// let world = seed::demo(&*store).await?;
/// let notifier = Arc::new(RecordingNotifier::default());
/// let invitations = Invitations::builder(store)
///     .notifier(notifier.clone())
///     .outbox(OutboxKey::generate()) // rule D1: delivery through the outbox
///     .build();
/// let sent = invitations
///     .send(&world.alice, &world.acme.id, SendInvitation::new("bob@example.com", "member"))
///     .await?;
/// assert_eq!(sent.invitation.delivery, DeliveryStatus::Queued);
///
/// let worker = invitations.delivery_worker().ok_or("no outbox")?;
/// // A host spawns `worker.run(shutdown)`; a test drains by hand:
/// assert_eq!(worker.drain_once().await?.delivered, 1);
/// assert_eq!(notifier.deliveries().len(), 1);
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct DeliveryWorker {
    pub(crate) store: Arc<dyn InvitationStore>,
    pub(crate) directory: Arc<dyn Directory>,
    pub(crate) notifier: Option<Arc<dyn Notifier>>,
    pub(crate) key: OutboxKey,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) events: Arc<dyn EventSink>,
    #[cfg_attr(not(feature = "worker"), allow(dead_code))]
    pub(crate) wake: Arc<Wake>,
    pub(crate) config: WorkerConfig,
}

impl std::fmt::Debug for DeliveryWorker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeliveryWorker")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// What became of one claimed row, for the report.
enum Attempted {
    Delivered,
    Retried,
    Failed,
    Dropped,
    Lost,
    Unrecorded,
}

impl DeliveryWorker {
    /// Replaces the settings.
    #[must_use]
    pub fn config(mut self, config: WorkerConfig) -> Self {
        self.config = config;
        self
    }

    /// The settings in force.
    #[must_use]
    pub fn settings(&self) -> &WorkerConfig {
        &self.config
    }

    fn now(&self) -> DateTime<Utc> {
        to_storage_precision(self.clock.now())
    }

    /// One round: claims up to `batch` due rows and attempts each (up to `concurrency` at
    /// once), recording every outcome. For tests and for hosts with their own scheduler;
    /// call it until it claims fewer than `batch` to empty the outbox of what is due.
    ///
    /// # Errors
    /// When the claim itself fails (nothing was claimed). A failure to record one outcome
    /// is counted in [`DrainReport::unrecorded`] instead: that row's lease runs out and it
    /// is attempted again.
    pub async fn drain_once(&self) -> Result<DrainReport, StoreError> {
        let claimed = self
            .store
            .claim_deliveries(self.now(), self.config.lease, self.config.batch.max(1))
            .await?;
        let mut report = DrainReport {
            claimed: claimed.len(),
            ..DrainReport::default()
        };
        let outcomes: Vec<Attempted> = futures_util::stream::iter(claimed)
            .map(|row| self.attempt(row))
            .buffer_unordered(self.config.concurrency.max(1))
            .collect()
            .await;
        for outcome in outcomes {
            match outcome {
                Attempted::Delivered => report.delivered += 1,
                Attempted::Retried => report.retried += 1,
                Attempted::Failed => report.failed += 1,
                Attempted::Dropped => report.dropped += 1,
                Attempted::Lost => report.lost += 1,
                Attempted::Unrecorded => report.unrecorded += 1,
            }
        }
        Ok(report)
    }

    /// Deletes finished rows older than the retention, a batch at a time; returns how many.
    ///
    /// # Errors
    /// When the store fails.
    pub async fn prune(&self) -> Result<usize, StoreError> {
        let retention = TimeDelta::from_std(self.config.retention).unwrap_or(TimeDelta::MAX);
        let before = self
            .now()
            .checked_sub_signed(retention)
            .unwrap_or(DateTime::<Utc>::MIN_UTC);
        let batch = self.config.batch.max(1) * 32;
        let mut pruned = 0;
        loop {
            let n = self.store.prune_deliveries(before, batch).await?;
            pruned += n;
            if n < batch {
                return Ok(pruned);
            }
        }
    }

    async fn attempt(&self, row: ClaimedDelivery) -> Attempted {
        let now = self.now();
        if let Some(reason) = row.stale_at(now) {
            tracing::info!(
                invitation_id = %row.invitation_id,
                delivery_id = %row.id,
                reason = staleness_name(reason),
                "outbox row is stale; dropped, not delivered"
            );
            return self.finish(&row, DeliveryOutcome::Dropped).await;
        }
        if row.attempt > self.config.retry.max_attempts {
            // Attempts that never returned (a crash or a hang past the lease, a panic before
            // this catch existed) count as well: the link is not handed over again (rule D1).
            let failed = DeliveryOutcome::Failed {
                error: NotifyErrorKind::Transient,
            };
            return self.finish(&row, failed).await;
        }
        let result = self.deliver(&row).await;
        let outcome = match result {
            Ok(()) => DeliveryOutcome::Delivered,
            Err(Failure::Stale) => DeliveryOutcome::Dropped,
            Err(Failure::Notify(kind)) => self.after_failure(&row, kind),
        };
        self.finish(&row, outcome).await
    }

    /// The outcome after a failed attempt of `kind`: another one later, or failed.
    fn after_failure(&self, row: &ClaimedDelivery, kind: NotifyErrorKind) -> DeliveryOutcome {
        if kind == NotifyErrorKind::Permanent {
            return DeliveryOutcome::Failed { error: kind };
        }
        let jitter = rand::rng().random::<f64>();
        match self.config.retry.next_attempt(row.attempt, self.now(), jitter) {
            Some(at) => DeliveryOutcome::Retry { at },
            None => DeliveryOutcome::Failed { error: kind },
        }
    }

    async fn deliver(&self, row: &ClaimedDelivery) -> Result<(), Failure> {
        let Some(invitation) = &row.invitation else {
            return Err(Failure::Stale);
        };
        let link = match self
            .key
            .open(&row.sealed_link, row.invitation_id, &row.token_digest)
        {
            Ok(link) => link,
            Err(err) => {
                // Another key than the one that sealed it: retrying gives the operator time
                // to restore the right key before the attempts run out.
                tracing::error!(
                    invitation_id = %row.invitation_id,
                    delivery_id = %row.id,
                    error = %err,
                    "cannot open the sealed link of an outbox row (is this the outbox key it was sealed with?)"
                );
                return Err(Failure::Notify(NotifyErrorKind::Transient));
            }
        };
        let enterprise = match self.directory.enterprise(&row.enterprise_id).await {
            Ok(Some(enterprise)) => enterprise,
            Ok(None) => return Err(Failure::Stale),
            Err(err) => {
                tracing::warn!(invitation_id = %row.invitation_id, error = %err, "could not read the enterprise of a delivery");
                return Err(Failure::Notify(NotifyErrorKind::Transient));
            }
        };
        let delivery = Delivery::of(invitation, &enterprise.name, link);
        let Some(notifier) = &self.notifier else {
            return Err(Failure::Notify(NotifyErrorKind::Permanent));
        };
        // A notifier that panics fails this attempt, not the worker: the other rows of the
        // batch and every later batch are still delivered (rules D1, X7).
        let delivered = std::panic::AssertUnwindSafe(notifier.deliver(&delivery))
            .catch_unwind()
            .await;
        let Ok(delivered) = delivered else {
            // Never the payload: a notifier's panic message may quote the link (rule D4).
            tracing::error!(
                invitation_id = %row.invitation_id,
                delivery_id = %row.id,
                attempt = row.attempt,
                "the notifier panicked; counted as a failed attempt"
            );
            return Err(Failure::Notify(NotifyErrorKind::Transient));
        };
        delivered.map_err(|err: NotifyError| {
            // Only the kind: a notifier's error chain may quote the link (rule D4).
            tracing::warn!(
                invitation_id = %row.invitation_id,
                delivery_id = %row.id,
                attempt = row.attempt,
                error = %err,
                "delivery attempt failed"
            );
            Failure::Notify(err.kind())
        })
    }

    async fn finish(&self, row: &ClaimedDelivery, outcome: DeliveryOutcome) -> Attempted {
        let now = self.now();
        match self.store.finish_delivery(row, outcome, now).await {
            Ok(Finished::Recorded(event)) => {
                if let Some(event) = event {
                    self.publish(&event).await;
                }
                let attempted = match outcome {
                    DeliveryOutcome::Delivered => Attempted::Delivered,
                    DeliveryOutcome::Retry { .. } => Attempted::Retried,
                    DeliveryOutcome::Failed { .. } => Attempted::Failed,
                    DeliveryOutcome::Dropped => Attempted::Dropped,
                };
                if let DeliveryOutcome::Failed { error } = outcome {
                    tracing::warn!(
                        invitation_id = %row.invitation_id,
                        attempt = row.attempt,
                        error = crate::outbox::error_kind_name(error),
                        "invitation delivery failed for good; it can be resent"
                    );
                }
                attempted
            }
            Ok(Finished::LeaseLost) => {
                tracing::warn!(invitation_id = %row.invitation_id, delivery_id = %row.id, "outbox lease ran out before the outcome was recorded");
                Attempted::Lost
            }
            Err(err) => {
                tracing::error!(invitation_id = %row.invitation_id, delivery_id = %row.id, error = ?err, "could not record a delivery outcome; it will be attempted again");
                Attempted::Unrecorded
            }
        }
    }

    async fn publish(&self, event: &InvitationEvent) {
        self.events.publish(event).await;
    }

    /// Drains the outbox until `shutdown` resolves: rounds of
    /// [`DeliveryWorker::drain_once`] while full batches come back, then a wait for the
    /// next delivery queued by this process's service, or `poll_interval`; pruning every
    /// `prune_every`. Shutdown is graceful: a round in flight is finished (its outcomes
    /// recorded) before this returns. Spawn it on the host's runtime:
    /// `tokio::spawn(worker.run(async move { let _ = stop.await; }))`.
    #[cfg(feature = "worker")]
    pub async fn run<F>(self, shutdown: F)
    where
        F: std::future::Future<Output = ()> + Send,
    {
        let mut shutdown = std::pin::pin!(shutdown);
        let mut next_prune = tokio::time::Instant::now();
        loop {
            loop {
                let full = match self.drain_once().await {
                    Ok(report) => report.claimed >= self.config.batch.max(1),
                    Err(err) => {
                        tracing::warn!(error = ?err, "could not claim deliveries; trying again after the poll interval");
                        false
                    }
                };
                // Between rounds only: a round in flight is never cut off.
                let stop = tokio::select! {
                    biased;
                    () = &mut shutdown => true,
                    () = std::future::ready(()) => false,
                };
                if stop {
                    return;
                }
                if !full {
                    break;
                }
            }
            if tokio::time::Instant::now() >= next_prune {
                match self.prune().await {
                    Ok(0) => {}
                    Ok(pruned) => tracing::info!(pruned, "pruned finished outbox rows"),
                    Err(err) => tracing::warn!(error = ?err, "could not prune the outbox"),
                }
                next_prune = tokio::time::Instant::now() + self.config.prune_every;
            }
            tokio::select! {
                () = &mut shutdown => return,
                () = self.wake.notify.notified() => {}
                () = tokio::time::sleep(self.config.poll_interval) => {}
            }
        }
    }
}

/// Why an attempt did not deliver.
enum Failure {
    /// Found stale on the way (the enterprise is gone).
    Stale,
    /// The notifier (or what it needs) failed, of this kind.
    Notify(NotifyErrorKind),
}

fn staleness_name(reason: Staleness) -> &'static str {
    match reason {
        Staleness::Gone => "gone",
        Staleness::Superseded => "superseded by a resend",
        Staleness::NotPending(status) => status.as_str(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::outbox::OutboxKey;
    use crate::testing::MemoryStore;

    fn worker() -> DeliveryWorker {
        crate::Invitations::builder(Arc::new(MemoryStore::default()))
            .outbox(OutboxKey::from_bytes([0xab; 32]))
            .build()
            .delivery_worker()
            .unwrap()
    }

    #[test]
    fn settings_are_the_ones_given_and_debug_shows_them_but_no_key() {
        // rule D1, D4
        let config = WorkerConfig {
            batch: 7,
            concurrency: 3,
            lease: Duration::from_secs(11),
            retry: RetryPolicy {
                max_attempts: 5,
                base: Duration::from_secs(2),
                max: Duration::from_secs(9),
            },
            poll_interval: Duration::from_millis(250),
            retention: Duration::from_secs(60),
            prune_every: Duration::from_secs(13),
        };
        assert_eq!(worker().settings(), &WorkerConfig::default());
        let worker = worker().config(config);
        assert_eq!(worker.settings(), &config);
        let debug = format!("{worker:?}");
        assert!(debug.starts_with("DeliveryWorker {"), "{debug}");
        assert!(debug.contains(&format!("{config:?}")), "{debug}");
        assert!(!debug.contains("171"), "the key stays out of Debug: {debug}");
    }
}
