//! Nexus definitions → the bodies Berth's admin API takes, field by field, with a note for
//! every setting Berth cannot carry (so the report says what changed on the way), and the
//! comparison that decides whether a definition already on the target is "the same".

use serde_json::{json, Map, Value};

/// A target body and what had to change to get it.
pub struct Mapped {
    pub body: Value,
    pub notes: Vec<String>,
}

/// The Berth body for a docker repository of `kind` (`hosted`, `proxy`, `group`) from its
/// Nexus settings. `store` is the blob store it goes to on the target (the source's, unless
/// that one could not be imported).
pub fn repository(kind: &str, nexus: &Value, store: &str) -> Mapped {
    let mut notes = Vec::new();
    let source_store = nexus["storage"]["blobStoreName"]
        .as_str()
        .unwrap_or("default");
    // Groups store nothing in Berth: where they "are" is not worth a note.
    if source_store != store && kind != "group" {
        notes.push(format!(
            "blob store {source_store} was not imported; placed on {store}"
        ));
    }
    let mut body = json!({
        "name": nexus["name"],
        "online": nexus["online"].as_bool().unwrap_or(true),
        "storage": {"blobStoreName": store, "strictContentTypeValidation": true},
        "docker": docker_attributes(&nexus["docker"], &mut notes),
    });
    match kind {
        "hosted" => hosted(nexus, &mut body),
        "proxy" => proxy(nexus, &mut body, &mut notes),
        _ => body["group"] = group(&nexus["group"]),
    }
    if kind != "group" {
        let policies = nexus["cleanup"]["policyNames"].clone();
        if policies.as_array().is_some_and(|p| !p.is_empty()) {
            body["cleanup"] = json!({ "policyNames": policies });
        }
    }
    Mapped { body, notes }
}

fn docker_attributes(docker: &Value, notes: &mut Vec<String>) -> Value {
    if docker["v1Enabled"] == json!(true) {
        notes.push("Docker V1 API is not served by Berth (v1Enabled dropped)".into());
    }
    if let Some(port) = docker["httpsPort"].as_u64() {
        notes.push(format!(
            "HTTPS connector {port} not created: Berth serves TLS on the main port or behind a proxy"
        ));
    }
    if let Some(sub) = docker["subdomain"].as_str() {
        notes.push(format!(
            "subdomain routing ({sub}) is not available in Berth"
        ));
    }
    if docker["pathEnabled"] == json!(true) {
        notes.push(
            "Nexus path-based routing: in Berth address the repository as host/repository/<repo>/<image>"
                .into(),
        );
    }
    json!({
        "v1Enabled": false,
        // Nexus's default when the field is missing (nexus-public #921).
        "forceBasicAuth": docker["forceBasicAuth"].as_bool().unwrap_or(true),
        "httpPort": docker["httpPort"],
        "httpsPort": null,
        "subdomain": null,
    })
}

fn hosted(nexus: &Value, body: &mut Value) {
    let storage = &nexus["storage"];
    let policy = storage["writePolicy"]
        .as_str()
        .unwrap_or("ALLOW")
        .to_ascii_uppercase();
    body["storage"]["writePolicy"] = json!(policy);
    body["storage"]["latestPolicy"] = json!(storage["latestPolicy"].as_bool().unwrap_or(false));
}

fn proxy(nexus: &Value, body: &mut Value, notes: &mut Vec<String>) {
    let client = &nexus["httpClient"];
    let mut connection = Map::new();
    for key in ["timeout", "userAgentSuffix"] {
        let v = &client["connection"][key];
        if !v.is_null() && v != &json!("") {
            connection.insert(key.into(), v.clone());
        }
    }
    let mut http_client = json!({
        "blocked": client["blocked"].as_bool().unwrap_or(false),
        "autoBlock": client["autoBlock"].as_bool().unwrap_or(true),
        "connection": connection,
    });
    let auth = &client["authentication"];
    if let Some(user) = auth["username"].as_str() {
        // Nexus never returns the password (write-only): the proxy is created with the user
        // name and the operator sets the password on Berth.
        http_client["authentication"] = json!({"type": "username", "username": user});
        notes.push(format!(
            "upstream user {user}: Nexus does not export passwords; set it with PUT …/docker/proxy/{}",
            nexus["name"].as_str().unwrap_or("")
        ));
    } else if !auth.is_null() {
        notes.push(format!(
            "upstream authentication of type {} is not supported by Berth; dropped",
            auth["type"]
        ));
    }
    body["proxy"] = json!({
        "remoteUrl": nexus["proxy"]["remoteUrl"],
        "contentMaxAge": nexus["proxy"]["contentMaxAge"].as_i64().unwrap_or(1440),
        "metadataMaxAge": nexus["proxy"]["metadataMaxAge"].as_i64().unwrap_or(1440),
    });
    body["negativeCache"] = json!({
        "enabled": nexus["negativeCache"]["enabled"].as_bool().unwrap_or(true),
        "timeToLive": nexus["negativeCache"]["timeToLive"].as_i64().unwrap_or(1440),
    });
    body["httpClient"] = http_client;
    let index_type = nexus["dockerProxy"]["indexType"]
        .as_str()
        .unwrap_or("REGISTRY");
    body["dockerProxy"] =
        json!({"indexType": index_type, "indexUrl": nexus["dockerProxy"]["indexUrl"]});
    if nexus["dockerProxy"]["cacheForeignLayers"] == json!(true) {
        notes.push("foreign layers are not cached by Berth (cacheForeignLayers dropped)".into());
    }
}

