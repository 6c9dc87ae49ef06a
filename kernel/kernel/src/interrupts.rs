//! The interrupt controller (GICv2 or GICv3, whichever the device tree names) through
//! `arm-gic-driver`, and IRQ dispatch.
//!
//! The kernel handles one interrupt itself, the timer; every other line will be delivered as
//! an IPC to the user-level driver attached to it (kernel-core issue). An interrupt nobody
//! claimed is logged once and masked, so that a stuck line cannot storm the CPU.

use arm_gic_driver::{IntId, VirtAddr, v2, v3};
use devicetree::InterruptController;
use spin::{Mutex, Once};

/// What the IRQ path needs without taking a lock: acknowledge and end an interrupt.
enum Acknowledger {
    V2(v2::TrapOp),
    V3,
}

/// The distributor side, behind a lock (configuration only).
enum Controller {
    V2(v2::Gic),
    V3(v3::Gic),
}

// SAFETY: the GIC register blocks are device memory shared by the whole system; the driver
// objects hold only their addresses, and every use goes through the `Mutex` below.
unsafe impl Send for Controller {}

static CONTROLLER: Mutex<Option<Controller>> = Mutex::new(None);
static ACKNOWLEDGER: Once<Acknowledger> = Once::new();

/// A handler for one interrupt line, called with IRQs masked.
pub type Handler = fn(intid: u32);

const MAX_HANDLED: usize = 4;
static HANDLERS: Mutex<[(u32, Option<Handler>); MAX_HANDLED]> =
    Mutex::new([(0, None); MAX_HANDLED]);

/// Where interrupts without a kernel handler go once user-level drivers exist: the kernel
/// core's interrupt IPC (see `system.rs`).
static UNCLAIMED: Once<Handler> = Once::new();

/// Send every interrupt the kernel does not handle itself to `handler` (which masks it and
/// hands it on), instead of masking it with a warning.
pub fn forward_unclaimed_to(handler: Handler) {
    UNCLAIMED.call_once(|| handler);
}

/// Mask or unmask one line at the controller; unmasking configures it (level-triggered,
/// default priority) the first time.
pub fn set_line_masked(intid: u32, masked: bool) {
    crate::arch::with_interrupts_masked(|| set_enabled(intid, (!masked).then_some(false)));
}

/// Make `intid` pending at the distributor, as if its device had raised it: the test image's
/// deterministic interrupt source (see `system.rs`).
#[cfg_attr(
    not(feature = "ktest"),
    allow(dead_code, reason = "a test-image trigger")
)]
pub fn raise(intid: u32) {
    let id = intid_of(intid);
    crate::arch::with_interrupts_masked(|| match CONTROLLER.lock().as_mut() {
        Some(Controller::V2(gic)) => gic.set_pending(id, true),
        Some(Controller::V3(gic)) => gic.set_pending(id, true),
        None => {}
    });
}

/// Which GIC the kernel drives, for the banner.
pub fn describe(controller: &InterruptController) -> &'static str {
    match controller {
        InterruptController::GicV2 { .. } => "GICv2",
        InterruptController::GicV3 { .. } => "GICv3",
    }
}

