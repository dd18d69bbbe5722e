//! [`super::TlsStream`] over sockets that are not plain duplex pipes: one that
//! misbehaves, one whose bytes the test sees raw, and the Kafka loop's read pattern
//! over tiny records and reads that cut records.

use super::*;
use crate::kafka::tls::handshake::accept;
use rustls_pki_types::CertificateDer;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};
use tokio_rustls::rustls::{self, RootCertStore};

/// A TLS 1.3 client trusting `dir`'s c.pem, its records at most `fragment` bytes.
fn connector(dir: &std::path::Path, fragment: Option<usize>) -> tokio_rustls::TlsConnector {
    use rustls_pki_types::pem::PemObject;
    let mut roots = RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_file(dir.join("c.pem")).unwrap())
        .unwrap();
    #[allow(deprecated)]
    let provider = rustls::crypto::ring::default_provider();
    let mut config = rustls::ClientConfig::builder_with_provider(Arc::new(provider))
        .with_protocol_versions(&[&rustls::version::TLS13])
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.max_fragment_size = fragment;
    tokio_rustls::TlsConnector::from(Arc::new(config))
}

/// A socket whose reads, once `swap` is set, put a buffer of their own in place of
/// the one they were given (safe code can) and fill it.
struct Swapping {
    io: DuplexStream,
    swap: Arc<AtomicBool>,
}

