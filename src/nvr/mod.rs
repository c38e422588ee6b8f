pub mod config;
pub mod db;
pub mod frigate;
pub mod http;
pub mod media;
pub mod mounts;
