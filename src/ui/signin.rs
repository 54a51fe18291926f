//! Sign-in, sign-out and the password change (forced on the first sign-in with the
//! generated initial `admin` password, as Nexus does).
//!
//! The sign-in form has no session yet, so its CSRF token is a double-submit one: a random
//! value in a SameSite=Strict cookie that the form must echo.

use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use minijinja::context;

use super::form::FormData;
use super::render::page;
use super::viewer::{same_origin, same_secret, security, session_cookie, Viewer, SESSION_COOKIE};
use super::UiError;
use crate::auth::AuthError;

const LOGIN_CSRF_COOKIE: &str = "berth_login_csrf";

/// `GET /ui/login`
pub async fn form(req: HttpRequest) -> Result<HttpResponse, UiError> {
    let viewer = Viewer::of(&req);
    if viewer.user.is_some() {
        return Ok(see_other("/ui/"));
    }
    login_page(&req, &viewer, None, StatusCode::OK)
}

fn login_page(
    req: &HttpRequest,
    viewer: &Viewer,
    error: Option<&str>,
    status: StatusCode,
) -> Result<HttpResponse, UiError> {
    let token = security(req).sessions.random_token();
    let mut response = page(
        req,
        viewer,
        "login.html",
        context! { login_csrf => token, error => error },
    )?;
    *response.status_mut() = status;
    let cookie = Cookie::build(LOGIN_CSRF_COOKIE, token)
        .path("/ui/login")
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(req.app_config().secure())
        .finish();
    response
        .add_cookie(&cookie)
        .map_err(|e| UiError::Internal(e.to_string()))?;
    Ok(response)
}

/// `POST /ui/login`: `Security::login`, so the API's throttling applies.
pub async fn submit(
    req: HttpRequest,
    form: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, UiError> {
    let form = FormData::from(form);
    let cookie = req.cookie(LOGIN_CSRF_COOKIE);
    let echoed = match (cookie.as_ref().map(|c| c.value()), form.csrf()) {
        (Some(a), Some(b)) => same_secret(a, b),
        _ => false,
    };
    if !echoed || !same_origin(&req) {
        return Err(UiError::Forbidden);
    }
    let viewer = Viewer::default();
    let user = form.get("username").unwrap_or_default();
    let client = crate::http::client_addr::client_ip(&req);
    let security = security(&req);
    match security.login(user, form.raw("password"), client).await {
        Ok(user) => {
            let token = security.sessions.create(&user);
            let next = match security.must_change_password(&user) {
                true => "/ui/password",
                false => "/ui/",
            };
            let mut response = see_other(next);
            response
                .add_cookie(&session_cookie(&req, token))
                .map_err(|e| UiError::Internal(e.to_string()))?;
            Ok(response)
        }
        Err(AuthError::Throttled) => login_page(
            &req,
            &viewer,
            Some("Too many failed sign-in attempts; try again later."),
            StatusCode::TOO_MANY_REQUESTS,
        ),
        Err(AuthError::BadCredentials | AuthError::Unauthenticated) => login_page(
            &req,
            &viewer,
            Some("Incorrect user name or password."),
            StatusCode::UNAUTHORIZED,
        ),
        Err(e) => Err(UiError::Internal(e.to_string())),
    }
}

/// `POST /ui/logout`
pub async fn logout(
    req: HttpRequest,
    form: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, UiError> {
    let form = FormData::from(form);
    let viewer = Viewer::of(&req);
    viewer.check_form(&req, form.csrf())?;
    if let Some(c) = req.cookie(SESSION_COOKIE) {
        security(&req).sessions.remove(c.value());
    }
    let mut response = see_other("/ui/login");
    let mut gone = session_cookie(&req, String::new());
    gone.make_removal();
    response
        .add_cookie(&gone)
        .map_err(|e| UiError::Internal(e.to_string()))?;
    Ok(response)
}

/// `GET /ui/password`
pub async fn password_form(req: HttpRequest) -> Result<HttpResponse, UiError> {
    let viewer = Viewer::of(&req);
    if viewer.user.is_none() {
        return Err(UiError::SignIn);
    }
    let forced = viewer.must_change_password(&req);
    page(
        &req,
        &viewer,
        "password.html",
        context! { forced => forced },
    )
}

/// `POST /ui/password`: the API's `change_password` (which also removes
/// `<data>/admin.password`); every other session of the user ends, this one is renewed.
pub async fn password_submit(
    req: HttpRequest,
    form: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, UiError> {
    let form = FormData::from(form);
    let viewer = Viewer::of(&req);
    let Some(user) = viewer.user.clone() else {
        return Err(UiError::SignIn);
    };
    viewer.check_form(&req, form.csrf())?;
    let (new, confirm) = (form.raw("password"), form.raw("confirm"));
    let error = if new != confirm {
        Some("The two passwords differ.".to_string())
    } else {
        match security(&req).change_password(&user, new).await {
            Ok(()) => None,
            Err(AuthError::Invalid(_, m)) => Some(m),
            Err(e) => return Err(UiError::Internal(e.to_string())),
        }
    };
    if let Some(error) = error {
        let forced = viewer.must_change_password(&req);
        let mut response = page(
            &req,
            &viewer,
            "password.html",
            context! { forced => forced, error => error },
        )?;
        *response.status_mut() = StatusCode::BAD_REQUEST;
        return Ok(response);
    }
    let security = security(&req);
    security.sessions.remove_user(&user);
    let token = security.sessions.create(&user);
    let mut response = see_other("/ui/");
    response
        .add_cookie(&session_cookie(&req, token))
        .map_err(|e| UiError::Internal(e.to_string()))?;
    Ok(response)
}

pub fn see_other(to: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header(("Location", to))
        .finish()
}
