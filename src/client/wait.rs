//! Following a just-accepted start on the event stream until its replay
//! camera is published or its job ends. Pure: events in, verdicts out.
//!
//! The subscription is opened before `start` is sent, so the stream may begin
//! with events of an earlier session — even one of the same camera that was
//! being stopped meanwhile. Events are therefore tied to this start by its
//! job id; name-based events (camera add/remove, the synthetic `stopped`
//! job) count only after a state of this job has been seen, which places
//! them after the start in the daemon's single ordered stream.

use crate::protocol::{CameraAction, Event, Job, JobStatus, StartReply, STOPPED_JOB_ID};

/// What an event means for the start being followed.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// Not about this start.
    Unrelated,
    /// About this start, which is still under way.
    Progress,
    /// The replay camera is published.
    Ready,
    /// The job failed or was cancelled; the message says why.
    Failed(String),
}

#[derive(Debug)]
pub struct StartWait {
    replay_camera: String,
    job_id: String,
    job_seen: bool,
}

impl StartWait {
    pub fn new(reply: &StartReply) -> Self {
        StartWait {
            replay_camera: reply.replay_camera.clone(),
            job_id: reply.job_id.clone(),
            job_seen: false,
        }
    }

    /// This start's job, if the event is one of its states.
    pub fn own_job<'a>(&self, event: &'a Event) -> Option<&'a Job> {
        match event {
            Event::JobState { job } if job.id == self.job_id => Some(job),
            _ => None,
        }
    }

    pub fn on_event(&mut self, event: &Event) -> Verdict {
        if let Some(job) = self.own_job(event) {
            self.job_seen = true;
            let message = || {
                job.error_message
                    .as_deref()
                    .map(str::trim)
                    .filter(|m| !m.is_empty())
                    .map(str::to_string)
            };
            return match job.status {
                JobStatus::Queued | JobStatus::Running => Verdict::Progress,
                JobStatus::Success => Verdict::Ready,
                JobStatus::Failed => Verdict::Failed(format!(
                    "job {} failed: {}",
                    self.job_id,
                    message().unwrap_or_else(|| "no reason given".into())
                )),
                JobStatus::Cancelled => Verdict::Failed(format!(
                    "job {} cancelled: {}",
                    self.job_id,
                    message().unwrap_or_else(|| "the session was stopped".into())
                )),
            };
        }
        if !self.job_seen {
            return Verdict::Unrelated;
        }
        match event {
            Event::Camera { action, camera, .. } if *camera == self.replay_camera => match action {
                CameraAction::Add => Verdict::Ready,
                CameraAction::Update => Verdict::Unrelated,
                CameraAction::Remove => Verdict::Failed(format!(
                    "{} was removed before it was ready (the session was stopped)",
                    self.replay_camera
                )),
            },
            Event::JobState { job }
                if job.id == STOPPED_JOB_ID
                    && job.results.replay_camera_name == self.replay_camera =>
            {
                Verdict::Failed(format!(
                    "job {} cancelled: the session was stopped",
                    self.job_id
                ))
            }
            _ => Verdict::Unrelated,
        }
    }
}

#[cfg(test)]
mod tests;
