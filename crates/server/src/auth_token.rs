//! `--auth-token`: etcd's token provider option, `simple` or
//! `jwt,pub-key=<file>,priv-key=<file>,sign-method=<alg>,ttl=<duration>`
//! (etcd `server/auth/store.go` `decomposeOpts`, `options.go`), read into the
//! auth store's options before anything is written. Key files are PEM; a
//! public key missing from the options is derived from the private key, as
//! etcd does; both given must match.

use std::collections::HashMap;
use std::time::Duration;

use auth::{DecodingKey, EncodingKey, JwtAlgorithm as Alg, JwtTokens};
use ring::signature::{self, KeyPair};
use rustls_pki_types::PrivateKeyDer;
use rustls_pki_types::pem::PemObject;

use crate::config::ConfigError;

/// etcd's default JWT lifetime.
const DEFAULT_JWT_TTL: Duration = Duration::from_secs(300);

fn err(msg: impl Into<String>) -> ConfigError {
    ConfigError::Auth(msg.into())
}

/// The JWT provider `option` asks for, `None` for simple tokens.
pub fn parse(option: &str) -> Result<Option<JwtTokens>, ConfigError> {
    let mut parts = option.split(',');
    let kind = parts.next().unwrap_or_default();
    let mut opts = HashMap::new();
    for p in parts {
        let Some((k, v)) = p.split_once('=').filter(|(_, v)| !v.contains('=')) else {
            return Err(err("auth: invalid auth options"));
        };
        if opts.insert(k, v).is_some() {
            return Err(err("auth: invalid auth options"));
        }
    }
    match kind {
        "simple" => Ok(None),
        "jwt" => jwt(&opts).map(Some),
        _ => Err(err("auth: invalid auth options")),
    }
}

fn jwt(opts: &HashMap<&str, &str>) -> Result<JwtTokens, ConfigError> {
    let ttl = match opts.get("ttl") {
        Some(t) if !t.is_empty() => goduration::parse_non_negative(t).map_err(|e| err(format!("auth: {e}")))?,
        _ => DEFAULT_JWT_TTL,
    };
    let alg = match opts.get("sign-method").copied().unwrap_or_default() {
        "HS256" => Alg::HS256,
        "HS384" => Alg::HS384,
        "HS512" => Alg::HS512,
        "RS256" => Alg::RS256,
        "RS384" => Alg::RS384,
        "RS512" => Alg::RS512,
        "PS256" => Alg::PS256,
        "PS384" => Alg::PS384,
        "PS512" => Alg::PS512,
        "ES256" => Alg::ES256,
        "ES384" => Alg::ES384,
        "EdDSA" => Alg::EdDSA,
        "ES512" => return Err(err("auth: sign-method ES512 is not supported (P-521); use ES256 or ES384")),
        _ => return Err(err("auth: invalid auth signature method")),
    };
    let read = |key: &str| -> Result<Option<Vec<u8>>, ConfigError> {
        match opts.get(key) {
            Some(path) if !path.is_empty() => {
                std::fs::read(path).map(Some).map_err(|e| err(format!("auth: open {path}: {e}")))
            }
            _ => Ok(None),
        }
    };
    let (private, public) = (read("priv-key")?, read("pub-key")?);
    let (encoding, decoding) = keys(alg, private.as_deref(), public.as_deref())?;
    let tokens = JwtTokens::new(alg, encoding, decoding, ttl);
    // Both keys given: a token signed with one must verify with the other.
    if private.is_some() && public.is_some() {
        let probe = tokens.assign("probe", 1).map_err(|e| err(format!("auth: {e}")))?;
        if tokens.info(&probe).is_none() {
            return Err(err("auth: public and private keys don't match"));
        }
    }
    Ok(tokens)
}

fn keys(
    alg: Alg,
    private: Option<&[u8]>,
    public: Option<&[u8]>,
) -> Result<(Option<EncodingKey>, DecodingKey), ConfigError> {
    let bad = |e: auth::JwtError| err(format!("auth: {e}"));
    match alg {
        Alg::HS256 | Alg::HS384 | Alg::HS512 => {
            let secret = private.ok_or_else(|| err("auth: missing key data"))?;
            Ok((Some(EncodingKey::from_secret(secret)), DecodingKey::from_secret(secret)))
        }
        _ if private.is_none() && public.is_none() => Err(err("auth: missing key data")),
        Alg::RS256 | Alg::RS384 | Alg::RS512 | Alg::PS256 | Alg::PS384 | Alg::PS512 => {
            let encoding = private.map(EncodingKey::from_rsa_pem).transpose().map_err(bad)?;
            let decoding = match (public, private) {
                (Some(p), _) => DecodingKey::from_rsa_pem(p).map_err(bad)?,
                (None, Some(p)) => DecodingKey::from_rsa_der(&derived_public(alg, p)?),
                (None, None) => return Err(err("auth: missing key data")),
            };
            Ok((encoding, decoding))
        }
        Alg::ES256 | Alg::ES384 => {
            let encoding = private.map(EncodingKey::from_ec_pem).transpose().map_err(bad)?;
            let decoding = match (public, private) {
                (Some(p), _) => DecodingKey::from_ec_pem(p).map_err(bad)?,
                (None, Some(p)) => DecodingKey::from_ec_der(&derived_public(alg, p)?),
                (None, None) => return Err(err("auth: missing key data")),
            };
            Ok((encoding, decoding))
        }
        Alg::EdDSA => {
            let encoding = private.map(EncodingKey::from_ed_pem).transpose().map_err(bad)?;
            let decoding = match (public, private) {
                (Some(p), _) => DecodingKey::from_ed_pem(p).map_err(bad)?,
                (None, Some(p)) => DecodingKey::from_ed_der(&derived_public(alg, p)?),
                (None, None) => return Err(err("auth: missing key data")),
            };
            Ok((encoding, decoding))
        }
    }
}

