//! Sockets: the EKS/admin HTTP listener, one HTTPS listener per cluster (rustls on
//! aws-lc-rs), the hyper connection loop that turns a [`DropConnection`] response into a
//! closed connection, and [`spawn`], which starts a whole simulator inside the current
//! tokio runtime (tests use it; the binary's `main` too).
//!
//! Routing and behaviour are the API modules'; this only binds, accepts and serves.

use std::net::SocketAddr;

use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use thiserror::Error;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt as _;

use crate::cluster::Cluster;
use crate::faults::DropConnection;
use crate::state::{SimConfig, SimState};
use crate::tls::TlsMaterial;
use crate::{admin, eks_api, kube_api, state::Shared};

/// Why the simulator could not start or a cluster could not get its endpoint.
#[derive(Debug, Error)]
pub enum ServerError {
    #[error("eks-sim listens on loopback only; {0} is not a loopback address")]
    NotLoopback(SocketAddr),
    #[error("cannot listen on {addr}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Tls(#[from] crate::tls::TlsError),
    #[error(transparent)]
    State(#[from] crate::state::StateError),
    #[error("cluster {0:?} is defined twice")]
    DuplicateCluster(String),
}

/// The error a service returns to make hyper drop the connection.
#[derive(Debug, Error)]
#[error("connection dropped by fault injection")]
struct Dropped;

async fn serve_connection<I>(io: I, router: Router)
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let service = hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
        let router = router.clone();
        async move {
            let resp = match router.oneshot(req.map(axum::body::Body::new)).await {
                Ok(r) => r,
                Err(never) => match never {},
            };
            if resp.extensions().get::<DropConnection>().is_some() {
                return Err(Dropped);
            }
            Ok::<_, Dropped>(resp)
        }
    });
    let _ = hyper::server::conn::http1::Builder::new()
        .serve_connection(io, service)
        .await;
}

/// Accepts connections until shutdown.
async fn serve(
    listener: TcpListener,
    router: Router,
    tls: Option<TlsAcceptor>,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let router = router.clone();
                let tls = tls.clone();
                tokio::spawn(async move {
                    match tls {
                        Some(acceptor) => {
                            if let Ok(s) = acceptor.accept(stream).await {
                                serve_connection(TokioIo::new(s), router).await;
                            }
                        }
                        None => serve_connection(TokioIo::new(stream), router).await,
                    }
                });
            }
            _ = shutdown.changed() => break,
        }
    }
}

async fn bind(addr: SocketAddr) -> Result<TcpListener, ServerError> {
    if !addr.ip().is_loopback() {
        return Err(ServerError::NotLoopback(addr));
    }
    TcpListener::bind(addr)
        .await
        .map_err(|source| ServerError::Bind { addr, source })
}

/// Gives `cluster` its own HTTPS endpoint and adds it to the world. Returns the endpoint.
pub async fn start_cluster(state: &SimState, mut cluster: Cluster) -> Result<String, ServerError> {
    if state.world().clusters.contains_key(&cluster.name) {
        return Err(ServerError::DuplicateCluster(cluster.name));
    }
    let listener = bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
    let addr = listener.local_addr().map_err(|source| ServerError::Bind {
        addr: SocketAddr::from(([127, 0, 0, 1], 0)),
        source,
    })?;
    let endpoint = format!("https://127.0.0.1:{}", addr.port());
    cluster.endpoint = endpoint.clone();
    let name = cluster.name.clone();
    {
        let mut world = state.world();
        if world.clusters.contains_key(&name) {
            return Err(ServerError::DuplicateCluster(name));
        }
        world.clusters.insert(name.clone(), cluster);
    }
    let acceptor = TlsAcceptor::from(state.tls.server_config.clone());
    tokio::spawn(serve(
        listener,
        kube_api::app(state.clone(), &name),
        Some(acceptor),
        state.shutdown.subscribe(),
    ));
    tracing::info!(cluster = %name, %endpoint, "cluster endpoint up");
    Ok(endpoint)
}

/// A running simulator. Dropping it stops every listener.
#[derive(Debug)]
pub struct RunningSim {
    pub state: SimState,
    /// `http://127.0.0.1:PORT`: the EKS API (AWS_ENDPOINT_URL_EKS) and `/_sim/` admin API.
    pub eks_endpoint: String,
}

impl RunningSim {
    /// The HTTPS endpoint of a cluster.
    pub fn cluster_endpoint(&self, name: &str) -> Option<String> {
        self.state
            .world()
            .clusters
            .get(name)
            .map(|c| c.endpoint.clone())
    }

    /// The CA certificate (PEM) that signs every cluster endpoint.
    pub fn ca_pem(&self) -> String {
        self.state.tls.ca_pem.clone()
    }

    /// What the binary prints when ready: endpoints and the CA.
    pub fn summary(&self) -> serde_json::Value {
        let clusters: serde_json::Map<String, serde_json::Value> = self
            .state
            .world()
            .clusters
            .values()
            .map(|c| (c.name.clone(), serde_json::json!(c.endpoint)))
            .collect();
        serde_json::json!({
            "eks_endpoint": self.eks_endpoint,
            "admin_endpoint": format!("{}/_sim", self.eks_endpoint),
            "region": self.state.region,
            "account_id": self.state.account_id,
            "clusters": clusters,
        })
    }

    /// Stops every listener.
    pub fn shutdown(&self) {
        let _ = self.state.shutdown.send(true);
    }
}

impl Drop for RunningSim {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Starts a simulator in the current tokio runtime: the EKS/admin listener and one HTTPS
/// listener per seeded cluster.
pub async fn spawn(config: SimConfig) -> Result<RunningSim, ServerError> {
    crate::tls::install_default_provider();
    let tls = TlsMaterial::generate()?;
    let state = Shared::new(&config, tls)?;
    let listener = bind(config.listen).await?;
    let addr = listener.local_addr().map_err(|source| ServerError::Bind {
        addr: config.listen,
        source,
    })?;
    let eks_endpoint = format!("http://{addr}");
    let router = eks_api::app(state.clone()).merge(admin::app(state.clone()));
    tokio::spawn(serve(listener, router, None, state.shutdown.subscribe()));
    let running = RunningSim {
        state: state.clone(),
        eks_endpoint,
    };
    for seed in &config.clusters {
        let serial = {
            let mut w = state.world();
            w.serial += 1;
            w.serial
        };
        let cluster = Cluster::new(
            &seed.name,
            &state.region,
            &state.account_id,
            &state.kubernetes_version,
            &format!(
                "arn:aws:iam::{}:role/eks-sim-cluster-role",
                state.account_id
            ),
            seed.auth_mode,
            true,
            seed.creator_arn.clone(),
            serial,
        );
        start_cluster(&state, cluster).await?;
    }
    Ok(running)
}
