//! update and apply (SPEC §2): one change at a time, only while the session
//! is ready; the session's overrides change only once the publisher took
//! them.

use super::*;

impl Lifecycle {
    /// The ready session an update or apply works on, or why there is none.
    pub(super) fn tunable(&self) -> Result<&Session, RequestErrorKind> {
        match &self.phase {
            Phase::Ready { session } => match self.tuning_for {
                None => Ok(session),
                Some(_) => Err(RequestErrorKind::AlreadyActive(format!(
                    "an update or apply of {} is being carried out",
                    session.replay_camera
                ))),
            },
            _ => match self.session() {
                Some(session) => Err(RequestErrorKind::NotReady(format!(
                    "replay session {} is {}, not ready: settings change once its camera runs",
                    session.replay_camera,
                    self.state().as_str()
                ))),
                None => Err(RequestErrorKind::NotActive),
            },
        }
    }

    /// update: the shell merges, rebuilds, validates and publishes; the
    /// session's overrides change only once that succeeded.
    pub(super) fn update(
        &mut self,
        client: ClientId,
        overrides: Option<serde_json::Value>,
        reset: Vec<String>,
    ) {
        let session = match self.tunable() {
            Ok(session) => session.clone(),
            Err(refusal) => return self.refuse(client, refusal),
        };
        if let Some(value) = &overrides {
            if let Err(e) = overrides::check_shape(value) {
                return self.refuse(client, RequestErrorKind::InvalidParams(e.to_string()));
            }
        }
        if overrides.is_none() && reset.is_empty() {
            return self.refuse(
                client,
                RequestErrorKind::InvalidParams(
                    "update needs overrides or reset paths (nothing to change)".into(),
                ),
            );
        }
        self.tuning_for = Some(client);
        self.act(Action::PublishUpdate(UpdateRequest {
            client,
            source: session.source_camera.clone(),
            replay: session.replay_camera.clone(),
            mode: session.clip_mode,
            detect_size: session.detect_size,
            tuning: session.tuning(),
            overrides,
            reset,
        }));
    }

    pub(super) fn update_published(
        &mut self,
        client: ClientId,
        result: Result<UpdateDone, RequestError>,
    ) {
        if self.tuning_for == Some(client) {
            self.tuning_for = None;
        }
        let Phase::Ready { session } = &mut self.phase else {
            // The session was stopped while the NVR was being told; the
            // stop removes the camera whatever the update did.
            return self.refuse(client, RequestErrorKind::NotActive);
        };
        match result {
            Ok(done) => {
                session.overrides = done.overrides.clone();
                let replay = session.replay_camera.clone();
                self.log(
                    log::Level::Info,
                    format!(
                        "replay camera {replay} updated: {} changed",
                        if done.changed.is_empty() {
                            "nothing".to_string()
                        } else {
                            done.changed.join(", ")
                        }
                    ),
                );
                // Persisted (the overrides changed) before the reply.
                self.reply(
                    client,
                    Reply::Updated(UpdateReply {
                        overrides: done
                            .overrides
                            .unwrap_or_else(|| serde_json::Value::Object(Default::default())),
                        changed: done.changed,
                    }),
                );
            }
            Err(error) => self.refuse(client, RequestErrorKind::from_error(&error)),
        }
    }

    /// apply: the session's overrides, of the sections asked for, written
    /// into the source camera by the publisher.
    pub(super) fn apply(&mut self, client: ClientId, sections: Vec<String>) {
        let session = match self.tunable() {
            Ok(session) => session.clone(),
            Err(refusal) => return self.refuse(client, refusal),
        };
        if let Some(bad) = sections
            .iter()
            .find(|s| !overrides::SECTIONS.contains(&s.as_str()))
        {
            return self.refuse(
                client,
                RequestErrorKind::InvalidParams(format!(
                    "sections: '{}' is not a section overrides can hold ({})",
                    crate::protocol::printable(bad),
                    overrides::SECTIONS.join(", ")
                )),
            );
        }
        let Some(current) = session
            .overrides
            .clone()
            .filter(|o| o.as_object().is_some_and(|m| !m.is_empty()))
        else {
            return self.refuse(
                client,
                RequestErrorKind::InvalidParams(format!(
                    "replay session {} has no overrides to apply",
                    session.replay_camera
                )),
            );
        };
        self.tuning_for = Some(client);
        self.act(Action::ApplyOverrides {
            client,
            source: session.source_camera.clone(),
            overrides: current,
            sections,
        });
    }

    pub(super) fn applied(&mut self, client: ClientId, result: Result<ApplyReply, RequestError>) {
        if self.tuning_for == Some(client) {
            self.tuning_for = None;
        }
        match result {
            Ok(reply) => {
                let source = self
                    .session()
                    .map_or_else(String::new, |s| s.source_camera.clone());
                let keys: Vec<String> = reply
                    .applied
                    .iter()
                    .flat_map(|(section, keys)| keys.keys().map(move |k| format!("{section}.{k}")))
                    .collect();
                self.log(
                    log::Level::Info,
                    format!(
                        "overrides applied to camera {source}: {}{}",
                        keys.join(", "),
                        if reply.restart_needed.is_empty() {
                            String::new()
                        } else {
                            format!(
                                "; {} take effect at the NVR's next restart",
                                reply.restart_needed.join(", ")
                            )
                        }
                    ),
                );
                self.reply(client, Reply::Applied(reply));
            }
            Err(error) => self.refuse(client, RequestErrorKind::from_error(&error)),
        }
    }
}
