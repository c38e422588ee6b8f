//! What `replayctl` prints for a person: status, summaries, job lines,
//! events and the progress bar. Pure: the clock, the zone and the terminal
//! width are passed in.

use super::overrides;
use super::time::{format_duration, format_local, format_relative, Zone};
use crate::protocol::{
    ApplyReply, CameraAction, Event, Job, JobStatus, Pong, SessionState, SessionView, StatusReply,
    Summary, UpdateReply, PROTOCOL_VERSION, STOPPED_JOB_ID,
};
use serde_json::Value;
use std::fmt::Write as _;

/// Width of the label column of `status`.
const LABEL: usize = 13;

/// Makes daemon-supplied text (camera names, ffmpeg's stderr in error
/// messages) safe to print on a terminal: control characters are escaped so
/// that no escape sequence reaches it; newlines survive only when asked.
pub fn clean(s: &str, keep_newlines: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if (c == '\n' && keep_newlines) || c == '\t' || !c.is_control() {
            out.push(c);
        } else {
            out.extend(c.escape_default());
        }
    }
    out
}

fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// Progress percent clamped to 0–100; a missing or NaN value is 0.
fn percent(job: &Job) -> f64 {
    match job.results.progress_percent {
        Some(p) if p.is_finite() => p.clamp(0.0, 100.0),
        _ => 0.0,
    }
}

fn status_word(status: JobStatus) -> &'static str {
    match status {
        JobStatus::Queued => "queued",
        JobStatus::Running => "running",
        JobStatus::Success => "success",
        JobStatus::Failed => "failed",
        JobStatus::Cancelled => "cancelled",
    }
}

/// What the job is doing: its step, else its status.
fn step_label(job: &Job) -> String {
    match &job.results.current_step {
        Some(step) if !step.is_empty() => clean(step, false),
        _ => status_word(job.status).into(),
    }
}

/// One line about a job, without its error message:
/// `1795-ab running: preparing_clip 42%`, `stopped: session of _replay_front stopped`.
pub fn job_summary(job: &Job) -> String {
    let id = clean(&job.id, false);
    let camera = clean(&job.results.replay_camera_name, false);
    match job.status {
        JobStatus::Queued => format!("{id} queued for {camera}"),
        JobStatus::Running => {
            let pct = percent(job).floor();
            match &job.results.current_step {
                Some(step) if !step.is_empty() => {
                    format!("{id} running: {} {pct}%", clean(step, false))
                }
                _ => format!("{id} running: {pct}%"),
            }
        }
        JobStatus::Success => format!("{id} success: {camera} published"),
        JobStatus::Failed => format!("{id} failed ({camera})"),
        JobStatus::Cancelled if job.id == STOPPED_JOB_ID => {
            format!("{id}: session of {camera} stopped")
        }
        JobStatus::Cancelled => format!("{id} cancelled ({camera})"),
    }
}

/// A job's error message, if it has one worth showing.
pub fn job_error(job: &Job) -> Option<String> {
    job.error_message
        .as_deref()
        .map(str::trim)
        .filter(|m| !m.is_empty())
        .map(|m| clean(m, true))
}

/// Indents every line after the first by `by` spaces, for multi-line values.
fn indent_rest(s: &str, by: usize) -> String {
    s.replace('\n', &format!("\n{}", " ".repeat(by)))
}

/// A redrawable bar that fits in `width` columns:
/// `[##########..........]  50%  preparing_clip`.
pub fn progress_bar(job: &Job, width: usize) -> String {
    let pct = percent(job);
    let mut label = step_label(job);
    let tail_len = |label: &str| 7 + label.chars().count();
    let bar_len = width.saturating_sub(2 + tail_len(&label)).clamp(10, 40);
    let room = width.saturating_sub(2 + bar_len + 7);
    if label.chars().count() > room {
        label = label.chars().take(room).collect();
    }
    let filled = ((pct / 100.0) * bar_len as f64).round() as usize;
    let filled = filled.min(bar_len);
    format!(
        "[{}{}] {:>3}%  {label}",
        "#".repeat(filled),
        ".".repeat(bar_len - filled),
        pct.floor() as u32
    )
    .trim_end()
    .to_string()
}

