//! `pfs`: run the server, run the practice, call any PFS message, measure.

mod accounts;
mod admin;
mod bench;
mod call;
mod conformance;
mod login;
mod output;
mod profile;
mod serve;

use clap::{Parser, Subcommand};

/// mimalloc instead of the system allocator: replies are built from many small strings, and
/// glibc's malloc and free were over a quarter of a medication list's instructions
/// (docs/benchmarks.md, "Medication reads and orders").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// openpfs: a stateful, faithful implementation of the PFS API.
#[derive(Parser)]
#[command(name = "pfs", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server (PFS endpoint over mutual TLS, and the admin API).
    Serve(serve::Args),
    /// Apply the PostgreSQL schema migrations and exit (`pfs serve` also applies them).
    Migrate(serve::MigrateArgs),
    /// Run the practice: providers, practices, patients, accounts, proxies, services.
    Admin(admin::Args),
    /// Send one PFS message and print the reply (filling in the session of `pfs login`).
    Call(call::Args),
    /// Link an online account if needed, open a session and keep it in a profile.
    Login(login::LoginArgs),
    /// Act for another patient in the profile's session (PatientSelected).
    Select(login::SelectArgs),
    /// End the profile's session (Logoff); the linkage stays for the next login.
    Logoff(login::LogoffArgs),
    /// Measure throughput and latency against a running server.
    Bench(bench::Args),
    /// Run the conformance scenarios against a PFS endpoint (this one or any other).
    Conformance(conformance::Args),
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Serve(a) => serve::run(a).await,
            Command::Migrate(a) => serve::migrate(a).await,
            Command::Admin(a) => admin::run(a).await,
            Command::Call(a) => call::run(a).await,
            Command::Login(a) => login::login(a).await,
            Command::Select(a) => login::select(a).await,
            Command::Logoff(a) => login::logoff(a).await,
            Command::Bench(a) => bench::run(a).await,
            Command::Conformance(a) => conformance::run(a).await,
        }
    });
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        // Shown already (an Error reply, with its code and texts).
        Err(e) if e.is::<output::Reported>() => std::process::ExitCode::FAILURE,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
