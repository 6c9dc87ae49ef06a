//! The checked user-memory copies of the system-call dispatcher.

use linux_abi::errno::Errno;
use linux_abi::memory::{MAP_FIXED, MAP_GROWSDOWN, PROT_NONE, PROT_READ, PROT_WRITE};

use super::{PAGE, PRIVATE, READ_WRITE, finish, map_anonymous, new_space};
use crate::memory::testing::VecFrames;
use crate::memory::{ARGUMENT_STRING_LIMIT, DEFAULT_USER_END, ExecArguments, MemoryLimits, Rights};

#[test]
fn a_write_then_a_read_round_trip_across_a_page_boundary() {
    let mut frames = VecFrames::new();
    let mut space = new_space();
    let start = map_anonymous(&mut space, &mut frames, 3, READ_WRITE);
    let data: Vec<u8> = (0..=255).cycle().take(4000).collect();
    let address = start + PAGE - 100;
    space.write(&mut frames, address, &data).unwrap();
    let mut back = vec![0; data.len()];
    space.read(&mut frames, address, &mut back).unwrap();
    assert_eq!(back, data);
    assert_eq!(space.resident_page_count(), 2);
    finish(space, &mut frames);
}

#[test]
fn a_read_that_runs_into_an_unmapped_page_is_efault_and_copies_nothing() {
    let mut frames = VecFrames::new();
    let mut space = new_space();
    let start = map_anonymous(&mut space, &mut frames, 1, READ_WRITE);
    space.write(&mut frames, start + PAGE - 4, b"abcd").unwrap();
    let mut buffer = [0x55; 8];
    assert_eq!(
        space.read(&mut frames, start + PAGE - 4, &mut buffer),
        Err(Errno::EFAULT)
    );
    assert_eq!(buffer, [0x55; 8]);
    let mut exact = [0; 4];
    space
        .read(&mut frames, start + PAGE - 4, &mut exact)
        .unwrap();
    assert_eq!(&exact, b"abcd", "up to the last mapped byte is fine");
    finish(space, &mut frames);
}

#[test]
fn a_copy_across_an_unmapped_gap_between_two_areas_is_efault() {
    let mut frames = VecFrames::new();
    let mut space = new_space();
    let high = map_anonymous(&mut space, &mut frames, 1, READ_WRITE);
    space
        .mmap(
            &mut frames,
            high - 2 * PAGE,
            PAGE,
            READ_WRITE,
            PRIVATE | MAP_FIXED,
        )
        .unwrap();
    assert_eq!(
        space.write(&mut frames, high - PAGE - 8, &[1; PAGE as usize + 16]),
        Err(Errno::EFAULT)
    );
    assert_eq!(
        space.resident_page_count(),
        1,
        "the page before the gap was populated"
    );
    let mut byte = [0xff];
    space.read(&mut frames, high - PAGE - 1, &mut byte).unwrap();
    assert_eq!(byte, [0], "but nothing was written");
    finish(space, &mut frames);
}

#[test]
fn a_write_to_a_read_only_page_is_efault_and_writes_nothing() {
    let mut frames = VecFrames::new();
    let mut space = new_space();
    let start = map_anonymous(&mut space, &mut frames, 2, READ_WRITE);
    space
        .mprotect(&mut frames, start + PAGE, PAGE, PROT_READ)
        .unwrap();
    assert_eq!(
        space.write(&mut frames, start + PAGE - 2, b"abcd"),
        Err(Errno::EFAULT)
    );
    let mut before = [0xff; 2];
    space
        .read(&mut frames, start + PAGE - 2, &mut before)
        .unwrap();
    assert_eq!(before, [0, 0]);
    finish(space, &mut frames);
}

#[test]
fn prot_none_and_write_only_memory_behave_as_the_client_would_see_them() {
    let mut frames = VecFrames::new();
    let mut space = new_space();
    let none = map_anonymous(&mut space, &mut frames, 1, PROT_NONE);
    assert_eq!(space.read(&mut frames, none, &mut [0]), Err(Errno::EFAULT));
    assert_eq!(space.write(&mut frames, none, &[0]), Err(Errno::EFAULT));
    let write_only = map_anonymous(&mut space, &mut frames, 1, PROT_WRITE);
    space.write(&mut frames, write_only, b"w").unwrap();
    let mut back = [0];
    space.read(&mut frames, write_only, &mut back).unwrap();
    assert_eq!(&back, b"w");
    finish(space, &mut frames);
}

#[test]
fn ranges_that_wrap_around_or_leave_the_user_range_are_efault() {
    let mut frames = VecFrames::new();
    let mut space = new_space();
    let mut buffer = [0; 16];
    assert_eq!(
        space.read(&mut frames, u64::MAX - 7, &mut buffer),
        Err(Errno::EFAULT)
    );
    assert_eq!(
        space.read(&mut frames, 1 << 48, &mut buffer),
        Err(Errno::EFAULT)
    );
    assert_eq!(
        space.read(&mut frames, DEFAULT_USER_END - 8, &mut buffer),
        Err(Errno::EFAULT)
    );
    assert_eq!(
        space.write(&mut frames, u64::MAX, &buffer),
        Err(Errno::EFAULT)
    );
    assert_eq!(space.read(&mut frames, 0, &mut buffer), Err(Errno::EFAULT));
    finish(space, &mut frames);
}

