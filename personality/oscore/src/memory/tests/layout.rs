//! The layout's checks, and protections turned into rights.

use linux_abi::memory::{PROT_BTI, PROT_EXEC, PROT_NONE, PROT_READ, PROT_WRITE};

use crate::memory::{
    Access, DEFAULT_MMAP_BASE, DEFAULT_RESERVED, DEFAULT_STACK_TOP, Layout, LayoutError,
    LayoutSettings, MAXIMUM_USER_END, PAGE_SIZE, Protection, Rights,
};

#[test]
fn the_default_layout_passes_its_own_checks() {
    let checked = Layout::new(LayoutSettings::default()).unwrap();
    assert_eq!(checked, Layout::default());
    assert_eq!(checked.reserved(), &[DEFAULT_RESERVED]);
    assert!(checked.stack_top() <= DEFAULT_RESERVED.start);
    assert!(checked.user_end() <= 1 << 47);
}

#[test]
fn a_reserved_range_between_the_mmap_base_and_the_stack_top_is_refused() {
    let inside = DEFAULT_MMAP_BASE + PAGE_SIZE..DEFAULT_MMAP_BASE + 2 * PAGE_SIZE;
    assert_eq!(
        Layout::with_reserved(vec![inside.clone()]),
        Err(LayoutError::ReservedRangeInStack { range: inside })
    );
    let touching_the_top = DEFAULT_STACK_TOP - PAGE_SIZE..DEFAULT_STACK_TOP + PAGE_SIZE;
    assert!(Layout::with_reserved(vec![touching_the_top]).is_err());
    // Right above the stack top is fine: that is where the UTCB area goes.
    let above_the_top = DEFAULT_STACK_TOP..DEFAULT_STACK_TOP + PAGE_SIZE;
    assert!(Layout::with_reserved(vec![above_the_top]).is_ok());
}

#[test]
fn misaligned_unordered_or_empty_settings_are_refused() {
    let misaligned = LayoutSettings {
        mmap_base: DEFAULT_MMAP_BASE + 1,
        ..LayoutSettings::default()
    };
    assert_eq!(
        Layout::new(misaligned),
        Err(LayoutError::Misaligned {
            value: DEFAULT_MMAP_BASE + 1
        })
    );
    let unordered = LayoutSettings {
        static_pie_base: DEFAULT_MMAP_BASE,
        ..LayoutSettings::default()
    };
    assert_eq!(Layout::new(unordered), Err(LayoutError::OutOfOrder));
    let beyond_the_hardware = LayoutSettings {
        user_end: MAXIMUM_USER_END + PAGE_SIZE,
        ..LayoutSettings::default()
    };
    assert_eq!(
        Layout::new(beyond_the_hardware),
        Err(LayoutError::OutOfOrder)
    );
    let page_zero = LayoutSettings {
        minimum_address: 0,
        ..LayoutSettings::default()
    };
    assert_eq!(Layout::new(page_zero), Err(LayoutError::OutOfOrder));
    let empty = 0x1000_0000..0x1000_0000;
    assert_eq!(
        Layout::with_reserved(vec![empty]),
        Err(LayoutError::EmptyReservedRange {
            range: 0x1000_0000..0x1000_0000
        })
    );
}

#[test]
fn write_only_and_execute_only_protections_are_mapped_readable() {
    let write_only = Protection::from_bits(PROT_WRITE).unwrap();
    assert_eq!(write_only.rights(), Rights::READ_WRITE);
    assert!(write_only.allows(Access::Read) && write_only.allows(Access::Write));
    assert!(!write_only.allows(Access::Execute));
    let execute_only = Protection::from_bits(PROT_EXEC).unwrap();
    assert_eq!(execute_only.rights(), Rights::READ_EXECUTE);
    assert!(!execute_only.allows(Access::Write));
    assert_eq!(Protection::NONE.rights(), Rights::NONE);
    for access in [Access::Read, Access::Write, Access::Execute] {
        assert!(!Protection::NONE.allows(access));
    }
}

#[test]
fn unknown_protection_bits_are_refused_but_prot_sem_is_ignored() {
    assert_eq!(
        Protection::from_bits(PROT_READ | 0x8),
        Some(Protection::READ)
    );
    assert_eq!(Protection::from_bits(PROT_READ | PROT_BTI), None);
    assert_eq!(Protection::from_bits(0x0100_0000), None, "PROT_GROWSDOWN");
    assert_eq!(Protection::from_bits(PROT_NONE), Some(Protection::NONE));
    assert_eq!(
        Protection::from_bits(PROT_READ | PROT_WRITE | PROT_EXEC),
        Some(Protection::READ_WRITE_EXECUTE)
    );
}

#[test]
fn rights_use_the_flexpage_bit_values() {
    assert_eq!(Rights::READ.bits(), 0b100);
    assert_eq!(Rights::WRITE.bits(), 0b010);
    assert_eq!(Rights::EXECUTE.bits(), 0b001);
    assert_eq!(Rights::ALL.without(Rights::WRITE), Rights::READ_EXECUTE);
    assert_eq!(format!("{:?}", Rights::READ_WRITE), "Rights(rw-)");
}
