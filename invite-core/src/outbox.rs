//! The delivery outbox (rules D1–D4): what `send` and `resend` write beside the
//! invitation, in the same transaction, so that a delivery request is never lost; the
//! encryption of the link at rest; the retry schedule; and the staleness rule a worker
//! applies before it hands a row to the notifier.
//!
//! The port is [`DeliveryOutbox`](crate::DeliveryOutbox); the worker that drains it is
//! [`DeliveryWorker`](crate::DeliveryWorker).
//!
//! A row's life:
//!
//! ```text
//! queued ──claim (lease, attempt+1)──▶ notifier ──ok──────────────▶ delivered  (link erased)
//!   ▲                                     ├──transient, attempts left──▶ queued (due later)
//!   └──── lease expired (a crash) ◀───────┤──permanent / last attempt──▶ failed (link erased)
//!                                         └──stale (revoked, answered, expired, resent)──▶ dropped (link erased)
//! ```

use std::fmt;
use std::time::Duration;

use chacha20poly1305::aead::{Aead, Payload};
use chacha20poly1305::{KeyInit, XChaCha20Poly1305, XNonce};
use chrono::{DateTime, TimeDelta, Utc};
use rand::Rng as _;
use uuid::Uuid;

use crate::ids::{EnterpriseId, InvitationId};
use crate::invitation::{Invitation, InvitationStatus};
use crate::token::{InviteLink, TokenDigest};

/// The id of one outbox row: one link to deliver.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DeliveryId(Uuid);

impl DeliveryId {
    /// A new random id (UUID v4).
    #[must_use]
    pub fn new() -> Self {
        Self(Uuid::new_v4())
    }

    /// Wraps a UUID read from storage.
    #[must_use]
    pub const fn from_uuid(uuid: Uuid) -> Self {
        Self(uuid)
    }

    /// The UUID inside.
    #[must_use]
    pub const fn as_uuid(&self) -> Uuid {
        self.0
    }
}

impl Default for DeliveryId {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Display for DeliveryId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl fmt::Debug for DeliveryId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DeliveryId({})", self.0)
    }
}

/// The key that encrypts links at rest in the outbox (rule D4): 32 bytes the host
/// supplies and keeps apart from the database (a file, a secret store). Its `Debug` never
/// shows it.
#[derive(Clone)]
pub struct OutboxKey([u8; 32]);

impl OutboxKey {
    /// The key from its 32 bytes.
    #[must_use]
    pub const fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// A new key from the thread-local CSPRNG, for a host that creates its key on first
    /// start (and stores it, e.g. in a file of mode 0600).
    #[must_use]
    pub fn generate() -> Self {
        let mut bytes = [0_u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        Self(bytes)
    }

    /// The 32 bytes, to store the key. Do not log them.
    #[must_use]
    pub const fn expose_secret(&self) -> &[u8; 32] {
        &self.0
    }

    fn cipher(&self) -> XChaCha20Poly1305 {
        XChaCha20Poly1305::new(&self.0.into())
    }

    /// Encrypts `link` for the outbox row of `invitation`'s link with `digest`: the pair is
    /// the associated data, so a ciphertext moved to another row does not open.
    /// XChaCha20-Poly1305 with a random 192-bit nonce.
    ///
    /// # Errors
    /// [`SealError::Encrypt`] only if the cipher refuses (it does not for a link).
    pub fn seal(
        &self,
        link: &InviteLink,
        invitation: InvitationId,
        digest: &TokenDigest,
    ) -> Result<SealedLink, SealError> {
        let mut nonce = [0_u8; NONCE_LEN];
        rand::rng().fill_bytes(&mut nonce);
        let aad = associated_data(invitation, digest);
        let ciphertext = self
            .cipher()
            .encrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: link.expose_secret().as_bytes(),
                    aad: &aad,
                },
            )
            .map_err(|_| SealError::Encrypt)?;
        let mut sealed = Vec::with_capacity(1 + NONCE_LEN + ciphertext.len());
        sealed.push(SEAL_VERSION);
        sealed.extend_from_slice(&nonce);
        sealed.extend_from_slice(&ciphertext);
        Ok(SealedLink(sealed))
    }

    /// Decrypts a link sealed by [`OutboxKey::seal`] for the same invitation and digest.
    ///
    /// # Errors
    /// [`SealError::Malformed`] for bytes that are not a sealed link of this version,
    /// [`SealError::Decrypt`] for another key, another row, or tampered bytes.
    pub fn open(
        &self,
        sealed: &SealedLink,
        invitation: InvitationId,
        digest: &TokenDigest,
    ) -> Result<InviteLink, SealError> {
        let bytes = sealed.as_bytes();
        let (version, rest) = bytes.split_first().ok_or(SealError::Malformed)?;
        if *version != SEAL_VERSION || rest.len() < NONCE_LEN + TAG_LEN {
            return Err(SealError::Malformed);
        }
        let (nonce, ciphertext) = rest.split_at(NONCE_LEN);
        let nonce = <[u8; NONCE_LEN]>::try_from(nonce).map_err(|_| SealError::Malformed)?;
        let aad = associated_data(invitation, digest);
        let plain = self
            .cipher()
            .decrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: ciphertext,
                    aad: &aad,
                },
            )
            .map_err(|_| SealError::Decrypt)?;
        let text = String::from_utf8(plain).map_err(|_| SealError::Malformed)?;
        Ok(InviteLink::from_secret(text))
    }
}

