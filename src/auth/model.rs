//! The security model, Nexus-shaped: users hold roles, roles hold privileges and other roles,
//! a repository-view privilege grants actions on repositories whose name matches a pattern.
//!
//! Per-repository privileges (`nx-repository-view-docker-<repo>-<action>`) are *derived*
//! from their name rather than stored, so they exist exactly while the repository does and
//! cannot drift from the repository list. Everything here is pure (no I/O).

use std::collections::{HashMap, HashSet};

use serde::{Deserialize, Serialize};

/// What a request does to a repository (Nexus "BREAD" actions).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Browse,
    Read,
    Edit,
    Add,
    Delete,
}

impl Action {
    pub const ALL: [Action; 5] = [
        Action::Browse,
        Action::Read,
        Action::Edit,
        Action::Add,
        Action::Delete,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Action::Browse => "browse",
            Action::Read => "read",
            Action::Edit => "edit",
            Action::Add => "add",
            Action::Delete => "delete",
        }
    }

    /// Parses a stored (`read`) or REST (`READ`) spelling; `*`/`ALL` is handled by callers.
    pub fn parse(s: &str) -> Option<Action> {
        Action::ALL
            .into_iter()
            .find(|a| a.as_str().eq_ignore_ascii_case(s))
    }
}

/// Nexus user status; `changepassword` still authenticates (as in Nexus).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UserStatus {
    Active,
    Locked,
    Disabled,
    Changepassword,
}

impl UserStatus {
    pub fn parse(s: &str) -> Option<Self> {
        serde_json::from_value(serde_json::Value::String(s.to_ascii_lowercase())).ok()
    }

    pub fn can_log_in(self) -> bool {
        matches!(self, UserStatus::Active | UserStatus::Changepassword)
    }
}

/// A local user. `password_hash` is an argon2id PHC string; empty means "cannot log in"
/// (the built-in `anonymous` user).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct User {
    pub user_id: String,
    pub first_name: String,
    pub last_name: String,
    pub email_address: String,
    pub status: UserStatus,
    pub roles: Vec<String>,
    pub password_hash: String,
    /// Random, replaced whenever the user's credentials or standing shrink (new password,
    /// a role taken away, status that cannot log in); tokens carry it and stop working
    /// when it changes. A re-created user gets a fresh one, so tokens of the deleted user
    /// with the same name match nothing. Empty for users stored before it existed.
    #[serde(default)]
    pub credential_generation: String,
}

