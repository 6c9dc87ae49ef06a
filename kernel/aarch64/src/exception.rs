//! Decoding of saved ESR_EL1 and SPSR_EL1 values, for the kernel's exception reports.
//!
//! The exception vectors save ESR_EL1 and SPSR_EL1 into the trap frame; the kernel decodes
//! the saved copies here to route the exception (a system call, a page fault to forward to a
//! pager) and to print a one-line description when an exception is fatal. Nothing here
//! reads a register: the values are plain `u64`s, so every decoding is tested on the host
//! against values worked out from the Arm ARM (DDI 0487, ESR_EL1 and SPSR_EL1).
//!
//! The EC, IL and ISS fields and the SPSR_EL1 fields come from `aarch64_cpu`, the crate the
//! kernel binary reads the registers with. The ISS layouts of aborts and of exception
//! generating instructions, which `aarch64_cpu` does not describe, are declared here.

use core::fmt;

use aarch64_cpu::registers::{ESR_EL1, SPSR_EL1};
use tock_registers::{LocalRegisterCopy, register_bitfields};

use crate::page_table::Level;

register_bitfields! {u64,
    /// ISS encoding for an exception from a Data Abort (EC 0b100100 and 0b100101), in place
    /// within ESR_EL1.
    #[allow(missing_docs, reason = "the items the macro generates for documented fields")]
    pub ISS_DATA_ABORT [
        /// Instruction Syndrome Valid, bit [24]: ISS[23:14] hold a valid syndrome.
        ISV OFFSET(24) NUMBITS(1) [],
        /// Syndrome Access Size, bits [23:22], valid when ISV is 1.
        SAS OFFSET(22) NUMBITS(2) [
            Byte = 0b00,
            Halfword = 0b01,
            Word = 0b10,
            Doubleword = 0b11
        ],
        /// Syndrome Sign Extend, bit [21], valid when ISV is 1.
        SSE OFFSET(21) NUMBITS(1) [],
        /// Syndrome Register Transfer, bits [20:16]: the register of the load or store,
        /// valid when ISV is 1.
        SRT OFFSET(16) NUMBITS(5) [],
        /// Sixty Four bit general-purpose register transfer, bit [15], valid when ISV is 1.
        SF OFFSET(15) NUMBITS(1) [],
        /// Acquire/Release, bit [14], valid when ISV is 1.
        AR OFFSET(14) NUMBITS(1) [],
        /// The fault came from a use of VNCR_EL2 at EL1, bit [13].
        VNCR OFFSET(13) NUMBITS(1) [],
        /// Synchronous Error Type, bits [12:11], for synchronous External aborts.
        SET OFFSET(11) NUMBITS(2) [],
        /// FAR not Valid, bit [10], for a synchronous External abort not on a walk.
        FnV OFFSET(10) NUMBITS(1) [],
        /// External abort type, bit [9].
        EA OFFSET(9) NUMBITS(1) [],
        /// Cache maintenance, bit [8]: the fault came from a cache maintenance or address
        /// translation instruction.
        CM OFFSET(8) NUMBITS(1) [],
        /// Stage 2 fault on a stage 1 translation table walk, bit [7].
        S1PTW OFFSET(7) NUMBITS(1) [],
        /// Write not Read, bit [6].
        WnR OFFSET(6) NUMBITS(1) [
            Read = 0,
            Write = 1
        ],
        /// Data Fault Status Code, bits [5:0].
        DFSC OFFSET(0) NUMBITS(6) []
    ],

    /// ISS encoding for an exception from an Instruction Abort (EC 0b100000 and 0b100001),
    /// in place within ESR_EL1.
    #[allow(missing_docs, reason = "the items the macro generates for documented fields")]
    pub ISS_INSTRUCTION_ABORT [
        /// Synchronous Error Type, bits [12:11], for synchronous External aborts.
        SET OFFSET(11) NUMBITS(2) [],
        /// FAR not Valid, bit [10], for a synchronous External abort not on a walk.
        FnV OFFSET(10) NUMBITS(1) [],
        /// External abort type, bit [9].
        EA OFFSET(9) NUMBITS(1) [],
        /// Stage 2 fault on a stage 1 translation table walk, bit [7].
        S1PTW OFFSET(7) NUMBITS(1) [],
        /// Instruction Fault Status Code, bits [5:0].
        IFSC OFFSET(0) NUMBITS(6) []
    ],

    /// ISS encoding for an exception from HVC, SVC or SMC instruction execution, in place
    /// within ESR_EL1.
    #[allow(missing_docs, reason = "the items the macro generates for documented fields")]
    pub ISS_CALL [
        /// The value of the immediate field of the instruction, bits [15:0].
        imm16 OFFSET(0) NUMBITS(16) []
    ],

    /// ISS encoding for an exception from a BRK instruction, in place within ESR_EL1.
    #[allow(missing_docs, reason = "the items the macro generates for documented fields")]
    pub ISS_BRK [
        /// The instruction's comment field (its immediate), bits [15:0].
        Comment OFFSET(0) NUMBITS(16) []
    ],

    /// The SPSR_EL1 fields, for exceptions taken from AArch64 state, that
    /// `aarch64_cpu::registers::SPSR_EL1` does not declare.
    #[allow(missing_docs, reason = "the items the macro generates for documented fields")]
    pub SPSR_EL1_MORE [
        /// Privileged Access Never, bit [22]: the value of PSTATE.PAN.
        PAN OFFSET(22) NUMBITS(1) [],
        /// Execution state, M[4] (bit [4]): 0 for AArch64, 1 for AArch32.
        M_4 OFFSET(4) NUMBITS(1) [
            AArch64 = 0,
            AArch32 = 1
        ]
    ]
}

