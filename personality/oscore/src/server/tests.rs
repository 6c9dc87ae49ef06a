//! Host tests of the dispatcher, one file per area. The server runs on
//! [`VecFrames`](crate::memory::testing::VecFrames), which panics on double frees and uses
//! after free, with a real cpio initrd written by the `cpio` crate holding hand-built
//! static ELF programs and scripts; a [`Harness`] plays the glue's part, sending events and
//! reading client memory the way a client would see it.

mod exec;
mod faults;
mod files;
mod io;
mod memory;
mod pipes;
mod processes;
mod signals;
mod system;
mod terminal;
mod time;
mod usage;

use std::boxed::Box;
use std::io::Cursor;
use std::vec::Vec;

use abi::protocol::Exception;
use abi::user_registers::UserRegisters;
use cpio::newc::Builder;
use linux_abi::errno::Errno;
use linux_abi::file::{S_IFDIR, S_IFLNK, S_IFREG};
use linux_abi::memory::{MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ, PROT_WRITE};
use linux_abi::syscall::Syscall;
use protocol::{Answer, SystemCall, SystemCallPath};

use super::{Action, Config, Event, Nanoseconds, Reply, Server};
use crate::memory::PAGE_SIZE;
use crate::memory::testing::{TestFrame, VecFrames};
use crate::process::Pid;

/// The load address of the test programs.
const PROGRAM_BASE: u64 = 0x40_0000;
/// Where their read-write segment starts.
const DATA_BASE: u64 = 0x41_0000;

/// A static aarch64 ELF program: the headers and `code` in a read-execute segment at
/// [`PROGRAM_BASE`], two zeroed read-write pages at [`DATA_BASE`].
fn program(code: &[u8]) -> Vec<u8> {
    let code_offset = 64 + 2 * 56;
    let size = code_offset + code.len();
    let mut bytes = vec![0u8; size];
    bytes[..4].copy_from_slice(b"\x7fELF");
    bytes[4] = 2; // ELFCLASS64
    bytes[5] = 1; // ELFDATA2LSB
    bytes[6] = 1; // EV_CURRENT
    let mut put = |offset: usize, value: &[u8]| {
        bytes[offset..offset + value.len()].copy_from_slice(value);
    };
    put(16, &2u16.to_le_bytes()); // ET_EXEC
    put(18, &183u16.to_le_bytes()); // EM_AARCH64
    put(20, &1u32.to_le_bytes());
    put(24, &(PROGRAM_BASE + code_offset as u64).to_le_bytes());
    put(32, &64u64.to_le_bytes()); // e_phoff
    put(52, &64u16.to_le_bytes()); // e_ehsize
    put(54, &56u16.to_le_bytes()); // e_phentsize
    put(56, &2u16.to_le_bytes()); // e_phnum
    put(58, &64u16.to_le_bytes()); // e_shentsize
    let headers: [(u32, u64, u64, u64, u64); 2] = [
        (4 | 1, 0, PROGRAM_BASE, size as u64, size as u64), // R X
        (4 | 2, 0, DATA_BASE, 0, 2 * PAGE_SIZE),            // R W
    ];
    for (index, (flags, offset, address, file_size, memory_size)) in headers.iter().enumerate() {
        let at = 64 + index * 56;
        put(at, &1u32.to_le_bytes()); // PT_LOAD
        put(at + 4, &flags.to_le_bytes());
        put(at + 8, &offset.to_le_bytes());
        put(at + 16, &address.to_le_bytes());
        put(at + 24, &address.to_le_bytes());
        put(at + 32, &file_size.to_le_bytes());
        put(at + 40, &memory_size.to_le_bytes());
        put(at + 48, &0x1000u64.to_le_bytes());
    }
    put(code_offset, code);
    bytes
}

