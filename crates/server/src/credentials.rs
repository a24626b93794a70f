//! Who sent a gRPC request, by etcd's rules (`AuthInfoFromCtx`): while auth
//! is enabled, the token in the `token` metadata (etcd's clients) or the
//! `authorization` header (its gateway), else, with `--client-cert-auth`, the
//! common name of the verified client certificate. A token that names no one
//! is refused with "invalid auth token", never treated as no token.
//!
//! A simple token ends in the index of the entry that issued it; a member
//! that has not applied that entry yet waits for it (as etcd's
//! `indexWaiter`), so a client may use any member right after logging in.

use auth::AuthInfo;
use tonic::Request;
use tonic::metadata::MetadataMap;
use x509_parser::prelude::{FromDer, X509Certificate};

use crate::error::{EtcdError, EtcdResult};
use crate::member::{Member, REQUEST_TIMEOUT};
use crate::tls::ClientInfo;

/// The sender of `req`, or `None` (auth disabled, or nobody named).
pub async fn user<T>(member: &Member, req: &Request<T>) -> EtcdResult<Option<AuthInfo>> {
    from_parts(member, req.metadata(), req.extensions().get::<ClientInfo>()).await
}

/// [`user`] from the parts of a request a streaming handler keeps.
pub async fn from_parts(member: &Member, md: &MetadataMap, conn: Option<&ClientInfo>) -> EtcdResult<Option<AuthInfo>> {
    if !member.auth.is_enabled() {
        return Ok(None);
    }
    let token = md.get("token").or_else(|| md.get("authorization"));
    if let Some(t) = token {
        let t = t.to_str().map_err(|_| EtcdError::InvalidAuthToken)?;
        return match member.auth.auth_info_from_token(t) {
            Err(auth::AuthError::InvalidAuthToken) if wait_for_issuer(member, t).await => {
                Ok(member.auth.auth_info_from_token(t)?)
            }
            other => Ok(other?),
        };
    }
    if !member.client_cert_auth {
        return Ok(None);
    }
    Ok(conn.and_then(common_name).and_then(|cn| member.auth.auth_info_from_common_name(&cn)))
}

/// Waits until this member applied the entry a simple token names, if it is
/// ahead of it; whether there was anything to wait for.
async fn wait_for_issuer(member: &Member, token: &str) -> bool {
    let index = token.rsplit_once('.').and_then(|(_, i)| i.parse::<u64>().ok());
    let Some(index) = index.filter(|i| *i > member.raft.applied_index()) else { return false };
    matches!(tokio::time::timeout(REQUEST_TIMEOUT, member.raft.wait_applied(index)).await, Ok(Ok(())))
}

/// The common name of the leaf certificate the client presented (the TLS
/// layer verified the chain before the connection was accepted).
fn common_name(conn: &ClientInfo) -> Option<String> {
    let leaf = conn.peer_certificates.as_ref()?.first()?;
    let (_, cert) = X509Certificate::from_der(leaf.as_ref()).ok()?;
    let cn = cert.subject().iter_common_name().next()?.as_str().ok()?.to_string();
    Some(cn)
}
