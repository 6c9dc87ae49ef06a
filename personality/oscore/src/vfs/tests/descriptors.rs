//! Descriptor tables: numbering, `close`, `close_range`, `dup`, `dup3`, `fcntl`, `fork` and
//! `exec`.

use std::rc::Rc;

use linux_abi::errno::Errno;
use linux_abi::file::{
    F_DUPFD, F_DUPFD_CLOEXEC, F_GETFD, F_GETFL, F_GETLK, F_SETFD, F_SETFL, FD_CLOEXEC, O_APPEND,
    O_CLOEXEC, O_DIRECT, O_LARGEFILE, O_NONBLOCK, O_PATH, O_RDONLY, O_RDWR, O_WRONLY, SEEK_CUR,
};

use super::super::{
    CLOSE_RANGE_CLOEXEC, CLOSE_RANGE_UNSHARE, DEFAULT_DESCRIPTOR_LIMIT, DescriptorTable,
};
use super::Fixture;

#[test]
fn close_frees_the_number_and_a_second_close_is_ebadf() {
    let mut fixture = Fixture::new();
    let fd = fixture.open("/etc/passwd", O_RDONLY).unwrap();
    let description = fixture.table.close(fd).unwrap();
    assert_eq!(
        Rc::strong_count(&description),
        1,
        "the table held the last other reference"
    );
    assert_eq!(fixture.table.close(fd).unwrap_err(), Errno::EBADF);
    assert_eq!(fixture.table.close(-1).unwrap_err(), Errno::EBADF);
    assert_eq!(fixture.table.close(1 << 30).unwrap_err(), Errno::EBADF);
    assert_eq!(fixture.read(fd, 1), Err(Errno::EBADF));
    assert_eq!(fixture.open("/etc/motd", O_RDONLY), Ok(fd));
}

#[test]
fn dup_gives_the_lowest_free_number_and_shares_the_offset() {
    let mut fixture = Fixture::new();
    let first = fixture.open("/etc/passwd", O_RDONLY | O_CLOEXEC).unwrap();
    let second = fixture.table.dup(first).unwrap();
    assert_eq!(second, first + 1);
    assert_eq!(fixture.read(first, 5).unwrap(), b"root:");
    assert_eq!(fixture.read(second, 2).unwrap(), b"x:");
    assert_eq!(fixture.vfs.lseek(&fixture.table, first, 0, SEEK_CUR), Ok(7));
    // The copy does not inherit close-on-exec.
    assert_eq!(fixture.table.is_close_on_exec(second), Ok(false));
    assert_eq!(fixture.table.dup(42), Err(Errno::EBADF));
}

#[test]
fn dup3_replaces_what_the_target_held() {
    let mut fixture = Fixture::new();
    let passwd = fixture.open("/etc/passwd", O_RDONLY).unwrap();
    let motd = fixture.open("/etc/motd", O_RDONLY).unwrap();
    assert_eq!(fixture.table.dup3(passwd, motd, O_CLOEXEC), Ok(motd));
    assert_eq!(fixture.read(motd, 5).unwrap(), b"root:");
    assert_eq!(fixture.table.is_close_on_exec(motd), Ok(true));
    assert_eq!(fixture.table.dup3(passwd, 100, 0), Ok(100));
    assert_eq!(fixture.table.is_close_on_exec(100), Ok(false));
    assert_eq!(fixture.read(100, 2).unwrap(), b"x:");
}

#[test]
fn dup3_with_equal_numbers_or_flags_other_than_o_cloexec_is_einval() {
    let mut fixture = Fixture::new();
    let fd = fixture.open("/etc/passwd", O_RDONLY).unwrap();
    assert_eq!(fixture.table.dup3(fd, fd, 0), Err(Errno::EINVAL));
    assert_eq!(fixture.table.dup3(fd, 5, O_NONBLOCK), Err(Errno::EINVAL));
    // EINVAL comes before the descriptor checks.
    assert_eq!(fixture.table.dup3(9, 9, 0), Err(Errno::EINVAL));
}

