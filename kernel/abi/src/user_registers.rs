//! The register state of an EL0 thread, as the kernel hands it to user level: in a
//! reflected Linux system call (the UTCB's reflected-trap area) and in an exception
//! message.
//!
//! The order is the kernel's trap frame order (x0..x30, SP_EL0, ELR_EL1, SPSR_EL1), so the
//! kernel copies its saved frame as one block and the trampoline restores it with `ldp`
//! pairs. User level may write back x0..x30, SP and PC freely (they are the thread's own),
//! but of PSTATE only the condition flags NZCV: everything else in SPSR (exception level,
//! interrupt masks, single-step) is the kernel's, and [`UserRegisters::sanitized_pstate`]
//! keeps the current value of those bits.

use core::mem::{offset_of, size_of};

/// x0..x30, SP, PC and PSTATE of an EL0 thread.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct UserRegisters {
    /// x0..x30 (x30 is the link register).
    pub x: [u64; 31],
    /// SP_EL0.
    pub sp: u64,
    /// The PC to resume at (ELR_EL1). After an `svc` it points to the instruction after
    /// the `svc`; after a fault, to the faulting instruction.
    pub pc: u64,
    /// PSTATE as saved in SPSR_EL1.
    pub pstate: u64,
}

/// The register state a trampoline finds in its UTCB after the kernel reflected a
/// `svc #0` (the name the UTCB layout uses for [`UserRegisters`]).
pub type ReflectedTrap = UserRegisters;

impl UserRegisters {
    /// Words in the structure.
    pub const WORDS: usize = 34;
    /// Bytes in the structure.
    pub const SIZE: usize = size_of::<UserRegisters>();
    /// Offset of x0; xN is at `OFFSET_X + 8 * N`.
    pub const OFFSET_X: usize = offset_of!(UserRegisters, x);
    /// Offset of SP.
    pub const OFFSET_SP: usize = offset_of!(UserRegisters, sp);
    /// Offset of PC.
    pub const OFFSET_PC: usize = offset_of!(UserRegisters, pc);
    /// Offset of PSTATE.
    pub const OFFSET_PSTATE: usize = offset_of!(UserRegisters, pstate);
    /// Word index of SP.
    pub const SP_WORD: usize = 31;
    /// Word index of PC.
    pub const PC_WORD: usize = 32;
    /// Word index of PSTATE.
    pub const PSTATE_WORD: usize = 33;
    /// The PSTATE bits user level may set: N, Z, C, V (bits 31..28).
    pub const USER_PSTATE_MASK: u64 = 0xF000_0000;

    /// All registers zero.
    pub const fn zeroed() -> UserRegisters {
        UserRegisters {
            x: [0; 31],
            sp: 0,
            pc: 0,
            pstate: 0,
        }
    }

    /// PSTATE with the user-settable bits from `requested` and every other bit from
    /// `current`.
    pub const fn sanitized_pstate(current: u64, requested: u64) -> u64 {
        (current & !UserRegisters::USER_PSTATE_MASK) | (requested & UserRegisters::USER_PSTATE_MASK)
    }

    /// The registers as words in message order.
    pub const fn to_words(&self) -> [u64; UserRegisters::WORDS] {
        let mut words = [0; UserRegisters::WORDS];
        let mut index = 0;
        while index < 31 {
            words[index] = self.x[index];
            index += 1;
        }
        words[UserRegisters::SP_WORD] = self.sp;
        words[UserRegisters::PC_WORD] = self.pc;
        words[UserRegisters::PSTATE_WORD] = self.pstate;
        words
    }

    /// The registers from words in message order.
    pub const fn from_words(words: &[u64; UserRegisters::WORDS]) -> UserRegisters {
        let mut registers = UserRegisters::zeroed();
        let mut index = 0;
        while index < 31 {
            registers.x[index] = words[index];
            index += 1;
        }
        registers.sp = words[UserRegisters::SP_WORD];
        registers.pc = words[UserRegisters::PC_WORD];
        registers.pstate = words[UserRegisters::PSTATE_WORD];
        registers
    }

