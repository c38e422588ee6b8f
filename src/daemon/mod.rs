//! The daemon: event loop and IO shell.
