use super::*;
use crate::nvr::http::Stage;
use std::io;
use std::time::Duration;

fn v17() -> Version {
    Version::V017("0.17.2-6f0e5b1".into())
}

fn v18() -> Version {
    Version::V018("0.18.0-beta1".into())
}

fn reply(status: u16, content_type: &str, body: &str) -> Result<Response, HttpError> {
    Ok(Response {
        status,
        body: body.as_bytes().to_vec(),
        content_type: (!content_type.is_empty()).then(|| content_type.to_string()),
    })
}

fn json_reply(status: u16, body: Value) -> Result<Response, HttpError> {
    reply(status, "application/json", &body.to_string())
}

fn body_json(request: &Request) -> Value {
    serde_json::from_slice(request.body.as_deref().unwrap()).unwrap()
}

fn unavailable(result: Result<Outcome, FrigateError>) -> (String, bool) {
    match result {
        Err(FrigateError::Unavailable { message, retry }) => (message, retry),
        other => panic!("expected Unavailable, got {other:?}"),
    }
}

fn refused(result: Result<Outcome, FrigateError>) -> String {
    match result {
        Err(FrigateError::Refused { message }) => message,
        other => panic!("expected Refused, got {other:?}"),
    }
}

fn unknown(result: Result<Outcome, FrigateError>) -> String {
    match result {
        Err(FrigateError::Unknown { message }) => message,
        other => panic!("expected Unknown, got {other:?}"),
    }
}

// ---- version ----

#[test]
fn version_parse() {
    for (text, expected) in [
        (
            "0.17.2-6f0e5b1",
            Some(Version::V017("0.17.2-6f0e5b1".into())),
        ),
        ("0.17.0\n", Some(Version::V017("0.17.0".into()))),
        (
            "0.18.0-beta1-19-ge3fa70189",
            Some(Version::V018("0.18.0-beta1-19-ge3fa70189".into())),
        ),
        (
            "\"0.18.0-harness\"",
            Some(Version::V018("0.18.0-harness".into())),
        ),
        ("0.18", Some(Version::V018("0.18".into()))),
        ("0.16.4-abc", Some(Version::Other("0.16.4-abc".into()))),
        ("0.19.0", Some(Version::Other("0.19.0".into()))),
        ("1.0.0", Some(Version::Other("1.0.0".into()))),
        ("", None),
        ("<html><body>401</body></html>", None),
        ("0", None),
        ("0.x", None),
        ("v0.17.2", None),
    ] {
        assert_eq!(Version::parse(text), expected, "{text:?}");
    }
    assert_eq!(v17().to_string(), "Frigate 0.17.2-6f0e5b1");
    assert!(v18().has_debug_replay() && !v17().has_debug_replay());
}

#[test]
fn version_reply() {
    let ok = classify(
        Op::Version,
        &reply(200, "text/plain; charset=utf-8", "0.18.0-abc"),
    );
    assert_eq!(ok, Ok(Outcome::Version(Version::V018("0.18.0-abc".into()))));
    let (message, retry) = unavailable(classify(
        Op::Version,
        &reply(200, "text/html", "<html>login</html>"),
    ));
    assert!(message.contains(URL_SETTING), "{message}");
    assert!(!retry);
    let (message, _) = unavailable(classify(
        Op::Version,
        &json_reply(404, json!({"detail": "Not Found"})),
    ));
    assert!(message.contains(URL_SETTING), "{message}");
}

// ---- requests ----

#[test]
fn reads_bypass_the_cache_and_carry_no_body() {
    for (request, path) in [
        (version(), "/api/version"),
        (config(), "/api/config"),
        (debug_replay_status(), "/api/debug_replay/status"),
    ] {
        assert_eq!(request.method, Method::Get);
        assert_eq!(request.path, path);
        assert!(request.cache_bypass);
        assert_eq!(request.body, None);
        assert_eq!(request.bearer, None);
    }
}

#[test]
fn add_request() {
    let camera = json!({"enabled": true, "detect": {"width": 1280, "height": 720}});
    let request = add("_replay_front", &camera);
    assert_eq!(
        (request.method, request.path.as_str()),
        (Method::Put, "/api/config/set")
    );
    assert!(!request.cache_bypass);
    assert_eq!(
        body_json(&request),
        json!({
            "requires_restart": 0,
            "update_topic": "config/cameras/_replay_front/add",
            "config_data": {"cameras": {"_replay_front": camera}},
        })
    );
}

