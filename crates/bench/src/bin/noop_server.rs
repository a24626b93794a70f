//! `strata-noop-server`: a KV gRPC server that does nothing — every Range,
//! Put, DeleteRange and Txn answers an empty response at once. It measures the
//! ceiling of tonic on loopback on this machine (the physical limit beside
//! Strata's and etcd's numbers in docs/PERFORMANCE.md), so it takes the same
//! etcd-style flags `strata-bench --launch` appends and ignores all but
//! `--listen-client-urls`.

use api::etcdserverpb::kv_server::{Kv, KvServer};
use api::etcdserverpb::{
    CompactionRequest, CompactionResponse, DeleteRangeRequest, DeleteRangeResponse, PutRequest, PutResponse,
    RangeRequest, RangeResponse, ResponseHeader, TxnRequest, TxnResponse,
};
use tonic::{Request, Response, Status};

struct Noop;

fn header() -> Option<ResponseHeader> {
    Some(ResponseHeader { revision: 1, ..ResponseHeader::default() })
}

#[tonic::async_trait]
impl Kv for Noop {
    async fn range(&self, _: Request<RangeRequest>) -> Result<Response<RangeResponse>, Status> {
        Ok(Response::new(RangeResponse { header: header(), ..RangeResponse::default() }))
    }
    async fn put(&self, _: Request<PutRequest>) -> Result<Response<PutResponse>, Status> {
        Ok(Response::new(PutResponse { header: header(), ..PutResponse::default() }))
    }
    async fn delete_range(&self, _: Request<DeleteRangeRequest>) -> Result<Response<DeleteRangeResponse>, Status> {
        Ok(Response::new(DeleteRangeResponse { header: header(), ..DeleteRangeResponse::default() }))
    }
    async fn txn(&self, _: Request<TxnRequest>) -> Result<Response<TxnResponse>, Status> {
        Ok(Response::new(TxnResponse { header: header(), succeeded: true, ..TxnResponse::default() }))
    }
    async fn compact(&self, _: Request<CompactionRequest>) -> Result<Response<CompactionResponse>, Status> {
        Ok(Response::new(CompactionResponse { header: header() }))
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let url = args
        .iter()
        .position(|a| a == "--listen-client-urls")
        .and_then(|i| args.get(i + 1))
        .cloned()
        .unwrap_or_else(|| "http://127.0.0.1:2379".to_string());
    let addr: std::net::SocketAddr = url.trim_start_matches("http://").split(',').next().unwrap_or("").parse()?;
    eprintln!("strata-noop-server: serving KV on {addr}");
    tonic::transport::Server::builder()
        .tcp_nodelay(true)
        .add_service(KvServer::new(Noop))
        .serve_with_shutdown(addr, async {
            let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("signal");
            term.recv().await;
        })
        .await?;
    Ok(())
}
