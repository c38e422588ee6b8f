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
        assert!(matches!(err, DbError::Locked { .. }), "wal={wal}: {err:?}");
        assert!(err.to_string().contains("database is locked"), "{err}");
        assert!(started.elapsed() >= Duration::from_millis(40));
        holder.execute_batch("ROLLBACK").unwrap();
        // Nothing was half-deleted, and it works once the lock is gone.
        assert_eq!(db.delete_camera_rows("_replay_front").unwrap(), 13);
    }
}

fn add_raw_recording(c: &rusqlite::Connection, id: &str, start: &str, end: &str, duration: &str) {
    // Literal SQL so that a test can store what no well-behaved NVR writes:
    // text, an infinity (9e999), an end before the start.
    c.execute_batch(&format!(
        "INSERT INTO recordings (id, camera, path, start_time, end_time, duration, segment_size) \
         VALUES ('{id}', 'front', '/media/frigate/recordings/front/{id}.mp4', {start}, {end}, {duration}, 1.0)"
    ))
    .unwrap();
}

#[test]
fn bad_recording_rows_are_skipped_not_fatal() {
    let t = TempDb::new(SCHEMA);
    let c = t.raw();
    add_recording(&c, "good_1", "front", 100.0, 110.0);
    add_recording(&c, "good_2", "front", 110.0, 120.0);
    add_raw_recording(&c, "text_start", "'NaN'", "115", "10");
    add_raw_recording(&c, "text_end", "112", "'soon'", "10");
    add_raw_recording(&c, "inf_duration", "113", "114", "9e999");
    add_raw_recording(&c, "inf_end", "114", "9e999", "10");
    add_raw_recording(&c, "backwards", "116", "111", "-5");
    let db = t.db();
    let recs = db.recordings("front", 100.0, 200.0).unwrap();
    assert_eq!(ids(&recs), ["good_1", "good_2"]);
    assert!(recs
        .iter()
        .all(|r| r.start_time.is_finite() && r.end_time.is_finite() && r.duration.is_finite()));

    let range = db.recording_range("front", 100.0, 200.0).unwrap();
    assert_eq!(ids(&range.recordings), ["good_1", "good_2"]);
    // A text start_time sorts after every number in SQLite: no range query
    // returns it, so it is never read (and never used).
    let skipped = range.skipped.join("\n");
    for (id, needle) in [
        ("text_end", "end_time is 'soon', not a number"),
        ("inf_duration", "duration is inf, not a finite number"),
        ("inf_end", "end_time is inf"),
        ("backwards", "ends (111) before it starts (116)"),
    ] {
        assert!(
            skipped.contains(&format!("recording {id}: {needle}")),
            "{id}: {skipped}"
        );
    }
    assert_eq!(range.skipped.len(), 4, "{skipped}");
}

#[test]
fn a_bad_export_is_an_error_naming_it() {
    let t = TempDb::new(SCHEMA);
    for (id, date) in [("front_inf", "9e999"), ("front_text", "'yesterday'")] {
        t.raw()
            .execute_batch(&format!(
                "INSERT INTO export (id, camera, name, date, video_path, thumb_path, in_progress) \
                 VALUES ('{id}', 'front', 'n', {date}, '/media/frigate/exports/a.mp4', '/t.webp', 0)"
            ))
            .unwrap();
        let err = t.db().export(id).expect_err("a non-finite date is refused");
        let message = err.to_string();
        assert!(
            message.contains(id) && message.contains("date"),
            "{message}"
        );
    }
}

/// Frigate's overlap rule written out, to check the query against.
fn overlaps(r: &Recording, start: f64, end: f64) -> bool {
    (start..=end).contains(&r.start_time)
        || (start..=end).contains(&r.end_time)
        || (r.start_time <= start && r.end_time >= end)
}

