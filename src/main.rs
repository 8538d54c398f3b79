//! The `httpat` binary: everything happens in the library; this maps the outcome to an exit code.

fn main() {
    std::process::exit(httpat::run(std::env::args_os()));
}
