//! What the server is told at boot: the default system-call path, the random seed, the
//! clocks' origin, the `uname` strings and the client address-space layout.
//!
//! Everything the glue knows and the pure server cannot find out for itself comes in here
//! once, so that no answer the server gives depends on a hidden constant: the tests build a
//! [`Config`] of their own and check the answers follow it.

use alloc::vec;
use core::ops::Range;

use linux_abi::layout::UtsName;
use protocol::SystemCallPath;
use protocol::layout::{RESERVED_START, SAVE_AREA, USER_END};

use super::interface::Nanoseconds;
use crate::memory::{
    DEFAULT_MINIMUM_ADDRESS, DEFAULT_STACK_GUARD_GAP, DEFAULT_STATIC_PIE_BASE, Layout,
    LayoutSettings,
};

/// How far below the stack top the `mmap` area starts (the stack's room to grow): 4 GiB, as
/// the memory module's default layout.
const STACK_ROOM: u64 = 0x1_0000_0000;

/// The range the server reserves in every client (UTCB area and trampoline, to the end of
/// the user range): never mapped, never handed out.
pub const CLIENT_RESERVED: Range<u64> = RESERVED_START..USER_END;

/// The layout of every client: the default shape below `protocol::layout`'s reserved range,
/// with the stack top at the save area (the stack grows down from just below it) and the
/// `mmap` area 4 GiB below that.
pub fn client_layout() -> Layout {
    let settings = LayoutSettings {
        minimum_address: DEFAULT_MINIMUM_ADDRESS,
        user_end: USER_END,
        stack_top: SAVE_AREA,
        mmap_base: SAVE_AREA - STACK_ROOM,
        static_pie_base: DEFAULT_STATIC_PIE_BASE,
        stack_guard_gap: DEFAULT_STACK_GUARD_GAP,
        reserved: vec![CLIENT_RESERVED],
    };
    // The values are constants that a test checks; a refusal is a build error in spirit.
    Layout::new(settings).unwrap_or_default()
}

/// `uname`'s answer: Linux's system name and machine, a release that C libraries and
/// busybox accept as a modern kernel, and the node name `l4`.
pub fn default_uname() -> UtsName {
    UtsName {
        system_name: UtsName::field(b"Linux"),
        node_name: UtsName::field(b"l4"),
        release: UtsName::field(b"6.1.0-l4"),
        version: UtsName::field(b"#1 SMP PREEMPT L4 personality"),
        machine: UtsName::field(b"aarch64"),
        domain_name: UtsName::field(b"(none)"),
    }
}

/// The server's configuration; [`Config::new`] fills in everything but the two values the
/// glue must choose.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// The path of programs whose `execve` environment does not choose one
    /// (`personality.syscall_path=`).
    pub default_system_call_path: SystemCallPath,
    /// The key of the random generator behind `getrandom` and `AT_RANDOM`. The generator is
    /// ChaCha20, but its output is only as unpredictable as this seed: whatever the glue
    /// had at boot (the timer counter), so it is **not** fit for secrets.
    pub random_seed: [u8; 32],
    /// `CLOCK_REALTIME` at monotonic time zero (there is no real-time clock driver yet, so
    /// 0: the epoch).
    pub wall_clock_at_start: Nanoseconds,
    /// What `clock_getres` reports: the period of the counter the glue reads.
    pub clock_resolution: Nanoseconds,
    /// The CPUs clients may run on (`sched_getaffinity`); they run on CPU 0 until SMP.
    pub cpu_count: u32,
    /// `uname`'s answer.
    pub uname: UtsName,
    /// The layout of every client address space.
    pub layout: Layout,
}

impl Config {
    /// A configuration with the given path and seed; time starts at the epoch with a 1 ns
    /// resolution, one CPU, [`default_uname`] and [`client_layout`].
    pub fn new(default_system_call_path: SystemCallPath, random_seed: [u8; 32]) -> Config {
        Config {
            default_system_call_path,
            random_seed,
            wall_clock_at_start: Nanoseconds::ZERO,
            clock_resolution: Nanoseconds(1),
            cpu_count: 1,
            uname: default_uname(),
            layout: client_layout(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_client_layout_puts_the_stack_below_the_save_area_and_reserves_the_top() {
        let layout = client_layout();
        assert_eq!(
            layout.stack_top(),
            SAVE_AREA,
            "the settings passed the layout's checks"
        );
        assert_eq!(layout.reserved(), [CLIENT_RESERVED]);
        assert!(layout.mmap_base() < layout.stack_top());
        assert!(!layout.overlaps_reserved(&(SAVE_AREA..SAVE_AREA + 4096)));
    }

    #[test]
    fn the_default_configuration_answers_as_linux_on_one_cpu() {
        let config = Config::new(SystemCallPath::ExceptionIpc, [1; 32]);
        assert_eq!(
            config.default_system_call_path,
            SystemCallPath::ExceptionIpc
        );
        assert_eq!(config.cpu_count, 1);
        assert_eq!(config.uname.system_name, UtsName::field(b"Linux"));
        assert_eq!(config.wall_clock_at_start, Nanoseconds::ZERO);
    }
}
