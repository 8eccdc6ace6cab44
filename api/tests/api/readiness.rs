//! Readiness follows the database: 503 while it is unreachable, 200 again once it is
//! back, without a restart. The outage is injected with a TCP proxy the test controls.

use std::time::{Duration, Instant};

use crate::helpers::{database_address, Options, Proxy, TestApp};

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
