//! The log sink, chosen once at start-up: journal, syslog or stderr (SPEC §5).
//!
//! Whatever the sink, logging never blocks and never panics: the daemon is
//! one poll loop, and a log line that waits for a stuck reader would stop it
//! from handling SIGTERM. A line that cannot be written at once is dropped
//! and counted, and the count is reported once writing works again.

use std::borrow::Cow;
use std::io::{self, IsTerminal};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::path::Path;
use std::sync::{Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use log::{Level, LevelFilter, Log, Metadata, Record};
use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout};
use nix::sys::socket::MsgFlags;
use syslog::{Facility, Formatter3164, LoggerBackend};

use crate::config::LogTarget;

/// The local syslog socket. Only this one: `syslog::init()` and friends fall
/// back to TCP/UDP, where lines vanish without a trace.
pub const SYSLOG_SOCKET: &str = "/dev/log";

const PROCESS_NAME: &str = "replayd";

/// Syslog daemons truncate or refuse long datagrams (rsyslog's default is
/// 8 KiB, a datagram larger than the socket buffer fails outright).
const SYSLOG_MAX_MESSAGE: usize = 8000;

/// A syslog daemon that restarts leaves our connected socket pointing at
/// nothing; reconnecting is cheap, but not on every line.
const SYSLOG_RECONNECT_INTERVAL: Duration = Duration::from_secs(1);

/// The sink that `init` installed, for `--check-config` and start-up logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sink {
    /// stderr with `<N>` priority prefixes, read by journald.
    Journal,
    /// The local syslog socket.
    Syslog,
    /// Plain `LEVEL message` lines on stderr.
    Stderr,
}

impl Sink {
    pub fn as_str(self) -> &'static str {
        match self {
            Sink::Journal => "journal",
            Sink::Syslog => "syslog",
            Sink::Stderr => "stderr",
        }
    }
}

static INSTALLED: OnceLock<Sink> = OnceLock::new();

/// Installs the `log` facade's sink. Call once.
pub fn init(target: LogTarget, level: log::LevelFilter) {
    init_sink(target, level);
}

/// Like [`init`], and tells which sink is in use (after any fallback; on a
/// second call, the one the first call installed).
pub fn init_sink(target: LogTarget, level: LevelFilter) -> Sink {
    let stderr = io::stderr();
    let stat = rustix::fs::fstat(stderr.as_fd()).ok();
    let journal = stderr_is_journal();
    let stderr_is_socket = stat.as_ref().is_some_and(|st| {
        rustix::fs::FileType::from_raw_mode(st.st_mode) == rustix::fs::FileType::Socket
    });
    let wanted = choose_sink(
        target,
        journal,
        stderr.is_terminal(),
        Path::new(SYSLOG_SOCKET).exists(),
    );

    let mut fallback_reason = None;
    let (sink, output) = match wanted {
        Sink::Syslog => match SyslogOutput::connect(Path::new(SYSLOG_SOCKET)) {
            Ok(out) => (Sink::Syslog, Output::Syslog(out)),
            Err(e) => {
                fallback_reason = Some(e);
                let style = if journal { Sink::Journal } else { Sink::Stderr };
                let out = StderrOutput::new(style, Box::new(io::stderr()), stderr_is_socket);
                (style, Output::Stderr(out))
            }
        },
        style => {
            let out = StderrOutput::new(style, Box::new(io::stderr()), stderr_is_socket);
            (style, Output::Stderr(out))
        }
    };

    log::set_max_level(level);
    let logger = Logger {
        output: Mutex::new(output),
    };
    if log::set_boxed_logger(Box::new(logger)).is_err() {
        // A second call only changes the level; the first sink stays.
        return INSTALLED.get().copied().unwrap_or(sink);
    }
    let _ = INSTALLED.set(sink);
    if let Some(e) = fallback_reason {
        log::warn!("cannot log to syslog at {SYSLOG_SOCKET} ({e}); logging to stderr");
    }
    sink
}

/// Whether stderr is the journal's stream (JOURNAL_STREAM names it), so a
/// line there can carry a `<N>` priority prefix.
pub fn stderr_is_journal() -> bool {
    let stat = rustix::fs::fstat(io::stderr().as_fd()).ok();
    match (std::env::var("JOURNAL_STREAM"), &stat) {
        (Ok(value), Some(st)) => {
            let (dev, ino) = dev_ino(st);
            journal_stream_matches(&value, dev, ino)
        }
        _ => false,
    }
}

/// Changes the level after a reload.
pub fn set_level(level: log::LevelFilter) {
    log::set_max_level(level);
}

// The widths of st_dev and st_ino differ between architectures.
#[allow(clippy::unnecessary_cast)]
fn dev_ino(st: &rustix::fs::Stat) -> (u64, u64) {
    (st.st_dev as u64, st.st_ino as u64)
}

// ---------------------------------------------------------------------------
// Pure decisions

