//! Intake's use cases: each validates against the store's current state, makes its change in one
//! transaction together with its timeline event and its request-id record, and returns the result.

use doxwatch_kit::as_at::AsAt;
use std::sync::Arc;

use doxwatch_kit::{
    actor::Actor,
    audit::{self, Access},
    db::{Db, Tx},
    error::FieldViolations,
    group_commit::{self, GroupCommit, Prepared},
    idempotency::{self, RequestKey},
    idempotent, outbox,
    reference::{self, ReferenceScheme},
};
use doxwatch_proto::links as links_pb;
use prost::Message;
use time::OffsetDateTime;
use tokio::sync::Notify;
use uuid::Uuid;

use crate::{
    access::{Sight, Viewer},
    domain::*,
    effects,
    error::IntakeError,
    links::LinkTracking,
    store::{self, CaseFilter},
};

/// How GetCase names a case: by id, or by its reference number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CaseKey {
    Id(CaseId),
    /// As [`reference::normalize`] writes it.
    Reference(String),
}

/// The most earlier cases a new case's "same data subject" hint names.
pub const MAX_SAME_SUBJECT: usize = 20;

/// The personal-data fields of a case, as its audit records name them.
pub const CASE_FIELDS: &[&str] =
    &["summary", "reported_urls", "data_subjects", "complainant", "disclosed_data", "alleged_harm"];

/// The intake service's state: its store, the link-tracking service it reads, and the relay it
/// wakes when it has written an effect.
#[derive(Clone)]
pub struct Intake {
    db: Db,
    links: LinkTracking,
    relay: Arc<Notify>,
    references: ReferenceScheme,
    /// Publications' references (`PUB-2019-000001`), in the office's zone as cases' are.
    pub(crate) publications: ReferenceScheme,
    /// Commits CreateCase's writes in groups.
    commits: GroupCommit,
}

/// The counter series of case reference numbers.
const REFERENCE_SERIES: &str = "cases";

impl Intake {
    pub fn new(db: Db, links: LinkTracking, relay: Arc<Notify>, references: ReferenceScheme) -> Self {
        // A constant prefix, which a unit test checks.
        let publications = ReferenceScheme::new(PUBLICATION_PREFIX, references.zone().clone())
            .expect("PUBLICATION_PREFIX is a valid reference prefix");
        let commits = GroupCommit::start(db.clone(), group_commit::DEFAULT_MOST);
        Self { db, links, relay, references, publications, commits }
    }

    pub fn db(&self) -> &Db {
        &self.db
    }

