//! [`TlsStream`]: a Kafka connection under TLS. rustls runs the handshake (its
//! unbuffered API, on this stream's buffers), then hands over the traffic secrets and
//! keeps only what TLS 1.3 needs afterwards (key updates, [`KernelConnection`]); the
//! records themselves are sealed and opened here, in place ([`super::record`]).
//!
//! Read path: the socket fills one buffer ([`IN_BUFFER`]) with as many records as have
//! come, each is decrypted where it lies and its plaintext copied once into the
//! caller's buffer (the request body). rustls' own stream copies each record three
//! times on the way (socket buffer → its deframer → a fresh `Vec` → the caller).
//! Write path: each 16 KiB of the response is copied once into the outgoing buffer and
//! sealed there; [`OUT_BUFFER`] bytes of records go to the socket per write.
//!
//! After the handshake the peer may send: application data; close_notify (the end of
//! its data); other alerts (the connection ends with them named); under TLS 1.3 a
//! KeyUpdate (the read key changes, and when the peer asks, so does ours). Anything
//! else ends the connection. The write key is also updated (TLS 1.3) or the connection
//! closed (TLS 1.2) before it seals more records than AES-GCM allows.

use std::io;
use std::ops::Range;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use bytes::{Buf, Bytes};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio_rustls::rustls::kernel::KernelConnection;
use tokio_rustls::rustls::pki_types::CertificateDer;
use tokio_rustls::rustls::server::{ServerConnectionData, UnbufferedServerConnection};
use tokio_rustls::rustls::unbuffered::{ConnectionState, EncodeError, UnbufferedStatus};
use tokio_rustls::rustls::{ProtocolVersion, ServerConfig};

use super::HandshakeError;
use super::record::{self, HEADER, MAX_BODY, MAX_PLAINTEXT, OVERHEAD, Opener, Sealer, content};

/// Bytes read from the socket at once (the same as the 64 KiB buffer under rustls'
/// stream before), plus room for one whole record so a record never waits for
/// space; also all the room the handshake has (rustls caps a handshake message at
/// 64 KiB).
pub const IN_BUFFER: usize = (64 << 10) + HEADER + MAX_BODY;
/// Sealed bytes gathered before one write to the socket.
pub const OUT_BUFFER: usize = (64 << 10) + MAX_PLAINTEXT + OVERHEAD;
/// The most post-handshake handshake bytes held while a message is incomplete (a
/// KeyUpdate is 5).
const MAX_HANDSHAKE_MESSAGE: usize = 1 << 10;
/// TLS 1.3 handshake type of KeyUpdate (RFC 8446 §4.6.3).
const KEY_UPDATE: u8 = 24;
/// Alert description close_notify (RFC 8446 §6.1).
const CLOSE_NOTIFY: u8 = 0;
/// Alert level warning (RFC 8446 §6); any other level is fatal.
const WARNING: u8 = 1;
/// Alert description user_canceled: a warning, followed by close_notify.
const USER_CANCELED: u8 = 90;

/// A TLS connection after its handshake; see the module documentation.
pub struct TlsStream<S> {
    io: S,
    kernel: KernelConnection<ServerConnectionData>,
    version: ProtocolVersion,
    opener: Opener,
    sealer: Sealer,
    /// TLS bytes read: `[start, end)` not yet opened; `plain` is the opened plaintext
    /// not yet handed out (always before `start`).
    incoming: Box<[u8]>,
    start: usize,
    end: usize,
    plain: Range<usize>,
    /// Application data rustls decrypted during the handshake, handed out first.
    early: Bytes,
    /// Sealed records; `[sent, len)` not yet written.
    outgoing: Vec<u8>,
    sent: usize,
    /// An incomplete post-handshake handshake message.
    handshake: Vec<u8>,
    peer_closed: bool,
    close_sealed: bool,
    /// The peer asked for a KeyUpdate: ours goes out before our next record. Many
    /// requests make one update (RFC 8446 §4.6.3 allows it), so a client streaming
    /// requests cannot make the server queue an answer to each.
    update_due: bool,
    /// Records since the last one carrying application data: KeyUpdates, empty
    /// records and warning alerts cost the server work and the client nothing more,
    /// so each kind is capped, as rustls caps them.
    idle: IdleRecords,
}

/// Records since the last application data, per kind ([`TlsStream::idle`]).
#[derive(Default)]
struct IdleRecords {
    key_updates: u32,
    empty: u32,
    warnings: u32,
}

/// KeyUpdates and empty records allowed in a row without application data (rustls
/// allows 32 of each).
const MAX_IDLE_RECORDS: u32 = 32;
/// Warning alerts allowed in a row without application data (rustls allows 4).
const MAX_WARNING_ALERTS: u32 = 4;

