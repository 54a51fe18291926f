//! Blob stores, cleanup policies and docker repositories: read from Nexus, written to Berth
//! in dependency order (stores and policies before the repositories naming them; hosted and
//! proxy repositories before the groups listing them).

use std::collections::{BTreeMap, BTreeSet};

use reqwest::Method;
use serde_json::{json, Value};

use super::apply::{present, Applier, Write};
use super::error::ImportError;
use super::mapping;
use super::nexus::{self, BlobStoreSummary, CleanupPolicy, FileBlobStore, RepositorySummary};
use super::report::Outcome;
use super::rest::RestClient;

/// What later steps need to know about the repositories.
#[derive(Default)]
pub struct Imported {
    /// Docker repositories present on the target after this step, with their kind.
    pub repositories: BTreeMap<String, String>,
    /// Hosted repositories whose content is to be copied.
    pub hosted: Vec<String>,
    /// Proxy repositories (for `--warm-proxies`).
    pub proxies: Vec<String>,
}

/// Imports blob stores; returns the names present on the target.
pub async fn blob_stores(
    source: &RestClient,
    applier: &mut Applier<'_>,
) -> Result<BTreeSet<String>, ImportError> {
    let list: Vec<BlobStoreSummary> = nexus::parse_list(
        "GET /v1/blobstores",
        source.get_required("/v1/blobstores").await?,
    )?;
    let mut present_stores = BTreeSet::new();
    for store in list {
        if !store.kind.eq_ignore_ascii_case("file") {
            applier.skip("blobStore", &store.name, format!(
                "{} blob stores are not available in Berth; its repositories go to the default store",
                store.kind
            ));
            continue;
        }
        let path = format!("/v1/blobstores/file/{}", store.name);
        let file: FileBlobStore = serde_json::from_value(source.get_required(&path).await?)
            .map_err(|e| ImportError::Malformed(format!("source Nexus GET {path}: {e}")))?;
        let mut notes = Vec::new();
        if let Some(p) = file.path.as_deref().filter(|p| *p != store.name) {
            notes.push(format!(
                "Nexus path {p} becomes <data_dir>/blobstores/{}",
                store.name
            ));
        }
        let mut desired = json!({"path": store.name, "softQuota": null});
        match &file.soft_quota {
            Some(q) if q.kind == "spaceUsedQuota" && q.limit > 0 => {
                desired["softQuota"] = json!({"type": "spaceUsedQuota", "limit": q.limit});
            }
            Some(q) => notes.push(format!(
                "soft quota {} is not supported by Berth; dropped",
                q.kind
            )),
            None => {}
        }
        let mut create_body = desired.clone();
        create_body["name"] = json!(store.name);
        let outcome = applier
            .apply(Write {
                kind: "blobStore",
                name: store.name.clone(),
                current: applier.target.get(&path).await?,
                desired,
                create_body: Some(create_body),
                create: (Method::POST, "/v1/blobstores/file".into()),
                update: (Method::PUT, path),
                notes,
                pristine: false,
            })
            .await?;
        if present(outcome) {
            present_stores.insert(store.name);
        }
    }
    present_stores.insert("default".into());
    Ok(present_stores)
}

/// Imports docker cleanup policies (Pro `v1/` or CE `internal/` API); returns the names
/// present on the target.
pub async fn cleanup_policies(
    source: &RestClient,
    applier: &mut Applier<'_>,
) -> Result<BTreeSet<String>, ImportError> {
    let listed = match source.get("/v1/cleanup-policies").await? {
        Some(v) => v,
        None => source
            .get("/internal/cleanup-policies")
            .await?
            .unwrap_or(json!([])),
    };
    let list: Vec<CleanupPolicy> = nexus::parse_list("cleanup policies", listed)?;
    let mut names = BTreeSet::new();
    for p in list {
        if !matches!(p.format.as_deref(), Some("docker") | Some("*") | None) {
            applier.skip(
                "cleanupPolicy",
                &p.name,
                format!(
                    "format {} is not docker",
                    p.format.as_deref().unwrap_or("?")
                ),
            );
            continue;
        }
        let mut notes = Vec::new();
        if p.retain.is_some() {
            notes.push("retain is not imported; Berth's keepLatest does the same".into());
        }
        let desired = json!({
            "name": p.name, "format": "docker", "notes": p.notes.clone().unwrap_or_default(),
            "criteriaLastBlobUpdated": p.criteria_last_blob_updated,
            "criteriaLastDownloaded": p.criteria_last_downloaded,
            "criteriaAssetRegex": p.criteria_asset_regex,
        });
        let path = format!("/v1/cleanup-policies/{}", p.name);
        let outcome = applier
            .apply(Write {
                kind: "cleanupPolicy",
                name: p.name.clone(),
                current: applier.target.get(&path).await?,
                desired,
                create_body: None,
                create: (Method::POST, "/v1/cleanup-policies".into()),
                update: (Method::PUT, path),
                notes,
                pristine: false,
            })
            .await?;
        if present(outcome) {
            names.insert(p.name);
        }
    }
    Ok(names)
}

