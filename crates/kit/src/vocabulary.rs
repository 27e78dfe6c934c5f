//! Closed vocabularies shared by contract, domain and store: each value keeps the number the
//! contract gives it, which is also what the stores hold, so the three never drift apart.

/// Declares a domain enum whose variants carry their contract numbers, with `ALL`, `code()` and
/// `from_code()`.
#[macro_export]
macro_rules! vocabulary {
    ($(#[$doc:meta])* $name:ident { $($variant:ident = $code:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name { $($variant = $code),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The value's number in the contract and the store.
            pub fn code(self) -> i32 {
                self as i32
            }

            /// The value with this number; `None` for 0 (unspecified) and unknown numbers.
            pub fn from_code(code: i32) -> Option<Self> {
                match code {
                    $($code => Some($name::$variant),)+
                    _ => None,
                }
            }
        }
    };
}
