//! Host tests of the translation table builder, over a `Vec`-backed table memory.

use std::collections::BTreeMap;

use super::*;

/// Where the fake hands out "physical" table addresses from.
const TABLE_MEMORY_BASE: u64 = 0x8_0000_0000;

/// A table memory with the semantics of the real one: distinct 4 KiB-aligned physical
/// addresses, zeroed tables, a fixed capacity after which allocation fails.
struct FakeTableMemory {
    tables: Vec<Box<PageTable>>,
    capacity: usize,
}

impl FakeTableMemory {
    fn with_capacity(capacity: usize) -> FakeTableMemory {
        FakeTableMemory {
            tables: Vec::new(),
            capacity,
        }
    }

    /// A memory with room for plenty of tables, and its root table.
    fn with_root() -> (FakeTableMemory, u64) {
        let mut memory = FakeTableMemory::with_capacity(4096);
        let root = memory.allocate_table().expect("room for the root");
        (memory, root)
    }

    fn tables_allocated(&self) -> usize {
        self.tables.len()
    }

    fn snapshot(&self) -> Vec<PageTable> {
        self.tables.iter().map(|table| (**table).clone()).collect()
    }

    /// Whether the tables hold the same descriptors as in `snapshot`, ignoring tables
    /// added since that are empty.
    fn matches_snapshot(&self, snapshot: &[PageTable]) -> bool {
        let (old, new) = self.tables.split_at(snapshot.len().min(self.tables.len()));
        old.len() == snapshot.len()
            && old
                .iter()
                .zip(snapshot)
                .all(|(table, saved)| **table == *saved || only_empty_tables_added(table, saved))
            && new.iter().all(|table| {
                table
                    .entries
                    .iter()
                    .all(|descriptor| *descriptor == 0 || is_table_descriptor(*descriptor))
            })
    }
}

/// Whether `table` differs from `saved` only by table descriptors written into entries
/// that were invalid.
fn only_empty_tables_added(table: &PageTable, saved: &PageTable) -> bool {
    table
        .entries
        .iter()
        .zip(&saved.entries)
        .all(|(now, before)| now == before || (*before == 0 && is_table_descriptor(*now)))
}

fn is_table_descriptor(descriptor: u64) -> bool {
    descriptor & 0b11 == 0b11
}

impl TableMemory for FakeTableMemory {
    fn allocate_table(&mut self) -> Option<u64> {
        if self.tables.len() >= self.capacity {
            return None;
        }
        let address = TABLE_MEMORY_BASE + self.tables.len() as u64 * PAGE_SIZE;
        self.tables.push(Box::new(PageTable::new()));
        Some(address)
    }

    fn table(&mut self, table: u64) -> &mut PageTable {
        assert_eq!(table % PAGE_SIZE, 0, "table address {table:#x} not aligned");
        let number = (table - TABLE_MEMORY_BASE) / PAGE_SIZE;
        &mut self.tables[usize::try_from(number).unwrap()]
    }
}

const GIB: u64 = 1 << 30;
const MIB: u64 = 1 << 20;

#[test]
fn index_splits_a_virtual_address_into_nine_bit_fields() {
    let virt = (0x1a5 << 39) | (0x0f3 << 30) | (0x1ff << 21) | (0x001 << 12) | 0xabc;
    assert_eq!(index(virt, Level::Zero), 0x1a5);
    assert_eq!(index(virt, Level::One), 0x0f3);
    assert_eq!(index(virt, Level::Two), 0x1ff);
    assert_eq!(index(virt, Level::Three), 0x001);
}

#[test]
fn a_high_half_address_has_the_same_indices_as_its_low_half_twin() {
    for level in [Level::Zero, Level::One, Level::Two, Level::Three] {
        assert_eq!(
            index(0xFFFF_0000_4000_0000, level),
            index(0x0000_0000_4000_0000, level)
        );
    }
    assert_eq!(index(0xFFFF_FFFF_FFFF_F000, Level::Zero), 511);
}

#[test]
fn levels_cover_the_architectural_sizes() {
    assert_eq!(Level::Zero.entry_size(), 512 * GIB);
    assert_eq!(Level::One.entry_size(), LEVEL_1_BLOCK_SIZE);
    assert_eq!(Level::Two.entry_size(), LEVEL_2_BLOCK_SIZE);
    assert_eq!(Level::Three.entry_size(), PAGE_SIZE);
    assert_eq!(LEVEL_1_BLOCK_SIZE, GIB);
    assert_eq!(LEVEL_2_BLOCK_SIZE, 2 * MIB);
    for number in 0..4 {
        assert_eq!(Level::from_number(number).unwrap().number(), number);
    }
    assert_eq!(Level::from_number(4), None);
    assert_eq!(Level::Two.to_string(), "level 2");
}

#[test]
fn canonical_addresses_have_bits_63_to_48_all_equal() {
    assert!(is_canonical(0));
    assert!(is_canonical(0x0000_FFFF_FFFF_FFFF));
    assert!(is_canonical(0xFFFF_0000_0000_0000));
    assert!(is_canonical(u64::MAX));
    assert!(!is_canonical(0x0001_0000_0000_0000));
    assert!(!is_canonical(0xFFFE_FFFF_FFFF_FFFF));
    assert!(!is_canonical(0x8000_0000_0000_0000));
}

