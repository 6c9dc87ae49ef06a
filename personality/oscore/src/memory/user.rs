//! Checked access to a client's memory for the system-call dispatcher.
//!
//! Every pointer a client passes is an allegation. The server never follows one into its
//! own address space: it translates the client range page by page through the client's
//! areas and page table and copies through the frames. A page that is absent but allowed is
//! populated exactly as the client's own fault would (so `read(fd, buffer)` into untouched
//! heap works, and a stack grows), a page that is not allowed fails the call with `EFAULT`.
//! Ranges are checked whole before a byte is copied, so a failing copy has no effect beyond
//! the pages it populated; wrap-around and ranges past the usable range fail before any
//! lookup.

use alloc::vec::Vec;
use core::fmt;
use core::ops::Range;

use linux_abi::errno::Errno;

use super::frames::Frames;
use super::rights::Access;
use super::space::AddressSpace;
use super::{PAGE_BYTES, PAGE_SIZE, page_floor};

/// The longest single argument or environment string `execve` accepts, with its NUL
/// (Linux's `MAX_ARG_STRLEN`, 32 pages); a longer one fails with `E2BIG`.
pub const ARGUMENT_STRING_LIMIT: u64 = 32 * PAGE_SIZE;

/// Linux's floor for the argument space (`ARG_MAX`, 128 KiB): available even with a tiny
/// stack limit.
const ARGUMENT_SPACE_MINIMUM: u64 = 128 * 1024;

/// Linux's ceiling for the argument space: three quarters of the default 8 MiB stack limit.
const ARGUMENT_SPACE_MAXIMUM: u64 = (8 << 20) / 4 * 3;

/// How many bytes `execve`'s strings and pointers may take under a stack limit: a quarter of
/// it, but at least 128 KiB and at most 6 MiB (Linux's `bprm_stack_limits`).
pub(crate) fn argument_space(stack_limit: u64) -> u64 {
    (stack_limit / 4).clamp(ARGUMENT_SPACE_MINIMUM, ARGUMENT_SPACE_MAXIMUM)
}

/// The argument and environment strings of an `execve`, read from the client.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExecArguments {
    /// `argv`, without the NUL bytes.
    pub arguments: Vec<Vec<u8>>,
    /// `envp`, without the NUL bytes.
    pub environment: Vec<Vec<u8>>,
}

impl ExecArguments {
    /// The arguments as slices, as [`super::exec::ExecRequest`] takes them.
    pub fn argument_slices(&self) -> Vec<&[u8]> {
        self.arguments.iter().map(Vec::as_slice).collect()
    }

    /// The environment as slices, as [`super::exec::ExecRequest`] takes them.
    pub fn environment_slices(&self) -> Vec<&[u8]> {
        self.environment.iter().map(Vec::as_slice).collect()
    }
}

impl<Frame: Copy + Eq + Ord + fmt::Debug> AddressSpace<Frame> {
    /// The client range `address..address + length`, or `EFAULT` if it wraps around or
    /// leaves the usable range.
    fn user_range(&self, address: u64, length: usize) -> Result<Range<u64>, Errno> {
        let length = u64::try_from(length).map_err(|_| Errno::EFAULT)?;
        let end = address.checked_add(length).ok_or(Errno::EFAULT)?;
        if end > self.layout.user_end() {
            return Err(Errno::EFAULT);
        }
        Ok(address..end)
    }

    /// Makes every page of `range` present for `access`.
    fn prepare<F: Frames<Frame = Frame>>(
        &mut self,
        frames: &mut F,
        range: &Range<u64>,
        access: Access,
    ) -> Result<(), Errno> {
        if range.start >= range.end {
            return Ok(());
        }
        let mut page = page_floor(range.start);
        while page < range.end {
            self.resolve(frames, page.max(range.start), access)
                .map_err(|error| error.errno())?;
            page += PAGE_SIZE;
        }
        Ok(())
    }

