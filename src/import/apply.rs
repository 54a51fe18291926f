//! The one rule for writing a definition to the target, so every kind behaves the same:
//! missing → create; present and the same → unchanged; present and different → kept,
//! unless `--overwrite` (or the target still has Berth's untouched default) → update.
//! In a dry run nothing is written and the outcome says what would happen.

use reqwest::Method;
use serde_json::Value;

use super::error::ImportError;
use super::mapping::{difference, same};
use super::report::{Item, Outcome};
use super::rest::{Answer, RestClient};

/// One definition to write.
pub struct Write {
    pub kind: &'static str,
    pub name: String,
    /// What the target should say (compared with `current`).
    pub desired: Value,
    /// The body of the create call (`desired` plus write-only fields, e.g. a password).
    pub create_body: Option<Value>,
    /// The target's current definition, if any.
    pub current: Option<Value>,
    pub create: (Method, String),
    pub update: (Method, String),
    pub notes: Vec<String>,
    /// The target still holds Berth's built-in default for this: replacing it clobbers
    /// nothing an operator did.
    pub pristine: bool,
}

/// Writes definitions and records their outcomes.
pub struct Applier<'a> {
    pub target: &'a RestClient,
    pub dry_run: bool,
    pub overwrite: bool,
    pub items: Vec<Item>,
}

impl Applier<'_> {
    /// Applies `w`; returns its outcome (also recorded).
    pub async fn apply(&mut self, w: Write) -> Result<Outcome, ImportError> {
        let (outcome, reason) = match &w.current {
            None if self.dry_run => (Outcome::WouldCreate, None),
            None => {
                let body = w.create_body.as_ref().unwrap_or(&w.desired);
                let answer = self
                    .target
                    .write(w.create.0.clone(), &w.create.1, body)
                    .await?;
                settle(&answer, Outcome::Created)
            }
            Some(current) if same(&w.desired, current) => (Outcome::Unchanged, None),
            Some(current) if !self.overwrite && !w.pristine => (
                Outcome::Kept,
                Some(format!(
                    "exists in Berth with other settings ({}); --overwrite replaces it",
                    difference(&w.desired, current).unwrap_or_default().trim()
                )),
            ),
            Some(_) if self.dry_run => (Outcome::WouldUpdate, None),
            Some(_) => {
                let answer = self
                    .target
                    .write(w.update.0.clone(), &w.update.1, &w.desired)
                    .await?;
                settle(&answer, Outcome::Updated)
            }
        };
        self.record(w.kind, &w.name, outcome, reason, w.notes);
        Ok(outcome)
    }

    /// Records an item decided without a write (skipped, failed before writing).
    pub fn record(
        &mut self,
        kind: &'static str,
        name: &str,
        outcome: Outcome,
        reason: Option<String>,
        notes: Vec<String>,
    ) {
        self.items.push(Item {
            kind,
            name: name.to_string(),
            outcome,
            reason,
            notes,
        });
    }

    pub fn skip(&mut self, kind: &'static str, name: &str, reason: impl Into<String>) {
        self.record(
            kind,
            name,
            Outcome::Skipped,
            Some(reason.into()),
            Vec::new(),
        );
    }
}

fn settle(answer: &Answer, success: Outcome) -> (Outcome, Option<String>) {
    if answer.ok() {
        (success, None)
    } else {
        (
            Outcome::Failed,
            Some(match answer.error_id() {
                Some(id) => format!(
                    "target answered {} ({id}): {}",
                    answer.status,
                    answer.message()
                ),
                None => format!("target answered {}: {}", answer.status, answer.message()),
            }),
        )
    }
}

/// True if an outcome leaves the definition present on the target (or, in a dry run, would).
pub fn present(outcome: Outcome) -> bool {
    !matches!(outcome, Outcome::Skipped | Outcome::Failed)
}