impl AsyncRead for Swapping {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.swap.load(Ordering::SeqCst) {
            let own: &'static mut [u8] = Box::leak(vec![0x17; 64].into_boxed_slice());
            *buf = ReadBuf::new(own);
            buf.set_filled(64);
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl AsyncWrite for Swapping {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, data)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

#[tokio::test]
async fn a_socket_read_that_swaps_its_buffer_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let tls = super::super::tests::localhost(dir.path());
    let (client_io, server_io) = tokio::io::duplex(64 << 10);
    let swap = Arc::new(AtomicBool::new(false));
    let socket = Swapping {
        io: server_io,
        swap: swap.clone(),
    };
    let config = tls.kafka.clone();
    let server = tokio::spawn(async move {
        let (mut s, _) = accept(config, socket).await.unwrap();
        let mut buf = [0u8; 5];
        s.read_exact(&mut buf).await.unwrap();
        s.write_all(&buf).await.unwrap();
        s.flush().await.unwrap();
        swap.store(true, Ordering::SeqCst);
        // Large enough for a direct read into the caller's buffer, and one read
        // into the stream's own.
        let direct = s.read(&mut vec![0u8; 100_000]).await.unwrap_err();
        let buffered = s.read(&mut [0u8; 4]).await.unwrap_err();
        (direct, buffered)
    });
    let mut c = connector(dir.path(), None)
        .connect("localhost".try_into().unwrap(), client_io)
        .await
        .unwrap();
    c.write_all(b"hello").await.unwrap();
    c.flush().await.unwrap();
    let mut back = [0u8; 5];
    c.read_exact(&mut back).await.unwrap();
    let (direct, buffered) = server.await.unwrap();
    for err in [direct, buffered] {
        assert!(err.to_string().contains("replaced the buffer"), "{err}");
    }
}

/// A socket that keeps a copy of every byte read from it.
struct Tap {
    io: DuplexStream,
    seen: Arc<Mutex<Vec<u8>>>,
}

impl AsyncRead for Tap {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        ready!(Pin::new(&mut self.io).poll_read(cx, buf))?;
        let seen = &buf.filled()[before..];
        self.seen.lock().unwrap().extend_from_slice(seen);
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for Tap {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, data)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

/// The lengths of the whole TLS records in `wire`.
fn records(wire: &[u8]) -> Vec<usize> {
    let mut lens = Vec::new();
    let mut at = 0;
    while let Some(header) = wire.get(at..at + HEADER) {
        let len = usize::from(u16::from_be_bytes([header[3], header[4]]));
        assert!(at + HEADER + len <= wire.len(), "a record cut short");
        lens.push(len);
        at += HEADER + len;
    }
    lens
}

#[tokio::test]
async fn ten_key_update_requests_get_one_answer_on_the_wire() {
    let dir = tempfile::tempdir().unwrap();
    let tls = super::super::tests::localhost(dir.path());
    let (client_io, server_io) = tokio::io::duplex(64 << 10);
    let seen = Arc::new(Mutex::new(Vec::new()));
    let tap = Tap {
        io: client_io,
        seen: seen.clone(),
    };
    let config = tls.kafka.clone();
    let server = tokio::spawn(async move {
        let (mut s, _) = accept(config, server_io).await.unwrap();
        let mut buf = [0u8; 5];
        for _ in 0..2 {
            s.read_exact(&mut buf).await.unwrap();
            s.write_all(&buf).await.unwrap();
            s.flush().await.unwrap();
        }
    });
    let mut c = connector(dir.path(), None)
        .connect("localhost".try_into().unwrap(), tap)
        .await
        .unwrap();
    c.write_all(b"hello").await.unwrap();
    c.flush().await.unwrap();
    let mut back = [0u8; 5];
    c.read_exact(&mut back).await.unwrap();
    // The server sends nothing until the next request: what follows is its answer.
    let answered_from = seen.lock().unwrap().len();
    for _ in 0..10 {
        c.get_mut().1.refresh_traffic_keys().unwrap();
        c.flush().await.unwrap();
    }
    c.write_all(b"again").await.unwrap();
    c.flush().await.unwrap();
    c.read_exact(&mut back).await.unwrap();
    assert_eq!(&back, b"again");
    server.await.unwrap();
    // Read to the end: nothing more may follow.
    let mut rest = Vec::new();
    c.read_to_end(&mut rest).await.unwrap_or_default();
    let wire = seen.lock().unwrap()[answered_from..].to_vec();
    // A KeyUpdate (4 + 1 bytes, a type byte and a 16-byte tag) and the echo (5 bytes):
    // answered once, not ten times.
    assert_eq!(records(&wire), [5 + 1 + 16, 5 + 1 + 16], "{wire:?}");
}

/// A server that reads requests as the Kafka loop does (`read_exact` of the 4-byte
/// size, then `take(size).read_to_end`) and answers each with its size and a sum.
async fn serve_requests<S: AsyncRead + AsyncWrite + Unpin>(mut s: TlsStream<S>) -> usize {
    let mut served = 0;
    loop {
        let mut size = [0u8; 4];
        if s.read_exact(&mut size).await.is_err() {
            return served;
        }
        let size = u32::from_be_bytes(size) as usize;
        let mut body = Vec::with_capacity(size.min(1 << 16));
        (&mut s)
            .take(size as u64)
            .read_to_end(&mut body)
            .await
            .unwrap();
        assert_eq!(body.len(), size);
        let sum = body.iter().map(|&b| u64::from(b)).sum::<u64>();
        s.write_all(&(size as u64).to_be_bytes()).await.unwrap();
        s.write_all(&sum.to_be_bytes()).await.unwrap();
        s.flush().await.unwrap();
        served += 1;
    }
}

#[tokio::test]
async fn pipelined_requests_survive_tiny_records_and_reads_that_cut_records() {
    let dir = tempfile::tempdir().unwrap();
    let tls = super::super::tests::localhost(dir.path());
    // Records of 64 bytes over a roomy pipe; whole records over a pipe that holds
    // 777 bytes, so most reads (direct ones too) end inside a record.
    for (fragment, pipe) in [(Some(64), 64 << 10), (None, 777)] {
        let (client_io, server_io) = tokio::io::duplex(pipe);
        let config = tls.kafka.clone();
        let server = tokio::spawn(async move {
            serve_requests(accept(config, server_io).await.unwrap().0).await
        });
        let mut c = connector(dir.path(), fragment)
            .connect("localhost".try_into().unwrap(), client_io)
            .await
            .unwrap();
        let sizes = [0usize, 3, 100, 40_000, 16_384, 70_000, 7, 33_000];
        let mut wire = Vec::new();
        let mut expected = Vec::new();
        for (i, &size) in sizes.iter().enumerate() {
            let body: Vec<u8> = (0..size).map(|j| (j * 31 + i) as u8).collect();
            expected.push((size as u64, body.iter().map(|&b| u64::from(b)).sum::<u64>()));
            wire.extend((size as u32).to_be_bytes());
            wire.extend(body);
        }
        // All requests in one go, answers read meanwhile so neither side blocks.
        let (mut r, mut w) = tokio::io::split(c);
        let writer = tokio::spawn(async move {
            w.write_all(&wire).await.unwrap();
            w.flush().await.unwrap();
            w
        });
        for (i, want) in expected.iter().enumerate() {
            let mut answer = [0u8; 16];
            r.read_exact(&mut answer).await.unwrap();
            let size = u64::from_be_bytes(answer[..8].try_into().unwrap());
            let sum = u64::from_be_bytes(answer[8..].try_into().unwrap());
            assert_eq!((size, sum), *want, "{fragment:?}/{pipe}: request {i}");
        }
        c = r.unsplit(writer.await.unwrap());
        c.shutdown().await.unwrap();
        assert_eq!(server.await.unwrap(), sizes.len());
    }
}
