//! The NVR's SQLite database (Frigate's schema): recordings, exports, a camera's rows.
//!
//! The NVR owns this database and writes to it all the time; replayd only
//! reads ranges and, when a replay ends, deletes the replay camera's rows.
//! Frigate's schema changes between releases, so every table this module
//! deletes from or counts is looked up first: a table or column that an
//! older or newer NVR does not have is logged and skipped, never fatal.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{ffi, params, OpenFlags, OptionalExtension, Transaction, TransactionBehavior};

/// Tables whose `camera` column names the camera a row belongs to (SPEC §2).
pub const CAMERA_TABLES: [&str; 7] = [
    "event",
    "timeline",
    "recordings",
    "reviewsegment",
    "previews",
    "regions",
    "trigger",
];

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("cannot open database {path}: {source}")]
    Open {
        path: PathBuf,
        source: rusqlite::Error,
    },
    /// A missing file is not silently turned into a new, empty database.
    #[error("database {path} does not exist")]
    Missing { path: PathBuf, source: io::Error },
    /// SQLite falls back to read-only when it cannot write the file; deleting
    /// rows would then fail only at the end of a session, so say it up front.
    #[error("database {path} can only be opened read-only (check the permissions of the file and its directory)")]
    ReadOnly { path: PathBuf },
    /// The NVR held its write lock for longer than the busy timeout.
    #[error("database is locked ({what}): {source}")]
    Locked {
        what: &'static str,
        source: rusqlite::Error,
    },
    #[error("database {what} failed: {source}")]
    Query {
        what: &'static str,
        source: rusqlite::Error,
    },
    /// Rows are only ever deleted for replay cameras.
    #[error("refusing to delete the rows of {camera:?}: not a replay camera name")]
    NotReplayCamera { camera: String },
}

impl DbError {
    /// True when the error is a busy or locked database (after the busy timeout).
    pub fn is_locked(&self) -> bool {
        matches!(self, DbError::Locked { .. })
    }

    fn query(what: &'static str, source: rusqlite::Error) -> DbError {
        if is_busy(&source) {
            DbError::Locked { what, source }
        } else {
            DbError::Query { what, source }
        }
    }
}

fn is_busy(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(ffi::ErrorCode::DatabaseBusy | ffi::ErrorCode::DatabaseLocked)
    )
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

/// Whether a table holds a column, as far as this database's schema goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Schema {
    Present,
    NoTable,
    NoColumn,
}

pub struct Db {
    conn: rusqlite::Connection,
}

