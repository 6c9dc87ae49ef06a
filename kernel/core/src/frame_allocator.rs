//! Physical frame allocator: one bit per 4 KiB frame of the physical span that holds RAM.
//!
//! Why a bitmap: the kernel needs single frames (page tables, thread control blocks) far more
//! often than large contiguous runs, it must work before any heap exists (the bitmap lives in
//! memory the caller carves out of RAM itself), and a bitmap makes double frees and frees of
//! reserved frames detectable, which a free list cannot do. Scans go word by word with a
//! next-fit hint, so the common allocation touches one or two words.
//!
//! The allocator starts with every frame *used*; the boot code then releases the RAM ranges
//! from the device tree and re-reserves what must never be handed out (the kernel image,
//! the DTB, the initrd, the bitmap itself). Holes between RAM banks simply stay used.

use core::fmt;

/// Size of a physical frame (the 4 KiB translation granule).
pub const FRAME_SIZE: u64 = 4096;

/// A half-open physical address range `[base, base + size)`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct PhysicalRange {
    /// First byte.
    pub base: u64,
    /// Length in bytes.
    pub size: u64,
}

impl PhysicalRange {
    /// The range from `base` to `end` (exclusive); empty when `end <= base`.
    pub const fn from_bounds(base: u64, end: u64) -> Self {
        Self {
            base,
            size: end.saturating_sub(base),
        }
    }

    /// One past the last byte, saturating at the top of the address space.
    pub const fn end(&self) -> u64 {
        self.base.saturating_add(self.size)
    }
}

/// Why a frame operation was refused. Each variant names the caller's mistake.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum FrameError {
    /// The address is not a multiple of [`FRAME_SIZE`].
    Misaligned { address: u64 },
    /// The frame lies outside the span this allocator manages.
    OutsideSpan { address: u64 },
    /// The frame is already free: a double free, or a free of something never allocated.
    AlreadyFree { address: u64 },
    /// The bitmap storage given to [`FrameAllocator::new`] is too small for the span.
    BitmapTooSmall { needed_words: usize },
}

impl fmt::Display for FrameError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Misaligned { address } => {
                write!(formatter, "frame address {address:#x} is not 4 KiB aligned")
            }
            Self::OutsideSpan { address } => {
                write!(formatter, "frame {address:#x} is outside the managed span")
            }
            Self::AlreadyFree { address } => {
                write!(formatter, "frame {address:#x} is already free")
            }
            Self::BitmapTooSmall { needed_words } => {
                write!(formatter, "bitmap needs {needed_words} words")
            }
        }
    }
}

/// Number of `u64` bitmap words needed to manage `span` (rounded out to whole frames).
pub const fn bitmap_words_for(span: PhysicalRange) -> usize {
    let frames = frame_count(span);
    frames.div_ceil(64)
}

const fn frame_count(span: PhysicalRange) -> usize {
    let first = span.base / FRAME_SIZE;
    let last = span.end().div_ceil(FRAME_SIZE);
    (last - first) as usize
}

/// A bitmap frame allocator over `[span.base, span.end())`. A set bit means *used*.
pub struct FrameAllocator<'bitmap> {
    bitmap: &'bitmap mut [u64],
    first_frame: u64,
    frames: usize,
    free: usize,
    next_word: usize,
}

impl fmt::Debug for FrameAllocator<'_> {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("FrameAllocator")
            .field(
                "first_frame",
                &format_args!("{:#x}", self.first_frame * FRAME_SIZE),
            )
            .field("frames", &self.frames)
            .field("free", &self.free)
            .finish()
    }
}

impl<'bitmap> FrameAllocator<'bitmap> {
    /// An allocator for `span` whose frames are all marked used. `bitmap` must hold at least
    /// [`bitmap_words_for`]`(span)` words; its previous contents are ignored.
    pub fn new(span: PhysicalRange, bitmap: &'bitmap mut [u64]) -> Result<Self, FrameError> {
        let needed_words = bitmap_words_for(span);
        let Some(bitmap) = bitmap.get_mut(..needed_words) else {
            return Err(FrameError::BitmapTooSmall { needed_words });
        };
        bitmap.fill(u64::MAX);
        Ok(Self {
            bitmap,
            first_frame: span.base / FRAME_SIZE,
            frames: frame_count(span),
            free: 0,
            next_word: 0,
        })
    }

