//! ASID allocation with generations and roll-over, so that switching address spaces never
//! flushes the TLB.
//!
//! aarch64 tags every non-global TLB entry with the ASID loaded in TTBR0_EL1 (8 or 16 bits, as
//! ID_AA64MMFR0_EL1.ASIDBits says). Giving each address space its own ASID lets its entries
//! survive switches to other spaces. There are fewer ASIDs than address spaces may exist, so
//! this is Linux's scheme (arch/arm64/mm/context.c), for one CPU:
//!
//! - An address space holds an [`Asid`]: a number *and* the generation it was allocated in. It
//!   is valid only while its generation is the allocator's current one.
//! - A space whose ASID is stale gets a free number of the current generation, preferring its
//!   old number. No flush is needed, because of the invariant below.
//! - When no number is free, the generation is bumped, every number becomes free again and the
//!   caller flushes the whole TLB once (`TLBI VMALLE1`). Every other space's ASID is now stale
//!   and is replaced lazily, on its next activation, without another flush.
//!
//! **Invariant: a number that is free in the current generation has no TLB entries.** A
//! roll-over flushes everything; [`AsidAllocator::release`] tells the caller to flush the one
//! number it frees (`TLBI ASIDE1`).
//!
//! One number survives a roll-over: the ASID of the space that is running when it happens.
//! Until the caller loads the new TTBR0, the CPU still has the old space's tables and ASID
//! loaded and may walk them (speculatively, too) *after* the flush, refilling TLB entries tagged
//! with that number. Handing the number to another space in the new generation would give that
//! space those wrong entries. So it stays reserved for its owner, whose next activation upgrades
//! the stale handle to the new generation under the same number.
//!
//! ASID 0 is never handed out: it is the kernel's (TTBR0 with no user space).

use alloc::vec;
use alloc::vec::Vec;

/// An address space's ASID: the number for TTBR0_EL1.ASID and the generation it belongs to.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Asid {
    /// What goes into TTBR0_EL1.ASID; never 0.
    pub value: u16,
    /// The allocator generation the value was handed out in.
    pub generation: u64,
}

/// The answer of [`AsidAllocator::activate`]: the ASID to load and whether to flush first.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Activation {
    /// The space's ASID is still valid: load it, no flush.
    Valid(u16),
    /// The space got a new ASID (now stored in its handle) that has no TLB entries: load it, no
    /// flush.
    Fresh(u16),
    /// The ASIDs ran out and the generation rolled over; the space got a new ASID. The caller
    /// must flush the entire TLB (`TLBI VMALLE1`, then `DSB`, `ISB`) before loading it.
    RolledOver(u16),
}

impl Activation {
    /// The ASID to load into TTBR0_EL1.
    pub fn value(self) -> u16 {
        match self {
            Self::Valid(value) | Self::Fresh(value) | Self::RolledOver(value) => value,
        }
    }

    /// Whether the caller must flush the entire TLB before loading the ASID.
    pub fn needs_full_flush(self) -> bool {
        matches!(self, Self::RolledOver(_))
    }
}

/// Hands out ASIDs for one CPU. A set bit in `used` means the number is taken in the current
/// generation (bit 0, ASID 0, always is).
#[derive(Debug)]
pub struct AsidAllocator {
    bits: u8,
    /// The highest number handed out: `2^bits - 1`, or less to force roll-overs in tests.
    limit: u16,
    generation: u64,
    used: Vec<u64>,
    /// Where the search for a free number starts (next-fit, so numbers go round before reuse).
    next: u16,
    /// The ASID most recently returned by `activate`: what TTBR0 holds.
    active: Option<Asid>,
    /// The previous generation's ASID of the space that was running at the last roll-over,
    /// until that space is activated or released.
    reserved: Option<Asid>,
}

impl AsidAllocator {
    /// An allocator for `bits`-wide ASIDs (ID_AA64MMFR0_EL1.ASIDBits: 8 or 16). Any other
    /// width is treated as 8, which every aarch64 CPU supports.
    pub fn new(bits: u8) -> Self {
        Self::with_limit(bits, u16::MAX)
    }

