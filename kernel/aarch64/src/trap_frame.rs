//! The register frame the exception vectors save on entry to EL1 and restore on return.
//!
//! The layout is shared by the vector assembly and Rust: the assembly addresses the fields
//! only through the `OFFSET_*` constants and [`TRAP_FRAME_SIZE`] (passed in as `const`
//! operands of `global_asm!`), so the two cannot drift apart. Compile-time assertions pin
//! what the assembly relies on: 16-byte stack alignment and pairs of fields that `stp`/`ldp`
//! move together.

use core::fmt;
use core::mem::{offset_of, size_of};

use crate::exception::{SavedProgramStatus, Syndrome};

/// The state of the interrupted code, saved by the exception vectors.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TrapFrame {
    /// General-purpose registers x0 to x30 (x30 is the link register).
    pub x: [u64; 31],
    /// SP_EL0: the stack pointer of EL0 (and of EL1 in EL1t mode).
    pub sp_el0: u64,
    /// ELR_EL1: the address the exception returns to.
    pub elr: u64,
    /// SPSR_EL1: the PSTATE the exception returns to.
    pub spsr: u64,
    /// ESR_EL1: why the exception was taken (meaningful for synchronous exceptions and
    /// SErrors).
    pub esr: u64,
    /// FAR_EL1: the faulting address, when [`Syndrome::far_is_valid`] says so.
    pub far: u64,
}

/// Size of [`TrapFrame`] in bytes: what the vectors subtract from SP.
pub const TRAP_FRAME_SIZE: usize = size_of::<TrapFrame>();
/// Offset of x0 in [`TrapFrame`]; xN is at `OFFSET_X + 8 * N`.
pub const OFFSET_X: usize = offset_of!(TrapFrame, x);
/// Offset of SP_EL0 in [`TrapFrame`].
pub const OFFSET_SP_EL0: usize = offset_of!(TrapFrame, sp_el0);
/// Offset of ELR_EL1 in [`TrapFrame`].
pub const OFFSET_ELR: usize = offset_of!(TrapFrame, elr);
/// Offset of SPSR_EL1 in [`TrapFrame`].
pub const OFFSET_SPSR: usize = offset_of!(TrapFrame, spsr);
/// Offset of ESR_EL1 in [`TrapFrame`].
pub const OFFSET_ESR: usize = offset_of!(TrapFrame, esr);
/// Offset of FAR_EL1 in [`TrapFrame`].
pub const OFFSET_FAR: usize = offset_of!(TrapFrame, far);

// SP must stay 16-byte aligned at EL1 (SCTLR_EL1.SA).
const _: () = assert!(TRAP_FRAME_SIZE.is_multiple_of(16));
// x0..x30 are saved in pairs by `stp`, then x30 with SP_EL0.
const _: () = assert!(OFFSET_X == 0);
const _: () = assert!(OFFSET_SP_EL0 == OFFSET_X + 31 * 8);
// ELR and SPSR are saved as one pair, ESR and FAR as another.
const _: () = assert!(OFFSET_SPSR == OFFSET_ELR + 8);
const _: () = assert!(OFFSET_FAR == OFFSET_ESR + 8);
const _: () = assert!(OFFSET_ELR.is_multiple_of(16) && OFFSET_ESR.is_multiple_of(16));
// No hidden padding: every field is a u64, the frame is 36 of them.
const _: () = assert!(TRAP_FRAME_SIZE == 36 * 8);

impl TrapFrame {
    /// A frame of zeroes.
    pub const fn zeroed() -> TrapFrame {
        TrapFrame {
            x: [0; 31],
            sp_el0: 0,
            elr: 0,
            spsr: 0,
            esr: 0,
            far: 0,
        }
    }

    /// The saved ESR_EL1, decoded on demand.
    pub const fn syndrome(&self) -> Syndrome {
        Syndrome::new(self.esr)
    }

    /// The saved SPSR_EL1, decoded on demand.
    pub const fn saved_program_status(&self) -> SavedProgramStatus {
        SavedProgramStatus::new(self.spsr)
    }

