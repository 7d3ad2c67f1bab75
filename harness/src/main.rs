use clap::Parser;

#[tokio::main]
async fn main() {
    let cli = kafka_harness::cli::Cli::parse();
    let code = kafka_harness::cli::main(cli).await;
    std::process::exit(code);
}
