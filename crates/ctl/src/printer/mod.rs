//! Output formats (`-w/--write-out`): one module per format, each with a function per
//! response type, appending exactly the bytes etcdctl 3.6 prints to a buffer.

mod auth;
pub mod fields;
pub mod json;
pub mod protobuf;
pub mod simple;
pub mod table;

use crate::command::endpoint::{EndpointHashKv, EndpointHealth, EndpointStatus};
use crate::command::watch::WatchUpdate;
use crate::error::{CtlError, ExitCode, Result};
use api::etcdserverpb::{
    AlarmResponse, DeleteRangeResponse, LeaseGrantResponse, LeaseKeepAliveResponse, LeaseLeasesResponse,
    LeaseRevokeResponse, LeaseTimeToLiveResponse, MemberAddResponse, MemberListResponse, MemberPromoteResponse,
    MemberRemoveResponse, MemberUpdateResponse, MoveLeaderResponse, PutResponse, RangeResponse, TxnResponse,
};

/// A `--write-out` value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Human-readable lines (the default).
    Simple,
    /// Go's `encoding/json` of the response struct.
    Json,
    /// `"Name" : value` lines.
    Fields,
    /// The response's protobuf encoding, raw.
    Protobuf,
    /// Tables; only `endpoint status | health | hashkv` and `member list` support them
    /// (and, in etcdctl, `snapshot status`).
    Table,
}

impl Format {
    /// Parses a `--write-out` value; etcdctl answers anything else with
    /// "unsupported output format" (exit 4) before sending the request.
    pub fn parse(s: &str) -> Result<Format> {
        match s {
            "simple" => Ok(Format::Simple),
            "json" => Ok(Format::Json),
            "fields" => Ok(Format::Fields),
            "protobuf" => Ok(Format::Protobuf),
            "table" => Ok(Format::Table),
            _ => Err(CtlError::bad_feature("unsupported output format")),
        }
    }
}

/// Prints responses in one format.
#[derive(Debug, Clone, Copy)]
pub struct Printer {
    /// The format.
    pub format: Format,
    /// `--hex`: keys and values as `\xNN` escapes in the simple format; ids in hex in the
    /// fields format and in `member list`'s JSON (etcdctl 3.6).
    pub hex: bool,
    /// `--print-value-only` (simple format only).
    pub value_only: bool,
}

impl Printer {
    /// A printer for `format`.
    pub fn new(format: Format, hex: bool) -> Self {
        Self { format, hex, value_only: false }
    }

    pub(crate) fn unsupported(&self) -> CtlError {
        let name = match self.format {
            Format::Table => "table",
            Format::Protobuf => "protobuf",
            Format::Json => "json",
            Format::Fields => "fields",
            Format::Simple => "simple",
        };
        CtlError::bad_feature(format!("{name} not supported as output format"))
    }

    fn kv_style(&self) -> simple::KvStyle {
        simple::KvStyle { hex: self.hex, value_only: self.value_only }
    }

    /// `get`.
    pub fn get(&self, out: &mut Vec<u8>, r: &RangeResponse) -> Result<()> {
        match self.format {
            Format::Simple => simple::get(out, r, self.kv_style()),
            Format::Json => json::line(out, json::range(r)),
            Format::Fields => fields::get(out, r, self.hex),
            Format::Protobuf => protobuf::write(out, r),
            Format::Table => return Err(self.unsupported()),
        }
        Ok(())
    }

    /// `put`.
    pub fn put(&self, out: &mut Vec<u8>, r: &PutResponse) -> Result<()> {
        match self.format {
            Format::Simple => simple::put(out, r, self.kv_style()),
            Format::Json => json::line(out, json::put(r)),
            Format::Fields => fields::put(out, r, self.hex),
            Format::Protobuf => protobuf::write(out, r),
            Format::Table => return Err(self.unsupported()),
        }
        Ok(())
    }

