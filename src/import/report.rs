//! The import report: what was (or, in a dry run, would be) created, kept, skipped and
//! copied, and why. Serialised as JSON for scripts and printed as text for people.

use std::fmt::Write as _;

use serde::Serialize;

/// What happened to one definition.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Outcome {
    Created,
    Updated,
    /// Already on the target with the same settings.
    Unchanged,
    /// On the target with other settings, left alone (no `--overwrite`).
    Kept,
    /// Not importable (non-docker, unsupported kind, built-in, …).
    Skipped,
    Failed,
    WouldCreate,
    WouldUpdate,
}

/// One definition: a blob store, repository, cleanup policy, privilege, role, user, realm
/// list or anonymous setting.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Item {
    pub kind: &'static str,
    pub name: String,
    pub outcome: Outcome,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

/// The content of one hosted repository: what the source holds and what was copied.
#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RepositoryContent {
    pub name: String,
    pub images: u64,
    pub tags: u64,
    pub manifests: u64,
    /// Distinct blobs of the repository and their bytes.
    pub blobs: u64,
    pub bytes: u64,
    pub tags_copied: u64,
    pub tags_present: u64,
    pub blobs_copied: u64,
    pub blobs_mounted: u64,
    pub blobs_present: u64,
    pub bytes_copied: u64,
    pub errors: Vec<String>,
}

/// How users were created (Nexus never exports password hashes).
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UsersNote {
    /// `randomPassword` or `disabled`.
    pub mode: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password_file: Option<String>,
}

/// The whole run.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub source: String,
    pub target: String,
    pub dry_run: bool,
    pub configuration: Vec<Item>,
    pub users: UsersNote,
    pub content: Vec<RepositoryContent>,
    pub duration_secs: f64,
    pub throughput: Throughput,
}

#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Throughput {
    pub bytes_copied: u64,
    pub images: u64,
    pub megabytes_per_sec: f64,
    pub images_per_sec: f64,
}

impl Report {
    /// True if anything failed (the command then exits non-zero).
    pub fn failed(&self) -> bool {
        self.configuration
            .iter()
            .any(|i| i.outcome == Outcome::Failed)
            || self.content.iter().any(|c| !c.errors.is_empty())
    }

    /// The report for people.
    pub fn human(&self) -> String {
        let mut out = String::new();
        let verb = if self.dry_run {
            "Dry run of the import"
        } else {
            "Import"
        };
        let _ = writeln!(out, "{verb} from {} into {}", self.source, self.target);
        let _ = writeln!(out, "\nConfiguration:");
        for item in &self.configuration {
            let _ = write!(
                out,
                "  {:<14} {:<28} {:?}",
                item.kind, item.name, item.outcome
            );
            if let Some(reason) = &item.reason {
                let _ = write!(out, " ({reason})");
            }
            out.push('\n');
            for note in &item.notes {
                let _ = writeln!(out, "  {:<14} {:<28}   note: {note}", "", "");
            }
        }
        let (get, are) = if self.dry_run {
            ("would get", "would be")
        } else {
            ("got", "were")
        };
        let _ = match &self.users.password_file {
            Some(f) => writeln!(
                out,
                "\nUsers: new users {get} random passwords, written to {f} (mode 0600)"
            ),
            None => writeln!(
                out,
                "\nUsers: new users {are} created disabled (Nexus does not export passwords)"
            ),
        };
        let _ = writeln!(out, "\nContent (hosted repositories):");
        for c in &self.content {
            let _ = writeln!(
                out,
                "  {:<20} {} images, {} tags, {} manifests, {} blobs, {} bytes ({})",
                c.name,
                c.images,
                c.tags,
                c.manifests,
                c.blobs,
                c.bytes,
                mib(c.bytes)
            );
            if !self.dry_run {
                let _ = writeln!(
                    out,
                    "  {:<20} copied {} tags ({} already there), blobs: {} copied, {} mounted, {} already there; {} sent",
                    "", c.tags_copied, c.tags_present, c.blobs_copied, c.blobs_mounted, c.blobs_present, mib(c.bytes_copied)
                );
            }
            for e in &c.errors {
                let _ = writeln!(out, "  {:<20} error: {e}", "");
            }
        }
        if !self.dry_run {
            let t = &self.throughput;
            let _ = writeln!(
                out,
                "\n{} in {:.1} s: {:.1} MB/s, {:.1} images/s",
                mib(t.bytes_copied),
                self.duration_secs,
                t.megabytes_per_sec,
                t.images_per_sec
            );
        }
        out
    }
}

/// Bytes as MiB with one decimal.
pub fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}
