pub mod camera;
pub mod cleanup;
pub mod clip;
pub mod ledger;
pub mod mp4;
pub mod session;