impl Db {
    /// Opens an existing database read-write (never creates one).
    pub fn open(path: &Path, busy_timeout: Duration) -> Result<Db, DbError> {
        // No SQLITE_OPEN_URI: a configured path that happens to start with
        // "file:" must still name a file, not carry connection options.
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let open_err = |source: rusqlite::Error| match std::fs::metadata(path) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => DbError::Missing {
                path: path.to_path_buf(),
                source: e,
            },
            _ if is_busy(&source) => DbError::Locked {
                what: "open",
                source,
            },
            _ => DbError::Open {
                path: path.to_path_buf(),
                source,
            },
        };
        let conn = rusqlite::Connection::open_with_flags(path, flags).map_err(open_err)?;
        // Not Connection::busy_timeout(): rusqlite 0.43 implements it with
        // sqlite3_set_clientdata, which needs SQLite 3.44, newer than
        // Debian 12's 3.40 (the link fails). The pragma does the same.
        let ms = i64::try_from(busy_timeout.as_millis()).unwrap_or(i64::from(i32::MAX));
        let ms = ms.min(i64::from(i32::MAX));
        conn.query_row(&format!("PRAGMA busy_timeout = {ms}"), [], |r| {
            r.get::<_, i64>(0)
        })
        .map_err(open_err)?;
        // SQLite reads nothing at open time; a file that is not a database
        // (or a directory) only shows up at the first statement.
        conn.query_row("SELECT count(*) FROM sqlite_master", [], |r| {
            r.get::<_, i64>(0)
        })
        .map_err(open_err)?;
        if conn.is_readonly("main").map_err(open_err)? {
            return Err(DbError::ReadOnly {
                path: path.to_path_buf(),
            });
        }
        Ok(Db { conn })
    }

    /// Recordings of `camera` overlapping [start, end] (Frigate's rule), by start_time.
    pub fn recordings(
        &self,
        camera: &str,
        start: f64,
        end: f64,
    ) -> Result<Vec<Recording>, DbError> {
        const WHAT: &str = "recordings query";
        let mut stmt = self
            .conn
            .prepare(
                "SELECT id, path, start_time, end_time, duration FROM recordings \
                 WHERE camera = ?1 \
                   AND (start_time BETWEEN ?2 AND ?3 \
                        OR end_time BETWEEN ?2 AND ?3 \
                        OR (start_time <= ?2 AND end_time >= ?3)) \
                 ORDER BY start_time ASC, id ASC",
            )
            .map_err(|e| DbError::query(WHAT, e))?;
        let rows = stmt
            .query_map(params![camera, start, end], |r| {
                Ok(Recording {
                    id: r.get(0)?,
                    path: PathBuf::from(r.get::<_, String>(1)?),
                    start_time: r.get(2)?,
                    end_time: r.get(3)?,
                    duration: r.get(4)?,
                })
            })
            .map_err(|e| DbError::query(WHAT, e))?;
        rows.collect::<Result<Vec<_>, _>>()
            .map_err(|e| DbError::query(WHAT, e))
    }

    pub fn export(&self, id: &str) -> Result<Option<Export>, DbError> {
        const WHAT: &str = "export query";
        self.conn
            .query_row(
                "SELECT id, camera, date, video_path, in_progress FROM export WHERE id = ?1",
                params![id],
                |r| {
                    Ok(Export {
                        id: r.get(0)?,
                        camera: r.get(1)?,
                        date: r.get(2)?,
                        video_path: PathBuf::from(r.get::<_, String>(3)?),
                        in_progress: r.get(4)?,
                    })
                },
            )
            .optional()
            .map_err(|e| DbError::query(WHAT, e))
    }

    /// Events (per label) and review segments (per severity) of `camera`.
    /// A table or column this NVR version lacks counts as zero.
    pub fn replay_counts(&self, camera: &str) -> Result<ReplayCounts, DbError> {
        let mut counts = ReplayCounts::default();
        for (label, n) in self.count_by(camera, "event", "label")? {
            counts.events += n;
            *counts.events_by_label.entry(label).or_insert(0) += n;
        }
        for (severity, n) in self.count_by(camera, "reviewsegment", "severity")? {
            match severity.as_str() {
                "alert" => counts.alerts += n,
                "detection" => counts.detections += n,
                _ => {}
            }
        }
        Ok(counts)
    }

    /// `camera`'s rows of `table` counted per value of `column` (NULL as "");
    /// nothing when this NVR version lacks the table or a column.
    fn count_by(
        &self,
        camera: &str,
        table: &'static str,
        column: &'static str,
    ) -> Result<Vec<(String, u64)>, DbError> {
        const WHAT: &str = "replay counts";
        if !usable(&self.conn, table, &["camera", column], camera, WHAT)? {
            return Ok(Vec::new());
        }
        // Both names are constants of this module, never input.
        let sql = format!(
            "SELECT \"{column}\", count(*) FROM \"{table}\" WHERE camera = ?1 GROUP BY \"{column}\""
        );
        let mut stmt = self
            .conn
            .prepare(&sql)
            .map_err(|e| DbError::query(WHAT, e))?;
        let rows = stmt
            .query_map(params![camera], |r| {
                Ok((r.get::<_, Option<String>>(0)?, r.get::<_, i64>(1)?))
            })
            .map_err(|e| DbError::query(WHAT, e))?;
        rows.map(|row| {
            let (value, n) = row.map_err(|e| DbError::query(WHAT, e))?;
            Ok((value.unwrap_or_default(), u64::try_from(n).unwrap_or(0)))
        })
        .collect()
    }

    /// Deletes the camera's rows (SPEC §2 cleanup); returns rows removed.
    ///
    /// One transaction: the NVR never sees half a camera. It is taken
    /// IMMEDIATE so the write lock is waited for (busy timeout) up front,
    /// instead of failing without a wait when a read lock cannot be upgraded.
    /// Only names with the replay prefix are accepted.
    pub fn delete_camera_rows(&self, camera: &str) -> Result<u64, DbError> {
        const WHAT: &str = "delete of a camera's rows";
        if !is_replay_camera_name(camera) {
            return Err(DbError::NotReplayCamera {
                camera: camera.to_string(),
            });
        }
        let tx = Transaction::new_unchecked(&self.conn, TransactionBehavior::Immediate)
            .map_err(|e| DbError::query(WHAT, e))?;
        let mut removed: u64 = 0;

        // First, while the camera's review segments still exist to find them.
        // Not left to ON DELETE CASCADE: SQLite enforces foreign keys only
        // when the connection enables them, which the NVR's may not.
        if usable(
            &tx,
            "userreviewstatus",
            &["review_segment_id"],
            camera,
            WHAT,
        )? && usable(&tx, "reviewsegment", &["id", "camera"], camera, WHAT)?
        {
            let n = tx
                .execute(
                    "DELETE FROM \"userreviewstatus\" WHERE \"review_segment_id\" IN \
                     (SELECT \"id\" FROM \"reviewsegment\" WHERE \"camera\" = ?1)",
                    params![camera],
                )
                .map_err(|e| DbError::query(WHAT, e))?;
            removed += n as u64;
        }

        for table in CAMERA_TABLES {
            if !usable(&tx, table, &["camera"], camera, WHAT)? {
                continue;
            }
            // `table` comes from CAMERA_TABLES, never from input; quoted
            // because `trigger` is an SQL keyword.
            let sql = format!("DELETE FROM \"{table}\" WHERE \"camera\" = ?1");
            let n = tx
                .execute(&sql, params![camera])
                .map_err(|e| DbError::query(WHAT, e))?;
            removed += n as u64;
        }

        tx.commit().map_err(|e| DbError::query(WHAT, e))?;
        Ok(removed)
    }
}

