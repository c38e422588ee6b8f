use super::*;

/// A production-like NVR config: globals for every propagated section,
/// model settings in lpr / face_recognition, anchors and merge keys.
const FRIGATE: &str = r#"
mqtt:
  host: 192.168.1.10
database:
  path: /config/frigate.db
detectors:
  coral:
    type: edgetpu
    device: usb
ffmpeg:
  hwaccel_args: preset-vaapi
detect:
  enabled: true
  fps: 5
  stationary:
    interval: 50
    threshold: 50
objects:
  track: [person, car, dog]
  filters:
    person:
      min_score: 0.55
      threshold: 0.7
  genai:
    enabled: true
motion:
  threshold: 30
  contour_area: 10
  improve_contrast: true
record:
  enabled: true
  retain:
    days: 7
    mode: motion
snapshots:
  enabled: true
audio:
  enabled: true
review:
  alerts:
    labels: [person, car]
birdseye:
  enabled: true
  mode: objects
lpr:
  enabled: true
  model_size: small
  detection_threshold: 0.7
  min_area: 1000
  enhancement: 2
face_recognition:
  enabled: false
  model_size: small
  min_area: 500
cameras:
  front_door:
    ffmpeg:
      inputs:
        - path: rtsp://user:pass@10.0.0.20:554/stream1
          roles: [record]
        - path: rtsp://user:pass@10.0.0.20:554/stream2
          roles: [detect, audio]
    detect: &front_detect
      width: 1280
      height: 720
      fps: 10
      min_initialized: 3
      max_disappeared: 25
    objects:
      track: [person, car]
      mask: 0.0,0.0,0.3,0.0,0.3,0.1,0.0,0.1
      filters:
        car:
          min_score: 0.6
          min_area: 3000
          mask:
            - 0.9,0.9,1.0,0.9,1.0,1.0,0.9,1.0
      genai:
        enabled: true
        prompt: Describe the car
    motion:
      threshold: 40
      mask:
        - 0.0,0.0,1.0,0.0,1.0,0.06,0.0,0.06
        - 0.70,0.0,1,0,1,0.2
    zones:
      driveway:
        coordinates: 0.0,0.5,0.6,0.4,0.7,1.0,0.0,1.0
        objects: [car]
        inertia: 5
        loitering_time: 0
      porch:
        coordinates:
          - 0.6,0.5
          - 1.0,0.5
          - 1.0,1.0
          - 0.6,1.0
        objects: person
        inertia: 3
    lpr:
      enabled: true
      min_area: 1500
    face_recognition:
      enabled: false
    record:
      enabled: true
  garage:
    ffmpeg:
      inputs:
        - path: rtsp://10.0.0.21/live
          roles: [detect, record]
    detect:
      <<: *front_detect
      fps: 5
    zones:
      apron:
        coordinates: 100,400,600,400,640,720,80,720
        objects: [person, car]
        inertia: 3
    motion:
      mask: 0,0,640,0,640,40,0,40
"#;

/// Global lpr and face_recognition off (face_recognition not even written).
const NO_ENRICHMENTS: &str = r#"
lpr:
  enabled: false
  model_size: large
cameras:
  gate:
    ffmpeg:
      inputs:
        - path: rtsp://10.0.0.30/main
          roles: [detect]
    detect: {width: 1920, height: 1080, fps: 5}
    zones:
      lane:
        coordinates: 0.1,0.1,0.9,0.1,0.9,0.9
"#;

fn nvr(text: &str) -> NvrConfig {
    match NvrConfig::parse(text, Path::new("/config/config.yml")) {
        Ok(config) => config,
        Err(e) => panic!("fixture config: {e}"),
    }
}

fn yaml(text: &str) -> Value {
    serde_yaml::from_str(text).expect("test YAML")
}

fn mapping(text: &str) -> Mapping {
    yaml(text).as_mapping().cloned().expect("test YAML mapping")
}

fn clip(source: &str) -> std::path::PathBuf {
    Path::new("/media/frigate/clips/replay")
        .join(format!("{}.mp4", crate::replay::names::replay_name(source)))
}

fn build_ok(config: &NvrConfig, source: &str) -> Mapping {
    match build(config, source, &clip(source), &Tuning::default()) {
        Ok(camera) => camera,
        Err(e) => panic!("build {source}: {e}"),
    }
}

#[test]
fn camera_names() {
    for (name, valid) in [
        ("front_door", true),
        ("Front-Door-2", true),
        ("_replay_x", true),
        ("-", true),
        ("", false),
        ("front door", false),
        ("front/../etc", false),
        ("..", false),
        ("caméra", false),
        ("front\n", false),
        ("a.b", false),
    ] {
        assert_eq!(crate::replay::names::is_valid(name), valid, "{name:?}");
    }
    assert_eq!(
        crate::replay::names::replay_name("front_door"),
        "_replay_front_door"
    );
}

