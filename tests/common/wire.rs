//! Kafka requests by hand for the tests that speak the protocol byte by byte
//! (authentication, ACLs): one frame out, one decoded answer back.

use std::io::{Read, Write};
use std::net::TcpStream;

use bytes::{Bytes, BytesMut};
use kafka_protocol::messages::{ApiKey, RequestHeader, ResponseHeader};
use kafka_protocol::protocol::{Decodable, Encodable, Request, StrBytes};

/// The correlation id of every request sent here (each answer is checked for it).
pub const CORRELATION: i32 = 7;

/// `req` at `version`, framed with its size and a request header.
pub fn frame<R: Request + Encodable>(version: i16, req: &R) -> Vec<u8> {
    let key = ApiKey::try_from(R::KEY).unwrap();
    let mut header = RequestHeader::default();
    header.request_api_key = R::KEY;
    header.request_api_version = version;
    header.correlation_id = CORRELATION;
    header.client_id = Some(StrBytes::from_static_str("weir-test"));
    let mut buf = BytesMut::new();
    header
        .encode(&mut buf, key.request_header_version(version))
        .unwrap();
    req.encode(&mut buf, version).unwrap();
    let mut out = (buf.len() as i32).to_be_bytes().to_vec();
    out.extend_from_slice(&buf);
    out
}

/// Sends `req` and decodes its answer; panics if the connection closes instead.
pub fn ask<R: Request + Encodable>(s: &mut TcpStream, version: i16, req: &R) -> R::Response {
    s.write_all(&frame(version, req)).unwrap();
    let mut len = [0u8; 4];
    s.read_exact(&mut len).expect("an answer, not a close");
    let mut body = vec![0u8; i32::from_be_bytes(len) as usize];
    s.read_exact(&mut body).unwrap();
    let key = ApiKey::try_from(R::KEY).unwrap();
    let mut buf = Bytes::from(body);
    let header = ResponseHeader::decode(&mut buf, key.response_header_version(version)).unwrap();
    assert_eq!(header.correlation_id, CORRELATION);
    R::Response::decode(&mut buf, version).unwrap()
}