/// One archive member.
enum Member {
    File(&'static str, u32, Vec<u8>),
    Directory(&'static str),
    Link(&'static str, &'static str),
}

/// A newc archive of `members`, leaked for the `'static` lifetime of an initrd.
fn archive(members: Vec<Member>) -> &'static [u8] {
    let inputs = members.into_iter().map(|member| {
        let (name, mode, data) = match member {
            Member::File(name, permissions, data) => (name, S_IFREG | permissions, data),
            Member::Directory(name) => (name, S_IFDIR | 0o755, Vec::new()),
            Member::Link(name, target) => (name, S_IFLNK | 0o777, target.as_bytes().to_vec()),
        };
        (Builder::new(name).mode(mode), Cursor::new(data))
    });
    let bytes = cpio::write_cpio(inputs, Vec::new()).expect("writing into a Vec cannot fail");
    Box::leak(bytes.into_boxed_slice())
}

/// The contents of `/data/big`: 200 000 bytes counting modulo 251.
fn big_file() -> Vec<u8> {
    (0..200_000u32).map(|index| (index % 251) as u8).collect()
}

/// The tree every test boots: programs, scripts (a chain of six), plain files.
fn standard_initrd() -> &'static [u8] {
    let mut members = vec![
        Member::Directory("bin"),
        Member::File("bin/prog", 0o755, program(b"\x1f\x20\x03\xd5PROG")),
        Member::File("bin/other", 0o755, program(b"\x1f\x20\x03\xd5OTHER")),
        Member::Link("bin/sh", "prog"),
        Member::File("bin/script", 0o755, b"#!/bin/prog -x\necho hi\n".to_vec()),
        Member::File("bin/noexec", 0o644, program(b"NOEXEC")),
        Member::File("bin/garbage", 0o755, b"this is not a program\n".to_vec()),
        Member::Directory("etc"),
        Member::File("etc/motd", 0o644, b"hello\n".to_vec()),
        Member::File(
            "etc/passwd",
            0o644,
            b"root:x:0:0:root:/root:/bin/sh\n".to_vec(),
        ),
        Member::Directory("data"),
        Member::File("data/big", 0o644, big_file()),
        Member::Directory("sbin"),
        Member::File("sbin/init", 0o755, b"#!/bin/sh\nexec /bin/sh -l\n".to_vec()),
    ];
    // chain/0 is a program; chain/n runs chain/n-1 as its interpreter.
    members.push(Member::Directory("chain"));
    members.push(Member::File("chain/0", 0o755, program(b"CHAIN")));
    for (level, name) in ["chain/1", "chain/2", "chain/3", "chain/4", "chain/5"]
        .into_iter()
        .enumerate()
    {
        let line = format!("#!/chain/{level}\n");
        members.push(Member::File(name, 0o755, line.into_bytes()));
    }
    archive(members)
}

/// The glue's part: events in, actions out, and a client's view of memory.
struct Harness {
    server: Server<VecFrames>,
    now: Nanoseconds,
}

/// The seed every test uses.
const SEED: [u8; 32] = [7; 32];

impl Harness {
    /// A server on the standard initrd with the default configuration, nothing started.
    fn new() -> Harness {
        Harness::with_config(Config::new(SystemCallPath::Trampoline, SEED))
    }

    /// A server on the standard initrd with `config`.
    fn with_config(config: Config) -> Harness {
        let server = Server::new(VecFrames::new(), standard_initrd(), config)
            .expect("the test initrd is well-formed");
        Harness {
            server,
            now: Nanoseconds(1_000_000),
        }
    }

    /// A server with init (`/bin/prog`) running as pid 1.
    fn booted() -> Harness {
        let mut harness = Harness::new();
        harness.start_init(b"/bin/prog");
        harness
    }

    /// Starts init from `path`; returns the stack pointer it starts with.
    fn start_init(&mut self, path: &[u8]) -> u64 {
        let actions = self
            .server
            .start_init(path, &[path, b"first"], &[b"HOME=/"], self.now)
            .expect("init starts");
        match actions.as_slice() {
            [
                Action::StartProcess {
                    pid, stack_pointer, ..
                },
            ] if *pid == Pid::INIT => *stack_pointer,
            other => panic!("unexpected actions {other:?}"),
        }
    }

    /// Handles `event` at the current time.
    fn handle(&mut self, event: Event) -> Vec<Action<TestFrame>> {
        self.server.handle(event, self.now)
    }

