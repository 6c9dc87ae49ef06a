//! The mapping database: which address space holds which physical frame, and from whom it came.
//!
//! L4's recursive address spaces (Liedtke): sigma0 starts out owning all RAM; a task that holds
//! a page can *map* it to another task (share it with the same or fewer rights) or *grant* it
//! (give it away), and `fpage_unmap` later revokes it from every space it was passed on to,
//! completely or only some rights. The database records that history as a forest: one node per
//! mapped 4 KiB page, whose parent is the mapping it was derived from. Roots are the pages that
//! came from nowhere (sigma0's RAM and device memory, see [`MappingDatabase::insert_root`]).
//!
//! Every change is mirrored synchronously to the hardware through [`PageTables`], in the same
//! call, so the database and the page tables never disagree. Each page of a call is one atomic
//! step: anything that can fail (a page-table allocation, growing the node arena) happens before
//! the step changes anything, so a failure leaves that page as it was.
//!
//! # Representation, and why
//!
//! - Nodes live in an arena (`Vec` of slots, with a free list threaded through the free slots so
//!   that freeing never allocates) and link to each other by 32-bit index: `parent`,
//!   `first_child`, and a doubly linked sibling list (`previous_sibling`, `next_sibling`), so a
//!   node is unlinked in O(1) however wide its parent's family is.
//! - A `BTreeMap` from (space, page) to node is the only index. It answers lookups, and its
//!   ordered range queries let `map`, `grant`, `unmap` and `remove_space` visit only the pages a
//!   space actually has, so a sparsely populated fpage costs what it holds, not what it spans.
//! - Each node stores its depth (roots have depth 0). It proves the forest acyclic in
//!   [`MappingDatabase::check_invariants`] and bounds the walk that asks "is this node an
//!   ancestor of that one" to their depth difference.
//! - No walk recurses on the Rust stack, and none needs a work list: with parent pointers a
//!   subtree is walked in pre-order (revoking rights) or post-order (deleting) in O(size) steps
//!   and O(1) memory. So a chain of 100 000 mappings cannot overflow the kernel stack, and
//!   `unmap` and `remove_space` allocate nothing and cannot fail.
//!
//! Rejected: Fiasco's per-frame arrays of (space, depth) entries (cheap in memory, but inserting
//! in the middle shifts the array, and they cap the depth); a `Vec` of children per node (an
//! allocation per mapping that has children, and O(width) removal); recursion (a user-built chain
//! of mappings would decide how deep the kernel stack goes).
//!
//! # Semantics decisions
//!
//! - **Rights** are L4's fpage bits (read 4, write 2, execute 1). A mapping gets
//!   `requested ∩ sender's`; a mapping with no rights is never created (such a page is skipped).
//!   Removal is hierarchical: the same rights are taken from a node's whole subtree, and a node
//!   left with none is deleted together with its subtree (which has no rights left either).
//! - **Partial fpages**: pages the sender does not have are skipped, as in L4.
//! - **Onto itself**: mapping or granting a page to its own (space, page) does nothing.
//! - **Over a different frame**: whatever the receiver had at the target page is flushed (with
//!   everything derived from it) and replaced.
//! - **Remap of the same frame** (`map` only): the receiver's existing node is kept (so what the
//!   receiver derived from it survives), its rights become `(old ∩ sender's) ∪ requested` — extended
//!   by the request, but never beyond what the new parent holds, and any right it loses is taken
//!   from its subtree too — and it moves under the sender's node. From then on it answers to the
//!   sender's revocations, and no longer to its previous parent's.
//! - **Back into an ancestor** (the receiver's node at the target page is an ancestor of the
//!   sender's): ignored, as in L4. Re-parenting it would make a node its own ancestor. Mapping to
//!   an ancestor's space at some *other* page is fine: it is just another child.
//! - **Grant** moves the sender's node itself: same parent, same children, new (space, page),
//!   rights `requested ∩ sender's` (rights it loses are taken from its children too). What the
//!   receiver had at the target page is flushed, unless it is an ancestor (then the grant is
//!   ignored, like a map). Granting a root makes the receiver the root owner.
//! - **`unmap`** with [`UnmapScope::Descendants`] revokes from everything derived from the
//!   caller's pages; with [`UnmapScope::OwnAndDescendants`] also from the caller's own pages,
//!   roots included (how sigma0 takes back its own memory).
//!
//! # Cost
//!
//! `n` is the number of mappings, `k` the number of pages a call finds mapped in its source
//! range. Lookup O(log n). `map` and `grant`: O(k log n), plus the flushed subtrees, plus for a
//! same-frame target an ancestor check O(depth difference) and, when a remap changes a node's
//! depth, O(its subtree) to renumber. `unmap`: O(k log n + visited subtree nodes). `remove_space`:
//! O(removed · log n). `map` and `grant` refuse ranges over [`MAX_PAGES_PER_CALL`] pages, so one
//! call does bounded table work; the kernel splits larger fpages into several calls. `unmap` has
//! no such limit because it costs what is mapped, not what the range spans.
//!
//! # Limits
//!
//! Growth of the node arena is fallible (`try_reserve`, reported as
//! [`MapdbError::OutOfMemory`]), but `alloc`'s `BTreeMap` has no fallible insert: exhausting the
//! kernel heap while inserting into the index aborts. The arena never shrinks; freed slots are
//! reused. At most `u32::MAX` nodes exist at once.
//!
//! # Panics
//!
//! Only on a corrupted database (a link naming a free slot), which is a bug in this file: no value
//! given by a caller, and so none from user space, reaches a panicking operation.

use alloc::collections::BTreeMap;
use alloc::vec::Vec;
use core::fmt;
use core::ops::{BitAnd, BitOr};

/// The most pages [`MappingDatabase::map`] and [`MappingDatabase::grant`] accept in one call:
/// 2^18 pages, 1 GiB of 4 KiB pages. The kernel splits larger fpages.
pub const MAX_PAGES_PER_CALL: u64 = 1 << 18;

/// Slots the arena may hold, so that every index fits a `u32` and `depth + 1` cannot overflow.
const MAX_NODES: usize = u32::MAX as usize;

/// An address space (a task).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct SpaceId(pub u32);

/// A virtual page number: a virtual address shifted right by 12.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct Page(pub u64);

/// A physical frame number: a physical address shifted right by 12.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct Frame(pub u64);

/// Access rights of a mapping, with the bit values of L4 fpage rights.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Rights(u8);

impl Rights {
    /// No access.
    pub const NONE: Self = Self(0);
    /// Execute (L4 fpage bit 0).
    pub const EXECUTE: Self = Self(1);
    /// Write (L4 fpage bit 1).
    pub const WRITE: Self = Self(2);
    /// Read (L4 fpage bit 2).
    pub const READ: Self = Self(4);
    /// Read, write and execute.
    pub const ALL: Self = Self(7);

    /// The rights in `bits`, or `None` if a bit above the three rights is set.
    pub const fn from_bits(bits: u8) -> Option<Self> {
        if bits & !Self::ALL.0 == 0 {
            Some(Self(bits))
        } else {
            None
        }
    }

    /// The rights in `bits`, ignoring bits above the three rights.
    pub const fn from_bits_truncate(bits: u8) -> Self {
        Self(bits & Self::ALL.0)
    }

    /// The L4 fpage bit pattern.
    pub const fn bits(self) -> u8 {
        self.0
    }

    /// Whether every right in `other` is also in `self`.
    pub const fn contains(self, other: Self) -> bool {
        self.0 & other.0 == other.0
    }

    /// The rights in both.
    pub const fn intersection(self, other: Self) -> Self {
        Self(self.0 & other.0)
    }

    /// The rights in either.
    pub const fn union(self, other: Self) -> Self {
        Self(self.0 | other.0)
    }

    /// The rights in `self` but not in `other`.
    pub const fn difference(self, other: Self) -> Self {
        Self(self.0 & !other.0)
    }

    /// Whether no right is set.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }
}

impl BitOr for Rights {
    type Output = Self;

    fn bitor(self, other: Self) -> Self {
        self.union(other)
    }
}

impl BitAnd for Rights {
    type Output = Self;

    fn bitand(self, other: Self) -> Self {
        self.intersection(other)
    }
}

impl fmt::Debug for Rights {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let letter = |right: Self, letter: char| if self.contains(right) { letter } else { '-' };
        write!(
            formatter,
            "Rights({}{}{})",
            letter(Self::READ, 'r'),
            letter(Self::WRITE, 'w'),
            letter(Self::EXECUTE, 'x')
        )
    }
}

/// `count` consecutive pages of one address space, starting at `first` (an fpage, decoded).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Region {
    /// Whose pages.
    pub space: SpaceId,
    /// The first page.
    pub first: Page,
    /// How many pages.
    pub count: u64,
}

impl Region {
    /// The `count` pages of `space` from `first` on.
    pub const fn new(space: SpaceId, first: Page, count: u64) -> Self {
        Self {
            space,
            first,
            count,
        }
    }
}

/// Whose rights [`MappingDatabase::unmap`] takes away (L4's "include own" flag of fpage_unmap).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum UnmapScope {
    /// Only from the mappings derived from the caller's pages; the caller keeps its own.
    Descendants,
    /// From the caller's own pages too, root mappings included.
    OwnAndDescendants,
}

/// One mapping as the database records it.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Mapping {
    /// The address space that holds the page.
    pub space: SpaceId,
    /// Where in that space.
    pub page: Page,
    /// The physical frame behind it.
    pub frame: Frame,
    /// What the space may do with it.
    pub rights: Rights,
}

