//! hello, task 3: the first task the root task starts itself.
//!
//! Nothing of it is mapped when it starts: the root task, its pager, maps each page of its
//! image from the initrd and of its stack on its page faults, with memory the root task got
//! from sigma0 (pagers stacked: sigma0 pages the root task, which pages hello).

#![cfg_attr(all(target_arch = "aarch64", target_os = "none"), no_std, no_main)]

#[cfg(all(target_arch = "aarch64", target_os = "none"))]
fn greet() {
    libl4::debug_println!("hello: running in a task paged by the root task");
}

rt::entry!(greet);
