//! The systemd service-manager side: sd_notify states and socket activation.
//!
//! Without NOTIFY_SOCKET every call is a no-op, so the daemon runs the same
//! in a terminal. Send errors are warnings, never fatal: a lost STATUS= must
//! not take a session down.
//!
//! Sends never block. The kernel queues only a few datagrams for a reader
//! (net.unix.max_dgram_qlen, 10 by default) and a blocking send waits for
//! room, so a service manager (or anything bound at NOTIFY_SOCKET) that
//! stops reading used to stall the whole loop. The daemon's own socket is
//! non-blocking; a message that does not fit is dropped and counted, and
//! the first drop is logged. What matters is sent again: a dropped state
//! change (READY, RELOADING, STOPPING) is retried before the next message,
//! and a dropped STATUS= at the loop's next report.

use sd_notify::NotifyState;
use std::ffi::OsStr;
use std::io;
use std::os::fd::{FromRawFd, OwnedFd};
use std::os::linux::net::SocketAddrExt;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::time::Duration;

#[derive(Debug)]
pub struct Notifier {
    target: Option<Target>,
    last_status: String,
    /// A state change that did not fit in the queue, sent again first.
    pending: Option<String>,
    dropped: u64,
    warned: bool,
}

#[derive(Debug)]
struct Target {
    socket: UnixDatagram,
    addr: SocketAddr,
}

impl Default for Notifier {
    fn default() -> Self {
        Self::new()
    }
}

impl Notifier {
    /// Sends to $NOTIFY_SOCKET; a no-op without it.
    pub fn new() -> Self {
        Self::for_socket(std::env::var_os("NOTIFY_SOCKET").as_deref())
    }

    /// Sends to `path`: a file system path, or `@name` for an abstract
    /// socket (as systemd writes NOTIFY_SOCKET); `None` or empty disables.
    pub fn for_socket(path: Option<&OsStr>) -> Self {
        let target = match path.filter(|p| !p.is_empty()).map(connect) {
            None => None,
            Some(Ok(target)) => Some(target),
            Some(Err(e)) => {
                log::warn!("sd_notify disabled: {e}");
                None
            }
        };
        Notifier {
            target,
            last_status: String::new(),
            pending: None,
            dropped: 0,
            warned: false,
        }
    }

    /// Messages dropped so far (queue full or send failed).
    #[cfg(test)]
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// READY=1 with the current status line.
    pub fn ready(&mut self, status: &str) {
        self.last_status = status.to_string();
        self.send_state(&[NotifyState::Ready, NotifyState::Status(status)]);
    }

    /// STATUS=, sent only when the text changed (or was dropped last time).
    pub fn status(&mut self, status: &str) {
        self.flush_pending();
        if self.last_status != status {
            self.last_status = status.to_string();
            if !self.send(&format_states(&[NotifyState::Status(status)])) {
                // Not the text systemd shows: send it again next time.
                self.last_status.clear();
            }
        }
    }

    pub fn reloading(&mut self) {
        self.send_state(&[NotifyState::Reloading, NotifyState::Status("reloading")]);
    }

    pub fn stopping(&mut self) {
        self.send_state(&[NotifyState::Stopping, NotifyState::Status("stopping")]);
        if self.dropped > 0 {
            log::warn!(
                "{} sd_notify message(s) were dropped while the service manager was not reading",
                self.dropped
            );
        }
    }

    /// WATCHDOG=1; a dropped ping is not retried (the next one is due soon).
    pub fn watchdog(&mut self) {
        self.flush_pending();
        self.send(&format_states(&[NotifyState::Watchdog]));
    }

    /// A state change: a dropped one replaces any older pending one (the
    /// newer state is the one systemd must end up with).
    fn send_state(&mut self, states: &[NotifyState]) {
        self.flush_pending();
        let message = format_states(states);
        if !self.send(&message) {
            self.pending = Some(message);
        }
    }

    fn flush_pending(&mut self) {
        if let Some(message) = self.pending.take() {
            if !self.send(&message) {
                self.pending = Some(message);
            }
        }
    }

    /// One non-blocking send; false when the message was dropped.
    fn send(&mut self, message: &str) -> bool {
        let Some(target) = &self.target else {
            return true;
        };
        let error = match target.socket.send_to_addr(message.as_bytes(), &target.addr) {
            Ok(n) if n == message.len() => return true,
            Ok(_) => io::Error::new(io::ErrorKind::WriteZero, "incomplete datagram"),
            Err(e) => e,
        };
        self.dropped += 1;
        // One warning is enough: a reader that lags or a broken socket
        // stays so for a while, and the count tells the rest.
        if !self.warned {
            self.warned = true;
            if error.kind() == io::ErrorKind::WouldBlock {
                log::warn!("sd_notify: the service manager is not reading its socket; dropping notifications (counted, not logged)");
            } else {
                log::warn!("sd_notify failed: {error}; further failures are counted, not logged");
            }
        }
        false
    }
}

fn connect(path: &OsStr) -> io::Result<Target> {
    let bytes = path.as_bytes();
    let addr = match bytes.first() {
        Some(b'@') => SocketAddr::from_abstract_name(&bytes[1..])?,
        Some(b'/') => SocketAddr::from_pathname(path)?,
        _ => {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "NOTIFY_SOCKET {:?} is neither an absolute path nor @abstract",
                    path
                ),
            ))
        }
    };
    let socket = UnixDatagram::unbound()?;
    socket.set_nonblocking(true)?;
    Ok(Target { socket, addr })
}

/// One datagram: each state on its line. A newline inside a status text
/// would start a new assignment (`STATUS=x\nREADY=1`): it becomes a space.
fn format_states(states: &[NotifyState]) -> String {
    let mut message = String::new();
    for state in states {
        let line = state.to_string().replace('\n', " ");
        message.push_str(&line);
        message.push('\n');
    }
    message
}

/// The watchdog ping interval: half of WATCHDOG_USEC, as sd_watchdog_enabled(3) advises.
pub fn watchdog_interval() -> Option<Duration> {
    sd_notify::watchdog_enabled().map(|usec| usec / 2)
}

/// The first socket passed by systemd (LISTEN_FDS/LISTEN_PID), if any.
pub fn activated_socket() -> Option<OwnedFd> {
    let mut fds = match sd_notify::listen_fds() {
        Ok(fds) => fds,
        Err(e) => {
            log::warn!("ignoring malformed LISTEN_FDS: {e}");
            return None;
        }
    };
    let fd = fds.next()?;
    if fds.len() > 0 {
        log::warn!("socket activation passed more than one fd; using the first");
    }
    // SAFETY: sd_listen_fds hands these fds to us exclusively (LISTEN_PID matched).
    Some(unsafe { OwnedFd::from_raw_fd(fd) })
}

#[cfg(test)]
mod tests;
