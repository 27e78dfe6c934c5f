//! Link-tracking's use cases. Each makes its change in one transaction with its request-id record.

use doxwatch_kit::as_at::AsAt;
use doxwatch_kit::{actor::Actor, db::Db, error::FieldViolations, idempotency::RequestKey, timestamp};
use doxwatch_proto::links::ErrorReason;
use prost::Message;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::{
    domain::*,
    error::LinksError,
    store::{self, channels, links, platforms},
};

mod import;

pub use import::StagedImport;

#[derive(Clone)]
pub struct Links {
    db: Db,
    /// Whether links on loopback, private and link-local addresses are registered (only where
    /// the rechecker may fetch them too: a test site on the deployment's own network).
    allow_private_hosts: bool,
}

/// Runs a change in a write transaction of the store (see `doxwatch_kit::in_transaction!`).
macro_rules! in_transaction {
    ($self:ident, |$tx:ident| $body:expr) => {
        doxwatch_kit::in_transaction!($self.db, LinksError, |$tx| $body)
    };
}

/// Runs a change with request-id replay (see `doxwatch_kit::idempotent!`).
macro_rules! idempotent {
    ($self:ident, $key:expr, |$tx:ident| $body:expr) => {
        doxwatch_kit::idempotent!($self.db, LinksError, $key, |$tx| $body)
    };
}

impl Links {
    pub fn new(db: Db) -> Self {
        Self { db, allow_private_hosts: false }
    }

    /// These links, registering links on non-public addresses too when `allow` is set.
    pub fn allowing_private_hosts(self, allow: bool) -> Self {
        Self { allow_private_hosts: allow, ..self }
    }

    /// Adds the default registry's platforms that the store does not have yet.
    /// Replicas starting together race to add the same platforms: the loser of a race runs
    /// again and finds them added.
    pub async fn seed_registry(&self) -> Result<usize, LinksError> {
        let registry = parse_registry(DEFAULT_REGISTRY).map_err(LinksError::Registry)?;
        in_transaction!(self, |tx| Ok(platforms::seed(&mut tx, &registry, timestamp::now()).await?))
    }

    /// Builds the figures' sums from the links' rows if the store has not got them yet (a store
    /// migrated with links in it): once, whichever replica starts first.
    pub async fn build_figures(&self) -> Result<bool, LinksError> {
        in_transaction!(self, |tx| Ok(store::rollups::build_if_unbuilt(&mut tx).await?))
    }

    // --- platforms ---

    #[tracing::instrument(skip_all)]
    pub async fn create_platform<R: Message + Default>(
        &self,
        display_name: String,
        kind: PlatformKind,
        domains: Vec<String>,
        key: Option<RequestKey>,
        respond: impl Fn(&Platform) -> R,
    ) -> Result<R, LinksError> {
        idempotent!(self, key, |tx| {
            let mut taken = FieldViolations::new();
            for (i, d) in domains.iter().enumerate() {
                if let Some(owner) = platforms::domain_owner(&mut tx, d).await? {
                    taken.add(format!("platform.domains[{i}]"), format!("{d} already belongs to {}", owner.name()));
                }
            }
            if !taken.is_empty() {
                return Err(LinksError::DomainTaken(taken));
            }
            let now = timestamp::now();
            let platform = Platform {
                id: PlatformId::new(),
                display_name: display_name.clone(),
                kind,
                domains: domains.clone(),
                registry_key: None,
                create_time: now,
                update_time: now,
            };
            platforms::insert(&mut tx, &platform).await?;
            Ok(respond(&platform))
        })
    }

    pub async fn get_platform(&self, id: PlatformId) -> Result<Platform, LinksError> {
        let mut tx = self.db.begin_read().await?;
        platforms::get(&mut tx, id).await?.ok_or_else(|| LinksError::not_found(id.name()))
    }

    pub async fn list_platforms(
        &self,
        kind: Option<PlatformKind>,
        after: Option<Uuid>,
        limit: u32,
    ) -> Result<Vec<Platform>, LinksError> {
        let mut tx = self.db.begin_read().await?;
        Ok(platforms::list(&mut tx, kind, after, limit).await?)
    }

