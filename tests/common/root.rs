//! A test root: a temp dir holding one NVR's media, config and database,
//! plus a runtime dir and a replayd.toml that points at all of it.
//!
//! ```text
//! <root>/
//!   replayd.toml
//!   config/config.yml           NVR config: front, front_door-yard, back
//!   config/frigate.db           Frigate schema + recordings rows + one export
//!   media/recordings/<cam>/<YYYY-MM-DD>/<HH>/<MM>.<SS>.mp4   (UTC)
//!   media/clips/                (thumbs/, previews/, review/ too)
//!   media/exports/<export id>.mp4
//!   run/                        runtime dir; control.sock lives here
//!   bin/                        scripts from write_script (fake ffmpeg …)
//!   daemon.log                  stdout+stderr of every daemon spawned here
//! ```

use super::fixtures;
use rusqlite::{params, Connection};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

/// Start of the first recording segment (2023-11-14 22:13:20 UTC).
pub const BASE_TIME: f64 = 1_700_000_000.0;
/// Recording segments of camera `front` unless the builder says otherwise.
pub const DEFAULT_SEGMENTS: usize = 10;
/// The fixture export row's id.
pub const EXPORT_ID: &str = "front_x7k2p9";

/// One recording segment: a file under `media/recordings` and its row.
#[derive(Debug, Clone, PartialEq)]
pub struct Segment {
    pub camera: String,
    pub index: usize,
    pub id: String,
    pub path: PathBuf,
    pub start: f64,
    pub end: f64,
    pub bytes: u64,
}

/// The export row and its video file.
#[derive(Debug, Clone, PartialEq)]
pub struct Export {
    pub id: String,
    pub camera: String,
    pub path: PathBuf,
    pub date: f64,
    pub duration: f64,
}

/// How [`TestRoot::fault_segment`] damages a segment file (its row stays).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// The file is deleted.
    Missing,
    /// The file is emptied.
    Empty,
    /// The file is cut to half its length (an unreadable tail).
    Truncated,
    /// The file is replaced by a 640x480 segment.
    Resolution,
}

/// replayd.toml as a struct; `None` leaves a key out (replayd's default).
/// Durations are strings like `"90s"`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DaemonToml {
    pub nvr_config: Option<PathBuf>,
    pub database: Option<PathBuf>,
    pub media_dir: Option<PathBuf>,
    pub runtime_dir: Option<PathBuf>,
    pub socket: Option<PathBuf>,
    pub socket_mode: Option<String>,
    pub admin_group: Option<String>,
    pub max_duration: Option<String>,
    pub max_range: Option<String>,
    pub ffmpeg: Option<PathBuf>,
    pub ffprobe: Option<PathBuf>,
    pub stall_timeout: Option<String>,
    pub kill_grace: Option<String>,
    pub log_target: Option<String>,
    pub log_level: Option<String>,
    /// More keys: `(section, key, raw TOML value)`, e.g.
    /// `("session", "bogus", "1")` for unknown-key tests.
    pub extra: Vec<(String, String, String)>,
}

/// A TOML basic string.
pub fn toml_str(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04X}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn path_value(p: &Path) -> String {
    toml_str(&p.to_string_lossy())
}

impl DaemonToml {
    /// The file's text.
    pub fn render(&self) -> String {
        let p = |v: &Option<PathBuf>| v.as_deref().map(path_value);
        let s = |v: &Option<String>| v.as_deref().map(toml_str);
        let mut sections: Vec<(String, Vec<(String, String)>)> = vec![
            (
                "nvr".into(),
                vec![
                    ("config", p(&self.nvr_config)),
                    ("database", p(&self.database)),
                    ("media_dir", p(&self.media_dir)),
                ]
                .into_iter()
                .filter_map(|(k, v)| v.map(|v| (k.to_string(), v)))
                .collect(),
            ),
            (
                "runtime".into(),
                p(&self.runtime_dir)
                    .map(|v| ("dir".to_string(), v))
                    .into_iter()
                    .collect(),
            ),
            (
                "control".into(),
                vec![
                    ("socket", p(&self.socket)),
                    ("socket_mode", s(&self.socket_mode)),
                    ("admin_group", s(&self.admin_group)),
                ]
                .into_iter()
                .filter_map(|(k, v)| v.map(|v| (k.to_string(), v)))
                .collect(),
            ),
            (
                "session".into(),
                vec![
                    ("max_duration", s(&self.max_duration)),
                    ("max_range", s(&self.max_range)),
                ]
                .into_iter()
                .filter_map(|(k, v)| v.map(|v| (k.to_string(), v)))
                .collect(),
            ),
            (
                "ffmpeg".into(),
                vec![
                    ("path", p(&self.ffmpeg)),
                    ("ffprobe", p(&self.ffprobe)),
                    ("stall_timeout", s(&self.stall_timeout)),
                    ("kill_grace", s(&self.kill_grace)),
                ]
                .into_iter()
                .filter_map(|(k, v)| v.map(|v| (k.to_string(), v)))
                .collect(),
            ),
            (
                "log".into(),
                vec![
                    ("target", s(&self.log_target)),
                    ("level", s(&self.log_level)),
                ]
                .into_iter()
                .filter_map(|(k, v)| v.map(|v| (k.to_string(), v)))
                .collect(),
            ),
        ];
        for (section, key, value) in &self.extra {
            let entry = (key.clone(), value.clone());
            match sections.iter_mut().find(|(name, _)| name == section) {
                Some((_, keys)) => keys.push(entry),
                None => sections.push((section.clone(), vec![entry])),
            }
        }
        let mut out = String::from("# replayd.toml written by the test harness\n");
        for (name, keys) in sections.iter().filter(|(_, keys)| !keys.is_empty()) {
            let _ = writeln!(out, "\n[{name}]");
            for (k, v) in keys {
                let _ = writeln!(out, "{k} = {v}");
            }
        }
        out
    }
}

