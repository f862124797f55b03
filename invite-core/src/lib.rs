//! # invite-core
//!
//! The pure domain of invite-rs: "invite members to your organization" as the best SaaS
//! platforms do it. A super admin of a certified enterprise invites an email address or
//! phone number with a role; the invitee opens a single-use link, signs in with the
//! matching account, and accepts or rejects. This crate holds the rules (numbered in the
//! project's `docs/RULES.md`), the types that can only hold valid values, the service that
//! ties them together, and the ports it needs as traits. It does no I/O and knows no
//! framework.
//!
//! | module | what it holds |
//! |---|---|
//! | [`contact`] | [`Contact`], [`ContactPolicy`]: email/phone parsing, normalization, masking |
//! | [`role`] | [`Role`], [`RolePolicy`]: which roles an invitation may assign |
//! | [`token`] | [`InviteToken`], [`TokenDigest`], [`InviteLink`] |
//! | [`invitation`] | [`Invitation`] and its state machine |
//! | [`expiry`] | [`is_expired`], the one place that decides expiry, and [`TtlPolicy`] |
//! | [`view`] | [`InvitationView`]: what the invitee page shows |
//! | [`ids`] | [`EnterpriseId`], [`UserId`]: the host's keys ([`Key`]); [`InvitationId`] |
//! | [`account`] | [`Enterprise`], [`User`], [`Member`]: the host's people as the service sees them |
//! | [`ports`] | [`InvitationStore`] (with the [`Answer`] it decides and [`Accepted`]), [`DeliveryOutbox`], [`Directory`], [`Accounts`], [`Notifier`], [`Clock`], [`EventSink`]: every port in one place |
//! | [`outbox`] | [`OutboxKey`], [`NewDelivery`], [`RetryPolicy`]: the delivery outbox (rules D1–D4) |
//! | [`worker`] | [`DeliveryWorker`]: drains the outbox (`run` with feature `worker`) |
//! | [`event`] | [`InvitationEvent`], [`EventKind`]: the audit trail |
//! | [`service`] | [`Invitations`]: send (one or many), list, revoke, resend, view, accept, reject, the invitee's own invitations |
//!
//! ## Example
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), invite_core::InviteError> {
//! use std::sync::Arc;
//! use invite_core::testing::{MemoryStore, RecordingNotifier, seed};
//! use invite_core::{Invitations, SendInvitation, ViewState};
//!
//! let store = Arc::new(MemoryStore::default());
//! let notifier = Arc::new(RecordingNotifier::default());
//! let world = seed::demo(&*store).await?;
//! let invitations = Invitations::builder(store)
//!     .base_url("https://app.example")
//!     .notifier(notifier.clone())
//!     .build();
//!
//! // Alice, super admin of Acme, invites Bob as a dev_admin.
//! let sent = invitations
//!     .send(&world.alice, &world.acme.id, SendInvitation::new("bob@example.com", "dev_admin"))
//!     .await?;
//! let token = sent.link.token().to_owned();
//!
//! // Bob opens the link and accepts; Mallory could not have.
//! assert_eq!(
//!     invitations.accept(&token, &world.mallory).await.unwrap_err().code(),
//!     "account_mismatch"
//! );
//! let view = invitations.view(&token, Some(&world.bob)).await?;
//! assert_eq!(view.state, ViewState::InvitationInfo);
//! let accepted = invitations.accept(&token, &world.bob).await?;
//! assert_eq!(accepted.enterprise.name, "Acme Robotics");
//! # Ok(())
//! # }
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod account;
pub mod contact;
pub mod error;
pub mod event;
pub mod expiry;
pub mod ids;
pub mod invitation;
#[cfg(feature = "memory")]
pub mod memory;
pub mod outbox;
pub mod page;
pub mod ports;
pub mod role;
pub mod service;
pub mod text;
pub mod token;
pub mod view;
pub mod worker;

#[cfg(feature = "test-support")]
#[allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]
pub mod testing;

pub use account::{Enterprise, Member, Membership, User};
pub use contact::{Contact, ContactError, ContactKind, ContactPolicy, Email, Phone};
pub use error::InviteError;
pub use event::{EventKind, InvitationEvent};
pub use expiry::{TtlError, TtlPolicy, is_expired};
pub use ids::{EnterpriseId, InvitationId, Key, KeyError, KeyKind, KeyKinds, UserId};
pub use invitation::{DeliveryStatus, Invitation, InvitationStatus, Inviter, TransitionError};
#[cfg(feature = "memory")]
pub use memory::MemoryStore;
pub use outbox::{
    ClaimedDelivery, DeliveryId, DeliveryOutcome, Finished, NewDelivery, OutboxEntry, OutboxKey, OutboxState,
    RetryPolicy, SealError, SealedLink, Staleness,
};
pub use page::{Cursor, CursorError, ListQuery, Page};
pub use ports::{
    Accepted, Accounts, Answer, Clock, Delivery, DeliveryOutbox, Directory, EventSink, InvitationStore,
    NewInvitation, NewRow, Notifier, NotifyError, NotifyErrorKind, StoreError, SystemClock, Target,
    TracingEventSink,
};
pub use role::{Role, RoleError, RolePolicy};
pub use service::{
    BulkRowResult, Invitations, InvitationsBuilder, InvitationsConfig, ListInvitations, MAX_BULK_ROWS,
    MyInvitation, SendInvitation, SentInvitation,
};
pub use text::{TextError, check_display_name};
pub use token::{InviteLink, InviteToken, TokenDigest};
pub use view::{InvitationInfo, InvitationView, ViewState, Viewer};
pub use worker::{DeliveryWorker, DrainReport, WorkerConfig};
