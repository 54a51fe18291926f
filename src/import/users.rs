//! Local users. Nexus never exports password hashes, so each new user gets a random
//! password written to a 0600 file, or is created disabled, as the operator chose; an
//! existing user keeps its password.

use std::collections::BTreeSet;
use std::io::Write as _;
use std::path::Path;

use reqwest::Method;
use serde_json::json;

use super::apply::{Applier, Write};
use super::error::ImportError;
use super::nexus::{self, User};
use super::options::UserMode;
use super::report::Outcome;
use super::rest::RestClient;

/// Imports local users (not `admin` and `anonymous`, which Berth has; not users of external
/// sources such as LDAP).
pub async fn users(
    source: &RestClient,
    applier: &mut Applier<'_>,
    roles: &BTreeSet<String>,
    mode: &UserMode,
) -> Result<(), ImportError> {
    let list: Vec<User> = nexus::parse_list(
        "GET /v1/security/users",
        source.get_required("/v1/security/users").await?,
    )?;
    for user in list {
        let source_name = user.source.as_deref().unwrap_or("default");
        if user.user_id == "admin" || user.user_id == "anonymous" {
            applier.skip(
                "user",
                &user.user_id,
                "built into Berth; its settings and password stay Berth's",
            );
            continue;
        }
        if !source_name.eq_ignore_ascii_case("default") {
            applier.skip(
                "user",
                &user.user_id,
                format!("from the {source_name} user source; Berth has local users only"),
            );
            continue;
        }
        write_user(applier, &user, roles, mode).await?;
    }
    Ok(())
}

async fn write_user(
    applier: &mut Applier<'_>,
    user: &User,
    roles: &BTreeSet<String>,
    mode: &UserMode,
) -> Result<(), ImportError> {
    let (kept, dropped): (Vec<String>, Vec<String>) =
        user.roles.iter().cloned().partition(|r| roles.contains(r));
    let notes: Vec<String> = dropped
        .iter()
        .map(|r| format!("role {r} was not imported; left out"))
        .collect();
    if kept.is_empty() {
        applier.skip(
            "user",
            &user.user_id,
            "has no role that concerns docker repositories",
        );
        return Ok(());
    }
    let status = match mode {
        UserMode::Disabled => "disabled".to_string(),
        UserMode::RandomPassword(_) => user.status.clone().unwrap_or_else(|| "active".into()),
    };
    let id = &user.user_id;
    let desired = json!({
        "userId": id,
        "firstName": user.first_name.clone().filter(|s| !s.is_empty()).unwrap_or_else(|| id.clone()),
        "lastName": user.last_name.clone().filter(|s| !s.is_empty()).unwrap_or_else(|| "-".into()),
        "emailAddress": user.email_address.clone().filter(|s| !s.is_empty()).unwrap_or_else(|| format!("{id}@example.invalid")),
        "status": status, "roles": kept, "source": "default",
    });
    let current = applier
        .target
        .get_required(&format!("/v1/security/users?userId={id}"))
        .await?
        .as_array()
        .and_then(|a| a.iter().find(|u| u["userId"] == id.as_str()).cloned());
    let is_new = current.is_none();
    let password = random_password();
    let mut create_body = desired.clone();
    create_body["password"] = json!(password);
    let outcome = applier
        .apply(Write {
            kind: "user",
            name: id.clone(),
            current,
            desired,
            create_body: Some(create_body),
            create: (Method::POST, "/v1/security/users".into()),
            update: (Method::PUT, format!("/v1/security/users/{id}")),
            notes,
            pristine: false,
        })
        .await?;
    if is_new && outcome == Outcome::Created {
        if let UserMode::RandomPassword(file) = mode {
            append_password(file, id, &password)?;
        }
    }
    Ok(())
}

/// 24 random bytes, base64url: 192 bits, typeable, no shell-special characters.
fn random_password() -> String {
    use base64::Engine as _;
    let mut bytes = [0u8; 24];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut bytes)
        .expect("the system random source");
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Appends `user<TAB>password` to `file`, created with mode 0600 (and forced to 0600 if it
/// already existed with a wider mode): these are live credentials.
fn append_password(file: &Path, user: &str, password: &str) -> Result<(), ImportError> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let io = |e: std::io::Error| ImportError::Io(format!("password file {}: {e}", file.display()));
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(file)
        .map_err(io)?;
    f.set_permissions(std::fs::Permissions::from_mode(0o600))
        .map_err(io)?;
    writeln!(f, "{user}\t{password}").map_err(io)?;
    f.sync_all().map_err(io)
}
