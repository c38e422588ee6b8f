//! The log sink, chosen once at start-up: journal, syslog or stderr (SPEC §5).
//! CONTRACT STUB — to be implemented; keep these signatures.

use crate::config::LogTarget;

/// Installs the `log` facade's sink. Call once.
pub fn init(_target: LogTarget, _level: log::LevelFilter) {
    todo!()
}

/// Changes the level after a reload.
pub fn set_level(level: log::LevelFilter) {
    log::set_max_level(level);
}
