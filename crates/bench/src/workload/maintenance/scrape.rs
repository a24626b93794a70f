//! `/metrics` on the client port, which etcd and Strata both serve there: the
//! server's own account of a compaction (`etcd_debugging_mvcc_db_compaction_total_duration_milliseconds`,
//! observed when it finishes, so it also tells when a non-physical compaction is done), of
//! a defragmentation (`etcd_disk_backend_defrag_duration_seconds`) and Strata's
//! `strata_defrag_write_pause_seconds`.
//!
//! One plain HTTP/1.0 GET per scrape (so no chunked answer, and the server closes the
//! connection after the body); chunked bodies are decoded anyway.

use anyhow::{Context, bail, ensure};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The compaction histogram etcd 3.4 and Strata observe at the end of each compaction.
pub const COMPACTION_TOTAL_MS: &str = "etcd_debugging_mvcc_db_compaction_total_duration_milliseconds";
/// etcd's defrag duration histogram.
pub const DEFRAG_SECONDS: &str = "etcd_disk_backend_defrag_duration_seconds";
/// Strata's defrag write pause histogram.
pub const DEFRAG_WRITE_PAUSE_SECONDS: &str = "strata_defrag_write_pause_seconds";

/// The counts and sums of the histograms above at one moment; `None` where the server
/// does not export the metric.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Scrape {
    /// Compactions finished, and their total duration in milliseconds.
    pub compactions: Option<(f64, f64)>,
    /// Defragmentations finished, and their total duration in seconds.
    pub defrags: Option<(f64, f64)>,
    /// Strata: defragmentations finished, and their total write pause in seconds.
    pub defrag_pauses: Option<(f64, f64)>,
}

impl Scrape {
    /// Reads the histograms out of a Prometheus text exposition.
    pub fn parse(text: &str) -> Scrape {
        let histogram = |name: &str| {
            let count = sample_sum(text, &format!("{name}_count"))?;
            let sum = sample_sum(text, &format!("{name}_sum"))?;
            Some((count, sum))
        };
        Scrape {
            compactions: histogram(COMPACTION_TOTAL_MS),
            defrags: histogram(DEFRAG_SECONDS),
            defrag_pauses: histogram(DEFRAG_WRITE_PAUSE_SECONDS),
        }
    }
}

/// What a histogram's sum grew by between two scrapes, if its count grew (something was
/// observed) and both scrapes have it.
pub fn sum_delta(before: Option<(f64, f64)>, after: Option<(f64, f64)>) -> Option<f64> {
    let ((c0, s0), (c1, s1)) = (before?, after?);
    (c1 > c0).then_some(s1 - s0)
}

/// GETs `/metrics` from `endpoint` (`host:port` or `http://host:port`).
pub async fn scrape(endpoint: &str, timeout: Duration) -> anyhow::Result<Scrape> {
    let text = tokio::time::timeout(timeout, get_metrics(endpoint))
        .await
        .with_context(|| format!("GET {endpoint}/metrics: no answer within {timeout:?}"))??;
    Ok(Scrape::parse(&text))
}

async fn get_metrics(endpoint: &str) -> anyhow::Result<String> {
    let authority = authority(endpoint);
    let mut stream = TcpStream::connect(authority).await.with_context(|| format!("connecting to {authority}"))?;
    let request = format!("GET /metrics HTTP/1.0\r\nHost: {authority}\r\nAccept: text/plain\r\n\r\n");
    stream.write_all(request.as_bytes()).await.context("sending GET /metrics")?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.context("reading /metrics")?;
    http_body(&response).with_context(|| format!("GET http://{authority}/metrics"))
}

/// `host:port` of an endpoint given with or without `http://` and a path.
pub fn authority(endpoint: &str) -> &str {
    let rest = endpoint.split_once("://").map_or(endpoint, |(_, rest)| rest);
    rest.split('/').next().unwrap_or(rest)
}

/// The body of a complete HTTP/1.x response with status 200, de-chunked if it was sent
/// chunked.
pub fn http_body(response: &[u8]) -> anyhow::Result<String> {
    let text = String::from_utf8_lossy(response);
    let (head, body) = text.split_once("\r\n\r\n").context("no end of the response headers")?;
    let status = head.lines().next().unwrap_or_default();
    ensure!(status.split_whitespace().nth(1) == Some("200"), "answered {status:?}");
    let chunked = head.lines().skip(1).any(|l| {
        l.split_once(':').is_some_and(|(name, value)| {
            name.trim().eq_ignore_ascii_case("transfer-encoding") && value.trim().eq_ignore_ascii_case("chunked")
        })
    });
    if chunked { dechunk(body) } else { Ok(body.to_owned()) }
}

