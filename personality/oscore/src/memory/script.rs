//! The `#!` line of an interpreter script, read as Linux's `fs/binfmt_script.c` reads it.
//!
//! `execve` of a file starting with `#!` runs the named interpreter instead, with the script's
//! path in place of `argv[0]`. Only the first 256 bytes count (`BINPRM_BUF_SIZE`). The line
//! ends at a newline; without one in those bytes the interpreter path must still end (in a
//! space, tab or NUL) within them, so a truncated path is never executed, while a truncated
//! argument is fine (the interpreter can read the script itself). Leading and trailing blanks
//! are dropped; the path ends at the first blank, and everything after the following blanks
//! is one argument, blanks included. The dispatcher resolves the interpreter, applies the
//! recursion limit (Linux allows four levels, then `ELOOP`) and loads it.

use alloc::vec::Vec;

use linux_abi::errno::Errno;

/// How many bytes of a file the `#!` line may take (Linux's `BINPRM_BUF_SIZE`).
pub const INTERPRETER_LINE_LIMIT: usize = 256;

/// The interpreter a script names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Interpreter {
    /// The interpreter's path, as written.
    pub path: Vec<u8>,
    /// The optional single argument.
    pub argument: Option<Vec<u8>>,
}

impl Interpreter {
    /// The interpreter's `argv`: its path, the optional argument, the script's path as
    /// passed to `execve`, then the original arguments after `argv[0]`.
    pub fn arguments(&self, script_path: &[u8], original: &[Vec<u8>]) -> Vec<Vec<u8>> {
        let mut arguments = Vec::with_capacity(original.len() + 2);
        arguments.push(self.path.clone());
        if let Some(argument) = &self.argument {
            arguments.push(argument.clone());
        }
        arguments.push(script_path.to_vec());
        arguments.extend(original.iter().skip(1).cloned());
        arguments
    }
}

/// Whether `byte` is a blank of the `#!` line.
fn is_blank(byte: u8) -> bool {
    byte == b' ' || byte == b'\t'
}

/// Whether `byte` ends the interpreter path.
fn is_terminator(byte: u8) -> bool {
    is_blank(byte) || byte == 0
}

/// Reads the `#!` line at the start of `file`: `Ok(None)` if the file does not start with
/// `#!` (it is not a script).
///
/// # Errors
/// `ENOEXEC` when the line names no interpreter, or when it has no newline within
/// [`INTERPRETER_LINE_LIMIT`] bytes and the path does not end within them.
pub fn parse_interpreter_line(file: &[u8]) -> Result<Option<Interpreter>, Errno> {
    if !file.starts_with(b"#!") {
        return Ok(None);
    }
    // Linux reads the first bytes into a zeroed buffer; so do we, and then every index below
    // stays inside it.
    let mut line = [0u8; INTERPRETER_LINE_LIMIT];
    let length = file.len().min(INTERPRETER_LINE_LIMIT);
    line[..length].copy_from_slice(&file[..length]);
    let last = INTERPRETER_LINE_LIMIT - 1;
    // Searches `first..=last` of the line, as binfmt_script's helpers do.
    let find = |first: usize, last: usize, predicate: fn(u8) -> bool| {
        (first..=last).find(|&index| predicate(line[index]))
    };

    let mut end = match line.iter().position(|&byte| byte == b'\n') {
        Some(newline) => newline,
        None => {
            let first = find(2, last, |byte| !is_blank(byte)).ok_or(Errno::ENOEXEC)?;
            if find(first, last, is_terminator).is_none() {
                return Err(Errno::ENOEXEC);
            }
            last
        }
    };
    // `line[1]` is '!', so this stops at 2 at the latest.
    while is_blank(line[end - 1]) {
        end -= 1;
    }
    let name = match find(2, end, |byte| !is_blank(byte)) {
        Some(name) if name != end => name,
        _ => return Err(Errno::ENOEXEC),
    };
    let separator = find(name, end, is_terminator);
    let argument = separator
        .filter(|&separator| line[separator] != 0)
        .and_then(|separator| find(separator, end, |byte| !is_blank(byte)))
        .filter(|&argument| argument < end)
        .map(|argument| {
            let text = &line[argument..end];
            let length = text
                .iter()
                .position(|&byte| byte == 0)
                .unwrap_or(text.len());
            text[..length].to_vec()
        });
    let path_end = separator.unwrap_or(end).min(end);
    Ok(Some(Interpreter {
        path: line[name..path_end].to_vec(),
        argument,
    }))
}