    #[tracing::instrument(skip_all, fields(platform = %id))]
    pub async fn update_platform<R: Message + Default>(
        &self,
        id: PlatformId,
        display_name: Option<String>,
        kind: Option<PlatformKind>,
        key: Option<RequestKey>,
        respond: impl Fn(&Platform) -> R,
    ) -> Result<R, LinksError> {
        idempotent!(self, key, |tx| {
            if !platforms::lock(&mut tx, id).await? {
                return Err(LinksError::not_found(id.name()));
            }
            let current = platforms::get(&mut tx, id).await?.ok_or_else(|| LinksError::not_found(id.name()))?;
            let now = timestamp::now();
            let name = display_name.clone().unwrap_or(current.display_name);
            let kind = kind.unwrap_or(current.kind);
            platforms::update(&mut tx, id, &name, kind, now).await?;
            let updated = platforms::get(&mut tx, id).await?.ok_or_else(|| LinksError::not_found(id.name()))?;
            Ok(respond(&updated))
        })
    }

    /// Adds a domain to a platform; a domain owned by another platform is refused.
    #[tracing::instrument(skip_all, fields(platform = %id, domain))]
    pub async fn add_domain<R: Message + Default>(
        &self,
        id: PlatformId,
        domain: String,
        key: Option<RequestKey>,
        respond: impl Fn(&Platform) -> R,
    ) -> Result<R, LinksError> {
        idempotent!(self, key, |tx| {
            if !platforms::lock(&mut tx, id).await? {
                return Err(LinksError::not_found(id.name()));
            }
            match platforms::domain_owner(&mut tx, &domain).await? {
                Some(owner) if owner == id => {}
                Some(owner) => {
                    return Err(LinksError::precondition(
                        ErrorReason::DomainTaken,
                        format!("{domain} already belongs to {}", owner.name()),
                    ));
                }
                None => {
                    let current = platforms::get(&mut tx, id).await?.map_or(0, |p| p.domains.len());
                    if current >= MAX_DOMAINS {
                        return Err(LinksError::precondition(
                            ErrorReason::TooManyDomains,
                            format!("a platform has at most {MAX_DOMAINS} domains"),
                        ));
                    }
                    let now = timestamp::now();
                    platforms::add_domain(&mut tx, id, &domain, now).await?;
                    platforms::touch(&mut tx, id, now).await?;
                }
            }
            let platform = platforms::get(&mut tx, id).await?.ok_or_else(|| LinksError::not_found(id.name()))?;
            Ok(respond(&platform))
        })
    }

    #[tracing::instrument(skip_all, fields(platform = %id, domain))]
    pub async fn remove_domain<R: Message + Default>(
        &self,
        id: PlatformId,
        domain: String,
        key: Option<RequestKey>,
        respond: impl Fn(&Platform) -> R,
    ) -> Result<R, LinksError> {
        idempotent!(self, key, |tx| {
            if !platforms::lock(&mut tx, id).await? {
                return Err(LinksError::not_found(id.name()));
            }
            if !platforms::remove_domain(&mut tx, id, &domain).await? {
                return Err(LinksError::precondition(
                    ErrorReason::DomainNotOwned,
                    format!("{domain} is not a domain of {}", id.name()),
                ));
            }
            platforms::touch(&mut tx, id, timestamp::now()).await?;
            let platform = platforms::get(&mut tx, id).await?.ok_or_else(|| LinksError::not_found(id.name()))?;
            Ok(respond(&platform))
        })
    }

    // --- channels ---

    pub async fn get_channel(&self, id: ChannelId, as_of: OffsetDateTime) -> Result<Channel, LinksError> {
        let mut tx = self.db.begin_read().await?;
        channels::get(&mut tx, id, as_of).await?.ok_or_else(|| LinksError::not_found(id.name()))
    }

    pub async fn list_channels(
        &self,
        platform: Option<PlatformId>,
        status: Option<ChannelStatus>,
        as_of: OffsetDateTime,
        after: Option<Uuid>,
        limit: u32,
    ) -> Result<Vec<Channel>, LinksError> {
        let mut tx = self.db.begin_read().await?;
        Ok(channels::list(&mut tx, platform, status, as_of, after, limit).await?)
    }

    #[tracing::instrument(skip_all, fields(channel = %id, ?status))]
    #[allow(clippy::too_many_arguments)]
    pub async fn record_channel_status<R: Message + Default>(
        &self,
        actor: &Actor,
        id: ChannelId,
        status: ChannelStatus,
        effective_at: OffsetDateTime,
        source: String,
        key: Option<RequestKey>,
        respond: impl Fn(&Channel) -> R,
    ) -> Result<R, LinksError> {
        idempotent!(self, key, |tx| {
            let now = timestamp::now();
            if channels::get(&mut tx, id, now).await?.is_none() {
                return Err(LinksError::not_found(id.name()));
            }
            channels::record_status(&mut tx, id, status, effective_at, &source, &actor.name(), now).await?;
            let channel = channels::get(&mut tx, id, now).await?.ok_or_else(|| LinksError::not_found(id.name()))?;
            Ok(respond(&channel))
        })
    }

