//! replayd's Frigate client (`nvr::http` + `nvr::frigate`) against the fake
//! Frigate of `tests/common/fake_frigate.rs`: version detection, add and
//! remove on 0.17 and 0.18, section updates, and each injected fault judged
//! as the publisher must see it (SPEC §7, frigate-api/CONTRACT.md).

mod common;

use common::fake_frigate::{FakeFrigate, Fault, FrigateVersion};
use common::wait_until;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use replayd::nvr::frigate::{self, FrigateError, Op, Outcome, RunningConfig, Version};
use replayd::nvr::http::{Endpoint, Exchange, HttpError, Request, Response};
use serde_json::{json, Value};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

const REPLAY: &str = "_replay_front";
const TIMEOUT: Duration = Duration::from_secs(5);

/// Seconds on a monotonic clock: the tests' boot-time clock.
fn now() -> f64 {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    EPOCH.get_or_init(Instant::now).elapsed().as_secs_f64()
}

/// One exchange, driven as the daemon's loop drives it.
fn exchange(
    fake: &FakeFrigate,
    request: &Request,
    timeout: Duration,
) -> Result<Response, HttpError> {
    let endpoint = Endpoint::parse(&fake.url()).expect("fake url");
    let mut exchange = Exchange::start(&endpoint, request, now(), timeout)?;
    loop {
        if exchange.timed_out(now()) {
            return Err(exchange.timeout_error());
        }
        let mut flags = PollFlags::empty();
        if exchange.wants_read() {
            flags |= PollFlags::POLLIN;
        }
        if exchange.wants_write() {
            flags |= PollFlags::POLLOUT;
        }
        let wait_ms = ((exchange.deadline() - now()).max(0.0) * 1000.0).ceil() as u32 + 1;
        let mut fds = [PollFd::new(exchange.fd(), flags)];
        let ready = poll(&mut fds, PollTimeout::try_from(wait_ms).unwrap()).expect("poll");
        if ready > 0 {
            if let Some(result) = exchange.on_ready() {
                return result;
            }
        }
    }
}

fn call(fake: &FakeFrigate, op: Op, request: &Request) -> Result<Outcome, FrigateError> {
    frigate::classify(op, &exchange(fake, request, TIMEOUT))
}

fn call_with_timeout(
    fake: &FakeFrigate,
    op: Op,
    request: &Request,
    timeout: Duration,
) -> Result<Outcome, FrigateError> {
    frigate::classify(op, &exchange(fake, request, timeout))
}

fn version_of(fake: &FakeFrigate) -> Version {
    match call(fake, Op::Version, &frigate::version()) {
        Ok(Outcome::Version(v)) => v,
        other => panic!("version: {other:?}"),
    }
}

fn running_config(fake: &FakeFrigate) -> RunningConfig {
    match call(fake, Op::Config, &frigate::config()) {
        Ok(Outcome::Config(c)) => c,
        other => panic!("config: {other:?}"),
    }
}

fn debug_replay(fake: &FakeFrigate) -> Option<String> {
    match call(fake, Op::DebugReplayStatus, &frigate::debug_replay_status()) {
        Ok(Outcome::DebugReplay(camera)) => camera,
        other => panic!("debug replay status: {other:?}"),
    }
}

/// A replay camera's config as replayd publishes it (CONTRACT §2).
fn replay_camera() -> Value {
    json!({
        "enabled": true,
        "ffmpeg": {"inputs": [{"path": "/media/frigate/replayd/_replay_front/clip.mp4",
                               "roles": ["detect"],
                               "input_args": "-re -stream_loop -1 -fflags +genpts"}],
                   "hwaccel_args": []},
        "detect": {"enabled": true, "width": 1280, "height": 720, "fps": 5},
        "zones": {"porch": {"coordinates": "0.1,0.5,0.4,0.5,0.4,0.9,0.1,0.9", "objects": ["person"]},
                  "yard": {"coordinates": "0,0,1,0,1,1"}},
        "record": {"enabled": false}, "snapshots": {"enabled": false},
        "birdseye": {"enabled": false}, "audio": {"enabled": false},
        "review": {"alerts": {"enabled": false}, "detections": {"enabled": false}},
    })
}

