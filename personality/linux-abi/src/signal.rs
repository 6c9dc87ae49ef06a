//! Linux signals: numbers, default actions, `sigaction` flags and signal sets.
//!
//! Numbers come from `asm-generic/signal.h` (arm64 uses it unchanged), flags from
//! `asm-generic/signal-defs.h` plus `SA_RESTORER` from the arm64 `asm/signal.h`, and the
//! default actions from signal(7). A signal is a checked number in `1..=64` rather than an
//! enum because the 33 real-time signals have no names of their own.

/// The number of signals, `_NSIG`; signals are numbered `1..=SIGNAL_COUNT`.
pub const SIGNAL_COUNT: u8 = 64;

/// What the kernel does with a signal whose handler is `SIG_DFL` (signal(7)).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DefaultAction {
    /// Terminate the process ("Term").
    Terminate,
    /// Terminate the process and dump core ("Core").
    CoreDump,
    /// Ignore the signal ("Ign").
    Ignore,
    /// Stop the process ("Stop").
    Stop,
    /// Continue the process if it is stopped ("Cont").
    Continue,
}

/// A signal number in `1..=64`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Signal(u8);

/// Defines the named signals with their number and default action from one table.
macro_rules! named_signals {
    ($($name:ident = $number:literal, $action:ident;)*) => {
        impl Signal {
            $(
                #[doc = concat!("`", stringify!($name), "` (", stringify!($number), ").")]
                pub const $name: Signal = Signal($number);
            )*

            /// The Linux name of a standard signal (`"SIGINT"`); real-time signals are
            /// all called `"SIGRT"`.
            pub const fn name(self) -> &'static str {
                match self.0 {
                    $($number => stringify!($name),)*
                    _ => "SIGRT",
                }
            }

            /// What happens when the handler is `SIG_DFL`.
            pub const fn default_action(self) -> DefaultAction {
                match self.0 {
                    $($number => DefaultAction::$action,)*
                    _ => DefaultAction::Terminate,
                }
            }
        }
    };
}

named_signals! {
    SIGHUP = 1, Terminate;
    SIGINT = 2, Terminate;
    SIGQUIT = 3, CoreDump;
    SIGILL = 4, CoreDump;
    SIGTRAP = 5, CoreDump;
    SIGABRT = 6, CoreDump;
    SIGBUS = 7, CoreDump;
    SIGFPE = 8, CoreDump;
    SIGKILL = 9, Terminate;
    SIGUSR1 = 10, Terminate;
    SIGSEGV = 11, CoreDump;
    SIGUSR2 = 12, Terminate;
    SIGPIPE = 13, Terminate;
    SIGALRM = 14, Terminate;
    SIGTERM = 15, Terminate;
    SIGSTKFLT = 16, Terminate;
    SIGCHLD = 17, Ignore;
    SIGCONT = 18, Continue;
    SIGSTOP = 19, Stop;
    SIGTSTP = 20, Stop;
    SIGTTIN = 21, Stop;
    SIGTTOU = 22, Stop;
    SIGURG = 23, Ignore;
    SIGXCPU = 24, CoreDump;
    SIGXFSZ = 25, CoreDump;
    SIGVTALRM = 26, Terminate;
    SIGPROF = 27, Terminate;
    SIGWINCH = 28, Ignore;
    SIGIO = 29, Terminate;
    SIGPWR = 30, Terminate;
    SIGSYS = 31, CoreDump;
}

impl Signal {
    /// The first real-time signal, `SIGRTMIN` (32). musl reserves 32..=34 for itself.
    pub const SIGRTMIN: Signal = Signal(32);
    /// The last real-time signal, `SIGRTMAX` (64).
    pub const SIGRTMAX: Signal = Signal(SIGNAL_COUNT);

    /// Decodes a signal number; `None` for 0 (which `kill` uses to probe) and above 64.
    pub const fn new(number: u64) -> Option<Signal> {
        if number >= 1 && number <= SIGNAL_COUNT as u64 {
            Some(Signal(number as u8))
        } else {
            None
        }
    }

    /// The signal number.
    pub const fn number(self) -> u8 {
        self.0
    }

    /// Whether this is one of the real-time signals `SIGRTMIN..=SIGRTMAX`.
    pub const fn is_realtime(self) -> bool {
        self.0 >= Signal::SIGRTMIN.0
    }

    /// Whether a handler may be installed or the signal blocked: false for `SIGKILL` and
    /// `SIGSTOP`.
    pub const fn can_be_caught(self) -> bool {
        self.0 != Signal::SIGKILL.0 && self.0 != Signal::SIGSTOP.0
    }
}

