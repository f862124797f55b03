//! The ports of the service, in one place: storage of invitations and their outbox
//! ([`store`]) with the invitee's answer a store decides ([`answer`]), the host's
//! directory ([`directory`]), the notifier ([`notifier`]), time ([`clock`]) and the event
//! sink ([`events`]). Adapters implement them; [`crate::Invitations`] uses them.
//!
//! Every decision that must be atomic is a single call here, so that a database can make
//! it one transaction or one conditional statement: [`InvitationStore::create`] (with its
//! `already_member` and `duplicate_pending` checks), [`InvitationStore::accept`] (with the
//! membership), [`InvitationStore::reject`], [`InvitationStore::revoke`] and
//! [`InvitationStore::resend`]. Each also writes its
//! [`InvitationEvent`](crate::InvitationEvent) in the same step.

pub mod answer;
pub mod clock;
pub mod directory;
pub mod events;
pub mod notifier;
pub mod store;

pub use answer::{Accepted, Answer, Target};
pub use clock::{Clock, SystemClock, to_storage_precision};
pub use directory::{Accounts, Directory};
pub use events::{EventSink, TracingEventSink};
pub use notifier::{Delivery, Notifier, NotifyError, NotifyErrorKind};
pub use store::{DeliveryOutbox, InvitationStore, NewInvitation, NewRow, StoreError};
