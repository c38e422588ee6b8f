//! The conformance suite's test root: the Docker host of a Frigate
//! container, with replayd on the host.
//!
//! ```text
//! ROOT/                                   (a TestRoot's temp dir)
//!   config/config.yml                     Frigate's config: /config/config.yml
//!   config/frigate.db                     Frigate's DB: rows hold /media/frigate/… paths
//!   media/frigate/recordings/<YYYY-MM-DD>/<HH>/<camera>/<MM>.<SS>.mp4   (UTC, real ffmpeg
//!                                         segments; Frigate's own layout)
//!   media/frigate/replayd/<replay camera>/  replayd's replay dir (made by replayd)
//!   replayd.toml                          what a Docker user writes (see `replayd_toml`)
//!   run/                                  runtime dir: control.sock, session.json, cameras/
//!   state/                                state dir: ledger.json
//!   daemon.log                            replayd's stdout and stderr
//!   frigate-api.log, frigate-ready.json, frigate-api-events.jsonl   the runner's
//! ```
//!
//! Frigate's config starts from the shared `examples/config.01{7,8}.yml`
//! with its camera renamed `front` and a second camera `back` (0.17 needs
//! two). The 0.18 config names `database.path: /config/frigate.db`; the
//! 0.17 one leaves it out, so replayd's default `/config/frigate.db` is
//! exercised too; both reach `ROOT/config/frigate.db` through the implied
//! mounts.

use super::fixtures;
use super::frigate_runner::{FrigateEnv, FrigateVersion};
use super::root::{schema, toml_str, utc, TestRoot, BASE_TIME};
use rusqlite::{params, Connection};
use std::fs;
use std::path::{Path, PathBuf};

/// Frigate's media root in the container.
pub const CONTAINER_MEDIA: &str = "/media/frigate";
/// Frigate's config dir in the container.
pub const CONTAINER_CONFIG: &str = "/config";
/// Segments recorded for `front` unless the builder says otherwise.
pub const DEFAULT_SEGMENTS: usize = 10;
/// Segments recorded for `back`.
pub const BACK_SEGMENTS: usize = 3;

/// The second camera every two-camera config has.
pub const BACK_CAMERA: &str = "  back:
    ffmpeg:
      inputs:
        - path: rtsp://user:pass@10.0.0.2:554/video
          roles: [detect, record]
    detect: {enabled: true, width: 640, height: 480, fps: 5}
";

/// One recording segment: its file on the host and its DB row.
#[derive(Debug, Clone)]
pub struct DockerSegment {
    pub camera: String,
    pub id: String,
    /// Where the file is on this host.
    pub host_path: PathBuf,
    /// What the DB row says (`/media/frigate/recordings/…`).
    pub container_path: String,
    pub start: f64,
    pub end: f64,
}

/// Builds a [`DockerLayout`].
#[must_use]
pub struct DockerLayoutBuilder {
    version: FrigateVersion,
    only_front: bool,
    extra_cameras: Vec<String>,
    segments: usize,
}

impl DockerLayoutBuilder {
    /// Frigate's config with `front` as its only camera.
    pub fn only_front(mut self) -> Self {
        self.only_front = true;
        self
    }

    /// Appends a camera to Frigate's config: `yaml` is its entry as it
    /// sits under `cameras:` (name line indented two spaces).
    pub fn camera_yaml(mut self, yaml: &str) -> Self {
        self.extra_cameras.push(yaml.to_string());
        self
    }

    /// Number of 2 s segments recorded for `front`.
    pub fn segments(mut self, n: usize) -> Self {
        self.segments = n;
        self
    }

    pub fn build(self, env: &FrigateEnv) -> DockerLayout {
        DockerLayout::create(self, env)
    }
}

/// A Docker-layout root; see the module docs. The temp dir goes with the
/// inner [`TestRoot`] (kept with `KEEP_TEST_ROOT=1`).
pub struct DockerLayout {
    root: TestRoot,
    version: FrigateVersion,
    segments: Vec<DockerSegment>,
}

