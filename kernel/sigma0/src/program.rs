//! sigma0's behaviour; built only for the bare-metal target (see main.rs).

use abi::call::ipc::{IpcArguments, IpcReturnValues, ReceiveSpecifier};
use abi::kernel_interface_page::KernelInterfacePage;
use abi::message::item::MapItem;
use abi::protocol::PageFault;
use abi::{Fpage, MessageTag, ReturnError, Rights, ThreadId, Timeouts, TypedItem};
use libl4::debug_println;
use sigma0::{PAGE_SIZE, PageCursor, conventional_bytes};

/// The label of sigma0's replies (the kernel ignores it in a page-fault reply).
const REPLY_LABEL: u16 = 0;
/// How many device pages sigma0 keeps track of having given out.
const MAX_DEVICE_PAGES: usize = 64;

/// The program: what `_start` runs on thread 0.
pub fn main() {
    let page = kernel_interface_page();
    let descriptors = page.memory_descriptors();
    debug_println!(
        "sigma0: {} MiB of conventional memory to hand out",
        conventional_bytes(descriptors) >> 20
    );
    let mut pager = Pager {
        devices: descriptors,
        devices_given: [0; MAX_DEVICE_PAGES],
        devices_given_count: 0,
        cursor: PageCursor::new(descriptors),
        pages: 0,
        exhausted: 0,
        unanswered: 0,
        errors: 0,
    };
    let mut received = libl4::receive(ReceiveSpecifier::Any, Timeouts::NEVER);
    loop {
        received = match received {
            Ok(message) => pager.handle(&message),
            Err(error) => pager.ipc_failed(error),
        };
    }
}

/// sigma0's state: the free-page cursor and counts of what happened, which it logs only at
/// powers of two (1, 2, 4, ...) so that the log stays short whatever a client does.
struct Pager {
    /// The memory map, for its device regions.
    devices: &'static [abi::kernel_interface_page::MemoryDescriptor],
    /// Device pages already handed out (first come, first served; never twice).
    devices_given: [u64; MAX_DEVICE_PAGES],
    devices_given_count: usize,
    cursor: PageCursor<'static>,
    /// Pages handed out.
    pages: u64,
    /// Page faults answered with no page because conventional memory was gone.
    exhausted: u64,
    /// Messages that got no reply: not a page fault, or one at an address no map reaches.
    unanswered: u64,
    /// Failed ipcs (a client gone before its reply, for example).
    errors: u64,
}

impl Pager {
    /// Answers `message` (or not) and waits for the next one.
    fn handle(&mut self, message: &IpcReturnValues) -> Result<IpcReturnValues, ReturnError> {
        // decode checks the label (0xFFE0 | rwx) and the shape.
        if message.tag.label() == abi::protocol::SIGMA0_LABEL && message.tag.untyped_words() == 1 {
            let address = message.words[0];
            let read_only = [
                abi::kernel_interface_page::MemoryKind::InitialRamDisk,
                abi::kernel_interface_page::MemoryKind::DeviceTree,
            ];
            if read_only.iter().any(|&kind| self.in_region(address, kind)) {
                return self.hand_out_read_only_page(message.from, address);
            }
            return self.hand_out_device_page(message.from, address);
        }
        if let Ok(fault) = PageFault::decode(message.tag, &message.words) {
            let send_base = fault.address & !(PAGE_SIZE - 1);
            // A send base the kernel would refuse gets no reply, and costs no page.
            if MapItem::new(send_base, Fpage::NIL).is_ok() {
                return self.hand_out_page(message.from, send_base);
            }
        }
        self.unanswered += 1;
        if self.unanswered.is_power_of_two() {
            debug_println!(
                "sigma0: {} messages left unanswered, the latest label {:#x} from {:?}",
                self.unanswered,
                message.tag.label(),
                message.from
            );
        }
        libl4::receive(ReceiveSpecifier::Any, Timeouts::NEVER)
    }

    /// Replies to the page fault of `client` with the next free page mapped read-write at
    /// `send_base`, or with no items if there is none.
    fn hand_out_page(
        &mut self,
        client: ThreadId,
        send_base: u64,
    ) -> Result<IpcReturnValues, ReturnError> {
        let Some(reply) = self.cursor.next_page().and_then(|page| {
            touch(page);
            map_reply(client, send_base, page, Rights::ALL)
        }) else {
            self.exhausted += 1;
            if self.exhausted.is_power_of_two() {
                debug_println!(
                    "sigma0: out of conventional memory after {} pages ({} faults unserved)",
                    self.pages,
                    self.exhausted
                );
            }
            return libl4::reply_and_wait(client, REPLY_LABEL, []);
        };
        self.pages += 1;
        // SAFETY: the one map item gives `client` read and write access to a page of
        // conventional memory that sigma0 never hands out again and never uses itself (it only
        // read one byte of it, in `touch`, before this ipc), so no Rust object of sigma0's can
        // change under it. sigma0's acceptor stays the kernel's initial nil window: nothing
        // received is mapped into sigma0. The message has two typed words, both in registers.
        unsafe { libl4::ipc(&reply) }
    }

