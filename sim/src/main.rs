//! The `eks-sim` binary: parse flags, start the simulator, print the ready line, run until
//! SIGINT/SIGTERM. Exit code 2 for bad flags or a failed start, with the reason on stderr.

use std::io::Write as _;
use std::process::ExitCode;

use clap::Parser as _;
use eks_sim::cli::Args;

fn write_file(path: &std::path::Path, contents: &str) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, contents)?;
    std::fs::rename(&tmp, path)
}

fn report(err: &dyn std::error::Error) -> ExitCode {
    let mut msg = format!("eks-sim: error: {err}");
    let mut source = err.source();
    while let Some(s) = source {
        msg.push_str(&format!(": {s}"));
        source = s.source();
    }
    eprintln!("{msg}");
    ExitCode::from(2)
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let filter = tracing_subscriber::EnvFilter::try_new(&args.log)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    let config = match args.resolve() {
        Ok(c) => c,
        Err(e) => return report(&e),
    };
    let sim = match eks_sim::spawn(config).await {
        Ok(s) => s,
        Err(e) => return report(&e),
    };
    if let Some(path) = &args.ca_out
        && let Err(e) = write_file(path, &sim.ca_pem())
    {
        eprintln!("eks-sim: error: --ca-out {}: {e}", path.display());
        return ExitCode::from(2);
    }
    let summary = sim.summary().to_string();
    if let Some(path) = &args.ready_file
        && let Err(e) = write_file(path, &summary)
    {
        eprintln!("eks-sim: error: --ready-file {}: {e}", path.display());
        return ExitCode::from(2);
    }
    println!("{summary}");
    let _ = std::io::stdout().flush();
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(s) => s,
        Err(e) => return report(&e),
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    tracing::info!("shutting down");
    sim.shutdown();
    ExitCode::SUCCESS
}
