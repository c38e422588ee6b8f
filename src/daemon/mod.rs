//! The daemon: the IO shell around the session lifecycle. One thread, one
//! poll loop over the signal pipe, the timer, the control socket and its
//! clients, and the one child process a session may have running. The
//! lifecycle (`replay::lifecycle`) decides; [`Daemon`] holds IO state only
//! and its executor carries the lifecycle's actions out.

mod atomic_file;
mod check;
pub(crate) mod child;
pub(crate) mod cleanup;
mod clip_job;
pub(crate) mod clock;
mod configs;
pub mod control;
mod executor;
pub mod ledger_store;
mod link_job;
pub(crate) mod media_cleanup;
pub(crate) mod notify;
mod nvr_link;
mod publisher;
mod recovery;
mod replay_folder;
mod requests;
pub(crate) mod signals;
pub(crate) mod state_store;
mod tuning;

pub use check::{check, CheckReport};
pub use configs::{database_path, describe, load_configs, Loaded};

use std::collections::BTreeMap;
use std::io;
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::time::Duration;

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::unistd::Gid;

use crate::config::Publisher;
use crate::nvr::db::{Db, DbError};
use crate::protocol::{self, Event};
use crate::replay::errors::{error_body, RequestError};
use crate::replay::ledger::Ledger;
use crate::replay::lifecycle::{Input, Lifecycle};

use self::clip_job::Running;
use self::clock::Timer;
use self::control::Client;
use self::ledger_store::{LedgerStore, LoadNote};
use self::notify::Notifier;
use self::nvr_link::NvrLink;
use self::signals::Signals;
use self::state_store::StateStore;

/// EX_CONFIG: configuration errors (RestartPreventExitStatus= lists it).
pub const EXIT_CONFIG: i32 = 78;
/// EX_OSERR: the daemon could not set itself up (socket, runtime dir).
pub const EXIT_OSERR: i32 = 71;

/// Command-line options of `replayd` that the running daemon needs.
#[derive(Debug, Default)]
pub struct Options {
    /// replayd.toml, re-read on SIGHUP.
    pub config: Option<PathBuf>,
}

/// Runs the daemon until SIGTERM/SIGINT; returns the exit status.
pub fn run(options: Options, loaded: Loaded) -> i32 {
    let mut daemon = match Daemon::start(options, loaded) {
        Ok(daemon) => daemon,
        Err(e) => {
            log::error!("cannot start: {e}");
            return EXIT_OSERR;
        }
    };
    daemon.serve();
    0
}

/// What the loop polls, and what each ready fd means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Token {
    Signals,
    Timer,
    Listener,
    Client(u64),
    ChildExit,
    ChildStdout,
    ChildStderr,
    Nvr,
}

pub struct Daemon {
    config_path: Option<PathBuf>,
    loaded: Loaded,
    admin_gid: Option<Gid>,
    listener: UnixListener,
    /// The socket file we bound (removed at exit); `None` when systemd owns it.
    bound_socket: Option<PathBuf>,
    clients: BTreeMap<u64, Client>,
    next_client: u64,
    /// Clients whose deferred reply went out: their next lines are read
    /// once the executor is done.
    replied: Vec<u64>,
    signals: Signals,
    timer: Timer,
    notifier: Notifier,
    store: StateStore,
    lifecycle: Lifecycle,
    child: Option<Running>,
    /// What replayd owns (SPEC §1 "The ledger"), and where it is kept.
    ledger: Ledger,
    ledger_store: LedgerStore,
    /// The `frigate` publisher's connection; `None` for the file publisher.
    nvr: Option<NvrLink>,
    /// Inputs that arrived while the executor ran (an NVR job that ended at once).
    inbox: Vec<Input>,
    /// Inputs fed on the next turn of the loop, once the clients had their
    /// turn: a batch of links is done, the next one can wait for a stop.
    later: Vec<Input>,
    watchdog: Option<(Duration, f64)>,
    /// accept() ran out of fds: stop polling the listener until a client leaves.
    accept_paused: bool,
    /// Uids told once that they hold their share of connections.
    refused_uids: Vec<u32>,
    /// When the next idle client is due to be closed.
    idle_deadline: Option<f64>,
    /// Descriptors held back for the daemon's own work: clients can take
    /// every other one, never these (issue: an auto-stop during fd
    /// exhaustion cleaned nothing). Released around each action that needs
    /// descriptors, taken again after it.
    reserve: Vec<std::fs::File>,
    /// Rows the ledger says are still owed (a stop under a locked database):
    /// the next try and the wait after it, 1 s doubling to 60 s.
    rows_retry: Option<(f64, f64)>,
    /// An update Frigate is being told about: its camera file and `camera
    /// update` event go out once Frigate took it.
    pending_update: Option<tuning::PendingUpdate>,
    terminating: bool,
}