    /// The same, but handing out only the numbers 1..=`limit` (at least 1..=2, at most the
    /// width allows): a test that wants roll-overs with a handful of address spaces.
    pub fn with_limit(bits: u8, limit: u16) -> Self {
        let bits = if bits == 16 { 16 } else { 8 };
        let numbers = 1usize << bits;
        let limit = u16::try_from(numbers - 1)
            .unwrap_or(u16::MAX)
            .min(limit.max(2));
        let mut allocator = Self {
            bits,
            limit,
            generation: 1,
            used: vec![0u64; numbers / 64],
            next: 1,
            active: None,
            reserved: None,
        };
        allocator.clear_used();
        allocator
    }

    /// The highest number this allocator hands out.
    pub fn limit(&self) -> u16 {
        self.limit
    }

    /// Every number free but 0 and those beyond the limit.
    fn clear_used(&mut self) {
        let limit = usize::from(self.limit);
        for (index, word) in self.used.iter_mut().enumerate() {
            let first = index * 64;
            *word = if first > limit {
                u64::MAX
            } else if limit - first >= 63 {
                0
            } else {
                u64::MAX << (limit - first + 1)
            };
        }
        self.set_used(0, true);
    }

    /// The ASID width in bits actually used (8 or 16).
    pub fn bits(&self) -> u8 {
        self.bits
    }

    /// The current generation. Starts at 1, so a handle of generation 0 is always stale.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// Someone else switched TTBR0 (the IPC fastpath, which loads a space's current ASID
    /// without calling [`activate`](Self::activate)): `asid` is what TTBR0 holds now (`None`:
    /// no user space). The allocator keeps the running space's number through a roll-over, so
    /// it must know which one runs.
    pub fn note_active(&mut self, asid: Option<Asid>) {
        self.active = asid;
    }

    /// Called on every switch to an address space whose ASID handle is `current` (`None` for a
    /// space that never ran). Returns the ASID to load into TTBR0_EL1 and whether the whole TLB
    /// must be flushed first; a new ASID is stored into `current`.
    pub fn activate(&mut self, current: &mut Option<Asid>) -> Activation {
        if let Some(asid) = *current
            && asid.generation == self.generation
            && self.is_used(asid.value)
        {
            self.active = Some(asid);
            return Activation::Valid(asid.value);
        }
        let stale = *current;
        if let Some(asid) = stale
            && self.reserved == Some(asid)
        {
            // The space that ran during the roll-over: its number was kept for it.
            self.reserved = None;
            return self.hand_out(current, asid.value, Activation::Fresh);
        }
        if let Some(value) = self.find_free(stale.map(|asid| asid.value)) {
            self.set_used(value, true);
            self.next = value.wrapping_add(1);
            return self.hand_out(current, value, Activation::Fresh);
        }
        self.roll_over();
        match self.find_free(stale.map(|asid| asid.value)) {
            Some(value) => {
                self.set_used(value, true);
                self.next = value.wrapping_add(1);
                self.hand_out(current, value, Activation::RolledOver)
            }
            // Unreachable: a fresh generation has at least one free number (at least two
            // are handed out, and only one is reserved).
            None => Activation::RolledOver(0),
        }
    }

    /// An address space is deleted: frees its ASID if that is still valid (or still reserved
    /// for it after a roll-over) and returns the number, which the caller must then flush with
    /// `TLBI ASIDE1` before the next [`activate`](Self::activate) can hand it out again. If the
    /// space is the running one, the caller first switches TTBR0 away from it (to the kernel's
    /// ASID 0), or the CPU could refill entries for it after the flush. `None`: the ASID is
    /// stale and its entries already went with a roll-over; nothing to flush.
    #[must_use = "a freed ASID must be flushed with TLBI ASIDE1"]
    pub fn release(&mut self, asid: Asid) -> Option<u16> {
        if self.active == Some(asid) {
            self.active = None;
        }
        let freed = if asid.generation == self.generation {
            self.bit(asid.value) == Some(true)
        } else if self.reserved == Some(asid) {
            self.reserved = None;
            true
        } else {
            false
        };
        if freed && asid.value != 0 {
            self.set_used(asid.value, false);
            Some(asid.value)
        } else {
            None
        }
    }