/// Builds a [`TestRoot`]; every knob has a default.
#[must_use]
pub struct TestRootBuilder {
    recordings: Vec<(String, usize)>,
    base_time: f64,
    extra_cameras: Vec<(String, String)>,
    nvr_config: Option<String>,
    fake_ffmpeg: Option<String>,
    toml_edits: Vec<TomlEdit>,
}

/// A deferred change to replayd.toml.
type TomlEdit = Box<dyn FnOnce(&mut DaemonToml)>;

impl Default for TestRootBuilder {
    fn default() -> Self {
        TestRootBuilder {
            recordings: vec![("front".into(), DEFAULT_SEGMENTS)],
            base_time: BASE_TIME,
            extra_cameras: Vec::new(),
            nvr_config: None,
            fake_ffmpeg: None,
            toml_edits: Vec::new(),
        }
    }
}

impl TestRootBuilder {
    /// Number of 2 s segments recorded for camera `front`.
    pub fn segments(mut self, n: usize) -> Self {
        self.recordings[0].1 = n;
        self
    }

    /// Also record `n` segments for `camera` (same base time).
    pub fn recordings(mut self, camera: &str, n: usize) -> Self {
        self.recordings.push((camera.into(), n));
        self
    }

    /// Start of the first segment (Unix seconds).
    pub fn base_time(mut self, t: f64) -> Self {
        self.base_time = t;
        self
    }

    /// Adds a camera to the NVR config; `body` is its YAML without the
    /// name line, unindented (e.g. `"ffmpeg:\n  inputs: ...\n"`).
    pub fn camera(mut self, name: &str, body: &str) -> Self {
        self.extra_cameras.push((name.into(), body.into()));
        self
    }

    /// Replaces the whole NVR config; `{DB}` is replaced by the db path.
    pub fn nvr_config(mut self, text: &str) -> Self {
        self.nvr_config = Some(text.into());
        self
    }

    /// `[ffmpeg] path`. A test that replaces ffmpeg tests the clip job,
    /// so this also sets `clip_mode = "copy"` (a later
    /// [`Self::clip_mode`] changes it again).
    pub fn ffmpeg_path(self, path: impl Into<PathBuf>) -> Self {
        let path = path.into();
        self.toml(move |t| t.ffmpeg = Some(path)).clip_mode("copy")
    }

    /// Writes `script` (a shell script body, without `#!`) to
    /// `<root>/bin/ffmpeg` and makes it `[ffmpeg] path`; copy mode, as
    /// [`Self::ffmpeg_path`].
    pub fn fake_ffmpeg(mut self, script: &str) -> Self {
        self.fake_ffmpeg = Some(script.into());
        self.clip_mode("copy")
    }

    /// `[ffmpeg] stall_timeout`, e.g. `"2s"`.
    pub fn stall_timeout(self, d: &str) -> Self {
        let d = d.to_string();
        self.toml(move |t| t.stall_timeout = Some(d))
    }

    /// `[ffmpeg] kill_grace`.
    pub fn kill_grace(self, d: &str) -> Self {
        let d = d.to_string();
        self.toml(move |t| t.kill_grace = Some(d))
    }

    /// `[session] clip_mode` (`auto`, the default, links when it can):
    /// tests of ffmpeg's clip job ask for `copy`.
    pub fn clip_mode(self, mode: &str) -> Self {
        let value = toml_str(mode);
        self.toml(move |t| {
            t.extra
                .retain(|(section, key, _)| !(section == "session" && key == "clip_mode"));
            t.extra.push(("session".into(), "clip_mode".into(), value))
        })
    }

    /// `[session] max_range`.
    pub fn max_range(self, d: &str) -> Self {
        let d = d.to_string();
        self.toml(move |t| t.max_range = Some(d))
    }

    /// `[session] max_duration`.
    pub fn max_duration(self, d: &str) -> Self {
        let d = d.to_string();
        self.toml(move |t| t.max_duration = Some(d))
    }