impl fmt::Debug for OutboxKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("OutboxKey(<redacted>)")
    }
}

/// The format version of a sealed link (its first byte).
const SEAL_VERSION: u8 = 1;
const NONCE_LEN: usize = 24;
const TAG_LEN: usize = 16;

fn associated_data(invitation: InvitationId, digest: &TokenDigest) -> Vec<u8> {
    let mut aad = Vec::with_capacity(16 + 16 + 32);
    aad.extend_from_slice(b"invite-rs outbox");
    aad.extend_from_slice(invitation.as_uuid().as_bytes());
    aad.extend_from_slice(digest.as_bytes());
    aad
}

/// A link encrypted under the host's [`OutboxKey`]: version byte, nonce, ciphertext and
/// tag. What the outbox stores until the row is finished (rule D4).
#[derive(Clone, PartialEq, Eq)]
pub struct SealedLink(Vec<u8>);

impl SealedLink {
    /// Wraps bytes read from storage.
    #[must_use]
    pub fn from_bytes(bytes: Vec<u8>) -> Self {
        Self(bytes)
    }

    /// The stored bytes.
    #[must_use]
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for SealedLink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SealedLink({} bytes)", self.0.len())
    }
}

/// A sealed link that cannot be made or opened.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SealError {
    /// The cipher refused to encrypt.
    #[error("could not encrypt the link")]
    Encrypt,
    /// Not a sealed link of a version this library reads.
    #[error("the sealed link is malformed")]
    Malformed,
    /// Another key, another row, or altered bytes.
    #[error("the sealed link does not open with this key for this row")]
    Decrypt,
}

/// Where an outbox row stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OutboxState {
    /// Waiting for its next attempt, or leased to a worker that is attempting it.
    Queued,
    /// The notifier took it; the link is erased.
    Delivered,
    /// The notifier refused it for good, or every attempt failed; the link is erased.
    Failed,
    /// Not delivered because the invitation was revoked, answered, expired or resent
    /// (rule D2); the link is erased.
    Dropped,
}

impl OutboxState {
    /// The name used in storage.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Delivered => "delivered",
            Self::Failed => "failed",
            Self::Dropped => "dropped",
        }
    }

    /// Reads a name written by [`OutboxState::as_str`].
    #[must_use]
    pub fn parse(name: &str) -> Option<Self> {
        [Self::Queued, Self::Delivered, Self::Failed, Self::Dropped]
            .into_iter()
            .find(|s| s.as_str() == name)
    }
}

/// Whether trying the same delivery again later may work: what a notifier's error says
/// (`NotifyError::kind`) and what the retry policy acts on. Defined here, with the
/// outbox it drives, so that the ports depend on the outbox and not the other way round.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum NotifyErrorKind {
    /// The provider was unreachable, busy or answered a temporary refusal (an SMTP 4xx,
    /// an HTTP 5xx or 429, a timeout): retry with backoff.
    Transient,
    /// The provider refused the message for good (an SMTP 5xx, an invalid address): do not
    /// retry; resending with a corrected contact is for a person.
    Permanent,
}

/// The name of a notifier error kind in storage (`transient`, `permanent`).
#[must_use]
pub const fn error_kind_name(kind: NotifyErrorKind) -> &'static str {
    match kind {
        NotifyErrorKind::Transient => "transient",
        NotifyErrorKind::Permanent => "permanent",
    }
}

/// Reads a name written by [`error_kind_name`].
#[must_use]
pub fn parse_error_kind(name: &str) -> Option<NotifyErrorKind> {
    match name {
        "transient" => Some(NotifyErrorKind::Transient),
        "permanent" => Some(NotifyErrorKind::Permanent),
        _ => None,
    }
}

