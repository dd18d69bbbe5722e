//! [`HttpHooks`]: how a connector's `wasi:http/outgoing-handler` requests leave the host.
//!
//! wasmtime-wasi-http builds the request from the guest's resources and hands it to
//! [`WasiHttpHooks::send_request`]; weir's hooks decide there, from the request's own URI:
//!
//! 1. the scheme, host and port (the port the scheme implies when none is written) must be
//!    an origin of the connector's [`HttpGrant`]; the `Host` header plays no part (the guest
//!    cannot set it: it is a forbidden header, and wasmtime-wasi-http writes it from the URI);
//! 2. the request body's declared length must fit `weir.http.request.max.bytes`, and the
//!    task may not have more than `weir.http.max.in.flight` requests open;
//! 3. the host name is resolved here, once, and the connection goes to an address that
//!    lookup answered: nothing resolves the name again, so a name granted cannot be steered
//!    to another address between the check and the connect (DNS rebinding);
//! 4. an `https://` request's stream to that address is wrapped in TLS ([`HttpTls`]: the
//!    certificate verified against the URI's host, the grant's trust built once);
//! 5. the whole exchange is bounded by `weir.http.timeout.ms`, and the bodies both ways by
//!    their caps.
//!
//! A refusal fails that request alone (the guest's future answers an error code); the
//! connector's log gets one line saying why, and a denial is counted ([`Denials`]). A failed
//! TLS handshake is logged naming the host; it is not a denial.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame};
use http_body_util::BodyExt;
use tokio::time::{Instant, Sleep};
use wasmtime_wasi_http::{Error, RequestOptions, WasiBody, WasiHttpHooks};

use super::guest_output::{LogLevel, LogSink};
use super::http_grant::{AllowedHost, HttpGrant, Scheme};
use super::http_tls::HttpTls;

/// Told of each request refused because its origin is not granted.
pub trait Denials: Send + Sync {
    /// One more refusal.
    fn denied(&self);
}

/// What outbound HTTP one connector instance gets: its grant and who counts its denials.
#[derive(Clone, Default)]
pub struct HttpAccess {
    /// The origins granted and the bounds on requests (default: nothing granted).
    pub grant: Arc<HttpGrant>,
    /// Told of each denied request.
    pub denials: Option<Arc<dyn Denials>>,
}

impl std::fmt::Debug for HttpAccess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpAccess")
            .field("grant", &self.grant)
            .finish_non_exhaustive()
    }
}

/// The hooks of one connector store: its grant, its log, and its open requests.
pub struct HttpHooks {
    grant: Arc<HttpGrant>,
    plugin: Arc<str>,
    log: Arc<dyn LogSink>,
    denials: Option<Arc<dyn Denials>>,
    in_flight: Arc<AtomicUsize>,
}

impl HttpHooks {
    /// Hooks granting `grant`, logging to `log`, counting denials in `denials`.
    pub fn new(
        grant: Arc<HttpGrant>,
        plugin: Arc<str>,
        log: Arc<dyn LogSink>,
        denials: Option<Arc<dyn Denials>>,
    ) -> HttpHooks {
        HttpHooks {
            grant,
            plugin,
            log,
            denials,
            in_flight: Arc::default(),
        }
    }

    /// Hooks granting nothing (pipeline steps, and a connector's own `validate` instance).
    pub fn deny_all(plugin: Arc<str>, log: Arc<dyn LogSink>) -> HttpHooks {
        HttpHooks::new(Arc::default(), plugin, log, None)
    }

    fn note(&self, message: &str) {
        self.log.write(&self.plugin, LogLevel::Error, message);
    }

