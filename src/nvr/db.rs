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
        const WHAT: &str = "replay counts";
        let mut counts = ReplayCounts::default();

        if usable(&self.conn, "event", &["camera", "label"], camera, WHAT)? {
            let mut stmt = self
                .conn
                .prepare("SELECT label, count(*) FROM event WHERE camera = ?1 GROUP BY label")
                .map_err(|e| DbError::query(WHAT, e))?;
            let rows = stmt
                .query_map(params![camera], |r| {
                    Ok((r.get::<_, Option<String>>(0)?, r.get::<_, i64>(1)?))
                })
                .map_err(|e| DbError::query(WHAT, e))?;
            for row in rows {
                let (label, n) = row.map_err(|e| DbError::query(WHAT, e))?;
                let n = u64::try_from(n).unwrap_or(0);
                counts.events += n;
                *counts
                    .events_by_label
                    .entry(label.unwrap_or_default())
                    .or_insert(0) += n;
            }
        }

        if usable(
            &self.conn,
            "reviewsegment",
            &["camera", "severity"],
            camera,
            WHAT,
        )? {
            let mut stmt = self
                .conn
                .prepare(
                    "SELECT severity, count(*) FROM reviewsegment WHERE camera = ?1 GROUP BY severity",
                )
                .map_err(|e| DbError::query(WHAT, e))?;
            let rows = stmt
                .query_map(params![camera], |r| {
                    Ok((r.get::<_, Option<String>>(0)?, r.get::<_, i64>(1)?))
                })
                .map_err(|e| DbError::query(WHAT, e))?;
            for row in rows {
                let (severity, n) = row.map_err(|e| DbError::query(WHAT, e))?;
                let n = u64::try_from(n).unwrap_or(0);
                match severity.as_deref() {
                    Some("alert") => counts.alerts += n,
                    Some("detection") => counts.detections += n,
                    _ => {}
                }
            }
        }
        Ok(counts)
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
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    const SCHEMA: &str = include_str!("../../tests/fixtures/frigate-schema.sql");

    /// A temp-file database (so a second connection can lock it), removed on drop.
    struct TempDb {
        dir: PathBuf,
        path: PathBuf,
    }

    impl TempDb {
        fn new(schema: &str) -> TempDb {
            static N: AtomicU32 = AtomicU32::new(0);
            let dir = std::env::temp_dir().join(format!(
                "replayd-db-test-{}-{}",
                std::process::id(),
                N.fetch_add(1, Ordering::Relaxed)
            ));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).unwrap();
            let path = dir.join("frigate.db");
            let conn = rusqlite::Connection::open(&path).unwrap();
            conn.execute_batch(schema).unwrap();
            TempDb { dir, path }
        }
        fn raw(&self) -> rusqlite::Connection {
            rusqlite::Connection::open(&self.path).unwrap()
        }
        fn db(&self) -> Db {
            Db::open(&self.path, Duration::from_millis(100)).unwrap()
        }
    }

    impl Drop for TempDb {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }

    fn add_recording(c: &rusqlite::Connection, id: &str, camera: &str, start: f64, end: f64) {
        c.execute(
            "INSERT INTO recordings (id, camera, path, start_time, end_time, duration, segment_size) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, 1.0)",
            params![id, camera, format!("/media/frigate/recordings/{camera}/{id}.mp4"), start, end, end - start],
        )
        .unwrap();
    }

    fn ids(recs: &[Recording]) -> Vec<&str> {
        recs.iter().map(|r| r.id.as_str()).collect()
    }

    #[test]
    fn overlap_rule() {
        let t = TempDb::new(SCHEMA);
        let c = t.raw();
        // Inserted out of order to check ORDER BY start_time.
        add_recording(&c, "after", "front", 300.0, 310.0);
        add_recording(&c, "inside", "front", 120.0, 130.0);
        add_recording(&c, "straddle_start", "front", 95.0, 105.0);
        add_recording(&c, "straddle_end", "front", 195.0, 205.0);
        add_recording(&c, "before", "front", 50.0, 60.0);
        add_recording(&c, "touch_start", "front", 90.0, 100.0);
        add_recording(&c, "touch_end", "front", 200.0, 210.0);
        add_recording(&c, "other_cam", "back", 120.0, 130.0);
        add_recording(&c, "just_before", "front", 89.0, 99.9);
        let db = t.db();
        let recs = db.recordings("front", 100.0, 200.0).unwrap();
        assert_eq!(
            ids(&recs),
            [
                "touch_start",
                "straddle_start",
                "inside",
                "straddle_end",
                "touch_end"
            ]
        );
        let r = &recs[2];
        assert_eq!(
            r.path,
            PathBuf::from("/media/frigate/recordings/front/inside.mp4")
        );
        assert_eq!((r.start_time, r.end_time, r.duration), (120.0, 130.0, 10.0));

        // A segment containing the whole range.
        add_recording(&c, "long", "front", 1000.0, 2000.0);
        let recs = db.recordings("front", 1200.0, 1300.0).unwrap();
        assert_eq!(ids(&recs), ["long"]);

        assert!(db.recordings("front", 400.0, 500.0).unwrap().is_empty());
        assert!(db.recordings("nobody", 0.0, 5000.0).unwrap().is_empty());
        assert_eq!(
            ids(&db.recordings("back", 0.0, 5000.0).unwrap()),
            ["other_cam"]
        );
    }

    #[test]
    fn integer_times_are_read_as_floats() {
        let t = TempDb::new(SCHEMA);
        t.raw()
            .execute(
                "INSERT INTO recordings (id, camera, path, start_time, end_time, duration, segment_size) \
                 VALUES ('i', 'front', '/x.mp4', 100, 110, 10, 1)",
                [],
            )
            .unwrap();
        let recs = t.db().recordings("front", 0.0, 1000.0).unwrap();
        assert_eq!(recs[0].start_time, 100.0);
    }

    #[test]
    fn export_found_and_missing() {
        let t = TempDb::new(SCHEMA);
        t.raw()
            .execute(
                "INSERT INTO export (id, camera, name, date, video_path, thumb_path, in_progress) \
                 VALUES ('front_abc', 'front', 'n', 1700000000.5, '/media/frigate/exports/a.mp4', '/t.webp', 0)",
                [],
            )
            .unwrap();
        let db = t.db();
        assert_eq!(
            db.export("front_abc").unwrap(),
            Some(Export {
                id: "front_abc".into(),
                camera: "front".into(),
                date: 1700000000.5,
                video_path: "/media/frigate/exports/a.mp4".into(),
                in_progress: false,
            })
        );
        assert_eq!(db.export("nope").unwrap(), None);
    }

    fn add_event(c: &rusqlite::Connection, id: &str, camera: &str, label: &str) {
        c.execute(
            "INSERT INTO event (id, label, camera, start_time, zones, has_clip, has_snapshot, retain_indefinitely, data) \
             VALUES (?1, ?2, ?3, 1.0, '[]', 0, 0, 0, '{}')",
            params![id, label, camera],
        )
        .unwrap();
    }

    fn add_review(c: &rusqlite::Connection, id: &str, camera: &str, severity: &str) {
        c.execute(
            "INSERT INTO reviewsegment (id, camera, start_time, severity, thumb_path, data) \
             VALUES (?1, ?2, 1.0, ?3, '/t', '{}')",
            params![id, camera, severity],
        )
        .unwrap();
    }

    /// Rows for `_replay_front` plus look-alike cameras that must survive.
    fn populate(c: &rusqlite::Connection) {
        for cam in ["_replay_front", "_replay_front-door", "front"] {
            add_event(c, &format!("{cam}-e1"), cam, "person");
            add_event(c, &format!("{cam}-e2"), cam, "person");
            add_event(c, &format!("{cam}-e3"), cam, "car");
            add_review(c, &format!("{cam}-r1"), cam, "alert");
            add_review(c, &format!("{cam}-r2"), cam, "detection");
            add_review(c, &format!("{cam}-r3"), cam, "detection");
            add_recording(c, &format!("{cam}-rec"), cam, 1.0, 2.0);
            c.execute(
                "INSERT INTO timeline (timestamp, camera, source, class_type, data) VALUES (1.0, ?1, 'tracked_object', 'entered_zone', '{}')",
                params![cam],
            )
            .unwrap();
            c.execute(
                "INSERT INTO previews (id, camera, path, start_time, end_time, duration) VALUES (?1, ?2, '/p', 1.0, 2.0, 1.0)",
                params![format!("{cam}-p"), cam],
            )
            .unwrap();
            c.execute(
                "INSERT INTO regions (camera, last_update, grid) VALUES (?1, 1.0, '[]')",
                params![cam],
            )
            .unwrap();
            c.execute(
                "INSERT INTO \"trigger\" (camera, name, type, model, data) VALUES (?1, 't', 'description', 'm', 'd')",
                params![cam],
            )
            .unwrap();
            for user in ["admin", "viewer"] {
                c.execute(
                    "INSERT INTO userreviewstatus (user_id, review_segment_id, has_been_reviewed) VALUES (?1, ?2, 1)",
                    params![user, format!("{cam}-r1")],
                )
                .unwrap();
            }
        }
    }

    fn count(c: &rusqlite::Connection, sql: &str) -> i64 {
        c.query_row(sql, [], |r| r.get(0)).unwrap()
    }

    #[test]
    fn counts() {
        let t = TempDb::new(SCHEMA);
        populate(&t.raw());
        let db = t.db();
        let counts = db.replay_counts("_replay_front").unwrap();
        assert_eq!(
            counts,
            ReplayCounts {
                events: 3,
                events_by_label: BTreeMap::from([("car".into(), 1), ("person".into(), 2)]),
                alerts: 1,
                detections: 2,
            }
        );
        assert_eq!(
            db.replay_counts("_replay_nobody").unwrap(),
            ReplayCounts::default()
        );
    }

    #[test]
    fn counts_with_missing_tables_are_zero() {
        let t = TempDb::new(
            "CREATE TABLE recordings (id TEXT PRIMARY KEY, camera TEXT, path TEXT, start_time REAL, end_time REAL, duration REAL);",
        );
        assert_eq!(
            t.db().replay_counts("_replay_front").unwrap(),
            ReplayCounts::default()
        );
    }

    #[test]
    fn delete_removes_exactly_the_replay_cameras_rows() {
        let t = TempDb::new(SCHEMA);
        let c = t.raw();
        populate(&c);
        let db = t.db();
        // 3 events + 1 timeline + 1 recording + 3 reviews + 1 preview
        // + 1 region + 1 trigger + 2 review statuses.
        assert_eq!(db.delete_camera_rows("_replay_front").unwrap(), 13);
        for table in CAMERA_TABLES {
            let sql = format!("SELECT count(*) FROM \"{table}\" WHERE camera = '_replay_front'");
            assert_eq!(count(&c, &sql), 0, "{table}");
            for other in ["_replay_front-door", "front"] {
                let sql = format!("SELECT count(*) FROM \"{table}\" WHERE camera = '{other}'");
                assert!(count(&c, &sql) > 0, "{table} {other}");
            }
        }
        assert_eq!(
            count(&c, "SELECT count(*) FROM userreviewstatus WHERE review_segment_id = '_replay_front-r1'"),
            0
        );
        assert_eq!(count(&c, "SELECT count(*) FROM userreviewstatus"), 4);
        // Idempotent: a second cleanup finds nothing.
        assert_eq!(db.delete_camera_rows("_replay_front").unwrap(), 0);
    }

    #[test]
    fn delete_refuses_names_without_the_prefix() {
        let t = TempDb::new(SCHEMA);
        let c = t.raw();
        populate(&c);
        let db = t.db();
        for name in ["front", "_replay_", "_replay_x'; --", "_replay_a/b", ""] {
            assert!(
                matches!(
                    db.delete_camera_rows(name),
                    Err(DbError::NotReplayCamera { .. })
                ),
                "{name}"
            );
        }
        assert_eq!(count(&c, "SELECT count(*) FROM event"), 9);
    }

    #[test]
    fn delete_skips_missing_tables_and_columns() {
        // No event, timeline, previews or userreviewstatus; regions without
        // a camera column; trigger under a different case.
        let t = TempDb::new(
            "CREATE TABLE recordings (id TEXT PRIMARY KEY, camera TEXT, path TEXT, start_time REAL, end_time REAL, duration REAL);
             CREATE TABLE reviewsegment (id TEXT PRIMARY KEY, camera TEXT, severity TEXT);
             CREATE TABLE regions (cam TEXT);
             CREATE TABLE \"Trigger\" (camera TEXT, name TEXT);
             INSERT INTO recordings VALUES ('a', '_replay_front', '/a', 1, 2, 1), ('b', 'front', '/b', 1, 2, 1);
             INSERT INTO reviewsegment VALUES ('r', '_replay_front', 'alert');
             INSERT INTO regions VALUES ('_replay_front');
             INSERT INTO \"Trigger\" VALUES ('_replay_front', 't');",
        );
        let db = t.db();
        assert_eq!(db.delete_camera_rows("_replay_front").unwrap(), 3);
        let c = t.raw();
        assert_eq!(count(&c, "SELECT count(*) FROM recordings"), 1);
        assert_eq!(count(&c, "SELECT count(*) FROM regions"), 1);
        assert_eq!(
            db.replay_counts("_replay_front").unwrap(),
            ReplayCounts::default()
        );
    }

    #[test]
    fn missing_file_is_an_error_not_a_new_database() {
        let t = TempDb::new(SCHEMA);
        let path = t.dir.join("absent.db");
        let err = Db::open(&path, Duration::from_millis(10)).err().unwrap();
        assert!(matches!(err, DbError::Missing { .. }), "{err:?}");
        assert!(err.to_string().contains("absent.db"), "{err}");
        assert!(!path.exists());
    }

    #[test]
    fn not_a_database_is_an_open_error() {
        let t = TempDb::new(SCHEMA);
        let path = t.dir.join("garbage.db");
        std::fs::write(&path, vec![b'x'; 4096]).unwrap();
        let err = Db::open(&path, Duration::from_millis(10)).err().unwrap();
        assert!(matches!(err, DbError::Open { .. }), "{err:?}");
        let err = Db::open(&t.dir, Duration::from_millis(10)).err().unwrap();
        assert!(matches!(err, DbError::Open { .. }), "{err:?}");
    }

    #[test]
    fn locked_database_is_reported_as_locked() {
        for wal in [false, true] {
            let t = TempDb::new(SCHEMA);
            if wal {
                t.raw()
                    .query_row("PRAGMA journal_mode = WAL", [], |r| r.get::<_, String>(0))
                    .unwrap();
            }
            populate(&t.raw());
            let db = Db::open(&t.path, Duration::from_millis(50)).unwrap();
            let holder = t.raw();
            holder.execute_batch("BEGIN EXCLUSIVE").unwrap();
            let started = std::time::Instant::now();
            let err = db.delete_camera_rows("_replay_front").err().unwrap();
            assert!(err.is_locked(), "wal={wal}: {err:?}");
            assert!(err.to_string().contains("database is locked"), "{err}");
            assert!(started.elapsed() >= Duration::from_millis(40));
            holder.execute_batch("ROLLBACK").unwrap();
            // Nothing was half-deleted, and it works once the lock is gone.
            assert_eq!(db.delete_camera_rows("_replay_front").unwrap(), 13);
        }
    }

    #[test]
    fn replay_name_check() {
        assert!(is_replay_camera_name("_replay_front-door_2"));
        assert!(!is_replay_camera_name("_replay_"));
        assert!(!is_replay_camera_name("replay_front"));
        assert!(!is_replay_camera_name("_replay_../x"));
        assert!(!is_replay_camera_name("_replay_fr ont"));
    }
}