    // --- links ---

    /// Registers URLs in one transaction: each is new, known, or refused with its reason.
    #[tracing::instrument(skip_all, fields(registrations = registrations.len()))]
    pub async fn register<R: Message + Default>(
        &self,
        registrations: &[Registration],
        key: Option<RequestKey>,
        respond: impl Fn(&[Registered], &[Link]) -> R,
    ) -> Result<R, LinksError> {
        idempotent!(self, key, |tx| {
            let mut resolved = Resolved::default();
            let (outcomes, links) =
                register_in(&mut tx, registrations, true, self.allow_private_hosts, &mut resolved).await?;
            Ok(respond(&outcomes, &links))
        })
    }

    pub async fn get_links(&self, ids: &[LinkId]) -> Result<Vec<Link>, LinksError> {
        let mut tx = self.db.begin_read().await?;
        let found = links::load(&mut tx, ids).await?;
        if let Some(missing) = ids.iter().find(|id| !found.iter().any(|l| l.id == **id)) {
            return Err(LinksError::not_found(missing.name()));
        }
        Ok(found)
    }

    pub async fn list_links(
        &self,
        filter: &links::LinkFilter,
        after: Option<Uuid>,
        limit: u32,
    ) -> Result<Vec<Link>, LinksError> {
        let mut tx = self.db.begin_read().await?;
        Ok(links::list(&mut tx, filter, after, limit).await?)
    }

    /// Up to `limit` citations of `link` after the case named `after` (empty: from the first).
    pub async fn list_citations(&self, link: LinkId, after: &str, limit: u32) -> Result<Vec<Citation>, LinksError> {
        let mut tx = self.db.begin_read().await?;
        if links::existing(&mut tx, &[link]).await?.is_empty() {
            return Err(LinksError::not_found(link.name()));
        }
        Ok(store::citations::list(&mut tx, link, after, limit).await?)
    }

    /// Records that a notice asked for these links' removal. Every link must exist.
    #[tracing::instrument(skip_all, fields(notice = %notice, links = link_ids.len()))]
    pub async fn record_removal_requests<R: Message + Default>(
        &self,
        notice: NoticeRef,
        link_ids: &[LinkId],
        served_at: OffsetDateTime,
        key: Option<RequestKey>,
        respond: impl Fn(i64) -> R,
    ) -> Result<R, LinksError> {
        idempotent!(self, key, |tx| {
            let known = links::first_sightings(&mut tx, link_ids).await?;
            let mut v = FieldViolations::new();
            for (i, id) in link_ids.iter().enumerate() {
                if !known.contains_key(id) {
                    v.add(format!("links[{i}]"), format!("{} is not a known link", id.name()));
                }
            }
            if !v.is_empty() {
                return Err(LinksError::invalid(v));
            }
            let early: Vec<(usize, LinkId, OffsetDateTime)> = link_ids
                .iter()
                .enumerate()
                .filter_map(|(i, id)| known.get(id).copied().flatten().filter(|s| served_at < *s).map(|s| (i, *id, s)))
                .collect();
            refuse_before_first_sighting("links", "served_at", &early)?;
            let recorded =
                links::record_removal_requests(&mut tx, &notice.name(), link_ids, served_at, timestamp::now()).await?;
            Ok(respond(recorded))
        })
    }

