//! The tuning loop's shell (SPEC §2 "update", "apply"): a live update of the
//! replay camera and writing the overrides into the source camera, through
//! the configured publisher.

use serde_json::Value;

use crate::replay::errors::RequestError;
use crate::replay::lifecycle::{ClientId, Input};
use crate::replay::session::Tuning;

use super::Daemon;

impl Daemon {
    /// update: merge, rebuild, validate, then publish → [`Input::UpdatePublished`].
    #[allow(clippy::too_many_arguments)]
    pub(super) fn publish_update(
        &mut self,
        client: ClientId,
        source: &str,
        replay: &str,
        detect_size: Option<(u32, u32)>,
        tuning: &Tuning,
        overrides: Option<Value>,
        reset: &[String],
    ) -> Option<Input> {
        let _ = (source, replay, detect_size, tuning, overrides, reset);
        Some(Input::UpdatePublished {
            client,
            result: Err(RequestError::Unsupported("update is not built yet".into())),
        })
    }

    /// apply: the overrides of `sections` into the source camera → [`Input::Applied`].
    pub(super) fn apply_overrides(
        &mut self,
        client: ClientId,
        source: &str,
        overrides: &Value,
        sections: &[String],
    ) -> Option<Input> {
        let _ = (source, overrides, sections);
        Some(Input::Applied {
            client,
            result: Err(RequestError::Unsupported("apply is not built yet".into())),
        })
    }
}
