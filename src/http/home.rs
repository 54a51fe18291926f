//! `GET /`: a small page saying what this server is and where its APIs are. Nexus clients
//! (nexus3-cli) start with `GET /` and read the `Server` header, so it must answer 200.
//! The web UI will own `/` later; this module is the whole of today's page so it can be
//! swapped out in one place.

use actix_web::HttpResponse;

/// The page.
pub async fn index() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(PAGE.replace("{version}", env!("CARGO_PKG_VERSION")))
}

const PAGE: &str = r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Berth</title></head>
<body>
<h1>Berth {version}</h1>
<p>A container image registry with the Nexus repository model.</p>
<ul>
<li>Registry API (OCI Distribution, Docker Registry v2): <code>/v2/</code>,
    e.g. <code>docker pull &lt;this host&gt;/app:1</code></li>
<li>Admin REST API (Nexus shapes): <code>/service/rest/v1/</code></li>
<li>Health: <code>/service/rest/v1/status</code>; metrics: <code>/metrics</code></li>
</ul>
</body></html>
"#;
