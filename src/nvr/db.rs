//! The NVR's SQLite database (Frigate's schema): recordings, exports, a camera's rows.
//! CONTRACT STUB — to be implemented; keep these signatures.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("cannot open database {path}: {source}")]
    Open {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error("database {what} failed: {source}")]
    Query {
        what: &'static str,
        source: rusqlite::Error,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Recording {
    pub id: String,
    pub path: PathBuf,
    pub start_time: f64,
    pub end_time: f64,
    pub duration: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Export {
    pub id: String,
    pub camera: String,
    pub date: f64,
    pub video_path: PathBuf,
    pub in_progress: bool,
}

/// What a replay camera produced (for the stop summary).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ReplayCounts {
    pub events: u64,
    pub events_by_label: BTreeMap<String, u64>,
    pub alerts: u64,
    pub detections: u64,
}

pub struct Db {
    conn: rusqlite::Connection,
}

impl Db {
    /// Opens an existing database read-write (never creates one).
    pub fn open(_path: &Path, _busy_timeout: Duration) -> Result<Db, DbError> {
        todo!()
    }
    /// Recordings of `camera` overlapping [start, end] (Frigate's rule), by start_time.
    pub fn recordings(&self, _camera: &str, _start: f64, _end: f64) -> Result<Vec<Recording>, DbError> {
        let _ = &self.conn;
        todo!()
    }
    pub fn export(&self, _id: &str) -> Result<Option<Export>, DbError> {
        todo!()
    }
    pub fn replay_counts(&self, _camera: &str) -> Result<ReplayCounts, DbError> {
        todo!()
    }
    /// Deletes the camera's rows (SPEC §2 cleanup); returns rows removed.
    pub fn delete_camera_rows(&self, _camera: &str) -> Result<u64, DbError> {
        todo!()
    }
}
