//! The running thread: its UTCB, its ID, yielding, halting itself.

use abi::ThreadId;
use abi::call::lthread_ex_regs::{LthreadExRegsArguments, RunControl};
use abi::call::thread_switch::ThreadSwitchArguments;
use abi::utcb::Utcb;

/// The running thread's UTCB, from TPIDRRO_EL0. The pointer is valid for the thread's whole
/// life, page-aligned, and shared with the kernel: access it only through raw pointers (the
/// kernel writes its message registers during ipc), never through a long-lived reference.
pub fn utcb() -> *mut Utcb {
    crate::raw::read_utcb_address() as *mut Utcb
}

/// The running thread's ID, from the UTCB word the kernel writes when it creates the thread.
pub fn my_thread_id() -> ThreadId {
    let utcb = utcb();
    // SAFETY: `utcb` is this thread's UTCB, mapped readable for the thread's life (see
    // `utcb`); `my_thread_id` is an aligned u64 inside it, written only by the kernel.
    let raw = unsafe { core::ptr::addr_of!((*utcb).my_thread_id).read_volatile() };
    ThreadId::from_raw(raw)
}

/// Gives the rest of the time slice to `to` (`None`: to the scheduler, a yield). A
/// destination that is not ready makes it a plain yield.
///
/// # Errors
/// `InvalidArgument` for `ANY` or an interrupt ID.
pub fn thread_switch(to: Option<ThreadId>) -> Result<(), abi::ReturnError> {
    let arguments = ThreadSwitchArguments { destination: to };
    // SAFETY: thread_switch only gives processor time away; it changes no memory, mapping
    // or thread state.
    let results = unsafe { crate::raw::thread_switch(&arguments.encode()) };
    ThreadSwitchArguments::decode_return(&results)
}

/// Stops the running thread for good: lthread_ex_regs with `HALT` on itself. Should another
/// thread resume it, it halts again; should the kernel refuse (it never should), it yields
/// forever rather than run on.
pub fn halt_myself() -> ! {
    let mut arguments = LthreadExRegsArguments::read(my_thread_id());
    arguments.run = RunControl::Halt;
    let registers = arguments.encode();
    loop {
        // SAFETY: halting the calling thread stops it where it is; it changes no memory,
        // mapping or register of the thread, and if it is ever resumed it continues here,
        // in this loop.
        let results = unsafe { crate::raw::lthread_ex_regs(&registers) };
        if results[abi::call::ERROR_REGISTER] != abi::error::SUCCESS {
            let _ = thread_switch(None);
        }
    }
}
