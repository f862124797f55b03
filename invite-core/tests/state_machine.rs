//! Property test: random sequences of send / revoke / resend / accept / reject / time
//! passing, run against the service and against a reference model; after every step the
//! outcomes must agree and the invariants must hold:
//!
//! - at most one accept per invitation (rule A6);
//! - terminal states never change (rule R2, A6);
//! - at most one pending invitation per (enterprise, contact) (rule S7);
//! - members only from accepted invitations (rule A5).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use common::App;
use invite_core::Accounts;
use invite_core::{
    Directory, EventKind, InvitationId, InvitationStatus, InvitationStore, InviteError, ListQuery, TtlPolicy,
    User, is_expired,
};
use proptest::prelude::*;

const TTL_SECS: i64 = 100;
/// Contact spellings; `CONTACT_KEY` maps each to its person.
const CONTACTS: [&str; 5] = [
    "bob@example.com",
    " BOB@Example.com",
    "+1 415 555 0100",
    "+14155550100",
    "dave@example.com",
];
const CONTACT_KEY: [usize; 5] = [0, 0, 1, 1, 2];

#[derive(Clone, Debug)]
enum Command {
    Send {
        contact: usize,
    },
    Revoke {
        invitation: usize,
    },
    Resend {
        invitation: usize,
    },
    Accept {
        invitation: usize,
        user: usize,
        stale: bool,
    },
    Reject {
        invitation: usize,
        user: usize,
    },
    Advance {
        seconds: i64,
    },
}

fn command() -> impl Strategy<Value = Command> {
    prop_oneof![
        3 => (0..CONTACTS.len()).prop_map(|contact| Command::Send { contact }),
        1 => (0..8usize).prop_map(|invitation| Command::Revoke { invitation }),
        2 => (0..8usize).prop_map(|invitation| Command::Resend { invitation }),
        3 => (0..8usize, 0..4usize, prop::bool::weighted(0.15))
            .prop_map(|(invitation, user, stale)| Command::Accept { invitation, user, stale }),
        2 => (0..8usize, 0..4usize).prop_map(|(invitation, user)| Command::Reject { invitation, user }),
        2 => (1..150i64).prop_map(|seconds| Command::Advance { seconds }),
    ]
}

/// The reference model of one invitation.
#[derive(Clone, Debug)]
struct ModelInvitation {
    id: InvitationId,
    person: usize,
    status: InvitationStatus,
    expires_at: DateTime<Utc>,
    token: String,
    stale_tokens: Vec<String>,
}

impl ModelInvitation {
    fn status_at(&self, now: DateTime<Utc>) -> InvitationStatus {
        if self.status == InvitationStatus::Pending && is_expired(self.expires_at, now) {
            InvitationStatus::Expired
        } else {
            self.status
        }
    }
}

struct Model {
    invitations: Vec<ModelInvitation>,
    /// Persons (0 bob, 1 carol, 2 dave) who are members of Acme.
    members: HashSet<usize>,
}

impl Model {
    fn live_pending(&self, person: usize, except: Option<InvitationId>, now: DateTime<Utc>) -> bool {
        self.invitations.iter().any(|i| {
            i.person == person && Some(i.id) != except && i.status_at(now) == InvitationStatus::Pending
        })
    }
}

fn code<T>(r: &Result<T, InviteError>) -> &'static str {
    match r {
        Ok(_) => "ok",
        Err(e) => e.code(),
    }
}