#[test]
fn mair_holds_normal_device_and_non_cacheable_at_their_attribute_indices() {
    assert_eq!(MAIR_ATTRIBUTES, [0xff, 0x04, 0x44]);
    assert_eq!(mair_el1_value(), 0x0000_0000_0044_04ff);
    assert_eq!(
        MAIR_ATTRIBUTES[usize::from(MemoryType::Normal.attribute_index())],
        0xff
    );
    assert_eq!(
        MAIR_ATTRIBUTES[usize::from(MemoryType::Device.attribute_index())],
        0x04
    );
    assert_eq!(
        MAIR_ATTRIBUTES[usize::from(MemoryType::NormalNonCacheable.attribute_index())],
        0x44
    );
    for memory in [
        MemoryType::Normal,
        MemoryType::Device,
        MemoryType::NormalNonCacheable,
    ] {
        assert_eq!(
            MemoryType::from_attribute_index(memory.attribute_index()),
            Some(memory)
        );
    }
    assert_eq!(MemoryType::from_attribute_index(3), None);
}

#[test]
fn mapped_pages_read_back_through_translate() {
    let (mut memory, root) = FakeTableMemory::with_root();
    map(
        root,
        &mut memory,
        0x40_0000,
        0x8000_0000,
        4 * PAGE_SIZE,
        Attributes::USER_DATA,
        BlockPolicy::PagesOnly,
    )
    .unwrap();
    for page in 0..4 {
        let translation = translate(root, &mut memory, 0x40_0000 + page * PAGE_SIZE).unwrap();
        assert_eq!(translation.phys, 0x8000_0000 + page * PAGE_SIZE);
        assert_eq!(translation.size, PAGE_SIZE);
        assert_eq!(translation.level, Level::Three);
        assert_eq!(translation.attributes, Attributes::USER_DATA);
    }
    assert_eq!(translate(root, &mut memory, 0x40_0000 - PAGE_SIZE), None);
    assert_eq!(
        translate(root, &mut memory, 0x40_0000 + 4 * PAGE_SIZE),
        None
    );
    // Root, level 1, level 2 and level 3 tables.
    assert_eq!(memory.tables_allocated(), 4);
}

#[test]
fn translate_adds_the_offset_within_the_page_or_block() {
    let (mut memory, root) = FakeTableMemory::with_root();
    map(
        root,
        &mut memory,
        0x1000,
        0x5000,
        PAGE_SIZE,
        Attributes::KERNEL_DATA,
        BlockPolicy::PagesOnly,
    )
    .unwrap();
    map(
        root,
        &mut memory,
        0x4000_0000,
        0x8000_0000,
        LEVEL_1_BLOCK_SIZE,
        Attributes::KERNEL_DATA,
        BlockPolicy::LargestFitting,
    )
    .unwrap();
    let page = translate(root, &mut memory, 0x1abc).unwrap();
    assert_eq!(page.phys, 0x5abc);
    assert_eq!(page.unit_phys_base(), 0x5000);
    let block = translate(root, &mut memory, 0x4123_4567).unwrap();
    assert_eq!(block.phys, 0x8123_4567);
    assert_eq!(block.unit_phys_base(), 0x8000_0000);
    assert_eq!(block.level, Level::One);
}

#[test]
fn two_gibibytes_of_aligned_ram_map_as_two_level_1_blocks() {
    let (mut memory, root) = FakeTableMemory::with_root();
    map(
        root,
        &mut memory,
        0x4000_0000,
        0x4000_0000,
        2 * GIB,
        Attributes::KERNEL_DATA,
        BlockPolicy::LargestFitting,
    )
    .unwrap();
    // Only the root and one level 1 table.
    assert_eq!(memory.tables_allocated(), 2);
    for virt in [0x4000_0000, 0x7fff_ffff, 0x8000_0000, 0xbfff_f000] {
        let translation = translate(root, &mut memory, virt).unwrap();
        assert_eq!(translation.level, Level::One);
        assert_eq!(translation.size, LEVEL_1_BLOCK_SIZE);
        assert_eq!(translation.phys, virt);
    }
    assert_eq!(translate(root, &mut memory, 0xc000_0000), None);
    assert_eq!(translate(root, &mut memory, 0x3fff_f000), None);
}

#[test]
fn one_hundred_twenty_eight_mebibytes_map_as_sixty_four_level_2_blocks() {
    let (mut memory, root) = FakeTableMemory::with_root();
    map(
        root,
        &mut memory,
        0x4000_0000,
        0x4000_0000,
        128 * MIB,
        Attributes::KERNEL_DATA,
        BlockPolicy::LargestFitting,
    )
    .unwrap();
    // Root, level 1 and level 2 tables: no level 3 table.
    assert_eq!(memory.tables_allocated(), 3);
    let mut blocks = 0;
    let mut virt = 0x4000_0000;
    while virt < 0x4000_0000 + 128 * MIB {
        let translation = translate(root, &mut memory, virt).unwrap();
        assert_eq!(translation.level, Level::Two);
        assert_eq!(translation.phys, virt);
        blocks += 1;
        virt += translation.size;
    }
    assert_eq!(blocks, 64);
    assert_eq!(translate(root, &mut memory, 0x4000_0000 + 128 * MIB), None);
}

