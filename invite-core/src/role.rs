//! Roles of members and the policy of which ones an invitation may assign (rule S4, A9).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The role of a member in an enterprise (rules §1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Role {
    /// Owns the enterprise; the only role that may invite (rule S1). Never assignable by
    /// invitation (rule S4).
    SuperAdmin,
    /// Manages billing and financial operations.
    FinanceAdmin,
    /// Manages applications, API keys and logs.
    DevAdmin,
    /// Basic access to assigned resources.
    Member,
}

impl Role {
    /// Every role, most powerful first.
    pub const ALL: [Role; 4] = [Role::SuperAdmin, Role::FinanceAdmin, Role::DevAdmin, Role::Member];

    /// The rules's name of the role (`super_admin`, `finance_admin`, `dev_admin`, `member`).
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Role::SuperAdmin => "super_admin",
            Role::FinanceAdmin => "finance_admin",
            Role::DevAdmin => "dev_admin",
            Role::Member => "member",
        }
    }

    /// The one-line description the guide gives of the role.
    #[must_use]
    pub const fn description(self) -> &'static str {
        match self {
            Role::SuperAdmin => "Owns the enterprise and manages its members.",
            Role::FinanceAdmin => "Manages billing and financial operations.",
            Role::DevAdmin => "Manages applications, API keys and logs.",
            Role::Member => "Basic access to assigned resources.",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// A role name that is not one of the four roles of rules §1.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown role")]
pub struct UnknownRole;

impl FromStr for Role {
    type Err = UnknownRole;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|role| role.as_str() == s)
            .ok_or(UnknownRole)
    }
}

/// Which roles an invitation may assign (rule S4). `super_admin` never is, whatever the
/// host configures; a host may narrow the default set, and accept re-checks it (rule A9).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RolePolicy {
    assignable: Vec<Role>,
}

impl RolePolicy {
    /// A policy that allows exactly `roles`, minus `super_admin`.
    #[must_use]
    pub fn new(roles: impl IntoIterator<Item = Role>) -> Self {
        let mut assignable: Vec<Role> = roles.into_iter().filter(|r| *r != Role::SuperAdmin).collect();
        assignable.sort();
        assignable.dedup();
        Self { assignable }
    }

    /// The roles this policy allows, most powerful first.
    #[must_use]
    pub fn assignable(&self) -> &[Role] {
        &self.assignable
    }

    /// Whether an invitation may assign `role`.
    #[must_use]
    pub fn allows(&self, role: Role) -> bool {
        self.assignable.contains(&role)
    }

    /// Parses a role name from a request and checks that it may be assigned: an unknown
    /// name and a forbidden role both get `role_not_assignable` (rule S4).
    ///
    /// # Errors
    /// [`RoleError`] for an unknown or forbidden role.
    pub fn parse_assignable(&self, name: &str) -> Result<Role, RoleError> {
        let role = Role::from_str(name).map_err(|_| RoleError)?;
        self.check(role)
    }

    /// Returns `role` if this policy allows it, [`RoleError`] (`role_not_assignable`)
    /// otherwise.
    ///
    /// # Errors
    /// [`RoleError`] for a role the policy does not allow.
    pub fn check(&self, role: Role) -> Result<Role, RoleError> {
        if self.allows(role) {
            Ok(role)
        } else {
            Err(RoleError)
        }
    }
}

/// A role that an invitation may not assign, or no role at all (rules S4, A9).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("this role cannot be assigned by invitation")]
pub struct RoleError;

impl Default for RolePolicy {
    /// `finance_admin`, `dev_admin` and `member` (rule S4).
    fn default() -> Self {
        Self::new([Role::FinanceAdmin, Role::DevAdmin, Role::Member])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for role in Role::ALL {
            assert_eq!(role.as_str().parse::<Role>(), Ok(role));
        }
        assert_eq!("owner".parse::<Role>(), Err(UnknownRole));
        assert_eq!("Member".parse::<Role>(), Err(UnknownRole));
    }

    #[test]
    fn default_policy_assigns_exactly_three_roles() {
        // rule S4
        let policy = RolePolicy::default();
        assert_eq!(
            policy.assignable(),
            &[Role::FinanceAdmin, Role::DevAdmin, Role::Member]
        );
        assert!(matches!(policy.parse_assignable("super_admin"), Err(RoleError)));
        assert!(matches!(policy.parse_assignable("root"), Err(RoleError)));
        assert!(matches!(policy.parse_assignable("dev_admin"), Ok(Role::DevAdmin)));
    }

    #[test]
    fn super_admin_is_never_assignable_even_if_configured() {
        // rule S4
        let policy = RolePolicy::new(Role::ALL);
        assert!(!policy.allows(Role::SuperAdmin));
        assert!(matches!(policy.check(Role::SuperAdmin), Err(RoleError)));
    }

    #[test]
    fn roles_have_the_rules_names_and_display_them() {
        // rules §1: the four roles, most powerful first, by the names of the API
        let names: Vec<&str> = Role::ALL.iter().map(|r| r.as_str()).collect();
        assert_eq!(names, ["super_admin", "finance_admin", "dev_admin", "member"]);
        for role in Role::ALL {
            assert_eq!(role.to_string(), role.as_str());
        }
        // Display pads like a str, so role columns line up.
        assert_eq!(format!("[{:>8}]", Role::Member), "[  member]");
        assert_eq!(format!("[{:<10}]", Role::DevAdmin), "[dev_admin ]");
        assert_eq!("".parse::<Role>(), Err(UnknownRole));
    }

    #[test]
    fn each_role_has_the_guides_one_line_description() {
        // rules §1: the table of roles and their meaning
        let descriptions: Vec<&str> = Role::ALL.iter().map(|r| r.description()).collect();
        assert_eq!(
            descriptions,
            [
                "Owns the enterprise and manages its members.",
                "Manages billing and financial operations.",
                "Manages applications, API keys and logs.",
                "Basic access to assigned resources.",
            ]
        );
    }

    #[test]
    fn a_narrowed_policy_allows_only_what_it_lists() {
        // rules S4, A9: a host may narrow the default set; the policy keeps its roles
        // ordered most powerful first, without repeats
        let policy = RolePolicy::new([Role::Member, Role::FinanceAdmin, Role::Member]);
        assert_eq!(policy.assignable(), &[Role::FinanceAdmin, Role::Member]);
        assert!(policy.allows(Role::Member));
        assert!(!policy.allows(Role::DevAdmin));
        assert_eq!(policy.check(Role::FinanceAdmin), Ok(Role::FinanceAdmin));
        assert_eq!(policy.check(Role::DevAdmin), Err(RoleError));
        assert_eq!(policy.parse_assignable("member"), Ok(Role::Member));
        assert_eq!(policy.parse_assignable("dev_admin"), Err(RoleError));
        let nothing = RolePolicy::new([Role::SuperAdmin]);
        assert!(nothing.assignable().is_empty());
        assert!(Role::ALL.into_iter().all(|r| !nothing.allows(r)));
    }
}
