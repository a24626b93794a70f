//! The auth entries of the log, applied to the auth store in the entry's
//! write transaction.

use api::etcdserverpb::{
    AuthDisableResponse, AuthEnableResponse, AuthRoleAddResponse, AuthRoleDeleteResponse,
    AuthRoleGrantPermissionResponse, AuthRoleRevokePermissionResponse, AuthUserAddResponse,
    AuthUserChangePasswordResponse, AuthUserDeleteResponse, AuthUserGrantRoleResponse, AuthUserRevokeRoleResponse,
    InternalRaftRequest, ResponseHeader,
};
use api::stratapb::apply_result::Response;
use auth::AuthStore;

use crate::error::{EtcdError, EtcdResult};
use crate::kv::View;

/// etcd's `needAdminPermission`: every auth change, the lists and the status
/// need the root role. (`UserGet` and `RoleGet` also let a user read itself
/// and its roles; `Authenticate` needs nobody.)
pub fn needs_admin(r: &InternalRaftRequest) -> bool {
    r.auth_enable.is_some()
        || r.auth_disable.is_some()
        || r.auth_status.is_some()
        || r.auth_user_add.is_some()
        || r.auth_user_delete.is_some()
        || r.auth_user_change_password.is_some()
        || r.auth_user_grant_role.is_some()
        || r.auth_user_revoke_role.is_some()
        || r.auth_role_add.is_some()
        || r.auth_role_grant_permission.is_some()
        || r.auth_role_revoke_permission.is_some()
        || r.auth_role_delete.is_some()
        || r.auth_user_list.is_some()
        || r.auth_role_list.is_some()
}

/// Applies `r` if it is an auth request.
pub fn apply(
    store: &AuthStore,
    view: &mut View<'_, '_>,
    index: u64,
    r: &InternalRaftRequest,
) -> Option<EtcdResult<Response>> {
    let header = Some(ResponseHeader { revision: view.rev(), ..ResponseHeader::default() });
    // Requests that change nothing, then those that write.
    let read = if r.auth_status.is_some() {
        Some(Ok(Response::AuthStatus(store.status())))
    } else if let Some(a) = &r.authenticate {
        Some(store.authenticate(a, index).map(Response::Authenticate))
    } else if let Some(g) = &r.auth_user_get {
        Some(store.user_get(&g.name).map(Response::AuthUserGet))
    } else if r.auth_user_list.is_some() {
        Some(Ok(Response::AuthUserList(store.user_list())))
    } else if let Some(g) = &r.auth_role_get {
        Some(store.role_get(&g.role).map(Response::AuthRoleGet))
    } else if r.auth_role_list.is_some() {
        Some(Ok(Response::AuthRoleList(store.role_list())))
    } else {
        None
    };
    if let Some(resp) = read {
        return Some(resp.map(|resp| with_header(resp, header)).map_err(Into::into));
    }
    // Every other admin request changes the store (the reads returned above).
    if !needs_admin(r) {
        return None;
    }
    Some(write(store, view, r, header))
}

fn write(
    store: &AuthStore,
    view: &mut View<'_, '_>,
    r: &InternalRaftRequest,
    header: Option<ResponseHeader>,
) -> EtcdResult<Response> {
    let w = view.writer()?.backend_txn();
    let resp = if r.auth_enable.is_some() {
        store.enable(w).map(|()| Response::AuthEnable(AuthEnableResponse { header }))
    } else if r.auth_disable.is_some() {
        store.disable(w).map(|()| Response::AuthDisable(AuthDisableResponse { header }))
    } else if let Some(a) = &r.auth_user_add {
        store.user_add(w, a).map(|()| Response::AuthUserAdd(AuthUserAddResponse { header }))
    } else if let Some(d) = &r.auth_user_delete {
        store.user_delete(w, &d.name).map(|()| Response::AuthUserDelete(AuthUserDeleteResponse { header }))
    } else if let Some(c) = &r.auth_user_change_password {
        store
            .user_change_password(w, c)
            .map(|()| Response::AuthUserChangePassword(AuthUserChangePasswordResponse { header }))
    } else if let Some(g) = &r.auth_user_grant_role {
        store.user_grant_role(w, g).map(|()| Response::AuthUserGrantRole(AuthUserGrantRoleResponse { header }))
    } else if let Some(g) = &r.auth_user_revoke_role {
        store.user_revoke_role(w, g).map(|()| Response::AuthUserRevokeRole(AuthUserRevokeRoleResponse { header }))
    } else if let Some(a) = &r.auth_role_add {
        store.role_add(w, &a.name).map(|()| Response::AuthRoleAdd(AuthRoleAddResponse { header }))
    } else if let Some(d) = &r.auth_role_delete {
        store.role_delete(w, &d.role).map(|()| Response::AuthRoleDelete(AuthRoleDeleteResponse { header }))
    } else if let Some(g) = &r.auth_role_grant_permission {
        store
            .role_grant_permission(w, g)
            .map(|()| Response::AuthRoleGrantPermission(AuthRoleGrantPermissionResponse { header }))
    } else if let Some(g) = &r.auth_role_revoke_permission {
        store
            .role_revoke_permission(w, g)
            .map(|()| Response::AuthRoleRevokePermission(AuthRoleRevokePermissionResponse { header }))
    } else {
        return Err(EtcdError::Internal("not an auth write".into()));
    };
    Ok(resp?)
}

/// Sets the header of a response the store built without one.
fn with_header(resp: Response, header: Option<ResponseHeader>) -> Response {
    macro_rules! set {
        ($($variant:ident),*) => {
            match resp {
                $(Response::$variant(mut r) => {
                    r.header = header;
                    Response::$variant(r)
                })*
                other => other,
            }
        };
    }
    set!(AuthStatus, Authenticate, AuthUserGet, AuthUserList, AuthRoleGet, AuthRoleList)
}