/// The reason for an exception taken to EL1: ESR_EL1.EC.
///
/// Named are the classes an EL1 kernel with AArch64 EL0 can be given; the AArch32 classes,
/// those only EL2 or EL3 take, and unallocated codes decode to [`ExceptionClass::Other`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ExceptionClass {
    /// 0b000000: Unknown reason (among others, an UNDEFINED instruction).
    Unknown,
    /// 0b000001: Trapped WFI or WFE instruction execution.
    TrappedWfiOrWfe,
    /// 0b000111: Access to SME, SVE, Advanced SIMD or floating-point functionality trapped
    /// (CPACR_EL1.FPEN): the FP/SIMD access trap.
    TrappedFloatingPointAccess,
    /// 0b001101: Branch Target Exception (FEAT_BTI).
    BranchTarget,
    /// 0b001110: Illegal Execution state (PSTATE.IL was set by an illegal return).
    IllegalExecutionState,
    /// 0b010101: SVC instruction execution in AArch64 state.
    Svc64,
    /// 0b010110: HVC instruction execution in AArch64 state.
    Hvc64,
    /// 0b010111: SMC instruction execution in AArch64 state.
    Smc64,
    /// 0b011000: Trapped MSR, MRS or System instruction execution in AArch64 state.
    TrappedMsrMrs,
    /// 0b011001: Access to SVE functionality trapped (CPACR_EL1.ZEN).
    TrappedSve,
    /// 0b011100: Pointer Authentication instruction authentication failure (FEAT_FPAC).
    PointerAuthenticationFailure,
    /// 0b011101: Access to SME functionality trapped (CPACR_EL1.SMEN).
    TrappedSme,
    /// 0b100000: Instruction Abort from a lower Exception level.
    InstructionAbortLowerEL,
    /// 0b100001: Instruction Abort taken without a change in Exception level.
    InstructionAbortCurrentEL,
    /// 0b100010: PC alignment fault exception.
    PcAlignmentFault,
    /// 0b100100: Data Abort from a lower Exception level.
    DataAbortLowerEL,
    /// 0b100101: Data Abort taken without a change in Exception level.
    DataAbortCurrentEL,
    /// 0b100110: SP alignment fault exception.
    SpAlignmentFault,
    /// 0b100111: Memory Operation Exception (FEAT_MOPS).
    MemoryOperation,
    /// 0b101100: Trapped floating-point exception taken from AArch64 state.
    TrappedFloatingPointException,
    /// 0b101111: SError exception.
    SError,
    /// 0b110000: Breakpoint exception from a lower Exception level.
    BreakpointLowerEL,
    /// 0b110001: Breakpoint exception taken without a change in Exception level.
    BreakpointCurrentEL,
    /// 0b110010: Software Step exception from a lower Exception level.
    SoftwareStepLowerEL,
    /// 0b110011: Software Step exception taken without a change in Exception level.
    SoftwareStepCurrentEL,
    /// 0b110100: Watchpoint exception from a lower Exception level.
    WatchpointLowerEL,
    /// 0b110101: Watchpoint exception taken without a change in Exception level.
    WatchpointCurrentEL,
    /// 0b111100: BRK instruction execution in AArch64 state.
    Brk64,
    /// Any other EC value (6 bits): AArch32, EL2 and EL3 classes, unallocated codes.
    Other(u8),
}