    /// `[control] admin_group`.
    pub fn admin_group(self, g: &str) -> Self {
        let g = g.to_string();
        self.toml(move |t| t.admin_group = Some(g))
    }

    /// Any other change to replayd.toml, applied after the defaults.
    pub fn toml(mut self, edit: impl FnOnce(&mut DaemonToml) + 'static) -> Self {
        self.toml_edits.push(Box::new(edit));
        self
    }

    pub fn build(self) -> TestRoot {
        TestRoot::create(self)
    }
}

/// A temp dir with an NVR tree; removed on drop unless `KEEP_TEST_ROOT` is set.
pub struct TestRoot {
    dir: PathBuf,
    toml: DaemonToml,
    segments: Vec<Segment>,
    export: Export,
    base_time: f64,
}

static ROOT_SEQ: AtomicUsize = AtomicUsize::new(0);

/// Frigate's default NVR config for tests; `{DB}` is the database path.
///
/// Written the way users write it: relative and pixel coordinates, a
/// coordinate `1.0` (never to be re-printed as `1.000`), strings and lists
/// for masks, a YAML anchor with a merge key, global sections that cameras
/// override, camera-level `face_recognition`.
pub const NVR_CONFIG: &str = r#"# Frigate config used by replayd's tests.
mqtt:
  enabled: false

database:
  path: '{DB}'

detectors:
  cpu1:
    type: cpu
    num_threads: 2

ffmpeg:
  hwaccel_args: preset-vaapi

record:
  enabled: true
  retain:
    days: 7
    mode: motion

snapshots:
  enabled: true
  retain:
    default: 10

detect:
  enabled: true
  fps: 5

objects:
  track:
    - person
    - car
  filters:
    person:
      min_area: 5000
      threshold: 0.7

motion:
  threshold: 30
  contour_area: 10
  improve_contrast: true

face_recognition:
  enabled: true
  model_size: small
  min_area: 750

cameras:
  front:
    ffmpeg:
      inputs:
        - path: rtsp://127.0.0.1:8554/front
          input_args: preset-rtsp-restream
          roles:
            - detect
            - record
    detect:
      width: 320
      height: 240
      fps: 5
      min_initialized: 2
      max_disappeared: 25
    objects:
      track:
        - person
        - car
        - dog
      filters:
        car:
          min_area: 2000
          max_area: 100000
          threshold: 0.75
        person:
          min_score: 0.5
      mask: 0.000,0.000,0.200,0.000,0.200,0.100,0.000,0.100
    motion:
      threshold: 25
      mask:
        - 0.000,0.900,1.0,0.900,1.0,1.0,0.000,1.0
        - 0.8,0.0,1.0,0.0,1.0,0.1,0.8,0.1
    zones:
      driveway:
        coordinates: 0.1,0.5,0.9,0.5,1.0,1.0,0.0,1.0
        objects:
          - car
          - person
        inertia: 3
      porch:
        coordinates: 0.0,0.0,0.4,0.0,0.4,0.5,0.0,0.5
        loitering_time: 4
        objects: person
    record:
      enabled: true
    snapshots:
      enabled: true
      required_zones:
        - driveway
    review:
      alerts:
        labels:
          - person
          - car
        required_zones:
          - driveway

  front_door-yard:
    ffmpeg:
      inputs:
        - path: rtsp://127.0.0.1:8554/front_door_yard
          roles:
            - detect
    detect: &detect_640
      width: 640
      height: 480
      fps: 5
    objects:
      track:
        - person
        - dog
    zones:
      yard:
        coordinates: 10,200,600,200,600,470,10,470
        objects:
          - person
          - dog
    motion:
      mask: 0,0,640,0,640,40,0,40

  back:
    ffmpeg:
      inputs:
        - path: rtsp://127.0.0.1:8554/back
          roles:
            - detect
            - record
    detect:
      <<: *detect_640
      fps: 10
    face_recognition:
      enabled: true
      min_area: 500
    motion:
      threshold: 40
"#;

impl TestRoot {
    /// A root with the default tree (10 segments of `front`).
    pub fn new() -> TestRoot {
        TestRoot::builder().build()
    }

    pub fn builder() -> TestRootBuilder {
        TestRootBuilder::default()
    }

