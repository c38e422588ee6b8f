//! A child process (ffmpeg, ffprobe) owned through its pidfd from spawn to reap.
//!
//! Signals go through the pidfd so a recycled pid can never be hit; the loop
//! polls the pidfd for exit and the pipes for output, so nothing here blocks.

use std::collections::VecDeque;
use std::ffi::OsString;
use std::io::{self, Read};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, ExitStatus, Stdio};

use rustix::process::{pidfd_open, pidfd_send_signal, Pid, PidfdFlags, Signal};

/// How many stderr lines are kept for the error message.
const STDERR_TAIL_LINES: usize = 12;
/// Longest stderr line kept; ffmpeg lines are short, garbage is cut.
const STDERR_LINE_MAX: usize = 512;

/// Whether the child runs at the lowest CPU and IO priority.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Priority {
    Normal,
    Background,
}

pub struct Child {
    name: &'static str,
    inner: std::process::Child,
    pidfd: OwnedFd,
    stdout: Option<std::process::ChildStdout>,
    stderr: Option<std::process::ChildStderr>,
    tail: VecDeque<String>,
    partial: Vec<u8>,
    term_sent: bool,
    status: Option<ExitStatus>,
}

impl Child {
    /// Starts `program` with piped stdout and stderr, no stdin, and a
    /// parent-death signal so it never outlives the daemon.
    pub fn spawn(
        name: &'static str,
        program: &Path,
        args: &[OsString],
        priority: Priority,
    ) -> io::Result<Child> {
        Child::spawn_with_fd(name, program, args, priority, None)
    }

    /// Like [`Child::spawn`], and `inherit` stays open in the child under
    /// its number (an output file opened by the daemon, which the child
    /// reaches as `/proc/self/fd/N`, never by a path someone can swap).
    pub fn spawn_with_fd(
        name: &'static str,
        program: &Path,
        args: &[OsString],
        priority: Priority,
        inherit: Option<BorrowedFd<'_>>,
    ) -> io::Result<Child> {
        let inherit = inherit.map(|fd| fd.as_raw_fd());
        let mut command = Command::new(program);
        command
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let parent = std::process::id() as libc::pid_t;
        // SAFETY: only async-signal-safe libc calls between fork and exec.
        unsafe {
            command.pre_exec(move || {
                if libc::prctl(
                    libc::PR_SET_PDEATHSIG,
                    libc::SIGKILL as libc::c_ulong,
                    0,
                    0,
                    0,
                ) != 0
                {
                    return Err(io::Error::last_os_error());
                }
                // The daemon may have died between fork and prctl: then no signal comes.
                if libc::getppid() != parent {
                    return Err(io::Error::from_raw_os_error(libc::ESRCH));
                }
                if let Some(fd) = inherit {
                    if libc::fcntl(fd, libc::F_SETFD, 0) != 0 {
                        return Err(io::Error::last_os_error());
                    }
                }
                if priority == Priority::Background {
                    // Failure only means we keep normal priority; not worth failing the job.
                    libc::setpriority(libc::PRIO_PROCESS, 0, 19);
                    // ioprio_set(IOPRIO_WHO_PROCESS, self, best-effort class, lowest level 7):
                    // the idle class could starve the clip forever on a busy NVR disk.
                    const IOPRIO_CLASS_BE: libc::c_long = 2;
                    libc::syscall(libc::SYS_ioprio_set, 1, 0, (IOPRIO_CLASS_BE << 13) | 7);
                }
                Ok(())
            });
        }
        let mut inner = command.spawn()?;
        let pid = Pid::from_raw(inner.id() as i32).ok_or_else(|| io::Error::other("bad pid"))?;
        let pidfd = match pidfd_open(pid, PidfdFlags::NONBLOCK) {
            Ok(fd) => fd,
            Err(e) => {
                // Without a pidfd we cannot own it safely: end it now.
                let _ = inner.kill();
                let _ = inner.wait();
                return Err(e.into());
            }
        };
        let stdout = inner.stdout.take();
        let stderr = inner.stderr.take();
        for fd in [
            stdout.as_ref().map(|s| s.as_fd()),
            stderr.as_ref().map(|s| s.as_fd()),
        ]
        .into_iter()
        .flatten()
        {
            set_nonblocking(fd)?;
        }
        Ok(Child {
            name,
            inner,
            pidfd,
            stdout,
            stderr,
            tail: VecDeque::new(),
            partial: Vec::new(),
            term_sent: false,
            status: None,
        })
    }

