//! The `etcdserverpb.Auth` gRPC service. Every call goes through Raft, as
//! etcd's: changes so every member makes them, reads so they are
//! linearizable and checked at apply with the caller's permissions.
//!
//! Passwords never enter the log: `UserAdd` and `UserChangePassword` carry a
//! bcrypt hash made here, `Authenticate` is checked here and proposes only
//! the user name and a token prefix (etcd 3.5's CVE-2021-28235 fix).

use std::sync::Arc;

use api::etcdserverpb::auth_server::Auth;
use api::etcdserverpb::*;
use api::stratapb::apply_result::Response;
use tonic::{Request, Response as GrpcResponse, Status};

use crate::credentials;
use crate::error::{EtcdError, EtcdResult};
use crate::member::Member;

/// The Auth service over one member.
#[derive(Clone)]
pub struct AuthService {
    member: Arc<Member>,
}

impl AuthService {
    pub fn new(member: Arc<Member>) -> AuthService {
        AuthService { member }
    }

    /// Proposes `irr` as the request's sender and hands back the response.
    async fn call<T>(&self, req: &Request<T>, irr: InternalRaftRequest) -> EtcdResult<Response> {
        let user = credentials::user(&self.member, req).await?;
        self.member.propose(irr, user.as_ref()).await
    }

    /// Hashes a password off the async workers (bcrypt takes tens of ms).
    async fn hash(&self, password: String) -> EtcdResult<String> {
        let auth = self.member.auth.clone();
        tokio::task::spawn_blocking(move || auth.hash_password(&password))
            .await
            .map_err(|e| EtcdError::Internal(e.to_string()))?
            .map_err(EtcdError::from)
    }
}

/// Unwraps the expected response variant and fills its header.
macro_rules! answer {
    ($self:ident, $resp:expr, $variant:ident) => {
        match $resp? {
            Response::$variant(mut r) => {
                $self.member.fill_header(&mut r.header);
                Ok(GrpcResponse::new(r))
            }
            _ => Err(EtcdError::Internal("unexpected apply result".into()).into()),
        }
    };
}

#[tonic::async_trait]
impl Auth for AuthService {
    async fn auth_enable(&self, req: Request<AuthEnableRequest>) -> Result<GrpcResponse<AuthEnableResponse>, Status> {
        let irr = InternalRaftRequest { auth_enable: Some(AuthEnableRequest {}), ..Default::default() };
        answer!(self, self.call(&req, irr).await, AuthEnable)
    }

    async fn auth_disable(
        &self,
        req: Request<AuthDisableRequest>,
    ) -> Result<GrpcResponse<AuthDisableResponse>, Status> {
        let irr = InternalRaftRequest { auth_disable: Some(AuthDisableRequest {}), ..Default::default() };
        answer!(self, self.call(&req, irr).await, AuthDisable)
    }

    async fn auth_status(&self, req: Request<AuthStatusRequest>) -> Result<GrpcResponse<AuthStatusResponse>, Status> {
        let irr = InternalRaftRequest { auth_status: Some(AuthStatusRequest {}), ..Default::default() };
        answer!(self, self.call(&req, irr).await, AuthStatus)
    }

    async fn authenticate(
        &self,
        req: Request<AuthenticateRequest>,
    ) -> Result<GrpcResponse<AuthenticateResponse>, Status> {
        self.member.read_index().await?;
        let r = req.into_inner();
        loop {
            let auth = self.member.auth.clone();
            let (name, password) = (r.name.clone(), r.password.clone());
            let checked_at = tokio::task::spawn_blocking(move || auth.check_password(&name, &password))
                .await
                .map_err(|e| EtcdError::Internal(e.to_string()))?
                .map_err(EtcdError::from)?;
            let a = InternalAuthenticateRequest {
                name: r.name.clone(),
                password: String::new(),
                simple_token: self.member.auth.token_prefix(),
            };
            let irr = InternalRaftRequest { authenticate: Some(a), ..Default::default() };
            let resp = self.member.propose(irr, None).await?;
            // The password was checked against the users of `checked_at`;
            // if they changed meanwhile, check again (etcd does the same).
            if checked_at == self.member.auth.revision() {
                return answer!(self, Ok::<_, EtcdError>(resp), Authenticate);
            }
            tracing::info!("revision when password checked became stale; retrying");
        }
    }

    async fn user_add(&self, req: Request<AuthUserAddRequest>) -> Result<GrpcResponse<AuthUserAddResponse>, Status> {
        let mut r = req.get_ref().clone();
        if !r.options.is_some_and(|o| o.no_password) {
            r.hashed_password = self.hash(std::mem::take(&mut r.password)).await?;
        }
        let irr = InternalRaftRequest { auth_user_add: Some(r), ..Default::default() };
        answer!(self, self.call(&req, irr).await, AuthUserAdd)
    }