#[test]
fn unaligned_edges_map_as_pages_and_the_aligned_middle_as_blocks() {
    let (mut memory, root) = FakeTableMemory::with_root();
    let (start, end) = (0x4020_1000, 0x4060_0000);
    map(
        root,
        &mut memory,
        start,
        start,
        end - start,
        Attributes::KERNEL_DATA,
        BlockPolicy::LargestFitting,
    )
    .unwrap();
    let mut units = Vec::new();
    let mut virt = start;
    while virt < end {
        let translation = translate(root, &mut memory, virt).unwrap();
        assert_eq!(translation.phys, virt);
        units.push(translation.level);
        virt += translation.size;
    }
    // 0x4020_1000..0x4040_0000 in 511 pages, then one 2 MiB block up to 0x4060_0000.
    let pages = units.iter().filter(|level| **level == Level::Three).count();
    assert_eq!(pages, 511);
    assert_eq!(units.last(), Some(&Level::Two));
    assert_eq!(units.len(), 512);
    assert_eq!(translate(root, &mut memory, start - PAGE_SIZE), None);
}

#[test]
fn blocks_need_the_physical_address_aligned_too() {
    let (mut memory, root) = FakeTableMemory::with_root();
    map(
        root,
        &mut memory,
        0x4000_0000,
        0x8000_1000,
        4 * MIB,
        Attributes::KERNEL_DATA,
        BlockPolicy::LargestFitting,
    )
    .unwrap();
    let translation = translate(root, &mut memory, 0x4020_0000).unwrap();
    assert_eq!(translation.level, Level::Three);
    assert_eq!(translation.phys, 0x8020_1000);
}

#[test]
fn pages_only_never_uses_blocks() {
    let (mut memory, root) = FakeTableMemory::with_root();
    map(
        root,
        &mut memory,
        0x4000_0000,
        0x4000_0000,
        4 * MIB,
        Attributes::KERNEL_DATA,
        BlockPolicy::PagesOnly,
    )
    .unwrap();
    for virt in (0x4000_0000..0x4040_0000).step_by(PAGE_SIZE as usize) {
        assert_eq!(
            translate(root, &mut memory, virt).unwrap().level,
            Level::Three
        );
    }
    // Root, level 1, level 2, and two level 3 tables.
    assert_eq!(memory.tables_allocated(), 5);
}

#[test]
fn attributes_round_trip_through_the_descriptor() {
    let all = [
        Attributes::KERNEL_CODE,
        Attributes::KERNEL_READ_ONLY,
        Attributes::KERNEL_DATA,
        Attributes::KERNEL_DEVICE,
        Attributes::USER_CODE,
        Attributes::USER_READ_ONLY,
        Attributes::USER_DATA,
        Attributes::USER_DEVICE,
        Attributes {
            memory: MemoryType::NormalNonCacheable,
            ..Attributes::USER_DATA
        },
        Attributes {
            global: true,
            ..Attributes::USER_READ_ONLY
        },
        // Execute-only user memory.
        Attributes {
            user: false,
            ..Attributes::USER_CODE
        },
    ];
    let (mut memory, root) = FakeTableMemory::with_root();
    for (number, attributes) in all.iter().enumerate() {
        let virt = 0x10_0000 + number as u64 * PAGE_SIZE;
        map(
            root,
            &mut memory,
            virt,
            virt,
            PAGE_SIZE,
            *attributes,
            BlockPolicy::PagesOnly,
        )
        .unwrap();
        assert_eq!(
            translate(root, &mut memory, virt).unwrap().attributes,
            *attributes
        );
    }
}

/// The raw descriptor that maps `virt`.
fn descriptor_of(
    memory: &mut FakeTableMemory,
    root: u64,
    virt: u64,
) -> LocalRegisterCopy<u64, STAGE1_PAGE_DESCRIPTOR::Register> {
    LocalRegisterCopy::new(walk(root, memory, virt).unwrap().0)
}

