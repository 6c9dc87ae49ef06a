//! What a client asked for (a [`Protection`]), what it was given (a set of [`Rights`]) and
//! what it tried to do (an [`Access`]).
//!
//! Two types because the two differ on aarch64: a client may ask for `PROT_WRITE` or
//! `PROT_EXEC` alone, but a stage-1 page that is writable or executable at EL0 is also
//! readable there (without FEAT_EPAN, which the Cortex-A72 lacks, and the kernel maps no
//! execute-only pages), so such a page is mapped with read added, as Linux on arm64 does. The
//! area keeps the protection the client asked for (it is what `/proc/self/maps` would show);
//! the page table keeps the rights actually given, which copy-on-write will later make smaller
//! than the area's.

use core::fmt;
use core::ops::{BitAnd, BitOr};

use linux_abi::memory::{PROT_EXEC, PROT_READ, PROT_WRITE};

/// The `PROT_SEM` bit: accepted by Linux on every architecture and meaningless here.
const PROT_SEM: u32 = 0x8;

/// A kind of memory access: what a page fault reports and what a user copy needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Access {
    /// A load (or a server read of user memory).
    Read,
    /// A store (or a server write to user memory).
    Write,
    /// An instruction fetch.
    Execute,
}

/// Access rights of a mapping, with the bit values of the kernel's flexpage rights (read 4,
/// write 2, execute 1) so the glue converts them with one `from_bits`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Rights(u8);

impl Rights {
    /// No access.
    pub const NONE: Rights = Rights(0);
    /// Execute, bit 0.
    pub const EXECUTE: Rights = Rights(0b001);
    /// Write, bit 1.
    pub const WRITE: Rights = Rights(0b010);
    /// Read, bit 2.
    pub const READ: Rights = Rights(0b100);
    /// Read and write.
    pub const READ_WRITE: Rights = Rights(0b110);
    /// Read and execute.
    pub const READ_EXECUTE: Rights = Rights(0b101);
    /// Every right.
    pub const ALL: Rights = Rights(0b111);

    /// The rights as bits 2..0 (read, write, execute), the flexpage encoding.
    pub const fn bits(self) -> u8 {
        self.0
    }

    /// Whether every right of `other` is in `self`.
    pub const fn contains(self, other: Rights) -> bool {
        self.0 & other.0 == other.0
    }

    /// Whether no right is set.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The rights of `self` that are not in `other`.
    pub const fn without(self, other: Rights) -> Rights {
        Rights(self.0 & !other.0)
    }

    /// Whether these rights permit `access`.
    pub const fn allow(self, access: Access) -> bool {
        self.contains(Rights::of(access))
    }

    /// The single right an access needs.
    pub const fn of(access: Access) -> Rights {
        match access {
            Access::Read => Rights::READ,
            Access::Write => Rights::WRITE,
            Access::Execute => Rights::EXECUTE,
        }
    }
}

impl BitOr for Rights {
    type Output = Rights;

    fn bitor(self, other: Rights) -> Rights {
        Rights(self.0 | other.0)
    }
}

impl BitAnd for Rights {
    type Output = Rights;

    fn bitand(self, other: Rights) -> Rights {
        Rights(self.0 & other.0)
    }
}

impl fmt::Debug for Rights {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let letter = |right: Rights, letter: char| {
            if self.contains(right) { letter } else { '-' }
        };
        write!(
            formatter,
            "Rights({}{}{})",
            letter(Rights::READ, 'r'),
            letter(Rights::WRITE, 'w'),
            letter(Rights::EXECUTE, 'x')
        )
    }
}

/// The protection of an area: the `PROT_READ`, `PROT_WRITE` and `PROT_EXEC` bits a client
/// asked for, validated.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Protection(u32);

impl Protection {
    /// `PROT_NONE`.
    pub const NONE: Protection = Protection(0);
    /// `PROT_READ`.
    pub const READ: Protection = Protection(PROT_READ);
    /// `PROT_READ | PROT_WRITE`.
    pub const READ_WRITE: Protection = Protection(PROT_READ | PROT_WRITE);
    /// `PROT_READ | PROT_EXEC`.
    pub const READ_EXECUTE: Protection = Protection(PROT_READ | PROT_EXEC);
    /// `PROT_READ | PROT_WRITE | PROT_EXEC`.
    pub const READ_WRITE_EXECUTE: Protection = Protection(PROT_READ | PROT_WRITE | PROT_EXEC);

    /// Decodes the `prot` argument of `mmap` or `mprotect`: `None` (`EINVAL`) for bits other
    /// than read, write, execute and `PROT_SEM`, as arm64's `arch_validate_prot` says on a
    /// CPU without BTI and MTE (so `PROT_BTI` and `PROT_MTE` are refused too, and so are
    /// `PROT_GROWSDOWN` and `PROT_GROWSUP`, which only glibc's dynamic loader uses).
    pub const fn from_bits(bits: u32) -> Option<Protection> {
        if bits & !(PROT_READ | PROT_WRITE | PROT_EXEC | PROT_SEM) != 0 {
            return None;
        }
        Some(Protection(bits & (PROT_READ | PROT_WRITE | PROT_EXEC)))
    }

    /// The protection of ELF program-header flags (`PF_X` = 1, `PF_W` = 2, `PF_R` = 4).
    pub const fn from_segment_flags(flags: u32) -> Protection {
        let mut bits = 0;
        if flags & 4 != 0 {
            bits |= PROT_READ;
        }
        if flags & 2 != 0 {
            bits |= PROT_WRITE;
        }
        if flags & 1 != 0 {
            bits |= PROT_EXEC;
        }
        Protection(bits)
    }

    /// The `PROT_*` bits.
    pub const fn bits(self) -> u32 {
        self.0
    }

    /// Whether `PROT_READ` was asked for.
    pub const fn is_readable(self) -> bool {
        self.0 & PROT_READ != 0
    }

    /// Whether `PROT_WRITE` was asked for.
    pub const fn is_writable(self) -> bool {
        self.0 & PROT_WRITE != 0
    }

    /// Whether `PROT_EXEC` was asked for.
    pub const fn is_executable(self) -> bool {
        self.0 & PROT_EXEC != 0
    }

    /// Both protections' bits.
    pub const fn union(self, other: Protection) -> Protection {
        Protection(self.0 | other.0)
    }

    /// The rights a page of this protection is mapped with: as asked, plus read whenever
    /// anything is asked (aarch64 has no write-only or, without EPAN, execute-only pages).
    pub const fn rights(self) -> Rights {
        let mut bits = 0;
        if self.0 != 0 {
            bits |= Rights::READ.bits();
        }
        if self.is_writable() {
            bits |= Rights::WRITE.bits();
        }
        if self.is_executable() {
            bits |= Rights::EXECUTE.bits();
        }
        Rights(bits)
    }

    /// Whether a client may make `access` here: what [`Protection::rights`] gives, so a load
    /// from a write-only or execute-only area is allowed, as it is on arm64 Linux, and an
    /// instruction fetch needs `PROT_EXEC`.
    pub const fn allows(self, access: Access) -> bool {
        self.rights().allow(access)
    }
}

impl fmt::Debug for Protection {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let letter = |set: bool, letter: char| if set { letter } else { '-' };
        write!(
            formatter,
            "Protection({}{}{})",
            letter(self.is_readable(), 'r'),
            letter(self.is_writable(), 'w'),
            letter(self.is_executable(), 'x')
        )
    }
}
