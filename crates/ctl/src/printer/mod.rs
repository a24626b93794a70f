//! Output formats (`-w/--write-out`): one module per format, each with a function per
//! response type, appending exactly the bytes etcdctl 3.4 prints to a buffer.

pub mod fields;
pub mod json;
pub mod protobuf;
pub mod simple;

use crate::command::watch::WatchUpdate;
use crate::error::{CtlError, Result};
use api::etcdserverpb::{
    DeleteRangeResponse, LeaseGrantResponse, LeaseKeepAliveResponse, LeaseLeasesResponse, LeaseRevokeResponse,
    LeaseTimeToLiveResponse, PutResponse, RangeResponse, TxnResponse,
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
    /// Tables; only some commands support them, none of the KV ones.
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
    /// `--hex`: print keys and values as `\xNN` escapes (simple format only).
    pub hex: bool,
    /// `--print-value-only` (simple format only).
    pub value_only: bool,
}

impl Printer {
    /// A printer for `format`.
    pub fn new(format: Format, hex: bool) -> Self {
        Self { format, hex, value_only: false }
    }

    fn unsupported(&self) -> CtlError {
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
            Format::Fields => fields::get(out, r),
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
            Format::Fields => fields::put(out, r),
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
            Format::Fields => fields::del(out, r),
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
            Format::Fields => fields::txn(out, r),
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
            Format::Fields => fields::watch(out, r),
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
            Format::Fields => fields::lease_grant(out, r),
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
            Format::Fields => fields::lease_revoke(out, r),
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
            Format::Fields => fields::lease_keep_alive(out, r),
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
            Format::Fields => fields::lease_time_to_live(out, r),
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
            Format::Fields => fields::lease_leases(out, r),
            Format::Protobuf => protobuf::embedded_header(out, r.header.as_ref()),
            Format::Table => return Err(self.unsupported()),
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
