//! The console driver's logic and its register wrapper, kept apart from the program so that
//! they are tested on the host.
//!
//! The driver is the user-level owner of the PL011's receive side: it takes the UART's
//! interrupt as a message, buffers what arrives, and answers the OS server's READ and WRITE
//! calls (`console-api`). The program (`program.rs`, target only) is a receive loop around
//! [`Console`]: it receives, lets [`Console::handle`] decide, and sends the answer in the
//! same ipc as its next receive. Everything that decides something is here:
//!
//! - [`ring`]: the bytes received while nobody reads.
//! - [`uart`]: the [`Port`] the logic talks to, and [`Uart`], the PL011 behind it.
//! - [`driver`]: the configuration check, the state ([`Console`]) and its answers.

#![cfg_attr(not(test), no_std)]
// Only the host tests need unsafe (to make a register block out of plain memory).
#![cfg_attr(not(test), forbid(unsafe_code))]
#![warn(missing_docs)]

pub mod driver;
pub mod ring;
pub mod uart;

pub use driver::{
    Console, Delivery, Reply, Setup, Statistics, accept_configuration, crossed_power_of_two,
};
pub use ring::{RING_CAPACITY, ReceiveRing};
pub use uart::{Condition, Port, Received, Uart};
