//! Reading helpers over the `fdt-rs` index: properties, cells, `reg` with its parent's cell
//! counts and `ranges` translation, phandles, paths and interrupt parents.
//!
//! These are the device-tree rules every decoder needs (the Devicetree Specification v0.4,
//! chapter 2), written once so that the decoders in `memory.rs`, `cpus.rs`, `devices.rs` and
//! `chosen.rs` only say *what* they look for. Every accessor checks lengths and cell counts
//! and reports a typed [`Error`] naming the property; none can panic on blob contents.

use fdt_rs::index::{DevTreeIndex, DevTreeIndexNode, DevTreeIndexProp};
use fdt_rs::prelude::{FallibleIterator, PropReader};

use crate::error::Error;
use crate::interrupt::Interrupt;

/// A node of the index.
pub(crate) type Node<'a, 'i, 'dt> = DevTreeIndexNode<'a, 'i, 'dt>;
/// A property of a node of the index.
pub(crate) type Property<'a, 'i, 'dt> = DevTreeIndexProp<'a, 'i, 'dt>;

/// Bytes in one cell.
const CELL_SIZE: usize = 4;
/// `#address-cells` when a bus node does not say (Devicetree Specification 2.3.5).
const DEFAULT_ADDRESS_CELLS: usize = 2;
/// `#size-cells` when a bus node does not say.
const DEFAULT_SIZE_CELLS: usize = 1;
/// Most cells we can fold into a `u64`.
const MAX_NUMBER_CELLS: usize = 2;
/// Phandle values that never name a node.
const INVALID_PHANDLES: [u32; 2] = [0, u32::MAX];
/// Bound on `interrupt-parent` hops, so a phandle cycle is an error rather than a hang.
const MAX_INTERRUPT_PARENT_HOPS: usize = 64;

/// The indexed device tree, with every node and property name checked to be readable UTF-8.
pub(crate) struct Tree<'a, 'i, 'dt> {
    index: &'a DevTreeIndex<'i, 'dt>,
}

impl<'a, 'i, 'dt> Tree<'a, 'i, 'dt> {
    /// Wraps `index` after checking that every node and property name can be read, so that
    /// name lookups later never meet an error they would have to ignore.
    ///
    /// Errors: [`Error::MalformedStructure`] for an unreadable name.
    pub(crate) fn new(index: &'a DevTreeIndex<'i, 'dt>) -> Result<Self, Error> {
        for node in index.nodes() {
            node.name().map_err(|_| Error::MalformedStructure)?;
        }
        for property in index.props() {
            property.name().map_err(|_| Error::MalformedStructure)?;
        }
        Ok(Self { index })
    }

    /// The root node.
    pub(crate) fn root(&self) -> Node<'a, 'i, 'dt> {
        self.index.root()
    }

    /// Every node, depth first.
    pub(crate) fn nodes(&self) -> impl Iterator<Item = Node<'a, 'i, 'dt>> + use<'a, 'i, 'dt> {
        self.index.nodes()
    }

    /// The node at the absolute `path`, such as `/pl011@9000000` or `/cpus`. A component
    /// without a unit address matches the first child whose name before `@` is equal.
    pub(crate) fn node_by_path(&self, path: &str) -> Option<Node<'a, 'i, 'dt>> {
        let relative = path.strip_prefix('/')?;
        let mut node = self.root();
        for component in relative
            .split('/')
            .filter(|component| !component.is_empty())
        {
            node = node
                .children()
                .find(|child| name_matches(child, component))?;
        }
        Some(node)
    }

    /// The node whose `phandle` (or legacy `linux,phandle`) is `phandle`.
    pub(crate) fn node_by_phandle(&self, phandle: u32) -> Option<Node<'a, 'i, 'dt>> {
        if INVALID_PHANDLES.contains(&phandle) {
            return None;
        }
        self.nodes().find(|node| {
            ["phandle", "linux,phandle"].iter().any(|name| {
                property(node, name).is_some_and(|found| {
                    found.length() == CELL_SIZE && cell(&found, 0) == Some(phandle)
                })
            })
        })
    }

    /// The interrupt parent of `node`: the target of the nearest `interrupt-parent` phandle
    /// or, failing that, the tree parent, repeated until a node with `#interrupt-cells` is
    /// reached (the rule Linux's `of_irq_find_parent` follows).
    ///
    /// Errors: [`Error::BadProperty`] (`"interrupt-parent"`) for a dangling phandle, a chain
    /// that ends at the root without an interrupt controller, or a cycle.
    pub(crate) fn interrupt_parent(
        &self,
        node: &Node<'a, 'i, 'dt>,
    ) -> Result<Node<'a, 'i, 'dt>, Error> {
        let mut child = node.clone();
        for _ in 0..MAX_INTERRUPT_PARENT_HOPS {
            let parent = match property(&child, "interrupt-parent") {
                Some(phandle) => {
                    let phandle = exact_u32(&phandle, "interrupt-parent")?;
                    self.node_by_phandle(phandle)
                        .ok_or(Error::BadProperty("interrupt-parent"))?
                }
                None => child
                    .parent()
                    .ok_or(Error::BadProperty("interrupt-parent"))?,
            };
            if property(&parent, "#interrupt-cells").is_some() {
                return Ok(parent);
            }
            child = parent;
        }
        Err(Error::BadProperty("interrupt-parent"))
    }
}

