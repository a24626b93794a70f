//! `stratactl`: etcdctl for Strata (`stratactl --help`). Everything is in the `ctl` crate.

fn main() {
    std::process::exit(ctl::run(std::env::args_os()));
}
