use super::*;
use api::etcdserverpb::auth_server::{Auth, AuthServer};
use api::etcdserverpb::kv_server::{Kv, KvServer};
use api::etcdserverpb::*;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use tonic::{Request, Response, Status};

/// A member with auth: `root`/`pw` logs in (each login gets a new token, `t1`, `t2`, …);
/// `Range` needs the latest token and answers with the number of logins as its revision.
/// With `enabled` false, logins are refused as etcd refuses them and `Range` needs no
/// token. `expire` makes the member forget the current token.
#[derive(Clone, Default)]
struct FakeMember {
    disabled: Arc<AtomicBool>,
    logins: Arc<AtomicUsize>,
    valid: Arc<Mutex<Option<String>>>,
}

impl FakeMember {
    fn expire(&self) {
        *self.valid.lock().expect("lock") = None;
    }

    fn log_in(&self, req: AuthenticateRequest) -> Result<AuthenticateResponse, Status> {
        if self.disabled.load(Ordering::SeqCst) {
            return Err(Status::failed_precondition(AUTH_NOT_ENABLED));
        }
        if (req.name.as_str(), req.password.as_str()) != ("root", "pw") {
            return Err(Status::invalid_argument("etcdserver: authentication failed, invalid user ID or password"));
        }
        let token = format!("t{}", self.logins.fetch_add(1, Ordering::SeqCst) + 1);
        *self.valid.lock().expect("lock") = Some(token.clone());
        Ok(AuthenticateResponse { header: None, token })
    }
}

#[tonic::async_trait]
impl Kv for FakeMember {
    async fn range(&self, req: Request<RangeRequest>) -> Result<Response<RangeResponse>, Status> {
        if !self.disabled.load(Ordering::SeqCst) {
            let sent = req.metadata().get(TOKEN_KEY).and_then(|t| t.to_str().ok()).map(str::to_owned);
            match sent {
                None => return Err(Status::invalid_argument(USER_EMPTY)),
                Some(t) if Some(&t) != self.valid.lock().expect("lock").as_ref() => {
                    return Err(Status::unauthenticated(INVALID_AUTH_TOKEN));
                }
                Some(_) => {}
            }
        }
        let revision = self.logins.load(Ordering::SeqCst) as i64;
        Ok(Response::new(RangeResponse {
            header: Some(ResponseHeader { revision, ..Default::default() }),
            ..Default::default()
        }))
    }

    async fn put(&self, _: Request<PutRequest>) -> Result<Response<PutResponse>, Status> {
        Err(Status::unimplemented("put"))
    }

    async fn delete_range(&self, _: Request<DeleteRangeRequest>) -> Result<Response<DeleteRangeResponse>, Status> {
        Err(Status::unimplemented("delete_range"))
    }

    async fn txn(&self, _: Request<TxnRequest>) -> Result<Response<TxnResponse>, Status> {
        Err(Status::unimplemented("txn"))
    }

    async fn compact(&self, _: Request<CompactionRequest>) -> Result<Response<CompactionResponse>, Status> {
        Err(Status::unimplemented("compact"))
    }
}

/// The fake's Auth service: `authenticate` is [`FakeMember::log_in`], every other method
/// `Unimplemented`. (A macro writes the whole impl so that `async_trait` sees the methods.)
macro_rules! fake_auth {
    ($($name:ident: $req:ty => $resp:ty;)*) => {
        #[tonic::async_trait]
        impl Auth for FakeMember {
            async fn authenticate(
                &self,
                req: Request<AuthenticateRequest>,
            ) -> Result<Response<AuthenticateResponse>, Status> {
                self.log_in(req.into_inner()).map(Response::new)
            }

            $(
                async fn $name(&self, _: Request<$req>) -> Result<Response<$resp>, Status> {
                    Err(Status::unimplemented(stringify!($name)))
                }
            )*
        }
    };
}

fake_auth! {
    auth_enable: AuthEnableRequest => AuthEnableResponse;
    auth_disable: AuthDisableRequest => AuthDisableResponse;
    auth_status: AuthStatusRequest => AuthStatusResponse;
    user_add: AuthUserAddRequest => AuthUserAddResponse;
    user_get: AuthUserGetRequest => AuthUserGetResponse;
    user_list: AuthUserListRequest => AuthUserListResponse;
    user_delete: AuthUserDeleteRequest => AuthUserDeleteResponse;
    user_change_password: AuthUserChangePasswordRequest => AuthUserChangePasswordResponse;
    user_grant_role: AuthUserGrantRoleRequest => AuthUserGrantRoleResponse;
    user_revoke_role: AuthUserRevokeRoleRequest => AuthUserRevokeRoleResponse;
    role_add: AuthRoleAddRequest => AuthRoleAddResponse;
    role_get: AuthRoleGetRequest => AuthRoleGetResponse;
    role_list: AuthRoleListRequest => AuthRoleListResponse;
    role_delete: AuthRoleDeleteRequest => AuthRoleDeleteResponse;
    role_grant_permission: AuthRoleGrantPermissionRequest => AuthRoleGrantPermissionResponse;
    role_revoke_permission: AuthRoleRevokePermissionRequest => AuthRoleRevokePermissionResponse;
}

async fn start(member: FakeMember) -> Client {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let incoming = tonic::transport::server::TcpIncoming::from(listener);
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(KvServer::new(member.clone()))
            .add_service(AuthServer::new(member))
            .serve_with_incoming(incoming),
    );
    Client::connect(&[addr.to_string()], Duration::from_secs(2)).await.expect("connect")
}

fn revision(r: &RangeResponse) -> i64 {
    r.header.map(|h| h.revision).unwrap_or_default()
}

#[tokio::test]
async fn after_a_login_every_request_carries_the_token() {
    let client = start(FakeMember::default()).await;
    let e = client.range(RangeRequest::default()).await.expect_err("no token yet");
    assert_eq!(e.to_string(), USER_EMPTY);
    let client = client.authenticate("root", "pw").await.expect("logged in");
    assert!(client.is_authenticated());
    assert_eq!(revision(&client.range(RangeRequest::default()).await.expect("token sent")), 1);
    assert_eq!(revision(&client.clone().range(RangeRequest::default()).await.expect("clones share it")), 1);
}

#[tokio::test]
async fn a_stale_token_is_replaced_by_a_new_login_and_the_call_sent_again() {
    let member = FakeMember::default();
    let client = start(member.clone()).await.authenticate("root", "pw").await.expect("logged in");
    member.expire();
    let r = client.range(RangeRequest::default()).await.expect("logged in again");
    assert_eq!(revision(&r), 2, "a second login");
}

#[tokio::test]
async fn a_refused_login_is_the_error() {
    let client = start(FakeMember::default()).await;
    let e = client.authenticate("root", "wrong").await.expect_err("refused");
    assert_eq!(e.to_string(), "etcdserver: authentication failed, invalid user ID or password");
    assert_eq!(e.code(), Some(tonic::Code::InvalidArgument));
}

#[tokio::test]
async fn with_auth_disabled_the_client_goes_on_without_a_token() {
    let member = FakeMember::default();
    member.disabled.store(true, Ordering::SeqCst);
    let client = start(member).await.authenticate("root", "pw").await.expect("not an error");
    assert!(!client.is_authenticated());
    client.range(RangeRequest::default()).await.expect("no token needed");
}

#[tokio::test]
async fn without_a_login_a_missing_token_is_not_retried() {
    let member = FakeMember::default();
    let client = start(member.clone()).await;
    client.range(RangeRequest::default()).await.expect_err("no token");
    assert_eq!(member.logins.load(Ordering::SeqCst), 0);
}
