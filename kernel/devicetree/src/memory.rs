//! RAM and reserved RAM: the `memory` nodes and the children of `/reserved-memory`.
//!
//! Memory nodes are found by `device_type = "memory"`, not by name, because that is what the
//! specification makes normative; every `reg` entry counts, since one node may describe
//! several banks. `/memreserve/` entries are read with the header in `blob.rs`; here the
//! `/reserved-memory` children with a `reg` are added (those with only `size` are allocation
//! requests for an operating system that honours them, which this kernel does not).

use crate::error::Error;
use crate::range::{PhysRange, RangeList};
use crate::tree::{Reg, Tree, has_device_type};

/// Every RAM range, sorted and merged.
///
/// Errors: [`Error::NoMemory`] if there is none; [`Error::CapacityExceeded`] (`"memory"`)
/// if the banks do not fit; a `reg` decoding error.
pub(crate) fn memory(tree: &Tree<'_, '_, '_>) -> Result<RangeList, Error> {
    let mut memory = RangeList::new();
    for node in tree.nodes() {
        if !has_device_type(&node, "memory") {
            continue;
        }
        let Some(reg) = Reg::of(&node)? else {
            continue;
        };
        for index in 0..reg.len() {
            let (base, size) = reg.physical(index)?;
            memory
                .push(PhysRange::new(base, size))
                .map_err(|_| Error::CapacityExceeded("memory"))?;
        }
    }
    if memory.is_empty() {
        return Err(Error::NoMemory);
    }
    Ok(memory)
}

/// Adds the `reg` of every child of `/reserved-memory` to `reserved`.
///
/// Errors: [`Error::CapacityExceeded`] (`"reserved"`) or a `reg` decoding error.
pub(crate) fn add_reserved_memory(
    tree: &Tree<'_, '_, '_>,
    reserved: &mut RangeList,
) -> Result<(), Error> {
    let Some(reserved_memory) = tree.node_by_path("/reserved-memory") else {
        return Ok(());
    };
    for child in reserved_memory.children() {
        let Some(reg) = Reg::of(&child)? else {
            continue;
        };
        for index in 0..reg.len() {
            let (base, size) = reg.physical(index)?;
            reserved
                .push(PhysRange::new(base, size))
                .map_err(|_| Error::CapacityExceeded("reserved"))?;
        }
    }
    Ok(())
}
