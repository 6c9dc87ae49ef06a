//! Host tests of ESR_EL1 and SPSR_EL1 decoding, against values worked out bit by bit from
//! the Arm ARM encodings (EC = bits [31:26], IL = bit [25], ISS = bits [24:0]).

use super::*;

#[test]
fn a_data_abort_write_translation_fault_at_level_1_decodes() {
    // 0x96000045: EC 0b100101, IL 1, ISS 0x45 = WnR (bit 6) | DFSC 0b000101.
    let syndrome = Syndrome::new(0x9600_0045);
    assert_eq!(syndrome.class(), ExceptionClass::DataAbortCurrentEL);
    assert_eq!(syndrome.class_code(), 0x25);
    assert!(syndrome.instruction_length_is_32bit());
    assert_eq!(syndrome.iss(), 0x45);
    assert_eq!(
        syndrome.fault_status(),
        Some(FaultStatus::Translation { level: Level::One })
    );
    assert!(syndrome.is_write());
    assert!(syndrome.far_is_valid());
    assert_eq!(syndrome.immediate(), None);
    assert_eq!(
        syndrome.to_string(),
        "Data Abort taken without a change in Exception level (EC 0x25): \
         translation fault, level 1, write"
    );
}

#[test]
fn a_data_abort_write_permission_fault_at_level_3_decodes() {
    // 0x9600004f: ISS 0x4f = WnR | DFSC 0b001111.
    let syndrome = Syndrome::new(0x9600_004f);
    assert_eq!(
        syndrome.fault_status(),
        Some(FaultStatus::Permission {
            level: Level::Three
        })
    );
    assert!(syndrome.is_write());
    assert_eq!(
        syndrome.to_string(),
        "Data Abort taken without a change in Exception level (EC 0x25): \
         permission fault, level 3, write"
    );
}

#[test]
fn a_user_read_of_an_unmapped_address_decodes_as_a_lower_level_data_abort() {
    // 0x92000004: EC 0b100100, IL 1, DFSC 0b000100, WnR 0.
    let syndrome = Syndrome::new(0x9200_0004);
    assert_eq!(syndrome.class(), ExceptionClass::DataAbortLowerEL);
    assert_eq!(
        syndrome.fault_status(),
        Some(FaultStatus::Translation { level: Level::Zero })
    );
    assert!(!syndrome.is_write());
    assert_eq!(
        syndrome.to_string(),
        "Data Abort from a lower Exception level (EC 0x24): translation fault, level 0, read"
    );
}

#[test]
fn an_instruction_abort_on_a_privileged_execute_never_page_decodes() {
    // 0x8600000f: EC 0b100001, IL 1, IFSC 0b001111.
    let syndrome = Syndrome::new(0x8600_000f);
    assert_eq!(syndrome.class(), ExceptionClass::InstructionAbortCurrentEL);
    assert_eq!(
        syndrome.fault_status(),
        Some(FaultStatus::Permission {
            level: Level::Three
        })
    );
    assert!(
        !syndrome.is_write(),
        "WnR means nothing for instruction aborts"
    );
    assert!(syndrome.far_is_valid());
    assert_eq!(
        syndrome.to_string(),
        "Instruction Abort taken without a change in Exception level (EC 0x21): \
         permission fault, level 3"
    );
}

#[test]
fn a_user_instruction_fetch_from_an_unmapped_page_decodes() {
    // 0x82000006: EC 0b100000, IL 1, IFSC 0b000110.
    let syndrome = Syndrome::new(0x8200_0006);
    assert_eq!(syndrome.class(), ExceptionClass::InstructionAbortLowerEL);
    assert_eq!(
        syndrome.fault_status(),
        Some(FaultStatus::Translation { level: Level::Two })
    );
}