#[test]
fn the_start_time_bound_keeps_the_overlap_rule_exact() {
    let t = TempDb::new(SCHEMA);
    let c = t.raw();
    // Deterministic pseudo-random rows: starts over 20,000 s, durations up
    // to 600 s (a few far longer), and another camera with longer ones.
    let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = |n: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % n
    };
    let mut all = Vec::new();
    c.execute_batch("BEGIN").unwrap();
    for i in 0..2_000 {
        let start = next(20_000) as f64 + next(1000) as f64 / 1000.0;
        let duration = if i % 500 == 7 {
            3_000.0 + next(4_000) as f64
        } else {
            next(600) as f64 + 0.25
        };
        let id = format!("r{i:04}");
        add_recording(&c, &id, "front", start, start + duration);
        all.push(Recording {
            id,
            path: PathBuf::new(),
            start_time: start,
            end_time: start + duration,
            duration,
        });
        add_recording(&c, &format!("o{i:04}"), "back", start, start + 9_000.0);
    }
    c.execute_batch("COMMIT").unwrap();
    let db = t.db();
    for _ in 0..300 {
        let start = next(21_000) as f64 - 500.0 + next(4) as f64 * 0.25;
        let end = start + next(2_000) as f64;
        let mut want: Vec<&Recording> = all.iter().filter(|r| overlaps(r, start, end)).collect();
        want.sort_by(|a, b| a.start_time.total_cmp(&b.start_time).then(a.id.cmp(&b.id)));
        let want: Vec<&str> = want.iter().map(|r| r.id.as_str()).collect();
        let got = db.recording_range("front", start, end).unwrap();
        assert!(got.skipped.is_empty());
        assert_eq!(ids(&got.recordings), want, "range [{start}, {end}]");
    }
    // Touching at either end counts, however long the recording.
    add_recording(&c, "touch_long", "front", 30_000.0, 40_000.0);
    for (start, end) in [(40_000.0, 40_010.0), (29_990.0, 30_000.0)] {
        let got = db.recording_range("front", start, end).unwrap();
        assert_eq!(ids(&got.recordings), ["touch_long"], "[{start}, {end}]");
    }
}

/// The fixture schema with the recordings indexes split off, so a test can
/// bulk-load rows first and index them once (much faster).
fn schema_without_recordings_indexes() -> (String, String) {
    let (indexes, rest): (Vec<&str>, Vec<&str>) = SCHEMA.lines().partition(|line| {
        line.starts_with("CREATE ")
            && line.contains(" INDEX ")
            && line.contains("ON \"recordings\"")
    });
    (rest.join("\n"), indexes.join("\n"))
}

#[test]
fn recordings_query_reads_an_index_range_at_1m_rows() {
    let (tables, indexes) = schema_without_recordings_indexes();
    let t = TempDb::new(&tables);
    let c = t.raw();
    let began = std::time::Instant::now();
    // One million 10 s segments from 1.7e9 on; a few other cameras' rows.
    // A scratch copy: no journal, sorts for the index builds in memory.
    c.execute_batch("PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF; PRAGMA temp_store = MEMORY; PRAGMA cache_size = -65536;")
        .unwrap();
    c.execute_batch(&format!(
        "BEGIN;
         WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 999999)
         INSERT INTO recordings (id, camera, path, start_time, end_time, duration, segment_size)
         SELECT printf('r%07d', i), CASE WHEN i % 100 = 0 THEN 'back' ELSE 'front' END,
                printf('/media/frigate/recordings/%07d.mp4', i),
                1.7e9 + i * 10.0, 1.7e9 + i * 10.0 + 10.0, 10.0, 1.0 FROM n;
         COMMIT;
         {indexes}"
    ))
    .unwrap();
    println!("1M rows generated and indexed in {:?}", began.elapsed());

    // An hour that 900,000 rows precede.
    let (start, end) = (1.7e9 + 9_000_000.0 + 5.0, 1.7e9 + 9_000_000.0 + 3_605.0);
    let plan: Vec<String> = c
        .prepare(&format!("EXPLAIN QUERY PLAN {RECORDINGS_QUERY}"))
        .unwrap()
        .query_map(params!["front", start, end, start - 11.0], |r| r.get(3))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    println!("plan: {plan:?}");
    assert!(
        plan.iter()
            .any(|step| step.starts_with("SEARCH recordings USING INDEX")
                && step.contains("(camera=? AND start_time>? AND start_time<?)")),
        "the recordings query must read an index range on (camera, start_time): {plan:?}"
    );

    let db = t.db();
    let began = std::time::Instant::now();
    let range = db.recording_range("front", start, end).unwrap();
    let took = began.elapsed();
    // Segments starting in [start - 10, end], less every hundredth (camera back).
    assert_eq!(range.recordings.len(), 357, "{:?}", range.skipped);
    assert!(range.skipped.is_empty());
    let began = std::time::Instant::now();
    let longest = db.longest_recording("front").unwrap();
    let longest_took = began.elapsed();
    assert_eq!(longest, 11.0);
    // The query before the bound, for comparison: every row of the camera.
    let began = std::time::Instant::now();
    let before = c
        .prepare(
            "SELECT id, path, start_time, end_time, duration FROM recordings \
             WHERE camera = ?1 AND (start_time BETWEEN ?2 AND ?3 OR end_time BETWEEN ?2 AND ?3 \
                                    OR (start_time <= ?2 AND end_time >= ?3)) \
             ORDER BY start_time ASC, id ASC",
        )
        .unwrap()
        .query_map(params!["front", start, end], |r| r.get::<_, String>(0))
        .unwrap()
        .count();
    assert_eq!(before, 357);
    println!(
        "recording_range at 1M rows: {took:?} in all, of which the longest-recording query \
         {longest_took:?}; the unbounded query took {:?}",
        began.elapsed()
    );
}
