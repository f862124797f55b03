//! The mix: how the clients split into roles, and what each role does.
//!
//! - **viewers** open links: `POST /api/invitations/view` on a token picked at random
//!   from every invitation the run has sent so far (pending, accepted or rejected), signed
//!   in as the invitee or signed out.
//! - **invitees** walk the whole journey, each time on a fresh invitation: `POST /register`
//!   of a new account (`load-<run>-<n>@example.com`), the super admin's
//!   `POST /api/enterprises/{id}/invitations` to it, the token from `invite_url`, the
//!   invitee's own `view`, then `accept` (or `reject`) with the invitee's own cookie;
//!   now and then a `replay`: accepting the answered link again, which must be refused
//!   with 409 `already_accepted` / `already_rejected`.
//! - **admins** (signed in as the super admin) list the records table (first page of 20)
//!   and now and then invite an outside contact that never answers.

use std::fmt;
use std::str::FromStr;

use serde::Serialize;

/// The mix of a run. Shares are percentages.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Mix {
    /// Weight of the viewer role when splitting the clients.
    pub view: u32,
    /// Weight of the invitee role.
    pub invite: u32,
    /// Weight of the admin role.
    pub admin: u32,
    /// Percent of answers that reject instead of accept.
    pub reject: u32,
    /// Percent of journeys that end with a replay of the answered link.
    pub replay: u32,
    /// Percent of the viewers' views made signed in as the invitee (when the invitation
    /// has one), the rest signed out.
    pub signed_in: u32,
    /// Percent of the admins' actions that send an invitation (the rest list records).
    pub admin_send: u32,
}

impl Mix {
    /// The default: half the clients view, 40 % walk the invite–view–answer journey, 10 %
    /// are admins; one answer in five rejects, one journey in ten replays its link, half
    /// of the views are signed in, and one admin action in five sends.
    pub const REALISTIC: Self = Self {
        view: 50,
        invite: 40,
        admin: 10,
        reject: 20,
        replay: 10,
        signed_in: 50,
        admin_send: 20,
    };

    /// Viewers only (over invitations sent during set-up).
    pub const VIEWS: Self = Self {
        view: 100,
        invite: 0,
        admin: 0,
        ..Self::REALISTIC
    };

    /// Journeys only: every client registers, is invited, views and accepts.
    pub const ACCEPTS: Self = Self {
        view: 0,
        invite: 100,
        admin: 0,
        reject: 0,
        replay: 0,
        ..Self::REALISTIC
    };

    /// How `clients` split into roles: proportional to the weights (largest remainder),
    /// and at least one client for every role with a weight when there are enough.
    #[must_use]
    pub fn roles(&self, clients: usize) -> Roles {
        let weights = [self.view, self.invite, self.admin].map(u64::from);
        let total: u64 = weights.iter().sum::<u64>().max(1);
        let clients_u64 = clients as u64;
        let mut counts = weights.map(|w| w * clients_u64 / total);
        let mut remainders: Vec<(u64, usize)> = weights
            .iter()
            .enumerate()
            .map(|(i, w)| ((w * clients_u64) % total, i))
            .collect();
        remainders.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        let mut left = clients_u64 - counts.iter().sum::<u64>();
        for (_, i) in remainders {
            if left == 0 {
                break;
            }
            if weights[i] > 0 {
                counts[i] += 1;
                left -= 1;
            }
        }
        for i in 0..3 {
            if weights[i] > 0 && counts[i] == 0 {
                let (largest, _) = counts
                    .iter()
                    .enumerate()
                    .max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(&a.0)))
                    .unwrap_or((0, &0));
                if counts[largest] > 1 {
                    counts[largest] -= 1;
                    counts[i] += 1;
                }
            }
        }
        let [viewers, invitees, admins] = counts.map(|c| usize::try_from(c).unwrap_or(usize::MAX));
        Roles {
            viewers,
            invitees,
            admins,
        }
    }
}

