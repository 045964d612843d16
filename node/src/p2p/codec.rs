//! The `/kx/sync/2` wire on a request-response stream: one binary message
//! each way, decoded strictly (`kx_protocol::sync`; `specs/sync.md` 3.1).

use kx_protocol::sync::{MAX_REQUEST_BYTES, MAX_RESPONSE_BYTES, SyncRequest, SyncResponse};
use libp2p::StreamProtocol;
use libp2p::request_response;

/// The `/kx/sync/2` wire: one binary message per stream each way
/// (`kx_protocol::sync` encodes and decodes; `specs/sync.md` 3.1). A message
/// that does not decode fails the stream, which the peer sees as an error.
#[derive(Debug, Clone, Copy, Default)]
pub struct SyncCodec;

async fn read_message<T: futures::AsyncRead + Unpin + Send>(
    io: &mut T,
    max: usize,
) -> std::io::Result<Vec<u8>> {
    use futures::AsyncReadExt as _;
    let mut buf = Vec::new();
    io.take(max as u64 + 1).read_to_end(&mut buf).await?;
    if buf.len() > max {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "sync message too large",
        ));
    }
    Ok(buf)
}

fn invalid(e: kx_protocol::sync::WireError) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, e)
}

impl request_response::Codec for SyncCodec {
    type Protocol = StreamProtocol;
    type Request = SyncRequest;
    type Response = SyncResponse;

    async fn read_request<T: futures::AsyncRead + Unpin + Send>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
    ) -> std::io::Result<SyncRequest> {
        let bytes = read_message(io, MAX_REQUEST_BYTES).await?;
        SyncRequest::decode(&bytes).map_err(invalid)
    }

    async fn read_response<T: futures::AsyncRead + Unpin + Send>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
    ) -> std::io::Result<SyncResponse> {
        let bytes = read_message(io, MAX_RESPONSE_BYTES).await?;
        SyncResponse::decode(&bytes).map_err(invalid)
    }

    async fn write_request<T: futures::AsyncWrite + Unpin + Send>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        req: SyncRequest,
    ) -> std::io::Result<()> {
        use futures::AsyncWriteExt as _;
        io.write_all(&req.encode()).await
    }

    async fn write_response<T: futures::AsyncWrite + Unpin + Send>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        resp: SyncResponse,
    ) -> std::io::Result<()> {
        use futures::AsyncWriteExt as _;
        io.write_all(&resp.encode()).await
    }
}