#[test]
fn descriptor_bits_follow_the_arm_encoding() {
    use STAGE1_PAGE_DESCRIPTOR as D;

    let (mut memory, root) = FakeTableMemory::with_root();
    let cases = [
        // attributes, AP, PXN, UXN, nG, AttrIndx, SH
        (Attributes::KERNEL_DATA, 0b00, 1, 1, 0, 0, 0b11),
        (Attributes::USER_DATA, 0b01, 1, 1, 1, 0, 0b11),
        (Attributes::KERNEL_READ_ONLY, 0b10, 1, 1, 0, 0, 0b11),
        (Attributes::USER_READ_ONLY, 0b11, 1, 1, 1, 0, 0b11),
        (Attributes::KERNEL_CODE, 0b10, 0, 1, 0, 0, 0b11),
        (Attributes::USER_CODE, 0b11, 1, 0, 1, 0, 0b11),
        (Attributes::KERNEL_DEVICE, 0b00, 1, 1, 0, 1, 0b10),
        (
            Attributes {
                memory: MemoryType::NormalNonCacheable,
                ..Attributes::KERNEL_DATA
            },
            0b00,
            1,
            1,
            0,
            2,
            0b10,
        ),
    ];
    for (number, (attributes, ap, pxn, uxn, not_global, attribute_index, shareability)) in
        cases.into_iter().enumerate()
    {
        let virt = 0x20_0000 + number as u64 * PAGE_SIZE;
        let phys = 0x1234_5000 + number as u64 * PAGE_SIZE;
        map(
            root,
            &mut memory,
            virt,
            phys,
            PAGE_SIZE,
            attributes,
            BlockPolicy::PagesOnly,
        )
        .unwrap();
        let descriptor = descriptor_of(&mut memory, root, virt);
        assert_eq!(descriptor.read(D::AP), ap, "{attributes:?}");
        assert_eq!(descriptor.read(D::PXN), pxn, "{attributes:?}");
        assert_eq!(descriptor.read(D::UXN), uxn, "{attributes:?}");
        assert_eq!(descriptor.read(D::nG), not_global, "{attributes:?}");
        assert_eq!(
            descriptor.read(D::AttrIndx),
            attribute_index,
            "{attributes:?}"
        );
        assert_eq!(descriptor.read(D::SH), shareability, "{attributes:?}");
        assert!(descriptor.is_set(D::AF));
        assert!(descriptor.is_set(D::VALID));
        assert_eq!(descriptor.read(D::TYPE), 1, "level 3 descriptors are pages");
        assert_eq!(descriptor.read(D::OUTPUT_ADDRESS) << 12, phys);
        assert!(!descriptor.is_set(D::Contiguous));
        assert!(!descriptor.is_set(D::NS));
    }
}

#[test]
fn a_kernel_data_page_descriptor_has_the_expected_raw_value() {
    let (mut memory, root) = FakeTableMemory::with_root();
    map(
        root,
        &mut memory,
        0,
        0x4000_0000,
        PAGE_SIZE,
        Attributes::KERNEL_DATA,
        BlockPolicy::PagesOnly,
    )
    .unwrap();
    // UXN | PXN | OA 0x4000_0000 | AF | SH inner | AP 00 | AttrIndx 0 | page | valid.
    let expected = (1 << 54) | (1 << 53) | 0x4000_0000 | (1 << 10) | (0b11 << 8) | 0b11;
    assert_eq!(walk(root, &mut memory, 0), Some((expected, Level::Three)));
}

#[test]
fn block_descriptors_have_type_block() {
    use STAGE1_PAGE_DESCRIPTOR as D;

    let (mut memory, root) = FakeTableMemory::with_root();
    map(
        root,
        &mut memory,
        0x4000_0000,
        0x4000_0000,
        GIB + 2 * MIB,
        Attributes::KERNEL_DATA,
        BlockPolicy::LargestFitting,
    )
    .unwrap();
    for (virt, level) in [(0x4000_0000, Level::One), (0x8000_0000, Level::Two)] {
        let (raw, found_level) = walk(root, &mut memory, virt).unwrap();
        assert_eq!(found_level, level);
        let descriptor = LocalRegisterCopy::<u64, D::Register>::new(raw);
        assert_eq!(descriptor.read(D::TYPE), 0);
        assert!(descriptor.is_set(D::VALID));
    }
}

#[test]
fn writable_and_executable_mappings_are_refused() {
    let (mut memory, root) = FakeTableMemory::with_root();
    for execute in [Execute::Kernel, Execute::User] {
        let attributes = Attributes {
            execute,
            ..Attributes::USER_DATA
        };
        let attributes = Attributes {
            user: execute == Execute::User,
            ..attributes
        };
        assert_eq!(
            map(
                root,
                &mut memory,
                0x1000,
                0x1000,
                PAGE_SIZE,
                attributes,
                BlockPolicy::PagesOnly
            ),
            Err(MapError::WritableAndExecutable)
        );
    }
    assert_eq!(translate(root, &mut memory, 0x1000), None);
    assert_eq!(memory.tables_allocated(), 1);
}

#[test]
fn executable_device_memory_is_refused() {
    let (mut memory, root) = FakeTableMemory::with_root();
    let attributes = Attributes {
        access: Access::ReadOnly,
        execute: Execute::Kernel,
        ..Attributes::KERNEL_DEVICE
    };
    assert_eq!(
        map(
            root,
            &mut memory,
            0x1000,
            0x1000,
            PAGE_SIZE,
            attributes,
            BlockPolicy::PagesOnly
        ),
        Err(MapError::ExecutableDeviceMemory)
    );
}

#[test]
fn kernel_code_that_el0_can_read_is_refused() {
    let (mut memory, root) = FakeTableMemory::with_root();
    let attributes = Attributes {
        user: true,
        ..Attributes::KERNEL_CODE
    };
    assert_eq!(
        map(
            root,
            &mut memory,
            0x1000,
            0x1000,
            PAGE_SIZE,
            attributes,
            BlockPolicy::PagesOnly
        ),
        Err(MapError::KernelExecutableUserAccessible)
    );
}

#[test]
fn mapping_over_a_mapped_page_is_refused_and_changes_nothing() {
    let (mut memory, root) = FakeTableMemory::with_root();
    map(
        root,
        &mut memory,
        0x5000,
        0x9000,
        PAGE_SIZE,
        Attributes::USER_DATA,
        BlockPolicy::PagesOnly,
    )
    .unwrap();
    let before = memory.snapshot();
    assert_eq!(
        map(
            root,
            &mut memory,
            0x1000,
            0x20_0000,
            8 * PAGE_SIZE,
            Attributes::USER_READ_ONLY,
            BlockPolicy::PagesOnly
        ),
        Err(MapError::AlreadyMapped { virt: 0x5000 })
    );
    assert_eq!(memory.snapshot(), before);
    assert_eq!(translate(root, &mut memory, 0x1000), None);
    assert_eq!(translate(root, &mut memory, 0x5000).unwrap().phys, 0x9000);
}

