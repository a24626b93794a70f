//! The one table from Strata's errors to etcd's gRPC codes and messages.
//!
//! Clients match on these exact strings (etcd `api/v3rpc/rpctypes/error.go`),
//! so every error a client can see is listed here once.

use api::stratapb::{ApplyError, ErrorKind};
use tonic::{Code, Status};

/// An error answered to a client, or a fatal one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EtcdError {
    #[error("etcdserver: key is not provided")]
    EmptyKey,
    #[error("etcdserver: key not found")]
    KeyNotFound,
    #[error("etcdserver: value is provided")]
    ValueProvided,
    #[error("etcdserver: lease is provided")]
    LeaseProvided,
    #[error("etcdserver: too many operations in txn request")]
    TooManyOps,
    #[error("etcdserver: duplicate key given in txn request")]
    DuplicateKey,
    #[error("etcdserver: request is too large")]
    RequestTooLarge,
    #[error("etcdserver: mvcc: required revision has been compacted")]
    Compacted,
    #[error("etcdserver: mvcc: required revision is a future revision")]
    FutureRev,
    #[error("etcdserver: requested lease not found")]
    LeaseNotFound,
    #[error("etcdserver: lease already exists")]
    LeaseExists,
    #[error("etcdserver: too large lease TTL")]
    TtlTooLarge,
    #[error("etcdserver: mvcc: database space exceeded")]
    NoSpace,
    #[error("etcdserver: no leader")]
    NoLeader,
    #[error("etcdserver: not leader")]
    NotLeader,
    #[error("etcdserver: bad leader transferee")]
    BadLeaderTransferee,
    #[error("etcdserver: leader changed")]
    LeaderChanged,
    #[error("etcdserver: request timed out")]
    Timeout,
    #[error("etcdserver: server stopped")]
    Stopped,
    #[error("etcdserver: member ID already exist")]
    MemberExist,
    #[error("etcdserver: Peer URLs already exists")]
    PeerUrlExist,
    #[error("etcdserver: re-configuration failed due to not enough started members")]
    MemberNotEnoughStarted,
    #[error("etcdserver: given member URLs are invalid")]
    MemberBadUrls,
    #[error("etcdserver: member not found")]
    MemberNotFound,
    #[error("etcdserver: can only promote a learner member")]
    MemberNotLearner,
    #[error("etcdserver: can only promote a learner member which is in sync with leader")]
    LearnerNotReady,
    #[error("etcdserver: too many learner members in cluster")]
    TooManyLearners,
    #[error("etcdserver: unhealthy cluster")]
    Unhealthy,
    #[error("etcdserver: rpc not supported for learner")]
    NotSupportedForLearner,
    #[error("etcdserver: root user does not exist")]
    RootUserNotExist,
    #[error("etcdserver: root user does not have root role")]
    RootRoleNotExist,
    #[error("etcdserver: user name already exists")]
    UserAlreadyExist,
    #[error("etcdserver: user name is empty")]
    UserEmpty,
    #[error("etcdserver: user name not found")]
    UserNotFound,
    #[error("etcdserver: role name already exists")]
    RoleAlreadyExist,
    #[error("etcdserver: role name not found")]
    RoleNotFound,
    #[error("etcdserver: role name is empty")]
    RoleEmpty,
    #[error("etcdserver: permission not given")]
    PermissionNotGiven,
    #[error("etcdserver: authentication failed, invalid user ID or password")]
    AuthFailed,
    #[error("auth: authentication failed, password was given for no password user")]
    NoPasswordUser,
    #[error("bcrypt: password length exceeds 72 bytes")]
    PasswordTooLong,
    #[error("etcdserver: permission denied")]
    PermissionDenied,
    #[error("etcdserver: role is not granted to the user")]
    RoleNotGranted,
    #[error("etcdserver: permission is not granted to the role")]
    PermissionNotGranted,
    #[error("etcdserver: authentication is not enabled")]
    AuthNotEnabled,
    #[error("etcdserver: invalid auth token")]
    InvalidAuthToken,
    #[error("etcdserver: invalid auth management")]
    InvalidAuthMgmt,
    #[error("etcdserver: revision of auth store is old")]
    AuthOldRevision,
    #[error("etcdserver: wrong downgrade target version format")]
    WrongDowngradeVersionFormat,
    #[error("etcdserver: invalid downgrade target version")]
    InvalidDowngradeTargetVersion,
    #[error("etcdserver: cluster has a downgrade job in progress")]
    DowngradeInProcess,
    #[error("etcdserver: no inflight downgrade job")]
    NoInflightDowngrade,
    /// A Downgrade action etcd does not know.
    #[error("etcdserver: unknown method")]
    UnknownMethod,
    /// Storage or invariant failure: the member cannot answer correctly.
    #[error("etcdserver: {0}")]
    Internal(String),
}

