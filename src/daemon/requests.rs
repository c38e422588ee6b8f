//! Requests: the ones that only read are answered here; the ones that move
//! the session go to the lifecycle, which asks back for the checks below
//! (camera, database, segment files, free space) before it accepts.

use std::collections::HashMap;
use std::fs;
use std::path::Path;

use crate::nvr::db::Export;
use crate::nvr::media::{open_segment, SegmentError};
use crate::protocol::{self, Pong, Request, StartOptions, StatusReply, PROTOCOL_VERSION};
use crate::replay::camera;
use crate::replay::clip::{self, ClipPlan, SegmentFile, SegmentState};
use crate::replay::errors::{error_body, RequestError};
use crate::replay::lifecycle::{ImportedFile, Input, StartPlan};
use crate::replay::link::{self, FileFacts, Mode, ModeChoice};
use crate::replay::mp4;
use crate::replay::names;
use crate::replay::session::{ClipSource, Session, Tuning};

use super::child::{Child, Priority};
use super::clip_job::Running;
use super::control;
use super::link_job::{euid, file_facts};
use super::Daemon;

impl Daemon {
    /// Answers a request now (`Some`) or later (`None`: the client waits for
    /// the lifecycle's reply).
    pub(super) fn handle_request(&mut self, id: u64, request: Request) -> Option<String> {
        if request.is_privileged() {
            let peer = self.clients.get(&id).map(|c| c.peer.clone());
            if !peer.is_some_and(|p| control::is_admin(&p, self.admin_gid)) {
                let error =
                    RequestError::PermissionDenied(self.loaded.config.control.admin_group.clone());
                log::info!("request refused: {error}");
                return Some(protocol::encode_error(&error_body(&error)));
            }
        }
        let input = match request {
            Request::Ping => {
                return Some(protocol::encode_ok(&Pong {
                    version: env!("CARGO_PKG_VERSION").to_string(),
                    protocol: PROTOCOL_VERSION,
                    publisher: Some(self.loaded.config.publish.to.as_str().to_string()),
                }))
            }
            Request::Status => {
                let mut session = self.lifecycle.view();
                session.view_url = self.view_url(session.replay_camera.as_deref());
                return Some(protocol::encode_ok(&StatusReply {
                    session,
                    job: self.lifecycle.job().cloned(),
                    last_summary: self.lifecycle.last_summary().cloned(),
                    pending_removals: self.lifecycle.pending_removals(),
                }));
            }
            Request::Subscribe => {
                if let Some(client) = self.clients.get_mut(&id) {
                    client.subscribed = true;
                }
                return Some(protocol::encode_ok_empty());
            }
            Request::Start {
                camera,
                start_time,
                end_time,
                options,
            } => Input::Start {
                client: id,
                camera,
                start_time,
                end_time,
                options,
            },
            Request::StartFromExport { export_id, options } => Input::StartFromExport {
                client: id,
                export_id,
                options,
            },
            Request::StartFromFile {
                camera,
                path,
                options,
            } => Input::StartFromFile {
                client: id,
                camera,
                path,
                options,
            },
            Request::Update { overrides, reset } => Input::Update {
                client: id,
                overrides,
                reset,
            },
            Request::Apply { sections } => Input::Apply {
                client: id,
                sections,
            },
            Request::Stop => Input::Stop { client: id },
        };
        if let Some(client) = self.clients.get_mut(&id) {
            client.awaiting_reply = true;
        }
        self.feed(input);
        None
    }

    /// Where a person watches the replay camera's detection: Frigate's debug
    /// stream of it with boxes, zones, masks and motion drawn.
    fn view_url(&self, replay: Option<&str>) -> Option<String> {
        let replay = replay?;
        match self.loaded.config.publish.to {
            crate::config::Publisher::Frigate => Some(format!(
                "{}/api/{replay}?bbox=1&zones=1&mask=1&motion=1",
                self.loaded
                    .config
                    .publish
                    .frigate
                    .view_url
                    .trim_end_matches('/')
            )),
            crate::config::Publisher::File => None,
        }
    }

