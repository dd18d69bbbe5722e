//! [`TlsStream`]: a Kafka connection under TLS once [`super::handshake`] is done. rustls
//! keeps only what TLS 1.3 needs afterwards (key updates, [`KernelConnection`]); the
//! records themselves are sealed and opened here, in place ([`super::record`]).
//!
//! Read path: when the caller asks for at least [`DIRECT_READ`] bytes (a request
//! body) and no record is half read, the socket reads straight into the caller's
//! buffer and each record is decrypted there, its plaintext shifted down over the
//! headers and tags before it in the same pass: no copy. A record cut by the end of
//! that read, and small reads (size prefixes) with all they bring (up to a whole
//! [`IN_BUFFER`] of the next body), are opened in [`IN_BUFFER`] and copied once.
//! rustls' own stream copied each record three times (socket → deframer → `Vec` → caller).
//! Write path: each 16 KiB of the response is copied once into the outgoing buffer and
//! sealed there; [`OUT_BUFFER`] bytes of records go to the socket per write.
//!
//! After the handshake the peer may send: application data; close_notify (the end of
//! its data); user_canceled warnings (capped); other alerts (the connection ends with
//! them named); under TLS 1.3 a KeyUpdate (the read key changes, and when the peer
//! asks, so does ours). Anything else ends the connection, and so does any record
//! that fails its checks: then a fatal alert naming why ([`StreamError::alert`]) goes
//! out after what was already queued, as far as the socket takes it at once, and the
//! stream reads and writes nothing more. The write key is also updated (TLS 1.3) or
//! the connection closed (TLS 1.2) before it seals more records than AES-GCM allows.

use std::io;
use std::ops::Range;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_rustls::rustls::ProtocolVersion;
use tokio_rustls::rustls::kernel::KernelConnection;
use tokio_rustls::rustls::server::ServerConnectionData;

use super::record::{
    HEADER, MAX_BODY, MAX_PLAINTEXT, OVERHEAD, Opener, RecordError, Sealer, content,
};
pub use super::stream_error::StreamError;

/// Bytes read from the socket at once into the stream's own buffer, plus room for
/// one whole record so a record never waits for space; also all the room the
/// handshake has (rustls caps a handshake message at 64 KiB).
pub const IN_BUFFER: usize = (64 << 10) + HEADER + MAX_BODY;
/// Sealed bytes gathered before one write to the socket.
pub const OUT_BUFFER: usize = (64 << 10) + MAX_PLAINTEXT + OVERHEAD;
/// The least room a caller's read must offer to be read into directly: below two
/// records' worth, a record cut at its end would be copied as often as not.
pub const DIRECT_READ: usize = 2 * MAX_PLAINTEXT;
/// The most post-handshake handshake bytes held while a message is incomplete (a
/// KeyUpdate is 5).
const MAX_HANDSHAKE_MESSAGE: usize = 1 << 10;
/// TLS 1.3 handshake type of KeyUpdate (RFC 8446 §4.6.3).
const KEY_UPDATE: u8 = 24;
/// Alert description close_notify (RFC 8446 §6.1).
const CLOSE_NOTIFY: u8 = 0;
/// Alert level warning (RFC 8446 §6); any other level is fatal.
const WARNING: u8 = 1;
/// Alert level fatal.
const FATAL: u8 = 2;
/// Alert description user_canceled: a warning, followed by close_notify.
const USER_CANCELED: u8 = 90;

/// Whether the peer's records are still being read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reading {
    Open,
    /// close_notify came: the end of the peer's data.
    PeerClosed,
    /// A record-layer error ended the connection (its alert sent as far as it went),
    /// or sealing failed.
    Failed,
}

/// Records since the last application data, per kind ([`Keys::idle`]).
#[derive(Default)]
struct IdleRecords {
    key_updates: u32,
    empty: u32,
    warnings: u32,
}

/// Handshake records (KeyUpdates and their fragments) and empty application-data
/// records allowed in a row without application data, 32 of each as in rustls.
const MAX_IDLE_RECORDS: u32 = 32;
/// user_canceled warnings allowed in a row without application data (rustls allows 4
/// per connection, of any warning).
const MAX_WARNING_ALERTS: u32 = 4;

