//! The reference binaries that Debian does not package (etcd 3.6.14, its
//! etcdctl, etcdutl and `benchmark`, Kubernetes' kube-apiserver), unpacked
//! from `../shared/anchors/` into `target/anchors/` (`.ci/run` and
//! `../shared/anchors/unpack target/anchors` do it). Tests that need one
//! skip with a message when it is absent.

use std::path::PathBuf;

/// The folder the anchors are unpacked into: `$STRATA_ANCHORS`, else
/// `target/anchors` of the workspace (beside `$CARGO_TARGET_DIR` when that is set).
pub fn anchors_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("STRATA_ANCHORS") {
        return PathBuf::from(dir);
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target"));
    target.join("anchors")
}

/// The anchor binary `name` (`etcd`, `etcdctl`, `etcdutl`, `benchmark`,
/// `kube-apiserver`), if it is unpacked.
pub fn anchor(name: &str) -> Option<PathBuf> {
    let path = anchors_dir().join(name);
    path.is_file().then_some(path)
}

/// etcdctl 3.6.14, if unpacked.
pub fn etcdctl36() -> Option<PathBuf> {
    anchor("etcdctl")
}

/// The message a test prints when it skips for want of anchor `name`.
pub fn missing_anchor(name: &str) -> String {
    format!(
        "skipped: {} missing (run ../shared/anchors/unpack {})",
        anchors_dir().join(name).display(),
        anchors_dir().display()
    )
}
