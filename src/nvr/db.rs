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

use rusqlite::types::ValueRef;
use rusqlite::{ffi, params, OpenFlags, OptionalExtension, Transaction, TransactionBehavior};

use crate::protocol::printable;

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
    /// A row whose fields are not what the schema says (a date that is not
    /// a finite number, a path that is not text).
    #[error("{table} {id}: {problem}")]
    BadRow {
        table: &'static str,
        id: String,
        problem: String,
    },
    /// Rows are only ever deleted for replay cameras.
    #[error("refusing to delete the rows of {camera:?}: not a replay camera name")]
    NotReplayCamera { camera: String },
}

impl DbError {
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

/// The recordings of a range, and the rows in it that could not be used.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RecordingRange {
    /// By start_time, then id.
    pub recordings: Vec<Recording>,
    /// Why each unusable row was left out, naming it (for the log).
    pub skipped: Vec<String>,
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

    /// Recordings of `camera` overlapping [start, end] (Frigate's rule), by
    /// start_time; each unusable row is logged and left out.
    pub fn recordings(
        &self,
        camera: &str,
        start: f64,
        end: f64,
    ) -> Result<Vec<Recording>, DbError> {
        let range = self.recording_range(camera, start, end)?;
        for reason in &range.skipped {
            log::warn!("skipping a recording of camera {camera}: {reason}");
        }
        Ok(range.recordings)
    }

    /// Recordings of `camera` overlapping [start, end] by Frigate's rule
    /// (SPEC §2: start_time in [start, end], or end_time in [start, end], or
    /// the row contains the whole range), by start_time then id.
    ///
    /// A row whose times or duration are not finite numbers, whose end comes
    /// before its start, or whose id or path is not text is left out and
    /// named in `skipped`: one bad row must not fail a whole start.
    ///
    /// The query reads an index range on (camera, start_time), not every row
    /// of the camera: no well-formed row that overlaps the range starts
    /// before `start` minus the camera's longest recording, which one query
    /// over the (camera, start_time, end_time) index tells first.
    pub fn recording_range(
        &self,
        camera: &str,
        start: f64,
        end: f64,
    ) -> Result<RecordingRange, DbError> {
        const WHAT: &str = "recordings query";
        let lower = start - self.longest_recording(camera)?;
        let mut stmt = self
            .conn
            .prepare(RECORDINGS_QUERY)
            .map_err(|e| DbError::query(WHAT, e))?;
        let mut rows = stmt
            .query(params![camera, start, end, lower])
            .map_err(|e| DbError::query(WHAT, e))?;
        let mut range = RecordingRange::default();
        while let Some(row) = rows.next().map_err(|e| DbError::query(WHAT, e))? {
            match recording_from_row(row) {
                Ok(recording) => range.recordings.push(recording),
                Err(reason) => range.skipped.push(reason),
            }
        }
        Ok(range)
    }

    /// How far before a range a recording that reaches into it may start:
    /// the camera's longest recording, plus a second of slack (the bound is
    /// computed in floating point; the exact rule still filters whatever the
    /// slack lets in). Infinite when the durations overflow, which only
    /// costs the scan the bound saves.
    ///
    /// Frigate's schema has no index that yields the longest duration in
    /// logarithmic time: this reads the camera's entries of the covering
    /// index (camera, start_time, end_time), never the table (at 1M rows
    /// ~0.1 s here against ~0.5-0.9 s for the old row-by-row query). Rows
    /// whose times are text or infinite may widen the bound; that costs time,
    /// never a row, and an NVR that writes the database can widen it just as
    /// well with one long, valid recording.
    fn longest_recording(&self, camera: &str) -> Result<f64, DbError> {
        const WHAT: &str = "longest recording query";
        let longest: Option<f64> = self
            .conn
            .query_row(
                "SELECT max(end_time - start_time) FROM recordings WHERE camera = ?1",
                params![camera],
                |r| r.get(0),
            )
            .map_err(|e| DbError::query(WHAT, e))?;
        // NULL: no rows (or only NaN differences); negative: nothing reaches back.
        let longest = longest.unwrap_or(0.0).max(0.0) + 1.0;
        Ok(if longest.is_finite() {
            longest
        } else {
            f64::INFINITY
        })
    }

