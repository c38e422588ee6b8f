//! replayd: debug replay sessions for a Frigate-compatible NVR.

pub mod civil;
pub mod client;
pub mod config;
pub mod daemon;
pub mod duration;
pub mod log;
pub mod nvr;
pub mod protocol;
pub mod replay;
