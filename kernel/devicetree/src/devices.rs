//! The interrupt controller, the architected timer and PSCI, found by `compatible`.
//!
//! These are the three devices the kernel cannot run without (PSCI is optional: without it
//! the kernel stays on one CPU and cannot power off). Each is recognised by the compatible
//! strings of its binding; an unknown GIC is an error rather than a guess, because every
//! interrupt number the kernel uses is meaningful only for a GIC.

use crate::error::Error;
use crate::interrupt::Interrupt;
use crate::machine::{InterruptController, Psci, PsciMethod, PsciVersion, Timer};
use crate::range::{MmioRange, PhysRange, RangeList};
use crate::tree::{
    Interrupts, Node, Reg, Tree, any_compatible, has_device_type, is_compatible, property,
    string_property, u32_property,
};

/// Compatible strings of a GICv2 (and its GICv1 ancestors with the same register layout).
const GIC_V2_COMPATIBLE: [&str; 3] = ["arm,cortex-a15-gic", "arm,gic-400", "arm,cortex-a9-gic"];
/// Compatible strings of a GICv3.
const GIC_V3_COMPATIBLE: [&str; 1] = ["arm,gic-v3"];
/// Compatible strings of the architected timer.
const TIMER_COMPATIBLE: [&str; 2] = ["arm,armv8-timer", "arm,armv7-timer"];
/// The timer binding lists secure, non-secure, virtual and hypervisor timers, in that order.
const TIMER_REQUIRED_INTERRUPTS: usize = 4;

/// The GIC as decoded, plus its node, which the other decoders need to check that their
/// interrupts are routed to it.
pub(crate) struct Gic<'a, 'i, 'dt> {
    /// The decoded controller.
    pub(crate) controller: InterruptController,
    /// Its node.
    pub(crate) node: Node<'a, 'i, 'dt>,
}

/// The first GICv2 or GICv3 node in the tree.
///
/// Errors: [`Error::NoInterruptController`]; [`Error::BadProperty`] for a `reg` with too few
/// regions or a malformed `#redistributor-regions`.
pub(crate) fn interrupt_controller<'a, 'i, 'dt>(
    tree: &Tree<'a, 'i, 'dt>,
) -> Result<Gic<'a, 'i, 'dt>, Error> {
    for node in tree.nodes() {
        let controller = if is_compatible(&node, &GIC_V2_COMPATIBLE) {
            let reg = Reg::of(&node)?.ok_or(Error::MissingProperty("reg"))?;
            InterruptController::GicV2 {
                distributor: mmio(&reg, 0)?,
                cpu_interface: mmio(&reg, 1)?,
            }
        } else if is_compatible(&node, &GIC_V3_COMPATIBLE) {
            let reg = Reg::of(&node)?.ok_or(Error::MissingProperty("reg"))?;
            let redistributor_regions = u32_property(&node, "#redistributor-regions")?.unwrap_or(1);
            // `reg` holds GICD, then every GICR region, then optionally GICC, GICH, GICV.
            let regions = usize::try_from(redistributor_regions)
                .map_err(|_| Error::BadProperty("#redistributor-regions"))?;
            if regions == 0 || regions >= reg.len() {
                return Err(Error::BadProperty("#redistributor-regions"));
            }
            InterruptController::GicV3 {
                distributor: mmio(&reg, 0)?,
                redistributors: mmio(&reg, 1)?,
                redistributor_regions,
            }
        } else {
            continue;
        };
        return Ok(Gic { controller, node });
    }
    Err(Error::NoInterruptController)
}

/// Entry `index` of `reg` as an MMIO range.
pub(crate) fn mmio(reg: &Reg<'_, '_, '_>, index: usize) -> Result<MmioRange, Error> {
    let (base, size) = reg.physical(index)?;
    Ok(MmioRange::new(base, size))
}

/// The architected timer.
///
/// Errors: [`Error::NoTimer`]; [`Error::MissingProperty`] (`"interrupts"`); a malformed
/// interrupt or one routed elsewhere than the GIC; a malformed `clock-frequency`.
pub(crate) fn timer<'a, 'i, 'dt>(
    tree: &Tree<'a, 'i, 'dt>,
    gic: &Gic<'a, 'i, 'dt>,
) -> Result<Timer, Error> {
    let node = tree
        .nodes()
        .find(|node| is_compatible(node, &TIMER_COMPATIBLE))
        .ok_or(Error::NoTimer)?;
    let interrupts =
        Interrupts::of(tree, &node, &gic.node)?.ok_or(Error::MissingProperty("interrupts"))?;
    if interrupts.len() < TIMER_REQUIRED_INTERRUPTS {
        return Err(Error::BadProperty("interrupts"));
    }
    let hypervisor_virtual = if interrupts.len() > TIMER_REQUIRED_INTERRUPTS {
        Some(interrupts.get(TIMER_REQUIRED_INTERRUPTS)?)
    } else {
        None
    };
    Ok(Timer {
        secure_physical: interrupts.get(0)?,
        nonsecure_physical: interrupts.get(1)?,
        virtual_timer: interrupts.get(2)?,
        hypervisor_physical: interrupts.get(3)?,
        hypervisor_virtual,
        clock_frequency: u32_property(&node, "clock-frequency")?,
    })
}

