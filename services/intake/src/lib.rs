//! The intake service: doxxing cases as they reach the regulator, the people whose data was
//! disclosed, and each case's status as a history of events (`doxwatch.intake.v1`).

pub mod access;
pub mod api;
pub mod convert;
pub mod domain;
pub mod effects;
pub mod error;
pub mod links;
pub mod publications;
pub mod retention;
pub mod service;
pub mod store;
pub mod upkeep;

use std::{future::Future, net::SocketAddr, sync::Arc};

use doxwatch_kit::{
    config::ServiceConfig,
    db::{Db, DbError, Migrations},
    late_records::LateRecordsApi,
    outbox::{OutboxApi, Peers, Relay, RelaySettings},
    peer,
    server::{GrpcServer, ServerError},
};
use doxwatch_proto::{
    intake::intake_service_server::IntakeServiceServer,
    links::links_service_client::LinksServiceClient,
    ops::{late_records_service_server::LateRecordsServiceServer, outbox_service_server::OutboxServiceServer},
};

/// The service's name, as `doxwatch serve` and `doxwatch up` know it.
pub const SERVICE: &str = "intake";
/// The port `doxwatch up` gives intake, and the one clients try by default.
pub const DEFAULT_PORT: u16 = 50051;

static POSTGRES: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");
static SQLITE: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

pub const MIGRATIONS: Migrations = Migrations { postgres: &POSTGRES, sqlite: &SQLITE, outbox: true };

#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("cannot open the intake store")]
    Store(#[from] DbError),
    #[error("cannot start the intake server")]
    Server(#[from] ServerError),
    #[error("a peer service's address is not usable")]
    Peer(#[from] doxwatch_kit::peer::PeerError),
    #[error("cannot build the intake figures from the cases")]
    Figures(#[from] error::IntakeError),
}

pub use retention::{CONFIG_KEYS, IntakeConfig};

/// The prefix of case reference numbers unless `reference_prefix` says otherwise.
pub const REFERENCE_PREFIX: &str = "DOX";

/// A built intake service: its store open and migrated, its listener bound, its relay and its
/// retention sweep ready.
pub struct Application {
    server: GrpcServer,
    relay: Relay,
    db: Db,
    addr: SocketAddr,
    intake: service::Intake,
    own: IntakeConfig,
}

impl Application {
    /// [`Application::build_with`] with intake's own keys at their defaults (no retention periods).
    pub async fn build(config: &ServiceConfig) -> Result<Self, BuildError> {
        Self::build_with(config, &IntakeConfig::default()).await
    }

    pub async fn build_with(config: &ServiceConfig, own: &IntakeConfig) -> Result<Self, BuildError> {
        let db = Db::open(config, MIGRATIONS).await?;
        let links = peer::connect(&config.peers.links, &config.security.tls)?;
        let peers = Peers::new()
            .with("links", links.clone())
            .with("referral", peer::connect(&config.peers.referral, &config.security.tls)?)
            .with("liaison", peer::connect(&config.peers.liaison, &config.security.tls)?);
        let relay = Relay::new(db.clone(), Arc::new(peers), RelaySettings::from_config(&config.outbox))
            .upgrading(effects::LEGACY)
            .merging(effects::MERGEABLE);
        let links = links::LinkTracking::new(LinksServiceClient::new(links));
        let references = doxwatch_kit::reference::ReferenceScheme::configured(config, REFERENCE_PREFIX);
        let intake = service::Intake::new(db.clone(), links, relay.waker(), references);
        if intake.build_figures().await? {
            tracing::info!("intake figures built from the cases' rows");
        }
        let mut server = GrpcServer::bind(config.listen, config.limits, &config.security).await?;
        server.audit(&db, SERVICE).keys(&db, SERVICE, store::SEALED);
        let addr = server.local_addr().map_err(|source| ServerError::Bind { addr: config.listen, source })?;
        let limits = server.limits();
        server
            .add_service(
                IntakeServiceServer::new(api::IntakeApi::new(intake.clone()))
                    .max_decoding_message_size(limits.max_message_bytes)
                    .max_encoding_message_size(limits.max_message_bytes),
            )
            .add_service(OutboxServiceServer::new(OutboxApi::new(db.clone(), SERVICE)))
            .add_service(LateRecordsServiceServer::new(LateRecordsApi::new(db.clone(), store::LATE_RECORDS)));
        Ok(Self { server, relay, db, addr, intake, own: own.clone() })
    }

    /// The address the service listens on (its real port when configured with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Serves until `shutdown` completes and calls in flight have finished, then closes the store.
    pub async fn run_until(self, shutdown: impl Future<Output = ()> + Send) -> Result<(), ServerError> {
        let (intake, own) = (self.intake, self.own);
        let upkeep = move |stop| Some(tokio::spawn(upkeep::run(intake, own.retention, own.sweep_every, stop)));
        doxwatch_kit::lifecycle::run_service(
            SERVICE,
            self.server,
            self.db,
            Some(self.relay),
            &store::rollups::TABLES,
            upkeep,
            shutdown,
        )
        .await
    }
}
