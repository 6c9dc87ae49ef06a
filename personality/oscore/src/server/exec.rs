//! `execve` and the start of init: from a path to a loaded program, through `#!` scripts.
//!
//! The order of checks is Linux's (`do_execveat_common`): the path is read and the file
//! opened first (`EFAULT`, `ENOENT`, `EACCES`), then the argument and environment arrays are
//! copied (`EFAULT`, `E2BIG`), then the file is recognised and loaded (`ENOEXEC`, `ELOOP`,
//! `ENOMEM`). Everything up to the new address space's completion can fail and leaves the
//! caller untouched; only then is the old image released, close-on-exec descriptors closed
//! and caught signals reset, which cannot fail.
//!
//! Each new image gets the save area (`protocol::layout::SAVE_AREA`) as an ordinary private
//! page, and the auxiliary entry `AT_SYSTEM_CALL_PATH` saying which path its start-up code
//! sets up: `L4_SYSCALL_PATH=trampoline|exception` in the new environment, else the
//! caller's path (the configured default for init). An unknown value is ignored.

use alloc::vec::Vec;

use linux_abi::errno::Errno;
use linux_abi::file::{AT_FDCWD, O_RDWR};
use linux_abi::memory::{MAP_ANONYMOUS, MAP_FIXED, MAP_PRIVATE, PROT_READ, PROT_WRITE};
use protocol::layout::{SAVE_AREA, TRAMPOLINE_START};
use protocol::{AT_SYSTEM_CALL_PATH, SYSTEM_CALL_PATH_VARIABLE, SystemCallPath};

use super::random::RandomStream;
use super::record::{Accounting, Process, ProcessControl, ResourceLimits, SignalState};
use super::{Action, Actions, CallResult, Completion, Server, running};
use crate::memory::exec::{Credentials, ExecImage, ExecRequest, load};
use crate::memory::script::parse_interpreter_line;
use crate::memory::{AddressSpace, ExecArguments, Frames, Layout, MemoryLimits, PAGE_SIZE};
use crate::process::Pid;
use crate::vfs::{DescriptorTable, FileSystemContext, PATH_MAX, Vfs};

/// How many `#!` interpreters one `execve` may pass through; one more is `ELOOP` (the four
/// levels of binfmt rewriting Linux's `exec_binprm` allows).
pub const MAXIMUM_INTERPRETER_DEPTH: usize = 4;

/// What a program is started with.
struct ProgramRequest<'a> {
    /// The path as given to `execve` (also `AT_EXECFN`).
    path: &'a [u8],
    /// `argv` and `envp`.
    arguments: ExecArguments,
    /// The caller's path, kept unless the environment chooses another.
    current_path: SystemCallPath,
    /// The limits the image runs under.
    limits: MemoryLimits,
    /// The identity for the auxiliary vector.
    credentials: Credentials,
}

/// A loaded program and the path its system calls take.
struct LoadedProgram<Frame> {
    image: ExecImage<Frame>,
    path: SystemCallPath,
}

/// The path the environment chooses with `L4_SYSCALL_PATH=...`, if it names one.
fn chosen_path(environment: &[Vec<u8>]) -> Option<SystemCallPath> {
    environment.iter().find_map(|entry| {
        let value = entry
            .strip_prefix(SYSTEM_CALL_PATH_VARIABLE)?
            .strip_prefix(b"=")?;
        SystemCallPath::from_name(value)
    })
}

/// Resolves `request.path` through up to [`MAXIMUM_INTERPRETER_DEPTH`] `#!` lines and loads
/// the ELF program at the end, with its save area.
fn load_program<F: Frames>(
    vfs: &Vfs,
    frames: &mut F,
    random: &mut RandomStream,
    layout: &Layout,
    context: &FileSystemContext,
    request: ProgramRequest<'_>,
) -> Result<LoadedProgram<F::Frame>, Errno> {
    let path = chosen_path(&request.arguments.environment).unwrap_or(request.current_path);
    let mut file_path = request.path.to_vec();
    let mut arguments = request.arguments.arguments;
    let mut depth = 0;
    let file = loop {
        let file = vfs.executable(context, &file_path)?;
        let Some(interpreter) = parse_interpreter_line(file)? else {
            break file;
        };
        if depth == MAXIMUM_INTERPRETER_DEPTH {
            return Err(Errno::ELOOP);
        }
        depth += 1;
        arguments = interpreter.arguments(&file_path, &arguments);
        file_path = interpreter.path;
    };
    let argument_slices: Vec<&[u8]> = arguments.iter().map(Vec::as_slice).collect();
    let environment_slices: Vec<&[u8]> = request
        .arguments
        .environment
        .iter()
        .map(Vec::as_slice)
        .collect();
    let auxiliary = [(AT_SYSTEM_CALL_PATH, path.auxiliary_value())];
    let exec_request = ExecRequest {
        file,
        arguments: &argument_slices,
        environment: &environment_slices,
        execfn: request.path,
        random: random.bytes(),
        credentials: request.credentials,
        limits: request.limits,
        extra_auxiliary: &auxiliary,
    };
    let mut image = load(frames, layout, &exec_request).map_err(|error| error.errno())?;
    if let Err(error) = map_save_area(&mut image.space, frames) {
        image.space.clear(frames);
        return Err(error);
    }
    Ok(LoadedProgram { image, path })
}

