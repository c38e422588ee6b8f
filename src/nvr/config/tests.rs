use super::*;

fn parse(text: &str) -> Result<NvrConfig, NvrConfigError> {
    NvrConfig::parse(text, Path::new("/config/config.yml"))
}

fn parse_ok(text: &str) -> NvrConfig {
    match parse(text) {
        Ok(config) => config,
        Err(e) => panic!("config should parse: {e}\n{text}"),
    }
}

fn parse_err(text: &str) -> String {
    match parse(text) {
        Ok(_) => panic!("config should be refused:\n{text}"),
        Err(e) => e.to_string(),
    }
}

fn yaml(text: &str) -> Value {
    serde_yaml::from_str(text).expect("test YAML")
}

const FRIGATE: &str = r#"
mqtt:
  host: mqtt.lan
database:
  path: /db/frigate.db
detect:
  width: 1280
  height: 720
  fps: 5
  stationary:
    interval: 50
    threshold: 50
objects:
  track: [person, car]
  filters:
    person:
      min_score: 0.6
      threshold: 0.75
motion:
  threshold: 25
  contour_area: 15
lpr:
  enabled: true
  model_size: large
  device: GPU
  min_area: 1500
  recognition_threshold: 0.9
face_recognition:
  enabled: false
  model_size: small
  min_area: 500
cameras:
  front:
    ffmpeg:
      inputs:
        - path: rtsp://cam1/main
          roles: [detect, record]
    detect:
      fps: 10
      stationary:
        threshold: 80
    objects:
      track: [person, dog]
      filters:
        person:
          min_area: 5000
    zones:
      yard:
        coordinates: 0.1,0.1,0.9,0.1,0.9,0.9
        objects: [person]
  back:
    ffmpeg:
      inputs:
        - path: rtsp://cam2/main
          roles: [detect]
    lpr:
      expire_time: 5
    face_recognition:
      enabled: true
"#;

#[test]
fn tagged_camera_names_are_refused() {
    let err = parse_err("cameras:\n  gate: {detect: {}}\n  ! lane: {detect: {}}\n");
    assert!(err.contains("lane") && err.contains("tag"), "{err}");
}

#[test]
fn discover_table() {
    let none = |_: &Path| false;
    let only_yaml = |p: &Path| p == Path::new(FALLBACK_CONFIG_FILE);
    let both = |_: &Path| true;
    type Case<'a> = (
        Option<&'a Path>,
        Option<PathBuf>,
        &'a dyn Fn(&Path) -> bool,
        &'a str,
    );
    let cases: Vec<Case> = vec![
        (
            Some(Path::new("/etc/x.yml")),
            Some("/env.yml".into()),
            &both,
            "/etc/x.yml",
        ),
        (None, Some("/env.yml".into()), &both, "/env.yml"),
        (None, Some(PathBuf::new()), &only_yaml, FALLBACK_CONFIG_FILE),
        (None, None, &both, DEFAULT_CONFIG_FILE),
        (None, None, &only_yaml, FALLBACK_CONFIG_FILE),
        (None, None, &none, DEFAULT_CONFIG_FILE),
    ];
    for (explicit, env, exists, want) in cases {
        assert_eq!(
            discover_with(explicit, env.clone(), exists),
            PathBuf::from(want),
            "{explicit:?} {env:?}"
        );
    }
}

#[test]
fn load_reports_missing_file() {
    let err = NvrConfig::load(Path::new("/nonexistent/replayd-test/config.yml"))
        .expect_err("missing file");
    assert!(matches!(err, NvrConfigError::Io { .. }));
    assert!(err
        .to_string()
        .contains("/nonexistent/replayd-test/config.yml"));
}