impl User {
    /// Gives the user a new credential generation, revoking every token issued before.
    pub fn revoke_tokens(&mut self) {
        self.credential_generation = crate::auth::password::random_secret(12);
    }
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Role {
    pub id: String,
    pub name: String,
    pub description: String,
    pub privileges: Vec<String>,
    pub roles: Vec<String>,
    #[serde(default)]
    pub read_only: bool,
}

/// What a privilege grants.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub enum Grant {
    /// `nexus:*`: everything, including the admin API.
    All,
    /// `nexus:metrics:*`: read `/metrics` and `status/check` (Nexus's `nx-metrics-all`),
    /// nothing else: what a Prometheus scrape user needs.
    Metrics,
    /// Actions on repositories of `format` (`docker` or `*`) whose name matches `repository`
    /// (an exact name or a pattern with `*` wildcards).
    RepositoryView {
        format: String,
        repository: String,
        actions: Vec<Action>,
    },
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Privilege {
    pub name: String,
    pub description: String,
    pub grant: Grant,
    #[serde(default)]
    pub read_only: bool,
}

pub const ADMIN_ROLE: &str = "nx-admin";
pub const ANONYMOUS_ROLE: &str = "nx-anonymous";
pub const ALL_PRIVILEGE: &str = "nx-all";
pub const METRICS_PRIVILEGE: &str = "nx-metrics-all";
pub const ANONYMOUS_USER: &str = "anonymous";
pub const ADMIN_USER: &str = "admin";
const VIEW_PREFIX: &str = "nx-repository-view-";
const ACTION_WORDS: [&str; 6] = ["*", "browse", "read", "edit", "add", "delete"];

/// The built-in roles (read-only, as in Nexus).
pub fn builtin_roles() -> Vec<Role> {
    vec![
        Role {
            id: ADMIN_ROLE.into(),
            name: ADMIN_ROLE.into(),
            description: "Administrator Role".into(),
            privileges: vec![ALL_PRIVILEGE.into()],
            roles: vec![],
            read_only: true,
        },
        Role {
            id: ANONYMOUS_ROLE.into(),
            name: ANONYMOUS_ROLE.into(),
            description: "Anonymous Role".into(),
            privileges: vec![view_name("*", "*", "browse"), view_name("*", "*", "read")],
            roles: vec![],
            read_only: true,
        },
    ]
}

/// `nx-repository-view-<format>-<repository>-<action>`.
pub fn view_name(format: &str, repository: &str, action: &str) -> String {
    format!("{VIEW_PREFIX}{format}-{repository}-{action}")
}

/// The built-in privilege called `name`, if it is one: `nx-all`, or a repository-view name
/// over format `docker`/`*` and a repository that `exists` (or `*`).
pub fn builtin_privilege(name: &str, exists: impl Fn(&str) -> bool) -> Option<Privilege> {
    if name == ALL_PRIVILEGE {
        return Some(Privilege {
            name: name.into(),
            description: "All permissions".into(),
            grant: Grant::All,
            read_only: true,
        });
    }
    if name == METRICS_PRIVILEGE {
        return Some(Privilege {
            name: name.into(),
            description: "All permissions for Metrics".into(),
            grant: Grant::Metrics,
            read_only: true,
        });
    }
    let rest = name.strip_prefix(VIEW_PREFIX)?;
    let (format, rest) = rest.split_once('-')?;
    let (repository, action) = rest.rsplit_once('-')?;
    let known_format = format == "docker" || format == "*";
    let known_repo = repository == "*" || exists(repository);
    if !known_format || !known_repo || !ACTION_WORDS.contains(&action) {
        return None;
    }
    let actions = match Action::parse(action) {
        Some(a) => vec![a],
        None => Action::ALL.to_vec(),
    };
    let target = if repository == "*" {
        format!("all '{format}'-format repositories")
    } else {
        format!("{repository} repository")
    };
    Some(Privilege {
        name: name.into(),
        description: format!("{} permission for {target} views", capital(action)),
        grant: Grant::RepositoryView {
            format: format.into(),
            repository: repository.into(),
            actions,
        },
        read_only: true,
    })
}

fn capital(action: &str) -> String {
    if action == "*" {
        return "All".into();
    }
    let mut c = action.chars();
    c.next()
        .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
        .unwrap_or_default()
}

/// The built-in privileges Berth lists for `repositories`.
pub fn builtin_privileges(repositories: &[String]) -> Vec<Privilege> {
    let mut scopes = vec![("*", "*".to_string()), ("docker", "*".to_string())];
    scopes.extend(repositories.iter().map(|r| ("docker", r.clone())));
    let mut out: Vec<Privilege> = [ALL_PRIVILEGE, METRICS_PRIVILEGE]
        .iter()
        .filter_map(|name| builtin_privilege(name, |_| false))
        .collect();
    for (format, repo) in scopes {
        for action in ACTION_WORDS {
            let name = view_name(format, &repo, action);
            out.extend(builtin_privilege(&name, |_| true));
        }
    }
    out
}

/// Whether `pattern` (exact, or with `*` matching any run of characters) matches `name`.
/// Runs for every permission check: no allocation.
pub fn matches_pattern(pattern: &str, name: &str) -> bool {
    let mut parts = pattern.split('*');
    let first = parts.next().unwrap_or_default();
    let Some(last) = parts.next_back() else {
        return pattern == name;
    };
    if !name.starts_with(first) || !name.ends_with(last) || name.len() < first.len() + last.len() {
        return false;
    }
    let mut rest = &name[first.len()..name.len() - last.len()];
    for middle in parts {
        match rest.find(middle) {
            Some(i) => rest = &rest[i + middle.len()..],
            None => return false,
        }
    }
    true
}

impl Grant {
    pub fn allows(&self, repository: &str, action: Action) -> bool {
        match self {
            Grant::All => true,
            Grant::Metrics => false,
            Grant::RepositoryView {
                format,
                repository: pattern,
                actions,
            } => {
                (format == "docker" || format == "*")
                    && matches_pattern(pattern, repository)
                    && actions.contains(&action)
            }
        }
    }
}

/// Resolves roles to the privileges they grant (roles nest; cycles and unknown names are
/// ignored, never followed twice).
pub fn effective_grants<'a>(
    role_ids: &'a [String],
    roles: &'a HashMap<String, Role>,
    lookup: impl Fn(&str) -> Option<Grant>,
) -> Vec<Grant> {
    let mut seen = HashSet::new();
    let mut stack: Vec<&str> = role_ids.iter().map(String::as_str).collect();
    let mut grants = Vec::new();
    while let Some(id) = stack.pop() {
        if !seen.insert(id) {
            continue;
        }
        let Some(role) = roles.get(id) else { continue };
        grants.extend(role.privileges.iter().filter_map(|p| lookup(p)));
        stack.extend(role.roles.iter().map(String::as_str));
    }
    grants
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_view_names_parse_with_dashes_in_repository_names() {
        let p = builtin_privilege("nx-repository-view-docker-docker-hosted-add", |r| {
            r == "docker-hosted"
        })
        .unwrap();
        assert!(p.grant.allows("docker-hosted", Action::Add));
        assert!(!p.grant.allows("docker-hosted", Action::Read));
        assert!(!p.grant.allows("docker-other", Action::Add));
        assert!(builtin_privilege("nx-repository-view-docker-gone-add", |_| false).is_none());
        assert!(builtin_privilege("nx-repository-view-maven2-x-add", |_| true).is_none());
        assert!(builtin_privilege("nx-repository-view-docker-x-run", |_| true).is_none());
    }

    #[test]
    fn star_action_grants_every_action() {
        let p = builtin_privilege("nx-repository-view-*-*-*", |_| false).unwrap();
        for a in Action::ALL {
            assert!(p.grant.allows("anything", a));
        }
    }

    #[test]
    fn patterns_match_whole_names_only() {
        assert!(matches_pattern("team-*", "team-a"));
        assert!(matches_pattern("*-prod", "x-prod"));
        assert!(matches_pattern("a*b*c", "aXbYc"));
        assert!(!matches_pattern("team-*", "xteam-a"));
        assert!(!matches_pattern("team", "team-a"));
        assert!(!matches_pattern("a*a", "a"));
        assert!(matches_pattern("*", "anything"));
        assert!(matches_pattern("a**b", "ab"));
        assert!(!matches_pattern("a*b*c", "aXcYb"));
    }

    #[test]
    fn nested_roles_resolve_and_cycles_terminate() {
        let mut roles = HashMap::new();
        let role = |id: &str, privs: &[&str], sub: &[&str]| Role {
            id: id.into(),
            name: id.into(),
            description: String::new(),
            privileges: privs.iter().map(|s| s.to_string()).collect(),
            roles: sub.iter().map(|s| s.to_string()).collect(),
            read_only: false,
        };
        roles.insert("a".into(), role("a", &["p1"], &["b"]));
        roles.insert("b".into(), role("b", &["p2"], &["a"]));
        let grants = effective_grants(&["a".into()], &roles, |_| Some(Grant::All));
        assert_eq!(grants.len(), 2);
    }
}
