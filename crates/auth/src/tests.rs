//! The store against a real backend: etcd's rules for each change, the
//! revision, the checks, and a reload that finds what was committed.

use api::authpb::{Permission, UserAddOptions, permission::Type};
use api::etcdserverpb::{
    AuthRoleGrantPermissionRequest, AuthRoleRevokePermissionRequest, AuthUserAddRequest, AuthUserChangePasswordRequest,
    AuthUserGrantRoleRequest, AuthUserRevokeRoleRequest, InternalAuthenticateRequest, PutRequest, RangeRequest,
    RequestOp, TxnRequest, request_op::Request,
};
use backend::Backend;

use crate::*;

struct Fixture {
    _dir: tempfile::TempDir,
    be: Backend,
    store: AuthStore,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().expect("tempdir");
    let be = Backend::open(&dir.path().join("state.redb")).expect("open");
    let opts = Options { bcrypt_cost: 4, ..Options::default() };
    let store = AuthStore::load(&be.begin_read().expect("read"), opts).expect("load");
    Fixture { _dir: dir, be, store }
}

impl Fixture {
    /// Runs one change in its own committed write transaction.
    fn apply<T>(&self, f: impl FnOnce(&AuthStore, &mut backend::WriteTxn) -> AuthResult<T>) -> AuthResult<T> {
        let mut w = self.be.begin_write().expect("write");
        let out = f(&self.store, &mut w);
        w.commit(true).expect("commit");
        out
    }

    fn add_user(&self, name: &str, password: &str) -> AuthResult<()> {
        let hashed = self.store.hash_password(password)?;
        let r = AuthUserAddRequest { name: name.into(), hashed_password: hashed, ..Default::default() };
        self.apply(|s, w| s.user_add(w, &r))
    }

    fn grant_role(&self, user: &str, role: &str) -> AuthResult<()> {
        let r = AuthUserGrantRoleRequest { user: user.into(), role: role.into() };
        self.apply(|s, w| s.user_grant_role(w, &r))
    }

    fn grant(&self, role: &str, t: Type, key: &[u8], end: &[u8]) -> AuthResult<()> {
        let perm = Permission { perm_type: t as i32, key: key.to_vec(), range_end: end.to_vec() };
        let r = AuthRoleGrantPermissionRequest { name: role.into(), perm: Some(perm) };
        self.apply(|s, w| s.role_grant_permission(w, &r))
    }

    fn login(&self, user: &str, password: &str) -> AuthResult<AuthInfo> {
        self.store.check_password(user, password)?;
        let r = InternalAuthenticateRequest { name: user.into(), password: String::new(), simple_token: "abc".into() };
        let token = self.store.authenticate(&r, 7)?.token;
        Ok(self.store.auth_info_from_token(&token)?.expect("enabled"))
    }
}

fn enable_with_root(f: &Fixture) {
    f.add_user("root", "rootpw").expect("root");
    f.grant_role("root", "root").expect("root role");
    f.apply(|s, w| s.enable(w)).expect("enable");
}

#[test]
fn enable_needs_root_with_the_root_role() {
    let f = fixture();
    assert_eq!(f.apply(|s, w| s.enable(w)), Err(AuthError::RootUserNotExist));
    f.add_user("root", "pw").expect("add");
    assert_eq!(f.apply(|s, w| s.enable(w)), Err(AuthError::RootRoleNotExist));
    assert_eq!(f.grant_role("root", "nope"), Err(AuthError::RoleNotFound));
    f.grant_role("root", "root").expect("root needs no role record");
    f.apply(|s, w| s.enable(w)).expect("enable");
    assert!(f.store.is_enabled());
    f.apply(|s, w| s.enable(w)).expect("enabling twice is no error");
    assert_eq!(f.apply(|s, w| s.user_delete(w, "root")), Err(AuthError::InvalidAuthMgmt));
    let revoke = AuthUserRevokeRoleRequest { name: "root".into(), role: "root".into() };
    assert_eq!(f.apply(|s, w| s.user_revoke_role(w, &revoke)), Err(AuthError::InvalidAuthMgmt));
}

