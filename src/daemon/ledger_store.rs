//! ledger.json in the state dir (SPEC §1, "The ledger"): read and validated
//! at start, written whole at every change. The model is
//! [`crate::replay::ledger`]; this is only its file.
//!
//! Every name is opened relative to the state dir's fd without following
//! symlinks: the dir is replayd's own, but a planted link must still never
//! make replayd read or overwrite another file.

use std::ffi::CStr;
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use rustix::fs::{fstat, fsync, openat, renameat, unlinkat, AtFlags, FileType, Mode, OFlags, CWD};
use rustix::io::Errno;

use crate::replay::ledger::Ledger;

pub const LEDGER_FILE: &str = "ledger.json";
const LEDGER: &CStr = c"ledger.json";
const TEMP: &CStr = c"ledger.json.tmp";
const CORRUPT: &CStr = c"ledger.json.corrupt";

/// Far above any real ledger (one session at a time names a few entries);
/// bounds what a damaged file can make replayd allocate.
const MAX_LEDGER_BYTES: u64 = 1 << 20;

/// What [`LedgerStore::load`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoadNote {
    /// No ledger.json: nothing recorded yet.
    Missing,
    Loaded,
    /// ledger.json could not be used and is now ledger.json.corrupt. The
    /// ledger returned is empty: rebuild it from a scan of the replay dir.
    SetAside {
        reason: String,
    },
}

pub struct LedgerStore {
    state_dir: PathBuf,
}

impl LedgerStore {
    pub fn new(state_dir: &Path) -> LedgerStore {
        LedgerStore {
            state_dir: state_dir.to_path_buf(),
        }
    }

    pub fn path(&self) -> PathBuf {
        self.state_dir.join(LEDGER_FILE)
    }

    /// The ledger for replay cameras named with `prefix`. A missing file (or
    /// state dir) is an empty ledger; a file that cannot be used is set
    /// aside. `Err` only when that could not be decided or done: the caller
    /// must then not act as if the ledger were empty.
    pub fn load(&self, prefix: &str) -> io::Result<(Ledger, LoadNote)> {
        let dir = match self.open_dir() {
            Ok(dir) => dir,
            Err(Errno::NOENT) => return Ok((Ledger::new(prefix), LoadNote::Missing)),
            Err(e) => return Err(self.error("cannot open the state dir", e.into())),
        };
        let bytes = match read_file(&dir) {
            Ok(Some(bytes)) => bytes,
            Ok(None) => return Ok((Ledger::new(prefix), LoadNote::Missing)),
            Err(Unusable::Transient(e)) => return Err(self.error("cannot read", e)),
            Err(Unusable::Refused(reason)) => return self.set_aside(&dir, prefix, reason),
        };
        match Ledger::from_json(&bytes, prefix) {
            Ok(ledger) => Ok((ledger, LoadNote::Loaded)),
            Err(e) => self.set_aside(&dir, prefix, e.to_string()),
        }
    }

    /// Writes `ledger` whole: a fresh temp file, fsync, rename over
    /// ledger.json, fsync the dir. A crash leaves the old ledger or the new
    /// one, never half of one.
    pub fn save(&self, ledger: &Ledger) -> io::Result<()> {
        let bytes = ledger.to_json().map_err(io::Error::other)?;
        let dir = self
            .open_dir()
            .map_err(|e| self.error("cannot open the state dir", e.into()))?;
        // A temp file left by a crash is stale. unlinkat removes a symlink
        // itself, never its target.
        match unlinkat(&dir, TEMP, AtFlags::empty()) {
            Ok(()) | Err(Errno::NOENT) => {}
            Err(e) => return Err(self.error("cannot remove the stale temp file", e.into())),
        }
        // O_EXCL: should anything appear at the name again, fail rather than
        // open it (with O_CREAT|O_EXCL even a symlink is never followed).
        let fd = openat(
            &dir,
            TEMP,
            OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::RUSR | Mode::WUSR,
        )
        .map_err(|e| self.error("cannot create the temp file", e.into()))?;
        let mut file = File::from(fd);
        let written = file.write_all(&bytes).and_then(|()| file.sync_all());
        drop(file);
        if let Err(e) = written {
            let _ = unlinkat(&dir, TEMP, AtFlags::empty());
            return Err(self.error("cannot write the temp file", e));
        }
        if let Err(e) = renameat(&dir, TEMP, &dir, LEDGER) {
            let _ = unlinkat(&dir, TEMP, AtFlags::empty());
            return Err(self.error("cannot rename the temp file", e.into()));
        }
        fsync(&dir).map_err(|e| self.error("cannot sync the state dir", e.into()))
    }

    /// The state dir itself may be a symlink (systemd's `DynamicUser=` makes
    /// it one); only the names inside it are opened without following.
    fn open_dir(&self) -> Result<OwnedFd, Errno> {
        openat(
            CWD,
            &self.state_dir,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
    }

    fn set_aside(
        &self,
        dir: &OwnedFd,
        prefix: &str,
        reason: String,
    ) -> io::Result<(Ledger, LoadNote)> {
        // renameat moves a symlink itself, not what it points to.
        renameat(dir, LEDGER, dir, CORRUPT).map_err(|e| {
            self.error(
                &format!("unusable ({reason}) and cannot be moved aside"),
                e.into(),
            )
        })?;
        Ok((Ledger::new(prefix), LoadNote::SetAside { reason }))
    }

    fn error(&self, what: &str, e: io::Error) -> io::Error {
        io::Error::new(e.kind(), format!("{}: {what}: {e}", self.path().display()))
    }
}

enum Unusable {
    /// Worth retrying (out of fds, memory): the file may be fine.
    Transient(io::Error),
    /// The file itself is not a ledger replayd wrote.
    Refused(String),
}

/// ledger.json's bytes; `None` when there is none.
fn read_file(dir: &OwnedFd) -> Result<Option<Vec<u8>>, Unusable> {
    // O_NONBLOCK: a FIFO planted at the name must not block the daemon in open().
    let fd = match openat(
        dir,
        LEDGER,
        OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::NOCTTY | OFlags::CLOEXEC,
        Mode::empty(),
    ) {
        Ok(fd) => fd,
        Err(Errno::NOENT) => return Ok(None),
        Err(Errno::LOOP) => return Err(Unusable::Refused("is a symbolic link".into())),
        Err(e @ (Errno::ACCESS | Errno::PERM | Errno::NXIO | Errno::NODEV)) => {
            return Err(Unusable::Refused(format!("cannot open: {e}")))
        }
        Err(e) => return Err(Unusable::Transient(e.into())),
    };
    let stat = fstat(&fd).map_err(|e| Unusable::Transient(e.into()))?;
    if FileType::from_raw_mode(stat.st_mode) != FileType::RegularFile {
        return Err(Unusable::Refused("not a regular file".into()));
    }
    if u64::try_from(stat.st_size).unwrap_or(u64::MAX) > MAX_LEDGER_BYTES {
        return Err(Unusable::Refused(format!(
            "larger than {MAX_LEDGER_BYTES} bytes"
        )));
    }
    let mut bytes = Vec::new();
    // Bounded again while reading: the file may grow after fstat.
    File::from(fd)
        .take(MAX_LEDGER_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| Unusable::Refused(format!("cannot read: {e}")))?;
    if bytes.len() as u64 > MAX_LEDGER_BYTES {
        return Err(Unusable::Refused(format!(
            "larger than {MAX_LEDGER_BYTES} bytes"
        )));
    }
    Ok(Some(bytes))
}

#[cfg(test)]
mod tests;