/// The connection's keys and what the records opened so far have told it, apart from
/// the buffers (so a record's plaintext can be read from them while it is handled).
struct Keys {
    kernel: KernelConnection<ServerConnectionData>,
    version: ProtocolVersion,
    opener: Opener,
    sealer: Sealer,
    /// An incomplete post-handshake handshake message.
    handshake: Vec<u8>,
    reading: Reading,
    /// The peer asked for a KeyUpdate: ours goes out before our next record. Many
    /// requests make one update (RFC 8446 §4.6.3 allows it), so a client streaming
    /// requests cannot make the server queue an answer to each.
    update_due: bool,
    /// Records since the last one carrying application data: KeyUpdates, empty
    /// records and warning alerts cost the server work and the client nothing more,
    /// so each kind is capped.
    idle: IdleRecords,
}

/// A TLS connection after its handshake; see the module documentation.
pub struct TlsStream<S> {
    io: S,
    keys: Keys,
    /// TLS bytes read: `[start, end)` not yet opened; `plain` is the opened plaintext
    /// not yet handed out (always before `start`).
    incoming: Box<[u8]>,
    start: usize,
    end: usize,
    plain: Range<usize>,
    /// Sealed records; `[sent, len)` not yet written.
    outgoing: Vec<u8>,
    sent: usize,
    close_sealed: bool,
}

impl<S> std::fmt::Debug for TlsStream<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsStream")
            .field("version", &self.keys.version)
            .finish_non_exhaustive()
    }
}

impl Keys {
    /// Seals `plaintext` (at most one record's) into `out`, updating the write key
    /// first when the peer asked or it has sealed its share.
    fn seal(&mut self, typ: u8, plaintext: &[u8], out: &mut Vec<u8>) -> io::Result<()> {
        if std::mem::take(&mut self.update_due) {
            self.update_write_key(out)?;
        }
        if self.sealer.exhausted() {
            if !self.sealer.can_update() {
                return Err(invalid(RecordError::KeyExhausted));
            }
            self.update_write_key(out)?;
        }
        self.sealer.seal(typ, plaintext, out).map_err(invalid)
    }

    /// Sends a KeyUpdate (update_not_requested) under the old key, then switches to
    /// the new one (RFC 8446 §4.6.3).
    fn update_write_key(&mut self, out: &mut Vec<u8>) -> io::Result<()> {
        self.sealer
            .seal(content::HANDSHAKE, &[KEY_UPDATE, 0, 0, 1, 0], out)
            .map_err(invalid)?;
        let (seq, secrets) = self.kernel.update_tx_secret().map_err(invalid)?;
        self.sealer = Sealer::new(self.version, seq, &secrets).map_err(invalid)?;
        Ok(())
    }

    /// Handles one opened record that is not application data with content, and
    /// says whether `plaintext` (of a record of type `typ`) is data for the caller.
    fn on_record(&mut self, typ: u8, plaintext: &[u8]) -> Result<bool, StreamError> {
        // A handshake message split over records must not be interleaved with
        // records of another type (RFC 8446 §5.1).
        if typ != content::HANDSHAKE && !self.handshake.is_empty() {
            return Err(StreamError::Interleaved);
        }
        match typ {
            content::APPLICATION_DATA if plaintext.is_empty() => {
                self.idle.empty += 1;
                if self.idle.empty > MAX_IDLE_RECORDS {
                    return Err(StreamError::TooManyEmptyRecords);
                }
                Ok(false)
            }
            content::APPLICATION_DATA => {
                self.idle = IdleRecords::default();
                Ok(true)
            }
            content::ALERT => self.on_alert(plaintext).map(|()| false),
            // Empty handshake fragments are forbidden (RFC 8446 §5.1): uncounted,
            // they would cost work for nothing.
            content::HANDSHAKE if plaintext.is_empty() => Err(StreamError::EmptyHandshake),
            content::HANDSHAKE => self.on_handshake(plaintext).map(|()| false),
            other => Err(RecordError::UnexpectedType(other).into()),
        }
    }

