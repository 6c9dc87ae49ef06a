//! The plain description of the machine that [`crate::parse`] produces.
//!
//! Only values: no references into the index, and the only borrow from the blob is the command
//! line string. The kernel copies what it needs out of a [`Machine`] during early boot and
//! never looks at the DTB again.

use core::fmt;

use crate::interrupt::Interrupt;
use crate::range::{MmioRange, PhysRange, RangeList};

/// Everything the kernel needs to know about the machine it runs on.
#[derive(Debug, Clone)]
pub struct Machine<'dt> {
    /// RAM: every `reg` entry of every node with `device_type = "memory"`, sorted and merged.
    pub memory: RangeList,
    /// RAM that must not be used: `/memreserve/` entries and the `reg` of every child of
    /// `/reserved-memory`, sorted and merged. (The DTB itself and the initrd are not in here;
    /// see [`Machine::dtb_size`] and [`Machine::initrd`].)
    pub reserved: RangeList,
    /// The CPUs under `/cpus` with `device_type = "cpu"`, in tree order.
    pub cpus: CpuList,
    /// The header's `boot_cpuid_phys`: the `reg` (MPIDR affinity) of the CPU that booted.
    pub boot_cpu_id: u32,
    /// The UART named by `/chosen/stdout-path`, if any.
    pub console: Option<Uart>,
    /// The GIC.
    pub interrupt_controller: InterruptController,
    /// The architected timer's interrupts and, if given, its frequency.
    pub timer: Timer,
    /// How to call PSCI firmware, if the machine has it.
    pub psci: Option<Psci>,
    /// `/chosen/bootargs`, or `""`.
    pub bootargs: &'dt str,
    /// `/chosen/linux,initrd-start` .. `linux,initrd-end`, if both are present.
    pub initrd: Option<PhysRange>,
    /// MMIO of the devices user-level drivers may have (page-aligned, merged): every device
    /// with a `reg` except the GIC and its MSI frames. The console UART is among them: its
    /// user-level driver owns receive, while the kernel still writes its log by polling.
    pub devices: RangeList,
    /// The ECAM configuration space of the PCIe host bridge, if the machine has one (one of
    /// the [`Machine::devices`]: a driver reads device IDs there).
    pub pci_configuration_space: Option<MmioRange>,
    /// The header's `totalsize`: how many bytes of memory the DTB occupies from its start
    /// address (which only the caller knows).
    pub dtb_size: u64,
}

impl Machine<'_> {
    /// The memory the DTB occupies, given the address it was loaded at.
    pub const fn dtb_range(&self, dtb_address: u64) -> PhysRange {
        PhysRange::new(dtb_address, self.dtb_size)
    }
}

/// The interrupt controller, by architecture version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InterruptController {
    /// GICv2 (`arm,cortex-a15-gic`, `arm,gic-400`, `arm,cortex-a9-gic`).
    GicV2 {
        /// GICD registers.
        distributor: MmioRange,
        /// GICC registers.
        cpu_interface: MmioRange,
    },
    /// GICv3 (`arm,gic-v3`).
    GicV3 {
        /// GICD registers.
        distributor: MmioRange,
        /// The first GICR region (QEMU has one, holding every CPU's redistributor frames).
        redistributors: MmioRange,
        /// `#redistributor-regions` (1 when absent).
        redistributor_regions: u32,
    },
}

/// The architected (generic) timer's interrupts, in the binding's order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timer {
    /// Secure EL1 physical timer (CNTPS).
    pub secure_physical: Interrupt,
    /// Non-secure EL1 physical timer (CNTP).
    pub nonsecure_physical: Interrupt,
    /// Virtual timer (CNTV).
    pub virtual_timer: Interrupt,
    /// EL2 physical timer (CNTHP).
    pub hypervisor_physical: Interrupt,
    /// EL2 virtual timer (CNTHV), the optional fifth entry.
    pub hypervisor_virtual: Option<Interrupt>,
    /// `clock-frequency`, only given when firmware did not program CNTFRQ_EL0.
    pub clock_frequency: Option<u32>,
}

/// Which UART a console is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UartKind {
    /// ARM PrimeCell PL011 (`arm,pl011`).
    Pl011,
    /// Something this crate does not name; the kernel may still know it by address.
    Other,
}

/// The console UART.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Uart {
    /// The register model.
    pub kind: UartKind,
    /// The first `reg` entry.
    pub registers: MmioRange,
    /// Its first interrupt, if it has one.
    pub interrupt: Option<Interrupt>,
    /// `clock-frequency` of the node, or of the first clock in `clocks` (QEMU's 24 MHz
    /// `apb-pclk`), if either is given.
    pub clock_frequency: Option<u32>,
}

