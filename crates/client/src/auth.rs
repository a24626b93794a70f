//! The Auth service, and logging in as clientv3 does: once a client has a user name and a
//! password, it calls `Auth.Authenticate` when it connects and sends the token it gets
//! back in the gRPC metadata key `token` of every request, on every service.
//!
//! The token is an interceptor ([`Token`]) on the stubs `Client`'s methods build, so the
//! unary calls, the Watch and LeaseKeepAlive streams and the concurrency recipes all carry
//! it. A unary call the member refuses because the token is no longer good (it expired,
//! the auth store moved on) logs in again and is sent again, as clientv3's retry
//! interceptor does ([`Client::unary`]). clientv3 also logs in again before it opens each
//! stream; here a stream is opened with the current token, which a login keeps fresh.

use crate::{Client, Error, Result};
use api::etcdserverpb::auth_client::AuthClient;
use api::etcdserverpb::{
    AuthDisableRequest, AuthDisableResponse, AuthEnableRequest, AuthEnableResponse, AuthRoleAddRequest,
    AuthRoleAddResponse, AuthRoleDeleteRequest, AuthRoleDeleteResponse, AuthRoleGetRequest, AuthRoleGetResponse,
    AuthRoleGrantPermissionRequest, AuthRoleGrantPermissionResponse, AuthRoleListRequest, AuthRoleListResponse,
    AuthRoleRevokePermissionRequest, AuthRoleRevokePermissionResponse, AuthStatusRequest, AuthStatusResponse,
    AuthUserAddRequest, AuthUserAddResponse, AuthUserChangePasswordRequest, AuthUserChangePasswordResponse,
    AuthUserDeleteRequest, AuthUserDeleteResponse, AuthUserGetRequest, AuthUserGetResponse, AuthUserGrantRoleRequest,
    AuthUserGrantRoleResponse, AuthUserListRequest, AuthUserListResponse, AuthUserRevokeRoleRequest,
    AuthUserRevokeRoleResponse, AuthenticateRequest,
};
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tonic::metadata::AsciiMetadataValue;
use tonic::service::Interceptor;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

/// What the stubs of a [`Client`] run on: its connection, with the auth token (if any)
/// added to each request.
pub type Transport = InterceptedService<Channel, Token>;

/// The auth token a client sends (none before a login), shared by every stub it has
/// built, so that a new login reaches the stubs and streams made before.
#[derive(Clone, Default)]
pub struct Token(Arc<RwLock<Option<AsciiMetadataValue>>>);

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.get().is_some() { "Token(set)" } else { "Token(none)" })
    }
}

impl Token {
    fn set(&self, token: Option<AsciiMetadataValue>) {
        // A poisoned lock still holds a whole value: writers only ever replace it.
        *self.0.write().unwrap_or_else(|e| e.into_inner()) = token;
    }

