//! One blocking connection to the control socket: connect with a deadline,
//! send a request, read bounded response and event lines.

use crate::protocol::{decode_response, encode_request, ErrorBody, Frame, LineReader, Request};
use nix::errno::Errno;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::socket::{self, sockopt, AddressFamily, SockFlag, SockType, UnixAddr};
use std::fmt;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, AsRawFd};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Why the daemon could not be talked to (exit status 3).
#[derive(Debug)]
pub enum ConnError {
    Connect { path: PathBuf, source: io::Error },
    Timeout(Duration),
    Closed,
    Io(io::Error),
    TooLong,
    BadResponse(String),
}

impl fmt::Display for ConnError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConnError::Connect { path, source } => {
                let path = path.display();
                match source.raw_os_error() {
                    Some(libc::ENOENT) => write!(f, "replayd is not running: no socket at {path}"),
                    Some(libc::ECONNREFUSED) => {
                        write!(f, "replayd is not running: nobody listens on {path}")
                    }
                    Some(libc::EACCES) => write!(
                        f,
                        "cannot connect to {path}: permission denied \
                         (is this user in replayd's admin group?)"
                    ),
                    _ => write!(f, "cannot connect to {path}: {source}"),
                }
            }
            ConnError::Timeout(t) => write!(f, "replayd did not answer within {}s", t.as_secs()),
            ConnError::Closed => write!(f, "replayd closed the connection"),
            ConnError::Io(e) => write!(f, "connection to replayd failed: {e}"),
            ConnError::TooLong => write!(
                f,
                "replayd sent a line longer than {} bytes",
                crate::protocol::MAX_LINE
            ),
            ConnError::BadResponse(why) => write!(f, "unexpected answer from replayd: {why}"),
        }
    }
}

impl std::error::Error for ConnError {}

/// A response line and what it says.
#[derive(Debug)]
pub struct Answer {
    /// The line as received, for `--json`.
    pub line: String,
    pub result: Result<serde_json::Value, ErrorBody>,
}

pub struct Conn {
    stream: UnixStream,
    lines: LineReader,
    timeout: Option<Duration>,
}

/// Connects without blocking past `timeout`: a daemon whose listen backlog is
/// full (stuck or overloaded) makes a blocking connect hang; a non-blocking
/// one says EAGAIN and is retried until the deadline.
fn connect_unix(path: &Path, timeout: Duration) -> io::Result<UnixStream> {
    let addr = UnixAddr::new(path).map_err(io::Error::from)?;
    let fd = socket::socket(
        AddressFamily::Unix,
        SockType::Stream,
        SockFlag::SOCK_NONBLOCK | SockFlag::SOCK_CLOEXEC,
        None,
    )
    .map_err(io::Error::from)?;
    let deadline = Instant::now() + timeout;
    loop {
        match socket::connect(fd.as_raw_fd(), &addr) {
            Ok(()) => break,
            Err(Errno::EAGAIN) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(Errno::EINPROGRESS) => {
                // Not what Linux does for AF_UNIX, but POSIX allows it:
                // wait for writability, then read the outcome.
                let left = deadline.saturating_duration_since(Instant::now());
                let ms = u16::try_from(left.as_millis()).unwrap_or(u16::MAX);
                let mut fds = [PollFd::new(fd.as_fd(), PollFlags::POLLOUT)];
                if poll(&mut fds, PollTimeout::from(ms)).map_err(io::Error::from)? == 0 {
                    return Err(io::ErrorKind::TimedOut.into());
                }
                match socket::getsockopt(&fd, sockopt::SocketError).map_err(io::Error::from)? {
                    0 => break,
                    e => return Err(io::Error::from_raw_os_error(e)),
                }
            }
            Err(Errno::EAGAIN) => return Err(io::ErrorKind::TimedOut.into()),
            Err(e) => return Err(e.into()),
        }
    }
    let stream = UnixStream::from(fd);
    stream.set_nonblocking(false)?;
    Ok(stream)
}

impl Conn {
    pub fn connect(path: &Path, timeout: Duration) -> Result<Conn, ConnError> {
        let stream = connect_unix(path, timeout).map_err(|source| ConnError::Connect {
            path: path.to_path_buf(),
            source,
        })?;
        let mut conn = Conn {
            stream,
            lines: LineReader::new(),
            timeout: None,
        };
        conn.set_timeout(Some(timeout))?;
        Ok(conn)
    }

    /// Bounds each read and write; `None` waits for ever (event streams).
    pub fn set_timeout(&mut self, timeout: Option<Duration>) -> Result<(), ConnError> {
        self.stream
            .set_read_timeout(timeout)
            .map_err(ConnError::Io)?;
        self.stream
            .set_write_timeout(timeout)
            .map_err(ConnError::Io)?;
        self.timeout = timeout;
        Ok(())
    }

    fn io_error(&self, e: io::Error) -> ConnError {
        match e.kind() {
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => {
                ConnError::Timeout(self.timeout.unwrap_or_default())
            }
            io::ErrorKind::BrokenPipe | io::ErrorKind::ConnectionReset => ConnError::Closed,
            _ => ConnError::Io(e),
        }
    }

    pub fn send(&mut self, request: &Request) -> Result<(), ConnError> {
        let line = encode_request(request);
        self.stream
            .write_all(line.as_bytes())
            .map_err(|e| self.io_error(e))
    }

    /// The next line from the daemon, without its newline.
    pub fn next_line(&mut self) -> Result<String, ConnError> {
        let mut buf = [0u8; 8192];
        loop {
            match self.lines.next_frame() {
                Some(Frame::Line(bytes)) => {
                    return String::from_utf8(bytes)
                        .map_err(|_| ConnError::BadResponse("a line is not UTF-8".into()))
                }
                Some(Frame::TooLong) => return Err(ConnError::TooLong),
                None => {}
            }
            match self.stream.read(&mut buf) {
                Ok(0) => return Err(ConnError::Closed),
                Ok(n) => self.lines.push(&buf[..n]),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(self.io_error(e)),
            }
        }
    }

    /// Sends a request and reads its one response line.
    pub fn call(&mut self, request: &Request) -> Result<Answer, ConnError> {
        self.send(request)?;
        let line = self.next_line()?;
        let result = decode_response(&line).map_err(ConnError::BadResponse)?;
        Ok(Answer { line, result })
    }
}

#[cfg(test)]
mod tests;
