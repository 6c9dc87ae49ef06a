//! Where to put the kernel's own boot-time data in RAM before any allocator exists.
//!
//! The frame allocator's bitmap has to live somewhere, and that somewhere must be RAM that
//! holds nothing the kernel still needs: not the kernel image, not the device tree, not the
//! initrd, not a region the firmware reserved. This module answers "the lowest suitably
//! aligned place for N bytes" from those lists, as a pure function.

use crate::frame_allocator::PhysicalRange;

/// The lowest address `a` with `a % alignment == 0` such that `[a, a + size)` lies inside one
/// of the `ram` ranges and overlaps none of the `avoid` ranges. `alignment` must be a power of
/// two; `None` when there is no such place (or `size` is zero).
pub fn lowest_free_place(
    size: u64,
    alignment: u64,
    ram: &[PhysicalRange],
    avoid: &[PhysicalRange],
) -> Option<u64> {
    if size == 0 || !alignment.is_power_of_two() {
        return None;
    }
    let mut best: Option<u64> = None;
    for bank in ram {
        let mut candidate = bank.base.checked_next_multiple_of(alignment)?;
        // Each pass either succeeds or moves past one obstacle, so this ends.
        while let Some(end) = candidate.checked_add(size).filter(|&end| end <= bank.end()) {
            match avoid
                .iter()
                .filter(|obstacle| {
                    obstacle.size > 0 && candidate < obstacle.end() && obstacle.base < end
                })
                .map(|obstacle| obstacle.end())
                .max()
            {
                None => {
                    best = Some(best.map_or(candidate, |known| known.min(candidate)));
                    break;
                }
                Some(obstacle_end) => match obstacle_end.checked_next_multiple_of(alignment) {
                    Some(next) if next > candidate => candidate = next,
                    _ => break,
                },
            }
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range(base: u64, size: u64) -> PhysicalRange {
        PhysicalRange { base, size }
    }

    #[test]
    fn the_first_aligned_free_spot_after_the_obstacles_is_chosen() {
        let ram = [range(0x4000_0000, 128 << 20)];
        let kernel = range(0x4020_0000, 0x12_3000);
        let initrd = range(0x4400_0000, 0x1000);
        let place = lowest_free_place(0x4000, 0x1000, &ram, &[kernel, initrd]);
        assert_eq!(
            place,
            Some(0x4000_0000),
            "the space below the kernel is free"
        );
        let place = lowest_free_place(0x40_0000, 0x1000, &ram, &[kernel, initrd]);
        assert_eq!(
            place,
            Some(0x4032_3000),
            "2 MiB below the kernel is too small for 4 MiB"
        );
    }

    #[test]
    fn overlapping_obstacles_are_skipped_together() {
        let ram = [range(0, 0x10_0000)];
        let obstacles = [
            range(0, 0x3000),
            range(0x2000, 0x4000),
            range(0x6000, 0x1000),
        ];
        assert_eq!(
            lowest_free_place(0x2000, 0x1000, &ram, &obstacles),
            Some(0x7000)
        );
    }

    #[test]
    fn a_request_that_fits_nowhere_gets_none() {
        let ram = [range(0x1000, 0x3000), range(0x10_0000, 0x1000)];
        assert_eq!(lowest_free_place(0x4000, 0x1000, &ram, &[]), None);
        assert_eq!(lowest_free_place(0, 0x1000, &ram, &[]), None);
        assert_eq!(lowest_free_place(0x1000, 3, &ram, &[]), None);
    }

    #[test]
    fn the_lowest_place_across_banks_wins_whatever_their_order() {
        let ram = [range(0x8000_0000, 0x10_0000), range(0x4000_0000, 0x10_0000)];
        assert_eq!(
            lowest_free_place(0x1000, 0x1000, &ram, &[range(0x4000_0000, 0x10_0000)]),
            Some(0x8000_0000)
        );
        assert_eq!(
            lowest_free_place(0x1000, 0x1000, &ram, &[]),
            Some(0x4000_0000)
        );
    }

    #[test]
    fn ranges_at_the_top_of_the_address_space_do_not_overflow() {
        let ram = [range(u64::MAX - 0x2fff, 0x3000)];
        assert_eq!(
            lowest_free_place(0x1000, 0x1000, &ram, &[]),
            Some(u64::MAX - 0x2fff)
        );
        assert_eq!(
            lowest_free_place(0x1000, 0x1000, &ram, &[range(u64::MAX - 0x2fff, 0x1000)]),
            Some(u64::MAX - 0x1fff)
        );
        assert_eq!(lowest_free_place(0x4000, 0x1000, &ram, &[]), None);
    }
}