/// Imports docker repositories (`only`: a subset by name, all when empty).
pub async fn repositories(
    source: &RestClient,
    applier: &mut Applier<'_>,
    stores: &BTreeSet<String>,
    policies: &BTreeSet<String>,
    only: &[String],
) -> Result<Imported, ImportError> {
    let list: Vec<RepositorySummary> = nexus::parse_list(
        "GET /v1/repositories",
        source.get_required("/v1/repositories").await?,
    )?;
    let target_list = applier.target.get_required("/v1/repositories").await?;
    let mut imported = Imported::default();
    let mut groups = Vec::new();
    for repo in list {
        if !only.is_empty() && !only.contains(&repo.name) {
            continue;
        }
        if repo.format != "docker" {
            applier.skip(
                "repository",
                &repo.name,
                format!("format {} is not docker", repo.format),
            );
            continue;
        }
        let path = format!("/v1/repositories/docker/{}/{}", repo.kind, repo.name);
        let settings = source.get_required(&path).await?;
        if repo.kind == "group" {
            groups.push((repo, settings));
            continue;
        }
        let source_store = settings["storage"]["blobStoreName"]
            .as_str()
            .unwrap_or("default");
        let store = if stores.contains(source_store) {
            source_store
        } else {
            "default"
        };
        let mut mapped = mapping::repository(&repo.kind, &settings, store);
        keep_known_policies(&mut mapped, policies);
        let pristine = is_pristine_default(&repo.name, &target_list);
        if write_repository(applier, &repo, mapped, pristine).await? {
            imported
                .repositories
                .insert(repo.name.clone(), repo.kind.clone());
            match repo.kind.as_str() {
                "hosted" => imported.hosted.push(repo.name),
                "proxy" => imported.proxies.push(repo.name),
                _ => {}
            }
        }
    }
    for name in existing_names(&target_list) {
        imported
            .repositories
            .entry(name)
            .or_insert_with(|| "existing".into());
    }
    write_groups(applier, groups, stores, &mut imported).await?;
    Ok(imported)
}

/// Groups are created once all their members are there (groups may contain groups); a
/// member that is not on the target is left out, with a note.
async fn write_groups(
    applier: &mut Applier<'_>,
    mut pending: Vec<(RepositorySummary, Value)>,
    stores: &BTreeSet<String>,
    imported: &mut Imported,
) -> Result<(), ImportError> {
    let group_names: BTreeSet<String> = pending.iter().map(|(r, _)| r.name.clone()).collect();
    while !pending.is_empty() {
        let ready = pending.iter().position(|(_, s)| {
            members(s)
                .iter()
                .all(|m| !group_names.contains(m) || imported.repositories.contains_key(m))
        });
        let Some(index) = ready else {
            for (repo, _) in pending {
                applier.record(
                    "repository",
                    &repo.name,
                    Outcome::Failed,
                    Some("its members form a cycle of groups".into()),
                    Vec::new(),
                );
            }
            return Ok(());
        };
        let (repo, settings) = pending.remove(index);
        let source_store = settings["storage"]["blobStoreName"]
            .as_str()
            .unwrap_or("default");
        let store = if stores.contains(source_store) {
            source_store
        } else {
            "default"
        };
        let mut mapped = mapping::repository("group", &settings, store);
        let (kept, dropped): (Vec<String>, Vec<String>) = members(&settings)
            .into_iter()
            .partition(|m| imported.repositories.contains_key(m));
        for m in &dropped {
            mapped
                .notes
                .push(format!("member {m} is not on the target; left out"));
        }
        if kept.is_empty() {
            applier.skip(
                "repository",
                &repo.name,
                "none of its members is on the target",
            );
            continue;
        }
        mapped.body["group"]["memberNames"] = json!(kept);
        if let Some(w) = mapped.body["group"]["writableMember"].as_str() {
            if !kept.iter().any(|m| m == w) {
                mapped.body["group"]
                    .as_object_mut()
                    .unwrap()
                    .remove("writableMember");
            }
        }
        // The group's store does not matter in Berth (groups store nothing): keep what the
        // target has, so a re-run does not see a difference that is none.
        if write_repository(applier, &repo, mapped, false).await? {
            imported
                .repositories
                .insert(repo.name.clone(), "group".into());
        }
    }
    Ok(())
}