impl DockerLayout {
    pub fn builder(version: FrigateVersion) -> DockerLayoutBuilder {
        DockerLayoutBuilder {
            version,
            only_front: false,
            extra_cameras: Vec::new(),
            segments: DEFAULT_SEGMENTS,
        }
    }

    fn create(b: DockerLayoutBuilder, env: &FrigateEnv) -> DockerLayout {
        // The config first: it fails for reasons outside the root.
        let config = frigate_config(env, b.version, b.only_front, &b.extra_cameras);

        // A TestRoot gives the temp dir, its cleanup, daemon.log and the
        // control socket path `Daemon` and `Client` use; its own NVR tree
        // (another layout) is replaced by the Docker one.
        let root = TestRoot::builder().segments(0).build();
        let dir = root.path().to_path_buf();
        for stale in [
            "config/config.yml",
            "config/frigate.db",
            "media/recordings",
            "media/clips",
            "media/exports",
            "bin",
        ] {
            let p = dir.join(stale);
            let result = if p.is_dir() {
                fs::remove_dir_all(&p)
            } else {
                fs::remove_file(&p)
            };
            result.unwrap_or_else(|e| panic!("remove {}: {e}", p.display()));
        }
        for sub in ["config", "media/frigate/recordings", "run", "state"] {
            fs::create_dir_all(dir.join(sub))
                .unwrap_or_else(|e| panic!("create {}: {e}", dir.join(sub).display()));
        }
        fs::write(dir.join("config/config.yml"), &config).expect("write config.yml");

        // Segments, Frigate's layout: recordings/<date>/<hour>/<camera>/<MM>.<SS>.mp4.
        let cache = fixtures::cache();
        let mut segments = Vec::new();
        let mut cameras = vec![("front", b.segments)];
        if !b.only_front {
            cameras.push(("back", BACK_SEGMENTS));
        }
        for (camera, count) in cameras {
            for i in 0..count {
                let start = BASE_TIME + i as f64 * fixtures::SEGMENT_SECONDS;
                let rel = recording_rel_path(camera, start);
                let container_path = format!("{CONTAINER_MEDIA}/{rel}");
                let host_path = dir.join("media/frigate").join(&rel);
                fs::create_dir_all(host_path.parent().unwrap()).expect("segment dir");
                fs::copy(cache.segment(i), &host_path).expect("copy segment");
                segments.push(DockerSegment {
                    camera: camera.to_string(),
                    id: format!("{start:.1}-{camera}{i:02}"),
                    host_path,
                    container_path,
                    start,
                    end: start + fixtures::SEGMENT_SECONDS,
                });
            }
        }

        // The database: Frigate's schema, rows with container paths.
        let conn = Connection::open(dir.join("config/frigate.db")).expect("create frigate.db");
        conn.execute_batch(&schema()).expect("apply schema");
        for s in &segments {
            let bytes = fs::metadata(&s.host_path).expect("segment size").len();
            conn.execute(
                "INSERT INTO recordings (id, camera, path, start_time, end_time, duration, \
                 objects, motion, segment_size, dBFS, regions) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, 0, 10, ?7, 0, 0)",
                params![
                    s.id,
                    s.camera,
                    s.container_path,
                    s.start,
                    s.end,
                    s.end - s.start,
                    (bytes as f64 / 1_048_576.0 * 100.0).round() / 100.0,
                ],
            )
            .expect("insert recording");
        }
        drop(conn);

        DockerLayout {
            root,
            version: b.version,
            segments,
        }
    }

    /// The inner TestRoot (for `Daemon::spawn`, `Client::connect`).
    pub fn test_root(&self) -> &TestRoot {
        &self.root
    }

    pub fn version(&self) -> FrigateVersion {
        self.version
    }

    // ---- paths ----