fn dechunk(mut body: &str) -> anyhow::Result<String> {
    let mut out = String::new();
    loop {
        let (size_line, rest) = body.split_once("\r\n").context("a chunk without its size line")?;
        let size_hex = size_line.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size_hex, 16).with_context(|| format!("bad chunk size {size_hex:?}"))?;
        if size == 0 {
            return Ok(out);
        }
        let Some(chunk) = rest.get(..size) else { bail!("a chunk of {size} bytes is cut short") };
        out.push_str(chunk);
        body = rest[size..].strip_prefix("\r\n").context("a chunk not followed by CRLF")?;
    }
}

/// The sum of the values of every series named exactly `name` (any labels), or `None`
/// if there is none.
pub fn sample_sum(text: &str, name: &str) -> Option<f64> {
    let mut total = None;
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let Some(rest) = line.strip_prefix(name) else { continue };
        let value_part = if let Some(labelled) = rest.strip_prefix('{') {
            match labelled.rfind('}') {
                Some(close) => &labelled[close + 1..],
                None => continue,
            }
        } else if rest.starts_with(' ') {
            rest
        } else {
            continue; // a longer name with this one as its prefix
        };
        if let Some(Ok(v)) = value_part.split_whitespace().next().map(str::parse::<f64>) {
            *total.get_or_insert(0.0) += v;
        }
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "\
# HELP etcd_debugging_mvcc_db_compaction_total_duration_milliseconds Bucketed histogram of db compaction total duration.
# TYPE etcd_debugging_mvcc_db_compaction_total_duration_milliseconds histogram
etcd_debugging_mvcc_db_compaction_total_duration_milliseconds_bucket{le=\"100\"} 0
etcd_debugging_mvcc_db_compaction_total_duration_milliseconds_bucket{le=\"+Inf\"} 1
etcd_debugging_mvcc_db_compaction_total_duration_milliseconds_sum 12345
etcd_debugging_mvcc_db_compaction_total_duration_milliseconds_count 1
etcd_disk_backend_defrag_duration_seconds_sum 1.5e+00
etcd_disk_backend_defrag_duration_seconds_count 2
etcd_disk_backend_defrag_duration_seconds_countx 9
grpc_server_handled_total{grpc_code=\"OK\",grpc_method=\"Range\"} 10
grpc_server_handled_total{grpc_code=\"OK\",grpc_method=\"Put\"} 5 1700000000000
";

    #[test]
    fn series_are_matched_by_whole_name_and_summed_over_labels() {
        assert_eq!(sample_sum(TEXT, "grpc_server_handled_total"), Some(15.0), "with a timestamp too");
        assert_eq!(sample_sum(TEXT, "etcd_disk_backend_defrag_duration_seconds_count"), Some(2.0));
        assert_eq!(sample_sum(TEXT, "etcd_disk_backend_defrag_duration_seconds"), None, "only suffixed series");
        assert_eq!(sample_sum(TEXT, "strata_defrag_write_pause_seconds_sum"), None);
    }

    #[test]
    fn a_scrape_reads_the_histograms_both_servers_export() {
        let s = Scrape::parse(TEXT);
        assert_eq!(s.compactions, Some((1.0, 12345.0)));
        assert_eq!(s.defrags, Some((2.0, 1.5)));
        assert_eq!(s.defrag_pauses, None, "etcd has no write pause metric");
    }

    #[test]
    fn a_delta_needs_a_new_observation_and_both_scrapes() {
        assert_eq!(sum_delta(Some((1.0, 10.0)), Some((2.0, 13.5))), Some(3.5));
        assert_eq!(sum_delta(Some((1.0, 10.0)), Some((1.0, 10.0))), None, "nothing finished");
        assert_eq!(sum_delta(None, Some((1.0, 10.0))), None);
        assert_eq!(sum_delta(Some((0.0, 0.0)), None), None);
    }

    #[test]
    fn bodies_are_taken_after_the_headers_and_dechunked() {
        let plain = b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\na 1\nb 2\n";
        assert_eq!(http_body(plain).expect("200"), "a 1\nb 2\n");
        let chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\na 1\n\r\n4;x=y\r\nb 2\n\r\n0\r\n\r\n";
        assert_eq!(http_body(chunked).expect("200"), "a 1\nb 2\n");
        assert!(http_body(b"HTTP/1.1 404 Not Found\r\n\r\nnope").is_err());
        assert!(http_body(b"HTTP/1.1 200 OK\r\n").is_err(), "cut in the headers");
        let short = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nff\r\nabc";
        assert!(http_body(short).is_err());
    }

    #[test]
    fn the_authority_drops_scheme_and_path() {
        assert_eq!(authority("http://127.0.0.1:2379"), "127.0.0.1:2379");
        assert_eq!(authority("127.0.0.1:2379"), "127.0.0.1:2379");
        assert_eq!(authority("http://localhost:1/x"), "localhost:1");
    }
}