fn add(fake: &FakeFrigate) -> Result<Outcome, FrigateError> {
    call(fake, Op::Add, &frigate::add(REPLAY, &replay_camera()))
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

fn announced(fake: &FakeFrigate, what: &str) -> bool {
    fake.announcements()
        .contains(&format!("config/cameras/{REPLAY}/{what}"))
}

// ---- the happy paths ----

#[test]
fn version_detection_on_both_versions() {
    let fake = FakeFrigate::start(FrigateVersion::V017, &["front", "back"]);
    assert_eq!(version_of(&fake), Version::V017("0.17.2-fake".into()));
    let fake = FakeFrigate::start(FrigateVersion::V018, &["front", "back"]);
    assert_eq!(version_of(&fake), Version::V018("0.18.0-fake".into()));

    let request = &fake.requests()[0];
    assert_eq!(
        (request.method.as_str(), request.path.as_str()),
        ("GET", "/api/version")
    );
    assert_eq!(request.header("X-Cache-Bypass"), Some("1"));
    assert_eq!(request.header("Connection"), Some("close"));
    assert!(request
        .header("User-Agent")
        .is_some_and(|ua| ua.starts_with("replayd/")));
    assert_eq!(request.header("Origin"), None);
}

#[test]
fn add_and_remove_on_018() {
    let fake = FakeFrigate::start(FrigateVersion::V018, &["front", "back"]);
    let version = version_of(&fake);
    assert_eq!(debug_replay(&fake), None);
    let config = running_config(&fake);
    assert_eq!(config.camera_names(), ["back", "front"]);
    assert_eq!(config.detect_size("front"), Some((1280, 720)));
    assert_eq!(
        frigate::refusal_before_add(&version, &config.camera_names(), None, REPLAY, false),
        None
    );

    assert_eq!(add(&fake), Ok(Outcome::Done));
    assert_eq!(
        fake.announcements(),
        [format!("config/cameras/{REPLAY}/add")]
    );
    let sent = fake.requests().last().unwrap().clone();
    assert_eq!(sent.header("Content-Type"), Some("application/json"));
    assert_eq!(sent.header("Origin"), None);
    assert_eq!(
        sent.json()["config_data"]["cameras"][REPLAY],
        replay_camera()
    );
    let config = running_config(&fake);
    assert!(config.has_camera(REPLAY));
    assert_eq!(
        config.camera(REPLAY).unwrap().input_paths,
        ["/media/frigate/replayd/_replay_front/clip.mp4"]
    );

    assert_eq!(
        call(&fake, Op::Remove, &frigate::remove(&version, REPLAY)),
        Ok(Outcome::Removed)
    );
    assert_eq!(fake.requests().last().unwrap().method, "DELETE");
    assert!(announced(&fake, "remove"));
    assert!(!running_config(&fake).has_camera(REPLAY));
    // Again: Frigate says it has no such camera, which is what was wanted.
    assert_eq!(
        call(&fake, Op::Remove, &frigate::remove(&version, REPLAY)),
        Ok(Outcome::AlreadyRemoved)
    );
}

#[test]
fn add_and_remove_on_017() {
    let fake = FakeFrigate::start(FrigateVersion::V017, &["front", "back"]);
    let version = version_of(&fake);
    assert_eq!(add(&fake), Ok(Outcome::Done));
    assert!(announced(&fake, "add"));
    assert!(fake.file_camera(REPLAY).is_some());

    assert_eq!(
        call(&fake, Op::Remove, &frigate::remove(&version, REPLAY)),
        Ok(Outcome::Removed)
    );
    let sent = fake.requests().last().unwrap().clone();
    assert_eq!(
        (sent.method.as_str(), sent.path.as_str()),
        ("PUT", "/api/config/set")
    );
    assert!(announced(&fake, "remove"));
    assert_eq!(fake.file_camera(REPLAY), None);

    // 0.17's answer for a camera it no longer has: retry after a config read.
    let (message, retry) = unavailable(call(&fake, Op::Remove, &frigate::remove(&version, REPLAY)));
    assert!(message.contains("GET /api/config"), "{message}");
    assert!(retry);
    assert!(!running_config(&fake).has_camera(REPLAY));

    // 0.17 has no DELETE route: not to be taken for a missing camera.
    let delete = frigate::remove(&Version::V018("0.18.0".into()), REPLAY);
    let message = refused(call(&fake, Op::Remove, &delete));
    assert!(message.contains("Not Found"), "{message}");
    // Nor a Debug Replay.
    assert_eq!(debug_replay(&fake), None);
}

#[test]
fn limits_checked_before_an_add() {
    let fake = FakeFrigate::start(FrigateVersion::V017, &["front"]);
    let version = version_of(&fake);
    let config = running_config(&fake);
    let why = frigate::refusal_before_add(&version, &config.camera_names(), None, REPLAY, false)
        .expect("0.17 with one camera is refused");
    assert!(why.contains("exactly one"), "{why}");

    let fake = FakeFrigate::start(FrigateVersion::V018, &["front", "back"]);
    fake.set_debug_replay(Some("front"));
    let version = version_of(&fake);
    let active = debug_replay(&fake);
    assert_eq!(active.as_deref(), Some(REPLAY));
    let config = running_config(&fake);
    let why = frigate::refusal_before_add(
        &version,
        &config.camera_names(),
        active.as_deref(),
        REPLAY,
        false,
    )
    .expect("Frigate's own replay of the same camera is refused");
    assert!(why.contains("Debug Replay"), "{why}");
}

#[test]
fn frigates_validation_errors_are_refusals() {
    let mut camera = replay_camera();
    camera["bogus"] = json!(1);

    let fake = FakeFrigate::start(FrigateVersion::V018, &["front", "back"]);
    let message = refused(call(&fake, Op::Add, &frigate::add(REPLAY, &camera)));
    assert!(
        message.contains("Error saving config: Extra inputs are not permitted"),
        "{message}"
    );
    assert!(fake.announcements().is_empty());
    assert!(!fake.cameras().contains(&REPLAY.to_string()));

    let fake = FakeFrigate::start(FrigateVersion::V017, &["front", "back"]);
    let message = refused(call(&fake, Op::Add, &frigate::add(REPLAY, &camera)));
    assert!(message.contains("Error parsing config"), "{message}");

    // A zone named like a camera.
    let mut camera = replay_camera();
    camera["zones"] = json!({"back": {"coordinates": "0,0,1,1"}});
    let message = refused(call(&fake, Op::Add, &frigate::add(REPLAY, &camera)));
    assert!(message.contains("Error parsing config"), "{message}");
}

#[test]
fn section_updates() {
    let fake = FakeFrigate::start(FrigateVersion::V018, &["front", "back"]);
    let version = version_of(&fake);
    assert_eq!(add(&fake), Ok(Outcome::Done));

    // Drop the yard zone and move the porch: config/set merges, so the
    // patch deletes what the new value lacks.
    let old = replay_camera()["zones"].clone();
    let new =
        json!({"porch": {"coordinates": "0.1,0.5,0.4,0.5,0.4,1.0,0.1,1.0", "objects": ["person"]}});
    let mut old_camera = replay_camera();
    old_camera["zones"] = old;
    let mut new_camera = old_camera.clone();
    new_camera["zones"] = new.clone();
    let frigate::UpdatePlan::Sections(sets) = frigate::update_plan(
        &version,
        REPLAY,
        &old_camera,
        &new_camera,
        &["zones".into()],
    ) else {
        panic!("0.18 has a zones topic")
    };
    let request = sets[0].request();
    assert_eq!(call(&fake, Op::UpdateSection, &request), Ok(Outcome::Done));
    assert!(announced(&fake, "zones"));
    assert_eq!(fake.file_camera(REPLAY).unwrap()["zones"], new);

    // 0.17 has no lpr topic: written, nothing announced.
    let fake = FakeFrigate::start(FrigateVersion::V017, &["front", "back"]);
    let version = version_of(&fake);
    let applied = frigate::apply_requests(
        &version,
        "front",
        &[("lpr".into(), json!({"enabled": true}))],
    );
    assert_eq!(applied.restart_needed, ["lpr"]);
    let request = applied.sets[0].request();
    assert_eq!(call(&fake, Op::UpdateSection, &request), Ok(Outcome::Done));
    assert!(fake.announcements().is_empty());
    assert_eq!(
        fake.file_camera("front").unwrap()["lpr"],
        json!({"enabled": true})
    );
}

#[test]
fn config_reads_bypass_nginx_cache() {
    let fake = FakeFrigate::start(FrigateVersion::V018, &["front", "back"]);
    let stale = Request {
        cache_bypass: false,
        ..frigate::config()
    };
    let before = frigate::classify(Op::Config, &exchange(&fake, &stale, TIMEOUT));
    assert_eq!(add(&fake), Ok(Outcome::Done));
    // nginx would serve the cached reply for 5 s ...
    let cached = frigate::classify(Op::Config, &exchange(&fake, &stale, TIMEOUT));
    assert_eq!(cached, before);
    // ... but not to replayd's reads.
    assert!(running_config(&fake).has_camera(REPLAY));
}

#[test]
fn chunked_replies() {
    let fake = FakeFrigate::start(FrigateVersion::V018, &["front", "back"]);
    fake.set_chunked(true);
    assert_eq!(version_of(&fake), Version::V018("0.18.0-fake".into()));
    assert_eq!(running_config(&fake).camera_names(), ["back", "front"]);
    assert_eq!(add(&fake), Ok(Outcome::Done));
}

#[test]
fn bearer_token() {
    let fake = FakeFrigate::start(FrigateVersion::V018, &["front", "back"]);
    fake.require_token(Some("eyJhbGciOiJIUzI1NiJ9.e30.sig"));
    let (message, retry) = unavailable(call(&fake, Op::Version, &frigate::version()));
    assert!(message.contains("publish.frigate.token_file"), "{message}");
    assert!(!retry);
    let with_token =
        frigate::version().with_bearer(Some("eyJhbGciOiJIUzI1NiJ9.e30.sig".to_string()));
    assert!(matches!(
        call(&fake, Op::Version, &with_token),
        Ok(Outcome::Version(_))
    ));
}

// ---- faults ----

#[test]
fn slow_frigate() {
    let fake = FakeFrigate::start(FrigateVersion::V018, &["front", "back"]);
    let short = Duration::from_millis(300);

    fake.inject(Fault::Delay(Duration::from_millis(800)));
    let (message, retry) = unavailable(call_with_timeout(
        &fake,
        Op::Version,
        &frigate::version(),
        short,
    ));
    assert!(message.contains("no complete reply"), "{message}");
    assert!(retry);

    // A timed-out add may still happen: it is treated as done, then removed.
    fake.inject(Fault::Delay(Duration::from_millis(800)));
    let request = frigate::add(REPLAY, &replay_camera());
    let message = unknown(call_with_timeout(&fake, Op::Add, &request, short));
    assert!(message.contains("may have been added"), "{message}");
    assert!(wait_until(Duration::from_secs(5), || announced(
        &fake, "add"
    )));
    let version = version_of(&fake);
    assert_eq!(
        call(&fake, Op::Remove, &frigate::remove(&version, REPLAY)),
        Ok(Outcome::Removed)
    );

    // Slow but within the timeout is just slow.
    fake.inject(Fault::Delay(Duration::from_millis(100)));
    assert!(matches!(
        call(&fake, Op::Version, &frigate::version()),
        Ok(Outcome::Version(_))
    ));
}

#[test]
fn dropped_connections() {
    let fake = FakeFrigate::start(FrigateVersion::V018, &["front", "back"]);

    fake.inject(Fault::Drop);
    let (message, retry) = unavailable(call(&fake, Op::Config, &frigate::config()));
    assert!(message.contains("connection lost"), "{message}");
    assert!(retry);

    // Dropped before Frigate acted: still unknown to the client.
    fake.inject(Fault::Drop);
    unknown(add(&fake));
    assert!(!fake.cameras().contains(&REPLAY.to_string()));

    // Dropped after Frigate acted: the camera is there.
    fake.inject(Fault::DropAfterApply);
    unknown(add(&fake));
    assert!(announced(&fake, "add"));
    assert!(running_config(&fake).has_camera(REPLAY));

    // A dropped remove is retried; the retry finds it done.
    let version = version_of(&fake);
    fake.inject(Fault::DropAfterApply);
    unavailable(call(&fake, Op::Remove, &frigate::remove(&version, REPLAY)));
    assert_eq!(
        call(&fake, Op::Remove, &frigate::remove(&version, REPLAY)),
        Ok(Outcome::AlreadyRemoved)
    );
}

#[test]
fn auth_failure_from_nginx() {
    let fake = FakeFrigate::start(FrigateVersion::V018, &["front", "back"]);
    for op in [Op::Version, Op::Add] {
        fake.inject(Fault::Unauthorized);
        let request = match op {
            Op::Version => frigate::version(),
            _ => frigate::add(REPLAY, &replay_camera()),
        };
        let (message, retry) = unavailable(call(&fake, op, &request));
        assert!(message.contains("publish.frigate.token_file"), "{message}");
        assert!(message.contains("nginx"), "{message}");
        assert!(!retry);
    }
    assert!(fake.announcements().is_empty());
}

#[test]
fn busy_frigate_is_retried() {
    let fake = FakeFrigate::start(FrigateVersion::V018, &["front", "back"]);
    let version = version_of(&fake);

    fake.inject(Fault::Busy);
    let (message, retry) = unavailable(add(&fake));
    assert!(
        message.contains("Another process is currently updating the config"),
        "{message}"
    );
    assert!(retry);
    assert_eq!(add(&fake), Ok(Outcome::Done));

    fake.inject(Fault::Conflict);
    let (_, retry) = unavailable(call(&fake, Op::Remove, &frigate::remove(&version, REPLAY)));
    assert!(retry);
    assert_eq!(
        call(&fake, Op::Remove, &frigate::remove(&version, REPLAY)),
        Ok(Outcome::Removed)
    );
}

#[test]
fn server_errors_and_garbage() {
    let fake = FakeFrigate::start(FrigateVersion::V018, &["front", "back"]);

    fake.inject(Fault::ServerError);
    let (_, retry) = unavailable(call(&fake, Op::Config, &frigate::config()));
    assert!(retry);
    // A bare 500 on config/set may come after config.yml was written.
    fake.inject(Fault::ServerError);
    let message = unknown(add(&fake));
    assert!(message.contains("Internal Server Error"), "{message}");

    fake.inject(Fault::Garbage);
    let (message, retry) = unavailable(call(&fake, Op::Version, &frigate::version()));
    assert!(message.contains("not HTTP"), "{message}");
    assert!(!retry);
    fake.inject(Fault::Garbage);
    unknown(add(&fake));
}

#[test]
fn frigate_down_and_back() {
    let fake = FakeFrigate::start(FrigateVersion::V018, &["front", "back"]);
    let port = fake.port();
    fake.set_down(true);
    for op in [Op::Version, Op::Add] {
        let request = match op {
            Op::Version => frigate::version(),
            _ => frigate::add(REPLAY, &replay_camera()),
        };
        let (message, retry) = unavailable(call(&fake, op, &request));
        assert!(message.contains(&format!("127.0.0.1:{port}")), "{message}");
        assert!(retry);
    }
    fake.set_down(false);
    assert_eq!(fake.port(), port);
    assert_eq!(version_of(&fake), Version::V018("0.18.0-fake".into()));
    assert_eq!(add(&fake), Ok(Outcome::Done));
}
