//! "As at": every figure is asked for a moment of business time, counting only what had been
//! recorded before a second moment (everything, when that is not given), so that a figure
//! published on a day can be reproduced exactly later, whatever has been backfilled since.

use prost_types::Timestamp;
use time::OffsetDateTime;

use crate::{db::Ts, error::FieldViolations, timestamp, validate};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AsAt {
    /// The moment of business time.
    pub at: OffsetDateTime,
    /// Only records made before this moment count; `None` counts every record.
    pub recorded_before: Option<OffsetDateTime>,
}

impl AsAt {
    /// As things stand at `now`, counting every record.
    pub fn now(now: OffsetDateTime) -> Self {
        Self { at: now, recorded_before: None }
    }

    /// The `as_of` (business time, not in the future, now when unset) and `recorded_before` of a
    /// statistics request; bad fields are added to `v` under their names.
    pub fn from_request(
        v: &mut FieldViolations,
        as_of: Option<&Timestamp>,
        recorded_before: Option<&Timestamp>,
    ) -> Option<Self> {
        let at = validate::business_time(v, "as_of", as_of, timestamp::now());
        let recorded_before = validate::optional_time(v, "recorded_before", recorded_before);
        at.map(|at| Self { at, recorded_before })
    }

    /// Whether a fact of business time `at`, recorded at `record_time`, is seen.
    pub fn sees(&self, at: OffsetDateTime, record_time: OffsetDateTime) -> bool {
        at <= self.at && self.recorded_before.is_none_or(|r| record_time < r)
    }

    /// The bound on record times as a store compares it: the latest moment it can hold when none
    /// was given.
    pub fn recorded_before_or_max(&self) -> OffsetDateTime {
        self.recorded_before.unwrap_or(Ts::max().0)
    }
}