    /// Records a case and its CREATED event (at `received_at`, status RECEIVED). Cases are
    /// committed in groups ([`GroupCommit`]): a group writes its cases, then numbers and audits
    /// them, taking its turn at the rows every case updates once.
    #[tracing::instrument(skip_all, fields(kind = ?new.kind))]
    pub async fn create_case<R: Message + Default + Send + 'static>(
        &self,
        actor: &Actor,
        new: NewCase,
        key: Option<RequestKey>,
        respond: impl Fn(&Case) -> R + Send + Sync + 'static,
    ) -> Result<R, IntakeError> {
        let has_urls = !new.details.reported_urls.is_empty();
        let request = Arc::new((self.clone(), actor.clone(), new, key, respond));
        let finishing = request.clone();
        let response = self
            .commits
            .run_phased(
                move |tx| {
                    let request = request.clone();
                    Box::pin(async move {
                        let (intake, actor, new, key, _) = &*request;
                        let keys = intake.db.keyring();
                        if let Some(first) = idempotency::replay_or_claim(&mut *tx, keys, key.as_ref()).await? {
                            return Ok(Prepared::Done(first));
                        }
                        Ok::<_, IntakeError>(Prepared::Go(intake.prepare_case(tx, actor, new).await?))
                    })
                },
                move |tx, case| {
                    let request = finishing.clone();
                    Box::pin(async move {
                        let (intake, _, _, key, respond) = &*request;
                        let (case, created) = case;
                        let case = intake.number_case(tx, case, &created).await?;
                        let response = respond(&case);
                        if let Some(key) = key {
                            idempotency::remember(tx, intake.db.keyring(), key, &response).await?;
                        }
                        Ok::<_, IntakeError>(response)
                    })
                },
            )
            .await?;
        if has_urls {
            self.relay.notify_one();
        }
        Ok(response)
    }

    /// Makes a new case and its CREATED event, and writes in `tx` what of it is its own and needs
    /// no number: its effect on link-tracking and its figures. Its rows are held when it is
    /// numbered ([`Intake::number_case`]). The same-person look-up sees the cases committed
    /// before the case's group, not the others of its group: requests that arrive together have
    /// no order between them.
    async fn prepare_case(&self, tx: &mut Tx, actor: &Actor, new: &NewCase) -> Result<(Case, CaseEvent), IntakeError> {
        let now = doxwatch_kit::timestamp::now();
        let case = Case {
            id: CaseId::new(),
            // Numbered last (below).
            reference: String::new(),
            kind: new.kind,
            received_at: new.received_at,
            details: new.details.clone(),
            status: CaseStatus::Received,
            closure_reason: None,
            created_by: actor.name(),
            create_time: now,
            update_time: now,
            team: new.team.clone(),
            assigned_officer: String::new(),
            same_subject_cases: Vec::new(),
            erase_time: None,
        };
        let created = CaseEvent {
            id: Uuid::now_v7(),
            case: case.id,
            kind: CaseEventKind::Created,
            actor: actor.name(),
            occurred_at: case.received_at,
            record_time: now,
            from_status: None,
            to_status: Some(CaseStatus::Received),
            closure_reason: None,
            duplicate_of: None,
            note: String::new(),
        };
        let case = Case { same_subject_cases: self.same_subject(tx, &case).await?, ..case };
        let urls = &case.details.reported_urls;
        if !urls.is_empty() {
            outbox::enqueue(tx, self.db.keyring(), effects::register_links(case.id, urls, case.received_at)).await?;
        }
        store::rollups::count_new_case(tx, &case, &created).await?;
        Ok((case, created))
    }

    /// Gives a case its audit record and its reference number, what every case shares, and holds
    /// its rows for the commit. The audit log's head is taken first, so that every group takes
    /// the rows it shares in one order.
    async fn number_case(&self, tx: &mut Tx, case: Case, created: &CaseEvent) -> Result<Case, IntakeError> {
        audit::record(tx, Access::Write, &[case.id.name()], CASE_FIELDS).await?;
        let year = self.references.year_of(case.received_at);
        let number = reference::next_number(tx, REFERENCE_SERIES, year).await?;
        let case = Case { reference: self.references.render(year, number), ..case };
        store::hold_case(tx, self.db.keyring(), &case, created)?;
        tracing::info!(case = %case.id, "case recorded");
        Ok(case)
    }

    /// Earlier cases naming someone the case names: by phone, or by a name of two words or more
    /// (every word matching; one word, a surname alone, would match too many).
    async fn same_subject(&self, tx: &mut doxwatch_kit::db::Tx, case: &Case) -> Result<Vec<CaseId>, IntakeError> {
        use doxwatch_kit::sealing::{name_terms, phone_digits};
        let mut queries = Vec::new();
        for subject in &case.details.data_subjects {
            let terms = name_terms(&subject.display_name);
            if terms.len() >= 2 {
                queries.push(store::SubjectQuery::Name(terms));
            }
            if let Some(digits) = subject.contact.as_ref().and_then(|c| phone_digits(&c.phone)) {
                queries.push(store::SubjectQuery::Phone(digits));
            }
        }
        let keys = self.db.keyring();
        Ok(store::cases_with_subject(tx, keys, &queries, case.id, MAX_SAME_SUBJECT as u32).await?)
    }

    /// One case, with how much of it `viewer` sees; the read is audited as what it gave.
    #[tracing::instrument(skip(self, viewer), fields(case = ?key))]
    pub async fn get_case(&self, key: CaseKey, viewer: &Viewer) -> Result<(Case, Sight), IntakeError> {
        // A write transaction: the read and its audit record commit together, or neither happens.
        let mut tx = self.db.begin().await?;
        let (id, name) = match key {
            CaseKey::Id(id) => (Some(id), id.name()),
            CaseKey::Reference(r) => (store::case_with_reference(&mut tx, &r).await?, format!("cases/{r}")),
        };
        let found = match id {
            Some(id) => store::get_case(&mut tx, self.db.keyring(), id).await?,
            None => None,
        };
        let Some(case) = found else {
            // A look for a case that is not there is kept too: probing for names leaves a trace.
            audit::record_as(&mut tx, Access::Read, std::slice::from_ref(&name), &[], audit::NOT_FOUND).await?;
            tx.commit().await?;
            return Err(IntakeError::not_found(name));
        };
        let id = case.id;
        let sight = viewer.sight(&case.team, &case.assigned_officer);
        record_reads(&mut tx, &[(id.name(), sight)], CASE_FIELDS).await?;
        tx.commit().await?;
        Ok((case, sight))
    }

    #[tracing::instrument(skip(self, filter, viewer))]
    pub async fn list_cases(
        &self,
        filter: &CaseFilter,
        after: Option<Uuid>,
        limit: u32,
        viewer: &Viewer,
    ) -> Result<Vec<(Case, Sight)>, IntakeError> {
        let mut tx = self.db.begin().await?;
        let cases = store::list_cases(&mut tx, self.db.keyring(), filter, after, limit).await?;
        let seen: Vec<(Case, Sight)> = cases
            .into_iter()
            .map(|c| {
                let sight = viewer.sight(&c.team, &c.assigned_officer);
                (c, sight)
            })
            .collect();
        let reads: Vec<(String, Sight)> = seen.iter().map(|(c, s)| (c.id.name(), *s)).collect();
        record_reads(&mut tx, &reads, CASE_FIELDS).await?;
        tx.commit().await?;
        Ok(seen)
    }

    /// Erases a case's personal data, and the stored answers about it; the figures stay.
    #[tracing::instrument(skip(self, actor, key, respond), fields(case = %id))]
    pub async fn erase_case<R: Message + Default>(
        &self,
        actor: &Actor,
        id: CaseId,
        key: Option<RequestKey>,
        respond: impl Fn(&Case) -> R,
    ) -> Result<R, IntakeError> {
        let response = idempotent!(self.db, IntakeError, key, |tx| {
            if store::status_head_for_update(&mut tx, id).await?.is_none() {
                return Err(IntakeError::not_found(id.name()));
            }
            let case = store::get_case(&mut tx, self.db.keyring(), id)
                .await?
                .ok_or_else(|| IntakeError::not_found(id.name()))?;
            let now = doxwatch_kit::timestamp::now();
            if case.erase_time.is_none() {
                store::erase_case(&mut tx, self.db.keyring(), &case, &actor.name(), now).await?;
                let forgotten =
                    doxwatch_kit::idempotency::forget_answers_naming(&mut tx, self.db.keyring(), &id.name()).await?;
                let event = CaseEvent::updated(id, actor.name(), now, "personal data erased".to_owned());
                store::append_event(&mut tx, self.db.keyring(), &event).await?;
                for effect in effects::erasure(id, now) {
                    outbox::enqueue(&mut tx, self.db.keyring(), effect).await?;
                }
                let mut fields = CASE_FIELDS.to_vec();
                fields.push("notes");
                audit::record(&mut tx, Access::Write, &[id.name()], &fields).await?;
                tracing::info!(forgotten, "personal data erased");
            }
            let case = store::get_case(&mut tx, self.db.keyring(), id)
                .await?
                .ok_or_else(|| IntakeError::not_found(id.name()))?;
            Ok(respond(&case))
        })?;
        self.relay.notify_one();
        Ok(response)
    }

    /// Assigns a case to a team and, optionally, one officer.
    #[tracing::instrument(skip(self, actor, key, respond), fields(case = %id))]
    pub async fn assign_case<R: Message + Default>(
        &self,
        actor: &Actor,
        id: CaseId,
        team: String,
        officer: String,
        key: Option<RequestKey>,
        respond: impl Fn(&Case) -> R,
    ) -> Result<R, IntakeError> {
        idempotent!(self.db, IntakeError, key, |tx| {
            if !store::case_exists(&mut tx, id).await? {
                return Err(IntakeError::not_found(id.name()));
            }
            let now = doxwatch_kit::timestamp::now();
            store::assign(&mut tx, id, &team, &officer, now).await?;
            let note = if officer.is_empty() {
                format!("assigned to team {team}")
            } else {
                format!("assigned to team {team}, officer {officer}")
            };
            let event = CaseEvent::updated(id, actor.name(), now, note);
            store::append_event(&mut tx, self.db.keyring(), &event).await?;
            let case = store::get_case(&mut tx, self.db.keyring(), id)
                .await?
                .ok_or_else(|| IntakeError::not_found(id.name()))?;
            audit::record(&mut tx, Access::Write, &[id.name()], &["team", "assigned_officer"]).await?;
            tracing::info!(team = %team, "case assigned");
            Ok(respond(&case))
        })
    }

    /// Changes the fields named in `fields` to their values in `changes`.
    #[tracing::instrument(skip_all, fields(case = %id))]
    pub async fn update_case<R: Message + Default>(
        &self,
        actor: &Actor,
        id: CaseId,
        fields: &[UpdatableField],
        changes: &CaseDetails,
        key: Option<RequestKey>,
        respond: impl Fn(&Case) -> R,
    ) -> Result<R, IntakeError> {
        let response = idempotent!(self.db, IntakeError, key, |tx| {
            if store::status_head_for_update(&mut tx, id).await?.is_none() {
                return Err(IntakeError::not_found(id.name()));
            }
            let mut case = store::get_case(&mut tx, self.db.keyring(), id)
                .await?
                .ok_or_else(|| IntakeError::not_found(id.name()))?;
            refuse_if_erased(&case)?;
            let before = case.details.clone();
            for field in fields {
                field.apply(changes, &mut case.details);
            }
            let now = doxwatch_kit::timestamp::now();
            let subjects_changed = before.data_subjects != case.details.data_subjects;
            store::update_details(&mut tx, self.db.keyring(), id, &case.details, subjects_changed, now).await?;
            let added: Vec<String> =
                case.details.reported_urls.iter().filter(|u| !before.reported_urls.contains(u)).cloned().collect();
            if !added.is_empty() {
                // A URL added later was reported no earlier than now, as far as the record shows.
                outbox::enqueue(&mut tx, self.db.keyring(), effects::register_links(id, &added, now)).await?;
            }
            let paths: Vec<&str> = fields.iter().map(|f| f.path()).collect();
            store::append_event(
                &mut tx,
                self.db.keyring(),
                &CaseEvent::updated(id, actor.name(), now, format!("updated: {}", paths.join(", "))),
            )
            .await?;
            case.update_time = now;
            audit::record(&mut tx, Access::Write, &[id.name()], &paths).await?;
            Ok(respond(&case))
        })?;
        if fields.iter().any(|f| matches!(f, UpdatableField::ReportedUrls)) {
            self.relay.notify_one();
        }
        Ok(response)
    }

    /// Moves a case to another status, if its kind, its current status and the mover allow it.
    #[tracing::instrument(skip_all, fields(case = %id, to = ?transition.to))]
    pub async fn transition_case<R: Message + Default>(
        &self,
        actor: &Actor,
        id: CaseId,
        transition: Transition,
        key: Option<RequestKey>,
        respond: impl Fn(&Case) -> R,
    ) -> Result<R, IntakeError> {
        idempotent!(self.db, IntakeError, key, |tx| {
            let head =
                store::status_head_for_update(&mut tx, id).await?.ok_or_else(|| IntakeError::not_found(id.name()))?;
            let mover = if actor.is_service("referral") { Mover::ReferralService } else { Mover::Officer };
            check_transition(head.kind, head.status, transition.to, mover)?;
            if transition.occurred_at < head.since {
                let mut v = FieldViolations::new();
                v.add(
                    "occurred_at",
                    format!("must not be before the case's latest status change ({})", rfc3339(head.since)),
                );
                return Err(v.into());
            }
            if let Some(other) = transition.duplicate_of
                && (other == id || !store::case_exists(&mut tx, other).await?)
            {
                let mut v = FieldViolations::new();
                v.add("duplicate_of", format!("{} is not another recorded case", other.name()));
                return Err(v.into());
            }
            let now = doxwatch_kit::timestamp::now();
            // An erased case still moves (its figures count the move), but keeps no words about it.
            let note = if store::is_erased(&mut tx, id).await? { String::new() } else { transition.note.clone() };
            store::append_event(
                &mut tx,
                self.db.keyring(),
                &CaseEvent {
                    id: Uuid::now_v7(),
                    case: id,
                    kind: CaseEventKind::StatusChanged,
                    actor: actor.name(),
                    occurred_at: transition.occurred_at,
                    record_time: now,
                    from_status: Some(head.status),
                    to_status: Some(transition.to),
                    closure_reason: transition.closure_reason,
                    duplicate_of: transition.duplicate_of,
                    note,
                },
            )
            .await?;
            store::touch(&mut tx, id, now).await?;
            let case = store::get_case(&mut tx, self.db.keyring(), id)
                .await?
                .ok_or_else(|| IntakeError::not_found(id.name()))?;
            // The answer is the whole case: the move is a write of its status and a read of the rest.
            audit::record(&mut tx, Access::Write, &[id.name()], &["status"]).await?;
            tracing::info!(case = %id, "case moved");
            Ok(respond(&case))
        })
    }

    /// Adds a note to the case's timeline.
    #[tracing::instrument(skip_all, fields(case = %id))]
    pub async fn add_note<R: Message + Default>(
        &self,
        actor: &Actor,
        id: CaseId,
        note: String,
        occurred_at: OffsetDateTime,
        key: Option<RequestKey>,
        respond: impl Fn(&CaseEvent) -> R,
    ) -> Result<R, IntakeError> {
        idempotent!(self.db, IntakeError, key, |tx| {
            let case = store::get_case(&mut tx, self.db.keyring(), id)
                .await?
                .ok_or_else(|| IntakeError::not_found(id.name()))?;
            // The referral service's notes (an agency's outcome) still mark the timeline of an
            // erased case, without their words; an officer's note is refused.
            let note = match (&case.erase_time, actor) {
                (None, _) => note.clone(),
                (Some(_), Actor::Service(_)) => String::new(),
                (Some(_), _) => return Err(refused_erased(&case)),
            };
            if occurred_at < case.received_at {
                let mut v = FieldViolations::new();
                v.add("occurred_at", "must not be before the case was received");
                return Err(v.into());
            }
            let now = doxwatch_kit::timestamp::now();
            let event = CaseEvent {
                id: Uuid::now_v7(),
                case: id,
                kind: CaseEventKind::Note,
                actor: actor.name(),
                occurred_at,
                record_time: now,
                from_status: None,
                to_status: None,
                closure_reason: None,
                duplicate_of: None,
                note,
            };
            store::append_event(&mut tx, self.db.keyring(), &event).await?;
            audit::record(&mut tx, Access::Write, &[id.name()], &["notes"]).await?;
            Ok(respond(&event))
        })
    }

    /// A page of a case's timeline; its notes are withheld from an officer outside the case's team.
    #[tracing::instrument(skip(self, viewer), fields(case = %id))]
    pub async fn list_events(
        &self,
        id: CaseId,
        offset: u64,
        limit: u32,
        viewer: &Viewer,
    ) -> Result<Vec<CaseEvent>, IntakeError> {
        let mut tx = self.db.begin().await?;
        let Some((team, officer)) = store::assignment(&mut tx, id).await? else {
            audit::record_as(&mut tx, Access::Read, &[id.name()], &[], audit::NOT_FOUND).await?;
            tx.commit().await?;
            return Err(IntakeError::not_found(id.name()));
        };
        let sight = viewer.sight(&team, &officer);
        let mut events = store::list_events(&mut tx, self.db.keyring(), id, offset, limit).await?;
        if sight == Sight::Redacted {
            for event in &mut events {
                event.note.clear();
            }
        }
        record_reads(&mut tx, &[(id.name(), sight)], &["notes"]).await?;
        tx.commit().await?;
        Ok(events)
    }

    /// The links a case cites, read from link-tracking now, and whether some of its URLs are still
    /// on their way there.
    #[tracing::instrument(skip(self), fields(case = %id))]
    pub async fn case_links(
        &self,
        id: CaseId,
        page_size: i32,
        page_token: String,
    ) -> Result<(links_pb::ListLinksResponse, bool), IntakeError> {
        {
            let mut tx = self.db.begin_read().await?;
            if !store::case_exists(&mut tx, id).await? {
                return Err(IntakeError::not_found(id.name()));
            }
        }
        let pending = outbox::is_pending(&self.db, &id.name()).await?;
        Ok((self.links.cited_by(id, page_size, page_token).await?, pending))
    }

    /// Builds the figures' sums from the cases' rows if the store has not got them yet (a store
    /// migrated with cases in it): once, whichever replica starts first.
    pub async fn build_figures(&self) -> Result<bool, IntakeError> {
        let mut tx = self.db.begin().await?;
        let built = store::rollups::build_if_unbuilt(&mut tx).await?;
        tx.commit().await?;
        Ok(built)
    }

    #[tracing::instrument(skip(self))]
    pub async fn statistics(&self, t: AsAt) -> Result<IntakeFigures, IntakeError> {
        let mut tx = self.db.begin_read().await?;
        Ok(store::rollups::figures(&mut tx, t.at, t.recorded_before).await?)
    }
}