impl Daemon {
    fn start(options: Options, loaded: Loaded) -> io::Result<Daemon> {
        raise_fd_limit();
        let runtime = loaded.config.runtime.dir.clone();
        std::fs::create_dir_all(runtime.join("cameras")).map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("cannot create runtime dir {}: {e}", runtime.display()),
            )
        })?;
        let admin_gid = control::admin_gid(&loaded.config.control.admin_group);
        let (listener, bound_socket) = match notify::activated_socket() {
            Some(fd) => {
                log::info!("using the control socket passed by systemd");
                (control::from_activation(fd)?, None)
            }
            None => {
                let path = loaded.config.control.socket.clone();
                let listener = control::bind(&path, loaded.config.control.socket_mode, admin_gid)
                    .map_err(|e| {
                    io::Error::new(
                        e.kind(),
                        format!("cannot bind control socket {}: {e}", path.display()),
                    )
                })?;
                (listener, Some(path))
            }
        };
        ensure_import_dir(&loaded.config.session.import_dir, admin_gid);
        let settings = loaded.settings();
        let (ledger_store, ledger) = load_ledger(&loaded)?;
        let nvr = match loaded.config.publish.to {
            Publisher::Frigate => Some(NvrLink::new(&loaded.config.publish.frigate)),
            Publisher::File => None,
        };
        let mut daemon = Daemon {
            config_path: options.config,
            store: StateStore::new(&runtime),
            loaded,
            admin_gid,
            listener,
            bound_socket,
            clients: BTreeMap::new(),
            next_client: 1,
            replied: Vec::new(),
            signals: Signals::install()?,
            timer: Timer::new()?,
            notifier: Notifier::new(),
            lifecycle: Lifecycle::new(settings),
            child: None,
            ledger,
            ledger_store,
            nvr,
            inbox: Vec::new(),
            later: Vec::new(),
            watchdog: notify::watchdog_interval().map(|every| (every, clock::boottime())),
            accept_paused: false,
            refused_uids: Vec::new(),
            idle_deadline: None,
            rows_retry: None,
            pending_update: None,
            reserve: take_reserve(),
            terminating: false,
        };
        let recovered = daemon.recovered();
        daemon.feed(Input::Recovered(recovered));
        daemon.settle_nvr();
        Ok(daemon)
    }

    /// Boot cleanup unpublishes from the NVR before READY=1 (SPEC §2): the
    /// NVR's first answers are awaited here, before any client is served,
    /// for at most a few request timeouts. What fails stays a pending
    /// removal that the loop retries.
    fn settle_nvr(&mut self) {
        let Some(link) = &self.nvr else { return };
        let Some(timeout) = link.timeout() else {
            return;
        };
        let give_up = clock::boottime() + 4.0 * timeout.as_secs_f64();
        loop {
            let now = clock::boottime();
            let Some(link) = self.nvr.as_ref() else {
                return;
            };
            let (Some((fd, events)), Some(deadline)) = (link.poll_interest(), link.deadline())
            else {
                return;
            };
            if now >= give_up {
                log::warn!("the NVR did not finish answering before READY: going on");
                return;
            }
            let wait = (deadline.min(give_up) - now).max(0.0);
            let ms = PollTimeout::try_from(Duration::from_secs_f64(wait).as_millis() as i32 + 1)
                .unwrap_or(PollTimeout::NONE);
            let mut fds = [PollFd::new(fd, events)];
            let ready = matches!(poll(&mut fds, ms), Ok(n) if n > 0);
            let now = clock::boottime();
            let results = match self.nvr.as_mut() {
                Some(link) if ready => link.on_ready(now),
                Some(link) => link.on_timer(now),
                None => Vec::new(),
            };
            self.take_nvr_results(results);
            self.feed_inbox();
        }
    }

    fn serve(&mut self) {
        let status = self.status_text();
        self.notifier.ready(&status);
        // Under socket activation the socket is systemd's, wherever it is.
        let socket = self
            .listener
            .local_addr()
            .ok()
            .and_then(|a| a.as_pathname().map(|p| p.display().to_string()))
            .unwrap_or_else(|| self.loaded.config.control.socket.display().to_string());
        log::info!(
            "replayd {} ready on {socket} ({status})",
            env!("CARGO_PKG_VERSION")
        );
        while !self.terminating {
            if let Err(e) = self.timer.arm(self.next_deadline()) {
                log::error!("cannot arm timer for {:?}: {e}", self.next_deadline());
            }
            let ready = match self.poll_once() {
                Ok(ready) => ready,
                Err(e) => {
                    log::error!("poll failed: {e}");
                    continue;
                }
            };
            for (token, revents) in ready {
                self.dispatch(token, revents);
            }
            for id in std::mem::take(&mut self.replied) {
                self.process_lines(id);
            }
            for input in std::mem::take(&mut self.later) {
                self.feed(input);
            }
            self.idle_deadline = self.close_idle_clients(clock::boottime());
            self.reap_clients();
            self.notifier.status(&self.status_text());
        }
        self.shutdown();
    }

    /// One poll over every source; returns the ready tokens.
    fn poll_once(&self) -> io::Result<Vec<(Token, PollFlags)>> {
        let mut sources: Vec<(Token, BorrowedFd<'_>, PollFlags)> = vec![
            (Token::Signals, self.signals.fd(), PollFlags::POLLIN),
            (Token::Timer, self.timer.fd(), PollFlags::POLLIN),
        ];
        if !self.accept_paused {
            sources.push((Token::Listener, self.listener.as_fd(), PollFlags::POLLIN));
        }
        for (id, client) in &self.clients {
            // A peer that hung up reports POLLHUP whatever we ask for: with
            // nothing to write to it, polling it would spin until its reply is due.
            if client.closing && !client.wants_write() {
                continue;
            }
            let mut events = PollFlags::empty();
            if client.wants_read() {
                events |= PollFlags::POLLIN;
            }
            if client.wants_write() {
                events |= PollFlags::POLLOUT;
            }
            sources.push((Token::Client(*id), client.fd(), events));
        }
        if let Some(Running { child, .. }) = &self.child {
            sources.push((Token::ChildExit, child.pidfd(), PollFlags::POLLIN));
            if let Some(fd) = child.stdout_fd() {
                sources.push((Token::ChildStdout, fd, PollFlags::POLLIN));
            }
            if let Some(fd) = child.stderr_fd() {
                sources.push((Token::ChildStderr, fd, PollFlags::POLLIN));
            }
        }
        if let Some((fd, events)) = self.nvr.as_ref().and_then(NvrLink::poll_interest) {
            sources.push((Token::Nvr, fd, events));
        }
        let mut fds: Vec<PollFd<'_>> = sources
            .iter()
            .map(|(_, fd, events)| PollFd::new(*fd, *events))
            .collect();
        // Work left for this turn: look at the fds, do not wait for them.
        let timeout = if self.later.is_empty() {
            PollTimeout::NONE
        } else {
            PollTimeout::ZERO
        };
        match poll(&mut fds, timeout) {
            Ok(_) => {}
            Err(nix::errno::Errno::EINTR) => return Ok(Vec::new()),
            Err(e) => return Err(e.into()),
        }
        Ok(sources
            .iter()
            .zip(fds.iter())
            .filter_map(|((token, _, _), fd)| {
                let revents = fd.revents().unwrap_or(PollFlags::empty());
                (!revents.is_empty()).then_some((*token, revents))
            })
            .collect())
    }

    fn dispatch(&mut self, token: Token, revents: PollFlags) {
        match token {
            Token::Signals => {
                let pending = self.signals.take();
                if pending.reload {
                    self.reload();
                }
                if pending.terminate {
                    log::info!("termination requested");
                    self.notifier.stopping();
                    self.terminating = true;
                }
            }
            Token::Timer => {
                self.timer.acknowledge();
                self.on_timer();
            }
            Token::Listener => self.accept_clients(),
            Token::Client(id) => self.on_client(id, revents),
            Token::ChildStdout => self.on_child_stdout(),
            Token::ChildStderr => {
                if let Some(running) = self.child.as_mut() {
                    running.child.drain_stderr();
                }
            }
            Token::ChildExit => self.on_child_exit(),
            Token::Nvr => {
                let results = match self.nvr.as_mut() {
                    Some(link) => link.on_ready(clock::boottime()),
                    None => Vec::new(),
                };
                self.take_nvr_results(results);
                self.feed_inbox();
            }
        }
    }

    /// The nearest deadline on the boot-time clock: the lifecycle's, or the watchdog.
    fn next_deadline(&self) -> Option<f64> {
        let watchdog = self.watchdog.map(|(_, next)| next);
        let nvr = self.nvr.as_ref().and_then(NvrLink::deadline);
        let rows = self.rows_retry.map(|(at, _)| at);
        [
            self.lifecycle.next_deadline(),
            watchdog,
            nvr,
            self.idle_deadline,
            rows,
        ]
        .into_iter()
        .flatten()
        .reduce(f64::min)
    }

    fn on_timer(&mut self) {
        let now = clock::boottime();
        if let Some((every, next)) = self.watchdog {
            if now >= next {
                self.notifier.watchdog();
                self.watchdog = Some((every, now + every.as_secs_f64()));
            }
        }
        let results = match self.nvr.as_mut() {
            Some(link) => link.on_timer(now),
            None => Vec::new(),
        };
        self.take_nvr_results(results);
        self.feed_inbox();
        self.feed(Input::Timer);
        if self.rows_retry.is_some_and(|(at, _)| now >= at) {
            self.retry_owed_rows(now);
        }
    }

    /// Database rows a stop could not delete are retried with back-off
    /// until they are gone (boot cleanup tries them too).
    fn retry_owed_rows(&mut self, now: f64) {
        let live = self.lifecycle.replay_camera().map(str::to_string);
        let owed: Vec<String> = self
            .ledger
            .rows_owed()
            .iter()
            .filter(|r| Some(r.as_str()) != live.as_deref())
            .cloned()
            .collect();
        for replay in owed {
            match self.open_db().and_then(|db| db.delete_camera_rows(&replay)) {
                Ok(rows) => {
                    log::info!("deleted {rows} database rows still owed by {replay}");
                    if self.ledger.rows_deleted(&replay) {
                        let _ = self.save_ledger();
                    }
                }
                Err(e) => log::debug!("rows of {replay} still cannot be deleted: {e}"),
            }
        }
        self.schedule_rows_retry(now);
    }

    /// Arms (or disarms) the retry of owed rows after a failure.
    pub(super) fn schedule_rows_retry(&mut self, now: f64) {
        if self.ledger.rows_owed().is_empty() {
            self.rows_retry = None;
            return;
        }
        let wait = self
            .rows_retry
            .map_or(1.0, |(_, wait)| (wait * 2.0).min(60.0));
        self.rows_retry = Some((now + wait, wait));
    }

    fn accept_clients(&mut self) {
        loop {
            match self.listener.accept() {
                Ok((stream, _)) => {
                    let id = self.next_client;
                    self.next_client += 1;
                    match Client::new(id, stream, clock::boottime()) {
                        Ok(client) if !self.admit(&client) => drop(client),
                        Ok(client) => {
                            log::debug!(
                                "client {id} connected (pid {}, uid {})",
                                client.peer.pid,
                                client.peer.uid
                            );
                            self.clients.insert(id, client);
                        }
                        Err(e) => log::warn!("cannot set up client connection: {e}"),
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    // EMFILE and friends: log, never die; the peer waits in the backlog
                    // until a client leaves (polling the listener now would spin).
                    log::warn!("accept on control socket failed: {e}");
                    self.accept_paused = true;
                    return;
                }
            }
        }
    }

    /// Whether a new connection fits its uid's share (root gets ten times
    /// as many): no local user can take every fd the daemon has.
    fn admit(&mut self, client: &Client) -> bool {
        let uid = client.peer.uid;
        let held = self.clients.values().filter(|c| c.peer.uid == uid).count();
        let mut cap = self.loaded.config.control.max_clients_per_user as usize;
        if uid == 0 {
            cap = cap.saturating_mul(10);
        }
        if held < cap {
            return true;
        }
        if !self.refused_uids.contains(&uid) {
            log::warn!(
                "refusing connections of uid {uid}: it holds {held} (control.max_clients_per_user)"
            );
            self.refused_uids.push(uid);
        }
        false
    }

    /// Connections that only hold an fd are closed after
    /// `control.client_idle_timeout`; returns the next such moment.
    fn close_idle_clients(&mut self, now: f64) -> Option<f64> {
        let idle = self.loaded.config.control.client_idle_timeout.as_secs_f64();
        let mut next: Option<f64> = None;
        for (id, client) in self.clients.iter_mut() {
            let Some(until) = client.idle_until(idle) else {
                continue;
            };
            if now >= until {
                log::debug!("closing client {id}: idle for {idle}s");
                client.dead = true;
            } else {
                next = Some(next.map_or(until, |n: f64| n.min(until)));
            }
        }
        next
    }

    fn on_client(&mut self, id: u64, revents: PollFlags) {
        let Some(client) = self.clients.get_mut(&id) else {
            return;
        };
        if revents.contains(PollFlags::POLLOUT) {
            client.flush();
        }
        if revents.intersects(PollFlags::POLLIN | PollFlags::POLLHUP | PollFlags::POLLERR) {
            if client.wants_read() || revents.contains(PollFlags::POLLIN) {
                client.read_input();
            } else {
                client.closing = true;
            }
        }
        self.process_lines(id);
    }

    /// Answers every complete line a client has buffered, in order, until a
    /// request defers its reply.
    fn process_lines(&mut self, id: u64) {
        loop {
            let frame = match self.clients.get_mut(&id) {
                Some(client) if !client.awaiting_reply && !client.dead && !client.backlogged() => {
                    client.last_active = clock::boottime();
                    client.next_frame()
                }
                _ => return,
            };
            let Some(frame) = frame else { return };
            let reply = match frame {
                protocol::Frame::TooLong => Some(protocol::encode_error(&error_body(
                    &RequestError::TooLong(protocol::MAX_LINE),
                ))),
                protocol::Frame::Line(line) if line.iter().all(u8::is_ascii_whitespace) => None,
                protocol::Frame::Line(line) => match protocol::decode_request(&line) {
                    Ok(request) => self.handle_request(id, request),
                    Err(error) => {
                        log::debug!("client {id}: bad request: {error}");
                        Some(protocol::encode_error(&error_body(&RequestError::Decode(
                            error,
                        ))))
                    }
                },
            };
            if let Some(reply) = reply {
                self.send_to(id, &reply);
            }
        }
    }

    fn send_to(&mut self, id: u64, line: &str) {
        if let Some(client) = self.clients.get_mut(&id) {
            client.send(line);
        }
    }

    /// Sends a lifecycle reply; the client's next requests are read once
    /// the executor is done.
    fn complete_reply(&mut self, id: u64, line: &str) {
        if let Some(client) = self.clients.get_mut(&id) {
            client.awaiting_reply = false;
            client.send(line);
            self.replied.push(id);
        }
    }

    fn broadcast(&mut self, event: &Event) {
        let line = protocol::encode_event(event);
        // One budget for what all clients have not read yet: past it, the
        // subscribers furthest behind are dropped rather than buffered.
        let mut total: usize = self.clients.values().map(Client::pending_output).sum();
        for client in self.clients.values_mut().filter(|c| c.subscribed) {
            if total > MAX_TOTAL_OUTPUT && client.backlogged() {
                log::warn!(
                    "dropping subscriber {} (pid {}): clients hold {total} bytes unread",
                    client.id,
                    client.peer.pid
                );
                total = total.saturating_sub(client.pending_output());
                client.dead = true;
                continue;
            }
            let before = client.pending_output();
            client.send(&line);
            total += client.pending_output().saturating_sub(before);
        }
    }

    fn reap_clients(&mut self) {
        let before = self.clients.len();
        self.clients.retain(|id, client| {
            let keep = !client.finished();
            if !keep {
                log::debug!("client {id} disconnected");
            }
            keep
        });
        if self.clients.len() < before {
            self.accept_paused = false;
            self.refused_uids.clear();
            // Room again: the reserve first, then new clients.
            while self.reserve.len() < RESERVED_FDS {
                match std::fs::File::open("/dev/null") {
                    Ok(file) => self.reserve.push(file),
                    Err(_) => break,
                }
            }
        }
    }

    fn status_text(&self) -> String {
        self.lifecycle.status_line()
    }

    fn reload(&mut self) {
        self.notifier.reloading();
        match load_configs(self.config_path.as_deref()) {
            Ok(loaded) => {
                crate::log::set_level(loaded.config.log.level);
                if loaded.config.runtime.dir != self.loaded.config.runtime.dir
                    || loaded.config.control.socket != self.loaded.config.control.socket
                {
                    log::warn!("runtime.dir and control.socket changes take effect at restart");
                }
                self.admin_gid = control::admin_gid(&loaded.config.control.admin_group);
                self.lifecycle.set_settings(loaded.settings());
                if loaded.config.session.camera_prefix != self.loaded.config.session.camera_prefix {
                    log::warn!("session.camera_prefix changes take effect at restart");
                }
                if loaded.config.publish != self.loaded.config.publish {
                    // A request in flight finishes on the old connection;
                    // the next one uses the new settings.
                    let busy = self.nvr.as_ref().is_some_and(|l| l.deadline().is_some());
                    if busy {
                        log::warn!("[publish] changed while a request to the NVR is out: restart replayd to apply it");
                    } else {
                        self.nvr = match loaded.config.publish.to {
                            Publisher::Frigate => {
                                Some(NvrLink::new(&loaded.config.publish.frigate))
                            }
                            Publisher::File => None,
                        };
                        log::info!("publisher is now {}", loaded.config.publish.to.as_str());
                    }
                }
                self.loaded = loaded;
                log::info!(
                    "configuration reloaded ({} cameras)",
                    self.loaded.nvr.camera_names().len()
                );
            }
            Err(e) => log::error!("reload failed, keeping the previous configuration: {e}"),
        }
        let status = self.status_text();
        self.notifier.ready(&status);
    }

    fn shutdown(&mut self) {
        self.feed(Input::Shutdown);
        for client in self.clients.values_mut() {
            client.flush();
        }
        if let Some(path) = &self.bound_socket {
            let _ = std::fs::remove_file(path);
        }
        log::info!("replayd stopped");
    }

    fn media_dir(&self) -> &Path {
        &self.loaded.config.nvr.media_dir
    }

    /// The NVR database, opened for one operation (it may appear, move or be
    /// replaced between requests; opening costs ~0.1 ms).
    fn open_db(&self) -> Result<Db, DbError> {
        Db::open(&database_path(&self.loaded), DB_BUSY_TIMEOUT)
    }
}