/// Which sink `target` means here. `journal`: JOURNAL_STREAM names our
/// stderr; `tty`: stderr is a terminal; `dev_log`: the syslog socket exists.
pub fn choose_sink(target: LogTarget, journal: bool, tty: bool, dev_log: bool) -> Sink {
    match target {
        LogTarget::Journal => Sink::Journal,
        LogTarget::Syslog => Sink::Syslog,
        LogTarget::Stderr => Sink::Stderr,
        LogTarget::Auto if journal => Sink::Journal,
        LogTarget::Auto if tty => Sink::Stderr,
        LogTarget::Auto if dev_log => Sink::Syslog,
        LogTarget::Auto => Sink::Stderr,
    }
}

/// Whether `$JOURNAL_STREAM` ("DEV:INODE", decimal) names the file with
/// these numbers. systemd sets it for the stream it gave us; a child that
/// inherited the variable but had stderr redirected must not match.
pub fn journal_stream_matches(value: &str, dev: u64, ino: u64) -> bool {
    let Some((d, i)) = value.trim().split_once(':') else {
        return false;
    };
    matches!((d.parse::<u64>(), i.parse::<u64>()), (Ok(d), Ok(i)) if d == dev && i == ino)
}

/// sd-daemon(3) priority of a level: what journald reads from `<N>`.
pub fn priority(level: Level) -> u8 {
    match level {
        Level::Error => 3,
        Level::Warn => 4,
        Level::Info => 6,
        Level::Debug | Level::Trace => 7,
    }
}

/// Keeps a record on one line, so that a message that embeds text from
/// elsewhere (ffmpeg's stderr, a peer's request) cannot forge log lines.
pub fn escape(message: &str) -> Cow<'_, str> {
    if !message.contains(['\n', '\r']) {
        return Cow::Borrowed(message);
    }
    Cow::Owned(message.replace('\n', "\\n").replace('\r', "\\r"))
}

/// `<6>message\n`: journald adds the timestamp and the unit.
pub fn journal_line(level: Level, message: &str) -> String {
    format!("<{}>{}\n", priority(level), escape(message))
}

/// `INFO message\n`.
pub fn stderr_line(level: Level, message: &str) -> String {
    format!("{} {}\n", level.as_str(), escape(message))
}

/// Cuts `s` to at most `max` bytes on a character boundary.
fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

fn dropped_notice(count: u64) -> String {
    format!("{count} log line(s) dropped: the log reader was not keeping up")
}

// ---------------------------------------------------------------------------
// The logger

struct Logger {
    output: Mutex<Output>,
}

enum Output {
    Stderr(StderrOutput),
    Syslog(SyslogOutput),
}

impl Logger {
    fn output(&self) -> MutexGuard<'_, Output> {
        // A panic elsewhere while holding the lock must not silence logging.
        self.output.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Log for Logger {
    fn enabled(&self, metadata: &Metadata) -> bool {
        metadata.level() <= log::max_level()
    }

    fn log(&self, record: &Record) {
        if !self.enabled(record.metadata()) {
            return;
        }
        // Formatted before locking: a Display impl that logs must not deadlock.
        let message = record.args().to_string();
        match &mut *self.output() {
            Output::Stderr(out) => out.log(record.level(), &message),
            Output::Syslog(out) => out.log(record.level(), &message),
        }
    }

    fn flush(&self) {}
}

/// stderr, written without ever waiting.
struct StderrOutput {
    style: Sink,
    /// stderr; a pipe or socket pair in tests.
    fd: Box<dyn AsFd + Send>,
    /// A socket (journald's stream) takes `MSG_DONTWAIT`; O_NONBLOCK would
    /// instead change the file description we share with stdout.
    is_socket: bool,
    /// The last write stopped mid-line; the next one first ends that line
    /// so that two records never merge.
    broken_line: bool,
    dropped: u64,
}

impl StderrOutput {
    fn new(style: Sink, fd: Box<dyn AsFd + Send>, is_socket: bool) -> Self {
        StderrOutput {
            style,
            fd,
            is_socket,
            broken_line: false,
            dropped: 0,
        }
    }

    fn format(&self, level: Level, message: &str) -> String {
        match self.style {
            Sink::Journal => journal_line(level, message),
            Sink::Syslog | Sink::Stderr => stderr_line(level, message),
        }
    }

    fn log(&mut self, level: Level, message: &str) {
        if self.dropped > 0 {
            let notice = self.format(Level::Warn, &dropped_notice(self.dropped));
            if self.write_line(&notice) {
                self.dropped = 0;
            }
        }
        let line = self.format(level, message);
        if !self.write_line(&line) {
            self.dropped += 1;
        }
    }

