//! The platform-liaison service (`doxwatch.liaison.v1`): who to write to at each platform, the
//! notices served on platforms and what they ask, deadlines, replies, reminders and escalation.

pub mod api;
pub mod convert;
pub mod domain;
pub mod effects;
pub mod error;
pub mod links;
pub mod render;
pub mod service;
pub mod store;

use std::{future::Future, net::SocketAddr, sync::Arc};

use doxwatch_kit::{
    config::{Layers, ServiceConfig},
    db::{Db, DbError, Migrations},
    late_records::LateRecordsApi,
    outbox::{OutboxApi, Peers, Relay, RelaySettings},
    peer,
    server::{GrpcServer, ServerError},
};
use doxwatch_proto::{
    liaison::liaison_service_server::LiaisonServiceServer,
    links::links_service_client::LinksServiceClient,
    ops::{late_records_service_server::LateRecordsServiceServer, outbox_service_server::OutboxServiceServer},
};

use crate::domain::{CompliancePeriods, NoticeKind};

pub const SERVICE: &str = "liaison";
pub const DEFAULT_PORT: u16 = 50053;

static POSTGRES: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");
static SQLITE: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

pub const MIGRATIONS: Migrations = Migrations { postgres: &POSTGRES, sqlite: &SQLITE, outbox: true };

/// The configuration keys liaison reads besides the shared ones: the compliance period of each
/// kind of notice, in days.
/// The prefix of notice reference numbers unless `reference_prefix` says otherwise.
pub const REFERENCE_PREFIX: &str = "NTC";

pub const CONFIG_KEYS: &[&str] = &[
    "deadline_days_removal_request",
    "deadline_days_cessation_notice",
    "deadline_days_disclosure_request",
    "deadline_days_warning_post_request",
    "deadline_days_injunction_notice",
    "deadline_days_reminder",
    "deadline_days_summons",
];

/// The compliance periods, defaults overridden by `deadline_days_<kind>` keys.
pub fn compliance_periods(layers: &mut Layers) -> CompliancePeriods {
    let mut periods = CompliancePeriods::default();
    for kind in NoticeKind::ALL {
        let key = format!("deadline_days_{}", kind.key());
        let default = periods.0.get(kind).map_or(14, |d| d.whole_days());
        let days: i64 = layers.get_range(&key, default, 1, 3650);
        periods.0.insert(*kind, time::Duration::days(days));
    }
    periods
}

#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("cannot open the liaison store")]
    Store(#[from] DbError),
    #[error("cannot start the liaison server")]
    Server(#[from] ServerError),
    #[error("the link-tracking address is not usable")]
    Peer(#[from] doxwatch_kit::peer::PeerError),
    #[error("cannot build the correspondence figures from the notices")]
    Figures(#[from] error::LiaisonError),
}

pub struct Application {
    server: GrpcServer,
    relay: Relay,
    db: Db,
    addr: SocketAddr,
}

impl Application {
    pub async fn build(config: &ServiceConfig) -> Result<Self, BuildError> {
        Self::build_with(config, CompliancePeriods::default()).await
    }

    pub async fn build_with(config: &ServiceConfig, periods: CompliancePeriods) -> Result<Self, BuildError> {
        let db = Db::open(config, MIGRATIONS).await?;
        let links = peer::connect(&config.peers.links, &config.security.tls)?;
        let relay = Relay::new(
            db.clone(),
            Arc::new(Peers::new().with("links", links.clone())),
            RelaySettings::from_config(&config.outbox),
        )
        .upgrading(effects::LEGACY);
        let link_tracking = links::LinkTracking::new(LinksServiceClient::new(links));
        let references = doxwatch_kit::reference::ReferenceScheme::configured(config, REFERENCE_PREFIX);
        let liaison = service::Liaison::new(db.clone(), link_tracking, periods, relay.waker(), references);
        if liaison.build_figures().await? {
            tracing::info!("correspondence figures built from the notices");
        }
        let mut server = GrpcServer::bind(config.listen, config.limits, &config.security).await?;
        server.audit(&db, SERVICE).keys(&db, SERVICE, store::SEALED);
        let addr = server.local_addr().map_err(|source| ServerError::Bind { addr: config.listen, source })?;
        let limits = server.limits();
        server
            .add_service(
                LiaisonServiceServer::new(api::LiaisonApi::new(liaison))
                    .max_decoding_message_size(limits.max_message_bytes)
                    .max_encoding_message_size(limits.max_message_bytes),
            )
            .add_service(OutboxServiceServer::new(OutboxApi::new(db.clone(), SERVICE)))
            .add_service(LateRecordsServiceServer::new(LateRecordsApi::new(
                db.clone(),
                store::late_records::LATE_RECORDS,
            )));
        Ok(Self { server, relay, db, addr })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    pub async fn run_until(self, shutdown: impl Future<Output = ()> + Send) -> Result<(), ServerError> {
        doxwatch_kit::lifecycle::run_service(
            SERVICE,
            self.server,
            self.db,
            Some(self.relay),
            &store::rollups::TABLES,
            |_| None,
            shutdown,
        )
        .await
    }
}