#[test]
fn an_alignment_fault_on_a_store_decodes() {
    // 0x96000061: ISS 0x61 = WnR | DFSC 0b100001.
    let syndrome = Syndrome::new(0x9600_0061);
    assert_eq!(syndrome.fault_status(), Some(FaultStatus::Alignment));
    assert!(syndrome.is_write());
    assert_eq!(
        syndrome.to_string(),
        "Data Abort taken without a change in Exception level (EC 0x25): alignment fault, write"
    );
}

#[test]
fn an_external_abort_with_fnv_set_has_no_valid_far() {
    // 0x96000410: ISS 0x410 = FnV (bit 10) | DFSC 0b010000.
    let syndrome = Syndrome::new(0x9600_0410);
    assert_eq!(
        syndrome.fault_status(),
        Some(FaultStatus::SynchronousExternal)
    );
    assert!(!syndrome.far_is_valid());
    assert_eq!(
        syndrome.to_string(),
        "Data Abort taken without a change in Exception level (EC 0x25): \
         synchronous external abort, read, FAR not valid"
    );
    // The same abort with FnV clear: 0x96000050 is a write with a valid FAR.
    let syndrome = Syndrome::new(0x9600_0050);
    assert!(syndrome.far_is_valid());
    assert!(syndrome.is_write());
}

#[test]
fn an_svc_with_immediate_zero_decodes() {
    // 0x56000000: EC 0b010101, IL 1, imm16 0.
    let syndrome = Syndrome::new(0x5600_0000);
    assert_eq!(syndrome.class(), ExceptionClass::Svc64);
    assert_eq!(syndrome.immediate(), Some(0));
    assert_eq!(syndrome.fault_status(), None);
    assert!(!syndrome.is_write());
    assert!(!syndrome.far_is_valid());
    assert_eq!(
        syndrome.to_string(),
        "SVC instruction execution in AArch64 state (EC 0x15): immediate 0x0000"
    );
    assert_eq!(Syndrome::new(0x5600_1234).immediate(), Some(0x1234));
}

#[test]
fn hvc_smc_and_brk_immediates_decode() {
    // 0x5a00002a: EC 0b010110 (HVC), imm16 0x2a.
    let hvc = Syndrome::new(0x5a00_002a);
    assert_eq!(hvc.class(), ExceptionClass::Hvc64);
    assert_eq!(hvc.immediate(), Some(0x2a));
    // 0x5e000000: EC 0b010111 (SMC).
    assert_eq!(Syndrome::new(0x5e00_0000).class(), ExceptionClass::Smc64);
    // 0xf2000800: EC 0b111100 (BRK), comment 0x800, as `brk #0x800`.
    let brk = Syndrome::new(0xf200_0800);
    assert_eq!(brk.class(), ExceptionClass::Brk64);
    assert_eq!(brk.immediate(), Some(0x800));
    assert_eq!(
        brk.to_string(),
        "BRK instruction execution in AArch64 state (EC 0x3c): comment 0x0800"
    );
}

#[test]
fn an_unknown_reason_exception_decodes() {
    // 0x02000000: EC 0, IL 1: typically an UNDEFINED instruction.
    let syndrome = Syndrome::new(0x0200_0000);
    assert_eq!(syndrome.class(), ExceptionClass::Unknown);
    assert!(syndrome.instruction_length_is_32bit());
    assert_eq!(syndrome.iss(), 0);
    assert_eq!(
        syndrome.to_string(),
        "Unknown reason (EC 0x00): ISS 0x0000000"
    );
    assert!(!Syndrome::new(0).instruction_length_is_32bit());
}