/// The page tables could not get the memory for a new translation (an intermediate table).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct OutOfMemory;

/// The hardware side: every change the database makes is mirrored here, synchronously, so the
/// database and the page tables never disagree. The kernel implements it with real page tables
/// (and the TLB maintenance each change needs); tests with a model.
pub trait PageTables {
    /// Install, or replace, the translation `space:page -> frame` with `rights` (never empty).
    fn install(
        &mut self,
        space: SpaceId,
        page: Page,
        frame: Frame,
        rights: Rights,
    ) -> Result<(), OutOfMemory>;

    /// Change the rights of an installed translation to `rights` (never empty): a reduction on
    /// unmap, an extension or reduction on a remap of the same frame.
    fn protect(&mut self, space: SpaceId, page: Page, rights: Rights);

    /// Remove an installed translation.
    fn remove(&mut self, space: SpaceId, page: Page);
}

/// Why a database operation was refused. Each variant names the caller's mistake or the missing
/// resource.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum MapdbError {
    /// Memory ran out (page tables or the node arena). The first `completed_pages` pages of the
    /// call were done; the page that failed and those after it are unchanged.
    OutOfMemory { completed_pages: u64 },
    /// [`MappingDatabase::insert_root`] at a page the space already has.
    AlreadyMapped { space: SpaceId, page: Page },
    /// [`MappingDatabase::insert_root`] with no rights: such a mapping could never be used.
    NoRights,
    /// More pages than [`MAX_PAGES_PER_CALL`]; the caller must split the range.
    RangeTooLarge { count: u64 },
    /// The range runs past the last page number.
    RangeBeyondLastPage { first: Page, count: u64 },
}

impl fmt::Display for MapdbError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::OutOfMemory { completed_pages } => {
                write!(formatter, "out of memory after {completed_pages} pages")
            }
            Self::AlreadyMapped { space, page } => {
                write!(
                    formatter,
                    "space {} already maps page {:#x}",
                    space.0, page.0
                )
            }
            Self::NoRights => write!(formatter, "a mapping needs at least one right"),
            Self::RangeTooLarge { count } => write!(
                formatter,
                "{count} pages is more than {MAX_PAGES_PER_CALL} in one call"
            ),
            Self::RangeBeyondLastPage { first, count } => write!(
                formatter,
                "{count} pages from page {:#x} run past the last page",
                first.0
            ),
        }
    }
}

/// A broken invariant found by [`MappingDatabase::check_invariants`]: a bug in this module,
/// named by the mapping where it was found.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum InvariantViolation {
    /// The index and the node disagree about which node holds (space, page).
    IndexDisagrees { space: SpaceId, page: Page },
    /// A node with no rights.
    EmptyRights { space: SpaceId, page: Page },
    /// A link names a free or nonexistent slot.
    DanglingLink { space: SpaceId, page: Page },
    /// Parent, child and sibling links do not describe one tree.
    ChildListBroken { space: SpaceId, page: Page },
    /// A node's frame differs from its parent's.
    FrameDiffersFromParent { space: SpaceId, page: Page },
    /// A node has a right its parent lacks.
    RightsExceedParent { space: SpaceId, page: Page },
    /// A node's depth is not its parent's plus one (or not 0 for a root).
    DepthWrong { space: SpaceId, page: Page },
    /// The free list misses a free slot, names a used one, or loops.
    FreeListBroken,
}

impl fmt::Display for InvariantViolation {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (what, space, page) = match *self {
            Self::IndexDisagrees { space, page } => ("index disagrees with node", space, page),
            Self::EmptyRights { space, page } => ("mapping without rights", space, page),
            Self::DanglingLink { space, page } => ("link to a free slot", space, page),
            Self::ChildListBroken { space, page } => ("broken child list", space, page),
            Self::FrameDiffersFromParent { space, page } => {
                ("frame differs from parent", space, page)
            }
            Self::RightsExceedParent { space, page } => ("rights exceed parent", space, page),
            Self::DepthWrong { space, page } => ("wrong depth", space, page),
            Self::FreeListBroken => return write!(formatter, "free list broken"),
        };
        write!(formatter, "{what} at space {} page {:#x}", space.0, page.0)
    }
}

/// Index of a node in the arena.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
struct NodeId(u32);

impl NodeId {
    fn from_index(index: usize) -> Option<Self> {
        u32::try_from(index).ok().map(Self)
    }

    fn index(self) -> usize {
        self.0 as usize
    }
}

/// One mapped page and its place in the derivation tree.
#[derive(Clone, Debug)]
struct Node {
    space: SpaceId,
    page: Page,
    frame: Frame,
    rights: Rights,
    /// 0 for a root, else the parent's depth plus one.
    depth: u32,
    parent: Option<NodeId>,
    first_child: Option<NodeId>,
    previous_sibling: Option<NodeId>,
    next_sibling: Option<NodeId>,
}

impl Node {
    /// An unlinked node; `link_child` places it in a tree.
    fn new(space: SpaceId, page: Page, frame: Frame, rights: Rights) -> Self {
        Self {
            space,
            page,
            frame,
            rights,
            depth: 0,
            parent: None,
            first_child: None,
            previous_sibling: None,
            next_sibling: None,
        }
    }
}

#[derive(Clone, Debug)]
enum Slot {
    Used(Node),
    Free { next_free: Option<NodeId> },
}

/// What one page of a `map` or `grant` came to.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum PageOutcome {
    Mapped,
    Skipped,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Transfer {
    Map,
    Grant,
}

/// The mapping database. See the module documentation for its semantics.
#[derive(Debug, Default)]
pub struct MappingDatabase {
    slots: Vec<Slot>,
    free_head: Option<NodeId>,
    index: BTreeMap<(SpaceId, Page), NodeId>,
}

impl MappingDatabase {
    /// An empty database.
    pub fn new() -> Self {
        Self::default()
    }

    /// The number of mappings.
    pub fn len(&self) -> usize {
        self.index.len()
    }

    /// Whether there are no mappings.
    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    /// What `space` has at `page`, for page-fault handling and map items.
    pub fn lookup(&self, space: SpaceId, page: Page) -> Option<(Frame, Rights)> {
        let node = self.node(*self.index.get(&(space, page))?);
        Some((node.frame, node.rights))
    }

    /// The (space, page) the mapping at `space:page` was derived from; `None` for a root or
    /// for a page the space does not have.
    pub fn derived_from(&self, space: SpaceId, page: Page) -> Option<(SpaceId, Page)> {
        let parent = self.node(self.node(*self.index.get(&(space, page))?).parent?);
        Some((parent.space, parent.page))
    }