#[test]
fn dup3_to_a_number_outside_the_table_or_from_a_closed_one_is_ebadf() {
    let mut fixture = Fixture::new();
    let fd = fixture.open("/etc/passwd", O_RDONLY).unwrap();
    assert_eq!(fixture.table.dup3(fd, 1024, 0), Err(Errno::EBADF));
    assert_eq!(fixture.table.dup3(fd, -1, 0), Err(Errno::EBADF));
    assert_eq!(fixture.table.dup3(7, 8, 0), Err(Errno::EBADF));
    assert_eq!(fixture.table.dup3(fd, 1023, 0), Ok(1023));
}

#[test]
fn f_dupfd_gives_the_lowest_free_number_at_or_above_the_argument() {
    let mut fixture = Fixture::new();
    let fd = fixture.open("/etc/passwd", O_RDONLY).unwrap();
    assert_eq!(fixture.table.fcntl(fd, F_DUPFD, 10), Ok(10));
    assert_eq!(fixture.table.fcntl(fd, F_DUPFD, 10), Ok(11));
    assert_eq!(fixture.table.fcntl(fd, F_DUPFD, 0), Ok(1));
    assert_eq!(fixture.table.fcntl(fd, F_DUPFD_CLOEXEC, 10), Ok(12));
    assert_eq!(fixture.table.is_close_on_exec(12), Ok(true));
    assert_eq!(fixture.table.is_close_on_exec(11), Ok(false));
    // Only the low 32 bits of the argument count.
    assert_eq!(fixture.table.fcntl(fd, F_DUPFD, (1 << 32) | 20), Ok(20));
}

#[test]
fn f_dupfd_from_the_limit_up_is_einval_and_a_full_range_is_emfile() {
    let mut fixture = Fixture::new();
    let fd = fixture.open("/etc/passwd", O_RDONLY).unwrap();
    assert_eq!(fixture.table.fcntl(fd, F_DUPFD, 1024), Err(Errno::EINVAL));
    assert_eq!(
        fixture.table.fcntl(fd, F_DUPFD, u64::MAX),
        Err(Errno::EINVAL)
    );
    assert_eq!(fixture.table.fcntl(fd, F_DUPFD, 1023), Ok(1023));
    assert_eq!(fixture.table.fcntl(fd, F_DUPFD, 1023), Err(Errno::EMFILE));
}

#[test]
fn f_getfd_and_f_setfd_carry_fd_cloexec_only() {
    let mut fixture = Fixture::new();
    let fd = fixture.open("/etc/passwd", O_RDONLY).unwrap();
    assert_eq!(fixture.table.fcntl(fd, F_GETFD, 0), Ok(0));
    assert_eq!(
        fixture.table.fcntl(fd, F_SETFD, u64::from(FD_CLOEXEC)),
        Ok(0)
    );
    assert_eq!(
        fixture.table.fcntl(fd, F_GETFD, 0),
        Ok(u64::from(FD_CLOEXEC))
    );
    assert_eq!(fixture.table.fcntl(fd, F_SETFD, 2), Ok(0));
    assert_eq!(fixture.table.fcntl(fd, F_GETFD, 0), Ok(0));
}

#[test]
fn f_getfl_reports_the_access_mode_and_status_flags() {
    let mut fixture = Fixture::new();
    let read_only = fixture.open("/etc/passwd", O_RDONLY).unwrap();
    let write_only = fixture.open("/dev/null", O_WRONLY | O_APPEND).unwrap();
    let read_write = fixture.open("/dev/zero", O_RDWR | O_NONBLOCK).unwrap();
    assert_eq!(
        fixture.table.fcntl(read_only, F_GETFL, 0),
        Ok(u64::from(O_RDONLY | O_LARGEFILE))
    );
    assert_eq!(
        fixture.table.fcntl(write_only, F_GETFL, 0),
        Ok(u64::from(O_WRONLY | O_APPEND | O_LARGEFILE))
    );
    assert_eq!(
        fixture.table.fcntl(read_write, F_GETFL, 0),
        Ok(u64::from(O_RDWR | O_NONBLOCK | O_LARGEFILE))
    );
}

