//! Data subjects: their sealed rows, versioned with the case, and their blind indexes (each term
//! of a name, a phone number, a whole name), by which a case's search and a new case's
//! same-person hint find them without names in plain text.

use doxwatch_kit::{
    db::{Ts, Tx},
    on_tx,
    rows::{Rows, Value, insert_all},
    sealing::{Keyring, SealError},
};
use sqlx::QueryBuilder;
use time::OffsetDateTime;
use uuid::Uuid;

use super::{SUBJECT_CONTACT, SUBJECT_NAME, StoreError, subject_record};
use crate::domain::*;

/// Who a ListCases search looks for, as blind indexes match it (a new case's same-person hint asks
/// for the same name, every term and no other: see [`cases_with_subject`]).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub enum SubjectQuery {
    /// A data subject whose name has every one of these terms ([`doxwatch_kit::sealing::name_terms`]).
    Name(Vec<String>),
    /// A data subject with this phone number ([`doxwatch_kit::sealing::phone_digits`]).
    Phone(String),
}

impl SubjectQuery {
    /// The indexes a matching data subject has, every one of them.
    pub(super) fn digests(&self, keys: &Keyring) -> Result<Vec<Vec<u8>>, SealError> {
        match self {
            SubjectQuery::Name(terms) => terms.iter().map(|t| keys.blind_index(NAME_TERM, t)).collect(),
            SubjectQuery::Phone(digits) => Ok(vec![keys.blind_index(PHONE, digits)?]),
        }
    }
}

const NAME_TERM: &str = "name";
const PHONE: &str = "phone";
const WHOLE_NAME: &str = "whole-name";

/// `case_subject_terms.kind`: a term of a name or a phone number; a whole name.
const TERM_ROW: i16 = 0;
pub(super) const WHOLE_NAME_ROW: i16 = 1;

/// A version of a case's data subjects, sealed and indexed, as its rows will be written.
pub(super) struct SealedSubjects {
    case: CaseId,
    version: i32,
    recorded_at: Ts,
    subjects: Vec<SealedSubject>,
    /// Blind indexes: (position, digest, kind).
    terms: Vec<(i32, Vec<u8>, i16)>,
}

struct SealedSubject {
    position: i32,
    name: String,
    contact: Option<String>,
    category: i16,
    nexus: i16,
}

const VERSION_COLUMNS: &[&str] = &["case_id", "version", "recorded_at"];
const SUBJECT_COLUMNS: &[&str] =
    &["case_id", "version", "position", "display_name", "contact", "category", "hong_kong_nexus"];
const TERM_COLUMNS: &[&str] = &["case_id", "version", "position", "digest", "kind"];

impl SealedSubjects {
    pub(super) fn new(
        keys: &Keyring,
        case: CaseId,
        version: i32,
        subjects: &[DataSubject],
        recorded_at: OffsetDateTime,
    ) -> Result<Self, StoreError> {
        let mut sealed = Vec::with_capacity(subjects.len());
        let mut terms = Vec::new();
        for (position, subject) in subjects.iter().enumerate() {
            let position = i32::try_from(position).unwrap_or(i32::MAX);
            let record = subject_record(case.0, version, position);
            let name = keys.seal_text(SUBJECT_NAME, &record, &subject.display_name)?;
            let contact = subject
                .contact
                .as_ref()
                .map(|c| Ok::<_, StoreError>(keys.seal_text(SUBJECT_CONTACT, &record, &serde_json::to_string(c)?)?))
                .transpose()?;
            let (category, nexus) = (subject.category.code() as i16, subject.hong_kong_nexus.code() as i16);
            sealed.push(SealedSubject { position, name, contact, category, nexus });
            terms.extend(subject_indexes(keys, position, subject)?);
        }
        Ok(Self { case, version, recorded_at: Ts(recorded_at), subjects: sealed, terms })
    }

    /// Its rows: the version, its data subjects and their blind indexes.
    pub(super) fn rows(&self) -> [Rows<'_>; 3] {
        let (case, version) = (Value::Uuid(self.case.0), Value::Int(self.version));
        let mut versions = Rows::new("case_subject_versions", VERSION_COLUMNS);
        versions.push(vec![case.clone(), version.clone(), Value::Time(self.recorded_at)]);
        let mut subjects = Rows::new("case_subjects", SUBJECT_COLUMNS);
        for s in &self.subjects {
            subjects.push(vec![
                case.clone(),
                version.clone(),
                Value::Int(s.position),
                Value::Text(&s.name),
                Value::OptionalText(s.contact.as_deref()),
                Value::SmallInt(s.category),
                Value::SmallInt(s.nexus),
            ]);
        }
        [versions, subjects, term_rows(self.case, self.version, &self.terms)]
    }
}

