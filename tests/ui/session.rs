//! Signing in over raw HTTP (cookies and the form's hidden CSRF token by hand), for the
//! tests that must send what a browser never would.

use reqwest::header::{COOKIE, SET_COOKIE};
use reqwest::{redirect, Client, Response};

use crate::common::{BodyOf, TestApp};

/// A client that does not follow redirects (a test looks at each 303 itself).
pub fn client() -> Client {
    Client::builder()
        .redirect(redirect::Policy::none())
        .build()
        .unwrap()
}

/// `name=value` of a `Set-Cookie` header named `name`.
pub fn cookie(r: &Response, name: &str) -> Option<String> {
    r.headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .map(|v| v.split(';').next().unwrap().to_string())
}

/// The whole `Set-Cookie` header for `name` (attributes included).
pub fn set_cookie_header(r: &Response, name: &str) -> Option<String> {
    r.headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .map(String::from)
}

/// The value of the first hidden `csrf` input in a page.
pub fn csrf_of(html: &str) -> String {
    let at = html.find("name=\"csrf\" value=\"").expect("a csrf field") + 19;
    html[at..].split('"').next().unwrap().to_string()
}

/// A signed-in browser session: its cookie and CSRF token.
pub struct UiSession {
    pub cookie: String,
    pub csrf: String,
}

/// Signs in through `/ui/login`; returns the response of the POST and the session if any.
pub async fn sign_in(app: &TestApp, user: &str, password: &str) -> (Response, Option<UiSession>) {
    let c = client();
    let form = c.get(app.url("/ui/login")).send().await.unwrap();
    let login_cookie = cookie(&form, "berth_login_csrf").expect("login CSRF cookie");
    let token = csrf_of(&form.text().await.unwrap());
    let r = c
        .post(app.url("/ui/login"))
        .header(COOKIE, login_cookie)
        .form(&[
            ("csrf", token.as_str()),
            ("username", user),
            ("password", password),
        ])
        .send()
        .await
        .unwrap();
    let Some(session) = cookie(&r, "berth_session") else {
        return (r, None);
    };
    let page = c
        .get(app.url("/ui/"))
        .header(COOKIE, &session)
        .text_body()
        .await;
    let csrf = csrf_of(&page);
    (
        r,
        Some(UiSession {
            cookie: session,
            csrf,
        }),
    )
}
