//! The control socket: listener set-up, per-client buffers, peer credentials.
//!
//! Every client is non-blocking with its own input and output buffer; output
//! is written as far as the socket takes it and POLLOUT is asked for only
//! while some is pending, so a slow reader never stalls the loop.

use std::fs;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;

use nix::sys::socket::{getsockopt, sockopt::PeerCredentials};
use nix::unistd::{Gid, Group};

use crate::protocol::{Frame, LineReader};

/// Output a client may have pending before it is dropped as too slow
/// (a subscriber that stopped reading).
const MAX_PENDING_OUTPUT: usize = 1024 * 1024;

/// Above this much pending output a client's next requests wait until it
/// reads: a pipelining client that reads is slowed down, never dropped, and
/// one that does not read costs at most this plus one reply.
pub const READ_PAUSE_OUTPUT: usize = 64 * 1024;

/// The peer's credentials from SO_PEERCRED (and its groups from
/// SO_PEERGROUPS) at accept time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Peer {
    pub pid: i32,
    pub uid: u32,
    pub gid: u32,
    /// Supplementary groups; `None` when the kernel could not tell.
    pub groups: Option<Vec<u32>>,
}

/// Binds the control socket at `path` with `mode` and `group`.
pub fn bind(path: &Path, mode: u32, group: Option<Gid>) -> io::Result<UnixListener> {
    if let Ok(meta) = fs::symlink_metadata(path) {
        if !meta.file_type().is_socket() {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!("{} exists and is not a socket", path.display()),
            ));
        }
        if UnixStream::connect(path).is_ok() {
            return Err(io::Error::new(
                io::ErrorKind::AddrInUse,
                format!("{} is in use: another replayd is running", path.display()),
            ));
        }
        // A socket nobody listens on is left over from a dead daemon.
        fs::remove_file(path)?;
    }
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir)?;
    }
    let listener = UnixListener::bind(path)?;
    // bind() applies the umask (0755 for root); the mode is the contract.
    fs::set_permissions(path, fs::Permissions::from_mode(mode))?;
    if let Some(gid) = group {
        nix::unistd::chown(path, None, Some(gid)).map_err(io::Error::from)?;
    }
    listener.set_nonblocking(true)?;
    Ok(listener)
}

/// A listener passed by systemd.
pub fn from_activation(fd: OwnedFd) -> io::Result<UnixListener> {
    let listener = UnixListener::from(fd);
    listener.set_nonblocking(true)?;
    Ok(listener)
}

/// The admin group's gid; `None` (root only) with a warning when it does not exist.
pub fn admin_gid(name: &str) -> Option<Gid> {
    // /etc/group first: a miss through NSS loads libnss_systemd and libcap
    // into the daemon for good (~360 kB of its idle RSS).
    if let Some(gid) = fs::read_to_string("/etc/group")
        .ok()
        .and_then(|text| gid_in_group_file(&text, name))
    {
        return Some(Gid::from_raw(gid));
    }
    // Only ask NSS when it has a source beyond files (LDAP, sssd, ...):
    // systemd's module knows no group that sysusers.d would not have written.
    if !nss_has_remote_groups() {
        log::warn!("admin group '{name}' does not exist: only root may start and stop");
        return None;
    }
    match Group::from_name(name) {
        Ok(Some(group)) => Some(group.gid),
        Ok(None) => {
            log::warn!("admin group '{name}' does not exist: only root may start and stop");
            None
        }
        Err(e) => {
            log::warn!("cannot look up admin group '{name}': {e}; only root may start and stop");
            None
        }
    }
}

/// Whether nsswitch.conf lists a group source other than `files` and `systemd`.
fn nss_has_remote_groups() -> bool {
    let Ok(text) = fs::read_to_string("/etc/nsswitch.conf") else {
        return true;
    };
    group_sources_beyond_files(&text)
}

fn group_sources_beyond_files(nsswitch: &str) -> bool {
    nsswitch
        .lines()
        .find_map(|l| l.trim_start().strip_prefix("group:"))
        .is_some_and(|sources| {
            sources
                .split_whitespace()
                .filter(|s| !s.starts_with('['))
                .any(|s| s != "files" && s != "systemd")
        })
}

/// The gid of `name` in group(5) text.
fn gid_in_group_file(text: &str, name: &str) -> Option<u32> {
    text.lines().find_map(|line| {
        let mut fields = line.split(':');
        (fields.next()? == name).then_some(())?;
        fields.nth(1)?.parse().ok()
    })
}

/// Root and members of the admin group (primary or supplementary) may
/// start and stop.
pub fn is_admin(peer: &Peer, admin: Option<Gid>) -> bool {
    if peer.uid == 0 {
        return true;
    }
    let Some(admin) = admin else {
        return false;
    };
    if peer.gid == admin.as_raw() {
        return true;
    }
    match &peer.groups {
        Some(groups) => groups.contains(&admin.as_raw()),
        // /proc may be hidden (ProtectProc=invisible): SO_PEERGROUPS is the
        // first choice, this the fallback.
        None => supplementary_groups(peer.pid).contains(&admin.as_raw()),
    }
}

