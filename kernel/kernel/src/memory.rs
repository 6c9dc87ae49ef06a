//! Kernel memory: the final kernel page tables, the physical frame allocator and the heap.
//!
//! Boot order (each step needs the previous one):
//! 1. [`build_kernel_tables`]: from the device tree, map the image section by section (text
//!    read-execute, rodata read-only, data/bss and stack read-write, never executable, a guard
//!    page under the stack), the linear map of all RAM (read-write, never executable, with the
//!    image's own frames read-only) and the devices the kernel drives. The table pages come
//!    from a pool inside the image, because no allocator exists yet; then TTBR1 switches over
//!    and the boot identity map is retired.
//! 2. [`start_frame_allocator`]: a bitmap over the RAM span, placed in the lowest free RAM,
//!    with RAM released and the image, device tree, initrd, firmware reservations and the
//!    bitmap itself reserved.
//! 3. The heap: `alloc` on a buddy allocator that starts empty and grows by taking runs of
//!    frames from the allocator whenever a request does not fit.

use core::alloc::Layout;
use core::sync::atomic::{AtomicU64, Ordering};

use aarch64::page_table::{
    self, Access, Attributes, BlockPolicy, Execute, MemoryType, PageTable, TableMemory,
};
use buddy_system_allocator::{Heap, LockedHeapWithRescue};
use kcore::boot_memory::lowest_free_place;
use kcore::frame_allocator::{FRAME_SIZE, FrameAllocator, PhysicalRange, bitmap_words_for};
use spin::Mutex;

use crate::layout::{self, KERNEL_VIRTUAL_BASE, LINEAR_MAP_LIMIT, linear};

/// Table pages for the kernel's own map, inside the image (so they need no allocator). 32
/// pages map the image, several RAM banks and the kernel's devices with room to spare.
const TABLE_POOL_PAGES: usize = 32;

#[repr(C, align(4096))]
struct TablePool([PageTable; TABLE_POOL_PAGES]);

static TABLE_POOL: Mutex<TablePool> =
    Mutex::new(TablePool([const { PageTable::new() }; TABLE_POOL_PAGES]));

/// Table memory carved from [`TABLE_POOL`]; physical addresses are derived from the image's
/// load address, and tables are reached through their link address (valid before and after
/// the switch).
struct PoolTables<'pool> {
    pool: &'pool mut TablePool,
    used: usize,
    image_physical_base: u64,
}

impl PoolTables<'_> {
    fn physical_of(&self, link_address: u64) -> u64 {
        link_address - KERNEL_VIRTUAL_BASE + self.image_physical_base
    }
}

impl TableMemory for PoolTables<'_> {
    fn allocate_table(&mut self) -> Option<u64> {
        let table = self.pool.0.get_mut(self.used)?;
        *table = PageTable::new();
        self.used += 1;
        let link_address = table as *mut PageTable as u64;
        Some(self.physical_of(link_address))
    }

    fn table(&mut self, physical: u64) -> &mut PageTable {
        let pool_physical = self.physical_of(self.pool.0.as_ptr() as u64);
        let index = ((physical - pool_physical) / FRAME_SIZE) as usize;
        &mut self.pool.0[index]
    }
}

/// Why the kernel's own map could not be built (reported once the console works, or fatal).
#[derive(Debug)]
#[allow(
    dead_code,
    reason = "the fields are read through Debug in the boot log"
)]
pub enum KernelMapError {
    /// RAM lies beyond what the linear map can show.
    RamBeyondLinearMap { end: u64 },
    /// The page-table layer refused a mapping.
    Map {
        what: &'static str,
        error: page_table::MapError,
    },
}

/// What the kernel maps for itself besides the image and RAM.
#[derive(Clone, Copy, Debug)]
pub struct DeviceWindow {
    /// Physical base.
    pub base: u64,
    /// Size in bytes.
    pub size: u64,
}

