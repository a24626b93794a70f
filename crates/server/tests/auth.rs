//! Authentication and role-based access on whole members in the test's
//! process, through the generated gRPC clients with the token in the `token`
//! metadata as etcd's clients send it: enabling needs root, a restricted
//! user reads and writes only where granted, watches are refused at
//! creation, a revoked role takes effect at once, and a token issued by one
//! member works on the others.

use std::time::Duration;

use api::authpb::{Permission, permission::Type};
use api::etcdserverpb::auth_client::AuthClient;
use api::etcdserverpb::kv_client::KvClient;
use api::etcdserverpb::watch_client::WatchClient;
use api::etcdserverpb::watch_request::RequestUnion;
use api::etcdserverpb::*;
use testkit::LocalMember;
use tonic::transport::Channel;
use tonic::{Code, Request};

const LIMIT: Duration = Duration::from_secs(60);

fn with_token<T>(msg: T, token: &str) -> Request<T> {
    let mut r = Request::new(msg);
    r.metadata_mut().insert("token", token.parse().expect("ascii token"));
    r
}

async fn channel(m: &LocalMember) -> Channel {
    Channel::from_shared(m.url()).expect("url").connect().await.expect("connect")
}

async fn login(ch: &Channel, name: &str, password: &str) -> Result<String, tonic::Status> {
    let req = AuthenticateRequest { name: name.into(), password: password.into() };
    Ok(AuthClient::new(ch.clone()).authenticate(req).await?.into_inner().token)
}

fn put(key: &str) -> PutRequest {
    PutRequest { key: key.into(), value: b"v".to_vec(), ..Default::default() }
}

