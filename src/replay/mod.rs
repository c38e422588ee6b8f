pub mod camera;
pub mod cleanup;
pub mod clip;
pub mod session;
