use super::*;
use crate::error::ExitCode;

fn parse(args: &[&str]) -> UserCommand {
    let args = ["stratactl", "user"].iter().chain(args).map(OsString::from).collect();
    match crate::cli::parse(args).expect("parses").expect("not help").command {
        Some(crate::cli::Command::User(UserArgs { command: Some(c) })) => c,
        other => panic!("not a user subcommand: {other:?}"),
    }
}

fn add_args(args: &[&str]) -> AddArgs {
    let mut all = vec!["add"];
    all.extend_from_slice(args);
    match parse(&all) {
        UserCommand::Add(a) => a,
        other => panic!("not user add: {other:?}"),
    }
}

/// `user add`'s name and password with `stdin` as the process's stdin.
fn new_user_with(args: &[&str], stdin: &str) -> std::result::Result<(String, String), (ExitCode, String)> {
    let a = add_args(args);
    let mut input = stdin.as_bytes();
    let mut output = Vec::new();
    let mut io = Io { stdin: &mut input, stdout: &mut output };
    let runtime = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
    runtime.block_on(new_user(&a, &mut io)).map_err(|e| (e.code, e.message))
}

fn pair(name: &str, password: &str) -> std::result::Result<(String, String), (ExitCode, String)> {
    Ok((name.to_owned(), password.to_owned()))
}

#[test]
fn user_add_takes_the_password_as_etcdctl_does() {
    assert_eq!(new_user_with(&["bob:s3:cr3t"], ""), pair("bob", "s3:cr3t"));
    assert_eq!(new_user_with(&["bob:"], ""), pair("bob", ""));
    assert_eq!(new_user_with(&["bob:x", "--new-user-password=pw"], ""), pair("bob:x", "pw"));
    assert_eq!(new_user_with(&["bob:x", "--new-user-password", "pw", "--no-password"], ""), pair("bob:x", ""));
    assert_eq!(new_user_with(&["--interactive=false", "bob"], "  pw rest\nmore\n"), pair("bob", "pw"));
    assert_eq!(new_user_with(&["--interactive=false", "bob"], ""), pair("bob", ""));
}

#[test]
fn user_add_refusals_exit_128() {
    let refused = |m: &str| Err((ExitCode::BadArgs, m.to_owned()));
    assert_eq!(new_user_with(&[":pw"], ""), refused("empty user name is not allowed"));
    assert_eq!(new_user_with(&[], ""), refused("user add command requires user name as its argument"));
    assert_eq!(new_user_with(&["a", "b"], ""), refused("user add command requires user name as its argument"));
}

#[test]
fn scanf_reads_one_word_and_the_character_after_it() {
    let mut input: &[u8] = b" \tword next\nline\n";
    assert_eq!(scan_word(&mut input), "word");
    assert_eq!(input, b"next\nline\n");
    let mut input: &[u8] = b"word\nline\n";
    assert_eq!(scan_word(&mut input), "word");
    assert_eq!(input, b"line\n");
    let mut input: &[u8] = b"  \nline\n";
    assert_eq!(scan_word(&mut input), "", "a blank line is no word");
    assert_eq!(input, b"line\n");
    let mut input: &[u8] = b"last";
    assert_eq!(scan_word(&mut input), "last");
}

#[test]
fn flags_parse_like_pflag() {
    let a = add_args(&["bob", "--interactive=false", "--no-password"]);
    assert_eq!((a.interactive, a.no_password, a.args.as_slice()), (false, true, &["bob".to_owned()][..]));
    let a = add_args(&["bob"]);
    assert!(a.interactive, "interactive by default");
    let UserCommand::Get(g) = parse(&["get", "--detail", "bob"]) else { panic!("not user get") };
    assert!(g.detail);
    let UserCommand::Passwd(p) = parse(&["passwd", "bob", "--interactive=false"]) else { panic!("not passwd") };
    assert!(!p.interactive);
    assert!(matches!(parse(&["grant", "bob", "r"]), UserCommand::GrantRole(_)));
    assert!(matches!(parse(&["g", "bob"]), UserCommand::Other(_)), "ambiguous: get, grant-role");
}

#[test]
fn wrong_argument_counts_exit_128_with_etcdctls_words() {
    let e = two(&["a".to_owned()], "user grant command requires user name and role name as its argument")
        .expect_err("one is not two");
    assert_eq!(
        (e.code, e.message.as_str()),
        (ExitCode::BadArgs, "user grant command requires user name and role name as its argument")
    );
}
