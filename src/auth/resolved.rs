//! [`Resolved`]: the answers the per-request checks need, worked out once per model change.
//!
//! Walking a user's roles to their privileges builds every built-in privilege from its name
//! (strings, descriptions) and collects them into a fresh vector; doing that on every
//! request cost more than the rest of a warm manifest GET. The model changes rarely (an
//! admin edit), requests arrive all the time, so [`Security`](super::Security) resolves the
//! whole model whenever it publishes a new one, in the same lock-protected swap: a request
//! sees the old answers or the new ones, never a mix, and a revoked user, lost privilege or
//! disabled realm takes effect for the very next request, as before.

use std::collections::HashMap;

use super::model::Grant;
use super::state::{State, DOCKER_TOKEN_REALM};

#[derive(Debug, Default)]
pub(super) struct Resolved {
    /// Users who may log in now, with everything their roles grant; anyone else is absent.
    users: HashMap<String, Box<[Grant]>>,
    /// What anonymous callers may do: `None` while anonymous access is off or its user
    /// cannot log in.
    anonymous: Option<Box<[Grant]>>,
    /// Whether the Docker Bearer Token realm is active.
    pub token_realm: bool,
}

impl Resolved {
    pub fn of(state: &State) -> Self {
        let users: HashMap<String, Box<[Grant]>> = state
            .users
            .values()
            .filter(|u| u.status.can_log_in())
            .map(|u| (u.user_id.clone(), state.grants_of(u).into_boxed_slice()))
            .collect();
        let anonymous = state
            .anonymous
            .enabled
            .then(|| users.get(&state.anonymous.user_id).cloned())
            .flatten();
        Resolved {
            users,
            anonymous,
            token_realm: state.realms.iter().any(|r| r == DOCKER_TOKEN_REALM),
        }
    }

    /// The grants of `user_id` if that user exists and may log in now.
    pub fn grants(&self, user_id: &str) -> Option<&[Grant]> {
        self.users.get(user_id).map(|g| &**g)
    }

    pub fn anonymous_grants(&self) -> Option<&[Grant]> {
        self.anonymous.as_deref()
    }
}

#[cfg(test)]
mod tests {
    use super::super::model::{User, UserStatus, ADMIN_ROLE, ANONYMOUS_ROLE, ANONYMOUS_USER};
    use super::super::state::AnonymousSettings;
    use super::*;
    use crate::auth::model::{builtin_roles, Action};

    fn user(id: &str, status: UserStatus, roles: &[&str]) -> User {
        User {
            user_id: id.into(),
            first_name: String::new(),
            last_name: String::new(),
            email_address: String::new(),
            status,
            roles: roles.iter().map(|r| r.to_string()).collect(),
            password_hash: String::new(),
            credential_generation: String::new(),
        }
    }

    fn state(anonymous: bool, realms: &[&str]) -> State {
        let mut s = State {
            realms: realms.iter().map(|r| r.to_string()).collect(),
            anonymous: AnonymousSettings {
                enabled: anonymous,
                ..AnonymousSettings::default()
            },
            ..State::default()
        };
        for r in builtin_roles() {
            s.roles.insert(r.id.clone(), r);
        }
        for u in [
            user("admin", UserStatus::Active, &[ADMIN_ROLE]),
            user("off", UserStatus::Disabled, &[ADMIN_ROLE]),
            user("new", UserStatus::Changepassword, &[ANONYMOUS_ROLE]),
            user(ANONYMOUS_USER, UserStatus::Active, &[ANONYMOUS_ROLE]),
        ] {
            s.users.insert(u.user_id.clone(), u);
        }
        s
    }

    #[test]
    fn only_users_who_may_log_in_have_grants() {
        let r = Resolved::of(&state(false, &[]));
        assert_eq!(r.grants("admin"), Some(&[Grant::All][..]));
        assert!(r.grants("off").is_none(), "disabled");
        assert!(r.grants("nobody").is_none());
        let new = r.grants("new").expect("changepassword still authenticates");
        assert!(new.iter().any(|g| g.allows("any", Action::Read)));
        assert!(!new.iter().any(|g| g.allows("any", Action::Add)));
    }

    #[test]
    fn anonymous_grants_and_the_token_realm_follow_the_settings() {
        let off = Resolved::of(&state(false, &["NexusAuthenticatingRealm"]));
        assert!(off.anonymous_grants().is_none());
        assert!(!off.token_realm);
        let on = Resolved::of(&state(true, &[DOCKER_TOKEN_REALM]));
        assert!(on.anonymous_grants().is_some_and(|g| !g.is_empty()));
        assert!(on.token_realm);
        let mut locked = state(true, &[]);
        locked.users.get_mut(ANONYMOUS_USER).unwrap().status = UserStatus::Locked;
        assert!(Resolved::of(&locked).anonymous_grants().is_none());
    }
}