    async fn user_get(&self, req: Request<AuthUserGetRequest>) -> Result<GrpcResponse<AuthUserGetResponse>, Status> {
        let irr = InternalRaftRequest { auth_user_get: Some(req.get_ref().clone()), ..Default::default() };
        answer!(self, self.call(&req, irr).await, AuthUserGet)
    }

    async fn user_list(&self, req: Request<AuthUserListRequest>) -> Result<GrpcResponse<AuthUserListResponse>, Status> {
        let irr = InternalRaftRequest { auth_user_list: Some(AuthUserListRequest {}), ..Default::default() };
        answer!(self, self.call(&req, irr).await, AuthUserList)
    }

    async fn user_delete(
        &self,
        req: Request<AuthUserDeleteRequest>,
    ) -> Result<GrpcResponse<AuthUserDeleteResponse>, Status> {
        let irr = InternalRaftRequest { auth_user_delete: Some(req.get_ref().clone()), ..Default::default() };
        answer!(self, self.call(&req, irr).await, AuthUserDelete)
    }

    async fn user_change_password(
        &self,
        req: Request<AuthUserChangePasswordRequest>,
    ) -> Result<GrpcResponse<AuthUserChangePasswordResponse>, Status> {
        let mut r = req.get_ref().clone();
        r.hashed_password = self.hash(std::mem::take(&mut r.password)).await?;
        let irr = InternalRaftRequest { auth_user_change_password: Some(r), ..Default::default() };
        answer!(self, self.call(&req, irr).await, AuthUserChangePassword)
    }

    async fn user_grant_role(
        &self,
        req: Request<AuthUserGrantRoleRequest>,
    ) -> Result<GrpcResponse<AuthUserGrantRoleResponse>, Status> {
        let irr = InternalRaftRequest { auth_user_grant_role: Some(req.get_ref().clone()), ..Default::default() };
        answer!(self, self.call(&req, irr).await, AuthUserGrantRole)
    }

    async fn user_revoke_role(
        &self,
        req: Request<AuthUserRevokeRoleRequest>,
    ) -> Result<GrpcResponse<AuthUserRevokeRoleResponse>, Status> {
        let irr = InternalRaftRequest { auth_user_revoke_role: Some(req.get_ref().clone()), ..Default::default() };
        answer!(self, self.call(&req, irr).await, AuthUserRevokeRole)
    }

    async fn role_add(&self, req: Request<AuthRoleAddRequest>) -> Result<GrpcResponse<AuthRoleAddResponse>, Status> {
        let irr = InternalRaftRequest { auth_role_add: Some(req.get_ref().clone()), ..Default::default() };
        answer!(self, self.call(&req, irr).await, AuthRoleAdd)
    }

    async fn role_get(&self, req: Request<AuthRoleGetRequest>) -> Result<GrpcResponse<AuthRoleGetResponse>, Status> {
        let irr = InternalRaftRequest { auth_role_get: Some(req.get_ref().clone()), ..Default::default() };
        answer!(self, self.call(&req, irr).await, AuthRoleGet)
    }

    async fn role_list(&self, req: Request<AuthRoleListRequest>) -> Result<GrpcResponse<AuthRoleListResponse>, Status> {
        let irr = InternalRaftRequest { auth_role_list: Some(AuthRoleListRequest {}), ..Default::default() };
        answer!(self, self.call(&req, irr).await, AuthRoleList)
    }

    async fn role_delete(
        &self,
        req: Request<AuthRoleDeleteRequest>,
    ) -> Result<GrpcResponse<AuthRoleDeleteResponse>, Status> {
        let irr = InternalRaftRequest { auth_role_delete: Some(req.get_ref().clone()), ..Default::default() };
        answer!(self, self.call(&req, irr).await, AuthRoleDelete)
    }

    async fn role_grant_permission(
        &self,
        req: Request<AuthRoleGrantPermissionRequest>,
    ) -> Result<GrpcResponse<AuthRoleGrantPermissionResponse>, Status> {
        let irr = InternalRaftRequest { auth_role_grant_permission: Some(req.get_ref().clone()), ..Default::default() };
        answer!(self, self.call(&req, irr).await, AuthRoleGrantPermission)
    }

    async fn role_revoke_permission(
        &self,
        req: Request<AuthRoleRevokePermissionRequest>,
    ) -> Result<GrpcResponse<AuthRoleRevokePermissionResponse>, Status> {
        let irr =
            InternalRaftRequest { auth_role_revoke_permission: Some(req.get_ref().clone()), ..Default::default() };
        answer!(self, self.call(&req, irr).await, AuthRoleRevokePermission)
    }
}
