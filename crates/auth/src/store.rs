//! [`AuthStore`]: users, roles, whether auth is enabled and the auth
//! revision, kept in memory beside the backend's auth tables and changed only
//! by the applier, in the write transaction of the entry that changes them
//! (etcd `server/auth/store.go`, whose rules each method follows).
//!
//! Every change that can alter what someone may do bumps the auth revision;
//! requests are checked with the revision they were checked at, so a request
//! checked before a change and applied after it is refused
//! ("revision of auth store is old").

use std::collections::{BTreeMap, HashMap};
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Duration;

use api::authpb::{Permission, Role, User, UserAddOptions, permission::Type};
use api::etcdserverpb::{
    AuthRoleGetResponse, AuthRoleGrantPermissionRequest, AuthRoleListResponse, AuthRoleRevokePermissionRequest,
    AuthStatusResponse, AuthUserAddRequest, AuthUserChangePasswordRequest, AuthUserGetResponse,
    AuthUserGrantRoleRequest, AuthUserListResponse, AuthUserRevokeRoleRequest, AuthenticateResponse,
    InternalAuthenticateRequest,
};
use backend::{AuthTable, ReadTxn, WriteTxn};
use base64::Engine;
use prost::Message;

use crate::error::{AuthError, AuthResult};
use crate::jwt::JwtTokens;
use crate::perms::{Access, Permissions, is_valid_permission_range};
use crate::token::SimpleTokens;

pub const ROOT_USER: &str = "root";
pub const ROOT_ROLE: &str = "root";

/// bcrypt's cost bounds (Go's `bcrypt.MinCost`, `MaxCost`).
const BCRYPT_MIN_COST: u32 = 4;
const BCRYPT_MAX_COST: u32 = 31;

/// The longest password bcrypt hashes whole.
const BCRYPT_MAX_PASSWORD: usize = 72;

const ENABLED_KEY: &[u8] = b"authEnabled";
const REVISION_KEY: &[u8] = b"authRevision";

/// Who sent a request, and the auth revision it was checked at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthInfo {
    pub username: String,
    pub revision: u64,
}

impl AuthInfo {
    /// The member's own requests (expired leases, auto-compaction, its
    /// attributes): root, at a revision no change makes old. etcd gives them
    /// a root token the same way (`WithRoot`). Auth cannot be enabled without
    /// a root user holding the root role, nor either removed while enabled.
    pub fn member_itself() -> AuthInfo {
        AuthInfo { username: ROOT_USER.to_string(), revision: u64::MAX }
    }
}

/// How the store hashes passwords and which tokens it issues.
#[derive(Debug, Clone)]
pub struct Options {
    /// `--bcrypt-cost` (etcd's default: 10).
    pub bcrypt_cost: u32,
    /// `--auth-token-ttl` (etcd's default: 300 s), for simple tokens.
    pub token_ttl: Duration,
    /// `--auth-token`: `None` for simple tokens.
    pub jwt: Option<JwtTokens>,
}

impl Default for Options {
    fn default() -> Options {
        Options { bcrypt_cost: bcrypt::DEFAULT_COST, token_ttl: Duration::from_secs(300), jwt: None }
    }
}

/// The token provider (etcd's `TokenProvider`).
#[derive(Debug)]
enum Tokens {
    Simple(SimpleTokens),
    Jwt(JwtTokens),
}

#[derive(Debug, Default)]
struct State {
    enabled: bool,
    revision: u64,
    users: BTreeMap<String, User>,
    roles: BTreeMap<String, Role>,
    /// Each user's permissions merged over its roles.
    perms: HashMap<String, Permissions>,
}

