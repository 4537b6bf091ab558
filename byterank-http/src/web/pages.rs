//! The page shell every page shares, the sign-in page, and the small formatters
//! the pages use. Markup is maud's: every value interpolated is escaped.

use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use maud::{html, Markup, DOCTYPE};

use super::session::{self, Session, LOGIN_COOKIE};
use crate::listing::civil_day;

/// Which part of the app a page belongs to (its navigation entry is marked).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Nav {
    /// Not signed in.
    None,
    /// The job list and job pages.
    Jobs,
    /// The job form.
    NewJob,
    /// Billing and usage.
    Billing,
    /// The operator's pages.
    Operator,
    /// A worker owner's wallet.
    Wallet,
}

/// A whole page: head, navigation for the signed-in, the title and the body.
pub fn page(title: &str, session: Option<&Session>, nav: Nav, body: Markup) -> Markup {
    let link = |href: &str, label: &str, this: Nav| {
        html! { a href=(href) aria-current=[(nav == this).then_some("page")] { (label) } }
    };
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                @if let Some(s) = session { meta name="csrf-token" content=(s.csrf); }
                title { (title) " · ByteRank" }
                link rel="stylesheet" href="/static/app.css";
                script src="/static/app.js" defer {}
            }
            body {
                a.skip href="#main" { "Skip to content" }
                header.top {
                    a.brand href="/" { "ByteRank" }
                    @if let Some(s) = session {
                        nav aria-label="Main" {
                            @if nav == Nav::Operator {
                                (link("/operator", "Grid", Nav::Operator))
                                a href="/operator/metrics" { "Metrics" }
                            } @else if nav == Nav::Wallet {
                                (link("/wallet", "Wallet", Nav::Wallet))
                            } @else {
                                (link("/jobs", "Jobs", Nav::Jobs))
                                (link("/new-job", "New job", Nav::NewJob))
                                (link("/billing", "Billing", Nav::Billing))
                            }
                            form.inline method="post" action="/logout" {
                                input type="hidden" name="csrf" value=(s.csrf);
                                button type="submit" { "Sign out" }
                            }
                        }
                    }
                }
                main id="main" tabindex="-1" {
                    h1 { (title) }
                    (body)
                }
            }
        }
    }
}

/// A page as a response: HTML, never cached.
pub fn respond(status: StatusCode, markup: Markup) -> Response {
    let mut resp = (status, markup).into_response();
    resp.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

/// The sign-in page, with a fresh token for its form (and a message, if any).
pub fn sign_in_page(message: &str, headers: &HeaderMap, status: StatusCode) -> Response {
    let token = session::random_token();
    let body = html! {
        p { "Customers sign in with the API key the operator gave them; worker owners, with their owner key; the operator, with the operator key." }
        @if !message.is_empty() { p.error role="alert" { (message) } }
        form.card method="post" action="/login" {
            input type="hidden" name="csrf" value=(token);
            label for="key" { "API key" }
            input #key type="password" name="key" autocomplete="off" required autofocus;
            button type="submit" { "Sign in" }
        }
        p.muted {
            "The key is kept in a session cookie that scripts cannot read, and is forgotten when the browser closes."
        }
    };
    let mut resp = respond(status, page("Sign in", None, Nav::None, body));
    resp.headers_mut().append(header::SET_COOKIE, session::set_cookie(headers, LOGIN_COOKIE, &token));
    resp
}

/// A message page (an error the user can act on).
pub fn message_page(status: StatusCode, session: Option<&Session>, title: &str, message: &str) -> Response {
    let body = html! {
        p.error role="alert" { (message) }
        p { a href="/" { "Back" } }
    };
    respond(status, page(title, session, Nav::Jobs, body))
}

/// Whether a character changes the direction of the text around it (bidi
/// embeddings, overrides, isolates and marks).
fn bidi_control(c: char) -> bool {
    matches!(c, '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// An id as the pages show it: isolated from the text around it, with every
/// direction control and other invisible control shown as `[U+XXXX]`, so that
/// `gpj.exe` after a right-to-left override cannot pass for `exe.jpg`.
pub fn shown_id(id: &str) -> Markup {
    let mut text = String::with_capacity(id.len());
    for c in id.chars() {
        if bidi_control(c) || c.is_control() {
            text.push_str(&format!("[U+{:04X}]", u32::from(c)));
        } else {
            text.push(c);
        }
    }
    html! { bdi.id { (text) } }
}

/// A path segment, percent-encoded (everything but unreserved characters).
pub fn segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The page of a job.
pub fn job_href(id: &str) -> String {
    format!("/jobs/{}", segment(id))
}

/// An instant (ms since the epoch) as `YYYY-MM-DD HH:MM UTC`.
pub fn when(ms: i64) -> String {
    let day = ms.div_euclid(86_400_000);
    let min = ms.rem_euclid(86_400_000) / 60_000;
    format!("{} {:02}:{:02} UTC", civil_day(day), min / 60, min % 60)
}

/// A count with thousands separators.
pub fn count(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A duration in seconds, briefly (`45 s`, `3 min`, `2 h 5 min`).
pub fn duration(secs: u64) -> String {
    match secs {
        0..=89 => format!("{secs} s"),
        90..=5_399 => format!("{} min", (secs + 30) / 60),
        _ => format!("{} h {} min", secs / 3_600, (secs % 3_600) / 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_round_trip_through_percent_decoding() {
        let id = "a/b <c> \"d\" \u{202e}e?f#g%";
        let enc = segment(id);
        assert!(enc.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~%".contains(&b)));
        let mut bytes = Vec::new();
        let mut it = enc.bytes();
        while let Some(b) = it.next() {
            if b == b'%' {
                let h = [it.next().unwrap(), it.next().unwrap()];
                bytes.push(u8::from_str_radix(std::str::from_utf8(&h).unwrap(), 16).unwrap());
            } else {
                bytes.push(b);
            }
        }
        assert_eq!(String::from_utf8(bytes).unwrap(), id);
    }

    #[test]
    fn direction_controls_are_shown_not_obeyed() {
        let shown = shown_id("<b>\u{202e}gpj.exe\u{2066}\n").into_string();
        assert_eq!(shown, "<bdi class=\"id\">&lt;b&gt;[U+202E]gpj.exe[U+2066][U+000A]</bdi>");
    }

    #[test]
    fn formatters() {
        assert_eq!(count(0), "0");
        assert_eq!(count(999), "999");
        assert_eq!(count(1_000), "1,000");
        assert_eq!(count(1_234_567), "1,234,567");
        assert_eq!(when(0), "1970-01-01 00:00 UTC");
        assert_eq!(when(86_400_000 + 3_600_000 * 13 + 60_000 * 7 + 59_999), "1970-01-02 13:07 UTC");
        assert_eq!(duration(5), "5 s");
        assert_eq!(duration(600), "10 min");
        assert_eq!(duration(7_500), "2 h 5 min");
    }

    #[test]
    fn values_are_escaped() {
        let s = Session { key: "k".into(), csrf: "t\"><x>".into() };
        let out = page("<b>\"x\"</b>", Some(&s), Nav::Jobs, html! { p { "<script>" } }).into_string();
        assert!(!out.contains("<b>") && !out.contains("<script>") && !out.contains("t\"><x>"));
        assert!(out.contains("&lt;b&gt;&quot;x&quot;&lt;/b&gt;") && out.contains("&lt;script&gt;"));
    }
}
