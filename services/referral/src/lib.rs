//! The referral service (`doxwatch.referral.v1`): preliminary assessments of cases under section
//! 64 of the PDPO and their decisions, referrals to the Police (or another agency) with their
//! frozen evidence bundle, and the agencies' own interface: a resumable feed of referrals,
//! acknowledgements and outcomes.

pub mod api;
pub mod config;
pub mod convert;
pub mod domain;
pub mod effects;
pub mod error;
pub mod intake;
pub mod links;
pub mod service;
pub mod store;

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
    intake::intake_service_client::IntakeServiceClient,
    links::links_service_client::LinksServiceClient,
    ops::{late_records_service_server::LateRecordsServiceServer, outbox_service_server::OutboxServiceServer},
    referral::{
        agency_referral_service_server::AgencyReferralServiceServer, referral_service_server::ReferralServiceServer,
    },
};
use tokio::sync::watch;

pub use crate::config::ReferralConfig;

pub const SERVICE: &str = "referral";
pub const DEFAULT_PORT: u16 = 50054;

static POSTGRES: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");
static SQLITE: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

pub const MIGRATIONS: Migrations = Migrations { postgres: &POSTGRES, sqlite: &SQLITE, outbox: true };

/// The configuration keys the referral service reads besides the shared ones.
/// The prefix of referral reference numbers unless `reference_prefix` says otherwise.
pub const REFERENCE_PREFIX: &str = "REF";

pub const CONFIG_KEYS: &[&str] = ReferralConfig::KEYS;

#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("cannot open the referral store")]
    Store(#[from] DbError),
    #[error("cannot start the referral server")]
    Server(#[from] ServerError),
    #[error("a peer's address is not usable")]
    Peer(#[from] doxwatch_kit::peer::PeerError),
    #[error("cannot build the referral figures from the cases' rows")]
    Figures(#[from] error::ReferralError),
}

/// A built referral service: its store open and migrated, its listener bound, its relay ready.
pub struct Application {
    server: GrpcServer,
    relay: Relay,
    db: Db,
    addr: SocketAddr,
    /// Turns true when the server begins to shut down, ending every watch stream.
    stopping: watch::Sender<bool>,
}

impl Application {
    /// [`Application::build_with`] with the referral service's own keys at their defaults.
    pub async fn build(config: &ServiceConfig) -> Result<Self, BuildError> {
        Self::build_with(config, &ReferralConfig::default()).await
    }

    pub async fn build_with(config: &ServiceConfig, own: &ReferralConfig) -> Result<Self, BuildError> {
        let db = Db::open(config, MIGRATIONS).await?;
        let intake = peer::connect(&config.peers.intake, &config.security.tls)?;
        let links = peer::connect(&config.peers.links, &config.security.tls)?;
        let relay = Relay::new(
            db.clone(),
            Arc::new(Peers::new().with("intake", intake.clone()).with("links", links.clone())),
            RelaySettings::from_config(&config.outbox),
        )
        .upgrading(effects::LEGACY);
        let intake = IntakeServiceClient::new(intake);
        let referrals = service::Referrals::new(
            db.clone(),
            intake::Intake::new(intake),
            links::LinkTracking::new(LinksServiceClient::new(links)),
            own.agencies.clone(),
            relay.waker(),
            doxwatch_kit::reference::ReferenceScheme::configured(config, REFERENCE_PREFIX),
        );
        if referrals.build_figures().await? {
            tracing::info!("referral figures built from the cases' rows");
        }
        let (stopping, stopped) = watch::channel(false);
        let mut server = GrpcServer::bind(config.listen, config.limits, &config.security).await?;
        server.audit(&db, SERVICE).keys(&db, SERVICE, store::SEALED);
        let addr = server.local_addr().map_err(|source| ServerError::Bind { addr: config.listen, source })?;
        let limits = server.limits();
        server
            .add_service(
                ReferralServiceServer::new(api::ReferralApi::new(referrals.clone()))
                    .max_decoding_message_size(limits.max_message_bytes)
                    .max_encoding_message_size(limits.max_message_bytes),
            )
            .add_service(
                AgencyReferralServiceServer::new(api::agency::AgencyApi::new(referrals, own.clone(), stopped))
                    .max_decoding_message_size(limits.max_message_bytes)
                    .max_encoding_message_size(limits.max_message_bytes),
            )
            .add_service(OutboxServiceServer::new(OutboxApi::new(db.clone(), SERVICE)))
            .add_service(LateRecordsServiceServer::new(LateRecordsApi::new(
                db.clone(),
                store::late_records::LATE_RECORDS,
            )));
        Ok(Self { server, relay, db, addr, stopping })
    }

    /// The address the service listens on (its real port when configured with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Serves until `shutdown` completes; watch streams end at once, other calls in flight may
    /// finish; then the relay stops and the store closes.
    pub async fn run_until(self, shutdown: impl Future<Output = ()> + Send) -> Result<(), ServerError> {
        let stopping = self.stopping;
        let shutdown = async move {
            shutdown.await;
            // A watch stream never finishes by itself: without this the server would wait out
            // its whole grace period.
            let _ = stopping.send(true);
        };
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
