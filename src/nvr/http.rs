//! One HTTP/1.1 request to the NVR's API on its own connection, advanced by
//! the poll loop.
//!
//! An [`Exchange`] owns a non-blocking socket from `connect()` to the end of
//! the reply and never blocks: the loop polls [`Exchange::fd`] for the
//! direction [`Exchange::wants_write`] / [`Exchange::wants_read`] names,
//! calls [`Exchange::on_ready`] on any readiness (spurious wake-ups are
//! fine), and drops the exchange when it returns a result or when
//! [`Exchange::timed_out`] says its deadline passed. One request per
//! connection (`Connection: close`): the NVR is asked a handful of things per
//! session, so a pool would only add states in which a stale connection
//! fails a request.
//!
//! The reply is untrusted input: the head and the body are bounded before
//! anything is kept, and every way a peer can stop talking is told apart,
//! because an add whose reply never came may still have happened.

use std::fmt;
use std::io::{self, Read, Write};
use std::net::{IpAddr, Ipv6Addr, SocketAddr, TcpStream, ToSocketAddrs};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::time::Duration;

use httparse::Status;
use nix::errno::Errno;
use nix::sys::socket::{self, AddressFamily, SockFlag, SockType, SockaddrStorage};

/// The largest reply body accepted (`GET /api/config` of a big install is
/// about 1 MB).
pub const MAX_BODY: usize = 4 << 20;
/// The largest status line plus headers.
const MAX_HEAD: usize = 64 << 10;
const MAX_HEADERS: usize = 64;
/// A chunk-size line (hex size and extensions) longer than this is not HTTP.
const MAX_CHUNK_LINE: usize = 1024;
/// Bytes read per `read()`: a 1 MB config arrives in a few dozen calls.
const READ_SIZE: usize = 16 << 10;

const USER_AGENT: &str = concat!("replayd/", env!("CARGO_PKG_VERSION"));

/// How far an exchange got: what a caller needs to know to judge whether the
/// NVR may have received (and acted on) a request that got no reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    Connecting,
    Sending,
    /// The whole request went out; the reply is awaited or being read.
    Waiting,
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Stage::Connecting => "while connecting",
            Stage::Sending => "while sending the request",
            Stage::Waiting => "while waiting for the reply",
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error("bad NVR URL {url:?}: {reason}")]
    BadUrl { url: String, reason: String },
    /// A path or token that would break the request line or a header.
    #[error("bad request: {0}")]
    BadRequest(String),
    /// Refused, unreachable, or no socket to be had: nothing was sent.
    #[error("cannot connect to {addr}: {source}")]
    Connect { addr: SocketAddr, source: io::Error },
    #[error("no complete reply within {}s ({stage})", timeout.as_secs_f64())]
    Timeout { stage: Stage, timeout: Duration },
    /// Reset or end of stream before a full reply: the request's outcome is
    /// unknown once `stage` is past connecting.
    #[error("connection lost {stage}{}", source.as_ref().map(|e| format!(": {e}")).unwrap_or_default())]
    ConnectionLost {
        stage: Stage,
        #[source]
        source: Option<io::Error>,
    },
    #[error("the reply is not HTTP: {0}")]
    Garbage(String),
    #[error("the reply is larger than {limit} bytes")]
    TooLarge { limit: usize },
}

impl HttpError {
    /// True when the request may have reached the NVR although no usable
    /// reply came back, so whatever it asked for may have happened.
    pub fn request_may_have_arrived(&self) -> bool {
        match self {
            HttpError::BadUrl { .. } | HttpError::BadRequest(_) | HttpError::Connect { .. } => {
                false
            }
            HttpError::Timeout { stage, .. } | HttpError::ConnectionLost { stage, .. } => {
                *stage != Stage::Connecting
            }
            HttpError::Garbage(_) | HttpError::TooLarge { .. } => true,
        }
    }
}

/// Where the NVR's API listens: plain `http://host[:port][/base]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Endpoint {
    /// As written in the URL (an IPv6 literal keeps its brackets): the
    /// `Host` header.
    host: String,
    port: u16,
    /// A reverse proxy's prefix ("" or "/frigate"), put before every path.
    base_path: String,
    /// Resolved once, when the config is loaded, outside the poll loop.
    addrs: Vec<SocketAddr>,
}