/// Whether `node`'s name is `component`, or starts with `component@` when `component` carries
/// no unit address.
fn name_matches(node: &Node<'_, '_, '_>, component: &str) -> bool {
    let Ok(name) = node.name() else {
        return false;
    };
    if name == component {
        return true;
    }
    !component.contains('@')
        && name
            .split_once('@')
            .is_some_and(|(base, _unit_address)| base == component)
}

/// The property `name` of `node`, if present.
pub(crate) fn property<'a, 'i, 'dt>(
    node: &Node<'a, 'i, 'dt>,
    name: &str,
) -> Option<Property<'a, 'i, 'dt>> {
    // `Tree::new` checked every property name, so `name()` cannot fail here.
    node.props()
        .find(|candidate| candidate.name().is_ok_and(|found| found == name))
}

/// Cell `index` of `property`, if the property is long enough.
pub(crate) fn cell(property: &Property<'_, '_, '_>, index: usize) -> Option<u32> {
    let end = index.checked_add(1)?.checked_mul(CELL_SIZE)?;
    if end > property.length() {
        return None;
    }
    property.u32(index).ok()
}

/// How many cells `property` holds. Errors ([`Error::BadProperty`] named `name`) if its
/// length is not a whole number of cells.
pub(crate) fn cell_count(
    property: &Property<'_, '_, '_>,
    name: &'static str,
) -> Result<usize, Error> {
    if !property.length().is_multiple_of(CELL_SIZE) {
        return Err(Error::BadProperty(name));
    }
    Ok(property.length() / CELL_SIZE)
}

/// The number stored big-endian in `count` cells of `property` starting at cell `first`.
///
/// Errors: [`Error::BadProperty`] (named `name`) if the cells are missing or `count` exceeds
/// what fits in a `u64`.
pub(crate) fn number(
    property: &Property<'_, '_, '_>,
    first: usize,
    count: usize,
    name: &'static str,
) -> Result<u64, Error> {
    if count > MAX_NUMBER_CELLS {
        return Err(Error::BadProperty(name));
    }
    let mut value = 0u64;
    for offset in 0..count {
        let index = first.checked_add(offset).ok_or(Error::BadProperty(name))?;
        let cell = cell(property, index).ok_or(Error::BadProperty(name))?;
        value = (value << 32) | u64::from(cell);
    }
    Ok(value)
}

/// The value of a property that must be exactly one cell.
pub(crate) fn exact_u32(property: &Property<'_, '_, '_>, name: &'static str) -> Result<u32, Error> {
    if property.length() != CELL_SIZE {
        return Err(Error::BadProperty(name));
    }
    cell(property, 0).ok_or(Error::BadProperty(name))
}

/// The one-cell property `name` of `node`, if present.
pub(crate) fn u32_property(
    node: &Node<'_, '_, '_>,
    name: &'static str,
) -> Result<Option<u32>, Error> {
    property(node, name)
        .map(|found| exact_u32(&found, name))
        .transpose()
}

/// The first string of the property `name` of `node`, if present. An empty property reads as
/// the empty string.
///
/// Errors: [`Error::BadProperty`] if it is not NUL-terminated UTF-8.
pub(crate) fn string_property<'dt>(
    node: &Node<'_, '_, 'dt>,
    name: &'static str,
) -> Result<Option<&'dt str>, Error> {
    let Some(found) = property(node, name) else {
        return Ok(None);
    };
    if found.length() == 0 {
        return Ok(Some(""));
    }
    found.str().map(Some).map_err(|_| Error::BadProperty(name))
}

