//! The invariants a faulted run must leave (see [`super::sweep`]), read through the
//! store's API without faults, for the run's enterprise.

use std::collections::HashMap;

use chrono::{DateTime, TimeDelta, Utc};

use super::sweep::{Arena, Cast, Phase, Run};
use crate::event::EventKind;
use crate::invitation::{DeliveryStatus, Invitation, InvitationStatus};
use crate::page::ListQuery;
use crate::ports::{Delivery, Directory, InvitationStore};
use crate::role::Role;

/// Every invitation of the run's enterprise, newest first.
pub(super) async fn invitations<S: InvitationStore>(
    arena: &Arena<S>,
    cast: &Cast,
    now: DateTime<Utc>,
) -> Result<Vec<Invitation>, String> {
    let query = ListQuery {
        status: None,
        limit: 10_000,
        after: None,
    };
    arena
        .store
        .list(&cast.enterprise.id, &query, now)
        .await
        .map_err(|err| format!("list: {err:?}"))
}

/// The invariants of the module docs of [`super::sweep`]; after a drain
/// ([`Phase::AfterDrain`]), also that no delivery was lost or made stale.
pub(super) async fn invariants<S: InvitationStore + Directory>(run: &Run<S>, phase: Phase) -> Vec<String> {
    let mut failures = Vec::new();
    let now = run.now();
    let store = &run.arena.store;
    let enterprise = &run.cast.enterprise.id;
    let all = match invitations(&run.arena, &run.cast, now).await {
        Ok(all) => all,
        Err(f) => return vec![f],
    };
    for invitation in &all {
        let id = invitation.id;
        let events = match store.events(enterprise, id).await {
            Ok(events) => events,
            Err(err) => {
                failures.push(format!("events of {id}: {err:?}"));
                continue;
            }
        };
        let count = |kind: EventKind| events.iter().filter(|e| e.kind == kind).count();
        // rule X5: one `sent`, first.
        if count(EventKind::Sent) != 1 || events.first().map(|e| e.kind) != Some(EventKind::Sent) {
            failures.push(format!(
                "invitation {id}: events {:?}, not one `sent` first",
                kinds(&events)
            ));
        }
        // rule X5: a decided status has exactly its one event; no event without its change.
        for (kind, status) in [
            (EventKind::Accepted, InvitationStatus::Accepted),
            (EventKind::Rejected, InvitationStatus::Rejected),
            (EventKind::Revoked, InvitationStatus::Revoked),
        ] {
            let expected = usize::from(invitation.status == status);
            if count(kind) != expected {
                failures.push(format!(
                    "invitation {id} is {} with {} `{}` events ({:?})",
                    invitation.status.as_str(),
                    count(kind),
                    kind.as_str(),
                    kinds(&events)
                ));
            }
        }
        if invitation.status == InvitationStatus::Expired && count(EventKind::Expired) == 0 {
            failures.push(format!("invitation {id} is stored expired without its event"));
        }
        let resent = invitation.last_sent_at > invitation.sent_at;
        if resent != (count(EventKind::Resent) > 0) {
            failures.push(format!(
                "invitation {id}: last sent {} after its first send, with {} `resent` events",
                if resent { "later" } else { "not" },
                count(EventKind::Resent)
            ));
        }
        let delivery_event = match invitation.delivery {
            DeliveryStatus::Delivered => Some(EventKind::Delivered),
            DeliveryStatus::Failed => Some(EventKind::DeliveryFailed),
            DeliveryStatus::Retrying => Some(EventKind::DeliveryDeferred),
            _ => None,
        };
        if let Some(kind) = delivery_event.filter(|&kind| count(kind) == 0) {
            failures.push(format!(
                "invitation {id}: delivery {} without a `{}` event",
                invitation.delivery.as_str(),
                kind.as_str()
            ));
        }
        // rule A5: an accepted invitation has its membership, with its role.
        if invitation.status == InvitationStatus::Accepted {
            match &invitation.responded_by {
                Some(user) => match store.role_of(enterprise, user).await {
                    Ok(Some(role)) if role == invitation.role => {}
                    other => failures.push(format!(
                        "invitation {id} is accepted, but its invitee's membership reads {other:?}"
                    )),
                },
                None => failures.push(format!("invitation {id} is accepted by nobody")),
            }
        }
    }
    // rule S7: at most one pending invitation per contact.
    let mut pending: HashMap<&str, usize> = HashMap::new();
    for invitation in all
        .iter()
        .filter(|i| i.status_at(now) == InvitationStatus::Pending)
    {
        *pending.entry(invitation.contact.normalized()).or_default() += 1;
    }
    for (contact, n) in pending.into_iter().filter(|&(_, n)| n > 1) {
        failures.push(format!("{n} pending invitations to {contact}"));
    }
    // rule A5: no membership of an invitee without its accepted invitation.
    for (user, contact) in run.cast.invitees() {
        let accepted: Vec<&Invitation> = all
            .iter()
            .filter(|i| i.status == InvitationStatus::Accepted && i.responded_by.as_ref() == Some(&user.id))
            .collect();
        match store.role_of(enterprise, &user.id).await {
            Ok(None) if accepted.is_empty() => {}
            Ok(Some(role)) if accepted.len() == 1 && accepted[0].role == role => {}
            other => failures.push(format!(
                "{} is a member as {other:?} with {} accepted invitations",
                contact.normalized(),
                accepted.len()
            )),
        }
    }
    match store.role_of(enterprise, &run.cast.alice.id).await {
        Ok(Some(Role::SuperAdmin)) => {}
        other => failures.push(format!("Alice's role reads {other:?}")),
    }
    if phase == Phase::AfterDrain {
        failures.extend(no_delivery_lost(run, &all, now).await);
    }
    failures.extend(no_stale_delivery(run));
    failures
}