    fn create(b: TestRootBuilder) -> TestRoot {
        // Everything that can fail for reasons outside the root comes first,
        // so a failure does not leave a half-made dir behind.
        let cache = fixtures::cache();
        let schema = schema();
        let dir = unique_dir();
        let root_ctx = |what: &str, e: &dyn std::fmt::Display| -> ! {
            panic!("test root {}: {what}: {e}", dir.display())
        };
        for sub in [
            "config",
            "media/recordings",
            "media/clips/thumbs",
            "media/clips/previews",
            "media/clips/review",
            "media/exports",
            "run",
            "bin",
        ] {
            fs::create_dir_all(dir.join(sub)).unwrap_or_else(|e| root_ctx(sub, &e));
        }
        let db_path = dir.join("config/frigate.db");

        // NVR config.
        let mut config = b.nvr_config.unwrap_or_else(|| NVR_CONFIG.to_string());
        for (name, body) in &b.extra_cameras {
            let _ = writeln!(config, "\n  {name}:");
            for line in body.lines() {
                let _ = writeln!(config, "    {line}");
            }
        }
        let config = config.replace("{DB}", &db_path.to_string_lossy());
        fs::write(dir.join("config/config.yml"), config)
            .unwrap_or_else(|e| root_ctx("config.yml", &e));

        // Segment files.
        let mut segments = Vec::new();
        for (camera, count) in &b.recordings {
            for i in 0..*count {
                let start = b.base_time + i as f64 * fixtures::SEGMENT_SECONDS;
                let path = dir
                    .join("media/recordings")
                    .join(camera)
                    .join(segment_rel_path(start));
                fs::create_dir_all(path.parent().unwrap())
                    .unwrap_or_else(|e| root_ctx("segment dir", &e));
                // Copies, not hard links: a fault test must not damage the cache.
                let bytes = fs::copy(cache.segment(i), &path)
                    .unwrap_or_else(|e| root_ctx("copy segment", &e));
                segments.push(Segment {
                    camera: camera.clone(),
                    index: i,
                    id: format!("{start:.1}-{}", id_suffix(camera, i)),
                    path,
                    start,
                    end: start + fixtures::SEGMENT_SECONDS,
                    bytes,
                });
            }
        }

        // The export's video.
        let export = Export {
            id: EXPORT_ID.into(),
            camera: "front".into(),
            path: dir.join(format!("media/exports/{EXPORT_ID}.mp4")),
            date: b.base_time + 4.0,
            duration: fixtures::EXPORT_SECONDS,
        };
        fs::copy(&cache.export, &export.path).unwrap_or_else(|e| root_ctx("copy export", &e));

        // Database.
        let conn = Connection::open(&db_path).unwrap_or_else(|e| root_ctx("open db", &e));
        conn.execute_batch(&schema)
            .unwrap_or_else(|e| root_ctx("apply schema", &e));
        {
            let mut stmt = conn
                .prepare(
                    "INSERT INTO recordings (id, camera, path, start_time, end_time, duration, \
                     objects, motion, segment_size, dBFS, regions) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, 0, ?10)",
                )
                .unwrap_or_else(|e| root_ctx("prepare", &e));
            for s in &segments {
                stmt.execute(params![
                    s.id,
                    s.camera,
                    s.path.to_string_lossy(),
                    s.start,
                    s.end,
                    s.end - s.start,
                    (s.index % 3) as i64,
                    (s.index * 37 % 200) as i64,
                    mib(s.bytes),
                    (s.index % 4) as i64,
                ])
                .unwrap_or_else(|e| root_ctx("insert recording", &e));
            }
        }
        conn.execute(
            "INSERT INTO export (id, camera, name, date, video_path, thumb_path, in_progress) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, 0)",
            params![
                export.id,
                export.camera,
                "Front driveway, car arrives",
                export.date,
                export.path.to_string_lossy(),
                dir.join(format!("media/clips/export/{EXPORT_ID}.webp"))
                    .to_string_lossy(),
            ],
        )
        .unwrap_or_else(|e| root_ctx("insert export", &e));
        drop(conn);

        let mut toml = DaemonToml {
            nvr_config: Some(dir.join("config/config.yml")),
            database: Some(db_path),
            media_dir: Some(dir.join("media")),
            runtime_dir: Some(dir.join("run")),
            socket: Some(dir.join("run/control.sock")),
            log_target: Some("stderr".into()),
            log_level: Some("debug".into()),
            // The test NVR's database and config hold this host's paths: an
            // NVR that uses other paths than Frigate's maps them to
            // themselves (SPEC §1, Mounts).
            extra: vec![
                ("nvr.mounts".into(), path_value(&dir), path_value(&dir)),
                (
                    "runtime".into(),
                    "state_dir".into(),
                    path_value(&dir.join("state")),
                ),
            ],
            ..DaemonToml::default()
        };
        if let Some(script) = &b.fake_ffmpeg {
            toml.ffmpeg = Some(write_script_at(&dir.join("bin/ffmpeg"), script));
        }
        for edit in b.toml_edits {
            edit(&mut toml);
        }
        let root = TestRoot {
            dir,
            toml,
            segments,
            export,
            base_time: b.base_time,
        };
        root.write_toml();
        root
    }

    // ---- paths ----

