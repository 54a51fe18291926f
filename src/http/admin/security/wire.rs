//! The security model in Nexus's JSON shapes (`nexus-rest-api.md` §3–§5); password hashes
//! never leave the server.

use serde_json::{json, Value};

use crate::auth::model::Action;
use crate::auth::{Grant, Privilege, Role, User};

/// A user as the admin API shows it (no hash).
pub fn user_json(u: &User) -> Value {
    json!({
        "userId": u.user_id, "firstName": u.first_name, "lastName": u.last_name,
        "emailAddress": u.email_address, "source": "default", "status": u.status,
        "readOnly": false, "roles": u.roles, "externalRoles": [],
    })
}

pub fn role_json(r: &Role) -> Value {
    json!({
        "id": r.id, "source": "default", "name": r.name, "description": r.description,
        "readOnly": r.read_only, "privileges": r.privileges, "roles": r.roles,
    })
}

pub fn privilege_json(p: &Privilege) -> Value {
    match &p.grant {
        Grant::All => json!({
            "type": "wildcard", "name": p.name, "description": p.description,
            "readOnly": p.read_only, "pattern": "nexus:*",
        }),
        Grant::Metrics => json!({
            "type": "application", "name": p.name, "description": p.description,
            "readOnly": p.read_only, "domain": "metrics", "actions": ["ALL"],
        }),
        Grant::RepositoryView {
            format,
            repository,
            actions,
        } => {
            let mut list: Vec<String> = actions.iter().map(|a| a.as_str().to_uppercase()).collect();
            if actions.len() == Action::ALL.len() {
                list = vec!["ALL".into()];
            }
            json!({
                "type": "repository-view", "name": p.name, "description": p.description,
                "readOnly": p.read_only, "format": format, "repository": repository,
                "actions": list,
            })
        }
    }
}
