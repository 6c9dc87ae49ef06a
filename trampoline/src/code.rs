//! The code page itself: `trampoline.s` assembled with its constants, and the server's handle
//! on it.
//!
//! Every number the assembly uses is an operand below, taken from the crate that defines it,
//! so a change to the UTCB, the protocol or the save area reaches the code at the next build.

use abi::call::lthread_ex_regs::ExchangeControl;
use abi::message::MessageTag;
use abi::utcb::Utcb;
use abi::{Call, CallError, ThreadId, Timeouts};
use linux_abi::auxv::AT_ENTRY;
use linux_abi::errno::Errno;
use linux_abi::syscall::Syscall;
use protocol::{EXEC_LABEL, RESULT_LABEL, SystemCall, SystemCallPath, save_area};

use crate::{
    ANSWER_SHAPE, ENTRY_OFFSET, EXCEPTION_FORK_OFFSET, FORK_CHILD_OFFSET, PAGE_SIZE,
    TAG_SHAPE_MASK, breakpoint,
};

core::arch::global_asm!(
    include_str!("trampoline.s"),
    page_size = const PAGE_SIZE,
    fork_child_offset = const FORK_CHILD_OFFSET,
    entry_offset = const ENTRY_OFFSET,
    exception_fork_offset = const EXCEPTION_FORK_OFFSET,
    // Calls and their registers.
    ipc = const Call::Ipc.number(),
    lthread_ex_regs = const Call::LthreadExRegs.number(),
    timeouts_never = const Timeouts::NEVER.to_register(),
    nil = const ThreadId::NIL.raw(),
    send_cancelled = const CallError::SendCancelled as u64,
    receive_cancelled = const CallError::ReceiveCancelled as u64,
    resume_reflected_trap = const ExchangeControl::RESUME_REFLECTED_TRAP.bits(),
    // The UTCB.
    utcb_my_thread_id = const Utcb::OFFSET_MY_THREAD_ID,
    utcb_pager = const Utcb::OFFSET_PAGER,
    utcb_trampoline_entry = const Utcb::OFFSET_TRAMPOLINE_ENTRY,
    utcb_reflected_trap = const Utcb::OFFSET_REFLECTED_TRAP,
    // The protocol.
    system_call_tag = const SystemCall::TAG.raw(),
    label_shift = const MessageTag::LABEL_SHIFT,
    tag_shape_mask = const TAG_SHAPE_MASK,
    answer_shape = const ANSWER_SHAPE,
    result_label = const RESULT_LABEL,
    exec_label = const EXEC_LABEL,
    at_system_call_path = const protocol::AT_SYSTEM_CALL_PATH,
    path_trampoline = const SystemCallPath::Trampoline.auxiliary_value(),
    path_exception = const SystemCallPath::ExceptionIpc.auxiliary_value(),
    // The save area.
    save_area = const protocol::layout::SAVE_AREA,
    save_frame = const save_area::FRAME,
    save_fp = const save_area::FP,
    save_fpsr = const save_area::FPSR,
    save_fpcr = const save_area::FPCR,
    save_trampoline_entry = const save_area::TRAMPOLINE_ENTRY,
    save_thread_pointer = const save_area::THREAD_POINTER,
    // Linux.
    clone = const Syscall::Clone.number(),
    clone3 = const Syscall::Clone3.number(),
    at_entry = const AT_ENTRY,
    server_unreachable_result = const -(Errno::ENOSYS.number() as i64),
    // Failures.
    missing_entry = const breakpoint::MISSING_ENTRY,
    unknown_path = const breakpoint::UNKNOWN_SYSTEM_CALL_PATH,
    unknown_answer = const breakpoint::UNKNOWN_ANSWER,
    resume_refused = const breakpoint::RESUME_REFUSED,
);

unsafe extern "C" {
    /// The page's first byte: `trampoline_code_page` in trampoline.s.
    static trampoline_code_page: [u8; PAGE_SIZE];
}

/// The code page in this program's image: 4096 bytes, page-aligned, holding nothing but the
/// trampoline's code. The server maps the page at this address into every client at
/// [`protocol::layout::TRAMPOLINE_CODE`], read-execute.
pub fn code_page() -> &'static [u8; PAGE_SIZE] {
    // SAFETY: trampoline.s defines `trampoline_code_page` at the start of a section of its
    // own, 4096-byte aligned and exactly 4096 bytes long, in the program's text, which is
    // mapped readable and never written; so the symbol is a valid, immutable [u8; 4096] for
    // the whole run of the program.
    unsafe { &trampoline_code_page }
}