use doxwatch_kit::timestamp::rfc3339;

/// Audits reads of cases as what each gave: the personal-data `fields` where the reader saw them
/// (broken glass marked as such), none where they were withheld. One record per outcome.
async fn record_reads(
    tx: &mut doxwatch_kit::db::Tx,
    reads: &[(String, Sight)],
    fields: &[&str],
) -> Result<(), sqlx::Error> {
    for sight in [Sight::Full, Sight::BrokenGlass, Sight::Redacted] {
        let names: Vec<String> = reads.iter().filter(|(_, s)| *s == sight).map(|(n, _)| n.clone()).collect();
        if names.is_empty() {
            continue;
        }
        let fields: &[&str] = if sight == Sight::Redacted { &[] } else { fields };
        audit::record_as(tx, Access::Read, &names, fields, sight.outcome()).await?;
    }
    Ok(())
}

/// An erased case takes no personal data again.
fn refuse_if_erased(case: &Case) -> Result<(), IntakeError> {
    match case.erase_time {
        None => Ok(()),
        Some(_) => Err(refused_erased(case)),
    }
}

fn refused_erased(case: &Case) -> IntakeError {
    IntakeError::Common(doxwatch_kit::error::Error::precondition(
        doxwatch_proto::intake::ErrorReason::CaseErased.as_str_name(),
        format!("the personal data of {} was erased; record a new case instead", case.id.name()),
    ))
}