impl State {
    fn load(r: &ReadTxn) -> AuthResult<State> {
        let mut s = State::default();
        for (k, v) in r.auth_records(AuthTable::Auth)? {
            match k.as_slice() {
                ENABLED_KEY => s.enabled = v.first() == Some(&1),
                REVISION_KEY => {
                    let b = <[u8; 8]>::try_from(v.as_slice())
                        .map_err(|_| AuthError::Storage(format!("authRevision of {} bytes", v.len())))?;
                    s.revision = u64::from_be_bytes(b);
                }
                _ => {}
            }
        }
        // etcd writes revision 1 when it creates its auth buckets.
        s.revision = s.revision.max(1);
        for (k, v) in r.auth_records(AuthTable::Users)? {
            let u = User::decode(v.as_slice()).map_err(|e| AuthError::Storage(format!("user record: {e}")))?;
            s.users.insert(String::from_utf8_lossy(&k).into_owned(), u);
        }
        for (k, v) in r.auth_records(AuthTable::Roles)? {
            let role = Role::decode(v.as_slice()).map_err(|e| AuthError::Storage(format!("role record: {e}")))?;
            s.roles.insert(String::from_utf8_lossy(&k).into_owned(), role);
        }
        s.refresh_perms();
        Ok(s)
    }

    fn refresh_perms(&mut self) {
        let roles = &self.roles;
        self.perms = self
            .users
            .iter()
            .map(|(name, u)| (name.clone(), Permissions::merge(u.roles.iter().filter_map(|r| roles.get(r)))))
            .collect();
    }

    fn has_root_role(&self, user: &str) -> bool {
        self.users.get(user).is_some_and(has_root_role)
    }
}

fn has_root_role(u: &User) -> bool {
    u.roles.iter().any(|r| r == ROOT_ROLE)
}

/// The auth state of one member; see the module doc.
#[derive(Debug)]
pub struct AuthStore {
    state: RwLock<State>,
    tokens: Tokens,
    bcrypt_cost: u32,
}

impl AuthStore {
    /// The store as the backend holds it.
    pub fn load(r: &ReadTxn, opts: Options) -> AuthResult<AuthStore> {
        let bcrypt_cost = if (BCRYPT_MIN_COST..=BCRYPT_MAX_COST).contains(&opts.bcrypt_cost) {
            opts.bcrypt_cost
        } else {
            tracing::warn!(given = opts.bcrypt_cost, "invalid bcrypt cost; using the default cost");
            bcrypt::DEFAULT_COST
        };
        let tokens = match opts.jwt {
            Some(jwt) => Tokens::Jwt(jwt),
            None => Tokens::Simple(SimpleTokens::new(opts.token_ttl)),
        };
        Ok(AuthStore { state: RwLock::new(State::load(r)?), tokens, bcrypt_cost })
    }

    /// Reads everything again (a snapshot replaced the store). Tokens end.
    pub fn reload(&self, r: &ReadTxn) -> AuthResult<()> {
        let s = State::load(r)?;
        *self.write() = s;
        self.clear_tokens();
        Ok(())
    }

    fn read(&self) -> RwLockReadGuard<'_, State> {
        self.state.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, State> {
        self.state.write().unwrap_or_else(|p| p.into_inner())
    }

    pub fn is_enabled(&self) -> bool {
        self.read().enabled
    }

    pub fn revision(&self) -> u64 {
        self.read().revision
    }

    // ---- the API layer, before proposing

    /// Hashes a password for `UserAdd` or `UserChangePassword` (etcd 3.5
    /// hashes before proposing, so the log never holds the password), as the
    /// base64 text of the bcrypt hash.
    pub fn hash_password(&self, password: &str) -> AuthResult<String> {
        if password.len() > BCRYPT_MAX_PASSWORD {
            return Err(AuthError::PasswordTooLong);
        }
        let hash = bcrypt::hash(password, self.bcrypt_cost).map_err(|e| AuthError::Storage(e.to_string()))?;
        Ok(base64::engine::general_purpose::STANDARD.encode(hash))
    }

