//! The manifest page's `docker pull` commands name the host the admin reached: a forwarded
//! host counts only from a trusted proxy (the peer here is 127.0.0.1), so an untrusted
//! client's `X-Forwarded-Host` or `Forwarded` cannot make the page show a pull from a host
//! of its choosing.

use reqwest::header::COOKIE;
use reqwest::Method;

use crate::common::*;
use crate::session::*;

const ADMIN_PW: &str = "Initial-Admin-Pw-1";
const PAGE: &str = "/ui/browse/docker-hosted/manifest?image=fwd/app&ref=1";

/// A server with security on, `extra` settings, an image `fwd/app:1`, and an admin's
/// session cookie.
async fn signed_in(extra: &str) -> (TestApp, String) {
    let app = spawn_app_with(&[
        "BERTH_SECURITY__ENABLED=true",
        "BERTH_SECURITY__INITIAL_ADMIN_PASSWORD=Initial-Admin-Pw-1",
        extra,
    ])
    .await;
    push_as_admin(&app).await;
    let (_, session) = sign_in(&app, "admin", ADMIN_PW).await;
    (app, session.expect("admin signs in").cookie)
}

/// Pushes `fwd/app:1` (one blob as config, no layers) with the admin's Basic credentials.
async fn push_as_admin(app: &TestApp) {
    let config = b"{\"architecture\":\"amd64\",\"os\":\"linux\"}";
    let digest = sha256(config);
    let r = app
        .req(
            Method::POST,
            &format!("/v2/fwd/app/blobs/uploads/?digest={digest}"),
        )
        .basic_auth("admin", Some(ADMIN_PW))
        .body(config.to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let manifest = oci_manifest((&digest, config.len()), &[]);
    let r = app
        .req(Method::PUT, "/v2/fwd/app/manifests/1")
        .basic_auth("admin", Some(ADMIN_PW))
        .header("Content-Type", OCI_MANIFEST)
        .body(manifest)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
}

/// The text of the page's pull-command list, fetched with `cookie` and `headers`.
async fn pull_commands(app: &TestApp, cookie: &str, headers: &[(&str, &str)]) -> String {
    let mut req = client().get(app.url(PAGE)).header(COOKIE, cookie);
    for (name, value) in headers {
        req = req.header(*name, *value);
    }
    let r = req.send().await.unwrap();
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    let list = &html[html
        .find("id=\"pull-commands\"")
        .expect("the pull commands")..];
    // minijinja escapes `/` in text.
    list[..list.find("</ul>").unwrap()].replace("&#x2f;", "/")
}

#[tokio::test]
async fn an_untrusted_clients_forwarded_host_is_not_in_the_pull_commands() {
    // Arrange: proxies are trusted, but not the test client's address.
    let (app, cookie) = signed_in("BERTH_SECURITY__TRUSTED_PROXIES=[\"10.0.0.0/8\"]").await;
    let real = format!(
        "docker pull {}/repository/docker-hosted/fwd/app:1",
        app.addr
    );
    let spoofs: [&[(&str, &str)]; 3] = [
        &[],
        &[("X-Forwarded-Host", "evil.example")],
        &[("Forwarded", "host=evil.example;proto=https")],
    ];
    for spoof in spoofs {
        // Act
        let pulls = pull_commands(&app, &cookie, spoof).await;
        // Assert
        assert!(pulls.contains(&real), "{spoof:?}: {pulls}");
        assert!(!pulls.contains("evil.example"), "{spoof:?}: {pulls}");
    }
}

#[tokio::test]
async fn a_trusted_proxys_forwarded_host_is_in_the_pull_commands() {
    // Arrange
    let (app, cookie) = signed_in("BERTH_SECURITY__TRUSTED_PROXIES=[\"127.0.0.1\"]").await;
    let expected = "docker pull registry.example:8443/repository/docker-hosted/fwd/app:1";
    let proxied: [&[(&str, &str)]; 3] = [
        &[("X-Forwarded-Host", "registry.example:8443")],
        &[("Forwarded", "for=192.0.2.1;host=\"registry.example:8443\"")],
        // The client wrote the left-most value; the proxy appended the real one.
        &[("X-Forwarded-Host", "evil.example, registry.example:8443")],
    ];
    for headers in proxied {
        // Act
        let pulls = pull_commands(&app, &cookie, headers).await;
        // Assert
        assert!(pulls.contains(expected), "{headers:?}: {pulls}");
        assert!(!pulls.contains("evil.example"), "{headers:?}: {pulls}");
    }
}