    pub fn path(&self) -> &Path {
        &self.dir
    }
    pub fn toml_path(&self) -> PathBuf {
        self.dir.join("replayd.toml")
    }
    pub fn nvr_config_path(&self) -> PathBuf {
        self.dir.join("config/config.yml")
    }
    pub fn db_path(&self) -> PathBuf {
        self.dir.join("config/frigate.db")
    }
    pub fn media(&self) -> PathBuf {
        self.dir.join("media")
    }
    pub fn clips(&self) -> PathBuf {
        self.dir.join("media/clips")
    }
    pub fn run_dir(&self) -> PathBuf {
        self.dir.join("run")
    }
    /// The control socket replayd.toml names.
    pub fn socket(&self) -> PathBuf {
        self.toml
            .socket
            .clone()
            .unwrap_or_else(|| self.run_dir().join("control.sock"))
    }
    /// `run/session.json`.
    pub fn session_file(&self) -> PathBuf {
        self.run_dir().join("session.json")
    }
    /// `run/cameras/<camera>.yml`, the published replay camera.
    pub fn camera_file(&self, replay_camera: &str) -> PathBuf {
        self.run_dir().join(format!("cameras/{replay_camera}.yml"))
    }
    /// `media/replayd/<camera>/clip.mp4`.
    pub fn clip_path(&self, replay_camera: &str) -> PathBuf {
        self.replay_dir().join(format!("{replay_camera}/clip.mp4"))
    }
    /// `media/replayd`: one folder per replay camera.
    pub fn replay_dir(&self) -> PathBuf {
        self.media().join("replayd")
    }
    /// `state/ledger.json`.
    pub fn ledger_path(&self) -> PathBuf {
        self.dir.join("state/ledger.json")
    }
    /// `media/replayd/<camera>/clip.mp4.part`.
    pub fn part_path(&self, replay_camera: &str) -> PathBuf {
        self.replay_dir()
            .join(format!("{replay_camera}/clip.mp4.part"))
    }

    /// Names `camera` in the ledger as a camera replayd published (file
    /// publisher) and a replay folder it made: what a daemon that died
    /// leaves for boot cleanup.
    pub fn record_in_ledger(&self, camera: &str) {
        let path = self.ledger_path();
        let mut ledger: serde_json::Value = fs::read(&path)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_else(
                || serde_json::json!({"schema": 1, "cameras": [], "folders": [], "rows_owed": []}),
            );
        ledger["cameras"]
            .as_array_mut()
            .expect("cameras")
            .push(serde_json::json!({
                "name": camera, "publisher": "file", "nvr_url": null, "recorded_at": 0.0
            }));
        ledger["folders"]
            .as_array_mut()
            .expect("folders")
            .push(serde_json::json!({ "camera": camera }));
        fs::create_dir_all(path.parent().unwrap()).expect("state dir");
        fs::write(&path, serde_json::to_vec_pretty(&ledger).unwrap()).expect("ledger");
    }

    /// A replay camera a dead replayd left: its artifacts, named in the ledger.
    pub fn add_stale_replay_camera(&self, camera: &str) -> ReplayArtifacts {
        let artifacts = self.add_replay_artifacts(camera);
        self.record_in_ledger(camera);
        artifacts
    }
    /// Where the daemon's stdout and stderr go.
    pub fn log_path(&self) -> PathBuf {
        self.dir.join("daemon.log")
    }

    // ---- recordings ----

    pub fn base_time(&self) -> f64 {
        self.base_time
    }
    /// Segments of camera `front`, in time order.
    pub fn segments(&self) -> Vec<&Segment> {
        self.segments_of("front")
    }
    pub fn segments_of(&self, camera: &str) -> Vec<&Segment> {
        self.segments
            .iter()
            .filter(|s| s.camera == camera)
            .collect()
    }
    /// End of the last `front` segment.
    pub fn end_time(&self) -> f64 {
        self.segments().last().map_or(self.base_time, |s| s.end)
    }
    pub fn export(&self) -> &Export {
        &self.export
    }

    /// Damages the file of `front`'s segment `index`; its row stays.
    pub fn fault_segment(&self, index: usize, fault: Fault) {
        let path = &self.segments()[index].path;
        let result = match fault {
            Fault::Missing => fs::remove_file(path),
            Fault::Empty => fs::write(path, b""),
            Fault::Truncated => fixtures::write_truncated_segment(path),
            Fault::Resolution => fixtures::write_hires_segment(path),
        };
        result.unwrap_or_else(|e| panic!("fault {fault:?} on {}: {e}", path.display()));
    }

    // ---- config files ----

    /// The replayd.toml currently written.
    pub fn toml(&self) -> &DaemonToml {
        &self.toml
    }

    /// Changes replayd.toml and rewrites it (e.g. before SIGHUP).
    pub fn update_toml(&mut self, edit: impl FnOnce(&mut DaemonToml)) {
        edit(&mut self.toml);
        self.write_toml();
    }

    fn write_toml(&self) {
        fs::write(self.toml_path(), self.toml.render())
            .unwrap_or_else(|e| panic!("write {}: {e}", self.toml_path().display()));
    }