    /// The camera is in the NVR config and its replay camera, with the
    /// start's speed and overrides, would be accepted: refused now what
    /// would be refused after the whole clip was cut.
    fn check_source_camera(
        &self,
        camera: &str,
        options: &StartOptions,
    ) -> Result<(), RequestError> {
        if !self.loaded.nvr.has_camera(camera) {
            return Err(RequestError::NotFound(format!(
                "camera '{}' is not in the NVR config {}",
                protocol::printable(camera),
                self.loaded.nvr.path().display()
            )));
        }
        // Every published path must be one the NVR can open (mounts).
        let replay = names::replay_name(camera);
        let placeholder = self.clip_paths(&replay).clip;
        let nvr_clip = self
            .nvr_path(&placeholder)
            .map_err(RequestError::InvalidParams)?;
        // A camera of that name in the NVR's config is replayd's own only
        // if the ledger names it (Frigate writes what it was given into its
        // config.yml); anyone else's is never replaced.
        let owned;
        let nvr = if !self.loaded.nvr.has_camera(&replay) {
            &self.loaded.nvr
        } else if self.owns(&replay) {
            owned = self.loaded.nvr.without_camera(&replay);
            &owned
        } else {
            return Err(RequestError::NvrRefused(format!(
                "the NVR config {} already defines a camera named {replay}, and it is not replayd's: replayd never replaces it",
                self.loaded.nvr.path().display()
            )));
        };
        let tuning = Tuning {
            speed: options.speed.unwrap_or(1.0),
            overrides: options.overrides.clone(),
        };
        let config = camera::build(nvr, camera, &nvr_clip, &tuning)
            .and_then(|config| {
                camera::validate_tuned(nvr, camera, &names::replay_name(camera), &config, &tuning)
                    .map(|()| config)
            })
            .map_err(|e| {
                RequestError::InvalidParams(format!("camera '{camera}' cannot be replayed: {e}"))
            })?;
        // What the publisher cannot send (with Frigate: a mapping key that
        // looks like an integer) is refused here, before the footage is cut.
        self.camera_json(&config).map_err(|e| {
            RequestError::InvalidParams(format!("camera '{camera}' cannot be replayed: {e}"))
        })?;
        Ok(())
    }

    /// start's checks that need the NVR config, the database and the disk.
    pub(super) fn check_start(
        &self,
        camera: &str,
        start: f64,
        end: f64,
        options: StartOptions,
    ) -> Result<StartPlan, RequestError> {
        self.check_source_camera(camera, &options)?;
        let recordings = self.open_db()?.recordings(camera, start, end)?;
        if recordings.is_empty() {
            return Err(RequestError::NoRecordings {
                camera: camera.to_string(),
                start,
                end,
            });
        }
        let files = self.segment_files(&recordings);
        let usable = clip::usable_segments(camera, &files);
        for warning in &usable.warnings {
            log::warn!("{warning}");
        }
        let plan = clip::plan(&usable.segments, start, end);
        // The facts of what the plan uses (a segment left out does not
        // decide the mode).
        let facts: HashMap<&Path, Option<FileFacts>> = files
            .iter()
            .map(|f| match &f.state {
                SegmentState::Present { facts, .. } => (f.path.as_path(), *facts),
                _ => (f.path.as_path(), None),
            })
            .collect();
        let clip_mode = self.choose_clip_mode(
            options.clip_mode,
            plan.entries.iter().map(|e| {
                let path = e.path.as_path();
                (path, facts.get(path).copied().flatten())
            }),
        )?;
        match clip_mode.mode {
            // Links take no room: only the playlist does.
            Mode::Link => self.check_space(playlist_size(&plan))?,
            Mode::Copy => self.check_space(usable.bytes)?,
        }
        Ok(StartPlan {
            camera: camera.to_string(),
            start,
            end,
            source: ClipSource::Recordings,
            plan,
            warnings: usable.warnings,
            options,
            clip_mode,
        })
    }

    /// start_from_export: the export exists, is finished, its camera can be
    /// replayed and its file is there; then ffprobe measures it (the reply
    /// waits for it, the loop keeps serving everyone else).
    pub(super) fn check_export(&mut self, export_id: &str, options: &StartOptions) -> Input {
        match self.probe_export(export_id, options) {
            Ok((export, clip_mode)) => Input::ExportProbeStarted { export, clip_mode },
            Err(error) => Input::ExportRefused { error },
        }
    }