    /// Frames currently free.
    pub fn free_frames(&self) -> usize {
        self.free
    }

    /// Frames in the managed span (used, free, or holes).
    pub fn span_frames(&self) -> usize {
        self.frames
    }

    /// Mark every whole frame inside `range` free (partial frames at the edges stay used).
    /// Frames outside the span are ignored; frames already free stay free.
    pub fn release(&mut self, range: PhysicalRange) {
        let first = range.base.div_ceil(FRAME_SIZE);
        let end = range.end() / FRAME_SIZE;
        for frame in self.clamp(first, end) {
            if self.set_used(frame, false) {
                self.free += 1;
            }
        }
    }

    /// Mark every frame that `range` touches used (partial frames at the edges included).
    pub fn reserve(&mut self, range: PhysicalRange) {
        let first = range.base / FRAME_SIZE;
        let end = range.end().div_ceil(FRAME_SIZE);
        for frame in self.clamp(first, end) {
            if !self.set_used(frame, true) {
                self.free -= 1;
            }
        }
    }

    /// One free frame, now marked used; `None` when memory is exhausted.
    pub fn allocate(&mut self) -> Option<u64> {
        let words = self.bitmap.len();
        for step in 0..words {
            let word_index = (self.next_word + step) % words;
            let word = self.bitmap[word_index];
            if word != u64::MAX {
                let bit = (!word).trailing_zeros() as usize;
                let frame = word_index * 64 + bit;
                if frame >= self.frames {
                    continue;
                }
                self.bitmap[word_index] |= 1 << bit;
                self.free -= 1;
                self.next_word = word_index;
                return Some((self.first_frame + frame as u64) * FRAME_SIZE);
            }
        }
        None
    }

    /// `count` contiguous free frames whose first address is a multiple of `alignment`
    /// (a power of two, at least [`FRAME_SIZE`]), now marked used. `None` if no such run
    /// exists or the arguments make no sense (zero count, bad alignment).
    pub fn allocate_contiguous(&mut self, count: usize, alignment: u64) -> Option<u64> {
        if count == 0 || !alignment.is_power_of_two() || alignment < FRAME_SIZE {
            return None;
        }
        let step = (alignment / FRAME_SIZE) as usize;
        // Index (within the span) of the first frame whose address is aligned.
        let first_aligned =
            (self.first_frame.next_multiple_of(step as u64) - self.first_frame) as usize;
        let mut start = first_aligned;
        while start.checked_add(count)? <= self.frames {
            match (start..start + count).find(|&frame| self.is_used(frame)) {
                None => {
                    for frame in start..start + count {
                        self.set_used(frame, true);
                    }
                    self.free -= count;
                    return Some((self.first_frame + start as u64) * FRAME_SIZE);
                }
                // Skip past the used frame, to the next aligned start.
                Some(used) => start = (used + 1).next_multiple_of(step).max(start + step),
            }
        }
        None
    }

    /// Give back one frame that [`allocate`](Self::allocate) or
    /// [`allocate_contiguous`](Self::allocate_contiguous) handed out.
    pub fn free(&mut self, address: u64) -> Result<(), FrameError> {
        if !address.is_multiple_of(FRAME_SIZE) {
            return Err(FrameError::Misaligned { address });
        }
        let frame = (address / FRAME_SIZE)
            .checked_sub(self.first_frame)
            .filter(|&frame| frame < self.frames as u64)
            .ok_or(FrameError::OutsideSpan { address })? as usize;
        if !self.set_used(frame, false) {
            return Err(FrameError::AlreadyFree { address });
        }
        self.free += 1;
        Ok(())
    }

    /// Whether the frame containing `address` is free (false outside the span).
    pub fn is_free(&self, address: u64) -> bool {
        (address / FRAME_SIZE)
            .checked_sub(self.first_frame)
            .filter(|&frame| frame < self.frames as u64)
            .is_some_and(|frame| !self.is_used(frame as usize))
    }

    /// The span-relative frame indices of `[first, end)` (absolute frame numbers) that lie in the span.
    fn clamp(&self, first: u64, end: u64) -> core::ops::Range<usize> {
        let span_end = self.first_frame + self.frames as u64;
        let first = first.clamp(self.first_frame, span_end);
        let end = end.clamp(first, span_end);
        (first - self.first_frame) as usize..(end - self.first_frame) as usize
    }