    /// Checks a user's password; answers the auth revision it was checked
    /// at. The hash comparison (tens of milliseconds) runs outside the lock.
    pub fn check_password(&self, name: &str, password: &str) -> AuthResult<u64> {
        let (hash, revision) = {
            let s = self.read();
            if !s.enabled {
                return Err(AuthError::AuthNotEnabled);
            }
            let user = s.users.get(name).ok_or(AuthError::AuthFailed)?;
            if is_no_password(user) {
                return Err(AuthError::NoPasswordUser);
            }
            (user.password.clone(), s.revision)
        };
        let hash = String::from_utf8(hash).map_err(|_| AuthError::AuthFailed)?;
        // bcrypt reads 72 bytes; a longer password never matches (Go's refuses it).
        if password.len() > BCRYPT_MAX_PASSWORD {
            return Err(AuthError::AuthFailed);
        }
        match bcrypt::verify(password, &hash) {
            Ok(true) => Ok(revision),
            _ => {
                tracing::info!(user = name, "invalid password");
                Err(AuthError::AuthFailed)
            }
        }
    }

    /// A fresh simple-token prefix to propose with `Authenticate` (none for
    /// JWT, as etcd's `genTokenPrefix`).
    pub fn token_prefix(&self) -> String {
        match self.tokens {
            Tokens::Simple(_) => SimpleTokens::prefix(),
            Tokens::Jwt(_) => String::new(),
        }
    }

    fn clear_tokens(&self) {
        if let Tokens::Simple(t) = &self.tokens {
            t.clear();
        }
    }

    fn invalidate_tokens_of(&self, user: &str) {
        if let Tokens::Simple(t) = &self.tokens {
            t.invalidate_user(user);
        }
    }

    /// Who a token belongs to, checked at the current revision; `None` while
    /// auth is disabled (etcd ignores tokens then).
    pub fn auth_info_from_token(&self, token: &str) -> AuthResult<Option<AuthInfo>> {
        let s = self.read();
        if !s.enabled {
            return Ok(None);
        }
        let token = token.strip_prefix("Bearer ").unwrap_or(token);
        // A simple token is checked at the current revision; a JWT carries
        // the revision it was issued at (etcd's providers do the same).
        let info = match &self.tokens {
            Tokens::Simple(t) => t.user(token).map(|username| AuthInfo { username, revision: s.revision }),
            Tokens::Jwt(t) => t.info(token).map(|(username, revision)| AuthInfo { username, revision }),
        };
        info.map(Some).ok_or(AuthError::InvalidAuthToken)
    }

    /// A user named by a verified client certificate's common name, checked
    /// at the current revision; `None` while auth is disabled.
    pub fn auth_info_from_common_name(&self, name: &str) -> Option<AuthInfo> {
        let s = self.read();
        s.enabled.then(|| AuthInfo { username: name.to_string(), revision: s.revision })
    }

    // ---- permission checks

    /// etcd's `isOpPermitted`.
    pub fn check(&self, ai: Option<&AuthInfo>, access: Access, key: &[u8], range_end: &[u8]) -> AuthResult<()> {
        let s = self.read();
        if !s.enabled {
            return Ok(());
        }
        let ai = match ai {
            Some(ai) if ai.revision != 0 => ai,
            _ => return Err(AuthError::UserEmpty),
        };
        if ai.revision < s.revision {
            return Err(AuthError::AuthOldRevision);
        }
        if !s.users.contains_key(&ai.username) {
            return Err(AuthError::PermissionDenied);
        }
        if s.has_root_role(&ai.username) {
            return Ok(());
        }
        match s.perms.get(&ai.username) {
            Some(p) if p.allows(access, key, range_end) => Ok(()),
            _ => Err(AuthError::PermissionDenied),
        }
    }

    /// etcd's `IsAdminPermitted`: the user has the root role.
    pub fn check_admin(&self, ai: Option<&AuthInfo>) -> AuthResult<()> {
        let s = self.read();
        if !s.enabled {
            return Ok(());
        }
        let ai = match ai {
            Some(ai) if !ai.username.is_empty() => ai,
            _ => return Err(AuthError::UserEmpty),
        };
        let user = s.users.get(&ai.username).ok_or(AuthError::UserNotFound)?;
        if has_root_role(user) { Ok(()) } else { Err(AuthError::PermissionDenied) }
    }