#[test]
fn remove_request_by_version() {
    let request = remove(&v18(), "_replay_front");
    assert_eq!(request.method, Method::Delete);
    assert_eq!(request.path, "/api/cameras/_replay_front");
    assert_eq!(request.body, None);

    // The body of examples/remove_replay_front_door.017.json.
    for version in [v17(), Version::Other("0.19.0".into())] {
        let request = remove(&version, "_replay_front_door");
        assert_eq!(
            (request.method, request.path.as_str()),
            (Method::Put, "/api/config/set")
        );
        assert_eq!(
            body_json(&request),
            json!({
                "requires_restart": 0,
                "update_topic": "config/cameras/_replay_front_door/remove",
                "config_data": {"cameras": {"_replay_front_door": ""}},
            })
        );
    }
}

#[test]
fn a_name_cannot_change_the_request_line() {
    let request = remove(&v18(), "a/../b c?");
    assert_eq!(request.path, "/api/cameras/a%2F%2E%2E%2Fb%20c%3F");
}

#[test]
fn section_topics_per_version() {
    // The sections a replay session changes.
    for section in ["detect", "objects", "zones", "motion"] {
        assert!(has_section_topic(&v17(), section), "{section}");
        assert!(has_section_topic(&v18(), section), "{section}");
    }
    for section in ["lpr", "face_recognition", "ffmpeg", "live", "onvif", "ui"] {
        assert!(!has_section_topic(&v17(), section), "{section}");
        assert!(has_section_topic(&v18(), section), "{section}");
    }
    // Not sections: announcing them would publish nothing useful or fail.
    for topic in [
        "add",
        "remove",
        "refresh",
        "object_genai",
        "review_genai",
        "autotracking",
    ] {
        assert!(!has_section_topic(&v18(), topic), "{topic}");
        assert!(!has_section_topic(&v17(), topic), "{topic}");
    }
    // 0.18 keeps every 0.17 topic; an unknown version gets only those.
    assert!(section_topics(&v17())
        .iter()
        .all(|t| has_section_topic(&v18(), t)));
    assert_eq!(
        section_topics(&Version::Other("0.19".into())),
        section_topics(&v17())
    );
}

#[test]
fn section_patch_deletes_what_the_new_value_lacks() {
    let old = json!({
        "porch": {"coordinates": "0,0,1,0,1,1", "objects": ["person"], "loitering_time": 4},
        "yard": {"coordinates": "0,0,1,1,0,1"},
    });
    let new = json!({
        "porch": {"coordinates": "0,0,1,0,1,0.5", "objects": ["car"], "inertia": null},
        "drive": {"coordinates": "0,0,1,0,0,1"},
    });
    assert_eq!(
        section_patch(&old, &new),
        json!({
            "porch": {"coordinates": "0,0,1,0,1,0.5", "objects": ["car"], "loitering_time": ""},
            "yard": "",
            "drive": {"coordinates": "0,0,1,0,0,1"},
        })
    );
    // An emptied mapping deletes its keys ({} alone would be dropped).
    assert_eq!(
        section_patch(
            &json!({"mask": {"a": {"coordinates": "0,0,1,1"}}}),
            &json!({"mask": {}})
        ),
        json!({"mask": {"a": ""}})
    );
    // null deletes an existing key, and is left out for a missing one.
    assert_eq!(
        section_patch(
            &json!({"threshold": 30}),
            &json!({"threshold": null, "lightning_threshold": null})
        ),
        json!({"threshold": ""})
    );
    // Scalars and lists are sent whole.
    assert_eq!(section_patch(&json!([1, 2]), &json!([3])), json!([3]));
    assert_eq!(section_patch(&json!({"a": 1}), &json!(5)), json!(5));
}

// ---- replies ----

#[test]
fn add_and_update_success() {
    let ok = json_reply(
        200,
        json!({"success": true, "message": "Config successfully updated"}),
    );
    assert_eq!(classify(Op::Add, &ok), Ok(Outcome::Done));
    assert_eq!(classify(Op::UpdateSection, &ok), Ok(Outcome::Done));
    // 0.17 says "restart to apply" even when it applied the camera live.
    let ok = json_reply(
        200,
        json!({"success": true, "message": "Config successfully updated, restart to apply"}),
    );
    assert_eq!(classify(Op::Add, &ok), Ok(Outcome::Done));
}

