//! Where things go in a client's address space, and what must never be handed out there.
//!
//! Linux on arm64 with 48-bit addresses puts the stack just below 2^48 (randomised), the
//! `mmap` area below a gap for the stack to grow into, and static-PIE programs at two thirds
//! of the user range. We keep the same shape without randomisation (deterministic runs make
//! the QEMU tests and benchmarks reproducible) and below 2^47, and add what Linux does not
//! have: ranges the kernel or the server itself uses in every client — the UTCB area and the
//! trampoline — which no `mmap`, `brk`, stack growth or ELF segment may ever cover. The
//! defaults reserve the whole top terabyte (`0x7F00_0000_0000..2^47`) for them; the server
//! passes the exact ranges it uses. A [`Layout`] is checked once when it is made, so an
//! address space can rely on its ordering (`minimum < static-PIE base < mmap base < stack
//! top <= end`) without checking again.

use alloc::vec::Vec;
use core::fmt;
use core::ops::Range;

use super::{PAGE_SIZE, is_page_aligned};

/// The hardware limit: user addresses have 48 bits (`VIRTUAL_ADDRESS_BITS` of the kernel).
pub const MAXIMUM_USER_END: u64 = 1 << 48;

/// The default end of what clients may use: 2^47, half of the hardware range, so that the
/// layout fits a 47-bit configuration too and leaves the top half for later uses.
pub const DEFAULT_USER_END: u64 = 1 << 47;

/// The default lowest address a client may map (`vm.mmap_min_addr`): 64 KiB, so that NULL
/// pointer dereferences with an offset fault instead of reaching memory.
pub const DEFAULT_MINIMUM_ADDRESS: u64 = 0x1_0000;

/// The default top of the main stack: the start of the reserved top terabyte, so the stack
/// grows down from just below the UTCB area and trampoline.
pub const DEFAULT_STACK_TOP: u64 = 0x0000_7F00_0000_0000;

/// The default `mmap` base: `mmap` places mappings top-down below it. 4 GiB below the stack
/// top, so the stack can grow to any limit up to that before meeting a mapping (Linux's gap is
/// the stack limit clamped to at least 128 MiB).
pub const DEFAULT_MMAP_BASE: u64 = DEFAULT_STACK_TOP - 0x1_0000_0000;

/// The default load address of static-PIE programs (`ET_DYN` without `PT_INTERP`): two thirds
/// of 2^47 rounded down to 64 KiB, as Linux's `ELF_ET_DYN_BASE` is two thirds of the range.
pub const DEFAULT_STATIC_PIE_BASE: u64 = 0x0000_5555_5555_0000;

/// The default gap kept free below a stack (Linux's `stack_guard_gap`, 256 pages): no
/// `mmap` or `brk` is placed there, and a stack does not grow closer to the area below it.
pub const DEFAULT_STACK_GUARD_GAP: u64 = 256 * PAGE_SIZE;

/// The default reserved range: the top terabyte below [`DEFAULT_USER_END`], for the UTCB
/// area and the trampoline.
pub const DEFAULT_RESERVED: Range<u64> = 0x0000_7F00_0000_0000..DEFAULT_USER_END;

/// The values a [`Layout`] is made from; [`Default`] gives the constants above.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LayoutSettings {
    /// The lowest address any area may start at.
    pub minimum_address: u64,
    /// The end (exclusive) of the range clients may use.
    pub user_end: u64,
    /// The end (exclusive) of the main stack.
    pub stack_top: u64,
    /// `mmap` places mappings below this address.
    pub mmap_base: u64,
    /// Where a static-PIE program's lowest segment is loaded.
    pub static_pie_base: u64,
    /// The gap kept free below stacks.
    pub stack_guard_gap: u64,
    /// Ranges that are never mapped or handed out.
    pub reserved: Vec<Range<u64>>,
}

impl Default for LayoutSettings {
    fn default() -> Self {
        Self {
            minimum_address: DEFAULT_MINIMUM_ADDRESS,
            user_end: DEFAULT_USER_END,
            stack_top: DEFAULT_STACK_TOP,
            mmap_base: DEFAULT_MMAP_BASE,
            static_pie_base: DEFAULT_STATIC_PIE_BASE,
            stack_guard_gap: DEFAULT_STACK_GUARD_GAP,
            reserved: alloc::vec![DEFAULT_RESERVED],
        }
    }
}

/// Why [`Layout::new`] refused its settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LayoutError {
    /// An address or size is not a multiple of [`super::PAGE_SIZE`].
    Misaligned {
        /// The offending value.
        value: u64,
    },
    /// The addresses are not in the order `PAGE_SIZE <= minimum < static-PIE base < mmap base
    /// < stack top <= user end <= 2^48`.
    OutOfOrder,
    /// A reserved range is empty or reversed.
    EmptyReservedRange {
        /// The offending range.
        range: Range<u64>,
    },
    /// A reserved range lies in the stack's part of the layout, `mmap base..stack top`.
    ReservedRangeInStack {
        /// The offending range.
        range: Range<u64>,
    },
}