#[test]
fn each_change_bumps_the_revision_and_refusals_do_not() {
    let f = fixture();
    assert_eq!(f.store.revision(), 1, "etcd starts at 1");
    f.add_user("alice", "pw").expect("add");
    assert_eq!(f.store.revision(), 2);
    assert_eq!(f.add_user("alice", "pw"), Err(AuthError::UserAlreadyExist));
    assert_eq!(f.add_user("", "pw"), Err(AuthError::UserEmpty));
    assert_eq!(f.apply(|s, w| s.role_add(w, "")), Err(AuthError::RoleEmpty));
    f.apply(|s, w| s.role_add(w, "r")).expect("role");
    assert_eq!(f.apply(|s, w| s.role_add(w, "r")), Err(AuthError::RoleAlreadyExist));
    f.grant_role("alice", "r").expect("grant");
    let rev = f.store.revision();
    f.grant_role("alice", "r").expect("granting again");
    assert_eq!(f.store.revision(), rev, "a repeated grant changes nothing");
    assert_eq!(f.grant("r", Type::Read, b"b", b"a"), Err(AuthError::InvalidAuthMgmt));
    let none = AuthRoleGrantPermissionRequest { name: "r".into(), perm: None };
    assert_eq!(f.apply(|s, w| s.role_grant_permission(w, &none)), Err(AuthError::PermissionNotGiven));
    let revoke = AuthRoleRevokePermissionRequest { role: "r".into(), key: b"k".to_vec(), range_end: vec![] };
    assert_eq!(f.apply(|s, w| s.role_revoke_permission(w, &revoke)), Err(AuthError::PermissionNotGranted));
    assert_eq!(f.store.revision(), rev);
}

#[test]
fn permissions_follow_grants_and_revokes_and_old_revisions_are_refused() {
    let f = fixture();
    enable_with_root(&f);
    f.add_user("alice", "pw").expect("alice");
    f.apply(|s, w| s.role_add(w, "reader")).expect("role");
    f.grant("reader", Type::Read, b"app/", b"app0").expect("grant");
    f.grant("reader", Type::Readwrite, b"app/own", b"").expect("grant");
    f.grant_role("alice", "reader").expect("grant role");
    let alice = f.login("alice", "pw").expect("login");
    assert_eq!(f.store.check_range(Some(&alice), b"app/", b"app0"), Ok(()));
    assert_eq!(f.store.check_range(Some(&alice), b"other", b""), Err(AuthError::PermissionDenied));
    let put = |k: &[u8]| PutRequest { key: k.to_vec(), ..Default::default() };
    let no_leases = |_: i64| None;
    assert_eq!(f.store.check_put(Some(&alice), &put(b"app/x"), &no_leases), Err(AuthError::PermissionDenied));
    assert_eq!(f.store.check_put(Some(&alice), &put(b"app/own"), &no_leases), Ok(()));
    let nested = TxnRequest {
        success: vec![RequestOp {
            request: Some(Request::RequestTxn(TxnRequest {
                failure: vec![RequestOp { request: Some(Request::RequestPut(put(b"app/x"))) }],
                ..Default::default()
            })),
        }],
        ..Default::default()
    };
    assert_eq!(f.store.check_txn(Some(&alice), &nested, &no_leases), Err(AuthError::PermissionDenied));
    let read_txn = TxnRequest {
        success: vec![RequestOp {
            request: Some(Request::RequestRange(RangeRequest { key: b"app/a".to_vec(), ..Default::default() })),
        }],
        ..Default::default()
    };
    assert_eq!(f.store.check_txn(Some(&alice), &read_txn, &no_leases), Ok(()));
    // A put with a lease that holds a key alice may not write.
    let leased = PutRequest { key: b"app/own".to_vec(), lease: 5, ..Default::default() };
    let keys = |_: i64| Some(vec![b"secret".to_vec()]);
    assert_eq!(f.store.check_put(Some(&alice), &leased, &keys), Err(AuthError::PermissionDenied));
    assert_eq!(f.store.check_admin(Some(&alice)), Err(AuthError::PermissionDenied));
    assert_eq!(f.store.check_admin(None), Err(AuthError::UserEmpty));
    assert_eq!(f.store.check_range(None, b"app/a", b""), Err(AuthError::UserEmpty));

    // Checked before the revoke, applied after: refused.
    let revoke = AuthUserRevokeRoleRequest { name: "alice".into(), role: "reader".into() };
    f.apply(|s, w| s.user_revoke_role(w, &revoke)).expect("revoke");
    assert_eq!(f.store.check_range(Some(&alice), b"app/a", b""), Err(AuthError::AuthOldRevision));
    let fresh = f.login("alice", "pw").expect("login again");
    assert_eq!(f.store.check_range(Some(&fresh), b"app/a", b""), Err(AuthError::PermissionDenied));
    let root = f.login("root", "rootpw").expect("root");
    assert_eq!(f.store.check_range(Some(&root), b"\0", b"\0"), Ok(()));
    assert_eq!(f.store.check_admin(Some(&root)), Ok(()));
}