impl<S> std::fmt::Debug for TlsStream<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsStream")
            .field("version", &self.version)
            .finish_non_exhaustive()
    }
}

/// What the handshake loop does after handling one rustls state.
enum Step {
    Continue,
    Transmit,
    Read,
    Done,
}

/// Runs the handshake on `io` (no timeout: the caller sets one) and returns the
/// stream with the verified client certificate, if one was presented.
pub async fn accept<S>(
    config: Arc<ServerConfig>,
    mut io: S,
) -> Result<(TlsStream<S>, Option<CertificateDer<'static>>), HandshakeError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut conn = UnbufferedServerConnection::new(config).map_err(HandshakeError::Tls)?;
    let mut incoming = vec![0u8; IN_BUFFER].into_boxed_slice();
    let mut used = 0;
    let mut outgoing = Vec::new();
    let mut early = Vec::new();
    loop {
        let UnbufferedStatus { mut discard, state } =
            conn.process_tls_records(&mut incoming[..used]);
        let step = match state {
            Ok(state) => handshake_step(state, &mut outgoing, &mut early, &mut discard)?,
            Err(e) => {
                // rustls queues an alert saying why; the peer should hear it.
                send_alert(&mut conn, &mut io).await;
                return Err(HandshakeError::Tls(e));
            }
        };
        incoming.copy_within(discard..used, 0);
        used -= discard;
        match step {
            Step::Continue => {}
            Step::Transmit => {
                io.write_all(&outgoing)
                    .await
                    .map_err(HandshakeError::Failed)?;
                io.flush().await.map_err(HandshakeError::Failed)?;
                outgoing.clear();
            }
            Step::Read => {
                if used == incoming.len() {
                    return Err(HandshakeError::TooLarge {
                        max: incoming.len(),
                    });
                }
                let n = io
                    .read(&mut incoming[used..])
                    .await
                    .map_err(HandshakeError::Failed)?;
                if n == 0 {
                    return Err(HandshakeError::Failed(io::ErrorKind::UnexpectedEof.into()));
                }
                used += n;
            }
            Step::Done => break,
        }
    }
    let certificate = conn
        .peer_certificates()
        .and_then(|chain| chain.first())
        .map(|c| c.clone().into_owned());
    let (secrets, kernel) = conn
        .dangerous_into_kernel_connection()
        .map_err(HandshakeError::Tls)?;
    let version = kernel.protocol_version();
    let (rx_seq, rx) = &secrets.rx;
    let (tx_seq, tx) = &secrets.tx;
    let opener = Opener::new(version, *rx_seq, rx).map_err(HandshakeError::Record)?;
    let sealer = Sealer::new(version, *tx_seq, tx).map_err(HandshakeError::Record)?;
    let stream = TlsStream {
        io,
        kernel,
        version,
        opener,
        sealer,
        incoming,
        start: 0,
        end: used,
        plain: 0..0,
        early: Bytes::from(early),
        outgoing,
        sent: 0,
        handshake: Vec::new(),
        peer_closed: false,
        update_due: false,
        idle: IdleRecords::default(),
        close_sealed: false,
    };
    Ok((stream, certificate))
}

/// Handles one state of rustls' handshake.
fn handshake_step(
    state: ConnectionState<'_, '_, ServerConnectionData>,
    outgoing: &mut Vec<u8>,
    early: &mut Vec<u8>,
    discard: &mut usize,
) -> Result<Step, HandshakeError> {
    Ok(match state {
        ConnectionState::EncodeTlsData(mut data) => {
            encode(|buf| data.encode(buf), outgoing)?;
            Step::Continue
        }
        // Marked sent now; the caller sends it before asking rustls anything else.
        ConnectionState::TransmitTlsData(data) => {
            data.done();
            Step::Transmit
        }
        ConnectionState::BlockedHandshake => Step::Read,
        // A request sent right behind the client's Finished: kept for the first read.
        ConnectionState::ReadTraffic(mut traffic) => {
            while let Some(record) = traffic.next_record() {
                let record = record.map_err(HandshakeError::Tls)?;
                *discard += record.discard;
                early.extend_from_slice(record.payload);
            }
            Step::Continue
        }
        ConnectionState::WriteTraffic(_) => Step::Done,
        ConnectionState::PeerClosed | ConnectionState::Closed => {
            return Err(HandshakeError::Failed(io::ErrorKind::UnexpectedEof.into()));
        }
        // No early data is accepted (max_early_data_size is 0), and any later state is
        // one this code does not know.
        _ => return Err(HandshakeError::UnexpectedState),
    })
}