#[test]
fn cameras_database_and_sections() {
    let config = parse_ok(FRIGATE);
    assert_eq!(config.camera_names(), vec!["front", "back"]);
    assert!(config.has_camera("front"));
    assert!(!config.has_camera("garage"));
    assert_eq!(
        config.database_path(),
        Some(PathBuf::from("/db/frigate.db"))
    );
    assert_eq!(config.path(), Path::new("/config/config.yml"));
    assert_eq!(
        config
            .global_section("lpr")
            .and_then(|l| l.get("model_size")),
        Some(&yaml("large"))
    );
    assert!(config.global_section("birdseye").is_none());
    assert!(config.root().contains_key("mqtt"));
    let minimal = parse_ok("cameras:\n  a:\n    ffmpeg: {inputs: []}\n");
    assert_eq!(minimal.database_path(), None);
}

#[test]
fn json_config() {
    let config = parse_ok(
            "{\n\t\"database\": {\"path\": \"/d.db\"},\n\t\"cameras\": {\"porch\": {\"detect\": {\"fps\": 5}}}\n}\n",
        );
    assert_eq!(config.camera_names(), vec!["porch"]);
    assert_eq!(config.database_path(), Some(PathBuf::from("/d.db")));
}

#[test]
fn effective_camera_deep_merges_globals() {
    let config = parse_ok(FRIGATE);
    let front = Value::Mapping(config.effective_camera("front").expect("front"));
    let want = yaml(
        r#"
detect: {fps: 10, stationary: {threshold: 80, interval: 50}, width: 1280, height: 720}
objects:
  track: [person, dog]
  filters:
    person: {min_area: 5000, min_score: 0.6, threshold: 0.75}
motion: {threshold: 25, contour_area: 15}
lpr: {enabled: true, min_area: 1500}
face_recognition: {enabled: false, min_area: 500}
"#,
    );
    for section in GLOBAL_SECTIONS {
        assert_eq!(front.get(section), want.get(section), "section {section}");
    }
    // Camera-only sections are untouched and the model settings never
    // reach a camera.
    assert!(front.get("zones").is_some());
    assert!(front["lpr"].get("model_size").is_none());
    assert!(front["lpr"].get("recognition_threshold").is_none());

    let back = Value::Mapping(config.effective_camera("back").expect("back"));
    assert_eq!(
        back["lpr"],
        yaml("{expire_time: 5, enabled: true, min_area: 1500}")
    );
    assert_eq!(
        back["face_recognition"],
        yaml("{enabled: true, min_area: 500}")
    );
    assert_eq!(back["objects"]["track"], yaml("[person, car]"));
    assert!(config.effective_camera("garage").is_none());
}

#[test]
fn merge_table() {
    // (global sections, camera, expected effective camera)
    let cases = [
            // keys nobody wrote stay absent
            ("{}", "{ffmpeg: {}}", "{ffmpeg: {}}"),
            // lists are not merged: the camera's list wins
            (
                "{objects: {track: [person, car]}}",
                "{objects: {track: [dog]}}",
                "{objects: {track: [dog]}}",
            ),
            // nested maps merge key by key, three levels deep
            (
                "{detect: {stationary: {max_frames: {default: 3000, objects: {car: 100}}}}}",
                "{detect: {stationary: {max_frames: {objects: {person: 50}}}}}",
                "{detect: {stationary: {max_frames: {objects: {person: 50, car: 100}, default: 3000}}}}",
            ),
            // a camera value that is not a mapping wins whole, null included
            ("{motion: {threshold: 20}}", "{motion: null}", "{motion: null}"),
            // a global section that is not a mapping adds nothing
            ("{motion: null}", "{motion: {threshold: 20}}", "{motion: {threshold: 20}}"),
            // scalar conflicts: camera wins
            ("{detect: {fps: 5, enabled: false}}", "{detect: {fps: 7}}", "{detect: {fps: 7, enabled: false}}"),
            // sections outside the list do not propagate
            ("{record: {enabled: true}, snapshots: {enabled: true}}", "{}", "{}"),
            // lpr / face_recognition: camera-level fields only
            (
                "{lpr: {enabled: true, expire_time: 3, min_area: 1000, enhancement: 3, device: CPU, known_plates: {a: [x]}}}",
                "{lpr: {min_area: 2000}}",
                "{lpr: {min_area: 2000, enabled: true, expire_time: 3, enhancement: 3}}",
            ),
            (
                "{face_recognition: {enabled: true, model_size: large, min_area: 400, recognition_threshold: 0.9}}",
                "{}",
                "{face_recognition: {enabled: true, min_area: 400}}",
            ),
        ];
    for (globals, camera, want) in cases {
        let mut root = yaml(globals)
            .as_mapping()
            .cloned()
            .expect("globals mapping");
        let camera = yaml(camera).as_mapping().cloned().expect("camera mapping");
        let mut cameras = Mapping::new();
        cameras.insert("cam".into(), Value::Mapping(camera.clone()));
        root.insert("cameras".into(), Value::Mapping(cameras));
        let text = serde_yaml::to_string(&root).expect("serialize");
        let config = parse_ok(&text);
        assert_eq!(
            config.effective_camera("cam").map(Value::Mapping),
            Some(yaml(want)),
            "globals {globals} camera {camera:?}"
        );
        assert_eq!(Value::Mapping(config.merge_globals(&camera)), yaml(want));
    }
}