    /// Every mapping, ordered by space and page.
    pub fn mappings(&self) -> impl Iterator<Item = Mapping> + '_ {
        self.index.values().map(|&id| {
            let node = self.node(id);
            Mapping {
                space: node.space,
                page: node.page,
                frame: node.frame,
                rights: node.rights,
            }
        })
    }

    /// A root mapping: `space` owns `frame` at `page` with `rights` (sigma0's RAM, device
    /// memory handed to sigma0).
    ///
    /// Errors: [`MapdbError::AlreadyMapped`] if the space has something at `page`;
    /// [`MapdbError::NoRights`]; [`MapdbError::OutOfMemory`] with nothing changed.
    pub fn insert_root(
        &mut self,
        tables: &mut impl PageTables,
        space: SpaceId,
        page: Page,
        frame: Frame,
        rights: Rights,
    ) -> Result<(), MapdbError> {
        let out_of_memory = |_| MapdbError::OutOfMemory { completed_pages: 0 };
        if rights.is_empty() {
            return Err(MapdbError::NoRights);
        }
        if self.index.contains_key(&(space, page)) {
            return Err(MapdbError::AlreadyMapped { space, page });
        }
        self.reserve_node().map_err(out_of_memory)?;
        tables
            .install(space, page, frame, rights)
            .map_err(out_of_memory)?;
        self.allocate_node(Node::new(space, page, frame, rights));
        Ok(())
    }

    /// Map the pages of `source` to `to`, the first at `to_page`, with rights
    /// `rights ∩ sender's`. Pages `source` does not have are skipped; for what happens to a page
    /// the receiver already has, see the module documentation.
    ///
    /// Returns the number of receiver pages now holding the sender's frame through this call:
    /// created, replaced, or remapped (counted even when the remap changed nothing).
    ///
    /// Errors: [`MapdbError::RangeTooLarge`] and [`MapdbError::RangeBeyondLastPage`] (either
    /// range) with nothing changed; [`MapdbError::OutOfMemory`] after the pages it counts.
    pub fn map(
        &mut self,
        tables: &mut impl PageTables,
        source: Region,
        to: SpaceId,
        to_page: Page,
        rights: Rights,
    ) -> Result<u64, MapdbError> {
        self.transfer(tables, Transfer::Map, source, to, to_page, rights)
    }

    /// Grant the pages of `source` to `to`, the first at `to_page`: each of the sender's nodes
    /// moves to the receiver with rights `rights ∩ sender's`, keeping its parent and children,
    /// and the sender loses the page. Pages `source` does not have are skipped.
    ///
    /// Returns the number of pages granted. Errors as for [`MappingDatabase::map`].
    pub fn grant(
        &mut self,
        tables: &mut impl PageTables,
        source: Region,
        to: SpaceId,
        to_page: Page,
        rights: Rights,
    ) -> Result<u64, MapdbError> {
        self.transfer(tables, Transfer::Grant, source, to, to_page, rights)
    }

    /// fpage_unmap: take `rights` away, for every page of `region` the space has, from every
    /// mapping derived from it, and with [`UnmapScope::OwnAndDescendants`] from the page itself.
    /// A mapping left with no rights is deleted with everything derived from it. A range that
    /// runs past the last page number stops there.
    ///
    /// Returns the number of the space's pages for which some translation changed.
    pub fn unmap(
        &mut self,
        tables: &mut impl PageTables,
        region: Region,
        rights: Rights,
        scope: UnmapScope,
    ) -> u64 {
        let Some(last_offset) = region.count.checked_sub(1) else {
            return 0;
        };
        if rights.is_empty() {
            return 0;
        }
        let last = Page(region.first.0.saturating_add(last_offset));
        let mut cursor = region.first;
        let mut affected = 0;
        while let Some((page, node)) = self.first_mapping_in(region.space, cursor, last) {
            let changed = match scope {
                UnmapScope::Descendants => self.revoke_descendants(tables, node, rights),
                UnmapScope::OwnAndDescendants => self.revoke_subtree(tables, node, rights),
            };
            if changed > 0 {
                affected += 1;
            }
            let Some(next) = page.0.checked_add(1) else {
                break;
            };
            cursor = Page(next);
        }
        affected
    }

    /// Task deletion: delete every mapping of `space` and everything derived from them, in
    /// every space. Returns the number of mappings deleted.
    pub fn remove_space(&mut self, tables: &mut impl PageTables, space: SpaceId) -> u64 {
        let mut removed = 0;
        while let Some((_, node)) = self.first_mapping_in(space, Page(0), Page(u64::MAX)) {
            removed += self.delete_subtree(tables, node);
        }
        removed
    }

    /// Check every structural invariant: index and nodes agree; every node has rights; links
    /// name used slots and form consistent child lists; a child has its parent's frame, no right
    /// its parent lacks, and depth one more (which makes the forest acyclic); the free list holds
    /// exactly the free slots. O(n) time and memory: for tests and the kernel's fuzz mode.
    pub fn check_invariants(&self) -> Result<(), InvariantViolation> {
        self.check_free_list()?;
        for (&(space, page), &id) in &self.index {
            match self.slots.get(id.index()) {
                Some(Slot::Used(node)) if node.space == space && node.page == page => {}
                _ => return Err(InvariantViolation::IndexDisagrees { space, page }),
            }
        }
        let mut listed = Vec::new();
        listed.resize(self.slots.len(), false);
        for (index, slot) in self.slots.iter().enumerate() {
            let Slot::Used(node) = slot else {
                continue;
            };
            let (space, page) = (node.space, node.page);
            let id = NodeId::from_index(index);
            if id.is_none() || self.index.get(&(space, page)).copied() != id {
                return Err(InvariantViolation::IndexDisagrees { space, page });
            }
            self.check_node(node)?;
            let mut previous = None;
            let mut child = node.first_child;
            while let Some(child_id) = child {
                let Some(Slot::Used(child_node)) = self.slots.get(child_id.index()) else {
                    return Err(InvariantViolation::DanglingLink { space, page });
                };
                let seen = listed.get_mut(child_id.index());
                if child_node.parent != id
                    || child_node.previous_sibling != previous
                    || seen.as_deref() != Some(&false)
                {
                    return Err(InvariantViolation::ChildListBroken { space, page });
                }
                if let Some(seen) = seen {
                    *seen = true;
                }
                previous = child;
                child = child_node.next_sibling;
            }
        }
        for (slot, listed) in self.slots.iter().zip(listed) {
            if let Slot::Used(node) = slot
                && node.parent.is_some() != listed
            {
                let (space, page) = (node.space, node.page);
                return Err(InvariantViolation::ChildListBroken { space, page });
            }
        }
        Ok(())
    }

    fn check_free_list(&self) -> Result<(), InvariantViolation> {
        let mut listed = 0usize;
        let mut cursor = self.free_head;
        while let Some(id) = cursor {
            let Some(Slot::Free { next_free }) = self.slots.get(id.index()) else {
                return Err(InvariantViolation::FreeListBroken);
            };
            listed += 1;
            if listed > self.slots.len() {
                return Err(InvariantViolation::FreeListBroken);
            }
            cursor = *next_free;
        }
        let free = self
            .slots
            .iter()
            .filter(|slot| matches!(slot, Slot::Free { .. }))
            .count();
        if listed == free {
            Ok(())
        } else {
            Err(InvariantViolation::FreeListBroken)
        }
    }

    /// The invariants between one node and its parent.
    fn check_node(&self, node: &Node) -> Result<(), InvariantViolation> {
        let (space, page) = (node.space, node.page);
        if node.rights.is_empty() {
            return Err(InvariantViolation::EmptyRights { space, page });
        }
        let Some(parent_id) = node.parent else {
            if node.depth != 0 {
                return Err(InvariantViolation::DepthWrong { space, page });
            }
            if node.previous_sibling.is_some() || node.next_sibling.is_some() {
                return Err(InvariantViolation::ChildListBroken { space, page });
            }
            return Ok(());
        };
        let Some(Slot::Used(parent)) = self.slots.get(parent_id.index()) else {
            return Err(InvariantViolation::DanglingLink { space, page });
        };
        if parent.frame != node.frame {
            return Err(InvariantViolation::FrameDiffersFromParent { space, page });
        }
        if !parent.rights.contains(node.rights) {
            return Err(InvariantViolation::RightsExceedParent { space, page });
        }
        if parent.depth.checked_add(1) != Some(node.depth) {
            return Err(InvariantViolation::DepthWrong { space, page });
        }
        Ok(())
    }

    // ----- map and grant -----

    fn transfer(
        &mut self,
        tables: &mut impl PageTables,
        kind: Transfer,
        source: Region,
        to: SpaceId,
        to_page: Page,
        rights: Rights,
    ) -> Result<u64, MapdbError> {
        let Some(last) = last_page(source.first, source.count)? else {
            return Ok(0);
        };
        last_page(to_page, source.count)?;
        let mut cursor = source.first;
        let mut completed_pages = 0;
        while let Some((page, node)) = self.first_mapping_in(source.space, cursor, last) {
            // Cannot fail: `page` lies in the source range, so the offset fits the target range.
            let Some(target) = page
                .0
                .checked_sub(source.first.0)
                .and_then(|offset| to_page.0.checked_add(offset))
            else {
                break;
            };
            let outcome = match kind {
                Transfer::Map => self.map_page(tables, node, to, Page(target), rights),
                Transfer::Grant => self.grant_page(tables, node, to, Page(target), rights),
            };
            match outcome {
                Ok(PageOutcome::Mapped) => completed_pages += 1,
                Ok(PageOutcome::Skipped) => {}
                Err(OutOfMemory) => return Err(MapdbError::OutOfMemory { completed_pages }),
            }
            let Some(next) = page.0.checked_add(1) else {
                break;
            };
            cursor = Page(next);
        }
        Ok(completed_pages)
    }

    fn map_page(
        &mut self,
        tables: &mut impl PageTables,
        source: NodeId,
        to: SpaceId,
        target: Page,
        rights: Rights,
    ) -> Result<PageOutcome, OutOfMemory> {
        let sender = self.node(source);
        let frame = sender.frame;
        let granted = rights.intersection(sender.rights);
        if granted.is_empty() || (sender.space, sender.page) == (to, target) {
            return Ok(PageOutcome::Skipped);
        }
        let existing = self.index.get(&(to, target)).copied();
        if let Some(existing) = existing
            && self.node(existing).frame == frame
        {
            if self.is_in_subtree(source, existing) {
                // Mapping back into an ancestor: ignored, as in L4.
                return Ok(PageOutcome::Skipped);
            }
            self.remap(tables, existing, source, granted);
            return Ok(PageOutcome::Mapped);
        }
        self.reserve_node()?;
        tables.install(to, target, frame, granted)?;
        if let Some(existing) = existing {
            // A different frame, so `source` is not in this subtree. Its translation was
            // replaced by the install above; only the descendants' need removing.
            self.delete_descendants(tables, existing);
            self.free_node(existing);
        }
        let child = self.allocate_node(Node::new(to, target, frame, granted));
        self.link_child(source, child);
        Ok(PageOutcome::Mapped)
    }

    /// The receiver's `existing` node has the sender's frame and is not its ancestor: cap and
    /// extend its rights and move it under the sender.
    fn remap(
        &mut self,
        tables: &mut impl PageTables,
        existing: NodeId,
        source: NodeId,
        granted: Rights,
    ) {
        let sender_rights = self.node(source).rights;
        let node = self.node(existing);
        let (space, page, old) = (node.space, node.page, node.rights);
        let kept = old.intersection(sender_rights).union(granted);
        let lost = old.difference(kept);
        if !lost.is_empty() {
            self.revoke_descendants(tables, existing, lost);
        }
        if kept != old {
            self.node_mut(existing).rights = kept;
            tables.protect(space, page, kept);
        }
        if self.node(existing).parent != Some(source) {
            self.reparent(existing, source);
        }
    }

    fn grant_page(
        &mut self,
        tables: &mut impl PageTables,
        source: NodeId,
        to: SpaceId,
        target: Page,
        rights: Rights,
    ) -> Result<PageOutcome, OutOfMemory> {
        let sender = self.node(source);
        let (from, from_page, frame, old) =
            (sender.space, sender.page, sender.frame, sender.rights);
        let granted = rights.intersection(old);
        if granted.is_empty() || (from, from_page) == (to, target) {
            return Ok(PageOutcome::Skipped);
        }
        let existing = self.index.get(&(to, target)).copied();
        if let Some(existing) = existing
            && self.node(existing).frame == frame
            && self.is_in_subtree(source, existing)
        {
            // Granting back into an ancestor: ignored, like a map.
            return Ok(PageOutcome::Skipped);
        }
        tables.install(to, target, frame, granted)?;
        if let Some(existing) = existing {
            // Not an ancestor, so `source` is not in this subtree. Its translation was replaced
            // by the install above; only the descendants' need removing.
            self.delete_descendants(tables, existing);
            self.free_node(existing);
        }
        tables.remove(from, from_page);
        self.index.remove(&(from, from_page));
        self.index.insert((to, target), source);
        let node = self.node_mut(source);
        node.space = to;
        node.page = target;
        node.rights = granted;
        let lost = old.difference(granted);
        if !lost.is_empty() {
            self.revoke_descendants(tables, source, lost);
        }
        Ok(PageOutcome::Mapped)
    }

    // ----- walks -----

    /// Take `removed` from `root` and its whole subtree, deleting what is left without rights.
    /// Returns the number of translations changed or removed.
    fn revoke_subtree(
        &mut self,
        tables: &mut impl PageTables,
        root: NodeId,
        removed: Rights,
    ) -> u64 {
        let mut changed = 0;
        let mut cursor = Some(root);
        while let Some(at) = cursor {
            let node = self.node(at);
            let (space, page, rights) = (node.space, node.page, node.rights);
            if rights.intersection(removed).is_empty() {
                // The subtree's rights are a subset of this node's: nothing to take there either.
                cursor = self.next_after_subtree(at, root);
                continue;
            }
            let remaining = rights.difference(removed);
            if remaining.is_empty() {
                cursor = self.next_after_subtree(at, root);
                changed += self.delete_subtree(tables, at);
            } else {
                self.node_mut(at).rights = remaining;
                tables.protect(space, page, remaining);
                changed += 1;
                cursor = self.next_in_preorder(at, root);
            }
        }
        changed
    }

    /// [`Self::revoke_subtree`] for each child of `node`, leaving `node` itself alone.
    fn revoke_descendants(
        &mut self,
        tables: &mut impl PageTables,
        node: NodeId,
        removed: Rights,
    ) -> u64 {
        let mut changed = 0;
        let mut child = self.node(node).first_child;
        while let Some(at) = child {
            child = self.node(at).next_sibling;
            changed += self.revoke_subtree(tables, at, removed);
        }
        changed
    }

    /// Delete `root` and its subtree, translations included. Returns the number deleted.
    fn delete_subtree(&mut self, tables: &mut impl PageTables, root: NodeId) -> u64 {
        let deleted = self.delete_descendants(tables, root);
        let node = self.node(root);
        tables.remove(node.space, node.page);
        self.free_node(root);
        deleted + 1
    }

    /// Delete the subtree below `root`, leaves first, without a stack: go down to a leaf,
    /// delete it, step up to its parent, repeat. Each node is descended into once.
    fn delete_descendants(&mut self, tables: &mut impl PageTables, root: NodeId) -> u64 {
        let mut deleted = 0;
        let mut at = root;
        loop {
            while let Some(child) = self.node(at).first_child {
                at = child;
            }
            if at == root {
                return deleted;
            }
            let node = self.node(at);
            let parent = node.parent;
            tables.remove(node.space, node.page);
            self.free_node(at);
            deleted += 1;
            match parent {
                Some(parent) => at = parent,
                None => return deleted,
            }
        }
    }

    /// The pre-order successor of `at` within the subtree of `root`.
    fn next_in_preorder(&self, at: NodeId, root: NodeId) -> Option<NodeId> {
        self.node(at)
            .first_child
            .or_else(|| self.next_after_subtree(at, root))
    }

    /// The pre-order successor of `at`'s subtree within the subtree of `root`.
    fn next_after_subtree(&self, mut at: NodeId, root: NodeId) -> Option<NodeId> {
        loop {
            if at == root {
                return None;
            }
            let node = self.node(at);
            if let Some(sibling) = node.next_sibling {
                return Some(sibling);
            }
            at = node.parent?;
        }
    }

    /// Whether `node` is `root` or lies below it. Walks up from `node` only as far as `root`'s
    /// depth.
    fn is_in_subtree(&self, node: NodeId, root: NodeId) -> bool {
        let root_depth = self.node(root).depth;
        let mut at = node;
        loop {
            let current = self.node(at);
            if current.depth <= root_depth {
                return at == root;
            }
            match current.parent {
                Some(parent) => at = parent,
                None => return false,
            }
        }
    }

    // ----- links -----

    /// Make the unlinked `child` the first child of `parent`, at `parent`'s depth plus one.
    fn link_child(&mut self, parent: NodeId, child: NodeId) {
        let parent_node = self.node(parent);
        let old_first = parent_node.first_child;
        // Cannot saturate: a depth is below the node count, which is below `u32::MAX`.
        let depth = parent_node.depth.saturating_add(1);
        if let Some(old_first) = old_first {
            self.node_mut(old_first).previous_sibling = Some(child);
        }
        let node = self.node_mut(child);
        node.parent = Some(parent);
        node.previous_sibling = None;
        node.next_sibling = old_first;
        node.depth = depth;
        self.node_mut(parent).first_child = Some(child);
    }

    /// Take `id` out of its parent's child list (a root is in no list).
    fn unlink(&mut self, id: NodeId) {
        let node = self.node(id);
        let (parent, previous, next) = (node.parent, node.previous_sibling, node.next_sibling);
        match (previous, parent) {
            (Some(previous), _) => self.node_mut(previous).next_sibling = next,
            (None, Some(parent)) => self.node_mut(parent).first_child = next,
            (None, None) => {}
        }
        if let Some(next) = next {
            self.node_mut(next).previous_sibling = previous;
        }
        let node = self.node_mut(id);
        node.parent = None;
        node.previous_sibling = None;
        node.next_sibling = None;
    }

    /// Move `node` with its subtree under `new_parent`, renumbering depths if they change.
    fn reparent(&mut self, node: NodeId, new_parent: NodeId) {
        let old_depth = self.node(node).depth;
        self.unlink(node);
        self.link_child(new_parent, node);
        if self.node(node).depth == old_depth {
            return;
        }
        let mut cursor = self.node(node).first_child;
        while let Some(at) = cursor {
            let depth = match self.node(at).parent {
                Some(parent) => self.node(parent).depth.saturating_add(1),
                None => broken_link(at),
            };
            self.node_mut(at).depth = depth;
            cursor = self.next_in_preorder(at, node);
        }
    }

    // ----- the arena -----

    /// Make sure the next [`Self::allocate_node`] needs no allocation, so that running out of
    /// memory is reported before anything changes.
    fn reserve_node(&mut self) -> Result<(), OutOfMemory> {
        if self.free_head.is_some() {
            return Ok(());
        }
        if self.slots.len() >= MAX_NODES {
            return Err(OutOfMemory);
        }
        self.slots.try_reserve(1).map_err(|_| OutOfMemory)
    }

    /// Store `node` (unlinked) and index it. Call [`Self::reserve_node`] first.
    fn allocate_node(&mut self, node: Node) -> NodeId {
        let key = (node.space, node.page);
        let id = match self.free_head {
            Some(id) => {
                let slot = self.slot_mut(id);
                let Slot::Free { next_free } = *slot else {
                    broken_link(id)
                };
                *slot = Slot::Used(node);
                self.free_head = next_free;
                id
            }
            None => {
                let Some(id) = NodeId::from_index(self.slots.len()) else {
                    broken_link(NodeId(u32::MAX))
                };
                self.slots.push(Slot::Used(node));
                id
            }
        };
        self.index.insert(key, id);
        id
    }

    /// Unlink a childless node, drop it from the index and put its slot on the free list.
    fn free_node(&mut self, id: NodeId) {
        self.unlink(id);
        let node = self.node(id);
        debug_assert!(node.first_child.is_none(), "freeing a node with children");
        let key = (node.space, node.page);
        self.index.remove(&key);
        let next_free = self.free_head;
        *self.slot_mut(id) = Slot::Free { next_free };
        self.free_head = Some(id);
    }

    /// The first mapping of `space` in `first..=last`, if any.
    fn first_mapping_in(&self, space: SpaceId, first: Page, last: Page) -> Option<(Page, NodeId)> {
        if first > last {
            return None;
        }
        self.index
            .range((space, first)..=(space, last))
            .next()
            .map(|(&(_, page), &id)| (page, id))
    }

    fn node(&self, id: NodeId) -> &Node {
        match self.slots.get(id.index()) {
            Some(Slot::Used(node)) => node,
            _ => broken_link(id),
        }
    }

    fn node_mut(&mut self, id: NodeId) -> &mut Node {
        match self.slots.get_mut(id.index()) {
            Some(Slot::Used(node)) => node,
            _ => broken_link(id),
        }
    }

    fn slot_mut(&mut self, id: NodeId) -> &mut Slot {
        match self.slots.get_mut(id.index()) {
            Some(slot) => slot,
            None => broken_link(id),
        }
    }
}

