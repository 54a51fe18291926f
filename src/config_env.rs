//! Which `BERTH_…` environment variables are settings.
//!
//! Settings refuse unknown keys, but the environment is shared: the test and load scripts
//! use `BERTH_BIN`, `BERTH_SKIP_DOCKER`, the CLI reads `BERTH_ADMIN_PASSWORD`. So an unknown
//! *top-level* name (no `__`) is ignored with a warning, while an unknown *nested* name
//! (`BERTH_X__Y`) is refused: it can only be a typo of a settings path.

use figment::providers::Env;

/// Variables the `berth` command itself reads (not settings).
const COMMAND_VARIABLES: &[&str] = &["config", "url", "admin_user", "admin_password"];

/// The outcome of looking at the environment.
pub struct ConfigEnv {
    keys: Vec<String>,
    /// One line per ignored variable, for the log.
    pub warnings: Vec<String>,
}

/// Sorts `vars` into settings, ignored names (warned about) and refused ones (an error
/// listing all of them).
pub fn scan(vars: impl Iterator<Item = (String, String)>) -> anyhow::Result<ConfigEnv> {
    let top = top_level_keys();
    let mut env = ConfigEnv {
        keys: Vec::new(),
        warnings: Vec::new(),
    };
    let mut refused = Vec::new();
    for (name, _) in vars {
        let Some(rest) = name.strip_prefix("BERTH_") else {
            continue;
        };
        let key = rest.to_ascii_lowercase();
        let first = key.split("__").next().unwrap_or_default();
        if top.iter().any(|k| k == first) {
            env.keys.push(key);
        } else if COMMAND_VARIABLES.contains(&key.as_str()) {
        } else if key.contains("__") {
            refused.push(name);
        } else {
            env.warnings.push(format!(
                "environment variable {name} is not a Berth setting and is ignored"
            ));
        }
    }
    if !refused.is_empty() {
        anyhow::bail!(
            "unknown setting in the environment: {} (settings are BERTH_<KEY> or \
             BERTH_<SECTION>__<KEY>; `berth config` lists them)",
            refused.join(", ")
        );
    }
    Ok(env)
}

impl ConfigEnv {
    /// The figment provider of the accepted variables.
    pub fn provider(&self) -> Env {
        let keys = self.keys.clone();
        Env::prefixed("BERTH_")
            .filter(move |k| {
                keys.iter()
                    .any(|known| k.as_str().eq_ignore_ascii_case(known))
            })
            .split("__")
    }
}

/// The top-level keys of the settings, from their serialized defaults.
fn top_level_keys() -> Vec<String> {
    let value = serde_json::to_value(crate::config::Settings::default()).unwrap_or_default();
    value
        .as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(names: &[&str]) -> impl Iterator<Item = (String, String)> {
        names
            .iter()
            .map(|n| (n.to_string(), "x".to_string()))
            .collect::<Vec<_>>()
            .into_iter()
    }

    #[test]
    fn unknown_top_level_names_are_warned_about_and_nested_ones_refused() {
        let env = scan(vars(&[
            "BERTH_BIN",
            "BERTH_LOG__LEVEL",
            "BERTH_ADMIN_PASSWORD",
        ]))
        .unwrap();
        assert_eq!(env.keys, vec!["log__level"]);
        assert_eq!(env.warnings.len(), 1);
        assert!(env.warnings[0].contains("BERTH_BIN"));
        let err = scan(vars(&["BERTH_LOGG__LEVEL", "BERTH_X__Y"]))
            .err()
            .unwrap();
        assert!(
            err.to_string().contains("BERTH_LOGG__LEVEL, BERTH_X__Y"),
            "{err}"
        );
    }
}