    /// etcd's `requireAuthInfo`: while auth is enabled, someone must be named.
    pub fn require_user(&self, ai: Option<&AuthInfo>) -> AuthResult<()> {
        if self.is_enabled() && ai.is_none() { Err(AuthError::UserEmpty) } else { Ok(()) }
    }

    pub fn user_has_role(&self, user: &str, role: &str) -> bool {
        self.read().users.get(user).is_some_and(|u| u.roles.iter().any(|r| r == role))
    }

    // ---- the applier

    pub fn enable(&self, w: &mut WriteTxn) -> AuthResult<()> {
        let mut s = self.write();
        if s.enabled {
            return Ok(());
        }
        let root = s.users.get(ROOT_USER).ok_or(AuthError::RootUserNotExist)?;
        if !has_root_role(root) {
            return Err(AuthError::RootRoleNotExist);
        }
        w.put_auth(AuthTable::Auth, ENABLED_KEY, &[1])?;
        s.enabled = true;
        tracing::info!("enabled authentication");
        Ok(())
    }

    pub fn disable(&self, w: &mut WriteTxn) -> AuthResult<()> {
        let mut s = self.write();
        if !s.enabled {
            return Ok(());
        }
        w.put_auth(AuthTable::Auth, ENABLED_KEY, &[0])?;
        bump_revision(&mut s, w)?;
        s.enabled = false;
        self.clear_tokens();
        tracing::info!("disabled authentication");
        Ok(())
    }

    pub fn status(&self) -> AuthStatusResponse {
        let s = self.read();
        AuthStatusResponse { header: None, enabled: s.enabled, auth_revision: s.revision }
    }

    /// Issues a token for a user whose password the proposer checked.
    pub fn authenticate(&self, r: &InternalAuthenticateRequest, index: u64) -> AuthResult<AuthenticateResponse> {
        let s = self.read();
        if !s.enabled {
            return Err(AuthError::AuthNotEnabled);
        }
        match s.users.get(&r.name) {
            Some(u) if !is_no_password(u) => {}
            _ => return Err(AuthError::AuthFailed),
        }
        let token = match &self.tokens {
            Tokens::Simple(t) => t.assign(&r.simple_token, index, &r.name),
            Tokens::Jwt(t) => t.assign(&r.name, s.revision)?,
        };
        Ok(AuthenticateResponse { header: None, token })
    }

    pub fn user_add(&self, w: &mut WriteTxn, r: &AuthUserAddRequest) -> AuthResult<()> {
        if r.name.is_empty() {
            return Err(AuthError::UserEmpty);
        }
        let mut s = self.write();
        if s.users.contains_key(&r.name) {
            return Err(AuthError::UserAlreadyExist);
        }
        let options = r.options.unwrap_or(UserAddOptions { no_password: false });
        let password =
            if options.no_password { Vec::new() } else { self.stored_hash(&r.password, &r.hashed_password)? };
        let user = User { name: r.name.clone().into_bytes(), password, roles: Vec::new(), options: Some(options) };
        put_user(w, &user)?;
        bump_revision(&mut s, w)?;
        s.users.insert(r.name.clone(), user);
        s.refresh_perms();
        tracing::info!(user = %r.name, "added a user");
        Ok(())
    }

    pub fn user_delete(&self, w: &mut WriteTxn, name: &str) -> AuthResult<()> {
        let mut s = self.write();
        if s.enabled && name == ROOT_USER {
            return Err(AuthError::InvalidAuthMgmt);
        }
        if !s.users.contains_key(name) {
            return Err(AuthError::UserNotFound);
        }
        w.delete_auth(AuthTable::Users, name.as_bytes())?;
        bump_revision(&mut s, w)?;
        s.users.remove(name);
        s.refresh_perms();
        self.invalidate_tokens_of(name);
        tracing::info!(user = name, "deleted a user");
        Ok(())
    }

