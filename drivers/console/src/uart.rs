//! The UART as the driver sees it: the [`Port`] trait, and [`Uart`], its PL011 implementation
//! over the `pl011` crate's register block.
//!
//! The driver's logic ([`crate::Console`]) talks to a [`Port`], so that it is tested on the
//! host against a port with real FIFO semantics; [`Uart`] is the thin hardware side, four
//! register operations with no decisions in them.
//!
//! The kernel keeps printing its own log lines through the same UART, by polling the
//! transmitter. So the driver never resets or reconfigures it (baud rate, line control and
//! the enable bits are the kernel's, set at boot): it only unmasks the two receive
//! interrupts, clears them, reads the receive FIFO and writes bytes when the transmit FIFO
//! has room, exactly as the kernel does.

use pl011::{FR, INTERRUPT, Pl011, Registers};
use tock_registers::LocalRegisterCopy;
use tock_registers::interfaces::{ReadWriteable, Readable, Writeable};
use tock_registers::register_bitfields;

register_bitfields! {
    u32,
    /// The data register (UARTDR) as read: a received character and its receive status
    /// (PL011 TRM, DDI 0183, 3.3.1).
    RECEIVED [
        /// The received character.
        DATA OFFSET(0) NUMBITS(8) [],
        /// Framing error: the character had no valid stop bit.
        FE OFFSET(8) NUMBITS(1) [],
        /// Parity error: the character's parity did not match.
        PE OFFSET(9) NUMBITS(1) [],
        /// Break: the line was held low for longer than a character.
        BE OFFSET(10) NUMBITS(1) [],
        /// Overrun: the receive FIFO was full, so a character was lost before this one.
        OE OFFSET(11) NUMBITS(1) []
    ]
}

/// What came with a received character.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Condition {
    /// Received intact.
    Intact,
    /// Intact, but the receive FIFO overflowed before it: characters were lost.
    AfterOverrun,
    /// A framing or parity error or a break: the byte is not what was sent.
    Corrupt,
}

/// A character read from the receive FIFO.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Received {
    /// The byte.
    pub byte: u8,
    /// Whether it is to be trusted.
    pub condition: Condition,
}

/// A serial port as the driver uses it.
pub trait Port {
    /// Unmask the receive and receive-timeout interrupts, leaving every other mask bit as
    /// it is.
    fn enable_receive_interrupts(&mut self);
    /// Clear the receive and receive-timeout interrupts.
    fn clear_receive_interrupts(&mut self);
    /// The next character of the receive FIFO; `None` when it is empty.
    fn receive(&mut self) -> Option<Received>;
    /// Send `byte`, waiting while the transmit FIFO is full.
    fn transmit(&mut self, byte: u8);
}

/// A PL011 driven through its register block.
pub struct Uart<'registers> {
    registers: &'registers Registers,
}

impl core::fmt::Debug for Uart<'_> {
    fn fmt(&self, formatter: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        formatter.debug_struct("Uart").finish_non_exhaustive()
    }
}

impl<'registers> Uart<'registers> {
    /// The UART whose registers are `registers`.
    pub fn new(registers: &'registers Registers) -> Uart<'registers> {
        Uart { registers }
    }
}

impl Port for Uart<'_> {
    fn enable_receive_interrupts(&mut self) {
        self.registers
            .IMSC
            .modify(INTERRUPT::RX::SET + INTERRUPT::RT::SET);
    }

    fn clear_receive_interrupts(&mut self) {
        self.registers
            .ICR
            .write(INTERRUPT::RX::SET + INTERRUPT::RT::SET);
    }

    fn receive(&mut self) -> Option<Received> {
        if self.registers.FR.is_set(FR::RXFE) {
            return None;
        }
        let data = LocalRegisterCopy::<u32, RECEIVED::Register>::new(self.registers.DR.get());
        let corrupt =
            data.is_set(RECEIVED::FE) || data.is_set(RECEIVED::PE) || data.is_set(RECEIVED::BE);
        let condition = if corrupt {
            Condition::Corrupt
        } else if data.is_set(RECEIVED::OE) {
            Condition::AfterOverrun
        } else {
            Condition::Intact
        };
        Some(Received {
            byte: data.read(RECEIVED::DATA) as u8,
            condition,
        })
    }