    /// The sigma0 protocol's device request (label `SIGMA0_LABEL`, MR1 = the physical address
    /// of a device register page): map that page read-write to `client`, into the receive
    /// window of its choice, if it is a page of a Device region of the memory map and nobody
    /// has it yet; otherwise reply with no items. sigma0 never touches device registers (a
    /// read may have side effects): the kernel gave it the device pages at boot.
    fn hand_out_device_page(
        &mut self,
        client: ThreadId,
        address: u64,
    ) -> Result<IpcReturnValues, ReturnError> {
        let page = address & !(PAGE_SIZE - 1);
        let is_device = self.devices.iter().any(|descriptor| {
            descriptor.kind() == Some(abi::kernel_interface_page::MemoryKind::Device)
                && descriptor.base <= page
                && page < descriptor.base.saturating_add(descriptor.size)
        });
        let given = self.devices_given[..self.devices_given_count].contains(&page);
        let slot = self.devices_given.get_mut(self.devices_given_count);
        let reply = match (is_device && !given, slot) {
            (true, Some(slot)) => {
                map_reply(client, 0, page, Rights::READ_WRITE).map(|reply| (reply, slot))
            }
            _ => None,
        };
        let Some((reply, slot)) = reply else {
            return libl4::reply_and_wait(client, REPLY_LABEL, []);
        };
        *slot = page;
        self.devices_given_count += 1;
        // SAFETY: the one map item gives `client` device registers sigma0 never maps to anyone
        // else and never uses itself; nothing is mapped into sigma0 (its acceptor is nil).
        unsafe { libl4::ipc(&reply) }
    }

    /// Whether `address` lies in a region of the memory map of `kind`.
    fn in_region(&self, address: u64, kind: abi::kernel_interface_page::MemoryKind) -> bool {
        self.devices.iter().any(|descriptor| {
            descriptor.kind() == Some(kind)
                && descriptor.base <= address
                && address < descriptor.base.saturating_add(descriptor.size)
        })
    }

    /// The sigma0 protocol for the initrd and the device tree: map the requested page
    /// read-only (to anyone who asks: it is read-only, so sharing it harms nobody).
    fn hand_out_read_only_page(
        &mut self,
        client: ThreadId,
        address: u64,
    ) -> Result<IpcReturnValues, ReturnError> {
        let page = address & !(PAGE_SIZE - 1);
        touch(page);
        match map_reply(client, 0, page, Rights::READ) {
            // SAFETY: a read-only page of the initrd or the device tree, which sigma0 never
            // writes; nothing is mapped into sigma0 (its acceptor is nil).
            Some(reply) => unsafe { libl4::ipc(&reply) },
            None => libl4::reply_and_wait(client, REPLY_LABEL, []),
        }
    }

    /// Logs a failed ipc (at powers of two) and waits for the next message.
    fn ipc_failed(&mut self, error: ReturnError) -> Result<IpcReturnValues, ReturnError> {
        self.errors += 1;
        if self.errors.is_power_of_two() {
            debug_println!("sigma0: {} failed ipcs, the latest: {error}", self.errors);
        }
        libl4::receive(ReceiveSpecifier::Any, Timeouts::NEVER)
    }
}

/// Reads a byte of the physical page `page` through sigma0's 1:1 window, so that the kernel
/// maps the page into sigma0 (on sigma0's own fault) before sigma0 maps it on: a map item
/// can only pass on what the sender has.
fn touch(page: u64) {
    // SAFETY: `page` lies in a conventional, initrd or device-tree region of the kernel interface page,
    // which the kernel maps at the same virtual address into sigma0 on first access; reading
    // RAM has no side effects, and no Rust object of sigma0's lives there (its image, stack,
    // UTCB and the kernel interface page are in neither kind of region).
    unsafe { core::ptr::read_volatile(page as *const u8) };
}

/// The reply-and-wait to `client` that maps the page `page` with `rights` at `send_base`.
/// RAM goes out with all rights: each hardware mapping is still writable or executable, never
/// both, and a pager can then map code it wrote executable to its clients.
fn map_reply(client: ThreadId, send_base: u64, page: u64, rights: Rights) -> Option<IpcArguments> {
    let fpage = Fpage::page(page, rights).ok()?;
    let item = MapItem::new(send_base, fpage).ok()?;
    let [first, second] = TypedItem::Map(item).encode();
    let tag = MessageTag::new(REPLY_LABEL, 0, 2).ok()?;
    Some(IpcArguments::reply_and_wait(
        client,
        tag,
        [first, second, 0, 0, 0, 0, 0],
    ))
}

/// The kernel interface page the kernel passed in x0, checked; halts sigma0 if it is missing
/// or of another ABI, since without its memory map sigma0 has nothing to hand out.
fn kernel_interface_page() -> &'static KernelInterfacePage {
    let Some(address) = rt::kernel_interface_page_address() else {
        fail("no kernel interface page")
    };
    if !address.is_multiple_of(KernelInterfacePage::SIZE as u64) {
        fail("the kernel interface page is not page-aligned")
    }
    // SAFETY: the kernel maps the page read-only at `address` (aligned, checked above) for
    // the task's lifetime and never changes it after boot; every bit pattern is a valid
    // KernelInterfacePage (plain integers).
    let page = unsafe { &*(address as *const KernelInterfacePage) };
    if !page.is_compatible() {
        fail("the kernel interface page is of another ABI")
    }
    page
}

fn fail(reason: &str) -> ! {
    debug_println!("sigma0: FAIL {reason}");
    libl4::halt_myself()
}
