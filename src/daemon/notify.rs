//! The systemd service-manager side: sd_notify states and socket activation.
//!
//! Without NOTIFY_SOCKET every call is a no-op, so the daemon runs the same
//! in a terminal. Send errors are warnings, never fatal: a lost STATUS= must
//! not take a session down.

use sd_notify::NotifyState;
use std::os::fd::{FromRawFd, OwnedFd};
use std::time::Duration;

#[derive(Debug, Default)]
pub struct Notifier {
    last_status: String,
    warned: bool,
}

impl Notifier {
    pub fn new() -> Self {
        Self::default()
    }

    fn send(&mut self, states: &[NotifyState]) {
        if let Err(e) = sd_notify::notify(states) {
            // One warning is enough: a broken notify socket stays broken.
            if !self.warned {
                log::warn!("sd_notify failed: {e}");
                self.warned = true;
            }
        }
    }

    /// READY=1 with the current status line.
    pub fn ready(&mut self, status: &str) {
        self.last_status = status.to_string();
        self.send(&[NotifyState::Ready, NotifyState::Status(status)]);
    }

    /// STATUS=, sent only when the text changed.
    pub fn status(&mut self, status: &str) {
        if self.last_status != status {
            self.last_status = status.to_string();
            self.send(&[NotifyState::Status(status)]);
        }
    }

    pub fn reloading(&mut self) {
        self.send(&[NotifyState::Reloading, NotifyState::Status("reloading")]);
    }

    pub fn stopping(&mut self) {
        self.send(&[NotifyState::Stopping, NotifyState::Status("stopping")]);
    }

    pub fn watchdog(&mut self) {
        self.send(&[NotifyState::Watchdog]);
    }
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
