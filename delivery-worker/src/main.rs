//! `logspoke-worker`: reads its settings (command line and environment) and hands over
//! to the library.

use std::process::ExitCode;

use logspoke_contract::replay::ReplayState;
use logspoke_delivery_worker::config::{Command, WorkerArgs};
use logspoke_delivery_worker::pipeline::Outcome;
use logspoke_delivery_worker::{cli, lambda, replica, telemetry};

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
    let config = args.to_config();
    let result = match &args.command {
        None => replica::run(config, logspoke_runtime::shutdown_signal())
            .await
            .map(|()| true),
        Some(Command::Lambda) => lambda::environment::serve(config).await.map(|()| true),
        Some(Command::Replay(replay)) => cli::replay(&config, replay)
            .await
            .map(|done| done.state == ReplayState::Done),
        Some(Command::Deliver { object }) => cli::deliver(&config, object).await.map(|outcome| {
            eprintln!("deliver: {outcome:?}");
            outcome == Outcome::Done
        }),
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}