    /// Checks a request before anything is resolved: answers where it goes, or refuses it.
    fn admit(&self, request: &http::Request<WasiBody>) -> Result<Target, Error> {
        let uri = request.uri();
        let scheme = uri.scheme_str().unwrap_or("").to_ascii_lowercase();
        let Some(authority) = uri.authority() else {
            self.note("denied: a request without a host (weir.allow.http grants origins)");
            self.count_denial();
            return Err(Error::HttpRequestDenied);
        };
        let host = AllowedHost::parse(authority.host());
        let parsed = Scheme::parse(&scheme);
        let default_port = parsed.map_or(80, Scheme::default_port);
        let port = authority.port_u16().unwrap_or(default_port);
        let tls = match parsed {
            Some(Scheme::Https) => self.grant.tls.clone(),
            _ => None,
        };
        // An https origin is admitted only with the TLS its grant was built with.
        let usable = parsed != Some(Scheme::Https) || tls.is_some();
        if !usable || !self.grant.admits(&scheme, &host, port) {
            self.note(&format!(
                "denied: {scheme}://{host}:{port} not in weir.allow.http"
            ));
            self.count_denial();
            return Err(Error::HttpRequestDenied);
        }
        let limits = self.grant.limits;
        let declared = request
            .headers()
            .get(http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if let Some(n) = declared.filter(|n| *n > limits.max_request_bytes) {
            self.note(&format!(
                "refused: a request body of {n} bytes to {scheme}://{host}:{port}, over weir.http.request.max.bytes = {}",
                limits.max_request_bytes
            ));
            return Err(Error::HttpRequestBodySize(Some(n)));
        }
        let open = self.in_flight.load(Ordering::Acquire);
        if open >= limits.max_in_flight {
            let message = format!(
                "refused: a request to {scheme}://{host}:{port} with {open} already open, at weir.http.max.in.flight = {}",
                limits.max_in_flight
            );
            self.note(&message);
            return Err(Error::InternalError(Some(message)));
        }
        Ok(Target {
            host,
            port,
            tls,
            origin: format!("{scheme}://{}:{port}", authority.host()),
        })
    }

    fn count_denial(&self) {
        if let Some(d) = &self.denials {
            d.denied();
        }
    }
}

/// Where an admitted request goes.
struct Target {
    host: AllowedHost,
    port: u16,
    /// The grant's TLS for an https request; `None` for http.
    tls: Option<HttpTls>,
    origin: String,
}

/// One open request of a task: counted from admission until its response body is read to
/// the end or dropped.
struct Open(Arc<AtomicUsize>);

impl Open {
    fn new(counter: &Arc<AtomicUsize>) -> Open {
        counter.fetch_add(1, Ordering::AcqRel);
        Open(counter.clone())
    }
}

impl Drop for Open {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

type Sent = Result<
    (
        http::Response<WasiBody>,
        Box<dyn Future<Output = Result<(), Error>> + Send>,
    ),
    Error,
>;

impl WasiHttpHooks for HttpHooks {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        _options: Option<RequestOptions>,
        _fut: Box<dyn Future<Output = Result<(), Error>> + Send>,
    ) -> Box<dyn Future<Output = Sent> + Send> {
        // The guest's own request options may only shorten the exchange, which the single
        // deadline below already bounds; they are ignored rather than trusted.
        let target = match self.admit(&request) {
            Ok(t) => t,
            Err(e) => return Box::new(async move { Err(e) }),
        };
        let open = Open::new(&self.in_flight);
        let limits = self.grant.limits;
        let deadline = Instant::now() + limits.timeout;
        let log = self.log.clone();
        let plugin = self.plugin.clone();
        Box::new(async move {
            let note = |m: &str| log.write(&plugin, LogLevel::Error, m);
            let exchange = send(request, &target, limits.max_request_bytes, &note);
            let (response, io) = match tokio::time::timeout_at(deadline, exchange).await {
                Ok(Ok(sent)) => sent,
                Ok(Err(e)) => return Err(e),
                Err(_) => {
                    note(&format!(
                        "timed out: {} gave no response within weir.http.timeout.ms = {}",
                        target.origin,
                        limits.timeout.as_millis()
                    ));
                    return Err(Error::HttpResponseTimeout);
                }
            };
            let capped = Capped {
                inner: response.into_body(),
                seen: 0,
                max: limits.max_response_bytes,
                deadline: Box::pin(tokio::time::sleep_until(deadline)),
                origin: target.origin,
                log,
                plugin,
                _open: open,
            };
            let (parts, _) = http::Response::new(()).into_parts();
            let mut response = http::Response::from_parts(parts, capped.boxed_unsync());
            *response.status_mut() = io.status;
            *response.headers_mut() = io.headers;
            Ok((
                response,
                Box::new(io.conn) as Box<dyn Future<Output = _> + Send>,
            ))
        })
    }
}

/// What [`send`] answers besides the body: status, headers and the connection's task.
struct Exchange {
    status: http::StatusCode,
    headers: http::HeaderMap,
    conn: Pin<Box<dyn Future<Output = Result<(), Error>> + Send>>,
}

/// Resolves the target once, connects to an address it answered (in TLS for https), and
/// sends the request over HTTP/1.1 with its body capped. A failed handshake is noted.
async fn send(
    request: http::Request<WasiBody>,
    target: &Target,
    max_request_bytes: u64,
    note: &(dyn Fn(&str) + Send + Sync),
) -> Result<(http::Response<WasiBody>, Exchange), Error> {
    let addrs: Vec<SocketAddr> = match &target.host {
        AllowedHost::Ip(ip) => vec![SocketAddr::new(*ip, target.port)],
        AllowedHost::Name(name) => tokio::net::lookup_host((name.as_str(), target.port))
            .await
            .map_err(|e| Error::DnsError {
                rcode: Some(e.to_string()),
                info_code: None,
            })?
            .collect(),
    };
    let mut stream = None;
    let mut last = None;
    for addr in addrs {
        match tokio::net::TcpStream::connect(addr).await {
            Ok(s) => {
                stream = Some(s);
                break;
            }
            Err(e) => last = Some(e),
        }
    }
    let stream = match (stream, last) {
        (Some(s), _) => s,
        (None, Some(e)) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
            return Err(Error::ConnectionRefused);
        }
        (None, Some(e)) => return Err(Error::Connect(e)),
        (None, None) => return Err(Error::DestinationNotFound),
    };
    match &target.tls {
        None => exchange(stream, request, max_request_bytes).await,
        Some(tls) => match tls.connect(&target.host, stream).await {
            Ok(stream) => exchange(stream, request, max_request_bytes).await,
            Err(failure) => {
                note(&format!(
                    "tls: the handshake with {} ({}) failed: {}",
                    target.host, target.origin, failure.why
                ));
                Err(failure.code)
            }
        },
    }
}

