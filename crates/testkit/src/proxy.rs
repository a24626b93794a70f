//! [`Network`]: fault-injecting TCP proxies in front of cluster members'
//! peer ports, to partition a cluster.
//!
//! Member `i` has a loopback address of its own ([`member_ip`]), binds its
//! outgoing peer connections to it (`--strata-peer-source-ip`), and
//! advertises a proxy on that address instead of its peer listener. Every
//! connection a proxy accepts therefore shows, by its source address, which
//! member it comes from, and the proxy forwards it only while the two members
//! are not [blocked](Network::block) from each other. Blocking a pair closes
//! their connections in both directions and refuses new ones (accepted, then
//! closed at once) until [`Network::heal`]. A source address that belongs to
//! no member (a tool, a test) is never blocked.
//!
//! The proxies run on a runtime of their own, so they keep forwarding while a
//! test's runtime is busy or blocked, and stop when the `Network` drops.

use std::collections::{BTreeSet, HashMap};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;

/// How long a proxy waits to connect to the member behind it.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);

/// How long [`Network::block`] waits for the connections it cuts to close.
const CUT_TIMEOUT: Duration = Duration::from_secs(5);

/// The loopback address of member `index` (0-based) of a proxied cluster:
/// 127.0.0.11, 127.0.0.12, … (Linux routes all of 127/8 to `lo`).
pub fn member_ip(index: usize) -> IpAddr {
    let last = u8::try_from(11 + index).expect("at most 244 members");
    IpAddr::V4(Ipv4Addr::new(127, 0, 0, last))
}

/// What member `i` of a proxied cluster starts with: its loopback address,
/// its flags (the caller's and `--strata-peer-source-ip`), and a proxy
/// listener bound on its address, whose URL it advertises and which the
/// caller hands to [`Network::proxy`] with its peer listener's address.
pub(crate) struct ProxiedMember {
    pub ip: IpAddr,
    pub flags: Vec<String>,
    pub proxy: std::net::TcpListener,
    pub advertised: String,
}

/// A network for `n` members and what each starts with (see [`ProxiedMember`]).
pub(crate) fn proxied_cluster(n: usize, extra: &[&str]) -> anyhow::Result<(Network, Vec<ProxiedMember>)> {
    let ips: Vec<IpAddr> = (0..n).map(member_ip).collect();
    let network = Network::new(&ips)?;
    let mut members = Vec::with_capacity(n);
    for ip in ips {
        let mut flags: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
        flags.extend(["--strata-peer-source-ip".to_string(), ip.to_string()]);
        let proxy = std::net::TcpListener::bind((ip, 0)).with_context(|| format!("bind a proxy on {ip}"))?;
        let advertised = format!("http://{}", proxy.local_addr()?);
        members.push(ProxiedMember { ip, flags, proxy, advertised });
    }
    Ok((network, members))
}

/// The proxies of one cluster and the partition they enforce.
pub struct Network {
    runtime: Option<tokio::runtime::Runtime>,
    shared: Arc<Shared>,
}

struct Shared {
    state: Mutex<State>,
    /// Signalled whenever a connection's task has closed its sockets.
    closed: Condvar,
}

#[derive(Default)]
struct State {
    /// Member index by the source address of its peer connections.
    members: HashMap<IpAddr, usize>,
    /// Unordered pairs of members that cannot reach each other, `(low, high)`.
    blocked: BTreeSet<(usize, usize)>,
    /// Connections whose task still holds their sockets, by id.
    conns: HashMap<u64, Conn>,
    next_id: u64,
    /// Connections forwarded and refused so far.
    forwarded: u64,
    refused: u64,
}

struct Conn {
    from: Option<usize>,
    to: usize,
    /// Dropping it wakes the connection's task, which closes both sockets and
    /// then removes the connection (None: already cut).
    cut: Option<oneshot::Sender<()>>,
}

fn pair(a: usize, b: usize) -> (usize, usize) {
    (a.min(b), a.max(b))
}

impl State {
    fn is_blocked(&self, from: Option<usize>, to: usize) -> bool {
        from.is_some_and(|from| self.blocked.contains(&pair(from, to)))
    }

