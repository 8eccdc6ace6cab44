//! Conversions shared by every string-backed contract type.
//!
//! Each type defines `parse` and `as_str`; these macros add the same `Display`,
//! `AsRef<str>`, `FromStr` and serde conversions to all of them so the types cannot
//! drift apart.

/// Implements `Display`, `AsRef<str>`, `FromStr` and `TryFrom<String>` (used by serde's
/// `try_from`) for a type that has `parse(&str)` and `as_str()`.
macro_rules! str_conversions {
    ($name:ident) => {
        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                self.as_str()
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = $crate::ParseError;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::parse(s)
            }
        }

        impl TryFrom<String> for $name {
            type Error = $crate::ParseError;

            fn try_from(value: String) -> Result<Self, Self::Error> {
                Self::parse(&value)
            }
        }
    };
}

/// For a tuple struct over `String`: adds `as_str`, `From<T> for String` (used by
/// serde's `into`) and everything [`str_conversions`] adds.
macro_rules! string_newtype {
    ($name:ident) => {
        impl $name {
            /// The validated value as a string slice.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> Self {
                value.0
            }
        }

        $crate::newtype::str_conversions!($name);
    };
}

pub(crate) use str_conversions;
pub(crate) use string_newtype;
