//! Ports for member processes, reserved until this test process exits.
//!
//! A port found free by binding port 0 and closing it can be taken by anyone
//! before the child binds it: the kernel hands the same range (32768–60999
//! on Linux) to every port-0 bind and every outgoing connection, in this
//! process and in the other test processes nextest runs beside it. So ports
//! come from below that range instead, and each is reserved across processes
//! by an exclusive lock on a file named after it, which the kernel drops when
//! the holder exits, however it exits.

use std::fs::{File, OpenOptions};
use std::net::{IpAddr, Ipv4Addr, TcpListener};
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::bail;

/// Below Linux's ephemeral range, above most well-known services.
const FIRST: u16 = 20000;
const LAST: u16 = 32000;

/// The lock files held for the ports handed out, for the process's lifetime.
static HELD: Mutex<Vec<File>> = Mutex::new(Vec::new());

/// A port on 127.0.0.1 that no other test holds and nothing listens on.
pub fn free_port() -> anyhow::Result<u16> {
    free_port_on(IpAddr::V4(Ipv4Addr::LOCALHOST))
}

/// A port on `ip` that no other test holds and nothing listens on.
pub fn free_port_on(ip: IpAddr) -> anyhow::Result<u16> {
    let dir = std::env::temp_dir().join("strata-test-ports");
    std::fs::create_dir_all(&dir)?;
    let span = u32::from(LAST - FIRST);
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
    let start = (std::process::id().wrapping_mul(7919) ^ nanos) % span;
    for i in 0..span {
        let port = FIRST + ((start + i) % span) as u16;
        if let Some(lock) = reserve(&dir, ip, port)? {
            HELD.lock().unwrap_or_else(|p| p.into_inner()).push(lock);
            return Ok(port);
        }
    }
    bail!("no free port between {FIRST} and {LAST} on {ip}")
}

/// The lock on `port`, if no other process holds it and it can be bound.
fn reserve(dir: &std::path::Path, ip: IpAddr, port: u16) -> anyhow::Result<Option<File>> {
    let path: PathBuf = dir.join(format!("{ip}-{port}.lock"));
    let file = OpenOptions::new().create(true).truncate(false).write(true).open(path)?;
    // flock: a second open of the same file conflicts even in this process.
    if file.try_lock().is_err() {
        return Ok(None);
    }
    if TcpListener::bind((ip, port)).is_err() {
        return Ok(None);
    }
    Ok(Some(file))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_handed_out_are_distinct_and_outside_the_ephemeral_range() {
        let ports: Vec<u16> = (0..20).map(|_| free_port().expect("port")).collect();
        let mut unique = ports.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), ports.len(), "{ports:?}");
        assert!(ports.iter().all(|p| (FIRST..LAST).contains(p)), "{ports:?}");
    }
}
