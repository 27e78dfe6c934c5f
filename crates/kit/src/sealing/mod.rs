//! Personal data sealed at rest: envelope encryption with AES-256-GCM, and keyed blind indexes for
//! the equality lookups officers need.
//!
//! Each service has its own key-encryption key (KEK): 32 random bytes, base64, read from a file
//! (`encryption_key_file`) or the environment (`DOXWATCH_ENCRYPTION_KEY`), never from its store.
//! The store holds data keys (the kit's `data_keys` table), each wrapped by the KEK: the newest
//! sealing key seals new values, older ones stay to open what was sealed before a rotation. One
//! more data key, the index key, is the HMAC-SHA256 key of blind indexes; it is separate from the
//! sealing keys, so that an index says nothing of the ciphertexts, and is never rotated (an index
//! under a new key would have to be rebuilt from every plaintext).
//!
//! A sealed value is `dw1.k<key id>.<base64url(nonce ‖ ciphertext ‖ tag)>` in a text column, and
//! `DW1` ‖ key id (u32, big-endian) ‖ nonce ‖ ciphertext ‖ tag in a binary one. Each has a fresh
//! random 96-bit nonce, and its associated data is `doxwatch-sealed-v1 \0 <field> \0 <record>`: a
//! value moved to another column or another record does not open. A text value without the `dw1.`
//! prefix is one stored before the store was sealed; it is read as it is, and
//! [`Keyring::is_current`] tells the re-sealing sweep it is not sealed under the current key.
//!
//! Rotation ([`Keyring::rotate`], `doxwatch keys rotate`) adds a sealing key. It becomes the one
//! new values are sealed with only once it is `activation` old (`key_activation_ms`), by when
//! every replica has read it ([`Keyring::reload`] runs more often than that): no replica is ever
//! handed a value sealed under a key it has not loaded. The re-sealing sweep (`reseal.rs`) then
//! seals older values again under it.

use std::{
    collections::BTreeMap,
    path::Path,
    sync::{Arc, RwLock},
};

use base64::Engine;
use ring::{
    aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey},
    hmac,
    rand::{SecureRandom, SystemRandom},
};
use time::OffsetDateTime;

use crate::db::{Db, Ts};

const KEY_LEN: usize = 32;
const TEXT_PREFIX: &str = "dw1.k";
pub(crate) const BINARY_PREFIX: &[u8] = b"DW1";
const VALUE_DOMAIN: &[u8] = b"doxwatch-sealed-v1";
const DATA_KEY_DOMAIN: &[u8] = b"doxwatch-data-key-v1";
const INDEX_DOMAIN: &[u8] = b"doxwatch-blind-index-v1";

/// What a data key is for, as `data_keys.purpose` stores it.
const SEALING: &str = "seal";
const INDEXING: &str = "index";

#[derive(Debug, thiserror::Error)]
pub enum SealError {
    #[error("the encryption key is not usable: {0}")]
    Kek(String),
    #[error("cannot read the encryption key file {path}")]
    KekFile {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("this store's data keys are not loaded: the service was built without its encryption key")]
    NoKeys,
    #[error("data key {0} does not open with this encryption key: it is another service's, or the key file changed")]
    Unwrap(u32),
    #[error("the value was sealed with data key {0}, which this store does not hold")]
    UnknownKey(u32),
    #[error("a sealed value of {field} does not open: it was changed, or belongs to another record")]
    Open { field: String },
    #[error("a sealed value of {field} is malformed")]
    Malformed { field: String },
    #[error("cannot generate random bytes")]
    Random,
    #[error("cannot read or write the data keys")]
    Store(#[from] sqlx::Error),
}

/// A service's key-encryption key.
#[derive(Clone)]
pub struct Kek(Arc<LessSafeKey>);

impl std::fmt::Debug for Kek {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Kek(..)")
    }
}

impl Kek {
    /// A key from its base64 text (surrounding whitespace ignored).
    pub fn from_base64(text: &str) -> Result<Self, SealError> {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(text.trim())
            .map_err(|_| SealError::Kek("it is not base64".into()))?;
        if bytes.len() != KEY_LEN {
            return Err(SealError::Kek(format!("it holds {} bytes, not {KEY_LEN}", bytes.len())));
        }
        Ok(Self(Arc::new(aead_key(&bytes)?)))
    }