#[test]
fn a_zero_length_copy_succeeds_anywhere() {
    let mut frames = VecFrames::new();
    let mut space = new_space();
    assert_eq!(space.read(&mut frames, 0, &mut []), Ok(()));
    assert_eq!(space.write(&mut frames, 0x1234_5678, &[]), Ok(()));
    assert_eq!(frames.live_count(), 0);
    finish(space, &mut frames);
}

#[test]
fn reading_an_untouched_page_populates_it_for_the_client() {
    let mut frames = VecFrames::new();
    let mut space = new_space();
    let start = map_anonymous(&mut space, &mut frames, 1, READ_WRITE);
    space.read(&mut frames, start + 10, &mut [0; 4]).unwrap();
    let mapping = space.mapping(start).expect("populated");
    assert_eq!(mapping.rights, Rights::READ_WRITE);
    finish(space, &mut frames);
}

#[test]
fn a_server_write_just_below_a_stack_grows_it() {
    let mut frames = VecFrames::new();
    let mut space = new_space();
    let top = 0x7000_0000_0000;
    space
        .mmap(
            &mut frames,
            top - PAGE,
            PAGE,
            READ_WRITE,
            PRIVATE | MAP_FIXED | MAP_GROWSDOWN,
        )
        .unwrap();
    space
        .write(&mut frames, top - 3 * PAGE + 8, b"deep")
        .unwrap();
    assert_eq!(space.areas().next().unwrap().range.start, top - 3 * PAGE);
    finish(space, &mut frames);
}

#[test]
fn read_c_string_finds_a_string_across_a_page_boundary() {
    let mut frames = VecFrames::new();
    let mut space = new_space();
    let start = map_anonymous(&mut space, &mut frames, 2, READ_WRITE);
    let address = start + PAGE - 3;
    space.write(&mut frames, address, b"/bin/sh\0junk").unwrap();
    assert_eq!(
        space.read_c_string(&mut frames, address, 4096).unwrap(),
        b"/bin/sh"
    );
    assert_eq!(
        space.read_c_string(&mut frames, address + 7, 4096).unwrap(),
        b""
    );
    finish(space, &mut frames);
}

#[test]
fn read_c_string_is_enametoolong_without_a_nul_within_the_limit() {
    let mut frames = VecFrames::new();
    let mut space = new_space();
    let start = map_anonymous(&mut space, &mut frames, 1, READ_WRITE);
    space.write(&mut frames, start, b"abcd\0").unwrap();
    assert_eq!(space.read_c_string(&mut frames, start, 5).unwrap(), b"abcd");
    assert_eq!(
        space.read_c_string(&mut frames, start, 4),
        Err(Errno::ENAMETOOLONG)
    );
    assert_eq!(
        space.read_c_string(&mut frames, start, 0),
        Err(Errno::ENAMETOOLONG)
    );
    finish(space, &mut frames);
}

#[test]
fn read_c_string_is_efault_when_the_string_runs_into_unmapped_memory() {
    let mut frames = VecFrames::new();
    let mut space = new_space();
    let start = map_anonymous(&mut space, &mut frames, 1, READ_WRITE);
    space.write(&mut frames, start + PAGE - 3, b"abc").unwrap();
    assert_eq!(
        space.read_c_string(&mut frames, start + PAGE - 3, 4096),
        Err(Errno::EFAULT)
    );
    assert_eq!(
        space.read_c_string(&mut frames, start + PAGE - 3, 3),
        Err(Errno::ENAMETOOLONG),
        "the limit is reached before the unmapped page"
    );
    assert_eq!(
        space.read_c_string(&mut frames, 0, 4096),
        Err(Errno::EFAULT)
    );
    assert_eq!(
        space.read_c_string(&mut frames, u64::MAX, 4096),
        Err(Errno::EFAULT)
    );
    finish(space, &mut frames);
}

#[test]
fn sixty_four_and_thirty_two_bit_values_round_trip_at_any_alignment() {
    let mut frames = VecFrames::new();
    let mut space = new_space();
    let start = map_anonymous(&mut space, &mut frames, 2, READ_WRITE);
    let straddling = start + PAGE - 3;
    space
        .write_u64(&mut frames, straddling, 0x0123_4567_89ab_cdef)
        .unwrap();
    assert_eq!(
        space.read_u64(&mut frames, straddling),
        Ok(0x0123_4567_89ab_cdef)
    );
    let mut bytes = [0; 8];
    space.read(&mut frames, straddling, &mut bytes).unwrap();
    assert_eq!(bytes, 0x0123_4567_89ab_cdef_u64.to_le_bytes());
    space
        .write_u32(&mut frames, start + 1, 0xdead_beef)
        .unwrap();
    assert_eq!(space.read_u32(&mut frames, start + 1), Ok(0xdead_beef));
    assert_eq!(
        space.read_array::<_, 3>(&mut frames, start + 1),
        Ok([0xef, 0xbe, 0xad])
    );
    assert_eq!(
        space.read_u64(&mut frames, start + 2 * PAGE - 4),
        Err(Errno::EFAULT)
    );
    finish(space, &mut frames);
}