    pub fn path(&self) -> &Path {
        self.root.path()
    }
    pub fn config_dir(&self) -> PathBuf {
        self.path().join("config")
    }
    /// Frigate's config.yml on the host.
    pub fn nvr_config_path(&self) -> PathBuf {
        self.path().join("config/config.yml")
    }
    pub fn db_path(&self) -> PathBuf {
        self.path().join("config/frigate.db")
    }
    /// The host's media dir (`/media/frigate` in the container).
    pub fn media(&self) -> PathBuf {
        self.path().join("media/frigate")
    }
    /// replayd's replay dir.
    pub fn replay_dir(&self) -> PathBuf {
        self.media().join("replayd")
    }
    /// replayd's folder for one replay camera.
    pub fn replay_camera_dir(&self, replay_camera: &str) -> PathBuf {
        self.replay_dir().join(replay_camera)
    }
    pub fn run_dir(&self) -> PathBuf {
        self.path().join("run")
    }
    pub fn state_dir(&self) -> PathBuf {
        self.path().join("state")
    }
    pub fn session_file(&self) -> PathBuf {
        self.run_dir().join("session.json")
    }
    pub fn ledger_file(&self) -> PathBuf {
        self.state_dir().join("ledger.json")
    }
    pub fn socket(&self) -> PathBuf {
        self.root.socket()
    }
    pub fn toml_path(&self) -> PathBuf {
        self.root.toml_path()
    }

    /// A container path (`/media/frigate/…`, `/config/…`) on this host;
    /// `None` for a path neither mount covers.
    pub fn host_path(&self, container: &str) -> Option<PathBuf> {
        let map = |prefix: &str, host: PathBuf| {
            let rest = container.strip_prefix(prefix)?;
            if rest.is_empty() {
                Some(host)
            } else {
                rest.strip_prefix('/').map(|r| host.join(r))
            }
        };
        map(CONTAINER_MEDIA, self.media()).or_else(|| map(CONTAINER_CONFIG, self.config_dir()))
    }

    /// This host's path under the media dir as Frigate sees it.
    pub fn container_path(&self, host: &Path) -> Option<String> {
        let rest = host.strip_prefix(self.media()).ok()?;
        Some(format!("{CONTAINER_MEDIA}/{}", rest.to_string_lossy()))
    }

    // ---- recordings ----

    pub fn segments_of(&self, camera: &str) -> Vec<&DockerSegment> {
        self.segments
            .iter()
            .filter(|s| s.camera == camera)
            .collect()
    }

    /// `[first start, last end]` of `front`'s recordings.
    pub fn front_range(&self) -> (f64, f64) {
        let s = self.segments_of("front");
        (
            s.first().expect("front has segments").start,
            s.last().unwrap().end,
        )
    }

    /// Recordings rows per camera, `(camera, count)` sorted.
    pub fn recording_rows(&self) -> Vec<(String, i64)> {
        let conn = Connection::open(self.db_path()).expect("open frigate.db");
        conn.execute_batch("PRAGMA busy_timeout = 5000")
            .expect("busy_timeout");
        let mut stmt = conn
            .prepare("SELECT camera, COUNT(*) FROM recordings GROUP BY camera ORDER BY camera")
            .expect("prepare");
        let rows = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .expect("query")
            .collect::<Result<Vec<_>, _>>()
            .expect("rows");
        rows
    }

    // ---- replayd ----

    /// The replayd.toml of a Docker user, with the Frigate publisher at
    /// `http://127.0.0.1:<port>`.
    pub fn replayd_toml(&self, frigate_port: u16) -> String {
        let p = |path: PathBuf| toml_str(&path.to_string_lossy());
        format!(
            "# replayd.toml of a Docker user, written by the conformance suite\n\
             [nvr]\n\
             config = {config}\n\
             media_dir = {media}\n\
             \n\
             [runtime]\n\
             dir = {run}\n\
             state_dir = {state}\n\
             \n\
             [control]\n\
             socket = {socket}\n\
             \n\
             [publish]\n\
             to = \"frigate\"\n\
             \n\
             [publish.frigate]\n\
             url = \"http://127.0.0.1:{frigate_port}\"\n\
             timeout = \"5s\"\n\
             \n\
             [log]\n\
             target = \"stderr\"\n\
             level = \"debug\"\n",
            config = p(self.nvr_config_path()),
            media = p(self.media()),
            run = p(self.run_dir()),
            state = p(self.state_dir()),
            socket = p(self.socket()),
        )
    }