#[test]
fn merge_keys_at_every_depth() {
    let config = parse_ok(
        r#"
.base_detect: &base_detect
  width: 1920
  height: 1080
.fast: &fast
  <<: *base_detect
  fps: 10
.filters: &filters
  person: {min_score: 0.7}
.zone: &zone
  inertia: 3
  objects: [person]
.zone_extra: &zone_extra
  inertia: 9
  loitering_time: 4
cameras:
  front:
    ffmpeg:
      inputs:
        - path: rtsp://front
          roles: [detect]
    detect:
      <<: *fast
      fps: 5
    objects:
      filters:
        <<: *filters
        car: {min_score: 0.4}
    zones:
      yard:
        <<: [*zone, *zone_extra]
        coordinates: 0,0,1,0,1,1
      street:
        <<: [*zone_extra, *zone]
        coordinates: 0,0,1,0,1,1
  back:
    <<: { detect: { fps: 2 } }
    ffmpeg:
      inputs:
        - {<<: {roles: [detect]}, path: rtsp://back}
"#,
    );
    let front = Value::Mapping(config.camera("front").cloned().expect("front"));
    assert_eq!(
        front["detect"],
        yaml("{width: 1920, height: 1080, fps: 5}"),
        "nested merge: an alias that merges itself"
    );
    assert_eq!(
        front["objects"]["filters"],
        yaml("{person: {min_score: 0.7}, car: {min_score: 0.4}}")
    );
    // In a list of merges the earlier mapping wins.
    assert_eq!(
        front["zones"]["yard"],
        yaml("{inertia: 3, objects: [person], loitering_time: 4, coordinates: '0,0,1,0,1,1'}")
    );
    assert_eq!(front["zones"]["street"]["inertia"], yaml("9"));
    let back = Value::Mapping(config.camera("back").cloned().expect("back"));
    assert_eq!(back["detect"], yaml("{fps: 2}"));
    assert_eq!(
        back["ffmpeg"]["inputs"][0],
        yaml("{roles: [detect], path: rtsp://back}")
    );
    let text = serde_yaml::to_string(config.root()).expect("serialize");
    assert!(!text.contains("<<"), "no merge key left:\n{text}");
}

#[test]
fn explicit_keys_win_over_merged_ones_wherever_written() {
    let config = parse_ok(
            "d: &d {fps: 1, width: 640}\ncameras:\n  a:\n    detect:\n      fps: 9\n      <<: *d\n      width: 320\n",
        );
    assert_eq!(
        Value::Mapping(config.camera("a").cloned().expect("a"))["detect"],
        yaml("{fps: 9, width: 320}")
    );
}

#[test]
fn refusals_name_file_line_and_key() {
    let cases: [(&str, &[&str]); 14] = [
        (
            "cameras:\n  front:\n    detect:\n      fps: 5\n      fps: 10\n",
            &[
                "/config/config.yml",
                "line 5",
                "duplicate key \"fps\"",
                "cameras.front.detect",
            ],
        ),
        (
            "cameras:\n  front: {}\n  back: {}\n  front: {}\n",
            &["line 4", "duplicate key \"front\"", "`cameras`"],
        ),
        (
            "mqtt: {}\nmqtt: {}\ncameras: {}\n",
            &["line 2", "duplicate key \"mqtt\"", "top-level"],
        ),
        (
            "cameras:\n  a:\n    zones:\n      - x: 1\n        y: 2\n        x: 3\n",
            &["line 6", "duplicate key \"x\""],
        ),
        (
            "{\"cameras\": {\"a\": {}, \"a\": {}}}",
            &["line 1", "duplicate key \"a\""],
        ),
        ("cameras:\n  a: [1, 2\n", &["line"]),
        ("cameras:\n  a: *nope\n", &["line 2", "anchor"]),
        ("", &["empty", "cameras"]),
        ("- a\n- b\n", &["top level", "a list"]),
        ("mqtt: {}\n", &["no `cameras`"]),
        (
            "mqtt: {}\ncameras:\n  - front\n",
            &["line 2", "`cameras` must be a mapping", "a list"],
        ),
        (
            "cameras:\n  123: {}\n",
            &["camera names must be strings", "123"],
        ),
        (
            "cameras:\n  front:\n  back: {}\n",
            &["line 2", "cameras.front", "null"],
        ),
        (
            "cameras: {}\ndatabase:\n  path: 42\n",
            &["line 3", "database.path", "a number"],
        ),
    ];
    for (text, needles) in cases {
        let message = parse_err(text);
        for needle in needles {
            assert!(
                message.contains(needle),
                "{needle:?} not in {message:?} for\n{text}"
            );
        }
    }
}

#[test]
fn bad_merge_keys_are_refused() {
    for (text, needle) in [
        (
            "cameras:\n  a:\n    detect:\n      <<: 5\n",
            "cameras.a.detect",
        ),
        ("x: &x [1]\ncameras:\n  a:\n    <<: [*x]\n", "cameras.a"),
    ] {
        let message = parse_err(text);
        assert!(message.contains(needle), "{message}");
        assert!(message.contains("<<"), "{message}");
    }
}

#[test]
fn other_refusals() {
    assert!(parse_err("cameras: {}\ndatabase: /x.db\n").contains("`database` must be a mapping"));
    assert!(parse_err("cameras: {}\ndatabase: {path: ''}\n").contains("empty"));
    assert!(parse("cameras: {}\ndatabase:\n").is_ok());
}

#[test]
fn locate_duplicate_table() {
    let text = "a:\n  b: 1\n  # b: comment\n  c: 2\n  'b': 3\nd: 1\n";
    assert_eq!(locate_duplicate(text, 2, 3, "b"), Some(5));
    assert_eq!(locate_duplicate(text, 2, 3, "d"), None);
    assert_eq!(locate_duplicate("{a: 1, a: 2}", 1, 1, "a"), None);
    assert_eq!(
        find_key_line("x:\n  cameras: 1\ncameras:\n  - a\n", &["cameras"]),
        Some(3)
    );
    assert_eq!(
        find_key_line("cameras:\n  a: 1\nb:\n  a: 2\n", &["cameras", "b"]),
        None
    );
    assert_eq!(
        find_key_line("cameras:\n  a:\n    b: 1\n  b: 2\n", &["cameras", "b"]),
        Some(4)
    );
}

/// Bytes allocated by the current thread, so a test can tell how much memory
/// one parse took while other tests run beside it.
mod thread_alloc {
    use std::alloc::{GlobalAlloc, Layout, System};
    use std::cell::Cell;

    struct Counting;

    thread_local! {
        static LIVE: Cell<isize> = const { Cell::new(0) };
        static PEAK: Cell<isize> = const { Cell::new(0) };
    }

    fn add(delta: isize) {
        let _ = LIVE.try_with(|live| {
            let now = live.get().wrapping_add(delta);
            live.set(now);
            let _ = PEAK.try_with(|peak| peak.set(peak.get().max(now)));
        });
    }

    // SAFETY: every call is forwarded to the system allocator unchanged; the
    // counters are plain thread-local cells that never allocate.
    unsafe impl GlobalAlloc for Counting {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            let p = unsafe { System.alloc(layout) };
            if !p.is_null() {
                add(layout.size() as isize);
            }
            p
        }
        unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
            let p = unsafe { System.alloc_zeroed(layout) };
            if !p.is_null() {
                add(layout.size() as isize);
            }
            p
        }
        unsafe fn dealloc(&self, p: *mut u8, layout: Layout) {
            unsafe { System.dealloc(p, layout) };
            add(-(layout.size() as isize));
        }
        unsafe fn realloc(&self, p: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
            let q = unsafe { System.realloc(p, layout, new_size) };
            if !q.is_null() {
                add(new_size as isize - layout.size() as isize);
            }
            q
        }
    }

    #[global_allocator]
    static COUNTING: Counting = Counting;

    /// Runs `f` and returns its result with the most memory this thread
    /// held during it, above what it held before.
    pub fn peak_during<T>(f: impl FnOnce() -> T) -> (T, usize) {
        let base = LIVE.with(Cell::get);
        PEAK.with(|peak| peak.set(base));
        let out = f();
        let peak = PEAK.with(Cell::get);
        (out, usize::try_from(peak - base).unwrap_or(0))
    }
}

