//! VMSAv8-64 stage 1 translation tables: 4 KiB granule, 48-bit virtual addresses.
//!
//! The kernel builds its own tables and every address space's tables with [`map`] and
//! [`unmap`], and walks them with [`translate`]. The tables are reached only through the
//! [`TableMemory`] trait, so the same code runs in the kernel (tables reached through the
//! kernel's linear map) and on the host (tables in a `Vec`), where it is tested.
//!
//! # Layout
//!
//! A 48-bit virtual address is split into four 9-bit table indices and a 12-bit page
//! offset (Arm ARM, "Translation table walk", 4KB granule):
//!
//! ```text
//!  47      39 38      30 29      21 20      12 11         0
//! | level 0  | level 1  | level 2  | level 3  | page offset |
//! ```
//!
//! Level 1 and level 2 entries may be blocks (1 GiB and 2 MiB); level 3 entries are pages.
//! Level 0 entries are always tables (512 GiB blocks need FEAT_LPA2, which we do not use).
//!
//! # The two halves
//!
//! TTBR0_EL1 translates the low half (bits 63:48 all zero) and TTBR1_EL1 the high half
//! (bits 63:48 all one). The indices come from bits 47:0 only, so `0xFFFF_0000_4000_0000`
//! and `0x0000_0000_4000_0000` select the same entries of a root table: the caller chooses
//! which root serves which half, and this module accepts addresses of both halves. Any other
//! value of bits 63:48 is not an address at all and is refused with
//! [`MapError::AddressOutOfRange`]; a range never crosses from one half into the other.
//!
//! # Policy enforced here
//!
//! - W^X: no mapping is both writable and executable ([`MapError::WritableAndExecutable`]).
//! - Memory executable at one level is execute-never at the other: user code is PXN,
//!   kernel code is UXN; and the kernel never executes memory that EL0 can access.
//! - Device memory is never executable (speculative instruction fetches must not reach it).
//! - The Access Flag is always set: we do not use Access flag faults.
//!
//! # Changes are all or nothing
//!
//! [`map`] and [`unmap`] decode and check the whole request before they change a
//! descriptor: a refused call leaves every translation as it was. When [`map`] runs out of
//! table memory halfway, the tables it already added stay installed but empty, so they
//! change no translation and are reused by later calls.
//!
//! # What the caller does
//!
//! This module only writes descriptors to memory. The caller serializes calls on one set of
//! tables (they are read, then written, in separate passes), makes new descriptors visible
//! to the walker (DSB ISHST) before relying on them, and after [`unmap`] invalidates the
//! range's TLB entries (TLBI, DSB ISH) before reusing the memory.

use core::fmt;

use tock_registers::{LocalRegisterCopy, register_bitfields};

/// Size of a page, the translation granule: 4 KiB.
pub const PAGE_SIZE: u64 = 1 << 12;

/// Size of the block a level 2 descriptor maps: 2 MiB.
pub const LEVEL_2_BLOCK_SIZE: u64 = 1 << 21;

/// Size of the block a level 1 descriptor maps: 1 GiB.
pub const LEVEL_1_BLOCK_SIZE: u64 = 1 << 30;

/// Number of descriptors in one translation table.
pub const ENTRIES_PER_TABLE: usize = 512;

/// Number of virtual address bits translated (TCR_EL1.T0SZ = T1SZ = 16).
pub const VIRTUAL_ADDRESS_BITS: u32 = 48;

/// Number of physical address bits a descriptor can hold without FEAT_LPA.
pub const PHYSICAL_ADDRESS_BITS: u32 = 48;

/// Bytes in each half of the virtual address space.
const HALF_SIZE: u64 = 1 << VIRTUAL_ADDRESS_BITS;

/// The first address of the high half, translated through TTBR1_EL1.
pub const HIGH_HALF_BASE: u64 = !(HALF_SIZE - 1);

/// One past the highest physical address a descriptor can hold.
const PHYSICAL_ADDRESS_LIMIT: u64 = 1 << PHYSICAL_ADDRESS_BITS;

/// Mask of a table index: 9 bits.
const INDEX_MASK: u64 = ENTRIES_PER_TABLE as u64 - 1;

