//! Security definitions that concern docker repositories: custom repository privileges,
//! roles (reduced to their docker privileges), active realms and anonymous access (users
//! are in `users`).

use std::collections::BTreeSet;

use reqwest::Method;
use serde_json::{json, Value};

use super::apply::{present, Applier, Write};
use super::error::ImportError;
use super::nexus::{self, Anonymous, Privilege, Role};
use super::report::Outcome;
use super::rest::RestClient;

/// Berth's built-in roles (also Nexus's).
const BUILTIN_ROLES: [&str; 2] = ["nx-admin", "nx-anonymous"];
/// Berth's realms when nobody changed them.
const DEFAULT_REALMS: [&str; 2] = ["NexusAuthenticatingRealm", "NexusAuthorizingRealm"];

/// Imports custom docker privileges; returns every privilege name on the target (built-in
/// ones included, and in a dry run the ones that would be created).
pub async fn privileges(
    source: &RestClient,
    applier: &mut Applier<'_>,
    repositories: &BTreeSet<String>,
) -> Result<BTreeSet<String>, ImportError> {
    let list: Vec<Privilege> = nexus::parse_list(
        "GET /v1/security/privileges",
        source.get_required("/v1/security/privileges").await?,
    )?;
    let mut names = target_privileges(applier.target, repositories).await?;
    for p in list.iter().filter(|p| !p.read_only) {
        if !nexus::is_docker_privilege(p) {
            applier.skip(
                "privilege",
                &p.name,
                format!(
                    "type {} / format {} does not concern docker",
                    p.kind,
                    p.format.as_deref().unwrap_or("-")
                ),
            );
            continue;
        }
        if p.kind != "repository-view" {
            applier.skip(
                "privilege",
                &p.name,
                format!(
                    "{} privileges (content selectors) are not available in Berth",
                    p.kind
                ),
            );
            continue;
        }
        let desired = json!({
            "name": p.name, "description": p.description.clone().unwrap_or_default(),
            "format": p.format, "repository": p.repository, "actions": p.actions,
        });
        let outcome = applier
            .apply(Write {
                kind: "privilege",
                name: p.name.clone(),
                current: applier
                    .target
                    .get(&format!("/v1/security/privileges/{}", p.name))
                    .await?,
                desired,
                create_body: None,
                create: (
                    Method::POST,
                    "/v1/security/privileges/repository-view".into(),
                ),
                update: (
                    Method::PUT,
                    format!("/v1/security/privileges/repository-view/{}", p.name),
                ),
                notes: Vec::new(),
                pristine: false,
            })
            .await?;
        if present(outcome) {
            names.insert(p.name.clone());
        }
    }
    Ok(names)
}

