//! The Arm PrimeCell UART (PL011) as a register block: offsets and bitfields from the PL011
//! Technical Reference Manual (DDI 0183), declared once with `tock-registers`.
//!
//! Two users share this model: the kernel's own log console (polled, transmit only) and the
//! user-level console driver of the personality (interrupt driven, through IPC). Neither
//! hand-shifts a bit. The crate holds no address: where the UART is comes from the device tree.
//! Every access goes through [`Pl011`], which is built from a reference to the register block;
//! creating that reference from an MMIO address is the caller's (unsafe) business.
#![cfg_attr(not(test), no_std)]
// Only the host tests need unsafe (to make a register block out of plain memory).
#![cfg_attr(not(test), forbid(unsafe_code))]

use tock_registers::interfaces::{Readable, Writeable};
use tock_registers::register_bitfields;
use tock_registers::register_structs;
use tock_registers::registers::{ReadOnly, ReadWrite, WriteOnly};

register_bitfields! {
    u32,
    /// Data register.
    pub DR [
        /// Received or transmitted character.
        DATA OFFSET(0) NUMBITS(8) [],
        /// Framing, parity, break and overrun error flags of a received character.
        ERROR OFFSET(8) NUMBITS(4) []
    ],
    /// Flag register.
    pub FR [
        /// Transmit FIFO empty.
        TXFE OFFSET(7) NUMBITS(1) [],
        /// Receive FIFO full.
        RXFF OFFSET(6) NUMBITS(1) [],
        /// Transmit FIFO full: do not write DR.
        TXFF OFFSET(5) NUMBITS(1) [],
        /// Receive FIFO empty: nothing to read.
        RXFE OFFSET(4) NUMBITS(1) [],
        /// UART busy transmitting.
        BUSY OFFSET(3) NUMBITS(1) []
    ],
    /// Line control register.
    pub LCR_H [
        /// Word length.
        WLEN OFFSET(5) NUMBITS(2) [
            FiveBit = 0b00,
            SixBit = 0b01,
            SevenBit = 0b10,
            EightBit = 0b11
        ],
        /// Enable the transmit and receive FIFOs.
        FEN OFFSET(4) NUMBITS(1) []
    ],
    /// Control register.
    pub CR [
        /// Receive enable.
        RXE OFFSET(9) NUMBITS(1) [],
        /// Transmit enable.
        TXE OFFSET(8) NUMBITS(1) [],
        /// UART enable.
        UARTEN OFFSET(0) NUMBITS(1) []
    ],
    /// Interrupt mask set/clear, raw and masked interrupt status, interrupt clear.
    pub INTERRUPT [
        /// Overrun error.
        OE OFFSET(10) NUMBITS(1) [],
        /// Receive timeout.
        RT OFFSET(6) NUMBITS(1) [],
        /// Transmit.
        TX OFFSET(5) NUMBITS(1) [],
        /// Receive.
        RX OFFSET(4) NUMBITS(1) []
    ]
}

register_structs! {
    /// The PL011 register block.
    #[allow(non_snake_case)]
    pub Registers {
        (0x000 => pub DR: ReadWrite<u32, DR::Register>),
        (0x004 => _reserved0),
        (0x018 => pub FR: ReadOnly<u32, FR::Register>),
        (0x01c => _reserved1),
        (0x024 => pub IBRD: ReadWrite<u32>),
        (0x028 => pub FBRD: ReadWrite<u32>),
        (0x02c => pub LCR_H: ReadWrite<u32, LCR_H::Register>),
        (0x030 => pub CR: ReadWrite<u32, CR::Register>),
        (0x034 => pub IFLS: ReadWrite<u32>),
        (0x038 => pub IMSC: ReadWrite<u32, INTERRUPT::Register>),
        (0x03c => pub RIS: ReadOnly<u32, INTERRUPT::Register>),
        (0x040 => pub MIS: ReadOnly<u32, INTERRUPT::Register>),
        (0x044 => pub ICR: WriteOnly<u32, INTERRUPT::Register>),
        (0x048 => @END),
    }
}

/// Size of the register block in bytes (a device-tree `reg` must cover at least this).
pub const REGISTER_BLOCK_SIZE: usize = 0x48;

/// A PL011 driven through its registers.
pub struct Pl011<'registers> {
    registers: &'registers Registers,
}

impl core::fmt::Debug for Pl011<'_> {
    fn fmt(&self, formatter: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        formatter.debug_struct("Pl011").finish_non_exhaustive()
    }
}

