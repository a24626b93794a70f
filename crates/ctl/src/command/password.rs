//! Asking for a password as etcdctl does, with `bgentry/speakeasy`: the prompt on stdout,
//! the answer typed with the terminal's echo off (`stty -echo`, then `stty echo`), and a
//! newline on stdout after it. Without a terminal, the answer is the next line of stdin;
//! speakeasy runs `stty` then too, which only complains on stderr, so this does not.
//!
//! An answer ends at `\n` or at the end of input (an empty input is an empty password);
//! one `\r` before the `\n` is dropped.

use std::io::{self, IsTerminal, Read, Write};

/// Prints `prompt` and reads the answer: from the terminal without echo when stdin is
/// one, else from `stdin` (the process's stdin, or a test's), a byte at a time so that
/// nothing after the line is consumed. SIGINT, SIGTERM, SIGHUP or SIGQUIT while the echo
/// is off turns it back on and exits 255, as speakeasy does.
pub async fn ask<R: Read + ?Sized>(prompt: &str, stdin: &mut R) -> io::Result<String> {
    print_now(prompt);
    let answer = if io::stdin().is_terminal() { read_hidden().await } else { read_line(stdin) };
    print_now("\n");
    answer.map(|line| String::from_utf8_lossy(&line).into_owned())
}

fn print_now(text: &str) {
    let mut stdout = io::stdout();
    let _ = stdout.write_all(text.as_bytes());
    let _ = stdout.flush();
}

/// speakeasy's `readline`: bytes up to `\n` (not included) or the end of input, without
/// a final `\r`.
pub fn read_line<R: Read + ?Sized>(stdin: &mut R) -> io::Result<Vec<u8>> {
    let mut line = Vec::new();
    let mut byte = [0u8; 1];
    loop {
        match stdin.read(&mut byte) {
            Ok(0) => break,
            Ok(_) if byte[0] == b'\n' => break,
            Ok(_) => line.push(byte[0]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    if line.last() == Some(&b'\r') {
        line.pop();
    }
    Ok(line)
}

/// Reads a line from the terminal with its echo off. The read runs on a blocking thread
/// so that a signal can end the wait; a thread left blocked dies with the process.
async fn read_hidden() -> io::Result<Vec<u8>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut terminate = signal(SignalKind::terminate())?;
    let mut hangup = signal(SignalKind::hangup())?;
    let mut quit = signal(SignalKind::quit())?;
    stty("-echo");
    let reading = tokio::task::spawn_blocking(|| read_line(&mut io::stdin()));
    let answer = tokio::select! {
        read = reading => read.map_err(io::Error::other).and_then(|r| r),
        _ = interrupt.recv() => signaled(),
        _ = terminate.recv() => signaled(),
        _ = hangup.recv() => signaled(),
        _ = quit.recv() => signaled(),
    };
    stty("echo");
    answer
}

/// speakeasy's way out on a signal: the echo back on, exit status 255 (Go's `os.Exit(-1)`).
fn signaled() -> ! {
    stty("echo");
    std::process::exit(255)
}

/// Runs `stty <arg>` on the terminal (stdin is inherited). A missing `stty` leaves the
/// echo on; the password is still read.
fn stty(arg: &str) {
    let _ = std::process::Command::new("stty").arg(arg).status();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_ends_at_newline_or_end_of_input_without_its_carriage_return() {
        let mut input: &[u8] = b"secret\r\nnext\n";
        assert_eq!(read_line(&mut input).expect("read"), b"secret");
        assert_eq!(input, b"next\n", "nothing after the line is consumed");
        let mut input: &[u8] = b"last";
        assert_eq!(read_line(&mut input).expect("read"), b"last");
        let mut input: &[u8] = b"";
        assert_eq!(read_line(&mut input).expect("read"), b"");
        let mut input: &[u8] = b"a\r\r\n";
        assert_eq!(read_line(&mut input).expect("read"), b"a\r", "one \\r only");
    }
}