/// The PSCI firmware interface, if the tree has a PSCI node.
///
/// Errors: [`Error::MissingProperty`] (`"method"`) or [`Error::BadProperty`] (`"method"`) for
/// a method other than `"hvc"` or `"smc"`.
pub(crate) fn psci(tree: &Tree<'_, '_, '_>) -> Result<Option<Psci>, Error> {
    let mut found = None;
    for node in tree.nodes() {
        let mut best = None;
        any_compatible(&node, |string| {
            let version = match string {
                "arm,psci-1.0" => PsciVersion::V1_0,
                "arm,psci-0.2" => PsciVersion::V0_2,
                "arm,psci" => PsciVersion::V0_1,
                _ => return false,
            };
            best = best.max(Some(version));
            false
        });
        if let Some(version) = best {
            found = Some((node, version));
            break;
        }
    }
    let Some((node, version)) = found else {
        return Ok(None);
    };
    let method = match string_property(&node, "method")? {
        Some("hvc") => PsciMethod::Hvc,
        Some("smc") => PsciMethod::Smc,
        Some(_) => return Err(Error::BadProperty("method")),
        None => return Err(Error::MissingProperty("method")),
    };
    Ok(Some(Psci { method, version }))
}

/// The first interrupt of `node`, if it has an `interrupts` property.
pub(crate) fn first_interrupt<'a, 'i, 'dt>(
    tree: &Tree<'a, 'i, 'dt>,
    node: &Node<'a, 'i, 'dt>,
    gic: &Gic<'a, 'i, 'dt>,
) -> Result<Option<Interrupt>, Error> {
    Interrupts::of(tree, node, &gic.node)?
        .map(|interrupts| interrupts.get(0))
        .transpose()
}

/// The MMIO of every device user-level drivers may have: each node with a `compatible` and a
/// `reg`, outside `/cpus` and not a memory node, minus what the kernel drives itself (the GIC's
/// registers and the console's). Ranges are page-aligned outward and merged; when the list is
/// full the rest is left out (the kernel then simply has fewer devices to offer).
pub(crate) fn user_devices(tree: &Tree<'_, '_, '_>, kernel_owned: &[MmioRange]) -> RangeList {
    const PAGE: u64 = 4096;
    let mut devices = RangeList::new();
    for node in tree.nodes() {
        let in_cpus = node
            .parent()
            .is_some_and(|parent| parent.name().is_ok_and(|name| name == "cpus"));
        // Interrupt and MSI controllers (the GIC, its ITS or v2m frames) are the kernel's.
        let controls_interrupts = property(&node, "interrupt-controller").is_some()
            || property(&node, "msi-controller").is_some();
        if in_cpus
            || controls_interrupts
            || has_device_type(&node, "memory")
            || string_property(&node, "compatible")
                .ok()
                .flatten()
                .is_none()
        {
            continue;
        }
        let Ok(Some(reg)) = Reg::of(&node) else {
            continue;
        };
        for index in 0..reg.len() {
            let Ok((base, size)) = reg.physical(index) else {
                continue;
            };
            let start = base & !(PAGE - 1);
            let Some(end) = base
                .checked_add(size)
                .and_then(|end| end.checked_next_multiple_of(PAGE))
            else {
                continue;
            };
            let range = PhysRange::new(start, end - start);
            let owned = kernel_owned.iter().any(|kernel| {
                kernel.base < range.base.saturating_add(range.size)
                    && range.base < kernel.base.saturating_add(kernel.size)
            });
            if size > 0 && !owned && devices.push(range).is_err() {
                return devices;
            }
        }
    }
    devices
}

/// The configuration space of a generic ECAM PCIe host bridge (`pci-host-ecam-generic`, QEMU
/// `virt`'s `/pcie@10000000`): its first `reg` entry. `None` without such a node.
pub(crate) fn pci_configuration_space(tree: &Tree<'_, '_, '_>) -> Result<Option<MmioRange>, Error> {
    for node in tree.nodes() {
        if !is_compatible(&node, &["pci-host-ecam-generic"]) {
            continue;
        }
        let Some(reg) = Reg::of(&node)? else {
            continue;
        };
        if reg.len() == 0 {
            continue;
        }
        let (base, size) = reg.physical(0)?;
        return Ok(Some(MmioRange::new(base, size)));
    }
    Ok(None)
}