register_bitfields! {u64,
    /// Stage 1 table descriptor, levels 0 to 2 (Arm ARM, "Table descriptor format").
    ///
    /// The hierarchical attributes (NSTable, APTable, UXNTable, PXNTable) are left zero: all
    /// permissions are given by the leaf descriptors.
    #[allow(missing_docs, reason = "the items the macro generates for documented fields")]
    pub STAGE1_TABLE_DESCRIPTOR [
        /// Next-level table address, bits [47:12]: the physical address of the next table
        /// divided by the 4 KiB granule.
        NEXT_LEVEL_TABLE_ADDRESS OFFSET(12) NUMBITS(36) [],

        /// Descriptor type, bit [1]. At levels 0 to 2, 1 means a table, 0 a block.
        TYPE OFFSET(1) NUMBITS(1) [
            Block = 0,
            Table = 1
        ],

        /// Valid descriptor, bit [0].
        VALID OFFSET(0) NUMBITS(1) [
            False = 0,
            True = 1
        ]
    ],

    /// Stage 1 block descriptor (levels 1 and 2) or page descriptor (level 3)
    /// (Arm ARM, "Block descriptor and Page descriptor formats").
    #[allow(missing_docs, reason = "the items the macro generates for documented fields")]
    pub STAGE1_PAGE_DESCRIPTOR [
        /// Unprivileged execute-never, bit [54] (UXN, or XN in a regime with one privilege
        /// level): EL0 may not execute from the region.
        UXN OFFSET(54) NUMBITS(1) [
            False = 0,
            True = 1
        ],

        /// Privileged execute-never, bit [53]: EL1 may not execute from the region.
        PXN OFFSET(53) NUMBITS(1) [
            False = 0,
            True = 1
        ],

        /// Contiguous hint, bit [52]. Never set by this module.
        Contiguous OFFSET(52) NUMBITS(1) [],

        /// Output address, bits [47:12]: the physical address divided by the 4 KiB granule.
        /// In a block descriptor the bits below the block size are RES0.
        OUTPUT_ADDRESS OFFSET(12) NUMBITS(36) [],

        /// Not global, bit [11]: when 1 the TLB entry is tagged with the current ASID.
        nG OFFSET(11) NUMBITS(1) [
            Global = 0,
            NotGlobal = 1
        ],

        /// Access Flag, bit [10]. A descriptor with AF = 0 faults on first access.
        AF OFFSET(10) NUMBITS(1) [
            False = 0,
            True = 1
        ],

        /// Shareability, bits [9:8]. Device and Normal Non-cacheable memory are treated as
        /// Outer Shareable whatever this field holds.
        SH OFFSET(8) NUMBITS(2) [
            NonShareable = 0b00,
            OuterShareable = 0b10,
            InnerShareable = 0b11
        ],

        /// Data access permissions, AP[2:1], bits [7:6].
        AP OFFSET(6) NUMBITS(2) [
            ReadWriteEL1 = 0b00,
            ReadWriteEL1AndEL0 = 0b01,
            ReadOnlyEL1 = 0b10,
            ReadOnlyEL1AndEL0 = 0b11
        ],

        /// Non-secure, bit [5]. Ignored when executing in Non-secure state; left zero.
        NS OFFSET(5) NUMBITS(1) [],

        /// Stage 1 memory attributes index, bits [4:2]: selects an Attr<n> field of MAIR_EL1.
        AttrIndx OFFSET(2) NUMBITS(3) [],

        /// Descriptor type, bit [1]. At levels 1 and 2, 0 means a block; at level 3, 1 means
        /// a page (0 is reserved and faults).
        TYPE OFFSET(1) NUMBITS(1) [
            Block = 0,
            Page = 1
        ],

        /// Valid descriptor, bit [0].
        VALID OFFSET(0) NUMBITS(1) [
            False = 0,
            True = 1
        ]
    ]
}

register_bitfields! {u8,
    /// One Attr<n> field of MAIR_EL1 (Arm ARM, MAIR_EL1): the memory type that a
    /// descriptor selects by its AttrIndx.
    #[allow(missing_docs, reason = "the items the macro generates for documented fields")]
    pub MAIR_ATTRIBUTE [
        /// Attr<n>[7:4]: Device memory when 0b0000, otherwise the outer cacheability of
        /// Normal memory.
        OUTER OFFSET(4) NUMBITS(4) [
            Device = 0b0000,
            NonCacheable = 0b0100,
            WriteBackNonTransientReadWriteAllocate = 0b1111
        ],

        /// Attr<n>[3:0] of Normal memory: the inner cacheability.
        INNER OFFSET(0) NUMBITS(4) [
            NonCacheable = 0b0100,
            WriteBackNonTransientReadWriteAllocate = 0b1111
        ],

        /// Attr<n>[3:0] of Device memory (Attr<n>[7:4] = 0b0000): the Device memory type.
        DEVICE OFFSET(0) NUMBITS(4) [
            nGnRnE = 0b0000,
            nGnRE = 0b0100,
            nGRE = 0b1000,
            GRE = 0b1100
        ]
    ]
}

/// The MAIR_EL1 attributes the kernel programs, indexed by [`MemoryType::attribute_index`]:
///
/// | AttrIndx | `Attr<n>` | memory type                                                      |
/// |----------|-----------|------------------------------------------------------------------|
/// | 0        | 0xff      | Normal, inner and outer write-back non-transient, read/write-allocate |
/// | 1        | 0x04      | Device-nGnRE                                                     |
/// | 2        | 0x44      | Normal, inner and outer non-cacheable                            |
pub const MAIR_ATTRIBUTES: [u8; 3] = [
    MAIR_ATTRIBUTE::OUTER::WriteBackNonTransientReadWriteAllocate.value
        | MAIR_ATTRIBUTE::INNER::WriteBackNonTransientReadWriteAllocate.value,
    MAIR_ATTRIBUTE::OUTER::Device.value | MAIR_ATTRIBUTE::DEVICE::nGnRE.value,
    MAIR_ATTRIBUTE::OUTER::NonCacheable.value | MAIR_ATTRIBUTE::INNER::NonCacheable.value,
];