/// Sends the request over `stream` (plain or TLS) as HTTP/1.1, its body capped.
async fn exchange<S>(
    stream: S,
    request: http::Request<WasiBody>,
    max_request_bytes: u64,
) -> Result<(http::Response<WasiBody>, Exchange), Error>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream)).await?;
    let conn = wasmtime_wasi::runtime::spawn(async move { conn.await.map_err(Error::from) });
    // On the wire the request line carries only the path; the authority is in Host.
    let (mut parts, body) = request.into_parts();
    let path = parts
        .uri
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .to_string();
    parts.uri = http::Uri::builder()
        .path_and_query(path)
        .build()
        .map_err(|_| Error::HttpRequestUriInvalid)?;
    let body = http_body_util::Limited::new(body, max_request_bytes as usize);
    let request = http::Request::from_parts(parts, body);
    let response = sender.send_request(request).await.map_err(|e| {
        if std::error::Error::source(&e).is_some_and(|s| {
            s.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some()
        }) {
            Error::HttpRequestBodySize(None)
        } else {
            Error::from(e)
        }
    })?;
    let (parts, incoming) = response.into_parts();
    let body = incoming.map_err(Error::from).boxed_unsync();
    let exchange = Exchange {
        status: parts.status,
        headers: parts.headers,
        conn: Box::pin(conn),
    };
    Ok((http::Response::new(body), exchange))
}

/// A response body bounded by the response cap and the request's deadline, holding the
/// request's place among the task's open ones until it ends or is dropped.
struct Capped {
    inner: WasiBody,
    seen: u64,
    max: u64,
    deadline: Pin<Box<Sleep>>,
    origin: String,
    log: Arc<dyn LogSink>,
    plugin: Arc<str>,
    _open: Open,
}