impl ExceptionClass {
    /// Every named class, in EC order.
    pub const NAMED: [ExceptionClass; 28] = [
        ExceptionClass::Unknown,
        ExceptionClass::TrappedWfiOrWfe,
        ExceptionClass::TrappedFloatingPointAccess,
        ExceptionClass::BranchTarget,
        ExceptionClass::IllegalExecutionState,
        ExceptionClass::Svc64,
        ExceptionClass::Hvc64,
        ExceptionClass::Smc64,
        ExceptionClass::TrappedMsrMrs,
        ExceptionClass::TrappedSve,
        ExceptionClass::PointerAuthenticationFailure,
        ExceptionClass::TrappedSme,
        ExceptionClass::InstructionAbortLowerEL,
        ExceptionClass::InstructionAbortCurrentEL,
        ExceptionClass::PcAlignmentFault,
        ExceptionClass::DataAbortLowerEL,
        ExceptionClass::DataAbortCurrentEL,
        ExceptionClass::SpAlignmentFault,
        ExceptionClass::MemoryOperation,
        ExceptionClass::TrappedFloatingPointException,
        ExceptionClass::SError,
        ExceptionClass::BreakpointLowerEL,
        ExceptionClass::BreakpointCurrentEL,
        ExceptionClass::SoftwareStepLowerEL,
        ExceptionClass::SoftwareStepCurrentEL,
        ExceptionClass::WatchpointLowerEL,
        ExceptionClass::WatchpointCurrentEL,
        ExceptionClass::Brk64,
    ];

    /// The class with EC value `code` (bits above the 6-bit field are ignored). A `match`,
    /// not a search of [`NAMED`](Self::NAMED): this runs on every kernel entry.
    pub const fn from_code(code: u8) -> ExceptionClass {
        match code & 0b11_1111 {
            0b00_0000 => ExceptionClass::Unknown,
            0b00_0001 => ExceptionClass::TrappedWfiOrWfe,
            0b00_0111 => ExceptionClass::TrappedFloatingPointAccess,
            0b00_1101 => ExceptionClass::BranchTarget,
            0b00_1110 => ExceptionClass::IllegalExecutionState,
            0b01_0101 => ExceptionClass::Svc64,
            0b01_0110 => ExceptionClass::Hvc64,
            0b01_0111 => ExceptionClass::Smc64,
            0b01_1000 => ExceptionClass::TrappedMsrMrs,
            0b01_1001 => ExceptionClass::TrappedSve,
            0b01_1100 => ExceptionClass::PointerAuthenticationFailure,
            0b01_1101 => ExceptionClass::TrappedSme,
            0b10_0000 => ExceptionClass::InstructionAbortLowerEL,
            0b10_0001 => ExceptionClass::InstructionAbortCurrentEL,
            0b10_0010 => ExceptionClass::PcAlignmentFault,
            0b10_0100 => ExceptionClass::DataAbortLowerEL,
            0b10_0101 => ExceptionClass::DataAbortCurrentEL,
            0b10_0110 => ExceptionClass::SpAlignmentFault,
            0b10_0111 => ExceptionClass::MemoryOperation,
            0b10_1100 => ExceptionClass::TrappedFloatingPointException,
            0b10_1111 => ExceptionClass::SError,
            0b11_0000 => ExceptionClass::BreakpointLowerEL,
            0b11_0001 => ExceptionClass::BreakpointCurrentEL,
            0b11_0010 => ExceptionClass::SoftwareStepLowerEL,
            0b11_0011 => ExceptionClass::SoftwareStepCurrentEL,
            0b11_0100 => ExceptionClass::WatchpointLowerEL,
            0b11_0101 => ExceptionClass::WatchpointCurrentEL,
            0b11_1100 => ExceptionClass::Brk64,
            other => ExceptionClass::Other(other),
        }
    }