    /// Handles a post-handshake handshake record's plaintext (TLS 1.3 KeyUpdate).
    fn on_handshake(&mut self, plaintext: &[u8]) -> Result<(), StreamError> {
        if self.version != ProtocolVersion::TLSv1_3 {
            // TLS 1.2: a renegotiation, which weir (like rustls) does not do.
            return Err(StreamError::Renegotiation);
        }
        if self.handshake.len() + plaintext.len() > MAX_HANDSHAKE_MESSAGE {
            return Err(StreamError::HandshakeTooLarge);
        }
        // Counted per record: a KeyUpdate cut into fragments costs one per fragment;
        // a record holds at most one KeyUpdate (below).
        self.idle.key_updates += 1;
        if self.idle.key_updates > MAX_IDLE_RECORDS {
            return Err(StreamError::TooManyKeyUpdates);
        }
        self.handshake.extend_from_slice(plaintext);
        while self.handshake.len() >= 4 {
            let len =
                u32::from_be_bytes([0, self.handshake[1], self.handshake[2], self.handshake[3]]);
            if self.handshake[0] != KEY_UPDATE {
                return Err(StreamError::UnexpectedHandshake(self.handshake[0]));
            }
            if len != 1 {
                return Err(StreamError::KeyUpdateLength { len });
            }
            if self.handshake.len() < 5 {
                break;
            }
            let requested = match self.handshake[4] {
                0 => false,
                1 => true,
                other => return Err(StreamError::KeyUpdateValue(other)),
            };
            self.handshake.drain(..5);
            // Records after a KeyUpdate are under the next key: the message must
            // end its record.
            if !self.handshake.is_empty() {
                return Err(StreamError::DataAfterKeyUpdate);
            }
            let (seq, secrets) = self
                .kernel
                .update_rx_secret()
                .map_err(StreamError::KeySchedule)?;
            self.opener = Opener::new(self.version, seq, &secrets)?;
            // Answered before our next record, once however often it was asked.
            self.update_due |= requested;
        }
        Ok(())
    }

    /// Handles an alert: close_notify ends the peer's data; anything else ends the
    /// connection with the alert named.
    fn on_alert(&mut self, plaintext: &[u8]) -> Result<(), StreamError> {
        match *plaintext {
            // Only a valid level makes `[_, 0]` a close_notify (RFC 8446 §6).
            [level, _] if level != WARNING && level != FATAL => Err(StreamError::AlertLevel(level)),
            [_, CLOSE_NOTIFY] => {
                self.reading = Reading::PeerClosed;
                Ok(())
            }
            [WARNING, USER_CANCELED] => {
                self.idle.warnings += 1;
                if self.idle.warnings > MAX_WARNING_ALERTS {
                    return Err(StreamError::TooManyWarnings);
                }
                Ok(())
            }
            [level, description] => Err(StreamError::PeerAlert { level, description }),
            _ => Err(StreamError::MalformedAlert {
                len: plaintext.len(),
            }),
        }
    }
}

/// Reads from `io` into `room`: the bytes filled, or an error if the read put another
/// buffer in `room`'s place (safe code can), whose bytes counted as the caller's would
/// mark never-written bytes filled. Checked as tokio's `Take` does.
fn read_into<S: AsyncRead + Unpin>(
    io: &mut S,
    cx: &mut Context<'_>,
    room: &mut ReadBuf<'_>,
) -> Poll<io::Result<usize>> {
    let (at, capacity) = (room.filled().as_ptr(), room.capacity());
    ready!(Pin::new(io).poll_read(cx, room))?;
    if room.filled().as_ptr() != at || room.capacity() != capacity {
        return Poll::Ready(Err(io::Error::other(
            "the socket's read replaced the buffer it was given",
        )));
    }
    Poll::Ready(Ok(room.filled().len()))
}

fn invalid(e: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, e)
}

/// What one read attempt came to.
enum Read {
    /// Bytes (or the end of data) are in the caller's buffer.
    Done,
    /// Records were handled but none carried data yet: try again.
    Again,
}