/// `parse` on a worker thread, failed after `limit` instead of hanging the
/// suite; returns the result, its time and the worker's peak memory.
fn parse_watched(
    text: String,
    limit: std::time::Duration,
) -> (
    Result<NvrConfig, NvrConfigError>,
    std::time::Duration,
    usize,
) {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let started = std::time::Instant::now();
        let (result, peak) = thread_alloc::peak_during(|| parse(&text));
        let _ = tx.send((result, started.elapsed(), peak));
    });
    match rx.recv_timeout(limit) {
        Ok(out) => out,
        Err(_) => panic!("parse still running after {limit:?}"),
    }
}

/// 120 KB: one anchored list of 50,000 items aliased 4,000 times
/// (200 million values once expanded).
fn alias_bomb() -> String {
    let big = vec!["0"; 50_000].join(",");
    let bomb = vec!["*big"; 4_000].join(",");
    format!("cameras: {{}}\nbig: &big [{big}]\nbomb: [{bomb}]\n")
}

/// Each level merges the one before twice (`<<: [*prev, *prev]`): the text
/// grows by a line a level, the expansion doubles.
fn merge_bomb() -> String {
    let keys: Vec<String> = (0..1000).map(|i| format!("k{i}: {i}")).collect();
    let mut text = format!("cameras: {{}}\nl0: &l0 {{{}}}\n", keys.join(", "));
    for level in 1..=11 {
        let prev = level - 1;
        text.push_str(&format!(
            "l{level}: &l{level} {{<<: [*l{prev}, *l{prev}]}}\n"
        ));
    }
    text
}