    /// Lets `nanoseconds` pass and delivers a tick.
    fn advance(&mut self, nanoseconds: u64) -> Vec<Action<TestFrame>> {
        self.now = self.now.saturating_add(Nanoseconds(nanoseconds));
        self.handle(Event::Tick)
    }

    /// System call `call` from `pid` as a protocol message.
    fn call(&mut self, pid: Pid, call: Syscall, arguments: &[u64]) -> Vec<Action<TestFrame>> {
        self.call_number(pid, u64::from(call.number()), arguments)
    }

    /// System call number `number` from `pid` as a protocol message.
    fn call_number(&mut self, pid: Pid, number: u64, arguments: &[u64]) -> Vec<Action<TestFrame>> {
        let mut words = [0u64; 6];
        words[..arguments.len()].copy_from_slice(arguments);
        self.handle(Event::SystemCall {
            pid,
            call: SystemCall {
                number,
                arguments: words,
            },
        })
    }

    /// System call `call` from `pid` through an exception message (path c), with `x`
    /// as x0..x5 and the rest of `registers`.
    fn call_by_exception(
        &mut self,
        pid: Pid,
        call: Syscall,
        mut registers: UserRegisters,
    ) -> Vec<Action<TestFrame>> {
        registers.x[8] = u64::from(call.number());
        self.handle(Event::Exception {
            pid,
            exception: Exception {
                registers,
                esr: SVC_ZERO_SYNDROME,
                far: 0,
            },
        })
    }

    /// The answer of a call that must complete at once.
    fn result(&mut self, pid: Pid, call: Syscall, arguments: &[u64]) -> Result<u64, Errno> {
        let actions = self.call(pid, call, arguments);
        answer(&actions, pid).unwrap_or_else(|| panic!("{call:?} was not answered: {actions:?}"))
    }

    /// The value of a call that must succeed at once.
    fn ok(&mut self, pid: Pid, call: Syscall, arguments: &[u64]) -> u64 {
        self.result(pid, call, arguments)
            .unwrap_or_else(|error| panic!("{call:?} failed with {error:?}"))
    }

    /// The error of a call that must fail at once.
    fn error(&mut self, pid: Pid, call: Syscall, arguments: &[u64]) -> Errno {
        match self.result(pid, call, arguments) {
            Ok(value) => panic!("{call:?} succeeded with {value:#x}"),
            Err(error) => error,
        }
    }

    /// `pages` pages of fresh read-write memory in `pid`.
    fn scratch(&mut self, pid: Pid, pages: u64) -> u64 {
        self.ok(
            pid,
            Syscall::Mmap,
            &[
                0,
                pages * PAGE_SIZE,
                u64::from(PROT_READ | PROT_WRITE),
                u64::from(MAP_PRIVATE | MAP_ANONYMOUS),
                u64::MAX,
                0,
            ],
        )
    }

    /// Writes `bytes` into `pid`'s memory (which must allow it).
    fn poke(&mut self, pid: Pid, address: u64, bytes: &[u8]) {
        let process = self
            .server
            .processes
            .get_mut(pid)
            .expect("the process runs");
        process
            .space
            .write(&mut self.server.frames, address, bytes)
            .expect("the test's memory is writable");
    }

    /// Reads `length` bytes of `pid`'s memory.
    fn peek(&mut self, pid: Pid, address: u64, length: usize) -> Vec<u8> {
        let process = self
            .server
            .processes
            .get_mut(pid)
            .expect("the process runs");
        let mut bytes = vec![0u8; length];
        process
            .space
            .read(&mut self.server.frames, address, &mut bytes)
            .expect("the test's memory is readable");
        bytes
    }

    /// Reads a 64-bit word of `pid`'s memory.
    fn peek_u64(&mut self, pid: Pid, address: u64) -> u64 {
        u64::from_le_bytes(self.peek(pid, address, 8).try_into().expect("eight bytes"))
    }