#[test]
fn f_setfl_changes_only_o_append_and_o_nonblock_and_every_sharer_sees_it() {
    let mut fixture = Fixture::new();
    let fd = fixture.open("/dev/null", O_WRONLY | O_APPEND).unwrap();
    let copy = fixture.table.dup(fd).unwrap();
    let requested = O_NONBLOCK | O_RDWR | O_DIRECT | O_CLOEXEC;
    assert_eq!(
        fixture.table.fcntl(fd, F_SETFL, u64::from(requested)),
        Ok(0)
    );
    assert_eq!(
        fixture.table.fcntl(copy, F_GETFL, 0),
        Ok(u64::from(O_WRONLY | O_NONBLOCK | O_LARGEFILE))
    );
    assert!(fixture.table.get(copy).unwrap().is_nonblocking());
    assert!(!fixture.table.get(copy).unwrap().is_append());
}

#[test]
fn unknown_fcntl_commands_are_einval_and_closed_descriptors_ebadf() {
    let mut fixture = Fixture::new();
    let fd = fixture.open("/etc/passwd", O_RDONLY).unwrap();
    assert_eq!(fixture.table.fcntl(fd, 9999, 0), Err(Errno::EINVAL));
    assert_eq!(fixture.table.fcntl(fd, F_GETLK, 0), Err(Errno::EINVAL));
    assert_eq!(fixture.table.fcntl(5, F_GETFD, 0), Err(Errno::EBADF));
    assert_eq!(fixture.table.fcntl(-3, F_GETFL, 0), Err(Errno::EBADF));
}

#[test]
fn o_path_descriptors_allow_only_the_five_descriptor_commands() {
    let mut fixture = Fixture::new();
    let fd = fixture.open("/etc", O_PATH).unwrap();
    assert_eq!(fixture.table.fcntl(fd, F_DUPFD, 0), Ok(1));
    assert_eq!(fixture.table.fcntl(fd, F_DUPFD_CLOEXEC, 0), Ok(2));
    assert_eq!(fixture.table.fcntl(fd, F_SETFD, 1), Ok(0));
    assert_eq!(fixture.table.fcntl(fd, F_GETFD, 0), Ok(1));
    assert_eq!(fixture.table.fcntl(fd, F_GETFL, 0), Ok(u64::from(O_PATH)));
    assert_eq!(fixture.table.fcntl(fd, F_SETFL, 0), Err(Errno::EBADF));
    assert_eq!(fixture.table.fcntl(fd, 9999, 0), Err(Errno::EBADF));
}

#[test]
fn a_forked_table_shares_descriptions_and_offsets_but_not_slots() {
    let mut fixture = Fixture::new();
    let fd = fixture.open("/etc/passwd", O_RDONLY | O_CLOEXEC).unwrap();
    let mut child = fixture.table.clone_for_fork();
    assert!(Rc::ptr_eq(
        fixture.table.get(fd).unwrap(),
        child.get(fd).unwrap()
    ));
    assert_eq!(child.is_close_on_exec(fd), Ok(true));

    let mut buffer = [0; 5];
    fixture.vfs.read(&child, fd, &mut buffer).unwrap();
    assert_eq!(
        fixture.read(fd, 2).unwrap(),
        b"x:",
        "the parent continues where the child stopped"
    );

    child.close(fd).unwrap();
    assert!(
        fixture.table.get(fd).is_ok(),
        "closing in the child leaves the parent's open"
    );
    assert_eq!(child.limit(), fixture.table.limit());
}

#[test]
fn close_on_exec_closes_exactly_the_flagged_descriptors() {
    let mut fixture = Fixture::new();
    let kept = fixture.open("/etc/passwd", O_RDONLY).unwrap();
    let closed = fixture.open("/etc/motd", O_RDONLY | O_CLOEXEC).unwrap();
    let also_closed = fixture.table.fcntl(kept, F_DUPFD_CLOEXEC, 5).unwrap();
    let descriptions = fixture.table.close_on_exec();
    assert_eq!(descriptions.len(), 2);
    assert!(fixture.table.get(kept).is_ok());
    assert_eq!(fixture.table.get(closed).unwrap_err(), Errno::EBADF);
    assert_eq!(
        fixture
            .table
            .get(i32::try_from(also_closed).unwrap())
            .unwrap_err(),
        Errno::EBADF
    );
    assert_eq!(fixture.table.open_count(), 1);
}

