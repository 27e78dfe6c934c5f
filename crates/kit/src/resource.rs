//! Resource ids (AIP-122): UUIDv7 newtypes named `{collection}/{uuid}` on the wire.

/// Declares an id newtype for a collection, e.g. `resource_id!(LinkId, "links")`.
#[macro_export]
macro_rules! resource_id {
    ($(#[$doc:meta])* $name:ident, $collection:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(pub uuid::Uuid);

        impl $name {
            pub const COLLECTION: &'static str = $collection;

            /// A new id; UUIDv7, so ids sort in the order they were made.
            pub fn new() -> Self {
                Self(uuid::Uuid::now_v7())
            }

            /// Parses `{collection}/{uuid}`.
            pub fn parse_name(name: &str) -> Result<Self, String> {
                let form = concat!("must be of the form ", $collection, "/{id} with a UUID");
                let id = name
                    .strip_prefix(concat!($collection, "/"))
                    .ok_or_else(|| form.to_owned())?;
                uuid::Uuid::try_parse(id).map(Self).map_err(|_| form.to_owned())
            }

            pub fn name(&self) -> String {
                format!("{}/{}", $collection, self.0)
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.name())
            }
        }
    };
}
