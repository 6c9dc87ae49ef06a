//! The `#!` line, against the cases `fs/binfmt_script.c` distinguishes.

use linux_abi::errno::Errno;

use crate::memory::script::{INTERPRETER_LINE_LIMIT, Interpreter, parse_interpreter_line};

fn interpreter(path: &[u8], argument: Option<&[u8]>) -> Option<Interpreter> {
    Some(Interpreter {
        path: path.to_vec(),
        argument: argument.map(<[u8]>::to_vec),
    })
}

#[test]
fn a_file_without_hash_bang_is_not_a_script() {
    assert_eq!(parse_interpreter_line(b"\x7fELF"), Ok(None));
    assert_eq!(parse_interpreter_line(b"#"), Ok(None));
    assert_eq!(parse_interpreter_line(b""), Ok(None));
    assert_eq!(parse_interpreter_line(b" #!/bin/sh"), Ok(None));
}

#[test]
fn the_path_ends_at_the_first_blank_and_the_rest_is_one_argument() {
    assert_eq!(
        parse_interpreter_line(b"#!/bin/sh\necho hi\n"),
        Ok(interpreter(b"/bin/sh", None))
    );
    assert_eq!(
        parse_interpreter_line(b"#!/usr/bin/env python3 -u -O\nprint()\n"),
        Ok(interpreter(b"/usr/bin/env", Some(b"python3 -u -O")))
    );
    assert_eq!(
        parse_interpreter_line(b"#!/bin/awk\t-f\n"),
        Ok(interpreter(b"/bin/awk", Some(b"-f")))
    );
}

#[test]
fn blanks_around_the_path_and_the_argument_are_dropped() {
    assert_eq!(
        parse_interpreter_line(b"#! \t /bin/sh  \t \n"),
        Ok(interpreter(b"/bin/sh", None))
    );
    assert_eq!(
        parse_interpreter_line(b"#!  /bin/sh   -e  \n"),
        Ok(interpreter(b"/bin/sh", Some(b"-e")))
    );
    assert_eq!(
        parse_interpreter_line(b"#!/bin/sh\r\n"),
        Ok(interpreter(b"/bin/sh\r", None)),
        "a carriage return is part of the path, as on Linux"
    );
}

#[test]
fn a_line_without_an_interpreter_is_enoexec() {
    assert_eq!(parse_interpreter_line(b"#!\n"), Err(Errno::ENOEXEC));
    assert_eq!(parse_interpreter_line(b"#!   \t\n"), Err(Errno::ENOEXEC));
    // A file that is only "#!" names the empty path, which then fails to resolve (ENOENT),
    // as on Linux.
    assert_eq!(parse_interpreter_line(b"#!"), Ok(interpreter(b"", None)));
}

#[test]
fn a_script_without_a_newline_works_when_the_file_is_short() {
    assert_eq!(
        parse_interpreter_line(b"#!/bin/sh -x"),
        Ok(interpreter(b"/bin/sh", Some(b"-x")))
    );
    assert_eq!(
        parse_interpreter_line(b"#!/bin/sh"),
        Ok(interpreter(b"/bin/sh", None))
    );
}

#[test]
fn a_long_line_is_enoexec_only_when_the_path_is_cut_off() {
    let mut truncated_path = b"#!/".to_vec();
    truncated_path.extend(vec![b'p'; 300]);
    assert_eq!(parse_interpreter_line(&truncated_path), Err(Errno::ENOEXEC));

    let mut truncated_argument = b"#!/bin/tool ".to_vec();
    truncated_argument.extend(vec![b'a'; 300]);
    let parsed = parse_interpreter_line(&truncated_argument)
        .unwrap()
        .unwrap();
    assert_eq!(parsed.path, b"/bin/tool");
    // The line is cut at the buffer's last byte, as Linux cuts it.
    assert_eq!(
        parsed.argument.unwrap().len(),
        INTERPRETER_LINE_LIMIT - 1 - b"#!/bin/tool ".len()
    );

    let mut newline_too_late = b"#!/bin/sh ".to_vec();
    newline_too_late.extend(vec![b'x'; 260]);
    newline_too_late.push(b'\n');
    assert!(parse_interpreter_line(&newline_too_late).unwrap().is_some());
}

#[test]
fn a_nul_ends_the_path_and_the_argument() {
    assert_eq!(
        parse_interpreter_line(b"#!/bin/sh\0ignored\n"),
        Ok(interpreter(b"/bin/sh", None))
    );
    assert_eq!(
        parse_interpreter_line(b"#!/bin/sh -a\0b\n"),
        Ok(interpreter(b"/bin/sh", Some(b"-a")))
    );
}

#[test]
fn the_interpreters_arguments_replace_argv_zero_with_the_script_path() {
    let with_argument = interpreter(b"/bin/sh", Some(b"-e")).unwrap();
    let original = vec![b"script".to_vec(), b"one".to_vec(), b"two".to_vec()];
    assert_eq!(
        with_argument.arguments(b"/home/script", &original),
        [&b"/bin/sh"[..], b"-e", b"/home/script", b"one", b"two"]
    );
    let without = interpreter(b"/bin/sh", None).unwrap();
    assert_eq!(
        without.arguments(b"./s", &[]),
        [&b"/bin/sh"[..], b"./s"],
        "an empty argv loses nothing"
    );
}
