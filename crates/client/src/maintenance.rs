//! The Maintenance service (status, alarms, hashes, defragmentation, leadership
//! transfer) and the Cluster service (member list and membership changes).
//!
//! Maintenance calls act on the one member this client is connected to: to ask each
//! member of a cluster, connect to each endpoint in turn (`Client::connect(&[ep], …)`),
//! as clientv3 dials each endpoint for `Status`, `HashKV` and `Defragment`.

use crate::{Client, Result, Transport};
use api::etcdserverpb::cluster_client::ClusterClient;
use api::etcdserverpb::maintenance_client::MaintenanceClient;
use api::etcdserverpb::{
    AlarmMember, AlarmRequest, AlarmResponse, AlarmType, DefragmentRequest, DefragmentResponse, DowngradeRequest,
    DowngradeResponse, HashKvRequest, HashKvResponse, HashRequest, HashResponse, MemberAddRequest, MemberAddResponse,
    MemberListRequest, MemberListResponse, MemberPromoteRequest, MemberPromoteResponse, MemberRemoveRequest,
    MemberRemoveResponse, MemberUpdateRequest, MemberUpdateResponse, MoveLeaderRequest, MoveLeaderResponse,
    StatusRequest, StatusResponse, alarm_request::AlarmAction, downgrade_request::DowngradeAction,
};

impl Client {
    /// The generated Maintenance stub on this connection (with the auth token), for
    /// calls this type does not wrap (`Snapshot`).
    pub fn maintenance(&self) -> MaintenanceClient<Transport> {
        self.stub(MaintenanceClient::new)
    }

    /// The generated Cluster stub on this connection (with the auth token).
    pub fn cluster(&self) -> ClusterClient<Transport> {
        self.stub(ClusterClient::new)
    }

    /// `Maintenance.Status`: the member's version, database size, Raft position,
    /// leader and active alarms. Served locally, without a quorum.
    pub async fn status(&self) -> Result<StatusResponse> {
        self.unary(|t| async move { MaintenanceClient::new(t).status(StatusRequest {}).await }).await
    }

    /// `Maintenance.Alarm` with any action.
    pub async fn alarm(&self, req: AlarmRequest) -> Result<AlarmResponse> {
        self.unary(|t| async move { MaintenanceClient::new(t).alarm(req).await }).await
    }

    /// `Maintenance.Alarm` GET for every member and alarm type: the active alarms.
    pub async fn alarm_list(&self) -> Result<AlarmResponse> {
        self.alarm(AlarmRequest { action: AlarmAction::Get as i32, member_id: 0, alarm: AlarmType::None as i32 }).await
    }

    /// `Maintenance.Alarm` DEACTIVATE of one alarm of one member. (clientv3's
    /// `AlarmDisarm` with an empty member lists the alarms and disarms each; that loop is
    /// the caller's.)
    pub async fn alarm_disarm(&self, alarm: AlarmMember) -> Result<AlarmResponse> {
        self.alarm(AlarmRequest {
            action: AlarmAction::Deactivate as i32,
            member_id: alarm.member_id,
            alarm: alarm.alarm,
        })
        .await
    }

    /// `Maintenance.Defragment`: rewrites the member's database file without its free
    /// space. Local to the member; may take long on a large database.
    pub async fn defragment(&self) -> Result<DefragmentResponse> {
        self.unary(|t| async move { MaintenanceClient::new(t).defragment(DefragmentRequest {}).await }).await
    }

    /// `Maintenance.Hash`: a hash of the whole backend (etcd's is of every bucket).
    pub async fn hash(&self) -> Result<HashResponse> {
        self.unary(|t| async move { MaintenanceClient::new(t).hash(HashRequest {}).await }).await
    }

    /// `Maintenance.HashKV`: a hash of the key history up to `revision` (0: the current
    /// revision), comparable between members.
    pub async fn hash_kv(&self, revision: i64) -> Result<HashKvResponse> {
        self.unary(|t| async move { MaintenanceClient::new(t).hash_kv(HashKvRequest { revision }).await }).await
    }

    /// `Maintenance.MoveLeader`: asks the leader to hand leadership to `target_id`.
    pub async fn move_leader(&self, target_id: u64) -> Result<MoveLeaderResponse> {
        self.unary(|t| async move { MaintenanceClient::new(t).move_leader(MoveLeaderRequest { target_id }).await })
            .await
    }

    /// `Cluster.MemberList`: every member with its peer and client URLs, as this member
    /// knows them.
    pub async fn member_list(&self) -> Result<MemberListResponse> {
        self.member_list_with(false).await
    }

    /// `Cluster.MemberList`, `linearizable` (etcd 3.5+): the list once this member has
    /// applied everything the leader committed before the request.
    pub async fn member_list_with(&self, linearizable: bool) -> Result<MemberListResponse> {
        let req = MemberListRequest { linearizable };
        self.unary(|t| async move { ClusterClient::new(t).member_list(req).await }).await
    }

    /// `Maintenance.Downgrade` (etcd 3.5+): validate, enable or cancel a downgrade of the
    /// cluster to `version` (`major.minor`; ignored by cancel).
    pub async fn downgrade(&self, action: DowngradeAction, version: &str) -> Result<DowngradeResponse> {
        let req = DowngradeRequest { action: action as i32, version: version.to_owned() };
        self.unary(|t| {
            let req = req.clone();
            async move { MaintenanceClient::new(t).downgrade(req).await }
        })
        .await
    }

    /// `Cluster.MemberAdd`: adds a member (a voter, or a learner with `is_learner`) with
    /// `peer_urls`; it is listed `unstarted` until it starts and publishes itself.
    pub async fn member_add(&self, peer_urls: Vec<String>, is_learner: bool) -> Result<MemberAddResponse> {
        let req = MemberAddRequest { peer_ur_ls: peer_urls, is_learner };
        self.unary(|t| {
            let req = req.clone();
            async move { ClusterClient::new(t).member_add(req).await }
        })
        .await
    }

    /// `Cluster.MemberRemove`: removes the member with id `id`.
    pub async fn member_remove(&self, id: u64) -> Result<MemberRemoveResponse> {
        self.unary(|t| async move { ClusterClient::new(t).member_remove(MemberRemoveRequest { id }).await }).await
    }

    /// `Cluster.MemberUpdate`: replaces the peer URLs of the member with id `id`.
    pub async fn member_update(&self, id: u64, peer_urls: Vec<String>) -> Result<MemberUpdateResponse> {
        let req = MemberUpdateRequest { id, peer_ur_ls: peer_urls };
        self.unary(|t| {
            let req = req.clone();
            async move { ClusterClient::new(t).member_update(req).await }
        })
        .await
    }

    /// `Cluster.MemberPromote`: makes the learner with id `id` a voter (etcd refuses a
    /// learner that is not in sync with the leader).
    pub async fn member_promote(&self, id: u64) -> Result<MemberPromoteResponse> {
        self.unary(|t| async move { ClusterClient::new(t).member_promote(MemberPromoteRequest { id }).await }).await
    }
}