    /// The pieces of `range` (all present) one page at a time: for each, the frame, the
    /// offsets within it and the offsets within the caller's buffer.
    fn pieces(
        &self,
        range: Range<u64>,
    ) -> impl Iterator<Item = (Frame, Range<usize>, Range<usize>)> + '_ {
        let start = range.start;
        let mut address = range.start;
        core::iter::from_fn(move || {
            if address >= range.end {
                return None;
            }
            let page = page_floor(address);
            let piece_end = range.end.min(page + PAGE_SIZE);
            let entry = self.pages.get(&page)?;
            let in_page = (address - page) as usize..(piece_end - page) as usize;
            let in_buffer = (address - start) as usize..(piece_end - start) as usize;
            address = piece_end;
            Some((entry.frame, in_page, in_buffer))
        })
    }

    /// Copies `buffer.len()` bytes of client memory at `address` into `buffer`.
    ///
    /// # Errors
    /// `EFAULT` when any byte is not readable by the client (or the range wraps or leaves
    /// the usable range; nothing is copied then), `ENOMEM` when populating a page finds no
    /// frame.
    pub fn read<F: Frames<Frame = Frame>>(
        &mut self,
        frames: &mut F,
        address: u64,
        buffer: &mut [u8],
    ) -> Result<(), Errno> {
        let range = self.user_range(address, buffer.len())?;
        self.prepare(frames, &range, Access::Read)?;
        for (frame, in_page, in_buffer) in self.pieces(range) {
            if let (Some(source), Some(destination)) =
                (frames.bytes(frame).get(in_page), buffer.get_mut(in_buffer))
            {
                destination.copy_from_slice(source);
            }
        }
        Ok(())
    }

    /// Copies `data` into client memory at `address`; every byte must be writable by the
    /// client (`PROT_WRITE`).
    ///
    /// # Errors
    /// As [`AddressSpace::read`]; nothing is written unless the whole range is writable.
    pub fn write<F: Frames<Frame = Frame>>(
        &mut self,
        frames: &mut F,
        address: u64,
        data: &[u8],
    ) -> Result<(), Errno> {
        let range = self.user_range(address, data.len())?;
        self.prepare(frames, &range, Access::Write)?;
        for (frame, in_page, in_buffer) in self.pieces(range) {
            if let (Some(destination), Some(source)) = (
                frames.bytes_mut(frame).get_mut(in_page),
                data.get(in_buffer),
            ) {
                destination.copy_from_slice(source);
            }
        }
        Ok(())
    }

    /// Reads `N` bytes at `address` (a structure the caller decodes).
    ///
    /// # Errors
    /// As [`AddressSpace::read`].
    pub fn read_array<F: Frames<Frame = Frame>, const N: usize>(
        &mut self,
        frames: &mut F,
        address: u64,
    ) -> Result<[u8; N], Errno> {
        let mut bytes = [0; N];
        self.read(frames, address, &mut bytes)?;
        Ok(bytes)
    }

    /// Reads a little-endian 64-bit value at `address` (any alignment, as Linux's
    /// `get_user` allows on arm64).
    ///
    /// # Errors
    /// As [`AddressSpace::read`].
    pub fn read_u64<F: Frames<Frame = Frame>>(
        &mut self,
        frames: &mut F,
        address: u64,
    ) -> Result<u64, Errno> {
        self.read_array(frames, address).map(u64::from_le_bytes)
    }

    /// Writes a little-endian 64-bit value at `address`.
    ///
    /// # Errors
    /// As [`AddressSpace::write`].
    pub fn write_u64<F: Frames<Frame = Frame>>(
        &mut self,
        frames: &mut F,
        address: u64,
        value: u64,
    ) -> Result<(), Errno> {
        self.write(frames, address, &value.to_le_bytes())
    }

    /// Reads a little-endian 32-bit value at `address`.
    ///
    /// # Errors
    /// As [`AddressSpace::read`].
    pub fn read_u32<F: Frames<Frame = Frame>>(
        &mut self,
        frames: &mut F,
        address: u64,
    ) -> Result<u32, Errno> {
        self.read_array(frames, address).map(u32::from_le_bytes)
    }

    /// Writes a little-endian 32-bit value at `address`.
    ///
    /// # Errors
    /// As [`AddressSpace::write`].
    pub fn write_u32<F: Frames<Frame = Frame>>(
        &mut self,
        frames: &mut F,
        address: u64,
        value: u32,
    ) -> Result<(), Errno> {
        self.write(frames, address, &value.to_le_bytes())
    }

    /// Reads the NUL-terminated string at `address`, returning it without the NUL. At most
    /// `maximum_size` bytes are examined, the NUL included (pass `PATH_MAX`, 4096, for a
    /// path).
    ///
    /// # Errors
    /// `EFAULT` when an unreadable byte comes before the NUL; `ENAMETOOLONG` when the first
    /// `maximum_size` bytes hold no NUL (as `getname` reports a path of `PATH_MAX` bytes or
    /// more); `ENOMEM` when populating a page finds no frame.
    pub fn read_c_string<F: Frames<Frame = Frame>>(
        &mut self,
        frames: &mut F,
        address: u64,
        maximum_size: usize,
    ) -> Result<Vec<u8>, Errno> {
        let mut string = Vec::new();
        let mut cursor = address;
        while string.len() < maximum_size {
            if cursor >= self.layout.user_end() {
                return Err(Errno::EFAULT);
            }
            let (page, entry) = self
                .resolve(frames, cursor, Access::Read)
                .map_err(|error| error.errno())?;
            let offset = (cursor - page) as usize;
            let wanted = (maximum_size - string.len()).min(PAGE_BYTES - offset);
            let chunk = frames
                .bytes(entry.frame)
                .get(offset..offset + wanted)
                .ok_or(Errno::EFAULT)?;
            if let Some(nul) = chunk.iter().position(|&byte| byte == 0) {
                string.extend_from_slice(chunk.get(..nul).ok_or(Errno::EFAULT)?);
                return Ok(string);
            }
            string.extend_from_slice(chunk);
            cursor = cursor.checked_add(wanted as u64).ok_or(Errno::EFAULT)?;
        }
        Err(Errno::ENAMETOOLONG)
    }

    /// Reads a NULL-terminated array of pointers at `address` (without the NULL).
    ///
    /// # Errors
    /// `E2BIG` when `maximum_count` pointers come without a NULL; `EFAULT` when the array
    /// runs into unreadable memory or past the top of the address space.
    pub fn read_pointer_array<F: Frames<Frame = Frame>>(
        &mut self,
        frames: &mut F,
        address: u64,
        maximum_count: usize,
    ) -> Result<Vec<u64>, Errno> {
        let mut pointers = Vec::new();
        let mut cursor = address;
        loop {
            let pointer = self.read_u64(frames, cursor)?;
            if pointer == 0 {
                return Ok(pointers);
            }
            if pointers.len() >= maximum_count {
                return Err(Errno::E2BIG);
            }
            pointers.push(pointer);
            cursor = cursor.checked_add(8).ok_or(Errno::EFAULT)?;
        }
    }

    /// Reads `execve`'s argument and environment arrays with Linux's limits: a NULL array is
    /// empty, each string may hold at most [`ARGUMENT_STRING_LIMIT`] bytes with its NUL, and
    /// strings plus pointers (argc counted as at least 1) may fill a quarter of the stack
    /// limit, but never less than 128 KiB nor more than 6 MiB (`bprm_stack_limits`).
    ///
    /// # Errors
    /// `E2BIG` when a limit is exceeded, `EFAULT` for an unreadable array or string.
    pub fn read_exec_arguments<F: Frames<Frame = Frame>>(
        &mut self,
        frames: &mut F,
        argv: u64,
        envp: u64,
    ) -> Result<ExecArguments, Errno> {
        let space = argument_space(self.limits.stack);
        // Each pointer takes 8 bytes of the space, which bounds how many are read.
        let maximum_pointers = (space / 8) as usize;
        let argument_pointers = self.read_array_or_empty(frames, argv, maximum_pointers)?;
        let environment_pointers = self.read_array_or_empty(
            frames,
            envp,
            maximum_pointers.saturating_sub(argument_pointers.len()),
        )?;
        let pointer_bytes =
            (argument_pointers.len().max(1) + environment_pointers.len()) as u64 * 8;
        let mut remaining = space.checked_sub(pointer_bytes).ok_or(Errno::E2BIG)?;
        let mut read_strings = |space: &mut Self, pointers: Vec<u64>| {
            let mut strings = Vec::with_capacity(pointers.len());
            for pointer in pointers {
                let string = space
                    .read_c_string(frames, pointer, ARGUMENT_STRING_LIMIT as usize)
                    .map_err(|error| match error {
                        Errno::ENAMETOOLONG => Errno::E2BIG,
                        other => other,
                    })?;
                remaining = remaining
                    .checked_sub(string.len() as u64 + 1)
                    .ok_or(Errno::E2BIG)?;
                strings.push(string);
            }
            Ok::<_, Errno>(strings)
        };
        let arguments = read_strings(self, argument_pointers)?;
        let environment = read_strings(self, environment_pointers)?;
        Ok(ExecArguments {
            arguments,
            environment,
        })
    }

    /// [`AddressSpace::read_pointer_array`], with a NULL `address` meaning an empty array.
    fn read_array_or_empty<F: Frames<Frame = Frame>>(
        &mut self,
        frames: &mut F,
        address: u64,
        maximum_count: usize,
    ) -> Result<Vec<u64>, Errno> {
        if address == 0 {
            Ok(Vec::new())
        } else {
            self.read_pointer_array(frames, address, maximum_count)
        }
    }
}