#[test]
fn mapping_inside_a_block_is_refused() {
    let (mut memory, root) = FakeTableMemory::with_root();
    map(
        root,
        &mut memory,
        0x4000_0000,
        0x4000_0000,
        2 * MIB,
        Attributes::KERNEL_DATA,
        BlockPolicy::LargestFitting,
    )
    .unwrap();
    assert_eq!(
        map(
            root,
            &mut memory,
            0x4010_0000,
            0x1000,
            PAGE_SIZE,
            Attributes::KERNEL_DATA,
            BlockPolicy::PagesOnly
        ),
        Err(MapError::AlreadyMapped { virt: 0x4010_0000 })
    );
}

#[test]
fn a_block_is_not_placed_over_a_table_that_holds_pages() {
    let (mut memory, root) = FakeTableMemory::with_root();
    map(
        root,
        &mut memory,
        0x4010_0000,
        0x1000,
        PAGE_SIZE,
        Attributes::KERNEL_DATA,
        BlockPolicy::PagesOnly,
    )
    .unwrap();
    assert_eq!(
        map(
            root,
            &mut memory,
            0x4000_0000,
            0x4000_0000,
            2 * MIB,
            Attributes::KERNEL_DATA,
            BlockPolicy::LargestFitting
        ),
        Err(MapError::AlreadyMapped { virt: 0x4010_0000 })
    );
}

#[test]
fn unmapped_pages_translate_to_nothing() {
    let (mut memory, root) = FakeTableMemory::with_root();
    map(
        root,
        &mut memory,
        0x10_0000,
        0x10_0000,
        4 * PAGE_SIZE,
        Attributes::USER_DATA,
        BlockPolicy::PagesOnly,
    )
    .unwrap();
    unmap(root, &mut memory, 0x10_1000, 2 * PAGE_SIZE).unwrap();
    assert!(translate(root, &mut memory, 0x10_0000).is_some());
    assert_eq!(translate(root, &mut memory, 0x10_1000), None);
    assert_eq!(translate(root, &mut memory, 0x10_2000), None);
    assert!(translate(root, &mut memory, 0x10_3000).is_some());
}

#[test]
fn unmapping_holes_succeeds_and_changes_nothing() {
    let (mut memory, root) = FakeTableMemory::with_root();
    unmap(root, &mut memory, 0x4000_0000, GIB).unwrap();
    unmap(root, &mut memory, HIGH_HALF_BASE, 4 * GIB).unwrap();
    assert_eq!(memory.tables_allocated(), 1);
    assert!(
        memory.tables[0]
            .entries
            .iter()
            .all(|descriptor| *descriptor == 0)
    );
}

#[test]
fn unmapping_a_whole_block_removes_it() {
    let (mut memory, root) = FakeTableMemory::with_root();
    map(
        root,
        &mut memory,
        0x4000_0000,
        0x4000_0000,
        GIB + 2 * MIB,
        Attributes::KERNEL_DATA,
        BlockPolicy::LargestFitting,
    )
    .unwrap();
    unmap(root, &mut memory, 0x4000_0000, GIB + 2 * MIB).unwrap();
    assert_eq!(translate(root, &mut memory, 0x4000_0000), None);
    assert_eq!(translate(root, &mut memory, 0x8000_0000), None);
}

#[test]
fn unmapping_part_of_a_block_is_refused_and_changes_nothing() {
    let (mut memory, root) = FakeTableMemory::with_root();
    map(
        root,
        &mut memory,
        0x3ff0_0000,
        0x3ff0_0000,
        MIB,
        Attributes::KERNEL_DATA,
        BlockPolicy::PagesOnly,
    )
    .unwrap();
    map(
        root,
        &mut memory,
        0x4000_0000,
        0x4000_0000,
        2 * MIB,
        Attributes::KERNEL_DATA,
        BlockPolicy::LargestFitting,
    )
    .unwrap();
    let before = memory.snapshot();
    // Starts with pages that could be unmapped, then reaches into the block.
    assert_eq!(
        unmap(root, &mut memory, 0x3ff0_0000, 2 * MIB),
        Err(MapError::WouldSplitBlock { virt: 0x4000_0000 })
    );
    assert_eq!(memory.snapshot(), before);
    assert_eq!(
        unmap(root, &mut memory, 0x4010_0000, PAGE_SIZE),
        Err(MapError::WouldSplitBlock { virt: 0x4000_0000 })
    );
    assert_eq!(memory.snapshot(), before);
}

