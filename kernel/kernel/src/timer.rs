//! The periodic tick from the ARM generic timer's EL1 virtual timer (CNTV).
//!
//! The tick is the kernel's only notion of time: it will drive time slices and IPC timeouts
//! (kernel-core issue). The comparator is advanced by a fixed interval from its previous
//! deadline, not from "now", so ticks do not drift when an interrupt is taken late; if the
//! kernel fell more than a tick behind, the next deadline restarts from now instead of
//! storming. EL0 may read the virtual counter (CNTKCTL_EL1.EL0VCTEN), as on Linux, so user
//! programs can time themselves without a kernel call.

use core::sync::atomic::{AtomicU64, Ordering};

use aarch64_cpu::registers::{CNTFRQ_EL0, CNTKCTL_EL1, CNTV_CTL_EL0, CNTV_CVAL_EL0, CNTVCT_EL0};
use tock_registers::interfaces::{ReadWriteable, Readable, Writeable};

static TICKS: AtomicU64 = AtomicU64::new(0);
static INTERVAL: AtomicU64 = AtomicU64::new(0);

/// Default tick rate, overridable with the `hz=` boot argument.
pub const DEFAULT_HZ: u64 = 100;

/// Accepted range for `hz=`.
pub const HZ_RANGE: core::ops::RangeInclusive<u64> = 1..=10_000;

/// The counter frequency in Hz (CNTFRQ_EL0, set by firmware; QEMU: 62.5 MHz).
pub fn frequency() -> u64 {
    CNTFRQ_EL0.get()
}

/// Start ticking at `hz` per second. The caller attaches [`on_interrupt`] to the virtual
/// timer's interrupt line.
pub fn start(hz: u64) {
    let interval = (frequency() / hz.max(1)).max(1);
    INTERVAL.store(interval, Ordering::Relaxed);
    CNTKCTL_EL1.modify(CNTKCTL_EL1::EL0VCTEN::SET);
    CNTV_CVAL_EL0.set(CNTVCT_EL0.get() + interval);
    CNTV_CTL_EL0.write(CNTV_CTL_EL0::ENABLE::SET + CNTV_CTL_EL0::IMASK::CLEAR);
}

/// The timer interrupt: count the tick, set the next deadline.
pub fn on_interrupt(_intid: u32) {
    let interval = INTERVAL.load(Ordering::Relaxed);
    let now = CNTVCT_EL0.get();
    let mut deadline = CNTV_CVAL_EL0.get() + interval;
    if deadline <= now {
        deadline = now + interval;
    }
    CNTV_CVAL_EL0.set(deadline);
    let ticks = TICKS.fetch_add(1, Ordering::Relaxed) + 1;
    let hz = hz();
    if hz > 0 && ticks.is_multiple_of(hz) {
        log::debug!("tick {ticks}: {} s of ticks", ticks / hz);
    }
}

#[cfg_attr(
    not(feature = "ktest"),
    allow(
        dead_code,
        reason = "read by the test scenarios; the scheduler comes next"
    )
)]
/// Ticks since [`start`].
pub fn ticks() -> u64 {
    TICKS.load(Ordering::Relaxed)
}

/// The tick rate [`start`] set up (ticks per second).
pub fn hz() -> u64 {
    frequency() / INTERVAL.load(Ordering::Relaxed).max(1)
}