async fn run(commands: Vec<Command>) -> Result<(), TestCaseError> {
    let ttl = TtlPolicy::new(
        Duration::from_secs(TTL_SECS as u64),
        Duration::from_secs(1),
        Duration::from_secs(1000),
    )
    .map_err(|e| TestCaseError::fail(e.to_string()))?;
    let app = App::with(|b| b.ttl(ttl)).await;
    let w = &app.world;
    let dave = app.user("Dave Doe", "dave@example.com");
    app.store
        .save_user(&dave)
        .await
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
    // Users 0..3 are the persons; user 3 is Mallory, who matches no contact.
    let users: [&User; 4] = [&w.bob, &w.carol, &dave, &w.mallory];
    let mut model = Model {
        invitations: Vec::new(),
        members: HashSet::new(),
    };
    let mut terminal: HashMap<InvitationId, InvitationStatus> = HashMap::new();

    for command in commands {
        let now = app.invitations.now();
        match command {
            Command::Send { contact } => {
                let person = CONTACT_KEY[contact];
                let expected = if model.members.contains(&person) {
                    "already_member"
                } else if model.live_pending(person, None, now) {
                    "duplicate_pending"
                } else {
                    "ok"
                };
                let result = app.invite(CONTACTS[contact], "member").await;
                prop_assert_eq!(code(&result), expected, "send {}", CONTACTS[contact]);
                if let Ok(sent) = result {
                    model.invitations.push(ModelInvitation {
                        id: sent.invitation.id,
                        person,
                        status: InvitationStatus::Pending,
                        expires_at: now + TimeDelta::seconds(TTL_SECS),
                        token: sent.link.token().to_owned(),
                        stale_tokens: Vec::new(),
                    });
                }
            }
            Command::Revoke { invitation } => {
                let Some(m) = model.invitations.get_mut(invitation) else {
                    continue;
                };
                let expected = if m.status_at(now) == InvitationStatus::Pending {
                    "ok"
                } else {
                    "invitation_not_pending"
                };
                let result = app.invitations.revoke(&w.alice, &w.acme.id, m.id).await;
                prop_assert_eq!(code(&result), expected);
                if result.is_ok() {
                    m.status = InvitationStatus::Revoked;
                }
            }
            Command::Resend { invitation } => {
                let Some(m) = model.invitations.get(invitation).cloned() else {
                    continue;
                };
                let expected = match m.status_at(now) {
                    InvitationStatus::Pending | InvitationStatus::Expired => {
                        if model.members.contains(&m.person) {
                            "already_member"
                        } else if model.live_pending(m.person, Some(m.id), now) {
                            "duplicate_pending"
                        } else {
                            "ok"
                        }
                    }
                    _ => "invitation_not_pending",
                };
                let result = app.invitations.resend(&w.alice, &w.acme.id, m.id).await;
                prop_assert_eq!(code(&result), expected);
                if let Ok(sent) = result {
                    let m = &mut model.invitations[invitation];
                    m.stale_tokens
                        .push(std::mem::replace(&mut m.token, sent.link.token().to_owned()));
                    m.status = InvitationStatus::Pending;
                    m.expires_at = now + TimeDelta::seconds(TTL_SECS);
                }
            }
            Command::Accept {
                invitation,
                user,
                stale,
            } => {
                let Some(m) = model.invitations.get(invitation).cloned() else {
                    continue;
                };
                let token = if stale {
                    m.stale_tokens.last().cloned().unwrap_or_default()
                } else {
                    m.token.clone()
                };
                let expected = if stale {
                    "invalid_or_expired"
                } else {
                    match m.status_at(now) {
                        InvitationStatus::Accepted => "already_accepted",
                        InvitationStatus::Rejected => "already_rejected",
                        InvitationStatus::Expired | InvitationStatus::Revoked => "invalid_or_expired",
                        InvitationStatus::Pending if user != m.person => "account_mismatch",
                        InvitationStatus::Pending if model.members.contains(&user) => "already_member",
                        InvitationStatus::Pending => "ok",
                    }
                };
                let result = app.invitations.accept(&token, users[user]).await;
                prop_assert_eq!(code(&result), expected);
                if result.is_ok() {
                    model.invitations[invitation].status = InvitationStatus::Accepted;
                    model.members.insert(user);
                }
            }
            Command::Reject { invitation, user } => {
                let Some(m) = model.invitations.get_mut(invitation) else {
                    continue;
                };
                let expected = match m.status_at(now) {
                    InvitationStatus::Accepted => "already_accepted",
                    InvitationStatus::Rejected => "already_rejected",
                    InvitationStatus::Expired | InvitationStatus::Revoked => "invalid_or_expired",
                    InvitationStatus::Pending if user != m.person => "account_mismatch",
                    InvitationStatus::Pending => "ok",
                };
                let result = app.invitations.reject(&m.token, users[user]).await;
                prop_assert_eq!(code(&result), expected);
                if result.is_ok() {
                    m.status = InvitationStatus::Rejected;
                }
            }
            Command::Advance { seconds } => app.clock.advance(TimeDelta::seconds(seconds)),
        }
        check_invariants(&app, &model, &users, &mut terminal).await?;
    }
    Ok(())
}

async fn check_invariants(
    app: &App,
    model: &Model,
    users: &[&User; 4],
    terminal: &mut HashMap<InvitationId, InvitationStatus>,
) -> Result<(), TestCaseError> {
    let w = &app.world;
    let now = app.invitations.now();
    let fail = |e: invite_core::StoreError| TestCaseError::fail(e.to_string());
    let query = ListQuery {
        status: None,
        limit: 1000,
        after: None,
    };
    let stored = app.store.list(&w.acme.id, &query, now).await.map_err(fail)?;
    prop_assert_eq!(stored.len(), model.invitations.len());
    let mut pending_per_contact: HashMap<String, usize> = HashMap::new();
    for invitation in &stored {
        let status = invitation.status_at(now);
        // The store agrees with the model.
        let m = model.invitations.iter().find(|m| m.id == invitation.id);
        prop_assert_eq!(m.map(|m| m.status_at(now)), Some(status));
        // Terminal states never change.
        if let Some(before) = terminal.get(&invitation.id) {
            prop_assert_eq!(*before, status);
        }
        if status.is_terminal() {
            terminal.insert(invitation.id, status);
        }
        if status == InvitationStatus::Pending {
            *pending_per_contact
                .entry(invitation.contact.normalized().to_owned())
                .or_default() += 1;
        }
        // At most one accept per invitation: one `accepted` event exactly when accepted.
        let events = app.store.events(&w.acme.id, invitation.id).await.map_err(fail)?;
        let accepts = events.iter().filter(|e| e.kind == EventKind::Accepted).count();
        prop_assert_eq!(accepts, usize::from(status == InvitationStatus::Accepted));
    }
    prop_assert!(
        pending_per_contact.values().all(|n| *n <= 1),
        "two pending for one contact"
    );
    // Members only from accepted invitations, with the accepting user.
    for (index, user) in users.iter().enumerate() {
        let member = app
            .store
            .role_of(&w.acme.id, &user.id)
            .await
            .map_err(fail)?
            .is_some();
        let accepted_by_user = stored
            .iter()
            .any(|i| i.status == InvitationStatus::Accepted && i.responded_by.as_ref() == Some(&user.id));
        prop_assert_eq!(member, accepted_by_user, "membership of user {}", index);
        prop_assert_eq!(member, model.members.contains(&index));
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn service_matches_the_model(commands in prop::collection::vec(command(), 1..=50)) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        runtime.block_on(run(commands))?;
    }
}