    /// The key in `path`, which should be readable by the service alone.
    pub fn load(path: &Path) -> Result<Self, SealError> {
        crate::tls::warn_if_readable_by_others(path);
        let text =
            std::fs::read_to_string(path).map_err(|source| SealError::KekFile { path: path.to_owned(), source })?;
        Self::from_base64(&text)
    }

    /// A new key, as the base64 text a key file holds.
    pub fn generate() -> Result<String, SealError> {
        let mut bytes = [0u8; KEY_LEN];
        SystemRandom::new().fill(&mut bytes).map_err(|_| SealError::Random)?;
        Ok(format!("{}\n", base64::engine::general_purpose::STANDARD.encode(bytes)))
    }
}

fn aead_key(bytes: &[u8]) -> Result<LessSafeKey, SealError> {
    UnboundKey::new(&AES_256_GCM, bytes).map(LessSafeKey::new).map_err(|_| SealError::Kek("not an AES-256 key".into()))
}

fn associated_data(domain: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    let mut aad = domain.to_vec();
    for part in parts {
        aad.push(0);
        aad.extend_from_slice(part);
    }
    aad
}

/// The data keys of a store, opened with its KEK. Clones share them.
#[derive(Clone)]
pub struct Keyring {
    inner: Option<Arc<Keys>>,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keyring").field("active", &self.active_key().ok()).finish_non_exhaustive()
    }
}

struct Keys {
    sealing: RwLock<Sealing>,
    index: hmac::Key,
    rng: SystemRandom,
    kek: Kek,
    /// How old a sealing key must be before new values are sealed with it.
    activation: std::time::Duration,
}

struct Sealing {
    keys: BTreeMap<u32, LessSafeKey>,
    created: BTreeMap<u32, OffsetDateTime>,
    active: u32,
}

impl Sealing {
    /// When key `id` seals new values: `activation` after it was added. The first key is
    /// active from the start, as no value is sealed under any other.
    fn active_from(&self, id: u32, activation: std::time::Duration) -> Option<OffsetDateTime> {
        let created = *self.created.get(&id)?;
        if self.keys.keys().next() == Some(&id) {
            return Some(created);
        }
        created.checked_add(time::Duration::try_from(activation).unwrap_or(time::Duration::MAX))
    }

    /// The newest key whose time has come.
    fn choose_active(&mut self, activation: std::time::Duration) -> Result<(), SealError> {
        let now = OffsetDateTime::now_utc();
        let ready = self.keys.keys().rev().find(|id| self.active_from(**id, activation).is_some_and(|t| t <= now));
        self.active = *ready.or_else(|| self.keys.keys().next()).ok_or(SealError::NoKeys)?;
        Ok(())
    }
}

/// A sealing key as [`Keyring::status`] shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataKeyInfo {
    pub id: u32,
    pub create_time: OffsetDateTime,
    /// When it began (or begins) sealing new values.
    pub active_from: OffsetDateTime,
    /// Whether new values are sealed with it now.
    pub active: bool,
}

/// A data key as the store keeps it.
#[derive(sqlx::FromRow)]
struct StoredKey {
    id: i64,
    purpose: String,
    wrapped: Vec<u8>,
    create_time: Ts,
}

impl Keyring {
    /// No keys: every seal and open fails. What a store has until its service installs its own.
    pub fn none() -> Self {
        Self { inner: None }
    }

    /// The store's data keys, opened with `kek`; a store without them gets a sealing key and an
    /// index key now. Replicas starting together agree: a key id is claimed once, and the loser
    /// reads the winner's.
    pub async fn open(db: &Db, kek: &Kek) -> Result<Self, SealError> {
        Self::open_with(db, kek, std::time::Duration::ZERO).await
    }

    /// [`Keyring::open`], a rotated key sealing new values once it is `activation` old.
    pub async fn open_with(db: &Db, kek: &Kek, activation: std::time::Duration) -> Result<Self, SealError> {
        let rng = SystemRandom::new();
        let mut stored = load_keys(db).await?;
        for purpose in [SEALING, INDEXING] {
            if !stored.iter().any(|k| k.purpose == purpose) {
                add_key(db, kek, &rng, purpose).await?;
                stored = load_keys(db).await?;
            }
        }
        let mut sealing = Sealing { keys: BTreeMap::new(), created: BTreeMap::new(), active: 0 };
        let mut index = None;
        for key in &stored {
            let id = u32::try_from(key.id).map_err(|_| SealError::UnknownKey(u32::MAX))?;
            let bytes = unwrap_key(kek, id, &key.purpose, &key.wrapped)?;
            match key.purpose.as_str() {
                SEALING => {
                    sealing.keys.insert(id, aead_key(&bytes)?);
                    sealing.created.insert(id, key.create_time.0);
                }
                // The first index key is the index key for good.
                INDEXING if index.is_none() => index = Some(hmac::Key::new(hmac::HMAC_SHA256, &bytes)),
                _ => {}
            }
        }
        sealing.choose_active(activation)?;
        let index = index.ok_or(SealError::NoKeys)?;
        let keys = Keys { sealing: RwLock::new(sealing), index, rng, kek: kek.clone(), activation };
        Ok(Self { inner: Some(Arc::new(keys)) })
    }

