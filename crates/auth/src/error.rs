//! What the auth store refuses, one variant per etcd error (etcd
//! `server/auth/store.go`); the server maps each to etcd's gRPC code and
//! `etcdserver: …` message.

/// A refusal of the auth store, or a storage failure underneath it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("root user does not exist")]
    RootUserNotExist,
    #[error("root user does not have root role")]
    RootRoleNotExist,
    #[error("user name already exists")]
    UserAlreadyExist,
    #[error("user name is empty")]
    UserEmpty,
    #[error("user name not found")]
    UserNotFound,
    #[error("role name already exists")]
    RoleAlreadyExist,
    #[error("role name not found")]
    RoleNotFound,
    #[error("role name is empty")]
    RoleEmpty,
    #[error("permission not given")]
    PermissionNotGiven,
    #[error("authentication failed, invalid user ID or password")]
    AuthFailed,
    /// A password given for a user added with `no_password` (etcd answers it
    /// with gRPC code Unknown and its internal text).
    #[error("authentication failed, password was given for no password user")]
    NoPasswordUser,
    /// Go's bcrypt refuses passwords longer than 72 bytes (etcd answers its
    /// text with code Unknown); the Rust crate would cut them silently.
    #[error("bcrypt: password length exceeds 72 bytes")]
    PasswordTooLong,
    #[error("permission denied")]
    PermissionDenied,
    #[error("role is not granted to the user")]
    RoleNotGranted,
    #[error("permission is not granted to the role")]
    PermissionNotGranted,
    #[error("authentication is not enabled")]
    AuthNotEnabled,
    #[error("invalid auth token")]
    InvalidAuthToken,
    #[error("invalid auth management")]
    InvalidAuthMgmt,
    #[error("revision of auth store is old")]
    AuthOldRevision,
    /// The backend failed, or a stored record does not decode: fatal.
    #[error("auth storage: {0}")]
    Storage(String),
}

impl From<backend::Error> for AuthError {
    fn from(e: backend::Error) -> AuthError {
        AuthError::Storage(e.to_string())
    }
}

/// Result alias of the auth store.
pub type AuthResult<T> = std::result::Result<T, AuthError>;
