//! The HTTP stub the connector tests talk to: an axum server on 127.0.0.1:0 (plain or
//! https) in its own runtime, answering each request with a closure that sees it and every
//! request before it, and keeping what it received and answered.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};

/// A request the stub received.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: Method,
    pub path: String,
    pub query: String,
    pub body: String,
    pub at: Instant,
    /// The status the stub answered.
    pub status: u16,
}

/// What the stub answers a request: status, headers, body, and a delay before answering.
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub body: String,
    pub delay: Duration,
}

impl Answer {
    pub fn ok(body: impl Into<String>) -> Answer {
        Answer {
            status: 200,
            headers: Vec::new(),
            body: body.into(),
            delay: Duration::ZERO,
        }
    }

    pub fn status(status: u16) -> Answer {
        Answer {
            status,
            ..Answer::ok("")
        }
    }
}

type Answerer = dyn Fn(&Seen, &[Seen]) -> Answer + Send + Sync;

/// An HTTP server on 127.0.0.1:0 in its own runtime, answering with a closure that sees the
/// request and every request before it.
pub struct Stub {
    pub addr: SocketAddr,
    seen: Arc<Mutex<Vec<Seen>>>,
    scheme: &'static str,
    _rt: tokio::runtime::Runtime,
}

impl Stub {
    pub fn start(answer: impl Fn(&Seen, &[Seen]) -> Answer + Send + Sync + 'static) -> Stub {
        Stub::serve(None, answer)
    }

    /// The same stub over https, with `acceptor`'s certificate.
    pub fn start_tls(
        acceptor: tokio_rustls::TlsAcceptor,
        answer: impl Fn(&Seen, &[Seen]) -> Answer + Send + Sync + 'static,
    ) -> Stub {
        Stub::serve(Some(acceptor), answer)
    }

    fn serve(
        tls: Option<tokio_rustls::TlsAcceptor>,
        answer: impl Fn(&Seen, &[Seen]) -> Answer + Send + Sync + 'static,
    ) -> Stub {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
        let answer: Arc<Answerer> = Arc::new(answer);
        let listener = rt
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let addr = listener.local_addr().unwrap();
        let log = seen.clone();
        let app = axum::Router::new().fallback(
            move |method: Method, uri: Uri, _headers: HeaderMap, body: Bytes| {
                let (log, answer) = (log.clone(), answer.clone());
                async move {
                    let req = Seen {
                        method,
                        path: uri.path().to_string(),
                        query: uri.query().unwrap_or("").to_string(),
                        body: String::from_utf8_lossy(&body).into_owned(),
                        at: Instant::now(),
                        status: 0,
                    };
                    let a = {
                        let mut all = log.lock().unwrap();
                        let a = answer(&req, &all);
                        all.push(Seen {
                            status: a.status,
                            ..req
                        });
                        a
                    };
                    tokio::time::sleep(a.delay).await;
                    let mut resp: Response = a.body.into_response();
                    *resp.status_mut() = StatusCode::from_u16(a.status).unwrap();
                    for (k, v) in a.headers {
                        resp.headers_mut().insert(k, v.parse().unwrap());
                    }
                    resp
                }
            },
        );
        let scheme = if tls.is_some() { "https" } else { "http" };
        match tls {
            None => rt.spawn(async move { axum::serve(listener, app).await }),
            Some(acceptor) => rt.spawn(async move {
                let tcp = listener;
                axum::serve(super::https::TlsListener { tcp, acceptor }, app).await
            }),
        };
        Stub {
            addr,
            seen,
            scheme,
            _rt: rt,
        }
    }

    pub fn origin(&self) -> String {
        format!("{}://{}", self.scheme, self.addr)
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}