/// The public key of a PEM private key, in the raw form jsonwebtoken's
/// `from_*_der` take (PKCS#1 for RSA, the curve point for ECDSA, the 32
/// bytes for Ed25519).
fn derived_public(alg: Alg, pem: &[u8]) -> Result<Vec<u8>, ConfigError> {
    let key = PrivateKeyDer::from_pem_slice(pem).map_err(|e| err(format!("auth: private key: {e}")))?;
    let unparsable = |e: ring::error::KeyRejected| err(format!("auth: private key: {e}"));
    let rng = ring::rand::SystemRandom::new();
    let public = match (alg, &key) {
        (Alg::ES256 | Alg::ES384, PrivateKeyDer::Pkcs8(der)) => {
            let curve = if alg == Alg::ES256 {
                &signature::ECDSA_P256_SHA256_FIXED_SIGNING
            } else {
                &signature::ECDSA_P384_SHA384_FIXED_SIGNING
            };
            signature::EcdsaKeyPair::from_pkcs8(curve, der.secret_pkcs8_der(), &rng)
                .map_err(unparsable)?
                .public_key()
                .as_ref()
                .to_vec()
        }
        (Alg::EdDSA, PrivateKeyDer::Pkcs8(der)) => {
            signature::Ed25519KeyPair::from_pkcs8_maybe_unchecked(der.secret_pkcs8_der())
                .map_err(unparsable)?
                .public_key()
                .as_ref()
                .to_vec()
        }
        (_, PrivateKeyDer::Pkcs1(der)) => {
            signature::RsaKeyPair::from_der(der.secret_pkcs1_der()).map_err(unparsable)?.public().as_ref().to_vec()
        }
        (_, PrivateKeyDer::Pkcs8(der)) => {
            signature::RsaKeyPair::from_pkcs8(der.secret_pkcs8_der()).map_err(unparsable)?.public().as_ref().to_vec()
        }
        _ => return Err(err("auth: private key: use PKCS#8 (openssl pkcs8 -topk8 -nocrypt) or, for RSA, PKCS#1")),
    };
    Ok(public)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &std::path::Path, name: &str, pem: &str) -> String {
        let path = dir.join(name);
        std::fs::write(&path, pem).expect("write");
        path.display().to_string()
    }

    #[test]
    fn options_are_checked_as_etcd_checks_them() {
        assert!(matches!(parse("simple"), Ok(None)));
        for bad in ["bogus", "simple,x", "jwt,a=b=c", "jwt,ttl=1m,ttl=2m"] {
            assert_eq!(parse(bad).err(), Some(err("auth: invalid auth options")), "{bad}");
        }
        assert_eq!(parse("jwt,sign-method=XX").err(), Some(err("auth: invalid auth signature method")));
        assert_eq!(parse("jwt,sign-method=RS256").err(), Some(err("auth: missing key data")));
    }

    #[test]
    fn keys_of_each_family_sign_and_verify_and_the_public_key_is_derived() {
        let dir = tempfile::tempdir().expect("tempdir");
        for (alg, kp) in [
            ("ES256", rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("ec")),
            ("ES384", rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P384_SHA384).expect("ec")),
            ("EdDSA", rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519).expect("ed")),
        ] {
            let private = write(dir.path(), &format!("{alg}.key"), &kp.serialize_pem());
            let public = write(dir.path(), &format!("{alg}.pub"), &kp.public_key_pem());
            let both = parse(&format!("jwt,priv-key={private},pub-key={public},sign-method={alg},ttl=1m"))
                .expect("both keys")
                .expect("jwt");
            let token = both.assign("alice", 3).expect("sign");
            let derived = parse(&format!("jwt,priv-key={private},sign-method={alg}")).expect("derived").expect("jwt");
            assert_eq!(derived.info(&token), Some(("alice".to_string(), 3)), "{alg}");
            let verify_only = parse(&format!("jwt,pub-key={public},sign-method={alg}")).expect("pub").expect("jwt");
            assert_eq!(verify_only.info(&token), Some(("alice".to_string(), 3)), "{alg}");
            assert!(verify_only.assign("alice", 3).is_err(), "{alg}: verify-only");
        }
        // RSA: a PKCS#1 key made once with `openssl genrsa -traditional`
        // (ring cannot generate RSA keys), for tests only.
        let data = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/jwt-rs256-test-only");
        for alg in ["RS256", "PS384"] {
            let both = parse(&format!("jwt,priv-key={data}.key,pub-key={data}.pub,sign-method={alg}"))
                .expect("rsa")
                .expect("jwt");
            let token = both.assign("bob", 9).expect("sign");
            let derived = parse(&format!("jwt,priv-key={data}.key,sign-method={alg}")).expect("derived").expect("jwt");
            assert_eq!(derived.info(&token), Some(("bob".to_string(), 9)), "{alg}");
        }
        let a = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("ec");
        let b = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("ec");
        let private = write(dir.path(), "a.key", &a.serialize_pem());
        let public = write(dir.path(), "b.pub", &b.public_key_pem());
        let mismatch = parse(&format!("jwt,priv-key={private},pub-key={public},sign-method=ES256"));
        assert_eq!(mismatch.err(), Some(err("auth: public and private keys don't match")));
    }
}
