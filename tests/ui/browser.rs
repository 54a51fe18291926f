//! A headless Chromium driven over WebDriver (chromedriver from Debian's `chromium-driver`),
//! one per test, with the browser console captured (`goog:loggingPrefs`) so a test can
//! assert that no page logged an error or a CSP violation.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};

/// Desktop and phone viewport sizes for screenshots.
pub const DESKTOP: (u32, u32) = (1280, 900);
pub const PHONE: (u32, u32) = (390, 844);

/// True when chromium and chromedriver are installed; else the test fails unless
/// `BERTH_SKIP_BROWSER=1`, in which case it is skipped with a note.
pub fn browser_present() -> bool {
    let have = |p: &str| {
        Command::new("sh")
            .args(["-c", &format!("command -v {p}")])
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    if have("chromedriver") && (have("chromium") || have("chromium-browser")) {
        return true;
    }
    if std::env::var("BERTH_SKIP_BROWSER").as_deref() == Ok("1") {
        eprintln!("SKIPPED: chromium/chromedriver missing and BERTH_SKIP_BROWSER=1");
        return false;
    }
    panic!("chromium and chromedriver are missing: run scripts/install-test-deps.sh (or set BERTH_SKIP_BROWSER=1)");
}

/// A chromedriver process and a browser session on it; both end on drop.
pub struct Browser {
    pub client: Client,
    driver: Child,
    driver_url: String,
    /// Console entries already checked by [`Browser::console_errors`].
    seen: usize,
}

impl Browser {
    pub async fn start() -> Browser {
        let port = crate::common::free_port();
        let driver = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let driver_url = format!("http://127.0.0.1:{port}");
        wait_ready(&driver_url).await;
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            json!({"args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                "--disable-dev-shm-usage", "--no-first-run", "--disable-extensions",
                format!("--window-size={},{}", DESKTOP.0, DESKTOP.1)]}),
        );
        caps.insert("goog:loggingPrefs".into(), json!({"browser": "ALL"}));
        // Plain HTTP to chromedriver on loopback: no TLS stack needed.
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let client = ClientBuilder::new(connector)
            .capabilities(caps)
            .connect(&driver_url)
            .await
            .expect("WebDriver session");
        Browser {
            client,
            driver,
            driver_url,
            seen: 0,
        }
    }

    pub async fn goto(&self, url: &str) {
        self.client.goto(url).await.expect("navigate");
    }

    pub async fn fill(&self, css: &str, value: &str) {
        let e = self.find(css).await;
        e.clear().await.expect("clear");
        e.send_keys(value).await.expect("type");
    }

    pub async fn click(&self, css: &str) {
        self.find(css).await.click().await.expect("click");
    }

    /// Clicks something that loads a new page, and waits until the old one is gone (so the
    /// next lookup cannot find an element of the page being left).
    pub async fn navigate_by(&self, css: &str) {
        let old = self.find("html").await;
        self.click(css).await;
        let deadline = Instant::now() + Duration::from_secs(15);
        while old.tag_name().await.is_ok() {
            assert!(
                Instant::now() < deadline,
                "clicking {css} loaded no new page"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Ticks a checkbox if it is not ticked yet.
    pub async fn tick(&self, css: &str) {
        let e = self.find(css).await;
        if e.prop("checked").await.unwrap().as_deref() != Some("true") {
            e.click().await.expect("tick");
        }
    }

    pub async fn find(&self, css: &str) -> fantoccini::elements::Element {
        let found = self
            .client
            .wait()
            .at_most(Duration::from_secs(10))
            .for_element(Locator::Css(css))
            .await;
        match found {
            Ok(e) => e,
            Err(e) => panic!(
                "no element {css} on {}: {e}\n{}",
                self.path().await,
                self.source().await
            ),
        }
    }

    pub async fn exists(&self, css: &str) -> bool {
        self.client.find(Locator::Css(css)).await.is_ok()
    }

    pub async fn text(&self, css: &str) -> String {
        self.find(css).await.text().await.expect("text")
    }

    pub async fn source(&self) -> String {
        self.client.source().await.unwrap_or_default()
    }

    pub async fn path(&self) -> String {
        self.client
            .current_url()
            .await
            .expect("url")
            .path()
            .to_string()
    }

    /// Ends the browser session (then chromedriver, on drop).
    pub async fn finish(self) {
        let _ = self.client.clone().close().await;
    }

    /// Browser console entries at level SEVERE (errors, CSP violations) since the last call.
    pub async fn console_errors(&mut self) -> Vec<String> {
        let session = self.client.session_id().await.unwrap().unwrap_or_default();
        let url = format!("{}/session/{session}/se/log", self.driver_url);
        let entries: Value = reqwest::Client::new()
            .post(url)
            .json(&json!({"type": "browser"}))
            .send()
            .await
            .expect("browser log")
            .json()
            .await
            .expect("log JSON");
        let entries = entries["value"].as_array().cloned().unwrap_or_default();
        self.seen += entries.len();
        entries
            .iter()
            .filter(|e| {
                e["level"] == "SEVERE"
                    || e["message"].to_string().contains("Content Security Policy")
            })
            .map(|e| e["message"].to_string())
            .collect()
    }

    /// Saves a PNG of the page at `size` as `<dir>/<name>-<desktop|phone>.png`, where dir is
    /// `$UI_SCREENSHOTS_DIR` (the README's `docs/ui/`) or the target's temp dir.
    pub async fn screenshot(&self, name: &str, size: (u32, u32), label: &str) {
        self.client
            .set_window_size(size.0, size.1)
            .await
            .expect("resize");
        tokio::time::sleep(Duration::from_millis(200)).await;
        let png = self.client.screenshot().await.expect("screenshot");
        let dir = std::env::var("UI_SCREENSHOTS_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|_| PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("ui"));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(format!("{name}-{label}.png")), png).unwrap();
        self.client
            .set_window_size(DESKTOP.0, DESKTOP.1)
            .await
            .expect("resize back");
    }

    /// Desktop and phone screenshots of the current page.
    pub async fn screenshots(&self, name: &str) {
        self.screenshot(name, DESKTOP, "desktop").await;
        self.screenshot(name, PHONE, "phone").await;
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

async fn wait_ready(url: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if let Ok(r) = reqwest::get(format!("{url}/status")).await {
            if r.status().is_success() {
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("chromedriver did not start");
}
