//! The one way every effect is delivered: the stored request bytes sent as a unary call to the
//! stored method of the stored peer. The relay needs no knowledge of the peers' contracts, and a
//! new effect is only a new `Effect::new` where the change is made.

use std::{collections::HashMap, future::Future, pin::Pin};

use bytes::{Buf, BufMut};
use http::uri::PathAndQuery;
use tonic::{
    Status,
    codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder},
};

use super::{Deliver, Message};
use crate::{db::Db, on_pool, peer::PeerChannel};

/// The peers a service delivers effects to, by name ("links", "intake").
#[derive(Clone, Default)]
pub struct Peers {
    channels: HashMap<&'static str, PeerChannel>,
}

impl Peers {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn with(mut self, peer: &'static str, channel: PeerChannel) -> Self {
        self.channels.insert(peer, channel);
        self
    }
}

impl Deliver for Peers {
    fn deliver<'a>(&'a self, message: &'a Message) -> Pin<Box<dyn Future<Output = Result<(), Status>> + Send + 'a>> {
        Box::pin(async move {
            let channel = self.channels.get(message.peer.as_str()).cloned().ok_or_else(|| {
                Status::unimplemented(format!("this service delivers nothing to a peer named {:?}", message.peer))
            })?;
            let path = PathAndQuery::try_from(message.method.as_str())
                .ok()
                .filter(|p| p.as_str().starts_with('/'))
                .ok_or_else(|| Status::invalid_argument(format!("{:?} is not a gRPC method path", message.method)))?;
            let mut grpc = tonic::client::Grpc::new(channel);
            grpc.ready().await.map_err(|e| Status::unavailable(format!("the peer is not ready: {e}")))?;
            let request = tonic::Request::new(message.payload.clone());
            grpc.unary::<Vec<u8>, (), _>(request, path, RawBytes).await?;
            Ok(())
        })
    }
}

/// A codec that sends already encoded protobuf bytes and ignores the answer's body: the relay
/// only needs to know whether the peer applied the effect.
#[derive(Clone, Copy, Default)]
pub struct RawBytes;

impl Codec for RawBytes {
    type Encode = Vec<u8>;
    type Decode = ();
    type Encoder = RawBytes;
    type Decoder = RawBytes;

    fn encoder(&mut self) -> Self::Encoder {
        RawBytes
    }

    fn decoder(&mut self) -> Self::Decoder {
        RawBytes
    }
}

impl Encoder for RawBytes {
    type Item = Vec<u8>;
    type Error = Status;

    fn encode(&mut self, item: Vec<u8>, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        dst.put_slice(&item);
        Ok(())
    }
}

impl Decoder for RawBytes {
    type Item = ();
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<()>, Status> {
        src.advance(src.remaining());
        Ok(Some(()))
    }
}

/// An effect as stores written before generic delivery hold it: the short method name, and a
/// payload without its `request_id`, which the relay used to add at delivery.
#[derive(Debug, Clone, Copy)]
pub struct LegacyEffect {
    /// The method as it was stored, e.g. "RegisterLinks".
    pub method: &'static str,
    /// Its gRPC path now.
    pub path: &'static str,
    /// The field number of the request's `request_id`.
    pub request_id_field: u32,
}

/// Brings effects stored before generic delivery to the current form: the method becomes its
/// path, and the message id is appended to the payload as its `request_id` (a field appended to
/// an encoded protobuf message sets it). Runs at start; a store with none left does nothing.
pub async fn upgrade_legacy(db: &Db, legacy: &[LegacyEffect]) -> Result<u64, sqlx::Error> {
    let mut upgraded = 0;
    for effect in legacy {
        let rows: Vec<(uuid::Uuid, Vec<u8>)> = on_pool!(db.read(), p => {
            sqlx::query_as("SELECT id, payload FROM outbox WHERE method = $1").bind(effect.method).fetch_all(p).await?
        });
        for (id, stored) in rows {
            let mut payload =
                super::open_payload(db.keyring(), id, &stored).map_err(|e| sqlx::Error::Decode(Box::new(e)))?;
            prost::encoding::string::encode(effect.request_id_field, &id.to_string(), &mut payload);
            // Sealed on the way, as every stored effect is now.
            let payload = super::seal_payload(db.keyring(), id, &payload)?;
            let done = on_pool!(db.write(), p => {
                sqlx::query("UPDATE outbox SET method = $1, payload = $2 WHERE id = $3 AND method = $4")
                    .bind(effect.path)
                    .bind(&payload)
                    .bind(id)
                    .bind(effect.method)
                    .execute(p)
                    .await?
                    .rows_affected()
            });
            upgraded += done;
        }
    }
    if upgraded > 0 {
        tracing::info!(upgraded, "effects stored in the earlier form brought to generic delivery");
    }
    Ok(upgraded)
}
