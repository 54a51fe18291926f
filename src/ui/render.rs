//! Templates (embedded with `include_str!`, escaped by default because their names end in
//! `.html`), the frame every page shares (navigation, the usage banner), static assets, and
//! [`UiError`]: the only place UI failures become responses.

use std::sync::OnceLock;

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse, ResponseError};
use minijinja::{context, Environment, Value};

use super::viewer::{usage, Viewer};
use crate::usage::Level;

macro_rules! templates {
    ($($name:literal),* $(,)?) => {
        &[$(($name, include_str!(concat!("templates/", $name)))),*]
    };
}

const TEMPLATES: &[(&str, &str)] = templates!(
    "layout.html",
    "error.html",
    "login.html",
    "password.html",
    "repositories.html",
    "images.html",
    "tags.html",
    "manifest.html",
    "usage.html",
    "admin_index.html",
    "admin_blobstores.html",
    "admin_repositories.html",
    "admin_repository_form.html",
    "admin_security.html",
    "admin_tasks.html",
    "admin_cleanup.html",
);

fn environment() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Environment::new();
        for (name, source) in TEMPLATES {
            env.add_template(name, source)
                .unwrap_or_else(|e| panic!("template {name}: {e}"));
        }
        env.add_filter("bytes", human_bytes);
        env
    })
}

/// `1.2 MiB`-style sizes.
fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    match unit {
        0 => format!("{n} B"),
        _ => format!("{value:.1} {}", UNITS[unit]),
    }
}

/// What every page knows: the visitor and the usage banner.
pub fn frame(req: &HttpRequest, viewer: &Viewer) -> Value {
    let banner: Vec<Value> = match viewer.user.is_some() || viewer.admin {
        true => usage(req)
            .readings()
            .iter()
            .filter(|r| r.level != Level::Under)
            .map(|r| context! { level => r.level.as_str(), message => r.message() })
            .collect(),
        false => Vec::new(),
    };
    context! {
        viewer => context! {
            user => viewer.user, admin => viewer.admin, csrf => viewer.csrf,
            secured => viewer.secured,
        },
        banner => banner,
    }
}

/// Renders `template` with the frame and `page` merged into one context.
pub fn page(
    req: &HttpRequest,
    viewer: &Viewer,
    template: &str,
    page: Value,
) -> Result<HttpResponse, UiError> {
    let ctx = context! { ..page, ..frame(req, viewer) };
    let html = render(template, ctx)?;
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(html))
}

fn render(template: &str, ctx: Value) -> Result<String, UiError> {
    environment()
        .get_template(template)
        .and_then(|t| t.render(ctx))
        .map_err(|e| UiError::Internal(format!("template {template}: {e:#}")))
}

/// `/ui/static/{file}`: the stylesheet and the script, from the binary.
pub async fn asset(file: web::Path<String>) -> Result<HttpResponse, UiError> {
    let (body, content_type) = match file.as_str() {
        "ui.css" => (include_str!("static/ui.css"), "text/css; charset=utf-8"),
        "ui.js" => (
            include_str!("static/ui.js"),
            "text/javascript; charset=utf-8",
        ),
        "favicon.svg" => (include_str!("static/favicon.svg"), "image/svg+xml"),
        _ => return Err(UiError::NotFound("no such file".into())),
    };
    Ok(HttpResponse::Ok()
        .content_type(content_type)
        .insert_header(("Cache-Control", "max-age=3600"))
        .body(body))
}

/// Why a page could not be shown.
#[derive(Debug, thiserror::Error)]
pub enum UiError {
    /// Nobody signed in, and the page needs someone: go to the sign-in page.
    #[error("sign-in required")]
    SignIn,
    /// Signed in with a password that must be replaced first: go to the change page.
    #[error("password change required")]
    ChangePassword,
    /// Signed in (or not) but not allowed, or a form without a valid CSRF token: 403.
    #[error("You are not allowed to do this.")]
    Forbidden,
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    BadRequest(String),
    /// Logged with its detail; the page says only that something broke.
    #[error("{0}")]
    Internal(String),
}

impl ResponseError for UiError {
    fn status_code(&self) -> StatusCode {
        match self {
            UiError::SignIn | UiError::ChangePassword => StatusCode::SEE_OTHER,
            UiError::Forbidden => StatusCode::FORBIDDEN,
            UiError::NotFound(_) => StatusCode::NOT_FOUND,
            UiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            UiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let redirect = |to: &str| {
            HttpResponse::SeeOther()
                .insert_header(("Location", to))
                .finish()
        };
        match self {
            UiError::SignIn => return redirect("/ui/login"),
            UiError::ChangePassword => return redirect("/ui/password"),
            _ => {}
        }
        let message = match self {
            UiError::Internal(detail) => {
                tracing::error!(error = %detail, "web UI page failed");
                "Something went wrong on the server; see its log.".to_string()
            }
            other => other.to_string(),
        };
        // No request here: the page frame shows nobody signed in and no banner.
        let ctx = context! {
            status => self.status_code().as_u16(), message => message,
            viewer => context! {}, banner => Vec::<Value>::new(),
        };
        let html = render("error.html", ctx).unwrap_or_else(|_| "error".into());
        HttpResponse::build(self.status_code())
            .content_type("text/html; charset=utf-8")
            .body(html)
    }
}

impl From<crate::registry::RegistryError> for UiError {
    fn from(e: crate::registry::RegistryError) -> Self {
        UiError::Internal(e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_parses_and_escapes_html() {
        let env = environment();
        for (name, _) in TEMPLATES {
            env.get_template(name).expect(name);
        }
        let html = render(
            "error.html",
            context! { status => 400, message => "<script>x</script>", viewer => context! {} },
        )
        .unwrap();
        assert!(html.contains("&lt;script&gt;x"), "{html}");
        assert!(!html.contains("<script>x"));
    }

    #[test]
    fn sizes_read_like_people_write_them() {
        assert_eq!(human_bytes(512), "512 B");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(3 * 1024 * 1024), "3.0 MiB");
    }
}
