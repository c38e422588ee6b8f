//! A replay camera's folder, `<replay dir>/<replay camera>/`, handled through
//! directory descriptors only (issue 10, finding 1): the replay dir and the
//! folder are opened without following a symlink and must belong to
//! replayd; every file in it is created O_CREAT|O_EXCL|O_NOFOLLOW relative
//! to the folder's descriptor, handed to ffmpeg as an inherited descriptor,
//! and removed with unlinkat. Whoever else can write the media tree cannot
//! make replayd (or its ffmpeg) write, rename or delete anything else.
//!
//! In link mode the folder holds hard links to the segments, each made from
//! the descriptor of the segment replayd opened and checked (`linkat` of
//! `/proc/self/fd/N`), never from a path the NVR's folders could swap, and
//! the playlist, written under a temporary name and renamed into place.

use std::ffi::OsStr;
use std::fs::File;
use std::io::{self, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use rustix::fs::{fstat, linkat, mkdirat, openat, renameat, unlinkat, AtFlags, Mode, OFlags, CWD};
use rustix::io::Errno;

/// The clip, and ffmpeg's output before it is measured.
pub const CLIP: &str = "clip.mp4";
pub const PART: &str = "clip.mp4.part";

pub struct ReplayFolder {
    dir: OwnedFd,
    path: PathBuf,
}

impl ReplayFolder {
    /// Makes the folder if needed and opens it.
    pub fn create(replay_dir: &Path, replay: &str) -> io::Result<ReplayFolder> {
        let root = open_dir(CWD, replay_dir, true, false)?;
        match mkdirat(&root, replay, Mode::from_raw_mode(0o750)) {
            Ok(()) | Err(Errno::EXIST) => {}
            Err(e) => return Err(context(e, &replay_dir.join(replay))),
        }
        let path = replay_dir.join(replay);
        let dir = open_dir(&root, Path::new(replay), false, true).map_err(|e| relabel(e, &path))?;
        Ok(ReplayFolder { dir, path })
    }

    /// Opens an existing folder; `None` when there is none.
    pub fn open(replay_dir: &Path, replay: &str) -> io::Result<Option<ReplayFolder>> {
        let root = match open_dir(CWD, replay_dir, false, false) {
            Ok(root) => root,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        let path = replay_dir.join(replay);
        match open_dir(&root, Path::new(replay), false, true) {
            Ok(dir) => Ok(Some(ReplayFolder { dir, path })),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(relabel(e, &path)),
        }
    }

    /// Opens a folder that must be there.
    pub fn open_existing(replay_dir: &Path, replay: &str) -> io::Result<ReplayFolder> {
        ReplayFolder::open(replay_dir, replay)?.ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::NotFound,
                format!("{} is gone", replay_dir.join(replay).display()),
            )
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The folder's descriptor, for a child to inherit.
    pub fn fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.dir.as_fd()
    }

    /// Makes room for a new partial clip: whatever had its name (a
    /// leftover, or something planted) is unlinked, never opened. ffmpeg
    /// then creates the file by name inside the folder's descriptor, in a
    /// folder no one but replayd can write in (see [`open_dir`]), so nothing
    /// can be planted at the name in between.
    ///
    /// Not created here: ext4 flushes a file that is truncated and then
    /// rewritten when it is closed (auto_da_alloc), which is what ffmpeg's
    /// O_TRUNC open of an existing file would be; a stop then waited for
    /// hundreds of MB of a clip that is thrown away to reach the disk.
    pub fn clear_part(&self) -> io::Result<()> {
        self.remove(PART).map(drop)
    }

    /// Opens a regular file of the folder for reading (no symlink, no FIFO).
    pub fn open_file(&self, name: &str) -> io::Result<File> {
        let fd = openat(
            &self.dir,
            name,
            OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| context(e, &self.path.join(name)))?;
        let stat = fstat(&fd).map_err(io::Error::from)?;
        if rustix::fs::FileType::from_raw_mode(stat.st_mode) != rustix::fs::FileType::RegularFile {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{} is not a regular file", self.path.join(name).display()),
            ));
        }
        Ok(File::from(fd))
    }

    pub fn rename(&self, from: &str, to: &str) -> io::Result<()> {
        renameat(&self.dir, from, &self.dir, to).map_err(|e| context(e, &self.path.join(from)))
    }

    /// Hard-links the file `file` is open on as `name` in the folder: the
    /// link is exactly the inode that was opened and checked, whatever its
    /// path has become since. `linkat` of the descriptor's `/proc/self/fd`
    /// entry with `AT_SYMLINK_FOLLOW` needs no capability (`AT_EMPTY_PATH`
    /// would need CAP_DAC_READ_SEARCH). A name already there (a leftover of
    /// an interrupted run) is replaced. The kernel's refusal comes back as
    /// it is: EXDEV (another file system) and EPERM
    /// (`fs.protected_hardlinks`) decide between link and copy.
    pub fn link_file(&self, file: &File, name: &str) -> Result<(), Errno> {
        let source = format!("/proc/self/fd/{}", file.as_raw_fd());
        let link = || {
            linkat(
                CWD,
                source.as_str(),
                &self.dir,
                name,
                AtFlags::SYMLINK_FOLLOW,
            )
        };
        match link() {
            Err(Errno::EXIST) => {
                unlinkat(&self.dir, name, AtFlags::empty())?;
                link()
            }
            other => other,
        }
    }

    /// Writes `name` whole or not at all: `temp` is created (O_EXCL,
    /// O_NOFOLLOW) in the folder, filled, and renamed over `name`. No
    /// fsync: session.json lives on a tmpfs, so after a power loss nothing
    /// trusts the folder again (boot cleanup); a daemon crash loses no page.
    pub fn write_replace(&self, temp: &str, name: &str, bytes: &[u8]) -> io::Result<()> {
        self.remove(temp)?;
        let fd = openat(
            &self.dir,
            temp,
            OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::from_raw_mode(0o644),
        )
        .map_err(|e| context(e, &self.path.join(temp)))?;
        let written = File::from(fd).write_all(bytes).map_err(|e| {
            io::Error::new(e.kind(), format!("{}: {e}", self.path.join(temp).display()))
        });
        if let Err(e) = written.and_then(|()| self.rename(temp, name)) {
            let _ = self.remove(temp);
            return Err(e);
        }
        Ok(())
    }

    /// Unlinks every file in the folder (clip, partial clip, links,
    /// playlist); a folder in it, which replayd never makes, is left for
    /// the removal of the folder to report. Returns how many went.
    pub fn remove_files(&self) -> io::Result<u64> {
        let mut names = Vec::new();
        let dir = rustix::fs::Dir::read_from(&self.dir).map_err(|e| context(e, &self.path))?;
        for entry in dir {
            let entry = entry.map_err(|e| context(e, &self.path))?;
            let name = entry.file_name().to_bytes();
            if name == b"." || name == b".." || entry.file_type() == rustix::fs::FileType::Directory
            {
                continue;
            }
            names.push(OsStr::from_bytes(name).to_os_string());
        }
        let mut files = 0;
        for name in names {
            match unlinkat(&self.dir, name.as_os_str(), AtFlags::empty()) {
                Ok(()) => files += 1,
                Err(Errno::NOENT) => {}
                Err(e) => return Err(context(e, &self.path.join(&name))),
            }
        }
        Ok(files)
    }

    /// Unlinks `name` (a symlink itself, never what it points to); whether
    /// it was there.
    pub fn remove(&self, name: &str) -> io::Result<bool> {
        match unlinkat(&self.dir, name, AtFlags::empty()) {
            Ok(()) => Ok(true),
            Err(Errno::NOENT) => Ok(false),
            Err(e) => Err(context(e, &self.path.join(name))),
        }
    }
}