    /// Overwrites the first `min(words.len(), 34)` registers in message order with `words`,
    /// PSTATE sanitized; the rest stay. This is how the kernel applies an exception reply
    /// (its untyped words) and how it resumes a reflected trap (all 34).
    pub const fn apply_words(&mut self, words: &[u64]) {
        let mut index = 0;
        while index < words.len() && index < UserRegisters::WORDS {
            let value = words[index];
            match index {
                UserRegisters::SP_WORD => self.sp = value,
                UserRegisters::PC_WORD => self.pc = value,
                UserRegisters::PSTATE_WORD => {
                    self.pstate = UserRegisters::sanitized_pstate(self.pstate, value);
                }
                _ => self.x[index] = value,
            }
            index += 1;
        }
    }
}

// No padding: 34 words; 16-byte multiple so that a frame stays aligned for `ldp`/`stp`.
const _: () = assert!(UserRegisters::SIZE == UserRegisters::WORDS * 8);
const _: () = assert!(UserRegisters::SIZE.is_multiple_of(16));
const _: () = assert!(UserRegisters::OFFSET_X == 0);
const _: () = assert!(UserRegisters::OFFSET_SP == UserRegisters::SP_WORD * 8);
const _: () = assert!(UserRegisters::OFFSET_PC == UserRegisters::PC_WORD * 8);
const _: () = assert!(UserRegisters::OFFSET_PSTATE == UserRegisters::PSTATE_WORD * 8);

#[cfg(test)]
mod tests {
    use super::*;

    fn numbered() -> UserRegisters {
        let mut registers = UserRegisters::zeroed();
        for (number, register) in registers.x.iter_mut().enumerate() {
            *register = number as u64 + 100;
        }
        registers.sp = 0x7FFF_F000;
        registers.pc = 0x40_1004;
        registers.pstate = 0x6000_0000;
        registers
    }

    #[test]
    fn the_layout_is_the_trap_frame_order() {
        assert_eq!(UserRegisters::SIZE, 272);
        assert_eq!(UserRegisters::OFFSET_SP, 248);
        assert_eq!(UserRegisters::OFFSET_PC, 256);
        assert_eq!(UserRegisters::OFFSET_PSTATE, 264);
    }

    #[test]
    fn words_round_trip_in_message_order() {
        let registers = numbered();
        let words = registers.to_words();
        assert_eq!(words[0], 100);
        assert_eq!(words[30], 130);
        assert_eq!(
            (words[31], words[32], words[33]),
            (0x7FFF_F000, 0x40_1004, 0x6000_0000)
        );
        assert_eq!(UserRegisters::from_words(&words), registers);
    }

    #[test]
    fn a_short_reply_sets_only_the_first_registers() {
        let mut registers = numbered();
        registers.apply_words(&[42]);
        assert_eq!(registers.x[0], 42);
        assert_eq!(registers.x[1], 101);
        assert_eq!(registers.pc, 0x40_1004);
        registers.apply_words(&[]);
        assert_eq!(registers.x[0], 42);
    }

    #[test]
    fn a_full_reply_sets_everything_but_only_the_flags_of_pstate() {
        let mut registers = numbered();
        registers.pstate = 0x0000_03C0; // EL0t with DAIF masked: the kernel's bits
        let mut words = [7u64; 36];
        words[UserRegisters::PSTATE_WORD] = 0xFFFF_FFFF_FFFF_FFFF;
        registers.apply_words(&words);
        assert_eq!(registers.x, [7; 31]);
        assert_eq!((registers.sp, registers.pc), (7, 7));
        assert_eq!(registers.pstate, 0xF000_03C0);
    }

    #[test]
    fn sanitizing_keeps_everything_but_nzcv() {
        assert_eq!(
            UserRegisters::sanitized_pstate(0x3C5, 0xF000_0000),
            0xF000_03C5
        );
        assert_eq!(UserRegisters::sanitized_pstate(0xF000_0000, 0x3C5), 0);
        assert_eq!(
            UserRegisters::sanitized_pstate(0x20_0000, 0x20_0000 | 0x4000_0000),
            0x4020_0000
        );
    }
}
