//! The `frigate` publisher's connection to the NVR: one job at a time, one
//! request at a time, each a non-blocking exchange driven by the poll loop
//! (SPEC §7). A job is the short script of requests one lifecycle action
//! needs (check before a start, add, remove, re-add after a crash); when it
//! ends it becomes the lifecycle input that action is waiting for.

use std::collections::{BTreeMap, VecDeque};
use std::os::fd::BorrowedFd;
use std::path::PathBuf;
use std::time::Duration;

use nix::poll::PollFlags;
use serde_json::Value;

use crate::config::FrigateSettings;
use crate::nvr::frigate::{
    self, ConfigSet, FrigateError, Op, Outcome, RunningConfig, UpdatePlan, Version,
};
use crate::nvr::http::{Endpoint, Exchange, HttpError, Request, Response};
use crate::protocol::{ApplyReply, BeforeAfter};
use crate::replay::errors::RequestError;
use crate::replay::lifecycle::{ClientId, Input, JobFailure, NvrFacts, Removal, UpdateDone};

/// What one lifecycle action asks of Frigate.
#[derive(Debug)]
pub(super) enum Job {
    /// Before a start: reachable, version, cameras, its own replay; a
    /// removal still owed for the name first.
    Check {
        client: ClientId,
        source: String,
        replay: String,
        remove_first: bool,
        ledger_owns: bool,
        /// The replay camera's folder as the NVR sees it: a camera of that
        /// name whose inputs all read from there is replayd's even when the
        /// ledger lost it (SPEC §1, "Ownership without a ledger entry").
        nvr_folder: Option<PathBuf>,
    },
    /// Add the replay camera.
    Add {
        replay: String,
        config: Value,
        clip_path: PathBuf,
        warnings: Vec<String>,
    },
    /// Remove it.
    Remove { replay: String },
    /// A resumed session: add it again if Frigate lost it.
    Ensure { replay: String, config: Value },
    /// A live update of the running replay camera from `old` to `new`
    /// (JSON, as published), whose `sections` changed
    /// ([`frigate::update_plan`]).
    Update {
        client: ClientId,
        replay: String,
        old: Value,
        new: Value,
        sections: Vec<String>,
        /// The reply once Frigate took it.
        done: UpdateDone,
        /// Frigate refused the re-add of `new` (its message): `old` is being
        /// added back.
        refusal: Option<String>,
    },
    /// The session's overrides into the source camera
    /// ([`frigate::apply_requests`]).
    Apply {
        client: ClientId,
        source: String,
        /// Per section, what to merge under `cameras.<source>.<section>`.
        patches: Vec<(String, Value)>,
        /// The reply's before/after per key.
        applied: BTreeMap<String, BTreeMap<String, BeforeAfter>>,
    },
}

/// How far a job got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Version,
    RemoveOwed,
    /// 0.17 answers 500 to a removal of a camera it does not have: look first.
    RemoveLook,
    Config,
    DebugReplay,
    RemoveStale,
    Add,
    Remove,
    /// Request `n` of an update's or an apply's config/set plan.
    Set(usize),
    /// An update by remove + add: the removal, the add of the new config,
    /// and the add of the old one after a refusal.
    ReaddRemove,
    ReaddAdd,
    Restore,
}

struct Running {
    job: Job,
    step: Step,
    op: Op,
    exchange: Exchange,
    /// What the check learnt so far.
    running: Option<RunningConfig>,
}

/// What a finished job tells the ledger besides the lifecycle input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum LedgerNote {
    None,
    /// Frigate does not have the camera (removed, or an add it refused).
    Gone(String),
}

pub(super) struct NvrLink {
    endpoint: Option<Endpoint>,
    url: String,
    token_file: Option<PathBuf>,
    timeout: Duration,
    version: Option<Version>,
    queue: VecDeque<Job>,
    current: Option<Running>,
}

impl NvrLink {
    pub fn new(settings: &FrigateSettings) -> NvrLink {
        let url = settings.url.to_string();
        let endpoint = match Endpoint::parse(&url) {
            Ok(endpoint) => Some(endpoint),
            Err(e) => {
                log::error!("publish.frigate.url {url} cannot be used: {e}");
                None
            }
        };
        NvrLink {
            endpoint,
            url,
            token_file: settings.token_file.clone(),
            timeout: settings.timeout,
            version: None,
            queue: VecDeque::new(),
            current: None,
        }
    }