    /// Adds a sealing key to the store, which seals new values once it is the activation delay
    /// old; values sealed before stay readable. Returns it.
    pub async fn rotate(&self, db: &Db) -> Result<DataKeyInfo, SealError> {
        let keys = self.keys()?;
        let id = add_key(db, &keys.kek, &keys.rng, SEALING).await?;
        self.reload(db).await?;
        self.status()?.into_iter().find(|k| k.id == id).ok_or(SealError::UnknownKey(id))
    }

    /// Reads sealing keys other replicas added, and moves to the newest whose time has come.
    pub async fn reload(&self, db: &Db) -> Result<(), SealError> {
        let keys = self.keys()?;
        let mut added = Vec::new();
        for key in load_keys(db).await?.into_iter().filter(|k| k.purpose == SEALING) {
            let id = u32::try_from(key.id).map_err(|_| SealError::UnknownKey(u32::MAX))?;
            if !keys.sealing.read().map_err(|_| SealError::NoKeys)?.keys.contains_key(&id) {
                added.push((id, key.create_time.0, aead_key(&unwrap_key(&keys.kek, id, SEALING, &key.wrapped)?)?));
            }
        }
        let mut sealing = keys.sealing.write().map_err(|_| SealError::NoKeys)?;
        for (id, created, key) in added {
            sealing.keys.insert(id, key);
            sealing.created.insert(id, created);
        }
        sealing.choose_active(keys.activation)
    }

    /// The sealing keys, oldest first.
    pub fn status(&self) -> Result<Vec<DataKeyInfo>, SealError> {
        let keys = self.keys()?;
        let sealing = keys.sealing.read().map_err(|_| SealError::NoKeys)?;
        Ok(sealing
            .created
            .iter()
            .map(|(id, created)| DataKeyInfo {
                id: *id,
                create_time: *created,
                active_from: sealing.active_from(*id, keys.activation).unwrap_or(*created),
                active: *id == sealing.active,
            })
            .collect())
    }

    /// How often a replica should [`Keyring::reload`]: well inside the activation delay, so that
    /// it holds every key before any is used.
    pub fn reload_interval(&self) -> std::time::Duration {
        let activation = self.keys().map(|k| k.activation).unwrap_or_default();
        (activation / 4).clamp(std::time::Duration::from_secs(1), std::time::Duration::from_secs(30))
    }

    fn keys(&self) -> Result<&Keys, SealError> {
        self.inner.as_deref().ok_or(SealError::NoKeys)
    }

    /// The id of the key new values are sealed with.
    pub fn active_key(&self) -> Result<u32, SealError> {
        Ok(self.keys()?.sealing.read().map_err(|_| SealError::NoKeys)?.active)
    }

    /// The text prefix of values sealed with the current key: a sweep re-seals the values of a
    /// column that do not start with it.
    pub fn current_prefix(&self) -> Result<String, SealError> {
        Ok(format!("{TEXT_PREFIX}{}.", self.active_key()?))
    }

    /// Whether `stored` is sealed with the current key.
    pub fn is_current(&self, stored: &str) -> Result<bool, SealError> {
        Ok(stored.starts_with(&self.current_prefix()?))
    }

    /// Whether the binary `stored` is sealed with the current key.
    pub fn is_current_bytes(&self, stored: &[u8]) -> Result<bool, SealError> {
        let mut prefix = BINARY_PREFIX.to_vec();
        prefix.extend_from_slice(&self.active_key()?.to_be_bytes());
        Ok(stored.starts_with(&prefix))
    }

