//! Why a request was refused, and the one place any refusal — a decode
//! error, an over-long line or a lifecycle rule — becomes a protocol error.

use std::io;
use std::path::PathBuf;

use crate::nvr::db::DbError;
use crate::protocol::{ErrorBody, ErrorCode};

#[derive(Debug, thiserror::Error)]
pub enum RequestError {
    /// The line was not a request (not JSON, unknown cmd or field, bad types).
    #[error("{}", .0.message)]
    Decode(ErrorBody),
    #[error("request line longer than {0} bytes")]
    TooLong(usize),
    #[error("{0}")]
    InvalidParams(String),
    #[error("{0}")]
    NotFound(String),
    #[error("no recordings of camera '{camera}' overlap {}", crate::replay::session::describe_range(*.start, *.end))]
    NoRecordings {
        camera: String,
        start: f64,
        end: f64,
    },
    #[error("not enough space in {}: the clip needs {need} bytes, {available} are free", dir.display())]
    NoSpace {
        dir: PathBuf,
        need: u64,
        available: u64,
    },
    #[error("a replay session is already active ({0})")]
    AlreadyActive(String),
    #[error("no replay session is active")]
    NotActive,
    #[error("permission denied: only root and members of group '{0}' may start and stop")]
    PermissionDenied(String),
    #[error("{0}")]
    Unsupported(String),
    /// The NVR's API could not be reached, timed out, or refused the credentials.
    #[error("{0}")]
    NvrUnavailable(String),
    /// The NVR answered and rejected the camera: its message.
    #[error("{0}")]
    NvrRefused(String),
    #[error("NVR database: {0}")]
    Db(#[from] DbError),
    #[error("{what}: {source}")]
    Io { what: String, source: io::Error },
}

impl RequestError {
    pub fn io(what: impl Into<String>, source: io::Error) -> Self {
        RequestError::Io {
            what: what.into(),
            source,
        }
    }
}

/// Every request error reaches the wire through here.
pub fn error_body(error: &RequestError) -> ErrorBody {
    let code = match error {
        RequestError::Decode(body) => return body.clone(),
        RequestError::TooLong(_) => ErrorCode::InvalidRequest,
        RequestError::InvalidParams(_) => ErrorCode::InvalidParams,
        RequestError::NotFound(_) => ErrorCode::NotFound,
        RequestError::NoRecordings { .. } => ErrorCode::NoRecordings,
        RequestError::NoSpace { .. } => ErrorCode::NoSpace,
        RequestError::AlreadyActive(_) => ErrorCode::AlreadyActive,
        RequestError::NotActive => ErrorCode::NotActive,
        RequestError::PermissionDenied(_) => ErrorCode::PermissionDenied,
        RequestError::Unsupported(_) => ErrorCode::Unsupported,
        RequestError::NvrUnavailable(_) => ErrorCode::NvrUnavailable,
        RequestError::NvrRefused(_) => ErrorCode::NvrRefused,
        RequestError::Db(_) | RequestError::Io { .. } => ErrorCode::Internal,
    };
    ErrorBody::new(code, error_chain(error))
}

/// The error and its sources, so "internal" still says what failed.
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        source = cause.source();
    }
    message
}