    /// Registers an accepted connection, unless its members are blocked
    /// from each other (checked under the same lock as [`Network::block`],
    /// so no connection slips past a block).
    fn admit(&mut self, from: Option<usize>, to: usize) -> Option<(u64, oneshot::Receiver<()>)> {
        if self.is_blocked(from, to) {
            self.refused += 1;
            return None;
        }
        self.forwarded += 1;
        self.next_id += 1;
        let (tx, rx) = oneshot::channel();
        self.conns.insert(self.next_id, Conn { from, to, cut: Some(tx) });
        Some((self.next_id, rx))
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Called by a connection's task once it has dropped both sockets.
    fn closed(&self, id: u64) {
        self.lock().conns.remove(&id);
        self.closed.notify_all();
    }
}

impl Network {
    /// A network whose members connect from `member_ips` (member `i` from
    /// `member_ips[i]`), with no proxy yet and nothing blocked.
    pub fn new(member_ips: &[IpAddr]) -> anyhow::Result<Network> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("testkit-proxy")
            .enable_all()
            .build()
            .context("start the proxies' runtime")?;
        let state =
            State { members: member_ips.iter().enumerate().map(|(i, ip)| (*ip, i)).collect(), ..State::default() };
        let shared = Arc::new(Shared { state: Mutex::new(state), closed: Condvar::new() });
        Ok(Network { runtime: Some(runtime), shared })
    }

    /// Forwards the connections accepted on `listener` to `target`, the peer
    /// listener of member `to`, for as long as the network lives.
    pub fn proxy(&self, to: usize, listener: std::net::TcpListener, target: SocketAddr) -> anyhow::Result<()> {
        let runtime = self.runtime.as_ref().context("the network has stopped")?;
        listener.set_nonblocking(true)?;
        let listener = {
            let _guard = runtime.enter();
            TcpListener::from_std(listener)?
        };
        runtime.spawn(accept_loop(Arc::clone(&self.shared), listener, to, target));
        Ok(())
    }

    /// Cuts `a` and `b` apart in both directions: closes their connections
    /// and refuses new ones until [`heal`](Network::heal). Returns once the
    /// cut connections are closed, so no byte passes between them afterwards;
    /// it blocks the calling thread until then (milliseconds), so call it
    /// from async code through `tokio::task::block_in_place`.
    pub fn block(&self, a: usize, b: usize) -> anyhow::Result<()> {
        let mut state = self.shared.lock();
        state.blocked.insert(pair(a, b));
        let mut cut = Vec::new();
        for (id, conn) in &mut state.conns {
            if conn.from.is_some_and(|from| pair(from, conn.to) == pair(a, b)) {
                conn.cut = None;
                cut.push(*id);
            }
        }
        let deadline = Instant::now() + CUT_TIMEOUT;
        loop {
            let open = cut.iter().filter(|id| state.conns.contains_key(id)).count();
            if open == 0 {
                return Ok(());
            }
            let now = Instant::now();
            if now >= deadline {
                bail!("{open} connections between members {a} and {b} still open {CUT_TIMEOUT:?} after the cut");
            }
            state = self.shared.closed.wait_timeout(state, deadline - now).unwrap_or_else(PoisonError::into_inner).0;
        }
    }

    /// Cuts member `a` off from every other member.
    pub fn isolate(&self, a: usize) -> anyhow::Result<()> {
        let n = self.shared.lock().members.len();
        for b in (0..n).filter(|b| *b != a) {
            self.block(a, b)?;
        }
        Ok(())
    }

    /// Lifts every block; members reconnect by themselves.
    pub fn heal(&self) {
        self.shared.lock().blocked.clear();
    }

    /// How many connections the proxies have forwarded and refused so far.
    pub fn counts(&self) -> (u64, u64) {
        let state = self.shared.lock();
        (state.forwarded, state.refused)
    }
}