/// Appends what `encode` writes to `outgoing`, growing it to the size asked for.
fn encode(
    mut encode: impl FnMut(&mut [u8]) -> Result<usize, EncodeError>,
    outgoing: &mut Vec<u8>,
) -> Result<(), HandshakeError> {
    let at = outgoing.len();
    let need = match encode(&mut []) {
        // Nothing to encode.
        Ok(_) => return Ok(()),
        Err(EncodeError::InsufficientSize(e)) => e.required_size,
        Err(e) => return Err(HandshakeError::Encode(e)),
    };
    outgoing.resize(at + need, 0);
    let written = encode(&mut outgoing[at..]).map_err(HandshakeError::Encode)?;
    outgoing.truncate(at + written);
    Ok(())
}

/// Sends the alert rustls queued on a failed handshake, as far as the socket takes it.
async fn send_alert<S: AsyncWrite + Unpin>(conn: &mut UnbufferedServerConnection, io: &mut S) {
    let mut outgoing = Vec::new();
    if let Ok(ConnectionState::EncodeTlsData(mut data)) = conn.process_tls_records(&mut []).state
        && encode(|buf| data.encode(buf), &mut outgoing).is_ok()
    {
        let _ = io.write_all(&outgoing).await;
        let _ = io.flush().await;
    }
}

fn invalid(e: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, e)
}

impl<S: AsyncRead + AsyncWrite + Unpin> TlsStream<S> {
    /// The negotiated protocol version.
    pub fn protocol_version(&self) -> ProtocolVersion {
        self.version
    }

    /// Seals `plaintext` (at most one record's) into `outgoing`, updating the write
    /// key first when it has sealed its share.
    fn seal(&mut self, typ: u8, plaintext: &[u8]) -> io::Result<()> {
        if std::mem::take(&mut self.update_due) {
            self.update_write_key()?;
        }
        if self.sealer.exhausted() {
            if !self.sealer.can_update() {
                return Err(invalid(record::RecordError::KeyExhausted));
            }
            self.update_write_key()?;
        }
        self.sealer
            .seal(typ, plaintext, &mut self.outgoing)
            .map_err(invalid)
    }

    /// Sends a KeyUpdate (update_not_requested) under the old key, then switches to
    /// the new one (RFC 8446 §4.6.3).
    fn update_write_key(&mut self) -> io::Result<()> {
        self.sealer
            .seal(
                content::HANDSHAKE,
                &[KEY_UPDATE, 0, 0, 1, 0],
                &mut self.outgoing,
            )
            .map_err(invalid)?;
        let (seq, secrets) = self.kernel.update_tx_secret().map_err(invalid)?;
        self.sealer = Sealer::new(self.version, seq, &secrets).map_err(invalid)?;
        Ok(())
    }

    /// Handles a post-handshake handshake record's plaintext (TLS 1.3 KeyUpdate).
    fn on_handshake(&mut self, range: Range<usize>) -> io::Result<()> {
        if self.version != ProtocolVersion::TLSv1_3 {
            // TLS 1.2: a renegotiation, which weir (like rustls) does not do.
            return Err(invalid("TLS renegotiation refused"));
        }
        if self.handshake.len() + range.len() > MAX_HANDSHAKE_MESSAGE {
            return Err(invalid("post-handshake TLS message too large"));
        }
        self.handshake.extend_from_slice(&self.incoming[range]);
        while self.handshake.len() >= 4 {
            let len =
                u32::from_be_bytes([0, self.handshake[1], self.handshake[2], self.handshake[3]]);
            let whole = 4 + len as usize;
            if self.handshake.len() < whole {
                break;
            }
            if self.handshake[0] != KEY_UPDATE || len != 1 {
                return Err(invalid(format!(
                    "unexpected post-handshake TLS message of type {}",
                    self.handshake[0]
                )));
            }
            let requested = match self.handshake[4] {
                0 => false,
                1 => true,
                _ => return Err(invalid("malformed TLS KeyUpdate")),
            };
            self.handshake.drain(..whole);
            // Records after a KeyUpdate are under the next key: the message must
            // end its record.
            if !self.handshake.is_empty() {
                return Err(invalid("data after a TLS KeyUpdate in its record"));
            }
            self.idle.key_updates += 1;
            if self.idle.key_updates > MAX_IDLE_RECORDS {
                return Err(invalid("too many TLS KeyUpdates without application data"));
            }
            let (seq, secrets) = self.kernel.update_rx_secret().map_err(invalid)?;
            self.opener = Opener::new(self.version, seq, &secrets).map_err(invalid)?;
            // Answered before our next record, once however often it was asked.
            self.update_due |= requested;
        }
        Ok(())
    }