impl EtcdError {
    /// etcd's gRPC code for this error.
    pub fn code(&self) -> Code {
        use EtcdError::*;
        match self {
            EmptyKey
            | KeyNotFound
            | ValueProvided
            | LeaseProvided
            | TooManyOps
            | DuplicateKey
            | RequestTooLarge
            | MemberBadUrls
            | WrongDowngradeVersionFormat
            | InvalidDowngradeTargetVersion => Code::InvalidArgument,
            DowngradeInProcess | NoInflightDowngrade => Code::FailedPrecondition,
            Compacted | FutureRev | TtlTooLarge => Code::OutOfRange,
            LeaseExists
            | NotLeader
            | BadLeaderTransferee
            | MemberExist
            | PeerUrlExist
            | MemberNotEnoughStarted
            | MemberNotLearner
            | LearnerNotReady
            | TooManyLearners => Code::FailedPrecondition,
            RootUserNotExist | RootRoleNotExist | UserAlreadyExist | UserNotFound | RoleAlreadyExist | RoleNotFound
            | RoleNotGranted | PermissionNotGranted | AuthNotEnabled => Code::FailedPrecondition,
            UserEmpty | RoleEmpty | PermissionNotGiven | AuthFailed | InvalidAuthMgmt | AuthOldRevision => {
                Code::InvalidArgument
            }
            PermissionDenied => Code::PermissionDenied,
            // etcd has no gRPC error for it and answers its internal error.
            NoPasswordUser | PasswordTooLong | UnknownMethod => Code::Unknown,
            InvalidAuthToken => Code::Unauthenticated,
            NoSpace => Code::ResourceExhausted,
            LeaseNotFound | MemberNotFound => Code::NotFound,
            NoLeader | LeaderChanged | Timeout | Stopped | Unhealthy | NotSupportedForLearner => Code::Unavailable,
            Internal(_) => Code::Internal,
        }
    }

    /// The status a gRPC handler returns.
    pub fn to_status(&self) -> Status {
        Status::new(self.code(), self.to_string())
    }
}

/// The variants without data, each named alike in `EtcdError` and in the
/// `stratapb.ErrorKind` an apply result carries through Raft. Both conversions
/// are exhaustive matches generated from this one list, so a variant added to
/// either enum and not here does not compile.
macro_rules! carried_through_raft {
    ($($variant:ident),* $(,)?) => {
        impl EtcdError {
            /// The variant as an apply result carries it to the proposer.
            pub fn to_apply_error(&self) -> ApplyError {
                let kind = match self {
                    $(EtcdError::$variant => ErrorKind::$variant,)*
                    EtcdError::Internal(_) => ErrorKind::Internal,
                };
                ApplyError { code: self.code() as i32, message: self.to_string(), kind: kind as i32 }
            }

            /// The variant an apply result carried; an unknown kind (a newer
            /// member's) is `Internal` with the message it was sent with.
            pub fn from_apply_error(e: &ApplyError) -> EtcdError {
                match ErrorKind::try_from(e.kind).unwrap_or(ErrorKind::Internal) {
                    $(ErrorKind::$variant => EtcdError::$variant,)*
                    ErrorKind::Internal => EtcdError::Internal(
                        e.message.strip_prefix("etcdserver: ").unwrap_or(&e.message).to_string(),
                    ),
                }
            }
        }
    };
}

carried_through_raft!(
    EmptyKey,
    KeyNotFound,
    ValueProvided,
    LeaseProvided,
    TooManyOps,
    DuplicateKey,
    RequestTooLarge,
    Compacted,
    FutureRev,
    LeaseNotFound,
    LeaseExists,
    TtlTooLarge,
    NoSpace,
    NoLeader,
    NotLeader,
    BadLeaderTransferee,
    LeaderChanged,
    Timeout,
    Stopped,
    MemberExist,
    PeerUrlExist,
    MemberNotEnoughStarted,
    MemberBadUrls,
    MemberNotFound,
    MemberNotLearner,
    LearnerNotReady,
    TooManyLearners,
    Unhealthy,
    NotSupportedForLearner,
    RootUserNotExist,
    RootRoleNotExist,
    UserAlreadyExist,
    UserEmpty,
    UserNotFound,
    RoleAlreadyExist,
    RoleNotFound,
    RoleEmpty,
    PermissionNotGiven,
    AuthFailed,
    PermissionDenied,
    RoleNotGranted,
    PermissionNotGranted,
    AuthNotEnabled,
    InvalidAuthToken,
    InvalidAuthMgmt,
    AuthOldRevision,
    NoPasswordUser,
    PasswordTooLong,
    WrongDowngradeVersionFormat,
    InvalidDowngradeTargetVersion,
    DowngradeInProcess,
    NoInflightDowngrade,
    UnknownMethod,
);

