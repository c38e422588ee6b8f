use super::*;
use std::sync::atomic::{AtomicU32, Ordering};

const SCHEMA: &str = include_str!("../../../tests/fixtures/frigate-schema.sql");

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
        params![
            id,
            camera,
            format!("/media/frigate/recordings/{camera}/{id}.mp4"),
            start,
            end,
            end - start
        ],
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
        count(
            &c,
            "SELECT count(*) FROM userreviewstatus WHERE review_segment_id = '_replay_front-r1'"
        ),
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
