//! `logspoke-worker`: reads its settings (command line and environment) and hands over
//! to the library.

use std::process::ExitCode;

use logspoke_delivery_worker::config::WorkerArgs;
use logspoke_delivery_worker::{app, telemetry};

#[tokio::main]
async fn main() -> ExitCode {
    let args = match logspoke_runtime::config::parse_or_exit::<WorkerArgs>() {
        Ok(args) => args,
        Err(err) => {
            eprintln!("error: {err}");
            return ExitCode::FAILURE;
        }
    };
    telemetry::init_tracing();
    match app::run(args.to_config(), logspoke_runtime::shutdown_signal()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}