/// Writes NUL-terminated strings and a NULL-terminated pointer array to them at `start`;
/// returns the array's address.
fn write_string_array(
    space: &mut crate::memory::AddressSpace<u64>,
    frames: &mut VecFrames,
    start: u64,
    strings: &[&[u8]],
) -> u64 {
    let mut cursor = start;
    let mut pointers = Vec::new();
    for string in strings {
        space.write(frames, cursor, string).unwrap();
        space
            .write(frames, cursor + string.len() as u64, &[0])
            .unwrap();
        pointers.push(cursor);
        cursor += string.len() as u64 + 1;
    }
    let array = (cursor + 7) & !7;
    for (index, pointer) in pointers.iter().chain([0].iter()).enumerate() {
        space
            .write_u64(frames, array + index as u64 * 8, *pointer)
            .unwrap();
    }
    array
}

#[test]
fn read_pointer_array_stops_at_null_and_is_e2big_beyond_the_maximum() {
    let mut frames = VecFrames::new();
    let mut space = new_space();
    let start = map_anonymous(&mut space, &mut frames, 1, READ_WRITE);
    for (index, value) in [11, 22, 33, 0].into_iter().enumerate() {
        space
            .write_u64(&mut frames, start + index as u64 * 8, value)
            .unwrap();
    }
    assert_eq!(
        space.read_pointer_array(&mut frames, start, 3),
        Ok(vec![11, 22, 33])
    );
    assert_eq!(
        space.read_pointer_array(&mut frames, start, 2),
        Err(Errno::E2BIG)
    );
    assert_eq!(
        space.read_pointer_array(&mut frames, start + PAGE - 8, 100),
        Ok(vec![]),
        "untouched memory reads as a NULL"
    );
    space.write_u64(&mut frames, start + PAGE - 8, 5).unwrap();
    assert_eq!(
        space.read_pointer_array(&mut frames, start + PAGE - 8, 100),
        Err(Errno::EFAULT),
        "the array runs off the mapping"
    );
    finish(space, &mut frames);
}

#[test]
fn read_exec_arguments_reads_argv_and_envp() {
    let mut frames = VecFrames::new();
    let mut space = new_space();
    let start = map_anonymous(&mut space, &mut frames, 2, READ_WRITE);
    let argv = write_string_array(&mut space, &mut frames, start, &[b"ls", b"-l", b""]);
    let envp = write_string_array(&mut space, &mut frames, start + PAGE, &[b"PATH=/bin"]);
    let read = space.read_exec_arguments(&mut frames, argv, envp).unwrap();
    assert_eq!(
        read,
        ExecArguments {
            arguments: vec![b"ls".to_vec(), b"-l".to_vec(), vec![]],
            environment: vec![b"PATH=/bin".to_vec()],
        }
    );
    assert_eq!(read.argument_slices(), [&b"ls"[..], b"-l", b""]);
    assert_eq!(
        space.read_exec_arguments(&mut frames, 0, 0),
        Ok(ExecArguments::default()),
        "NULL arrays are empty"
    );
    assert_eq!(
        space.read_exec_arguments(&mut frames, 0x1000_0000, 0),
        Err(Errno::EFAULT)
    );
    finish(space, &mut frames);
}

#[test]
fn read_exec_arguments_refuses_an_overlong_string_with_e2big() {
    let mut frames = VecFrames::new();
    let mut space = new_space();
    let pages = ARGUMENT_STRING_LIMIT / PAGE + 2;
    let start = map_anonymous(&mut space, &mut frames, pages, READ_WRITE);
    let long = vec![b'a'; ARGUMENT_STRING_LIMIT as usize];
    let argv = write_string_array(&mut space, &mut frames, start, &[&long]);
    assert_eq!(
        space.read_exec_arguments(&mut frames, argv, 0),
        Err(Errno::E2BIG)
    );
    let fits = write_string_array(&mut space, &mut frames, start, &[&long[1..]]);
    assert!(space.read_exec_arguments(&mut frames, fits, 0).is_ok());
    finish(space, &mut frames);
}

#[test]
fn read_exec_arguments_refuses_more_than_the_argument_space_with_e2big() {
    let mut frames = VecFrames::new();
    let mut space = new_space();
    // A 512 KiB stack limit leaves the 128 KiB minimum for arguments.
    space.set_limits(MemoryLimits {
        stack: 512 * 1024,
        ..MemoryLimits::default()
    });
    let start = map_anonymous(&mut space, &mut frames, 64, READ_WRITE);
    let string = vec![b'x'; 60 * 1024];
    let two = write_string_array(&mut space, &mut frames, start, &[&string, &string]);
    assert!(space.read_exec_arguments(&mut frames, two, 0).is_ok());
    let three = write_string_array(&mut space, &mut frames, start, &[&string, &string, &string]);
    assert_eq!(
        space.read_exec_arguments(&mut frames, three, 0),
        Err(Errno::E2BIG)
    );
    finish(space, &mut frames);
}