/// Writes a new version of a case's data subjects, with their blind indexes.
pub(super) async fn insert_subjects(
    tx: &mut Tx,
    keys: &Keyring,
    case: CaseId,
    version: i32,
    subjects: &[DataSubject],
    recorded_at: OffsetDateTime,
) -> Result<(), StoreError> {
    let sealed = SealedSubjects::new(keys, case, version, subjects, recorded_at)?;
    Ok(insert_all(tx, &sealed.rows()).await?)
}

/// Other cases whose current data subjects are the same person as any of `queries` names, oldest
/// first, at most `limit`: a name with the same terms (however written: case, punctuation and word
/// order aside), or the same phone number. One statement; each digest is read from the
/// `(digest, case_id)` index in id order and stops at `limit`, so the cost is `limit` rows a query
/// however many cases name that person. The first `limit` of all the matches are among the first
/// `limit` of each query's.
pub async fn cases_with_subject(
    tx: &mut Tx,
    keys: &Keyring,
    queries: &[SubjectQuery],
    except: CaseId,
    limit: u32,
) -> Result<Vec<CaseId>, StoreError> {
    if queries.is_empty() {
        return Ok(Vec::new());
    }
    let mut digests = Vec::with_capacity(queries.len());
    for query in queries {
        digests.push(match query {
            SubjectQuery::Name(terms) => whole_name_index(keys, terms)?,
            SubjectQuery::Phone(digits) => keys.blind_index(PHONE, digits)?,
        });
    }
    digests.sort();
    digests.dedup();
    let limit = i64::from(limit);
    let rows: Vec<(Uuid,)> = on_tx!(tx, c => {
        let mut q = QueryBuilder::new("SELECT DISTINCT case_id FROM (");
        for (i, digest) in digests.iter().enumerate() {
            if i > 0 {
                q.push(" UNION ALL ");
            }
            // Wrapped, so that each part keeps its own ORDER BY and LIMIT on both backends.
            q.push("SELECT case_id FROM (SELECT t.case_id FROM case_subject_terms t WHERE t.digest = ")
                .push_bind(digest.clone())
                .push(" AND t.case_id <> ")
                .push_bind(except.0)
                .push(
                    " AND t.version = (SELECT MAX(v.version) FROM case_subject_versions v WHERE v.case_id = t.case_id) \
                     ORDER BY t.case_id LIMIT ",
                )
                .push_bind(limit)
                .push(") p");
        }
        q.push(") m ORDER BY case_id LIMIT ").push_bind(limit);
        q.build_query_as().fetch_all(c).await?
    });
    Ok(rows.into_iter().map(|(id,)| CaseId(id)).collect())
}

/// The blind index of a whole name, from its terms ([`doxwatch_kit::sealing::name_terms`], sorted
/// and without repeats).
fn whole_name_index(keys: &Keyring, terms: &[String]) -> Result<Vec<u8>, SealError> {
    keys.blind_index(WHOLE_NAME, &terms.join(" "))
}

/// The blind indexes of a data subject at `position`: each term of its name and its phone number
/// (kind 0), and its whole name (kind 1, written for every subject, so that its absence marks a
/// subject the start-up sweep must index).
fn subject_indexes(
    keys: &Keyring,
    position: i32,
    subject: &DataSubject,
) -> Result<Vec<(i32, Vec<u8>, i16)>, StoreError> {
    let terms = doxwatch_kit::sealing::name_terms(&subject.display_name);
    let mut digests = Vec::new();
    for term in &terms {
        digests.push(keys.blind_index(NAME_TERM, term)?);
    }
    if let Some(digits) = subject.contact.as_ref().and_then(|c| doxwatch_kit::sealing::phone_digits(&c.phone)) {
        digests.push(keys.blind_index(PHONE, &digits)?);
    }
    digests.sort();
    digests.dedup();
    let mut rows: Vec<(i32, Vec<u8>, i16)> = digests.into_iter().map(|d| (position, d, TERM_ROW)).collect();
    rows.push((position, whole_name_index(keys, &terms)?, WHOLE_NAME_ROW));
    Ok(rows)
}

/// Blind indexes of `case`'s subjects at `version` as rows: (position, digest, kind).
fn term_rows(case: CaseId, version: i32, terms: &[(i32, Vec<u8>, i16)]) -> Rows<'_> {
    let mut rows = Rows::new("case_subject_terms", TERM_COLUMNS);
    for (position, digest, kind) in terms {
        rows.push(vec![
            Value::Uuid(case.0),
            Value::Int(version),
            Value::Int(*position),
            Value::Bytes(digest),
            Value::SmallInt(*kind),
        ]);
    }
    rows
}

/// Indexes one data subject (the start-up sweep's, for subjects stored before their indexes were).
pub(super) async fn index_subject(
    tx: &mut Tx,
    keys: &Keyring,
    case: CaseId,
    version: i32,
    position: i32,
    subject: &DataSubject,
) -> Result<(), StoreError> {
    let terms = subject_indexes(keys, position, subject)?;
    Ok(insert_all(tx, &[term_rows(case, version, &terms)]).await?)
}
