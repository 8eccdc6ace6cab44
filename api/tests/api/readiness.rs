//! Readiness follows the database: 503 while it is unreachable, 200 again once it is
//! back, without a restart. The outage is injected with a TCP proxy the test controls.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::copy_bidirectional;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use crate::helpers::{database_address, Options, TestApp};

/// A TCP proxy to Postgres that can be cut (refusing and severing connections) and restored.
struct Proxy {
    address: String,
    up: Arc<watch::Sender<bool>>,
}

impl Proxy {
    async fn start(upstream: String) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap().to_string();
        let (up, _) = watch::channel(true);
        let up = Arc::new(up);
        let sender = up.clone();
        tokio::spawn(async move {
            loop {
                let Ok((mut client, _)) = listener.accept().await else {
                    return;
                };
                if !*sender.borrow() {
                    continue; // dropping the socket refuses the connection
                }
                let mut down = sender.subscribe();
                let upstream = upstream.clone();
                tokio::spawn(async move {
                    let Ok(mut server) = TcpStream::connect(&upstream).await else {
                        return;
                    };
                    tokio::select! {
                        _ = copy_bidirectional(&mut client, &mut server) => {}
                        _ = down.wait_for(|up| !*up) => {}
                    }
                });
            }
        });
        Self { address, up }
    }

    fn set_up(&self, up: bool) {
        self.up.send_replace(up);
    }
}

async fn wait_for_status(app: &TestApp, expected: u16) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let status = app
            .client
            .get(app.url("/readyz"))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16();
        if status == expected {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "/readyz stayed {status}, expected {expected}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn readiness_flips_when_the_database_goes_away_and_returns() {
    let proxy = Proxy::start(database_address()).await;
    let app = TestApp::spawn_with(Options {
        database_via: Some(proxy.address.clone()),
        ..Options::default()
    })
    .await;

    wait_for_status(&app, 200).await;
    proxy.set_up(false);
    wait_for_status(&app, 503).await;
    let body: serde_json::Value = app
        .client
        .get(app.url("/readyz"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["status"], 503);
    assert_eq!(
        app.client.get(app.url("/healthz")).send().await.unwrap().status(),
        200
    );
    proxy.set_up(true);
    wait_for_status(&app, 200).await;
}