    fn seal_raw(&self, field: &str, record: &str, plaintext: &[u8]) -> Result<(u32, Vec<u8>), SealError> {
        let keys = self.keys()?;
        let sealing = keys.sealing.read().map_err(|_| SealError::NoKeys)?;
        let key = sealing.keys.get(&sealing.active).ok_or(SealError::NoKeys)?;
        let mut nonce = [0u8; NONCE_LEN];
        keys.rng.fill(&mut nonce).map_err(|_| SealError::Random)?;
        let mut out = nonce.to_vec();
        let mut body = plaintext.to_vec();
        let aad = associated_data(VALUE_DOMAIN, &[field.as_bytes(), record.as_bytes()]);
        key.seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::from(&aad), &mut body)
            .map_err(|_| SealError::Random)?;
        out.extend_from_slice(&body);
        Ok((sealing.active, out))
    }

    fn open_raw(&self, field: &str, record: &str, key_id: u32, sealed: &[u8]) -> Result<Vec<u8>, SealError> {
        let keys = self.keys()?;
        let sealing = keys.sealing.read().map_err(|_| SealError::NoKeys)?;
        let key = sealing.keys.get(&key_id).ok_or(SealError::UnknownKey(key_id))?;
        if sealed.len() < NONCE_LEN + AES_256_GCM.tag_len() {
            return Err(SealError::Malformed { field: field.to_owned() });
        }
        let (nonce, body) = sealed.split_at(NONCE_LEN);
        let nonce =
            Nonce::try_assume_unique_for_key(nonce).map_err(|_| SealError::Malformed { field: field.to_owned() })?;
        let aad = associated_data(VALUE_DOMAIN, &[field.as_bytes(), record.as_bytes()]);
        let mut body = body.to_vec();
        let plain = key
            .open_in_place(nonce, Aad::from(&aad), &mut body)
            .map_err(|_| SealError::Open { field: field.to_owned() })?;
        Ok(plain.to_vec())
    }

    /// `text` sealed as the value of `field` (e.g. `case_subjects.display_name`) of `record` (its
    /// row's id), for a text column.
    pub fn seal_text(&self, field: &str, record: &str, text: &str) -> Result<String, SealError> {
        let (key_id, sealed) = self.seal_raw(field, record, text.as_bytes())?;
        Ok(format!("{TEXT_PREFIX}{key_id}.{}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sealed)))
    }

    /// The text sealed in `stored` by [`Keyring::seal_text`] for the same field and record; a
    /// value stored before sealing began is returned as it is.
    pub fn open_text(&self, field: &str, record: &str, stored: &str) -> Result<String, SealError> {
        let Some(rest) = stored.strip_prefix(TEXT_PREFIX) else {
            return Ok(stored.to_owned());
        };
        let malformed = || SealError::Malformed { field: field.to_owned() };
        let (id, body) = rest.split_once('.').ok_or_else(malformed)?;
        let key_id: u32 = id.parse().map_err(|_| malformed())?;
        let sealed = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(body).map_err(|_| malformed())?;
        String::from_utf8(self.open_raw(field, record, key_id, &sealed)?).map_err(|_| malformed())
    }

    /// `bytes` sealed for a binary column or file.
    pub fn seal_bytes(&self, field: &str, record: &str, bytes: &[u8]) -> Result<Vec<u8>, SealError> {
        let (key_id, sealed) = self.seal_raw(field, record, bytes)?;
        let mut out = BINARY_PREFIX.to_vec();
        out.extend_from_slice(&key_id.to_be_bytes());
        out.extend_from_slice(&sealed);
        Ok(out)
    }

    /// The bytes sealed in `stored` by [`Keyring::seal_bytes`] for the same field and record.
    pub fn open_bytes(&self, field: &str, record: &str, stored: &[u8]) -> Result<Vec<u8>, SealError> {
        let malformed = || SealError::Malformed { field: field.to_owned() };
        let rest = stored.strip_prefix(BINARY_PREFIX).ok_or_else(malformed)?;
        let (id, sealed) = rest.split_first_chunk::<4>().ok_or_else(malformed)?;
        self.open_raw(field, record, u32::from_be_bytes(*id), sealed)
    }

    /// The blind index of `value` (already normalized) as a `kind` of term (`name`, `phone`):
    /// HMAC-SHA256 under the store's index key. Equal inputs give equal indexes; without the key
    /// an index cannot be computed, so it cannot be guessed from a list of names.
    pub fn blind_index(&self, kind: &str, value: &str) -> Result<Vec<u8>, SealError> {
        let keys = self.keys()?;
        let message = associated_data(INDEX_DOMAIN, &[kind.as_bytes(), value.as_bytes()]);
        Ok(hmac::sign(&keys.index, &message).as_ref().to_vec())
    }
}

async fn load_keys(db: &Db) -> Result<Vec<StoredKey>, sqlx::Error> {
    Ok(crate::on_pool!(db.write(), p => {
        sqlx::query_as::<_, StoredKey>("SELECT id, purpose, wrapped, create_time FROM data_keys ORDER BY id").fetch_all(p).await?
    }))
}

/// Generates a data key for `purpose`, wraps it with `kek` and stores it under the next free id.
async fn add_key(db: &Db, kek: &Kek, rng: &SystemRandom, purpose: &str) -> Result<u32, SealError> {
    let mut bytes = [0u8; KEY_LEN];
    rng.fill(&mut bytes).map_err(|_| SealError::Random)?;
    for _ in 0..5 {
        let next: i64 = crate::on_pool!(db.write(), p => {
            sqlx::query_scalar::<_, i64>("SELECT COALESCE(MAX(id), 0) + 1 FROM data_keys").fetch_one(p).await?
        });
        let id = u32::try_from(next).map_err(|_| SealError::UnknownKey(u32::MAX))?;
        let wrapped = wrap_key(kek, rng, id, purpose, &bytes)?;
        let inserted = crate::on_pool!(db.write(), p => {
            sqlx::query(
                "INSERT INTO data_keys (id, purpose, wrapped, create_time) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (id) DO NOTHING",
            )
            .bind(next)
            .bind(purpose)
            .bind(&wrapped)
            .bind(Ts(OffsetDateTime::now_utc()))
            .execute(p)
            .await?
            .rows_affected()
        });
        if inserted == 1 {
            return Ok(id);
        }
        // Another replica took that id: try the next.
    }
    Err(SealError::Store(sqlx::Error::Protocol("could not claim a data key id".into())))
}

fn wrap_key(kek: &Kek, rng: &SystemRandom, id: u32, purpose: &str, key: &[u8]) -> Result<Vec<u8>, SealError> {
    let mut nonce = [0u8; NONCE_LEN];
    rng.fill(&mut nonce).map_err(|_| SealError::Random)?;
    let aad = associated_data(DATA_KEY_DOMAIN, &[purpose.as_bytes(), id.to_string().as_bytes()]);
    let mut body = key.to_vec();
    kek.0
        .seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::from(&aad), &mut body)
        .map_err(|_| SealError::Random)?;
    let mut out = nonce.to_vec();
    out.extend_from_slice(&body);
    Ok(out)
}