/// The last page of `count` pages from `first`: `Ok(None)` for an empty range, an error for
/// one too large for a single call or running past the last page number.
fn last_page(first: Page, count: u64) -> Result<Option<Page>, MapdbError> {
    if count > MAX_PAGES_PER_CALL {
        return Err(MapdbError::RangeTooLarge { count });
    }
    let Some(last_offset) = count.checked_sub(1) else {
        return Ok(None);
    };
    match first.0.checked_add(last_offset) {
        Some(last) => Ok(Some(Page(last))),
        None => Err(MapdbError::RangeBeyondLastPage { first, count }),
    }
}

/// A link named a slot that is not in use: the database is corrupted by a bug in this module.
#[cold]
#[track_caller]
fn broken_link(id: NodeId) -> ! {
    panic!("mapping database corrupted: node {} is not in use", id.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    const SIGMA0: SpaceId = SpaceId(0);
    const PAGER: SpaceId = SpaceId(1);
    const CLIENT: SpaceId = SpaceId(2);
    const OTHER: SpaceId = SpaceId(3);
    const READ_WRITE: Rights = Rights(6);

    /// Page tables with real semantics: a map of installed translations that refuses to
    /// protect or remove what is not installed, and can be told to run out of memory.
    #[derive(Debug, Default)]
    struct ModelTables {
        translations: BTreeMap<(SpaceId, Page), (Frame, Rights)>,
        /// `Some(n)`: the next `n` installs succeed, then every install fails.
        installs_before_failure: Option<u64>,
    }

    impl PageTables for ModelTables {
        fn install(
            &mut self,
            space: SpaceId,
            page: Page,
            frame: Frame,
            rights: Rights,
        ) -> Result<(), OutOfMemory> {
            if let Some(left) = &mut self.installs_before_failure {
                if *left == 0 {
                    return Err(OutOfMemory);
                }
                *left -= 1;
            }
            assert!(
                !rights.is_empty(),
                "installing {space:?} {page:?} without rights"
            );
            self.translations.insert((space, page), (frame, rights));
            Ok(())
        }

        fn protect(&mut self, space: SpaceId, page: Page, rights: Rights) {
            assert!(
                !rights.is_empty(),
                "protecting {space:?} {page:?} to no rights"
            );
            let Some(entry) = self.translations.get_mut(&(space, page)) else {
                panic!("protecting {space:?} {page:?}, which is not installed");
            };
            entry.1 = rights;
        }

        fn remove(&mut self, space: SpaceId, page: Page) {
            assert!(
                self.translations.remove(&(space, page)).is_some(),
                "removing {space:?} {page:?}, which is not installed"
            );
        }
    }

    fn assert_agree(database: &MappingDatabase, tables: &ModelTables) {
        assert_eq!(database.check_invariants(), Ok(()));
        let recorded: BTreeMap<_, _> = database
            .mappings()
            .map(|mapping| {
                (
                    (mapping.space, mapping.page),
                    (mapping.frame, mapping.rights),
                )
            })
            .collect();
        assert_eq!(recorded, tables.translations);
        assert_eq!(database.len(), tables.translations.len());
    }

    fn region(space: SpaceId, first: u64, count: u64) -> Region {
        Region::new(space, Page(first), count)
    }

    /// sigma0 owns frame 0x40000 + page for each page given, with all rights.
    fn sigma0_with(pages: &[u64]) -> (MappingDatabase, ModelTables) {
        let mut database = MappingDatabase::new();
        let mut tables = ModelTables::default();
        for &page in pages {
            database
                .insert_root(
                    &mut tables,
                    SIGMA0,
                    Page(page),
                    Frame(0x40000 + page),
                    Rights::ALL,
                )
                .unwrap();
        }
        (database, tables)
    }

    fn map_one(
        database: &mut MappingDatabase,
        tables: &mut ModelTables,
        from: (SpaceId, u64),
        to: (SpaceId, u64),
        rights: Rights,
    ) -> u64 {
        database
            .map(tables, region(from.0, from.1, 1), to.0, Page(to.1), rights)
            .unwrap()
    }

    #[test]
    fn rights_use_the_bit_values_of_l4_fpage_rights() {
        assert_eq!(Rights::READ.bits(), 4);
        assert_eq!(Rights::WRITE.bits(), 2);
        assert_eq!(Rights::EXECUTE.bits(), 1);
        assert_eq!(Rights::READ | Rights::WRITE, READ_WRITE);
        assert_eq!(Rights::ALL & READ_WRITE, READ_WRITE);
        assert_eq!(Rights::ALL.difference(Rights::WRITE).bits(), 5);
        assert!(READ_WRITE.contains(Rights::WRITE));
        assert!(!READ_WRITE.contains(Rights::EXECUTE));
        assert!(Rights::NONE.is_empty());
        assert_eq!(Rights::from_bits(8), None);
        assert_eq!(Rights::from_bits_truncate(0xff), Rights::ALL);
        assert_eq!(std::format!("{READ_WRITE:?}"), "Rights(rw-)");
    }

    #[test]
    fn a_root_is_refused_where_the_space_already_has_a_page_or_without_rights() {
        let (mut database, mut tables) = sigma0_with(&[5]);
        assert_eq!(
            database.insert_root(&mut tables, SIGMA0, Page(5), Frame(9), Rights::READ),
            Err(MapdbError::AlreadyMapped {
                space: SIGMA0,
                page: Page(5)
            })
        );
        assert_eq!(
            database.insert_root(&mut tables, SIGMA0, Page(6), Frame(9), Rights::NONE),
            Err(MapdbError::NoRights)
        );
        assert_eq!(
            database.lookup(SIGMA0, Page(5)),
            Some((Frame(0x40005), Rights::ALL))
        );
        assert_eq!(database.len(), 1);
        assert_agree(&database, &tables);
    }

    #[test]
    fn mapping_gives_the_receiver_the_senders_frame_with_fewer_rights() {
        let (mut database, mut tables) = sigma0_with(&[0x100]);
        assert_eq!(
            database.unmap(
                &mut tables,
                region(SIGMA0, 0x100, 1),
                Rights::EXECUTE,
                UnmapScope::OwnAndDescendants
            ),
            1
        );
        // Asking for more than the sender has gives the intersection.
        assert_eq!(
            map_one(
                &mut database,
                &mut tables,
                (SIGMA0, 0x100),
                (PAGER, 0x200),
                Rights::ALL
            ),
            1
        );
        assert_eq!(
            database.lookup(PAGER, Page(0x200)),
            Some((Frame(0x40100), READ_WRITE))
        );
        assert_eq!(
            map_one(
                &mut database,
                &mut tables,
                (PAGER, 0x200),
                (CLIENT, 0x300),
                Rights::READ
            ),
            1
        );
        assert_eq!(
            database.lookup(CLIENT, Page(0x300)),
            Some((Frame(0x40100), Rights::READ))
        );
        assert_eq!(
            database.derived_from(CLIENT, Page(0x300)),
            Some((PAGER, Page(0x200)))
        );
        assert_eq!(
            database.derived_from(PAGER, Page(0x200)),
            Some((SIGMA0, Page(0x100)))
        );
        assert_eq!(database.derived_from(SIGMA0, Page(0x100)), None);
        assert_agree(&database, &tables);
    }

    #[test]
    fn a_page_the_sender_does_not_have_is_not_mapped() {
        let (mut database, mut tables) = sigma0_with(&[10, 12]);
        let mapped = database
            .map(
                &mut tables,
                region(SIGMA0, 10, 4),
                PAGER,
                Page(100),
                Rights::ALL,
            )
            .unwrap();
        assert_eq!(mapped, 2);
        assert_eq!(
            database.lookup(PAGER, Page(100)),
            Some((Frame(0x4000a), Rights::ALL))
        );
        assert_eq!(database.lookup(PAGER, Page(101)), None);
        assert_eq!(
            database.lookup(PAGER, Page(102)),
            Some((Frame(0x4000c), Rights::ALL))
        );
        assert_eq!(database.lookup(PAGER, Page(103)), None);
        assert_agree(&database, &tables);
    }

    #[test]
    fn mapping_with_only_rights_the_sender_lacks_maps_nothing() {
        let (mut database, mut tables) = sigma0_with(&[1]);
        map_one(
            &mut database,
            &mut tables,
            (SIGMA0, 1),
            (PAGER, 1),
            Rights::READ,
        );
        assert_eq!(
            map_one(
                &mut database,
                &mut tables,
                (PAGER, 1),
                (CLIENT, 1),
                Rights::WRITE
            ),
            0
        );
        assert_eq!(database.lookup(CLIENT, Page(1)), None);
        assert_agree(&database, &tables);
    }

    #[test]
    fn mapping_or_granting_a_page_onto_itself_changes_nothing() {
        let (mut database, mut tables) = sigma0_with(&[1]);
        assert_eq!(
            map_one(
                &mut database,
                &mut tables,
                (SIGMA0, 1),
                (SIGMA0, 1),
                Rights::READ
            ),
            0
        );
        let granted = database
            .grant(
                &mut tables,
                region(SIGMA0, 1, 1),
                SIGMA0,
                Page(1),
                Rights::READ,
            )
            .unwrap();
        assert_eq!(granted, 0);
        assert_eq!(
            database.lookup(SIGMA0, Page(1)),
            Some((Frame(0x40001), Rights::ALL))
        );
        assert_agree(&database, &tables);
    }

    #[test]
    fn granting_moves_the_page_and_keeps_its_children() {
        let (mut database, mut tables) = sigma0_with(&[1]);
        map_one(
            &mut database,
            &mut tables,
            (SIGMA0, 1),
            (PAGER, 1),
            Rights::ALL,
        );
        map_one(
            &mut database,
            &mut tables,
            (PAGER, 1),
            (CLIENT, 7),
            Rights::READ,
        );
        let granted = database
            .grant(
                &mut tables,
                region(PAGER, 1, 1),
                OTHER,
                Page(9),
                Rights::ALL,
            )
            .unwrap();
        assert_eq!(granted, 1);
        assert_eq!(database.lookup(PAGER, Page(1)), None);
        assert_eq!(
            database.lookup(OTHER, Page(9)),
            Some((Frame(0x40001), Rights::ALL))
        );
        assert_eq!(
            database.derived_from(OTHER, Page(9)),
            Some((SIGMA0, Page(1)))
        );
        assert_eq!(
            database.derived_from(CLIENT, Page(7)),
            Some((OTHER, Page(9)))
        );
        assert_agree(&database, &tables);

        // The new holder now controls the child.
        database.unmap(
            &mut tables,
            region(OTHER, 9, 1),
            Rights::ALL,
            UnmapScope::Descendants,
        );
        assert_eq!(database.lookup(CLIENT, Page(7)), None);
        assert_agree(&database, &tables);
    }

    #[test]
    fn granting_with_fewer_rights_takes_them_from_the_children_too() {
        let (mut database, mut tables) = sigma0_with(&[1]);
        map_one(
            &mut database,
            &mut tables,
            (SIGMA0, 1),
            (PAGER, 1),
            Rights::ALL,
        );
        map_one(
            &mut database,
            &mut tables,
            (PAGER, 1),
            (CLIENT, 1),
            READ_WRITE,
        );
        map_one(
            &mut database,
            &mut tables,
            (PAGER, 1),
            (OTHER, 1),
            Rights::WRITE,
        );
        database
            .grant(
                &mut tables,
                region(PAGER, 1, 1),
                SpaceId(4),
                Page(1),
                Rights::READ,
            )
            .unwrap();
        assert_eq!(
            database.lookup(SpaceId(4), Page(1)),
            Some((Frame(0x40001), Rights::READ))
        );
        assert_eq!(
            database.lookup(CLIENT, Page(1)),
            Some((Frame(0x40001), Rights::READ))
        );
        assert_eq!(database.lookup(OTHER, Page(1)), None);
        assert_agree(&database, &tables);
    }

    #[test]
    fn granting_a_root_makes_the_receiver_its_root_owner() {
        let (mut database, mut tables) = sigma0_with(&[1]);
        database
            .grant(
                &mut tables,
                region(SIGMA0, 1, 1),
                PAGER,
                Page(2),
                Rights::ALL,
            )
            .unwrap();
        assert_eq!(database.lookup(SIGMA0, Page(1)), None);
        assert_eq!(
            database.lookup(PAGER, Page(2)),
            Some((Frame(0x40001), Rights::ALL))
        );
        assert_eq!(database.derived_from(PAGER, Page(2)), None);
        assert_agree(&database, &tables);
    }

    /// sigma0:1 -> PAGER:1 -> {CLIENT:1 -> SpaceId(4):1, OTHER:1}, every one read-write.
    fn family_tree() -> (MappingDatabase, ModelTables) {
        let (mut database, mut tables) = sigma0_with(&[1]);
        map_one(
            &mut database,
            &mut tables,
            (SIGMA0, 1),
            (PAGER, 1),
            READ_WRITE,
        );
        map_one(
            &mut database,
            &mut tables,
            (PAGER, 1),
            (CLIENT, 1),
            READ_WRITE,
        );
        map_one(
            &mut database,
            &mut tables,
            (PAGER, 1),
            (OTHER, 1),
            READ_WRITE,
        );
        map_one(
            &mut database,
            &mut tables,
            (CLIENT, 1),
            (SpaceId(4), 1),
            READ_WRITE,
        );
        assert_agree(&database, &tables);
        (database, tables)
    }

    #[test]
    fn unmapping_revokes_recursively_from_every_descendant() {
        let (mut database, mut tables) = family_tree();
        let affected = database.unmap(
            &mut tables,
            region(PAGER, 0, 4),
            Rights::ALL,
            UnmapScope::Descendants,
        );
        assert_eq!(affected, 1);
        for space in [CLIENT, OTHER, SpaceId(4)] {
            assert_eq!(database.lookup(space, Page(1)), None);
        }
        assert!(database.lookup(PAGER, Page(1)).is_some());
        assert!(database.lookup(SIGMA0, Page(1)).is_some());
        assert_eq!(database.len(), 2);
        assert_agree(&database, &tables);
    }

    #[test]
    fn removing_write_leaves_read_only_mappings_in_the_whole_subtree() {
        let (mut database, mut tables) = family_tree();
        map_one(
            &mut database,
            &mut tables,
            (CLIENT, 1),
            (SpaceId(5), 1),
            Rights::WRITE,
        );
        database.unmap(
            &mut tables,
            region(PAGER, 1, 1),
            Rights::WRITE,
            UnmapScope::Descendants,
        );
        assert_eq!(
            database.lookup(PAGER, Page(1)),
            Some((Frame(0x40001), READ_WRITE))
        );
        for space in [CLIENT, OTHER, SpaceId(4)] {
            assert_eq!(
                database.lookup(space, Page(1)),
                Some((Frame(0x40001), Rights::READ))
            );
        }
        // A mapping that had only write is left with nothing, so it goes.
        assert_eq!(database.lookup(SpaceId(5), Page(1)), None);
        assert_agree(&database, &tables);
    }

    #[test]
    fn unmap_without_include_own_leaves_the_callers_page() {
        let (mut database, mut tables) = family_tree();
        database.unmap(
            &mut tables,
            region(CLIENT, 1, 1),
            Rights::ALL,
            UnmapScope::Descendants,
        );
        assert_eq!(
            database.lookup(CLIENT, Page(1)),
            Some((Frame(0x40001), READ_WRITE))
        );
        assert_eq!(database.lookup(SpaceId(4), Page(1)), None);
        assert_eq!(
            database.lookup(OTHER, Page(1)),
            Some((Frame(0x40001), READ_WRITE))
        );
        assert_agree(&database, &tables);
    }

    #[test]
    fn unmap_including_own_takes_rights_even_from_a_root_page() {
        let (mut database, mut tables) = family_tree();
        let affected = database.unmap(
            &mut tables,
            region(SIGMA0, 1, 1),
            Rights::WRITE,
            UnmapScope::OwnAndDescendants,
        );
        assert_eq!(affected, 1);
        assert_eq!(
            database.lookup(SIGMA0, Page(1)),
            Some((Frame(0x40001), Rights(5)))
        );
        assert_eq!(
            database.lookup(SpaceId(4), Page(1)),
            Some((Frame(0x40001), Rights::READ))
        );
        database.unmap(
            &mut tables,
            region(SIGMA0, 1, 1),
            Rights::ALL,
            UnmapScope::OwnAndDescendants,
        );
        assert!(database.is_empty());
        assert_agree(&database, &tables);
    }

    #[test]
    fn unmapping_nothing_or_a_page_without_descendants_affects_no_page() {
        let (mut database, mut tables) = family_tree();
        assert_eq!(
            database.unmap(
                &mut tables,
                region(OTHER, 1, 1),
                Rights::ALL,
                UnmapScope::Descendants
            ),
            0
        );
        assert_eq!(
            database.unmap(
                &mut tables,
                region(PAGER, 1, 0),
                Rights::ALL,
                UnmapScope::Descendants
            ),
            0
        );
        assert_eq!(
            database.unmap(
                &mut tables,
                region(PAGER, 1, 1),
                Rights::NONE,
                UnmapScope::OwnAndDescendants
            ),
            0
        );
        assert_eq!(
            database.unmap(
                &mut tables,
                region(PAGER, 1, 1),
                Rights::EXECUTE,
                UnmapScope::OwnAndDescendants
            ),
            0
        );
        assert_eq!(database.len(), 5);
        assert_agree(&database, &tables);
    }

    #[test]
    fn mapping_over_a_different_frame_unmaps_the_old_one_first() {
        let (mut database, mut tables) = sigma0_with(&[1, 2]);
        map_one(
            &mut database,
            &mut tables,
            (SIGMA0, 1),
            (CLIENT, 8),
            Rights::ALL,
        );
        map_one(
            &mut database,
            &mut tables,
            (CLIENT, 8),
            (OTHER, 3),
            Rights::READ,
        );
        map_one(
            &mut database,
            &mut tables,
            (SIGMA0, 2),
            (PAGER, 2),
            Rights::ALL,
        );
        assert_eq!(
            map_one(
                &mut database,
                &mut tables,
                (PAGER, 2),
                (CLIENT, 8),
                Rights::READ
            ),
            1
        );
        assert_eq!(
            database.lookup(CLIENT, Page(8)),
            Some((Frame(0x40002), Rights::READ))
        );
        assert_eq!(
            database.derived_from(CLIENT, Page(8)),
            Some((PAGER, Page(2)))
        );
        assert_eq!(database.lookup(OTHER, Page(3)), None);
        assert_agree(&database, &tables);
    }

    #[test]
    fn remapping_the_same_frame_extends_rights_and_moves_it_under_the_sender() {
        let (mut database, mut tables) = sigma0_with(&[1]);
        map_one(
            &mut database,
            &mut tables,
            (SIGMA0, 1),
            (PAGER, 1),
            READ_WRITE,
        );
        map_one(
            &mut database,
            &mut tables,
            (PAGER, 1),
            (CLIENT, 1),
            Rights::READ,
        );
        map_one(
            &mut database,
            &mut tables,
            (CLIENT, 1),
            (OTHER, 1),
            Rights::READ,
        );
        assert_eq!(
            map_one(
                &mut database,
                &mut tables,
                (SIGMA0, 1),
                (CLIENT, 1),
                READ_WRITE
            ),
            1
        );
        assert_eq!(
            database.lookup(CLIENT, Page(1)),
            Some((Frame(0x40001), READ_WRITE))
        );
        assert_eq!(
            database.derived_from(CLIENT, Page(1)),
            Some((SIGMA0, Page(1)))
        );
        // What the client derived survives the remap, one level shallower.
        assert_eq!(
            database.derived_from(OTHER, Page(1)),
            Some((CLIENT, Page(1)))
        );
        assert_agree(&database, &tables);
        // The old parent no longer controls it.
        database.unmap(
            &mut tables,
            region(PAGER, 1, 1),
            Rights::ALL,
            UnmapScope::Descendants,
        );
        assert_eq!(
            database.lookup(CLIENT, Page(1)),
            Some((Frame(0x40001), READ_WRITE))
        );
        assert_agree(&database, &tables);
    }

    #[test]
    fn remapping_an_unrelated_copy_of_the_same_frame_caps_its_rights_by_the_new_parent() {
        let mut database = MappingDatabase::new();
        let mut tables = ModelTables::default();
        database
            .insert_root(&mut tables, SIGMA0, Page(1), Frame(7), Rights::ALL)
            .unwrap();
        database
            .insert_root(&mut tables, SIGMA0, Page(2), Frame(7), Rights::READ)
            .unwrap();
        map_one(
            &mut database,
            &mut tables,
            (SIGMA0, 1),
            (CLIENT, 5),
            Rights::ALL,
        );
        map_one(
            &mut database,
            &mut tables,
            (CLIENT, 5),
            (OTHER, 5),
            READ_WRITE,
        );
        map_one(
            &mut database,
            &mut tables,
            (CLIENT, 5),
            (PAGER, 5),
            Rights::WRITE,
        );
        assert_eq!(
            map_one(
                &mut database,
                &mut tables,
                (SIGMA0, 2),
                (CLIENT, 5),
                Rights::READ
            ),
            1
        );
        assert_eq!(
            database.lookup(CLIENT, Page(5)),
            Some((Frame(7), Rights::READ))
        );
        assert_eq!(
            database.derived_from(CLIENT, Page(5)),
            Some((SIGMA0, Page(2)))
        );
        assert_eq!(
            database.lookup(OTHER, Page(5)),
            Some((Frame(7), Rights::READ))
        );
        assert_eq!(database.lookup(PAGER, Page(5)), None);
        assert_agree(&database, &tables);
    }

    #[test]
    fn mapping_or_granting_back_into_an_ancestor_is_ignored() {
        let (mut database, mut tables) = family_tree();
        let before = tables.translations.clone();
        assert_eq!(
            map_one(
                &mut database,
                &mut tables,
                (SpaceId(4), 1),
                (SIGMA0, 1),
                Rights::ALL
            ),
            0
        );
        assert_eq!(
            map_one(
                &mut database,
                &mut tables,
                (SpaceId(4), 1),
                (PAGER, 1),
                Rights::ALL
            ),
            0
        );
        let granted = database
            .grant(
                &mut tables,
                region(SpaceId(4), 1, 1),
                CLIENT,
                Page(1),
                Rights::ALL,
            )
            .unwrap();
        assert_eq!(granted, 0);
        assert_eq!(tables.translations, before);
        assert_eq!(
            database.derived_from(PAGER, Page(1)),
            Some((SIGMA0, Page(1)))
        );
        assert_agree(&database, &tables);

        // Into an ancestor's space at another page it is just another mapping.
        assert_eq!(
            map_one(
                &mut database,
                &mut tables,
                (SpaceId(4), 1),
                (SIGMA0, 9),
                Rights::ALL
            ),
            1
        );
        assert_eq!(
            database.lookup(SIGMA0, Page(9)),
            Some((Frame(0x40001), READ_WRITE))
        );
        assert_eq!(
            database.derived_from(SIGMA0, Page(9)),
            Some((SpaceId(4), Page(1)))
        );
        assert_agree(&database, &tables);
    }

    #[test]
    fn granting_over_a_descendant_of_the_same_frame_replaces_it() {
        let (mut database, mut tables) = family_tree();
        // PAGER grants its page to CLIENT, which holds a child of it there.
        let granted = database
            .grant(
                &mut tables,
                region(PAGER, 1, 1),
                CLIENT,
                Page(1),
                Rights::ALL,
            )
            .unwrap();
        assert_eq!(granted, 1);
        assert_eq!(database.lookup(PAGER, Page(1)), None);
        assert_eq!(
            database.derived_from(CLIENT, Page(1)),
            Some((SIGMA0, Page(1)))
        );
        assert_eq!(database.lookup(SpaceId(4), Page(1)), None);
        assert_eq!(
            database.derived_from(OTHER, Page(1)),
            Some((CLIENT, Page(1)))
        );
        assert_agree(&database, &tables);
    }

    #[test]
    fn deleting_a_space_removes_its_mappings_and_their_descendants() {
        let (mut database, mut tables) = sigma0_with(&[1, 2, 3]);
        database
            .map(
                &mut tables,
                region(SIGMA0, 1, 2),
                PAGER,
                Page(1),
                Rights::ALL,
            )
            .unwrap();
        database
            .map(
                &mut tables,
                region(PAGER, 1, 2),
                CLIENT,
                Page(1),
                Rights::ALL,
            )
            .unwrap();
        database
            .map(
                &mut tables,
                region(CLIENT, 1, 2),
                OTHER,
                Page(1),
                Rights::ALL,
            )
            .unwrap();
        map_one(
            &mut database,
            &mut tables,
            (SIGMA0, 3),
            (CLIENT, 3),
            Rights::ALL,
        );
        assert_eq!(database.remove_space(&mut tables, PAGER), 6);
        assert!(
            database
                .mappings()
                .all(|mapping| mapping.space != PAGER && mapping.space != OTHER)
        );
        assert_eq!(
            database.lookup(CLIENT, Page(3)),
            Some((Frame(0x40003), Rights::ALL))
        );
        assert_eq!(database.len(), 4);
        assert_eq!(database.remove_space(&mut tables, PAGER), 0);
        assert_agree(&database, &tables);
    }

    /// Runs `body` on a thread with a 256 KiB stack, so that recursion proportional to 100 000
    /// would overflow.
    fn on_a_small_stack(body: impl FnOnce() + Send + 'static) {
        std::thread::Builder::new()
            .stack_size(256 * 1024)
            .spawn(body)
            .unwrap()
            .join()
            .unwrap();
    }

    #[test]
    fn a_deep_chain_of_100k_mappings_unmaps_without_stack_overflow() {
        on_a_small_stack(|| {
            const LENGTH: u32 = 100_000;
            let (mut database, mut tables) = sigma0_with(&[1]);
            for space in 1..LENGTH {
                let from = (SpaceId(space - 1), 1);
                assert_eq!(
                    map_one(
                        &mut database,
                        &mut tables,
                        from,
                        (SpaceId(space), 1),
                        Rights::ALL
                    ),
                    1
                );
            }
            assert_eq!(database.len(), LENGTH as usize);
            assert_agree(&database, &tables);

            let bottom = SpaceId(LENGTH - 1);
            assert_eq!(
                map_one(
                    &mut database,
                    &mut tables,
                    (bottom, 1),
                    (SIGMA0, 1),
                    Rights::ALL
                ),
                0
            );
            database.unmap(
                &mut tables,
                region(SpaceId(1), 1, 1),
                Rights::WRITE,
                UnmapScope::OwnAndDescendants,
            );
            assert_eq!(
                database.lookup(bottom, Page(1)),
                Some((Frame(0x40001), Rights(5)))
            );
            // Moving the bottom half up one level renumbers 50 000 depths without recursion.
            let middle = LENGTH / 2;
            assert_eq!(
                map_one(
                    &mut database,
                    &mut tables,
                    (SpaceId(middle - 2), 1),
                    (SpaceId(middle), 1),
                    Rights::ALL
                ),
                1
            );
            assert_agree(&database, &tables);

            database.unmap(
                &mut tables,
                region(SIGMA0, 1, 1),
                Rights::ALL,
                UnmapScope::Descendants,
            );
            assert_eq!(database.len(), 1);
            assert_agree(&database, &tables);
        });
    }

    #[test]
    fn a_wide_tree_of_100k_children_is_deleted_with_its_owner() {
        on_a_small_stack(|| {
            const WIDTH: u32 = 100_000;
            let (mut database, mut tables) = sigma0_with(&[1]);
            for space in 1..=WIDTH {
                map_one(
                    &mut database,
                    &mut tables,
                    (SIGMA0, 1),
                    (SpaceId(space), 1),
                    Rights::ALL,
                );
            }
            assert_eq!(database.remove_space(&mut tables, SpaceId(WIDTH / 2)), 1);
            assert_agree(&database, &tables);
            assert_eq!(database.remove_space(&mut tables, SIGMA0), u64::from(WIDTH));
            assert!(database.is_empty());
            assert_agree(&database, &tables);
        });
    }

    #[test]
    fn out_of_memory_in_the_tables_leaves_database_and_tables_consistent() {
        let (mut database, mut tables) = sigma0_with(&[0, 1, 2, 3, 4, 5, 6, 7]);
        map_one(
            &mut database,
            &mut tables,
            (SIGMA0, 0),
            (PAGER, 0),
            Rights::READ,
        );

        tables.installs_before_failure = Some(3);
        // Page 0 is a remap (no install), pages 1 to 3 install, page 4 fails.
        let result = database.map(
            &mut tables,
            region(SIGMA0, 0, 8),
            PAGER,
            Page(0),
            Rights::ALL,
        );
        assert_eq!(result, Err(MapdbError::OutOfMemory { completed_pages: 4 }));
        assert_eq!(
            database.lookup(PAGER, Page(0)),
            Some((Frame(0x40000), Rights::ALL))
        );
        assert!(database.lookup(PAGER, Page(3)).is_some());
        assert_eq!(database.lookup(PAGER, Page(4)), None);
        assert_agree(&database, &tables);

        // A failed replacement keeps the old mapping, and a failed grant keeps the sender's.
        tables.installs_before_failure = Some(0);
        let result = database.map(
            &mut tables,
            region(SIGMA0, 5, 1),
            PAGER,
            Page(1),
            Rights::ALL,
        );
        assert_eq!(result, Err(MapdbError::OutOfMemory { completed_pages: 0 }));
        assert_eq!(
            database.lookup(PAGER, Page(1)),
            Some((Frame(0x40001), Rights::ALL))
        );
        let result = database.grant(
            &mut tables,
            region(PAGER, 1, 1),
            CLIENT,
            Page(1),
            Rights::ALL,
        );
        assert_eq!(result, Err(MapdbError::OutOfMemory { completed_pages: 0 }));
        assert_eq!(
            database.lookup(PAGER, Page(1)),
            Some((Frame(0x40001), Rights::ALL))
        );
        assert_eq!(
            database.insert_root(&mut tables, SIGMA0, Page(9), Frame(9), Rights::ALL),
            Err(MapdbError::OutOfMemory { completed_pages: 0 })
        );
        assert_agree(&database, &tables);

        tables.installs_before_failure = None;
        assert_eq!(
            database.map(
                &mut tables,
                region(SIGMA0, 0, 8),
                PAGER,
                Page(0),
                Rights::ALL
            ),
            Ok(8)
        );
        assert_agree(&database, &tables);
    }

    #[test]
    fn ranges_beyond_the_per_call_limit_or_the_last_page_are_refused() {
        let (mut database, mut tables) = sigma0_with(&[1]);
        let too_many = MAX_PAGES_PER_CALL + 1;
        assert_eq!(
            database.map(
                &mut tables,
                region(SIGMA0, 0, too_many),
                PAGER,
                Page(0),
                Rights::ALL
            ),
            Err(MapdbError::RangeTooLarge { count: too_many })
        );
        assert_eq!(
            database.grant(
                &mut tables,
                region(SIGMA0, 0, 2),
                PAGER,
                Page(u64::MAX),
                Rights::ALL
            ),
            Err(MapdbError::RangeBeyondLastPage {
                first: Page(u64::MAX),
                count: 2
            })
        );
        assert_eq!(
            database.map(
                &mut tables,
                region(SIGMA0, u64::MAX, 2),
                PAGER,
                Page(0),
                Rights::ALL
            ),
            Err(MapdbError::RangeBeyondLastPage {
                first: Page(u64::MAX),
                count: 2
            })
        );
        assert_eq!(database.len(), 1);
        // The largest range is accepted, and costs only what is mapped in it.
        let largest = region(SIGMA0, 0, MAX_PAGES_PER_CALL);
        assert_eq!(
            database.map(&mut tables, largest, PAGER, Page(0), Rights::ALL),
            Ok(1)
        );
        assert_eq!(
            database.map(
                &mut tables,
                region(SIGMA0, 1, 0),
                CLIENT,
                Page(0),
                Rights::ALL
            ),
            Ok(0)
        );
        assert_agree(&database, &tables);
    }

    #[test]
    fn unmapping_a_range_that_runs_past_the_last_page_stops_there() {
        let mut database = MappingDatabase::new();
        let mut tables = ModelTables::default();
        database
            .insert_root(&mut tables, SIGMA0, Page(u64::MAX), Frame(1), Rights::ALL)
            .unwrap();
        let everything = region(SIGMA0, u64::MAX - 1, u64::MAX);
        assert_eq!(
            database.unmap(
                &mut tables,
                everything,
                Rights::ALL,
                UnmapScope::OwnAndDescendants
            ),
            1
        );
        assert!(database.is_empty());
        assert_agree(&database, &tables);
    }

    #[test]
    fn the_invariant_check_finds_a_child_with_more_rights_than_its_parent() {
        let (mut database, mut tables) = sigma0_with(&[1]);
        map_one(
            &mut database,
            &mut tables,
            (SIGMA0, 1),
            (PAGER, 1),
            Rights::READ,
        );
        map_one(
            &mut database,
            &mut tables,
            (PAGER, 1),
            (CLIENT, 1),
            Rights::READ,
        );
        let id = database.index[&(CLIENT, Page(1))];
        database.node_mut(id).rights = READ_WRITE;
        assert_eq!(
            database.check_invariants(),
            Err(InvariantViolation::RightsExceedParent {
                space: CLIENT,
                page: Page(1)
            })
        );
    }

    #[test]
    fn the_invariant_check_finds_a_child_missing_from_its_parents_list() {
        let (mut database, _tables) = family_tree();
        let parent = database.index[&(PAGER, Page(1))];
        let first = database.node(parent).first_child.unwrap();
        let skipped = database.node(first).next_sibling;
        database.node_mut(first).next_sibling = None;
        let missing = database.node(skipped.unwrap());
        let (space, page) = (missing.space, missing.page);
        assert_eq!(
            database.check_invariants(),
            Err(InvariantViolation::ChildListBroken { space, page })
        );
    }

    #[test]
    fn the_invariant_check_finds_a_wrong_depth_and_a_broken_free_list() {
        let (mut database, mut tables) = family_tree();
        let id = database.index[&(SpaceId(4), Page(1))];
        database.node_mut(id).depth = 7;
        assert_eq!(
            database.check_invariants(),
            Err(InvariantViolation::DepthWrong {
                space: SpaceId(4),
                page: Page(1)
            })
        );
        database.node_mut(id).depth = 3;
        database.remove_space(&mut tables, OTHER);
        assert_eq!(database.check_invariants(), Ok(()));
        database.free_head = None;
        assert_eq!(
            database.check_invariants(),
            Err(InvariantViolation::FreeListBroken)
        );
    }

    #[test]
    fn random_operations_keep_the_database_and_the_tables_in_agreement() {
        const SPACES: u64 = 6;
        const PAGES: u64 = 64;
        let mut database = MappingDatabase::new();
        let mut tables = ModelTables::default();
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let mut mapped_pages = 0;
        let mut granted_pages = 0;
        let mut affected_pages = 0;
        let mut largest = 0;
        for _ in 0..20_000 {
            let space = SpaceId((next() % SPACES) as u32);
            let other = SpaceId((next() % SPACES) as u32);
            let page = next() % PAGES;
            // Mostly the same page number and few frames, so that maps meet ancestors and remaps.
            let other_page = if next() % 4 != 0 {
                page
            } else {
                next() % PAGES
            };
            let count = 1 + next() % 8;
            let rights = Rights::from_bits_truncate(next() as u8);
            if next() % 25 == 0 {
                tables.installs_before_failure = Some(next() % 3);
            }
            match next() % 16 {
                0..=2 => {
                    let had = database.lookup(space, Page(page)).is_some();
                    let result = database.insert_root(
                        &mut tables,
                        space,
                        Page(page),
                        Frame(next() % 8),
                        rights,
                    );
                    match result {
                        Ok(()) => assert!(!had && !rights.is_empty()),
                        Err(MapdbError::AlreadyMapped { .. }) => assert!(had),
                        Err(MapdbError::NoRights) => assert!(rights.is_empty()),
                        Err(MapdbError::OutOfMemory { completed_pages: 0 }) => {}
                        Err(error) => panic!("unexpected {error:?}"),
                    }
                }
                3..=7 => {
                    let source = region(space, page, count);
                    match database.map(&mut tables, source, other, Page(other_page), rights) {
                        Ok(pages)
                        | Err(MapdbError::OutOfMemory {
                            completed_pages: pages,
                        }) => {
                            assert!(pages <= count);
                            mapped_pages += pages;
                        }
                        Err(error) => panic!("unexpected {error:?}"),
                    }
                }
                8..=10 => {
                    let source = region(space, page, count);
                    match database.grant(&mut tables, source, other, Page(other_page), rights) {
                        Ok(pages)
                        | Err(MapdbError::OutOfMemory {
                            completed_pages: pages,
                        }) => {
                            assert!(pages <= count);
                            granted_pages += pages;
                        }
                        Err(error) => panic!("unexpected {error:?}"),
                    }
                }
                11..=14 => {
                    let scope = if next() % 2 == 0 {
                        UnmapScope::Descendants
                    } else {
                        UnmapScope::OwnAndDescendants
                    };
                    let target = region(space, page, count);
                    affected_pages += database.unmap(&mut tables, target, rights, scope);
                    if scope == UnmapScope::OwnAndDescendants {
                        for offset in 0..count {
                            if let Some((_, left)) = database.lookup(space, Page(page + offset)) {
                                assert!(left.intersection(rights).is_empty());
                            }
                        }
                    }
                }
                _ => {
                    if next() % 4 == 0 {
                        database.remove_space(&mut tables, space);
                        assert!(database.mappings().all(|mapping| mapping.space != space));
                    }
                }
            }
            tables.installs_before_failure = None;

            assert_agree(&database, &tables);
            for space in 0..SPACES {
                for page in 0..PAGES + 8 {
                    let key = (SpaceId(space as u32), Page(page));
                    assert_eq!(
                        database.lookup(key.0, key.1),
                        tables.translations.get(&key).copied()
                    );
                }
            }
            largest = largest.max(database.len());
        }
        // The run exercised every operation, not just refusals.
        assert!(mapped_pages > 1000, "{mapped_pages} pages mapped");
        assert!(granted_pages > 500, "{granted_pages} pages granted");
        assert!(
            affected_pages > 500,
            "{affected_pages} pages affected by unmap"
        );
        assert!(largest > 50, "at most {largest} mappings");
    }
}