impl Drop for Network {
    fn drop(&mut self) {
        // Allowed inside another runtime, unlike dropping the runtime itself.
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

async fn accept_loop(shared: Arc<Shared>, listener: TcpListener, to: usize, target: SocketAddr) {
    loop {
        let (inbound, from_addr) = match listener.accept().await {
            Ok(accepted) => accepted,
            // Out of file descriptors and the like: try again shortly.
            Err(_) => {
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let admitted = {
            let mut state = shared.lock();
            let from = state.members.get(&from_addr.ip()).copied();
            state.admit(from, to)
        };
        // Refused: `inbound` drops here, closing the connection at once.
        if let Some((id, cut)) = admitted {
            let shared = Arc::clone(&shared);
            tokio::spawn(async move {
                forward(inbound, target, cut).await;
                shared.closed(id);
            });
        }
    }
}

/// Copies bytes both ways between `inbound` and a new connection to
/// `target` until either side closes or the connection is cut; both sockets
/// are closed when this returns.
async fn forward(mut inbound: TcpStream, target: SocketAddr, mut cut: oneshot::Receiver<()>) {
    let connect = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(target));
    let mut outbound = tokio::select! {
        connected = connect => match connected {
            Ok(Ok(stream)) => stream,
            _ => return,
        },
        _ = &mut cut => return,
    };
    let _ = inbound.set_nodelay(true);
    let _ = outbound.set_nodelay(true);
    tokio::select! {
        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
        _ = &mut cut => {}
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpSocket;

    use super::*;

    /// An echo server on member 1's address; the network's proxy for member
    /// 1 in front of it. Answers the proxy's address.
    async fn echo_behind_proxy(net: &Network) -> SocketAddr {
        let echo = TcpListener::bind((member_ip(1), 0)).await.expect("bind echo");
        let target = echo.local_addr().expect("echo addr");
        tokio::spawn(async move {
            while let Ok((mut s, _)) = echo.accept().await {
                tokio::spawn(async move {
                    let (mut r, mut w) = s.split();
                    let _ = tokio::io::copy(&mut r, &mut w).await;
                });
            }
        });
        let proxy = std::net::TcpListener::bind((member_ip(1), 0)).expect("bind proxy");
        let addr = proxy.local_addr().expect("proxy addr");
        net.proxy(1, proxy, target).expect("proxy");
        addr
    }

    async fn connect_from(ip: IpAddr, to: SocketAddr) -> TcpStream {
        let socket = TcpSocket::new_v4().expect("socket");
        socket.bind(SocketAddr::new(ip, 0)).expect("bind source");
        socket.connect(to).await.expect("connect")
    }

    /// Whether `s` echoes a message back (false: closed, or no answer in 2 s).
    async fn echoes(s: &mut TcpStream) -> bool {
        if s.write_all(b"ping").await.is_err() {
            return false;
        }
        let mut buf = [0u8; 4];
        matches!(tokio::time::timeout(Duration::from_secs(2), s.read_exact(&mut buf)).await, Ok(Ok(_)) if &buf == b"ping")
    }

    #[tokio::test]
    async fn a_block_closes_and_refuses_connections_until_healed() {
        let net = Network::new(&[member_ip(0), member_ip(1), member_ip(2)]).expect("network");
        let proxy = echo_behind_proxy(&net).await;
        let mut from0 = connect_from(member_ip(0), proxy).await;
        let mut from2 = connect_from(member_ip(2), proxy).await;
        assert!(echoes(&mut from0).await && echoes(&mut from2).await);

        net.block(1, 0).expect("block");
        assert!(!echoes(&mut from0).await, "a connection from a blocked member survived the block");
        assert!(echoes(&mut from2).await, "the block cut a member it does not name");
        let mut again = connect_from(member_ip(0), proxy).await;
        assert!(!echoes(&mut again).await, "a new connection from a blocked member was forwarded");
        let mut outsider = connect_from(IpAddr::V4(Ipv4Addr::LOCALHOST), proxy).await;
        assert!(echoes(&mut outsider).await, "a connection from no member was blocked");

        net.heal();
        let mut healed = connect_from(member_ip(0), proxy).await;
        assert!(echoes(&mut healed).await, "no connection after heal");
        assert_eq!(net.counts(), (4, 1), "(forwarded, refused)");
    }

    #[tokio::test]
    async fn isolate_blocks_a_member_from_all_others() {
        let net = Network::new(&[member_ip(0), member_ip(1), member_ip(2)]).expect("network");
        let proxy = echo_behind_proxy(&net).await;
        net.isolate(1).expect("isolate");
        for from in [0, 2] {
            let mut s = connect_from(member_ip(from), proxy).await;
            assert!(!echoes(&mut s).await, "member {from} reached the isolated member");
        }
    }
}