    /// Writes one whole line, or as much as fits now. True if all of it went out.
    fn write_line(&mut self, line: &str) -> bool {
        let mut buf = Vec::with_capacity(line.len() + 1);
        if self.broken_line {
            buf.push(b'\n');
        }
        buf.extend_from_slice(line.as_bytes());
        let fd = self.fd.as_fd();
        let mut written = 0;
        while written < buf.len() {
            match write_now(fd, &buf[written..], self.is_socket) {
                Ok(0) => break,
                Ok(n) => written += n,
                Err(Errno::EINTR) => continue,
                Err(_) => break,
            }
        }
        if written == buf.len() {
            self.broken_line = false;
            true
        } else {
            // Nothing written: the previous state holds. Part of it: we are mid-line now.
            if written > 0 {
                self.broken_line = true;
            }
            false
        }
    }
}

/// One write that returns at once: EAGAIN instead of waiting.
fn write_now(fd: BorrowedFd<'_>, buf: &[u8], is_socket: bool) -> Result<usize, Errno> {
    if is_socket {
        let flags = MsgFlags::MSG_DONTWAIT | MsgFlags::MSG_NOSIGNAL;
        return nix::sys::socket::send(fd.as_raw_fd(), buf, flags);
    }
    // Pipes, files and terminals cannot be asked not to block without
    // changing the shared file description (O_NONBLOCK), so write only when
    // poll says there is room, and no more than PIPE_BUF at once: a writable
    // pipe has at least that much free, a larger write could wait for the rest.
    let buf = &buf[..buf.len().min(libc::PIPE_BUF)];
    let mut fds = [PollFd::new(fd, PollFlags::POLLOUT)];
    let ready = nix::poll::poll(&mut fds, PollTimeout::ZERO)?;
    let writable = fds[0]
        .revents()
        .is_some_and(|r| r.contains(PollFlags::POLLOUT));
    if ready == 0 || !writable {
        return Err(Errno::EAGAIN);
    }
    nix::unistd::write(fd, buf)
}

/// The syslog crate's formatter over its unix datagram backend, made non-blocking.
struct SyslogOutput {
    logger: syslog::Logger<LoggerBackend, Formatter3164>,
    path: &'static Path,
    last_reconnect: Option<Instant>,
    dropped: u64,
}

impl SyslogOutput {
    fn connect(path: &'static Path) -> io::Result<Self> {
        Ok(SyslogOutput {
            logger: connect_syslog(path)?,
            path,
            last_reconnect: None,
            dropped: 0,
        })
    }

    fn log(&mut self, level: Level, message: &str) {
        if self.dropped > 0
            && self
                .send(Level::Warn, &dropped_notice(self.dropped))
                .is_ok()
        {
            self.dropped = 0;
        }
        let message = escape(message);
        let message = truncate(&message, SYSLOG_MAX_MESSAGE);
        let result = match self.send(level, message) {
            Err(e) if needs_reconnect(&e) && self.reconnect() => self.send(level, message),
            other => other,
        };
        if result.is_err() {
            self.dropped += 1;
        }
    }

    fn send(&mut self, level: Level, message: &str) -> syslog::Result<()> {
        match level {
            Level::Error => self.logger.err(message),
            Level::Warn => self.logger.warning(message),
            Level::Info => self.logger.info(message),
            Level::Debug | Level::Trace => self.logger.debug(message),
        }
    }

    fn reconnect(&mut self) -> bool {
        let now = Instant::now();
        if self
            .last_reconnect
            .is_some_and(|t| now.duration_since(t) < SYSLOG_RECONNECT_INTERVAL)
        {
            return false;
        }
        self.last_reconnect = Some(now);
        match connect_syslog(self.path) {
            Ok(logger) => {
                self.logger = logger;
                true
            }
            Err(_) => false,
        }
    }
}

/// The syslog daemon went away (restart): a new socket may reach the new one.
fn needs_reconnect(e: &syslog::Error) -> bool {
    let io = match e {
        syslog::Error::Write(io) | syslog::Error::Io(io) => io,
        syslog::Error::Initialization(_) => return false,
    };
    matches!(
        io.raw_os_error(),
        Some(libc::ECONNREFUSED | libc::ENOTCONN | libc::ENOENT | libc::ECONNRESET)
    )
}

fn connect_syslog(path: &Path) -> io::Result<syslog::Logger<LoggerBackend, Formatter3164>> {
    let formatter = Formatter3164 {
        facility: Facility::LOG_DAEMON,
        // Local syslog fills in the host; RFC 3164 over /dev/log omits it.
        hostname: None,
        process: PROCESS_NAME.to_string(),
        pid: std::process::id(),
    };
    let logger = syslog::unix_custom(formatter, path).map_err(io::Error::other)?;
    match &logger.backend {
        // The crate's socket blocks when the reader lags; a log line must
        // never stall the loop, so a full queue drops the line instead.
        LoggerBackend::Unix(socket) => socket.set_nonblocking(true)?,
        // A stream socket would need buffering and framing to be
        // non-blocking; Linux syslog daemons listen on datagrams.
        _ => {
            return Err(io::Error::other(format!(
                "{} is not a datagram socket",
                path.display()
            )))
        }
    }
    Ok(logger)
}

#[cfg(test)]
mod tests;