impl fmt::Display for LayoutError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Misaligned { value } => write!(formatter, "{value:#x} is not page aligned"),
            Self::OutOfOrder => write!(
                formatter,
                "the layout's addresses are out of order or beyond 2^48"
            ),
            Self::EmptyReservedRange { range } => {
                write!(formatter, "reserved range {range:#x?} is empty")
            }
            Self::ReservedRangeInStack { range } => write!(
                formatter,
                "reserved range {range:#x?} lies between the mmap base and the stack top"
            ),
        }
    }
}

/// A checked layout: where the stack, `mmap` and static-PIE programs go, and what is reserved.
/// [`Default`] is the default settings, which pass the checks (a test says so).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Layout {
    settings: LayoutSettings,
}

impl Layout {
    /// Checks `settings` and makes a layout of them.
    ///
    /// # Errors
    /// A [`LayoutError`] naming the first rule broken: every value page aligned, the
    /// addresses in order and below 2^48, no empty reserved range, and none between the
    /// `mmap` base and the stack top (where the stack lives and grows).
    pub fn new(settings: LayoutSettings) -> Result<Layout, LayoutError> {
        let values = [
            settings.minimum_address,
            settings.user_end,
            settings.stack_top,
            settings.mmap_base,
            settings.static_pie_base,
            settings.stack_guard_gap,
        ];
        let reserved_bounds = settings
            .reserved
            .iter()
            .flat_map(|range| [range.start, range.end]);
        if let Some(value) = values
            .into_iter()
            .chain(reserved_bounds)
            .find(|&value| !is_page_aligned(value))
        {
            return Err(LayoutError::Misaligned { value });
        }
        let ordered = PAGE_SIZE <= settings.minimum_address
            && settings.minimum_address < settings.static_pie_base
            && settings.static_pie_base < settings.mmap_base
            && settings.mmap_base < settings.stack_top
            && settings.stack_top <= settings.user_end
            && settings.user_end <= MAXIMUM_USER_END;
        if !ordered {
            return Err(LayoutError::OutOfOrder);
        }
        for range in &settings.reserved {
            if range.start >= range.end {
                return Err(LayoutError::EmptyReservedRange {
                    range: range.clone(),
                });
            }
            if range.start < settings.stack_top && settings.mmap_base < range.end {
                return Err(LayoutError::ReservedRangeInStack {
                    range: range.clone(),
                });
            }
        }
        Ok(Layout { settings })
    }

    /// A default layout whose reserved ranges are `reserved` instead of the top terabyte.
    ///
    /// # Errors
    /// As [`Layout::new`].
    pub fn with_reserved(reserved: Vec<Range<u64>>) -> Result<Layout, LayoutError> {
        Layout::new(LayoutSettings {
            reserved,
            ..LayoutSettings::default()
        })
    }

    /// The settings this layout was made from.
    pub fn settings(&self) -> &LayoutSettings {
        &self.settings
    }

    /// The lowest address an area may start at.
    pub fn minimum_address(&self) -> u64 {
        self.settings.minimum_address
    }

    /// The end (exclusive) of the range clients may use.
    pub fn user_end(&self) -> u64 {
        self.settings.user_end
    }

    /// The end (exclusive) of the main stack.
    pub fn stack_top(&self) -> u64 {
        self.settings.stack_top
    }

    /// `mmap` places mappings below this address.
    pub fn mmap_base(&self) -> u64 {
        self.settings.mmap_base
    }

    /// Where a static-PIE program's lowest segment goes.
    pub fn static_pie_base(&self) -> u64 {
        self.settings.static_pie_base
    }

    /// The gap kept free below stacks.
    pub fn stack_guard_gap(&self) -> u64 {
        self.settings.stack_guard_gap
    }

    /// The reserved ranges.
    pub fn reserved(&self) -> &[Range<u64>] {
        &self.settings.reserved
    }

    /// Whether `range` lies in the usable range and touches no reserved range.
    pub fn is_usable(&self, range: &Range<u64>) -> bool {
        self.minimum_address() <= range.start
            && range.start <= range.end
            && range.end <= self.user_end()
            && !self.overlaps_reserved(range)
    }

    /// Whether `range` overlaps a reserved range.
    pub fn overlaps_reserved(&self, range: &Range<u64>) -> bool {
        self.reserved()
            .iter()
            .any(|reserved| reserved.start < range.end && range.start < reserved.end)
    }

    /// The lowest start of a reserved range that overlaps `range`.
    pub(super) fn lowest_reserved_overlap(&self, range: &Range<u64>) -> Option<u64> {
        self.reserved()
            .iter()
            .filter(|reserved| reserved.start < range.end && range.start < reserved.end)
            .map(|reserved| reserved.start)
            .min()
    }
}
