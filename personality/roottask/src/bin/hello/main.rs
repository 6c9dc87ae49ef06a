//! hello, a task the root task starts itself (test image only).
//!
//! Nothing of it is mapped when it starts: the root task, its pager, maps each page of its
//! image from the initrd and of its stack on its page faults, with memory the root task got
//! from sigma0 (pagers stacked: sigma0 pages the root task, which pages hello). It checks the
//! kernel interface page task_new mapped for it (its address came in x0), then tries to
//! create a task with a number nobody has used: the root task owns those, so the kernel must
//! refuse (`NotChief`).

#![cfg_attr(all(target_arch = "aarch64", target_os = "none"), no_std, no_main)]

#[cfg(all(target_arch = "aarch64", target_os = "none"))]
fn greet() {
    use abi::call::task_new::{TaskCreation, TaskNewArguments};
    use abi::{Fpage, Rights, ThreadId};

    libl4::debug_println!("hello: running in a task paged by the root task");
    let kip = rt::kernel_interface_page_address().map(|address| {
        // SAFETY: the kernel maps the page read-only at this address for the task's life
        // (task_new's argument); every bit pattern is a valid KernelInterfacePage.
        unsafe { &*(address as *const abi::kernel_interface_page::KernelInterfacePage) }
    });
    match kip {
        Some(kip) if kip.is_compatible() => libl4::debug_println!(
            "hello: the kernel interface page is where task_new put it; counter at {} Hz",
            kip.timer_frequency
        ),
        _ => libl4::debug_println!("hello: FAIL no valid kernel interface page in x0"),
    }
    let Ok(first_thread) = ThreadId::new(60_000, 0, 1) else {
        return;
    };
    let Ok(utcb_area) = Fpage::new(0x7000_0000, 16, Rights::NONE) else {
        return;
    };
    let creation = TaskNewArguments::Create(TaskCreation {
        first_thread,
        pager: libl4::my_thread_id(),
        instruction_pointer: 0x40_0000,
        stack_pointer: 0x80_0000,
        utcb_area,
        kernel_interface_page: Fpage::NIL,
        maximum_controlled_priority: 0,
        exception_handler: ThreadId::NIL,
    });
    // SAFETY: task_new either creates another task (this one is unaffected) or fails.
    let results = unsafe { libl4::raw::task_new(&creation.encode()) };
    let error = results[abi::call::ERROR_REGISTER];
    if error == abi::error::CallError::NotChief.code() {
        libl4::debug_println!("hello: task_new of a number the root task owns: refused (NotChief)");
    } else {
        libl4::debug_println!(
            "hello: FAIL task_new of a number the root task owns returned {error}"
        );
    }
}

rt::entry!(greet);