#[test]
fn validation_errors_are_refusals_with_frigates_message() {
    let message = refused(classify(
        Op::Add,
        &json_reply(
            400,
            json!({"success": false, "message": "Error saving config: Extra inputs are not permitted"}),
        ),
    ));
    assert!(
        message.contains("Error saving config: Extra inputs are not permitted"),
        "{message}"
    );
    let message = refused(classify(
        Op::Add,
        &json_reply(
            400,
            json!({"success": false, "message": "Error parsing config. Check logs for error message."}),
        ),
    ));
    assert!(message.contains("Error parsing config"), "{message}");
    // FastAPI's own validation of the body.
    let message = refused(classify(
        Op::UpdateSection,
        &json_reply(
            422,
            json!({"detail": [{"loc": ["body", "requires_restart"], "msg": "Input should be a valid integer"}]}),
        ),
    ));
    assert!(
        message.contains("Input should be a valid integer"),
        "{message}"
    );
}

#[test]
fn auth_failures_name_the_credential() {
    let nginx = reply(
        401,
        "text/html",
        "<html>\r\n<head><title>401 Authorization Required</title></head></html>",
    );
    for op in [Op::Version, Op::Add, Op::Remove] {
        let (message, retry) = unavailable(classify(op, &nginx));
        assert!(message.contains(TOKEN_SETTING), "{message}");
        assert!(message.contains("nginx"), "{message}");
        assert!(message.contains("401"), "{message}");
        assert!(!retry);
    }
    let viewer = json_reply(
        403,
        json!({"detail": "Access denied. A user with the admin role is required."}),
    );
    let (message, _) = unavailable(classify(Op::Add, &viewer));
    assert!(message.contains(TOKEN_SETTING), "{message}");
    assert!(message.contains("admin role is required"), "{message}");
    let csrf = json_reply(
        401,
        json!({"success": false, "message": "Missing CSRF header"}),
    );
    let (message, _) = unavailable(classify(Op::Remove, &csrf));
    assert!(message.contains("Missing CSRF header"), "{message}");
}

#[test]
fn busy_is_retryable() {
    let lock = json_reply(
        503,
        json!({"success": false, "message": "Another process is currently updating the config. Please try again in a few seconds."}),
    );
    let (message, retry) = unavailable(classify(Op::Add, &lock));
    assert!(message.contains("Another process"), "{message}");
    assert!(retry);
    let delete_lock = json_reply(
        409,
        json!({"success": false, "message": "Another process is currently updating the config"}),
    );
    let (_, retry) = unavailable(classify(Op::Remove, &delete_lock));
    assert!(retry);
    let (message, retry) = unavailable(classify(
        Op::Version,
        &reply(302, "text/html", "<html>moved</html>"),
    ));
    assert!(message.contains(URL_SETTING), "{message}");
    assert!(!retry);
    // nginx with Frigate's app down.
    let (_, retry) = unavailable(classify(
        Op::Config,
        &reply(502, "text/html", "<html>502 Bad Gateway</html>"),
    ));
    assert!(retry);
}

#[test]
fn remove_replies() {
    let deleted = json_reply(
        200,
        json!({"success": true, "message": "Camera _replay_front has been deleted", "cleanup": {"events": 1}}),
    );
    assert_eq!(classify(Op::Remove, &deleted), Ok(Outcome::Removed));
    let missing = json_reply(
        404,
        json!({"success": false, "message": "Camera _replay_front not found"}),
    );
    assert_eq!(classify(Op::Remove, &missing), Ok(Outcome::AlreadyRemoved));
    // A missing route is not a missing camera.
    let no_route = json_reply(404, json!({"detail": "Not Found"}));
    let message = refused(classify(Op::Remove, &no_route));
    assert!(message.contains("Not Found"), "{message}");
    // 0.17's config/set removal of a camera it no longer has.
    let (message, retry) = unavailable(classify(
        Op::Remove,
        &json_reply(
            500,
            json!({"success": false, "message": "Error updating config"}),
        ),
    ));
    assert!(message.contains("GET /api/config"), "{message}");
    assert!(retry);
}