    fn probe_export(
        &mut self,
        export_id: &str,
        options: &StartOptions,
    ) -> Result<(Export, ModeChoice), RequestError> {
        let mut export = self.open_db()?.export(export_id)?.ok_or_else(|| {
            RequestError::NotFound(format!(
                "export '{}' does not exist",
                protocol::printable(export_id)
            ))
        })?;
        // The row holds the NVR's path of the video.
        export.video_path = self
            .loaded
            .config
            .nvr
            .mounts
            .to_host(&export.video_path)
            .filter(|host| self.in_media(host))
            .ok_or_else(|| {
                RequestError::NotFound(format!(
                    "the video of export '{}' ({}) is not in the NVR's media root (nvr.media_dir, nvr.mounts)",
                    export.id,
                    export.video_path.display()
                ))
            })?;
        names::CameraName::parse(&export.camera)
            .map_err(|e| RequestError::InvalidParams(e.to_string()))?;
        self.check_source_camera(&export.camera, options)
            .map_err(|e| match e {
                RequestError::NotFound(_) => RequestError::NotFound(format!(
                    "the camera of export '{}' ({}) is not in the NVR config",
                    export.id, export.camera
                )),
                other => other,
            })?;
        if export.in_progress {
            return Err(RequestError::InvalidParams(format!(
                "export '{}' is still being written",
                export.id
            )));
        }
        // Opened once, without following a symlink: its facts decide the
        // clip mode.
        let root = self
            .media_root(&export.video_path)
            .unwrap_or(&export.video_path);
        let (size, facts) = match open_segment(root, &export.video_path) {
            Ok((file, size)) => (size, file_facts(&file, euid()).ok()),
            Err(e @ SegmentError::Outside { .. }) => {
                return Err(RequestError::InvalidParams(format!(
                    "the video of export '{}': {e}",
                    export.id
                )))
            }
            Err(_) => {
                return Err(RequestError::NotFound(format!(
                    "the video of export '{}' ({}) does not exist",
                    export.id,
                    export.video_path.display()
                )))
            }
        };
        let clip_mode =
            self.choose_clip_mode(options.clip_mode, [(export.video_path.as_path(), facts)])?;
        self.check_space(match clip_mode.mode {
            link::Mode::Link => 0,
            Mode::Copy => size,
        })?;
        let program = self.loaded.config.ffmpeg.ffprobe.clone();
        let child = Child::spawn(
            "ffprobe",
            &program,
            &clip::ffprobe_duration_args(&export.video_path),
            Priority::Normal,
        )
        .map_err(|e| RequestError::io(format!("cannot run ffprobe ({})", program.display()), e))?;
        self.child = Some(Running::ffprobe(child));
        Ok((export, clip_mode))
    }

    /// start_from_file: the file is resolved beneath the import dir (a
    /// symlink may point around inside it, never out), must be a non-empty
    /// regular file, and its camera must be replayable; then ffprobe
    /// measures it through the descriptor that was checked.
    pub(super) fn check_file(&mut self, camera: &str, name: &str, options: &StartOptions) -> Input {
        match self.probe_file(camera, name, options) {
            Ok((file, clip_mode)) => Input::FileProbeStarted { file, clip_mode },
            Err(error) => Input::ExportRefused { error },
        }
    }

