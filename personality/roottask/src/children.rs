//! The tasks the root task starts, and the pager it is for them.
//!
//! A child is a program from the initrd run as a new task (task_new) with the root task as its
//! pager. Its page faults arrive here; the root task answers each with a map item for a fresh
//! page of its own (which sigma0 backed on first touch: pagers stacked), filled from the
//! child's ELF segments, or zero for its stack and its anonymous regions; or with a page of
//! the root task's read-only view of the initrd, for a child that reads the initrd (the OS
//! server's file system).

use core::ops::Range;

use abi::{Fpage, MessageTag, Rights, ThreadId, TypedItem};
use kcore::boot_modules::Program;

pub const PAGE_SIZE: u64 = 4096;

/// Where the root task takes the pages it gives its children (each first touch faults to
/// sigma0, which maps a fresh page of RAM).
const CHILD_PAGES: u64 = 0x5000_0000_0000;

/// A child's UTCB area and stack top (the kernel's boot-program layout).
pub const CHILD_UTCB_AREA: u64 = 0x7F00_0000_0000;
pub const CHILD_STACK_TOP: u64 = 0x7F80_0000_0000;
/// Where every child finds the kernel interface page (read-only): just below its UTCBs.
pub const CHILD_KERNEL_INTERFACE_PAGE: u64 = CHILD_UTCB_AREA - PAGE_SIZE;

/// A region of a child's address space and what backs it.
#[derive(Clone, Debug)]
pub enum Region {
    /// Fresh zeroed pages, read-write.
    Anonymous(Range<u64>),
    /// The initrd, read-only: the page at `base + offset` is the initrd's page at `offset`.
    Initrd { base: u64 },
}

/// One started child.
#[derive(Debug)]
pub struct Child {
    pub name: &'static str,
    pub id: ThreadId,
    program: Program<'static>,
    stack: Range<u64>,
    regions: &'static [Region],
}

/// The children and the pages handed out.
#[derive(Debug)]
pub struct Children {
    list: alloc::vec::Vec<Child>,
    next_page: u64,
    initrd: &'static [u8],
    initrd_window: u64,
}

impl Children {
    /// No children yet; `initrd` is the root task's view of it at `initrd_window`.
    pub fn new(initrd: &'static [u8], initrd_window: u64) -> Self {
        Self {
            list: alloc::vec::Vec::new(),
            next_page: 0,
            initrd,
            initrd_window,
        }
    }

