//! A line-protocol client for tests: one JSON object per line.
//!
//! Lines that carry an `"event"` key are events; everything else is a
//! response. `request` skips (and queues) events that arrive before its
//! response, so one connection can both subscribe and send requests.

use serde_json::Value;
use std::collections::VecDeque;
use std::io::{self, BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// How long `connect` retries.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long `request` waits for its response.
pub const RESPONSE_TIMEOUT: Duration = Duration::from_secs(30);

pub struct Client {
    path: PathBuf,
    reader: BufReader<UnixStream>,
    writer: UnixStream,
    /// Bytes of a line not complete yet (a read timed out mid-line).
    partial: Vec<u8>,
    /// Lines read while looking for something else, not consumed yet.
    queued: VecDeque<String>,
    /// Every event returned by `next_event` so far.
    seen_events: Vec<Value>,
    closed: bool,
}

impl Client {
    /// Connects, retrying with backoff (10 ms doubling to 200 ms) for up to
    /// five seconds; panics after that.
    pub fn connect(path: impl AsRef<Path>) -> Client {
        let path = path.as_ref();
        let deadline = Instant::now() + CONNECT_TIMEOUT;
        let mut backoff = Duration::from_millis(10);
        loop {
            match Client::try_connect(path) {
                Ok(c) => return c,
                Err(e) if Instant::now() >= deadline => {
                    panic!(
                        "cannot connect to {} within {CONNECT_TIMEOUT:?}: {e}",
                        path.display()
                    )
                }
                Err(_) => {
                    std::thread::sleep(backoff);
                    backoff = (backoff * 2).min(Duration::from_millis(200));
                }
            }
        }
    }

    /// One connection attempt.
    pub fn try_connect(path: impl AsRef<Path>) -> io::Result<Client> {
        let stream = UnixStream::connect(path.as_ref())?;
        let writer = stream.try_clone()?;
        writer.set_write_timeout(Some(RESPONSE_TIMEOUT))?;
        Ok(Client {
            path: path.as_ref().to_path_buf(),
            reader: BufReader::new(stream),
            writer,
            partial: Vec::new(),
            queued: VecDeque::new(),
            seen_events: Vec::new(),
            closed: false,
        })
    }

    /// Connects and subscribes; panics unless the daemon says `ok`.
    pub fn subscribe(path: impl AsRef<Path>) -> Client {
        let mut c = Client::connect(path);
        let reply = c.request(&serde_json::json!({"cmd": "subscribe"}));
        assert_eq!(reply["ok"], true, "subscribe refused: {reply}");
        c
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Sends one request and returns its response (events that arrive
    /// first are queued for `next_event`). Panics after 30 s.
    pub fn request(&mut self, req: &Value) -> Value {
        let mut line = serde_json::to_string(req).expect("serialize request");
        line.push('\n');
        self.send_raw(line.as_bytes());
        self.read_response(RESPONSE_TIMEOUT)
            .unwrap_or_else(|| panic!("no response to {req} within {RESPONSE_TIMEOUT:?}"))
    }

    /// `request` with a `{"cmd": cmd}` body.
    pub fn cmd(&mut self, cmd: &str) -> Value {
        self.request(&serde_json::json!({ "cmd": cmd }))
    }

    /// Writes bytes as they are (garbage, partial lines, huge lines).
    pub fn send_raw(&mut self, bytes: &[u8]) {
        self.writer
            .write_all(bytes)
            .unwrap_or_else(|e| panic!("write to {}: {e}", self.path.display()));
    }

    /// Like `send_raw`, but returns the error (the daemon may have closed).
    pub fn try_send_raw(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.writer.write_all(bytes)
    }

    /// The next non-event line, parsed; events before it are queued.
    /// `None` on timeout or end of stream.
    pub fn read_response(&mut self, timeout: Duration) -> Option<Value> {
        let deadline = Instant::now() + timeout;
        // A response already read while waiting for events?
        if let Some(i) = self.queued.iter().position(|l| !is_event_line(l)) {
            let line = self.queued.remove(i).unwrap();
            return Some(parse(&line));
        }
        loop {
            let line = self.read_socket_line(deadline)?;
            if is_event_line(&line) {
                self.queued.push_back(line);
            } else {
                return Some(parse(&line));
            }
        }
    }

    /// The next line (queued first), raw, without its newline. `None` on
    /// timeout or end of stream.
    pub fn read_line_timeout(&mut self, timeout: Duration) -> Option<String> {
        if let Some(line) = self.queued.pop_front() {
            return Some(line);
        }
        self.read_socket_line(Instant::now() + timeout)
    }

    /// The next event line, parsed. Responses met on the way stay queued
    /// for `read_response`.
    pub fn next_event(&mut self, timeout: Duration) -> Option<Value> {
        let deadline = Instant::now() + timeout;
        let line = if let Some(i) = self.queued.iter().position(|l| is_event_line(l)) {
            self.queued.remove(i).unwrap()
        } else {
            loop {
                let line = self.read_socket_line(deadline)?;
                if is_event_line(&line) {
                    break line;
                }
                self.queued.push_back(line);
            }
        };
        let event = parse(&line);
        self.seen_events.push(event.clone());
        Some(event)
    }

    /// Reads events until one matches `pred` (the others are kept in
    /// `seen_events`); `None` if none does within `timeout`.
    pub fn wait_for_event(
        &mut self,
        timeout: Duration,
        pred: impl Fn(&Value) -> bool,
    ) -> Option<Value> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let event = self.next_event(left)?;
            if pred(&event) {
                return Some(event);
            }
        }
    }

    /// Every event returned so far.
    pub fn seen_events(&self) -> &[Value] {
        &self.seen_events
    }

    /// Whether the daemon closed the connection (EOF) within `timeout`;
    /// lines read meanwhile are queued.
    pub fn wait_closed(&mut self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while !self.closed {
            match self.read_socket_line(deadline) {
                Some(line) => self.queued.push_back(line),
                None if self.closed => break,
                None => return false,
            }
        }
        true
    }

    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// Half-closes the sending side (the daemon sees EOF).
    pub fn shutdown_write(&mut self) {
        let _ = self.writer.shutdown(std::net::Shutdown::Write);
    }

    /// Reads one line from the socket until `deadline`; keeps a partial line
    /// across timeouts. `None` on timeout, EOF or a read error.
    fn read_socket_line(&mut self, deadline: Instant) -> Option<String> {
        if self.closed {
            return None;
        }
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return None;
            }
            self.reader
                .get_ref()
                .set_read_timeout(Some(left))
                .expect("set_read_timeout");
            match self.reader.read_until(b'\n', &mut self.partial) {
                Ok(0) => {
                    self.closed = true;
                    return None;
                }
                Ok(_) if self.partial.last() == Some(&b'\n') => {
                    let mut bytes = std::mem::take(&mut self.partial);
                    bytes.pop();
                    if bytes.last() == Some(&b'\r') {
                        bytes.pop();
                    }
                    return Some(String::from_utf8_lossy(&bytes).into_owned());
                }
                // EOF in the middle of a line: the next call returns Ok(0).
                Ok(_) => continue,
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    continue
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => {
                    // ECONNRESET and friends: the daemon dropped us.
                    self.closed = true;
                    return None;
                }
            }
        }
    }
}

fn is_event_line(line: &str) -> bool {
    serde_json::from_str::<Value>(line)
        .map(|v| v.get("event").is_some())
        .unwrap_or(false)
}

fn parse(line: &str) -> Value {
    serde_json::from_str(line)
        .unwrap_or_else(|e| panic!("daemon sent a non-JSON line ({e}): {line:?}"))
}
