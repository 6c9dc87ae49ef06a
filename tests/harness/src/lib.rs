//! The QEMU test harness: the one place that knows how to start QEMU.
//!
//! `make run` and `make debug` (through the `qemu` binary) and every integration test in
//! `tests/` boot through the same [`Machine`], so a scenario that passes in a test boots the
//! same way by hand. [`run`] captures the serial port, stops at an exit, a sentinel line or a
//! deadline without sleeping, always reaps QEMU, and the assertions on [`Run`] print the
//! whole serial log when they fail.
//!
//! ```no_run
//! use std::time::Duration;
//! use harness::{Machine, Until, image_path, run};
//!
//! let machine = Machine::new(image_path("kernel.bin")).with_initrd(image_path("initrd.cpio"));
//! let run = run(&machine, Until::Exit, Duration::from_secs(10)).expect("QEMU starts");
//! run.assert_contains("hello");
//! run.assert_exited_cleanly();
//! ```

#![forbid(unsafe_code)]

mod assertions;
mod images;
mod machine;
mod runner;

pub use assertions::{LOG_END_MARKER, LOG_START_MARKER};
pub use images::{
    IMAGES_DIRECTORY_VARIABLE, find_image, image_path, images_directory, workspace_root,
};
pub use machine::{Console, GicVersion, Machine, QEMU_PROGRAM};
pub use runner::{
    HarnessError, Run, Step, Until, run, run_command, run_command_with_input, run_dialogue,
    run_with_input,
};