    /// The EC value of the class.
    pub const fn code(self) -> u8 {
        match self {
            ExceptionClass::Unknown => 0b00_0000,
            ExceptionClass::TrappedWfiOrWfe => 0b00_0001,
            ExceptionClass::TrappedFloatingPointAccess => 0b00_0111,
            ExceptionClass::BranchTarget => 0b00_1101,
            ExceptionClass::IllegalExecutionState => 0b00_1110,
            ExceptionClass::Svc64 => 0b01_0101,
            ExceptionClass::Hvc64 => 0b01_0110,
            ExceptionClass::Smc64 => 0b01_0111,
            ExceptionClass::TrappedMsrMrs => 0b01_1000,
            ExceptionClass::TrappedSve => 0b01_1001,
            ExceptionClass::PointerAuthenticationFailure => 0b01_1100,
            ExceptionClass::TrappedSme => 0b01_1101,
            ExceptionClass::InstructionAbortLowerEL => 0b10_0000,
            ExceptionClass::InstructionAbortCurrentEL => 0b10_0001,
            ExceptionClass::PcAlignmentFault => 0b10_0010,
            ExceptionClass::DataAbortLowerEL => 0b10_0100,
            ExceptionClass::DataAbortCurrentEL => 0b10_0101,
            ExceptionClass::SpAlignmentFault => 0b10_0110,
            ExceptionClass::MemoryOperation => 0b10_0111,
            ExceptionClass::TrappedFloatingPointException => 0b10_1100,
            ExceptionClass::SError => 0b10_1111,
            ExceptionClass::BreakpointLowerEL => 0b11_0000,
            ExceptionClass::BreakpointCurrentEL => 0b11_0001,
            ExceptionClass::SoftwareStepLowerEL => 0b11_0010,
            ExceptionClass::SoftwareStepCurrentEL => 0b11_0011,
            ExceptionClass::WatchpointLowerEL => 0b11_0100,
            ExceptionClass::WatchpointCurrentEL => 0b11_0101,
            ExceptionClass::Brk64 => 0b11_1100,
            ExceptionClass::Other(code) => code & 0b11_1111,
        }
    }

    /// The class as the Arm ARM describes it in ESR_EL1.EC.
    pub const fn name(self) -> &'static str {
        match self {
            ExceptionClass::Unknown => "Unknown reason",
            ExceptionClass::TrappedWfiOrWfe => "Trapped WF* instruction execution",
            ExceptionClass::TrappedFloatingPointAccess => {
                "Access to SME, SVE, Advanced SIMD or floating-point functionality trapped"
            }
            ExceptionClass::BranchTarget => "Branch Target Exception",
            ExceptionClass::IllegalExecutionState => "Illegal Execution state",
            ExceptionClass::Svc64 => "SVC instruction execution in AArch64 state",
            ExceptionClass::Hvc64 => "HVC instruction execution in AArch64 state",
            ExceptionClass::Smc64 => "SMC instruction execution in AArch64 state",
            ExceptionClass::TrappedMsrMrs => {
                "Trapped MSR, MRS or System instruction execution in AArch64 state"
            }
            ExceptionClass::TrappedSve => "Access to SVE functionality trapped",
            ExceptionClass::PointerAuthenticationFailure => {
                "Exception from a Pointer Authentication instruction authentication failure"
            }
            ExceptionClass::TrappedSme => "Access to SME functionality trapped",
            ExceptionClass::InstructionAbortLowerEL => {
                "Instruction Abort from a lower Exception level"
            }
            ExceptionClass::InstructionAbortCurrentEL => {
                "Instruction Abort taken without a change in Exception level"
            }
            ExceptionClass::PcAlignmentFault => "PC alignment fault exception",
            ExceptionClass::DataAbortLowerEL => "Data Abort from a lower Exception level",
            ExceptionClass::DataAbortCurrentEL => {
                "Data Abort taken without a change in Exception level"
            }
            ExceptionClass::SpAlignmentFault => "SP alignment fault exception",
            ExceptionClass::MemoryOperation => "Memory Operation Exception",
            ExceptionClass::TrappedFloatingPointException => {
                "Trapped floating-point exception taken from AArch64 state"
            }
            ExceptionClass::SError => "SError exception",
            ExceptionClass::BreakpointLowerEL => {
                "Breakpoint exception from a lower Exception level"
            }
            ExceptionClass::BreakpointCurrentEL => {
                "Breakpoint exception taken without a change in Exception level"
            }
            ExceptionClass::SoftwareStepLowerEL => {
                "Software Step exception from a lower Exception level"
            }
            ExceptionClass::SoftwareStepCurrentEL => {
                "Software Step exception taken without a change in Exception level"
            }
            ExceptionClass::WatchpointLowerEL => {
                "Watchpoint exception from a lower Exception level"
            }
            ExceptionClass::WatchpointCurrentEL => {
                "Watchpoint exception taken without a change in Exception level"
            }
            ExceptionClass::Brk64 => "BRK instruction execution in AArch64 state",
            ExceptionClass::Other(_) => "Exception class not handled by this kernel",
        }
    }

    /// Whether the class is an Instruction Abort or a Data Abort, whose ISS holds a fault
    /// status code.
    pub const fn is_abort(self) -> bool {
        self.is_instruction_abort() || self.is_data_abort()
    }

    /// Whether the class is an Instruction Abort, from either level.
    pub const fn is_instruction_abort(self) -> bool {
        matches!(
            self,
            ExceptionClass::InstructionAbortLowerEL | ExceptionClass::InstructionAbortCurrentEL
        )
    }

    /// Whether the class is a Data Abort, from either level.
    pub const fn is_data_abort(self) -> bool {
        matches!(
            self,
            ExceptionClass::DataAbortLowerEL | ExceptionClass::DataAbortCurrentEL
        )
    }
}

