//! Output formats (`-w/--write-out`): one module per format, each with a function per
//! response type, appending exactly the bytes etcdctl 3.4 prints to a buffer.

pub mod fields;
pub mod json;
pub mod protobuf;
pub mod simple;

use crate::error::{CtlError, Result};
use api::etcdserverpb::{DeleteRangeResponse, PutResponse, RangeResponse, TxnResponse};

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
}