/// The value for MAIR_EL1: `Attr<n>` occupies bits `[8n+7:8n]`, unused `Attr<n>` are zero.
pub const MAIR_EL1_VALUE: u64 = u64::from_le_bytes([
    MAIR_ATTRIBUTES[0],
    MAIR_ATTRIBUTES[1],
    MAIR_ATTRIBUTES[2],
    0,
    0,
    0,
    0,
    0,
]);

/// The value for MAIR_EL1 that matches the AttrIndx this module writes; see
/// [`MAIR_ATTRIBUTES`].
pub const fn mair_el1_value() -> u64 {
    MAIR_EL1_VALUE
}

/// A level of the translation table walk.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    /// The root table: one entry covers 512 GiB and is always a table.
    Zero,
    /// One entry covers 1 GiB: a table or a block.
    One,
    /// One entry covers 2 MiB: a table or a block.
    Two,
    /// One entry covers one 4 KiB page.
    Three,
}

impl Level {
    /// The level's number, 0 to 3, as the Arm ARM counts.
    pub const fn number(self) -> u8 {
        match self {
            Level::Zero => 0,
            Level::One => 1,
            Level::Two => 2,
            Level::Three => 3,
        }
    }

    /// The level with the given number, if there is one.
    pub const fn from_number(number: u8) -> Option<Level> {
        match number {
            0 => Some(Level::Zero),
            1 => Some(Level::One),
            2 => Some(Level::Two),
            3 => Some(Level::Three),
            _ => None,
        }
    }

    /// The level the tables of this level's table descriptors belong to.
    pub const fn next(self) -> Option<Level> {
        match self {
            Level::Zero => Some(Level::One),
            Level::One => Some(Level::Two),
            Level::Two => Some(Level::Three),
            Level::Three => None,
        }
    }

    /// Position of the lowest virtual address bit that indexes a table of this level.
    const fn shift(self) -> u32 {
        match self {
            Level::Zero => 39,
            Level::One => 30,
            Level::Two => 21,
            Level::Three => 12,
        }
    }

    /// Bytes of virtual address space that one entry of a table of this level covers.
    pub const fn entry_size(self) -> u64 {
        1 << self.shift()
    }
}

impl fmt::Display for Level {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "level {}", self.number())
    }
}

/// The index into the table of `level` that translates `virt`.
///
/// Only bits 47:12 take part, so a high-half address and its low-half twin give the same
/// indices.
pub const fn index(virt: u64, level: Level) -> usize {
    ((virt >> level.shift()) & INDEX_MASK) as usize
}

/// Whether `virt` is an address at all: bits 63:48 are all zero or all one.
pub const fn is_canonical(virt: u64) -> bool {
    let top = virt & HIGH_HALF_BASE;
    top == 0 || top == HIGH_HALF_BASE
}

/// One 4 KiB translation table of 512 descriptors, as the walker reads it from memory.
#[repr(C, align(4096))]
#[derive(Clone, PartialEq, Eq)]
pub struct PageTable {
    /// The raw descriptors.
    pub entries: [u64; ENTRIES_PER_TABLE],
}

const _: () = assert!(core::mem::size_of::<PageTable>() as u64 == PAGE_SIZE);
const _: () = assert!(core::mem::align_of::<PageTable>() as u64 == PAGE_SIZE);

impl PageTable {
    /// A table of invalid descriptors.
    pub const fn new() -> Self {
        PageTable {
            entries: [0; ENTRIES_PER_TABLE],
        }
    }
}

impl Default for PageTable {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for PageTable {
    /// Lists only the valid descriptors, by index.
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let valid = self
            .entries
            .iter()
            .enumerate()
            .filter(|(_, descriptor)| **descriptor & 1 != 0)
            .map(|(index, descriptor)| (index, HexDescriptor(*descriptor)));
        formatter.debug_map().entries(valid).finish()
    }
}

/// A descriptor that debug-prints in hexadecimal.
struct HexDescriptor(u64);

impl fmt::Debug for HexDescriptor {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{:#018x}", self.0)
    }
}

/// Where the translation tables live: hands out new tables and finds tables by physical
/// address.
///
/// The kernel implements it over its page allocator and linear map; the host tests
/// implement it over a `Vec`.
pub trait TableMemory {
    /// A fresh zeroed 4 KiB table; returns its physical address, None when out of memory.
    fn allocate_table(&mut self) -> Option<u64>;

    /// The table at physical address `table` (4 KiB aligned, previously allocated or the
    /// root).
    fn table(&mut self, table: u64) -> &mut PageTable;
}

/// The memory type of a mapping, which selects its MAIR_EL1 attribute.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MemoryType {
    /// Normal memory, inner and outer write-back cacheable, Inner Shareable: RAM.
    Normal,
    /// Device-nGnRE memory: device registers.
    Device,
    /// Normal memory, non-cacheable: buffers shared with non-coherent devices.
    NormalNonCacheable,
}