    /// Writes raw text to replayd.toml (for invalid-config tests); the
    /// struct is not changed, `update_toml` overwrites the text again.
    pub fn write_raw_toml(&self, text: &str) {
        fs::write(self.toml_path(), text)
            .unwrap_or_else(|e| panic!("write {}: {e}", self.toml_path().display()));
    }

    /// Replaces the NVR config; `{DB}` is replaced by the db path.
    pub fn write_nvr_config(&self, text: &str) {
        let text = text.replace("{DB}", &self.db_path().to_string_lossy());
        fs::write(self.nvr_config_path(), text)
            .unwrap_or_else(|e| panic!("write {}: {e}", self.nvr_config_path().display()));
    }

    /// Writes an executable `#!/bin/sh` script `<root>/bin/<name>`.
    pub fn write_script(&self, name: &str, body: &str) -> PathBuf {
        write_script_at(&self.dir.join("bin").join(name), body)
    }

    // ---- database ----

    /// A connection to the NVR database (5 s busy timeout).
    pub fn db(&self) -> Connection {
        let conn = Connection::open(self.db_path()).expect("open frigate.db");
        // Not `Connection::busy_timeout`: rusqlite 0.43 implements it with
        // sqlite3_set_clientdata (SQLite 3.44+), which Debian 12's 3.40
        // lacks, so the test binary would not link.
        conn.execute_batch("PRAGMA busy_timeout = 5000")
            .expect("busy_timeout");
        conn
    }