    /// The exchange's fd and what it waits for, for the poll loop.
    pub fn poll_interest(&self) -> Option<(BorrowedFd<'_>, PollFlags)> {
        let running = self.current.as_ref()?;
        let mut events = PollFlags::empty();
        if running.exchange.wants_read() {
            events |= PollFlags::POLLIN;
        }
        if running.exchange.wants_write() {
            events |= PollFlags::POLLOUT;
        }
        Some((running.exchange.fd(), events))
    }

    /// One request's timeout, while a job runs.
    pub fn timeout(&self) -> Option<Duration> {
        self.current.as_ref().map(|_| self.timeout)
    }

    pub fn deadline(&self) -> Option<f64> {
        self.current.as_ref().map(|r| r.exchange.deadline())
    }

    /// Queues a job; returns what ended at once (nothing reachable).
    pub fn submit(&mut self, job: Job, now: f64) -> Vec<(Input, LedgerNote)> {
        self.queue.push_back(job);
        self.pump(now)
    }

    /// The exchange's fd is ready.
    pub fn on_ready(&mut self, now: f64) -> Vec<(Input, LedgerNote)> {
        let Some(running) = self.current.as_mut() else {
            return Vec::new();
        };
        match running.exchange.on_ready() {
            None => Vec::new(),
            Some(reply) => self.advance(reply, now),
        }
    }

    /// The timer fired: a request past its timeout fails.
    pub fn on_timer(&mut self, now: f64) -> Vec<(Input, LedgerNote)> {
        let Some(running) = self.current.as_ref() else {
            return Vec::new();
        };
        if !running.exchange.timed_out(now) {
            return Vec::new();
        }
        let error = running.exchange.timeout_error();
        self.advance(Err(error), now)
    }

    /// Starts the next job if none runs.
    fn pump(&mut self, now: f64) -> Vec<(Input, LedgerNote)> {
        let mut done = Vec::new();
        while self.current.is_none() {
            let Some(job) = self.queue.pop_front() else {
                break;
            };
            let first = match (&job, &self.version) {
                (_, None) => Step::Version,
                (Job::Check { remove_first, .. }, Some(_)) => {
                    if *remove_first {
                        self.removal_step(&job)
                    } else {
                        Step::Config
                    }
                }
                (Job::Add { .. }, Some(_)) => Step::Add,
                (Job::Remove { .. }, Some(_)) => self.removal_step(&job),
                (Job::Ensure { .. }, Some(_)) => Step::Config,
                (Job::Update { .. } | Job::Apply { .. }, Some(version)) => {
                    first_tuning_step(&job, version)
                }
            };
            if let Some(result) = self.send(job, first, None, now) {
                done.push(result);
            }
        }
        done
    }

    /// The first step of a removal: a check's owed removal goes on to the
    /// config, a plain one ends with Frigate's answer.
    fn removal_step(&self, job: &Job) -> Step {
        match (&self.version, job) {
            (Some(Version::V017(_)), _) => Step::RemoveLook,
            (_, Job::Check { .. }) => Step::RemoveOwed,
            _ => Step::Remove,
        }
    }

    /// Sends the request of `step`; a job that cannot send ends here.
    fn send(
        &mut self,
        job: Job,
        step: Step,
        running: Option<RunningConfig>,
        now: f64,
    ) -> Option<(Input, LedgerNote)> {
        let (request, op) = match self.request(&job, step) {
            Ok(pair) => pair,
            Err(error) => return Some(finish_err(job, error)),
        };
        let Some(endpoint) = &self.endpoint else {
            let error = FrigateError::Unavailable {
                message: format!("publish.frigate.url {} cannot be used", self.url),
                retry: false,
            };
            return Some(finish_err(job, error));
        };
        let request = match self.with_token(request) {
            Ok(request) => request,
            Err(error) => return Some(finish_err(job, error)),
        };
        match Exchange::start(endpoint, &request, now, self.timeout) {
            Ok(exchange) => {
                self.current = Some(Running {
                    job,
                    step,
                    op,
                    exchange,
                    running,
                });
                None
            }
            Err(e) => {
                let error =
                    frigate::classify(op, &Err(e))
                        .err()
                        .unwrap_or(FrigateError::Unavailable {
                            message: format!("cannot reach Frigate at {}", self.url),
                            retry: true,
                        });
                Some(finish_err(job, error))
            }
        }
    }

