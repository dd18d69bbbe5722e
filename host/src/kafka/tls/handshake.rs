//! [`accept`]: the Kafka listener's TLS handshake, run by rustls' unbuffered API on
//! the stream's own buffer, then the traffic secrets handed to [`TlsStream`].
//!
//! rustls is shown one record at a time, and none once the handshake is done: a
//! client may send its Finished and, in the same write, records under its traffic
//! key (a request, a KeyUpdate). Those stay in the buffer for [`TlsStream`]'s record
//! layer, which has the key schedule from then on; shown to rustls, a KeyUpdate would
//! change keys inside rustls and its answer would be lost at the handover.

use std::io;
use std::sync::Arc;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::rustls::pki_types::CertificateDer;
use tokio_rustls::rustls::server::{ServerConnectionData, UnbufferedServerConnection};
use tokio_rustls::rustls::unbuffered::{ConnectionState, EncodeError, UnbufferedStatus};

use super::HandshakeError;
use super::record::{HEADER, MAX_BODY, Opener, Sealer};
use super::stream::{IN_BUFFER, TlsStream};

/// What the handshake loop does after handling one rustls state.
enum Step {
    Continue,
    Transmit,
    /// rustls has taken every record shown: show it the next one.
    NextRecord,
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
    // `incoming[..used]` has been read; rustls has been shown `[..shown]`.
    let (mut used, mut shown) = (0, 0);
    let mut outgoing = Vec::new();
    loop {
        let UnbufferedStatus { discard, state } = conn.process_tls_records(&mut incoming[..shown]);
        let step = match state {
            Ok(state) => handshake_step(state, &mut outgoing)?,
            Err(e) => {
                // rustls queues an alert saying why; the peer should hear it.
                send_alert(&mut conn, &mut io).await;
                return Err(HandshakeError::Tls(e));
            }
        };
        // Only when rustls took something: unguarded, a handshake sent as 1-byte
        // records would move the buffer once per record.
        if discard > 0 {
            incoming.copy_within(discard..used, 0);
            used -= discard;
            shown -= discard;
        }
        match step {
            Step::Continue => {}
            Step::Transmit => {
                io.write_all(&outgoing)
                    .await
                    .map_err(HandshakeError::Failed)?;
                io.flush().await.map_err(HandshakeError::Failed)?;
                outgoing.clear();
            }
            Step::NextRecord => {
                while !next_record(&incoming[shown..used], &mut shown) {
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
    // What rustls was shown it has handled; the rest is the record layer's.
    let stream = TlsStream::new(io, kernel, opener, sealer, incoming, shown..used, outgoing);
    Ok((stream, certificate))
}

/// Moves `shown` past the next record in `rest` if it has all arrived (or past all
/// of `rest` if its header alone is not that of a TLS record, so rustls refuses it
/// now rather than after waiting for a length that is not one); `false` if more must
/// be read first.
fn next_record(rest: &[u8], shown: &mut usize) -> bool {
    let Some(header) = rest.get(..HEADER) else {
        return false;
    };
    let len = usize::from(u16::from_be_bytes([header[3], header[4]]));
    let whole = HEADER + len;
    // Content types change_cipher_spec (20) to application_data (23), version 3.x.
    if !(20..=23).contains(&header[0]) || header[1] != 3 || len > MAX_BODY {
        *shown += rest.len();
        return true;
    }
    if rest.len() < whole {
        return false;
    }
    *shown += whole;
    true
}

/// Handles one state of rustls' handshake.
fn handshake_step(
    state: ConnectionState<'_, '_, ServerConnectionData>,
    outgoing: &mut Vec<u8>,
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
        ConnectionState::BlockedHandshake => Step::NextRecord,
        ConnectionState::WriteTraffic(_) => Step::Done,
        ConnectionState::PeerClosed | ConnectionState::Closed => {
            return Err(HandshakeError::Failed(io::ErrorKind::UnexpectedEof.into()));
        }
        // Application data is never shown to rustls, no early data is accepted
        // (max_early_data_size is 0), and any later state is one this code does not
        // know.
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