    /// Handles an alert: close_notify ends the peer's data; anything else ends the
    /// connection with the alert named.
    fn on_alert(&mut self, range: Range<usize>) -> io::Result<()> {
        match self.incoming[range] {
            [_, CLOSE_NOTIFY] => {
                self.peer_closed = true;
                Ok(())
            }
            [WARNING, USER_CANCELED] => {
                self.idle.warnings += 1;
                if self.idle.warnings > MAX_WARNING_ALERTS {
                    return Err(invalid("too many TLS warning alerts"));
                }
                Ok(())
            }
            [level, description] => Err(io::Error::new(
                io::ErrorKind::ConnectionAborted,
                format!("TLS alert from the client: level {level}, description {description}"),
            )),
            _ => Err(invalid("malformed TLS alert")),
        }
    }

    /// Writes out every sealed byte.
    fn poll_drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.sent < self.outgoing.len() {
            let n = ready!(Pin::new(&mut self.io).poll_write(cx, &self.outgoing[self.sent..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.sent += n;
        }
        self.outgoing.clear();
        self.sent = 0;
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for TlsStream<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            if this.early.has_remaining() {
                let n = this.early.remaining().min(buf.remaining());
                buf.put_slice(&this.early[..n]);
                this.early.advance(n);
                return Poll::Ready(Ok(()));
            }
            if !this.plain.is_empty() {
                let n = this.plain.len().min(buf.remaining());
                buf.put_slice(&this.incoming[this.plain.start..this.plain.start + n]);
                this.plain.start += n;
                return Poll::Ready(Ok(()));
            }
            if this.peer_closed {
                return Poll::Ready(Ok(()));
            }
            let at = this.start;
            if let Some(opened) = this
                .opener
                .open(&mut this.incoming[at..this.end])
                .map_err(invalid)?
            {
                this.start += opened.wire_len;
                let range = at + opened.plaintext.start..at + opened.plaintext.end;
                // A handshake message split over records must not be interleaved
                // with records of another type (RFC 8446 §5.1).
                if opened.typ != content::HANDSHAKE && !this.handshake.is_empty() {
                    return Poll::Ready(Err(invalid(
                        "TLS record interleaved with a split handshake message",
                    )));
                }
                match opened.typ {
                    content::APPLICATION_DATA if range.is_empty() => {
                        this.idle.empty += 1;
                        if this.idle.empty > MAX_IDLE_RECORDS {
                            return Poll::Ready(Err(invalid(
                                "too many empty TLS records in a row",
                            )));
                        }
                    }
                    content::APPLICATION_DATA => {
                        this.idle = IdleRecords::default();
                        this.plain = range;
                    }
                    content::ALERT => this.on_alert(range)?,
                    content::HANDSHAKE => this.on_handshake(range)?,
                    other => {
                        return Poll::Ready(Err(invalid(record::RecordError::UnexpectedType(
                            other,
                        ))));
                    }
                }
                continue;
            }
            // Everything opened has been handed out: make room and read more.
            if this.start == this.end {
                (this.start, this.end) = (0, 0);
            } else if this.incoming.len() - this.end < HEADER + MAX_BODY {
                this.incoming.copy_within(this.start..this.end, 0);
                (this.start, this.end) = (0, this.end - this.start);
            }
            let mut room = ReadBuf::new(&mut this.incoming[this.end..]);
            ready!(Pin::new(&mut this.io).poll_read(cx, &mut room))?;
            let n = room.filled().len();
            if n == 0 {
                if this.start < this.end {
                    return Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "TLS record cut short",
                    )));
                }
                // The socket closed without close_notify: end of data all the same,
                // which the Kafka loop reads as a client going away.
                return Poll::Ready(Ok(()));
            }
            this.end += n;
        }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for TlsStream<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if data.is_empty() {
            return Poll::Ready(Ok(0));
        }
        // Room for at least one whole record (and a key update before it).
        if this.outgoing.len() + 2 * OVERHEAD + MAX_PLAINTEXT + 8 > OUT_BUFFER {
            ready!(this.poll_drain(cx))?;
        }
        if this.outgoing.capacity() < OUT_BUFFER {
            this.outgoing
                .reserve_exact(OUT_BUFFER - this.outgoing.len());
        }
        let mut taken = 0;
        for chunk in data.chunks(MAX_PLAINTEXT) {
            if this.outgoing.len() + chunk.len() + 2 * OVERHEAD + 8 > OUT_BUFFER {
                break;
            }
            this.seal(content::APPLICATION_DATA, chunk)?;
            taken += chunk.len();
        }
        Poll::Ready(Ok(taken))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_drain(cx))?;
        Pin::new(&mut this.io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if !this.close_sealed {
            ready!(this.poll_drain(cx))?;
            this.seal(content::ALERT, &[1, CLOSE_NOTIFY])?;
            this.close_sealed = true;
        }
        ready!(this.poll_drain(cx))?;
        Pin::new(&mut this.io).poll_shutdown(cx)
    }
}

#[cfg(test)]
#[path = "stream_tests.rs"]
mod tests;
