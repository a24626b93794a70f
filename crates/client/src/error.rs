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
    /// The member logged us in with a token that cannot travel as gRPC metadata.
    #[error("the auth token {0:?} is not valid gRPC metadata")]
    BadToken(String),
    /// The TLS files could not be used; nothing was dialed.
    #[error(transparent)]
    Tls(#[from] TlsError),
}

/// Why the TLS settings ([`crate::TlsOptions`]) could not be turned into a
/// configuration. Displayed in the words of etcd's Go client (`transport.TLSInfo`,
/// `crypto/tls`, `crypto/x509`, `os`), which etcdctl prints after `Error: `.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// A certificate without a key or a key without a certificate.
    #[error("KeyFile and CertFile must both be present[key: {key}, cert: {cert}]")]
    CertWithoutKey {
        /// The key file as given ("" when missing).
        key: String,
        /// The certificate file as given ("" when missing).
        cert: String,
    },
    /// A file could not be opened (`op` "open") or read (`op` "read").
    #[error("{op} {path}: {}", go_io_error(.source))]
    Read {
        /// "open" or "read", as Go's `os.PathError` says.
        op: &'static str,
        /// The file as given.
        path: String,
        /// What the system said.
        source: std::io::Error,
    },
    /// The certificate file has no PEM block at all.
    #[error("tls: failed to find any PEM data in certificate input")]
    NoCertificatePem,
    /// The certificate file has only a private key: the two files were swapped.
    #[error(
        "tls: failed to find certificate PEM data in certificate input, but did find a private key; \
         PEM inputs may have been switched"
    )]
    KeyInCertificateInput,
    /// The certificate file has PEM blocks, none of them a certificate.
    #[error(
        "tls: failed to find \"CERTIFICATE\" PEM block in certificate input after skipping PEM blocks of \
         the following types: [{}]", .skipped.join(" ")
    )]
    NoCertificateBlock {
        /// The labels of the blocks found instead.
        skipped: Vec<String>,
    },
    /// The key file has no PEM block at all.
    #[error("tls: failed to find any PEM data in key input")]
    NoKeyPem,
    /// The key file has only a certificate.
    #[error("tls: found a certificate rather than a key in the PEM for the private key")]
    CertificateInKeyInput,
    /// The key file has PEM blocks, none of them a private key.
    #[error(
        "tls: failed to find PEM block with type ending in \"PRIVATE KEY\" in key input after skipping PEM \
         blocks of the following types: [{}]", .skipped.join(" ")
    )]
    NoKeyBlock {
        /// The labels of the blocks found instead.
        skipped: Vec<String>,
    },
    /// The private key is not a PKCS#1, PKCS#8 or SEC1 key rustls can use.
    #[error("tls: failed to parse private key")]
    BadPrivateKey,
    /// The private key is not the one of the certificate.
    #[error("tls: private key does not match public key")]
    KeyMismatch,
    /// A PEM block that should hold a certificate does not parse as one. Go's parser
    /// fails on a private key at the inner (tbs) sequence, and so says this one.
    #[error("x509: malformed {}certificate", if *.tbs { "tbs " } else { "" })]
    MalformedCertificate {
        /// The block looked like a key (its outer DER sequence is not a certificate's).
        tbs: bool,
    },
    /// rustls refused the configuration for another reason.
    #[error("tls: {0}")]
    Rustls(rustls::Error),
}

/// Go's text for an I/O error: the system's message in lower case, without Rust's
/// " (os error N)".
fn go_io_error(e: &std::io::Error) -> String {
    let text = e.to_string();
    let text = match text.find(" (os error ") {
        Some(i) => &text[..i],
        None => &text,
    };
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
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
    fn tls_errors_print_like_go() {
        let missing = std::fs::File::open("/nonexistent/ca.pem").expect_err("no such file");
        let e = TlsError::Read { op: "open", path: "/nonexistent/ca.pem".into(), source: missing };
        assert_eq!(e.to_string(), "open /nonexistent/ca.pem: no such file or directory");
        let e = TlsError::CertWithoutKey { key: String::new(), cert: "c.pem".into() };
        assert_eq!(e.to_string(), "KeyFile and CertFile must both be present[key: , cert: c.pem]");
        let e = TlsError::NoCertificateBlock { skipped: vec!["PUBLIC KEY".into(), "X509 CRL".into()] };
        assert_eq!(
            e.to_string(),
            "tls: failed to find \"CERTIFICATE\" PEM block in certificate input after skipping PEM blocks of \
             the following types: [PUBLIC KEY X509 CRL]"
        );
        assert_eq!(TlsError::MalformedCertificate { tbs: true }.to_string(), "x509: malformed tbs certificate");
        assert_eq!(Error::from(TlsError::KeyMismatch).to_string(), "tls: private key does not match public key");
    }

    #[test]
    fn other_statuses_print_like_grpc_go() {
        let e = Error::from(tonic::Status::cancelled("gone"));
        assert_eq!(e.to_string(), "rpc error: code = Canceled desc = gone");
    }
}
