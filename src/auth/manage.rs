//! Changes to the security model, validated the way Nexus validates them (messages follow
//! `nexus-rest-api.md` §3–§7), and the first-start bootstrap of `admin`.

use serde_json::Value;

use super::model::{
    Privilege, Role, User, UserStatus, ADMIN_ROLE, ADMIN_USER, ANONYMOUS_ROLE, ANONYMOUS_USER,
};
use super::service::{AnonymousSettings, Security, State, REALMS};
use super::{password, AuthError};
use crate::meta::SecurityTable as Table;

/// One database write a change makes.
enum Write {
    Put(Table, String, Value),
    Delete(Table, String),
}

fn put<T: serde::Serialize>(table: Table, key: &str, v: &T) -> Write {
    Write::Put(
        table,
        key.into(),
        serde_json::to_value(v).expect("record serializes"),
    )
}

/// The file holding the generated first-start password of `admin`.
pub const ADMIN_PASSWORD_FILE: &str = "admin.password";

/// Name rule Nexus applies to privileges (and Berth to user and role ids).
fn valid_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric() || c == '-')
        && chars.all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c))
}

impl Security {
    /// Applies `f` to a copy of the model; persists its writes, then publishes the copy.
    async fn change<R>(
        &self,
        f: impl FnOnce(&mut State) -> Result<(Vec<Write>, R), AuthError>,
    ) -> Result<R, AuthError> {
        let _one_at_a_time = self.write.lock().await;
        let mut next = (*self.snapshot()).clone();
        let (writes, out) = f(&mut next)?;
        for w in writes {
            match w {
                Write::Put(t, k, v) => self.store.put(t, &k, &v).await?,
                Write::Delete(t, k) => self.store.delete(t, &k).await?,
            }
        }
        self.replace(next);
        Ok(out)
    }

    /// First start only: `admin` (password from the configuration, else random and written
    /// to `<data>/admin.password`, 0600) and `anonymous`. Never recreated once done, so a
    /// deleted admin stays deleted.
    pub(super) async fn bootstrap(&self) -> anyhow::Result<()> {
        if self
            .store
            .get::<bool>(Table::Settings, "bootstrapped")
            .await?
            .is_some()
        {
            return Ok(());
        }
        let (secret, generated) = match &self.settings.initial_admin_password {
            Some(p) => (p.0.clone(), false),
            None => (password::random_secret(18), true),
        };
        if generated {
            let path = self.data_dir.join(ADMIN_PASSWORD_FILE);
            let _ = std::fs::remove_file(&path);
            password::write_private(&path, secret.as_bytes())?;
            tracing::warn!(
                file = %path.display(),
                "created user admin with a random password; read it from this file and change it"
            );
        }
        let admin = User {
            user_id: ADMIN_USER.into(),
            first_name: "Administrator".into(),
            last_name: "User".into(),
            email_address: "admin@example.org".into(),
            status: UserStatus::Active,
            roles: vec![ADMIN_ROLE.into()],
            password_hash: password::hash(&secret),
            credential_generation: password::random_secret(12),
        };
        let anonymous = User {
            user_id: ANONYMOUS_USER.into(),
            first_name: "Anonymous".into(),
            last_name: "User".into(),
            email_address: "anonymous@example.org".into(),
            status: UserStatus::Active,
            roles: vec![ANONYMOUS_ROLE.into()],
            password_hash: String::new(),
            credential_generation: password::random_secret(12),
        };
        for u in [admin, anonymous] {
            self.store.put(Table::Users, &u.user_id, &u).await?;
        }
        self.store
            .put(Table::Settings, "bootstrapped", &true)
            .await?;
        Ok(())
    }

    pub async fn create_user(&self, user: User, secret: &str) -> Result<User, AuthError> {
        if secret.trim().is_empty() {
            return Err(AuthError::invalid(
                "password",
                "A non-empty password is required.",
            ));
        }
        let hash = password::hash(secret);
        self.change(move |s| {
            if !valid_name(&user.user_id) {
                return Err(AuthError::invalid("userId", "Invalid user id"));
            }
            if s.users.contains_key(&user.user_id) {
                return Err(AuthError::invalid(
                    "userId",
                    format!("User '{}' already exists", user.user_id),
                ));
            }
            check_roles(s, &user.roles)?;
            let mut user = User {
                password_hash: hash,
                ..user
            };
            user.revoke_tokens();
            s.users.insert(user.user_id.clone(), user.clone());
            Ok((vec![put(Table::Users, &user.user_id, &user)], user))
        })
        .await
    }