impl fmt::Display for ExceptionClass {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.name())
    }
}

/// The cause of an Instruction Abort or Data Abort: the IFSC or DFSC field.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FaultStatus {
    /// 0b0000LL: Address size fault (an address beyond the configured size).
    AddressSize {
        /// The walk level that faulted.
        level: Level,
    },
    /// 0b0001LL: Translation fault (no valid descriptor).
    Translation {
        /// The walk level that faulted.
        level: Level,
    },
    /// 0b0010LL: Access flag fault (a descriptor with AF = 0).
    AccessFlag {
        /// The walk level that faulted.
        level: Level,
    },
    /// 0b0011LL: Permission fault.
    Permission {
        /// The walk level of the descriptor that refused the access.
        level: Level,
    },
    /// 0b010000: Synchronous External abort, not on a translation table walk.
    SynchronousExternal,
    /// 0b010001: Synchronous Tag Check Fault (FEAT_MTE2).
    SynchronousTagCheck,
    /// 0b0101LL: Synchronous External abort on a translation table walk.
    SynchronousExternalOnTableWalk {
        /// The walk level that faulted.
        level: Level,
    },
    /// 0b011000: Synchronous parity or ECC error on a memory access, not on a walk.
    SynchronousParityOrEcc,
    /// 0b0111LL: Synchronous parity or ECC error on a translation table walk.
    SynchronousParityOrEccOnTableWalk {
        /// The walk level that faulted.
        level: Level,
    },
    /// 0b100001: Alignment fault (Data Aborts only).
    Alignment,
    /// 0b110000: TLB conflict abort.
    TlbConflict,
    /// 0b110001: Unsupported atomic hardware update fault.
    UnsupportedAtomicHardwareUpdate,
    /// Any other code: IMPLEMENTATION DEFINED faults, faults of extensions this kernel does
    /// not enable (level -1 of FEAT_LPA2, Granule Protection Faults), reserved codes.
    Other(u8),
}

impl FaultStatus {
    /// Decodes a 6-bit IFSC or DFSC value (bits above the field are ignored).
    pub const fn from_code(code: u8) -> FaultStatus {
        let code = code & 0b11_1111;
        let level = match code & 0b11 {
            0b00 => Level::Zero,
            0b01 => Level::One,
            0b10 => Level::Two,
            _ => Level::Three,
        };
        match code >> 2 {
            0b0000 => FaultStatus::AddressSize { level },
            0b0001 => FaultStatus::Translation { level },
            0b0010 => FaultStatus::AccessFlag { level },
            0b0011 => FaultStatus::Permission { level },
            0b0101 => FaultStatus::SynchronousExternalOnTableWalk { level },
            0b0111 => FaultStatus::SynchronousParityOrEccOnTableWalk { level },
            _ => match code {
                0b01_0000 => FaultStatus::SynchronousExternal,
                0b01_0001 => FaultStatus::SynchronousTagCheck,
                0b01_1000 => FaultStatus::SynchronousParityOrEcc,
                0b10_0001 => FaultStatus::Alignment,
                0b11_0000 => FaultStatus::TlbConflict,
                0b11_0001 => FaultStatus::UnsupportedAtomicHardwareUpdate,
                other => FaultStatus::Other(other),
            },
        }
    }