impl Endpoint {
    /// Parses and resolves `url`. Name resolution may block, so call this
    /// where the config is loaded, never from the poll loop.
    pub fn parse(url: &str) -> Result<Endpoint, HttpError> {
        let bad = |reason: &str| HttpError::BadUrl {
            url: url.to_string(),
            reason: reason.to_string(),
        };
        let (scheme, rest) = url
            .split_once("://")
            .ok_or_else(|| bad("expected http://HOST[:PORT]"))?;
        if scheme.eq_ignore_ascii_case("https") {
            return Err(bad(
                "https is not supported: use Frigate's internal http port (5000), published on loopback",
            ));
        }
        if !scheme.eq_ignore_ascii_case("http") {
            return Err(bad("only http:// URLs are supported"));
        }
        let (authority, path) = match rest.find(['/', '?', '#']) {
            Some(i) => rest.split_at(i),
            None => (rest, ""),
        };
        if path.contains(['?', '#']) {
            return Err(bad("a query or fragment has no meaning here"));
        }
        if !path.bytes().all(is_visible_ascii) {
            return Err(bad("the path has spaces or control characters"));
        }
        if authority.contains('@') {
            return Err(bad(
                "credentials in the URL are not supported: use publish.frigate.token_file",
            ));
        }
        let (host, ip, port) = split_host_port(authority).map_err(|r| bad(&r))?;
        let addrs: Vec<SocketAddr> = match ip {
            Some(ip) => vec![SocketAddr::new(ip, port)],
            None => (host.as_str(), port)
                .to_socket_addrs()
                .map_err(|e| bad(&format!("cannot resolve {host}: {e}")))?
                .collect(),
        };
        if addrs.is_empty() {
            return Err(bad(&format!("{host} has no address")));
        }
        Ok(Endpoint {
            host,
            port,
            base_path: path.trim_end_matches('/').to_string(),
            addrs,
        })
    }

    pub fn host(&self) -> &str {
        &self.host
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn addrs(&self) -> &[SocketAddr] {
        &self.addrs
    }

    fn host_header(&self) -> String {
        if self.port == 80 {
            self.host.clone()
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "http://{}:{}{}", self.host, self.port, self.base_path)
    }
}

/// `host[:port]` → (host as written, its address when it is a literal, port).
fn split_host_port(authority: &str) -> Result<(String, Option<IpAddr>, u16), String> {
    let (host, ip, port) = if let Some(rest) = authority.strip_prefix('[') {
        let (inner, after) = rest
            .split_once(']')
            .ok_or("an IPv6 address needs a closing ']'")?;
        let ip: Ipv6Addr = inner
            .parse()
            .map_err(|_| format!("{inner:?} is not an IPv6 address"))?;
        let port = match after {
            "" => None,
            p => Some(p.strip_prefix(':').ok_or("expected ':PORT' after ']'")?),
        };
        (format!("[{inner}]"), Some(IpAddr::V6(ip)), port)
    } else {
        let (host, port) = match authority.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        };
        if port.is_some_and(|p| p.contains(':')) {
            return Err("an IPv6 address must be written in brackets: http://[::1]:5000".into());
        }
        if host.is_empty() {
            return Err("no host".into());
        }
        if !host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._".contains(&b))
        {
            return Err(format!("{host:?} is not a host name"));
        }
        (host.to_string(), host.parse::<IpAddr>().ok(), port)
    };
    let port = match port {
        None => 80,
        Some(p) => match p.parse::<u16>() {
            Ok(n) if n > 0 => n,
            _ => return Err(format!("{p:?} is not a port")),
        },
    };
    Ok((host, ip, port))
}

fn is_visible_ascii(b: u8) -> bool {
    (0x21..=0x7e).contains(&b)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Put,
    Delete,
}

impl Method {
    fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Put => "PUT",
            Method::Delete => "DELETE",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    pub method: Method,
    /// Absolute path, without the endpoint's base path.
    pub path: String,
    /// JSON.
    pub body: Option<Vec<u8>>,
    pub bearer: Option<String>,
    /// `X-Cache-Bypass: 1`: Frigate's nginx caches JSON GET replies for 5 s.
    pub cache_bypass: bool,
}

