//! Pure aarch64 architecture formats: translation table descriptors and their builder,
//! ESR_EL1 and SPSR_EL1 decoding, and the layout of the trap frame.
//!
//! Why a crate of its own: these are facts of the architecture (the Arm ARM, DDI 0487), not
//! of our kernel's design, and getting a bit wrong in them is silent until the MMU or an
//! exception proves it. Kept free of hardware access (no asm, no system registers, plain
//! values in and out), they are unit-tested on the host with `cargo test -p aarch64`; the
//! kernel binary reads and writes the registers and hands the values to this crate.
//!
//! - [`page_table`]: VMSAv8-64 stage 1 tables (4 KiB granule, 48-bit VA), MAIR_EL1 layout,
//!   `map`/`unmap`/`translate` over an abstract table memory.
//! - [`exception`]: decoding of saved ESR_EL1 (exception class, fault status) and SPSR_EL1
//!   values for routing and for fatal-exception reports.
//! - [`trap_frame`]: the register frame the exception vectors save, with the offsets the
//!   vector assembly uses.

#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod exception;
pub mod page_table;
pub mod trap_frame;