#[test]
fn server_errors() {
    // Frigate's own 500 on add: config.yml unchanged, the same body fails again.
    let message = refused(classify(
        Op::Add,
        &json_reply(
            500,
            json!({"success": false, "message": "Error updating config"}),
        ),
    ));
    assert!(message.contains("Error updating config"), "{message}");
    // A bare 500 comes after config.yml was written.
    let message = unknown(classify(
        Op::Add,
        &reply(500, "text/plain; charset=utf-8", "Internal Server Error"),
    ));
    assert!(message.contains("Internal Server Error"), "{message}");
    let (_, retry) = unavailable(classify(
        Op::Config,
        &reply(500, "text/plain", "Internal Server Error"),
    ));
    assert!(retry);
}

fn lost(stage: Stage) -> Result<Response, HttpError> {
    Err(HttpError::ConnectionLost {
        stage,
        source: Some(io::Error::from(io::ErrorKind::ConnectionReset)),
    })
}

fn timeout(stage: Stage) -> Result<Response, HttpError> {
    Err(HttpError::Timeout {
        stage,
        timeout: Duration::from_secs(10),
    })
}

fn refused_connect() -> Result<Response, HttpError> {
    Err(HttpError::Connect {
        addr: "127.0.0.1:5000".parse().unwrap(),
        source: io::Error::from(io::ErrorKind::ConnectionRefused),
    })
}

#[test]
fn transport_errors() {
    for op in [
        Op::Version,
        Op::Config,
        Op::Add,
        Op::Remove,
        Op::UpdateSection,
    ] {
        let (message, retry) = unavailable(classify(op, &refused_connect()));
        assert!(message.contains("127.0.0.1:5000"), "{message}");
        assert!(retry);
        let (_, retry) = unavailable(classify(op, &timeout(Stage::Connecting)));
        assert!(retry);
    }
    for op in [Op::Version, Op::Config, Op::Remove, Op::UpdateSection] {
        let (message, retry) = unavailable(classify(op, &lost(Stage::Waiting)));
        assert!(message.contains("connection lost"), "{message}");
        assert!(retry);
        let (_, retry) = unavailable(classify(op, &timeout(Stage::Waiting)));
        assert!(retry);
        let (_, retry) = unavailable(classify(op, &Err(HttpError::Garbage("x".into()))));
        assert!(!retry);
    }
}

#[test]
fn an_add_without_a_usable_reply_is_unknown() {
    for error in [
        lost(Stage::Sending),
        lost(Stage::Waiting),
        timeout(Stage::Sending),
        timeout(Stage::Waiting),
        Err(HttpError::Garbage("bad status line".into())),
        Err(HttpError::TooLarge { limit: 1 }),
    ] {
        let message = unknown(classify(Op::Add, &error));
        assert!(message.contains("may have been added"), "{message}");
    }
}

#[test]
fn running_config() {
    let body = json!({
        "version": "0.17-0",
        "cameras": {
            "front": {
                "name": "front",
                "detect": {"enabled": true, "width": 1280, "height": 720, "fps": 5},
                "ffmpeg": {"inputs": [{"path": "rtsp://*:*@10.0.0.2/main", "roles": ["detect"]}]},
                "zones": {},
            },
            "_replay_front": {
                "detect": {"width": null, "height": null},
                "ffmpeg": {"inputs": [{"path": "/media/frigate/replayd/_replay_front/clip.mp4"}]},
            },
            "bare": {},
        },
        "mqtt": {"enabled": false},
    });
    let Ok(Outcome::Config(config)) = classify(Op::Config, &json_reply(200, body)) else {
        panic!("not a config");
    };
    assert_eq!(config.camera_names(), ["_replay_front", "bare", "front"]);
    assert_eq!(config.detect_size("front"), Some((1280, 720)));
    assert_eq!(config.detect_size("_replay_front"), None);
    assert_eq!(config.detect_size("missing"), None);
    assert!(config.has_camera("bare") && !config.has_camera("missing"));
    assert_eq!(
        config.camera("_replay_front").unwrap().input_paths,
        ["/media/frigate/replayd/_replay_front/clip.mp4"]
    );

    for bad in [
        "",
        "[]",
        "{\"cameras\": []}",
        "{\"mqtt\": {}}",
        "<html></html>",
    ] {
        let (message, retry) = unavailable(classify(Op::Config, &reply(200, "", bad)));
        assert!(message.contains("GET /api/config"), "{message}");
        assert!(!retry);
    }
}