    fn is_used(&self, frame: usize) -> bool {
        self.bitmap[frame / 64] & (1 << (frame % 64)) != 0
    }

    /// Set the frame's bit; returns whether it was used before.
    fn set_used(&mut self, frame: usize, used: bool) -> bool {
        let word = &mut self.bitmap[frame / 64];
        let mask = 1 << (frame % 64);
        let was_used = *word & mask != 0;
        if used {
            *word |= mask;
        } else {
            *word &= !mask;
        }
        was_used
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;
    use std::vec;
    use std::vec::Vec;

    const RAM: PhysicalRange = PhysicalRange {
        base: 0x4000_0000,
        size: 128 << 20,
    };

    fn allocator_storage(span: PhysicalRange) -> Vec<u64> {
        vec![0; bitmap_words_for(span)]
    }

    #[test]
    fn a_new_allocator_hands_out_nothing_until_ram_is_released() {
        let mut storage = allocator_storage(RAM);
        let mut frames = FrameAllocator::new(RAM, &mut storage).unwrap();
        assert_eq!(frames.allocate(), None);
        frames.release(RAM);
        assert_eq!(frames.free_frames(), (128 << 20) / 4096);
        assert_eq!(frames.allocate(), Some(0x4000_0000));
    }

    #[test]
    fn reserved_ranges_are_never_handed_out() {
        let mut storage = allocator_storage(RAM);
        let mut frames = FrameAllocator::new(RAM, &mut storage).unwrap();
        frames.release(RAM);
        let kernel = PhysicalRange {
            base: 0x4020_0000,
            size: 0x12_3456,
        };
        let initrd = PhysicalRange {
            base: 0x4400_0000,
            size: 5000,
        };
        frames.reserve(kernel);
        frames.reserve(initrd);
        let mut seen = BTreeSet::new();
        while let Some(frame) = frames.allocate() {
            assert!(seen.insert(frame), "frame {frame:#x} handed out twice");
            for reserved in [kernel, initrd] {
                assert!(
                    frame + FRAME_SIZE <= reserved.base || frame >= reserved.end(),
                    "{frame:#x} is reserved"
                );
            }
        }
        let reserved_frames = 0x12_3456u64.div_ceil(4096) + 2;
        assert_eq!(seen.len() as u64, (128 << 20) / 4096 - reserved_frames);
        assert_eq!(frames.free_frames(), 0);
    }

    #[test]
    fn partial_frames_are_released_inward_and_reserved_outward() {
        let span = PhysicalRange {
            base: 0,
            size: 16 * 4096,
        };
        let mut storage = allocator_storage(span);
        let mut frames = FrameAllocator::new(span, &mut storage).unwrap();
        frames.release(PhysicalRange::from_bounds(100, 3 * 4096 + 1));
        assert!(
            !frames.is_free(0)
                && frames.is_free(4096)
                && frames.is_free(2 * 4096)
                && !frames.is_free(3 * 4096)
        );
        frames.reserve(PhysicalRange::from_bounds(4096 + 1, 4096 + 2));
        assert!(!frames.is_free(4096) && frames.is_free(2 * 4096));
        assert_eq!(frames.free_frames(), 1);
    }

    #[test]
    fn holes_between_ram_banks_stay_used() {
        let span = PhysicalRange::from_bounds(0x4000_0000, 0x4010_0000);
        let mut storage = allocator_storage(span);
        let mut frames = FrameAllocator::new(span, &mut storage).unwrap();
        frames.release(PhysicalRange::from_bounds(0x4000_0000, 0x4000_4000));
        frames.release(PhysicalRange::from_bounds(0x400F_C000, 0x4010_0000));
        let handed_out: Vec<u64> = core::iter::from_fn(|| frames.allocate()).collect();
        assert_eq!(handed_out.len(), 8);
        assert!(
            handed_out
                .iter()
                .all(|&frame| !(0x4000_4000..0x400F_C000).contains(&frame))
        );
    }

    #[test]
    fn freeing_returns_the_frame_and_double_frees_are_refused() {
        let mut storage = allocator_storage(RAM);
        let mut frames = FrameAllocator::new(RAM, &mut storage).unwrap();
        frames.release(RAM);
        let before = frames.free_frames();
        let frame = frames.allocate().unwrap();
        assert_eq!(frames.free_frames(), before - 1);
        assert_eq!(frames.free(frame), Ok(()));
        assert_eq!(frames.free_frames(), before);
        assert_eq!(
            frames.free(frame),
            Err(FrameError::AlreadyFree { address: frame })
        );
        assert_eq!(
            frames.free(frame + 1),
            Err(FrameError::Misaligned { address: frame + 1 })
        );
        assert_eq!(
            frames.free(0x1000),
            Err(FrameError::OutsideSpan { address: 0x1000 })
        );
        assert_eq!(
            frames.free(RAM.end()),
            Err(FrameError::OutsideSpan { address: RAM.end() })
        );
        assert_eq!(frames.free_frames(), before);
    }

    #[test]
    fn contiguous_runs_respect_alignment_and_skip_used_frames() {
        let mut storage = allocator_storage(RAM);
        let mut frames = FrameAllocator::new(RAM, &mut storage).unwrap();
        frames.release(RAM);
        frames.reserve(PhysicalRange {
            base: 0x4000_0000 + 0x1F_F000,
            size: 4096,
        });
        let two_mib = 2 << 20;
        let run = frames.allocate_contiguous(512, two_mib).unwrap();
        assert_eq!(
            run, 0x4020_0000,
            "the first 2 MiB block has a used frame at its end"
        );
        assert!((0..512).all(|index| !frames.is_free(run + index * 4096)));
        let small = frames.allocate_contiguous(3, 4096).unwrap();
        assert_eq!(small, 0x4000_0000);
        assert_eq!(frames.allocate_contiguous(0, 4096), None);
        assert_eq!(frames.allocate_contiguous(1, 3 * 4096), None);
        assert_eq!(frames.allocate_contiguous(usize::MAX, 4096), None);
        assert_eq!(
            frames.allocate_contiguous(RAM.size as usize / 4096, 4096),
            None
        );
    }

    #[test]
    fn a_bitmap_that_is_too_small_is_refused() {
        let mut storage = vec![0; bitmap_words_for(RAM) - 1];
        let needed_words = bitmap_words_for(RAM);
        assert_eq!(
            FrameAllocator::new(RAM, &mut storage).unwrap_err(),
            FrameError::BitmapTooSmall { needed_words }
        );
    }

    #[test]
    fn a_span_that_is_not_a_multiple_of_64_frames_never_hands_out_frames_past_its_end() {
        let span = PhysicalRange {
            base: 0x1000,
            size: 70 * 4096,
        };
        let mut storage = allocator_storage(span);
        let mut frames = FrameAllocator::new(span, &mut storage).unwrap();
        frames.release(PhysicalRange {
            base: 0,
            size: u64::MAX,
        });
        let handed_out: Vec<u64> = core::iter::from_fn(|| frames.allocate()).collect();
        assert_eq!(handed_out.len(), 70);
        assert!(
            handed_out
                .iter()
                .all(|&frame| (0x1000..0x1000 + 70 * 4096).contains(&frame))
        );
    }

    #[test]
    fn random_allocations_and_frees_match_a_simple_model() {
        let span = PhysicalRange {
            base: 0x8000_0000,
            size: 300 * 4096,
        };
        let mut storage = allocator_storage(span);
        let mut frames = FrameAllocator::new(span, &mut storage).unwrap();
        frames.release(span);
        let mut model: BTreeSet<u64> = BTreeSet::new();
        let mut state = 0x2545_F491_4F6C_DD1Du64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for _ in 0..20_000 {
            match next() % 3 {
                0 | 1 => match frames.allocate() {
                    Some(frame) => assert!(model.insert(frame), "{frame:#x} handed out twice"),
                    None => assert_eq!(model.len(), 300),
                },
                _ => {
                    if let Some(&frame) = model.iter().nth((next() as usize) % model.len().max(1)) {
                        model.remove(&frame);
                        assert_eq!(frames.free(frame), Ok(()));
                    }
                }
            }
            assert_eq!(frames.free_frames(), 300 - model.len());
        }
    }
}