fn kinds(events: &[crate::event::InvitationEvent]) -> Vec<&'static str> {
    events.iter().map(|e| e.kind.as_str()).collect()
}

/// Whether the notifier got the current link of `invitation`.
fn got_current_link<S>(run: &Run<S>, invitation: &Invitation) -> bool {
    let key = Delivery::idempotency_key_for(invitation.id, &invitation.token_digest);
    run.recorder.deliveries().iter().any(|d| d.idempotency_key == key)
}

/// Rule D1, after a fault-free drain: every pending invitation's current link was
/// delivered (the notifier has it) or failed for good, and nothing is left queued.
async fn no_delivery_lost<S: InvitationStore>(
    run: &Run<S>,
    all: &[Invitation],
    now: DateTime<Utc>,
) -> Vec<String> {
    let mut failures = Vec::new();
    for invitation in all
        .iter()
        .filter(|i| i.status_at(now) == InvitationStatus::Pending)
    {
        match invitation.delivery {
            DeliveryStatus::Delivered if got_current_link(run, invitation) => {}
            DeliveryStatus::Delivered => failures.push(format!(
                "invitation {} reads delivered, but the notifier never got its current link",
                invitation.id
            )),
            DeliveryStatus::Failed => {}
            other => failures.push(format!(
                "invitation {} is pending with delivery {} after the outbox was drained: lost",
                invitation.id,
                other.as_str()
            )),
        }
    }
    // Anything still queued, even a month on, was never going to be sent.
    let later = now + TimeDelta::days(30);
    match run
        .arena
        .store
        .claim_deliveries(later, std::time::Duration::from_secs(1), 10_000)
        .await
    {
        Ok(rows) => {
            for row in rows.iter().filter(|r| r.enterprise_id == run.cast.enterprise.id) {
                failures.push(format!(
                    "outbox row {} of invitation {} is still queued after the drain (attempt {})",
                    row.id, row.invitation_id, row.attempt
                ));
            }
        }
        Err(err) => failures.push(format!("claim after the drain: {err:?}")),
    }
    failures
}

/// Rule D2: Dave's revoked invitation and Bob's superseded link were never delivered.
fn no_stale_delivery<S>(run: &Run<S>) -> Vec<String> {
    let mut failures = Vec::new();
    let deliveries = run.recorder.deliveries();
    if let Some(stale) = run.setup.stale
        && deliveries.iter().any(|d| d.invitation_id == stale)
    {
        failures.push(format!("the revoked invitation {stale} was delivered"));
    }
    if let Some((id, digest)) = &run.setup.superseded {
        let superseded = Delivery::idempotency_key_for(*id, digest);
        if deliveries.iter().any(|d| d.idempotency_key == superseded) {
            failures.push(format!(
                "invitation {id}'s link replaced by a resend was delivered"
            ));
        }
    }
    failures
}

/// The worker's retry: every pending invitation whose delivery failed for good is resent.
pub(super) async fn resend_failed<S: InvitationStore + Directory>(run: &Run<S>) -> Result<(), String> {
    let now = run.now();
    for invitation in invitations(&run.arena, &run.cast, now).await? {
        if invitation.status_at(now) == InvitationStatus::Pending
            && invitation.delivery == DeliveryStatus::Failed
        {
            run.invitations
                .resend(&run.cast.alice, &run.cast.enterprise.id, invitation.id)
                .await
                .map_err(|err| format!("resending {} after its delivery failed: {err:?}", invitation.id))?;
        }
    }
    Ok(())
}

/// After the worker's retry: every pending invitation's current link was delivered.
pub(super) async fn all_delivered<S: InvitationStore + Directory>(run: &Run<S>) -> Vec<String> {
    let now = run.now();
    let all = match invitations(&run.arena, &run.cast, now).await {
        Ok(all) => all,
        Err(f) => return vec![f],
    };
    all.iter()
        .filter(|i| i.status_at(now) == InvitationStatus::Pending)
        .filter(|i| i.delivery != DeliveryStatus::Delivered || !got_current_link(run, i))
        .map(|i| {
            format!(
                "after the retry, invitation {} reads delivery {}, its current link {}",
                i.id,
                i.delivery.as_str(),
                if got_current_link(run, i) {
                    "delivered"
                } else {
                    "never delivered"
                }
            )
        })
        .collect()
}

/// The events the service and its worker published against the store's log, for the
/// run's enterprise (`expired`, written by sweeps that publish nothing, left out): how
/// many stored events were never published, and a failure for each published event the
/// store does not have (a change the host heard of that did not happen).
pub(super) async fn published<S: InvitationStore + Directory>(
    run: &Run<S>,
) -> Result<(usize, Vec<String>), String> {
    let enterprise = &run.cast.enterprise.id;
    let mut stored = Vec::new();
    for invitation in invitations(&run.arena, &run.cast, run.now()).await? {
        let events = run
            .arena
            .store
            .events(enterprise, invitation.id)
            .await
            .map_err(|err| format!("events of {}: {err:?}", invitation.id))?;
        stored.extend(events.into_iter().filter(|e| e.kind != EventKind::Expired));
    }
    let mut extra = Vec::new();
    for event in run
        .sink
        .events()
        .into_iter()
        .filter(|e| e.enterprise_id == *enterprise && e.kind != EventKind::Expired)
    {
        match stored.iter().position(|s| *s == event) {
            Some(i) => {
                stored.swap_remove(i);
            }
            None => extra.push(format!(
                "the event sink received a `{}` event of {} at {} that the store does not have",
                event.kind.as_str(),
                event.invitation_id,
                event.at
            )),
        }
    }
    Ok((stored.len(), extra))
}