impl MemoryType {
    /// The AttrIndx a descriptor of this memory type holds: its index in
    /// [`MAIR_ATTRIBUTES`].
    pub const fn attribute_index(self) -> u8 {
        match self {
            MemoryType::Normal => 0,
            MemoryType::Device => 1,
            MemoryType::NormalNonCacheable => 2,
        }
    }

    /// The memory type for an AttrIndx, if it is one this module writes.
    pub const fn from_attribute_index(index: u8) -> Option<MemoryType> {
        match index {
            0 => Some(MemoryType::Normal),
            1 => Some(MemoryType::Device),
            2 => Some(MemoryType::NormalNonCacheable),
            _ => None,
        }
    }
}

/// Data access permitted to the levels that may access a mapping at all.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Access {
    /// Loads only.
    ReadOnly,
    /// Loads and stores.
    ReadWrite,
}

/// Which Exception level may execute from a mapping.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Execute {
    /// Neither EL1 nor EL0 (PXN = 1, UXN = 1).
    Never,
    /// EL1 only (PXN = 0, UXN = 1).
    Kernel,
    /// EL0 only (PXN = 1, UXN = 0).
    User,
}

/// What a mapping permits and how it is cached.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Attributes {
    /// The memory type.
    pub memory: MemoryType,
    /// Loads only, or loads and stores. EL1 always has this access; EL0 has it too when
    /// `user` is set.
    pub access: Access,
    /// Which Exception level may execute from the mapping.
    pub execute: Execute,
    /// Whether EL0 has the data access of `access`. [`Execute::User`] without `user` gives
    /// execute-only user memory.
    pub user: bool,
    /// Whether the TLB entries match every ASID (nG = 0). Kernel mappings are global, user
    /// mappings are not.
    pub global: bool,
}

impl Attributes {
    /// Kernel text: read-only, executable at EL1, global.
    pub const KERNEL_CODE: Attributes = Attributes {
        memory: MemoryType::Normal,
        access: Access::ReadOnly,
        execute: Execute::Kernel,
        user: false,
        global: true,
    };

    /// Kernel constants: read-only, never executable, global.
    pub const KERNEL_READ_ONLY: Attributes = Attributes {
        memory: MemoryType::Normal,
        access: Access::ReadOnly,
        execute: Execute::Never,
        user: false,
        global: true,
    };

    /// Kernel data and the linear map of RAM: read/write, never executable, global.
    pub const KERNEL_DATA: Attributes = Attributes {
        memory: MemoryType::Normal,
        access: Access::ReadWrite,
        execute: Execute::Never,
        user: false,
        global: true,
    };

    /// Device registers used by the kernel: Device-nGnRE, read/write, global.
    pub const KERNEL_DEVICE: Attributes = Attributes {
        memory: MemoryType::Device,
        access: Access::ReadWrite,
        execute: Execute::Never,
        user: false,
        global: true,
    };

    /// User text: readable by EL0, executable at EL0 only, ASID-tagged.
    pub const USER_CODE: Attributes = Attributes {
        memory: MemoryType::Normal,
        access: Access::ReadOnly,
        execute: Execute::User,
        user: true,
        global: false,
    };

    /// User constants: readable by EL0, never executable, ASID-tagged.
    pub const USER_READ_ONLY: Attributes = Attributes {
        memory: MemoryType::Normal,
        access: Access::ReadOnly,
        execute: Execute::Never,
        user: true,
        global: false,
    };

    /// User data: read/write for EL0, never executable, ASID-tagged.
    pub const USER_DATA: Attributes = Attributes {
        memory: MemoryType::Normal,
        access: Access::ReadWrite,
        execute: Execute::Never,
        user: true,
        global: false,
    };

    /// Device registers given to a user driver: Device-nGnRE, read/write for EL0,
    /// ASID-tagged.
    pub const USER_DEVICE: Attributes = Attributes {
        memory: MemoryType::Device,
        access: Access::ReadWrite,
        execute: Execute::Never,
        user: true,
        global: false,
    };

    /// Refuses the combinations the kernel never allows; see the module documentation.
    const fn check(self) -> Result<(), MapError> {
        if matches!(self.access, Access::ReadWrite) && !matches!(self.execute, Execute::Never) {
            return Err(MapError::WritableAndExecutable);
        }
        if matches!(self.memory, MemoryType::Device) && !matches!(self.execute, Execute::Never) {
            return Err(MapError::ExecutableDeviceMemory);
        }
        if self.user && matches!(self.execute, Execute::Kernel) {
            return Err(MapError::KernelExecutableUserAccessible);
        }
        Ok(())
    }