    pub fn user_change_password(&self, w: &mut WriteTxn, r: &AuthUserChangePasswordRequest) -> AuthResult<()> {
        let mut s = self.write();
        let mut user = s.users.get(&r.name).cloned().ok_or(AuthError::UserNotFound)?;
        user.password =
            if is_no_password(&user) { Vec::new() } else { self.stored_hash(&r.password, &r.hashed_password)? };
        put_user(w, &user)?;
        bump_revision(&mut s, w)?;
        s.users.insert(r.name.clone(), user);
        self.invalidate_tokens_of(&r.name);
        tracing::info!(user = %r.name, "changed a password of a user");
        Ok(())
    }

    pub fn user_grant_role(&self, w: &mut WriteTxn, r: &AuthUserGrantRoleRequest) -> AuthResult<()> {
        let mut s = self.write();
        let mut user = s.users.get(&r.user).cloned().ok_or(AuthError::UserNotFound)?;
        if r.role != ROOT_ROLE && !s.roles.contains_key(&r.role) {
            return Err(AuthError::RoleNotFound);
        }
        let Err(at) = user.roles.binary_search(&r.role) else {
            return Ok(()); // already granted: no change, as etcd
        };
        user.roles.insert(at, r.role.clone());
        put_user(w, &user)?;
        bump_revision(&mut s, w)?;
        s.users.insert(r.user.clone(), user);
        s.refresh_perms();
        tracing::info!(user = %r.user, role = %r.role, "granted a role to a user");
        Ok(())
    }

    pub fn user_get(&self, name: &str) -> AuthResult<AuthUserGetResponse> {
        let s = self.read();
        let user = s.users.get(name).ok_or(AuthError::UserNotFound)?;
        Ok(AuthUserGetResponse { header: None, roles: user.roles.clone() })
    }

    pub fn user_list(&self) -> AuthUserListResponse {
        AuthUserListResponse { header: None, users: self.read().users.keys().cloned().collect() }
    }

    pub fn user_revoke_role(&self, w: &mut WriteTxn, r: &AuthUserRevokeRoleRequest) -> AuthResult<()> {
        let mut s = self.write();
        if s.enabled && r.name == ROOT_USER && r.role == ROOT_ROLE {
            return Err(AuthError::InvalidAuthMgmt);
        }
        let mut user = s.users.get(&r.name).cloned().ok_or(AuthError::UserNotFound)?;
        let before = user.roles.len();
        user.roles.retain(|role| *role != r.role);
        if user.roles.len() == before {
            return Err(AuthError::RoleNotGranted);
        }
        put_user(w, &user)?;
        bump_revision(&mut s, w)?;
        s.users.insert(r.name.clone(), user);
        s.refresh_perms();
        tracing::info!(user = %r.name, role = %r.role, "revoked a role from a user");
        Ok(())
    }

    pub fn role_add(&self, w: &mut WriteTxn, name: &str) -> AuthResult<()> {
        if name.is_empty() {
            return Err(AuthError::RoleEmpty);
        }
        let mut s = self.write();
        if s.roles.contains_key(name) {
            return Err(AuthError::RoleAlreadyExist);
        }
        let role = Role { name: name.as_bytes().to_vec(), key_permission: Vec::new() };
        put_role(w, &role)?;
        bump_revision(&mut s, w)?;
        s.roles.insert(name.to_string(), role);
        tracing::info!(role = name, "created a role");
        Ok(())
    }

    pub fn role_get(&self, name: &str) -> AuthResult<AuthRoleGetResponse> {
        let s = self.read();
        let role = s.roles.get(name).ok_or(AuthError::RoleNotFound)?;
        // The root role may do anything, whatever its record says.
        let perm = if name == ROOT_ROLE {
            vec![Permission { perm_type: Type::Readwrite as i32, key: Vec::new(), range_end: vec![0] }]
        } else {
            role.key_permission.clone()
        };
        Ok(AuthRoleGetResponse { header: None, perm })
    }

    pub fn role_list(&self) -> AuthRoleListResponse {
        AuthRoleListResponse { header: None, roles: self.read().roles.keys().cloned().collect() }
    }