    /// Replaces names, status and roles (never the password).
    pub async fn update_user(&self, user: User) -> Result<(), AuthError> {
        self.change(move |s| {
            let Some(old) = s.users.get(&user.user_id) else {
                return Err(AuthError::NotFound(format!(
                    "User '{}' not found",
                    user.user_id
                )));
            };
            check_roles(s, &user.roles)?;
            let loses_roles = old.roles.iter().any(|r| !user.roles.contains(r));
            let loses_login = old.status.can_log_in() && !user.status.can_log_in();
            let mut user = User {
                password_hash: old.password_hash.clone(),
                credential_generation: old.credential_generation.clone(),
                ..user
            };
            if loses_roles || loses_login {
                user.revoke_tokens();
            }
            s.users.insert(user.user_id.clone(), user.clone());
            Ok((vec![put(Table::Users, &user.user_id, &user)], ()))
        })
        .await
    }

    pub async fn delete_user(&self, user_id: &str) -> Result<(), AuthError> {
        self.change(|s| {
            if user_id == s.anonymous.user_id && s.anonymous.enabled {
                return Err(AuthError::invalid("*", "the anonymous user is in use"));
            }
            s.users
                .remove(user_id)
                .ok_or_else(|| AuthError::NotFound(format!("User '{user_id}' not found")))?;
            Ok((vec![Write::Delete(Table::Users, user_id.into())], ()))
        })
        .await
    }

    /// Whether `user_id` must choose a new password before anything else (the web UI asks,
    /// as Nexus does): `admin` while the generated first-start password file still exists,
    /// or a user whose status is `changepassword`.
    pub fn must_change_password(&self, user_id: &str) -> bool {
        let status = self.snapshot().users.get(user_id).map(|u| u.status);
        (user_id == ADMIN_USER && self.data_dir.join(ADMIN_PASSWORD_FILE).exists())
            || status == Some(UserStatus::Changepassword)
    }

    /// Sets a new password; changing `admin`'s removes `<data>/admin.password`.
    pub async fn change_password(&self, user_id: &str, secret: &str) -> Result<(), AuthError> {
        if secret.trim().is_empty() {
            return Err(AuthError::invalid(
                "password",
                "A non-empty password is required.",
            ));
        }
        let hash = password::hash(secret);
        self.change(|s| {
            let user = s
                .users
                .get_mut(user_id)
                .ok_or_else(|| AuthError::NotFound(format!("User '{user_id}' not found")))?;
            user.password_hash = hash;
            user.revoke_tokens();
            if user.status == UserStatus::Changepassword {
                user.status = UserStatus::Active;
            }
            Ok((vec![put(Table::Users, user_id, &*user)], ()))
        })
        .await?;
        if user_id == ADMIN_USER {
            let _ = std::fs::remove_file(self.data_dir.join(ADMIN_PASSWORD_FILE));
        }
        Ok(())
    }

    /// Creates (`create`) or replaces a custom role; `repo_exists` tells which built-in
    /// per-repository privileges exist.
    pub async fn save_role(
        &self,
        role: Role,
        create: bool,
        repo_exists: impl Fn(&str) -> bool,
    ) -> Result<Role, AuthError> {
        self.change(move |s| {
            match s.roles.get(&role.id) {
                Some(_) if create => {
                    return Err(AuthError::invalid(
                        "id",
                        format!("Role '{}' already exists", role.id),
                    ))
                }
                Some(old) if old.read_only => {
                    return Err(AuthError::invalid(
                        "*",
                        format!("Role '{}' is read only", role.id),
                    ))
                }
                None if !create => {
                    return Err(AuthError::NotFound(format!("Role '{}' not found", role.id)))
                }
                _ => {}
            }
            if !valid_name(&role.id) {
                return Err(AuthError::invalid("id", "Invalid role id"));
            }
            for p in &role.privileges {
                if s.privilege(p, &repo_exists).is_none() {
                    return Err(AuthError::invalid(
                        "privileges",
                        format!("Unable to locate privilege: {p}"),
                    ));
                }
            }
            check_roles(s, &role.roles)?;
            let role = Role {
                read_only: false,
                ..role
            };
            let shrinks = s.roles.get(&role.id).is_some_and(|old| {
                old.privileges.iter().any(|p| !role.privileges.contains(p))
                    || old.roles.iter().any(|r| !role.roles.contains(r))
            });
            s.roles.insert(role.id.clone(), role.clone());
            if reaches(s, &role.id, &role.id) {
                return Err(AuthError::invalid("roles", "A role cannot contain itself"));
            }
            let mut writes = vec![put(Table::Roles, &role.id, &role)];
            if shrinks {
                writes.extend(revoke_holders(s, &role.id));
            }
            Ok((writes, role))
        })
        .await
    }

    pub async fn delete_role(&self, id: &str) -> Result<(), AuthError> {
        self.change(|s| {
            match s.roles.get(id) {
                None => return Err(AuthError::NotFound(format!("Role '{id}' not found"))),
                Some(r) if r.read_only => {
                    return Err(AuthError::invalid("*", format!("Role '{id}' is read only")))
                }
                _ => {}
            }
            let mut writes = revoke_holders(s, id);
            s.roles.remove(id);
            writes.push(Write::Delete(Table::Roles, id.into()));
            Ok((writes, ()))
        })
        .await
    }

