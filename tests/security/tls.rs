//! HTTPS served by Berth (rustls) on the main and connector ports, and Berth behind a real
//! nginx terminating TLS, with `X-Forwarded-*` believed only from trusted proxies. The
//! certificates come from a CA made by `openssl` for each test.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::Method;

use crate::common::certs::make_certs;
use crate::common::*;
use crate::support::*;

fn tls_client(dir: &Path) -> reqwest::Client {
    let ca = reqwest::Certificate::from_pem(&std::fs::read(dir.join("ca.pem")).unwrap()).unwrap();
    reqwest::Client::builder()
        .add_root_certificate(ca)
        .build()
        .unwrap()
}

fn challenge_realm(header: &str) -> String {
    header
        .split("realm=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn berth_serves_https_on_the_main_and_connector_ports_with_an_https_realm() {
    // Arrange
    let certs = tempfile::tempdir().unwrap();
    make_certs(certs.path());
    let cert = format!(
        "BERTH_SECURITY__TLS__CERT={}",
        certs.path().join("server.pem").display()
    );
    let key = format!(
        "BERTH_SECURITY__TLS__KEY={}",
        certs.path().join("server.key").display()
    );
    let mut app = spawn_secure(&[&cert, &key]).await;
    assert!(app
        .log()
        .contains(&format!("berth listening on https://{}", app.addr)));
    app.base = format!("https://{}", app.addr);
    app.client = tls_client(certs.path());
    activate_token_realm(&app).await;
    let port = free_port();
    create_hosted(&app, "tls-hosted", true, Some(port)).await;
    create_user_with(
        &app,
        "ci",
        "ci-Pw-123",
        "tls-hosted",
        &["add", "edit", "read"],
    )
    .await;
    // Act
    let r = call(&app, &Auth::None, Method::GET, "/v2/")
        .send()
        .await
        .unwrap();
    let main_realm = challenge_realm(&header(&r, "www-authenticate"));
    let connector = format!("https://127.0.0.1:{port}");
    let r = app
        .client
        .get(format!("{connector}/v2/"))
        .send()
        .await
        .unwrap();
    let connector_realm = challenge_realm(&header(&r, "www-authenticate"));
    let token = app
        .client
        .get(format!("{connector_realm}?scope=repository:app:pull,push"))
        .basic_auth("ci", Some("ci-Pw-123"))
        .send()
        .await
        .unwrap()
        .json::<serde_json::Value>()
        .await
        .unwrap()["token"]
        .as_str()
        .unwrap()
        .to_string();
    let blob = b"over tls";
    let pushed = app
        .client
        .post(format!(
            "{connector}/v2/app/blobs/uploads/?digest={}",
            sha256(blob)
        ))
        .bearer_auth(&token)
        .body(blob.to_vec())
        .send()
        .await
        .unwrap()
        .status();
    let plain = reqwest::Client::new()
        .get(format!("http://{}/v2/", app.addr))
        .send()
        .await;
    // Assert
    assert_eq!(main_realm, format!("https://{}/v2/token", app.addr));
    assert_eq!(connector_realm, format!("{connector}/v2/token"));
    assert_eq!(pushed, 201);
    assert!(
        plain.is_err() || plain.unwrap().status() == 400,
        "plain HTTP is not served"
    );
}

/// A real nginx terminating TLS in front of `upstream`, like `packaging/nginx-berth.conf`.
struct Nginx {
    child: Child,
    port: u16,
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn start_nginx(dir: &Path, upstream: &str) -> Nginx {
    let port = free_port();
    let d = dir.display();
    let conf = format!(
        r#"worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/error.log;
events {{ worker_connections 64; }}
http {{
  access_log off;
  client_body_temp_path {d}/body; proxy_temp_path {d}/proxy; fastcgi_temp_path {d}/fcgi;
  uwsgi_temp_path {d}/uwsgi; scgi_temp_path {d}/scgi;
  server {{
    listen 127.0.0.1:{port} ssl;
    ssl_certificate {d}/server.pem;
    ssl_certificate_key {d}/server.key;
    client_max_body_size 0;
    proxy_request_buffering off;
    proxy_buffering off;
    proxy_http_version 1.1;
    proxy_set_header Connection "";
    proxy_set_header Host $http_host;
    proxy_set_header X-Forwarded-Proto $scheme;
    proxy_set_header X-Forwarded-Host $http_host;
    location / {{ proxy_pass http://{upstream}; }}
  }}
}}
"#
    );
    std::fs::write(dir.join("nginx.conf"), conf).unwrap();
    let child = Command::new("nginx")
        .arg("-p")
        .arg(dir)
        .arg("-c")
        .arg(dir.join("nginx.conf"))
        .args(["-g", "daemon off;"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start nginx");
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        let log = std::fs::read_to_string(dir.join("error.log")).unwrap_or_default();
        assert!(Instant::now() < deadline, "nginx did not start:\n{log}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Nginx { child, port }
}

fn nginx_present() -> bool {
    if have("nginx") && have("openssl") {
        return true;
    }
    if std::env::var("BERTH_SKIP_NGINX").as_deref() == Ok("1") {
        eprintln!("SKIPPED: nginx/openssl are not available and BERTH_SKIP_NGINX=1");
        return false;
    }
    panic!("nginx or openssl is missing: run scripts/install-test-deps.sh (or BERTH_SKIP_NGINX=1)");
}

#[tokio::test]
async fn behind_nginx_the_realm_follows_forwarded_headers_from_a_trusted_proxy_only() {
    if !nginx_present() {
        return;
    }
    // Arrange: Berth trusts 127.0.0.1 (nginx); a second Berth trusts nobody.
    let dir = tempfile::tempdir().unwrap();
    make_certs(dir.path());
    let app = spawn_secure(&["BERTH_SECURITY__TRUSTED_PROXIES=[\"127.0.0.1\"]"]).await;
    activate_token_realm(&app).await;
    create_ci_pusher(&app, "ci-Pw-123").await;
    let nginx = start_nginx(dir.path(), &app.addr).await;
    let front = format!("https://127.0.0.1:{}", nginx.port);
    let client = tls_client(dir.path());
    let untrusting = spawn_secure(&[]).await;
    activate_token_realm(&untrusting).await;
    // Act
    let r = client.get(format!("{front}/v2/")).send().await.unwrap();
    let realm = challenge_realm(&header(&r, "www-authenticate"));
    let token: serde_json::Value = client
        .get(format!("{realm}?scope=repository:app:pull,push"))
        .basic_auth("ci", Some("ci-Pw-123"))
        .json_body()
        .await;
    let blob = b"through nginx";
    let pushed = client
        .post(format!(
            "{front}/v2/app/blobs/uploads/?digest={}",
            sha256(blob)
        ))
        .bearer_auth(token["token"].as_str().unwrap())
        .body(blob.to_vec())
        .send()
        .await
        .unwrap()
        .status();
    let spoofed = untrusting
        .req(Method::GET, "/v2/")
        .header("X-Forwarded-Host", "evil.example")
        .header("X-Forwarded-Proto", "https")
        .send()
        .await
        .unwrap();
    // Assert
    assert_eq!(realm, format!("{front}/v2/token"));
    assert_eq!(pushed, 201);
    assert_eq!(
        challenge_realm(&header(&spoofed, "www-authenticate")),
        format!("http://{}/v2/token", untrusting.addr),
        "forwarded headers from an untrusted peer are ignored"
    );
}

/// Lets docker trust the test CA for `host` (`/etc/docker/certs.d/<host>/ca.crt`, read per
/// connection, no daemon restart); removed on drop.
struct TrustedCa(std::path::PathBuf);

impl Drop for TrustedCa {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[tokio::test]
async fn docker_logs_in_pushes_and_pulls_through_nginx_with_tls() {
    use crate::common::docker::*;
    if !nginx_present() || !docker_present() {
        return;
    }
    // Arrange
    let dir = tempfile::tempdir().unwrap();
    make_certs(dir.path());
    let app = spawn_secure(&["BERTH_SECURITY__TRUSTED_PROXIES=[\"127.0.0.1\"]"]).await;
    activate_token_realm(&app).await;
    create_user_with(
        &app,
        "ci",
        "ci-Pw-123",
        "docker-hosted",
        &["add", "edit", "read"],
    )
    .await;
    let nginx = start_nginx(dir.path(), &app.addr).await;
    let host = format!("127.0.0.1:{}", nginx.port);
    let certs_d = std::path::PathBuf::from(format!("/etc/docker/certs.d/{host}"));
    let _trust = match std::fs::create_dir_all(&certs_d) {
        Ok(()) => {
            std::fs::copy(dir.path().join("ca.pem"), certs_d.join("ca.crt")).unwrap();
            Some(TrustedCa(certs_d))
        }
        // Loopback registries are "insecure" for dockerd anyway: TLS is still used.
        Err(e) => {
            eprintln!("note: cannot write {}: {e}", certs_d.display());
            None
        }
    };
    let config = tempfile::tempdir().unwrap();
    let cfg = config.path();
    let unique = format!("nginx-{}-{}", nginx.port, std::process::id());
    let build = format!("berth-build-{unique}:latest");
    let image = format!("{host}/{unique}:1");
    let _images = LocalImages(vec![build.clone(), image.clone()]);
    build_text_image(&build, &format!("hello {unique}\n"));
    output_ok(docker_in(cfg, &["tag", &build, &image]), "tag");
    // Act
    let logged_in = output_ok(login(cfg, &host, "ci", "ci-Pw-123"), "login through nginx");
    let pushed = output_ok(docker_in(cfg, &["push", &image]), "push through nginx");
    output_ok(docker_in(cfg, &["rmi", &image]), "rmi");
    let pulled = output_ok(docker_in(cfg, &["pull", &image]), "pull through nginx");
    // Assert
    assert!(logged_in.contains("Login Succeeded"), "{logged_in}");
    assert!(pushed.contains("digest: sha256:"), "{pushed}");
    assert!(
        pulled.contains("Downloaded") || pulled.contains("Pull complete"),
        "{pulled}"
    );
    let r = app
        .req(Method::GET, &format!("/v2/{unique}/manifests/1"))
        .basic_auth("ci", Some("ci-Pw-123"))
        .header(
            "Accept",
            "application/vnd.docker.distribution.manifest.v2+json",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "the image reached Berth");
}