/// SO_PEERGROUPS (Linux 4.13+): the peer's supplementary groups as of connect.
fn peer_groups(fd: BorrowedFd<'_>) -> Option<Vec<u32>> {
    use std::os::fd::AsRawFd;
    // Not exported by the libc crate for every target; 59 on every
    // architecture Debian ships replayd for (mips and sparc differ).
    const SO_PEERGROUPS: libc::c_int = 59;
    let mut groups: Vec<libc::gid_t> = vec![0; 64];
    for _ in 0..2 {
        let mut len = (groups.len() * std::mem::size_of::<libc::gid_t>()) as libc::socklen_t;
        // SAFETY: the buffer is valid for `len` bytes and the kernel writes at most that.
        let rc = unsafe {
            libc::getsockopt(
                fd.as_raw_fd(),
                libc::SOL_SOCKET,
                SO_PEERGROUPS,
                groups.as_mut_ptr().cast(),
                &mut len,
            )
        };
        let count = len as usize / std::mem::size_of::<libc::gid_t>();
        if rc == 0 {
            groups.truncate(count);
            return Some(groups);
        }
        if io::Error::last_os_error().raw_os_error() != Some(libc::ERANGE) || count > 65_536 {
            return None;
        }
        // ERANGE: `len` now holds the size needed.
        groups.resize(count, 0);
    }
    None
}

/// The `Groups:` line of /proc/PID/status.
fn supplementary_groups(pid: i32) -> Vec<u32> {
    let Ok(status) = fs::read_to_string(format!("/proc/{pid}/status")) else {
        return Vec::new();
    };
    parse_groups(&status)
}

fn parse_groups(status: &str) -> Vec<u32> {
    status
        .lines()
        .find_map(|l| l.strip_prefix("Groups:"))
        .map(|g| {
            g.split_whitespace()
                .filter_map(|n| n.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

pub struct Client {
    pub id: u64,
    stream: UnixStream,
    reader: LineReader,
    out: Vec<u8>,
    pub peer: Peer,
    pub subscribed: bool,
    /// A request whose reply comes later (stop, start_from_export): further
    /// lines wait so replies stay in request order.
    pub awaiting_reply: bool,
    /// Reading side closed or the client misbehaved: drop once output is flushed.
    pub closing: bool,
    /// Broken: drop now.
    pub dead: bool,
    /// Boot time of the last request (or of the connection).
    pub last_active: f64,
}

impl Client {
    pub fn new(id: u64, stream: UnixStream, now: f64) -> io::Result<Client> {
        stream.set_nonblocking(true)?;
        let cred = getsockopt(&stream, PeerCredentials).map_err(io::Error::from)?;
        let groups = peer_groups(stream.as_fd());
        Ok(Client {
            id,
            stream,
            reader: LineReader::new(),
            out: Vec::new(),
            peer: Peer {
                pid: cred.pid(),
                uid: cred.uid(),
                gid: cred.gid(),
                groups,
            },
            subscribed: false,
            awaiting_reply: false,
            closing: false,
            dead: false,
            last_active: now,
        })
    }

    pub fn fd(&self) -> BorrowedFd<'_> {
        self.stream.as_fd()
    }

    /// Reads what the socket has into the line buffer.
    pub fn read_input(&mut self) {
        // Requests are small: a modest buffer, and a short read means the
        // socket is drained (no extra recv just to see EAGAIN).
        let mut buf = [0u8; 4096];
        loop {
            match self.stream.read(&mut buf) {
                Ok(0) => {
                    self.closing = true;
                    return;
                }
                Ok(n) => {
                    self.reader.push(&buf[..n]);
                    if n < buf.len() {
                        return;
                    }
                    // Hand over to the line splitter before buffering more than one
                    // line (+ its "\r"): bounded memory per client.
                    if self.reader.pending() > crate::protocol::MAX_LINE + 1 {
                        return;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(_) => {
                    self.dead = true;
                    return;
                }
            }
        }
    }

    pub fn next_frame(&mut self) -> Option<Frame> {
        self.reader.next_frame()
    }

    /// Queues a line and writes what the socket takes now.
    pub fn send(&mut self, line: &str) {
        if self.dead {
            return;
        }
        if self.out.len() + line.len() > MAX_PENDING_OUTPUT {
            log::warn!(
                "dropping client {} (pid {}): it stopped reading",
                self.id,
                self.peer.pid
            );
            self.dead = true;
            return;
        }
        self.out.extend_from_slice(line.as_bytes());
        self.flush();
    }

    pub fn flush(&mut self) {
        while !self.out.is_empty() {
            match self.stream.write(&self.out) {
                Ok(0) => {
                    self.dead = true;
                    return;
                }
                Ok(n) => {
                    self.out.drain(..n);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(_) => {
                    self.dead = true;
                    return;
                }
            }
        }
    }

    pub fn wants_write(&self) -> bool {
        !self.out.is_empty()
    }

    pub fn pending_output(&self) -> usize {
        self.out.len()
    }

    /// Its replies are not being read: take no more of its requests for now.
    pub fn backlogged(&self) -> bool {
        self.out.len() > READ_PAUSE_OUTPUT
    }

    /// A connection that only holds an fd: not subscribed, owed nothing,
    /// nothing to write, no request for `idle` seconds.
    pub fn idle_until(&self, idle: f64) -> Option<f64> {
        (!self.subscribed && !self.awaiting_reply && self.out.is_empty() && !self.dead)
            .then_some(self.last_active + idle)
    }

    /// Whether the loop should read more from this client now.
    pub fn wants_read(&self) -> bool {
        !self.closing
            && !self.awaiting_reply
            && !self.backlogged()
            && self.reader.pending() <= crate::protocol::MAX_LINE + 1
    }

    /// Done: nothing more to read, nothing owed, nothing left to write.
    pub fn finished(&self) -> bool {
        self.dead || (self.closing && !self.awaiting_reply && self.out.is_empty())
    }
}

#[cfg(test)]
mod tests;