    /// The walk level the fault names, for the kinds that name one.
    pub const fn level(self) -> Option<Level> {
        match self {
            FaultStatus::AddressSize { level }
            | FaultStatus::Translation { level }
            | FaultStatus::AccessFlag { level }
            | FaultStatus::Permission { level }
            | FaultStatus::SynchronousExternalOnTableWalk { level }
            | FaultStatus::SynchronousParityOrEccOnTableWalk { level } => Some(level),
            FaultStatus::SynchronousExternal
            | FaultStatus::SynchronousTagCheck
            | FaultStatus::SynchronousParityOrEcc
            | FaultStatus::Alignment
            | FaultStatus::TlbConflict
            | FaultStatus::UnsupportedAtomicHardwareUpdate
            | FaultStatus::Other(_) => None,
        }
    }
}

impl fmt::Display for FaultStatus {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self {
            FaultStatus::AddressSize { .. } => "address size fault",
            FaultStatus::Translation { .. } => "translation fault",
            FaultStatus::AccessFlag { .. } => "access flag fault",
            FaultStatus::Permission { .. } => "permission fault",
            FaultStatus::SynchronousExternal => "synchronous external abort",
            FaultStatus::SynchronousTagCheck => "synchronous tag check fault",
            FaultStatus::SynchronousExternalOnTableWalk { .. } => {
                "synchronous external abort on translation table walk"
            }
            FaultStatus::SynchronousParityOrEcc => "synchronous parity or ECC error",
            FaultStatus::SynchronousParityOrEccOnTableWalk { .. } => {
                "synchronous parity or ECC error on translation table walk"
            }
            FaultStatus::Alignment => "alignment fault",
            FaultStatus::TlbConflict => "TLB conflict abort",
            FaultStatus::UnsupportedAtomicHardwareUpdate => {
                "unsupported atomic hardware update fault"
            }
            FaultStatus::Other(code) => return write!(formatter, "fault status code {code:#04x}"),
        };
        formatter.write_str(kind)?;
        match self.level() {
            Some(level) => write!(formatter, ", {level}"),
            None => Ok(()),
        }
    }
}

/// A saved ESR_EL1 value: why an exception was taken to EL1.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Syndrome(u64);

impl Syndrome {
    /// Wraps a saved ESR_EL1 value.
    pub const fn new(esr: u64) -> Syndrome {
        Syndrome(esr)
    }

    /// The saved value.
    pub const fn raw(self) -> u64 {
        self.0
    }

    fn register(self) -> LocalRegisterCopy<u64, ESR_EL1::Register> {
        LocalRegisterCopy::new(self.0)
    }

    /// The raw 6-bit EC field.
    pub fn class_code(self) -> u8 {
        // EC is six bits wide.
        self.register().read(ESR_EL1::EC) as u8
    }

    /// The exception class, EC.
    pub fn class(self) -> ExceptionClass {
        ExceptionClass::from_code(self.class_code())
    }

    /// The Instruction Specific Syndrome, ISS: 25 bits whose meaning depends on the class.
    pub fn iss(self) -> u32 {
        // ISS is 25 bits wide.
        self.register().read(ESR_EL1::ISS) as u32
    }

    /// IL: whether the trapped instruction was 32 bits long. Exceptions not caused by one
    /// instruction (SError, Instruction Aborts, alignment faults, debug exceptions) also
    /// report 1; only a trapped 16-bit T32 instruction reports 0, which AArch64 EL0 never
    /// executes.
    pub fn instruction_length_is_32bit(self) -> bool {
        self.register().is_set(ESR_EL1::IL)
    }

    /// The fault status (IFSC or DFSC) of an Instruction or Data Abort; None for other
    /// classes.
    pub fn fault_status(self) -> Option<FaultStatus> {
        let class = self.class();
        if class.is_data_abort() {
            let iss = LocalRegisterCopy::<u64, ISS_DATA_ABORT::Register>::new(self.0);
            Some(FaultStatus::from_code(iss.read(ISS_DATA_ABORT::DFSC) as u8))
        } else if class.is_instruction_abort() {
            let iss = LocalRegisterCopy::<u64, ISS_INSTRUCTION_ABORT::Register>::new(self.0);
            Some(FaultStatus::from_code(
                iss.read(ISS_INSTRUCTION_ABORT::IFSC) as u8,
            ))
        } else {
            None
        }
    }

    /// WnR of a Data Abort: whether the faulting access was a write. False for every other
    /// class. Cache maintenance and address translation instructions report a write.
    pub fn is_write(self) -> bool {
        self.class().is_data_abort()
            && LocalRegisterCopy::<u64, ISS_DATA_ABORT::Register>::new(self.0)
                .is_set(ISS_DATA_ABORT::WnR)
    }