impl Body for Capped {
    type Data = Bytes;
    type Error = Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Error>>> {
        let this = &mut *self;
        if this.deadline.as_mut().poll(cx).is_ready() {
            this.log.write(
                &this.plugin,
                LogLevel::Error,
                &format!(
                    "timed out: reading the response of {} outlasted weir.http.timeout.ms",
                    this.origin
                ),
            );
            return Poll::Ready(Some(Err(Error::HttpResponseTimeout)));
        }
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    this.seen += data.len() as u64;
                    if this.seen > this.max {
                        this.log.write(
                            &this.plugin,
                            LogLevel::Error,
                            &format!(
                                "refused: the response body of {} passed weir.http.response.max.bytes = {}",
                                this.origin, this.max
                            ),
                        );
                        return Poll::Ready(Some(Err(Error::HttpResponseBodySize(Some(
                            this.seen,
                        )))));
                    }
                }
                Poll::Ready(Some(Ok(frame)))
            }
            other => other,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::http_grant::{HttpLimits, HttpOrigin};
    use std::sync::atomic::AtomicU64;

    #[derive(Default)]
    struct Lines(std::sync::Mutex<Vec<String>>);

    impl LogSink for Lines {
        fn write(&self, _plugin: &str, _level: LogLevel, message: &str) {
            self.0.lock().unwrap().push(message.to_owned());
        }
    }

    #[derive(Default)]
    struct Count(AtomicU64);

    impl Denials for Count {
        fn denied(&self) {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn request(uri: &str, headers: &[(&str, &str)]) -> http::Request<WasiBody> {
        let body = http_body_util::Empty::<Bytes>::new()
            .map_err(|never| match never {})
            .boxed_unsync();
        let mut b = http::Request::builder().uri(uri);
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        b.body(body).unwrap()
    }

    fn hooks(max_in_flight: usize) -> (HttpHooks, Arc<Lines>, Arc<Count>) {
        let grant = HttpGrant {
            origins: vec![HttpOrigin {
                scheme: Scheme::Http,
                host: AllowedHost::parse("127.0.0.1"),
                port: Some(8080),
            }],
            limits: HttpLimits {
                max_request_bytes: 100,
                max_in_flight,
                ..HttpLimits::default()
            },
            tls: None,
        };
        let lines = Arc::new(Lines::default());
        let count = Arc::new(Count::default());
        let h = HttpHooks::new(
            Arc::new(grant),
            "p".into(),
            lines.clone(),
            Some(count.clone()),
        );
        (h, lines, count)
    }

    #[test]
    fn the_uri_decides_never_the_host_header_and_a_denial_is_logged_and_counted() {
        let (h, lines, count) = hooks(4);
        assert!(h.admit(&request("http://127.0.0.1:8080/x", &[])).is_ok());
        let other_port = request("http://127.0.0.1:8081/x", &[("host", "127.0.0.1:8080")]);
        assert!(matches!(
            h.admit(&other_port),
            Err(Error::HttpRequestDenied)
        ));
        let other_host = request("http://localhost:8080/x", &[]);
        assert!(matches!(
            h.admit(&other_host),
            Err(Error::HttpRequestDenied)
        ));
        assert!(matches!(
            h.admit(&request("https://127.0.0.1:8080/", &[])),
            Err(Error::HttpRequestDenied)
        ));
        assert_eq!(count.0.load(Ordering::Relaxed), 3);
        let lines = lines.0.lock().unwrap();
        assert_eq!(
            lines[0],
            "denied: http://127.0.0.1:8081 not in weir.allow.http"
        );
        assert_eq!(
            lines[1],
            "denied: http://localhost:8080 not in weir.allow.http"
        );
    }

    #[test]
    fn a_declared_body_over_the_cap_and_a_request_past_the_in_flight_cap_are_refused() {
        let (h, lines, count) = hooks(1);
        let fat = request("http://127.0.0.1:8080/x", &[("content-length", "101")]);
        assert!(matches!(
            h.admit(&fat),
            Err(Error::HttpRequestBodySize(Some(101)))
        ));
        let open = Open::new(&h.in_flight);
        let next = request("http://127.0.0.1:8080/x", &[]);
        match h.admit(&next) {
            Err(Error::InternalError(Some(m))) => {
                assert!(m.contains("weir.http.max.in.flight = 1"), "{m}")
            }
            other => panic!("expected the in-flight cap, got {:?}", other.err()),
        }
        drop(open);
        assert!(h.admit(&next).is_ok(), "the place is free again");
        assert_eq!(count.0.load(Ordering::Relaxed), 0, "bounds are not denials");
        assert!(lines.0.lock().unwrap()[0].contains("over weir.http.request.max.bytes = 100"));
    }
}