    pub fn name(&self) -> &'static str {
        self.name
    }

    pub fn pid(&self) -> u32 {
        self.inner.id()
    }

    pub fn pidfd(&self) -> BorrowedFd<'_> {
        self.pidfd.as_fd()
    }

    pub fn stdout_fd(&self) -> Option<BorrowedFd<'_>> {
        self.stdout.as_ref().map(|s| s.as_fd())
    }

    pub fn stderr_fd(&self) -> Option<BorrowedFd<'_>> {
        self.stderr.as_ref().map(|s| s.as_fd())
    }

    /// Appends what stdout has now to `out`; closes it at end of file.
    pub fn read_stdout(&mut self, out: &mut Vec<u8>) {
        if let Some(stdout) = self.stdout.as_mut() {
            if read_available(stdout, |chunk| out.extend_from_slice(chunk)) {
                self.stdout = None;
            }
        }
    }

    /// Drains stderr into the kept tail; closes it at end of file.
    pub fn drain_stderr(&mut self) {
        let Some(mut stderr) = self.stderr.take() else {
            return;
        };
        let mut chunks = Vec::new();
        let eof = read_available(&mut stderr, |chunk| chunks.extend_from_slice(chunk));
        self.keep_stderr(&chunks);
        if eof {
            self.flush_partial();
        } else {
            self.stderr = Some(stderr);
        }
    }

    fn keep_stderr(&mut self, bytes: &[u8]) {
        for &b in bytes {
            if b == b'\n' || b == b'\r' {
                self.flush_partial();
            } else if self.partial.len() < STDERR_LINE_MAX {
                self.partial.push(b);
            }
        }
    }

    fn flush_partial(&mut self) {
        if self.partial.is_empty() {
            return;
        }
        let line = String::from_utf8_lossy(&self.partial).trim().to_string();
        self.partial.clear();
        if line.is_empty() {
            return;
        }
        log::debug!("{} [{}]: {}", self.name, self.pid(), line);
        if self.tail.len() == STDERR_TAIL_LINES {
            self.tail.pop_front();
        }
        self.tail.push_back(line);
    }

    /// The last stderr lines, joined for an error message.
    pub fn stderr_tail(&self) -> String {
        self.tail.iter().cloned().collect::<Vec<_>>().join("; ")
    }

    /// Sends SIGTERM once: a second one makes ffmpeg abandon its file.
    pub fn terminate(&mut self) {
        if self.term_sent || self.status.is_some() {
            return;
        }
        self.term_sent = true;
        if let Err(e) = pidfd_send_signal(&self.pidfd, Signal::TERM) {
            log::warn!("cannot send SIGTERM to {} [{}]: {e}", self.name, self.pid());
        }
    }

    pub fn kill(&mut self) {
        if self.status.is_some() {
            return;
        }
        if let Err(e) = pidfd_send_signal(&self.pidfd, Signal::KILL) {
            log::warn!("cannot send SIGKILL to {} [{}]: {e}", self.name, self.pid());
        }
    }

    /// Reaps the child if it exited (spurious pidfd wake-ups give `None`),
    /// then drains whatever its pipes still hold.
    pub fn try_reap(&mut self) -> io::Result<Option<ExitStatus>> {
        if let Some(status) = self.status {
            return Ok(Some(status));
        }
        let status = self.inner.try_wait()?;
        if let Some(status) = status {
            self.status = Some(status);
            self.drain_stderr();
            self.flush_partial();
        }
        Ok(status)
    }

    /// Blocks until the child is gone (used only at shutdown, after SIGKILL).
    pub fn wait_blocking(&mut self) {
        if self.status.is_none() {
            if let Ok(status) = self.inner.wait() {
                self.status = Some(status);
            }
        }
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        // Never leave a live child or a zombie behind.
        if self.status.is_none() {
            self.kill();
            self.wait_blocking();
        }
    }
}

/// Reads until WouldBlock or EOF; returns true at EOF or on a hard error.
fn read_available(reader: &mut impl Read, mut sink: impl FnMut(&[u8])) -> bool {
    let mut buf = [0u8; 8192];
    loop {
        match reader.read(&mut buf) {
            Ok(0) => return true,
            Ok(n) => sink(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return false,
            Err(_) => return true,
        }
    }
}

pub fn set_nonblocking(fd: BorrowedFd<'_>) -> io::Result<()> {
    use nix::fcntl::{fcntl, FcntlArg, OFlag};
    let flags = fcntl(fd, FcntlArg::F_GETFL).map_err(io::Error::from)?;
    let flags = OFlag::from_bits_truncate(flags) | OFlag::O_NONBLOCK;
    fcntl(fd, FcntlArg::F_SETFL(flags)).map_err(io::Error::from)?;
    Ok(())
}

/// The process's start time in clock ticks since boot (field 22 of
/// /proc/PID/stat): with the pid it identifies one process across restarts.
pub fn process_start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may contain spaces and parentheses: split after the last ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(19)?.parse().ok()
}