    fn hand_out(
        &mut self,
        current: &mut Option<Asid>,
        value: u16,
        kind: fn(u16) -> Activation,
    ) -> Activation {
        let asid = Asid {
            value,
            generation: self.generation,
        };
        *current = Some(asid);
        self.active = Some(asid);
        kind(value)
    }

    /// Starts a new generation: every number is free again except 0 and the running space's.
    fn roll_over(&mut self) {
        self.generation = self.generation.wrapping_add(1);
        self.clear_used();
        self.reserved = self.active.take();
        if let Some(reserved) = self.reserved {
            self.set_used(reserved.value, true);
        }
        self.next = 1;
    }

    /// A free number: `preferred` if it is free, otherwise the first free one from `next`
    /// upward, wrapping around once.
    fn find_free(&self, preferred: Option<u16>) -> Option<u16> {
        if let Some(value) = preferred.filter(|&value| value != 0 && !self.is_used(value)) {
            return Some(value);
        }
        let start = usize::from(self.next);
        let count = self.used.len() * 64;
        self.first_free_in(start, count)
            .or_else(|| self.first_free_in(1, start.min(count)))
            .and_then(|index| u16::try_from(index).ok())
    }

    /// The first free number in `[start, end)`, skipping whole words of used numbers.
    fn first_free_in(&self, start: usize, end: usize) -> Option<usize> {
        let mut index = start;
        while index < end {
            let word_index = index / 64;
            let word = self.used.get(word_index)?;
            let free = !word & (u64::MAX << (index % 64));
            if free != 0 {
                let found = word_index * 64 + free.trailing_zeros() as usize;
                return (found < end).then_some(found);
            }
            index = (word_index + 1) * 64;
        }
        None
    }

    /// Whether `value` is taken in the current generation; numbers beyond the width count as
    /// taken, so they are never handed out or freed.
    fn is_used(&self, value: u16) -> bool {
        self.bit(value) != Some(false)
    }

    /// `value`'s bit in `used`; `None` beyond the width.
    fn bit(&self, value: u16) -> Option<bool> {
        let index = usize::from(value);
        self.used
            .get(index / 64)
            .map(|word| word & (1 << (index % 64)) != 0)
    }