/// A delivery request written with the invitation (rule D1): the link of the invitation's
/// current token, sealed, due at once.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewDelivery {
    /// The row's id.
    pub id: DeliveryId,
    /// The digest of the token inside the link: the row is stale once the invitation has
    /// another one (rule D2).
    pub token_digest: TokenDigest,
    /// The link, encrypted (rule D4).
    pub sealed_link: SealedLink,
    /// When it was queued (now); the first attempt is due then.
    pub queued_at: DateTime<Utc>,
}

/// A row a worker has leased for one attempt.
#[derive(Clone, Debug)]
pub struct ClaimedDelivery {
    /// The row.
    pub id: DeliveryId,
    /// This lease: recording an outcome needs it, so a worker whose lease ran out (and whose
    /// row another worker took) changes nothing.
    pub claim: Uuid,
    /// The invitation.
    pub invitation_id: InvitationId,
    /// Its enterprise.
    pub enterprise_id: EnterpriseId,
    /// The digest of the token inside the sealed link.
    pub token_digest: TokenDigest,
    /// The link, encrypted.
    pub sealed_link: SealedLink,
    /// This attempt's number, from 1 (a lease that ran out counts as an attempt).
    pub attempt: u32,
    /// When the row was queued.
    pub queued_at: DateTime<Utc>,
    /// The invitation as it is now (read in the claim's transaction); `None` if it is gone.
    pub invitation: Option<Invitation>,
}

impl ClaimedDelivery {
    /// Why this row must not be delivered at `now`, if it must not (rule D2): the
    /// invitation is gone, has another token (a resend), or is no longer pending
    /// (revoked, accepted, rejected, expired — derived, as everywhere).
    #[must_use]
    pub fn stale_at(&self, now: DateTime<Utc>) -> Option<Staleness> {
        let Some(invitation) = &self.invitation else {
            return Some(Staleness::Gone);
        };
        if invitation.token_digest != self.token_digest {
            return Some(Staleness::Superseded);
        }
        match invitation.status_at(now) {
            InvitationStatus::Pending => None,
            other => Some(Staleness::NotPending(other)),
        }
    }
}

/// Why a row is not delivered (rule D2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Staleness {
    /// The invitation no longer exists.
    Gone,
    /// A resend gave the invitation another token.
    Superseded,
    /// The invitation is revoked, accepted, rejected or expired.
    NotPending(InvitationStatus),
}

/// What became of one attempt, for
/// [`DeliveryOutbox::finish_delivery`](crate::DeliveryOutbox::finish_delivery).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeliveryOutcome {
    /// The notifier took it: the row is `delivered`, the link erased, the invitation's
    /// delivery `delivered`, a `delivered` event written.
    Delivered,
    /// A transient failure with attempts left: the row stays queued (link kept) and is due
    /// again at `at`; the invitation's delivery reads `retrying`; a `delivery_deferred`
    /// event is written.
    Retry {
        /// When the next attempt is due.
        at: DateTime<Utc>,
    },
    /// A permanent failure, or the last attempt failed: the row is `failed`, the link
    /// erased, the invitation's delivery `failed` (a resend can fix it), a
    /// `delivery_failed` event written.
    Failed {
        /// What the last failure was.
        error: NotifyErrorKind,
    },
    /// Stale (rule D2): the row is `dropped` and the link erased; the invitation is left
    /// as it is.
    Dropped,
}

/// What [`DeliveryOutbox::finish_delivery`](crate::DeliveryOutbox::finish_delivery)
/// did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Finished {
    /// The outcome is recorded; the event it wrote, if any (none for a dropped row, or
    /// when the invitation has moved on to another token meanwhile).
    Recorded(Option<crate::event::InvitationEvent>),
    /// The lease is gone (it ran out and another worker took the row, or a resend dropped
    /// it): nothing was changed.
    LeaseLost,
}

/// One outbox row as stored, for diagnostics and tests.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutboxEntry {
    /// The row.
    pub id: DeliveryId,
    /// The invitation.
    pub invitation_id: InvitationId,
    /// Its enterprise.
    pub enterprise_id: EnterpriseId,
    /// The digest of the token inside the link.
    pub token_digest: TokenDigest,
    /// Where it stands.
    pub state: OutboxState,
    /// Attempts started so far.
    pub attempts: u32,
    /// When the next attempt is due (or the current lease ends), while queued.
    pub due_at: DateTime<Utc>,
    /// The link, encrypted, while queued; `None` once finished (rule D4: erased).
    pub sealed_link: Option<SealedLink>,
    /// When it was queued.
    pub queued_at: DateTime<Utc>,
    /// When it was delivered, failed or dropped.
    pub finished_at: Option<DateTime<Utc>>,
    /// The kind of the last failure, if any (never its text, rule D4).
    pub last_error: Option<NotifyErrorKind>,
}

