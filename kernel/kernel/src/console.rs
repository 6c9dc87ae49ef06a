//! The kernel's own log console: the PL011 named by `/chosen/stdout-path`, polled, transmit
//! only, behind the `log` facade.
//!
//! Records look like `[    1.234567] INFO  kernel::boot: message`: uptime from the virtual
//! counter, level, emitting module. The level comes from the `log=` boot argument. The console
//! lock is taken with IRQs masked so that an interrupt handler that logs cannot deadlock
//! against the code it interrupted. (The console the personality's users type into is a
//! user-level driver of its own, on the same register model.)

use core::fmt::{self, Write};

use aarch64_cpu::registers::{CNTFRQ_EL0, CNTVCT_EL0};
use spin::Mutex;
use tock_registers::interfaces::Readable;

use crate::arch;

struct Console {
    uart: Option<pl011::Pl011<'static>>,
}

impl Write for Console {
    fn write_str(&mut self, text: &str) -> fmt::Result {
        if let Some(uart) = &self.uart {
            uart.write_text(text);
        }
        Ok(())
    }
}

// SAFETY: the console owns a reference to the UART's MMIO registers, which are not Rust memory
// but device state shared by the whole machine; every access goes through the `Mutex` below
// (taken with IRQs masked), so the registers are never driven from two places at once.
unsafe impl Send for Console {}

static CONSOLE: Mutex<Console> = Mutex::new(Console { uart: None });

/// Start writing to the PL011 whose registers are mapped at `registers` (a kernel virtual
/// address).
///
/// # Safety
/// `registers` must be the address of a PL011 register block mapped as device memory for the
/// rest of the kernel's life, and no other code may drive that UART's transmitter.
pub unsafe fn attach_pl011(registers: u64) {
    // SAFETY: the caller guarantees a permanent device mapping of a PL011 register block; the
    // register cells are accessed only volatilely through tock-registers.
    let block: &'static pl011::Registers = unsafe { &*(registers as *const pl011::Registers) };
    let uart = pl011::Pl011::new(block);
    uart.enable();
    arch::with_interrupts_masked(|| CONSOLE.lock().uart = Some(uart));
}

/// Write formatted text to the console, bypassing the log level (banner, fatal reports).
pub fn print(arguments: fmt::Arguments<'_>) {
    arch::with_interrupts_masked(|| {
        let _ = CONSOLE.lock().write_fmt(arguments);
    });
}

/// Write formatted text even if the console lock is held: for the fatal-exception path only,
/// where the holder was interrupted and will never run again.
pub fn print_in_emergency(arguments: fmt::Arguments<'_>) {
    if CONSOLE.is_locked() {
        // SAFETY: this CPU is the only one running, it stops after the report, and the
        // interrupted holder never resumes; at worst one line is interleaved with the report.
        unsafe { CONSOLE.force_unlock() };
    }
    print(arguments);
}

/// `print!` for the kernel console.
#[macro_export]
macro_rules! kprint {
    ($($argument:tt)*) => { $crate::console::print(format_args!($($argument)*)) };
}

/// `println!` for the kernel console.
#[macro_export]
macro_rules! kprintln {
    () => { $crate::kprint!("\n") };
    ($($argument:tt)*) => { $crate::console::print(format_args!("{}\n", format_args!($($argument)*))) };
}

/// Seconds and microseconds since the counter started.
pub fn uptime() -> (u64, u64) {
    let frequency = CNTFRQ_EL0.get().max(1);
    let ticks = CNTVCT_EL0.get();
    let seconds = ticks / frequency;
    let micros = (ticks % frequency) * 1_000_000 / frequency;
    (seconds, micros)
}

struct Logger;

impl log::Log for Logger {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        metadata.level() <= log::max_level()
    }

    fn log(&self, record: &log::Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let (seconds, micros) = uptime();
        print(format_args!(
            "[{seconds:5}.{micros:06}] {:<5} {}: {}\n",
            record.level(),
            record.module_path().unwrap_or("?"),
            record.args()
        ));
    }

    fn flush(&self) {}
}

static LOGGER: Logger = Logger;

/// Route `log` records to the console at `level` and below.
pub fn start_logging(level: log::LevelFilter) {
    // A second call keeps the first logger; only the level changes.
    let _ = log::set_logger(&LOGGER);
    log::set_max_level(level);
}

/// The level named by a `log=` boot argument (`error`, `warn`, `info`, `debug`, `trace`,
/// `off`), or `None` if the word is not one of them.
pub fn parse_level(word: &str) -> Option<log::LevelFilter> {
    word.parse().ok()
}