    fn request(&self, job: &Job, step: Step) -> Result<(Request, Op), FrigateError> {
        let version = self.version.clone();
        let name = job_name(job);
        Ok(match step {
            Step::Version => (frigate::version(), Op::Version),
            Step::Config | Step::RemoveLook => (frigate::config(), Op::Config),
            Step::DebugReplay => (frigate::debug_replay_status(), Op::DebugReplayStatus),
            Step::RemoveOwed | Step::RemoveStale | Step::Remove => {
                let version = version.ok_or_else(no_version)?;
                (frigate::remove(&version, name), Op::Remove)
            }
            Step::Add => {
                let config = match job {
                    Job::Add { config, .. } | Job::Ensure { config, .. } => config,
                    _ => return Err(no_version()),
                };
                let version = version.ok_or_else(no_version)?;
                if let Some(why) = frigate::key_refusal(&version, config) {
                    return Err(FrigateError::Refused { message: why });
                }
                (frigate::add(name, config), Op::Add)
            }
            Step::Set(n) => {
                let version = version.ok_or_else(no_version)?;
                let set = tuning_sets(job, &version)
                    .into_iter()
                    .nth(n)
                    .ok_or_else(no_version)?;
                if let Some(why) = frigate::key_refusal(&version, &set.data) {
                    return Err(FrigateError::Refused { message: why });
                }
                (set.request(), Op::UpdateSection)
            }
            Step::ReaddRemove => {
                let version = version.ok_or_else(no_version)?;
                (frigate::remove(&version, name), Op::Remove)
            }
            Step::ReaddAdd | Step::Restore => {
                let Job::Update { old, new, .. } = job else {
                    return Err(no_version());
                };
                let config = if step == Step::Restore { old } else { new };
                let version = version.ok_or_else(no_version)?;
                if let Some(why) = frigate::key_refusal(&version, config) {
                    return Err(FrigateError::Refused { message: why });
                }
                (frigate::add(name, config), Op::Add)
            }
        })
    }

    /// The bearer token, re-read on each use so a rotated token is picked up.
    fn with_token(&self, request: Request) -> Result<Request, FrigateError> {
        let Some(path) = &self.token_file else {
            return Ok(request);
        };
        match std::fs::read_to_string(path) {
            Ok(token) => Ok(request.with_bearer(Some(token.trim().to_string()))),
            Err(e) => Err(FrigateError::Unavailable {
                message: format!(
                    "cannot read {} ({}): {e}",
                    path.display(),
                    frigate::TOKEN_SETTING
                ),
                retry: false,
            }),
        }
    }

    /// A reply came (or the request failed): the next step, or the end.
    fn advance(
        &mut self,
        reply: Result<Response, HttpError>,
        now: f64,
    ) -> Vec<(Input, LedgerNote)> {
        let Some(Running {
            job,
            step,
            op,
            running,
            ..
        }) = self.current.take()
        else {
            return Vec::new();
        };
        let outcome = frigate::classify(op, &reply);
        let mut done = Vec::new();
        match self.next(job, step, outcome, running) {
            Next::Send(job, step, running) => {
                if let Some(result) = self.send(job, step, running, now) {
                    done.push(result);
                }
            }
            Next::Done(input, note) => done.push((input, note)),
        }
        done.extend(self.pump(now));
        done
    }

