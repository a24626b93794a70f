//! The client's error type.

/// What went wrong talking to a member.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An endpoint is not a valid `host:port` or `http://host:port` address.
    #[error("invalid endpoint {endpoint:?}: {reason}")]
    InvalidEndpoint {
        /// The endpoint as given.
        endpoint: String,
        /// Why it was rejected.
        reason: String,
    },
    /// No endpoint accepted a connection within the dial timeout.
    #[error("cannot connect to any of {endpoints:?}: {reason}")]
    Connect {
        /// Every endpoint that was tried, in order.
        endpoints: Vec<String>,
        /// The last connection error.
        reason: String,
    },
    /// The member answered with a gRPC status other than OK.
    ///
    /// Displayed as etcd's Go client shows it: an etcd server error (a message starting
    /// with `etcdserver: `) prints as the bare message, anything else as
    /// `rpc error: code = <Code> desc = <message>`.
    #[error("{}", rpc_display(*.code, .message))]
    Rpc {
        /// The gRPC status code.
        code: tonic::Code,
        /// The status message, e.g. "etcdserver: mvcc: required revision has been compacted".
        message: String,
    },
    /// A bidirectional stream (watch, lease keep-alive) has ended, so nothing more can
    /// be sent on it; its last response or error says why.
    #[error("stream closed")]
    StreamClosed,
    /// A concurrency recipe (lock, election) failed for a reason of its own, e.g.
    /// "election: not leader" or "lost watcher waiting for delete".
    #[error("{0}")]
    Recipe(String),
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl From<tonic::Status> for Error {
    fn from(status: tonic::Status) -> Self {
        Error::Rpc { code: go_code(&status), message: status.message().to_owned() }
    }
}

/// The code grpc-go would have given: a connection that breaks under a call (the member
/// went away) is `Unavailable` there, the code etcd's clients retry on; tonic reports it
/// as `Unknown` with an HTTP/2 error that has no reset reason.
fn go_code(status: &tonic::Status) -> tonic::Code {
    if status.code() == tonic::Code::Unknown && status.message().starts_with("h2 protocol error: ") {
        tonic::Code::Unavailable
    } else {
        status.code()
    }
}

impl Error {
    /// The gRPC code of an [`Error::Rpc`], `None` for local errors.
    pub fn code(&self) -> Option<tonic::Code> {
        match self {
            Error::Rpc { code, .. } => Some(*code),
            _ => None,
        }
    }
}

/// etcd's clientv3 turns a status whose message is one of etcd's server errors into that
/// error (printed as the message alone) and leaves any other status as grpc-go prints it.
fn rpc_display(code: tonic::Code, message: &str) -> String {
    if message.starts_with("etcdserver: ") {
        message.to_owned()
    } else {
        format!("rpc error: code = {} desc = {message}", go_code_name(code))
    }
}

/// grpc-go's `codes.Code.String()`; it spells `Canceled` with one l, unlike tonic.
pub fn go_code_name(code: tonic::Code) -> &'static str {
    use tonic::Code;
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "Canceled",
        Code::Unknown => "Unknown",
        Code::InvalidArgument => "InvalidArgument",
        Code::DeadlineExceeded => "DeadlineExceeded",
        Code::NotFound => "NotFound",
        Code::AlreadyExists => "AlreadyExists",
        Code::PermissionDenied => "PermissionDenied",
        Code::ResourceExhausted => "ResourceExhausted",
        Code::FailedPrecondition => "FailedPrecondition",
        Code::Aborted => "Aborted",
        Code::OutOfRange => "OutOfRange",
        Code::Unimplemented => "Unimplemented",
        Code::Internal => "Internal",
        Code::Unavailable => "Unavailable",
        Code::DataLoss => "DataLoss",
        Code::Unauthenticated => "Unauthenticated",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn etcd_server_errors_print_bare() {
        let e = Error::from(tonic::Status::out_of_range("etcdserver: mvcc: required revision has been compacted"));
        assert_eq!(e.to_string(), "etcdserver: mvcc: required revision has been compacted");
        assert_eq!(e.code(), Some(tonic::Code::OutOfRange));
    }

    #[test]
    fn a_broken_connection_is_unavailable() {
        let e = Error::from(tonic::Status::unknown("h2 protocol error: error reading a body from connection"));
        assert_eq!(e.code(), Some(tonic::Code::Unavailable));
        assert_eq!(Error::from(tonic::Status::unknown("other")).code(), Some(tonic::Code::Unknown));
    }

    #[test]
    fn other_statuses_print_like_grpc_go() {
        let e = Error::from(tonic::Status::cancelled("gone"));
        assert_eq!(e.to_string(), "rpc error: code = Canceled desc = gone");
    }
}
