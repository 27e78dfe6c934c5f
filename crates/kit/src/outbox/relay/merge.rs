//! Several effects of one method sent as one call, where the peer's method takes a list and
//! applying an effect twice changes nothing more than applying it once.
//!
//! A protobuf message's encoding is the concatenation of its fields, and a parser merges what it
//! reads: repeated fields are appended, and for a single field the last value wins. So the stored
//! requests of one method, concatenated, are one request holding every item of each; a last empty
//! request id makes it a call without one. A call without a request id is not replayed by the
//! peer's idempotency store: that is why only a method whose effect is the same applied twice may
//! be merged. If the peer refuses the merged call (or fails it at one message's last attempt),
//! each message is sent again alone, with its own request id, so that only a message the peer
//! refuses is kept as refused.

use std::collections::HashMap;

use futures::future::join_all;
use tokio::sync::mpsc::UnboundedSender;
use tracing::Instrument;

use super::{DeliveryOutcome, Relay};
use crate::outbox::{Message, finished::Finished, open_payload};

/// A method whose effects the relay may send several at a time in one call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mergeable {
    /// The peer, as effects name it ("links").
    pub peer: &'static str,
    /// The method's path, as effects name it.
    pub method: &'static str,
    /// The field number of the request's `request_id` (a string).
    pub request_id_field: u32,
    /// Effects per call at most: the method's limit on its list over the most items one effect
    /// holds.
    pub most: usize,
}

/// The claimed messages as deliveries: mergeable ones together, up to their method's `most`, in
/// the order claimed; every other message alone.
pub(super) fn group(messages: Vec<Message>, mergeable: &[Mergeable]) -> Vec<Vec<Message>> {
    let mut groups: Vec<Vec<Message>> = Vec::new();
    // For each mergeable method, the group now being filled.
    let mut filling: HashMap<usize, usize> = HashMap::new();
    for message in messages {
        let Some(kind) = mergeable.iter().position(|m| m.peer == message.peer && m.method == message.method) else {
            groups.push(vec![message]);
            continue;
        };
        match filling.get(&kind) {
            Some(&at) if groups[at].len() < mergeable[kind].most => groups[at].push(message),
            _ => {
                filling.insert(kind, groups.len());
                groups.push(vec![message]);
            }
        }
    }
    groups
}

/// One request holding every request of `payloads`, without a request id.
pub(super) fn merged_payload<'a>(payloads: impl IntoIterator<Item = &'a [u8]>, request_id_field: u32) -> Vec<u8> {
    use prost::encoding::{WireType, encode_key, encode_varint};
    let mut merged = Vec::new();
    for payload in payloads {
        merged.extend_from_slice(payload);
    }
    encode_key(request_id_field, WireType::LengthDelimited, &mut merged);
    encode_varint(0, &mut merged);
    merged
}

impl Relay {
    /// Delivers a group from [`group`]: one message as always, several as one call.
    pub(super) async fn deliver_group(&self, group: Vec<Message>, finished: &UnboundedSender<Finished>) {
        let spec = group
            .first()
            .and_then(|first| self.merging.iter().find(|m| m.peer == first.peer && m.method == first.method))
            .copied();
        let Some(spec) = spec.filter(|_| group.len() > 1) else {
            for message in group {
                self.deliver(message, finished).await;
            }
            return;
        };
        // A payload that does not open goes alone, and is kept as refused there.
        let mut opened = Vec::with_capacity(group.len());
        for message in group {
            match open_payload(self.db.keyring(), message.id, &message.payload) {
                Ok(payload) => opened.push((message, payload)),
                Err(_) => self.deliver(message, finished).await,
            }
        }
        let Some((first, _)) = opened.first() else { return };
        let span = tracing::info_span!(
            "outbox.deliver",
            otel.kind = "producer",
            peer = %first.peer,
            method = %first.method,
            messages = opened.len(),
        );
        {
            use tracing_opentelemetry::OpenTelemetrySpanExt;
            let _ = span.set_parent(first.parent_context());
        }
        let call = Message {
            payload: merged_payload(opened.iter().map(|(_, p)| p.as_slice()), spec.request_id_field),
            ..first.clone()
        };
        let result = self.deliverer.deliver(&call).instrument(span.clone()).await;
        let outcomes: Vec<DeliveryOutcome> = opened
            .iter()
            .map(|(message, _)| DeliveryOutcome::classify(result.clone(), message.attempts, self.settings.max_attempts))
            .collect();
        // A failure that would end any of them (a refusal, or a last attempt) is one of theirs to
        // find: each goes alone, with its own request id.
        if let Some(DeliveryOutcome::Rejected(e)) = outcomes.iter().find(|o| matches!(o, DeliveryOutcome::Rejected(_)))
        {
            span.in_scope(|| tracing::info!(error = %e, "merged effects refused; sending each alone"));
            for (message, _) in opened {
                self.deliver(message, finished).await;
            }
            return;
        }
        let recorded = opened.iter().zip(outcomes).map(|((message, _), outcome)| {
            span.in_scope(|| count_delivery(message, &outcome));
            Finished::send(finished, message, outcome)
        });
        join_all(recorded).instrument(span).await;
    }
}

/// Counts a delivery's outcome (`outbox.deliveries`, by peer and outcome) and logs it.
pub(super) fn count_delivery(message: &Message, outcome: &DeliveryOutcome) {
    let name = match outcome {
        DeliveryOutcome::Delivered => "delivered",
        DeliveryOutcome::Retry(_) => "retry",
        DeliveryOutcome::Rejected(_) => "rejected",
    };
    opentelemetry::global::meter("doxwatch").u64_counter("outbox.deliveries").build().add(
        1,
        &[opentelemetry::KeyValue::new("peer", message.peer.clone()), opentelemetry::KeyValue::new("outcome", name)],
    );
    match outcome {
        DeliveryOutcome::Delivered => tracing::debug!(message = %message.id, "effect delivered"),
        DeliveryOutcome::Retry(e) => tracing::info!(message = %message.id, error = %e, "effect delayed; will retry"),
        DeliveryOutcome::Rejected(e) => {
            tracing::warn!(message = %message.id, error = %e, "effect rejected by the peer")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, PartialEq, prost::Message)]
    struct Request {
        #[prost(string, repeated, tag = "1")]
        items: Vec<String>,
        #[prost(string, tag = "2")]
        request_id: String,
    }

    #[test]
    fn merged_requests_hold_every_item_and_no_request_id() {
        use prost::Message as _;
        let a = Request { items: vec!["a1".into(), "a2".into()], request_id: "first".into() }.encode_to_vec();
        let b = Request { items: vec!["b1".into()], request_id: "second".into() }.encode_to_vec();
        let merged = Request::decode(merged_payload([a.as_slice(), b.as_slice()], 2).as_slice()).expect("decodes");
        assert_eq!(merged, Request { items: vec!["a1".into(), "a2".into(), "b1".into()], request_id: String::new() });
    }
}
