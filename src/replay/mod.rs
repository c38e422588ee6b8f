pub mod camera;
pub mod clip;
pub mod errors;
pub mod ledger;
pub mod lifecycle;
pub mod mp4;
pub mod names;
pub mod session;