    /// Start program `name` from the initrd as thread 0 of `task` (first incarnation), paged
    /// by the root task, with `stack_pages` of stack and the extra `regions`. Returns its ID.
    pub fn start(
        &mut self,
        name: &'static str,
        task: u16,
        stack_pages: u64,
        regions: &'static [Region],
        exception_handler: ThreadId,
    ) -> Result<ThreadId, &'static str> {
        let archive =
            kcore::boot_modules::Initrd::new(self.initrd).map_err(|_| "the initrd is damaged")?;
        let program = archive
            .find_program(name)
            .map_err(|_| "the program is missing from the initrd or unusable")?;
        let id = ThreadId::new(task, 0, 1).map_err(|_| "no thread ID for the task")?;
        let utcb_area =
            Fpage::new(CHILD_UTCB_AREA, 24, Rights::READ_WRITE).map_err(|_| "no UTCB fpage")?;
        let creation =
            abi::call::task_new::TaskNewArguments::Create(abi::call::task_new::TaskCreation {
                first_thread: id,
                pager: libl4::my_thread_id(),
                instruction_pointer: program.entry,
                stack_pointer: CHILD_STACK_TOP,
                utcb_area,
                kernel_interface_page: Fpage::page(CHILD_KERNEL_INTERFACE_PAGE, Rights::READ)
                    .map_err(|_| "no fpage for the kernel interface page")?,
                maximum_controlled_priority: 100,
                exception_handler,
            });
        // SAFETY: task_new creates a new task; nothing of the root task changes.
        let results = unsafe { libl4::raw::task_new(&creation.encode()) };
        if results[abi::call::ERROR_REGISTER] != 0 {
            return Err("task_new refused to create the task");
        }
        self.list.push(Child {
            name,
            id,
            program,
            stack: CHILD_STACK_TOP - stack_pages * PAGE_SIZE..CHILD_STACK_TOP,
            regions,
        });
        Ok(id)
    }

    /// The child `thread` belongs to (any thread of its task).
    pub fn find(&self, thread: ThreadId) -> Option<&Child> {
        self.list.iter().find(|child| child.id.same_task(thread))
    }

    /// The answer to the page fault of `thread` (a thread of a child) at `address`: a map
    /// item of a page of the root task's, or `None` if the address lies in nothing the child
    /// has.
    pub fn resolve(&mut self, thread: ThreadId, address: u64) -> Option<(MessageTag, [u64; 2])> {
        let target = address & !(PAGE_SIZE - 1);
        let child = self
            .list
            .iter()
            .find(|candidate| candidate.id.same_task(thread))?;
        let initrd_size = self.initrd.len() as u64;
        let (page, rights) = if let Some(offset) =
            initrd_offset(child.regions, target).filter(|&offset| offset < initrd_size)
        {
            (self.initrd_window + offset, Rights::READ)
        } else {
            let page = CHILD_PAGES + self.next_page * PAGE_SIZE;
            let rights = fill_page(child, target, page)?;
            self.next_page += 1;
            (page, rights)
        };
        let fpage = Fpage::page(page, rights).ok()?;
        let item = abi::message::item::MapItem::new(target, fpage).ok()?;
        let tag = MessageTag::new(0, 0, 2).ok()?;
        Some((tag, TypedItem::Map(item).encode()))
    }
}

/// The offset into the initrd that `target` views, if it lies at or above an initrd region's
/// base (the caller checks it against the initrd's size).
fn initrd_offset(regions: &[Region], target: u64) -> Option<u64> {
    regions.iter().find_map(|region| match region {
        Region::Initrd { base } => target.checked_sub(*base),
        Region::Anonymous(_) => None,
    })
}

/// Fill the root task's fresh page `page` with what the child's page `target` holds (its
/// ELF segment's bytes, zero beyond) and return the rights to map it with, or `None` if the
/// address is in no segment, not in the stack and in no anonymous region.
fn fill_page(child: &Child, target: u64, page: u64) -> Option<Rights> {
    let anonymous = child.stack.contains(&target)
        || child
            .regions
            .iter()
            .any(|region| matches!(region, Region::Anonymous(range) if range.contains(&target)));
    let segment = child
        .program
        .segments()
        .iter()
        .find(|segment| segment.page_range().contains(&target));
    if !anonymous && segment.is_none() {
        return None;
    }
    // SAFETY: `page` lies in the root task's CHILD_PAGES region, where no Rust object lives;
    // the first write faults and sigma0 maps a fresh page of RAM there, zero-filled. The page
    // is handed out once and never touched again by the root task.
    let bytes = unsafe { core::slice::from_raw_parts_mut(page as *mut u8, PAGE_SIZE as usize) };
    bytes.fill(0);
    let Some(segment) = segment else {
        // All rights, as sigma0 gives: a child that pages others (the OS server) may map code
        // it wrote executable. Its own hardware mapping stays W^X (read-write).
        return Some(Rights::ALL);
    };
    let start = target.max(segment.virtual_address);
    let end = (target + PAGE_SIZE).min(segment.virtual_address + segment.file_bytes.len() as u64);
    if start < end {
        let from = (start - segment.virtual_address) as usize;
        let source = segment
            .file_bytes
            .get(from..from + (end - start) as usize)?;
        let offset = (start - target) as usize;
        bytes
            .get_mut(offset..offset + source.len())?
            .copy_from_slice(source);
    }
    let mut rights = Rights::READ;
    if segment.writable {
        rights = rights.union(Rights::WRITE);
    }
    if segment.executable {
        rights = rights.union(Rights::EXECUTE);
    }
    Some(rights)
}
