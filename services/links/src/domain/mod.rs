//! The link-tracking domain: platforms and their domains, channels, links, what was asked of
//! platforms and what checks found, and the removal figures. No wire or storage types here.

mod codes;
mod evidence;
mod link;
mod platform;
mod recheck;
pub mod rollups;
mod statistics;

pub use codes::*;
pub use evidence::*;
pub use link::*;
pub use platform::*;
pub use recheck::*;
pub use statistics::*;

doxwatch_kit::resource_id!(
    /// A platform's id.
    PlatformId,
    "platforms"
);
doxwatch_kit::resource_id!(
    /// A channel's id.
    ChannelId,
    "channels"
);
doxwatch_kit::resource_id!(
    /// A link's id.
    LinkId,
    "links"
);
doxwatch_kit::resource_id!(
    /// A case of the intake service, which link-tracking knows only by name.
    CaseRef,
    "cases"
);
doxwatch_kit::resource_id!(
    /// A notice of the liaison service, which link-tracking knows only by name.
    NoticeRef,
    "notices"
);
