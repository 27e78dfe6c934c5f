//! Write transactions with the two things every change needs: a retry when another replica took
//! a unique key first, and request-id replay, so a retried request returns its first response.

/// What a service's error says about the store, so that a lost race can be run again.
pub trait StoreFailure {
    /// Whether the error is a unique-key violation (another writer took the key first).
    fn is_unique_violation(&self) -> bool;
}

/// How often a transaction that lost a race is run again.
pub const RACE_RETRIES: usize = 3;

/// Fixes the error type of an async block whose body uses `?`.
pub fn typed<T, E, F: std::future::Future<Output = Result<T, E>>>(f: F) -> F {
    f
}

/// Runs `body` in a write transaction of `db` and commits it; `Err` type `$err` must implement
/// `From<sqlx::Error>` and [`StoreFailure`]. A transaction that lost a race with another replica
/// is run again from the start.
#[macro_export]
macro_rules! in_transaction {
    ($db:expr, $err:ty, |$tx:ident| $body:expr) => {{
        let mut attempt = 0;
        loop {
            let mut $tx = match $db.begin().await {
                Ok(tx) => tx,
                Err(e) => break Err(<$err>::from(e)),
            };
            let result = $crate::transaction::typed::<_, $err, _>(async { $body }).await;
            match result {
                Ok(value) => match $tx.commit().await {
                    Ok(()) => break Ok(value),
                    Err(e) if $crate::db::is_unique_violation(&e) && attempt < $crate::transaction::RACE_RETRIES => {
                        attempt += 1
                    }
                    Err(e) => break Err(<$err>::from(e)),
                },
                Err(e)
                    if $crate::transaction::StoreFailure::is_unique_violation(&e)
                        && attempt < $crate::transaction::RACE_RETRIES =>
                {
                    attempt += 1
                }
                Err(e) => break Err(e),
            }
        }
    }};
}

/// [`in_transaction!`] with request-id replay: with a key, a retry returns the first response,
/// and the change and its response are committed together. `$err` must also implement
/// `From<IdempotencyError>`.
#[macro_export]
macro_rules! idempotent {
    ($db:expr, $err:ty, $key:expr, |$tx:ident| $body:expr) => {{
        let key: Option<$crate::idempotency::RequestKey> = $key;
        $crate::in_transaction!($db, $err, |$tx| {
            let keys = ($db).keyring();
            if let Some(first) = $crate::idempotency::replay_or_claim(&mut $tx, keys, key.as_ref()).await? {
                return Ok(first);
            }
            let response = $crate::transaction::typed::<_, $err, _>(async { $body }).await?;
            if let Some(k) = &key {
                $crate::idempotency::remember(&mut $tx, keys, k, &response).await?;
            }
            Ok(response)
        })
    }};
}
