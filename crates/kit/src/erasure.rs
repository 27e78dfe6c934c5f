//! What every service keeps of a case whose personal data intake erased: the case's name among
//! the erased cases, in the service's own `erased_cases` table (`case_name`, `erase_time`,
//! `record_time`, and whatever columns of its own the service adds), so that what it erases can be
//! worked out again and a repeated erasure erases nothing more.

use time::OffsetDateTime;

use crate::{
    db::{Ts, Tx},
    on_tx,
};

/// Enters `case` (`cases/{id}`), erased by intake at `erase_time`, among the erased cases; false
/// if it already was.
pub async fn record_case(
    tx: &mut Tx,
    case: &str,
    erase_time: OffsetDateTime,
    now: OffsetDateTime,
) -> Result<bool, sqlx::Error> {
    let added = on_tx!(tx, c => {
        sqlx::query(
            "INSERT INTO erased_cases (case_name, erase_time, record_time) VALUES ($1, $2, $3) \
             ON CONFLICT (case_name) DO NOTHING",
        )
        .bind(case)
        .bind(Ts(erase_time))
        .bind(Ts(now))
        .execute(c)
        .await?
        .rows_affected()
    });
    Ok(added == 1)
}
