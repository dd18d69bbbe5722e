//! One connection to PostgreSQL over wasi:sockets TCP, speaking the frontend/backend protocol
//! (messages and SCRAM from `postgres-protocol`, which does no I/O itself).
//!
//! Errors are sorted as the sink's `connector-error` wants them: a lost connection or a
//! transient server state is retriable (the task reconnects and the host retries the batch);
//! bad SQL or data fails the task; a refused connect (an address `weir.allow.tcp` does not
//! grant) is denied.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::TcpStream;

use bytes::BytesMut;
use fallible_iterator::FallibleIterator;
use postgres_protocol::IsNull;
use postgres_protocol::authentication::md5_hash;
use postgres_protocol::authentication::sasl::{ChannelBinding, SCRAM_SHA_256, ScramSha256};
use postgres_protocol::message::backend::Message;
use postgres_protocol::message::frontend;
use weir_guest::connect::ConnectorError;

use crate::settings::Settings;

/// Most prepared statements kept per connection: one per (table, columns, operation).
const MAX_STATEMENTS: usize = 256;

/// A live connection.
pub struct Conn {
    stream: TcpStream,
    read: BytesMut,
    write: BytesMut,
    /// SQL text to prepared statement name.
    statements: HashMap<String, String>,
}

/// A transport failure: the connection is gone, the batch may be retried on a new one.
fn lost(what: &str, e: impl std::fmt::Display) -> ConnectorError {
    ConnectorError::Retriable(format!("PostgreSQL connection lost while {what}: {e}"))
}

/// The SQLSTATE of a server error.
fn sqlstate(body: &postgres_protocol::message::backend::ErrorResponseBody) -> String {
    let mut fields = body.fields();
    while let Ok(Some(f)) = fields.next() {
        if f.type_() == b'C' {
            return String::from_utf8_lossy(f.value_bytes()).into_owned();
        }
    }
    String::new()
}

/// Maps a server error to retriable or failed by its SQLSTATE class.
fn server_error(body: &postgres_protocol::message::backend::ErrorResponseBody) -> ConnectorError {
    let mut code = String::new();
    let mut message = String::new();
    let mut detail = String::new();
    let mut fields = body.fields();
    while let Ok(Some(f)) = fields.next() {
        let text = String::from_utf8_lossy(f.value_bytes());
        match f.type_() {
            b'C' => code = text.into_owned(),
            b'M' => message = text.into_owned(),
            b'D' => detail = format!(" ({text})"),
            _ => {}
        }
    }
    let text = format!("PostgreSQL error {code}: {message}{detail}");
    // 08 connection exception, 40 transaction rollback (serialization, deadlock), 53
    // insufficient resources, 57 operator intervention (shutdown): worth retrying.
    let retriable = ["08", "40", "53", "57"].iter().any(|c| code.starts_with(c));
    if retriable {
        ConnectorError::Retriable(text)
    } else {
        ConnectorError::Failed(text)
    }
}

fn encode(e: impl std::fmt::Display) -> ConnectorError {
    ConnectorError::Failed(format!("encoding a PostgreSQL message: {e}"))
}

impl Conn {
    /// Connects and authenticates (trust, cleartext, MD5 or SCRAM-SHA-256).
    pub fn open(s: &Settings) -> Result<Conn, ConnectorError> {
        let addr = format!("{}:{}", s.url.host, s.url.port);
        let addr = if s.url.host.contains(':') {
            format!("[{}]:{}", s.url.host, s.url.port)
        } else {
            addr
        };
        let stream = TcpStream::connect(&addr).map_err(|e| {
            let msg = format!("connecting to PostgreSQL at {addr}: {e}");
            if e.kind() == std::io::ErrorKind::PermissionDenied {
                ConnectorError::Denied(format!("{msg} (is {addr} in weir.allow.tcp?)"))
            } else {
                ConnectorError::Retriable(msg)
            }
        })?;
        let _ = stream.set_nodelay(true);
        let mut conn = Conn {
            stream,
            read: BytesMut::with_capacity(8192),
            write: BytesMut::with_capacity(8192),
            statements: HashMap::new(),
        };
        let params = [
            ("user", s.user.as_str()),
            ("database", s.url.database.as_str()),
            ("application_name", "weir-PostgresSink"),
            ("client_encoding", "UTF8"),
        ];
        frontend::startup_message(params.iter().copied(), &mut conn.write).map_err(encode)?;
        conn.send()?;
        conn.authenticate(s)?;
        loop {
            match conn.recv("starting up")? {
                Message::ReadyForQuery(_) => return Ok(conn),
                Message::ErrorResponse(b) => return Err(server_error(&b)),
                _ => {}
            }
        }
    }