    fn probe_file(
        &mut self,
        camera: &str,
        name: &str,
        options: &StartOptions,
    ) -> Result<(ImportedFile, ModeChoice), RequestError> {
        use rustix::fs::{openat2, Mode, OFlags, ResolveFlags};
        let import_dir = self.loaded.config.session.import_dir.clone();
        let shown = protocol::printable(name);
        let relative = std::path::Path::new(name);
        if name.is_empty()
            || relative.is_absolute()
            || relative
                .components()
                .any(|c| !matches!(c, std::path::Component::Normal(_)))
        {
            return Err(RequestError::InvalidParams(format!(
                "path '{shown}' must be a plain path relative to the import dir {} (session.import_dir)",
                import_dir.display()
            )));
        }
        self.check_source_camera(camera, options)?;
        let dir = fs::File::open(&import_dir).map_err(|e| {
            RequestError::io(
                format!(
                    "cannot open the import dir {} (session.import_dir)",
                    import_dir.display()
                ),
                e,
            )
        })?;
        // O_NONBLOCK: a FIFO planted under the name cannot block the loop.
        let opened = openat2(
            &dir,
            relative,
            OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NOCTTY | OFlags::NONBLOCK,
            Mode::empty(),
            ResolveFlags::BENEATH | ResolveFlags::NO_MAGICLINKS,
        );
        let fd = match opened {
            Ok(fd) => fd,
            Err(rustix::io::Errno::NOENT) => {
                return Err(RequestError::NotFound(format!(
                    "file '{shown}' does not exist in the import dir {}",
                    import_dir.display()
                )))
            }
            Err(rustix::io::Errno::XDEV) => {
                return Err(RequestError::InvalidParams(format!(
                    "file '{shown}' leads out of the import dir {} (a symlink or mount): refused",
                    import_dir.display()
                )))
            }
            Err(e) => {
                return Err(RequestError::io(
                    format!(
                        "cannot open '{shown}' in the import dir {}",
                        import_dir.display()
                    ),
                    e.into(),
                ))
            }
        };
        let file = fs::File::from(fd);
        let meta = file
            .metadata()
            .map_err(|e| RequestError::io(format!("cannot stat '{shown}'"), e))?;
        if !meta.is_file() {
            return Err(RequestError::InvalidParams(format!(
                "'{shown}' in the import dir is not a regular file"
            )));
        }
        if meta.len() == 0 {
            return Err(RequestError::InvalidParams(format!(
                "'{shown}' in the import dir is empty"
            )));
        }
        // Where the checked descriptor really is: a symlink inside the
        // import dir is resolved once, here, so that the link or copy
        // step opens the file itself (its last component never a link).
        let path = resolved_beneath(&file, &dir)
            .map(|inside| import_dir.join(inside))
            .ok_or_else(|| {
                RequestError::InvalidParams(format!(
                    "'{shown}' cannot be resolved inside the import dir {}",
                    import_dir.display()
                ))
            })?;
        let clip_mode = self.choose_clip_mode(
            options.clip_mode,
            [(path.as_path(), file_facts(&file, euid()).ok())],
        )?;
        self.check_space(match clip_mode.mode {
            link::Mode::Link => 0,
            link::Mode::Copy => meta.len(),
        })?;
        let program = self.loaded.config.ffmpeg.ffprobe.clone();
        let through = std::path::PathBuf::from(format!(
            "/proc/self/fd/{}",
            std::os::fd::AsRawFd::as_raw_fd(&file)
        ));
        let child = Child::spawn_with_fd(
            "ffprobe",
            &program,
            &clip::ffprobe_duration_args(&through),
            Priority::Normal,
            Some(std::os::fd::AsFd::as_fd(&file)),
        )
        .map_err(|e| RequestError::io(format!("cannot run ffprobe ({})", program.display()), e))?;
        self.child = Some(Running::ffprobe(child));
        Ok((
            ImportedFile {
                camera: camera.to_string(),
                name: name.to_string(),
                path,
            },
            clip_mode,
        ))
    }

    /// The recordings' files on this host (their rows hold the NVR's paths).
    fn segment_files(&self, recordings: &[crate::nvr::db::Recording]) -> Vec<SegmentFile> {
        let mounts = &self.loaded.config.nvr.mounts;
        let euid = euid();
        recordings
            .iter()
            .map(|r| {
                let (path, state) = match mounts.to_host(&r.path) {
                    Some(host) if !self.in_media(&host) => (
                        host,
                        SegmentState::Missing(
                            "outside the NVR's media root (nvr.media_dir, nvr.mounts)".into(),
                        ),
                    ),
                    Some(host) => {
                        let root = self.media_root(&host).unwrap_or(&host);
                        let state = inspect_segment(root, &host, euid);
                        (host, state)
                    }
                    None => (
                        r.path.clone(),
                        SegmentState::Missing("not under any NVR mount (nvr.mounts)".into()),
                    ),
                };
                SegmentFile {
                    path,
                    start_time: r.start_time,
                    end_time: r.end_time,
                    state,
                }
            })
            .collect()
    }

    /// Whether a file of this host is in the NVR's media: under
    /// `nvr.media_dir`, or under a mount of a folder of the NVR's
    /// `/media/frigate` (recordings on their own disk). A row pointing
    /// anywhere else is not read, whatever the database says.
    fn in_media(&self, host: &std::path::Path) -> bool {
        self.media_root(host).is_some()
    }