    fn transmit(&mut self, byte: u8) {
        Pl011::new(self.registers).write_byte(byte);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A register block in ordinary memory: reads see what was written (no FIFO behaviour;
    /// the tests set the flag register themselves).
    fn block() -> Box<Registers> {
        let layout = std::alloc::Layout::new::<Registers>();
        // SAFETY: the layout is non-zero sized; `Registers` is made only of `u32` register
        // cells and reserved `u8` arrays, for which all-zero bytes are a valid value, so the
        // zeroed allocation may be owned as a `Box<Registers>` with the same layout.
        unsafe { Box::from_raw(std::alloc::alloc_zeroed(layout).cast::<Registers>()) }
    }

    /// Set the read-only flag register, as the device would.
    fn set_flags(registers: &Registers, value: u32) {
        let flags = core::ptr::addr_of!(registers.FR).cast::<u32>().cast_mut();
        // SAFETY: FR is a `repr(transparent)` `UnsafeCell<u32>` inside the live block, so
        // writing the u32 through a pointer derived from a shared reference is allowed, and
        // nothing else accesses it during the write.
        unsafe { flags.write_volatile(value) };
    }

    /// What was last written to the write-only interrupt clear register.
    fn cleared(registers: &Registers) -> u32 {
        let clear = core::ptr::addr_of!(registers.ICR).cast::<u32>();
        // SAFETY: ICR is a `repr(transparent)` `UnsafeCell<u32>` inside the live block, an
        // aligned, initialised u32.
        unsafe { clear.read_volatile() }
    }

    const RX: u32 = 1 << 4;
    const RT: u32 = 1 << 6;
    const TX: u32 = 1 << 5;
    const RXFE: u32 = 1 << 4;
    const TXFF: u32 = 1 << 5;

    #[test]
    fn enabling_receive_interrupts_keeps_the_other_mask_bits() {
        let registers = block();
        registers.IMSC.set(TX);
        Uart::new(&registers).enable_receive_interrupts();
        assert_eq!(registers.IMSC.get(), TX | RX | RT);
    }

    #[test]
    fn clearing_writes_only_the_receive_bits_to_the_clear_register() {
        let registers = block();
        Uart::new(&registers).clear_receive_interrupts();
        assert_eq!(cleared(&registers), RX | RT);
    }

    #[test]
    fn an_empty_receive_fifo_gives_nothing() {
        let registers = block();
        set_flags(&registers, RXFE);
        registers.DR.set(u32::from(b'x'));
        assert_eq!(Uart::new(&registers).receive(), None);
    }

    #[test]
    fn received_characters_carry_their_condition() {
        let registers = block();
        let mut uart = Uart::new(&registers);
        let cases = [
            (u32::from(b'a'), Condition::Intact),
            ((1 << 11) | u32::from(b'b'), Condition::AfterOverrun),
            ((1 << 8) | u32::from(b'c'), Condition::Corrupt),
            ((1 << 9) | u32::from(b'd'), Condition::Corrupt),
            ((1 << 10) | (1 << 11), Condition::Corrupt),
        ];
        for (data, condition) in cases {
            registers.DR.set(data);
            let received = uart.receive().unwrap();
            assert_eq!(received.byte, (data & 0xFF) as u8);
            assert_eq!(received.condition, condition);
        }
    }

    #[test]
    fn a_byte_is_transmitted_when_the_fifo_has_room() {
        let registers = block();
        set_flags(&registers, RXFE & !TXFF);
        Uart::new(&registers).transmit(b'Z');
        assert_eq!(registers.DR.get(), u32::from(b'Z'));
    }
}