#[test]
fn other_classes_decode_by_their_exception_class() {
    let cases = [
        // 0x1fe00000: EC 0b000111, ISS 0x1e00000 (CV 1, COND 0xe), the FP/SIMD access trap.
        (0x1fe0_0000, ExceptionClass::TrappedFloatingPointAccess),
        (0x0600_0000, ExceptionClass::TrappedWfiOrWfe),
        (0x3a00_0000, ExceptionClass::IllegalExecutionState),
        (0x6200_0000, ExceptionClass::TrappedMsrMrs),
        (0x6600_0000, ExceptionClass::TrappedSve),
        (0x8a00_0000, ExceptionClass::PcAlignmentFault),
        (0x9a00_0000, ExceptionClass::SpAlignmentFault),
        (0xbe00_0000, ExceptionClass::SError),
        (0xc200_0000, ExceptionClass::BreakpointLowerEL),
        (0xc600_0000, ExceptionClass::BreakpointCurrentEL),
        (0xca00_0000, ExceptionClass::SoftwareStepLowerEL),
        (0xce00_0000, ExceptionClass::SoftwareStepCurrentEL),
        (0xd200_0000, ExceptionClass::WatchpointLowerEL),
        (0xd600_0000, ExceptionClass::WatchpointCurrentEL),
        // EC 0b000011, a trapped AArch32 MCR or MRC: not named here.
        (0x0e00_0000, ExceptionClass::Other(0b00_0011)),
    ];
    for (esr, class) in cases {
        assert_eq!(Syndrome::new(esr).class(), class, "{esr:#x}");
    }
    assert_eq!(
        Syndrome::new(0x1fe0_0000).to_string(),
        "Access to SME, SVE, Advanced SIMD or floating-point functionality trapped \
         (EC 0x07): ISS 0x1e00000"
    );
    assert_eq!(
        Syndrome::new(0x0e00_0000).to_string(),
        "Exception class not handled by this kernel (EC 0x03): ISS 0x0000000"
    );
}

#[test]
fn far_is_valid_only_for_classes_that_report_an_address() {
    assert!(Syndrome::new(0x8a00_0000).far_is_valid(), "PC alignment");
    assert!(Syndrome::new(0xd600_0000).far_is_valid(), "watchpoint");
    assert!(!Syndrome::new(0x9a00_0000).far_is_valid(), "SP alignment");
    assert!(!Syndrome::new(0xbe00_0000).far_is_valid(), "SError");
}

#[test]
fn bits_above_the_syndrome_do_not_change_the_class() {
    // ISS2 (bits [36:32]) set on a data abort.
    let syndrome = Syndrome::new(0x1f_9600_0045);
    assert_eq!(syndrome.class(), ExceptionClass::DataAbortCurrentEL);
    assert_eq!(syndrome.iss(), 0x45);
}

#[test]
fn every_exception_class_code_round_trips() {
    for code in 0..64 {
        assert_eq!(ExceptionClass::from_code(code).code(), code);
    }
    assert_eq!(ExceptionClass::from_code(0xff), ExceptionClass::Other(0x3f));
    for (number, class) in ExceptionClass::NAMED.iter().enumerate() {
        assert_eq!(ExceptionClass::from_code(class.code()), *class);
        for other in &ExceptionClass::NAMED[number + 1..] {
            assert!(
                class.code() < other.code(),
                "{class:?} and {other:?} out of order"
            );
            assert_ne!(class.name(), other.name());
        }
    }
}