/// Whether `table` has all of `columns`; logs and returns false otherwise.
fn usable(
    conn: &rusqlite::Connection,
    table: &str,
    columns: &[&str],
    camera: &str,
    what: &'static str,
) -> Result<bool, DbError> {
    for column in columns {
        match column_state(conn, table, column).map_err(|e| DbError::query(what, e))? {
            Schema::Present => {}
            Schema::NoTable => {
                log::warn!(
                    "database has no table {table}; skipped it for camera {camera} ({what})"
                );
                return Ok(false);
            }
            Schema::NoColumn => {
                log::warn!(
                    "database table {table} has no column {column}; skipped it for camera {camera} ({what})"
                );
                return Ok(false);
            }
        }
    }
    Ok(true)
}

fn column_state(
    conn: &rusqlite::Connection,
    table: &str,
    column: &str,
) -> rusqlite::Result<Schema> {
    let has_table: bool = conn
        .prepare(
            "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1 COLLATE NOCASE)",
        )?
        .query_row(params![table], |r| r.get(0))?;
    if !has_table {
        return Ok(Schema::NoTable);
    }
    let has_column: bool = conn
        .prepare(
            "SELECT EXISTS (SELECT 1 FROM pragma_table_info(?1) WHERE name = ?2 COLLATE NOCASE)",
        )?
        .query_row(params![table, column], |r| r.get(0))?;
    Ok(if has_column {
        Schema::Present
    } else {
        Schema::NoColumn
    })
}

/// `_replay_` followed by a valid camera name (SPEC §1).
fn is_replay_camera_name(name: &str) -> bool {
    name.len() > "_replay_".len()
        && name.starts_with("_replay_")
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

#[cfg(test)]
mod tests;
