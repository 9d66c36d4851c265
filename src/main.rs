//! Entry point: parse the command line, run it, map the outcome to an exit code.

use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = egress_probe::cli::parse();
    egress_probe::logging::init(cli.verbose, cli.quiet);

    match egress_probe::cli::run(cli) {
        Ok(status) => status.into(),
        Err(err) => {
            let status = egress_probe::exit::Status::of_error(&err);
            eprintln!("egress-probe: {}", egress_probe::exit::one_line(&err));
            status.into()
        }
    }
}
