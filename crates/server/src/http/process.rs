//! The `process_*` metrics every Go program's Prometheus client exports and
//! tools read from etcd (`etcdctl check datascale` reads
//! `process_resident_memory_bytes` before and after its load), read from
//! `/proc/self` at scrape time. Off Linux they are left out.

use ::metrics::gauge;

use crate::metrics as m;

/// Sets the process gauges from `/proc/self`.
pub(super) fn set_gauges() {
    if let Some((virtual_bytes, resident_bytes)) = memory() {
        gauge!(m::PROCESS_VIRTUAL_MEMORY_BYTES).set(virtual_bytes as f64);
        gauge!(m::PROCESS_RESIDENT_MEMORY_BYTES).set(resident_bytes as f64);
    }
    if let Some(seconds) = cpu_seconds() {
        gauge!(m::PROCESS_CPU_SECONDS_TOTAL).set(seconds);
    }
    if let Ok(fds) = std::fs::read_dir("/proc/self/fd") {
        gauge!(m::PROCESS_OPEN_FDS).set(fds.count() as f64);
    }
}

/// Virtual and resident size in bytes (`VmSize` and `VmRSS` of
/// `/proc/self/status`, in kB).
fn memory() -> Option<(u64, u64)> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kb = |name: &str| -> Option<u64> {
        let line = status.lines().find(|l| l.starts_with(name))?;
        line[name.len()..].trim().trim_end_matches("kB").trim().parse::<u64>().ok().map(|k| k * 1024)
    };
    Some((kb("VmSize:")?, kb("VmRSS:")?))
}

/// CPU time of all the process's threads: the first field of
/// `/proc/self/schedstat`, in nanoseconds.
fn cpu_seconds() -> Option<f64> {
    let schedstat = std::fs::read_to_string("/proc/self/schedstat").ok()?;
    let nanos: u64 = schedstat.split_whitespace().next()?.parse().ok()?;
    Some(nanos as f64 / 1e9)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_process_is_measured() {
        let (virtual_bytes, resident_bytes) = super::memory().expect("statm");
        assert!(resident_bytes > 0 && virtual_bytes >= resident_bytes);
        assert!(super::cpu_seconds().expect("stat") >= 0.0);
    }
}