impl Request {
    /// The same request with (or without) a bearer token: builders leave it
    /// out because the token file is re-read on each use.
    pub fn with_bearer(mut self, token: Option<String>) -> Request {
        self.bearer = token;
        self
    }

    /// The bytes on the wire. Never an `Origin` header: Frigate's CSRF check
    /// refuses a non-GET request that carries one without `X-CSRF-TOKEN`.
    fn encode(&self, endpoint: &Endpoint) -> Result<Vec<u8>, HttpError> {
        if !self.path.starts_with('/') || !self.path.bytes().all(is_visible_ascii) {
            return Err(HttpError::BadRequest(format!(
                "path {:?} must start with '/' and hold no spaces or control characters",
                self.path
            )));
        }
        let mut head = format!(
            "{} {}{} HTTP/1.1\r\nHost: {}\r\nUser-Agent: {USER_AGENT}\r\nAccept: application/json\r\nConnection: close\r\n",
            self.method.as_str(),
            endpoint.base_path,
            self.path,
            endpoint.host_header(),
        );
        if let Some(token) = &self.bearer {
            if token.is_empty() || !token.bytes().all(is_visible_ascii) {
                return Err(HttpError::BadRequest(
                    "the bearer token is empty or holds spaces or control characters".into(),
                ));
            }
            head.push_str(&format!("Authorization: Bearer {token}\r\n"));
        }
        if self.cache_bypass {
            head.push_str("X-Cache-Bypass: 1\r\n");
        }
        match &self.body {
            Some(body) => head.push_str(&format!(
                "Content-Type: application/json\r\nContent-Length: {}\r\n",
                body.len()
            )),
            // A PUT without a length is a request some servers wait on.
            None if self.method == Method::Put => head.push_str("Content-Length: 0\r\n"),
            None => {}
        }
        head.push_str("\r\n");
        let mut bytes = head.into_bytes();
        if let Some(body) = &self.body {
            bytes.extend_from_slice(body);
        }
        Ok(bytes)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Response {
    pub status: u16,
    pub body: Vec<u8>,
    pub content_type: Option<String>,
}

impl Response {
    /// True when the server labelled the body JSON.
    pub fn is_json(&self) -> bool {
        self.content_type
            .as_deref()
            .is_some_and(|t| t.to_ascii_lowercase().starts_with("application/json"))
    }
}

/// One request on one fresh connection.
pub struct Exchange {
    stream: TcpStream,
    /// Addresses not tried yet: a name such as `localhost` resolves to ::1
    /// and 127.0.0.1, and the NVR may listen on only one of them.
    untried: Vec<SocketAddr>,
    addr: SocketAddr,
    stage: Stage,
    done: bool,
    out: Vec<u8>,
    written: usize,
    reply: ReplyReader,
    deadline: f64,
    timeout: Duration,
}

impl Exchange {
    /// Opens a non-blocking socket and starts connecting; never blocks.
    /// `now` is the caller's (boot-time) clock, in seconds.
    pub fn start(
        endpoint: &Endpoint,
        request: &Request,
        now: f64,
        timeout: Duration,
    ) -> Result<Exchange, HttpError> {
        let out = request.encode(endpoint)?;
        let mut untried: Vec<SocketAddr> = endpoint.addrs.iter().rev().copied().collect();
        let (stream, addr) = connect_first(&mut untried)?;
        Ok(Exchange {
            stream,
            untried,
            addr,
            stage: Stage::Connecting,
            done: false,
            out,
            written: 0,
            reply: ReplyReader::default(),
            deadline: now + timeout.as_secs_f64(),
            timeout,
        })
    }

    /// The socket to poll. It changes when a connect fails and the next
    /// address is tried: take it anew before every poll.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.stream.as_fd()
    }

    pub fn wants_write(&self) -> bool {
        !self.done && matches!(self.stage, Stage::Connecting | Stage::Sending)
    }

    pub fn wants_read(&self) -> bool {
        !self.done && self.stage == Stage::Waiting
    }

    pub fn deadline(&self) -> f64 {
        self.deadline
    }

    pub fn timed_out(&self, now: f64) -> bool {
        !self.done && now >= self.deadline
    }

    /// The error to report once [`Exchange::timed_out`] is true: it says how
    /// far the request got.
    pub fn timeout_error(&self) -> HttpError {
        HttpError::Timeout {
            stage: self.stage,
            timeout: self.timeout,
        }
    }

    /// Advances on readiness: finishes the connect, writes, reads. `None`
    /// while the exchange is pending (and after it has ended).
    pub fn on_ready(&mut self) -> Option<Result<Response, HttpError>> {
        if self.done {
            return None;
        }
        let result = self.advance()?;
        self.done = true;
        Some(result)
    }

    fn advance(&mut self) -> Option<Result<Response, HttpError>> {
        loop {
            match self.stage {
                Stage::Connecting => match self.connected() {
                    Ok(true) => self.stage = Stage::Sending,
                    Ok(false) => return None,
                    Err(source) => {
                        let failed = HttpError::Connect {
                            addr: self.addr,
                            source,
                        };
                        if self.untried.is_empty() {
                            return Some(Err(failed));
                        }
                        match connect_first(&mut self.untried) {
                            Ok((stream, addr)) => {
                                self.stream = stream;
                                self.addr = addr;
                                return None;
                            }
                            Err(e) => return Some(Err(e)),
                        }
                    }
                },
                Stage::Sending => match self.write_some() {
                    Ok(true) => self.stage = Stage::Waiting,
                    Ok(false) => return None,
                    // A server may answer (401, 413) and close before
                    // reading all of a request: prefer its reply.
                    Err(e) => {
                        return match self.read_some() {
                            Ok(Some(response)) => Some(Ok(response)),
                            _ => Some(Err(e)),
                        }
                    }
                },
                Stage::Waiting => return self.read_some().transpose(),
            }
        }
    }

    /// SO_ERROR first (a failed connect), then whether a peer is there (a
    /// wake-up before the connect finished is not an error).
    fn connected(&self) -> io::Result<bool> {
        if let Some(e) = self.stream.take_error()? {
            return Err(e);
        }
        match self.stream.peer_addr() {
            Ok(_) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::NotConnected => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// True once the whole request is out.
    fn write_some(&mut self) -> Result<bool, HttpError> {
        while self.written < self.out.len() {
            // std sends with MSG_NOSIGNAL: a peer gone is EPIPE, not SIGPIPE.
            match (&self.stream).write(&self.out[self.written..]) {
                Ok(0) => return Err(self.lost(None)),
                Ok(n) => self.written += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(self.lost(Some(e))),
            }
        }
        Ok(true)
    }

    fn read_some(&mut self) -> Result<Option<Response>, HttpError> {
        let mut buf = [0u8; READ_SIZE];
        loop {
            match (&self.stream).read(&mut buf) {
                Ok(0) => return self.reply.finish_at_eof().map(Some),
                Ok(n) => {
                    if let Some(response) = self.reply.feed(&buf[..n])? {
                        return Ok(Some(response));
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(None),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(self.lost(Some(e))),
            }
        }
    }

    fn lost(&self, source: Option<io::Error>) -> HttpError {
        HttpError::ConnectionLost {
            stage: self.stage,
            source,
        }
    }
}

/// Starts a non-blocking connect to the next untried address (the list is
/// reversed: the next one is last) until one is under way.
fn connect_first(untried: &mut Vec<SocketAddr>) -> Result<(TcpStream, SocketAddr), HttpError> {
    let mut last = None;
    while let Some(addr) = untried.pop() {
        match connect_nonblocking(addr) {
            Ok(stream) => return Ok((stream, addr)),
            Err(source) => last = Some(HttpError::Connect { addr, source }),
        }
    }
    Err(last.unwrap_or_else(|| HttpError::BadRequest("the endpoint has no address".into())))
}

/// socket(SOCK_NONBLOCK) + connect: std's `TcpStream::connect` blocks.
fn connect_nonblocking(addr: SocketAddr) -> io::Result<TcpStream> {
    let family = match addr {
        SocketAddr::V4(_) => AddressFamily::Inet,
        SocketAddr::V6(_) => AddressFamily::Inet6,
    };
    let fd = socket::socket(
        family,
        SockType::Stream,
        SockFlag::SOCK_NONBLOCK | SockFlag::SOCK_CLOEXEC,
        None,
    )?;
    match socket::connect(fd.as_raw_fd(), &SockaddrStorage::from(addr)) {
        // EINTR: the connect goes on asynchronously, as with EINPROGRESS.
        Ok(()) | Err(Errno::EINPROGRESS) | Err(Errno::EINTR) => Ok(TcpStream::from(fd)),
        Err(e) => Err(e.into()),
    }
}

/// How the body's end is found.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Framing {
    Length(usize),
    Chunked(Chunk),
    /// Neither length nor chunked: the body ends with the connection.
    Eof,
}

/// Where a chunked body's decoder stands.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Chunk {
    Size,
    Data(usize),
    DataEnd,
    Trailer,
}

/// Turns the bytes of a reply, as they arrive, into a [`Response`]. Pure,
/// so the framing rules are tested without sockets.
#[derive(Debug, Default)]
struct ReplyReader {
    /// Received but not yet consumed (an incomplete head or chunk line).
    pending: Vec<u8>,
    status: u16,
    content_type: Option<String>,
    /// `None` until the head has been parsed.
    framing: Option<Framing>,
    body: Vec<u8>,
    received: usize,
}

struct Head {
    len: usize,
    status: u16,
    content_type: Option<String>,
    framing: Framing,
}

impl ReplyReader {
    /// Takes more bytes; `Some` once the reply is complete.
    fn feed(&mut self, bytes: &[u8]) -> Result<Option<Response>, HttpError> {
        self.received = self.received.saturating_add(bytes.len());
        // Chunk framing can cost more than the body; bound it all the same.
        if self.received > 2 * MAX_BODY + MAX_HEAD {
            return Err(HttpError::TooLarge { limit: MAX_BODY });
        }
        self.pending.extend_from_slice(bytes);
        loop {
            match self.framing {
                None => {
                    let Some(head) = parse_head(&self.pending)? else {
                        if self.pending.len() > MAX_HEAD {
                            return Err(HttpError::TooLarge { limit: MAX_HEAD });
                        }
                        return Ok(None);
                    };
                    self.pending.drain(..head.len);
                    // An interim reply (100 Continue) precedes the real one.
                    if (100..200).contains(&head.status) {
                        continue;
                    }
                    self.status = head.status;
                    self.content_type = head.content_type;
                    self.framing = Some(head.framing);
                }
                Some(Framing::Length(n)) => {
                    let take = (n - self.body.len()).min(self.pending.len());
                    self.body.extend(self.pending.drain(..take));
                    return Ok((self.body.len() == n).then(|| self.response()));
                }
                Some(Framing::Eof) => {
                    if self.body.len() + self.pending.len() > MAX_BODY {
                        return Err(HttpError::TooLarge { limit: MAX_BODY });
                    }
                    self.body.append(&mut self.pending);
                    return Ok(None);
                }
                Some(Framing::Chunked(state)) => {
                    let (consumed, state, done) =
                        decode_chunks(state, &self.pending, &mut self.body)?;
                    self.pending.drain(..consumed);
                    self.framing = Some(Framing::Chunked(state));
                    return Ok(done.then(|| self.response()));
                }
            }
        }
    }

    /// The peer closed: complete only for a body that ends with the
    /// connection.
    fn finish_at_eof(&mut self) -> Result<Response, HttpError> {
        match self.framing {
            Some(Framing::Eof) => Ok(self.response()),
            _ => Err(HttpError::ConnectionLost {
                stage: Stage::Waiting,
                source: None,
            }),
        }
    }

    fn response(&mut self) -> Response {
        Response {
            status: self.status,
            body: std::mem::take(&mut self.body),
            content_type: self.content_type.take(),
        }
    }
}

fn parse_head(buf: &[u8]) -> Result<Option<Head>, HttpError> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut parsed = httparse::Response::new(&mut headers);
    let len = match parsed.parse(buf) {
        Ok(Status::Partial) => return Ok(None),
        Ok(Status::Complete(len)) => len,
        Err(httparse::Error::TooManyHeaders) => {
            return Err(HttpError::Garbage(format!(
                "more than {MAX_HEADERS} headers"
            )))
        }
        Err(e) => return Err(HttpError::Garbage(e.to_string())),
    };
    let status = parsed
        .code
        .ok_or_else(|| HttpError::Garbage("no status code".into()))?;
    if status == 101 {
        return Err(HttpError::Garbage(
            "a protocol switch nobody asked for".into(),
        ));
    }
    let mut content_length: Option<u64> = None;
    let mut chunked = false;
    let mut content_type = None;
    for header in parsed.headers.iter() {
        let value = std::str::from_utf8(header.value).map(str::trim);
        if header.name.eq_ignore_ascii_case("content-length") {
            let n = value
                .ok()
                .and_then(|v| v.parse::<u64>().ok())
                .ok_or_else(|| HttpError::Garbage("a bad Content-Length".into()))?;
            if content_length.is_some_and(|c| c != n) {
                return Err(HttpError::Garbage(
                    "conflicting Content-Length headers".into(),
                ));
            }
            content_length = Some(n);
        } else if header.name.eq_ignore_ascii_case("transfer-encoding") {
            let value = value.map_err(|_| HttpError::Garbage("a bad Transfer-Encoding".into()))?;
            // Accept-Encoding is never sent, so only "chunked" may appear.
            for coding in value.split(',').map(str::trim).filter(|c| !c.is_empty()) {
                if !coding.eq_ignore_ascii_case("chunked") {
                    return Err(HttpError::Garbage(format!(
                        "transfer coding {coding:?} was not asked for"
                    )));
                }
                chunked = true;
            }
        } else if header.name.eq_ignore_ascii_case("content-type") {
            content_type = value.ok().map(str::to_string);
        }
    }
    let framing = if (100..200).contains(&status) || status == 204 || status == 304 {
        Framing::Length(0)
    } else if chunked {
        Framing::Chunked(Chunk::Size)
    } else if let Some(n) = content_length {
        match usize::try_from(n) {
            Ok(n) if n <= MAX_BODY => Framing::Length(n),
            _ => return Err(HttpError::TooLarge { limit: MAX_BODY }),
        }
    } else {
        Framing::Eof
    };
    Ok(Some(Head {
        len,
        status,
        content_type,
        framing,
    }))
}

/// Decodes what `input` holds of a chunked body into `body`: returns the
/// bytes consumed, the decoder's new state, and whether the body ended.
fn decode_chunks(
    mut state: Chunk,
    input: &[u8],
    body: &mut Vec<u8>,
) -> Result<(usize, Chunk, bool), HttpError> {
    let mut pos = 0;
    loop {
        let rest = &input[pos..];
        match state {
            Chunk::Size => match httparse::parse_chunk_size(rest) {
                Ok(Status::Complete((used, size))) => {
                    pos += used;
                    state = if size == 0 {
                        Chunk::Trailer
                    } else {
                        match usize::try_from(size) {
                            Ok(n) if body.len().saturating_add(n) <= MAX_BODY => Chunk::Data(n),
                            _ => return Err(HttpError::TooLarge { limit: MAX_BODY }),
                        }
                    };
                }
                Ok(Status::Partial) if rest.len() <= MAX_CHUNK_LINE => {
                    return Ok((pos, state, false))
                }
                _ => return Err(HttpError::Garbage("a bad chunk size line".into())),
            },
            Chunk::Data(left) => {
                let n = left.min(rest.len());
                if n == 0 {
                    return Ok((pos, state, false));
                }
                body.extend_from_slice(&rest[..n]);
                pos += n;
                state = if n == left {
                    Chunk::DataEnd
                } else {
                    Chunk::Data(left - n)
                };
            }
            Chunk::DataEnd => {
                if rest.len() < 2 {
                    return Ok((pos, state, false));
                }
                if &rest[..2] != b"\r\n" {
                    return Err(HttpError::Garbage("a chunk longer than its size".into()));
                }
                pos += 2;
                state = Chunk::Size;
            }
            Chunk::Trailer => match rest.windows(2).position(|w| w == b"\r\n") {
                Some(0) => return Ok((pos + 2, state, true)),
                Some(i) => pos += i + 2,
                None if rest.len() <= MAX_HEAD => return Ok((pos, state, false)),
                None => return Err(HttpError::TooLarge { limit: MAX_HEAD }),
            },
        }
    }
}

#[cfg(test)]
mod tests;
