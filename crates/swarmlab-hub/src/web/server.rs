//! The server: binds, serves the API and the dashboard, sweeps expired leases on a timer,
//! and stops when the shutdown future passed in completes (no signal handling here: the CLI
//! passes ctrl-c, tests pass a channel). Stopping ends the dashboard's event streams first,
//! so that open pages do not hold the shutdown up.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;

use super::api;
use crate::domain::clock::{Clock, SystemClock};
use crate::domain::event::{EventKind, HubEvent};
use crate::{Hub, HubConfig, HubError};

/// A bound, not yet running hub server.
pub struct Server {
    listener: TcpListener,
    hub: Arc<Hub>,
}

impl Server {
    /// Opens the hub and binds `config.listen` (port 0 picks a free port).
    pub async fn bind(config: HubConfig, clock: Arc<dyn Clock>) -> Result<Server, HubError> {
        let listen = config.listen.clone();
        let hub = Arc::new(Hub::open(config, clock).await?);
        hub.clear_scratch();
        let listener = TcpListener::bind(&listen)
            .await
            .map_err(|e| HubError::io(format!("failed to listen on {listen}"), e))?;
        Ok(Server { listener, hub })
    }

    /// The address actually bound.
    pub fn local_addr(&self) -> Result<SocketAddr, HubError> {
        self.listener
            .local_addr()
            .map_err(|e| HubError::io("failed to read the bound address", e))
    }

    /// The hub behind the server (for bootstrap and tests).
    pub fn hub(&self) -> Arc<Hub> {
        self.hub.clone()
    }

    /// Serves until `shutdown` completes, then finishes in-flight requests and returns.
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), HubError> {
        let hub = self.hub.clone();
        let interval = hub
            .config()
            .sweep_interval
            .max(std::time::Duration::from_millis(100));
        let sweeper = tokio::spawn(async move {
            let mut tick = tokio::time::interval(interval);
            loop {
                tick.tick().await;
                if let Err(e) = hub.sweep().await {
                    eprintln!("swarmlab hub: sweep failed: {e}");
                }
            }
        });
        let reader = self.hub.reader();
        let warmer = tokio::spawn(async move {
            if let Err(e) = reader.warm().await {
                eprintln!("swarmlab hub: failed to fill the dashboard's caches: {e}");
            }
        });
        let app = api::router(self.hub.clone())?;
        let events = self.hub.events().clone();
        let served = axum::serve(
            self.listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(async move {
            shutdown.await;
            events.publish(HubEvent::new(EventKind::Closing, ""));
        })
        .await;
        sweeper.abort();
        warmer.abort();
        served.map_err(|e| HubError::io("server failed", e))
    }
}

/// Serves the hub described by `config` on the system clock until `shutdown` completes.
pub async fn serve(
    config: HubConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), HubError> {
    Server::bind(config, Arc::new(SystemClock))
        .await?
        .run(shutdown)
        .await
}
