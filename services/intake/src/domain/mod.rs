//! The intake domain: what a case is, what it may become, and the limits of what officers may
//! record. No wire or storage types here.

mod case;
mod codes;
mod publication;
pub mod rollups;
mod statistics;
mod status;

pub use case::*;
pub use codes::*;
pub use publication::*;
pub use statistics::*;
pub use status::*;
