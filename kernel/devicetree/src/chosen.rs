//! `/chosen`: the command line, the initrd and the console named by `stdout-path`.
//!
//! These are what the boot loader chose for this boot rather than what the hardware is, and
//! each is optional: without `/chosen` the kernel boots with an empty command line, no initrd
//! and no console. What is present must be well formed, though: a `stdout-path` that names no
//! node is an error, not a silent loss of the console.

use fdt_rs::prelude::PropReader;

use crate::devices::{Gic, first_interrupt, mmio};
use crate::error::Error;
use crate::machine::{Uart, UartKind};
use crate::range::PhysRange;
use crate::tree::{
    Node, Property, Reg, Tree, cell, cell_count, is_compatible, number, property, string_property,
    u32_property,
};

/// What `/chosen` says.
pub(crate) struct Chosen<'dt> {
    /// `bootargs`, or `""`.
    pub(crate) bootargs: &'dt str,
    /// `linux,initrd-start` .. `linux,initrd-end`.
    pub(crate) initrd: Option<PhysRange>,
    /// The node named by `stdout-path`, decoded.
    pub(crate) console: Option<Uart>,
}

/// Decodes `/chosen`.
///
/// Errors: [`Error::BadProperty`] for a `bootargs` that is not a string, initrd bounds that are
/// not one or two cells, come alone or end before they start, or a `stdout-path` that names
/// no node (directly or through `/aliases`); any error decoding the console node.
pub(crate) fn chosen<'a, 'i, 'dt>(
    tree: &Tree<'a, 'i, 'dt>,
    gic: &Gic<'a, 'i, 'dt>,
) -> Result<Chosen<'dt>, Error> {
    let Some(chosen) = tree.node_by_path("/chosen") else {
        return Ok(Chosen {
            bootargs: "",
            initrd: None,
            console: None,
        });
    };
    let bootargs = string_property(&chosen, "bootargs")?.unwrap_or("");
    let initrd = initrd(&chosen)?;
    let console = match stdout_node(tree, &chosen)? {
        Some(node) => Some(uart(tree, &node, gic)?),
        None => None,
    };
    Ok(Chosen {
        bootargs,
        initrd,
        console,
    })
}

/// One initrd bound. QEMU writes a single cell when the address fits in 32 bits; the binding
/// allows two, so the length decides.
fn initrd_bound(bound: &Property<'_, '_, '_>, name: &'static str) -> Result<u64, Error> {
    let cells = cell_count(bound, name)?;
    if cells != 1 && cells != 2 {
        return Err(Error::BadProperty(name));
    }
    number(bound, 0, cells, name)
}

/// The initrd range, if `/chosen` gives both bounds.
fn initrd(chosen: &Node<'_, '_, '_>) -> Result<Option<PhysRange>, Error> {
    let start = property(chosen, "linux,initrd-start");
    let end = property(chosen, "linux,initrd-end");
    match (start, end) {
        (None, None) => Ok(None),
        (Some(_), None) => Err(Error::MissingProperty("linux,initrd-end")),
        (None, Some(_)) => Err(Error::MissingProperty("linux,initrd-start")),
        (Some(start), Some(end)) => {
            let start = initrd_bound(&start, "linux,initrd-start")?;
            let end = initrd_bound(&end, "linux,initrd-end")?;
            let size = end
                .checked_sub(start)
                .ok_or(Error::BadProperty("linux,initrd-end"))?;
            Ok(Some(PhysRange::new(start, size)))
        }
    }
}

/// The node `stdout-path` (or the legacy `linux,stdout-path`) names: an absolute path or an
/// alias from `/aliases`, either optionally followed by `:options` (such as `:115200n8`).
fn stdout_node<'a, 'i, 'dt>(
    tree: &Tree<'a, 'i, 'dt>,
    chosen: &Node<'a, 'i, 'dt>,
) -> Result<Option<Node<'a, 'i, 'dt>>, Error> {
    let (path, name) = match string_property(chosen, "stdout-path")? {
        Some(path) => (path, "stdout-path"),
        None => match string_property(chosen, "linux,stdout-path")? {
            Some(path) => (path, "linux,stdout-path"),
            None => return Ok(None),
        },
    };
    let path = path.split_once(':').map_or(path, |(path, _options)| path);
    let absolute = if path.starts_with('/') {
        path
    } else {
        let aliases = tree
            .node_by_path("/aliases")
            .ok_or(Error::BadProperty(name))?;
        alias(&aliases, path)?.ok_or(Error::BadProperty(name))?
    };
    tree.node_by_path(absolute)
        .map(Some)
        .ok_or(Error::BadProperty(name))
}

/// The path the alias `alias` stands for. Alias names are property names of `/aliases`.
fn alias<'dt>(aliases: &Node<'_, '_, 'dt>, alias: &str) -> Result<Option<&'dt str>, Error> {
    let Some(found) = property(aliases, alias) else {
        return Ok(None);
    };
    found
        .str()
        .map(Some)
        .map_err(|_| Error::BadProperty("aliases"))
}

/// Decodes the console node.
fn uart<'a, 'i, 'dt>(
    tree: &Tree<'a, 'i, 'dt>,
    node: &Node<'a, 'i, 'dt>,
    gic: &Gic<'a, 'i, 'dt>,
) -> Result<Uart, Error> {
    let kind = if is_compatible(node, &["arm,pl011"]) {
        UartKind::Pl011
    } else {
        UartKind::Other
    };
    let reg = Reg::of(node)?.ok_or(Error::MissingProperty("reg"))?;
    Ok(Uart {
        kind,
        registers: mmio(&reg, 0)?,
        interrupt: first_interrupt(tree, node, gic)?,
        clock_frequency: clock_frequency(tree, node)?,
    })
}

/// The node's own `clock-frequency`, else that of the first clock in `clocks`.
fn clock_frequency(tree: &Tree<'_, '_, '_>, node: &Node<'_, '_, '_>) -> Result<Option<u32>, Error> {
    if let Some(frequency) = u32_property(node, "clock-frequency")? {
        return Ok(Some(frequency));
    }
    let Some(clocks) = property(node, "clocks") else {
        return Ok(None);
    };
    // The first cell of a clock specifier is always the provider's phandle.
    let phandle = cell(&clocks, 0).ok_or(Error::BadProperty("clocks"))?;
    let provider = tree
        .node_by_phandle(phandle)
        .ok_or(Error::BadProperty("clocks"))?;
    u32_property(&provider, "clock-frequency")
}