/// Maps the save area: one private read-write page at `SAVE_AREA`.
fn map_save_area<F: Frames>(
    space: &mut AddressSpace<F::Frame>,
    frames: &mut F,
) -> Result<(), Errno> {
    space
        .mmap(
            frames,
            SAVE_AREA,
            PAGE_SIZE,
            PROT_READ | PROT_WRITE,
            MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED,
        )
        .map(|_| ())
}

impl<F: Frames> Server<F> {
    /// Creates init from `path`; see [`Server::start_init`].
    pub(super) fn create_init(
        &mut self,
        path: &[u8],
        arguments: &[&[u8]],
        environment: &[&[u8]],
    ) -> Result<Actions<F::Frame>, Errno> {
        if !self.processes.is_empty() {
            return Err(Errno::EEXIST);
        }
        let file_system = self.vfs.initial_context();
        let mut descriptors = DescriptorTable::new();
        let console = self.vfs.openat(
            &file_system,
            &mut descriptors,
            AT_FDCWD,
            b"/dev/console",
            O_RDWR,
            0,
        )?;
        descriptors.dup(console)?;
        descriptors.dup(console)?;
        let limits = ResourceLimits::default();
        let credentials = Credentials::default();
        let request = ProgramRequest {
            path,
            arguments: ExecArguments {
                arguments: arguments.iter().map(|argument| argument.to_vec()).collect(),
                environment: environment.iter().map(|entry| entry.to_vec()).collect(),
            },
            current_path: self.config.default_system_call_path,
            limits: limits.memory(),
            credentials,
        };
        let loaded = load_program(
            &self.vfs,
            &mut self.frames,
            &mut self.random,
            &self.config.layout,
            &file_system,
            request,
        )?;
        let stack_pointer = loaded.image.stack_pointer;
        let resident_pages = loaded.image.space.resident_page_count();
        let process = Process {
            space: loaded.image.space,
            descriptors,
            file_system,
            path: loaded.path,
            signals: SignalState::default(),
            limits,
            credentials,
            robust_list: 0,
            parked: None,
            accounting: Accounting::new(self.now, resident_pages),
            control: ProcessControl::new(path),
            vfork_parent: None,
        };
        let pid = self.processes.create_init(process)?;
        Ok(alloc::vec![Action::StartProcess {
            pid,
            entry: TRAMPOLINE_START,
            stack_pointer,
            path: loaded.path,
        }])
    }

    /// `execve(path, argv, envp)`.
    pub(super) fn execve(
        &mut self,
        pid: Pid,
        path_address: u64,
        argv: u64,
        envp: u64,
        actions: &mut Actions<F::Frame>,
    ) -> CallResult {
        let process = running(&mut self.processes, pid)?;
        let path = process
            .space
            .read_c_string(&mut self.frames, path_address, PATH_MAX)?;
        // The file is opened before the arrays are read, as Linux does.
        self.vfs.executable(&process.file_system, &path)?;
        let arguments = process
            .space
            .read_exec_arguments(&mut self.frames, argv, envp)?;
        let request = ProgramRequest {
            path: &path,
            arguments,
            current_path: process.path,
            limits: process.limits.memory(),
            credentials: process.credentials,
        };
        let loaded = load_program(
            &self.vfs,
            &mut self.frames,
            &mut self.random,
            &self.config.layout,
            &process.file_system,
            request,
        )?;

        // The point of no return: nothing below can fail.
        let stack_pointer = loaded.image.stack_pointer;
        let mut old = core::mem::replace(&mut process.space, loaded.image.space);
        old.clear(&mut self.frames);
        process.descriptors.close_on_exec();
        process.signals.reset_for_exec();
        process.path = loaded.path;
        process.control.name_after(&path);
        process.control.dumpable = true;
        process
            .accounting
            .note_resident(process.space.resident_page_count());
        let vfork_parent = process.vfork_parent.take();
        self.processes.note_exec(pid)?;
        if let Some(parent) = vfork_parent {
            self.finish_vfork(parent, pid, actions);
        }
        Ok(Completion::Exec { stack_pointer })
    }
}