/// Build the final kernel map and switch to it. Returns the number of table pages used.
///
/// # Safety
/// Runs once, on the boot CPU, with interrupts masked and boot.s's identity map live;
/// `image_physical_base` is where the image was loaded, `ram` the RAM of the device tree and
/// `devices` the register blocks the kernel itself will drive.
pub unsafe fn build_kernel_tables(
    image_physical_base: u64,
    ram: &[PhysicalRange],
    devices: &[DeviceWindow],
) -> Result<usize, KernelMapError> {
    let mut pool = TABLE_POOL.lock();
    let mut tables = PoolTables {
        pool: &mut pool,
        used: 0,
        image_physical_base,
    };
    let root = tables.allocate_table().ok_or(KernelMapError::Map {
        what: "root table",
        error: page_table::MapError::OutOfTableMemory,
    })?;
    let sections = layout::image_sections();
    let image_physical = |link: u64| link - KERNEL_VIRTUAL_BASE + image_physical_base;
    let kernel = |access, execute, memory| Attributes {
        memory,
        access,
        execute,
        user: false,
        global: true,
    };
    let text = kernel(Access::ReadOnly, Execute::Kernel, MemoryType::Normal);
    let read_only = kernel(Access::ReadOnly, Execute::Never, MemoryType::Normal);
    let read_write = kernel(Access::ReadWrite, Execute::Never, MemoryType::Normal);
    let device = kernel(Access::ReadWrite, Execute::Never, MemoryType::Device);

    let mut map = |what, virt: u64, phys: u64, size: u64, attributes, policy| {
        page_table::map(root, &mut tables, virt, phys, size, attributes, policy)
            .map_err(|error| KernelMapError::Map { what, error })
    };
    for (what, range, attributes) in [
        ("kernel text", sections.text.clone(), text),
        ("kernel rodata", sections.rodata.clone(), read_only),
        ("kernel data", sections.data.clone(), read_write),
        ("kernel stack", sections.stack.clone(), read_write),
    ] {
        map(
            what,
            range.start,
            image_physical(range.start),
            range.end - range.start,
            attributes,
            BlockPolicy::PagesOnly,
        )?;
    }

    // The linear map: RAM read-write, except the image's own frames, which stay read-only so
    // that no writable alias of kernel text exists.
    let image = PhysicalRange::from_bounds(
        image_physical(sections.image.start),
        image_physical(sections.image.end),
    );
    let image = PhysicalRange {
        base: image.base,
        size: image.size.next_multiple_of(FRAME_SIZE),
    };
    for bank in ram {
        if bank.end() > LINEAR_MAP_LIMIT {
            return Err(KernelMapError::RamBeyondLinearMap { end: bank.end() });
        }
        let below = PhysicalRange::from_bounds(bank.base, bank.end().min(image.base));
        let inside =
            PhysicalRange::from_bounds(bank.base.max(image.base), bank.end().min(image.end()));
        let above = PhysicalRange::from_bounds(bank.base.max(image.end()), bank.end());
        for (part, attributes) in [
            (below, read_write),
            (inside, read_only),
            (above, read_write),
        ] {
            if part.size > 0 {
                map(
                    "linear map of RAM",
                    linear(part.base),
                    part.base,
                    part.size,
                    attributes,
                    BlockPolicy::LargestFitting,
                )?;
            }
        }
    }
    for window in devices {
        let base = window.base & !(FRAME_SIZE - 1);
        let size = (window.base + window.size).next_multiple_of(FRAME_SIZE) - base;
        map(
            "device registers",
            linear(base),
            base,
            size,
            device,
            BlockPolicy::LargestFitting,
        )?;
    }
    let used = tables.used;
    drop(pool);
    // SAFETY: `root` maps the image at its link address onto the same frames, the stack, and
    // the linear map; the caller guarantees masked interrupts and a live identity map.
    unsafe { crate::arch::replace_kernel_tables(root, image_physical_base) };
    Ok(used)
}

static FRAMES: Mutex<Option<FrameAllocator<'static>>> = Mutex::new(None);

/// A summary of physical memory for the banner.
#[derive(Clone, Copy, Debug)]
pub struct MemorySummary {
    /// Bytes of RAM in the device tree.
    pub ram_bytes: u64,
    /// Frames free after the kernel's reservations.
    pub free_frames: usize,
    /// Where the allocator bitmap went.
    pub bitmap: PhysicalRange,
}

/// Why the frame allocator could not start.
#[derive(Clone, Copy, Debug)]
#[allow(
    dead_code,
    reason = "the fields are read through Debug in the boot log"
)]
pub enum FrameAllocatorError {
    /// No RAM in the device tree.
    NoRam,
    /// No free place for the bitmap.
    NoRoomForBitmap { bytes: u64 },
}

