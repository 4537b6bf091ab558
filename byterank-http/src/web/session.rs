//! Signing in: the key a user (or the operator) signs in with is kept in an
//! `HttpOnly`, `SameSite=Strict` session cookie (`Secure` unless the page was
//! reached on a loopback address), so the page's scripts never see it. Every
//! form and every script's write carries a CSRF token derived from the key
//! (SHA-256 of a fixed label and the key): a page of another site can neither
//! send the cookie (`SameSite=Strict`) nor know the token. The sign-in form,
//! before there is a key, is protected the same way by a random token kept in a
//! cookie of its own (double submit).

use axum::extract::{Form, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use rand::rngs::OsRng;
use rand::TryRngCore;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::routes::AppState;
use crate::service::Principal;

/// The cookie holding the signed-in key.
pub const KEY_COOKIE: &str = "byterank_key";
/// The cookie holding the sign-in form's token.
pub const LOGIN_COOKIE: &str = "byterank_login";
/// The header scripts send the CSRF token in.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// A signed-in browser: its key and the token its forms carry.
#[derive(Clone, Debug)]
pub struct Session {
    /// The key, as the API takes it.
    pub key: String,
    /// The CSRF token of this key.
    pub csrf: String,
}

impl Session {
    /// The session of a request's cookie, if any (not yet verified).
    pub fn from_headers(headers: &HeaderMap) -> Option<Session> {
        let key = cookie(headers, KEY_COOKIE)?;
        Some(Session { csrf: csrf_token(&key), key })
    }

    /// Whether `presented` is this session's token (in constant time).
    pub fn csrf_ok(&self, presented: Option<&str>) -> bool {
        presented.is_some_and(|p| bool::from(p.as_bytes().ct_eq(self.csrf.as_bytes())))
    }

    /// Whether the header `X-CSRF-Token` carries this session's token.
    pub fn csrf_header_ok(&self, headers: &HeaderMap) -> bool {
        self.csrf_ok(headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok()))
    }
}

/// The CSRF token of a key.
pub fn csrf_token(key: &str) -> String {
    let digest = Sha256::new().chain_update(b"byterank-web-csrf\0").chain_update(key.as_bytes()).finalize();
    digest[..16].iter().map(|b| format!("{b:02x}")).collect()
}

/// A fresh random token.
pub fn random_token() -> String {
    let mut bytes = [0u8; 16];
    OsRng.try_fill_bytes(&mut bytes).expect("the operating system's random source works");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The value of a cookie.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
        .filter(|v| !v.is_empty())
}

/// Whether the request reached a loopback address (where browsers allow a
/// session without TLS).
fn loopback(headers: &HeaderMap) -> bool {
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("");
    let name = if host.starts_with('[') {
        host.split(']').next().unwrap_or("").trim_start_matches('[')
    } else {
        host.rsplit_once(':').map_or(host, |(h, _)| h)
    };
    name == "localhost" || name.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// A `Set-Cookie` value: session-long, HttpOnly, SameSite=Strict, Secure off loopback.
pub fn set_cookie(headers: &HeaderMap, name: &str, value: &str) -> HeaderValue {
    let secure = if loopback(headers) { "" } else { "; Secure" };
    let max_age = if value.is_empty() { "; Max-Age=0" } else { "" };
    HeaderValue::from_str(&format!("{name}={value}; Path=/; HttpOnly; SameSite=Strict{secure}{max_age}"))
        .expect("names and values are visible ASCII")
}

/// The sign-in form.
#[derive(Debug, Deserialize)]
pub struct SignIn {
    /// The API key (or the operator key).
    pub key: String,
    /// The form's token.
    pub csrf: String,
}

/// Signs in: checks the form's token and the key, then sets the session cookie.
pub async fn sign_in(State(app): State<AppState>, headers: HeaderMap, Form(form): Form<SignIn>) -> Response {
    let expected = cookie(&headers, LOGIN_COOKIE).unwrap_or_default();
    if expected.is_empty() || !bool::from(expected.as_bytes().ct_eq(form.csrf.as_bytes())) {
        return super::pages::sign_in_page("The form expired: sign in again.", &headers, StatusCode::FORBIDDEN);
    }
    let key = form.key.trim().to_string();
    // A key is visible ASCII without `;` or `,` (so that it fits a cookie).
    let fits =
        !key.is_empty() && key.len() <= 256 && key.bytes().all(|b| b.is_ascii_graphic() && b != b';' && b != b',');
    let who = if fits { app.seq.authed(Some(key.clone()), |_, _, who| Ok(who.clone())).await.ok() } else { None };
    match who {
        Some(Principal::User(_) | Principal::Operator | Principal::Owner(_)) => {
            let to = match who {
                Some(Principal::Operator) => "/operator",
                Some(Principal::Owner(_)) => "/wallet",
                _ => "/jobs",
            };
            let mut resp = Redirect::to(to).into_response();
            let h = resp.headers_mut();
            h.append(header::SET_COOKIE, set_cookie(&headers, KEY_COOKIE, &key));
            h.append(header::SET_COOKIE, set_cookie(&headers, LOGIN_COOKIE, ""));
            resp
        }
        Some(Principal::Device(_)) => super::pages::sign_in_page(
            "That is a device's token: sign in with its owner's key.",
            &headers,
            StatusCode::FORBIDDEN,
        ),
        None => super::pages::sign_in_page(
            "That key does not verify: use the API key the operator gave you.",
            &headers,
            StatusCode::UNAUTHORIZED,
        ),
    }
}

/// The sign-out form.
#[derive(Debug, Deserialize)]
pub struct SignOut {
    /// The session's token.
    pub csrf: String,
}

/// Signs out: clears the session cookie.
pub async fn sign_out(headers: HeaderMap, Form(form): Form<SignOut>) -> Response {
    match Session::from_headers(&headers) {
        Some(s) if !s.csrf_ok(Some(&form.csrf)) => (StatusCode::FORBIDDEN, "bad CSRF token").into_response(),
        _ => {
            let mut resp = Redirect::to("/").into_response();
            resp.headers_mut().append(header::SET_COOKIE, set_cookie(&headers, KEY_COOKIE, ""));
            resp
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn cookies_are_found_by_exact_name() {
        let h = headers(&[("cookie", "a=1; byterank_key=k.1; byterank_keyx=2"), ("cookie", "b=3")]);
        assert_eq!(cookie(&h, KEY_COOKIE).as_deref(), Some("k.1"));
        assert_eq!(cookie(&h, "b").as_deref(), Some("3"));
        assert_eq!(cookie(&h, "byterank"), None);
    }

    #[test]
    fn secure_off_loopback_only() {
        for (host, secure) in [
            ("127.0.0.1:8080", false),
            ("localhost", false),
            ("[::1]:80", false),
            ("example.com", true),
            ("10.0.0.1:80", true),
        ] {
            let v = set_cookie(&headers(&[("host", host)]), KEY_COOKIE, "k");
            assert_eq!(v.to_str().unwrap().contains("; Secure"), secure, "{host}");
            assert!(v.to_str().unwrap().contains("HttpOnly; SameSite=Strict"));
        }
    }

    #[test]
    fn tokens_differ_by_key_and_are_checked() {
        let (a, b) = (csrf_token("k1.x"), csrf_token("k2.x"));
        assert_ne!(a, b);
        let s = Session { key: "k1.x".into(), csrf: a.clone() };
        assert!(s.csrf_ok(Some(&a)));
        assert!(!s.csrf_ok(Some(&b)));
        assert!(!s.csrf_ok(None));
    }
}
