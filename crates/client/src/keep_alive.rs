//! clientv3's keep-alive schedule for one lease (`clientv3/lease.go`), shared by
//! sessions ([`crate::concurrency::Session`]) and `stratactl lease keep-alive`.

use crate::LeaseKeepAlive;
use api::etcdserverpb::LeaseKeepAliveResponse;
use std::time::Duration;
use tokio::time::Instant;

/// clientv3's lessor tick (`retryConnWait`): how often a due renewal is sent, and
/// the pause before a broken keep-alive stream is reopened.
const TICK: Duration = Duration::from_millis(500);

/// Renews lease `id` as clientv3's lessor does: at once on each stream, then a third
/// of the TTL after each response, retrying every tick while no response comes. It
/// gives up, with `Ok`, when `deadline` passes without a response (each response
/// moves the deadline to its TTL from then) or a response with TTL 0 says the lease
/// is gone (unknown, expired or revoked).
///
/// `open` opens each stream, given the deadline it must beat; `None` gives up.
/// `on_renewed` sees every response for `id` with a positive TTL. An error from
/// either ends the renewals with it.
pub async fn keep_alive<E, Fut>(
    id: i64,
    mut deadline: Instant,
    mut open: impl FnMut(Instant) -> Fut,
    mut on_renewed: impl FnMut(&LeaseKeepAliveResponse) -> Result<(), E>,
) -> Result<(), E>
where
    Fut: Future<Output = Result<Option<LeaseKeepAlive>, E>>,
{
    let mut due = Instant::now();
    'streams: while let Some(mut stream) = open(deadline).await? {
        loop {
            if Instant::now() >= due && stream.keep_alive(id).is_err() {
                break;
            }
            tokio::select! {
                resp = stream.message() => match resp {
                    Ok(Some(r)) if r.id == id => {
                        if r.ttl <= 0 {
                            break 'streams;
                        }
                        on_renewed(&r)?;
                        let ttl = Duration::from_secs(r.ttl.unsigned_abs());
                        due = Instant::now() + ttl / 3;
                        deadline = Instant::now() + ttl;
                    }
                    Ok(Some(_)) => {}
                    Ok(None) | Err(_) => break,
                },
                () = tokio::time::sleep(TICK) => {}
                () = tokio::time::sleep_until(deadline) => break 'streams,
            }
        }
        tokio::select! {
            () = tokio::time::sleep(TICK) => {}
            () = tokio::time::sleep_until(deadline) => break,
        }
    }
    Ok(())
}