    /// The folder of this host a media file is read beneath: the longest of
    /// `nvr.media_dir` and the mounts of the NVR's media folders that holds
    /// it. A symlink inside may point around in that folder, never out.
    fn media_root(&self, host: &std::path::Path) -> Option<&std::path::Path> {
        use std::path::Component;
        if host.components().any(|c| matches!(c, Component::ParentDir)) {
            return None;
        }
        let nvr = &self.loaded.config.nvr;
        let mounts = nvr
            .mounts
            .entries()
            .iter()
            .filter(|m| m.nvr.starts_with(crate::nvr::mounts::NVR_MEDIA_DIR))
            .map(|m| m.host.as_path());
        std::iter::once(nvr.media_dir.as_path())
            .chain(mounts)
            .filter(|root| host.starts_with(root))
            .max_by_key(|root| root.components().count())
    }

    /// The folder a file of a clip plan is read beneath: its media root, or
    /// the import dir for a file replayed from there.
    pub(super) fn read_root(&self, host: &std::path::Path) -> Option<&std::path::Path> {
        let import_dir = self.loaded.config.session.import_dir.as_path();
        self.media_root(host)
            .or_else(|| host.starts_with(import_dir).then_some(import_dir))
    }

    /// Fails with `no_space` unless the replay dir's file system holds `need` plus a margin.
    pub(super) fn check_space(&self, need: u64) -> Result<(), RequestError> {
        let dir = self.loaded.config.session.replay_dir.clone();
        fs::create_dir_all(&dir)
            .map_err(|e| RequestError::io(format!("cannot create {}", dir.display()), e))?;
        let stat = nix::sys::statvfs::statvfs(&dir).map_err(|e| {
            RequestError::io(
                format!("cannot check free space of {}", dir.display()),
                e.into(),
            )
        })?;
        let available =
            (stat.blocks_available() as u64).saturating_mul(stat.fragment_size() as u64);
        let want = clip::space_needed(need);
        if available < want {
            return Err(RequestError::NoSpace {
                dir,
                need: want,
                available,
            });
        }
        Ok(())
    }

    /// The clip plan of a session that starts over after a crash.
    pub(super) fn replan(&self, session: &Session) -> Result<ClipPlan, String> {
        match &session.source {
            ClipSource::Recordings => {
                let recordings = self
                    .open_db()
                    .and_then(|db| {
                        db.recordings(&session.source_camera, session.start_time, session.end_time)
                    })
                    .map_err(|e| format!("NVR database: {e}"))?;
                let files = self.segment_files(&recordings);
                let usable = clip::usable_segments(&session.source_camera, &files);
                Ok(clip::plan(
                    &usable.segments,
                    session.start_time,
                    session.end_time,
                ))
            }
            ClipSource::Export { video_path, .. }
            | ClipSource::File {
                path: video_path, ..
            } => Ok(clip::plan_whole_file(
                video_path,
                session.end_time - session.start_time,
            )),
        }
    }
}

/// Where an opened file is inside the folder `dir` is open on, as the
/// kernel resolved it (a path relative to that folder, no link in it).
fn resolved_beneath(file: &fs::File, dir: &fs::File) -> Option<std::path::PathBuf> {
    use std::os::fd::AsRawFd;
    let at = |fd: i32| fs::read_link(format!("/proc/self/fd/{fd}")).ok();
    let path = at(file.as_raw_fd())?;
    let dir = at(dir.as_raw_fd())?;
    path.strip_prefix(&dir)
        .ok()
        .filter(|inside| !inside.as_os_str().is_empty())
        .map(std::path::Path::to_path_buf)
}

/// What the file of one recording segment is: missing (or not a regular
/// file, or a symlink), empty, or there with the video parameters its MP4
/// header tells (unreadable headers are left to ffmpeg and the duration
/// check). Opened once, never stat-then-open: a path swapped for a FIFO
/// cannot block the loop.
fn inspect_segment(root: &std::path::Path, path: &std::path::Path, euid: u32) -> SegmentState {
    use crate::nvr::media::SegmentError;
    match open_segment(root, path) {
        Ok((file, size)) => {
            let (params, duration) = mp4::video_params_and_duration(&file).unwrap_or((None, None));
            SegmentState::Present {
                size,
                params,
                duration,
                facts: file_facts(&file, euid).ok(),
            }
        }
        Err(SegmentError::Empty { .. }) => SegmentState::Empty,
        Err(e) => SegmentState::Missing(e.to_string()),
    }
}

/// Room the playlist of `plan` takes, at most (an entry is < 64 bytes).
fn playlist_size(plan: &ClipPlan) -> u64 {
    (plan.entries.len() as u64 + 1) * 64
}