/// What all clients together may hold unread before subscribers that are
/// behind are dropped.
const MAX_TOTAL_OUTPUT: usize = 32 * 1024 * 1024;

/// How long a database call may wait for the NVR's own writers.
const DB_BUSY_TIMEOUT: Duration = Duration::from_secs(2);

/// The ledger: loaded from the state dir; an unreadable one is kept aside
/// and replaced by a scan of the replay dir (SPEC §1).
fn load_ledger(loaded: &Loaded) -> io::Result<(LedgerStore, Ledger)> {
    let state_dir = &loaded.config.runtime.state_dir;
    std::fs::create_dir_all(state_dir).map_err(|e| {
        io::Error::new(
            e.kind(),
            format!("cannot create state dir {}: {e}", state_dir.display()),
        )
    })?;
    let store = LedgerStore::new(state_dir);
    let prefix = &loaded.config.session.camera_prefix;
    let (mut ledger, note) = store.load(prefix).map_err(|e| {
        io::Error::new(
            e.kind(),
            format!("cannot read {}: {e}", store.path().display()),
        )
    })?;
    if let LoadNote::SetAside { reason } = note {
        log::warn!(
            "ledger {} is unreadable ({reason}): kept as ledger.json.corrupt, rebuilt from {}",
            store.path().display(),
            loaded.config.session.replay_dir.display()
        );
        if let Ok(entries) = std::fs::read_dir(&loaded.config.session.replay_dir) {
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                if crate::replay::names::is_replay_name(&name)
                    && entry.file_type().is_ok_and(|t| t.is_dir())
                {
                    let _ = ledger.record_folder(&name);
                }
            }
        }
        store.save(&ledger)?;
    }
    Ok((store, ledger))
}

