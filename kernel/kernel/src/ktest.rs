//! In-kernel test scenarios, compiled only into the test image (`--features ktest`) and
//! selected with the `ktest=` boot argument. Each ends the run itself: a verdict line
//! `KTEST PASS <name>` or `KTEST FAIL <name>: <why>` followed by PSCI SYSTEM_OFF, or, for the
//! deliberate faults, the kernel's own fault report (which a test image also ends with
//! SYSTEM_OFF). The host harness (tests/harness) judges the serial log and the exit.
//!
//! The `user-*` scenarios ([`user`]) run code at EL0: they end from the exception path, when
//! the user program exits or faults, through [`finish`].

mod bench;
mod user;

use alloc::collections::BTreeMap;
use alloc::vec::Vec;

use aarch64_cpu::registers::{CNTFRQ_EL0, CNTVCT_EL0};
use devicetree::Machine;
use kcore::frame_allocator::FRAME_SIZE;
use tock_registers::interfaces::Readable;

use crate::boot::BootFacts;
use crate::layout::{image_sections, linear};
use crate::{arch, memory, psci, timer};

/// Run scenario `name`; never returns.
pub fn run(name: &str, machine: &Machine<'static>, facts: &BootFacts) -> ! {
    kprintln!("KTEST START {name}");
    let result = match name {
        "boot" => boot(machine, facts),
        "fault-unmapped" => fault_unmapped(),
        "fault-write-text" => fault_write_text(),
        "panic" => panic!("deliberate panic requested by ktest=panic"),
        "user-space" => user::address_spaces(),
        "user-hello" => user::run_programs("user-hello", &user::HELLO),
        "user-fault" => user::run_programs("user-fault", &user::FAULTS),
        "user-ticks" => user::run_programs("user-ticks", &user::TICKS),
        "kcore-ipc" => kcore_ipc(machine),
        "bench" => bench::run(machine),
        _ => Err("no such scenario"),
    };
    finish(name, result)
}

/// Print the verdict of scenario `name` and power off.
pub fn finish(name: &str, result: Result<(), &str>) -> ! {
    match result {
        Ok(()) => kprintln!("KTEST PASS {name}"),
        Err(why) => kprintln!("KTEST FAIL {name}: {why}"),
    }
    psci::system_off()
}

/// Everything a booted kernel must have: a heap that grows, a frame allocator that never
/// hands out the image, the DTB or the initrd, W^X as the MMU sees it, and timer ticks.
fn boot(machine: &Machine<'static>, facts: &BootFacts) -> Result<(), &'static str> {
    heap_grows_and_keeps_values()?;
    frames_never_overlap_reserved_memory(machine, facts)?;
    mappings_are_write_xor_execute(facts)?;
    timer_ticks_arrive()?;
    Ok(())
}

fn heap_grows_and_keeps_values() -> Result<(), &'static str> {
    let before = memory::heap_bytes();
    let numbers: Vec<u64> = (0..200_000u64).collect();
    let mut map = BTreeMap::new();
    for key in 0..2_000u64 {
        map.insert(key, key * 3);
    }
    if numbers.iter().sum::<u64>() != 199_999 * 200_000 / 2 || map.get(&1_999) != Some(&5_997) {
        return Err("heap values corrupted");
    }
    if memory::heap_bytes() <= before {
        return Err("heap did not grow from the frame allocator");
    }
    kprintln!("ktest: heap grew to {} KiB", memory::heap_bytes() / 1024);
    Ok(())
}

/// FNV-1a over a physical range, through the linear map.
fn checksum(base: u64, size: u64) -> u64 {
    // SAFETY: callers pass reserved RAM (DTB, initrd) that the linear map covers read-only
    // or read-write for the kernel's lifetime; it is only read.
    let bytes = unsafe { core::slice::from_raw_parts(linear(base) as *const u8, size as usize) };
    bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |hash, &byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x100_0000_01b3)
    })
}

fn frames_never_overlap_reserved_memory(
    machine: &Machine<'static>,
    facts: &BootFacts,
) -> Result<(), &'static str> {
    let sections = image_sections();
    let image = (
        facts.image_physical_base,
        sections.image.end - sections.image.start,
    );
    let dtb = (facts.dtb_physical, facts.dtb_size);
    let initrd = machine.initrd.map(|range| (range.base, range.size));
    let protected: Vec<(u64, u64)> = [Some(image), Some(dtb), initrd]
        .into_iter()
        .flatten()
        .collect();
    let sums: Vec<u64> = protected
        .iter()
        .skip(1)
        .map(|&(base, size)| checksum(base, size))
        .collect();

    let free = memory::with_frames(|frames| frames.free_frames()).ok_or("no frame allocator")?;
    // Grow the heap first, so that recording the frames needs no frame later.
    let mut taken: Vec<u64> = Vec::with_capacity(free);
    while let Some(Some(frame)) = memory::with_frames(|frames| frames.allocate()) {
        let in_ram = machine
            .memory
            .iter()
            .any(|bank| frame >= bank.base && frame + FRAME_SIZE <= bank.base + bank.size);
        let overlaps = protected
            .iter()
            .any(|&(base, size)| frame < base + size && base < frame + FRAME_SIZE);
        if !in_ram || overlaps {
            kprintln!("ktest: frame {frame:#x} is outside RAM or reserved");
            return Err("the frame allocator handed out memory it must not");
        }
        let words = linear(frame) as *mut u64;
        // SAFETY: the frame was just allocated to us and the linear map covers it read-write.
        unsafe {
            words.write_volatile(frame);
            words.add(511).write_volatile(!frame);
        }
        if taken.len() == taken.capacity() {
            return Err("more frames than the allocator said were free");
        }
        taken.push(frame);
    }
    let after: Vec<u64> = protected
        .iter()
        .skip(1)
        .map(|&(base, size)| checksum(base, size))
        .collect();
    if sums != after {
        return Err("writing every free frame changed the DTB or the initrd");
    }
    let count = taken.len();
    for frame in taken.drain(..) {
        memory::with_frames(|frames| frames.free(frame))
            .ok_or("no frame allocator")?
            .map_err(|_| "a free was refused")?;
    }
    kprintln!(
        "ktest: allocated and wrote {count} frames ({} MiB); reserved memory intact",
        (count as u64 * FRAME_SIZE) >> 20
    );
    Ok(())
}

