//! bench-server's behaviour; built only for the bare-metal target (see main.rs).

use abi::{Fpage, Rights};
use bench_programs::SEED;
use bench_programs::target::{fail, serve};

/// The page lent to the client at every faulting address. In .bss: the kernel loaded it
/// zero-filled and mapped, so the server owns it.
#[repr(C, align(4096))]
struct Page([u8; 4096]);

static mut LENT_PAGE: Page = Page([0; 4096]);

/// The program: what `_start` runs on thread 0.
pub fn main() {
    let page = &raw mut LENT_PAGE;
    // SAFETY: `page` points to a static of 4096 bytes, aligned to 4096, which this program
    // touches only here, before it lends the page; the first eight bytes are an aligned u64.
    unsafe { page.cast::<u64>().write_volatile(SEED) };
    let fpage = match Fpage::page(page as u64, Rights::READ_WRITE) {
        Ok(fpage) => fpage,
        Err(error) => fail("bench-server", format_args!("no fpage: {error}")),
    };
    serve("bench-server", Some(fpage))
}