    pub fn role_delete(&self, w: &mut WriteTxn, name: &str) -> AuthResult<()> {
        let mut s = self.write();
        if s.enabled && name == ROOT_ROLE {
            return Err(AuthError::InvalidAuthMgmt);
        }
        if !s.roles.contains_key(name) {
            return Err(AuthError::RoleNotFound);
        }
        w.delete_auth(AuthTable::Roles, name.as_bytes())?;
        let holders: Vec<User> = s.users.values().filter(|u| u.roles.iter().any(|r| r == name)).cloned().collect();
        for mut u in holders {
            u.roles.retain(|r| r != name);
            put_user(w, &u)?;
            s.users.insert(String::from_utf8_lossy(&u.name).into_owned(), u);
        }
        bump_revision(&mut s, w)?;
        s.roles.remove(name);
        s.refresh_perms();
        tracing::info!(role = name, "deleted a role");
        Ok(())
    }

    pub fn role_grant_permission(&self, w: &mut WriteTxn, r: &AuthRoleGrantPermissionRequest) -> AuthResult<()> {
        let perm = r.perm.as_ref().ok_or(AuthError::PermissionNotGiven)?;
        if !is_valid_permission_range(perm) {
            return Err(AuthError::InvalidAuthMgmt);
        }
        let mut s = self.write();
        let mut role = s.roles.get(&r.name).cloned().ok_or(AuthError::RoleNotFound)?;
        let perms = &mut role.key_permission;
        match perms.iter_mut().find(|p| p.key == perm.key && p.range_end == perm.range_end) {
            Some(p) => p.perm_type = perm.perm_type,
            None => {
                // Sorted by key, stable for equal keys, as etcd's sort.
                let at = perms.partition_point(|p| p.key <= perm.key);
                perms.insert(at, perm.clone());
            }
        }
        put_role(w, &role)?;
        bump_revision(&mut s, w)?;
        s.roles.insert(r.name.clone(), role);
        s.refresh_perms();
        tracing::info!(role = %r.name, "granted/updated a permission to a role");
        Ok(())
    }

    pub fn role_revoke_permission(&self, w: &mut WriteTxn, r: &AuthRoleRevokePermissionRequest) -> AuthResult<()> {
        let mut s = self.write();
        let mut role = s.roles.get(&r.role).cloned().ok_or(AuthError::RoleNotFound)?;
        let before = role.key_permission.len();
        role.key_permission.retain(|p| p.key != r.key || p.range_end != r.range_end);
        if role.key_permission.len() == before {
            return Err(AuthError::PermissionNotGranted);
        }
        put_role(w, &role)?;
        bump_revision(&mut s, w)?;
        s.roles.insert(r.role.clone(), role);
        s.refresh_perms();
        tracing::info!(role = %r.role, "revoked a permission on range");
        Ok(())
    }

    /// The bcrypt hash to store: the proposer's (base64), or one made here
    /// for an entry that carries the password itself (etcd before 3.5).
    fn stored_hash(&self, password: &str, hashed: &str) -> AuthResult<Vec<u8>> {
        if !password.is_empty() && hashed.is_empty() {
            return bcrypt::hash(password, self.bcrypt_cost)
                .map(String::into_bytes)
                .map_err(|e| AuthError::Storage(e.to_string()));
        }
        base64::engine::general_purpose::STANDARD.decode(hashed).map_err(|_| AuthError::AuthFailed)
    }
}

fn is_no_password(u: &User) -> bool {
    u.options.is_some_and(|o| o.no_password)
}

fn put_user(w: &mut WriteTxn, u: &User) -> AuthResult<()> {
    Ok(w.put_auth(AuthTable::Users, &u.name, &u.encode_to_vec())?)
}

fn put_role(w: &mut WriteTxn, r: &Role) -> AuthResult<()> {
    Ok(w.put_auth(AuthTable::Roles, &r.name, &r.encode_to_vec())?)
}

fn bump_revision(s: &mut State, w: &mut WriteTxn) -> AuthResult<()> {
    let next = s.revision + 1;
    w.put_auth(AuthTable::Auth, REVISION_KEY, &next.to_be_bytes())?;
    s.revision = next;
    Ok(())
}
