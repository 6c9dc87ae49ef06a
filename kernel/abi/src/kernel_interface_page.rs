//! The kernel interface page (KIP): a read-only page the kernel maps into a task to tell
//! user level the facts it cannot ask for by a call.
//!
//! L4 has one so that user code can find kernel facts (version, memory layout, clock)
//! without a kernel entry. Ours says which ABI the kernel speaks, the UTCB size, the
//! frequency of the generic timer (EL0 reads CNTVCT_EL0 directly for time), and the
//! physical memory map sigma0 needs to hand out memory: RAM, the boot modules, the device
//! tree, device MMIO, and what the kernel keeps.
//!
//! The kernel fills it once at boot; task_new maps it where the creator asks (x5), and
//! the first thread of every task starts with its address in x0 (0 if none is mapped).
//! sigma0 and the root task get it from the kernel the same way.

use core::mem::{align_of, offset_of, size_of};

use crate::ABI_VERSION;

/// What a memory descriptor describes.
#[repr(u64)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MemoryKind {
    /// RAM sigma0 owns and hands out.
    Conventional = 1,
    /// RAM the kernel keeps (its image, page tables, thread blocks): never mapped to user
    /// level.
    Reserved = 2,
    /// The initial RAM disk (the boot modules): sigma0 maps it to the root task on request.
    InitialRamDisk = 3,
    /// The flattened device tree QEMU passed: sigma0 maps it read-only on request.
    DeviceTree = 4,
    /// Device MMIO that user-level drivers may have (sigma0 maps it on request); the
    /// devices the kernel drives itself (GIC, its console) are not listed.
    Device = 5,
}

impl MemoryKind {
    /// Decodes a descriptor's kind word.
    pub const fn decode(value: u64) -> Option<MemoryKind> {
        match value {
            1 => Some(MemoryKind::Conventional),
            2 => Some(MemoryKind::Reserved),
            3 => Some(MemoryKind::InitialRamDisk),
            4 => Some(MemoryKind::DeviceTree),
            5 => Some(MemoryKind::Device),
            _ => None,
        }
    }
}

/// One region of physical memory.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct MemoryDescriptor {
    /// The first physical address, page-aligned.
    pub base: u64,
    /// The size in bytes, a multiple of the page size.
    pub size: u64,
    /// A [`MemoryKind`] value.
    pub kind: u64,
}

impl MemoryDescriptor {
    /// A descriptor of `size` bytes of `kind` at `base`.
    pub const fn new(base: u64, size: u64, kind: MemoryKind) -> MemoryDescriptor {
        MemoryDescriptor {
            base,
            size,
            kind: kind as u64,
        }
    }

    /// The kind, if defined.
    pub const fn kind(&self) -> Option<MemoryKind> {
        MemoryKind::decode(self.kind)
    }
}

/// The kernel interface page.
#[repr(C, align(4096))]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KernelInterfacePage {
    /// [`KernelInterfacePage::MAGIC`].
    pub magic: u64,
    /// [`ABI_VERSION`] of the kernel.
    pub abi_version: u64,
    /// Bytes per UTCB (4096).
    pub utcb_size: u64,
    /// CNTFRQ_EL0: ticks per second of CNTVCT_EL0.
    pub timer_frequency: u64,
    /// How many of `memory_descriptors` are valid.
    pub memory_descriptor_count: u64,
    /// Zero.
    pub reserved: [u64; 3],
    /// The physical memory map, sorted by base, regions disjoint.
    pub memory_descriptors: [MemoryDescriptor; KernelInterfacePage::MAX_MEMORY_DESCRIPTORS],
}

impl KernelInterfacePage {
    /// "L4uKIP64" in little-endian bytes: what the page starts with.
    pub const MAGIC: u64 = u64::from_le_bytes(*b"L4uKIP64");
    /// Bytes in the page.
    pub const SIZE: usize = 4096;
    /// How many memory descriptors fit.
    pub const MAX_MEMORY_DESCRIPTORS: usize = 168;
    /// Offset of the memory descriptors.
    pub const OFFSET_MEMORY_DESCRIPTORS: usize =
        offset_of!(KernelInterfacePage, memory_descriptors);

    /// A page for this ABI with no memory descriptors.
    pub const fn new(timer_frequency: u64) -> KernelInterfacePage {
        KernelInterfacePage {
            magic: KernelInterfacePage::MAGIC,
            abi_version: ABI_VERSION,
            utcb_size: crate::utcb::Utcb::SIZE as u64,
            timer_frequency,
            memory_descriptor_count: 0,
            reserved: [0; 3],
            memory_descriptors: [MemoryDescriptor {
                base: 0,
                size: 0,
                kind: 0,
            }; KernelInterfacePage::MAX_MEMORY_DESCRIPTORS],
        }
    }