    /// Whether FAR_EL1 holds the faulting address for this exception: for Instruction and
    /// Data Aborts unless FnV says otherwise, and for PC alignment faults and Watchpoint
    /// exceptions. For every other class FAR_EL1 is UNKNOWN.
    pub fn far_is_valid(self) -> bool {
        let class = self.class();
        if class.is_data_abort() {
            !LocalRegisterCopy::<u64, ISS_DATA_ABORT::Register>::new(self.0)
                .is_set(ISS_DATA_ABORT::FnV)
        } else if class.is_instruction_abort() {
            !LocalRegisterCopy::<u64, ISS_INSTRUCTION_ABORT::Register>::new(self.0)
                .is_set(ISS_INSTRUCTION_ABORT::FnV)
        } else {
            matches!(
                class,
                ExceptionClass::PcAlignmentFault
                    | ExceptionClass::WatchpointLowerEL
                    | ExceptionClass::WatchpointCurrentEL
            )
        }
    }

    /// The 16-bit immediate of an SVC, HVC or SMC instruction, or the comment of a BRK
    /// instruction; None for other classes.
    pub fn immediate(self) -> Option<u16> {
        match self.class() {
            ExceptionClass::Svc64 | ExceptionClass::Hvc64 | ExceptionClass::Smc64 => {
                let iss = LocalRegisterCopy::<u64, ISS_CALL::Register>::new(self.0);
                Some(iss.read(ISS_CALL::imm16) as u16)
            }
            ExceptionClass::Brk64 => {
                let iss = LocalRegisterCopy::<u64, ISS_BRK::Register>::new(self.0);
                Some(iss.read(ISS_BRK::Comment) as u16)
            }
            _ => None,
        }
    }
}

impl fmt::Debug for Syndrome {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "Syndrome({:#010x})", self.0)
    }
}

impl fmt::Display for Syndrome {
    /// One line: the class as the Arm ARM words it, its EC, then what the ISS says, e.g.
    /// `Data Abort taken without a change in Exception level (EC 0x25): permission fault,
    /// level 3, write`.
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let class = self.class();
        write!(
            formatter,
            "{} (EC {:#04x})",
            class.name(),
            self.class_code()
        )?;
        if let Some(status) = self.fault_status() {
            write!(formatter, ": {status}")?;
            if class.is_data_abort() {
                formatter.write_str(if self.is_write() { ", write" } else { ", read" })?;
            }
            if !self.far_is_valid() {
                formatter.write_str(", FAR not valid")?;
            }
            return Ok(());
        }
        match (class, self.immediate()) {
            (ExceptionClass::Brk64, Some(comment)) => write!(formatter, ": comment {comment:#06x}"),
            (_, Some(immediate)) => write!(formatter, ": immediate {immediate:#06x}"),
            (_, None) => write!(formatter, ": ISS {:#09x}", self.iss()),
        }
    }
}

/// The Exception level and stack pointer an exception was taken from: `SPSR_EL1.M[4:0]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Mode {
    /// EL0, SP_EL0.
    EL0t,
    /// EL1, SP_EL0.
    EL1t,
    /// EL1, SP_EL1.
    EL1h,
    /// EL2, SP_EL0.
    EL2t,
    /// EL2, SP_EL2.
    EL2h,
    /// EL3, SP_EL0.
    EL3t,
    /// EL3, SP_EL3.
    EL3h,
    /// `M[4]` = 1: an AArch32 mode, with its `M[4:0]` value.
    AArch32(u8),
    /// An AArch64 `M[3:0]` value the architecture reserves (`M[1]` = 1).
    Reserved(u8),
}

impl fmt::Display for Mode {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Mode::EL0t => formatter.write_str("EL0t"),
            Mode::EL1t => formatter.write_str("EL1t"),
            Mode::EL1h => formatter.write_str("EL1h"),
            Mode::EL2t => formatter.write_str("EL2t"),
            Mode::EL2h => formatter.write_str("EL2h"),
            Mode::EL3t => formatter.write_str("EL3t"),
            Mode::EL3h => formatter.write_str("EL3h"),
            Mode::AArch32(mode) => write!(formatter, "AArch32 mode {mode:#04x}"),
            Mode::Reserved(mode) => write!(formatter, "reserved mode {mode:#03x}"),
        }
    }
}

/// A saved SPSR_EL1 value: the PSTATE an exception was taken from.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct SavedProgramStatus(u64);