/// Decides which job states deserve a line of their own when the output is
/// not a terminal (a log, a pipe): each change of status or step, and each
/// further 10 % of progress, so that a long clip writes ~10 lines, not one
/// per second.
#[derive(Debug, Default)]
pub struct StepLog {
    last: Option<(JobStatus, Option<String>, u32)>,
}

impl StepLog {
    pub fn should_print(&mut self, job: &Job) -> bool {
        let bucket = (percent(job) / 10.0).floor() as u32;
        let key = (job.status, job.results.current_step.clone(), bucket);
        let print = match &self.last {
            None => true,
            Some((status, step, last_bucket)) => {
                *status != key.0 || *step != key.1 || bucket > *last_bucket
            }
        };
        if print {
            self.last = Some(key);
        }
        print
    }
}

fn field(out: &mut String, label: &str, value: &str) {
    let _ = writeln!(out, "{label:<LABEL$}{}", indent_rest(value, LABEL));
}

fn state_words(state: SessionState) -> &'static str {
    match state {
        SessionState::Idle => "idle",
        SessionState::PreparingClip => "preparing clip",
        SessionState::StartingCamera => "starting camera",
        SessionState::Ready => "ready",
    }
}

/// `1.2 GiB`: binary units, one decimal below 10.
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 7] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if value < 10.0 {
        format!("{value:.1} {}", UNITS[unit])
    } else {
        format!("{value:.0} {}", UNITS[unit])
    }
}

/// `4x`, `0.25x`.
fn speed_text(speed: f64) -> String {
    if speed == 1.0 {
        "1x (real time)".into()
    } else {
        format!("{speed}x (detection sees {speed} times the camera's frames per second)")
    }
}

/// Where the footage comes from: `recordings`, `export ID`, `file NAME`.
fn source_text(s: &SessionView) -> Option<String> {
    let source = s.source.as_ref()?;
    Some(match source.kind.as_str() {
        "export" => match &source.export_id {
            Some(id) => format!("export {}", clean(id, false)),
            None => "export".into(),
        },
        "file" => match &source.path {
            Some(path) => format!("file {}", clean(path, false)),
            None => "file".into(),
        },
        other => clean(other, false),
    })
}

fn is_file_source(s: &SessionView) -> bool {
    s.source.as_ref().is_some_and(|src| src.kind == "file")
}

/// Overrides one per line (`motion.threshold: 30`), or `None` for none.
fn overrides_lines(value: Option<&Value>) -> Option<String> {
    let lines = overrides::leaf_lines(value?);
    if lines.is_empty() {
        return None;
    }
    Some(clean(&lines.join("\n"), true))
}

