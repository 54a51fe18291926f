//! Item 7: every admin endpoint the documentation lists exists. The endpoint tables of
//! docs/admin-api.md and of the README's "Admin REST API" section are parsed, each
//! `METHOD /path` is called (placeholders filled with a name nothing has), and the answer
//! must come from the endpoint: not the admin API's "no such admin endpoint", not 405.
//! Rows that say "not implemented" are skipped; they must answer 404.

use reqwest::Method;

use crate::common::*;
use crate::repo_file;

/// `(METHOD, path relative to /service/rest/v1)` of every endpoint documented in `text`'s
/// tables (first cell), and whether its row says it is not implemented.
fn documented(text: &str) -> Vec<(String, String, bool)> {
    let mut out = Vec::new();
    for row in text.lines().filter(|l| l.starts_with("| `")) {
        let not_implemented = row.contains("not implemented");
        let first_cell = first_cell(row);
        for code in first_cell.split('`').skip(1).step_by(2) {
            let Some((methods, path)) = code.split_once(' ') else {
                continue;
            };
            if !path.starts_with('/') {
                continue;
            }
            for method in methods.split('|') {
                if !method.chars().all(|c| c.is_ascii_uppercase()) || method.is_empty() {
                    continue;
                }
                for p in expand(path).into_iter().filter(|p| !p.contains('…')) {
                    out.push((method.to_string(), p, not_implemented));
                }
            }
        }
    }
    out
}

/// The first cell of a table row; `|` inside backticks (`GET|PUT`) is not a separator.
fn first_cell(row: &str) -> String {
    let mut cell = String::new();
    let mut in_code = false;
    for c in row.chars().skip(1) {
        match c {
            '`' => in_code = !in_code,
            '|' if !in_code => break,
            _ => {}
        }
        cell.push(c);
    }
    cell
}

/// Drops `[optional]` parts and `?query`, expands `{a,b}` alternatives and fills
/// `{placeholder}`s with a name that exists nowhere.
fn expand(path: &str) -> Vec<String> {
    let mut p = String::new();
    let mut depth = 0;
    for c in path.chars() {
        match c {
            '[' => depth += 1,
            ']' => depth -= 1,
            _ if depth == 0 => p.push(c),
            _ => {}
        }
    }
    let p = p.split('?').next().unwrap().to_string();
    let mut paths = vec![String::new()];
    let mut rest = p.as_str();
    while let Some(open) = rest.find('{') {
        let close = rest[open..].find('}').unwrap() + open;
        let inner = &rest[open + 1..close];
        let options: Vec<&str> = match inner.contains(',') {
            true => inner.split(',').collect(),
            false => vec!["doc-probe"],
        };
        paths = paths
            .iter()
            .flat_map(|base| {
                options
                    .iter()
                    .map(move |o| format!("{base}{}{o}", &rest[..open]))
            })
            .collect();
        rest = &rest[close + 1..];
    }
    paths
        .into_iter()
        .map(|base| format!("{base}{rest}"))
        .collect()
}

fn readme_admin_section() -> String {
    let readme = std::fs::read_to_string(repo_file("README.md")).unwrap();
    let section = readme.split("## Admin REST API").nth(1).unwrap();
    section.split("\n## ").next().unwrap().to_string()
}

#[test]
fn the_endpoint_tables_parse_into_calls() {
    let rows = documented("| `GET|DELETE /repositories/{name}`, `POST /x/{a,b}[/{id}]?q=` | y |");
    let calls: Vec<String> = rows.iter().map(|(m, p, _)| format!("{m} {p}")).collect();
    assert_eq!(
        calls,
        [
            "GET /repositories/doc-probe",
            "DELETE /repositories/doc-probe",
            "POST /x/a",
            "POST /x/b"
        ]
    );
}

#[tokio::test]
async fn every_admin_endpoint_the_documentation_lists_exists() {
    // Arrange
    let app = spawn_app().await;
    let doc = std::fs::read_to_string(repo_file("docs/admin-api.md")).unwrap();
    let mut calls = documented(&doc);
    calls.extend(documented(&readme_admin_section()));
    assert!(
        calls.len() > 40,
        "too few documented endpoints found: {calls:?}"
    );
    let mut missing = Vec::new();
    for (method, path, not_implemented) in calls {
        // Act
        let url = format!("/service/rest/v1{path}");
        let r = app
            .req(Method::from_bytes(method.as_bytes()).unwrap(), &url)
            .header("Content-Type", "application/json")
            .body("{}")
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let body = r.text().await.unwrap();
        // Assert (collected, so one run lists every drift)
        let absent = status == 405 || body.contains("no such admin endpoint");
        if absent != not_implemented {
            missing.push(format!("{method} {url} → {status} {body}"));
        }
    }
    assert!(
        missing.is_empty(),
        "documentation and routes disagree:\n{}",
        missing.join("\n")
    );
}