    /// Rows whose `camera` is `camera`, per table of SPEC's cleanup list.
    pub fn count_rows(&self, camera: &str) -> BTreeMap<&'static str, u64> {
        let conn = self.db();
        CAMERA_TABLES
            .iter()
            .map(|&table| {
                let n: i64 = conn
                    .query_row(
                        &format!("SELECT COUNT(*) FROM \"{table}\" WHERE camera = ?1"),
                        [camera],
                        |r| r.get(0),
                    )
                    .unwrap_or_else(|e| panic!("count {table}: {e}"));
                (table, n as u64)
            })
            .collect()
    }

    /// `userreviewstatus` rows that point at any of `review_ids`.
    pub fn count_review_status(&self, review_ids: &[String]) -> u64 {
        let conn = self.db();
        review_ids
            .iter()
            .map(|id| {
                conn.query_row(
                    "SELECT COUNT(*) FROM userreviewstatus WHERE review_segment_id = ?1",
                    [id],
                    |r| r.get::<_, i64>(0),
                )
                .expect("count userreviewstatus") as u64
            })
            .sum()
    }

    /// Inserts what a replay camera leaves behind: rows in every table of
    /// SPEC's cleanup list and files at every path it names, plus a clip.
    pub fn add_replay_artifacts(&self, camera: &str) -> ReplayArtifacts {
        let now = unix_now().floor();
        let media = self.media();
        let mut files = Vec::new();
        let mut dirs = Vec::new();
        let conn = self.db();

        // Events: person, person, car. Ids are `<unix time>-<suffix>`.
        let labels = ["person", "person", "car"];
        let event_ids: Vec<String> = (0..labels.len())
            .map(|i| format!("{:.6}-{}", now + i as f64 * 5.0, id_suffix(camera, i)))
            .collect();
        for (i, (id, label)) in event_ids.iter().zip(labels).enumerate() {
            let start = now + i as f64 * 5.0;
            conn.execute(
                "INSERT INTO event (id, label, camera, start_time, end_time, top_score, \
                 false_positive, zones, has_clip, has_snapshot, region, box, area, \
                 retain_indefinitely, score, data) \
                 VALUES (?1, ?2, ?3, ?4, ?5, 0.81, 0, '[\"driveway\"]', 1, 1, \
                 '[0,0,320,240]', '[10,20,110,220]', 20000, 0, 0.78, ?6)",
                params![
                    id,
                    label,
                    camera,
                    start,
                    start + 4.0,
                    r#"{"type":"object","score":0.78,"top_score":0.81}"#
                ],
            )
            .expect("insert event");
            conn.execute(
                "INSERT INTO timeline (timestamp, camera, source, source_id, class_type, data) \
                 VALUES (?1, ?2, 'tracked_object', ?3, 'visible', ?4)",
                params![start, camera, id, format!(r#"{{"label":"{label}"}}"#)],
            )
            .expect("insert timeline");
            let thumbs = media.join(format!("clips/thumbs/{camera}"));
            files.push(thumbs.join(format!("{id}.webp")));
            files.push(media.join(format!("clips/{camera}-{id}.jpg")));
            let clean = if i == 0 { "clean.png" } else { "clean.webp" };
            files.push(media.join(format!("clips/{camera}-{id}-{clean}")));
        }
        conn.execute(
            "INSERT INTO timeline (timestamp, camera, source, source_id, class_type, data) \
             VALUES (?1, ?2, 'tracked_object', ?3, 'gone', '{}')",
            params![now + 4.0, camera, event_ids[0]],
        )
        .expect("insert timeline");

        // Review segments: one alert, one detection, each reviewed by admin.
        let review_ids: Vec<String> = (0..2)
            .map(|i| format!("{:.6}-{}", now + i as f64 * 7.0, id_suffix(camera, 10 + i)))
            .collect();
        for (i, id) in review_ids.iter().enumerate() {
            let thumb = media.join(format!("clips/review/thumb-{camera}-{id}.webp"));
            conn.execute(
                "INSERT INTO reviewsegment (id, camera, start_time, end_time, severity, \
                 thumb_path, data) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    id,
                    camera,
                    now + i as f64 * 7.0,
                    now + i as f64 * 7.0 + 6.0,
                    if i == 0 { "alert" } else { "detection" },
                    thumb.to_string_lossy(),
                    r#"{"detections":[],"objects":["person"],"zones":[]}"#
                ],
            )
            .expect("insert reviewsegment");
            conn.execute(
                "INSERT INTO userreviewstatus (user_id, review_segment_id, has_been_reviewed) \
                 VALUES ('admin', ?1, 1)",
                [id],
            )
            .expect("insert userreviewstatus");
            files.push(thumb);
        }

        // Recordings of the replay camera (SPEC: `recordings/<cam>/`).
        for i in 0..2 {
            let start = now + i as f64 * fixtures::SEGMENT_SECONDS;
            let path = media
                .join("recordings")
                .join(camera)
                .join(segment_rel_path(start));
            conn.execute(
                "INSERT INTO recordings (id, camera, path, start_time, end_time, duration, \
                 objects, motion, segment_size, dBFS, regions) \
                 VALUES (?1, ?2, ?3, ?4, ?5, 2.0, 1, 10, 0.05, 0, 1)",
                params![
                    format!("{start:.1}-{}", id_suffix(camera, 20 + i)),
                    camera,
                    path.to_string_lossy(),
                    start,
                    start + fixtures::SEGMENT_SECONDS
                ],
            )
            .expect("insert recordings");
            files.push(path);
        }

        // Preview, regions grid, trigger.
        let preview = media.join(format!(
            "clips/previews/{camera}/{:.6}-{:.6}.mp4",
            now,
            now + 3600.0
        ));
        conn.execute(
            "INSERT INTO previews (id, camera, path, start_time, end_time, duration) \
             VALUES (?1, ?2, ?3, ?4, ?5, 3600.0)",
            params![
                format!("{now:.1}-{}", id_suffix(camera, 30)),
                camera,
                preview.to_string_lossy(),
                now,
                now + 3600.0
            ],
        )
        .expect("insert previews");
        files.push(preview);
        conn.execute(
            "INSERT OR REPLACE INTO regions (camera, last_update, grid) VALUES (?1, ?2, '[]')",
            params![camera, now],
        )
        .expect("insert regions");
        conn.execute(
            "INSERT OR REPLACE INTO trigger (camera, name, type, model, data, threshold) \
             VALUES (?1, 'red_car', 'description', 'jinav1', 'a red car', 0.8)",
            [camera],
        )
        .expect("insert trigger");

        // `clips/<cam>/` and the replay clip itself.
        files.push(media.join(format!("clips/{camera}/{}.mp4", event_ids[0])));
        let clip = self.clip_path(camera);
        for f in &files {
            fs::create_dir_all(f.parent().unwrap()).expect("artifact dir");
            fs::write(f, b"replay artifact").expect("artifact file");
        }
        fs::create_dir_all(clip.parent().unwrap()).expect("replay dir");
        fs::copy(fixtures::cache().segment(0), &clip).expect("replay clip");
        files.push(clip);
        dirs.push(self.replay_dir().join(camera));
        for d in [
            format!("recordings/{camera}"),
            format!("clips/{camera}"),
            format!("clips/thumbs/{camera}"),
            format!("clips/previews/{camera}"),
        ] {
            dirs.push(media.join(d));
        }

        let mut rows = BTreeMap::new();
        for (table, n) in [
            ("event", 3),
            ("timeline", 4),
            ("recordings", 2),
            ("reviewsegment", 2),
            ("previews", 1),
            ("regions", 1),
            ("trigger", 1),
            ("userreviewstatus", 2),
        ] {
            rows.insert(table, n);
        }
        ReplayArtifacts {
            camera: camera.into(),
            files,
            dirs,
            event_ids,
            review_ids,
            rows,
        }
    }

    /// Every entry under the media root whose name refers to `camera`
    /// exactly as SPEC's cleanup matches it (`<cam>`, `<cam>.mp4`,
    /// `<cam>-<digit>…`, `thumb-<cam>-<digit>…`). Symlinks are not followed.
    pub fn media_entries_for(&self, camera: &str) -> Vec<PathBuf> {
        let mut out = Vec::new();
        walk(&self.media(), &mut |p| {
            let name = p.file_name().map(|n| n.to_string_lossy().into_owned());
            let Some(name) = name else { return };
            let rest = name
                .strip_prefix("thumb-")
                .unwrap_or(&name)
                .strip_prefix(camera);
            let matches = match rest {
                Some("") | Some(".mp4") | Some(".yml") => true,
                Some(r) => r
                    .strip_prefix('-')
                    .is_some_and(|r| r.starts_with(|c: char| c.is_ascii_digit())),
                None => false,
            };
            if matches {
                out.push(p.to_path_buf());
            }
        });
        out.sort();
        out
    }
}

