//! The printers of the `user`, `role` and `auth` commands (`printer*.go`'s `User*`,
//! `Role*` and `AuthStatus`).
//!
//! As in etcdctl, every format but the table prints them; the fields format has no
//! `user get`, `user list` (nor 3.6's `auth status`). An unsupported format is refused
//! (exit 4) only once the request has been done, so a `user add -w table` adds the user.

use super::{Format, Printer, fields, json, protobuf, simple};
use crate::error::Result;
use api::etcdserverpb::{
    AuthRoleGetResponse, AuthRoleListResponse, AuthStatusResponse, AuthUserGetResponse, AuthUserListResponse,
    ResponseHeader,
};

impl Printer {
    /// A change whose response is its header alone (`user add | delete | passwd |
    /// grant-role | revoke-role`, `role add | delete | grant-permission |
    /// revoke-permission`): in the simple format the command's `sentence`.
    pub fn auth_changed(
        &self,
        out: &mut Vec<u8>,
        sentence: &[u8],
        header: Option<&ResponseHeader>,
        r: &impl prost::Message,
    ) -> Result<()> {
        match self.format {
            Format::Simple => {
                out.extend_from_slice(sentence);
                out.push(b'\n');
            }
            Format::Json => json::line(out, json::header_only(header)),
            Format::Fields => fields::header_only(out, header, self.hex),
            Format::Protobuf => protobuf::write(out, r),
            Format::Table => return Err(self.unsupported()),
        }
        Ok(())
    }

    /// `user get <name>` (without `--detail`).
    pub fn user_get(&self, out: &mut Vec<u8>, name: &str, r: &AuthUserGetResponse) -> Result<()> {
        match self.format {
            Format::Simple => simple::user_get(out, name, r),
            Format::Json => json::line(out, json::user_get(r)),
            Format::Protobuf => protobuf::write(out, r),
            Format::Fields | Format::Table => return Err(self.unsupported()),
        }
        Ok(())
    }

    /// `user list`.
    pub fn user_list(&self, out: &mut Vec<u8>, r: &AuthUserListResponse) -> Result<()> {
        match self.format {
            Format::Simple => simple::names(out, &r.users),
            Format::Json => json::line(out, json::user_list(r)),
            Format::Protobuf => protobuf::write(out, r),
            Format::Fields | Format::Table => return Err(self.unsupported()),
        }
        Ok(())
    }

    /// `role get <role>`, and each role of `user get --detail`.
    pub fn role_get(&self, out: &mut Vec<u8>, role: &str, r: &AuthRoleGetResponse) -> Result<()> {
        match self.format {
            Format::Simple => simple::role_get(out, role, r),
            Format::Json => json::line(out, json::role_get(r)),
            Format::Fields => fields::role_get(out, r, self.hex),
            Format::Protobuf => protobuf::write(out, r),
            Format::Table => return Err(self.unsupported()),
        }
        Ok(())
    }

    /// `role list`.
    pub fn role_list(&self, out: &mut Vec<u8>, r: &AuthRoleListResponse) -> Result<()> {
        match self.format {
            Format::Simple => simple::names(out, &r.roles),
            Format::Json => json::line(out, json::role_list(r)),
            Format::Fields => fields::role_list(out, r, self.hex),
            Format::Protobuf => protobuf::write(out, r),
            Format::Table => return Err(self.unsupported()),
        }
        Ok(())
    }

    /// `auth status`, which etcdctl 3.4 does not have: etcdctl 3.6's output.
    pub fn auth_status(&self, out: &mut Vec<u8>, r: &AuthStatusResponse) -> Result<()> {
        match self.format {
            Format::Simple => simple::auth_status(out, r),
            Format::Json => json::line(out, json::auth_status(r)),
            Format::Protobuf => protobuf::write(out, r),
            Format::Fields | Format::Table => return Err(self.unsupported()),
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
