//! etcd's authentication and role-based access control: users with bcrypt
//! passwords, roles holding key-range permissions, simple tokens, and the
//! checks every request passes while auth is enabled.
//!
//! The store is synchronous and changed only by the server's applier, inside
//! the backend write transaction of the Raft entry that changes it, so every
//! member holds the same users and roles at the same log index. The server
//! checks requests before proposing them (reads are answered locally) and
//! again when applying them, with the auth revision they were checked at.

mod check;
mod error;
mod jwt;
mod perms;
mod store;
mod token;

pub use check::LeaseKeys;
pub use error::{AuthError, AuthResult};
pub use jsonwebtoken::errors::Error as JwtError;
pub use jsonwebtoken::{Algorithm as JwtAlgorithm, DecodingKey, EncodingKey};
pub use jwt::JwtTokens;
pub use perms::{Access, Permissions, is_valid_permission_range};
pub use store::{AuthInfo, AuthStore, Options, ROOT_ROLE, ROOT_USER};

#[cfg(test)]
mod tests;