    fn next(
        &mut self,
        mut job: Job,
        step: Step,
        outcome: Result<Outcome, FrigateError>,
        running: Option<RunningConfig>,
    ) -> Next {
        let outcome = match outcome {
            Ok(outcome) => outcome,
            Err(error) => {
                let version = self.version.clone();
                // A version learnt once may have changed with a restart.
                if matches!(error, FrigateError::Unavailable { .. }) {
                    self.version = None;
                }
                // The new config refused: the old one goes back.
                if let (
                    Step::ReaddAdd,
                    FrigateError::Refused { message },
                    Job::Update { refusal, .. },
                ) = (step, &error, &mut job)
                {
                    *refusal = Some(message.clone());
                    return Next::Send(job, Step::Restore, None);
                }
                let error = match (step, &job) {
                    (Step::Set(n), _) if n > 0 => match &version {
                        Some(version) => partly_done(&job, version, n, error),
                        None => error,
                    },
                    _ => error,
                };
                return finish(finish_err(job, error));
            }
        };
        match (step, outcome) {
            (Step::Version, Outcome::Version(version)) => {
                log::debug!("Frigate at {} is version {}", self.url, version.text());
                let tuning_step = first_tuning_step(&job, &version);
                self.version = Some(version);
                let next = match &job {
                    Job::Check { remove_first, .. } if *remove_first => self.removal_step(&job),
                    Job::Check { .. } | Job::Ensure { .. } => Step::Config,
                    Job::Add { .. } => Step::Add,
                    Job::Remove { .. } => self.removal_step(&job),
                    Job::Update { .. } | Job::Apply { .. } => tuning_step,
                };
                Next::Send(job, next, running)
            }
            (Step::Set(n), Outcome::Done) => {
                let version = self
                    .version
                    .clone()
                    .unwrap_or(Version::Other(String::new()));
                if n + 1 < tuning_sets(&job, &version).len() {
                    Next::Send(job, Step::Set(n + 1), None)
                } else {
                    tuned(job, &version)
                }
            }
            (Step::ReaddRemove, Outcome::Removed | Outcome::AlreadyRemoved) => {
                Next::Send(job, Step::ReaddAdd, None)
            }
            (Step::ReaddAdd, Outcome::Done) => {
                let version = self
                    .version
                    .clone()
                    .unwrap_or(Version::Other(String::new()));
                tuned(job, &version)
            }
            (Step::Restore, Outcome::Done) => match job {
                Job::Update {
                    client, refusal, ..
                } => Next::Done(
                    Input::UpdatePublished {
                        client,
                        result: Err(RequestError::NvrRefused(format!(
                            "{}; the replay camera runs with its previous settings",
                            refusal.unwrap_or_default()
                        ))),
                    },
                    LedgerNote::None,
                ),
                other => finish(finish_err(
                    other,
                    FrigateError::Unavailable {
                        message: "unexpected step".into(),
                        retry: false,
                    },
                )),
            },
            (Step::RemoveLook, Outcome::Config(config)) => {
                let name = job_name(&job).to_string();
                if config.has_camera(&name) {
                    let next = match job {
                        Job::Check { .. } => Step::RemoveOwed,
                        _ => Step::Remove,
                    };
                    Next::Send(job, next, None)
                } else {
                    self.removed(job, Removal::Absent)
                }
            }
            (Step::RemoveOwed, Outcome::Removed | Outcome::AlreadyRemoved)
            | (Step::RemoveStale, Outcome::Removed | Outcome::AlreadyRemoved) => {
                Next::Send(job, Step::Config, None)
            }
            (Step::Remove, Outcome::Removed) => self.removed(job, Removal::Removed),
            (Step::Remove, Outcome::AlreadyRemoved) => self.removed(job, Removal::Absent),
            (Step::Config, Outcome::Config(config)) => match &mut job {
                Job::Check {
                    replay,
                    ledger_owns,
                    nvr_folder,
                    ..
                } => {
                    // An add that landed after the daemon that sent it died
                    // and its ledger entry was cleared (found by
                    // tests/frigate_publisher.rs): proven replayd's by where
                    // it reads from, so it is removed and added again
                    // rather than refused as someone else's.
                    if !*ledger_owns
                        && nvr_folder
                            .as_deref()
                            .is_some_and(|folder| reads_only_from(&config, replay, folder))
                    {
                        log::info!(
                            "Frigate runs {replay} from replayd's replay folder, unknown to the ledger: it is replayd's"
                        );
                        *ledger_owns = true;
                    }
                    if config.has_camera(replay) && *ledger_owns {
                        // Ours from before (a removal never confirmed): gone
                        // first, or the add would merge into it.
                        return Next::Send(job, Step::RemoveStale, Some(config));
                    }
                    if self.version.as_ref().is_some_and(Version::has_debug_replay) {
                        Next::Send(job, Step::DebugReplay, Some(config))
                    } else {
                        self.checked(job, config, None)
                    }
                }
                Job::Ensure { replay, .. } => {
                    if config.has_camera(replay) {
                        Next::Done(Input::Republished { result: Ok(()) }, LedgerNote::None)
                    } else {
                        log::info!("Frigate lost {replay}: adding it again");
                        Next::Send(job, Step::Add, None)
                    }
                }
                _ => finish(finish_err(
                    job,
                    FrigateError::Unavailable {
                        message: "unexpected reply".into(),
                        retry: true,
                    },
                )),
            },
            (Step::DebugReplay, Outcome::DebugReplay(camera)) => {
                let config = running.unwrap_or_default();
                self.checked(job, config, camera)
            }
            (Step::Add, Outcome::Done) => match job {
                Job::Add {
                    replay,
                    config,
                    clip_path,
                    warnings,
                } => Next::Done(
                    Input::Published {
                        replay,
                        result: Ok(Some(config)),
                        clip_path,
                        warnings,
                    },
                    LedgerNote::None,
                ),
                _ => Next::Done(Input::Republished { result: Ok(()) }, LedgerNote::None),
            },
            (_, other) => finish(finish_err(
                job,
                FrigateError::Unavailable {
                    message: format!("unexpected reply from Frigate: {other:?}"),
                    retry: true,
                },
            )),
        }
    }