    /// `del`.
    pub fn del(&self, out: &mut Vec<u8>, r: &DeleteRangeResponse) -> Result<()> {
        match self.format {
            Format::Simple => simple::del(out, r, self.kv_style()),
            Format::Json => json::line(out, json::del(r)),
            Format::Fields => fields::del(out, r, self.hex),
            Format::Protobuf => protobuf::write(out, r),
            Format::Table => return Err(self.unsupported()),
        }
        Ok(())
    }

    /// `txn`.
    pub fn txn(&self, out: &mut Vec<u8>, r: &TxnResponse) -> Result<()> {
        match self.format {
            Format::Simple => simple::txn(out, r, self.kv_style()),
            Format::Json => json::line(out, json::txn(r)),
            Format::Fields => fields::txn(out, r, self.hex),
            Format::Protobuf => protobuf::write(out, r),
            Format::Table => return Err(self.unsupported()),
        }
        Ok(())
    }

    /// `watch`, once per response delivered to the watcher. Like etcdctl, an unsupported
    /// format fails here, at the first response, not before.
    pub fn watch(&self, out: &mut Vec<u8>, r: &WatchUpdate) -> Result<()> {
        match self.format {
            Format::Simple => simple::watch(out, r, self.kv_style()),
            Format::Json => json::line(out, json::watch(r)),
            Format::Fields => fields::watch(out, r, self.hex),
            Format::Protobuf => protobuf::watch(out, r),
            Format::Table => return Err(self.unsupported()),
        }
        Ok(())
    }

    /// `lease grant`.
    pub fn lease_grant(&self, out: &mut Vec<u8>, r: &LeaseGrantResponse) -> Result<()> {
        match self.format {
            Format::Simple => simple::lease_grant(out, r),
            Format::Json => json::line(out, json::lease_grant(r)),
            Format::Fields => fields::lease_grant(out, r, self.hex),
            Format::Protobuf => protobuf::embedded_header(out, r.header.as_ref()),
            Format::Table => return Err(self.unsupported()),
        }
        Ok(())
    }

    /// `lease revoke <id>`. clientv3's `LeaseRevokeResponse` is a defined type over the
    /// protobuf struct, which drops its methods: etcdctl cannot marshal it.
    pub fn lease_revoke(&self, out: &mut Vec<u8>, id: i64, r: &LeaseRevokeResponse) -> Result<()> {
        match self.format {
            Format::Simple => simple::lease_revoke(out, id),
            Format::Json => json::line(out, json::lease_revoke(r)),
            Format::Fields => fields::lease_revoke(out, r, self.hex),
            Format::Protobuf => {
                return Err(CtlError::bad_feature(format!(
                    "marshal unsupported for type clientv3.LeaseRevokeResponse ({{{}}})",
                    protobuf::header_text(r.header.as_ref())
                )));
            }
            Format::Table => return Err(self.unsupported()),
        }
        Ok(())
    }

    /// `lease keep-alive`, once per renewal.
    pub fn lease_keep_alive(&self, out: &mut Vec<u8>, r: &LeaseKeepAliveResponse) -> Result<()> {
        match self.format {
            Format::Simple => simple::lease_keep_alive(out, r),
            Format::Json => json::line(out, json::lease_keep_alive(r)),
            Format::Fields => fields::lease_keep_alive(out, r, self.hex),
            Format::Protobuf => protobuf::embedded_header(out, r.header.as_ref()),
            Format::Table => return Err(self.unsupported()),
        }
        Ok(())
    }

    /// `lease timetolive [--keys]`.
    pub fn lease_time_to_live(&self, out: &mut Vec<u8>, r: &LeaseTimeToLiveResponse, keys: bool) -> Result<()> {
        match self.format {
            Format::Simple => simple::lease_time_to_live(out, r, keys),
            Format::Json => json::line(out, json::lease_time_to_live(r)),
            Format::Fields => fields::lease_time_to_live(out, r, self.hex),
            Format::Protobuf => protobuf::embedded_header(out, r.header.as_ref()),
            Format::Table => return Err(self.unsupported()),
        }
        Ok(())
    }