#[test]
fn debug_replay_status_replies() {
    let active = json_reply(
        200,
        json!({"active": true, "replay_camera": "_replay_front", "source_camera": "front",
               "start_time": 1.0, "end_time": 2.0, "live_ready": false}),
    );
    assert_eq!(
        classify(Op::DebugReplayStatus, &active),
        Ok(Outcome::DebugReplay(Some("_replay_front".into())))
    );
    let idle = json_reply(
        200,
        json!({"active": false, "replay_camera": null, "source_camera": null,
               "start_time": null, "end_time": null, "live_ready": false}),
    );
    assert_eq!(
        classify(Op::DebugReplayStatus, &idle),
        Ok(Outcome::DebugReplay(None))
    );
    let stale_name = json_reply(
        200,
        json!({"active": false, "replay_camera": "_replay_front"}),
    );
    assert_eq!(
        classify(Op::DebugReplayStatus, &stale_name),
        Ok(Outcome::DebugReplay(None))
    );
    let no_route = json_reply(404, json!({"detail": "Not Found"}));
    assert_eq!(
        classify(Op::DebugReplayStatus, &no_route),
        Ok(Outcome::DebugReplay(None))
    );
    unavailable(classify(Op::DebugReplayStatus, &reply(200, "", "{}")));
}

#[test]
fn untrusted_text_is_quoted_short() {
    let long = "x".repeat(5000) + "\u{1b}[31m";
    let message = refused(classify(Op::Add, &reply(400, "text/plain", &long)));
    assert!(message.len() < 400, "{}", message.len());
    assert!(!message.contains('\u{1b}'));
    let message = refused(classify(Op::Add, &reply(400, "", "")));
    assert!(message.contains("empty body"), "{message}");
}

// ---- limits ----

