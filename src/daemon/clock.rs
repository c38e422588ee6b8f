//! Time: deadlines live on CLOCK_BOOTTIME (never jumps, counts suspend), the
//! wall clock is only for what people read. One timerfd is armed to the
//! nearest deadline, so an idle daemon never wakes up.

use std::io;
use std::os::fd::{AsFd, BorrowedFd};

use nix::sys::time::TimeSpec;
use nix::sys::timerfd::{ClockId, Expiration, TimerFd, TimerFlags, TimerSetTimeFlags};
use nix::time::clock_gettime;

/// Seconds on the boot-time clock (shared by every process of this boot).
pub fn boottime() -> f64 {
    clock_gettime(nix::time::ClockId::CLOCK_BOOTTIME)
        .map(timespec_secs)
        .unwrap_or(0.0)
}

/// Unix seconds, for display and for the NVR's timestamps.
pub fn wall() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

fn timespec_secs(ts: TimeSpec) -> f64 {
    ts.tv_sec() as f64 + ts.tv_nsec() as f64 / 1e9
}

pub struct Timer {
    fd: TimerFd,
    armed: Option<f64>,
}

impl Timer {
    pub fn new() -> io::Result<Timer> {
        let fd = TimerFd::new(
            ClockId::CLOCK_BOOTTIME,
            TimerFlags::TFD_NONBLOCK | TimerFlags::TFD_CLOEXEC,
        )?;
        Ok(Timer { fd, armed: None })
    }

    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// Arms the timer for a boot-time deadline, or disarms it.
    ///
    /// Armed relative to now rather than with TFD_TIMER_ABSTIME: the same
    /// clock either way, and a relative timer stays right under tools that
    /// shift the wall clock by intercepting timer calls (libfaketime in
    /// the wall-clock test shifts absolute timer expirations too).
    pub fn arm(&mut self, deadline: Option<f64>) -> io::Result<()> {
        if deadline == self.armed {
            return Ok(());
        }
        match deadline {
            Some(at) => {
                // A deadline already past still needs one wake-up: never arm 0 (= disarm).
                let wait = (at - boottime()).max(1e-6);
                let wait = if wait.is_finite() { wait } else { 1e-6 };
                let secs = wait.trunc() as i64;
                let nanos = ((wait - wait.trunc()) * 1e9) as i64;
                let spec = TimeSpec::new(secs, nanos.clamp(0, 999_999_999));
                self.fd
                    .set(Expiration::OneShot(spec), TimerSetTimeFlags::empty())?;
            }
            None => self.fd.unset()?,
        }
        self.armed = deadline;
        Ok(())
    }

    /// Consumes the expiration count after the fd polled readable.
    pub fn acknowledge(&mut self) {
        let mut buf = [0u8; 8];
        let _ = nix::unistd::read(self.fd.as_fd(), &mut buf);
        self.armed = None;
    }
}