/// The target's privileges, plus the built-in ones of repositories a dry run would create.
async fn target_privileges(
    target: &RestClient,
    repositories: &BTreeSet<String>,
) -> Result<BTreeSet<String>, ImportError> {
    let listed = target.get_required("/v1/security/privileges").await?;
    let mut names: BTreeSet<String> = listed
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|p| p["name"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    for repo in repositories {
        for action in ["*", "browse", "read", "edit", "add", "delete"] {
            names.insert(format!("nx-repository-view-docker-{repo}-{action}"));
        }
    }
    Ok(names)
}

/// Imports roles reduced to the privileges the target has; roles that would grant nothing
/// are skipped. Contained roles are imported before the roles containing them.
pub async fn roles(
    source: &RestClient,
    applier: &mut Applier<'_>,
    privileges: &BTreeSet<String>,
) -> Result<BTreeSet<String>, ImportError> {
    let list: Vec<Role> = nexus::parse_list(
        "GET /v1/security/roles",
        source.get_required("/v1/security/roles").await?,
    )?;
    let mut done: BTreeSet<String> = BUILTIN_ROLES.iter().map(|s| s.to_string()).collect();
    let mut pending: Vec<Role> = list
        .into_iter()
        .filter(|r| {
            !r.read_only
                && !done.contains(&r.id)
                && r.source.as_deref().unwrap_or("default") == "default"
        })
        .collect();
    let ids: BTreeSet<String> = pending.iter().map(|r| r.id.clone()).collect();
    while !pending.is_empty() {
        let Some(i) = pending
            .iter()
            .position(|r| r.roles.iter().all(|c| !ids.contains(c) || done.contains(c)))
        else {
            for r in pending {
                applier.record(
                    "role",
                    &r.id,
                    Outcome::Failed,
                    Some("its contained roles form a cycle".into()),
                    Vec::new(),
                );
            }
            break;
        };
        let role = pending.remove(i);
        if write_role(applier, &role, privileges, &done).await? {
            done.insert(role.id.clone());
        } else {
            // Roles that were skipped are not known to the roles containing them.
        }
    }
    Ok(done)
}

async fn write_role(
    applier: &mut Applier<'_>,
    role: &Role,
    privileges: &BTreeSet<String>,
    known_roles: &BTreeSet<String>,
) -> Result<bool, ImportError> {
    let mut notes = Vec::new();
    let mut kept_privileges: Vec<String> = Vec::new();
    for p in &role.privileges {
        if privileges.contains(p) {
            kept_privileges.push(p.clone());
        } else {
            notes.push(format!(
                "privilege {p} is not docker or not on the target; left out"
            ));
        }
    }
    let mut kept_roles: Vec<String> = Vec::new();
    for r in &role.roles {
        if known_roles.contains(r) {
            kept_roles.push(r.clone());
        } else {
            notes.push(format!("contained role {r} was not imported; left out"));
        }
    }
    if kept_privileges.is_empty() && kept_roles.is_empty() {
        applier.skip("role", &role.id, "grants nothing on docker repositories");
        return Ok(false);
    }
    kept_privileges.sort();
    kept_roles.sort();
    let desired = json!({
        "id": role.id, "name": role.name.clone().unwrap_or_else(|| role.id.clone()),
        "description": role.description.clone().unwrap_or_default(),
        "privileges": kept_privileges, "roles": kept_roles,
    });
    let path = format!("/v1/security/roles/{}", role.id);
    let current = applier.target.get(&path).await?.map(sorted_role);
    let outcome = applier
        .apply(Write {
            kind: "role",
            name: role.id.clone(),
            current,
            desired,
            create_body: None,
            create: (Method::POST, "/v1/security/roles".into()),
            update: (Method::PUT, path),
            notes,
            pristine: false,
        })
        .await?;
    Ok(present(outcome))
}

/// A role with its lists sorted (order carries no meaning in a role).
fn sorted_role(mut role: Value) -> Value {
    for key in ["privileges", "roles"] {
        if let Some(list) = role[key].as_array_mut() {
            list.sort_by(|a, b| a.as_str().cmp(&b.as_str()));
        }
    }
    role
}

/// Imports the active realms (those Berth knows) and the anonymous-access setting.
pub async fn realms_and_anonymous(
    source: &RestClient,
    applier: &mut Applier<'_>,
) -> Result<(), ImportError> {
    let active = source.get_required("/v1/security/realms/active").await?;
    let available = applier
        .target
        .get_required("/v1/security/realms/available")
        .await?;
    let known: BTreeSet<&str> = available
        .as_array()
        .map(|a| a.iter().filter_map(|r| r["id"].as_str()).collect())
        .unwrap_or_default();
    let mut notes = Vec::new();
    let mut wanted = Vec::new();
    for id in active
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect::<Vec<_>>())
        .unwrap_or_default()
    {
        if known.contains(id) {
            wanted.push(id.to_string());
        } else {
            notes.push(format!("realm {id} is not available in Berth; left out"));
        }
    }
    let current = applier
        .target
        .get_required("/v1/security/realms/active")
        .await?;
    let pristine = current == json!(DEFAULT_REALMS);
    applier
        .apply(Write {
            kind: "realms",
            name: "active".into(),
            current: Some(current),
            desired: json!(wanted),
            create_body: None,
            create: (Method::PUT, "/v1/security/realms/active".into()),
            update: (Method::PUT, "/v1/security/realms/active".into()),
            notes,
            pristine,
        })
        .await?;
    let anonymous: Anonymous = serde_json::from_value(
        source.get_required("/v1/security/anonymous").await?,
    )
    .map_err(|e| ImportError::Malformed(format!("source Nexus GET /v1/security/anonymous: {e}")))?;
    let current = applier
        .target
        .get_required("/v1/security/anonymous")
        .await?;
    // Berth starts with anonymous access off; anything else is an operator's choice.
    let pristine = current["enabled"] == json!(false);
    let desired = json!({
        "enabled": anonymous.enabled,
        "userId": anonymous.user_id.unwrap_or_else(|| "anonymous".into()),
        "realmName": anonymous.realm_name.unwrap_or_else(|| "NexusAuthorizingRealm".into()),
    });
    applier
        .apply(Write {
            kind: "anonymous",
            name: "settings".into(),
            current: Some(current),
            desired,
            create_body: None,
            create: (Method::PUT, "/v1/security/anonymous".into()),
            update: (Method::PUT, "/v1/security/anonymous".into()),
            notes: Vec::new(),
            pristine,
        })
        .await?;
    Ok(())
}
