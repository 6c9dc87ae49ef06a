//! From a system call number and six registers to the handler, with each argument decoded
//! the way Linux's `SYSCALL_DEFINE` reads it.
//!
//! An `int` argument is the low 32 bits of its register (the C calling convention leaves
//! the upper bits unspecified), flags are `unsigned int`, sizes and addresses whole
//! registers, offsets signed. This table is the only place that knows which register is
//! which argument; the handlers take typed values.

use abi::user_registers::UserRegisters;
use linux_abi::errno::Errno;
use linux_abi::syscall::Syscall;

use super::{Actions, CallResult, Completion, Notice, Server, done};
use crate::memory::Frames;
use crate::process::Pid;

/// How many distinct unimplemented numbers are reported (Linux has fewer than 500 calls).
const REPORTED_LIMIT: usize = 512;

/// An `int` argument: the register's low 32 bits.
pub(super) const fn int(register: u64) -> i32 {
    register as u32 as i32
}

/// An `unsigned int` argument: the register's low 32 bits.
pub(super) const fn unsigned(register: u64) -> u32 {
    register as u32
}

/// A signed 64-bit argument (`off_t`, `loff_t`).
pub(super) const fn signed(register: u64) -> i64 {
    register as i64
}

impl<F: Frames> Server<F> {
    /// Runs the system call `number` of `pid` with arguments `a` (x0..x5).
    pub(super) fn dispatch(
        &mut self,
        pid: Pid,
        number: u64,
        a: &[u64; 6],
        registers: Option<&UserRegisters>,
        actions: &mut Actions<F::Frame>,
    ) -> CallResult {
        let Some(call) = Syscall::from_number(number) else {
            return self.not_implemented(pid, number, None, actions);
        };
        match call {
            // Processes.
            Syscall::Clone => self.clone_process(pid, a, registers, actions),
            Syscall::Execve => self.execve(pid, a[0], a[1], a[2], actions),
            Syscall::Exit | Syscall::ExitGroup => self.exit(pid, int(a[0]), actions),
            Syscall::Wait4 => self.wait4(pid, int(a[0]), a[1], unsigned(a[2]), a[3]),
            Syscall::Getpid | Syscall::Gettid => done(Ok(pid.number() as u64)),
            Syscall::Getppid => done(self.getppid(pid)),
            Syscall::SetTidAddress => done(self.set_tid_address(pid, a[0])),
            Syscall::Setpgid => done(self.setpgid(pid, int(a[0]), int(a[1]))),
            Syscall::Getpgid => done(self.getpgid(pid, int(a[0]))),
            Syscall::Getsid => done(self.getsid(pid, int(a[0]))),
            Syscall::Setsid => done(self.setsid(pid)),

            // Files.
            Syscall::Openat => {
                done(self.openat(pid, int(a[0]), a[1], unsigned(a[2]), unsigned(a[3])))
            }
            Syscall::Close => done(self.close(pid, int(a[0]))),
            Syscall::CloseRange => {
                done(self.close_range(pid, unsigned(a[0]), unsigned(a[1]), unsigned(a[2])))
            }
            Syscall::Dup => done(self.dup(pid, int(a[0]))),
            Syscall::Dup3 => done(self.dup3(pid, int(a[0]), int(a[1]), unsigned(a[2]))),
            Syscall::Fcntl => done(self.fcntl(pid, int(a[0]), unsigned(a[1]), a[2])),
            Syscall::Lseek => done(self.lseek(pid, int(a[0]), signed(a[1]), unsigned(a[2]))),
            Syscall::Fstat => done(self.fstat(pid, int(a[0]), a[1])),
            Syscall::Newfstatat => {
                done(self.newfstatat(pid, int(a[0]), a[1], a[2], unsigned(a[3])))
            }
            Syscall::Getdents64 => done(self.getdents64(pid, int(a[0]), a[1], a[2])),
            Syscall::Pipe2 => done(self.pipe2(pid, a[0], unsigned(a[1]))),
            Syscall::Getcwd => done(self.getcwd(pid, a[0], a[1])),
            Syscall::Chdir => done(self.chdir(pid, a[0])),
            Syscall::Fchdir => done(self.fchdir(pid, int(a[0]))),
            Syscall::Umask => done(self.umask(pid, unsigned(a[0]))),
            Syscall::Readlinkat => done(self.readlinkat(pid, int(a[0]), a[1], a[2], int(a[3]))),
            Syscall::Faccessat => done(self.faccessat(pid, int(a[0]), a[1], unsigned(a[2]), 0)),
            Syscall::Faccessat2 => {
                done(self.faccessat(pid, int(a[0]), a[1], unsigned(a[2]), unsigned(a[3])))
            }
            Syscall::Mkdirat => done(self.mkdirat(pid, int(a[0]), a[1], unsigned(a[2]))),
            Syscall::Mknodat => done(self.mknodat(pid, int(a[0]), a[1], unsigned(a[2]), a[3])),
            Syscall::Symlinkat => done(self.symlinkat(pid, a[0], int(a[1]), a[2])),
            Syscall::Linkat => {
                done(self.linkat(pid, int(a[0]), a[1], int(a[2]), a[3], unsigned(a[4])))
            }
            Syscall::Unlinkat => done(self.unlinkat(pid, int(a[0]), a[1], unsigned(a[2]))),
            Syscall::Renameat => done(self.renameat2(pid, int(a[0]), a[1], int(a[2]), a[3], 0)),
            Syscall::Renameat2 => {
                done(self.renameat2(pid, int(a[0]), a[1], int(a[2]), a[3], unsigned(a[4])))
            }
            Syscall::Fchmod => done(self.fchmod(pid, int(a[0]), unsigned(a[1]))),
            Syscall::Fchmodat => done(self.fchmodat(pid, int(a[0]), a[1], unsigned(a[2]))),
            Syscall::Fchown => done(self.fchown(pid, int(a[0]), unsigned(a[1]), unsigned(a[2]))),
            Syscall::Fchownat => done(self.fchownat(
                pid,
                int(a[0]),
                a[1],
                unsigned(a[2]),
                unsigned(a[3]),
                unsigned(a[4]),
            )),
            Syscall::Utimensat => done(self.utimensat(pid, int(a[0]), a[1], a[2], unsigned(a[3]))),
            Syscall::Truncate => done(self.truncate(pid, a[0], signed(a[1]))),
            Syscall::Ftruncate => done(self.ftruncate(pid, int(a[0]), signed(a[1]))),
            Syscall::Fsync | Syscall::Fdatasync => done(self.fsync(pid, int(a[0]))),
            // Nothing is ever cached for writing: every file system is read-only.
            Syscall::Sync => done(Ok(0)),

            // Reading and writing.
            Syscall::Read => self.read(pid, int(a[0]), a[1], a[2]),
            Syscall::Readv => self.readv(pid, int(a[0]), a[1], a[2]),
            Syscall::Pread64 => done(self.pread64(pid, int(a[0]), a[1], a[2], signed(a[3]))),
            Syscall::Preadv => done(self.preadv(pid, int(a[0]), a[1], a[2], signed(a[3]))),
            Syscall::Write => self.write(pid, int(a[0]), a[1], a[2], actions),
            Syscall::Writev => self.writev(pid, int(a[0]), a[1], a[2], actions),
            Syscall::Pwrite64 => done(self.pwrite64(pid, int(a[0]), a[1], a[2], signed(a[3]))),
            Syscall::Pwritev => done(self.pwritev(pid, int(a[0]), a[1], a[2], signed(a[3]))),
            Syscall::Ioctl => self.ioctl(pid, int(a[0]), unsigned(a[1]), a[2], actions),
            Syscall::Ppoll => self.ppoll(pid, a[0], a[1], a[2], a[3], a[4]),

            // Memory.
            Syscall::Brk => done(self.brk(pid, a[0])),
            Syscall::Mmap => done(self.mmap(
                pid,
                a[0],
                a[1],
                unsigned(a[2]),
                unsigned(a[3]),
                int(a[4]),
                a[5],
            )),
            Syscall::Munmap => done(self.munmap(pid, a[0], a[1])),
            Syscall::Mprotect => done(self.mprotect(pid, a[0], a[1], unsigned(a[2]))),
            Syscall::Madvise => done(self.madvise(pid, a[0], a[1], unsigned(a[2]))),

            // Time.
            Syscall::ClockGettime => done(self.clock_gettime(pid, unsigned(a[0]), a[1])),
            Syscall::ClockGetres => done(self.clock_getres(pid, unsigned(a[0]), a[1])),
            Syscall::Gettimeofday => done(self.gettimeofday(pid, a[0], a[1])),
            Syscall::Nanosleep => self.nanosleep(pid, a[0]),
            Syscall::ClockNanosleep => {
                self.clock_nanosleep(pid, unsigned(a[0]), unsigned(a[1]), a[2])
            }

            // Signals.
            Syscall::RtSigaction => self.rt_sigaction(pid, a[0], a[1], a[2], a[3], actions),
            Syscall::RtSigprocmask => self.rt_sigprocmask(pid, a[0], a[1], a[2], a[3], actions),
            Syscall::RtSigpending => done(self.rt_sigpending(pid, a[0], a[1])),
            Syscall::Kill => self.kill(pid, int(a[0]), a[1], actions),
            Syscall::Tkill => self.tgkill(pid, None, int(a[0]), a[1], actions),
            Syscall::Tgkill => self.tgkill(pid, Some(int(a[0])), int(a[1]), a[2], actions),

            // The system.
            Syscall::Uname => done(self.uname(pid, a[0])),
            Syscall::Sysinfo => done(self.sysinfo(pid, a[0])),
            Syscall::Times => done(self.times(pid, a[0])),
            Syscall::Getrusage => done(self.getrusage(pid, int(a[0]), a[1])),
            Syscall::Prctl => done(self.prctl(pid, int(a[0]), a)),
            Syscall::Getrandom => done(self.getrandom(pid, a[0], a[1], unsigned(a[2]))),
            Syscall::Reboot => self.reboot(int(a[0]), int(a[1]), unsigned(a[2]), actions),
            Syscall::Prlimit64 => done(self.prlimit64(pid, int(a[0]), unsigned(a[1]), a[2], a[3])),
            Syscall::Getrlimit => done(self.getrlimit(pid, unsigned(a[0]), a[1])),
            Syscall::Setrlimit => done(self.setrlimit(pid, unsigned(a[0]), a[1])),
            Syscall::Getuid => done(self.credential(pid, |credentials| credentials.uid)),
            Syscall::Geteuid => done(self.credential(pid, |credentials| credentials.euid)),
            Syscall::Getgid => done(self.credential(pid, |credentials| credentials.gid)),
            Syscall::Getegid => done(self.credential(pid, |credentials| credentials.egid)),
            Syscall::Getresuid => done(self.getresid(pid, a, |c| [c.uid, c.euid, c.uid])),
            Syscall::Getresgid => done(self.getresid(pid, a, |c| [c.gid, c.egid, c.gid])),
            Syscall::Getgroups => done(self.getgroups(int(a[0]))),
            Syscall::SchedYield => done(Ok(0)),
            Syscall::SchedGetaffinity => done(self.sched_getaffinity(pid, int(a[0]), a[1], a[2])),
            Syscall::SetRobustList => done(self.set_robust_list(pid, a[0], a[1])),
            Syscall::Futex => self.futex(pid, a),

            // Refused on purpose, silently: C libraries probe these and fall back (statx to
            // newfstatat, clone3 to clone, rseq to nothing), and no signal frame was ever
            // delivered for rt_sigreturn to return from.
            Syscall::Statx | Syscall::Clone3 | Syscall::Rseq | Syscall::RtSigreturn => {
                Err(Errno::ENOSYS)
            }

            other => self.not_implemented(pid, number, Some(other.name()), actions),
        }
    }

    /// `ENOSYS` for a call the server does not implement, reported the first time its
    /// number is seen.
    fn not_implemented(
        &mut self,
        pid: Pid,
        number: u64,
        name: Option<&'static str>,
        actions: &mut Actions<F::Frame>,
    ) -> CallResult {
        // The set is bounded so that a client trying every number cannot grow the
        // server's memory: past the bound, new numbers are answered without a report.
        if self.reported.len() < REPORTED_LIMIT && self.reported.insert(number) {
            actions.push(super::Action::Log(Notice::UnimplementedSystemCall {
                pid,
                number,
                name,
            }));
        }
        Ok(Completion::Value(Errno::ENOSYS.as_return()))
    }
}
