//! `ctl`: `stratactl`, a command line client that is etcdctl (v3) for Strata and etcd.
//!
//! It owns etcdctl's user interface: commands, flags, `ETCDCTL_*` environment variables,
//! output formats (byte for byte where the data is the same) and exit codes. One module
//! per command in [`command`], one per output format in [`printer`]. It deliberately
//! does not reimplement the wire protocol (that is the `client` crate) nor imitate
//! etcdctl's Go client log lines on stderr. It talks to members only through `client`;
//! the one exception is `defrag --data-dir`, which defragments a stopped member's
//! database file with `backend::defrag_offline`.
//!
//! It follows etcdctl 3.6.14 where 3.6 changed etcdctl 3.4's output or flags. So far:
//! `get`, `put`, `del`, `txn`, `compaction`, `watch`, `lease`, `lock`, `elect`,
//! `endpoint status | health | hashkv`, `alarm list | disarm`, `defrag`, `check perf |
//! datascale`, `snapshot save | status | restore`, `member list | add | remove | update |
//! promote`, `move-leader`, `downgrade validate | enable | cancel`, `user`, `role`,
//! `auth enable | disable | status` and `version`, with `--user`/`--password` on all.
//!
//! ```no_run
//! // What the `stratactl` binary does:
//! let code = ctl::run(["stratactl", "--endpoints", "127.0.0.1:2379", "get", "foo", "-w", "json"]);
//! std::process::exit(code);
//! ```

pub mod cli;
pub mod command;
pub mod error;
pub mod gosyntax;
pub mod printer;

use command::Io;
use std::ffi::OsString;

/// Runs stratactl with `args` (program name first), using the process's stdin and
/// stdout, and returns the exit code. Errors are printed to stderr as `Error: <message>`.
pub fn run<I, T>(args: I) -> i32
where
    I: IntoIterator<Item = T>,
    T: Into<OsString>,
{
    let args: Vec<OsString> = args.into_iter().map(Into::into).collect();
    // Not `stdin().lock()`: `watch -i` reads the process's stdin on a thread of its own.
    // A buffer of one byte leaves whatever a command has not read in `Stdin`'s own
    // buffer, where the password prompt of `--user` (which reads `Stdin`) finds it.
    let mut stdin = std::io::BufReader::with_capacity(1, std::io::stdin());
    let mut stdout = std::io::stdout();
    let mut io = Io { stdin: &mut stdin, stdout: &mut stdout };
    match run_with(args, &mut io) {
        Ok(()) => 0,
        Err(e) => {
            if !e.quiet {
                eprintln!("{e}");
            }
            e.code.value()
        }
    }
}

/// [`run`] with the given stdin and stdout.
pub fn run_with(args: Vec<OsString>, io: &mut Io<'_>) -> error::Result<()> {
    let Some(cli) = cli::parse(args)? else {
        return Ok(());
    };
    let Some(command) = cli.command else {
        return Ok(());
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| error::CtlError::error(e.to_string()))?;
    runtime.block_on(command::execute(&cli.global, command, io))
}
