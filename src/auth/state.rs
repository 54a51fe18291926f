//! The security model as loaded from the metadata (users, roles, custom privileges, realms,
//! anonymous access): plain data that the service publishes and `resolved` works from.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::model::{self, Grant, Privilege, Role, User, ANONYMOUS_USER};

/// The realms Berth knows: id and Nexus display name.
pub const REALMS: [(&str, &str); 3] = [
    ("NexusAuthenticatingRealm", "Local Authenticating Realm"),
    ("NexusAuthorizingRealm", "Local Authorizing Realm"),
    ("DockerToken", "Docker Bearer Token Realm"),
];
pub const DOCKER_TOKEN_REALM: &str = "DockerToken";

/// Nexus `/v1/security/anonymous`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct AnonymousSettings {
    pub enabled: bool,
    pub user_id: String,
    pub realm_name: String,
}

impl Default for AnonymousSettings {
    fn default() -> Self {
        AnonymousSettings {
            enabled: false,
            user_id: ANONYMOUS_USER.into(),
            realm_name: "NexusAuthorizingRealm".into(),
        }
    }
}

/// The whole security model.
#[derive(Clone, Debug, Default)]
pub struct State {
    pub users: HashMap<String, User>,
    /// Built-in and custom roles.
    pub roles: HashMap<String, Role>,
    /// Custom privileges only; built-in ones are derived from their names.
    pub privileges: HashMap<String, Privilege>,
    pub realms: Vec<String>,
    pub anonymous: AnonymousSettings,
}

impl State {
    /// The privilege `name`: custom, or built-in (`exists` says which repositories exist).
    pub fn privilege(&self, name: &str, exists: impl Fn(&str) -> bool) -> Option<Privilege> {
        self.privileges
            .get(name)
            .cloned()
            .or_else(|| model::builtin_privilege(name, exists))
    }

    pub(super) fn grants_of(&self, user: &User) -> Vec<Grant> {
        model::effective_grants(&user.roles, &self.roles, |p| {
            self.privilege(p, |_| true).map(|p| p.grant)
        })
    }
}
