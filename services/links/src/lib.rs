//! The link-tracking service (`doxwatch.links.v1`): platforms and channels, every doxxing link
//! deduplicated across its spellings, the cases citing it, what was asked of platforms and what
//! checks found, evidence of what links showed, and automated rechecks. It owns every removal
//! figure.

pub mod api;
pub mod blob;
pub mod config;
pub mod convert;
pub mod domain;
pub mod error;
pub mod evidence;
pub mod recheck;
pub mod service;
pub mod store;

use std::{future::Future, net::SocketAddr, sync::Arc};

use doxwatch_kit::{
    config::ServiceConfig,
    db::{Db, DbError, Migrations},
    late_records::LateRecordsApi,
    outbox::OutboxApi,
    server::{GrpcServer, ServerError},
};
use doxwatch_proto::{
    links::links_service_server::LinksServiceServer,
    ops::{late_records_service_server::LateRecordsServiceServer, outbox_service_server::OutboxServiceServer},
};

pub const SERVICE: &str = "links";
pub const DEFAULT_PORT: u16 = 50052;

static POSTGRES: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");
static SQLITE: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

pub const MIGRATIONS: Migrations = Migrations {
    postgres: &POSTGRES,
    sqlite: &SQLITE,
    // Link-tracking tells no peer anything: it is told.
    outbox: false,
};

#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("cannot open the link-tracking store")]
    Store(#[from] DbError),
    #[error("cannot load the platform registry")]
    Registry(#[from] error::LinksError),
    #[error("cannot start the link-tracking server")]
    Server(#[from] ServerError),
    #[error("cannot open the evidence store")]
    Evidence(#[from] blob::BlobError),
    #[error("cannot set up the rechecker")]
    Rechecker(#[from] recheck::RecheckError),
}

pub struct Application {
    server: GrpcServer,
    db: Db,
    addr: SocketAddr,
    rechecker: Arc<recheck::Rechecker>,
}

impl Application {
    /// [`Application::build_with`] with link-tracking's own keys at their defaults.
    pub async fn build(config: &ServiceConfig) -> Result<Self, BuildError> {
        Self::build_with(config, &config::LinksConfig::defaults(config)).await
    }

    /// Opens and migrates the store and the evidence store, adds the default platform registry's
    /// new platforms, sets up the rechecker, and binds.
    pub async fn build_with(config: &ServiceConfig, own: &config::LinksConfig) -> Result<Self, BuildError> {
        let db = Db::open(config, MIGRATIONS).await?;
        let links = service::Links::new(db.clone()).allowing_private_hosts(own.recheck.allow_private_addresses);
        let added = links.seed_registry().await?;
        if added > 0 {
            tracing::info!(added, "platforms added from the default registry");
        }
        if links.build_figures().await? {
            tracing::info!("removal figures built from the links' rows");
        }
        let (blobs, files) = blob::open(&own.evidence.location, db.keyring().clone()).await?;
        let evidence = evidence::EvidenceService::new(db.clone(), blobs, own.evidence.max_bytes);
        let rechecker = Arc::new(recheck::Rechecker::new(db.clone(), own.recheck.clone())?);
        let mut server = GrpcServer::bind(config.listen, config.limits, &config.security).await?;
        // Evidence files are sealed again after a rotation, with the store's columns.
        server.audit(&db, SERVICE).keys_and_files(&db, SERVICE, store::SEALED, files);
        let addr = server.local_addr().map_err(|source| ServerError::Bind { addr: config.listen, source })?;
        let limits = server.limits();
        server
            .add_service(
                LinksServiceServer::new(api::LinksApi::new(links, evidence, rechecker.clone()))
                    .max_decoding_message_size(limits.max_message_bytes)
                    .max_encoding_message_size(limits.max_message_bytes),
            )
            .add_service(OutboxServiceServer::new(OutboxApi::new(db.clone(), SERVICE)))
            .add_service(LateRecordsServiceServer::new(LateRecordsApi::new(
                db.clone(),
                store::late_records::LATE_RECORDS,
            )))
            // Uploads of many thousands of URLs, or of a large capture, outlast an ordinary call.
            .long_upload("/doxwatch.links.v1.LinksService/ImportLinks")
            .long_upload("/doxwatch.links.v1.LinksService/AddEvidence");
        Ok(Self { server, db, addr, rechecker })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Serves (and runs the background rechecker, when configured) until `shutdown` completes.
    pub async fn run_until(self, shutdown: impl Future<Output = ()> + Send) -> Result<(), ServerError> {
        let rechecker = self.rechecker;
        let background = |stopped| rechecker.is_scheduled().then(|| tokio::spawn(rechecker.clone().run(stopped)));
        doxwatch_kit::lifecycle::run_service(
            SERVICE,
            self.server,
            self.db,
            None,
            &store::rollups::TABLES,
            background,
            shutdown,
        )
        .await
    }
}
