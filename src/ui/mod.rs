//! The web UI (issue 18): what a Nexus operator does in the browser — sign in, browse
//! repositories, images, tags and manifests, watch usage, and administer blob stores,
//! repositories, security and tasks — served on the main port under `/ui/…` (and `/`).
//!
//! Server-rendered HTML (minijinja templates that escape by default, embedded in the binary)
//! with a little plain CSS and JavaScript that only enhances (theme switch, copy buttons,
//! confirmations); every page reads without JavaScript. The UI decides nothing itself:
//! sign-in is `Security::login` (same throttling as the API), every page asks
//! `Security::permits` / `is_admin`, and every administration form is turned into the
//! admin REST API's JSON body and handed to the same handler in-process, so validation and
//! messages are the API's.
//!
//! - [`viewer`]: who is looking (session cookie), CSRF and admin checks.
//! - [`render`]: templates, the page frame (navigation, usage banner) and [`UiError`].
//! - [`signin`], [`browse`], [`usage`], [`admin`] (with [`admin_security`] and
//!   [`admin_cleanup`]): the pages.

mod admin;
mod admin_cleanup;
mod admin_security;
mod browse;
mod form;
mod render;
mod signin;
mod usage;
mod viewer;

use actix_web::middleware::DefaultHeaders;
use actix_web::{web, HttpResponse};

pub use render::UiError;

/// No inline script or style, nothing from elsewhere, never framed, forms post only here.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
                   connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// Headers on every UI response, errors included.
fn security_headers() -> DefaultHeaders {
    DefaultHeaders::new()
        .add(("Content-Security-Policy", CSP))
        .add(("X-Content-Type-Options", "nosniff"))
        .add(("Referrer-Policy", "same-origin"))
        .add(("X-Frame-Options", "DENY"))
        .add(("Cross-Origin-Opener-Policy", "same-origin"))
        .add(("Cache-Control", "no-store"))
}

/// Registers `/` (a redirect to the UI) and every `/ui/…` route. Main port only.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/")
            .wrap(security_headers())
            .route(web::get().to(home_redirect)),
    )
    .service(
        web::scope("/ui")
            .wrap(security_headers())
            .route("", web::get().to(home_redirect))
            .route("/", web::get().to(browse::repositories))
            .route("/static/{file}", web::get().to(render::asset))
            .route("/login", web::get().to(signin::form))
            .route("/login", web::post().to(signin::submit))
            .route("/logout", web::post().to(signin::logout))
            .route("/password", web::get().to(signin::password_form))
            .route("/password", web::post().to(signin::password_submit))
            .route("/browse/{repo}", web::get().to(browse::images))
            .route("/browse/{repo}/tags", web::get().to(browse::tags))
            .route("/browse/{repo}/manifest", web::get().to(browse::manifest))
            .route("/browse/{repo}/delete", web::post().to(browse::delete))
            .route("/usage", web::get().to(usage::center))
            .configure(admin::configure)
            .configure(admin_cleanup::configure)
            .default_service(web::to(not_found)),
    );
}

async fn home_redirect() -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header(("Location", "/ui/"))
        .finish()
}

async fn not_found() -> Result<HttpResponse, UiError> {
    Err(UiError::NotFound("no such page".into()))
}