#[test]
fn remapping_after_unmap_reuses_the_tables() {
    let (mut memory, root) = FakeTableMemory::with_root();
    map(
        root,
        &mut memory,
        0x4000_0000,
        0x1000,
        PAGE_SIZE,
        Attributes::USER_DATA,
        BlockPolicy::PagesOnly,
    )
    .unwrap();
    unmap(root, &mut memory, 0x4000_0000, PAGE_SIZE).unwrap();
    let tables = memory.tables_allocated();
    // The empty level 3 table stays, so even a block-sized range maps as pages in it.
    map(
        root,
        &mut memory,
        0x4000_0000,
        0x4000_0000,
        2 * MIB,
        Attributes::USER_DATA,
        BlockPolicy::LargestFitting,
    )
    .unwrap();
    assert_eq!(memory.tables_allocated(), tables);
    let translation = translate(root, &mut memory, 0x401f_f000).unwrap();
    assert_eq!(translation.level, Level::Three);
    assert_eq!(translation.phys, 0x401f_f000);
}

#[test]
fn running_out_of_table_memory_changes_no_translation() {
    // Room for the root, the three tables below it that a first page needs, and one more.
    let mut memory = FakeTableMemory::with_capacity(5);
    let root = memory.allocate_table().unwrap();
    map(
        root,
        &mut memory,
        0x1000,
        0x7000,
        PAGE_SIZE,
        Attributes::USER_DATA,
        BlockPolicy::PagesOnly,
    )
    .unwrap();
    assert_eq!(memory.tables_allocated(), 4);
    let before = memory.snapshot();
    // Needs a new level 1 table (0x80_0000_0000 is in the second level 0 entry), a level 2
    // table and a level 3 table.
    assert_eq!(
        map(
            root,
            &mut memory,
            0x80_0000_0000,
            0x8000,
            PAGE_SIZE,
            Attributes::USER_DATA,
            BlockPolicy::PagesOnly
        ),
        Err(MapError::OutOfTableMemory)
    );
    assert!(memory.matches_snapshot(&before));
    assert_eq!(translate(root, &mut memory, 0x80_0000_0000), None);
    assert_eq!(translate(root, &mut memory, 0x1000).unwrap().phys, 0x7000);
    // Pages next to the first one still map: their tables exist.
    map(
        root,
        &mut memory,
        0x2000,
        0x9000,
        PAGE_SIZE,
        Attributes::USER_DATA,
        BlockPolicy::PagesOnly,
    )
    .unwrap();
    assert_eq!(translate(root, &mut memory, 0x2000).unwrap().phys, 0x9000);
}

#[test]
fn running_out_halfway_through_a_large_range_maps_none_of_it() {
    let mut memory = FakeTableMemory::with_capacity(6);
    let root = memory.allocate_table().unwrap();
    // 8 MiB of pages needs root, L1, L2 and four L3 tables: one too many.
    assert_eq!(
        map(
            root,
            &mut memory,
            0x4000_0000,
            0x4000_0000,
            8 * MIB,
            Attributes::KERNEL_DATA,
            BlockPolicy::PagesOnly
        ),
        Err(MapError::OutOfTableMemory)
    );
    for virt in (0x4000_0000..0x4080_0000).step_by(PAGE_SIZE as usize) {
        assert_eq!(translate(root, &mut memory, virt), None);
    }
}

#[test]
fn misaligned_requests_are_refused() {
    let (mut memory, root) = FakeTableMemory::with_root();
    for (virt, phys, size) in [
        (0x1001, 0x1000, PAGE_SIZE),
        (0x1000, 0x1800, PAGE_SIZE),
        (0x1000, 0x1000, 100),
    ] {
        assert_eq!(
            map(
                root,
                &mut memory,
                virt,
                phys,
                size,
                Attributes::USER_DATA,
                BlockPolicy::PagesOnly
            ),
            Err(MapError::Misaligned)
        );
    }
    assert_eq!(
        unmap(root, &mut memory, 0x1004, PAGE_SIZE),
        Err(MapError::Misaligned)
    );
    assert_eq!(
        unmap(root, &mut memory, 0x1000, 0x10),
        Err(MapError::Misaligned)
    );
    assert_eq!(memory.tables_allocated(), 1);
}

#[test]
fn non_canonical_and_overlong_ranges_are_refused() {
    let (mut memory, root) = FakeTableMemory::with_root();
    let cases = [
        // Bits 63:48 neither all zero nor all one.
        (0x0001_0000_0000_0000, PAGE_SIZE),
        (0xFFFE_F000_0000_0000, PAGE_SIZE),
        // Runs past the top of the low half.
        (0x0000_FFFF_FFFF_F000, 2 * PAGE_SIZE),
        // Runs past the top of the high half (would wrap around).
        (0xFFFF_FFFF_FFFF_F000, 2 * PAGE_SIZE),
        // Size so large that the end overflows.
        (0x1000, u64::MAX - 0xfff),
    ];
    for (virt, size) in cases {
        assert_eq!(
            map(
                root,
                &mut memory,
                virt,
                0,
                size,
                Attributes::USER_DATA,
                BlockPolicy::PagesOnly
            ),
            Err(MapError::AddressOutOfRange),
            "{virt:#x} + {size:#x}"
        );
        assert_eq!(
            unmap(root, &mut memory, virt, size),
            Err(MapError::AddressOutOfRange)
        );
    }
    assert_eq!(translate(root, &mut memory, 0x0001_0000_0000_0000), None);
}