/// How PSCI calls reach the firmware.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PsciMethod {
    /// `HVC #0`: firmware at EL2 (QEMU without `virtualization=on`).
    Hvc,
    /// `SMC #0`: firmware at EL3 (QEMU with `virtualization=on` or `secure=on`).
    Smc,
}

/// The newest PSCI version the `compatible` list promises.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum PsciVersion {
    /// `arm,psci`: function IDs come from properties; this crate does not read them.
    V0_1,
    /// `arm,psci-0.2`: standard function IDs.
    V0_2,
    /// `arm,psci-1.0`.
    V1_0,
}

/// PSCI firmware.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Psci {
    /// The conduit.
    pub method: PsciMethod,
    /// The best version listed in `compatible`.
    pub version: PsciVersion,
}

/// How a secondary CPU is started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnableMethod {
    /// No `enable-method` (QEMU omits it on single-CPU machines).
    Absent,
    /// `"psci"`: CPU_ON.
    Psci,
    /// `"spin-table"`: write the entry point to `release_address` and send an event.
    SpinTable {
        /// `cpu-release-addr`.
        release_address: u64,
    },
    /// A method this crate does not know.
    Other,
}

/// One CPU.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cpu {
    /// `reg`: the MPIDR_EL1 affinity fields (Aff3 in bits 32..39 when `#address-cells` is 2).
    pub mpidr: u64,
    /// How to start it.
    pub enable_method: EnableMethod,
}

/// How many CPUs a [`CpuList`] holds.
pub const CPU_LIST_CAPACITY: usize = 64;

/// Up to [`CPU_LIST_CAPACITY`] CPUs, in tree order.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct CpuList {
    cpus: [Cpu; CPU_LIST_CAPACITY],
    length: usize,
}

impl CpuList {
    /// How many CPUs the list can hold.
    pub const CAPACITY: usize = CPU_LIST_CAPACITY;

    /// An empty list.
    pub const fn new() -> Self {
        Self {
            cpus: [Cpu {
                mpidr: 0,
                enable_method: EnableMethod::Absent,
            }; CPU_LIST_CAPACITY],
            length: 0,
        }
    }

    /// Appends `cpu`.
    ///
    /// Errors: [`crate::ListFull`] when the list already holds [`CpuList::CAPACITY`] CPUs.
    pub fn push(&mut self, cpu: Cpu) -> Result<(), crate::ListFull> {
        let slot = self.cpus.get_mut(self.length).ok_or(crate::ListFull)?;
        *slot = cpu;
        self.length += 1;
        Ok(())
    }

    /// The CPUs, in tree order.
    pub fn as_slice(&self) -> &[Cpu] {
        self.cpus.get(..self.length).unwrap_or(&[])
    }

    /// Iterates over the CPUs in tree order.
    pub fn iter(&self) -> core::slice::Iter<'_, Cpu> {
        self.as_slice().iter()
    }

    /// How many CPUs there are.
    pub fn len(&self) -> usize {
        self.length
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.length == 0
    }

    /// The CPU whose MPIDR affinity is `mpidr`.
    pub fn find(&self, mpidr: u64) -> Option<&Cpu> {
        self.iter().find(|cpu| cpu.mpidr == mpidr)
    }
}

impl Default for CpuList {
    fn default() -> Self {
        Self::new()
    }
}

impl<'list> IntoIterator for &'list CpuList {
    type Item = &'list Cpu;
    type IntoIter = core::slice::Iter<'list, Cpu>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

impl fmt::Debug for CpuList {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.debug_list().entries(self.iter()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cpu(mpidr: u64) -> Cpu {
        Cpu {
            mpidr,
            enable_method: EnableMethod::Psci,
        }
    }

    #[test]
    fn cpu_list_keeps_tree_order_and_finds_by_mpidr() {
        let mut list = CpuList::new();
        list.push(cpu(3)).unwrap();
        list.push(cpu(1)).unwrap();
        assert_eq!(list.len(), 2);
        assert_eq!(list.as_slice()[0].mpidr, 3);
        assert_eq!(list.find(1), Some(&cpu(1)));
        assert_eq!(list.find(2), None);
    }

    #[test]
    fn cpu_list_refuses_a_cpu_beyond_its_capacity() {
        let mut list = CpuList::new();
        for mpidr in 0..CpuList::CAPACITY as u64 {
            list.push(cpu(mpidr)).unwrap();
        }
        assert_eq!(list.push(cpu(999)), Err(crate::ListFull));
        assert_eq!(list.len(), CpuList::CAPACITY);
    }

    #[test]
    fn psci_versions_order_from_oldest_to_newest() {
        assert!(PsciVersion::V0_1 < PsciVersion::V0_2);
        assert!(PsciVersion::V0_2 < PsciVersion::V1_0);
    }
}