    fn get(&self) -> Option<AsciiMetadataValue> {
        self.0.read().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

impl Interceptor for Token {
    fn call(&mut self, mut req: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        if let Some(token) = self.get() {
            req.metadata_mut().insert(TOKEN_KEY, token);
        }
        Ok(req)
    }
}

/// etcd's `rpctypes.TokenFieldNameGRPC`: the metadata key of the token.
const TOKEN_KEY: &str = "token";

/// The user name and password a client logged in with, kept to log in again.
pub(crate) struct Login {
    user: String,
    password: String,
}

/// The member's answer to a login while auth is disabled; clientv3 then goes on without
/// a token.
const AUTH_NOT_ENABLED: &str = "etcdserver: authentication is not enabled";
/// The token was not issued by this member or has expired.
const INVALID_AUTH_TOKEN: &str = "etcdserver: invalid auth token";
/// The request was checked against an auth store older than the member's.
const AUTH_OLD_REVISION: &str = "etcdserver: revision of auth store is old";
/// The request carried no token (or one the member has forgotten).
const USER_EMPTY: &str = "etcdserver: user name is empty";

/// clientv3's bound on the attempts of one unary call (`defaultUnaryMaxRetries`).
const MAX_ATTEMPTS: usize = 100;
/// clientv3's pause between two attempts with one endpoint (`defaultBackoffWaitBetween`).
const RETRY_PAUSE: Duration = Duration::from_millis(25);

impl Client {
    /// Logs in as `user` with `password` (`Auth.Authenticate`): from now on every request
    /// of the returned client, and of its clones, carries the token. A member whose auth
    /// is disabled says so, and the client is returned as it was, without a token, as
    /// clientv3 does; any other refusal (a wrong password: "etcdserver: authentication
    /// failed, invalid user ID or password") is the error.
    ///
    /// clientv3 logs in only when both the name and the password are non-empty; that
    /// rule is the caller's.
    pub async fn authenticate(mut self, user: &str, password: &str) -> Result<Client> {
        let login = Login { user: user.to_owned(), password: password.to_owned() };
        match self.log_in(&login).await {
            Ok(token) => {
                self.token = Token::default();
                self.token.set(Some(token));
                self.login = Some(Arc::new(login));
                Ok(self)
            }
            Err(Error::Rpc { message, .. }) if message == AUTH_NOT_ENABLED => Ok(self),
            Err(e) => Err(e),
        }
    }

    /// Whether this client logged in ([`Client::authenticate`] got a token).
    pub fn is_authenticated(&self) -> bool {
        self.login.is_some()
    }

    async fn log_in(&self, login: &Login) -> Result<AsciiMetadataValue> {
        let req = AuthenticateRequest { name: login.user.clone(), password: login.password.clone() };
        let resp = self.stub(AuthClient::new).authenticate(req).await?.into_inner();
        AsciiMetadataValue::try_from(resp.token.as_str()).map_err(|_| Error::BadToken(resp.token))
    }

    /// Runs one unary call (`call` gets the transport to build its stub on) as clientv3's
    /// retry interceptor does for auth: when the member refuses the token as invalid or
    /// checked against an old auth store, log in again (if this client logged in at all)
    /// and send the call again; likewise when it says the token is missing, if this
    /// client logged in. Other errors are returned at once.
    pub(crate) async fn unary<T, F, Fut>(&self, mut call: F) -> Result<T>
    where
        F: FnMut(Transport) -> Fut,
        Fut: Future<Output = Result<tonic::Response<T>, tonic::Status>>,
    {
        let mut attempt = 1;
        loop {
            let status = match call(self.transport()).await {
                Ok(resp) => return Ok(resp.into_inner()),
                Err(status) => status,
            };
            let message = status.message();
            let stale = message == INVALID_AUTH_TOKEN || message == AUTH_OLD_REVISION;
            let forgotten = message == USER_EMPTY && self.login.is_some();
            if attempt >= MAX_ATTEMPTS || !(stale || forgotten) {
                return Err(status.into());
            }
            tokio::time::sleep(RETRY_PAUSE).await;
            if let Some(login) = &self.login {
                self.token.set(None);
                self.token.set(Some(self.log_in(login).await?));
            }
            attempt += 1;
        }
    }

    /// `Auth.AuthEnable`: turns auth on; the member refuses while there is no `root` user
    /// ("etcdserver: root user does not exist") or it lacks the `root` role.
    pub async fn auth_enable(&self) -> Result<AuthEnableResponse> {
        self.unary(|t| async move { AuthClient::new(t).auth_enable(AuthEnableRequest {}).await }).await
    }

    /// `Auth.AuthDisable`: turns auth off.
    pub async fn auth_disable(&self) -> Result<AuthDisableResponse> {
        self.unary(|t| async move { AuthClient::new(t).auth_disable(AuthDisableRequest {}).await }).await
    }

    /// `Auth.AuthStatus` (etcd 3.5 and later): whether auth is on, and the auth store's
    /// revision.
    pub async fn auth_status(&self) -> Result<AuthStatusResponse> {
        self.unary(|t| async move { AuthClient::new(t).auth_status(AuthStatusRequest {}).await }).await
    }

    /// `Auth.UserAdd`.
    pub async fn user_add(&self, req: AuthUserAddRequest) -> Result<AuthUserAddResponse> {
        self.unary(|t| {
            let req = req.clone();
            async move { AuthClient::new(t).user_add(req).await }
        })
        .await
    }

    /// `Auth.UserGet`: the user's roles.
    pub async fn user_get(&self, name: &str) -> Result<AuthUserGetResponse> {
        let req = AuthUserGetRequest { name: name.to_owned() };
        self.unary(|t| {
            let req = req.clone();
            async move { AuthClient::new(t).user_get(req).await }
        })
        .await
    }

    /// `Auth.UserList`: every user name, sorted.
    pub async fn user_list(&self) -> Result<AuthUserListResponse> {
        self.unary(|t| async move { AuthClient::new(t).user_list(AuthUserListRequest {}).await }).await
    }

    /// `Auth.UserDelete`.
    pub async fn user_delete(&self, name: &str) -> Result<AuthUserDeleteResponse> {
        let req = AuthUserDeleteRequest { name: name.to_owned() };
        self.unary(|t| {
            let req = req.clone();
            async move { AuthClient::new(t).user_delete(req).await }
        })
        .await
    }

    /// `Auth.UserChangePassword`.
    pub async fn user_change_password(&self, name: &str, password: &str) -> Result<AuthUserChangePasswordResponse> {
        let req = AuthUserChangePasswordRequest {
            name: name.to_owned(),
            password: password.to_owned(),
            ..Default::default()
        };
        self.unary(|t| {
            let req = req.clone();
            async move { AuthClient::new(t).user_change_password(req).await }
        })
        .await
    }

    /// `Auth.UserGrantRole`: gives `user` the role `role`.
    pub async fn user_grant_role(&self, user: &str, role: &str) -> Result<AuthUserGrantRoleResponse> {
        let req = AuthUserGrantRoleRequest { user: user.to_owned(), role: role.to_owned() };
        self.unary(|t| {
            let req = req.clone();
            async move { AuthClient::new(t).user_grant_role(req).await }
        })
        .await
    }

    /// `Auth.UserRevokeRole`: takes the role `role` from `user`.
    pub async fn user_revoke_role(&self, user: &str, role: &str) -> Result<AuthUserRevokeRoleResponse> {
        let req = AuthUserRevokeRoleRequest { name: user.to_owned(), role: role.to_owned() };
        self.unary(|t| {
            let req = req.clone();
            async move { AuthClient::new(t).user_revoke_role(req).await }
        })
        .await
    }

    /// `Auth.RoleAdd`.
    pub async fn role_add(&self, name: &str) -> Result<AuthRoleAddResponse> {
        let req = AuthRoleAddRequest { name: name.to_owned() };
        self.unary(|t| {
            let req = req.clone();
            async move { AuthClient::new(t).role_add(req).await }
        })
        .await
    }

    /// `Auth.RoleGet`: the role's permissions, sorted by key.
    pub async fn role_get(&self, role: &str) -> Result<AuthRoleGetResponse> {
        let req = AuthRoleGetRequest { role: role.to_owned() };
        self.unary(|t| {
            let req = req.clone();
            async move { AuthClient::new(t).role_get(req).await }
        })
        .await
    }

    /// `Auth.RoleList`: every role name, sorted.
    pub async fn role_list(&self) -> Result<AuthRoleListResponse> {
        self.unary(|t| async move { AuthClient::new(t).role_list(AuthRoleListRequest {}).await }).await
    }

    /// `Auth.RoleDelete`.
    pub async fn role_delete(&self, role: &str) -> Result<AuthRoleDeleteResponse> {
        let req = AuthRoleDeleteRequest { role: role.to_owned() };
        self.unary(|t| {
            let req = req.clone();
            async move { AuthClient::new(t).role_delete(req).await }
        })
        .await
    }

    /// `Auth.RoleGrantPermission`: adds a permission (a key, or a range when `range_end`
    /// is set, `"\0"` meaning every key from `key` on) to a role.
    pub async fn role_grant_permission(
        &self,
        req: AuthRoleGrantPermissionRequest,
    ) -> Result<AuthRoleGrantPermissionResponse> {
        self.unary(|t| {
            let req = req.clone();
            async move { AuthClient::new(t).role_grant_permission(req).await }
        })
        .await
    }

    /// `Auth.RoleRevokePermission`: removes the permission on exactly this key or range.
    pub async fn role_revoke_permission(
        &self,
        req: AuthRoleRevokePermissionRequest,
    ) -> Result<AuthRoleRevokePermissionResponse> {
        self.unary(|t| {
            let req = req.clone();
            async move { AuthClient::new(t).role_revoke_permission(req).await }
        })
        .await
    }
}

#[cfg(test)]
mod tests;
