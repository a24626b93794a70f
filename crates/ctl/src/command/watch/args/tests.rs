use super::*;
use crate::error::ExitCode;

fn os(words: &[&str]) -> Vec<OsString> {
    words.iter().map(OsString::from).collect()
}

fn keys(words: &[&str]) -> Vec<Vec<u8>> {
    words.iter().map(|w| w.as_bytes().to_vec()).collect()
}

fn env(key: &str, range_end: &str) -> WatchEnv {
    WatchEnv { key: key.into(), range_end: range_end.into() }
}

/// `stratactl <words>` as the shell passes it, and the positional arguments the flag
/// parser leaves (flags and their values and the `--` dropped).
fn split(words: &[&str], positional: &[&str], env: &WatchEnv) -> Result<WatchSpec> {
    let mut all = vec!["stratactl", "--endpoints", "x:1"];
    all.extend_from_slice(words);
    split_args(&os(&all), &os(positional), env)
}

#[test]
fn the_exec_command_follows_the_separator() {
    let spec =
        split(&["watch", "foo", "--rev", "1", "bar", "--", "echo", "hi"], &["foo", "bar", "echo", "hi"], &env("", ""))
            .expect("valid");
    assert_eq!(spec.keys, keys(&["foo", "bar"]));
    assert_eq!(spec.exec, os(&["echo", "hi"]));

    let spec = split(&["watch", "echo", "--", "echo"], &["echo", "echo"], &env("", "")).expect("valid");
    assert_eq!((spec.keys, spec.exec), (keys(&["echo"]), os(&["echo"])));
}

#[test]
fn argument_errors_read_like_etcdctl() {
    let e = split(&["watch"], &[], &env("", "")).expect_err("no key");
    assert_eq!((e.code, e.message.as_str()), (ExitCode::BadArgs, "bad number of arguments"));
    let e = split(&["watch", "a", "--"], &["a"], &env("", "")).expect_err("no command");
    assert_eq!(e.message, "bad number of arguments (found separator --, but no commands)");
    let e = split(&["watch", "foo"], &["foo"], &env("foo", "")).expect_err("key twice");
    assert_eq!(e.message, "bad number of arguments (found conflicting environment key)");
    let e = split(&["watch", "foo", "--", "echo", "1"], &["foo", "echo", "1"], &env("foo", "")).expect_err("key twice");
    assert_eq!(e.message, "bad number of arguments (found conflicting environment key)");
    // etcdctl looks at the raw words, so a flag alone passes here.
    assert_eq!(split(&["watch", "--rev", "1"], &[], &env("", "")).expect("passes").keys, Vec::<Vec<u8>>::new());
}

#[test]
fn the_environment_supplies_the_key_range() {
    let spec = split(&["watch", "--rev", "9", "--", "echo", "1"], &["echo", "1"], &env("w1", "w2")).expect("valid");
    assert_eq!((spec.keys, spec.exec), (keys(&["w1", "w2"]), os(&["echo", "1"])));
    let e = env("", "foo").checked().expect_err("range without key");
    assert_eq!(e.message, r#"ETCDCTL_WATCH_KEY is empty but got ETCDCTL_WATCH_RANGE_END="foo""#);
}

#[test]
fn create_requests_follow_the_flags() {
    let flags = WatchFlags { prefix: true, rev: 4, prev_kv: true, ..Default::default() };
    let req = create_request(&flags, &keys(&["w"])).expect("valid");
    assert_eq!((req.key, req.range_end, req.start_revision, req.prev_kv), (b"w".to_vec(), b"x".to_vec(), 4, true));
    let req = create_request(&flags, &keys(&[""])).expect("valid");
    assert_eq!((req.key, req.range_end), (vec![0], vec![0]));
    assert_eq!(
        create_request(&flags, &keys(&["a", "b"])).expect_err("both"),
        "`range_end` and `--prefix` are mutually exclusive"
    );
    let req = create_request(&WatchFlags::default(), &keys(&["a", "b", "c"])).expect("extra ignored");
    assert_eq!((req.key, req.range_end), (b"a".to_vec(), Vec::new()));
    assert_eq!(create_request(&WatchFlags::default(), &[]).expect_err("none"), "bad number of arguments");
}

fn line(text: &str) -> Result<Line> {
    parse_line(text.as_bytes(), &WatchEnv::default())
}

fn invalid(text: &str) -> String {
    match line(text) {
        Ok(Line::Invalid(msg)) => msg,
        other => panic!("{text:?} gave {other:?}"),
    }
}

#[test]
fn interactive_watch_lines_take_the_watch_flags() {
    let Ok(Line::Watch { req, exec }) = line(r#"watch "w 1" --rev 3 --prev-kv -- sh -c 'echo x'"#) else {
        panic!("not a watch")
    };
    assert_eq!((req.key, req.start_revision, req.prev_kv), (b"w 1".to_vec(), 3, true));
    assert_eq!(exec, os(&["sh", "-c", "echo x"]));
    let Ok(Line::Watch { req, .. }) = line("watch w --prefix") else { panic!("not a watch") };
    assert_eq!((req.key, req.range_end, req.start_revision), (b"w".to_vec(), b"x".to_vec(), 0));
    assert_eq!(line("progress").expect("valid"), Line::Progress);
}

#[test]
fn interactive_mistakes_are_reported_and_skipped() {
    assert_eq!(invalid(""), "Invalid command:  (watch and progress supported)");
    assert_eq!(invalid("foo"), "Invalid command foo (only support watch)");
    assert_eq!(invalid("get foo"), "Invalid command get foo (only support watch)");
    assert_eq!(invalid("watch"), "Invalid command watch (command type or key is not provided)");
    assert_eq!(
        invalid("watch a b --prefix"),
        "Invalid command watch a b --prefix (`range_end` and `--prefix` are mutually exclusive)"
    );
}

#[test]
fn interactive_argument_errors_end_the_command() {
    let e = line("watch w1 --bogus").expect_err("unknown flag");
    assert_eq!((e.code, e.message.as_str()), (ExitCode::BadArgs, "unknown flag: --bogus"));
    let e = line("watch w1 -w json").expect_err("global flags are not line flags");
    assert_eq!(e.message, "unknown shorthand flag: 'w' in -w");
    assert_eq!(line("watch --rev 9").expect_err("no key").message, "bad number of arguments");
    assert_eq!(
        line("watch w1 --").expect_err("no command").message,
        "bad number of arguments (found separator --, but no commands)"
    );
}

#[test]
fn interactive_lines_use_the_environment_key() {
    let env = env("w1", "");
    let Ok(Line::Watch { req, .. }) = parse_line(b"watch --rev 2", &env) else { panic!("not a watch") };
    assert_eq!((req.key, req.start_revision), (b"w1".to_vec(), 2));
    let e = parse_line(b"watch foo", &env).expect_err("key twice");
    assert_eq!(e.message, "bad number of arguments (found conflicting environment key)");
}
