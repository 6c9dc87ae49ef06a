//! The CPUs: every child of `/cpus` with `device_type = "cpu"`, its MPIDR and enable method.
//!
//! `/cpus` also holds `cpu-map` (topology) and possibly other helper nodes, which is why the
//! device type, not the name, decides. A CPU's `reg` is its MPIDR affinity, one cell or two
//! (`#address-cells` of `/cpus`), not an address, so it is read without translation.

use crate::error::Error;
use crate::machine::{Cpu, CpuList, EnableMethod};
use crate::tree::{
    Node, Reg, Tree, cell_count, has_device_type, number, property, string_property,
};

/// Every CPU in tree order.
///
/// Errors: [`Error::MissingNode`] (`"/cpus"`), [`Error::NoCpus`],
/// [`Error::MissingProperty`] (`"reg"`), [`Error::CapacityExceeded`] (`"cpus"`), or a
/// malformed `reg`, `enable-method` or `cpu-release-addr`.
pub(crate) fn cpus(tree: &Tree<'_, '_, '_>) -> Result<CpuList, Error> {
    let container = tree
        .node_by_path("/cpus")
        .ok_or(Error::MissingNode("/cpus"))?;
    let mut cpus = CpuList::new();
    for node in container.children() {
        if !has_device_type(&node, "cpu") {
            continue;
        }
        let reg = Reg::of(&node)?.ok_or(Error::MissingProperty("reg"))?;
        if reg.len() == 0 {
            return Err(Error::BadProperty("reg"));
        }
        let (mpidr, _size) = reg.raw(0)?;
        let cpu = Cpu {
            mpidr,
            enable_method: enable_method(&node)?,
        };
        cpus.push(cpu)
            .map_err(|_| Error::CapacityExceeded("cpus"))?;
    }
    if cpus.is_empty() {
        return Err(Error::NoCpus);
    }
    Ok(cpus)
}

/// The `enable-method` of one CPU node.
fn enable_method(node: &Node<'_, '_, '_>) -> Result<EnableMethod, Error> {
    let method = match string_property(node, "enable-method")? {
        None => EnableMethod::Absent,
        Some("psci") => EnableMethod::Psci,
        Some("spin-table") => {
            let address = property(node, "cpu-release-addr")
                .ok_or(Error::MissingProperty("cpu-release-addr"))?;
            // The binding fixes this at two cells, whatever `#address-cells` says; some old
            // trees use one, so decide by length.
            let cells = cell_count(&address, "cpu-release-addr")?;
            if cells != 1 && cells != 2 {
                return Err(Error::BadProperty("cpu-release-addr"));
            }
            EnableMethod::SpinTable {
                release_address: number(&address, 0, cells, "cpu-release-addr")?,
            }
        }
        Some(_) => EnableMethod::Other,
    };
    Ok(method)
}
