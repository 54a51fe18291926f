//! A posted form as ordered `(name, value)` pairs: repeated names (privileges, group members
//! in their order) survive, which a map would lose.

use actix_web::web;

/// The decoded body of an `application/x-www-form-urlencoded` post.
pub struct FormData(pub Vec<(String, String)>);

impl FormData {
    pub fn from(form: web::Form<Vec<(String, String)>>) -> Self {
        FormData(form.into_inner())
    }

    /// The first value of `name`, trimmed; `None` when absent or blank.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.trim())
            .filter(|v| !v.is_empty())
    }

    /// The value of `name` as written (passwords are not trimmed).
    pub fn raw(&self, name: &str) -> &str {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or_default()
    }

    /// Every non-blank value of `name`, in form order.
    pub fn all(&self, name: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(k, v)| k == name && !v.trim().is_empty())
            .map(|(_, v)| v.trim().to_string())
            .collect()
    }

    /// A checkbox: present means on.
    pub fn checked(&self, name: &str) -> bool {
        self.0.iter().any(|(k, _)| k == name)
    }

    pub fn csrf(&self) -> Option<&str> {
        self.get("csrf")
    }
}
