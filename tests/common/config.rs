//! A Berth started with a TOML configuration file.

use std::path::{Path, PathBuf};

use super::{spawn_app_with, TestApp};

/// A TOML configuration file in its own temp directory (removed on drop).
pub struct ConfigFile {
    dir: tempfile::TempDir,
    path: PathBuf,
}

impl ConfigFile {
    pub fn new(toml: &str) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("berth.toml");
        std::fs::write(&path, toml).expect("write config");
        ConfigFile { dir, path }
    }

    /// Replaces the file's content (the next restart reads it).
    pub fn rewrite(&self, toml: &str) {
        std::fs::write(&self.path, toml).expect("rewrite config");
    }

    pub fn path(&self) -> &str {
        self.path.to_str().expect("UTF-8 temp path")
    }

    /// The file's temp directory, for files the test puts next to it.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// `--config <path>`, for `spawn_app_with` and `start_failure`.
    pub fn args(&self) -> [&str; 2] {
        ["--config", self.path()]
    }
}

/// Starts Berth with `toml` as its configuration file.
pub async fn spawn_with_config(toml: &str) -> (TestApp, ConfigFile) {
    let config = ConfigFile::new(toml);
    let app = spawn_app_with(&config.args()).await;
    (app, config)
}