    /// The descriptor fields these attributes set, all but the type and the output
    /// address.
    fn descriptor_fields(
        self,
    ) -> tock_registers::fields::FieldValue<u64, STAGE1_PAGE_DESCRIPTOR::Register> {
        use STAGE1_PAGE_DESCRIPTOR as D;

        let shareability = match self.memory {
            MemoryType::Normal => D::SH::InnerShareable,
            MemoryType::Device | MemoryType::NormalNonCacheable => D::SH::OuterShareable,
        };
        let permissions = match (self.access, self.user) {
            (Access::ReadWrite, false) => D::AP::ReadWriteEL1,
            (Access::ReadWrite, true) => D::AP::ReadWriteEL1AndEL0,
            (Access::ReadOnly, false) => D::AP::ReadOnlyEL1,
            (Access::ReadOnly, true) => D::AP::ReadOnlyEL1AndEL0,
        };
        let execute_never = match self.execute {
            Execute::Never => D::PXN::True + D::UXN::True,
            Execute::Kernel => D::PXN::False + D::UXN::True,
            Execute::User => D::PXN::True + D::UXN::False,
        };
        let global = if self.global {
            D::nG::Global
        } else {
            D::nG::NotGlobal
        };
        D::VALID::True
            + D::AttrIndx.val(u64::from(self.memory.attribute_index()))
            + shareability
            + permissions
            + D::AF::True
            + global
            + execute_never
    }

    /// The attributes of a block or page descriptor, if it is one this module could have
    /// written (AttrIndx known, not executable at both EL0 and EL1).
    fn from_descriptor(descriptor: u64) -> Option<Attributes> {
        use STAGE1_PAGE_DESCRIPTOR as D;

        let descriptor = LocalRegisterCopy::<u64, D::Register>::new(descriptor);
        let index = u8::try_from(descriptor.read(D::AttrIndx)).ok()?;
        let memory = MemoryType::from_attribute_index(index)?;
        let (access, user) = match descriptor.read_as_enum(D::AP)? {
            D::AP::Value::ReadWriteEL1 => (Access::ReadWrite, false),
            D::AP::Value::ReadWriteEL1AndEL0 => (Access::ReadWrite, true),
            D::AP::Value::ReadOnlyEL1 => (Access::ReadOnly, false),
            D::AP::Value::ReadOnlyEL1AndEL0 => (Access::ReadOnly, true),
        };
        let execute = match (descriptor.is_set(D::PXN), descriptor.is_set(D::UXN)) {
            (true, true) => Execute::Never,
            (false, true) => Execute::Kernel,
            (true, false) => Execute::User,
            (false, false) => return None,
        };
        Some(Attributes {
            memory,
            access,
            execute,
            user,
            global: !descriptor.is_set(D::nG),
        })
    }
}

/// Whether [`map`] may use block descriptors.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BlockPolicy {
    /// Map with level 3 pages only, so that any page can later be unmapped alone.
    PagesOnly,
    /// Use a 1 GiB or 2 MiB block wherever the virtual and physical addresses are both
    /// aligned to it, the range covers it and its entry is empty; pages elsewhere.
    LargestFitting,
}

/// Why [`map`] or [`unmap`] refused. A refused call changed no translation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MapError {
    /// The virtual address, physical address or size is not a multiple of [`PAGE_SIZE`].
    Misaligned,
    /// The virtual address is not canonical (bits 63:48 neither all zero nor all one), or the
    /// range runs past the end of its half of the address space.
    AddressOutOfRange,
    /// The physical range runs past the 48 bits a descriptor can hold.
    PhysicalAddressOutOfRange,
    /// The attributes ask for memory that is both writable and executable.
    WritableAndExecutable,
    /// The attributes ask for executable Device memory.
    ExecutableDeviceMemory,
    /// The attributes ask for memory that EL0 can access and EL1 can execute.
    KernelExecutableUserAccessible,
    /// Part of the range is already mapped; `virt` is the first such address.
    AlreadyMapped {
        /// The first address of the range that is already mapped.
        virt: u64,
    },
    /// [`TableMemory::allocate_table`] returned None.
    OutOfTableMemory,
    /// The range to unmap covers only part of a block; `virt` is the block's first address.
    /// Blocks are not split: map with [`BlockPolicy::PagesOnly`] what may be unmapped in
    /// parts.
    WouldSplitBlock {
        /// The first address of the block.
        virt: u64,
    },
}

impl fmt::Display for MapError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MapError::Misaligned => formatter.write_str("address or size not page aligned"),
            MapError::AddressOutOfRange => {
                formatter.write_str("virtual range not within one half of the address space")
            }
            MapError::PhysicalAddressOutOfRange => {
                formatter.write_str("physical range beyond 48 bits")
            }
            MapError::WritableAndExecutable => {
                formatter.write_str("writable and executable mapping refused")
            }
            MapError::ExecutableDeviceMemory => {
                formatter.write_str("executable device memory refused")
            }
            MapError::KernelExecutableUserAccessible => {
                formatter.write_str("kernel-executable memory accessible to EL0 refused")
            }
            MapError::AlreadyMapped { virt } => write!(formatter, "{virt:#x} already mapped"),
            MapError::OutOfTableMemory => formatter.write_str("out of translation table memory"),
            MapError::WouldSplitBlock { virt } => {
                write!(formatter, "unmapping part of the block at {virt:#x}")
            }
        }
    }
}

/// What [`translate`] found for a virtual address.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Translation {
    /// The physical address the virtual address translates to (including the offset
    /// within the page or block).
    pub phys: u64,
    /// Size of the page or block that maps the address: [`PAGE_SIZE`],
    /// [`LEVEL_2_BLOCK_SIZE`] or [`LEVEL_1_BLOCK_SIZE`].
    pub size: u64,
    /// The level of the descriptor that maps the address.
    pub level: Level,
    /// The attributes of the mapping.
    pub attributes: Attributes,
}

