//! How a command fails: an etcdctl exit code and the message printed after `Error: `.

use std::fmt;

/// etcdctl's exit codes (`etcdctl/ctlv3/command/error.go`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ExitCode {
    /// 1: the request failed, or anything not covered below.
    Error = 1,
    /// 2: the client could not be created. (Also the status of a Go panic, which
    /// etcdctl 3.4 hits printing an alarm response with `-w fields`.)
    BadConnection = 2,
    /// 3: malformed txn or watch input on stdin.
    InvalidInput = 3,
    /// 4: a valid flag with an unsupported value (output format, sort order, …).
    BadFeature = 4,
    /// 5: the server canceled the watch.
    Interrupted = 5,
    /// 128: wrong arguments.
    BadArgs = 128,
}

/// A failed command: printed as `Error: <message>` on stderr, then the process exits
/// with `code`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CtlError {
    /// The exit code.
    pub code: ExitCode,
    /// The text after `Error: `.
    pub message: String,
    /// The command has already said what went wrong (etcdctl's bare `os.Exit`): exit
    /// with `code` and print nothing.
    pub quiet: bool,
}

impl CtlError {
    /// Exit 1 with `message`.
    pub fn error(message: impl Into<String>) -> Self {
        Self::new(ExitCode::Error, message)
    }

    /// Exit 128 with `message`.
    pub fn bad_args(message: impl Into<String>) -> Self {
        Self::new(ExitCode::BadArgs, message)
    }

    /// Exit 4 with `message`.
    pub fn bad_feature(message: impl Into<String>) -> Self {
        Self::new(ExitCode::BadFeature, message)
    }

    /// Exit 3 with `message`.
    pub fn invalid_input(message: impl Into<String>) -> Self {
        Self::new(ExitCode::InvalidInput, message)
    }

    /// Any code with `message`.
    pub fn new(code: ExitCode, message: impl Into<String>) -> Self {
        Self { code, message: message.into(), quiet: false }
    }

    /// Exit with `code` without printing anything more.
    pub fn quiet(code: ExitCode) -> Self {
        Self { code, message: String::new(), quiet: true }
    }
}

impl fmt::Display for CtlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Error: {}", self.message)
    }
}

impl std::error::Error for CtlError {}

impl From<client::Error> for CtlError {
    fn from(e: client::Error) -> Self {
        CtlError::error(e.to_string())
    }
}

/// `Result` with [`CtlError`].
pub type Result<T, E = CtlError> = std::result::Result<T, E>;