    #[tracing::instrument(skip_all, fields(observations = observations.len()))]
    pub async fn record_observations<R: Message + Default>(
        &self,
        actor: &Actor,
        observations: &[NewObservation],
        key: Option<RequestKey>,
        respond: impl Fn(&[Observation]) -> R,
    ) -> Result<R, LinksError> {
        idempotent!(self, key, |tx| {
            let ids: Vec<LinkId> = observations.iter().map(|o| o.link).collect();
            let known = links::first_sightings(&mut tx, &ids).await?;
            let mut v = FieldViolations::new();
            for (i, o) in observations.iter().enumerate() {
                if !known.contains_key(&o.link) {
                    v.add(format!("observations[{i}].link"), format!("{} is not a known link", o.link.name()));
                }
            }
            if !v.is_empty() {
                return Err(LinksError::invalid(v));
            }
            let early: Vec<(usize, LinkId, OffsetDateTime)> = observations
                .iter()
                .enumerate()
                .filter_map(|(i, o)| {
                    known.get(&o.link).copied().flatten().filter(|s| o.observed_at < *s).map(|s| (i, o.link, s))
                })
                .collect();
            refuse_before_first_sighting("observations", "observed_at", &early)?;
            let now = timestamp::now();
            let mut recorded = Vec::with_capacity(observations.len());
            for o in observations {
                let observation = Observation {
                    id: Uuid::now_v7(),
                    link: o.link,
                    status: o.status,
                    observed_at: o.observed_at,
                    vantage: o.vantage,
                    source: o.source,
                    note: o.note.clone(),
                    recorded_by: actor.name(),
                    record_time: now,
                };
                recorded.push(observation);
            }
            links::insert_observations(&mut tx, self.db.keyring(), &recorded).await?;
            Ok(respond(&recorded))
        })
    }

    pub async fn list_observations(
        &self,
        link: LinkId,
        offset: u64,
        limit: u32,
    ) -> Result<Vec<Observation>, LinksError> {
        // A write transaction: the read of the notes and its audit record commit together.
        let mut tx = self.db.begin().await?;
        if links::existing(&mut tx, &[link]).await?.is_empty() {
            return Err(LinksError::not_found(link.name()));
        }
        let observations = links::list_observations(&mut tx, self.db.keyring(), link, offset, limit).await?;
        doxwatch_kit::audit::record(&mut tx, doxwatch_kit::audit::Access::Read, &[link.name()], &["observation_notes"])
            .await?;
        tx.commit().await?;
        Ok(observations)
    }

    /// The removal figures as at `as_of`, with the platforms and channels they concern.
    pub async fn statistics(&self, t: AsAt) -> Result<(LinkFigures, Vec<Platform>, Vec<Channel>), LinksError> {
        let (as_of, recorded_before) = (t.at, t.recorded_before);
        let mut tx = self.db.begin_read().await?;
        let figures = store::statistics::figures(&mut tx, as_of, recorded_before).await?;
        let platform_ids: Vec<PlatformId> = figures.by_platform.keys().copied().collect();
        let platforms = platforms::get_many(&mut tx, &platform_ids).await?;
        let channels = channels::all_as_at(&mut tx, as_of, recorded_before).await?;
        Ok((figures, platforms, channels))
    }
}

/// The canonical form of a URL to register, or why it is refused.
fn canonical(url: &str, allow_private_hosts: bool) -> Result<doxwatch_urls::Canonical, String> {
    let canonical = doxwatch_urls::canonicalize(url).map_err(|e| e.to_string())?;
    if !allow_private_hosts {
        doxwatch_urls::refuse_non_public(&canonical.host).map_err(|e| e.to_string())?;
    }
    Ok(canonical)
}

/// The platforms (by host) and channels (by platform and handle) that registrations in one
/// transaction have resolved or created, for the next batch of the same transaction: an import's
/// merge looks each site up once, not once per batch. Valid only inside that transaction.
#[derive(Default)]
pub(crate) struct Resolved {
    platforms: std::collections::HashMap<String, PlatformId>,
    channels: std::collections::HashMap<(PlatformId, String), ChannelId>,
}

impl Resolved {
    /// Entries of each kind kept at most: an import of many sites keeps flat memory, looking up
    /// again what it forgot.
    const LIMIT: usize = 10_000;

    fn bound(&mut self) {
        if self.platforms.len() > Self::LIMIT {
            self.platforms.clear();
        }
        if self.channels.len() > Self::LIMIT {
            self.channels.clear();
        }
    }
}

