//! Item 1: the README's start and test commands are the ones CI runs.

use std::process::Command;

use crate::repo_file;

/// The lines of the first `sh` block of the README's set-up section.
fn readme_setup_commands() -> Vec<String> {
    let readme = std::fs::read_to_string(repo_file("README.md")).unwrap();
    let section = readme
        .split("## Set-up on a fresh Debian machine")
        .nth(1)
        .expect("README has the set-up section");
    let block = section.split("```sh\n").nth(1).unwrap();
    let block = block.split("```").next().unwrap();
    block.lines().map(str::to_string).collect()
}

#[test]
fn ci_runs_the_readme_start_command_and_then_the_readme_test_command() {
    // Arrange
    let readme = readme_setup_commands();
    // Act
    let out = Command::new("bash")
        .arg(repo_file(".ci/run"))
        .arg("--print-commands")
        .output()
        .unwrap();
    // Assert
    assert!(out.status.success(), "{out:?}");
    let ci: Vec<String> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    assert_eq!(ci, readme[..2].to_vec());
    assert!(ci[0].starts_with("cargo run --release -- serve"), "{ci:?}");
    assert!(ci[1].starts_with("scripts/test.sh"), "{ci:?}");
    let script = std::fs::read_to_string(repo_file(".ci/run")).unwrap();
    assert!(
        script.contains("bash -c \"$start_cmd\""),
        "CI starts the README command"
    );
    assert!(
        script.contains("exec bash -c \"$test_cmd\""),
        "CI runs the README tests"
    );
}

#[test]
fn cargo_run_without_bin_picks_the_registry_binary() {
    let manifest = std::fs::read_to_string(repo_file("Cargo.toml")).unwrap();
    let package = manifest.split("\n[").next().unwrap();
    assert!(
        package
            .lines()
            .any(|l| l.trim() == "default-run = \"berth\""),
        "Cargo.toml [package] must say default-run = \"berth\" (two binaries exist)"
    );
}