fn unwrap_key(kek: &Kek, id: u32, purpose: &str, wrapped: &[u8]) -> Result<Vec<u8>, SealError> {
    if wrapped.len() < NONCE_LEN {
        return Err(SealError::Unwrap(id));
    }
    let (nonce, body) = wrapped.split_at(NONCE_LEN);
    let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| SealError::Unwrap(id))?;
    let aad = associated_data(DATA_KEY_DOMAIN, &[purpose.as_bytes(), id.to_string().as_bytes()]);
    let mut body = body.to_vec();
    let key = kek.0.open_in_place(nonce, Aad::from(&aad), &mut body).map_err(|_| SealError::Unwrap(id))?;
    if key.len() != KEY_LEN {
        return Err(SealError::Unwrap(id));
    }
    Ok(key.to_vec())
}

/// A name as blind indexes take it: lower case, each run of letters and digits a term, everything
/// else a separator. `Chan  Tai-man` and `chan tai man` give the same terms.
pub fn name_terms(name: &str) -> Vec<String> {
    let mut terms: Vec<String> =
        name.split(|c: char| !c.is_alphanumeric()).filter(|t| !t.is_empty()).map(|t| t.to_lowercase()).collect();
    terms.sort();
    terms.dedup();
    terms
}

/// A phone number as blind indexes take it: its digits, without Hong Kong's country code on an
/// eleven-digit number. `None` for fewer than 8 digits.
pub fn phone_digits(phone: &str) -> Option<String> {
    let digits: String = phone.chars().filter(char::is_ascii_digit).collect();
    let digits = match digits.strip_prefix("852") {
        Some(local) if local.len() == 8 => local.to_owned(),
        _ => digits,
    };
    (digits.len() >= 8).then_some(digits)
}

#[cfg(test)]
mod tests;