    /// Writes `replayd_toml(frigate_port)` to ROOT/replayd.toml.
    pub fn write_replayd_toml(&self, frigate_port: u16) {
        self.root.write_raw_toml(&self.replayd_toml(frigate_port));
    }

    /// Frigate's config.yml as bytes (for byte-identity checks).
    pub fn nvr_config_bytes(&self) -> Vec<u8> {
        fs::read(self.nvr_config_path()).expect("read config.yml")
    }

    /// Frigate's config.yml, parsed.
    pub fn nvr_config_yaml(&self) -> serde_yaml::Value {
        let text = fs::read_to_string(self.nvr_config_path()).expect("read config.yml");
        serde_yaml::from_str(&text).expect("config.yml is YAML")
    }

    /// The camera names in Frigate's config.yml.
    pub fn nvr_config_cameras(&self) -> Vec<String> {
        camera_names(&self.nvr_config_yaml())
    }
}

/// `recordings/<YYYY-MM-DD>/<HH>/<camera>/<MM>.<SS>.mp4` (UTC), as
/// Frigate's record maintainer names segments.
pub fn recording_rel_path(camera: &str, t: f64) -> String {
    let (y, mo, d, h, mi, s) = utc(t);
    format!("recordings/{y:04}-{mo:02}-{d:02}/{h:02}/{camera}/{mi:02}.{s:02}.mp4")
}

/// The camera names of a parsed Frigate config.
pub fn camera_names(config: &serde_yaml::Value) -> Vec<String> {
    config
        .get("cameras")
        .and_then(serde_yaml::Value::as_mapping)
        .map(|m| {
            m.keys()
                .filter_map(|k| k.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// Frigate's config.yml for a conformance root, from the shared example of
/// `version`: its camera `front_door` renamed `front`, then `back` (unless
/// `only_front`), then `extra_cameras`; 0.18 also names its database.
pub fn frigate_config(
    env: &FrigateEnv,
    version: FrigateVersion,
    only_front: bool,
    extra_cameras: &[String],
) -> String {
    let example = env.examples_dir().join(version.example_config_name());
    let text =
        fs::read_to_string(&example).unwrap_or_else(|e| panic!("read {}: {e}", example.display()));
    assert!(
        text.contains("\ncameras:\n  front_door:\n"),
        "{} no longer has `cameras:` → `front_door:`; update the conformance layout",
        example.display()
    );
    let mut config = text.replacen("\n  front_door:\n", "\n  front:\n", 1);
    if !config.ends_with('\n') {
        config.push('\n');
    }
    // `cameras:` is the example's last top-level key: cameras append to it.
    if !only_front {
        config.push_str(BACK_CAMERA);
    }
    for yaml in extra_cameras {
        config.push_str(yaml);
        if !yaml.ends_with('\n') {
            config.push('\n');
        }
    }
    if version == FrigateVersion::V018 {
        config.push_str(&format!(
            "database:\n  path: {CONTAINER_CONFIG}/frigate.db\n"
        ));
    }
    // What was meant is what was written.
    let parsed: serde_yaml::Value = serde_yaml::from_str(&config)
        .unwrap_or_else(|e| panic!("conformance config is not YAML ({e}):\n{config}"));
    let names = camera_names(&parsed);
    assert_eq!(
        names.first().map(String::as_str),
        Some("front"),
        "cameras: {names:?}"
    );
    assert_eq!(
        names.len(),
        1 + usize::from(!only_front) + extra_cameras.len(),
        "cameras in the conformance config: {names:?}\n{config}"
    );
    config
}