/// Registers each URL inside `tx`, in a handful of statements per batch: one look-up of the
/// known canonical URLs, one insert of the new links, one of the sightings. With `load`, the
/// links are read back for the answer; an import needs only the counts.
async fn register_in(
    tx: &mut doxwatch_kit::db::Tx,
    registrations: &[Registration],
    load: bool,
    allow_private_hosts: bool,
    resolved: &mut Resolved,
) -> Result<(Vec<Registered>, Vec<Link>), LinksError> {
    resolved.bound();
    let now = timestamp::now();
    let canonicals: Vec<Result<doxwatch_urls::Canonical, String>> =
        registrations.iter().map(|r| canonical(&r.url, allow_private_hosts)).collect();
    let wanted: Vec<&str> = canonicals.iter().filter_map(|c| c.as_ref().ok()).map(|c| c.url.as_str()).collect();
    let mut known = links::find_many_by_canonical(tx, &wanted).await?;
    let mut new_links = Vec::new();
    let mut sightings = Vec::with_capacity(registrations.len());
    let mut ids: Vec<Result<(LinkId, bool), String>> = Vec::with_capacity(registrations.len());
    for (r, canonical) in registrations.iter().zip(&canonicals) {
        let canonical = match canonical {
            Ok(c) => c,
            Err(e) => {
                ids.push(Err(e.clone()));
                continue;
            }
        };
        if let Some(id) = known.get(&canonical.url) {
            sightings.push((*id, r.case, r.seen_at));
            ids.push(Ok((*id, false)));
            continue;
        }
        let platform = match resolved.platforms.get(&canonical.host) {
            Some(p) => *p,
            None => {
                let p = platform_for(tx, canonical, now).await?;
                resolved.platforms.insert(canonical.host.clone(), p);
                p
            }
        };
        let channel = match &canonical.channel {
            None => None,
            Some(handle) => Some(match resolved.channels.get(&(platform, handle.clone())) {
                Some(c) => *c,
                None => {
                    let url =
                        canonical.channel_url.clone().unwrap_or_else(|| format!("https://{}/{handle}", canonical.host));
                    let c = channels::find_or_create(tx, platform, handle, &url, now).await?;
                    resolved.channels.insert((platform, handle.clone()), c);
                    c
                }
            }),
        };
        let id = LinkId::new();
        known.insert(canonical.url.clone(), id);
        new_links.push(links::NewLink {
            id,
            reported_url: r.url.trim(),
            canonical_url: &canonical.url,
            platform,
            channel,
            message_id: canonical.message_id.as_deref(),
            now,
        });
        sightings.push((id, r.case, r.seen_at));
        ids.push(Ok((id, true)));
    }
    links::insert_many(tx, &new_links).await?;
    links::add_sightings(tx, &sightings, &new_links, now).await?;
    let loaded = if load {
        let wanted: Vec<LinkId> = ids.iter().flatten().map(|(id, _)| *id).collect();
        links::load(tx, &wanted).await?
    } else {
        Vec::new()
    };
    let outcomes = ids
        .into_iter()
        .map(|id| match id {
            Err(reason) => Registered::Refused(reason),
            Ok((id, true)) => Registered::New(id),
            Ok((id, false)) => Registered::Known(id),
        })
        .collect();
    Ok((outcomes, loaded))
}

/// The platform a canonical URL's host belongs to; a platform is created for a site no registered
/// platform covers, named after its registrable domain and UNCLASSIFIED until an officer says.
async fn platform_for(
    tx: &mut doxwatch_kit::db::Tx,
    canonical: &doxwatch_urls::Canonical,
    now: OffsetDateTime,
) -> Result<PlatformId, LinksError> {
    if let Some(id) = platforms::resolve(tx, &candidate_domains(&canonical.host)).await? {
        return Ok(id);
    }
    let site = canonical.registrable_domain.clone().unwrap_or_else(|| canonical.host.clone());
    let platform = Platform {
        id: PlatformId::new(),
        display_name: site.clone(),
        kind: PlatformKind::Unclassified,
        domains: vec![site],
        registry_key: None,
        create_time: now,
        update_time: now,
    };
    platforms::insert(tx, &platform).await?;
    Ok(platform.id)
}

/// FAILED_PRECONDITION (BEFORE_FIRST_SIGHTING) when something is dated before a link was first
/// seen: a removal or a request cannot precede the post being reported. Names the first few.
fn refuse_before_first_sighting(
    list: &str,
    field: &str,
    early: &[(usize, LinkId, OffsetDateTime)],
) -> Result<(), LinksError> {
    let Some((first, _, _)) = early.first() else { return Ok(()) };
    let named: Vec<String> = early
        .iter()
        .take(5)
        .map(|(i, link, seen)| format!("{list}[{i}]: {} was first seen {}", link.name(), timestamp::rfc3339(*seen)))
        .collect();
    let more = if early.len() > 5 { format!(" (and {} more)", early.len() - 5) } else { String::new() };
    Err(LinksError::precondition(
        ErrorReason::BeforeFirstSighting,
        format!(
            "{list}[{first}].{field} is before the link was first seen: {}{more}; record the earlier sighting first \
             (a case citing the link, received then)",
            named.join("; ")
        ),
    ))
}