impl SavedProgramStatus {
    /// Wraps a saved SPSR_EL1 value.
    pub const fn new(spsr: u64) -> SavedProgramStatus {
        SavedProgramStatus(spsr)
    }

    /// The saved value.
    pub const fn raw(self) -> u64 {
        self.0
    }

    fn register(self) -> LocalRegisterCopy<u64, SPSR_EL1::Register> {
        LocalRegisterCopy::new(self.0)
    }

    fn more(self) -> LocalRegisterCopy<u64, SPSR_EL1_MORE::Register> {
        LocalRegisterCopy::new(self.0)
    }

    /// The mode the exception was taken from, `M[4:0]`.
    pub fn mode(self) -> Mode {
        // M[3:0] is four bits wide.
        let mode = self.register().read(SPSR_EL1::M) as u8;
        if self.more().is_set(SPSR_EL1_MORE::M_4) {
            return Mode::AArch32(mode | 0b1_0000);
        }
        match mode {
            0b0000 => Mode::EL0t,
            0b0100 => Mode::EL1t,
            0b0101 => Mode::EL1h,
            0b1000 => Mode::EL2t,
            0b1001 => Mode::EL2h,
            0b1100 => Mode::EL3t,
            0b1101 => Mode::EL3h,
            reserved => Mode::Reserved(reserved),
        }
    }

    /// D: Watchpoint, Breakpoint and Software Step exceptions were masked.
    pub fn debug_masked(self) -> bool {
        self.register().is_set(SPSR_EL1::D)
    }

    /// A: SError exceptions were masked.
    pub fn serror_masked(self) -> bool {
        self.register().is_set(SPSR_EL1::A)
    }

    /// I: IRQs were masked.
    pub fn irq_masked(self) -> bool {
        self.register().is_set(SPSR_EL1::I)
    }

    /// F: FIQs were masked.
    pub fn fiq_masked(self) -> bool {
        self.register().is_set(SPSR_EL1::F)
    }

    /// N: the Negative condition flag.
    pub fn negative(self) -> bool {
        self.register().is_set(SPSR_EL1::N)
    }

    /// Z: the Zero condition flag.
    pub fn zero(self) -> bool {
        self.register().is_set(SPSR_EL1::Z)
    }

    /// C: the Carry condition flag.
    pub fn carry(self) -> bool {
        self.register().is_set(SPSR_EL1::C)
    }

    /// V: the Overflow condition flag.
    pub fn overflow(self) -> bool {
        self.register().is_set(SPSR_EL1::V)
    }

    /// IL: PSTATE.IL, set by an illegal exception return.
    pub fn illegal_execution_state(self) -> bool {
        self.register().is_set(SPSR_EL1::IL)
    }

    /// SS: PSTATE.SS, software step.
    pub fn software_step(self) -> bool {
        self.register().is_set(SPSR_EL1::SS)
    }

    /// PAN: PSTATE.PAN, privileged access never.
    pub fn privileged_access_never(self) -> bool {
        self.more().is_set(SPSR_EL1_MORE::PAN)
    }
}

impl fmt::Debug for SavedProgramStatus {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "SavedProgramStatus({:#010x})", self.0)
    }
}

/// A flag letter: upper case when set, lower case when clear.
fn flag(formatter: &mut fmt::Formatter<'_>, set: bool, letter: char) -> fmt::Result {
    use fmt::Write;

    formatter.write_char(if set {
        letter.to_ascii_uppercase()
    } else {
        letter.to_ascii_lowercase()
    })
}

impl fmt::Display for SavedProgramStatus {
    /// The mode, the DAIF masks and the NZCV flags, upper case when set, then the names of
    /// the other state bits that are set: e.g. `EL1h daif=DAIF nzcv=nZcv`.
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{} daif=", self.mode())?;
        flag(formatter, self.debug_masked(), 'd')?;
        flag(formatter, self.serror_masked(), 'a')?;
        flag(formatter, self.irq_masked(), 'i')?;
        flag(formatter, self.fiq_masked(), 'f')?;
        formatter.write_str(" nzcv=")?;
        flag(formatter, self.negative(), 'n')?;
        flag(formatter, self.zero(), 'z')?;
        flag(formatter, self.carry(), 'c')?;
        flag(formatter, self.overflow(), 'v')?;
        if self.privileged_access_never() {
            formatter.write_str(" PAN")?;
        }
        if self.software_step() {
            formatter.write_str(" SS")?;
        }
        if self.illegal_execution_state() {
            formatter.write_str(" IL")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
