//! The NVR's media files as the daemon opens them: recording segments live
//! in folders the NVR (and whoever shares its media) can write, so a path
//! read from the database may be swapped for a FIFO, a device or a symlink
//! at any moment (SPEC §2, STYLE rule 14).

use rustix::fs::{Mode, OFlags};
use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum SegmentError {
    #[error("segment {path} does not exist")]
    NotFound { path: PathBuf },
    /// A FIFO, socket, device or directory where a segment should be.
    #[error("segment {path} is not a regular file ({kind})")]
    NotRegular { path: PathBuf, kind: &'static str },
    #[error("segment {path} is a symbolic link; segments are opened without following links")]
    Symlink { path: PathBuf },
    #[error("segment {path} is empty")]
    Empty { path: PathBuf },
    /// A symbolic link on the way leads out of the folder it must be read
    /// from (the NVR's media root, a mount of it, the import dir).
    #[error("segment {path} leads out of {} through a symbolic link (map the target in nvr.mounts if it is the NVR's)", root.display())]
    Outside { path: PathBuf, root: PathBuf },
    #[error("cannot open segment {path}: {source}")]
    Io { path: PathBuf, source: io::Error },
}

/// Opens a recording segment for reading and returns it with its size.
///
/// One open, then checks on the fd it returned: a stat of the path followed
/// by an open of the same path can be raced (a file swapped for a FIFO
/// between the two left the poll loop blocked in `open()` for good).
/// `O_NONBLOCK` makes the open itself return at once whatever the path has
/// become (a FIFO without a writer, a device), `fstat` then refuses anything
/// but a regular file, and `O_NONBLOCK` is cleared again so the caller reads
/// the file as usual.
///
/// The last component must not be a symbolic link (`O_NOFOLLOW`): the NVR
/// writes segments as plain files, and a link planted in its folders must
/// not make the daemon read elsewhere. `path` is resolved beneath `root`
/// (`RESOLVE_BENEATH`): a linked folder on the way may point around inside
/// `root`, never out of it. Links in `root`'s own path are followed: the
/// media root itself is often one (a mount or a share).
/// `ELOOP` from the kernel is reported as [`SegmentError::Symlink`]; with
/// `O_NOFOLLOW` it means exactly that the last component is a link (or the
/// path loops through links, which no segment path does).
pub fn open_segment(root: &Path, path: &Path) -> Result<(File, u64), SegmentError> {
    use rustix::fs::{openat2, ResolveFlags};
    let flags = OFlags::RDONLY | OFlags::NONBLOCK | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let io_err = |source: io::Error| SegmentError::Io {
        path: path.to_path_buf(),
        source,
    };
    let outside = || SegmentError::Outside {
        path: path.to_path_buf(),
        root: root.to_path_buf(),
    };
    let relative = match path.strip_prefix(root) {
        Ok(relative) if !relative.as_os_str().is_empty() => relative,
        _ => return Err(outside()),
    };
    let not_found = || SegmentError::NotFound {
        path: path.to_path_buf(),
    };
    let dir = match rustix::fs::open(
        root,
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    ) {
        Ok(dir) => dir,
        Err(rustix::io::Errno::NOENT) => return Err(not_found()),
        Err(e) => return Err(io_err(e.into())),
    };
    let opened = match openat2(
        &dir,
        relative,
        flags,
        Mode::empty(),
        ResolveFlags::BENEATH | ResolveFlags::NO_MAGICLINKS,
    ) {
        // A kernel before 5.6: the last component is still checked.
        Err(rustix::io::Errno::NOSYS) => rustix::fs::open(path, flags, Mode::empty()),
        other => other,
    };
    let fd = match opened {
        Ok(fd) => fd,
        Err(rustix::io::Errno::NOENT) => return Err(not_found()),
        Err(rustix::io::Errno::LOOP) => {
            return Err(SegmentError::Symlink {
                path: path.to_path_buf(),
            })
        }
        Err(rustix::io::Errno::XDEV) => return Err(outside()),
        Err(e) => return Err(io_err(e.into())),
    };
    let file = File::from(fd);
    let meta = file.metadata().map_err(io_err)?;
    let file_type = meta.file_type();
    if !file_type.is_file() {
        return Err(SegmentError::NotRegular {
            path: path.to_path_buf(),
            kind: describe_file_type(&file_type),
        });
    }
    if meta.len() == 0 {
        return Err(SegmentError::Empty {
            path: path.to_path_buf(),
        });
    }
    let flags = rustix::fs::fcntl_getfl(&file).map_err(|e| io_err(e.into()))?;
    rustix::fs::fcntl_setfl(&file, flags - OFlags::NONBLOCK).map_err(|e| io_err(e.into()))?;
    Ok((file, meta.len()))
}

fn describe_file_type(file_type: &std::fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if file_type.is_dir() {
        "a directory"
    } else if file_type.is_fifo() {
        "a FIFO"
    } else if file_type.is_socket() {
        "a socket"
    } else if file_type.is_char_device() {
        "a character device"
    } else if file_type.is_block_device() {
        "a block device"
    } else if file_type.is_symlink() {
        "a symbolic link"
    } else {
        "not a file"
    }
}

#[cfg(test)]
mod tests;
