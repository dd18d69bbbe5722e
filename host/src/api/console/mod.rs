//! The web console: static files built into the binary, served by the HTTP listener
//! in front of the API; every piece of data they show comes from the authenticated
//! API (`/v1/...`), so the files themselves are served without credentials.
//!
//! - this file: [`serve`], the middleware that answers the console's paths and passes
//!   everything else to the API.
//! - [`assets`]: the files, their Content-Types and ETags.
//!
//! `GET /` is both the console (for a browser, whose navigation asks for
//! `text/html`) and Kafka Connect's root JSON (for everyone else): the `Accept`
//! header decides. The Connect listener never serves the console.

pub mod assets;

use axum::body::Body;
use axum::extract::Request;
use axum::http::header::{
    ACCEPT, CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, ETAG, IF_NONE_MATCH, LOCATION,
    REFERRER_POLICY, WWW_AUTHENTICATE, X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::Response;

/// Nothing from another origin, no inline script or style, no framing.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
     connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; \
     frame-ancestors 'none'";

/// The header the console's own API calls carry (see [`serve`]).
pub const CONSOLE_HEADER: &str = "x-weir-console";

/// Where the console's files are served.
const PREFIX: &str = "/console/";

/// The middleware: serves `/` (to browsers), `/ui` (a redirect) and `/console/*`;
/// passes every other request on. On the console's own API calls (marked with
/// [`CONSOLE_HEADER`]) a 401 loses its `Basic` challenge, so the browser does not pop
/// up its own password dialog over the console's sign-in form.
pub async fn serve(req: Request, next: Next) -> Response {
    let get = matches!(*req.method(), Method::GET | Method::HEAD);
    let path = req.uri().path();
    if get && path == "/" && wants_html(req.headers()) {
        return file(req.headers(), "index.html");
    }
    if get && (path == "/ui" || path == "/ui/") {
        return redirect("/");
    }
    if get && let Some(rest) = path.strip_prefix(PREFIX) {
        return file(req.headers(), rest);
    }
    let from_console = req.headers().contains_key(CONSOLE_HEADER);
    let mut response = next.run(req).await;
    if from_console && response.status() == StatusCode::UNAUTHORIZED {
        let kept: Vec<HeaderValue> = response
            .headers()
            .get_all(WWW_AUTHENTICATE)
            .iter()
            .filter(|v| !v.as_bytes().to_ascii_lowercase().starts_with(b"basic"))
            .cloned()
            .collect();
        let headers = response.headers_mut();
        headers.remove(WWW_AUTHENTICATE);
        for v in kept {
            headers.append(WWW_AUTHENTICATE, v);
        }
    }
    response
}

/// Whether the request is a browser's page navigation: `Sec-Fetch-Dest: document` or
/// `Sec-Fetch-Mode: navigate` (every current browser sends them), or an Accept naming
/// `application/xhtml+xml` (browsers list it; API clients do not). A mere `text/html` is
/// not enough: Java's HttpURLConnection sends `text/html, image/gif, ...` by default, and
/// Connect clients on it must get Connect's root JSON.
fn wants_html(headers: &HeaderMap) -> bool {
    let is = |name: &str, want: &str| {
        headers.get_all(name).iter().any(|v| {
            v.to_str()
                .is_ok_and(|v| v.trim().eq_ignore_ascii_case(want))
        })
    };
    is("sec-fetch-dest", "document")
        || is("sec-fetch-mode", "navigate")
        || headers
            .get_all(ACCEPT)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .any(|t| {
                t.split(';')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .eq_ignore_ascii_case("application/xhtml+xml")
            })
}

/// The asset at `path` (relative to `/console/`): 200, 304 when the client has it, 404.
fn file(headers: &HeaderMap, path: &str) -> Response {
    let Some(asset) = assets::get(path) else {
        let mut response = plain(StatusCode::NOT_FOUND, "no such console file");
        secure(response.headers_mut());
        return response;
    };
    let fresh = headers
        .get_all(IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|tag| tag.trim() == asset.etag || tag.trim() == "*");
    let mut response = if fresh {
        let mut r = Response::new(Body::empty());
        *r.status_mut() = StatusCode::NOT_MODIFIED;
        r
    } else {
        let mut r = Response::new(Body::from(asset.bytes));
        r.headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static(asset.content_type));
        r
    };
    let h = response.headers_mut();
    if let Ok(tag) = HeaderValue::from_str(&asset.etag) {
        h.insert(ETAG, tag);
    }
    // Revalidated on every load (cheap: a 304), so a new weir's console is never
    // mixed with an old one's cached modules.
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    secure(h);
    response
}

fn redirect(to: &'static str) -> Response {
    let mut response = Response::new(Body::empty());
    *response.status_mut() = StatusCode::MOVED_PERMANENTLY;
    response
        .headers_mut()
        .insert(LOCATION, HeaderValue::from_static(to));
    response
}

fn plain(status: StatusCode, text: &'static str) -> Response {
    let mut response = Response::new(Body::from(text));
    *response.status_mut() = status;
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

/// The headers every console response carries.
fn secure(h: &mut HeaderMap) {
    h.insert(CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    h.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn browsers_want_html_and_clients_do_not() {
        let accept = |v: &'static str| {
            let mut h = HeaderMap::new();
            h.insert(ACCEPT, HeaderValue::from_static(v));
            wants_html(&h)
        };
        assert!(accept(
            "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
        ));
        assert!(!accept("*/*"));
        assert!(!accept("application/json"));
        // Java's HttpURLConnection default.
        assert!(!accept(
            "text/html, image/gif, image/jpeg, *; q=.2, */*; q=.2"
        ));
        let mut h = HeaderMap::new();
        h.insert("sec-fetch-dest", HeaderValue::from_static("document"));
        assert!(wants_html(&h));
        assert!(!wants_html(&HeaderMap::new()));
    }
}
