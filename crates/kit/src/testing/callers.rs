//! Test callers: the interceptors that add an officer's token and purpose to every request, and a
//! client that sends a service's peer-only RPCs with the peer's certificate; and a stand-in for a
//! peer that is down.

use std::{
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use super::{OFFICER_ROLES, Running, TEST_CLIENT, eventually, pki};
use crate::{identity::Identity, policy::Role};

/// Adds the acting officer's token (every officer role, bound to the test client's certificate)
/// to every request of a test client; `None` sends none.
#[derive(Clone)]
pub struct Officer(pub Option<&'static str>);

/// The purpose test officers state for what they read.
pub const TEST_PURPOSE: &str = "test of the suite";

impl tonic::service::Interceptor for Officer {
    fn call(&mut self, mut request: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        if let Some(id) = self.0 {
            let value = format!("Bearer {}", officer_token(id, OFFICER_ROLES));
            request.metadata_mut().insert("authorization", value.parse().expect("a token is ASCII"));
            request.metadata_mut().insert(crate::audit::PURPOSE_HEADER, TEST_PURPOSE.parse().expect("ASCII"));
        }
        Ok(request)
    }
}

/// Adds a token for an officer with the given roles to every request.
#[derive(Clone)]
pub struct OfficerWith(pub &'static str, pub &'static [Role]);

impl tonic::service::Interceptor for OfficerWith {
    fn call(&mut self, mut request: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        let value = format!("Bearer {}", officer_token(self.0, self.1));
        request.metadata_mut().insert("authorization", value.parse().expect("a token is ASCII"));
        request.metadata_mut().insert(crate::audit::PURPOSE_HEADER, TEST_PURPOSE.parse().expect("ASCII"));
        Ok(request)
    }
}

/// Adds a token for an officer of a team, with the given roles, to every request; breaks the glass
/// when asked.
#[derive(Clone)]
pub struct TeamOfficer {
    pub id: &'static str,
    pub team: &'static str,
    pub roles: &'static [Role],
    pub break_glass: bool,
}

impl tonic::service::Interceptor for TeamOfficer {
    fn call(&mut self, mut request: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        let value = format!("Bearer {}", pki().team_token(self.id, self.roles, self.team));
        request.metadata_mut().insert("authorization", value.parse().expect("a token is ASCII"));
        request.metadata_mut().insert(crate::audit::PURPOSE_HEADER, TEST_PURPOSE.parse().expect("ASCII"));
        if self.break_glass {
            request.metadata_mut().insert(crate::audit::BREAK_GLASS_HEADER, "1".parse().expect("ASCII"));
        }
        Ok(request)
    }
}

/// The credentials of a test officer's client (the CLI's and the report's): the test client's
/// certificate and a token for officer `id` with `roles`.
pub fn credentials(id: &str, roles: &[Role]) -> crate::profile::Credentials {
    crate::profile::Credentials {
        tls: pki().material(&Identity::Officer(TEST_CLIENT.to_owned())),
        token: Some(crate::config::Secret::from(officer_token(id, roles))),
    }
}

/// Test tokens by officer id and roles.
type TokenCache = std::sync::Mutex<std::collections::HashMap<(String, Vec<Role>), String>>;

/// A test officer's token, issued once per officer and roles.
pub fn officer_token(id: &str, roles: &[Role]) -> String {
    static TOKENS: std::sync::OnceLock<TokenCache> = std::sync::OnceLock::new();
    let tokens = TOKENS.get_or_init(Default::default);
    let mut tokens = tokens.lock().expect("the token cache");
    tokens.entry((id.to_owned(), roles.to_vec())).or_insert_with(|| pki().token(id, roles)).clone()
}

/// A test client for a service whose RPCs are partly reserved to its peers: calls of the
/// `reserved` methods go out with the peer service's certificate (as that peer would make them),
/// every other call as the officer with a token. Tests of link-tracking, say, set up links with
/// RegisterLinks as intake would, and read them as an officer.
#[derive(Clone)]
pub struct Routed {
    officer: tonic::service::interceptor::InterceptedService<tonic::transport::Channel, Officer>,
    reserved: Arc<Vec<(&'static str, tonic::transport::Channel)>>,
}

/// The link-tracking RPCs only a peer service may call, and which peer calls them.
pub const LINKS_RESERVED: &[(&str, &str)] = &[
    ("/doxwatch.links.v1.LinksService/RegisterLinks", "intake"),
    ("/doxwatch.links.v1.LinksService/RecordRemovalRequests", "liaison"),
    ("/doxwatch.links.v1.LinksService/EraseCaseData", "referral"),
];

impl Routed {
    /// Calls to `service` as officer `id`, the `reserved` methods as their peers.
    pub fn new(service: &Running, id: &'static str, reserved: &[(&'static str, &'static str)]) -> Self {
        let reserved = reserved
            .iter()
            .map(|(path, peer)| (*path, service.channel_as(&Identity::service(peer).expect("a doxwatch service"))))
            .collect();
        Self {
            officer: tonic::service::interceptor::InterceptedService::new(service.channel.clone(), Officer(Some(id))),
            reserved: Arc::new(reserved),
        }
    }
}

impl tower::Service<http::Request<tonic::body::Body>> for Routed {
    type Response = http::Response<tonic::body::Body>;
    type Error = tonic::transport::Error;
    type Future = std::pin::Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut std::task::Context<'_>) -> std::task::Poll<Result<(), Self::Error>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<tonic::body::Body>) -> Self::Future {
        use tower::ServiceExt;
        let peer = self.reserved.iter().find(|(path, _)| *path == request.uri().path()).map(|(_, c)| c.clone());
        match peer {
            Some(channel) => Box::pin(channel.oneshot(request)),
            None => {
                let call = self.officer.clone().oneshot(request);
                Box::pin(async move { call.await.map(|r| r.map(tonic::body::Body::new)) })
            }
        }
    }
}

/// A peer that is down, as the services that call it see it: it listens on the peer's address and
/// answers every call UNAVAILABLE, counting them. A test that asserts an effect still waits can
/// then wait for the relay to have tried and be turned away, not for a fixed time in the hope that
/// it tried.
pub struct DownPeer {
    running: Running,
    calls: Arc<AtomicUsize>,
}

impl DownPeer {
    /// Listens on `addr`, which must be free (a [`reserved_addr`], or a stopped service's).
    pub async fn start(addr: SocketAddr) -> Self {
        let calls = Arc::new(AtomicUsize::new(0));
        let listener = tokio::net::TcpListener::bind(addr).await.expect("the peer's address is free");
        let addr = listener.local_addr().expect("a bound address");
        let counted = calls.clone();
        let refuse = tower::service_fn(move |_: http::Request<tonic::body::Body>| {
            counted.fetch_add(1, Ordering::SeqCst);
            let answer = tonic::Status::unavailable("the peer is down").into_http::<tonic::body::Body>();
            std::future::ready(Ok::<_, std::convert::Infallible>(answer))
        });
        // It speaks TLS like the peer it stands for, so that callers get as far as a call.
        let tls = pki().material(&Identity::Service("links")).server_config().expect("a TLS configuration");
        let (connections, accepting) = crate::tls::accept(listener, tls);
        let incoming = tokio_stream::wrappers::ReceiverStream::new(connections);
        let running = Running::start(addr, |shutdown| async move {
            let served =
                tonic::transport::Server::builder().serve_with_incoming_shutdown(refuse, incoming, shutdown).await;
            accepting.abort();
            served
        })
        .await;
        Self { running, calls }
    }

    /// The calls turned away so far.
    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }

    /// Waits until `n` calls have been turned away, for at most `limit`; whether they were.
    pub async fn turned_away(&self, n: usize, limit: Duration) -> bool {
        eventually(limit, async || (self.calls() >= n).then_some(())).await.is_some()
    }

    /// Stops listening and closes its connections, so that the real peer can start on the address.
    pub async fn stop(self) {
        self.running.stop().await;
    }
}