#[test]
fn passwords_tokens_and_no_password_users() {
    let f = fixture();
    enable_with_root(&f);
    assert_eq!(f.login("root", "wrong"), Err(AuthError::AuthFailed));
    let long = "x".repeat(73);
    assert_eq!(f.store.hash_password(&long), Err(AuthError::PasswordTooLong));
    assert_eq!(f.login("root", &format!("rootpw{long}")), Err(AuthError::AuthFailed));
    assert_eq!(f.login("nobody", "x"), Err(AuthError::AuthFailed));
    let r = AuthUserAddRequest {
        name: "cn-user".into(),
        password: String::new(),
        options: Some(UserAddOptions { no_password: true }),
        hashed_password: String::new(),
    };
    f.apply(|s, w| s.user_add(w, &r)).expect("no-password user");
    assert_eq!(f.login("cn-user", ""), Err(AuthError::NoPasswordUser));
    assert_eq!(f.store.auth_info_from_token("garbage"), Err(AuthError::InvalidAuthToken));
    // Changing the password ends the user's tokens.
    let token = f
        .store
        .authenticate(
            &InternalAuthenticateRequest { name: "root".into(), password: String::new(), simple_token: "t".into() },
            9,
        )
        .expect("token")
        .token;
    let hashed = f.store.hash_password("new").expect("hash");
    let change =
        AuthUserChangePasswordRequest { name: "root".into(), password: String::new(), hashed_password: hashed };
    f.apply(|s, w| s.user_change_password(w, &change)).expect("change");
    assert_eq!(f.store.auth_info_from_token(&token), Err(AuthError::InvalidAuthToken));
    assert_eq!(f.login("root", "rootpw"), Err(AuthError::AuthFailed));
    assert!(f.login("root", "new").is_ok());
    // Disabling ends every token and lets everyone through.
    f.apply(|s, w| s.disable(w)).expect("disable");
    assert_eq!(f.store.auth_info_from_token("garbage"), Ok(None));
    assert_eq!(f.store.check_range(None, b"k", b""), Ok(()));
}

#[test]
fn a_reload_finds_what_was_committed() {
    let f = fixture();
    enable_with_root(&f);
    f.apply(|s, w| s.role_add(w, "r")).expect("role");
    f.grant("r", Type::Write, b"k", b"\0").expect("grant");
    let rev = f.store.revision();
    let again = AuthStore::load(&f.be.begin_read().expect("read"), Options::default()).expect("load");
    assert!(again.is_enabled());
    assert_eq!(again.revision(), rev);
    assert_eq!(again.user_list().users, vec!["root".to_string()]);
    assert_eq!(again.role_list().roles, vec!["r".to_string()]);
    assert_eq!(again.role_get("r").expect("role").perm, f.store.role_get("r").expect("role").perm);
    assert_eq!(again.role_get("root"), Err(AuthError::RoleNotFound), "root's role has no record until added");
    f.apply(|s, w| s.role_delete(w, "r")).expect("delete");
    f.store.reload(&f.be.begin_read().expect("read")).expect("reload");
    assert_eq!(f.store.role_list().roles, Vec::<String>::new());
}