/// The import dir (SPEC §1): made when missing, group `control.admin_group`
/// and setgid so that what operators drop in stays readable to replayd. A
/// failure only costs `start_from_file`, so it is a warning, not an exit.
fn ensure_import_dir(dir: &std::path::Path, admin_gid: Option<Gid>) {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    if dir.is_dir() {
        return;
    }
    let made = std::fs::DirBuilder::new()
        .mode(0o770)
        .create(dir)
        .and_then(|()| {
            if let Some(gid) = admin_gid {
                nix::unistd::chown(dir, None, Some(gid)).map_err(io::Error::from)?;
            }
            // mkdir's mode leaves the setgid bit to chmod.
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o2770))
        });
    match made {
        Ok(()) => log::info!("import dir {} created", dir.display()),
        Err(e) => log::warn!(
            "cannot create the import dir {} (session.import_dir): {e}; start_from_file will fail",
            dir.display()
        ),
    }
}

/// How many descriptors the daemon keeps for its own work: a database, a
/// media walk (a directory per level), a child's pipes and pidfd.
const RESERVED_FDS: usize = 16;

fn take_reserve() -> Vec<std::fs::File> {
    (0..RESERVED_FDS)
        .map_while(|_| std::fs::File::open("/dev/null").ok())
        .collect()
}

/// Many clients may watch at once: use the whole hard fd limit, not the 1024 soft one.
fn raise_fd_limit() {
    use nix::sys::resource::{getrlimit, setrlimit, Resource};
    if let Ok((soft, hard)) = getrlimit(Resource::RLIMIT_NOFILE) {
        if soft < hard {
            if let Err(e) = setrlimit(Resource::RLIMIT_NOFILE, hard, hard) {
                log::warn!("cannot raise the open file limit to {hard}: {e}");
            }
        }
    }
}