impl Default for Mix {
    fn default() -> Self {
        Self::REALISTIC
    }
}

impl fmt::Display for Mix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "view={},invite={},admin={},reject={},replay={},signed_in={},admin_send={}",
            self.view, self.invite, self.admin, self.reject, self.replay, self.signed_in, self.admin_send
        )
    }
}

impl FromStr for Mix {
    type Err = String;

    /// `realistic`, `views`, `accepts`, or `key=value` pairs separated by commas over
    /// `realistic` (keys: `view`, `invite`, `admin`, `reject`, `replay`, `signed_in`,
    /// `admin_send`).
    fn from_str(input: &str) -> Result<Self, Self::Err> {
        match input.trim() {
            "realistic" | "" => return Ok(Self::REALISTIC),
            "views" => return Ok(Self::VIEWS),
            "accepts" => return Ok(Self::ACCEPTS),
            _ => {}
        }
        let mut mix = Self::REALISTIC;
        for pair in input.split(',') {
            let (key, value) = pair
                .split_once('=')
                .ok_or_else(|| format!("`{pair}`: expected key=value (or realistic, views, accepts)"))?;
            let value: u32 = value
                .trim()
                .parse()
                .map_err(|_| format!("`{pair}`: the value must be a whole number"))?;
            let percent = |value: u32| {
                if value <= 100 {
                    Ok(value)
                } else {
                    Err(format!("`{pair}`: a percentage is at most 100"))
                }
            };
            match key.trim() {
                "view" => mix.view = value,
                "invite" => mix.invite = value,
                "admin" => mix.admin = value,
                "reject" => mix.reject = percent(value)?,
                "replay" => mix.replay = percent(value)?,
                "signed_in" => mix.signed_in = percent(value)?,
                "admin_send" => mix.admin_send = percent(value)?,
                other => return Err(format!("unknown mix key `{other}`")),
            }
        }
        if mix.view + mix.invite + mix.admin == 0 {
            return Err("the mix gives no client a role".to_owned());
        }
        Ok(mix)
    }
}

/// How many clients play each role.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Roles {
    /// Clients that view links.
    pub viewers: usize,
    /// Clients that walk the invite–view–answer journey.
    pub invitees: usize,
    /// Clients that list records and send.
    pub admins: usize,
}

impl fmt::Display for Roles {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} viewers, {} invitees, {} admins",
            self.viewers, self.invitees, self.admins
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn realistic_splits_sixteen_clients_eight_six_two() {
        let roles = Mix::REALISTIC.roles(16);
        assert_eq!((roles.viewers, roles.invitees, roles.admins), (8, 6, 2));
        let roles = Mix::REALISTIC.roles(4);
        assert_eq!(roles.viewers + roles.invitees + roles.admins, 4);
        assert!(roles.viewers >= 1 && roles.invitees >= 1 && roles.admins >= 1);
        let roles = Mix::ACCEPTS.roles(5);
        assert_eq!((roles.viewers, roles.invitees, roles.admins), (0, 5, 0));
        let roles = Mix::REALISTIC.roles(1);
        assert_eq!(roles.viewers + roles.invitees + roles.admins, 1);
    }

    #[test]
    fn mixes_parse() {
        assert_eq!("realistic".parse::<Mix>(), Ok(Mix::REALISTIC));
        assert_eq!("views".parse::<Mix>(), Ok(Mix::VIEWS));
        let mix: Mix = "view=10,invite=90,admin=0,reject=0".parse().unwrap();
        assert_eq!((mix.view, mix.invite, mix.admin, mix.reject), (10, 90, 0, 0));
        assert!("view=0,invite=0,admin=0".parse::<Mix>().is_err());
        assert!("reject=101".parse::<Mix>().is_err());
        assert!("speed=3".parse::<Mix>().is_err());
        assert_eq!(Mix::REALISTIC.to_string().parse::<Mix>(), Ok(Mix::REALISTIC));
    }
}