/// How often and how far apart a worker tries (rule D1): exponential backoff with jitter,
/// a bounded number of attempts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first one included (at least 1).
    pub max_attempts: u32,
    /// The wait after the first failed attempt; it doubles after each further one.
    pub base: Duration,
    /// The longest wait.
    pub max: Duration,
}

impl Default for RetryPolicy {
    /// 12 attempts, 10 s doubling up to 1 h: about 3.4 hours in all.
    fn default() -> Self {
        Self {
            max_attempts: 12,
            base: Duration::from_secs(10),
            max: Duration::from_secs(3600),
        }
    }
}

impl RetryPolicy {
    /// The wait after failed attempt `attempt` (from 1), before jitter:
    /// `min(base · 2^(attempt−1), max)`.
    #[must_use]
    pub fn backoff(&self, attempt: u32) -> Duration {
        let doublings = attempt.saturating_sub(1).min(32);
        self.base
            .checked_mul(1_u32 << doublings.min(31))
            .map_or(self.max, |wait| wait.min(self.max))
    }

    /// The wait after failed attempt `attempt` with "equal jitter": half the backoff, plus
    /// `jitter` (in `0.0..=1.0`, drawn at random by the worker) times the other half, so
    /// workers that failed together do not retry together.
    #[must_use]
    pub fn delay(&self, attempt: u32, jitter: f64) -> Duration {
        let backoff = self.backoff(attempt);
        let half = backoff / 2;
        half + half.mul_f64(jitter.clamp(0.0, 1.0))
    }

