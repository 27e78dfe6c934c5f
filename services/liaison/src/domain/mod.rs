//! The liaison domain: platform contacts, notices and their lifecycle, replies, escalation, and the
//! correspondence figures. No wire or storage types here.

mod codes;
mod notice;
pub mod rollups;
mod statistics;

pub use codes::*;
pub use notice::*;
pub use statistics::*;

doxwatch_kit::resource_id!(
    /// A notice's id.
    NoticeId,
    "notices"
);
doxwatch_kit::resource_id!(
    /// A platform of link-tracking, known here by name.
    PlatformRef,
    "platforms"
);
doxwatch_kit::resource_id!(
    /// A link of link-tracking, known here by name.
    LinkRef,
    "links"
);
doxwatch_kit::resource_id!(
    /// A channel of link-tracking, known here by name.
    ChannelRef,
    "channels"
);
doxwatch_kit::resource_id!(
    /// A case of intake, known here by name.
    CaseRef,
    "cases"
);
