//! Reading every configured region's ledger at once: each region answers or not, and a
//! region that does not never fails a read the others answered. What a client learns of
//! a region that did not answer is [`UnreadableRegion`]; the AWS error is logged, never
//! shown.

use logspoke_contract::Region;
use serde::Serialize;
use utoipa::ToSchema;

use crate::openapi::fields;

/// What a client is told about a region whose ledger did not answer.
pub const UNREADABLE_REASON: &str = "the delivery ledger of this region could not be read; retry later";

/// A provider region whose delivery ledger could not be read, so what it recorded is
/// missing from the document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct UnreadableRegion {
    /// The provider region.
    #[schema(schema_with = fields::delivery_region)]
    pub region: Region,
    /// Why, for a person.
    #[schema(example = "the delivery ledger of this region could not be read; retry later")]
    pub reason: String,
}

impl UnreadableRegion {
    /// The entry of `region`.
    pub fn new(region: Region) -> Self {
        Self {
            region,
            reason: UNREADABLE_REASON.to_owned(),
        }
    }

    /// The entries of `regions`, in their order.
    pub fn all(regions: &[Region]) -> Vec<Self> {
        regions.iter().copied().map(Self::new).collect()
    }
}

/// What the configured regions answered, in configured order.
#[derive(Debug, Clone, PartialEq)]
pub struct Regional<T> {
    /// The regions that answered, with their answers.
    pub read: Vec<(Region, T)>,
    /// The regions that did not.
    pub unreadable: Vec<Region>,
}

impl<T> Regional<T> {
    /// Sorts `answers` (in configured order) into the read and the unreadable, with the
    /// errors of the latter.
    pub fn sort<E>(answers: Vec<(Region, Result<T, E>)>) -> (Self, Vec<(Region, E)>) {
        let mut sorted = Self {
            read: Vec::new(),
            unreadable: Vec::new(),
        };
        let mut errors = Vec::new();
        for (region, answer) in answers {
            match answer {
                Ok(value) => sorted.read.push((region, value)),
                Err(err) => {
                    sorted.unreadable.push(region);
                    errors.push((region, err));
                }
            }
        }
        (sorted, errors)
    }

    /// `self`, unless no region answered: then the first region's error (a read fails
    /// only when every region failed, and then as the first one did).
    pub fn unless_none_read<E>(self, errors: Vec<(Region, E)>) -> Result<Self, E> {
        match errors.into_iter().next() {
            Some((_, first)) if self.read.is_empty() => Err(first),
            _ => Ok(self),
        }
    }
}