/// `SA_NOCLDSTOP`: no `SIGCHLD` when a child stops or continues.
pub const SA_NOCLDSTOP: u64 = 0x0000_0001;
/// `SA_NOCLDWAIT`: children do not become zombies.
pub const SA_NOCLDWAIT: u64 = 0x0000_0002;
/// `SA_SIGINFO`: the handler takes `(signal, siginfo, ucontext)`.
pub const SA_SIGINFO: u64 = 0x0000_0004;
/// `SA_RESTORER`: `sa_restorer` holds the return trampoline (arm64 `asm/signal.h`).
pub const SA_RESTORER: u64 = 0x0400_0000;
/// `SA_ONSTACK`: run the handler on the alternate signal stack.
pub const SA_ONSTACK: u64 = 0x0800_0000;
/// `SA_RESTART`: restart interrupted calls instead of failing with `EINTR`.
pub const SA_RESTART: u64 = 0x1000_0000;
/// `SA_NODEFER`: do not block the signal while its handler runs.
pub const SA_NODEFER: u64 = 0x4000_0000;
/// `SA_RESETHAND`: reset the handler to `SIG_DFL` on delivery.
pub const SA_RESETHAND: u64 = 0x8000_0000;

/// `SIG_DFL`, the handler value for the default action.
pub const SIG_DFL: u64 = 0;
/// `SIG_IGN`, the handler value that ignores the signal.
pub const SIG_IGN: u64 = 1;

/// `rt_sigprocmask` how: add the set to the mask.
pub const SIG_BLOCK: u64 = 0;
/// `rt_sigprocmask` how: remove the set from the mask.
pub const SIG_UNBLOCK: u64 = 1;
/// `rt_sigprocmask` how: replace the mask.
pub const SIG_SETMASK: u64 = 2;

/// `MINSIGSTKSZ` on arm64.
pub const MINSIGSTKSZ: u64 = 5120;
/// `SIGSTKSZ` on arm64.
pub const SIGSTKSZ: u64 = 16384;

/// The kernel's `sigset_t` on arm64: bit `n - 1` stands for signal `n`. `rt_sigaction` and
/// `rt_sigprocmask` require `sigsetsize == 8`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[repr(transparent)]
pub struct SignalSet(pub u64);

impl SignalSet {
    /// The set's size in bytes, the only `sigsetsize` the kernel accepts.
    pub const SIZE: u64 = 8;
    /// The empty set.
    pub const EMPTY: SignalSet = SignalSet(0);

    const fn bit(signal: Signal) -> u64 {
        1 << (signal.0 - 1)
    }

    /// The set holding just `signal`.
    pub const fn of(signal: Signal) -> SignalSet {
        SignalSet(SignalSet::bit(signal))
    }

    /// Adds `signal`.
    pub fn add(&mut self, signal: Signal) {
        self.0 |= SignalSet::bit(signal);
    }

    /// Removes `signal`.
    pub fn remove(&mut self, signal: Signal) {
        self.0 &= !SignalSet::bit(signal);
    }

    /// Whether `signal` is in the set.
    pub const fn contains(self, signal: Signal) -> bool {
        self.0 & SignalSet::bit(signal) != 0
    }

    /// Whether the set is empty.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The signals in either set.
    pub const fn union(self, other: SignalSet) -> SignalSet {
        SignalSet(self.0 | other.0)
    }

    /// The signals in `self` but not in `other`.
    pub const fn difference(self, other: SignalSet) -> SignalSet {
        SignalSet(self.0 & !other.0)
    }

    /// The set without `SIGKILL` and `SIGSTOP`, which can never be blocked: what the
    /// kernel stores when a process asks to block `self`.
    pub const fn blockable(self) -> SignalSet {
        self.difference(SignalSet::of(Signal::SIGKILL).union(SignalSet::of(Signal::SIGSTOP)))
    }

