//! A replay camera's media files, and the stale replay cameras found at boot.
//! CONTRACT STUB — to be implemented; keep these signatures.

use std::collections::BTreeSet;
use std::io;
use std::path::Path;

/// Removes the replay camera's files under `media_root` (SPEC §2 cleanup); returns files removed.
pub fn remove_camera_files(_media_root: &Path, _camera: &str) -> io::Result<u64> {
    todo!()
}

/// Names with the replay prefix found in recordings/, clips/, clips/thumbs/, clips/replay/*.mp4.
pub fn stale_replay_cameras(_media_root: &Path) -> io::Result<BTreeSet<String>> {
    todo!()
}