fn members(settings: &Value) -> Vec<String> {
    settings["group"]["memberNames"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|m| m.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// Writes one repository; a connector port taken on the target is retried without the
/// connector (path routing still reaches it), with a note. True if it is on the target.
async fn write_repository(
    applier: &mut Applier<'_>,
    repo: &RepositorySummary,
    mut mapped: mapping::Mapped,
    pristine: bool,
) -> Result<bool, ImportError> {
    let path = format!("/v1/repositories/docker/{}/{}", repo.kind, repo.name);
    let current = applier.target.get(&path).await?;
    if repo.kind == "group" {
        if let Some(store) = current
            .as_ref()
            .and_then(|c| c["storage"]["blobStoreName"].as_str())
        {
            mapped.body["storage"]["blobStoreName"] = json!(store);
        }
    }
    for attempt in 0..2 {
        let outcome = applier
            .apply(Write {
                kind: "repository",
                name: repo.name.clone(),
                current: current.clone(),
                desired: mapped.body.clone(),
                create_body: None,
                create: (
                    Method::POST,
                    format!("/v1/repositories/docker/{}", repo.kind),
                ),
                update: (Method::PUT, path.clone()),
                notes: mapped.notes.clone(),
                pristine,
            })
            .await?;
        let port_taken = outcome == Outcome::Failed
            && applier
                .items
                .last()
                .and_then(|i| i.reason.as_deref())
                .is_some_and(|r| r.contains("(docker.httpPort)"));
        if attempt == 0 && port_taken {
            applier.items.pop();
            let port = mapped.body["docker"]["httpPort"].take();
            mapped.notes.push(format!(
                "connector port {port} is taken on the target; created without it (reach it by path: /repository/{}/)",
                repo.name
            ));
            continue;
        }
        return Ok(present(outcome));
    }
    Ok(false)
}

fn keep_known_policies(mapped: &mut mapping::Mapped, policies: &BTreeSet<String>) {
    let Some(names) = mapped.body["cleanup"]["policyNames"].as_array().cloned() else {
        return;
    };
    let (kept, dropped): (Vec<Value>, Vec<Value>) = names
        .into_iter()
        .partition(|n| n.as_str().is_some_and(|n| policies.contains(n)));
    for d in dropped {
        mapped
            .notes
            .push(format!("cleanup policy {d} was not imported; detached"));
    }
    if kept.is_empty() {
        mapped.body.as_object_mut().unwrap().remove("cleanup");
    } else {
        mapped.body["cleanup"]["policyNames"] = json!(kept);
    }
}

/// Berth's zero-config `docker-hosted` (on `default`, no connector, empty) is not an
/// operator's work: the import may reshape it.
fn is_pristine_default(name: &str, target_list: &Value) -> bool {
    let Some(entry) = target_list
        .as_array()
        .and_then(|a| a.iter().find(|r| r["name"] == name))
    else {
        return false;
    };
    name == "docker-hosted"
        && entry["type"] == "hosted"
        && entry["blobCount"].as_u64().unwrap_or(0) == 0
        && entry["size"].as_u64().unwrap_or(0) == 0
}

fn existing_names(target_list: &Value) -> Vec<String> {
    target_list
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|r| r["name"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}