    pub fn export(&self, id: &str) -> Result<Option<Export>, DbError> {
        const WHAT: &str = "export query";
        let row = self
            .conn
            .query_row(
                "SELECT id, camera, date, video_path, in_progress FROM export WHERE id = ?1",
                params![id],
                |r| {
                    Ok((
                        r.get::<_, rusqlite::types::Value>(0)?,
                        r.get::<_, rusqlite::types::Value>(1)?,
                        r.get::<_, rusqlite::types::Value>(2)?,
                        r.get::<_, rusqlite::types::Value>(3)?,
                        r.get::<_, rusqlite::types::Value>(4)?,
                    ))
                },
            )
            .optional()
            .map_err(|e| DbError::query(WHAT, e))?;
        let Some((row_id, camera, date, video_path, in_progress)) = row else {
            return Ok(None);
        };
        let bad = |problem: String| DbError::BadRow {
            table: "export",
            id: printable(id),
            problem,
        };
        Ok(Some(Export {
            id: text(ValueRef::from(&row_id), "id").map_err(bad)?,
            camera: text(ValueRef::from(&camera), "camera").map_err(bad)?,
            date: finite(ValueRef::from(&date), "date").map_err(bad)?,
            video_path: PathBuf::from(
                text(ValueRef::from(&video_path), "video_path").map_err(bad)?,
            ),
            in_progress: match in_progress {
                rusqlite::types::Value::Integer(n) => n != 0,
                other => {
                    return Err(bad(format!(
                        "in_progress is {}, not 0 or 1",
                        describe_value(ValueRef::from(&other))
                    )))
                }
            },
        }))
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
        if !crate::replay::names::is_replay_name(camera) {
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

/// The recordings that overlap [?2, ?3] for camera ?1 (Frigate's rule), read
/// through an index range on (camera, start_time): ?4 is the earliest start
/// an overlapping row can have ([`Db::longest_recording`]).
///
/// For every row with finite times and end_time >= start_time the range
/// changes nothing: such a row that overlaps starts no later than ?3 and no
/// earlier than ?4. A row that ends before it starts may fall outside it;
/// such a row is skipped as malformed when it is read anyway.
const RECORDINGS_QUERY: &str = "SELECT id, path, start_time, end_time, duration FROM recordings \
     WHERE camera = ?1 \
       AND start_time BETWEEN ?4 AND ?3 \
       AND (start_time BETWEEN ?2 AND ?3 \
            OR end_time BETWEEN ?2 AND ?3 \
            OR (start_time <= ?2 AND end_time >= ?3)) \
     ORDER BY start_time ASC, id ASC";

/// A recordings row, or why it cannot be used (naming it).
fn recording_from_row(row: &rusqlite::Row<'_>) -> Result<Recording, String> {
    let field = |i: usize| row.get_ref(i).map_err(|e| e.to_string());
    let id = text(field(0)?, "id").map_err(|problem| format!("a row: {problem}"))?;
    let name = |problem: String| format!("recording {}: {problem}", printable(&id));
    let path = text(field(1)?, "path").map_err(name)?;
    let start_time = finite(field(2)?, "start_time").map_err(name)?;
    let end_time = finite(field(3)?, "end_time").map_err(name)?;
    let duration = finite(field(4)?, "duration").map_err(name)?;
    if end_time < start_time {
        return Err(name(format!(
            "ends ({end_time}) before it starts ({start_time})"
        )));
    }
    Ok(Recording {
        id,
        path: PathBuf::from(path),
        start_time,
        end_time,
        duration,
    })
}

/// A finite number from an INTEGER or REAL column value.
fn finite(value: ValueRef<'_>, field: &str) -> Result<f64, String> {
    let number = match value {
        ValueRef::Integer(n) => n as f64,
        ValueRef::Real(x) => x,
        other => {
            return Err(format!(
                "{field} is {}, not a number",
                describe_value(other)
            ))
        }
    };
    if number.is_finite() {
        Ok(number)
    } else {
        Err(format!("{field} is {number}, not a finite number"))
    }
}

fn text(value: ValueRef<'_>, field: &str) -> Result<String, String> {
    match value {
        ValueRef::Text(bytes) => {
            String::from_utf8(bytes.to_vec()).map_err(|_| format!("{field} is not valid UTF-8"))
        }
        other => Err(format!("{field} is {}, not text", describe_value(other))),
    }
}

/// A column value as a message shows it (text escaped and capped).
fn describe_value(value: ValueRef<'_>) -> String {
    match value {
        ValueRef::Null => "NULL".to_string(),
        ValueRef::Integer(n) => n.to_string(),
        ValueRef::Real(x) => x.to_string(),
        ValueRef::Text(bytes) => format!("'{}'", printable(&String::from_utf8_lossy(bytes))),
        ValueRef::Blob(bytes) => format!("a blob of {} bytes", bytes.len()),
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

#[cfg(test)]
mod tests;