    /// Reads a 32-bit word of `pid`'s memory.
    fn peek_u32(&mut self, pid: Pid, address: u64) -> u32 {
        u32::from_le_bytes(self.peek(pid, address, 4).try_into().expect("four bytes"))
    }

    /// `text` with a NUL in fresh memory of `pid`.
    fn string(&mut self, pid: Pid, text: &[u8]) -> u64 {
        let pages = (text.len() as u64 + 1).div_ceil(PAGE_SIZE);
        let address = self.scratch(pid, pages);
        self.poke(pid, address, text);
        self.poke(pid, address + text.len() as u64, &[0]);
        address
    }

    /// A NULL-terminated array of pointers to `strings` in fresh memory of `pid`.
    fn string_array(&mut self, pid: Pid, strings: &[&[u8]]) -> u64 {
        let pointers: Vec<u64> = strings.iter().map(|text| self.string(pid, text)).collect();
        let array = self.scratch(pid, 1);
        for (index, pointer) in pointers.iter().chain([0u64].iter()).enumerate() {
            self.poke(pid, array + 8 * index as u64, &pointer.to_le_bytes());
        }
        array
    }

    /// Opens `path` with `flags` in `pid`; the descriptor.
    fn open(&mut self, pid: Pid, path: &[u8], flags: u32) -> u64 {
        let path = self.string(pid, path);
        self.ok(pid, Syscall::Openat, &[AT_FDCWD, path, u64::from(flags), 0])
    }

    /// Forks `pid` (plain `SIGCHLD` clone) and returns the child.
    fn fork(&mut self, pid: Pid) -> Pid {
        let actions = self.call(pid, Syscall::Clone, &[SIGCHLD, 0, 0, 0, 0]);
        let child = answer(&actions, pid)
            .expect("the parent is answered")
            .expect("fork succeeds");
        Pid::new(child as i32).expect("a pid")
    }

    /// Ends `pid` with `exit(code)`.
    fn exit(&mut self, pid: Pid, code: u64) -> Vec<Action<TestFrame>> {
        self.call(pid, Syscall::Exit, &[code])
    }

    /// The frames the server holds for clients.
    fn live_frames(&self) -> usize {
        self.server.frames.live_count()
    }
}

/// `AT_FDCWD` as a register.
const AT_FDCWD: u64 = linux_abi::file::AT_FDCWD as i64 as u64;

/// `SIGCHLD` as clone's exit signal.
const SIGCHLD: u64 = 17;

/// ESR of `svc #0` from AArch64 EL0: EC 0x15, IL set.
const SVC_ZERO_SYNDROME: u64 = (0x15 << 26) | (1 << 25);

/// The answer `actions` give `pid`'s system call (a message of paths a and b), if any.
fn answer(actions: &[Action<TestFrame>], pid: Pid) -> Option<Result<u64, Errno>> {
    actions.iter().find_map(|action| match action {
        Action::Reply {
            pid: to,
            reply: Reply::Message(Answer::Result(value)),
        } if *to == pid => Some(match Errno::from_return(*value) {
            Some(error) => Err(error),
            None => Ok(*value),
        }),
        _ => None,
    })
}

/// Whether `actions` answer `pid` in any way.
fn answers(actions: &[Action<TestFrame>], pid: Pid) -> bool {
    actions
        .iter()
        .any(|action| matches!(action, Action::Reply { pid: to, .. } if *to == pid))
}

/// The bytes `actions` write to the console, concatenated.
fn console_output(actions: &[Action<TestFrame>]) -> Vec<u8> {
    actions
        .iter()
        .filter_map(|action| match action {
            Action::ConsoleWrite(bytes) => Some(bytes.as_slice()),
            _ => None,
        })
        .flatten()
        .copied()
        .collect()
}

/// Whether `actions` delete `pid`'s task.
fn deletes(actions: &[Action<TestFrame>], pid: Pid) -> bool {
    actions
        .iter()
        .any(|action| matches!(action, Action::DeleteProcess { pid: gone } if *gone == pid))
}

/// The pid with number `number`.
fn pid(number: i32) -> Pid {
    Pid::new(number).expect("a valid pid")
}