fn group(group: &Value) -> Value {
    let mut out = json!({ "memberNames": group["memberNames"] });
    if let Some(w) = group["writableMember"].as_str() {
        out["writableMember"] = json!(w);
    }
    out
}

/// True if everything `desired` says is also what `current` says. Fields `desired` does not
/// name are ignored (Berth answers with more: status, URLs, fixed values); a `null` in
/// `desired` matches a missing field; strings compare ignoring case (Nexus accepts
/// `allow_once` and answers `ALLOW_ONCE`).
pub fn same(desired: &Value, current: &Value) -> bool {
    match (desired, current) {
        (Value::Object(d), Value::Object(c)) => d
            .iter()
            .all(|(k, v)| same(v, c.get(k).unwrap_or(&Value::Null))),
        (Value::Object(d), Value::Null) => d.values().all(|v| same(v, &Value::Null)),
        (Value::Array(d), Value::Array(c)) => {
            d.len() == c.len() && d.iter().zip(c).all(|(a, b)| same(a, b))
        }
        (Value::Array(d), Value::Null) => d.is_empty(),
        (Value::String(d), Value::String(c)) => d.eq_ignore_ascii_case(c),
        (Value::Null, _) => current.is_null(),
        _ => desired == current,
    }
}

/// The first field where `current` does not say what `desired` says, as
/// `path: current vs desired` (for the report's "kept" reason).
pub fn difference(desired: &Value, current: &Value) -> Option<String> {
    if same(desired, current) {
        return None;
    }
    if let (Value::Object(d), Value::Object(c)) = (desired, current) {
        for (k, v) in d {
            let here = c.get(k).unwrap_or(&Value::Null);
            if let Some(inner) = difference(v, here) {
                return Some(if inner.starts_with(' ') {
                    format!("{k}{inner}")
                } else {
                    format!("{k}.{inner}")
                });
            }
        }
    }
    Some(format!(" is {current} in Berth, {desired} in Nexus"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> Value {
        let path = format!(
            "{}/tests/import/fixtures/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
    }

    #[test]
    fn a_nexus_hosted_repository_keeps_its_port_policy_and_cleanup_and_notes_the_rest() {
        let m = repository(
            "hosted",
            &fixture("repository-docker-hosted.json"),
            "docker",
        );
        assert_eq!(m.body["docker"]["httpPort"], 8002);
        assert_eq!(m.body["docker"]["forceBasicAuth"], false);
        assert_eq!(m.body["storage"]["writePolicy"], "ALLOW_ONCE");
        assert_eq!(m.body["storage"]["latestPolicy"], true);
        assert_eq!(m.body["cleanup"]["policyNames"][0], "docker-weekly");
        assert!(m.body["docker"]["httpsPort"].is_null());
        let notes = m.notes.join("\n");
        assert!(notes.contains("HTTPS connector 8443"), "{notes}");
        assert!(notes.contains("V1"), "{notes}");
    }

    #[test]
    fn a_nexus_proxy_keeps_remote_timings_and_user_but_not_the_password_or_s3_store() {
        let m = repository("proxy", &fixture("repository-docker-proxy.json"), "default");
        assert_eq!(
            m.body["proxy"]["remoteUrl"],
            "https://mirror.ccs.tencentyun.com"
        );
        assert_eq!(m.body["proxy"]["metadataMaxAge"], -1);
        assert_eq!(m.body["negativeCache"]["timeToLive"], 1440);
        assert_eq!(m.body["httpClient"]["autoBlock"], true);
        assert_eq!(
            m.body["httpClient"]["authentication"]["username"],
            "svc-mirror"
        );
        assert!(m.body["httpClient"]["authentication"]
            .get("password")
            .is_none());
        assert_eq!(
            m.body["httpClient"]["connection"]["userAgentSuffix"],
            "Sync docker image"
        );
        assert_eq!(m.body["dockerProxy"]["indexType"], "HUB");
        assert_eq!(m.body["storage"]["blobStoreName"], "default");
        let notes = m.notes.join("\n");
        assert!(notes.contains("s3-docker was not imported"), "{notes}");
        assert!(notes.contains("does not export passwords"), "{notes}");
    }

    #[test]
    fn a_nexus_group_keeps_member_order_and_writable_member() {
        let m = repository("group", &fixture("repository-docker-group.json"), "default");
        assert_eq!(
            m.body["group"]["memberNames"],
            json!(["docker-hosted", "docker-proxy"])
        );
        assert_eq!(m.body["group"]["writableMember"], "docker-hosted");
        assert!(m.body.get("cleanup").is_none());
    }

    #[test]
    fn sameness_ignores_extra_fields_and_case_but_not_changed_values() {
        let desired = json!({"a": "ALLOW_ONCE", "b": {"c": null, "d": [1, 2]}});
        assert!(same(
            &desired,
            &json!({"a": "allow_once", "b": {"d": [1, 2]}, "x": 1})
        ));
        assert!(!same(&desired, &json!({"a": "ALLOW", "b": {"d": [1, 2]}})));
        assert!(!same(
            &desired,
            &json!({"a": "ALLOW_ONCE", "b": {"c": 8082, "d": [1, 2]}})
        ));
        assert!(!same(
            &desired,
            &json!({"a": "ALLOW_ONCE", "b": {"d": [2, 1]}})
        ));
        let diff = difference(
            &desired,
            &json!({"a": "ALLOW_ONCE", "b": {"c": 8082, "d": [1, 2]}}),
        );
        assert_eq!(diff.unwrap(), "b.c is 8082 in Berth, null in Nexus");
    }
}
