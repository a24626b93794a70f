//! Any bytes as an auth token, to stores issuing simple tokens and JWTs:
//! never a panic, and only a token the store issued names a user.
#![no_main]

use std::sync::OnceLock;
use std::time::Duration;

use api::etcdserverpb::{AuthUserAddRequest, AuthUserGrantRoleRequest, InternalAuthenticateRequest};
use auth::{AuthError, AuthStore, DecodingKey, EncodingKey, JwtAlgorithm, JwtTokens, Options};
use libfuzzer_sys::fuzz_target;

struct Stores {
    _dir: tempfile::TempDir,
    simple: AuthStore,
    jwt: AuthStore,
    issued: Vec<String>,
}

fn store(dir: &std::path::Path, name: &str, jwt: Option<JwtTokens>) -> (AuthStore, String) {
    let be = backend::Backend::open(&dir.join(name)).expect("backend");
    let opts = Options { bcrypt_cost: 4, token_ttl: Duration::from_secs(3600), jwt };
    let s = AuthStore::load(&be.begin_read().expect("read"), opts).expect("load");
    let mut w = be.begin_write().expect("write");
    let hashed = s.hash_password("pw").expect("hash");
    s.user_add(&mut w, &AuthUserAddRequest { name: "root".into(), hashed_password: hashed, ..Default::default() })
        .expect("root");
    s.user_grant_role(&mut w, &AuthUserGrantRoleRequest { user: "root".into(), role: "root".into() }).expect("role");
    s.enable(&mut w).expect("enable");
    w.commit(false).expect("commit");
    let r = InternalAuthenticateRequest { name: "root".into(), password: String::new(), simple_token: s.token_prefix() };
    let token = s.authenticate(&r, 5).expect("token").token;
    (s, token)
}

fn stores() -> &'static Stores {
    static STORES: OnceLock<Stores> = OnceLock::new();
    STORES.get_or_init(|| {
        let dir = tempfile::tempdir().expect("tempdir");
        let (simple, a) = store(dir.path(), "simple.redb", None);
        let key = b"fuzzing-key";
        let jwt = JwtTokens::new(
            JwtAlgorithm::HS256,
            Some(EncodingKey::from_secret(key)),
            DecodingKey::from_secret(key),
            Duration::from_secs(3600),
        );
        let (jwt, b) = store(dir.path(), "jwt.redb", Some(jwt));
        Stores { _dir: dir, simple, jwt, issued: vec![a, b] }
    })
}

fuzz_target!(|data: &[u8]| {
    let s = stores();
    let token = String::from_utf8_lossy(data);
    for store in [&s.simple, &s.jwt] {
        match store.auth_info_from_token(&token) {
            Ok(Some(info)) => {
                let bare = token.strip_prefix("Bearer ").unwrap_or(&token);
                assert!(s.issued.iter().any(|t| t == bare), "a token never issued named {info:?}");
            }
            Ok(None) => panic!("auth is enabled"),
            Err(e) => assert_eq!(e, AuthError::InvalidAuthToken),
        }
    }
});