/// Calls `visit` with each string of `node`'s `compatible` list, stopping at the first that
/// returns `true`; returns whether one did. A malformed list matches nothing past the defect.
pub(crate) fn any_compatible(node: &Node<'_, '_, '_>, mut visit: impl FnMut(&str) -> bool) -> bool {
    let Some(compatible) = property(node, "compatible") else {
        return false;
    };
    let mut strings = compatible.iter_str();
    while let Ok(Some(string)) = strings.next() {
        if visit(string) {
            return true;
        }
    }
    false
}

/// Whether `node`'s `compatible` list contains one of `candidates`.
pub(crate) fn is_compatible(node: &Node<'_, '_, '_>, candidates: &[&str]) -> bool {
    any_compatible(node, |string| candidates.contains(&string))
}

/// Whether `node` has `device_type = "<device_type>"`.
pub(crate) fn has_device_type(node: &Node<'_, '_, '_>, device_type: &str) -> bool {
    matches!(string_property(node, "device_type"), Ok(Some(found)) if found == device_type)
}

/// The cell counts a bus node gives the addresses and sizes of its children.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CellCounts {
    /// `#address-cells`.
    pub(crate) address: usize,
    /// `#size-cells`.
    pub(crate) size: usize,
}

impl CellCounts {
    /// Reads `#address-cells` and `#size-cells` of `bus`, with the specification's defaults.
    ///
    /// Errors: [`Error::BadProperty`] if either is malformed or does not fit a `u64` (the
    /// PCI buses' three address cells are never read by this crate).
    pub(crate) fn of(bus: &Node<'_, '_, '_>) -> Result<Self, Error> {
        let address = u32_property(bus, "#address-cells")?
            .map_or(DEFAULT_ADDRESS_CELLS, |cells| cells as usize);
        let size =
            u32_property(bus, "#size-cells")?.map_or(DEFAULT_SIZE_CELLS, |cells| cells as usize);
        if address == 0 || address > MAX_NUMBER_CELLS {
            return Err(Error::BadProperty("#address-cells"));
        }
        if size > MAX_NUMBER_CELLS {
            return Err(Error::BadProperty("#size-cells"));
        }
        Ok(Self { address, size })
    }

    /// Cells in one `(address, size)` entry.
    fn entry(&self) -> usize {
        self.address + self.size
    }
}

/// The `reg` property of a node, decoded with its parent's cell counts.
pub(crate) struct Reg<'a, 'i, 'dt> {
    node: Node<'a, 'i, 'dt>,
    property: Property<'a, 'i, 'dt>,
    cells: CellCounts,
    entries: usize,
}

impl<'a, 'i, 'dt> Reg<'a, 'i, 'dt> {
    /// The `reg` of `node`, or `None` if it has none.
    ///
    /// Errors: [`Error::BadProperty`] if the parent's cell counts are malformed, `reg` is not
    /// a whole number of entries, or `node` is the root (which has no parent to say how to
    /// read its `reg`).
    pub(crate) fn of(node: &Node<'a, 'i, 'dt>) -> Result<Option<Self>, Error> {
        let Some(property) = property(node, "reg") else {
            return Ok(None);
        };
        let parent = node.parent().ok_or(Error::BadProperty("reg"))?;
        let cells = CellCounts::of(&parent)?;
        let count = cell_count(&property, "reg")?;
        if !count.is_multiple_of(cells.entry()) {
            return Err(Error::BadProperty("reg"));
        }
        Ok(Some(Self {
            node: node.clone(),
            property,
            cells,
            entries: count / cells.entry(),
        }))
    }

    /// How many `(address, size)` entries there are.
    pub(crate) fn len(&self) -> usize {
        self.entries
    }

    /// Entry `index` as written, in the parent bus's address space (used for `/cpus`, whose
    /// `reg` is an MPIDR, not an address).
    pub(crate) fn raw(&self, index: usize) -> Result<(u64, u64), Error> {
        if index >= self.entries {
            return Err(Error::BadProperty("reg"));
        }
        let first = index * self.cells.entry();
        let address = number(&self.property, first, self.cells.address, "reg")?;
        let size = number(
            &self.property,
            first + self.cells.address,
            self.cells.size,
            "reg",
        )?;
        Ok((address, size))
    }

    /// Entry `index` as a CPU physical `(address, size)`: translated through the `ranges` of
    /// every ancestor bus, and checked not to wrap around the address space.
    pub(crate) fn physical(&self, index: usize) -> Result<(u64, u64), Error> {
        let (address, size) = self.raw(index)?;
        let bus = self.node.parent().ok_or(Error::BadProperty("reg"))?;
        let address = translate(&bus, address, size)?;
        address.checked_add(size).ok_or(Error::BadProperty("reg"))?;
        Ok((address, size))
    }
}