#[test]
fn build_copies_effective_settings_and_fixes_the_rest() {
    let config = nvr(FRIGATE);
    let camera = build_ok(&config, "front_door");
    let want = yaml(
        r#"
enabled: true
ffmpeg:
  inputs:
    - path: /media/frigate/clips/replay/_replay_front_door.mp4
      roles: [detect]
      input_args: -re -stream_loop -1 -fflags +genpts
  hwaccel_args: []
detect:
  width: 1280
  height: 720
  fps: 10
  min_initialized: 3
  max_disappeared: 25
  enabled: true
  stationary: {interval: 50, threshold: 50}
objects:
  track: [person, car]
  mask: 0.0,0.0,0.3,0.0,0.3,0.1,0.0,0.1
  filters:
    car:
      min_score: 0.6
      min_area: 3000
      mask: ['0.9,0.9,1.0,0.9,1.0,1.0,0.9,1.0']
    person: {min_score: 0.55, threshold: 0.7}
zones:
  driveway:
    coordinates: 0.0,0.5,0.6,0.4,0.7,1.0,0.0,1.0
    objects: [car]
    inertia: 5
    loitering_time: 0
  porch:
    coordinates: ['0.6,0.5', '1.0,0.5', '1.0,1.0', '0.6,1.0']
    objects: person
    inertia: 3
motion:
  threshold: 40
  mask: ['0.0,0.0,1.0,0.0,1.0,0.06,0.0,0.06', '0.70,0.0,1,0,1,0.2']
  contour_area: 10
  improve_contrast: true
lpr: {enabled: true, min_area: 1500, enhancement: 2}
face_recognition: {enabled: false, min_area: 500}
record: {enabled: false}
snapshots: {enabled: false}
birdseye: {enabled: false}
audio: {enabled: false}
review:
  alerts: {enabled: false}
  detections: {enabled: false}
"#,
    );
    assert_eq!(Value::Mapping(camera.clone()), want);
    let keys: Vec<&str> = camera.keys().filter_map(Value::as_str).collect();
    assert_eq!(&keys[..3], ["enabled", "ffmpeg", "detect"]);
    assert_eq!(validate(&config, "_replay_front_door", &camera), Ok(()));

    // What the NVR reads back from the published file validates the same.
    let text = published_document("_replay_front_door", &camera);
    let published = NvrConfig::parse(
        &text,
        Path::new("/run/replayd/cameras/_replay_front_door.yml"),
    )
    .expect("published file parses");
    let again = published
        .camera("_replay_front_door")
        .cloned()
        .expect("camera");
    assert_eq!(again, camera);
    assert_eq!(validate(&config, "_replay_front_door", &again), Ok(()));
}

#[test]
fn build_applies_merge_keys_and_keeps_pixel_coordinates() {
    let config = nvr(FRIGATE);
    let camera = Value::Mapping(build_ok(&config, "garage"));
    assert_eq!(
            camera["detect"],
            yaml("{width: 1280, height: 720, fps: 5, min_initialized: 3, max_disappeared: 25, enabled: true, stationary: {interval: 50, threshold: 50}}")
        );
    assert_eq!(
        camera["objects"],
        yaml("{track: [person, car, dog], filters: {person: {min_score: 0.55, threshold: 0.7}}}")
    );
    assert_eq!(
        camera["zones"]["apron"]["coordinates"],
        yaml("'100,400,600,400,640,720,80,720'")
    );
    assert_eq!(camera["motion"]["mask"], yaml("'0,0,640,0,640,40,0,40'"));
    // No camera-level lpr: only the propagated fields of the global one.
    assert_eq!(
        camera["lpr"],
        yaml("{enabled: true, min_area: 1000, enhancement: 2}")
    );
    let camera = camera.as_mapping().cloned().expect("mapping");
    assert_eq!(validate(&config, "_replay_garage", &camera), Ok(()));
}