/// root (with the root role), and alice who may read and write under `app/`
/// and read `shared`; then auth enabled.
async fn set_up(ch: &Channel) {
    let mut a = AuthClient::new(ch.clone());
    let err = a.auth_enable(AuthEnableRequest {}).await.expect_err("no root yet");
    assert_eq!((err.code(), err.message()), (Code::FailedPrecondition, "etcdserver: root user does not exist"));
    for (name, pw) in [("root", "rootpw"), ("alice", "alicepw")] {
        a.user_add(AuthUserAddRequest { name: name.into(), password: pw.into(), ..Default::default() })
            .await
            .expect("user add");
    }
    let err = a.auth_enable(AuthEnableRequest {}).await.expect_err("root without the root role");
    assert_eq!(err.message(), "etcdserver: root user does not have root role");
    a.user_grant_role(AuthUserGrantRoleRequest { user: "root".into(), role: "root".into() }).await.expect("grant");
    a.role_add(AuthRoleAddRequest { name: "app".into() }).await.expect("role add");
    for (t, key, end) in [(Type::Readwrite, "app/", "app0"), (Type::Read, "shared", "")] {
        let perm = Permission { perm_type: t as i32, key: key.into(), range_end: end.into() };
        a.role_grant_permission(AuthRoleGrantPermissionRequest { name: "app".into(), perm: Some(perm) })
            .await
            .expect("grant permission");
    }
    a.user_grant_role(AuthUserGrantRoleRequest { user: "alice".into(), role: "app".into() }).await.expect("grant");
    a.auth_enable(AuthEnableRequest {}).await.expect("enable");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restricted_user_reads_and_writes_only_where_granted() {
    tokio::time::timeout(LIMIT, async {
        let m = LocalMember::start(&[]).await.expect("start");
        let ch = channel(&m).await;
        set_up(&ch).await;
        let mut kv = KvClient::new(ch.clone());

        let err = kv.put(put("app/x")).await.expect_err("no token");
        assert_eq!((err.code(), err.message()), (Code::InvalidArgument, "etcdserver: user name is empty"));
        let err = kv.put(with_token(put("app/x"), "forged.1")).await.expect_err("forged token");
        assert_eq!((err.code(), err.message()), (Code::Unauthenticated, "etcdserver: invalid auth token"));
        let err = login(&ch, "alice", "wrong").await.expect_err("wrong password");
        assert_eq!(err.message(), "etcdserver: authentication failed, invalid user ID or password");

        let alice = login(&ch, "alice", "alicepw").await.expect("login");
        kv.put(with_token(put("app/x"), &alice)).await.expect("granted put");
        let err = kv.put(with_token(put("shared"), &alice)).await.expect_err("read-only key");
        assert_eq!((err.code(), err.message()), (Code::PermissionDenied, "etcdserver: permission denied"));
        let got = kv
            .range(with_token(
                RangeRequest { key: "app/".into(), range_end: "app0".into(), ..Default::default() },
                &alice,
            ))
            .await
            .expect("granted range")
            .into_inner();
        assert_eq!(got.kvs.len(), 1);
        let all = RangeRequest { key: vec![0], range_end: vec![0], ..Default::default() };
        let err = kv.range(with_token(all.clone(), &alice)).await.expect_err("everything");
        assert_eq!(err.code(), Code::PermissionDenied);
        // A txn that compares a key alice may not read is refused whole.
        let txn = TxnRequest {
            compare: vec![Compare { key: "secret".into(), ..Default::default() }],
            success: vec![RequestOp { request: Some(request_op::Request::RequestPut(put("app/y"))) }],
            ..Default::default()
        };
        let err = kv.txn(with_token(txn, &alice)).await.expect_err("compare outside");
        assert_eq!(err.code(), Code::PermissionDenied);
        // Only root manages auth.
        let err = AuthClient::new(ch.clone())
            .user_list(with_token(AuthUserListRequest {}, &alice))
            .await
            .expect_err("not admin");
        assert_eq!(err.code(), Code::PermissionDenied);
        // But alice may read herself.
        let me = AuthClient::new(ch.clone())
            .user_get(with_token(AuthUserGetRequest { name: "alice".into() }, &alice))
            .await
            .expect("self")
            .into_inner();
        assert_eq!(me.roles, vec!["app".to_string()]);

        // A watch outside her keys is refused at creation, inside it works.
        let (tx, rx) = tokio::sync::mpsc::channel(4);
        let mut w = WatchClient::new(ch.clone())
            .watch(with_token(tokio_stream::wrappers::ReceiverStream::new(rx), &alice))
            .await
            .expect("watch")
            .into_inner();
        let create = |k: &str| WatchRequest {
            request_union: Some(RequestUnion::CreateRequest(WatchCreateRequest {
                key: k.into(),
                ..Default::default()
            })),
        };
        tx.send(create("secret")).await.expect("send");
        let r = w.message().await.expect("answer").expect("a response");
        assert!(r.created && r.canceled && r.watch_id == -1, "{r:?}");
        assert_eq!(r.cancel_reason, "etcdserver: permission denied");
        tx.send(create("app/x")).await.expect("send");
        let r = w.message().await.expect("answer").expect("a response");
        assert!(r.created && !r.canceled, "{r:?}");

        // Root revokes alice's role: her next write is refused.
        let root = login(&ch, "root", "rootpw").await.expect("root");
        AuthClient::new(ch.clone())
            .user_revoke_role(with_token(AuthUserRevokeRoleRequest { name: "alice".into(), role: "app".into() }, &root))
            .await
            .expect("revoke");
        let err = kv.put(with_token(put("app/x"), &alice)).await.expect_err("revoked");
        assert_eq!(err.code(), Code::PermissionDenied);
        let status = AuthClient::new(ch.clone())
            .auth_status(with_token(AuthStatusRequest {}, &root))
            .await
            .expect("status")
            .into_inner();
        assert!(status.enabled);
        assert!(status.auth_revision > 1);
        AuthClient::new(ch.clone()).auth_disable(with_token(AuthDisableRequest {}, &root)).await.expect("disable");
        kv.put(put("anything")).await.expect("auth disabled: anyone writes");
    })
    .await
    .expect("in time");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_from_one_member_works_on_the_others_and_users_are_replicated() {
    tokio::time::timeout(LIMIT, async {
        let members = LocalMember::start_cluster(3, &[]).await.expect("cluster");
        let first = channel(&members[0]).await;
        set_up(&first).await;
        let alice = login(&first, "alice", "alicepw").await.expect("login");
        for m in &members[1..] {
            let ch = channel(m).await;
            // At once: a follower that has not applied the Authenticate entry
            // yet waits for it before judging the token.
            KvClient::new(ch.clone()).put(with_token(put("app/from-follower"), &alice)).await.expect("put");
            let err = KvClient::new(ch.clone()).put(with_token(put("secret"), &alice)).await.expect_err("denied");
            assert_eq!(err.code(), Code::PermissionDenied);
            let users = AuthClient::new(ch.clone())
                .user_list(with_token(AuthUserListRequest {}, &login(&ch, "root", "rootpw").await.expect("root")))
                .await
                .expect("list")
                .into_inner()
                .users;
            assert_eq!(users, vec!["alice".to_string(), "root".to_string()]);
        }
    })
    .await
    .expect("in time");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_jwt_from_one_member_is_accepted_by_the_others_until_permissions_change() {
    tokio::time::timeout(LIMIT, async {
        let dir = tempfile::tempdir().expect("tempdir");
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("key");
        let (private, public) = (dir.path().join("jwt.key"), dir.path().join("jwt.pub"));
        std::fs::write(&private, key.serialize_pem()).expect("write");
        std::fs::write(&public, key.public_key_pem()).expect("write");
        let option =
            format!("jwt,priv-key={},pub-key={},sign-method=ES256,ttl=1m", private.display(), public.display());
        let members = LocalMember::start_cluster(3, &["--auth-token", &option]).await.expect("cluster");
        let first = channel(&members[0]).await;
        set_up(&first).await;
        let alice = login(&first, "alice", "alicepw").await.expect("login");
        assert_eq!(alice.split('.').count(), 3, "a JWT: {alice}");
        let second = channel(&members[1]).await;
        // The follower may not have applied alice's grants yet when the put
        // reaches it; the put waits its turn in the log anyway.
        KvClient::new(second.clone()).put(with_token(put("app/jwt"), &alice)).await.expect("put on another member");
        let err = KvClient::new(second.clone()).put(with_token(put("secret"), &alice)).await.expect_err("denied");
        assert_eq!(err.code(), Code::PermissionDenied);
        // A permission change makes the token's revision old: etcd's clients
        // authenticate again on this error.
        let root = login(&first, "root", "rootpw").await.expect("root");
        let perm = Permission { perm_type: Type::Read as i32, key: "other".into(), range_end: vec![] };
        AuthClient::new(first.clone())
            .role_grant_permission(with_token(
                AuthRoleGrantPermissionRequest { name: "app".into(), perm: Some(perm) },
                &root,
            ))
            .await
            .expect("grant");
        let err = KvClient::new(first.clone()).put(with_token(put("app/jwt"), &alice)).await.expect_err("old");
        assert_eq!(err.message(), "etcdserver: revision of auth store is old");
        let fresh = login(&first, "alice", "alicepw").await.expect("login again");
        KvClient::new(first.clone()).put(with_token(put("app/jwt"), &fresh)).await.expect("fresh token");
        let last = if fresh.ends_with('x') { 'y' } else { 'x' };
        let forged = format!("{}{last}", &fresh[..fresh.len() - 1]);
        let err = KvClient::new(first).put(with_token(put("app/jwt"), &forged)).await.expect_err("forged");
        assert_eq!(err.message(), "etcdserver: invalid auth token");
    })
    .await
    .expect("in time");
}

/// Opens a watch stream with `token` and creates a watcher on `key`.
async fn watch_as(
    ch: &Channel,
    token: &str,
    key: &str,
) -> (tokio::sync::mpsc::Sender<WatchRequest>, tonic::Streaming<WatchResponse>) {
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    let mut w = WatchClient::new(ch.clone())
        .watch(with_token(tokio_stream::wrappers::ReceiverStream::new(rx), token))
        .await
        .expect("watch")
        .into_inner();
    let create = WatchCreateRequest { key: key.into(), ..Default::default() };
    tx.send(WatchRequest { request_union: Some(RequestUnion::CreateRequest(create)) }).await.expect("send");
    let r = w.message().await.expect("answer").expect("a response");
    assert!(r.created && !r.canceled, "{r:?}");
    (tx, w)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoking_a_role_ends_the_watches_that_lost_it_unless_asked_to_keep_them() {
    tokio::time::timeout(LIMIT, async {
        for cancels in [true, false] {
            let flag = format!("--strata-auth-revoke-cancels-watches={cancels}");
            let m = LocalMember::start(&[&flag]).await.expect("start");
            let ch = channel(&m).await;
            set_up(&ch).await;
            let alice = login(&ch, "alice", "alicepw").await.expect("login");
            let root = login(&ch, "root", "rootpw").await.expect("root");
            let (_keep_open, mut w) = watch_as(&ch, &alice, "app/x").await;
            // A revoke of a permission alice's watch does not need ends nothing.
            let unrelated =
                AuthRoleRevokePermissionRequest { role: "app".into(), key: "shared".into(), range_end: vec![] };
            AuthClient::new(ch.clone())
                .role_revoke_permission(with_token(unrelated, &root))
                .await
                .expect("revoke shared");
            KvClient::new(ch.clone()).put(with_token(put("app/x"), &root)).await.expect("put");
            let r = w.message().await.expect("answer").expect("a response");
            assert_eq!(r.events.len(), 1, "still watching: {r:?}");
            let revoke = AuthUserRevokeRoleRequest { name: "alice".into(), role: "app".into() };
            AuthClient::new(ch.clone()).user_revoke_role(with_token(revoke, &root)).await.expect("revoke role");
            KvClient::new(ch.clone()).put(with_token(put("app/x"), &root)).await.expect("put");
            let r = w.message().await.expect("answer").expect("a response");
            if cancels {
                assert!(r.canceled && r.events.is_empty(), "{r:?}");
                assert_eq!(r.cancel_reason, "etcdserver: permission denied");
            } else {
                assert!(!r.canceled && r.events.len() == 1, "etcd's behaviour: {r:?}");
            }
        }
    })
    .await
    .expect("in time");
}

/// A metric's value from the member's `/metrics` (HTTP/1.1 on the client port).
async fn metric(m: &LocalMember, name: &str) -> f64 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(m.endpoint()).await.expect("connect");
    s.write_all(b"GET /metrics HTTP/1.1\r\nHost: strata\r\nConnection: close\r\n\r\n").await.expect("send");
    let mut body = String::new();
    s.read_to_string(&mut body).await.expect("read");
    body.lines().find_map(|l| l.strip_prefix(name).and_then(|v| v.trim().parse().ok())).unwrap_or(0.0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_and_roles_reach_a_member_that_catches_up_by_snapshot() {
    tokio::time::timeout(LIMIT, async {
        let extra = ["--snapshot-count", "50", "--experimental-snapshot-catchup-entries", "5"];
        let mut members = LocalMember::start_cluster(3, &extra).await.expect("cluster");
        let status = api::etcdserverpb::maintenance_client::MaintenanceClient::new(channel(&members[0]).await)
            .status(StatusRequest {})
            .await
            .expect("status")
            .into_inner();
        let mut ids = Vec::new();
        for m in &members {
            let s = api::etcdserverpb::maintenance_client::MaintenanceClient::new(channel(m).await)
                .status(StatusRequest {})
                .await
                .expect("status")
                .into_inner();
            ids.push(s.header.expect("header").member_id);
        }
        let leader = ids.iter().position(|id| *id == status.leader).expect("a leader among the members");
        let lagging = (leader + 1) % 3;
        members[lagging].stop().await.expect("stop").expect("clean stop");

        let ch = channel(&members[leader]).await;
        set_up(&ch).await;
        let root = login(&ch, "root", "rootpw").await.expect("root");
        // Until the leader has purged the entries that added the users.
        let mut kv = KvClient::new(ch.clone());
        while metric(&members[leader], "strata_raft_log_purged_index").await < 60.0 {
            for _ in 0..10 {
                kv.put(with_token(put("nudge"), &root)).await.expect("put");
            }
        }
        members[lagging].restart().await.expect("restart");
        let back = channel(&members[lagging]).await;
        // Its store comes from the snapshot: it knows alice and her role.
        let mut alice = None;
        for _ in 0..100 {
            if let Ok(t) = login(&back, "alice", "alicepw").await {
                alice = Some(t);
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let alice = alice.expect("alice logs in on the member restored by snapshot");
        KvClient::new(back.clone()).put(with_token(put("app/after"), &alice)).await.expect("granted");
        let err = KvClient::new(back).put(with_token(put("secret"), &alice)).await.expect_err("denied");
        assert_eq!(err.code(), Code::PermissionDenied);
    })
    .await
    .expect("in time");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keeping_a_lease_alive_needs_write_access_to_its_keys() {
    use api::etcdserverpb::lease_client::LeaseClient;
    tokio::time::timeout(LIMIT, async {
        let m = LocalMember::start(&[]).await.expect("start");
        let ch = channel(&m).await;
        set_up(&ch).await;
        let alice = login(&ch, "alice", "alicepw").await.expect("login");
        let root = login(&ch, "root", "rootpw").await.expect("root");
        let mut leases = LeaseClient::new(ch.clone());
        let id = leases
            .lease_grant(with_token(LeaseGrantRequest { ttl: 60, id: 0 }, &alice))
            .await
            .expect("grant")
            .into_inner()
            .id;
        let renew = |token: &str| {
            let stream = tokio_stream::iter([LeaseKeepAliveRequest { id }]);
            let mut leases = leases.clone();
            let req = with_token(stream, token);
            async move { leases.lease_keep_alive(req).await?.into_inner().message().await }
        };
        assert!(renew(&alice).await.expect("her own lease").is_some_and(|r| r.ttl > 0));
        // Root attaches a key alice may not write: she may no longer renew it.
        let secret = PutRequest { key: "secret".into(), value: b"v".to_vec(), lease: id, ..Default::default() };
        KvClient::new(ch.clone()).put(with_token(secret, &root)).await.expect("root puts");
        let err = renew(&alice).await.expect_err("denied");
        assert_eq!(err.code(), Code::PermissionDenied, "{err:?}");
        assert!(renew(&root).await.expect("admin").is_some());
        // Nor attach her own key to it.
        let mine = PutRequest { key: "app/mine".into(), value: b"v".to_vec(), lease: id, ..Default::default() };
        let err = KvClient::new(ch.clone()).put(with_token(mine, &alice)).await.expect_err("lease holds secret");
        assert_eq!(err.code(), Code::PermissionDenied);
    })
    .await
    .expect("in time");
}