/// `status` for a person; `now` (Unix seconds) makes "3m ago" / "in 11h".
pub fn status_text(reply: &StatusReply, now: f64, zone: &dyn Zone) -> String {
    let mut out = String::new();
    let s = &reply.session;
    let at = |t: f64| format!("{} ({})", format_local(t, zone), format_relative(t, now));
    if !s.active {
        field(&mut out, "session:", "none active");
    } else {
        field(&mut out, "session:", state_words(s.state));
        if let Some(replay) = &s.replay_camera {
            let camera = match &s.source_camera {
                Some(src) => format!("{} (replaying {})", clean(replay, false), clean(src, false)),
                None => clean(replay, false),
            };
            field(&mut out, "camera:", &camera);
        }
        if let Some(source) = source_text(s) {
            field(&mut out, "source:", &source);
        }
        if let (Some(from), Some(to)) = (s.start_time, s.end_time) {
            // A file's range is seconds within it, not wall-clock times.
            let range = if is_file_source(s) {
                format!(
                    "{} to {} of the file ({})",
                    format_duration(from),
                    format_duration(to),
                    format_duration(to - from)
                )
            } else {
                format!(
                    "{} to {} ({})",
                    format_local(from, zone),
                    format_local(to, zone),
                    format_duration(to - from)
                )
            };
            field(&mut out, "range:", &range);
        }
        if let Some(speed) = s.speed {
            field(&mut out, "speed:", &speed_text(speed));
        }
        if let Some(t) = s.started_at {
            field(&mut out, "started:", &at(t));
        }
        if let Some(t) = s.auto_stop_at {
            field(&mut out, "auto-stop:", &at(t));
        }
        if let Some(clip) = &s.clip_path {
            field(&mut out, "clip:", &clean(clip, false));
        }
        if let Some(mode) = &s.clip_mode {
            let mut text = clean(mode, false);
            if let Some(reason) = s.clip_mode_reason.as_deref().filter(|r| !r.is_empty()) {
                let _ = write!(text, " ({})", clean(reason, false));
            }
            field(&mut out, "clip mode:", &text);
        }
        if let Some(bytes) = s.linked_bytes {
            field(
                &mut out,
                "linked:",
                &format!("{} of footage held by links", human_bytes(bytes)),
            );
        }
        if let Some(lines) = overrides_lines(s.overrides.as_ref()) {
            field(&mut out, "overrides:", &lines);
        }
        if let Some(url) = &s.view_url {
            field(&mut out, "watch:", &clean(url, false));
        }
        for warning in &s.warnings {
            field(&mut out, "warning:", &clean(warning, false));
        }
    }
    if let Some(job) = &reply.job {
        let mut line = job_summary(job);
        if job.status.is_terminal() {
            if let Some(end) = job.end_time {
                let _ = write!(line, ", ended {}", format_relative(end, now));
            }
        }
        field(&mut out, if s.active { "job:" } else { "last job:" }, &line);
        if let Some(err) = job_error(job) {
            field(&mut out, "error:", &err);
        }
    }
    if let Some(summary) = &reply.last_summary {
        field(&mut out, "last replay:", &summary_line(summary));
    }
    if !reply.pending_removals.is_empty() {
        let names: Vec<String> = reply
            .pending_removals
            .iter()
            .map(|n| clean(n, false))
            .collect();
        field(
            &mut out,
            "pending:",
            &format!("removal from the NVR of {} (retrying)", names.join(", ")),
        );
    }
    out
}

/// `person 11, car 3`: most frequent label first.
fn labels(summary: &Summary) -> String {
    let mut by: Vec<(&String, &u64)> = summary.events_by_label.iter().collect();
    by.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    by.iter()
        .map(|(label, n)| format!("{} {n}", clean(label, false)))
        .collect::<Vec<_>>()
        .join(", ")
}

fn events_phrase(summary: &Summary) -> String {
    let mut s = plural(summary.events, "event", "events");
    if !summary.events_by_label.is_empty() {
        let _ = write!(s, " ({})", labels(summary));
    }
    s
}

fn reviews_phrase(summary: &Summary) -> String {
    format!(
        "{}, {}",
        plural(summary.review_segments.alert, "alert", "alerts"),
        plural(summary.review_segments.detection, "detection", "detections")
    )
}

/// The summary of a stopped replay on one line (status, watch).
pub fn summary_line(summary: &Summary) -> String {
    format!(
        "{} ran {}: {}; {}; removed {}, {}",
        clean(&summary.replay_camera, false),
        format_duration(summary.duration_s),
        events_phrase(summary),
        reviews_phrase(summary),
        plural(summary.files_removed, "file", "files"),
        plural(summary.rows_removed, "row", "rows"),
    )
}

/// The summary printed by `stop`.
pub fn summary_text(summary: &Summary) -> String {
    let mut out = String::new();
    field(&mut out, "stopped:", &clean(&summary.replay_camera, false));
    field(&mut out, "ran:", &format_duration(summary.duration_s));
    field(&mut out, "events:", &events_phrase(summary));
    field(&mut out, "reviews:", &reviews_phrase(summary));
    let removed = format!(
        "{}, {} from the database",
        plural(summary.files_removed, "file", "files"),
        plural(summary.rows_removed, "row", "rows")
    );
    field(&mut out, "removed:", &removed);
    if let Some(lines) = overrides_lines(summary.overrides.as_ref()) {
        field(&mut out, "overrides:", &lines);
    }
    out
}