#[test]
fn physical_ranges_beyond_48_bits_are_refused() {
    let (mut memory, root) = FakeTableMemory::with_root();
    for (phys, size) in [(1 << 48, PAGE_SIZE), ((1 << 48) - PAGE_SIZE, 2 * PAGE_SIZE)] {
        assert_eq!(
            map(
                root,
                &mut memory,
                0x1000,
                phys,
                size,
                Attributes::USER_DATA,
                BlockPolicy::PagesOnly
            ),
            Err(MapError::PhysicalAddressOutOfRange)
        );
    }
    map(
        root,
        &mut memory,
        0x1000,
        (1 << 48) - PAGE_SIZE,
        PAGE_SIZE,
        Attributes::USER_DATA,
        BlockPolicy::PagesOnly,
    )
    .unwrap();
    assert_eq!(
        translate(root, &mut memory, 0x1000).unwrap().phys,
        (1 << 48) - PAGE_SIZE
    );
}

#[test]
fn mapping_nothing_succeeds_and_allocates_nothing() {
    let (mut memory, root) = FakeTableMemory::with_root();
    map(
        root,
        &mut memory,
        0x1000,
        0x1000,
        0,
        Attributes::USER_DATA,
        BlockPolicy::PagesOnly,
    )
    .unwrap();
    unmap(root, &mut memory, 0x1000, 0).unwrap();
    assert_eq!(memory.tables_allocated(), 1);
}

#[test]
fn high_half_addresses_map_through_the_same_indices_as_low_ones() {
    let (mut memory, root) = FakeTableMemory::with_root();
    map(
        root,
        &mut memory,
        0xFFFF_0000_4000_0000,
        0x4000_0000,
        PAGE_SIZE,
        Attributes::KERNEL_DATA,
        BlockPolicy::PagesOnly,
    )
    .unwrap();
    assert_eq!(
        translate(root, &mut memory, 0xFFFF_0000_4000_0000)
            .unwrap()
            .phys,
        0x4000_0000
    );
    // The same root seen as a TTBR0 table: the caller keeps the halves in separate roots.
    assert_eq!(
        translate(root, &mut memory, 0x0000_0000_4000_0000)
            .unwrap()
            .phys,
        0x4000_0000
    );
    // A conflict is reported with the high-half address that was asked for.
    assert_eq!(
        map(
            root,
            &mut memory,
            0xFFFF_0000_4000_0000,
            0x1000,
            PAGE_SIZE,
            Attributes::KERNEL_DATA,
            BlockPolicy::PagesOnly
        ),
        Err(MapError::AlreadyMapped {
            virt: 0xFFFF_0000_4000_0000
        })
    );
}

#[test]
fn the_last_page_of_the_high_half_maps_without_overflow() {
    let (mut memory, root) = FakeTableMemory::with_root();
    map(
        root,
        &mut memory,
        0xFFFF_FFFF_FFFF_F000,
        0x1000,
        PAGE_SIZE,
        Attributes::KERNEL_DATA,
        BlockPolicy::LargestFitting,
    )
    .unwrap();
    assert_eq!(translate(root, &mut memory, u64::MAX).unwrap().phys, 0x1fff);
    unmap(root, &mut memory, 0xFFFF_FFFF_FFFF_F000, PAGE_SIZE).unwrap();
    assert_eq!(translate(root, &mut memory, u64::MAX), None);
}

#[test]
fn descriptors_this_module_never_writes_translate_to_nothing() {
    let (mut memory, root) = FakeTableMemory::with_root();
    map(
        root,
        &mut memory,
        0x1000,
        0x1000,
        3 * PAGE_SIZE,
        Attributes::USER_DATA,
        BlockPolicy::PagesOnly,
    )
    .unwrap();
    let level_3 = TABLE_MEMORY_BASE + 3 * PAGE_SIZE;
    // A reserved type at level 3 (valid, TYPE = 0).
    memory.table(level_3).entries[1] &= !0b10;
    // AttrIndx 5, not in MAIR_ATTRIBUTES.
    memory.table(level_3).entries[2] |= 5 << 2;
    // Executable at both EL0 and EL1.
    memory.table(level_3).entries[3] &= !((1 << 54) | (1 << 53));
    for virt in [0x1000, 0x2000, 0x3000] {
        assert_eq!(translate(root, &mut memory, virt), None, "{virt:#x}");
    }
    // A reserved descriptor still occupies its entry.
    assert_eq!(
        map(
            root,
            &mut memory,
            0x1000,
            0x1000,
            PAGE_SIZE,
            Attributes::USER_DATA,
            BlockPolicy::PagesOnly
        ),
        Err(MapError::AlreadyMapped { virt: 0x1000 })
    );
}

#[test]
fn map_errors_print_a_description() {
    assert_eq!(
        MapError::AlreadyMapped { virt: 0x4000 }.to_string(),
        "0x4000 already mapped"
    );
    assert_eq!(
        MapError::WritableAndExecutable.to_string(),
        "writable and executable mapping refused"
    );
}

/// A xorshift64 generator: deterministic, no dependencies.
struct Xorshift(u64);

impl Xorshift {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    fn below(&mut self, bound: u64) -> u64 {
        self.next() % bound
    }
}

/// What the tables should say: virtual page -> (physical page, attributes).
type Model = BTreeMap<u64, (u64, Attributes)>;

