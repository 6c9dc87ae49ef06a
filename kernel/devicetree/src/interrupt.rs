//! GIC interrupt specifiers: the three cells of an `interrupts` entry, decoded.
//!
//! The binding (`arm,gic.yaml` / `arm,gic-v3.yaml` in the Linux tree) is: cell 0 is the type
//! (0 = SPI, 1 = PPI), cell 1 the number within that type, cell 2 the flags, whose low four
//! bits are the trigger (1 rising edge, 2 falling edge, 4 active-high level, 8 active-low level)
//! and whose bits 8..15 are, for GICv2 PPIs, a mask of the CPUs the interrupt is wired to.
//! Everything else (extended SPI/PPI ranges, trigger "none") is refused rather than guessed.

/// Which class of GIC interrupt a specifier names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum InterruptKind {
    /// Shared peripheral interrupt: INTID 32 + number.
    Spi,
    /// Private peripheral interrupt, banked per CPU: INTID 16 + number.
    Ppi,
}

/// How the interrupt line signals. The GIC only distinguishes edge from level; the polarity
/// the DTB also gives is a matter for the wiring outside the GIC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Trigger {
    /// Edge-triggered (rising or falling).
    Edge,
    /// Level-sensitive (active high or active low).
    Level,
}

/// One decoded GIC interrupt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Interrupt {
    /// SPI or PPI.
    pub kind: InterruptKind,
    /// The number within its kind, as written in the DTB (SPI 0..=987, PPI 0..=15).
    pub number: u32,
    /// Edge or level.
    pub trigger: Trigger,
}

/// The first INTID of the SPI range.
const FIRST_SPI_INTID: u32 = 32;
/// The first INTID of the PPI range.
const FIRST_PPI_INTID: u32 = 16;
/// SPI numbers 0..=987 give INTIDs 32..=1019; 1020..=1023 are special.
const SPI_COUNT: u32 = 988;
/// PPI numbers 0..=15 give INTIDs 16..=31.
const PPI_COUNT: u32 = 16;
/// Low four bits of the flags cell: the trigger type.
const TRIGGER_MASK: u32 = 0xf;

impl Interrupt {
    /// The number of cells a GIC interrupt specifier has (`#interrupt-cells`).
    pub const SPECIFIER_CELLS: u32 = 3;

    /// Decodes the three cells `[type, number, flags]` of a GIC interrupt specifier.
    ///
    /// Return values: `None` if the type is neither SPI nor PPI, the number is out of range for
    /// its type, or the trigger bits are not exactly one of edge-rising, edge-falling,
    /// level-high, level-low.
    pub fn from_gic_specifier(cells: [u32; 3]) -> Option<Self> {
        let [kind, number, flags] = cells;
        let kind = match kind {
            0 if number < SPI_COUNT => InterruptKind::Spi,
            1 if number < PPI_COUNT => InterruptKind::Ppi,
            _ => return None,
        };
        let trigger = match flags & TRIGGER_MASK {
            1 | 2 => Trigger::Edge,
            4 | 8 => Trigger::Level,
            _ => return None,
        };
        Some(Self {
            kind,
            number,
            trigger,
        })
    }

    /// The GIC interrupt ID (INTID): SPI n is 32 + n, PPI n is 16 + n.
    ///
    /// Saturates for a number out of range, which [`Interrupt::from_gic_specifier`] never
    /// produces; `u32::MAX` is not a valid INTID, so such a value cannot alias a real one.
    pub const fn intid(&self) -> u32 {
        let first = match self.kind {
            InterruptKind::Spi => FIRST_SPI_INTID,
            InterruptKind::Ppi => FIRST_PPI_INTID,
        };
        first.saturating_add(self.number)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spi_one_level_high_is_intid_thirty_three() {
        let interrupt = Interrupt::from_gic_specifier([0, 1, 4]).unwrap();
        assert_eq!(interrupt.kind, InterruptKind::Spi);
        assert_eq!(interrupt.trigger, Trigger::Level);
        assert_eq!(interrupt.intid(), 33);
    }

    #[test]
    fn ppi_eleven_is_intid_twenty_seven() {
        let interrupt = Interrupt::from_gic_specifier([1, 11, 4]).unwrap();
        assert_eq!(interrupt.kind, InterruptKind::Ppi);
        assert_eq!(interrupt.intid(), 27);
    }

    #[test]
    fn gicv2_cpu_mask_bits_do_not_change_the_trigger() {
        let interrupt = Interrupt::from_gic_specifier([1, 14, 0xf04]).unwrap();
        assert_eq!(interrupt.trigger, Trigger::Level);
        assert_eq!(interrupt.intid(), 30);
        let falling = Interrupt::from_gic_specifier([1, 14, 0x102]).unwrap();
        assert_eq!(falling.trigger, Trigger::Edge);
    }

    #[test]
    fn every_documented_trigger_value_is_accepted() {
        for (flags, trigger) in [
            (1, Trigger::Edge),
            (2, Trigger::Edge),
            (4, Trigger::Level),
            (8, Trigger::Level),
        ] {
            let interrupt = Interrupt::from_gic_specifier([0, 3, flags]).unwrap();
            assert_eq!(interrupt.trigger, trigger);
        }
    }

    #[test]
    fn trigger_none_or_mixed_triggers_are_refused() {
        for flags in [0, 3, 5, 0xc, 0xf] {
            assert_eq!(Interrupt::from_gic_specifier([0, 3, flags]), None);
        }
    }

    #[test]
    fn unknown_interrupt_types_are_refused() {
        assert_eq!(Interrupt::from_gic_specifier([2, 3, 4]), None);
        assert_eq!(Interrupt::from_gic_specifier([u32::MAX, 3, 4]), None);
    }

    #[test]
    fn numbers_beyond_each_range_are_refused() {
        assert!(Interrupt::from_gic_specifier([1, 15, 4]).is_some());
        assert_eq!(Interrupt::from_gic_specifier([1, 16, 4]), None);
        assert_eq!(
            Interrupt::from_gic_specifier([0, 987, 4]).unwrap().intid(),
            1019
        );
        assert_eq!(Interrupt::from_gic_specifier([0, 988, 4]), None);
    }

    #[test]
    fn intid_of_a_hand_built_out_of_range_interrupt_saturates() {
        let interrupt = Interrupt {
            kind: InterruptKind::Spi,
            number: u32::MAX,
            trigger: Trigger::Level,
        };
        assert_eq!(interrupt.intid(), u32::MAX);
    }
}
