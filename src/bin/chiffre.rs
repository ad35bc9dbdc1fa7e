//! The `chiffre` command: a thin shell over the library (see `cli`).

fn main() -> std::process::ExitCode {
    chiffre::cli::main()
}