fn names(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

#[test]
fn refusals_before_add() {
    let name = "_replay_front";
    let two = names(&["front", "back"]);
    assert_eq!(refusal_before_add(&v17(), &two, None, name, false), None);
    assert_eq!(refusal_before_add(&v18(), &two, None, name, false), None);

    // 0.17 with exactly one configured camera.
    let one = names(&["front"]);
    let why = refusal_before_add(&v17(), &one, None, name, false).unwrap();
    assert!(
        why.contains("exactly one") && why.contains("front"),
        "{why}"
    );
    assert_eq!(refusal_before_add(&v18(), &one, None, name, false), None);
    // Our own leftover (removed before the add) does not make it two.
    let ours_and_one = names(&["front", name]);
    let why = refusal_before_add(&v17(), &ours_and_one, None, name, true).unwrap();
    assert!(why.contains("exactly one"), "{why}");

    // A same-named camera that is not replayd's.
    let why = refusal_before_add(&v18(), &names(&["front", name]), None, name, false).unwrap();
    assert!(why.contains("did not publish"), "{why}");
    assert_eq!(
        refusal_before_add(&v18(), &names(&["front", name]), None, name, true),
        None
    );

    // Frigate's own Debug Replay on the same name (0.18), or another one.
    let why = refusal_before_add(&v18(), &two, Some(name), name, false).unwrap();
    assert!(why.contains("Debug Replay"), "{why}");
    let with_it = names(&["front", "back", name]);
    let why = refusal_before_add(&v18(), &with_it, Some(name), name, false).unwrap();
    assert!(why.contains("Debug Replay"), "{why}");
    assert_eq!(
        refusal_before_add(&v18(), &two, Some("_replay_back"), name, false),
        None
    );

    // A version replayd was not measured against.
    let why =
        refusal_before_add(&Version::Other("0.16.1".into()), &two, None, name, false).unwrap();
    assert!(
        why.contains("0.16.1") && why.contains("not supported"),
        "{why}"
    );
}

#[test]
fn int_like_keys() {
    for key in ["0", "1", "-1", "+3", " 7 ", "1_000", "007", "\u{0661}"] {
        assert!(is_int_like(key), "{key:?}");
    }
    for key in [
        "", "a1", "1a", "1.0", "_1", "1_", "1__0", "-", "porch", "1e3", "0x1",
    ] {
        assert!(!is_int_like(key), "{key:?}");
    }
}

#[test]
fn key_refusals() {
    let ok = json!({"zones": {"porch": {"coordinates": "0,0,1,1"}}, "ffmpeg": {"inputs": [{"path": "/x"}]}});
    assert_eq!(key_refusal(&v17(), &ok), None);
    let int_zone = json!({"zones": {"1": {"coordinates": "0,0,1,1"}}});
    let why = key_refusal(&v18(), &int_zone).unwrap();
    assert!(why.starts_with("zones.1:"), "{why}");
    let int_mask =
        json!({"objects": {"filters": {"person": {"mask": {"0": {"coordinates": "0,0"}}}}}});
    let why = key_refusal(&v18(), &int_mask).unwrap();
    assert!(why.starts_with("objects.filters.person.mask.0:"), "{why}");
    let in_list = json!({"ffmpeg": {"inputs": [{"2": 1}]}});
    let why = key_refusal(&v18(), &in_list).unwrap();
    assert!(why.starts_with("ffmpeg.inputs.0.2:"), "{why}");
    let dotted = json!({"zones": {"front.porch": {"coordinates": "0,0,1,1"}}});
    let why = key_refusal(&v17(), &dotted).unwrap();
    assert!(
        why.contains("'.'") && why.starts_with("zones.front.porch:"),
        "{why}"
    );
    assert_eq!(key_refusal(&v18(), &dotted), None);
}

#[test]
fn yaml_to_json_keeps_strings_as_written() {
    let yaml: serde_yaml::Value = serde_yaml::from_str(
        r#"
enabled: true
detect: {width: 1280, height: 720, fps: 5, min_initialized: 2}
motion:
  threshold: 30
  contour_area: 10
  mask: "0.000,0.000,1.0,0.000,1.0,0.100"
objects:
  filters:
    person: {threshold: 0.75, min_area: 5000}
zones:
  porch:
    coordinates: 0.1,0.5,0.4,0.5,0.4,0.9,0.1,0.9
    objects: [person]
  yard:
    coordinates: ["0.0,0.0", "1.0,0.0", "1.0,1.0"]
    inertia: null
big: 18446744073709551615
neg: -3
"#,
    )
    .unwrap();
    let json = yaml_to_json(&yaml).unwrap();
    assert_eq!(
        json,
        json!({
            "enabled": true,
            "detect": {"width": 1280, "height": 720, "fps": 5, "min_initialized": 2},
            "motion": {"threshold": 30, "contour_area": 10, "mask": "0.000,0.000,1.0,0.000,1.0,0.100"},
            "objects": {"filters": {"person": {"threshold": 0.75, "min_area": 5000}}},
            "zones": {
                "porch": {"coordinates": "0.1,0.5,0.4,0.5,0.4,0.9,0.1,0.9", "objects": ["person"]},
                "yard": {"coordinates": ["0.0,0.0", "1.0,0.0", "1.0,1.0"], "inertia": null},
            },
            "big": 18446744073709551615u64,
            "neg": -3,
        })
    );
    // Exactly as written: "1.0" stays "1.0", never 1 or 1.000.
    assert!(json
        .to_string()
        .contains(r#""mask":"0.000,0.000,1.0,0.000,1.0,0.100""#));
}

#[test]
fn yaml_to_json_refusals() {
    for (yaml, why) in [
        (
            "zones:\n  '1': {coordinates: '0,0'}\n",
            "zones.1: a mapping key that looks like an integer",
        ),
        (
            "zones:\n  1: {coordinates: '0,0'}\n",
            "zones.1: a mapping key that looks like an integer",
        ),
        (
            "objects:\n  mask:\n    '0': {coordinates: '0,0'}\n",
            "objects.mask.0: a mapping key",
        ),
        (
            "ffmpeg:\n  inputs:\n    - {path: /x, ' 2 ': y}\n",
            "ffmpeg.inputs.0. 2 : a mapping key",
        ),
        (
            "zones:\n  true: {}\n",
            "zones: a mapping key must be a string",
        ),
        (
            "motion:\n  threshold: .nan\n",
            "motion.threshold: .nan is not a number",
        ),
        (
            "path: !secret x\n",
            "path: the YAML tag !secret has no JSON form",
        ),
    ] {
        let value: serde_yaml::Value = serde_yaml::from_str(yaml).unwrap();
        let err = yaml_to_json(&value).unwrap_err();
        assert!(err.starts_with(why), "{yaml:?}: {err}");
    }
}

// ---- update and apply plans (issue 12) ----

fn sections(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

fn replay_camera(motion_threshold: u64, zones: Value) -> Value {
    json!({
        "enabled": true,
        "ffmpeg": {"inputs": [{"path": "/media/frigate/replayd/_replay_front/clip.mp4", "roles": ["detect"]}]},
        "detect": {"enabled": true, "width": 1280, "height": 720},
        "motion": {"threshold": motion_threshold, "mask": "0,0,1,0,1,1"},
        "zones": zones,
    })
}

#[test]
fn update_plan_one_section() {
    let old = replay_camera(
        30,
        json!({"yard": {"coordinates": "0,0,1,0,1,1", "inertia": 3}}),
    );
    let mut new = replay_camera(
        25,
        json!({"yard": {"coordinates": "0,0,1,0,1,1", "inertia": 3}}),
    );
    new["motion"].as_object_mut().unwrap().remove("mask");
    for version in [v17(), v18()] {
        let plan = update_plan(
            &version,
            "_replay_front",
            &old,
            &new,
            &sections(&["motion"]),
        );
        let UpdatePlan::Sections(sets) = plan else {
            panic!("{version}: {plan:?}")
        };
        assert_eq!(sets.len(), 1);
        assert_eq!(
            sets[0].topic.as_deref(),
            Some("config/cameras/_replay_front/motion")
        );
        assert_eq!(
            sets[0].data,
            json!({"motion": {"threshold": 25, "mask": ""}})
        );
        let body = body_json(&sets[0].request());
        assert_eq!(body["requires_restart"], 0);
        assert_eq!(
            body["config_data"],
            json!({"cameras": {"_replay_front": {"motion": {"threshold": 25, "mask": ""}}}})
        );
    }
}

#[test]
fn update_plan_several_sections_validated_together_then_announced() {
    let old = replay_camera(
        30,
        json!({"yard": {"coordinates": "0,0,1,0,1,1"}, "porch": {"coordinates": "0,0,1,0,1,1"}}),
    );
    let mut new = replay_camera(
        25,
        json!({"yard": {"coordinates": "0,0,1,0,1,1", "inertia": 5}}),
    );
    new["objects"] = json!({"track": ["person"]});
    let plan = update_plan(
        &v18(),
        "_replay_front",
        &old,
        &new,
        &sections(&["motion", "zones", "objects"]),
    );
    let UpdatePlan::Sections(sets) = plan else {
        panic!("{plan:?}")
    };
    let topics: Vec<&str> = sets.iter().filter_map(|s| s.topic.as_deref()).collect();
    assert_eq!(
        topics,
        [
            "config/cameras/_replay_front/motion",
            "config/cameras/_replay_front/zones",
            "config/cameras/_replay_front/objects"
        ]
    );
    // The first carries every patch, deletions included.
    assert_eq!(
        sets[0].data,
        json!({
            "motion": {"threshold": 25, "mask": "0,0,1,0,1,1"},
            "zones": {"yard": {"coordinates": "0,0,1,0,1,1", "inertia": 5}, "porch": ""},
            "objects": {"track": ["person"]}
        })
    );
    // The others re-send their new values, never a deletion again.
    assert_eq!(
        sets[1].data,
        json!({"zones": {"yard": {"coordinates": "0,0,1,0,1,1", "inertia": 5}}})
    );
    assert_eq!(sets[2].data, json!({"objects": {"track": ["person"]}}));
    // A further section left empty sends a harmless body.
    let mut gone = new.clone();
    gone.as_object_mut().unwrap().remove("zones");
    let UpdatePlan::Sections(sets) = update_plan(
        &v18(),
        "_replay_front",
        &old,
        &gone,
        &sections(&["motion", "zones"]),
    ) else {
        panic!()
    };
    assert_eq!(sets[0].data["zones"], json!(""));
    assert_eq!(sets[1].data, json!({"enabled": true}));
    assert_eq!(
        sets[1].topic.as_deref(),
        Some("config/cameras/_replay_front/zones")
    );
}

#[test]
fn update_plan_without_a_topic_removes_and_adds() {
    let old = replay_camera(30, json!({}));
    let mut new = old.clone();
    new["lpr"] = json!({"enabled": true, "min_area": 500});
    assert_eq!(
        update_plan(
            &v17(),
            "_replay_front",
            &old,
            &new,
            &sections(&["motion", "lpr"])
        ),
        UpdatePlan::Readd {
            without_topic: sections(&["lpr"])
        }
    );
    assert_eq!(
        update_plan(
            &v17(),
            "_replay_front",
            &old,
            &new,
            &sections(&["face_recognition"])
        ),
        UpdatePlan::Readd {
            without_topic: sections(&["face_recognition"])
        }
    );
    // 0.18 has topics for every section an override can touch.
    for section in crate::replay::overrides::SECTIONS {
        assert!(has_section_topic(&v18(), section), "{section}");
    }
    assert!(matches!(
        update_plan(&v18(), "_replay_front", &old, &new, &sections(&["lpr"])),
        UpdatePlan::Sections(_)
    ));
}

#[test]
fn apply_requests_per_version() {
    let patches = vec![
        ("zones".to_string(), json!({"yard": {"inertia": 5}})),
        ("motion".to_string(), json!({"threshold": 30, "mask": ""})),
        ("lpr".to_string(), json!({"min_area": 500})),
    ];
    let plan = apply_requests(&v17(), "front", &patches);
    assert_eq!(plan.restart_needed, sections(&["lpr"]));
    assert_eq!(plan.sets.len(), 2);
    assert_eq!(
        plan.sets[0].topic.as_deref(),
        Some("config/cameras/front/zones")
    );
    assert_eq!(
        plan.sets[0].data,
        json!({"zones": {"yard": {"inertia": 5}}, "motion": {"threshold": 30, "mask": ""}, "lpr": {"min_area": 500}})
    );
    assert_eq!(
        plan.sets[1].topic.as_deref(),
        Some("config/cameras/front/motion")
    );
    assert_eq!(plan.sets[1].data, json!({"motion": {"threshold": 30}}));
    let body = body_json(&plan.sets[0].request());
    assert_eq!(body["requires_restart"], 0);
    assert!(body["config_data"]["cameras"]["front"].is_object());

    let plan = apply_requests(&v18(), "front", &patches);
    assert!(plan.restart_needed.is_empty());
    let topics: Vec<&str> = plan
        .sets
        .iter()
        .filter_map(|s| s.topic.as_deref())
        .collect();
    assert_eq!(
        topics,
        [
            "config/cameras/front/zones",
            "config/cameras/front/motion",
            "config/cameras/front/lpr"
        ]
    );

    // Only lpr on 0.17: written, announced nowhere.
    let plan = apply_requests(&v17(), "front", &patches[2..]);
    assert_eq!(plan.sets.len(), 1);
    assert_eq!(plan.sets[0].topic, None);
    assert_eq!(plan.restart_needed, sections(&["lpr"]));

    // A section that only deletes is announced by the first request.
    let deletes = vec![
        ("motion".to_string(), json!({"threshold": 30})),
        ("zones".to_string(), json!({"porch": ""})),
    ];
    let plan = apply_requests(&v18(), "front", &deletes);
    assert_eq!(plan.sets.len(), 2);
    assert_eq!(
        plan.sets[0].topic.as_deref(),
        Some("config/cameras/front/zones")
    );
    assert_eq!(plan.sets[1].data, json!({"motion": {"threshold": 30}}));
    // Two of them: one request per section.
    let deletes = vec![
        ("motion".to_string(), json!({"mask": ""})),
        ("zones".to_string(), json!({"porch": ""})),
    ];
    let plan = apply_requests(&v18(), "front", &deletes);
    assert_eq!(plan.sets.len(), 2);
    assert_eq!(plan.sets[0].data, json!({"motion": {"mask": ""}}));
    assert_eq!(plan.sets[1].data, json!({"zones": {"porch": ""}}));
}