/// One random operation: map or unmap a random page range of the window.
fn random_operation(
    random: &mut Xorshift,
    memory: &mut FakeTableMemory,
    root: u64,
    model: &mut Model,
    outcomes: &mut BTreeMap<&'static str, usize>,
) {
    const BLOCK_PAGES: u64 = LEVEL_2_BLOCK_SIZE / PAGE_SIZE;
    let attribute_choices = [
        Attributes::USER_DATA,
        Attributes::USER_CODE,
        Attributes::USER_READ_ONLY,
        Attributes::KERNEL_DATA,
        Attributes::KERNEL_DEVICE,
    ];
    // Mostly short ranges; sometimes long ones, often block aligned, that can hold blocks.
    let (first_page, pages) = if random.below(2) == 0 {
        let first_page = if random.below(2) == 0 {
            random.below(RANDOM_WINDOW_PAGES / BLOCK_PAGES) * BLOCK_PAGES
        } else {
            random.below(RANDOM_WINDOW_PAGES)
        };
        (first_page, BLOCK_PAGES / 2 + random.below(2 * BLOCK_PAGES))
    } else {
        (random.below(RANDOM_WINDOW_PAGES), 1 + random.below(16))
    };
    let pages = pages.min(RANDOM_WINDOW_PAGES - first_page);
    let virt = RANDOM_WINDOW + first_page * PAGE_SIZE;
    let size = pages * PAGE_SIZE;

    if random.below(3) != 0 {
        // Physical addresses 2 MiB-congruent with the virtual ones half of the time, so
        // that blocks can be used.
        let offset = if random.below(2) == 0 {
            0x1_0000_0000
        } else {
            0x1_0000_5000
        };
        let phys = virt + offset;
        let attributes = attribute_choices[random.below(5) as usize];
        let policy = if random.below(2) == 0 {
            BlockPolicy::PagesOnly
        } else {
            BlockPolicy::LargestFitting
        };
        let first_mapped = (virt..virt + size)
            .step_by(PAGE_SIZE as usize)
            .find(|page| model.contains_key(page));
        let result = map(root, memory, virt, phys, size, attributes, policy);
        match first_mapped {
            Some(mapped) => {
                assert_eq!(result, Err(MapError::AlreadyMapped { virt: mapped }));
                *outcomes.entry("map refused").or_default() += 1;
            }
            None => {
                assert_eq!(result, Ok(()));
                for page in 0..pages {
                    model.insert(
                        virt + page * PAGE_SIZE,
                        (phys + page * PAGE_SIZE, attributes),
                    );
                }
                *outcomes.entry("mapped").or_default() += 1;
            }
        }
    } else {
        match unmap(root, memory, virt, size) {
            Ok(()) => {
                for page in 0..pages {
                    model.remove(&(virt + page * PAGE_SIZE));
                }
                *outcomes.entry("unmapped").or_default() += 1;
            }
            Err(MapError::WouldSplitBlock { virt: block }) => {
                // The refusal must be justified: a block starting at `block` that overlaps
                // the range and sticks out of it. The model stays as it was, which the
                // caller's check confirms.
                let (_, level) = walk(root, memory, block).unwrap();
                assert_ne!(level, Level::Three);
                let block_end = block + level.entry_size();
                assert!(block < virt + size && block_end > virt);
                assert!(block < virt || block_end > virt + size);
                *outcomes.entry("unmap refused").or_default() += 1;
            }
            Err(other) => panic!("unexpected {other:?}"),
        }
    }
}

const RANDOM_WINDOW: u64 = 0x4000_0000;
const RANDOM_WINDOW_PAGES: u64 = 32 * MIB / PAGE_SIZE;

#[test]
fn random_maps_and_unmaps_agree_with_a_simple_model() {
    let mut random = Xorshift(0x9e37_79b9_7f4a_7c15);
    let mut outcomes = BTreeMap::<&str, usize>::new();
    let mut blocks_seen = 0;

    // Several rounds from empty tables: once every 2 MiB entry holds a table, even an empty
    // one, no new block can be placed there.
    for _ in 0..20 {
        let (mut memory, root) = FakeTableMemory::with_root();
        let mut model = Model::new();
        for _ in 0..40 {
            random_operation(&mut random, &mut memory, root, &mut model, &mut outcomes);

            for page in 0..RANDOM_WINDOW_PAGES {
                let virt = RANDOM_WINDOW + page * PAGE_SIZE;
                match (translate(root, &mut memory, virt), model.get(&virt)) {
                    (None, None) => {}
                    (Some(translation), Some((phys, attributes))) => {
                        assert_eq!(translation.phys, *phys, "{virt:#x}");
                        assert_eq!(translation.attributes, *attributes, "{virt:#x}");
                        assert_eq!(translation.size, translation.level.entry_size());
                        if translation.level == Level::Two {
                            blocks_seen += 1;
                        }
                    }
                    (found, expected) => {
                        panic!("{virt:#x}: found {found:?}, expected {expected:?}")
                    }
                }
            }
        }
    }
    // Every kind of outcome happened and blocks were used, so the test exercised what it
    // claims to.
    assert_eq!(outcomes.len(), 4, "{outcomes:?}");
    assert!(outcomes.values().all(|count| *count >= 10), "{outcomes:?}");
    assert!(blocks_seen > 0);
}
