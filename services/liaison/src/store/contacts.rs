//! Platform contacts: one row per platform, replaced whole when it changes.

use doxwatch_kit::{
    db::{Ts, Tx},
    on_tx,
};

use super::{StoreError, code, name};
use crate::domain::*;

const COLUMNS: &str = "platform, legal_entity, jurisdiction, email, postal_address, web_form_url, in_app, language, \
     accepted_service_before, notes, update_time, updated_by";

#[derive(sqlx::FromRow)]
struct ContactRow {
    platform: String,
    legal_entity: String,
    jurisdiction: String,
    email: String,
    postal_address: String,
    web_form_url: String,
    in_app: String,
    language: i16,
    accepted_service_before: bool,
    notes: String,
    update_time: Ts,
    updated_by: String,
}

impl ContactRow {
    fn decode(self) -> Result<PlatformContact, StoreError> {
        Ok(PlatformContact {
            platform: name(&self.platform, PlatformRef::parse_name, "platform_contacts.platform")?,
            legal_entity: self.legal_entity,
            jurisdiction: self.jurisdiction,
            email: self.email,
            postal_address: self.postal_address,
            web_form_url: self.web_form_url,
            in_app: self.in_app,
            language: code(self.language, Language::from_code, "platform_contacts.language")?,
            accepted_service_before: self.accepted_service_before,
            notes: self.notes,
            update_time: self.update_time.0,
            updated_by: self.updated_by,
        })
    }
}

pub async fn upsert(tx: &mut Tx, c: &PlatformContact) -> Result<(), StoreError> {
    on_tx!(tx, conn => {
        sqlx::query(
            "INSERT INTO platform_contacts (platform, legal_entity, jurisdiction, email, postal_address, web_form_url, \
             in_app, language, accepted_service_before, notes, update_time, updated_by) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) \
             ON CONFLICT (platform) DO UPDATE SET legal_entity = $2, jurisdiction = $3, email = $4, postal_address = $5, \
             web_form_url = $6, in_app = $7, language = $8, accepted_service_before = $9, notes = $10, update_time = $11, \
             updated_by = $12",
        )
        .bind(c.platform.name())
        .bind(&c.legal_entity)
        .bind(&c.jurisdiction)
        .bind(&c.email)
        .bind(&c.postal_address)
        .bind(&c.web_form_url)
        .bind(&c.in_app)
        .bind(c.language.code() as i16)
        .bind(c.accepted_service_before)
        .bind(&c.notes)
        .bind(Ts(c.update_time))
        .bind(&c.updated_by)
        .execute(conn)
        .await?;
    });
    Ok(())
}

pub async fn get(tx: &mut Tx, platform: PlatformRef) -> Result<Option<PlatformContact>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM platform_contacts WHERE platform = $1");
    let row: Option<ContactRow> = on_tx!(tx, c => sqlx::query_as(&sql).bind(platform.name()).fetch_optional(c).await?);
    row.map(ContactRow::decode).transpose()
}

/// Contacts after the platform named `after`, in the order of platform names.
pub async fn list(tx: &mut Tx, after: &str, limit: u32) -> Result<Vec<PlatformContact>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM platform_contacts WHERE platform > $1 ORDER BY platform LIMIT $2");
    let rows: Vec<ContactRow> =
        on_tx!(tx, c => sqlx::query_as(&sql).bind(after).bind(i64::from(limit)).fetch_all(c).await?);
    rows.into_iter().map(ContactRow::decode).collect()
}