impl Translation {
    /// The physical address of the start of the page or block.
    pub const fn unit_phys_base(&self) -> u64 {
        self.phys & !(self.size - 1)
    }
}

/// A descriptor, classified by what it means at its level.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Entry {
    /// VALID = 0: translates nothing.
    Invalid,
    /// A table descriptor: the physical address and level of the next table.
    Table {
        /// Physical address of the next table.
        table: u64,
        /// Level of the next table.
        level: Level,
    },
    /// A block or page descriptor.
    Leaf(u64),
    /// VALID = 1 but a type that is reserved at this level (a block at level 0, TYPE = 0
    /// at level 3): the walk faults on it. Never written by this module.
    Reserved,
}

impl Entry {
    fn classify(descriptor: u64, level: Level) -> Entry {
        use STAGE1_TABLE_DESCRIPTOR as T;

        let register = LocalRegisterCopy::<u64, T::Register>::new(descriptor);
        if !register.is_set(T::VALID) {
            return Entry::Invalid;
        }
        let table = register.read(T::NEXT_LEVEL_TABLE_ADDRESS) << Level::Three.shift();
        match (level, register.is_set(T::TYPE)) {
            (Level::Zero, true) => Entry::Table {
                table,
                level: Level::One,
            },
            (Level::One, true) => Entry::Table {
                table,
                level: Level::Two,
            },
            (Level::Two, true) => Entry::Table {
                table,
                level: Level::Three,
            },
            (Level::One | Level::Two, false) | (Level::Three, true) => Entry::Leaf(descriptor),
            (Level::Zero | Level::Three, false) => Entry::Reserved,
        }
    }
}

/// A table descriptor pointing at the table at physical address `table`.
fn table_descriptor(table: u64) -> u64 {
    use STAGE1_TABLE_DESCRIPTOR as T;

    let mut register = LocalRegisterCopy::<u64, T::Register>::new(0);
    register.write(
        T::VALID::True
            + T::TYPE::Table
            + T::NEXT_LEVEL_TABLE_ADDRESS.val(table >> Level::Three.shift()),
    );
    register.get()
}

/// The output address of a block or page descriptor at `level`.
fn output_address(descriptor: u64, level: Level) -> u64 {
    use STAGE1_PAGE_DESCRIPTOR as D;

    let register = LocalRegisterCopy::<u64, D::Register>::new(descriptor);
    (register.read(D::OUTPUT_ADDRESS) << Level::Three.shift()) & !(level.entry_size() - 1)
}

/// A virtual range checked to lie within one half of the address space.
#[derive(Clone, Copy, Debug)]
struct VirtualRange {
    /// Bits 63:48 of every address in the range: 0 or [`HIGH_HALF_BASE`].
    half: u64,
    /// Offset of the first address within its half.
    start: u64,
    /// Offset one past the last address within its half; at most 2^48.
    end: u64,
}

impl VirtualRange {
    fn new(virt: u64, size: u64) -> Result<VirtualRange, MapError> {
        if !virt.is_multiple_of(PAGE_SIZE) || !size.is_multiple_of(PAGE_SIZE) {
            return Err(MapError::Misaligned);
        }
        if !is_canonical(virt) {
            return Err(MapError::AddressOutOfRange);
        }
        let start = virt & (HALF_SIZE - 1);
        let end = start
            .checked_add(size)
            .filter(|end| *end <= HALF_SIZE)
            .ok_or(MapError::AddressOutOfRange)?;
        Ok(VirtualRange {
            half: virt & HIGH_HALF_BASE,
            start,
            end,
        })
    }

    /// The full virtual address of an offset within the half.
    fn address(&self, offset: u64) -> u64 {
        self.half | offset
    }
}

/// The parts of one range that lie in successive entries of a table of one level.
struct Chunks {
    next: u64,
    end: u64,
    level: Level,
}

/// One part of a range that lies in one entry of a table.
struct Chunk {
    /// The entry's index in its table.
    index: usize,
    /// First offset of the part.
    start: u64,
    /// One past the last offset of the part.
    end: u64,
    /// Whether the part covers the whole entry.
    whole_entry: bool,
}

impl Chunks {
    fn new(start: u64, end: u64, level: Level) -> Chunks {
        Chunks {
            next: start,
            end,
            level,
        }
    }
}

impl Iterator for Chunks {
    type Item = Chunk;

    fn next(&mut self) -> Option<Chunk> {
        if self.next >= self.end {
            return None;
        }
        let entry_size = self.level.entry_size();
        let entry_start = self.next & !(entry_size - 1);
        // Offsets stay below 2^48, so this cannot overflow.
        let entry_end = entry_start + entry_size;
        let chunk = Chunk {
            index: index(self.next, self.level),
            start: self.next,
            end: entry_end.min(self.end),
            whole_entry: self.next == entry_start && self.end >= entry_end,
        };
        self.next = chunk.end;
        Some(chunk)
    }
}