#[test]
fn aarch64_cpu_agrees_with_the_exception_class_codes() {
    use ESR_EL1::EC::Value as Ec;

    let pairs = [
        (Ec::Unknown, ExceptionClass::Unknown),
        (Ec::TrappedWFIorWFE, ExceptionClass::TrappedWfiOrWfe),
        (Ec::TrappedFP, ExceptionClass::TrappedFloatingPointAccess),
        (Ec::BranchTarget, ExceptionClass::BranchTarget),
        (
            Ec::IllegalExecutionState,
            ExceptionClass::IllegalExecutionState,
        ),
        (Ec::SVC64, ExceptionClass::Svc64),
        (Ec::HVC64, ExceptionClass::Hvc64),
        (Ec::SMC64, ExceptionClass::Smc64),
        (Ec::TrappedMsrMrs, ExceptionClass::TrappedMsrMrs),
        (Ec::TrappedSve, ExceptionClass::TrappedSve),
        (
            Ec::PointerAuth,
            ExceptionClass::PointerAuthenticationFailure,
        ),
        (Ec::TrappedSME, ExceptionClass::TrappedSme),
        (
            Ec::InstrAbortLowerEL,
            ExceptionClass::InstructionAbortLowerEL,
        ),
        (
            Ec::InstrAbortCurrentEL,
            ExceptionClass::InstructionAbortCurrentEL,
        ),
        (Ec::PCAlignmentFault, ExceptionClass::PcAlignmentFault),
        (Ec::DataAbortLowerEL, ExceptionClass::DataAbortLowerEL),
        (Ec::DataAbortCurrentEL, ExceptionClass::DataAbortCurrentEL),
        (Ec::SPAlignmentFault, ExceptionClass::SpAlignmentFault),
        (
            Ec::MemoryOperationException,
            ExceptionClass::MemoryOperation,
        ),
        (
            Ec::TrappedFP64,
            ExceptionClass::TrappedFloatingPointException,
        ),
        (Ec::SError, ExceptionClass::SError),
        (Ec::BreakpointLowerEL, ExceptionClass::BreakpointLowerEL),
        (Ec::BreakpointCurrentEL, ExceptionClass::BreakpointCurrentEL),
        (Ec::SoftwareStepLowerEL, ExceptionClass::SoftwareStepLowerEL),
        (
            Ec::SoftwareStepCurrentEL,
            ExceptionClass::SoftwareStepCurrentEL,
        ),
        (Ec::WatchpointLowerEL, ExceptionClass::WatchpointLowerEL),
        (Ec::WatchpointCurrentEL, ExceptionClass::WatchpointCurrentEL),
        (Ec::Brk64, ExceptionClass::Brk64),
    ];
    assert_eq!(pairs.len(), ExceptionClass::NAMED.len());
    for (theirs, ours) in pairs {
        assert_eq!(theirs as u64, u64::from(ours.code()), "{ours:?}");
    }
}

#[test]
fn fault_status_codes_decode_as_the_arm_arm_lists_them() {
    let cases = [
        (0b00_0000, FaultStatus::AddressSize { level: Level::Zero }),
        (
            0b00_0011,
            FaultStatus::AddressSize {
                level: Level::Three,
            },
        ),
        (0b00_0101, FaultStatus::Translation { level: Level::One }),
        (0b00_1001, FaultStatus::AccessFlag { level: Level::One }),
        (
            0b00_1011,
            FaultStatus::AccessFlag {
                level: Level::Three,
            },
        ),
        (0b00_1110, FaultStatus::Permission { level: Level::Two }),
        (0b01_0000, FaultStatus::SynchronousExternal),
        (0b01_0001, FaultStatus::SynchronousTagCheck),
        (
            0b01_0101,
            FaultStatus::SynchronousExternalOnTableWalk { level: Level::One },
        ),
        (0b01_1000, FaultStatus::SynchronousParityOrEcc),
        (
            0b01_1111,
            FaultStatus::SynchronousParityOrEccOnTableWalk {
                level: Level::Three,
            },
        ),
        (0b10_0001, FaultStatus::Alignment),
        (0b11_0000, FaultStatus::TlbConflict),
        (0b11_0001, FaultStatus::UnsupportedAtomicHardwareUpdate),
        // Translation fault at level -1 (FEAT_LPA2), not used by this kernel.
        (0b10_1011, FaultStatus::Other(0b10_1011)),
        // IMPLEMENTATION DEFINED fault (Lockdown).
        (0b11_0100, FaultStatus::Other(0b11_0100)),
        (0b01_0010, FaultStatus::Other(0b01_0010)),
    ];
    for (code, status) in cases {
        assert_eq!(FaultStatus::from_code(code), status, "{code:#08b}");
    }
    assert_eq!(
        FaultStatus::Permission { level: Level::Two }.level(),
        Some(Level::Two)
    );
    assert_eq!(FaultStatus::Alignment.level(), None);
    assert_eq!(
        FaultStatus::SynchronousExternalOnTableWalk { level: Level::One }.to_string(),
        "synchronous external abort on translation table walk, level 1"
    );
    assert_eq!(
        FaultStatus::Other(0x34).to_string(),
        "fault status code 0x34"
    );
}