    /// The lowest-numbered signal in the set, the one Linux delivers first among
    /// standard signals.
    pub const fn lowest(self) -> Option<Signal> {
        if self.0 == 0 {
            None
        } else {
            Some(Signal(self.0.trailing_zeros() as u8 + 1))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signal_numbers_match_the_generic_header() {
        assert_eq!(Signal::SIGHUP.number(), 1);
        assert_eq!(Signal::SIGINT.number(), 2);
        assert_eq!(Signal::SIGKILL.number(), 9);
        assert_eq!(Signal::SIGSEGV.number(), 11);
        assert_eq!(Signal::SIGPIPE.number(), 13);
        assert_eq!(Signal::SIGCHLD.number(), 17);
        assert_eq!(Signal::SIGCONT.number(), 18);
        assert_eq!(Signal::SIGSTOP.number(), 19);
        assert_eq!(Signal::SIGTSTP.number(), 20);
        assert_eq!(Signal::SIGTTOU.number(), 22);
        assert_eq!(Signal::SIGWINCH.number(), 28);
        assert_eq!(Signal::SIGSYS.number(), 31);
        assert_eq!(Signal::SIGRTMIN.number(), 32);
        assert_eq!(Signal::SIGRTMAX.number(), 64);
        assert_eq!(Signal::SIGTSTP.name(), "SIGTSTP");
        assert_eq!(Signal::SIGRTMIN.name(), "SIGRT");
    }

    #[test]
    fn only_numbers_one_to_sixty_four_are_signals() {
        assert_eq!(Signal::new(0), None);
        assert_eq!(Signal::new(65), None);
        assert_eq!(Signal::new(1), Some(Signal::SIGHUP));
        assert_eq!(Signal::new(64), Some(Signal::SIGRTMAX));
        assert!(Signal::new(40).unwrap().is_realtime());
        assert!(!Signal::SIGSYS.is_realtime());
    }

    #[test]
    fn default_actions_follow_signal_seven() {
        assert_eq!(Signal::SIGHUP.default_action(), DefaultAction::Terminate);
        assert_eq!(Signal::SIGQUIT.default_action(), DefaultAction::CoreDump);
        assert_eq!(Signal::SIGSEGV.default_action(), DefaultAction::CoreDump);
        assert_eq!(Signal::SIGKILL.default_action(), DefaultAction::Terminate);
        assert_eq!(Signal::SIGPIPE.default_action(), DefaultAction::Terminate);
        assert_eq!(Signal::SIGCHLD.default_action(), DefaultAction::Ignore);
        assert_eq!(Signal::SIGURG.default_action(), DefaultAction::Ignore);
        assert_eq!(Signal::SIGWINCH.default_action(), DefaultAction::Ignore);
        assert_eq!(Signal::SIGCONT.default_action(), DefaultAction::Continue);
        for stop in [
            Signal::SIGSTOP,
            Signal::SIGTSTP,
            Signal::SIGTTIN,
            Signal::SIGTTOU,
        ] {
            assert_eq!(stop.default_action(), DefaultAction::Stop);
        }
        assert_eq!(Signal::SIGRTMIN.default_action(), DefaultAction::Terminate);
    }

    #[test]
    fn sigaction_flags_match_the_headers() {
        assert_eq!(SA_NOCLDSTOP, 1);
        assert_eq!(SA_SIGINFO, 4);
        assert_eq!(SA_RESTORER, 0x0400_0000);
        assert_eq!(SA_ONSTACK, 0x0800_0000);
        assert_eq!(SA_RESTART, 0x1000_0000);
        assert_eq!(SA_NODEFER, 0x4000_0000);
        assert_eq!(SA_RESETHAND, 0x8000_0000);
        assert_eq!((SIG_BLOCK, SIG_UNBLOCK, SIG_SETMASK), (0, 1, 2));
    }

    #[test]
    fn a_signal_set_holds_signal_n_in_bit_n_minus_one() {
        let mut set = SignalSet::EMPTY;
        set.add(Signal::SIGHUP);
        set.add(Signal::SIGCHLD);
        set.add(Signal::SIGRTMAX);
        assert_eq!(set.0, 1 | 1 << 16 | 1 << 63);
        assert!(set.contains(Signal::SIGCHLD));
        assert!(!set.contains(Signal::SIGINT));
        set.remove(Signal::SIGHUP);
        assert!(!set.contains(Signal::SIGHUP));
        assert_eq!(set.lowest(), Some(Signal::SIGCHLD));
        assert_eq!(SignalSet::EMPTY.lowest(), None);
    }

    #[test]
    fn sigkill_and_sigstop_can_never_be_blocked() {
        let everything = SignalSet(u64::MAX).blockable();
        assert!(!everything.contains(Signal::SIGKILL));
        assert!(!everything.contains(Signal::SIGSTOP));
        assert!(everything.contains(Signal::SIGTSTP));
        assert!(!Signal::SIGKILL.can_be_caught());
        assert!(Signal::SIGTERM.can_be_caught());
    }
}