    fn authenticate(&mut self, s: &Settings) -> Result<(), ConnectorError> {
        let password = || {
            s.password.clone().ok_or_else(|| {
                ConnectorError::InvalidConfig(
                    "PostgreSQL asks for a password: set connection.password".into(),
                )
            })
        };
        match self.recv("authenticating")? {
            Message::AuthenticationOk => return Ok(()),
            Message::AuthenticationCleartextPassword => {
                let mut pw = password()?.into_bytes();
                pw.push(0);
                frontend::password_message(&pw, &mut self.write).map_err(encode)?;
            }
            Message::AuthenticationMd5Password(b) => {
                let hash = md5_hash(s.user.as_bytes(), password()?.as_bytes(), b.salt());
                let mut pw = hash.into_bytes();
                pw.push(0);
                frontend::password_message(&pw, &mut self.write).map_err(encode)?;
            }
            Message::AuthenticationSasl(b) => {
                let mut mechs = b.mechanisms();
                let mut scram = false;
                while let Ok(Some(m)) = mechs.next() {
                    scram |= m == SCRAM_SHA_256;
                }
                if !scram {
                    return Err(ConnectorError::Failed(
                        "PostgreSQL offers no SASL mechanism this sink speaks (SCRAM-SHA-256)"
                            .into(),
                    ));
                }
                let mut sc =
                    ScramSha256::new(password()?.as_bytes(), ChannelBinding::unsupported());
                frontend::sasl_initial_response(SCRAM_SHA_256, sc.message(), &mut self.write)
                    .map_err(encode)?;
                self.send()?;
                let first = match self.recv("authenticating")? {
                    Message::AuthenticationSaslContinue(b) => b.data().to_vec(),
                    Message::ErrorResponse(b) => return Err(server_error(&b)),
                    _ => return Err(ConnectorError::Failed("unexpected SCRAM message".into())),
                };
                sc.update(&first)
                    .map_err(|e| ConnectorError::Failed(format!("SCRAM: {e}")))?;
                frontend::sasl_response(sc.message(), &mut self.write).map_err(encode)?;
                self.send()?;
                let last = match self.recv("authenticating")? {
                    Message::AuthenticationSaslFinal(b) => b.data().to_vec(),
                    Message::ErrorResponse(b) => return Err(server_error(&b)),
                    _ => return Err(ConnectorError::Failed("unexpected SCRAM message".into())),
                };
                sc.finish(&last)
                    .map_err(|e| ConnectorError::Failed(format!("SCRAM: {e}")))?;
            }
            Message::ErrorResponse(b) => return Err(server_error(&b)),
            _ => {
                return Err(ConnectorError::Failed(
                    "PostgreSQL asks for an authentication method this sink does not speak".into(),
                ));
            }
        }
        self.send()?;
        match self.recv("authenticating")? {
            Message::AuthenticationOk => Ok(()),
            Message::ErrorResponse(b) => Err(server_error(&b)),
            _ => Err(ConnectorError::Failed(
                "unexpected answer to authentication".into(),
            )),
        }
    }

    fn send(&mut self) -> Result<(), ConnectorError> {
        self.stream
            .write_all(&self.write)
            .map_err(|e| lost("writing", e))?;
        self.write.clear();
        Ok(())
    }

    fn recv(&mut self, what: &str) -> Result<Message, ConnectorError> {
        loop {
            if let Some(m) = Message::parse(&mut self.read).map_err(|e| lost(what, e))? {
                return Ok(m);
            }
            let mut chunk = [0u8; 16384];
            let n = self.stream.read(&mut chunk).map_err(|e| lost(what, e))?;
            if n == 0 {
                return Err(lost(what, "the server closed the connection"));
            }
            self.read.extend_from_slice(&chunk[..n]);
        }
    }