/// One event for `watch`, without a timestamp.
pub fn event_line(event: &Event) -> String {
    match event {
        Event::JobState { job } => {
            let mut line = format!("job {}", job_summary(job));
            if let Some(err) = job_error(job) {
                let _ = write!(line, ": {}", indent_rest(&err, 4));
            }
            line
        }
        Event::Camera {
            action,
            camera,
            sections,
            ..
        } => {
            let what = match action {
                CameraAction::Add => "published",
                CameraAction::Update => "updated",
                CameraAction::Remove => "removed",
            };
            let mut line = format!("camera {} {what}", clean(camera, false));
            if let Some(sections) = sections.as_ref().filter(|s| !s.is_empty()) {
                let _ = write!(line, " (sections {})", clean(&sections.join(", "), false));
            }
            line
        }
        Event::Summary { summary } => format!("summary {}", summary_line(summary)),
    }
}

/// Block YAML indented by `by` spaces, made safe for a terminal.
fn yaml_block(value: &Value, by: usize) -> String {
    let pad = " ".repeat(by);
    overrides::to_yaml(value)
        .lines()
        .map(|line| format!("{pad}{}", clean(line, false)))
        .collect::<Vec<_>>()
        .join("\n")
}

/// What `set` prints: the sections that changed, and the session's
/// overrides now.
pub fn update_text(reply: &UpdateReply) -> String {
    let mut out = String::new();
    if reply.changed.is_empty() {
        out.push_str("changed: nothing (the replay camera already ran these settings)\n");
    } else {
        let _ = writeln!(out, "changed: {}", clean(&reply.changed.join(", "), false));
    }
    if overrides::is_empty(Some(&reply.overrides)) {
        out.push_str("overrides now: none (the source camera's own settings)\n");
    } else {
        let _ = writeln!(out, "overrides now:\n{}", yaml_block(&reply.overrides, 2));
    }
    out
}

/// A value before or after `apply`: compact JSON, `(unset)` for null.
fn applied_value(value: &Value) -> String {
    match value {
        Value::Null => "(unset)".into(),
        other => clean(&overrides::compact(other), false),
    }
}

/// What `apply` prints: per section, per key, `before → after`, then what
/// the NVR only takes at its next restart.
pub fn apply_text(reply: &ApplyReply) -> String {
    let mut out = String::new();
    let mut any = false;
    for (section, keys) in &reply.applied {
        if keys.is_empty() {
            continue;
        }
        any = true;
        let _ = writeln!(out, "{}:", clean(section, false));
        for (key, change) in keys {
            let _ = writeln!(
                out,
                "  {}: {} \u{2192} {}",
                clean(key, false),
                applied_value(&change.before),
                applied_value(&change.after)
            );
        }
    }
    if !any {
        out.push_str("nothing applied (no overrides in those sections)\n");
    }
    if reply.restart_needed.is_empty() {
        out.push_str("restart needed: no (the NVR took the changes live)\n");
    } else {
        let _ = writeln!(
            out,
            "restart needed: {} (the NVR takes them at its next restart)",
            clean(&reply.restart_needed.join(", "), false)
        );
    }
    out
}

/// What `apply` shows before it asks: the YAML it would write, under the
/// source camera.
pub fn apply_preview(source_camera: &str, overrides: &Value) -> String {
    clean(&overrides::paste_yaml(source_camera, overrides), true)
}

/// `ping` for a person.
pub fn pong_text(pong: &Pong) -> String {
    let mut s = format!(
        "replayd {}, protocol {}",
        clean(&pong.version, false),
        pong.protocol
    );
    if let Some(publisher) = &pong.publisher {
        let _ = write!(s, ", publisher {}", clean(publisher, false));
    }
    if pong.protocol != PROTOCOL_VERSION {
        let _ = write!(s, " (this replayctl speaks protocol {PROTOCOL_VERSION})");
    }
    s
}

#[cfg(test)]
mod tests;