#[test]
fn descriptors_are_listed_in_order_and_close_all_empties_the_table() {
    let mut fixture = Fixture::new();
    fixture.open("/etc/passwd", O_RDONLY).unwrap();
    fixture.open("/etc/motd", O_RDONLY).unwrap();
    fixture.table.dup3(0, 7, 0).unwrap();
    fixture.table.close(1).unwrap();
    let numbers: Vec<i32> = fixture.table.descriptors().map(|(fd, _)| fd).collect();
    assert_eq!(numbers, [0, 7]);
    let descriptions = fixture.table.close_all();
    assert_eq!(descriptions.len(), 2);
    assert!(Rc::ptr_eq(&descriptions[0], &descriptions[1]));
    assert_eq!(fixture.table.open_count(), 0);
    assert_eq!(fixture.table.descriptors().count(), 0);
}

#[test]
fn a_table_holds_1024_descriptors_by_default_then_answers_emfile() {
    let mut fixture = Fixture::new();
    assert_eq!(fixture.table.limit(), DEFAULT_DESCRIPTOR_LIMIT);
    let first = fixture.open("/etc/passwd", O_RDONLY).unwrap();
    for expected in 1..1024 {
        assert_eq!(fixture.table.dup(first), Ok(expected));
    }
    assert_eq!(fixture.table.dup(first), Err(Errno::EMFILE));
    assert_eq!(fixture.open("/etc/motd", O_RDONLY), Err(Errno::EMFILE));
    fixture.table.close(500).unwrap();
    assert_eq!(fixture.table.dup(first), Ok(500));
}

#[test]
fn the_limit_can_be_lowered_or_raised_up_to_nr_open() {
    let mut table = DescriptorTable::default();
    assert_eq!(table.set_limit(1 << 20), Ok(()));
    assert_eq!(table.set_limit((1 << 20) + 1), Err(Errno::EPERM));
    assert_eq!(table.limit(), 1 << 20);
    let mut fixture = Fixture::new();
    let fd = fixture.open("/etc/passwd", O_RDONLY).unwrap();
    fixture.table.dup3(fd, 10, 0).unwrap();
    fixture.table.set_limit(5).unwrap();
    assert!(
        fixture.table.get(10).is_ok(),
        "lowering the limit closes nothing"
    );
    assert_eq!(fixture.table.dup3(fd, 5, 0), Err(Errno::EBADF));
}

#[test]
fn close_range_closes_or_marks_the_open_descriptors_of_a_range() {
    let mut fixture = Fixture::new();
    for _ in 0..6 {
        fixture.open("/etc/motd", O_RDONLY).unwrap();
    }
    let closed = fixture.table.close_range(1, 2, 0).unwrap();
    assert_eq!(closed.len(), 2);
    assert!(fixture.table.get(0).is_ok() && fixture.table.get(3).is_ok());
    assert_eq!(
        fixture
            .table
            .close_range(4, u32::MAX, CLOSE_RANGE_CLOEXEC)
            .map(|closed| closed.len()),
        Ok(0)
    );
    assert_eq!(fixture.table.is_close_on_exec(4), Ok(true));
    assert_eq!(fixture.table.is_close_on_exec(5), Ok(true));
    assert_eq!(fixture.table.is_close_on_exec(3), Ok(false));
    let closed = fixture
        .table
        .close_range(3, u32::MAX, CLOSE_RANGE_UNSHARE)
        .unwrap();
    assert_eq!(closed.len(), 3, "3, 4 and 5; nothing past the table");
    assert_eq!(fixture.table.open_count(), 1);
    assert_eq!(
        fixture
            .table
            .close_range(0, 100, 0)
            .map(|closed| closed.len()),
        Ok(1)
    );
    assert_eq!(
        fixture
            .table
            .close_range(10, 20, 0)
            .map(|closed| closed.len()),
        Ok(0)
    );
}

#[test]
fn close_range_refuses_unknown_flags_and_an_empty_range() {
    let mut fixture = Fixture::new();
    fixture.open("/etc/motd", O_RDONLY).unwrap();
    assert_eq!(
        fixture.table.close_range(0, 10, 1).unwrap_err(),
        Errno::EINVAL
    );
    assert_eq!(
        fixture.table.close_range(0, 10, 8).unwrap_err(),
        Errno::EINVAL
    );
    assert_eq!(
        fixture.table.close_range(5, 4, 0).unwrap_err(),
        Errno::EINVAL
    );
    assert_eq!(fixture.table.open_count(), 1, "nothing was closed");
}
