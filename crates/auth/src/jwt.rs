//! etcd's JWT tokens (`--auth-token jwt,…`, etcd `server/auth/jwt.go`): the
//! claims `username`, `revision` (the auth revision when issued) and `exp`,
//! signed with the configured method. Any member holding the key verifies a
//! token another member issued; a member given only the public key verifies
//! but cannot issue ("token signing attempted with verify-only key").
//!
//! A signature check costs tens of microseconds (ES256) to hundreds (RS256),
//! more than the request it guards: a token that verified is remembered, by
//! its whole text, until its `exp`, so each token is verified once per member.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::error::{AuthError, AuthResult};

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    username: String,
    revision: u64,
    exp: u64,
}

/// Verified tokens: user, revision, `exp`.
type Verified = HashMap<String, (String, u64, u64)>;

/// At most this many verified tokens are remembered; then the memory starts over.
const REMEMBERED: usize = 4096;

/// The keys and settings of JWT tokens.
#[derive(Clone)]
pub struct JwtTokens {
    alg: Algorithm,
    /// `None`: verify-only (a public key and no private key).
    encoding: Option<EncodingKey>,
    decoding: DecodingKey,
    ttl: Duration,
    verified: Arc<Mutex<Verified>>,
}

impl std::fmt::Debug for JwtTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the keys.
        f.debug_struct("JwtTokens").field("alg", &self.alg).field("ttl", &self.ttl).finish_non_exhaustive()
    }
}

impl JwtTokens {
    pub fn new(alg: Algorithm, encoding: Option<EncodingKey>, decoding: DecodingKey, ttl: Duration) -> JwtTokens {
        JwtTokens { alg, encoding, decoding, ttl, verified: Arc::default() }
    }

    /// A token for `username` at auth revision `revision`.
    pub fn assign(&self, username: &str, revision: u64) -> AuthResult<String> {
        let key =
            self.encoding.as_ref().ok_or(AuthError::Storage("token signing attempted with verify-only key".into()))?;
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
        let claims = Claims { username: username.to_string(), revision, exp: (now + self.ttl).as_secs() };
        jsonwebtoken::encode(&Header::new(self.alg), &claims, key)
            .map_err(|e| AuthError::Storage(format!("signing a JWT: {e}")))
    }

    /// The user and revision of a token signed with our key, of our method,
    /// not expired; `None` for anything else.
    pub fn info(&self, token: &str) -> Option<(String, u64)> {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
        {
            let mut verified = self.verified.lock().unwrap_or_else(|p| p.into_inner());
            match verified.get(token) {
                // jsonwebtoken's rule with no leeway: valid up to `exp` included.
                Some((user, revision, exp)) if now <= *exp => return Some((user.clone(), *revision)),
                Some(_) => {
                    verified.remove(token);
                }
                None => {}
            }
        }
        let mut validation = Validation::new(self.alg);
        validation.leeway = 0;
        validation.set_required_spec_claims(&["exp"]);
        match jsonwebtoken::decode::<Claims>(token, &self.decoding, &validation) {
            Ok(data) => {
                let c = data.claims;
                let mut verified = self.verified.lock().unwrap_or_else(|p| p.into_inner());
                if verified.len() >= REMEMBERED {
                    verified.clear();
                }
                verified.insert(token.to_string(), (c.username.clone(), c.revision, c.exp));
                Some((c.username, c.revision))
            }
            Err(e) => {
                tracing::warn!(error = %e, "failed to parse a JWT token");
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hs256(secret: &[u8], ttl: Duration) -> JwtTokens {
        JwtTokens::new(Algorithm::HS256, Some(EncodingKey::from_secret(secret)), DecodingKey::from_secret(secret), ttl)
    }

    #[test]
    fn a_token_verifies_with_the_same_key_only() {
        let t = hs256(b"k1", Duration::from_secs(60));
        let token = t.assign("alice", 7).expect("sign");
        assert_eq!(t.info(&token), Some(("alice".to_string(), 7)));
        assert_eq!(hs256(b"k2", Duration::from_secs(60)).info(&token), None, "another key");
        assert_eq!(t.info("garbage"), None);
        assert_eq!(t.info(&format!("{token}x")), None, "tampered");
    }

    #[test]
    fn an_expired_token_is_refused_even_once_remembered() {
        let t = hs256(b"k", Duration::from_secs(1));
        let token = t.assign("alice", 1).expect("sign");
        assert_eq!(t.info(&token), Some(("alice".to_string(), 1)), "valid until its exp");
        std::thread::sleep(Duration::from_millis(2100));
        assert_eq!(t.info(&token), None);
    }

    #[test]
    fn a_verify_only_member_cannot_issue() {
        let t = JwtTokens::new(Algorithm::HS256, None, DecodingKey::from_secret(b"k"), Duration::from_secs(60));
        assert!(t.assign("alice", 1).is_err());
    }
}