impl<S: AsyncRead + AsyncWrite + Unpin> TlsStream<S> {
    /// The stream after the handshake: `pending` are bytes of `incoming` read
    /// after the records rustls handled, for this record layer.
    pub(super) fn new(
        io: S,
        kernel: KernelConnection<ServerConnectionData>,
        opener: Opener,
        sealer: Sealer,
        incoming: Box<[u8]>,
        pending: Range<usize>,
        outgoing: Vec<u8>,
    ) -> TlsStream<S> {
        let version = kernel.protocol_version();
        TlsStream {
            io,
            keys: Keys {
                kernel,
                version,
                opener,
                sealer,
                handshake: Vec::new(),
                reading: Reading::Open,
                update_due: false,
                idle: IdleRecords::default(),
            },
            incoming,
            start: pending.start,
            end: pending.end,
            plain: 0..0,
            outgoing,
            sent: 0,
            close_sealed: false,
        }
    }

    /// The negotiated protocol version.
    pub fn protocol_version(&self) -> ProtocolVersion {
        self.keys.version
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

    /// Ends the stream for `error`: its fatal alert is sealed after what is queued
    /// and written as far as the socket takes it now (a peer that reads nothing
    /// does not hold the connection open for it).
    fn fail(&mut self, cx: &mut Context<'_>, error: &StreamError) {
        self.keys.reading = Reading::Failed;
        // Nothing follows a fatal alert, not even close_notify.
        let closed = std::mem::replace(&mut self.close_sealed, true);
        if let Some(alert) = error.alert()
            && !closed
        {
            let sealed = self.keys.seal(
                content::ALERT,
                &[FATAL, u8::from(alert)],
                &mut self.outgoing,
            );
            if sealed.is_ok() {
                let _ = self.poll_drain(cx);
            }
        }
    }

    /// Opens the next record held in `incoming`, if it has all arrived.
    fn open_buffered(&mut self) -> Result<bool, StreamError> {
        let at = self.start;
        let Some(opened) = self
            .keys
            .opener
            .open_within(&mut self.incoming[..self.end], at, at)?
        else {
            return Ok(false);
        };
        self.start += opened.wire_len;
        if self
            .keys
            .on_record(opened.typ, &self.incoming[opened.plaintext.clone()])?
        {
            self.plain = opened.plaintext;
        }
        Ok(true)
    }

    /// Reads from the socket into `incoming`; with a caller ready for a direct read,
    /// only up to the end of the record half read, so the next read can be direct.
    fn poll_fill(&mut self, cx: &mut Context<'_>, direct_next: bool) -> Poll<io::Result<usize>> {
        if self.start == self.end {
            (self.start, self.end) = (0, 0);
        } else if self.incoming.len() - self.end < HEADER + MAX_BODY {
            self.incoming.copy_within(self.start..self.end, 0);
            (self.start, self.end) = (0, self.end - self.start);
        }
        let mut limit = self.incoming.len();
        // Bounded by `end`: past it lie a former record's bytes, not this header.
        let header = self.incoming[..self.end].get(self.start..self.start + HEADER);
        if direct_next && let Some(header) = header {
            let len = usize::from(u16::from_be_bytes([header[3], header[4]]));
            limit = limit.min(self.start + HEADER + len).max(self.end + 1);
        } else if direct_next {
            limit = self.start + HEADER;
        }
        let mut room = ReadBuf::new(&mut self.incoming[self.end..limit]);
        let n = ready!(read_into(&mut self.io, cx, &mut room))?;
        self.end += n;
        Poll::Ready(Ok(n))
    }

    /// Reads records from the socket straight into `buf`'s unfilled part and opens
    /// them there, their plaintexts moved to its start; a record cut by the end of
    /// the read goes to `incoming`.
    fn poll_direct(
        &mut self,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<Result<Read, ReadError>> {
        debug_assert_eq!(self.start, self.end);
        // SAFETY: nothing here de-initialises a byte of `unfilled`; the socket's read
        // only writes to it.
        let unfilled = unsafe { buf.unfilled_mut() };
        let mut room = ReadBuf::uninit(unfilled);
        let n = ready!(read_into(&mut self.io, cx, &mut room)).map_err(ReadError::Io)?;
        let region = room.filled_mut();
        if n == 0 {
            // The socket closed without close_notify: end of data all the same,
            // which the Kafka loop reads as a client going away.
            return Poll::Ready(Ok(Read::Done));
        }
        let (mut at, mut to) = (0, 0);
        while self.keys.reading == Reading::Open {
            let Some(opened) = self.keys.opener.open_within(region, at, to)? else {
                break;
            };
            at += opened.wire_len;
            if self
                .keys
                .on_record(opened.typ, &region[opened.plaintext.clone()])?
            {
                to = opened.plaintext.end;
            }
        }
        if self.keys.reading == Reading::Open {
            let rest = &region[at..];
            self.incoming[..rest.len()].copy_from_slice(rest);
            (self.start, self.end) = (0, rest.len());
        }
        // SAFETY: the socket's read initialised the first `n` bytes of `unfilled`.
        unsafe { buf.assume_init(n) };
        buf.advance(to);
        Poll::Ready(Ok(if to > 0 { Read::Done } else { Read::Again }))
    }

    /// One step of [`AsyncRead::poll_read`].
    fn poll_read_step(
        &mut self,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<Result<Read, ReadError>> {
        if !self.plain.is_empty() {
            let n = self.plain.len().min(buf.remaining());
            buf.put_slice(&self.incoming[self.plain.start..self.plain.start + n]);
            self.plain.start += n;
            return Poll::Ready(Ok(Read::Done));
        }
        match self.keys.reading {
            Reading::Open => {}
            Reading::PeerClosed => return Poll::Ready(Ok(Read::Done)),
            Reading::Failed => return Poll::Ready(Err(StreamError::Failed.into())),
        }
        if self.start < self.end {
            if self.open_buffered()? {
                return Poll::Ready(Ok(Read::Again));
            }
        } else if buf.remaining() >= DIRECT_READ {
            return self.poll_direct(cx, buf);
        }
        let direct_next = buf.remaining() >= DIRECT_READ;
        let n = ready!(self.poll_fill(cx, direct_next)).map_err(ReadError::Io)?;
        if n == 0 {
            if self.start < self.end {
                return Poll::Ready(Err(ReadError::Io(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "TLS record cut short",
                ))));
            }
            // The socket closed without close_notify: end of data all the same.
            return Poll::Ready(Ok(Read::Done));
        }
        Poll::Ready(Ok(Read::Again))
    }
}

/// Why a read failed: the socket, or the peer's records.
enum ReadError {
    Io(io::Error),
    Tls(StreamError),
}

impl<E: Into<StreamError>> From<E> for ReadError {
    fn from(e: E) -> ReadError {
        ReadError::Tls(e.into())
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
            match ready!(this.poll_read_step(cx, buf)) {
                Ok(Read::Done) => return Poll::Ready(Ok(())),
                Ok(Read::Again) => {}
                Err(ReadError::Io(e)) => return Poll::Ready(Err(e)),
                Err(ReadError::Tls(e)) => {
                    this.fail(cx, &e);
                    return Poll::Ready(Err(e.into_io()));
                }
            }
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
        if this.keys.reading == Reading::Failed {
            return Poll::Ready(Err(StreamError::Failed.into_io()));
        }
        if this.close_sealed {
            // Nothing may follow close_notify (RFC 8446 §6.1).
            return Poll::Ready(Err(StreamError::Closed.into_io()));
        }
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
            // Chunks sealed before a failure are queued: the next write reports it.
            match this
                .keys
                .seal(content::APPLICATION_DATA, chunk, &mut this.outgoing)
            {
                Ok(()) => taken += chunk.len(),
                Err(e) => {
                    // The keys may be half updated: nothing more is sealed.
                    this.keys.reading = Reading::Failed;
                    return Poll::Ready(if taken > 0 { Ok(taken) } else { Err(e) });
                }
            }
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
            this.keys
                .seal(content::ALERT, &[WARNING, CLOSE_NOTIFY], &mut this.outgoing)?;
            this.close_sealed = true;
        }
        ready!(this.poll_drain(cx))?;
        Pin::new(&mut this.io).poll_shutdown(cx)
    }
}

#[cfg(test)]
#[path = "stream_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "stream_io_tests.rs"]
mod io_tests;
