//! etcd's simple tokens: 16 random letters, a dot, and the Raft index of the
//! `Authenticate` entry that issued them. Every member applies that entry, so
//! every member knows every token; a token lives `--auth-token-ttl` after its
//! last use (etcd `server/auth/simple_token.go`). Tokens are kept in memory
//! only: after a restart clients authenticate again, as with etcd.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use rand::Rng;

/// Letters of a token prefix (etcd's alphabet).
const LETTERS: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
const PREFIX_LEN: usize = 16;
/// Expired tokens are swept when this many more have been issued.
const SWEEP_EVERY: usize = 1024;

#[derive(Debug)]
struct Issued {
    user: String,
    expires: Instant,
}

/// The simple tokens issued and not yet expired or invalidated.
#[derive(Debug)]
pub struct SimpleTokens {
    ttl: Duration,
    tokens: Mutex<(HashMap<String, Issued>, usize)>,
}

impl SimpleTokens {
    pub fn new(ttl: Duration) -> SimpleTokens {
        SimpleTokens { ttl, tokens: Mutex::new((HashMap::new(), 0)) }
    }

    /// A fresh random prefix; the member that takes `Authenticate` draws it
    /// and proposes it, so every member issues the same token.
    pub fn prefix() -> String {
        let mut rng = rand::rng();
        (0..PREFIX_LEN).map(|_| char::from(LETTERS[rng.random_range(0..LETTERS.len())])).collect()
    }

    /// Issues `prefix.index` to `user`.
    pub fn assign(&self, prefix: &str, index: u64, user: &str) -> String {
        let token = format!("{prefix}.{index}");
        let now = Instant::now();
        let mut guard = self.lock();
        let (tokens, since_sweep) = &mut *guard;
        *since_sweep += 1;
        if *since_sweep >= SWEEP_EVERY {
            tokens.retain(|_, t| t.expires > now);
            *since_sweep = 0;
        }
        tokens.insert(token.clone(), Issued { user: user.to_string(), expires: now + self.ttl });
        token
    }

    /// The user of a live token, whose life starts again from now.
    pub fn user(&self, token: &str) -> Option<String> {
        let now = Instant::now();
        let mut guard = self.lock();
        let tokens = &mut guard.0;
        match tokens.get_mut(token) {
            Some(t) if t.expires > now => {
                t.expires = now + self.ttl;
                Some(t.user.clone())
            }
            Some(_) => {
                tokens.remove(token);
                None
            }
            None => None,
        }
    }

    /// Ends every token of `user` (deleted, or its password changed).
    pub fn invalidate_user(&self, user: &str) {
        self.lock().0.retain(|_, t| t.user != user);
    }

    /// Ends every token (auth disabled, or a snapshot replaced the store).
    pub fn clear(&self) {
        self.lock().0.clear();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, (HashMap<String, Issued>, usize)> {
        // A panic while holding the map leaves it consistent: entries are
        // inserted or removed whole.
        self.tokens.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_etcds_shape_and_expire() {
        let p = SimpleTokens::prefix();
        assert_eq!(p.len(), 16);
        assert!(p.bytes().all(|b| b.is_ascii_alphabetic()));
        let t = SimpleTokens::new(Duration::from_millis(50));
        let tok = t.assign(&p, 42, "alice");
        assert_eq!(tok, format!("{p}.42"));
        assert_eq!(t.user(&tok).as_deref(), Some("alice"));
        assert_eq!(t.user("forged.42"), None);
        std::thread::sleep(Duration::from_millis(80));
        assert_eq!(t.user(&tok), None, "expired");
    }

    #[test]
    fn invalidating_a_user_ends_only_its_tokens() {
        let t = SimpleTokens::new(Duration::from_secs(60));
        let a = t.assign("aaaa", 1, "alice");
        let b = t.assign("bbbb", 2, "bob");
        t.invalidate_user("alice");
        assert_eq!(t.user(&a), None);
        assert_eq!(t.user(&b).as_deref(), Some("bob"));
        t.clear();
        assert_eq!(t.user(&b), None);
    }
}