#[test]
fn syndromes_debug_print_in_hex() {
    assert_eq!(
        format!("{:?}", Syndrome::new(0x9600_0045)),
        "Syndrome(0x96000045)"
    );
}

#[test]
fn spsr_modes_decode_from_m() {
    let cases = [
        (0b0000, Mode::EL0t),
        (0b0100, Mode::EL1t),
        (0b0101, Mode::EL1h),
        (0b1000, Mode::EL2t),
        (0b1001, Mode::EL2h),
        (0b1100, Mode::EL3t),
        (0b1101, Mode::EL3h),
        (0b0010, Mode::Reserved(0b0010)),
        (0b0111, Mode::Reserved(0b0111)),
        // M[4] = 1: AArch32 User (0b10000) and Supervisor (0b10011) modes.
        (0b1_0000, Mode::AArch32(0b1_0000)),
        (0b1_0011, Mode::AArch32(0b1_0011)),
    ];
    for (spsr, mode) in cases {
        assert_eq!(SavedProgramStatus::new(spsr).mode(), mode, "{spsr:#x}");
    }
}

#[test]
fn spsr_of_el1_with_everything_masked_displays_upper_case_daif() {
    // 0x3c5: D, A, I, F (bits 9..6) set, M = 0b0101.
    let status = SavedProgramStatus::new(0x3c5);
    assert_eq!(status.mode(), Mode::EL1h);
    assert!(status.debug_masked() && status.serror_masked());
    assert!(status.irq_masked() && status.fiq_masked());
    assert_eq!(status.to_string(), "EL1h daif=DAIF nzcv=nzcv");
    // Z (bit 30) set too.
    assert_eq!(
        SavedProgramStatus::new(0x4000_03c5).to_string(),
        "EL1h daif=DAIF nzcv=nZcv"
    );
}

#[test]
fn spsr_flags_display_in_position() {
    assert_eq!(
        SavedProgramStatus::new(0).to_string(),
        "EL0t daif=daif nzcv=nzcv"
    );
    // Z and C (bits 30, 29).
    let status = SavedProgramStatus::new(0x6000_0000);
    assert!(!status.negative() && status.zero() && status.carry() && !status.overflow());
    assert_eq!(status.to_string(), "EL0t daif=daif nzcv=nZCv");
    // N (bit 31), V (bit 28), I (bit 7), EL1t.
    assert_eq!(
        SavedProgramStatus::new(0x9000_0084).to_string(),
        "EL1t daif=daIf nzcv=NzcV"
    );
}

#[test]
fn spsr_state_bits_are_named_when_set() {
    // PAN (bit 22), SS (bit 21), IL (bit 20).
    let status = SavedProgramStatus::new(0x0070_0005);
    assert!(status.privileged_access_never());
    assert!(status.software_step());
    assert!(status.illegal_execution_state());
    assert_eq!(status.to_string(), "EL1h daif=daif nzcv=nzcv PAN SS IL");
    assert_eq!(
        SavedProgramStatus::new(0b1_0000).to_string(),
        "AArch32 mode 0x10 daif=daif nzcv=nzcv"
    );
    assert_eq!(
        SavedProgramStatus::new(0b0010).to_string(),
        "reserved mode 0x2 daif=daif nzcv=nzcv"
    );
    assert_eq!(
        format!("{:?}", SavedProgramStatus::new(0x3c5)),
        "SavedProgramStatus(0x000003c5)"
    );
}