    /// A removal's answer. The ledger forgets a camera Frigate removed; one
    /// it did not have is the lifecycle's to judge (an add that timed out
    /// may still land), which says when through `Action::Forget`.
    fn removed(&mut self, job: Job, how: Removal) -> Next {
        match job {
            Job::Remove { replay } => Next::Done(
                Input::Unpublished {
                    replay: replay.clone(),
                    result: Ok(how),
                },
                match how {
                    Removal::Removed => LedgerNote::Gone(replay),
                    Removal::Absent => LedgerNote::None,
                },
            ),
            // The check's owed removal is done: on to the config.
            other => Next::Send(other, Step::Config, None),
        }
    }

    /// The check's verdict from what Frigate said.
    fn checked(&self, job: Job, config: RunningConfig, debug_replay: Option<String>) -> Next {
        let Job::Check {
            client,
            source,
            replay,
            ledger_owns,
            ..
        } = job
        else {
            return Next::Done(Input::Republished { result: Ok(()) }, LedgerNote::None);
        };
        let Some(version) = &self.version else {
            return Next::Done(
                Input::NvrChecked {
                    client,
                    result: Err(RequestError::NvrUnavailable(
                        "Frigate's version is unknown".into(),
                    )),
                },
                LedgerNote::None,
            );
        };
        let others: Vec<String> = config
            .camera_names()
            .into_iter()
            .filter(|c| *c != replay)
            .collect();
        let configured = if ledger_owns {
            others.clone()
        } else {
            config.camera_names()
        };
        if let Some(why) = frigate::refusal_before_add(
            version,
            &configured,
            debug_replay.as_deref(),
            &replay,
            ledger_owns,
        ) {
            return Next::Done(
                Input::NvrChecked {
                    client,
                    result: Err(RequestError::NvrRefused(why)),
                },
                LedgerNote::None,
            );
        }
        Next::Done(
            Input::NvrChecked {
                client,
                result: Ok(NvrFacts {
                    detect_size: config.detect_size(&source),
                }),
            },
            LedgerNote::None,
        )
    }
}

enum Next {
    Send(Job, Step, Option<RunningConfig>),
    Done(Input, LedgerNote),
}

fn finish((input, note): (Input, LedgerNote)) -> Next {
    Next::Done(input, note)
}

fn no_version() -> FrigateError {
    FrigateError::Unavailable {
        message: "Frigate's version is unknown".into(),
        retry: true,
    }
}

/// Whether Frigate's camera `name` reads only from files in `folder` (an
/// NVR path), never through `..`.
fn reads_only_from(config: &RunningConfig, name: &str, folder: &std::path::Path) -> bool {
    config.camera(name).is_some_and(|camera| {
        !camera.input_paths.is_empty()
            && camera.input_paths.iter().all(|input| {
                let input = std::path::Path::new(input);
                input.starts_with(folder)
                    && input
                        .components()
                        .all(|c| !matches!(c, std::path::Component::ParentDir))
            })
    })
}

fn job_name(job: &Job) -> &str {
    match job {
        Job::Check { replay, .. }
        | Job::Add { replay, .. }
        | Job::Remove { replay }
        | Job::Ensure { replay, .. }
        | Job::Update { replay, .. } => replay,
        Job::Apply { source, .. } => source,
    }
}

/// The first request of an update or an apply, once the version is known.
fn first_tuning_step(job: &Job, version: &Version) -> Step {
    match job {
        Job::Update {
            replay,
            old,
            new,
            sections,
            ..
        } => match frigate::update_plan(version, replay, old, new, sections) {
            UpdatePlan::Sections(_) => Step::Set(0),
            UpdatePlan::Readd { .. } => Step::ReaddRemove,
        },
        _ => Step::Set(0),
    }
}

/// The config/set requests of an update or an apply for this version.
fn tuning_sets(job: &Job, version: &Version) -> Vec<ConfigSet> {
    match job {
        Job::Update {
            replay,
            old,
            new,
            sections,
            ..
        } => match frigate::update_plan(version, replay, old, new, sections) {
            UpdatePlan::Sections(sets) => sets,
            UpdatePlan::Readd { .. } => Vec::new(),
        },
        Job::Apply {
            source, patches, ..
        } => frigate::apply_requests(version, source, patches).sets,
        _ => Vec::new(),
    }
}