    /// Creates or replaces a custom repository-view privilege.
    pub async fn save_privilege(
        &self,
        privilege: Privilege,
        create: bool,
        builtin: bool,
    ) -> Result<(), AuthError> {
        self.change(move |s| {
            let name = privilege.name.clone();
            if builtin {
                let message = if create {
                    format!("Privilege '{name}' already exists, use a unique name.")
                } else {
                    format!("Privilege '{name}' is read only")
                };
                return Err(AuthError::invalid("name", message));
            }
            match s.privileges.contains_key(&name) {
                true if create => {
                    return Err(AuthError::invalid(
                        "name",
                        format!("Privilege '{name}' already exists, use a unique name."),
                    ))
                }
                false if !create => {
                    return Err(AuthError::NotFound(format!("Privilege '{name}' not found")))
                }
                _ => {}
            }
            if !valid_name(&name) {
                return Err(AuthError::invalid("name", "Invalid privilege name"));
            }
            s.privileges.insert(name.clone(), privilege.clone());
            Ok((vec![put(Table::Privileges, &name, &privilege)], ()))
        })
        .await
    }

    pub async fn delete_privilege(&self, name: &str, builtin: bool) -> Result<(), AuthError> {
        self.change(|s| {
            if builtin {
                return Err(AuthError::invalid(
                    "*",
                    format!("Privilege '{name}' is read only"),
                ));
            }
            s.privileges
                .remove(name)
                .ok_or_else(|| AuthError::NotFound(format!("Privilege '{name}' not found")))?;
            Ok((vec![Write::Delete(Table::Privileges, name.into())], ()))
        })
        .await
    }

    pub async fn set_realms(&self, realms: Vec<String>) -> Result<(), AuthError> {
        let unknown: Vec<&String> = realms
            .iter()
            .filter(|r| !REALMS.iter().any(|k| k.0 == r.as_str()))
            .collect();
        if !unknown.is_empty() {
            let list: Vec<&str> = unknown.iter().map(|s| s.as_str()).collect();
            return Err(AuthError::invalid(
                "*",
                format!("Unknown realmIds: [{}]", list.join(", ")),
            ));
        }
        self.change(|s| {
            s.realms = realms;
            Ok((vec![put(Table::Settings, "realms", &s.realms)], ()))
        })
        .await
    }

    pub async fn set_anonymous(&self, settings: AnonymousSettings) -> Result<(), AuthError> {
        let realm_names = [
            "NexusAuthorizingRealm",
            "NexusAuthenticatingRealm",
            "Local Authorizing Realm",
        ];
        if !realm_names.contains(&settings.realm_name.as_str()) {
            return Err(AuthError::invalid("realmName", "Realm does not exist"));
        }
        self.change(|s| {
            if !s.users.contains_key(&settings.user_id) {
                return Err(AuthError::invalid("userId", "User does not exist"));
            }
            s.anonymous = settings;
            Ok((vec![put(Table::Settings, "anonymous", &s.anonymous)], ()))
        })
        .await
    }
}

fn check_roles(s: &State, roles: &[String]) -> Result<(), AuthError> {
    match roles.iter().find(|r| !s.roles.contains_key(*r)) {
        Some(r) => Err(AuthError::invalid(
            "roles",
            format!("Unable to locate roleId: {r}"),
        )),
        None => Ok(()),
    }
}

/// Gives every user holding `role_id` (directly or through nested roles) a new credential
/// generation: a role that shrinks or goes takes privileges from all of them, and the
/// tokens issued before must not outlive that.
fn revoke_holders(s: &mut State, role_id: &str) -> Vec<Write> {
    let holders: Vec<String> = s
        .users
        .values()
        .filter(|u| {
            u.roles
                .iter()
                .any(|r| r == role_id || reaches(s, r, role_id))
        })
        .map(|u| u.user_id.clone())
        .collect();
    holders
        .iter()
        .filter_map(|id| {
            let user = s.users.get_mut(id)?;
            user.revoke_tokens();
            Some(put(Table::Users, id, &*user))
        })
        .collect()
}

/// Whether role `from` contains `target` through one or more nesting steps.
fn reaches(s: &State, from: &str, target: &str) -> bool {
    let mut stack: Vec<&str> = s
        .roles
        .get(from)
        .map(|r| r.roles.iter().map(String::as_str).collect())
        .unwrap_or_default();
    let mut seen = std::collections::HashSet::new();
    while let Some(id) = stack.pop() {
        if id == target {
            return true;
        }
        if seen.insert(id) {
            if let Some(r) = s.roles.get(id) {
                stack.extend(r.roles.iter().map(String::as_str));
            }
        }
    }
    false
}