/// A string anchored once and aliased many times: few nodes, many bytes.
fn string_bomb() -> String {
    let long = "x".repeat(64 * 1024);
    let bomb = vec!["*s"; 1_000].join(",");
    format!("cameras: {{}}\ns: &s {long}\nbomb: [{bomb}]\n")
}

#[test]
fn expansion_bombs_are_refused_quickly_in_little_memory() {
    for (name, text) in [
        ("alias bomb", alias_bomb()),
        ("merge fan-out", merge_bomb()),
        ("string bomb", string_bomb()),
    ] {
        let size = text.len();
        let (result, took, peak) = parse_watched(text, std::time::Duration::from_secs(20));
        let message = match result {
            Ok(_) => panic!("{name} ({size} bytes) should be refused"),
            Err(e) => e.to_string(),
        };
        assert!(
            message.contains("/config/config.yml") && message.contains("alias"),
            "{name}: {message}"
        );
        println!("{name}: {size} bytes refused in {took:?}, peak {peak} bytes: {message}");
        assert!(
            peak < 16 * 1024 * 1024,
            "{name}: took {peak} bytes to refuse"
        );
    }
}

#[test]
fn oversized_config_is_refused_unread() {
    let padding = format!("# {}\n", "x".repeat(1022));
    let text = format!(
        "cameras: {{}}\n{}",
        padding.repeat(MAX_CONFIG_BYTES / 1024 + 1)
    );
    assert!(parse_err(&text).contains("larger than 4 MiB"));

    let dir = std::env::temp_dir().join(format!("replayd-nvr-config-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("config.yml");
    std::fs::write(&path, &text).expect("write config");
    let err = NvrConfig::load(&path).err().map(|e| e.to_string());
    let _ = std::fs::remove_dir_all(&dir);
    let err = err.expect("an oversized file is refused");
    assert!(
        err.contains("config.yml") && err.contains("larger than 4 MiB"),
        "{err}"
    );
}

/// A mapping that merges `n / 2` keys under `n / 2` explicit ones: the
/// shape of the 1.7 MB config whose merge took 28 s.
fn wide_merge(n: usize) -> String {
    let mut text = String::from("defaults: &defaults\n");
    for i in 0..n / 2 {
        text.push_str(&format!("  merged_{i:06}: {i}\n"));
    }
    text.push_str("  shared: from_defaults\ncameras:\n  wide:\n    <<: *defaults\n");
    for i in 0..n / 2 {
        text.push_str(&format!("    explicit_{i:06}: {i}\n"));
    }
    text.push_str("    shared: explicit\n");
    text
}

#[test]
fn merge_of_80k_keys_is_linear() {
    let merge = |n: usize| {
        let text = wide_merge(n);
        let mut value: Value = serde_yaml::from_str(&text).expect("wide config");
        let mut merger = Merger::default();
        merger.value(&mut value).expect("merge");
        let wide = &value["cameras"]["wide"];
        assert_eq!(wide.as_mapping().map(Mapping::len), Some(n + 1));
        assert_eq!(wide["shared"], yaml("explicit"));
        assert_eq!(wide["merged_000007"], yaml("7"));
        merger.comparisons
    };
    let (small, large) = (merge(20_000), merge(80_000));
    // Linear work grows 4x with 4x the keys; a quadratic merge grows 16x.
    assert!(
        large <= 5 * small && large <= 4 * 80_000,
        "merge comparisons: {small} for 20k keys, {large} for 80k"
    );

    let config = parse_ok(&wide_merge(80_000));
    assert_eq!(config.camera("wide").map(Mapping::len), Some(80_001));
}

#[test]
fn printable_camera_names_escape_control_characters() {
    let config = parse_ok(
        "cameras:\n  front: {}\n  \"gate\\e[2J\\nNVR config: /etc/shadow\": {}\n  \"bell\\a\\r\": {}\n",
    );
    let names = config.printable_camera_names();
    assert_eq!(names.len(), 3);
    assert_eq!(names[0], "front");
    for name in &names {
        assert!(!name.chars().any(char::is_control), "{name:?}");
    }
    assert_eq!(names[1], "gate\\u{1b}[2J\\nNVR config: /etc/shadow");
    assert_eq!(names[2], "bell\\u{7}\\r");
}