    fn set_used(&mut self, value: u16, used: bool) {
        let index = usize::from(value);
        if let Some(word) = self.used.get_mut(index / 64) {
            let bit = 1u64 << (index % 64);
            if used {
                *word |= bit;
            } else {
                *word &= !bit;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::{BTreeMap, BTreeSet};
    use std::vec::Vec;

    /// The ASIDs of `spaces` that are valid in `generation` must be distinct and non-zero.
    fn assert_distinct_in_generation(spaces: &[Option<Asid>], generation: u64) {
        let mut seen = BTreeSet::new();
        for asid in spaces.iter().flatten() {
            if asid.generation == generation {
                assert_ne!(asid.value, 0);
                assert!(seen.insert(asid.value), "ASID {} shared", asid.value);
            }
        }
    }

    #[test]
    fn live_spaces_get_distinct_nonzero_asids() {
        let mut allocator = AsidAllocator::new(8);
        let mut spaces = [None; 10];
        for space in &mut spaces {
            assert!(matches!(allocator.activate(space), Activation::Fresh(_)));
        }
        assert_distinct_in_generation(&spaces, allocator.generation());
    }

    #[test]
    fn a_valid_asid_is_returned_again_without_a_flush() {
        let mut allocator = AsidAllocator::new(16);
        let mut first = None;
        let mut second = None;
        let value = allocator.activate(&mut first).value();
        allocator.activate(&mut second);
        assert_eq!(allocator.activate(&mut first), Activation::Valid(value));
        assert_eq!(allocator.activate(&mut first), Activation::Valid(value));
        assert!(!allocator.activate(&mut first).needs_full_flush());
    }

    #[test]
    fn a_limit_forces_roll_overs_and_is_never_exceeded() {
        let mut allocator = AsidAllocator::with_limit(16, 3);
        assert_eq!(allocator.limit(), 3);
        let mut spaces = [None; 5];
        let mut roll_overs = 0;
        for round in 0..50 {
            let space = &mut spaces[round % 5];
            let activation = allocator.activate(space);
            assert!((1..=3).contains(&activation.value()), "{activation:?}");
            roll_overs += usize::from(activation.needs_full_flush());
            assert_distinct_in_generation(&spaces, allocator.generation());
        }
        assert!(roll_overs >= 10, "only {roll_overs} roll-overs");
        assert_eq!(AsidAllocator::with_limit(8, 0).limit(), 2);
        assert_eq!(AsidAllocator::with_limit(8, 1000).limit(), 255);
        assert_eq!(AsidAllocator::with_limit(16, 64).limit(), 64);
        assert_eq!(AsidAllocator::with_limit(16, 63).limit(), 63);
    }

    #[test]
    fn widths_other_than_8_or_16_are_treated_as_8() {
        assert_eq!(AsidAllocator::new(12).bits(), 8);
        assert_eq!(AsidAllocator::new(0).bits(), 8);
        assert_eq!(AsidAllocator::new(16).bits(), 16);
    }

    #[test]
    fn running_out_of_8_bit_asids_rolls_over_exactly_once() {
        let mut allocator = AsidAllocator::new(8);
        let mut spaces = [None; 256];
        let mut roll_overs = 0;
        for space in spaces.iter_mut().take(255) {
            assert!(matches!(allocator.activate(space), Activation::Fresh(_)));
        }
        assert_distinct_in_generation(&spaces, 1);
        let last = spaces.len() - 1;
        if allocator.activate(&mut spaces[last]).needs_full_flush() {
            roll_overs += 1;
        }
        assert_eq!(roll_overs, 1);
        assert_eq!(allocator.generation(), 2);
        // Every other space's ASID is stale now; each gets a fresh one, no further flush.
        for space in spaces.iter_mut().take(250) {
            assert!(space.is_some_and(|asid| asid.generation == 1));
            assert!(matches!(allocator.activate(space), Activation::Fresh(_)));
        }
        assert_eq!(allocator.generation(), 2);
        assert_distinct_in_generation(&spaces, 2);
    }

    #[test]
    fn the_space_running_at_a_roll_over_keeps_its_number() {
        let mut allocator = AsidAllocator::new(8);
        let mut spaces = [None; 256];
        for space in spaces.iter_mut().take(255) {
            allocator.activate(space);
        }
        let running = spaces[254].unwrap();
        assert!(allocator.activate(&mut spaces[255]).needs_full_flush());
        assert_ne!(spaces[255].unwrap().value, running.value);
        // Nobody else gets the running space's number in the new generation ...
        for space in spaces.iter_mut().take(253) {
            assert_ne!(allocator.activate(space).value(), running.value);
        }
        // ... and its owner gets it back, without a flush.
        assert_eq!(
            allocator.activate(&mut spaces[254]),
            Activation::Fresh(running.value)
        );
        assert_eq!(spaces[254].unwrap().generation, 2);
        assert_distinct_in_generation(&spaces, 2);
    }

    #[test]
    fn a_released_asid_is_reused_and_must_be_flushed() {
        let mut allocator = AsidAllocator::new(8);
        let mut spaces = [None; 255];
        for space in &mut spaces {
            allocator.activate(space);
        }
        let freed = spaces[100].take().unwrap();
        assert_eq!(allocator.release(freed), Some(freed.value));
        assert_eq!(
            allocator.release(freed),
            None,
            "a double release frees nothing"
        );
        let mut newcomer = None;
        assert_eq!(
            allocator.activate(&mut newcomer),
            Activation::Fresh(freed.value)
        );
        assert_eq!(allocator.generation(), 1);
    }

    #[test]
    fn releasing_a_stale_asid_frees_nothing() {
        let mut allocator = AsidAllocator::new(8);
        let stale = Asid {
            value: 5,
            generation: 0,
        };
        assert_eq!(allocator.release(stale), None);
        let mut space = None;
        allocator.activate(&mut space);
        let forged = Asid {
            value: 300,
            generation: 1,
        };
        assert_eq!(allocator.release(forged), None);
        assert_eq!(
            allocator.release(Asid {
                value: 0,
                generation: 1
            }),
            None
        );
    }

    #[test]
    fn a_stale_space_prefers_its_old_number() {
        let mut allocator = AsidAllocator::new(8);
        let mut spaces = [None; 256];
        for space in &mut spaces {
            allocator.activate(space);
        }
        let old = spaces[17].unwrap();
        let value = allocator.activate(&mut spaces[17]).value();
        assert_eq!(value, old.value);
    }

    /// Drives the allocator like a kernel would and checks it against a model of the TLB: the
    /// entries tagged with a number must belong to the space that loads it.
    fn run_random_switches(bits: u8, space_count: usize, steps: usize, seed: u64) {
        let mut allocator = AsidAllocator::new(bits);
        let mut spaces: Vec<Option<Asid>> = vec![None; space_count];
        // TLB model: ASID number -> the space whose translations are cached under it.
        let mut tlb: BTreeMap<u16, usize> = BTreeMap::new();
        let mut running: Option<usize> = None;
        let mut roll_overs = 0;
        let usable = (1usize << allocator.bits()) - 1;
        let mut state = seed;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        // The numbers held by spaces whose ASID is of the current generation.
        let mut owners: BTreeMap<u16, usize> = BTreeMap::new();
        for step in 0..steps {
            // First every space runs once, in order (so more spaces than numbers must roll
            // over), then spaces run and are deleted at random.
            let warming_up = step < space_count;
            let space = if warming_up {
                step
            } else {
                (next() % space_count as u64) as usize
            };
            if !warming_up && next() % 8 == 0 {
                // Delete the space and create a new one in its slot.
                if running == Some(space) {
                    running = None; // the kernel loads ASID 0 first
                }
                if let Some(asid) = spaces[space].take() {
                    if asid.generation == allocator.generation() {
                        owners.remove(&asid.value);
                    }
                    if let Some(value) = allocator.release(asid) {
                        tlb.remove(&value); // TLBI ASIDE1
                    }
                }
                continue;
            }
            let generation = allocator.generation();
            let taken = owners.len();
            let activation = allocator.activate(&mut spaces[space]);
            let asid = spaces[space].unwrap();
            assert_eq!(asid.value, activation.value());
            assert_ne!(asid.value, 0);
            assert_eq!(asid.generation, allocator.generation());
            if activation.needs_full_flush() {
                roll_overs += 1;
                assert_eq!(allocator.generation(), generation + 1);
                // Only when every number was taken (one may be reserved for an old owner).
                assert!(
                    taken + 1 >= usable,
                    "rolled over with {taken} of {usable} taken"
                );
                owners.clear();
                tlb.clear(); // TLBI VMALLE1
                // The CPU may refill entries for the still-loaded space before the switch.
                if let Some(previous) = running
                    && let Some(previous_asid) = spaces[previous]
                {
                    tlb.insert(previous_asid.value, previous);
                }
            } else {
                assert_eq!(allocator.generation(), generation);
            }
            if let Some(&owner) = owners.get(&asid.value) {
                assert_eq!(owner, space, "ASID {} shared in one generation", asid.value);
            }
            owners.insert(asid.value, space);
            if let Some(&owner) = tlb.get(&asid.value) {
                assert_eq!(
                    owner, space,
                    "space {space} would see space {owner}'s TLB entries"
                );
            }
            tlb.insert(asid.value, space);
            running = Some(space);
        }
        assert_distinct_in_generation(&spaces, allocator.generation());
        if space_count > usable {
            assert!(roll_overs > 0);
        }
    }

    #[test]
    fn random_switches_with_more_spaces_than_8_bit_asids_stay_consistent() {
        run_random_switches(8, 400, 30_000, 0xDEAD_BEEF_CAFE_F00D);
    }

    #[test]
    fn random_switches_with_fewer_spaces_than_asids_never_flush_the_whole_tlb() {
        let mut allocator = AsidAllocator::new(8);
        let mut spaces = [None; 200];
        let mut state = 0x0123_4567_89AB_CDEFu64;
        for _ in 0..10_000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let space = (state % 200) as usize;
            assert!(!allocator.activate(&mut spaces[space]).needs_full_flush());
        }
        assert_distinct_in_generation(&spaces, 1);
    }

    #[test]
    fn random_switches_with_16_bit_asids_stay_consistent() {
        // Roll-over itself is exercised with 8-bit ASIDs above; with 16 bits it would need
        // 65,536 live spaces, which makes a debug-build test run for minutes.
        run_random_switches(16, 3_000, 30_000, 0x5555_AAAA_1234_4321);
    }
}
