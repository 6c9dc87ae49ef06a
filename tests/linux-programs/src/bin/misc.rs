//! misc: uname, the user and group IDs, getrandom, rt_sigaction and rt_sigprocmask (the
//! dispositions and the mask are kept, though nothing here delivers a signal), prlimit64,
//! and a system call number Linux does not define.

#![no_main]

use std::ffi::{CStr, c_char, c_int};

use linux_programs::*;

/// Bit of signal `signal` in a signal set.
const fn bit(signal: c_int) -> u64 {
    1 << (signal - 1)
}

/// The size of the kernel's signal set.
const SET_SIZE: u64 = 8;

#[unsafe(no_mangle)]
extern "C" fn main(_argc: c_int, _argv: *const *const c_char) -> c_int {
    let mut checks = Checks::new("misc");
    names(&mut checks);
    identities(&mut checks);
    randomness(&mut checks);
    actions(&mut checks);
    masks(&mut checks);
    limits(&mut checks);
    checks.fails_with(
        "an undefined system call number",
        undefined_call(999),
        libc::ENOSYS,
    );
    checks.fails_with(
        "a system call number beyond every table",
        undefined_call(0x7FFF_FFFF),
        libc::ENOSYS,
    );
    checks.finish()
}

fn field(bytes: &[c_char]) -> String {
    let bytes: Vec<u8> = bytes.iter().map(|byte| byte.to_ne_bytes()[0]).collect();
    CStr::from_bytes_until_nul(&bytes)
        .map(|text| text.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn names(checks: &mut Checks) {
    // SAFETY: utsname is arrays of bytes; all-zero is a valid value.
    let mut name: libc::utsname = unsafe { std::mem::zeroed() };
    checks.equal("uname", uname(Out::To(&mut name)), 0);
    checks.equal(
        "uname: the system is Linux",
        field(&name.sysname),
        "Linux".to_string(),
    );
    checks.equal(
        "uname: the machine",
        field(&name.machine),
        std::env::consts::ARCH.to_string(),
    );
    checks.check(
        "uname: a release",
        !field(&name.release).is_empty(),
        String::new,
    );
    checks.check(
        "uname: a version",
        !field(&name.version).is_empty(),
        String::new,
    );
    checks.check(
        "uname: a node name",
        !field(&name.nodename).is_empty(),
        String::new,
    );
    checks.fails_with(
        "uname into the null page",
        uname(Out::Bad(Bad::NullPage)),
        libc::EFAULT,
    );
}

fn identities(checks: &mut Checks) {
    let (user, effective_user) = (getuid(), geteuid());
    let (group, effective_group) = (getgid(), getegid());
    checks.check("getuid is an ID", user >= 0, || describe(user));
    checks.equal(
        "geteuid is getuid (no set-ID program)",
        effective_user,
        user,
    );
    checks.check("getgid is an ID", group >= 0, || describe(group));
    checks.equal(
        "getegid is getgid (no set-ID program)",
        effective_group,
        group,
    );
}

fn randomness(checks: &mut Checks) {
    let (mut first, mut second) = ([0u8; 32], [0u8; 32]);
    checks.equal("getrandom 32 bytes", getrandom(Out::To(&mut first), 0), 32);
    checks.equal(
        "getrandom again",
        getrandom(Out::To(&mut second), libc::GRND_NONBLOCK),
        32,
    );
    checks.check("two draws differ", first != second, || format!("{first:?}"));
    checks.check(
        "a draw is not all zero",
        first.iter().any(|&byte| byte != 0),
        String::new,
    );
    checks.equal("getrandom of 0 bytes", getrandom(Out::To(&mut []), 0), 0);
    checks.fails_with(
        "getrandom with unknown flags",
        getrandom(Out::To(&mut first), 0x100),
        libc::EINVAL,
    );
    checks.fails_with(
        "getrandom into the null page",
        getrandom(Out::Bad(Bad::NullPage), 0),
        libc::EFAULT,
    );
}

fn actions(checks: &mut Checks) {
    let action = KernelSigaction::new(
        Disposition::Nothing,
        libc::SA_RESTART as u64,
        bit(libc::SIGUSR2),
    );
    let mut old = KernelSigaction::default();
    checks.equal(
        "rt_sigaction installs a handler",
        rt_sigaction(
            libc::SIGUSR1,
            In::From(&action),
            Out::To(&mut old),
            SET_SIZE,
        ),
        0,
    );
    checks.equal(
        "the old action was the default",
        old.handler(),
        libc::SIG_DFL as u64,
    );
    let mut now = KernelSigaction::default();
    checks.equal(
        "rt_sigaction reads the action back",
        rt_sigaction(libc::SIGUSR1, In::Absent, Out::To(&mut now), SET_SIZE),
        0,
    );
    checks.equal("the handler is kept", now.handler(), action.handler());
    checks.equal(
        "SA_RESTART is kept",
        now.flags & libc::SA_RESTART as u64,
        libc::SA_RESTART as u64,
    );
    checks.equal("the handler's mask is kept", now.mask, bit(libc::SIGUSR2));
    let ignore = KernelSigaction::new(Disposition::Ignore, 0, 0);
    checks.equal(
        "rt_sigaction SIG_IGN",
        rt_sigaction(
            libc::SIGUSR1,
            In::From(&ignore),
            Out::To(&mut old),
            SET_SIZE,
        ),
        0,
    );
    checks.equal(
        "the previous action comes back",
        old.handler(),
        action.handler(),
    );
    let default = KernelSigaction::new(Disposition::Default, 0, 0);
    checks.equal(
        "rt_sigaction back to SIG_DFL",
        rt_sigaction(libc::SIGUSR1, In::From(&default), Out::Absent, SET_SIZE),
        0,
    );
    checks.fails_with(
        "rt_sigaction on SIGKILL",
        rt_sigaction(libc::SIGKILL, In::From(&ignore), Out::Absent, SET_SIZE),
        libc::EINVAL,
    );
    checks.fails_with(
        "rt_sigaction on SIGSTOP",
        rt_sigaction(libc::SIGSTOP, In::From(&ignore), Out::Absent, SET_SIZE),
        libc::EINVAL,
    );
    checks.equal(
        "rt_sigaction may read SIGKILL's action",
        rt_sigaction(libc::SIGKILL, In::Absent, Out::To(&mut old), SET_SIZE),
        0,
    );
    checks.fails_with(
        "rt_sigaction on signal 0",
        rt_sigaction(0, In::From(&ignore), Out::Absent, SET_SIZE),
        libc::EINVAL,
    );
    checks.fails_with(
        "rt_sigaction on signal 65",
        rt_sigaction(65, In::From(&ignore), Out::Absent, SET_SIZE),
        libc::EINVAL,
    );
    checks.fails_with(
        "rt_sigaction with a wrong set size",
        rt_sigaction(libc::SIGUSR1, In::From(&ignore), Out::Absent, 4),
        libc::EINVAL,
    );
    checks.fails_with(
        "rt_sigaction from the null page",
        rt_sigaction(libc::SIGUSR1, In::Bad(Bad::NullPage), Out::Absent, SET_SIZE),
        libc::EFAULT,
    );
    checks.fails_with(
        "rt_sigaction into the null page",
        rt_sigaction(libc::SIGUSR1, In::Absent, Out::Bad(Bad::NullPage), SET_SIZE),
        libc::EFAULT,
    );
}

fn masks(checks: &mut Checks) {
    let mut original = 0u64;
    checks.equal(
        "rt_sigprocmask reads the mask",
        rt_sigprocmask(
            libc::SIG_BLOCK,
            In::Absent,
            Out::To(&mut original),
            SET_SIZE,
        ),
        0,
    );
    let mut mask = 0u64;
    let usr1 = bit(libc::SIGUSR1);
    checks.equal(
        "rt_sigprocmask SIG_BLOCK",
        rt_sigprocmask(
            libc::SIG_BLOCK,
            In::From(&usr1),
            Out::To(&mut mask),
            SET_SIZE,
        ),
        0,
    );
    checks.equal("SIG_BLOCK returns the old mask", mask, original);
    rt_sigprocmask(libc::SIG_BLOCK, In::Absent, Out::To(&mut mask), SET_SIZE);
    checks.equal("the signal is blocked", mask & usr1, usr1);
    checks.equal(
        "rt_sigprocmask SIG_UNBLOCK",
        rt_sigprocmask(libc::SIG_UNBLOCK, In::From(&usr1), Out::Absent, SET_SIZE),
        0,
    );
    rt_sigprocmask(libc::SIG_BLOCK, In::Absent, Out::To(&mut mask), SET_SIZE);
    checks.equal("the signal is unblocked", mask & usr1, 0);
    let unblockable = bit(libc::SIGKILL) | bit(libc::SIGSTOP) | bit(libc::SIGUSR2);
    checks.equal(
        "rt_sigprocmask SIG_SETMASK",
        rt_sigprocmask(
            libc::SIG_SETMASK,
            In::From(&unblockable),
            Out::Absent,
            SET_SIZE,
        ),
        0,
    );
    rt_sigprocmask(libc::SIG_BLOCK, In::Absent, Out::To(&mut mask), SET_SIZE);
    checks.equal(
        "SIGKILL and SIGSTOP cannot be blocked",
        mask & (bit(libc::SIGKILL) | bit(libc::SIGSTOP)),
        0,
    );
    checks.equal(
        "the rest of the new mask is kept",
        mask & bit(libc::SIGUSR2),
        bit(libc::SIGUSR2),
    );
    checks.fails_with(
        "rt_sigprocmask with an unknown how",
        rt_sigprocmask(99, In::From(&usr1), Out::Absent, SET_SIZE),
        libc::EINVAL,
    );
    checks.fails_with(
        "rt_sigprocmask with a wrong set size",
        rt_sigprocmask(libc::SIG_BLOCK, In::From(&usr1), Out::Absent, 4),
        libc::EINVAL,
    );
    checks.fails_with(
        "rt_sigprocmask from the null page",
        rt_sigprocmask(
            libc::SIG_BLOCK,
            In::Bad(Bad::NullPage),
            Out::Absent,
            SET_SIZE,
        ),
        libc::EFAULT,
    );
    checks.equal(
        "rt_sigprocmask restores the mask",
        rt_sigprocmask(
            libc::SIG_SETMASK,
            In::From(&original),
            Out::Absent,
            SET_SIZE,
        ),
        0,
    );
}

fn limits(checks: &mut Checks) {
    let resource = libc::RLIMIT_NOFILE as c_int;
    let mut files = Limit::default();
    checks.equal(
        "prlimit64 reads RLIMIT_NOFILE",
        prlimit64(0, resource, In::Absent, Out::To(&mut files)),
        0,
    );
    checks.check(
        "the soft limit is positive and at most the hard one",
        files.current > 0 && files.current <= files.maximum,
        || format!("{files:?}"),
    );
    let mut stack = Limit::default();
    checks.equal(
        "prlimit64 reads RLIMIT_STACK",
        prlimit64(
            0,
            libc::RLIMIT_STACK as c_int,
            In::Absent,
            Out::To(&mut stack),
        ),
        0,
    );
    checks.check(
        "the stack limit allows a stack",
        stack.current >= 64 << 10,
        || format!("{stack:?}"),
    );
    let lower = Limit {
        current: 100.min(files.maximum),
        maximum: files.maximum,
    };
    let mut old = Limit::default();
    checks.equal(
        "prlimit64 lowers the soft limit",
        prlimit64(0, resource, In::From(&lower), Out::To(&mut old)),
        0,
    );
    checks.equal("prlimit64 returns the old limit", old, files);
    let mut now = Limit::default();
    prlimit64(0, resource, In::Absent, Out::To(&mut now));
    checks.equal("the new limit is kept", now, lower);
    checks.fails_with(
        "no descriptor at or above the soft limit",
        dup3(1, lower.current as c_int + 5, 0),
        libc::EBADF,
    );
    checks.equal(
        "prlimit64 restores the limit",
        prlimit64(
            getpid() as libc::pid_t,
            resource,
            In::From(&files),
            Out::Absent,
        ),
        0,
    );
    let inverted = Limit {
        current: 10,
        maximum: 5,
    };
    checks.fails_with(
        "prlimit64 with soft above hard",
        prlimit64(0, resource, In::From(&inverted), Out::Absent),
        libc::EINVAL,
    );
    checks.fails_with(
        "prlimit64 of an unknown resource",
        prlimit64(0, 999, In::Absent, Out::To(&mut now)),
        libc::EINVAL,
    );
    checks.fails_with(
        "prlimit64 of a process that does not exist",
        prlimit64(999_999, resource, In::Absent, Out::To(&mut now)),
        libc::ESRCH,
    );
    checks.fails_with(
        "prlimit64 from the null page",
        prlimit64(0, resource, In::Bad(Bad::NullPage), Out::Absent),
        libc::EFAULT,
    );
}
