//! The console driver, task 3: the PL011 at EL0, receiving by interrupt, for the OS server.
//!
//! The root task starts it as its pager and chief and attaches the UART's interrupt to its
//! thread 0. The driver's first action is a call to its pager asking for its configuration
//! (`console_api::CONFIGURATION_REQUEST_LABEL`), with its receive window open on one page at
//! `console_api::UART_WINDOW`; the answer (`console_api::Configuration`) holds the UART's
//! physical address, its INTID, the register block's offset within its page, and a map item
//! of that page, which lands in the window. The driver unmasks the UART's receive interrupts
//! (the kernel keeps transmitting its own log lines through the same UART by polling, so
//! nothing else of the UART's set-up is touched), closes its window, and serves in an open
//! receive loop:
//!
//! - **the interrupt**: it reads the receive FIFO into a 4 KiB ring and answers the waiting
//!   READ, if any, with a send that does not wait (the reader waits in its call);
//! - **WRITE**: it writes the bytes, polling the transmit FIFO, and answers with the count;
//! - **READ**: it answers at once if bytes are buffered, otherwise the caller waits;
//! - **anything else**: an error answer.
//!
//! Every answer goes out in the same ipc as the next receive (reply-and-wait, send timeout
//! zero), which is also the acknowledgement of the interrupt: the kernel unmasks it at the
//! driver's next receive. So the driver never blocks on a client, and each event costs one
//! kernel entry.

#![cfg_attr(all(target_arch = "aarch64", target_os = "none"), no_std, no_main)]

#[cfg(all(target_arch = "aarch64", target_os = "none"))]
mod program;

rt::entry!(program::main);