/// The three walks [`map`] makes over the range.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum MapPass {
    /// Read only: refuse if any part of the range is mapped.
    Check,
    /// Add the tables the range needs; write no leaf. May run out of table memory.
    AllocateTables,
    /// Write the block and page descriptors into the tables that now exist.
    WriteDescriptors,
}

/// How [`map`] fills an empty entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Placement {
    /// With a block or page descriptor.
    Leaf,
    /// With a new table of the given level.
    Table(Level),
}

/// A checked [`map`] request.
struct MapRequest {
    range: VirtualRange,
    /// Physical address that `range.start` maps to.
    phys: u64,
    fields: tock_registers::fields::FieldValue<u64, STAGE1_PAGE_DESCRIPTOR::Register>,
    policy: BlockPolicy,
}

impl MapRequest {
    /// The physical address that the offset `offset` of the range maps to.
    fn phys_at(&self, offset: u64) -> u64 {
        self.phys + (offset - self.range.start)
    }

    /// Whether `chunk` of an empty entry of a table at `level` is mapped by one block or
    /// page descriptor there, or by a table of the next level.
    fn placement(&self, chunk: &Chunk, level: Level) -> Placement {
        let block_fits = |level: Level| {
            self.policy == BlockPolicy::LargestFitting
                && chunk.whole_entry
                && self.phys_at(chunk.start).is_multiple_of(level.entry_size())
        };
        match level {
            Level::Zero => Placement::Table(Level::One),
            Level::One if block_fits(level) => Placement::Leaf,
            Level::One => Placement::Table(Level::Two),
            Level::Two if block_fits(level) => Placement::Leaf,
            Level::Two => Placement::Table(Level::Three),
            // The range is page aligned, so its part in a level 3 entry is the whole page.
            Level::Three => Placement::Leaf,
        }
    }

    fn leaf_descriptor(&self, level: Level, phys: u64) -> u64 {
        use STAGE1_PAGE_DESCRIPTOR as D;

        let descriptor_type = match level {
            Level::Three => D::TYPE::Page,
            Level::Zero | Level::One | Level::Two => D::TYPE::Block,
        };
        let mut register = LocalRegisterCopy::<u64, D::Register>::new(0);
        register.write(
            self.fields + descriptor_type + D::OUTPUT_ADDRESS.val(phys >> Level::Three.shift()),
        );
        register.get()
    }
}

/// Maps `size` bytes at virtual address `virt` to physical address `phys` in the tables
/// rooted at `root` (a level 0 table).
///
/// `virt`, `phys` and `size` must be multiples of [`PAGE_SIZE`]; `virt` may be in either
/// half of the address space (see the module documentation). A `size` of zero maps nothing
/// and succeeds.
///
/// # Errors
///
/// - [`MapError::WritableAndExecutable`], [`MapError::ExecutableDeviceMemory`],
///   [`MapError::KernelExecutableUserAccessible`]: the attributes break a kernel rule.
/// - [`MapError::Misaligned`], [`MapError::AddressOutOfRange`],
///   [`MapError::PhysicalAddressOutOfRange`]: the range is not one that can be mapped.
/// - [`MapError::AlreadyMapped`]: part of the range is mapped; nothing was changed.
/// - [`MapError::OutOfTableMemory`]: no translation was changed, but tables allocated
///   before memory ran out stay installed (empty).
pub fn map(
    root: u64,
    memory: &mut impl TableMemory,
    virt: u64,
    phys: u64,
    size: u64,
    attributes: Attributes,
    policy: BlockPolicy,
) -> Result<(), MapError> {
    attributes.check()?;
    let range = VirtualRange::new(virt, size)?;
    if !phys.is_multiple_of(PAGE_SIZE) {
        return Err(MapError::Misaligned);
    }
    if phys
        .checked_add(size)
        .is_none_or(|end| end > PHYSICAL_ADDRESS_LIMIT)
    {
        return Err(MapError::PhysicalAddressOutOfRange);
    }
    let request = MapRequest {
        range,
        phys,
        fields: attributes.descriptor_fields(),
        policy,
    };
    for pass in [
        MapPass::Check,
        MapPass::AllocateTables,
        MapPass::WriteDescriptors,
    ] {
        map_in_table(
            memory,
            root,
            Level::Zero,
            range.start,
            range.end,
            &request,
            pass,
        )?;
    }
    Ok(())
}

