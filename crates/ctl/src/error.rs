//! How a command fails: an etcdctl exit code and the message printed after `Error: `.

use std::fmt;

/// etcdctl's exit codes (`etcdctl/ctlv3/command/error.go`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ExitCode {
    /// 1: the request failed, or anything not covered below.
    Error,
    /// 2: the client could not be created. (Also the status of a Go panic, which
    /// etcdctl hits printing a headerless alarm response with `-w fields`.)
    BadConnection,
    /// 3: malformed txn or watch input on stdin.
    InvalidInput,
    /// 4: a valid flag with an unsupported value (output format, sort order, …).
    BadFeature,
    /// 5: the server canceled the watch.
    Interrupted,
    /// 128: wrong arguments.
    BadArgs,
    /// The exit status of the command `lock` ran, which etcdctl 3.6 exits with
    /// (`getExitCodeFromError`); -1 (killed by a signal) exits 255, as Go's `os.Exit(-1)`.
    Command(i32),
}

impl ExitCode {
    /// The process's exit status.
    pub fn value(self) -> i32 {
        match self {
            ExitCode::Error => 1,
            ExitCode::BadConnection => 2,
            ExitCode::InvalidInput => 3,
            ExitCode::BadFeature => 4,
            ExitCode::Interrupted => 5,
            ExitCode::BadArgs => 128,
            ExitCode::Command(code) => code & 0xff,
        }
    }
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