/// Initialise the distributor and this CPU's interface. `to_virtual` turns a physical
/// register address into its kernel mapping.
///
/// # Safety
/// The register blocks named by `controller` must be mapped as device memory at
/// `to_virtual(physical)` for the kernel's lifetime; called once, on the boot CPU.
pub unsafe fn start(controller: &InterruptController, to_virtual: impl Fn(u64) -> u64) {
    match controller {
        InterruptController::GicV2 {
            distributor,
            cpu_interface,
        } => {
            let distributor = VirtAddr::new(to_virtual(distributor.base) as usize);
            let cpu_interface = VirtAddr::new(to_virtual(cpu_interface.base) as usize);
            // SAFETY: both blocks are mapped device memory (the caller's promise) and this is
            // the only driver instance.
            let mut gic = unsafe { v2::Gic::new(distributor, cpu_interface, None) };
            if gic.try_init().is_err() {
                log::warn!("GICv2 CPU target discovery failed; SPIs will not be routed");
            }
            gic.cpu_interface().init_current_cpu();
            ACKNOWLEDGER.call_once(|| Acknowledger::V2(gic.cpu_interface().trap_operations()));
            *CONTROLLER.lock() = Some(Controller::V2(gic));
        }
        InterruptController::GicV3 {
            distributor,
            redistributors,
            ..
        } => {
            let distributor = VirtAddr::new(to_virtual(distributor.base) as usize);
            let redistributors = VirtAddr::new(to_virtual(redistributors.base) as usize);
            // SAFETY: as above.
            let mut gic = unsafe { v3::Gic::new(distributor, redistributors) };
            gic.init();
            if let Err(error) = gic.cpu_interface().init_current_cpu() {
                log::error!("GICv3 CPU interface: {error}");
            }
            ACKNOWLEDGER.call_once(|| Acknowledger::V3);
            *CONTROLLER.lock() = Some(Controller::V3(gic));
        }
    }
}

/// Route `intid` to `handler` and unmask it, level-triggered or edge as given.
pub fn attach(intid: u32, edge_triggered: bool, handler: Handler) {
    crate::arch::with_interrupts_masked(|| {
        let mut handlers = HANDLERS.lock();
        if let Some(slot) = handlers.iter_mut().find(|(_, existing)| existing.is_none()) {
            *slot = (intid, Some(handler));
        } else {
            log::error!("no room for a handler of interrupt {intid}");
            return;
        }
        drop(handlers);
        set_enabled(intid, Some(edge_triggered));
    });
}

fn set_enabled(intid: u32, configure_edge: Option<bool>) {
    let id = intid_of(intid);
    let trigger = |edge| {
        if edge {
            arm_gic_driver::v2::Trigger::Edge
        } else {
            arm_gic_driver::v2::Trigger::Level
        }
    };
    match CONTROLLER.lock().as_mut() {
        Some(Controller::V2(gic)) => {
            if let Some(edge) = configure_edge {
                gic.set_priority(id, 0x80);
                if intid >= 32 {
                    gic.set_cfg(id, trigger(edge));
                }
            }
            gic.set_irq_enable(id, configure_edge.is_some());
        }
        Some(Controller::V3(gic)) => {
            if let Some(edge) = configure_edge {
                gic.set_priority(id, 0x80);
                if intid >= 32 {
                    gic.set_cfg(id, trigger(edge));
                }
            }
            gic.set_irq_enable(id, configure_edge.is_some());
        }
        None => {}
    }
}

fn intid_of(intid: u32) -> IntId {
    match intid {
        0..16 => IntId::sgi(intid),
        16..32 => IntId::ppi(intid - 16),
        _ => IntId::spi(intid - 32),
    }
}

/// The IRQ exception: acknowledge, run the handler, end the interrupt. Loops until the
/// controller reports nothing pending.
pub fn dispatch() {
    let Some(acknowledger) = ACKNOWLEDGER.get() else {
        return;
    };
    loop {
        let (intid, end): (u32, &dyn Fn()) = match acknowledger {
            Acknowledger::V2(operations) => {
                let ack = operations.ack();
                if ack.is_special() {
                    return;
                }
                let raw = u32::from(ack) & 0x3ff;
                (raw, &move || operations.eoi(ack))
            }
            Acknowledger::V3 => {
                let ack = v3::ack1();
                if ack.is_special() {
                    return;
                }
                (ack.to_u32(), &move || v3::eoi1(ack))
            }
        };
        let handler = HANDLERS
            .lock()
            .iter()
            .find(|(line, handler)| *line == intid && handler.is_some())
            .and_then(|(_, handler)| *handler);
        match (handler, UNCLAIMED.get()) {
            (Some(handler), _) => handler(intid),
            (None, Some(forward)) => forward(intid),
            (None, None) => {
                log::warn!("interrupt {intid} has no handler; masking it");
                set_enabled(intid, None);
            }
        }
        end();
    }
}