/// One pass of [`map`] over the part `start..end` of the range that the table at `table`
/// (of level `level`) translates.
fn map_in_table(
    memory: &mut impl TableMemory,
    table: u64,
    level: Level,
    start: u64,
    end: u64,
    request: &MapRequest,
    pass: MapPass,
) -> Result<(), MapError> {
    for chunk in Chunks::new(start, end, level) {
        let descriptor = memory.table(table).entries[chunk.index];
        match Entry::classify(descriptor, level) {
            Entry::Invalid => match request.placement(&chunk, level) {
                Placement::Leaf => {
                    if pass == MapPass::WriteDescriptors {
                        let leaf = request.leaf_descriptor(level, request.phys_at(chunk.start));
                        memory.table(table).entries[chunk.index] = leaf;
                    }
                }
                Placement::Table(next) => {
                    // Everything below an invalid entry is unmapped: nothing to check there.
                    // The write pass finds the tables the allocation pass added, so it only
                    // allocates if they vanished in between.
                    if pass != MapPass::Check {
                        let new_table =
                            memory.allocate_table().ok_or(MapError::OutOfTableMemory)?;
                        memory.table(table).entries[chunk.index] = table_descriptor(new_table);
                        map_in_table(
                            memory,
                            new_table,
                            next,
                            chunk.start,
                            chunk.end,
                            request,
                            pass,
                        )?;
                    }
                }
            },
            Entry::Table {
                table: next_table,
                level: next,
            } => {
                map_in_table(
                    memory,
                    next_table,
                    next,
                    chunk.start,
                    chunk.end,
                    request,
                    pass,
                )?;
            }
            Entry::Leaf(_) | Entry::Reserved => {
                return Err(MapError::AlreadyMapped {
                    virt: request.range.address(chunk.start),
                });
            }
        }
    }
    Ok(())
}

/// The two walks [`unmap`] makes over the range.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum UnmapPass {
    /// Read only: refuse if the range covers part of a block.
    Check,
    /// Clear the block and page descriptors in the range.
    Clear,
}

/// Unmaps `size` bytes at virtual address `virt` from the tables rooted at `root`.
///
/// Parts of the range that are not mapped are skipped. Tables that become empty stay
/// installed (the trait has no way to free them); the owner of the address space frees
/// them with the root. The caller must invalidate the TLB entries of the range afterwards.
///
/// # Errors
///
/// - [`MapError::Misaligned`], [`MapError::AddressOutOfRange`]: the range is not one that
///   can be mapped.
/// - [`MapError::WouldSplitBlock`]: the range covers part of a block but not all of it.
///   Blocks are not split into pages (that would need allocation and break-before-make);
///   nothing was changed.
pub fn unmap(
    root: u64,
    memory: &mut impl TableMemory,
    virt: u64,
    size: u64,
) -> Result<(), MapError> {
    let range = VirtualRange::new(virt, size)?;
    for pass in [UnmapPass::Check, UnmapPass::Clear] {
        unmap_in_table(
            memory,
            root,
            Level::Zero,
            range.start,
            range.end,
            &range,
            pass,
        )?;
    }
    Ok(())
}

/// One pass of [`unmap`] over the part `start..end` of the range that the table at `table`
/// (of level `level`) translates.
fn unmap_in_table(
    memory: &mut impl TableMemory,
    table: u64,
    level: Level,
    start: u64,
    end: u64,
    range: &VirtualRange,
    pass: UnmapPass,
) -> Result<(), MapError> {
    for chunk in Chunks::new(start, end, level) {
        let descriptor = memory.table(table).entries[chunk.index];
        match Entry::classify(descriptor, level) {
            Entry::Invalid => {}
            Entry::Table {
                table: next_table,
                level: next,
            } => {
                unmap_in_table(
                    memory,
                    next_table,
                    next,
                    chunk.start,
                    chunk.end,
                    range,
                    pass,
                )?;
            }
            Entry::Leaf(_) | Entry::Reserved => {
                if !chunk.whole_entry {
                    let block_start = chunk.start & !(level.entry_size() - 1);
                    return Err(MapError::WouldSplitBlock {
                        virt: range.address(block_start),
                    });
                }
                if pass == UnmapPass::Clear {
                    memory.table(table).entries[chunk.index] = 0;
                }
            }
        }
    }
    Ok(())
}

/// Walks the tables rooted at `root` for `virt`, as the MMU would.
///
/// Returns None when `virt` is not canonical or not mapped, and for descriptors this module
/// never writes (a reserved descriptor type, an AttrIndx not in [`MAIR_ATTRIBUTES`], or a
/// mapping executable at both EL0 and EL1).
pub fn translate(root: u64, memory: &mut impl TableMemory, virt: u64) -> Option<Translation> {
    let (descriptor, level) = walk(root, memory, virt)?;
    let size = level.entry_size();
    Some(Translation {
        phys: output_address(descriptor, level) | (virt & (size - 1)),
        size,
        level,
        attributes: Attributes::from_descriptor(descriptor)?,
    })
}

/// The raw block or page descriptor that maps `virt`, and its level; None when `virt` is
/// not canonical or not mapped.
///
/// For diagnostics such as the kernel's fault report; [`translate`] decodes it.
pub fn walk(root: u64, memory: &mut impl TableMemory, virt: u64) -> Option<(u64, Level)> {
    if !is_canonical(virt) {
        return None;
    }
    let mut table = root;
    let mut level = Level::Zero;
    loop {
        let descriptor = memory.table(table).entries[index(virt, level)];
        match Entry::classify(descriptor, level) {
            Entry::Invalid | Entry::Reserved => return None,
            Entry::Table {
                table: next_table,
                level: next,
            } => {
                table = next_table;
                level = next;
            }
            Entry::Leaf(descriptor) => return Some((descriptor, level)),
        }
    }
}

#[cfg(test)]
mod tests;