    /// What to do after failed attempt `attempt` at `now`: the time of the next one, or
    /// `None` when the attempts are used up.
    #[must_use]
    pub fn next_attempt(&self, attempt: u32, now: DateTime<Utc>, jitter: f64) -> Option<DateTime<Utc>> {
        if attempt >= self.max_attempts {
            return None;
        }
        let delay = TimeDelta::from_std(self.delay(attempt, jitter)).unwrap_or(TimeDelta::MAX);
        Some(
            crate::expiry::to_storage_precision(now)
                .checked_add_signed(delay)
                .unwrap_or(DateTime::<Utc>::MAX_UTC),
        )
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::token::InviteToken;

    fn link() -> (InviteLink, InvitationId, TokenDigest) {
        let token = InviteToken::generate();
        (
            InviteLink::new("https://app.example", &token),
            InvitationId::new(),
            token.digest(),
        )
    }

    #[test]
    fn a_sealed_link_opens_only_with_its_key_and_row() {
        // rule D4
        let key = OutboxKey::generate();
        let (link, id, digest) = link();
        let sealed = key.seal(&link, id, &digest).unwrap();
        assert!(
            !String::from_utf8_lossy(sealed.as_bytes()).contains(link.token()),
            "ciphertext holds the token"
        );
        assert_eq!(key.open(&sealed, id, &digest).unwrap(), link);
        assert_eq!(
            OutboxKey::generate().open(&sealed, id, &digest),
            Err(SealError::Decrypt)
        );
        assert_eq!(
            key.open(&sealed, InvitationId::new(), &digest),
            Err(SealError::Decrypt)
        );
        assert_eq!(
            key.open(&sealed, id, &InviteToken::generate().digest()),
            Err(SealError::Decrypt)
        );
        let mut tampered = sealed.as_bytes().to_vec();
        let last = tampered.len() - 1;
        tampered[last] ^= 1;
        assert_eq!(
            key.open(&SealedLink::from_bytes(tampered), id, &digest),
            Err(SealError::Decrypt)
        );
        assert_eq!(
            key.open(&SealedLink::from_bytes(vec![2, 0, 0]), id, &digest),
            Err(SealError::Malformed)
        );
        // Two seals of one link differ (random nonces).
        assert_ne!(key.seal(&link, id, &digest).unwrap(), sealed);
    }

    #[test]
    fn only_bytes_of_this_version_and_long_enough_for_nonce_and_tag_are_read() {
        // rule D4: `Malformed` for what is not a sealed link of this version, `Decrypt`
        // for a well-formed one that does not open.
        let key = OutboxKey::generate();
        let (link, id, digest) = link();
        let sealed = key.seal(&link, id, &digest).unwrap();
        // Another version byte on a whole sealed link (the version is outside the
        // associated data, so only this check refuses it).
        let mut other_version = sealed.as_bytes().to_vec();
        other_version[0] = SEAL_VERSION + 1;
        assert_eq!(
            key.open(&SealedLink::from_bytes(other_version), id, &digest),
            Err(SealError::Malformed)
        );
        // This version, but shorter than a nonce and a tag.
        for len in [0, 1, NONCE_LEN - 1, NONCE_LEN, NONCE_LEN + TAG_LEN - 1] {
            let mut short = vec![SEAL_VERSION];
            short.extend(std::iter::repeat_n(0_u8, len));
            assert_eq!(
                key.open(&SealedLink::from_bytes(short), id, &digest),
                Err(SealError::Malformed),
                "{len} bytes after the version"
            );
        }
        assert_eq!(
            key.open(&SealedLink::from_bytes(Vec::new()), id, &digest),
            Err(SealError::Malformed)
        );
        // Exactly a nonce and a tag: well-formed (an empty message); zeros do not open...
        let mut zeros = vec![SEAL_VERSION];
        zeros.extend([0_u8; NONCE_LEN + TAG_LEN]);
        assert_eq!(
            key.open(&SealedLink::from_bytes(zeros), id, &digest),
            Err(SealError::Decrypt)
        );
        // ...and the real sealing of an empty message opens.
        let nonce = [7_u8; NONCE_LEN];
        let tag_only = key
            .cipher()
            .encrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: b"",
                    aad: &associated_data(id, &digest),
                },
            )
            .unwrap();
        assert_eq!(tag_only.len(), TAG_LEN);
        let mut shortest = vec![SEAL_VERSION];
        shortest.extend(nonce);
        shortest.extend(tag_only);
        assert_eq!(
            key.open(&SealedLink::from_bytes(shortest), id, &digest).unwrap(),
            InviteLink::from_secret(String::new())
        );
    }

    #[test]
    fn a_delivery_id_shows_its_uuid() {
        // rule D4: ids (not links) are what logs name a row by.
        let uuid = Uuid::from_u128(0x0123_4567_89ab_cdef_0123_4567_89ab_cdef);
        let id = DeliveryId::from_uuid(uuid);
        assert_eq!(id.to_string(), "01234567-89ab-cdef-0123-456789abcdef");
        assert_eq!(
            format!("{id:?}"),
            "DeliveryId(01234567-89ab-cdef-0123-456789abcdef)"
        );
        assert_eq!(id.as_uuid(), uuid);
    }

    #[test]
    fn secrets_stay_out_of_debug() {
        // rule D4
        let key = OutboxKey::from_bytes([0xab; 32]);
        assert_eq!(format!("{key:?}"), "OutboxKey(<redacted>)");
        let (link, id, digest) = link();
        let sealed = key.seal(&link, id, &digest).unwrap();
        assert!(format!("{sealed:?}").starts_with("SealedLink("));
    }

    #[test]
    fn backoff_doubles_up_to_the_cap_and_jitter_stays_within_half() {
        // rule D1
        let policy = RetryPolicy {
            max_attempts: 5,
            base: Duration::from_secs(10),
            max: Duration::from_secs(60),
        };
        let waits: Vec<u64> = (1..=6).map(|a| policy.backoff(a).as_secs()).collect();
        assert_eq!(waits, [10, 20, 40, 60, 60, 60]);
        assert_eq!(policy.delay(2, 0.0), Duration::from_secs(10));
        assert_eq!(policy.delay(2, 1.0), Duration::from_secs(20));
        assert_eq!(policy.delay(2, 7.0), Duration::from_secs(20));
        assert_eq!(policy.backoff(u32::MAX), Duration::from_secs(60));
        let now = DateTime::from_timestamp(1_900_000_000, 0).unwrap();
        assert_eq!(
            policy.next_attempt(1, now, 1.0),
            Some(now + TimeDelta::seconds(10))
        );
        assert_eq!(policy.next_attempt(5, now, 0.5), None);
    }

    #[test]
    fn names_round_trip() {
        for state in [
            OutboxState::Queued,
            OutboxState::Delivered,
            OutboxState::Failed,
            OutboxState::Dropped,
        ] {
            assert_eq!(OutboxState::parse(state.as_str()), Some(state));
        }
        for kind in [NotifyErrorKind::Transient, NotifyErrorKind::Permanent] {
            assert_eq!(parse_error_kind(error_kind_name(kind)), Some(kind));
        }
    }
}