    /// Whether the page is a kernel interface page of the ABI this crate defines.
    pub const fn is_compatible(&self) -> bool {
        self.magic == KernelInterfacePage::MAGIC && self.abi_version == ABI_VERSION
    }

    /// The valid memory descriptors (never more than fit, whatever the count says).
    pub fn memory_descriptors(&self) -> &[MemoryDescriptor] {
        let count = usize::try_from(self.memory_descriptor_count)
            .unwrap_or(usize::MAX)
            .min(KernelInterfacePage::MAX_MEMORY_DESCRIPTORS);
        &self.memory_descriptors[..count]
    }

    /// Appends a descriptor; gives it back if the page is full.
    pub fn push_memory_descriptor(
        &mut self,
        descriptor: MemoryDescriptor,
    ) -> Result<(), MemoryDescriptor> {
        let count = self.memory_descriptors().len();
        match self.memory_descriptors.get_mut(count) {
            Some(slot) => {
                *slot = descriptor;
                self.memory_descriptor_count = count as u64 + 1;
                Ok(())
            }
            None => Err(descriptor),
        }
    }
}

const _: () = assert!(size_of::<MemoryDescriptor>() == 24);
const _: () = assert!(size_of::<KernelInterfacePage>() == KernelInterfacePage::SIZE);
const _: () = assert!(align_of::<KernelInterfacePage>() == KernelInterfacePage::SIZE);
const _: () = assert!(KernelInterfacePage::OFFSET_MEMORY_DESCRIPTORS == 64);
const _: () = assert!(
    KernelInterfacePage::OFFSET_MEMORY_DESCRIPTORS
        + KernelInterfacePage::MAX_MEMORY_DESCRIPTORS * size_of::<MemoryDescriptor>()
        == KernelInterfacePage::SIZE
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_is_exactly_one_page_with_the_header_first() {
        assert_eq!(size_of::<KernelInterfacePage>(), 4096);
        assert_eq!(offset_of!(KernelInterfacePage, magic), 0);
        assert_eq!(offset_of!(KernelInterfacePage, abi_version), 8);
        assert_eq!(offset_of!(KernelInterfacePage, utcb_size), 16);
        assert_eq!(offset_of!(KernelInterfacePage, timer_frequency), 24);
        assert_eq!(offset_of!(KernelInterfacePage, memory_descriptor_count), 32);
    }

    #[test]
    fn a_new_page_is_compatible_and_empty() {
        let page = KernelInterfacePage::new(62_500_000);
        assert!(page.is_compatible());
        assert_eq!(page.utcb_size, 4096);
        assert!(page.memory_descriptors().is_empty());
        assert_eq!(&KernelInterfacePage::MAGIC.to_le_bytes(), b"L4uKIP64");
        let mut other = page;
        other.abi_version += 1;
        assert!(!other.is_compatible());
    }

    #[test]
    fn descriptors_fill_up_to_the_capacity() {
        let mut page = KernelInterfacePage::new(62_500_000);
        let ram = MemoryDescriptor::new(0x4000_0000, 0x800_0000, MemoryKind::Conventional);
        for _ in 0..KernelInterfacePage::MAX_MEMORY_DESCRIPTORS {
            assert_eq!(page.push_memory_descriptor(ram), Ok(()));
        }
        assert_eq!(page.push_memory_descriptor(ram), Err(ram));
        assert_eq!(page.memory_descriptors().len(), 168);
        assert_eq!(
            page.memory_descriptors()[0].kind(),
            Some(MemoryKind::Conventional)
        );
    }

    #[test]
    fn a_corrupt_count_never_reads_beyond_the_page() {
        let mut page = KernelInterfacePage::new(1);
        page.memory_descriptor_count = u64::MAX;
        assert_eq!(page.memory_descriptors().len(), 168);
    }

    #[test]
    fn memory_kinds_round_trip_and_zero_is_none() {
        for kind in [
            MemoryKind::Conventional,
            MemoryKind::Reserved,
            MemoryKind::InitialRamDisk,
            MemoryKind::DeviceTree,
            MemoryKind::Device,
        ] {
            assert_eq!(MemoryKind::decode(kind as u64), Some(kind));
        }
        assert_eq!(MemoryKind::decode(0), None);
        assert_eq!(MemoryKind::decode(6), None);
    }
}
