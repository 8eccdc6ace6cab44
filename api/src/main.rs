//! `logspoke-api`: parses the command line and environment, and hands over to the
//! library.

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = match logspoke_runtime::config::parse_or_exit::<logspoke_api::cli::Cli>() {
        Ok(cli) => cli,
        Err(err) => {
            eprintln!("error: {err}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match logspoke_api::cli::run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
