//! The doxwatch contracts, generated from `proto/` at build time. The module tree mirrors the
//! protobuf packages: `doxwatch.intake.v1` is [`doxwatch::intake::v1`]. Each service package has
//! an `ErrorReason` enum whose `as_str_name()` is the `ErrorInfo.reason` the service sends.
//! [`google::api`] holds the `FieldBehavior` enum of our own `google/api/field_behavior.proto`
//! (the option itself is read from the descriptors, not from Rust).

#![allow(clippy::all, missing_docs)]

include!(concat!(env!("OUT_DIR"), "/doxwatch.rs"));

/// The encoded `FileDescriptorSet` of every contract, served by gRPC reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/doxwatch_descriptor.bin"));

pub use doxwatch::intake::v1 as intake;
pub use doxwatch::liaison::v1 as liaison;
pub use doxwatch::links::v1 as links;
pub use doxwatch::ops::v1 as ops;
pub use doxwatch::referral::v1 as referral;