/// Start the frame allocator over `ram`, keeping `reserved` (image, DTB, initrd, firmware
/// reservations) out of it. Needs the linear map.
pub fn start_frame_allocator(
    ram: &[PhysicalRange],
    reserved: &[PhysicalRange],
) -> Result<MemorySummary, FrameAllocatorError> {
    let span_base = ram
        .iter()
        .map(|bank| bank.base)
        .min()
        .ok_or(FrameAllocatorError::NoRam)?;
    let span_end = ram
        .iter()
        .map(PhysicalRange::end)
        .max()
        .ok_or(FrameAllocatorError::NoRam)?;
    let span = PhysicalRange::from_bounds(span_base & !(FRAME_SIZE - 1), span_end);
    let words = bitmap_words_for(span);
    let bytes = (words as u64 * 8).next_multiple_of(FRAME_SIZE);
    let place = lowest_free_place(bytes, FRAME_SIZE, ram, reserved)
        .ok_or(FrameAllocatorError::NoRoomForBitmap { bytes })?;
    // SAFETY: `[place, place + bytes)` is RAM that holds nothing else (it avoids every reserved
    // range), the linear map covers it read-write, and it is reserved below so that nothing
    // else ever receives it; it lives as long as the kernel.
    let bitmap: &'static mut [u64] =
        unsafe { core::slice::from_raw_parts_mut(linear(place) as *mut u64, words) };
    let mut frames = FrameAllocator::new(span, bitmap)
        .map_err(|_| FrameAllocatorError::NoRoomForBitmap { bytes })?;
    for bank in ram {
        frames.release(*bank);
    }
    for range in reserved {
        frames.reserve(*range);
    }
    let bitmap = PhysicalRange {
        base: place,
        size: bytes,
    };
    frames.reserve(bitmap);
    let summary = MemorySummary {
        ram_bytes: ram.iter().map(|bank| bank.size).sum(),
        free_frames: frames.free_frames(),
        bitmap,
    };
    *FRAMES.lock() = Some(frames);
    Ok(summary)
}

/// Run `body` with the frame allocator (interrupts masked while it is held).
pub fn with_frames<T>(body: impl FnOnce(&mut FrameAllocator<'static>) -> T) -> Option<T> {
    crate::arch::with_interrupts_masked(|| FRAMES.lock().as_mut().map(body))
}

/// The kernel heap. It starts empty and takes frames from the frame allocator whenever a
/// request does not fit (the "rescue" path), in runs of at least [`HEAP_GROWTH`].
#[global_allocator]
static HEAP: LockedHeapWithRescue<32> = LockedHeapWithRescue::new(grow_heap);

/// Smallest run of frames the heap takes at a time.
const HEAP_GROWTH: u64 = 256 * 1024;

/// Total bytes handed to the heap so far.
static HEAP_BYTES: AtomicU64 = AtomicU64::new(0);

fn grow_heap(heap: &mut Heap<32>, layout: &Layout) {
    let wanted = (layout.size().max(layout.align()) as u64 * 2)
        .max(HEAP_GROWTH)
        .next_power_of_two();
    let frames = (wanted / FRAME_SIZE) as usize;
    let alignment = (layout.align() as u64).max(FRAME_SIZE);
    let Some(Some(physical)) =
        with_frames(|allocator| allocator.allocate_contiguous(frames, alignment))
    else {
        return; // the allocation then fails and `alloc_error_handler` semantics apply
    };
    let start = linear(physical) as usize;
    // SAFETY: the run was just taken from the frame allocator, so nothing else uses it; the
    // linear map covers it read-write for the kernel's lifetime.
    unsafe { heap.add_to_heap(start, start + wanted as usize) };
    HEAP_BYTES.fetch_add(wanted, Ordering::Relaxed);
}

/// Bytes the heap has taken from the frame allocator.
pub fn heap_bytes() -> u64 {
    HEAP_BYTES.load(Ordering::Relaxed)
}

/// Take every free frame beyond `keep` out of the frame allocator, for sigma0, and record the
/// runs in `runs` (merged where contiguous). Returns how many runs were filled; if `runs` is
/// full, the rest stays with the kernel.
pub fn carve_for_sigma0(keep: usize, runs: &mut [PhysicalRange]) -> usize {
    with_frames(|frames| {
        let mut count = 0usize;
        while frames.free_frames() > keep {
            let Some(frame) = frames.allocate() else {
                break;
            };
            match count.checked_sub(1).and_then(|last| runs.get_mut(last)) {
                Some(run) if run.end() == frame => run.size += FRAME_SIZE,
                _ => match runs.get_mut(count) {
                    Some(slot) => {
                        *slot = PhysicalRange {
                            base: frame,
                            size: FRAME_SIZE,
                        };
                        count += 1;
                    }
                    None => {
                        let _ = frames.free(frame);
                        break;
                    }
                },
            }
        }
        count
    })
    .unwrap_or(0)
}
