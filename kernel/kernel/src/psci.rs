//! Power state control through PSCI, over the conduit the device tree names (`hvc` or `smc`).
//!
//! Only SYSTEM_OFF is needed now: it is how the kernel (and every test image) ends a run so
//! that QEMU exits by itself. CPU_ON joins it with SMP.

use devicetree::{Psci, PsciMethod};
use spin::Once;

use crate::arch::{self, Conduit};

/// PSCI 0.2+ function identifiers (DEN0022).
const PSCI_VERSION: u32 = 0x8400_0000;
const SYSTEM_OFF: u32 = 0x8400_0008;

static CONDUIT: Once<Conduit> = Once::new();

/// Remember how to reach the firmware.
pub fn start(psci: Option<&Psci>) {
    if let Some(psci) = psci {
        CONDUIT.call_once(|| match psci.method {
            PsciMethod::Hvc => Conduit::Hypervisor,
            PsciMethod::Smc => Conduit::SecureMonitor,
        });
    }
}

/// The firmware's PSCI version as (major, minor), if PSCI is present.
pub fn version() -> Option<(u16, u16)> {
    let conduit = *CONDUIT.get()?;
    let version = arch::firmware_call(conduit, PSCI_VERSION, [0; 3]);
    Some(((version >> 16) as u16, version as u16))
}

/// Switch the machine off. Without PSCI (or if the firmware refuses), halt this CPU.
pub fn system_off() -> ! {
    if let Some(&conduit) = CONDUIT.get() {
        arch::firmware_call(conduit, SYSTEM_OFF, [0; 3]);
    }
    arch::halt()
}