/// Translates `[address, address + size)` from the child address space of `bus` to the CPU's
/// physical address space, through `ranges` at every level (an empty `ranges` is identity).
///
/// Errors: [`Error::BadProperty`] (`"ranges"`) if a bus below the root has no `ranges` (its
/// children are not memory mapped) or no `ranges` entry covers the whole range.
fn translate(bus: &Node<'_, '_, '_>, address: u64, size: u64) -> Result<u64, Error> {
    let mut bus = bus.clone();
    let mut address = address;
    // Parent links only point towards the root, so this ends after at most the tree's depth.
    while let Some(grandparent) = bus.parent() {
        let ranges = property(&bus, "ranges").ok_or(Error::BadProperty("ranges"))?;
        if ranges.length() != 0 {
            let child_cells = CellCounts::of(&bus)?;
            let parent_cells = CellCounts::of(&grandparent)?;
            let entry_cells = child_cells.address + parent_cells.address + child_cells.size;
            let count = cell_count(&ranges, "ranges")?;
            if !count.is_multiple_of(entry_cells) {
                return Err(Error::BadProperty("ranges"));
            }
            let mut translated = None;
            for first in (0..count).step_by(entry_cells) {
                let child_base = number(&ranges, first, child_cells.address, "ranges")?;
                let parent_first = first + child_cells.address;
                let parent_base = number(&ranges, parent_first, parent_cells.address, "ranges")?;
                let length = number(
                    &ranges,
                    parent_first + parent_cells.address,
                    child_cells.size,
                    "ranges",
                )?;
                let offset = address.wrapping_sub(child_base);
                let inside = address >= child_base && offset < length && size <= length - offset;
                if inside {
                    translated = Some(
                        parent_base
                            .checked_add(offset)
                            .ok_or(Error::BadProperty("ranges"))?,
                    );
                    break;
                }
            }
            address = translated.ok_or(Error::BadProperty("ranges"))?;
        }
        bus = grandparent;
    }
    Ok(address)
}

/// The decoded GIC interrupts of `node`'s `interrupts` property, checked to be routed to
/// `controller`, which must take three-cell specifiers.
pub(crate) struct Interrupts<'a, 'i, 'dt> {
    property: Property<'a, 'i, 'dt>,
    entries: usize,
}

impl<'a, 'i, 'dt> Interrupts<'a, 'i, 'dt> {
    /// The `interrupts` of `node`, or `None` if it has none.
    ///
    /// Errors: [`Error::BadProperty`] if the interrupt parent is not `controller`, its
    /// `#interrupt-cells` is not 3, or the property is not a whole number of specifiers.
    pub(crate) fn of(
        tree: &Tree<'a, 'i, 'dt>,
        node: &Node<'a, 'i, 'dt>,
        controller: &Node<'a, 'i, 'dt>,
    ) -> Result<Option<Self>, Error> {
        let Some(property) = property(node, "interrupts") else {
            return Ok(None);
        };
        let parent = tree.interrupt_parent(node)?;
        if parent != *controller {
            return Err(Error::BadProperty("interrupt-parent"));
        }
        let specifier_cells = u32_property(&parent, "#interrupt-cells")?;
        if specifier_cells != Some(Interrupt::SPECIFIER_CELLS) {
            return Err(Error::BadProperty("#interrupt-cells"));
        }
        let count = cell_count(&property, "interrupts")?;
        let cells_per_entry = Interrupt::SPECIFIER_CELLS as usize;
        if count == 0 || !count.is_multiple_of(cells_per_entry) {
            return Err(Error::BadProperty("interrupts"));
        }
        Ok(Some(Self {
            property,
            entries: count / cells_per_entry,
        }))
    }

    /// How many interrupts the node lists.
    pub(crate) fn len(&self) -> usize {
        self.entries
    }

    /// Interrupt `index`, decoded.
    ///
    /// Errors: [`Error::BadProperty`] (`"interrupts"`) if it is absent or not a valid GIC
    /// specifier.
    pub(crate) fn get(&self, index: usize) -> Result<Interrupt, Error> {
        if index >= self.entries {
            return Err(Error::BadProperty("interrupts"));
        }
        let first = index * Interrupt::SPECIFIER_CELLS as usize;
        let mut cells = [0u32; 3];
        for (offset, slot) in cells.iter_mut().enumerate() {
            *slot = cell(&self.property, first + offset).ok_or(Error::BadProperty("interrupts"))?;
        }
        Interrupt::from_gic_specifier(cells).ok_or(Error::BadProperty("interrupts"))
    }
}