/// An update or an apply that Frigate took.
fn tuned(job: Job, version: &Version) -> Next {
    match job {
        Job::Update { client, done, .. } => Next::Done(
            Input::UpdatePublished {
                client,
                result: Ok(done),
            },
            LedgerNote::None,
        ),
        Job::Apply {
            client,
            source,
            patches,
            applied,
        } => Next::Done(
            Input::Applied {
                client,
                result: Ok(ApplyReply {
                    applied,
                    restart_needed: frigate::apply_requests(version, &source, &patches)
                        .restart_needed,
                }),
            },
            LedgerNote::None,
        ),
        other => finish(finish_err(
            other,
            FrigateError::Unavailable {
                message: "unexpected step".into(),
                retry: false,
            },
        )),
    }
}

/// A later request of a plan failed: Frigate already stored the change
/// (the first request carried all of it) but did not announce every
/// section to the running camera.
fn partly_done(job: &Job, version: &Version, n: usize, error: FrigateError) -> FrigateError {
    let section = tuning_sets(job, version)
        .get(n)
        .and_then(|set| set.topic.clone())
        .and_then(|t| t.rsplit('/').next().map(str::to_string))
        .unwrap_or_default();
    let message = format!(
        "Frigate stored the change in its config but was not told to apply {section} to the running camera ({error}); it takes effect at Frigate's next restart"
    );
    match error {
        FrigateError::Refused { .. } => FrigateError::Refused { message },
        _ => FrigateError::Unavailable {
            message,
            retry: false,
        },
    }
}

/// A job that failed: the input its action waits for, saying why.
fn finish_err(job: Job, error: FrigateError) -> (Input, LedgerNote) {
    match job {
        Job::Check { client, .. } => {
            let error = match error {
                FrigateError::Refused { message } => RequestError::NvrRefused(message),
                FrigateError::Unavailable { message, .. } | FrigateError::Unknown { message } => {
                    RequestError::NvrUnavailable(message)
                }
            };
            (
                Input::NvrChecked {
                    client,
                    result: Err(error),
                },
                LedgerNote::None,
            )
        }
        Job::Add {
            replay, clip_path, ..
        } => {
            let (failure, note) = match error {
                // It may be there: the lifecycle removes it, the ledger keeps it.
                FrigateError::Unknown { message } => {
                    (JobFailure::NvrUnknown(message), LedgerNote::None)
                }
                FrigateError::Refused { message } | FrigateError::Unavailable { message, .. } => {
                    (JobFailure::Nvr(message), LedgerNote::Gone(replay.clone()))
                }
            };
            (
                Input::Published {
                    replay,
                    result: Err(failure),
                    clip_path,
                    warnings: Vec::new(),
                },
                note,
            )
        }
        Job::Remove { replay } => (
            Input::Unpublished {
                replay,
                result: Err(error.to_string()),
            },
            LedgerNote::None,
        ),
        Job::Update {
            client, refusal, ..
        } => {
            let error = match (refusal, error) {
                (Some(first), e) => RequestError::NvrRefused(format!(
                    "{first}; adding the previous camera back failed too ({e}): stop the session"
                )),
                (None, FrigateError::Refused { message }) => RequestError::NvrRefused(message),
                (None, other) => RequestError::NvrUnavailable(other.to_string()),
            };
            (
                Input::UpdatePublished {
                    client,
                    result: Err(error),
                },
                LedgerNote::None,
            )
        }
        Job::Apply { client, .. } => {
            let error = match error {
                FrigateError::Refused { message } => RequestError::NvrRefused(message),
                other => RequestError::NvrUnavailable(other.to_string()),
            };
            (
                Input::Applied {
                    client,
                    result: Err(error),
                },
                LedgerNote::None,
            )
        }
        Job::Ensure { replay, .. } => match error {
            FrigateError::Refused { message } => (
                Input::Republished {
                    result: Err(message),
                },
                LedgerNote::None,
            ),
            // Frigate keeps the camera in its config.yml across its own
            // restarts: unreachable now, it runs the camera when it is back.
            other => {
                log::warn!(
                    "cannot check that Frigate still has {replay} ({other}): resuming anyway"
                );
                (Input::Republished { result: Ok(()) }, LedgerNote::None)
            }
        },
    }
}
