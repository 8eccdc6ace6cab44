//! `logspoke-worker`: reads its configuration and hands over to the library.

#[tokio::main]
async fn main() -> std::process::ExitCode {
    if std::env::args().any(|a| a == "--help" || a == "-h") {
        println!("{}", logspoke_delivery_worker::config::HELP);
        return std::process::ExitCode::SUCCESS;
    }
    logspoke_delivery_worker::app::init_tracing();
    let config = match logspoke_delivery_worker::config::WorkerConfig::from_env() {
        Ok(config) => config,
        Err(err) => {
            eprintln!("error: {err}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match logspoke_delivery_worker::app::run(config, logspoke_delivery_worker::app::shutdown_signal()).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