/// Removes a replay camera's folder: its clip and partial clip, or its
/// links and playlist, then the folder itself (which must then be empty).
/// Returns the files removed.
pub fn remove_folder(replay_dir: &Path, replay: &str) -> io::Result<u64> {
    let Some(folder) = ReplayFolder::open(replay_dir, replay)? else {
        return Ok(0);
    };
    let files = folder.remove_files()?;
    let root = open_dir(CWD, replay_dir, false, false)?;
    match unlinkat(&root, replay, AtFlags::REMOVEDIR) {
        Ok(()) | Err(Errno::NOENT) => Ok(files),
        Err(e) => Err(context(e, folder.path())),
    }
}

/// Opens a folder without following a symlink at its last component and
/// checks it is replayd's own; `make` creates a missing one (0750);
/// `private`: no one else may write in it either.
fn open_dir(at: impl AsFd, path: &Path, make: bool, private: bool) -> io::Result<OwnedFd> {
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let dir = match openat(&at, path, flags, Mode::empty()) {
        Ok(dir) => dir,
        Err(Errno::NOENT) if make => {
            std::fs::create_dir_all(path).map_err(|e| {
                io::Error::new(e.kind(), format!("cannot create {}: {e}", path.display()))
            })?;
            openat(&at, path, flags, Mode::empty()).map_err(|e| context(e, path))?
        }
        Err(Errno::NOTDIR) | Err(Errno::LOOP) => {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{} is a symlink or not a folder", path.display()),
            ))
        }
        Err(e) => return Err(context(e, path)),
    };
    let stat = fstat(&dir).map_err(io::Error::from)?;
    let me = rustix::process::geteuid().as_raw();
    // The replay dir itself may be shared (a tmpfs, a sticky folder): only
    // folders and nothing that is replayd's is named in it. A camera's
    // folder, where ffmpeg opens a file by name, must be replayd's alone.
    if private && stat.st_mode & 0o022 != 0 {
        return Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            format!(
                "{} is writable by others (mode {:o}): someone else could plant files in it",
                path.display(),
                stat.st_mode & 0o7777
            ),
        ));
    }
    if stat.st_uid != me {
        return Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            format!(
                "{} belongs to uid {}, not to replayd (uid {me}): someone else could swap what is in it",
                path.display(),
                stat.st_uid
            ),
        ));
    }
    Ok(dir)
}

fn context(e: Errno, path: &Path) -> io::Error {
    let e = io::Error::from(e);
    io::Error::new(e.kind(), format!("{}: {e}", path.display()))
}

fn relabel(e: io::Error, path: &Path) -> io::Error {
    if e.to_string().contains(&path.display().to_string()) {
        e
    } else {
        io::Error::new(e.kind(), format!("{}: {e}", path.display()))
    }
}
