//! `replayd --check-config` (SPEC §6): beyond parsing, what a start would
//! need — the database opens, the media root and the replay dir are there
//! and writable, the mounts resolve, the publisher's NVR answers. Each
//! problem names the key to change.

use std::fs;
use std::path::Path;
use std::time::Duration;

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};

use crate::config::Publisher;
use crate::nvr::db::Db;
use crate::nvr::frigate::{self, Op, Outcome};
use crate::nvr::http::{Endpoint, Exchange, HttpError, Request, Response};

use super::clock;
use super::configs::{database_path, Loaded};

/// What the checks found: lines for the report, and the problems.
#[derive(Debug, Default)]
pub struct CheckReport {
    pub found: Vec<String>,
    pub problems: Vec<String>,
}

/// Runs every check. Blocking is fine here: the daemon is not serving.
pub fn check(loaded: &Loaded) -> CheckReport {
    let mut report = CheckReport::default();
    let config = &loaded.config;
    report.found.push(format!(
        "mounts: {}",
        config.nvr.mounts.describe().replace('\n', "; ")
    ));
    for mount in config.nvr.mounts.entries() {
        if !mount.host.is_dir() {
            report.problems.push(format!(
                "nvr.mounts: {} (the NVR's {}) is not a folder on this host",
                mount.host.display(),
                mount.nvr.display()
            ));
        }
    }
    let db = database_path(loaded);
    match Db::open(&db, Duration::from_secs(2)) {
        Ok(_) => report.found.push(format!("database: {} opens", db.display())),
        Err(e) => report.problems.push(format!(
            "nvr.database: {e} (set nvr.database to this host's path of the NVR's database, or [nvr.mounts] for its folder)"
        )),
    }
    let media = &config.nvr.media_dir;
    if media.is_dir() {
        report
            .found
            .push(format!("media root: {} exists", media.display()));
    } else {
        report.problems.push(format!(
            "nvr.media_dir: {} is not a folder (set it to this host's path of the NVR's media root)",
            media.display()
        ));
    }
    for (key, dir) in [
        ("session.replay_dir", &config.session.replay_dir),
        ("session.import_dir", &config.session.import_dir),
        ("runtime.state_dir", &config.runtime.state_dir),
    ] {
        match ensure_writable_dir(dir) {
            Ok(how) => report.found.push(format!("{key}: {} {how}", dir.display())),
            Err(e) => report
                .problems
                .push(format!("{key}: {}: {e}", dir.display())),
        }
    }
    match config.publish.to {
        Publisher::File => report
            .found
            .push("publisher: file (cameras/<name>.yml and socket events)".into()),
        Publisher::Frigate => match frigate_version(loaded) {
            Ok(version) => report.found.push(format!(
                "publisher: frigate at {}, Frigate {version}",
                config.publish.frigate.url
            )),
            Err(e) => report.problems.push(format!(
                "{}: Frigate does not answer: {e}",
                frigate::URL_SETTING
            )),
        },
    }
    report
}

/// The folder is there and writable, or replayd can make it at start (its
/// parent is there and writable); nothing is created here.
fn ensure_writable_dir(dir: &Path) -> Result<&'static str, String> {
    let writable = |p: &Path| {
        rustix::fs::access(
            p,
            rustix::fs::Access::WRITE_OK | rustix::fs::Access::EXEC_OK,
        )
    };
    if dir.is_dir() {
        return writable(dir)
            .map(|()| "is writable")
            .map_err(|e| format!("not writable by this user: {e}"));
    }
    if dir.exists() {
        return Err("not a folder".into());
    }
    let parent = dir.parent().unwrap_or(Path::new("/"));
    if !parent.is_dir() {
        return Err(format!("neither it nor {} exists", parent.display()));
    }
    writable(parent)
        .map(|()| "is missing; replayd makes it at start")
        .map_err(|e| format!("missing, and {} is not writable: {e}", parent.display()))
}

/// `GET /api/version`, waited for.
fn frigate_version(loaded: &Loaded) -> Result<String, String> {
    let settings = &loaded.config.publish.frigate;
    let endpoint = Endpoint::parse(&settings.url.to_string()).map_err(|e| e.to_string())?;
    let mut request: Request = frigate::version();
    if let Some(path) = &settings.token_file {
        let token = fs::read_to_string(path).map_err(|e| {
            format!(
                "cannot read {} ({}): {e}",
                path.display(),
                frigate::TOKEN_SETTING
            )
        })?;
        request = request.with_bearer(Some(token.trim().to_string()));
    }
    let reply = exchange(&endpoint, &request, settings.timeout);
    match frigate::classify(Op::Version, &reply) {
        Ok(Outcome::Version(version)) => Ok(version.text().to_string()),
        Ok(other) => Err(format!("unexpected reply {other:?}")),
        Err(e) => Err(e.to_string()),
    }
}

fn exchange(
    endpoint: &Endpoint,
    request: &Request,
    timeout: Duration,
) -> Result<Response, HttpError> {
    let mut ex = Exchange::start(endpoint, request, clock::boottime(), timeout)?;
    loop {
        let now = clock::boottime();
        if ex.timed_out(now) {
            return Err(ex.timeout_error());
        }
        let mut events = PollFlags::empty();
        if ex.wants_read() {
            events |= PollFlags::POLLIN;
        }
        if ex.wants_write() {
            events |= PollFlags::POLLOUT;
        }
        let wait = ((ex.deadline() - now).max(0.0) * 1000.0) as i32 + 1;
        let mut fds = [PollFd::new(ex.fd(), events)];
        let _ = poll(
            &mut fds,
            PollTimeout::try_from(wait).unwrap_or(PollTimeout::NONE),
        );
        if let Some(result) = ex.on_ready() {
            return result;
        }
    }
}