    /// `lease list`.
    pub fn lease_leases(&self, out: &mut Vec<u8>, r: &LeaseLeasesResponse) -> Result<()> {
        match self.format {
            Format::Simple => simple::lease_leases(out, r),
            Format::Json => json::line(out, json::lease_leases(r)),
            Format::Fields => fields::lease_leases(out, r, self.hex),
            Format::Protobuf => protobuf::embedded_header(out, r.header.as_ref()),
            Format::Table => return Err(self.unsupported()),
        }
        Ok(())
    }

    /// `endpoint status`, after every endpoint was asked. Protobuf is refused only now,
    /// as etcdctl does.
    pub fn endpoint_status(&self, out: &mut Vec<u8>, list: &[EndpointStatus]) -> Result<()> {
        match self.format {
            Format::Simple => simple::endpoint_status(out, list),
            Format::Json => json::line(out, json::endpoint_status(list)),
            Format::Fields => fields::endpoint_status(out, list, self.hex),
            Format::Table => {
                out.extend_from_slice(table::render(&table::STATUS_HEADERS, table::status_rows(list)).as_bytes())
            }
            Format::Protobuf => return Err(self.unsupported()),
        }
        Ok(())
    }

    /// `endpoint health`. The simple format writes unhealthy endpoints to `err`.
    pub fn endpoint_health(&self, out: &mut Vec<u8>, err: &mut Vec<u8>, list: &[EndpointHealth]) -> Result<()> {
        match self.format {
            Format::Simple => simple::endpoint_health(out, err, list),
            Format::Json => json::line(out, json::endpoint_health(list)),
            Format::Fields => fields::endpoint_health(out, list),
            Format::Table => {
                out.extend_from_slice(table::render(&table::HEALTH_HEADERS, table::health_rows(list)).as_bytes())
            }
            Format::Protobuf => return Err(self.unsupported()),
        }
        Ok(())
    }

    /// `endpoint hashkv`.
    pub fn endpoint_hashkv(&self, out: &mut Vec<u8>, list: &[EndpointHashKv]) -> Result<()> {
        match self.format {
            Format::Simple => simple::endpoint_hashkv(out, list),
            Format::Json => json::line(out, json::endpoint_hashkv(list)),
            Format::Fields => fields::endpoint_hashkv(out, list, self.hex),
            Format::Table => {
                out.extend_from_slice(table::render(&table::HASHKV_HEADERS, table::hashkv_rows(list)).as_bytes())
            }
            Format::Protobuf => return Err(self.unsupported()),
        }
        Ok(())
    }

    /// `alarm list` and `alarm disarm`.
    ///
    /// etcd 3.4 answers alarm requests without a header and etcdctl's fields printer
    /// dereferences it: a nil-pointer panic, exit code 2, nothing on stdout. stratactl
    /// exits the same way with a sentence instead of the crash; with a header (etcd 3.5
    /// and later send one) it prints the fields.
    pub fn alarm(&self, out: &mut Vec<u8>, r: &AlarmResponse) -> Result<()> {
        match self.format {
            Format::Simple => simple::alarm(out, r),
            Format::Json => json::line(out, json::alarm(r)),
            Format::Fields if r.header.is_none() => {
                eprintln!(
                    "the alarm response has no header (an etcd 3.4 member), which etcdctl crashes on \
                     with -w fields (exit 2, as here); use -w json"
                );
                return Err(CtlError::quiet(ExitCode::BadConnection));
            }
            Format::Fields => fields::alarm(out, r, self.hex),
            Format::Protobuf => protobuf::write(out, r),
            Format::Table => return Err(self.unsupported()),
        }
        Ok(())
    }