#[test]
fn fixed_values_win_over_anything_the_source_says() {
    let config = nvr(r#"
record: {enabled: true}
cameras:
  yard:
    ffmpeg:
      hwaccel_args: preset-nvidia-h264
      inputs:
        - {path: rtsp://yard, roles: [detect, record, audio], input_args: preset-rtsp-restream}
    detect: {enabled: false, fps: 7}
    record: {enabled: true, retain: {days: 3}}
    snapshots: {enabled: true, bounding_box: true}
    audio: {enabled: true, listen: [bark]}
    birdseye: {enabled: true}
    review: {alerts: {labels: [person]}, detections: {required_zones: [x]}}
    enabled: false
    mqtt: {enabled: true}
    onvif: {host: 10.0.0.9}
"#);
    let camera = Value::Mapping(build_ok(&config, "yard"));
    assert_eq!(camera["enabled"], Value::Bool(true));
    assert_eq!(camera["detect"], yaml("{enabled: true, fps: 7}"));
    assert_eq!(camera["ffmpeg"]["hwaccel_args"], yaml("[]"));
    assert_eq!(
        camera["ffmpeg"]["inputs"][0]["input_args"],
        yaml(&format!("'{REPLAY_INPUT_ARGS}'"))
    );
    assert_eq!(
        camera["ffmpeg"]["inputs"].as_sequence().map(Vec::len),
        Some(1)
    );
    for section in ["record", "snapshots", "birdseye", "audio"] {
        assert_eq!(camera[section], yaml("{enabled: false}"), "{section}");
    }
    assert_eq!(
        camera["review"],
        yaml("{alerts: {enabled: false}, detections: {enabled: false}}")
    );
    for absent in [
        "mqtt",
        "onvif",
        "zones",
        "objects",
        "motion",
        "lpr",
        "face_recognition",
    ] {
        assert!(camera.get(absent).is_none(), "{absent} should be absent");
    }
}

#[test]
fn detect_is_enabled_even_when_nobody_wrote_it() {
    let config = nvr(
        "cameras:\n  bare:\n    ffmpeg:\n      inputs: [{path: rtsp://bare, roles: [detect]}]\n",
    );
    let camera = Value::Mapping(build_ok(&config, "bare"));
    assert_eq!(camera["detect"], yaml("{enabled: true}"));
}

#[test]
fn objects_keep_only_the_detection_fields() {
    let config = nvr(r#"
objects: {genai: {enabled: true}}
cameras:
  a:
    ffmpeg: {inputs: [{path: rtsp://a, roles: [detect]}]}
    objects: {genai: {enabled: true, objects: [person]}}
  b:
    ffmpeg: {inputs: [{path: rtsp://b, roles: [detect]}]}
    objects: {genai: {enabled: true}, track: [cat], filters: {cat: {min_score: 0.4}}, mask: ''}
"#);
    assert!(build_ok(&config, "a").get("objects").is_none());
    assert_eq!(
        build_ok(&config, "b").get("objects"),
        Some(&yaml(
            "{track: [cat], filters: {cat: {min_score: 0.4}}, mask: ''}"
        ))
    );
}

#[test]
fn runtime_fields_are_dropped_at_any_level() {
    let config = nvr(r#"
motion:
  enabled_in_config: true
cameras:
  dumped:
    ffmpeg: {inputs: [{path: rtsp://d, roles: [detect]}]}
    detect: {fps: 5, enabled_in_config: true, stationary: {enabled_in_config: false, interval: 10}}
    objects:
      track: [person]
      raw_mask: ''
      mask:
        object_mask_1: {coordinates: '0,0,0.1,0,0.1,0.1', raw_coordinates: '0,0,0.1,0,0.1,0.1', enabled: true, enabled_in_config: true}
      filters:
        person: {min_score: 0.5, raw_mask: x, rasterized_mask: y, mask: '0.1,0.1,0.2,0.1,0.2,0.2'}
    zones:
      yard:
        coordinates: 0.1,0.1,0.9,0.1,0.9,0.9
        raw_coordinates: 0.1,0.1,0.9,0.1,0.9,0.9
        contour: [[1, 2], [3, 4]]
        color: [255, 0, 0]
        enabled_in_config: true
        filters:
          person: {min_area: 100, rasterized_mask: z}
    motion:
      threshold: 20
      frame_shape: [720, 1280]
      raw_mask: '0,0,1,0,1,1'
      rasterized_mask: [[255]]
      mask:
        motion_mask_1: {friendly_name: Sky, enabled: true, coordinates: '0,0,1,0,1,0.1', raw_coordinates: '0,0,1,0,1,0.1'}
    lpr: {enabled: false, enabled_in_config: false}
    face_recognition: {enabled_in_config: false}
"#);
    let camera = build_ok(&config, "dumped");
    let want = yaml(
        r#"
detect: {fps: 5, stationary: {interval: 10}, enabled: true}
objects:
  track: [person]
  mask:
    object_mask_1: {coordinates: '0,0,0.1,0,0.1,0.1', enabled: true}
  filters:
    person: {min_score: 0.5, mask: '0.1,0.1,0.2,0.1,0.2,0.2'}
zones:
  yard:
    coordinates: 0.1,0.1,0.9,0.1,0.9,0.9
    filters: {person: {min_area: 100}}
motion:
  threshold: 20
  mask:
    motion_mask_1: {friendly_name: Sky, enabled: true, coordinates: '0,0,1,0,1,0.1'}
lpr: {enabled: false}
face_recognition: {}
"#,
    );
    let camera = Value::Mapping(camera);
    for section in [
        "detect",
        "objects",
        "zones",
        "motion",
        "lpr",
        "face_recognition",
    ] {
        assert_eq!(camera[section], want[section], "{section}");
    }
    let text = published_document("_replay_dumped", camera.as_mapping().expect("mapping"));
    for runtime in [
        "enabled_in_config",
        "raw_",
        "rasterized",
        "contour",
        "color",
        "frame_shape",
    ] {
        assert!(!text.contains(runtime), "{runtime} left in\n{text}");
    }
}

#[test]
fn source_camera_refusals() {
    let config = nvr(FRIGATE);
    for (source, needle) in [
        ("porch", "not a camera of the NVR config /config/config.yml"),
        ("", "not a valid camera name"),
        ("front door", "not a valid camera name"),
        ("../front_door", "not a valid camera name"),
        ("_replay_front_door", "is a replay camera"),
    ] {
        let err = build(&config, source, &clip("x"), &Tuning::default()).expect_err(source);
        assert_eq!(err.field, "camera", "{source:?}");
        assert!(err.to_string().contains(needle), "{source:?}: {err}");
    }
    let named_like_replay =
        nvr("cameras:\n  _replay_x:\n    ffmpeg: {inputs: [{path: a, roles: [detect]}]}\n");
    assert!(build(
        &named_like_replay,
        "_replay_x",
        &clip("x"),
        &Tuning::default()
    )
    .is_err());
}

#[cfg(unix)]
#[test]
fn non_utf8_clip_path_is_refused() {
    use std::os::unix::ffi::OsStrExt;
    let config = nvr(FRIGATE);
    let path = Path::new(std::ffi::OsStr::from_bytes(b"/media/\xff.mp4"));
    let err = build(&config, "garage", path, &Tuning::default()).expect_err("non-UTF-8");
    assert_eq!(err.field, "ffmpeg.inputs[0].path");
}

/// A valid replay camera for `NO_ENRICHMENTS`, with `extra` merged over it.
fn gate_with(extra: &str) -> Mapping {
    let config = nvr(NO_ENRICHMENTS);
    let mut camera = build_ok(&config, "gate");
    for (key, value) in mapping(extra) {
        camera.insert(key, value);
    }
    camera
}

#[test]
fn validate_accepts() {
    let config = nvr(NO_ENRICHMENTS);
    let cases = [
            "{}",
            // relative: every value compares at or below "1.0" as text
            "zones: {lane: {coordinates: '0,0,1,0,1,1'}}",
            "zones: {lane: {coordinates: '1,1,1,0,0,0.999'}}",
            "zones: {lane: {coordinates: '0.1, 0.2, 0.9, 0.2, 0.9, 0.8'}}",
            "zones: {lane: {coordinates: '-0.1,0,01.5,0,1.0,1.0'}}",
            "zones: {lane: {coordinates: ['0.1,0.1', '0.9,0.1', '0.9,0.9']}}",
            // pixels: whole numbers, some of them may be small
            "zones: {lane: {coordinates: '0,0,1920,0,1920,1080,0,1080'}}",
            "zones: {lane: {coordinates: ['10,0', '1_920,0', '1920,1080']}}",
            // only the x values of a point list decide
            "zones: {lane: {coordinates: ['0.5,0.5', '0.9,0.5', '0.9,0.9']}}",
            // zone objects: a single label, or a list within the default track
            "zones: {lane: {coordinates: '0,0,1,0,1,1', objects: person}}",
            "zones: {lane: {coordinates: '0,0,1,0,1,1', objects: [person], inertia: 3, loitering_time: 5}}",
            "zones: {lane: {coordinates: '0,0,1,0,1,1', objects: [car]}, gate2: {coordinates: '0,0,1,0,1,1'}}\nobjects: {track: [car]}",
            "zones: null",
            // masks: every form, empty ones included
            "motion: {mask: ''}",
            "motion: {mask: []}",
            "motion: {mask: null}",
            "motion: {mask: '0,0,1,0,1,0.1'}",
            "motion: {mask: ['0,0,1,0,1,0.1', '0,0.9,1,0.9,1,1']}",
            "motion: {mask: ['0,0,1920,0,1920,60', '0,0.9,1,0.9,1,1']}",
            "motion: {mask: {sky: {coordinates: '0,0,1,0,1,0.1', enabled: false}, none: null, blank: {enabled: true}}}",
            "motion: {mask: {sky: {coordinates: ['0,0,1,0,1,0.1', '0,0.9,1,0.9,1,1']}}}",
            "objects: {mask: '0,0,0.1,0,0.1,0.1', filters: {person: {mask: ['0,0,0.2,0,0.2,0.2']}}}",
            // booleans as the NVR's validation reads them
            "record: {enabled: 'no'}\naudio: {enabled: 0}",
        ];
    for extra in cases {
        let camera = gate_with(extra);
        assert_eq!(
            validate(&config, "_replay_gate", &camera),
            Ok(()),
            "{extra}"
        );
    }
}

#[test]
fn validate_refuses_naming_the_field() {
    let config = nvr(NO_ENRICHMENTS);
    // (replay camera name, extra settings, field, words of the message)
    let cases: &[(&str, &str, &str, &str)] = &[
            ("replay gate", "{}", "name", "not a valid camera name"),
            ("", "{}", "name", "not a valid camera name"),
            ("gate", "{}", "name", "already defines a camera named \"gate\""),
            ("_replay_gate", "ffmpeg: {inputs: []}", "ffmpeg.inputs", "no ffmpeg input"),
            ("_replay_gate", "ffmpeg: {hwaccel_args: []}", "ffmpeg.inputs", "no ffmpeg input"),
            ("_replay_gate", "ffmpeg: {inputs: [{path: /c.mp4, roles: [record]}]}", "ffmpeg.inputs", "detect role"),
            (
                "_replay_gate",
                "ffmpeg: {inputs: [{path: /c.mp4, roles: [detect]}, {path: /d.mp4, roles: [detect]}]}",
                "ffmpeg.inputs[1].roles",
                "used once",
            ),
            ("_replay_gate", "ffmpeg: {inputs: [{path: /c.mp4, roles: [rtmp]}]}", "ffmpeg.inputs[0].roles", "unknown role rtmp"),
            ("_replay_gate", "ffmpeg: {inputs: [{roles: [detect]}]}", "ffmpeg.inputs[0].path", "missing"),
            ("_replay_gate", "ffmpeg: {inputs: [{path: /c.mp4}]}", "ffmpeg.inputs[0].roles", "list of roles"),
            ("_replay_gate", "record: {enabled: true}", "record.enabled", "record role"),
            ("_replay_gate", "audio: {enabled: true}", "audio.enabled", "audio role"),
            ("_replay_gate", "audio: {enabled: maybe}", "audio.enabled", "true or false"),
            ("_replay_gate", "motion: {enabled: false}", "motion.enabled", "object detection"),
            // zone coordinates
            ("_replay_gate", "zones: {lane: {coordinates: 'a,b,c,d,e,f'}}", "zones.lane.coordinates", "\"a\" is not a number"),
            ("_replay_gate", "zones: {lane: {coordinates: '0.1,0.1,0.9,0.1,0.9'}}", "zones.lane.coordinates", "x,y pairs"),
            ("_replay_gate", "zones: {lane: {coordinates: '0.1,0.1,0.9,0.1'}}", "zones.lane.coordinates", "at least 3 points"),
            ("_replay_gate", "zones: {lane: {coordinates: ''}}", "zones.lane.coordinates", "x,y pairs"),
            ("_replay_gate", "zones: {lane: {coordinates: '0.5,0.5,1280,0.5,1280,720'}}", "zones.lane.coordinates", "mixes relative and pixel values: \"1280\""),
            ("_replay_gate", "zones: {lane: {coordinates: '0.5,0.5,1.5,0.5,1.5,0.9'}}", "zones.lane.coordinates", "\"1.5\" reads as a pixel value"),
            ("_replay_gate", "zones: {lane: {coordinates: '0.5,0.5,1.000,0.5,1.0,0.9'}}", "zones.lane.coordinates", "\"1.000\" reads as a pixel value"),
            ("_replay_gate", "zones: {lane: {coordinates: 'nan,0,1,0,1,1'}}", "zones.lane.coordinates", "\"nan\" is not a number"),
            ("_replay_gate", "zones: {lane: {coordinates: 'inf,0,1,0,1,1'}}", "zones.lane.coordinates", "\"inf\" is not a number"),
            ("_replay_gate", "zones: {lane: {coordinates: '0,0,1_,0,1,1'}}", "zones.lane.coordinates", "\"1_\" is not a number"),
            ("_replay_gate", "zones: {lane: {coordinates: ['0.5,0.5', '640,0.5', '640,720']}}", "zones.lane.coordinates", "mixes relative and pixel values: \"640\""),
            ("_replay_gate", "zones: {lane: {coordinates: ['0.1,0.1', '0.9,0.1,0.5', '0.9,0.9']}}", "zones.lane.coordinates[1]", "not one \"x,y\" point"),
            ("_replay_gate", "zones: {lane: {coordinates: [0.1, 0.1, 0.9]}}", "zones.lane.coordinates[0]", "must be a string"),
            ("_replay_gate", "zones: {lane: {coordinates: ['0.1,0.1', '0.9,0.1']}}", "zones.lane.coordinates", "at least 3 points"),
            ("_replay_gate", "zones: {lane: {objects: [person]}}", "zones.lane.coordinates", "missing"),
            ("_replay_gate", "zones: {lane: {coordinates: 5}}", "zones.lane.coordinates", "found a number"),
            ("_replay_gate", "zones: {lane: null}", "zones.lane", "must be a mapping"),
            ("_replay_gate", "zones: [lane]", "zones", "must be a mapping"),
            // zone objects and names
            ("_replay_gate", "zones: {lane: {coordinates: '0,0,1,0,1,1', objects: [car]}}", "zones.lane.objects", "\"car\" is not tracked: objects.track is [person]"),
            (
                "_replay_gate",
                "objects: {track: [person, dog]}\nzones: {lane: {coordinates: '0,0,1,0,1,1', objects: [person, car]}}",
                "zones.lane.objects",
                "\"car\" is not tracked: objects.track is [person, dog]",
            ),
            ("_replay_gate", "zones: {lane: {coordinates: '0,0,1,0,1,1', objects: {a: 1}}}", "zones.lane.objects", "list of labels"),
            ("_replay_gate", "objects: {track: person}", "objects.track", "list of labels"),
            ("_replay_gate", "zones: {gate: {coordinates: '0,0,1,0,1,1'}}", "zones.gate", "named like the camera \"gate\""),
            ("_replay_gate", "zones: {_replay_gate: {coordinates: '0,0,1,0,1,1'}}", "zones._replay_gate", "named like the camera"),
            ("lane", "{}", "name", "camera \"gate\" has a zone named \"lane\""),
            // masks in every form
            ("_replay_gate", "motion: {mask: '0,0,1,0,1'}", "motion.mask", "x,y pairs"),
            ("_replay_gate", "motion: {mask: ['0,0,1,0,1,0.1', '0,0,x,0,1,1']}", "motion.mask[1]", "\"x\" is not a number"),
            ("_replay_gate", "motion: {mask: ['0,0,1,0,1,0.1', '']}", "motion.mask[1]", "empty polygon"),
            ("_replay_gate", "motion: {mask: ['0,0,1,0,1,0.1', 5]}", "motion.mask[1]", "must be a string"),
            ("_replay_gate", "motion: {mask: ['0,0,1,0,1,0.1', '0,0,1920,0,1920,60']}", "motion.mask[1]", "first one of the list is relative"),
            ("_replay_gate", "motion: {mask: 5}", "motion.mask", "found a number"),
            ("_replay_gate", "motion: {mask: {sky: {coordinates: '0,0,0.5,0,1920,60'}}}", "motion.mask.sky.coordinates", "mixes relative and pixel"),
            ("_replay_gate", "motion: {mask: {sky: [1]}}", "motion.mask.sky", "must be a mapping"),
            ("_replay_gate", "objects: {mask: '0,0,1,0'}", "objects.mask", "at least 3 points"),
            ("_replay_gate", "objects: {filters: {car: {mask: ['0.2,0.2,1.5,0.2,0.2,0.5']}}}", "objects.filters.car.mask[0]", "\"1.5\" reads as a pixel value"),
            (
                "_replay_gate",
                "zones: {lane: {coordinates: '0,0,1,0,1,1', filters: {person: {mask: '0,0,1,0'}}}}",
                "zones.lane.filters.person.mask",
                "at least 3 points",
            ),
            // enrichments enabled on the camera only
            ("_replay_gate", "lpr: {enabled: true, min_area: 1000}", "lpr.enabled", "not in the global `lpr` section of /config/config.yml"),
            ("_replay_gate", "face_recognition: {enabled: true}", "face_recognition.enabled", "not in the global `face_recognition`"),
        ];
    for (name, extra, field, needle) in cases {
        let camera = gate_with(extra);
        let err = match validate(&config, name, &camera) {
            Ok(()) => panic!("{name:?} with {extra} should be refused"),
            Err(err) => err,
        };
        assert_eq!(err.field, *field, "{extra}: {err}");
        assert!(
            err.message.contains(needle),
            "{extra}: {needle:?} not in {err}"
        );
        assert!(err.to_string().starts_with(&format!("{field}: ")), "{err}");
    }
}

#[test]
fn validate_sees_the_globals_the_nvr_will_merge() {
    // Global track covers the zone's dog; global lpr on allows the camera's.
    let config = nvr(FRIGATE);
    let mut camera = build_ok(&config, "garage");
    camera.insert(
        "zones".into(),
        yaml("{apron: {coordinates: '0,0,1,0,1,1', objects: [dog]}}"),
    );
    camera.shift_remove("objects");
    assert_eq!(validate(&config, "_replay_garage", &camera), Ok(()));
    // Global motion off reaches a camera that does not say otherwise.
    let config = nvr("motion: {enabled: false}\ncameras:\n  a:\n    ffmpeg: {inputs: [{path: x, roles: [detect]}]}\n    motion: {enabled: true}\n");
    let camera = build_ok(&config, "a");
    assert_eq!(validate(&config, "_replay_a", &camera), Ok(()));
    let mut camera = camera;
    camera.shift_remove("motion");
    assert_eq!(
        validate(&config, "_replay_a", &camera).map_err(|e| e.field),
        Err("motion.enabled".to_string())
    );
    // Global record on, no record input: the replay's record.enabled: false wins.
    let config = nvr("record: {enabled: true}\ncameras:\n  a:\n    ffmpeg: {inputs: [{path: x, roles: [detect, record]}]}\n");
    let mut camera = build_ok(&config, "a");
    assert_eq!(validate(&config, "_replay_a", &camera), Ok(()));
    camera.shift_remove("record");
    assert_eq!(
        validate(&config, "_replay_a", &camera).map_err(|e| e.field),
        Err("record.enabled".to_string())
    );
}

#[test]
fn build_then_validate_refuses_a_source_the_nvr_would_refuse_as_replay() {
    // lpr on for the camera, off globally: the NVR refuses the copy too.
    let config = nvr(
            "lpr: {enabled: false}\ncameras:\n  a:\n    ffmpeg: {inputs: [{path: x, roles: [detect]}]}\n    lpr: {enabled: true}\n",
        );
    let camera = build_ok(&config, "a");
    let err = validate(&config, "_replay_a", &camera).expect_err("lpr");
    assert_eq!(err.field, "lpr.enabled");
}

#[test]
fn published_document_round_trips_exactly() {
    let config = nvr(r#"
cameras:
  porch:
    ffmpeg: {inputs: [{path: rtsp://porch, roles: [detect]}]}
    detect: {width: 640, height: 360, fps: 5, min_initialized: 2, max_disappeared: 25}
    objects:
      track: [person, "1.0"]
      filters:
        person: {min_score: 0.50, threshold: 0.70, min_area: 0.01}
    motion:
      threshold: 25
      lightning_threshold: 0.8
      mask:
        - 0.5,1.0,1.000,0
        - "0,0,1,0,1,0.1"
    zones:
      steps:
        coordinates: ["1.0,0.5", "1,1", "0.0,1.0"]
        objects: ["1.0"]
        friendly_name: "yes"
        inertia: 3
      walk:
        coordinates: '1.0,1.0,0.50,0,0,0'
"#);
    let camera = build_ok(&config, "porch");
    let text = published_document("_replay_porch", &camera);
    let back: Value = serde_yaml::from_str(&text).expect("published YAML parses");
    let mut cameras = Mapping::new();
    cameras.insert("_replay_porch".into(), Value::Mapping(camera.clone()));
    let mut want = Mapping::new();
    want.insert("cameras".into(), Value::Mapping(cameras));
    assert_eq!(back, Value::Mapping(want), "\n{text}");
    let published = &back["cameras"]["_replay_porch"];
    for (value, original) in [
        (&published["motion"]["mask"][0], "0.5,1.0,1.000,0"),
        (&published["zones"]["steps"]["coordinates"][0], "1.0,0.5"),
        (&published["zones"]["steps"]["coordinates"][1], "1,1"),
        (
            &published["zones"]["walk"]["coordinates"],
            "1.0,1.0,0.50,0,0,0",
        ),
        (&published["zones"]["steps"]["objects"][0], "1.0"),
        (&published["zones"]["steps"]["friendly_name"], "yes"),
        (&published["objects"]["track"][1], "1.0"),
    ] {
        assert_eq!(value.as_str(), Some(original), "\n{text}");
    }
    assert_eq!(
        published["objects"]["filters"]["person"]["min_area"].as_f64(),
        Some(0.01)
    );

    // The published file is itself a config the parser accepts, and its
    // camera validates the same way once merged into the NVR config.
    let reparsed = NvrConfig::parse(&text, Path::new("/run/replayd/cameras/_replay_porch.yml"))
        .expect("reparse");
    assert_eq!(reparsed.camera_names(), vec!["_replay_porch"]);
    let again = reparsed.camera("_replay_porch").cloned().expect("camera");
    assert_eq!(again, camera);
    assert_eq!(try_published_document("_replay_porch", &camera), Ok(text));
}

#[test]
fn published_strings_stay_strings() {
    let mut camera = Mapping::new();
    for s in [
        "1.0", "0.50", "1.000", "1", "1e3", "0x1F", "yes", "on", "null", "~", "", "true", " 0.5",
        "- a", "#x", "a: b", "<<",
    ] {
        camera.insert(s.into(), s.into());
    }
    camera.insert("n".into(), yaml("1.0"));
    camera.insert("i".into(), yaml("1"));
    let text = published_document("c", &camera);
    let back: Value = serde_yaml::from_str(&text).expect("parse");
    assert_eq!(back["cameras"]["c"], Value::Mapping(camera), "\n{text}");
}

#[test]
fn python_number_rules() {
    for (text, int, float) in [
        ("0", true, Some(0.0)),
        ("1920", true, Some(1920.0)),
        (" -12 ", true, Some(-12.0)),
        ("+7", true, Some(7.0)),
        ("1_000", true, Some(1000.0)),
        ("1__0", false, None),
        ("_1", false, None),
        ("0.5", false, Some(0.5)),
        (".5", false, Some(0.5)),
        ("1e3", false, Some(1000.0)),
        ("", false, None),
        ("+", false, None),
        ("0x10", false, None),
        ("1,0", false, None),
    ] {
        assert_eq!(is_python_int(text), int, "{text:?}");
        assert_eq!(parse_python_float(text), float, "{text:?}");
    }
    assert!(parse_python_float("nan").is_some_and(f64::is_nan));
    assert_eq!(parse_python_float("-inf"), Some(f64::NEG_INFINITY));
}

// ---- tuning (issue 12) ----

fn tuned(speed: f64, overrides: serde_json::Value) -> Tuning {
    Tuning {
        speed,
        overrides: Some(overrides),
    }
}

#[test]
fn speed_sets_the_input_args() {
    assert_eq!(input_args(1.0), REPLAY_INPUT_ARGS);
    assert_eq!(
        input_args(4.0),
        "-readrate 4 -stream_loop -1 -fflags +genpts"
    );
    assert_eq!(
        input_args(0.25),
        "-readrate 0.25 -stream_loop -1 -fflags +genpts"
    );
    let config = nvr(FRIGATE);
    let camera = Value::Mapping(
        build(
            &config,
            "front_door",
            &clip("front_door"),
            &Tuning {
                speed: 4.0,
                overrides: None,
            },
        )
        .unwrap(),
    );
    assert_eq!(
        camera["ffmpeg"]["inputs"][0]["input_args"],
        Value::from("-readrate 4 -stream_loop -1 -fflags +genpts")
    );
    let err = build(
        &config,
        "front_door",
        &clip("front_door"),
        &Tuning {
            speed: 32.0,
            overrides: None,
        },
    )
    .unwrap_err();
    assert_eq!(err.field, "speed");
}

#[test]
fn overrides_merge_over_the_effective_settings() {
    let config = nvr(FRIGATE);
    let tuning = tuned(
        1.0,
        serde_json::json!({
            "motion": {"threshold": 25, "mask": null, "contour_area": 12},
            "zones": {"driveway": {"inertia": 7}, "porch": null},
            "objects": {"filters": {"car": {"min_score": 0.7}}},
            "detect": {"enabled": false, "fps": 7}
        }),
    );
    let camera =
        Value::Mapping(build(&config, "front_door", &clip("front_door"), &tuning).unwrap());
    assert_eq!(camera["motion"]["threshold"], Value::from(25));
    assert_eq!(camera["motion"]["contour_area"], Value::from(12));
    // improve_contrast still comes from the global section.
    assert_eq!(camera["motion"]["improve_contrast"], Value::from(true));
    assert!(camera["motion"].get("mask").is_none());
    assert_eq!(camera["zones"]["driveway"]["inertia"], Value::from(7));
    assert_eq!(
        camera["zones"]["driveway"]["coordinates"],
        Value::from("0.0,0.5,0.6,0.4,0.7,1.0,0.0,1.0")
    );
    assert!(camera["zones"].get("porch").is_none());
    assert_eq!(
        camera["objects"]["filters"]["car"]["min_score"],
        Value::from(0.7)
    );
    assert_eq!(
        camera["objects"]["filters"]["car"]["min_area"],
        Value::from(3000)
    );
    // A replay camera runs detection whatever the overrides say.
    assert_eq!(camera["detect"]["enabled"], Value::from(true));
    assert_eq!(camera["detect"]["fps"], Value::from(7));
    validate_tuned(
        &config,
        "front_door",
        "_replay_front_door",
        camera.as_mapping().unwrap(),
        &tuning,
    )
    .unwrap();
}

#[test]
fn override_errors_name_the_override() {
    let config = nvr(FRIGATE);
    // A type the NVR would refuse, caught by the table.
    let err = build(
        &config,
        "front_door",
        &clip("front_door"),
        &tuned(1.0, serde_json::json!({"motion": {"threshold": "high"}})),
    )
    .unwrap_err();
    assert_eq!(err.field, "overrides.motion.threshold", "{err}");
    let err = build(
        &config,
        "front_door",
        &clip("front_door"),
        &tuned(1.0, serde_json::json!({"record": {"enabled": true}})),
    )
    .unwrap_err();
    assert_eq!(err.field, "overrides.record", "{err}");
    // Found by validation of the merged camera.
    for (overrides, field) in [
        (
            serde_json::json!({"zones": {"driveway": {"objects": ["bicycle"]}}}),
            "overrides.zones.driveway.objects",
        ),
        (
            serde_json::json!({"zones": {"driveway": {"coordinates": "0.5,0.5,1280,0.5,1,1"}}}),
            "overrides.zones.driveway.coordinates",
        ),
        (
            serde_json::json!({"zones": {"street": {"inertia": 3}}}),
            "overrides.zones.street.coordinates",
        ),
        (
            serde_json::json!({"motion": {"enabled": false}}),
            "overrides.motion.enabled",
        ),
        (
            serde_json::json!({"objects": {"track": ["person"]}}),
            "zones.driveway.objects",
        ),
    ] {
        let tuning = tuned(1.0, overrides.clone());
        let camera = build(&config, "front_door", &clip("front_door"), &tuning).unwrap();
        let err = validate_tuned(
            &config,
            "front_door",
            "_replay_front_door",
            &camera,
            &tuning,
        )
        .expect_err(&overrides.to_string());
        assert_eq!(err.field, field, "{overrides}: {err}");
    }
}