impl<'registers> Pl011<'registers> {
    /// A driver for the UART whose registers are `registers`.
    pub fn new(registers: &'registers Registers) -> Self {
        Self { registers }
    }

    /// Enable the UART for 8-bit characters, transmitter and receiver on, and every interrupt
    /// masked. The baud rate divisors are left as firmware (or QEMU) set them: the reference
    /// clock is not something this driver guesses. So is the FIFO enable: changing LCR_H.FEN
    /// flushes the receive FIFO (PL011 TRM; QEMU does the same), which would lose what was
    /// typed (or piped in) before the kernel started; with the FIFO off the receive holding
    /// register keeps the first byte and the line holds the rest back.
    pub fn enable(&self) {
        let fifo = self.registers.LCR_H.read(LCR_H::FEN);
        self.registers.CR.set(0);
        self.registers.IMSC.set(0);
        self.registers.ICR.set(0x7ff);
        self.registers
            .LCR_H
            .write(LCR_H::WLEN::EightBit + LCR_H::FEN.val(fifo));
        self.registers
            .CR
            .write(CR::UARTEN::SET + CR::TXE::SET + CR::RXE::SET);
    }

    /// Send one byte, waiting while the transmit FIFO is full.
    pub fn write_byte(&self, byte: u8) {
        while self.registers.FR.is_set(FR::TXFF) {
            core::hint::spin_loop();
        }
        self.registers.DR.write(DR::DATA.val(u32::from(byte)));
    }

    /// Send bytes, turning `\n` into `\r\n` as a terminal expects.
    pub fn write_text(&self, text: &str) {
        for byte in text.bytes() {
            if byte == b'\n' {
                self.write_byte(b'\r');
            }
            self.write_byte(byte);
        }
    }

    /// The next received byte, if the receive FIFO holds one.
    pub fn read_byte(&self) -> Option<u8> {
        if self.registers.FR.is_set(FR::RXFE) {
            None
        } else {
            Some(self.registers.DR.read(DR::DATA) as u8)
        }
    }

    /// Wait until everything written has left the transmitter.
    pub fn flush(&self) {
        while self.registers.FR.is_set(FR::BUSY) {
            core::hint::spin_loop();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::mem::{offset_of, size_of};

    /// A register block in ordinary memory: reads see what was written, a model of the
    /// device's storage (no FIFO behaviour, which these tests do not rely on).
    fn block() -> Box<Registers> {
        let layout = std::alloc::Layout::new::<Registers>();
        // SAFETY: the layout is non-zero sized; `Registers` is made only of `u32` register
        // cells and reserved `u8` arrays, for which all-zero bytes are a valid value, so the
        // zeroed allocation may be owned as a `Box<Registers>` with the same layout.
        unsafe { Box::from_raw(std::alloc::alloc_zeroed(layout).cast::<Registers>()) }
    }

    #[test]
    fn register_offsets_match_the_technical_reference_manual() {
        assert_eq!(offset_of!(Registers, FR), 0x18);
        assert_eq!(offset_of!(Registers, LCR_H), 0x2c);
        assert_eq!(offset_of!(Registers, CR), 0x30);
        assert_eq!(offset_of!(Registers, IMSC), 0x38);
        assert_eq!(offset_of!(Registers, ICR), 0x44);
        assert_eq!(size_of::<Registers>(), REGISTER_BLOCK_SIZE);
    }

    #[test]
    fn enabling_sets_eight_bit_words_and_both_directions_and_keeps_the_fifo_setting() {
        let registers = block();
        Pl011::new(&registers).enable();
        assert_eq!(
            registers.LCR_H.get(),
            0b11 << 5,
            "FIFO stays off (nothing flushed)"
        );
        assert_eq!(registers.CR.get(), (1 << 9) | (1 << 8) | 1);
        assert_eq!(registers.IMSC.get(), 0);
        registers.LCR_H.set(1 << 4);
        Pl011::new(&registers).enable();
        assert_eq!(registers.LCR_H.get(), 0b111 << 4, "FIFO stays on");
    }

    #[test]
    fn a_byte_is_written_to_the_data_register_when_the_fifo_has_room() {
        let registers = block();
        Pl011::new(&registers).write_byte(b'A');
        assert_eq!(registers.DR.get(), u32::from(b'A'));
    }

    #[test]
    fn a_clear_receive_fifo_empty_flag_means_a_byte_is_waiting() {
        let registers = block();
        registers.DR.set(u32::from(b'z'));
        assert_eq!(Pl011::new(&registers).read_byte(), Some(b'z'));
    }
}