impl Drop for TestRoot {
    fn drop(&mut self) {
        if std::env::var_os("KEEP_TEST_ROOT").is_some() {
            eprintln!("KEEP_TEST_ROOT: kept {}", self.dir.display());
            return;
        }
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// What [`TestRoot::add_replay_artifacts`] created.
#[derive(Debug, Clone)]
pub struct ReplayArtifacts {
    pub camera: String,
    /// Every file created (the clip last).
    pub files: Vec<PathBuf>,
    /// The per-camera directories (`recordings/<cam>`, `clips/<cam>`, …).
    pub dirs: Vec<PathBuf>,
    /// Event ids: labels person, person, car.
    pub event_ids: Vec<String>,
    /// Review ids: one alert, one detection.
    pub review_ids: Vec<String>,
    /// Rows inserted per table (`userreviewstatus` included).
    pub rows: BTreeMap<&'static str, u64>,
}

impl ReplayArtifacts {
    /// Files and dirs of this camera that still exist.
    pub fn remaining_paths(&self) -> Vec<PathBuf> {
        self.files
            .iter()
            .chain(&self.dirs)
            .filter(|p| p.symlink_metadata().is_ok())
            .cloned()
            .collect()
    }

    /// Rows of this camera still in the database, per table (zeros included).
    pub fn remaining_rows(&self, root: &TestRoot) -> BTreeMap<&'static str, u64> {
        let mut rows = root.count_rows(&self.camera);
        rows.insert(
            "userreviewstatus",
            root.count_review_status(&self.review_ids),
        );
        rows
    }

    /// Total rows inserted.
    pub fn total_rows(&self) -> u64 {
        self.rows.values().sum()
    }
}

/// The tables with a `camera` column that cleanup empties for a camera.
pub const CAMERA_TABLES: [&str; 7] = [
    "event",
    "timeline",
    "recordings",
    "reviewsegment",
    "previews",
    "regions",
    "trigger",
];

/// Frigate's schema, from `tests/fixtures/frigate-schema.sql`.
pub fn schema() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/frigate-schema.sql");
    fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

fn unique_dir() -> PathBuf {
    let tmp = std::env::temp_dir();
    loop {
        let seq = ROOT_SEQ.fetch_add(1, Ordering::Relaxed);
        let dir = tmp.join(format!("replayd-test-{}-{seq}", std::process::id()));
        match fs::create_dir(&dir) {
            Ok(()) => return dir,
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => panic!("create {}: {e}", dir.display()),
        }
    }
}

fn write_script_at(path: &Path, body: &str) -> PathBuf {
    fs::create_dir_all(path.parent().unwrap()).expect("script dir");
    fs::write(path, format!("#!/bin/sh\n{body}\n"))
        .unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    fs::set_permissions(path, fs::Permissions::from_mode(0o755)).expect("chmod script");
    path.to_path_buf()
}

fn walk(dir: &Path, f: &mut dyn FnMut(&Path)) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        f(&path);
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            walk(&path, f);
        }
    }
}

/// Sizes as Frigate stores them: MiB, two decimals.
fn mib(bytes: u64) -> f64 {
    (bytes as f64 / 1_048_576.0 * 100.0).round() / 100.0
}

/// A deterministic 6-character id suffix (Frigate uses random ones).
fn id_suffix(camera: &str, i: usize) -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in camera.bytes().chain((i as u64).to_le_bytes()) {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    (0..6)
        .map(|k| ALPHABET[((h >> (k * 6)) % 36) as usize] as char)
        .collect()
}

/// `<YYYY-MM-DD>/<HH>/<MM>.<SS>.mp4` for a segment starting at `t` (UTC).
pub fn segment_rel_path(t: f64) -> PathBuf {
    let (y, mo, d, h, mi, s) = utc(t);
    PathBuf::from(format!("{y:04}-{mo:02}-{d:02}/{h:02}/{mi:02}.{s:02}.mp4"))
}

/// Unix seconds → (year, month, day, hour, minute, second), UTC.
pub fn utc(t: f64) -> (i64, u32, u32, u32, u32, u32) {
    let secs = t.floor() as i64;
    let tod = secs.rem_euclid(86_400);
    let (y, m, d) = replayd::civil::civil_from_days(secs.div_euclid(86_400));
    (
        i64::from(y),
        m,
        d,
        (tod / 3600) as u32,
        (tod % 3600 / 60) as u32,
        (tod % 60) as u32,
    )
}

/// The wall clock, Unix seconds.
pub fn unix_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}