impl From<EtcdError> for Status {
    fn from(e: EtcdError) -> Status {
        e.to_status()
    }
}

impl From<mvcc::Error> for EtcdError {
    fn from(e: mvcc::Error) -> EtcdError {
        match e {
            mvcc::Error::Compacted { .. } => EtcdError::Compacted,
            mvcc::Error::FutureRev { .. } => EtcdError::FutureRev,
            other => EtcdError::Internal(other.to_string()),
        }
    }
}

impl From<lease::Error> for EtcdError {
    fn from(e: lease::Error) -> EtcdError {
        match e {
            lease::Error::NotFound { .. } | lease::Error::Expired { .. } => EtcdError::LeaseNotFound,
            lease::Error::AlreadyExists { .. } => EtcdError::LeaseExists,
            lease::Error::TtlTooLarge { .. } => EtcdError::TtlTooLarge,
            other => EtcdError::Internal(other.to_string()),
        }
    }
}

impl From<auth::AuthError> for EtcdError {
    fn from(e: auth::AuthError) -> EtcdError {
        use auth::AuthError as A;
        match e {
            A::RootUserNotExist => EtcdError::RootUserNotExist,
            A::RootRoleNotExist => EtcdError::RootRoleNotExist,
            A::UserAlreadyExist => EtcdError::UserAlreadyExist,
            A::UserEmpty => EtcdError::UserEmpty,
            A::UserNotFound => EtcdError::UserNotFound,
            A::RoleAlreadyExist => EtcdError::RoleAlreadyExist,
            A::RoleNotFound => EtcdError::RoleNotFound,
            A::RoleEmpty => EtcdError::RoleEmpty,
            A::PermissionNotGiven => EtcdError::PermissionNotGiven,
            A::AuthFailed => EtcdError::AuthFailed,
            A::PermissionDenied => EtcdError::PermissionDenied,
            A::NoPasswordUser => EtcdError::NoPasswordUser,
            A::PasswordTooLong => EtcdError::PasswordTooLong,
            A::RoleNotGranted => EtcdError::RoleNotGranted,
            A::PermissionNotGranted => EtcdError::PermissionNotGranted,
            A::AuthNotEnabled => EtcdError::AuthNotEnabled,
            A::InvalidAuthToken => EtcdError::InvalidAuthToken,
            A::InvalidAuthMgmt => EtcdError::InvalidAuthMgmt,
            A::AuthOldRevision => EtcdError::AuthOldRevision,
            A::Storage(s) => EtcdError::Internal(s),
        }
    }
}

impl From<raft::WriteError> for EtcdError {
    fn from(e: raft::WriteError) -> EtcdError {
        match e {
            raft::WriteError::NoLeader | raft::WriteError::NotLeader { .. } => EtcdError::NoLeader,
            raft::WriteError::LeaderChanged { .. } => EtcdError::LeaderChanged,
            raft::WriteError::Timeout => EtcdError::Timeout,
            raft::WriteError::Stopped => EtcdError::Stopped,
            other => EtcdError::Internal(other.to_string()),
        }
    }
}

/// Result alias of request handling.
pub type EtcdResult<T> = std::result::Result<T, EtcdError>;

#[cfg(test)]
mod tests {
    use super::*;

    /// Every kind the wire can carry comes back as the variant it was sent
    /// as, with the same code and message.
    #[test]
    fn every_error_kind_survives_the_trip_through_raft() {
        let mut seen = 0;
        for n in 0..i32::from(u8::MAX) {
            let Ok(kind) = ErrorKind::try_from(n) else { continue };
            seen += 1;
            let sent = EtcdError::from_apply_error(&ApplyError {
                kind: kind as i32,
                message: "etcdserver: x".into(),
                code: 0,
            });
            let carried = sent.to_apply_error();
            assert_eq!(carried.kind, kind as i32, "{sent:?}");
            let back = EtcdError::from_apply_error(&carried);
            assert_eq!(back, sent);
            assert_eq!((carried.code, carried.message), (back.code() as i32, back.to_string()));
        }
        assert!(seen > 1, "the loop must see the kinds");
    }

    #[test]
    fn an_internal_error_keeps_its_text_and_an_unknown_kind_is_internal() {
        let e = EtcdError::Internal("disk on fire".into());
        assert_eq!(EtcdError::from_apply_error(&e.to_apply_error()), e);
        let unknown = ApplyError { code: 13, message: "etcdserver: from the future".into(), kind: 999 };
        assert_eq!(EtcdError::from_apply_error(&unknown), EtcdError::Internal("from the future".into()));
    }
}
