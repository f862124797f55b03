//! Test support for integrators and adapters (feature `test-support`):
//!
//! - [`MemoryStore`]: an in-memory [`InvitationStore`](crate::InvitationStore) and
//!   [`Directory`](crate::Directory), correct under concurrent use (one lock per call);
//! - [`ManualClock`]: a clock you move by hand;
//! - [`RecordingNotifier`]: keeps every delivery, and can be told to fail;
//! - [`host`]: [`HostFixture`], the host's side of a contract run, and [`Subject`];
//! - [`seed`]: the demo data of the rules (§7) through a [`HostFixture`];
//! - [`strategies`]: proptest strategies for contacts, roles and commands;
//! - [`contract`]: the store contract suite every storage adapter must pass, and the
//!   [`store_contract_suite!`](crate::store_contract_suite) macro that runs it;
//! - [`faults`]: wrappers that fail the k-th call of a store or a notifier (an error, a
//!   panic, before or after the work) and the sweep that runs every decision under every
//!   fault and checks the invariants afterwards — point it at your own store.

mod clock;
pub mod contract;
pub mod faults;
pub mod host;
mod notifier;
pub mod seed;
pub mod strategies;

pub use crate::memory::MemoryStore;
pub use clock::ManualClock;
pub use host::{AccountsFixture, HostFixture, Subject};
pub use notifier::RecordingNotifier;
pub use seed::World;
