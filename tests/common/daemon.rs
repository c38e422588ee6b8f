//! The real `replayd` binary, spawned per test inside a [`TestRoot`].
//!
//! The harness binds `NOTIFY_SOCKET` itself and records every sd_notify
//! line the daemon sends, so tests can assert READY/STATUS/STOPPING. The
//! daemon's stdout and stderr go to `<root>/daemon.log`; when a test panics
//! while a `Daemon` is alive, the log's tail is printed. Drop always stops
//! and reaps the process (SIGTERM, SIGKILL after 3 s).

use super::client::Client;
use super::root::TestRoot;
use super::{replayd_bin, wait_until};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use std::ffi::OsString;
use std::fs;
use std::io::{self, Write as _};
use std::os::fd::AsRawFd;
use std::os::unix::net::{UnixDatagram, UnixListener};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How long `spawn` waits for READY=1.
pub const READY_TIMEOUT: Duration = Duration::from_secs(10);
/// Drop's grace between SIGTERM and SIGKILL.
pub const KILL_GRACE: Duration = Duration::from_secs(3);

/// Environment a developer's shell or a CI runner under systemd may carry
/// that would change how the daemon behaves; removed before each spawn.
pub const SCRUBBED_ENV: [&str; 14] = [
    "NOTIFY_SOCKET",
    "LISTEN_FDS",
    "LISTEN_PID",
    "LISTEN_FDNAMES",
    "WATCHDOG_USEC",
    "WATCHDOG_PID",
    "JOURNAL_STREAM",
    "RUNTIME_DIRECTORY",
    "CONFIG_FILE",
    "INVOCATION_ID",
    "KEEP_TEST_ROOT",
    // cargo's jobserver: its fds are not passed on (see pre_exec).
    "CARGO_MAKEFLAGS",
    "MAKEFLAGS",
    "MFLAGS",
];

static SPAWN_SEQ: AtomicUsize = AtomicUsize::new(0);

/// How to start the daemon; `Default` is what `Daemon::spawn` does.
#[derive(Default)]
pub struct SpawnOptions<'a> {
    /// Extra environment, applied after the scrub (may re-add scrubbed names).
    pub env: Vec<(String, String)>,
    /// Socket activation: this listener becomes fd 3, with LISTEN_FDS=1 and
    /// LISTEN_PID set to the daemon's pid.
    pub listener: Option<&'a UnixListener>,
    /// Arguments instead of `--config <root>/replayd.toml`.
    pub args: Option<Vec<OsString>>,
    /// Run the daemon as this uid and gid (the harness must be root; the
    /// notify socket is handed to that user).
    pub user: Option<(u32, u32)>,
}

/// A running (or exited, not yet dropped) replayd.
pub struct Daemon {
    child: Child,
    exit: Option<ExitStatus>,
    log_path: PathBuf,
    socket: PathBuf,
    notify: NotifyListener,
    /// A harness panic message already carried the log.
    reported: bool,
}

impl Daemon {
    /// Starts replayd with the root's replayd.toml and waits for READY=1.
    pub fn spawn(root: &TestRoot) -> Daemon {
        Daemon::spawn_opts(root, SpawnOptions::default())
    }

    /// Like `spawn`, with extra environment and optionally a listening
    /// socket passed as fd 3 (socket activation).
    pub fn spawn_with(
        root: &TestRoot,
        env: &[(&str, &str)],
        listener: Option<&UnixListener>,
    ) -> Daemon {
        Daemon::spawn_opts(
            root,
            SpawnOptions {
                env: env
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
                listener,
                args: None,
                user: None,
            },
        )
    }

    /// Starts and waits for READY=1; panics with the log if it never comes.
    pub fn spawn_opts(root: &TestRoot, opts: SpawnOptions<'_>) -> Daemon {
        let mut daemon = Daemon::launch(root, opts);
        if let Err(why) = daemon.wait_ready(READY_TIMEOUT) {
            panic!(
                "replayd did not become ready: {why}\n{}",
                daemon.report_once()
            );
        }
        daemon
    }