fn mappings_are_write_xor_execute(facts: &BootFacts) -> Result<(), &'static str> {
    let sections = image_sections();
    let text = sections.text.start + 0x1000;
    let rodata = sections.rodata.start;
    let data = sections.data.start;
    let checks = [
        (
            "kernel text is readable",
            arch::kernel_can_access(text, false),
        ),
        (
            "kernel text is not writable",
            !arch::kernel_can_access(text, true),
        ),
        (
            "kernel rodata is not writable",
            !arch::kernel_can_access(rodata, true),
        ),
        (
            "kernel data is writable",
            arch::kernel_can_access(data, true),
        ),
        (
            "the stack guard page is unmapped",
            !arch::kernel_can_access(sections.stack.start - 8, false),
        ),
        (
            "the linear alias of kernel text is not writable",
            !arch::kernel_can_access(linear(facts.image_physical_base + 0x1000), true),
        ),
        (
            "user space (TTBR0) is empty",
            !arch::kernel_can_access(facts.image_physical_base, false),
        ),
    ];
    for (what, holds) in checks {
        kprintln!("ktest: {what}: {}", if holds { "yes" } else { "NO" });
        if !holds {
            return Err(what);
        }
    }
    Ok(())
}

fn timer_ticks_arrive() -> Result<(), &'static str> {
    let start = timer::ticks();
    let deadline = CNTVCT_EL0.get() + 5 * CNTFRQ_EL0.get();
    while timer::ticks() < start + 5 {
        if CNTVCT_EL0.get() > deadline {
            return Err("fewer than 5 timer ticks in 5 seconds");
        }
        arch::wait_for_interrupt();
    }
    // At least five: a host that fell behind may deliver the next tick before this line.
    kprintln!(
        "ktest: {} timer ticks arrived (5 awaited)",
        timer::ticks() - start
    );
    Ok(())
}

/// Read a kernel-half address nothing maps: the fault report must say translation fault.
fn fault_unmapped() -> Result<(), &'static str> {
    let address = 0xFFFF_8000_DEAD_0000u64 as *const u64;
    kprintln!("ktest: reading {address:p}");
    // SAFETY: deliberately invalid; the fault is the point of the test and never returns.
    let value = unsafe { address.read_volatile() };
    kprintln!("ktest: read {value:#x}");
    Err("reading unmapped memory did not fault")
}

/// Write into kernel text: the fault report must say permission fault.
fn fault_write_text() -> Result<(), &'static str> {
    let address = fault_write_text as *const () as *mut u32;
    kprintln!("ktest: writing to kernel text at {address:p}");
    // SAFETY: deliberately forbidden; the fault is the point of the test and never returns.
    unsafe { address.write_volatile(0xd503_201f) };
    Err("writing kernel text did not fault")
}

/// The kernel core on the hardware: `pong` (task 3) serves `ping` (task 4) by IPC and pages it
/// with one of its own pages, while `fuzz` (task 5) calls the kernel with random arguments;
/// all come from the initrd. The programs print their own
/// verdict; the run ends when no thread can run any more.
fn kcore_ipc(machine: &Machine<'static>) -> Result<(), &'static str> {
    use kcore::boot_modules::Initrd;
    let initrd = machine.initrd.ok_or("no initrd")?;
    // SAFETY: the initrd's frames are reserved and never written; the linear map is permanent.
    let bytes = unsafe {
        core::slice::from_raw_parts(linear(initrd.base) as *const u8, initrd.size as usize)
    };
    let initrd = Initrd::new(bytes).map_err(|_| "the initrd is not a cpio newc archive")?;
    let pong = initrd
        .find_program("pong")
        .map_err(|_| "pong is missing or not a static aarch64 program")?;
    let ping = initrd
        .find_program("ping")
        .map_err(|_| "ping is missing or not a static aarch64 program")?;
    let mut kernel =
        kcore::kernel::Kernel::new(crate::machine::HardwareMachine, crate::timer::hz());
    let server = crate::boot_programs::start(&mut kernel, 3, abi::ThreadId::NIL, &pong)
        .map_err(|_| "pong did not start")?;
    crate::boot_programs::start(&mut kernel, 4, server, &ping).map_err(|_| "ping did not start")?;
    kprintln!("ktest: started pong as {server} and ping as its client");
    // The fuzzer, if the image has it, calls the kernel with random arguments beside them.
    if let Ok(fuzz) = initrd.find_program("fuzz") {
        let fuzzer = crate::boot_programs::start(&mut kernel, 5, abi::ThreadId::NIL, &fuzz)
            .map_err(|_| "fuzz did not start")?;
        kprintln!("ktest: started the fuzzer as {fuzzer}");
    }
    kernel.schedule();
    crate::system::audit_invariants();
    crate::system::start(kernel)
}
