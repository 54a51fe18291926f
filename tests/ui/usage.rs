//! The usage banner and the usage center, in a real browser.

use reqwest::Method;

use crate::browser::*;
use crate::common::*;

#[tokio::test]
async fn the_usage_banner_appears_on_every_page_once_a_limit_is_crossed() {
    if !browser_present() {
        return;
    }
    // Arrange: security off (administration open to loopback, as the API), a small limit.
    let app = spawn_app_with(&["BERTH_USAGE__REQUESTS__LIMIT=20"]).await;
    app.push_image("banner/app", "1", "banner").await;
    let mut b = Browser::start().await;
    b.goto(&app.url("/ui/")).await;
    b.find("#repositories").await;
    assert!(
        !b.exists("#usage-banner").await,
        "under the limit: no banner"
    );

    // Act: cross the requests limit.
    for _ in 0..25 {
        app.req(Method::GET, "/v2/").send().await.unwrap();
    }

    // Assert: every page shows it.
    for path in ["/ui/", "/ui/browse/docker-hosted", "/ui/usage", "/ui/admin"] {
        b.goto(&app.url(path)).await;
        let banner = b.text("#usage-banner").await;
        assert!(banner.contains("over"), "{path}: {banner}");
        assert!(
            banner.contains("requests in the last 24 hours"),
            "{path}: {banner}"
        );
    }
    let errors = b.console_errors().await;
    assert!(errors.is_empty(), "console errors: {errors:#?}");
    b.finish().await;
}
