//! The URLs Berth hands back (the admin API's `url`, the token realm) name the host a client
//! reached: forwarded host and scheme (`X-Forwarded-Host/Proto`, `Forwarded`) are believed
//! only from a trusted proxy (the peer here is 127.0.0.1), and of those only the right-most
//! value, the one the proxy wrote. An untrusted client cannot point them at its own host.

use reqwest::Method;
use serde_json::Value;

use crate::common::*;
use crate::security_support::*;

const TRUST_LOOPBACK: &str = "BERTH_SECURITY__TRUSTED_PROXIES=[\"127.0.0.1\"]";
const TRUST_OTHERS: &str = "BERTH_SECURITY__TRUSTED_PROXIES=[\"10.0.0.0/8\"]";
const REPOSITORY: &str = "/service/rest/v1/repositories/docker-hosted";

/// The `url` of `docker-hosted` in the admin API, asked with `headers`.
async fn repository_url(app: &TestApp, headers: &[(&str, &str)]) -> String {
    let mut req = app.req(Method::GET, REPOSITORY);
    for (name, value) in headers {
        req = req.header(*name, *value);
    }
    let r = req.send().await.unwrap();
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    body["url"].as_str().expect("a url").to_string()
}

/// The realm of the Bearer challenge to `GET /v2/` asked with `headers`.
async fn realm(app: &TestApp, headers: &[(&str, &str)]) -> String {
    let mut req = app.req(Method::GET, "/v2/");
    for (name, value) in headers {
        req = req.header(*name, *value);
    }
    let r = req.send().await.unwrap();
    assert_eq!(r.status(), 401);
    let challenge = header(&r, "www-authenticate");
    let at = challenge.find("realm=\"").expect("a realm") + 7;
    challenge[at..].split('"').next().unwrap().to_string()
}

const SPOOFS: [&[(&str, &str)]; 3] = [
    &[
        ("X-Forwarded-Host", "evil.example"),
        ("X-Forwarded-Proto", "https"),
    ],
    &[("Forwarded", "host=evil.example;proto=https")],
    &[("Forwarded", "for=192.0.2.1;host=\"evil.example\"")],
];

#[tokio::test]
async fn from_an_untrusted_peer_forwarded_host_never_reaches_the_admin_apis_urls() {
    // Arrange: proxies are trusted, but not the test client's address.
    let app = spawn_app_with(&[TRUST_OTHERS]).await;
    let real = format!("{}/repository/docker-hosted", app.base);
    assert_eq!(repository_url(&app, &[]).await, real);
    for spoof in SPOOFS {
        // Act
        let url = repository_url(&app, spoof).await;
        // Assert
        assert_eq!(url, real, "{spoof:?}");
    }
}

#[tokio::test]
async fn behind_a_trusted_proxy_the_admin_apis_urls_use_its_right_most_forwarded_host() {
    // Arrange
    let app = spawn_app_with(&[TRUST_LOOPBACK]).await;
    let cases: [(&[(&str, &str)], String); 6] = [
        (
            &[
                ("X-Forwarded-Host", "registry.example"),
                ("X-Forwarded-Proto", "https"),
            ],
            "https://registry.example".into(),
        ),
        (
            &[(
                "Forwarded",
                "for=192.0.2.1;proto=https;host=\"registry.example:8443\"",
            )],
            "https://registry.example:8443".into(),
        ),
        // A client-written left-most value, appended to by the proxy, does not win.
        (
            &[
                ("X-Forwarded-Host", "evil.example, registry.example"),
                ("X-Forwarded-Proto", "http, https"),
            ],
            "https://registry.example".into(),
        ),
        (
            &[(
                "Forwarded",
                "host=evil.example, for=192.0.2.1;host=registry.example",
            )],
            "http://registry.example".into(),
        ),
        // Not a host or a scheme: ignored, the Host header stands.
        (
            &[
                ("X-Forwarded-Host", "evil.example/path"),
                ("X-Forwarded-Proto", "javascript"),
            ],
            app.base.clone(),
        ),
        // The proxy's own element names no host: the client's element is not read.
        (
            &[("Forwarded", "host=evil.example, for=192.0.2.1")],
            app.base.clone(),
        ),
    ];
    for (headers, origin) in cases {
        // Act
        let url = repository_url(&app, headers).await;
        // Assert
        assert_eq!(
            url,
            format!("{origin}/repository/docker-hosted"),
            "{headers:?}"
        );
    }
}

#[tokio::test]
async fn the_token_realm_follows_the_same_rule() {
    // Arrange: one server behind a trusted proxy, one trusting nobody.
    let trusting = spawn_secure(&[TRUST_LOOPBACK]).await;
    activate_token_realm(&trusting).await;
    let untrusting = spawn_secure(&[]).await;
    activate_token_realm(&untrusting).await;
    let chained = [
        ("X-Forwarded-Host", "evil.example, registry.example"),
        ("X-Forwarded-Proto", "http, https"),
    ];
    // Act
    let through_proxy = realm(&trusting, &chained).await;
    let spoofed: Vec<String> =
        futures_util::future::join_all(SPOOFS.iter().map(|spoof| realm(&untrusting, spoof))).await;
    // Assert
    assert_eq!(through_proxy, "https://registry.example/v2/token");
    for (spoof, got) in SPOOFS.iter().zip(spoofed) {
        assert_eq!(got, format!("{}/v2/token", untrusting.base), "{spoof:?}");
    }
}