    /// Runs `sql` (no parameters, no rows wanted) as a simple query.
    pub fn execute(&mut self, sql: &str) -> Result<(), ConnectorError> {
        self.execute_allowing(sql, &[])
    }

    /// [`Self::execute`], taking a server error whose SQLSTATE is in `allowed` as success:
    /// two tasks' `CREATE TABLE IF NOT EXISTS` can race in the catalog (23505, 42P07), and
    /// the table exists either way.
    pub fn execute_allowing(&mut self, sql: &str, allowed: &[&str]) -> Result<(), ConnectorError> {
        frontend::query(sql, &mut self.write).map_err(encode)?;
        self.send()?;
        let mut failed = None;
        loop {
            match self.recv("running a statement")? {
                Message::ErrorResponse(b) if !allowed.contains(&sqlstate(&b).as_str()) => {
                    failed = Some(server_error(&b))
                }
                Message::ReadyForQuery(_) => break,
                _ => {}
            }
        }
        failed.map_or(Ok(()), Err)
    }

    /// Whether table `name` (unqualified, on the search path) exists.
    pub fn table_exists(&mut self, name: &str) -> Result<bool, ConnectorError> {
        let sql = format!(
            "SELECT 1 WHERE to_regclass({}) IS NOT NULL",
            postgres_protocol::escape::escape_literal(
                &postgres_protocol::escape::escape_identifier(name)
            )
        );
        frontend::query(&sql, &mut self.write).map_err(encode)?;
        self.send()?;
        let (mut found, mut failed) = (false, None);
        loop {
            match self.recv("looking up a table")? {
                Message::DataRow(_) => found = true,
                Message::ErrorResponse(b) => failed = Some(server_error(&b)),
                Message::ReadyForQuery(_) => break,
                _ => {}
            }
        }
        failed.map_or(Ok(found), Err)
    }

    /// Runs each `(sql, parameters)` in order in one transaction: statements are prepared once
    /// per connection, the batch is sent in one write and ends with one Sync, and everything
    /// before a Sync is one implicit transaction (PostgreSQL commits all of it, or on the first
    /// error none of it).
    pub fn batch(&mut self, rows: &[(String, Vec<Option<String>>)]) -> Result<(), ConnectorError> {
        if self.statements.len() > MAX_STATEMENTS {
            self.execute("DEALLOCATE ALL")?;
            self.statements.clear();
        }
        for (sql, params) in rows {
            let name = match self.statements.get(sql) {
                Some(n) => n.clone(),
                None => {
                    let n = format!("weir{}", self.statements.len());
                    frontend::parse(&n, sql, std::iter::empty(), &mut self.write)
                        .map_err(encode)?;
                    self.statements.insert(sql.clone(), n.clone());
                    n
                }
            };
            frontend::bind(
                "",
                &name,
                std::iter::once(0i16),
                params.iter(),
                |p, buf| match p {
                    Some(text) => {
                        buf.extend_from_slice(text.as_bytes());
                        Ok(IsNull::No)
                    }
                    None => Ok(IsNull::Yes),
                },
                std::iter::once(0i16),
                &mut self.write,
            )
            .map_err(|e| match e {
                frontend::BindError::Conversion(e) => encode(e),
                frontend::BindError::Serialization(e) => encode(e),
            })?;
            frontend::execute("", 0, &mut self.write).map_err(encode)?;
        }
        frontend::sync(&mut self.write);
        self.send()?;
        let mut failed = None;
        loop {
            match self.recv("writing a batch")? {
                Message::ErrorResponse(b) => {
                    // The statement that failed may have been prepared in this batch: forget
                    // them all rather than guess which exist.
                    failed = Some(server_error(&b));
                }
                Message::ReadyForQuery(_) => break,
                _ => {}
            }
        }
        if let Some(e) = failed {
            self.statements.clear();
            self.execute("DEALLOCATE ALL")?;
            return Err(e);
        }
        Ok(())
    }

    /// Ends the session politely.
    pub fn close(mut self) {
        frontend::terminate(&mut self.write);
        let _ = self.send();
    }
}