    /// Starts the daemon without waiting for anything (config-error tests,
    /// exit status checks).
    pub fn launch(root: &TestRoot, opts: SpawnOptions<'_>) -> Daemon {
        let seq = SPAWN_SEQ.fetch_add(1, Ordering::Relaxed);
        let notify = NotifyListener::bind(root.path().join(format!("notify-{seq}.sock")));
        let log_path = root.log_path();
        let mut log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .unwrap_or_else(|e| panic!("open {}: {e}", log_path.display()));
        let args = opts
            .args
            .unwrap_or_else(|| vec!["--config".into(), root.toml_path().into()]);

        let mut cmd = match opts.listener {
            // LISTEN_PID must be the daemon's pid, known only after fork:
            // let a shell export its own pid and exec the daemon in place.
            Some(_) => {
                let mut c = Command::new("/bin/sh");
                c.arg("-c")
                    .arg(r#"LISTEN_PID=$$; export LISTEN_PID; exec "$0" "$@""#)
                    .arg(replayd_bin())
                    .args(&args);
                c
            }
            None => {
                let mut c = Command::new(replayd_bin());
                c.args(&args);
                c
            }
        };
        for name in SCRUBBED_ENV {
            cmd.env_remove(name);
        }
        cmd.env("NOTIFY_SOCKET", &notify.path);
        let listen_fd = opts.listener.map(|l| l.as_raw_fd());
        if listen_fd.is_some() {
            cmd.env("LISTEN_FDS", "1")
                .env("LISTEN_FDNAMES", "replayd.socket");
        }
        // SAFETY: only async-signal-safe calls (dup2, fcntl, close_range)
        // between fork and exec; the listener stays open in the parent
        // until spawn returns.
        unsafe {
            cmd.pre_exec(move || {
                // Like systemd, hand the daemon no fd beyond stdio (and
                // fd 3 when socket-activated): cargo's jobserver pipe and
                // whatever else the test process inherited without
                // FD_CLOEXEC would skew fd-count checks. Best effort
                // (close_range needs Linux 5.11).
                let first = if listen_fd.is_some() { 4 } else { 3 };
                libc::syscall(
                    libc::SYS_close_range,
                    first as libc::c_uint,
                    libc::c_uint::MAX,
                    libc::CLOSE_RANGE_CLOEXEC,
                );
                match listen_fd {
                    Some(3) => {
                        let flags = libc::fcntl(3, libc::F_GETFD);
                        if flags < 0 || libc::fcntl(3, libc::F_SETFD, flags & !libc::FD_CLOEXEC) < 0
                        {
                            return Err(io::Error::last_os_error());
                        }
                    }
                    // dup2 leaves the new fd without FD_CLOEXEC.
                    Some(fd) if libc::dup2(fd, 3) < 0 => return Err(io::Error::last_os_error()),
                    _ => {}
                }
                Ok(())
            });
        }
        for (k, v) in &opts.env {
            cmd.env(k, v);
        }
        if let Some((uid, gid)) = opts.user {
            std::os::unix::fs::chown(&notify.path, Some(uid), Some(gid))
                .unwrap_or_else(|e| panic!("chown {}: {e}", notify.path.display()));
            // std clears the supplementary groups when root sets a uid.
            cmd.uid(uid).gid(gid);
        }
        let _ = writeln!(
            log,
            "=== harness: spawn #{seq}: {} {} ===",
            replayd_bin().display(),
            args.iter()
                .map(|a| a.to_string_lossy())
                .collect::<Vec<_>>()
                .join(" ")
        );
        let stderr = log.try_clone().expect("dup log fd");
        cmd.stdin(Stdio::null())
            .stdout(Stdio::from(log))
            .stderr(Stdio::from(stderr));
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {}: {e}", replayd_bin().display()));
        Daemon {
            child,
            exit: None,
            log_path,
            socket: root.socket(),
            notify,
            reported: false,
        }
    }

    /// Waits for a READY=1 notification; fails early if the daemon exits.
    pub fn wait_ready(&mut self, timeout: Duration) -> Result<(), String> {
        let deadline = Instant::now() + timeout;
        loop {
            if self.has_notification("READY=1") {
                return Ok(());
            }
            if let Some(status) = self.try_exit() {
                // It may have sent READY=1 just before exiting.
                self.notify.drain_for(Duration::from_millis(50));
                if self.has_notification("READY=1") {
                    return Ok(());
                }
                return Err(format!("replayd exited before READY=1 ({status})"));
            }
            if Instant::now() >= deadline {
                return Err(format!("no READY=1 within {timeout:?}"));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The control socket replayd.toml names (the harness's view).
    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// A client connected to the control socket (with retry).
    pub fn client(&self) -> Client {
        Client::connect(&self.socket)
    }

    // ---- sd_notify ----

    /// Every notification line received so far, in order (a datagram
    /// carrying several lines is split: "READY=1", "STATUS=idle", …).
    pub fn notifications(&self) -> Vec<String> {
        self.notify.messages.lock().unwrap().clone()
    }

    pub fn has_notification(&self, line: &str) -> bool {
        self.notify
            .messages
            .lock()
            .unwrap()
            .iter()
            .any(|m| m == line)
    }

    /// The first notification (among all received) matching `pred`.
    pub fn wait_notification(
        &self,
        timeout: Duration,
        pred: impl Fn(&str) -> bool,
    ) -> Option<String> {
        self.wait_notification_after(0, timeout, pred)
    }

    /// The first notification at index `start` or later matching `pred`;
    /// take `start` from `notifications().len()` before acting (SIGHUP …).
    pub fn wait_notification_after(
        &self,
        start: usize,
        timeout: Duration,
        pred: impl Fn(&str) -> bool,
    ) -> Option<String> {
        let mut found = None;
        wait_until(timeout, || {
            let messages = self.notify.messages.lock().unwrap();
            found = messages.iter().skip(start).find(|m| pred(m)).cloned();
            found.is_some()
        });
        found
    }

    // ---- signals and exit ----

    /// Sends `signal`; panics if the daemon was already reaped.
    pub fn signal(&mut self, signal: Signal) {
        if let Some(status) = self.try_exit() {
            panic!(
                "cannot send {signal}: replayd already exited ({status})\n{}",
                self.report_once()
            );
        }
        // Not reaped yet, so the pid is still ours (at worst a zombie).
        kill(Pid::from_raw(self.pid() as i32), signal)
            .unwrap_or_else(|e| panic!("kill {signal}: {e}"));
    }

    pub fn sigterm(&mut self) {
        self.signal(Signal::SIGTERM);
    }
    pub fn sigkill(&mut self) {
        self.signal(Signal::SIGKILL);
    }
    pub fn sighup(&mut self) {
        self.signal(Signal::SIGHUP);
    }
    pub fn sigint(&mut self) {
        self.signal(Signal::SIGINT);
    }

    /// The exit status if the daemon has exited (reaps it), else `None`.
    pub fn try_exit(&mut self) -> Option<ExitStatus> {
        if self.exit.is_none() {
            self.exit = self.child.try_wait().expect("try_wait replayd");
        }
        self.exit
    }

    pub fn is_running(&mut self) -> bool {
        self.try_exit().is_none()
    }

    /// Waits for the daemon to exit; panics with the log after `timeout`.
    pub fn wait_exit(&mut self, timeout: Duration) -> ExitStatus {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.try_exit() {
                // Collect what it sent right before exiting (STOPPING=1).
                self.notify.drain_for(Duration::from_millis(20));
                return status;
            }
            if Instant::now() >= deadline {
                panic!(
                    "replayd (pid {}) still running after {timeout:?}\n{}",
                    self.pid(),
                    self.report_once()
                );
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    // ---- resources ----

    /// Open fds of the daemon, with their targets (for leak reports).
    pub fn fds(&self) -> Vec<(i32, PathBuf)> {
        let dir = PathBuf::from(format!("/proc/{}/fd", self.pid()));
        let mut out: Vec<(i32, PathBuf)> = fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
            .flatten()
            .filter_map(|e| {
                let fd = e.file_name().to_string_lossy().parse().ok()?;
                Some((fd, fs::read_link(e.path()).unwrap_or_default()))
            })
            .collect();
        out.sort();
        out
    }

    pub fn fd_count(&self) -> usize {
        self.fds().len()
    }

    /// VmRSS in KiB.
    /// Waits (5 s at most) until the daemon holds `baseline` fds again,
    /// as after its clients left; panics with the fds it still holds.
    pub fn wait_fds_back_to(&self, baseline: usize) -> usize {
        let mut after = 0;
        assert!(
            crate::common::wait_until(crate::common::secs(5), || {
                after = self.fd_count();
                after == baseline
            }),
            "fds did not return to {baseline}: {after}: {:?}",
            self.fds()
        );
        after
    }

    pub fn rss_kb(&self) -> u64 {
        let path = format!("/proc/{}/status", self.pid());
        let status = fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {path}: {e}"));
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or_else(|| panic!("no VmRSS in {path}"))
    }

    // ---- log ----

    /// Everything the daemons of this root wrote to stdout/stderr so far.
    pub fn log(&self) -> String {
        fs::read(&self.log_path)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    }

    /// `log_report` for a harness panic; Drop then does not repeat it.
    fn report_once(&mut self) -> String {
        self.reported = true;
        self.log_report()
    }

    /// The log's last lines and the notifications, for panic messages.
    pub fn log_report(&self) -> String {
        const TAIL: usize = 200;
        let log = self.log();
        let lines: Vec<&str> = log.lines().collect();
        let tail = &lines[lines.len().saturating_sub(TAIL)..];
        format!(
            "--- notifications: {:?}\n--- {} (last {} lines):\n{}\n--- end of log",
            self.notifications(),
            self.log_path.display(),
            tail.len(),
            tail.join("\n")
        )
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if self.try_exit().is_none() {
            let pid = Pid::from_raw(self.pid() as i32);
            let _ = kill(pid, Signal::SIGTERM);
            let deadline = Instant::now() + KILL_GRACE;
            while self.try_exit().is_none() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(10));
            }
            if self.try_exit().is_none() {
                eprintln!("harness: replayd pid {pid} ignored SIGTERM for {KILL_GRACE:?}; SIGKILL");
                let _ = kill(pid, Signal::SIGKILL);
                self.exit = self.child.wait().ok();
            }
        }
        if std::thread::panicking() && !self.reported {
            eprintln!("{}", self.log_report());
        }
    }
}

/// The test's end of NOTIFY_SOCKET: a datagram socket drained by a thread
/// (the kernel queue holds only ~10 datagrams; a full queue blocks the
/// daemon's sends).
struct NotifyListener {
    path: PathBuf,
    messages: Arc<Mutex<Vec<String>>>,
    socket: Arc<UnixDatagram>,
    /// Held by the reader from `recv` until the lines are recorded.
    /// Bumped after every receive attempt: a drain waits for one full
    /// attempt instead of contending for a lock the reader re-takes at once.
    receives: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl NotifyListener {
    fn bind(path: PathBuf) -> NotifyListener {
        let _ = fs::remove_file(&path);
        let socket = UnixDatagram::bind(&path)
            .unwrap_or_else(|e| panic!("bind notify socket {}: {e}", path.display()));
        socket
            .set_read_timeout(Some(Duration::from_millis(50)))
            .expect("notify socket timeout");
        let socket = Arc::new(socket);
        let messages = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let receives = Arc::new(AtomicU64::new(0));
        let thread = {
            let (socket, messages, stop, receives) = (
                socket.clone(),
                messages.clone(),
                stop.clone(),
                receives.clone(),
            );
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    receive_one(&socket, &messages);
                    receives.fetch_add(1, Ordering::SeqCst);
                }
            })
        };
        NotifyListener {
            path,
            messages,
            socket,
            receives,
            stop,
            thread: Some(thread),
        }
    }

    /// Waits (at most `d`) until the reader has recorded every datagram
    /// already queued on the socket.
    fn drain_for(&self, d: Duration) {
        let deadline = Instant::now() + d;
        loop {
            let mut pending: libc::c_int = 0;
            // SAFETY: FIONREAD writes one c_int; for a datagram socket it is
            // the size of the next datagram, 0 when the queue is empty.
            let rc = unsafe { libc::ioctl(self.socket.as_raw_fd(), libc::FIONREAD, &mut pending) };
            if rc != 0 || pending == 0 || Instant::now() >= deadline {
                break;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        // The reader may have taken the last datagram and not recorded it
        // yet: wait for the attempt in progress to end (≤ its 50 ms timeout).
        let seen = self.receives.load(Ordering::SeqCst);
        while self.receives.load(Ordering::SeqCst) < seen + 1
            && Instant::now() < deadline + Duration::from_millis(200)
        {
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}

/// Receives at most one datagram (50 ms timeout) and records its lines.
fn receive_one(socket: &UnixDatagram, messages: &Mutex<Vec<String>>) {
    let mut buf = [0u8; 4096];
    match socket.recv(&mut buf) {
        Ok(n) => {
            let text = String::from_utf8_lossy(&buf[..n]);
            let mut messages = messages.lock().unwrap();
            messages.extend(
                text.split('\n')
                    .filter(|l| !l.is_empty())
                    .map(str::to_string),
            );
        }
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut | io::ErrorKind::Interrupted
            ) => {}
        Err(e) => {
            eprintln!("harness: notify socket: {e}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for NotifyListener {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        let _ = fs::remove_file(&self.path);
    }
}