    /// `member list`, in every format.
    pub fn member_list(&self, out: &mut Vec<u8>, r: &MemberListResponse) -> Result<()> {
        match self.format {
            Format::Simple => simple::member_list(out, &r.members),
            Format::Json if self.hex => json::line(out, json::member_list_hex(r)),
            Format::Json => json::line(out, json::members(r.header.as_ref(), None, &r.members)),
            Format::Fields => fields::member_list(out, r, self.hex),
            Format::Protobuf => protobuf::write(out, r),
            Format::Table => {
                out.extend_from_slice(table::render(&table::MEMBER_HEADERS, table::member_rows(&r.members)).as_bytes())
            }
        }
        Ok(())
    }

    /// `member add`: the simple format's first line (the command adds the `ETCD_*`
    /// variables), which says `added as learner to` for a learner (etcdctl 3.6); etcdctl
    /// has no fields or table output for it.
    pub fn member_add(&self, out: &mut Vec<u8>, r: &MemberAddResponse) -> Result<()> {
        let (id, learner) = r.member.as_ref().map(|m| (m.id, m.is_learner)).unwrap_or_default();
        let verb = if learner { "added as learner to" } else { "added to" };
        match self.format {
            Format::Simple => simple::member_changed(out, id, verb, r.header.as_ref()),
            Format::Json => json::line(out, json::members(r.header.as_ref(), r.member.as_ref(), &r.members)),
            Format::Protobuf => protobuf::write(out, r),
            Format::Fields | Format::Table => return Err(self.unsupported()),
        }
        Ok(())
    }

    /// `member remove <id>`.
    pub fn member_remove(&self, out: &mut Vec<u8>, id: u64, r: &MemberRemoveResponse) -> Result<()> {
        match self.format {
            Format::Simple => simple::member_changed(out, id, "removed from", r.header.as_ref()),
            Format::Json => json::line(out, json::members(r.header.as_ref(), None, &r.members)),
            Format::Protobuf => protobuf::write(out, r),
            Format::Fields | Format::Table => return Err(self.unsupported()),
        }
        Ok(())
    }

    /// `member update <id>`.
    pub fn member_update(&self, out: &mut Vec<u8>, id: u64, r: &MemberUpdateResponse) -> Result<()> {
        match self.format {
            Format::Simple => simple::member_changed(out, id, "updated in", r.header.as_ref()),
            Format::Json => json::line(out, json::members(r.header.as_ref(), None, &r.members)),
            Format::Protobuf => protobuf::write(out, r),
            Format::Fields | Format::Table => return Err(self.unsupported()),
        }
        Ok(())
    }

    /// `member promote <id>`: etcdctl 3.6 prints the response in JSON and protobuf too
    /// (etcdctl 3.4 crashed in every format but simple), and refuses fields and table
    /// only after the learner was promoted.
    pub fn member_promote(&self, out: &mut Vec<u8>, id: u64, r: &MemberPromoteResponse) -> Result<()> {
        match self.format {
            Format::Simple => simple::member_changed(out, id, "promoted in", r.header.as_ref()),
            Format::Json => json::line(out, json::members(r.header.as_ref(), None, &r.members)),
            Format::Protobuf => protobuf::write(out, r),
            Format::Fields | Format::Table => return Err(self.unsupported()),
        }
        Ok(())
    }

    /// `move-leader`, once leadership has moved from `leader` to `target`. etcdctl has
    /// no fields or table output for it and says so only now, after the transfer.
    pub fn move_leader(&self, out: &mut Vec<u8>, leader: u64, target: u64, r: &MoveLeaderResponse) -> Result<()> {
        match self.format {
            Format::Simple => simple::move_leader(out, leader, target),
            Format::Json => json::line(out, json::move_leader(r)),
            Format::Protobuf => protobuf::write(out, r),
            Format::Fields | Format::Table => return Err(self.unsupported()),
        }
        Ok(())
    }
}

#[cfg(test)]
mod member_tests;
#[cfg(test)]
mod tests;