    /// The general-purpose registers as a table of four per line, for fault reports.
    pub const fn general_registers(&self) -> GeneralRegisters<'_> {
        GeneralRegisters { x: &self.x }
    }
}

/// Displays x0 to x30 four per line: `x0 =0000000000000000 x1 =...`. See
/// [`TrapFrame::general_registers`].
#[derive(Clone, Copy, Debug)]
pub struct GeneralRegisters<'frame> {
    x: &'frame [u64; 31],
}

impl fmt::Display for GeneralRegisters<'_> {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (number, value) in self.x.iter().enumerate() {
            let separator = match number {
                0 => "",
                _ if number % 4 == 0 => "\n",
                _ => " ",
            };
            write!(formatter, "{separator}x{number:<2}={value:016x}")?;
        }
        Ok(())
    }
}

impl fmt::Display for TrapFrame {
    /// The fatal-exception report: the general registers, then the special registers with
    /// SPSR and ESR decoded. Lines are separated by newlines, with none after the last.
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(formatter, "{}", self.general_registers())?;
        writeln!(
            formatter,
            "sp_el0={:016x} elr={:016x} far={:016x}",
            self.sp_el0, self.elr, self.far
        )?;
        writeln!(
            formatter,
            "spsr={:016x} {}",
            self.spsr,
            self.saved_program_status()
        )?;
        write!(formatter, "esr={:016x} {}", self.esr, self.syndrome())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_frame_holds_thirty_six_registers_and_keeps_the_stack_aligned() {
        assert_eq!(TRAP_FRAME_SIZE, 288);
        assert_eq!(TRAP_FRAME_SIZE % 16, 0);
    }

    #[test]
    fn offsets_follow_the_documented_layout() {
        assert_eq!(OFFSET_X, 0);
        assert_eq!(OFFSET_SP_EL0, 248);
        assert_eq!(OFFSET_ELR, 256);
        assert_eq!(OFFSET_SPSR, 264);
        assert_eq!(OFFSET_ESR, 272);
        assert_eq!(OFFSET_FAR, 280);
    }

    #[test]
    fn general_registers_print_four_per_line_with_aligned_names() {
        let mut frame = TrapFrame::zeroed();
        for (number, register) in frame.x.iter_mut().enumerate() {
            *register = 0x1111_1111_1111_1111 * (number as u64 % 16);
        }
        frame.x[30] = 0xdead_beef;
        let text = frame.general_registers().to_string();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 8);
        assert_eq!(
            lines[0],
            "x0 =0000000000000000 x1 =1111111111111111 x2 =2222222222222222 x3 =3333333333333333"
        );
        assert_eq!(
            lines[2],
            "x8 =8888888888888888 x9 =9999999999999999 x10=aaaaaaaaaaaaaaaa x11=bbbbbbbbbbbbbbbb"
        );
        assert_eq!(
            lines[7],
            "x28=cccccccccccccccc x29=dddddddddddddddd x30=00000000deadbeef"
        );
        assert!(!text.ends_with('\n'));
    }

    #[test]
    fn the_report_decodes_spsr_and_esr() {
        let frame = TrapFrame {
            sp_el0: 0x7fff_f000,
            elr: 0x40_1000,
            spsr: 0x6000_0000,
            esr: 0x9200_0047,
            far: 0x1234_5000,
            ..TrapFrame::zeroed()
        };
        let text = frame.to_string();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 11);
        assert_eq!(
            lines[8],
            "sp_el0=000000007ffff000 elr=0000000000401000 far=0000000012345000"
        );
        assert_eq!(lines[9], "spsr=0000000060000000 EL0t daif=daif nzcv=nZCv");
        assert_eq!(
            lines[10],
            "esr=0000000092000047 Data Abort from a lower Exception level (EC 0x24): \
             translation fault, level 3, write"
        );
    }

    #[test]
    fn accessors_wrap_the_saved_values() {
        let frame = TrapFrame {
            spsr: 0x3c5,
            esr: 0x5600_0000,
            ..TrapFrame::default()
        };
        assert_eq!(frame.syndrome().raw(), 0x5600_0000);
        assert_eq!(frame.saved_program_status().raw(), 0x3c5);
    }
}
