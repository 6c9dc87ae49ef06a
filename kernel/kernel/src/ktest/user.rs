//! The user-mode scenarios: address spaces as the MMU sees them (`user-space`), and small
//! hand-assembled programs run at EL0 (`user-hello`, `user-fault`, `user-ticks`).
//!
//! A program scenario is a list of [`Case`]s, each a program and what it must do: exit with
//! a status, fault in a given way, or spin while timer ticks arrive. Each case gets a fresh
//! [`UserSpace`] with the program in a read-execute code page at [`CODE_ADDRESS`] and a
//! read-write stack page at [`STACK_ADDRESS`]. The scenario is driven from the exception
//! path: `user_mode` hands every EL0 event to [`supervise`], which judges the running case,
//! tears its space down and enters the next one, or ends the run. At the end every frame
//! the cases took must be back in the frame allocator.
//!
//! The programs are instruction words with their assembly beside them (assembled with
//! `llvm-mc -triple=aarch64`), so that the test image needs no EL0 toolchain yet.

use aarch64::exception::{ExceptionClass, FaultStatus, Mode, Syndrome};
use aarch64::page_table::{Level, PAGE_SIZE};
use aarch64::trap_frame::TrapFrame;
use kcore::asid::Activation;
use spin::Mutex;

use crate::arch::user::{make_instructions_visible, read_as_user, user_translation};
use crate::layout::linear;
use crate::user_mode::{self, UserEvent, enter_user, user_frame};
use crate::user_space::{self, Error, Rights, UserSpace, copy_from_active_space};
use crate::{arch, memory, timer};

/// Where every program's code page is mapped (read-execute).
pub const CODE_ADDRESS: u64 = 0x40_0000;
/// Where every program's stack page is mapped (read-write); the stack starts at its top.
pub const STACK_ADDRESS: u64 = 0x80_0000;
/// The initial stack pointer.
const STACK_TOP: u64 = STACK_ADDRESS + PAGE_SIZE;

/// `svc #0xf002`: exit(x0), test only.
const EXIT: u32 = 0xd41e_0041;
/// `svc #0xf001`: kernel_debug_write(x0 = address, x1 = length) -> x9.
const DEBUG_WRITE: u32 = 0xd41e_0021;

/// Writes "hello from EL0", then exits with 42 if the write returned success in x9,
/// passing the status through the stack page.
const HELLO_PROGRAM: &[u32] = &[
    0x1000_0100, // adr  x0, message          (+0x20)
    0xd280_01c1, // mov  x1, #14
    DEBUG_WRITE, // svc  #0xf001
    0x9100_a922, // add  x2, x9, #42
    0xf81f_0fe2, // str  x2, [sp, #-16]!
    0xf841_07e0, // ldr  x0, [sp], #16
    EXIT,        // svc  #0xf002
    0x1400_0000, // b    .
    0x6c6c_6568, // message: .ascii "hello from EL0"
    0x7266_206f,
    0x4520_6d6f,
    0x0000_304c,
];

/// Loads from 0x7000_0000, which nothing maps.
const LOAD_UNMAPPED_PROGRAM: &[u32] = &[
    0xd2ae_0001, // mov  x1, #0x70000000
    0xf940_0020, // ldr  x0, [x1]
    EXIT,        // svc  #0xf002
];

/// Executes a permanently undefined instruction.
const UNDEFINED_PROGRAM: &[u32] = &[
    0x0000_0000, // udf  #0
    EXIT,        // svc  #0xf002
];

/// Makes a supervisor call with an immediate no kernel call has.
const UNKNOWN_CALL_PROGRAM: &[u32] = &[
    0xd402_4681, // svc  #0x1234
    EXIT,        // svc  #0xf002
];

/// Stores into its own (read-execute) code page.
const WRITE_CODE_PROGRAM: &[u32] = &[
    0x1000_0001, // adr  x1, .
    0xf900_0021, // str  x1, [x1]
    EXIT,        // svc  #0xf002
];

/// Jumps into its (read-write, never executable) stack page.
const EXECUTE_STACK_PROGRAM: &[u32] = &[
    0xd2a0_1001, // mov  x1, #0x800000
    0xd61f_0020, // br   x1
];

/// Passes four bad buffers to kernel_debug_write and exits with the sum of the four x9
/// results: 64 when each was refused with 16 (invalid argument).
const BAD_BUFFERS_PROGRAM: &[u32] = &[
    0xd2ae_0000, // mov  x0, #0x70000000         unmapped
    0xd280_0081, // mov  x1, #4
    DEBUG_WRITE, // svc  #0xf001
    0xaa09_03f3, // mov  x19, x9
    0xd2ff_ffe0, // movz x0, #0xffff, lsl #48    the kernel's linear map:
    0xf2a8_0000, // movk x0, #0x4000, lsl #16    0xffff_0000_4000_0000
    0xd280_0081, // mov  x1, #4
    DEBUG_WRITE, // svc  #0xf001
    0x8b09_0273, // add  x19, x19, x9
    0xd2a0_0800, // mov  x0, #0x400000           the code page's last 16 bytes and
    0xf281_fe00, // movk x0, #0xff0              16 of the unmapped page after it
    0xd280_0401, // mov  x1, #32
    DEBUG_WRITE, // svc  #0xf001
    0x8b09_0273, // add  x19, x19, x9
    0x1000_0000, // adr  x0, .                   readable, but too long
    0xd280_2021, // mov  x1, #257
    DEBUG_WRITE, // svc  #0xf001
    0x8b09_0260, // add  x0, x19, x9
    EXIT,        // svc  #0xf002
];

/// Counts x0 up to 0x100000, then spins; it never enters the kernel by itself.
const SPIN_PROGRAM: &[u32] = &[
    0xd280_0000, // mov  x0, #0
    0xd2a0_0201, // mov  x1, #0x100000
    0x9100_0400, // 1: add x0, x0, #1
    0xeb01_001f, // cmp  x0, x1
    0x54ff_ffc1, // b.ne 1b
    0x1400_0000, // 2: b 2b                      (offset 0x14)
];

/// What a case's program must do.
#[derive(Clone, Copy, Debug)]
pub enum Expect {
    /// Call exit with this status.
    Exit(u64),
    /// Take this exception at `CODE_ADDRESS + offset`.
    Fault {
        /// The exception class.
        class: ExceptionClass,
        /// The fault status, for aborts.
        status: Option<FaultStatus>,
        /// The faulting address, when FAR must be valid.
        far: Option<u64>,
        /// Offset of the faulting instruction in the program.
        offset: u64,
    },
    /// Be interrupted by `ticks` timer ticks at EL0 (EL0t, IRQs unmasked), and finally be
    /// found spinning at `CODE_ADDRESS + offset` with x0 = `counter`, the registers having
    /// survived every interrupt.
    TicksAtEl0 {
        /// How many ticks must be taken from EL0.
        ticks: u64,
        /// Offset of the spin loop.
        offset: u64,
        /// x0 once the counting loop is done.
        counter: u64,
    },
}

/// One program and what it must do.
#[derive(Clone, Copy, Debug)]
pub struct Case {
    name: &'static str,
    program: &'static [u32],
    expect: Expect,
}

/// `ktest=user-hello`.
pub const HELLO: [Case; 1] = [Case {
    name: "hello",
    program: HELLO_PROGRAM,
    expect: Expect::Exit(42),
}];

/// `ktest=user-fault`: every way a program can fail, and the kernel survives each.
pub const FAULTS: [Case; 6] = [
    Case {
        name: "load from unmapped memory",
        program: LOAD_UNMAPPED_PROGRAM,
        expect: Expect::Fault {
            class: ExceptionClass::DataAbortLowerEL,
            status: Some(FaultStatus::Translation { level: Level::One }),
            far: Some(0x7000_0000),
            offset: 4,
        },
    },
    Case {
        name: "undefined instruction",
        program: UNDEFINED_PROGRAM,
        expect: Expect::Fault {
            class: ExceptionClass::Unknown,
            status: None,
            far: None,
            offset: 0,
        },
    },
    Case {
        name: "unknown supervisor call",
        program: UNKNOWN_CALL_PROGRAM,
        expect: Expect::Fault {
            class: ExceptionClass::Svc64,
            status: None,
            far: None,
            offset: 0,
        },
    },
    Case {
        name: "store into its code",
        program: WRITE_CODE_PROGRAM,
        expect: Expect::Fault {
            class: ExceptionClass::DataAbortLowerEL,
            status: Some(FaultStatus::Permission {
                level: Level::Three,
            }),
            far: Some(CODE_ADDRESS),
            offset: 4,
        },
    },
    Case {
        name: "jump into its stack",
        program: EXECUTE_STACK_PROGRAM,
        expect: Expect::Fault {
            class: ExceptionClass::InstructionAbortLowerEL,
            status: Some(FaultStatus::Permission {
                level: Level::Three,
            }),
            far: Some(STACK_ADDRESS),
            offset: STACK_ADDRESS - CODE_ADDRESS,
        },
    },
    Case {
        name: "bad buffers for kernel_debug_write",
        program: BAD_BUFFERS_PROGRAM,
        expect: Expect::Exit(64),
    },
];

/// `ktest=user-ticks`.
pub const TICKS: [Case; 1] = [Case {
    name: "spin through timer ticks",
    program: SPIN_PROGRAM,
    expect: Expect::TicksAtEl0 {
        ticks: 5,
        offset: 0x14,
        counter: 0x10_0000,
    },
}];

/// Ticks at EL0 after which a ticks case that never reached its spin loop fails.
const TICK_LIMIT: u64 = 1_000;

/// A program loaded into a fresh space: the space and the two frames it maps.
#[derive(Debug)]
struct Process {
    space: UserSpace,
    code: u64,
    stack: u64,
}

impl Process {
    fn load(program: &[u32]) -> Result<Process, &'static str> {
        let code = allocate_zeroed_frame()?;
        let stack = match allocate_zeroed_frame() {
            Ok(stack) => stack,
            Err(why) => {
                free_frame(code);
                return Err(why);
            }
        };
        let words = linear(code) as *mut u32;
        for (index, word) in program.iter().take(PAGE_SIZE as usize / 4).enumerate() {
            // SAFETY: the frame was just allocated to us, the linear map covers it
            // read-write, and the index stays within its 1024 words.
            unsafe { words.add(index).write(*word) };
        }
        make_instructions_visible(linear(code), (program.len() * 4) as u64);
        // From here on the process owns the frames: dropping it frees them.
        let mut process = Process {
            space: UserSpace::new().ok_or("no frame for a root table")?,
            code,
            stack,
        };
        // SAFETY: both frames were taken from the frame allocator for this process and are
        // freed only after its space is gone.
        unsafe {
            process
                .space
                .map_page(CODE_ADDRESS, code, Rights::READ_EXECUTE)
                .map_err(|_| "mapping the code page failed")?;
            process
                .space
                .map_page(STACK_ADDRESS, stack, Rights::READ_WRITE)
                .map_err(|_| "mapping the stack page failed")?;
        }
        Ok(process)
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        // `space` itself is dropped after this body: unmap the pages first (with their TLB
        // entries) so that no translation to the frames outlives their release.
        let _ = self.space.unmap_page(CODE_ADDRESS);
        let _ = self.space.unmap_page(STACK_ADDRESS);
        free_frame(self.code);
        free_frame(self.stack);
    }
}

fn allocate_zeroed_frame() -> Result<u64, &'static str> {
    let frame = memory::with_frames(|frames| frames.allocate())
        .flatten()
        .ok_or("out of frames")?;
    // SAFETY: the frame was just allocated to us and the linear map covers it read-write.
    unsafe { core::ptr::write_bytes(linear(frame) as *mut u8, 0, PAGE_SIZE as usize) };
    Ok(frame)
}

fn free_frame(frame: u64) {
    if memory::with_frames(|frames| frames.free(frame)).is_none_or(|result| result.is_err()) {
        kprintln!("ktest: frame {frame:#x} could not be freed");
    }
}

fn free_frames() -> Result<usize, &'static str> {
    memory::with_frames(|frames| frames.free_frames()).ok_or("no frame allocator")
}

/// A program scenario in progress.
#[derive(Debug)]
struct Scenario {
    name: &'static str,
    cases: &'static [Case],
    /// The running case.
    index: usize,
    process: Option<Process>,
    free_frames_before: usize,
    /// The first case that failed, and why.
    failure: Option<&'static str>,
    /// Timer ticks taken while the running case was at EL0, and the tick count last seen.
    ticks_at_el0: u64,
    last_tick: u64,
}

static SCENARIO: Mutex<Option<Scenario>> = Mutex::new(None);

fn with_scenario<T>(body: impl FnOnce(&mut Scenario) -> T) -> Option<T> {
    arch::with_interrupts_masked(|| SCENARIO.lock().as_mut().map(body))
}

/// Run `cases` one after the other at EL0; the verdict comes from [`supervise`]. Returns
/// only if the first case cannot be started.
pub fn run_programs(name: &'static str, cases: &'static [Case]) -> Result<(), &'static str> {
    user_space::initialise().map_err(|_| "no memory for the user-space state")?;
    let scenario = Scenario {
        name,
        cases,
        index: 0,
        process: None,
        free_frames_before: free_frames()?,
        failure: None,
        ticks_at_el0: 0,
        last_tick: timer::ticks(),
    };
    arch::with_interrupts_masked(|| *SCENARIO.lock() = Some(scenario));
    user_mode::set_supervisor(supervise);
    start_case()
}

/// Load and enter the current case; returns only if it cannot be loaded.
fn start_case() -> Result<(), &'static str> {
    let (case, loaded) = with_scenario(|scenario| {
        let case = scenario.cases[scenario.index];
        let loaded = Process::load(case.program).map(|mut process| {
            let activation = process.space.activate();
            scenario.process = Some(process);
            scenario.ticks_at_el0 = 0;
            scenario.last_tick = timer::ticks();
            activation
        });
        (case, loaded)
    })
    .ok_or("no scenario")?;
    let activation = loaded?;
    kprintln!(
        "ktest: case {}: entering EL0 at {CODE_ADDRESS:#x} with ASID {}",
        case.name,
        activation.value()
    );
    enter_user(&user_frame(CODE_ADDRESS, STACK_TOP))
}

/// What a case's event means.
enum Judgement {
    /// Not the end of the case: resume the program.
    Resume,
    /// The case is over, passed or failed.
    Over(Result<(), &'static str>),
}

/// The supervisor of every program scenario (see `user_mode::Supervisor`).
fn supervise(event: UserEvent, frame: &mut TrapFrame) {
    let judgement = with_scenario(|scenario| {
        let case = scenario.cases[scenario.index];
        judge(scenario, &case, event, frame)
    });
    match judgement {
        None | Some(Judgement::Resume) => {}
        Some(Judgement::Over(result)) => next_case(result),
    }
}

fn judge(scenario: &mut Scenario, case: &Case, event: UserEvent, frame: &TrapFrame) -> Judgement {
    match (case.expect, event) {
        (Expect::Exit(expected), UserEvent::Exited { status }) => {
            kprintln!("ktest: case {}: exited with status {status}", case.name);
            Judgement::Over(if status == expected {
                Ok(())
            } else {
                Err("a program exited with the wrong status")
            })
        }
        (
            Expect::Fault {
                class,
                status,
                far,
                offset,
            },
            UserEvent::Faulted {
                syndrome,
                pc,
                far: actual_far,
            },
        ) => {
            let expected = syndrome.class() == class
                && syndrome.fault_status() == status
                && far.is_none_or(|far| actual_far == Some(far))
                && pc == CODE_ADDRESS + offset;
            kprintln!(
                "ktest: case {}: caught {}, {}",
                case.name,
                describe(syndrome),
                if expected {
                    "as expected"
                } else {
                    "NOT as expected"
                }
            );
            Judgement::Over(if expected {
                Ok(())
            } else {
                Err("a program faulted differently than expected")
            })
        }
        (
            Expect::TicksAtEl0 {
                ticks,
                offset,
                counter,
            },
            UserEvent::Interrupted,
        ) => {
            let status = frame.saved_program_status();
            if status.mode() != Mode::EL0t || status.irq_masked() {
                kprintln!("ktest: interrupted state was {status}, not EL0t with IRQs on");
                return Judgement::Over(Err("an IRQ from EL0 did not interrupt EL0t"));
            }
            let now = timer::ticks();
            if now != scenario.last_tick {
                scenario.last_tick = now;
                scenario.ticks_at_el0 += 1;
            }
            let spinning = frame.elr == CODE_ADDRESS + offset && frame.x[0] == counter;
            if scenario.ticks_at_el0 >= ticks && spinning {
                kprintln!(
                    "ktest: case {}: {} timer ticks taken at EL0 ({status}); x0 = {:#x} at pc {:#x}",
                    case.name,
                    scenario.ticks_at_el0,
                    frame.x[0],
                    frame.elr
                );
                Judgement::Over(Ok(()))
            } else if scenario.ticks_at_el0 >= TICK_LIMIT {
                Judgement::Over(Err("the program never reached its spin loop"))
            } else {
                Judgement::Resume
            }
        }
        (_, UserEvent::Interrupted) => Judgement::Resume,
        (_, UserEvent::Exited { status }) => {
            kprintln!("ktest: case {}: exited with status {status}", case.name);
            Judgement::Over(Err("a program exited when it should not have"))
        }
        (_, UserEvent::Faulted { syndrome, .. }) => {
            kprintln!("ktest: case {}: caught {}", case.name, describe(syndrome));
            Judgement::Over(Err("a program faulted when it should not have"))
        }
    }
}

/// The exception class and, for aborts, the fault status, e.g. `Data Abort from a lower
/// Exception level: translation fault, level 1`.
fn describe(syndrome: Syndrome) -> impl core::fmt::Display {
    struct Description(Syndrome);
    impl core::fmt::Display for Description {
        fn fmt(&self, formatter: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
            write!(formatter, "{}", self.0.class())?;
            match self.0.fault_status() {
                Some(status) => write!(formatter, ": {status}"),
                None => Ok(()),
            }
        }
    }
    Description(syndrome)
}

/// Tear the finished case down, then enter the next one or end the scenario.
fn next_case(result: Result<(), &'static str>) -> ! {
    let next = with_scenario(|scenario| {
        scenario.process = None;
        if let Err(why) = result {
            scenario.failure.get_or_insert(why);
        }
        scenario.index += 1;
        (
            scenario.name,
            scenario.index < scenario.cases.len() && scenario.failure.is_none(),
            scenario.failure,
            scenario.free_frames_before,
        )
    });
    let Some((name, more, failure, free_frames_before)) = next else {
        super::finish("user", Err("no scenario"))
    };
    if more {
        let why = start_case().err().unwrap_or("a case returned");
        super::finish(name, Err(why))
    }
    let result = failure.map_or_else(
        || match free_frames() {
            Ok(after) if after == free_frames_before => {
                kprintln!("ktest: every frame the cases took is back ({after} free)");
                Ok(())
            }
            Ok(after) => {
                kprintln!("ktest: {free_frames_before} frames were free before, {after} after");
                Err("frames were lost")
            }
            Err(why) => Err(why),
        },
        Err,
    );
    super::finish(name, result)
}

/// `ktest=user-space`: two spaces map different frames at one address; each sees its own
/// with its own ASID, and switching back and forth flushes nothing; rights, unmapping and
/// refusals act on the MMU; destroying the spaces returns every frame.
pub fn address_spaces() -> Result<(), &'static str> {
    user_space::initialise().map_err(|_| "no memory for the user-space state")?;
    kprintln!("ktest: ASIDs are {} bits", user_space::asid_bits());
    // A first space turns TTBR0 walks on and puts the ASID allocator to use, so that the
    // frame count below sees only what the spaces themselves take.
    let mut warm_up = UserSpace::new().ok_or("no frame for a root table")?;
    warm_up.activate();
    drop(warm_up);
    if user_translation(CODE_ADDRESS, false).is_some() {
        return Err("a destroyed space still translates");
    }
    let before = free_frames()?;

    const SHARED_ADDRESS: u64 = CODE_ADDRESS;
    const SECOND_ADDRESS: u64 = CODE_ADDRESS + PAGE_SIZE;
    const FIRST_VALUE: u64 = 0x1111_1111_f1f1_f1f1;
    const SECOND_VALUE: u64 = 0x2222_2222_f2f2_f2f2;
    let first_frame = allocate_zeroed_frame()?;
    let second_frame = allocate_zeroed_frame()?;
    // SAFETY: both frames were just allocated to this test; the linear map covers them.
    unsafe {
        (linear(first_frame) as *mut u64).write(FIRST_VALUE);
        (linear(second_frame) as *mut u64).write(SECOND_VALUE);
    }
    let mut first = UserSpace::new().ok_or("no frame for a root table")?;
    let mut second = UserSpace::new().ok_or("no frame for a root table")?;
    // SAFETY: the frames were allocated for this test and are freed after both spaces.
    unsafe {
        first
            .map_page(SHARED_ADDRESS, first_frame, Rights::READ_WRITE)
            .map_err(|_| "mapping the first frame failed")?;
        second
            .map_page(SHARED_ADDRESS, second_frame, Rights::READ_WRITE)
            .map_err(|_| "mapping the second frame failed")?;
    }

    let first_asid = first.activate();
    sees(SHARED_ADDRESS, first_frame, FIRST_VALUE)?;
    let second_asid = second.activate();
    sees(SHARED_ADDRESS, second_frame, SECOND_VALUE)?;
    if !matches!(first_asid, Activation::Fresh(_)) || !matches!(second_asid, Activation::Fresh(_)) {
        return Err("a new space did not get a fresh ASID");
    }
    if first_asid.value() == second_asid.value() {
        return Err("two live spaces share an ASID");
    }
    for _ in 0..3 {
        let again_first = first.activate();
        sees(SHARED_ADDRESS, first_frame, FIRST_VALUE)?;
        let again_second = second.activate();
        sees(SHARED_ADDRESS, second_frame, SECOND_VALUE)?;
        if again_first != Activation::Valid(first_asid.value())
            || again_second != Activation::Valid(second_asid.value())
        {
            return Err("switching between live spaces changed an ASID or flushed the TLB");
        }
    }
    if !second.is_active()
        || first.is_active()
        || first.asid().map(|asid| asid.value) != Some(first_asid.value())
    {
        return Err("the spaces do not know which is active or which ASID they hold");
    }
    kprintln!(
        "ktest: {SHARED_ADDRESS:#x} is frame {first_frame:#x} in the space rooted at {:#x} \
         (ASID {}) and frame {second_frame:#x} in the one rooted at {:#x} (ASID {}); \
         switching back and forth kept both ASIDs, no flush",
        first.root(),
        first_asid.value(),
        second.root(),
        second_asid.value()
    );

    refusals(&mut first, first_frame)?;
    rights_on_the_mmu(&mut first, first_frame, SECOND_ADDRESS)?;

    // Destroying the active space leaves TTBR0 on the empty table.
    drop(first);
    if user_translation(SHARED_ADDRESS, false).is_some() {
        return Err("the destroyed active space still translates");
    }
    second.activate();
    sees(SHARED_ADDRESS, second_frame, SECOND_VALUE)?;
    second.destroy();
    if user_translation(SHARED_ADDRESS, false).is_some() {
        return Err("the destroyed active space still translates");
    }
    kprintln!("ktest: a destroyed active space no longer translates");
    free_frame(first_frame);
    free_frame(second_frame);
    let after = free_frames()?;
    if after != before {
        kprintln!("ktest: {before} frames were free before, {after} after");
        return Err("destroying the spaces did not return every frame");
    }
    kprintln!("ktest: destroying the spaces returned every table frame ({after} free)");
    Ok(())
}

/// The active space maps `virt` to `frame` for EL0 reads (AT S1E0R) and EL0 reads `value`
/// there (LDTR, through the TLB).
fn sees(virt: u64, frame: u64, value: u64) -> Result<(), &'static str> {
    if user_translation(virt, false) != Some(frame) {
        return Err("EL0 does not see the space's own frame");
    }
    // SAFETY: AT S1E0R just said the address is mapped EL0-readable; it is 8-byte aligned.
    if unsafe { read_as_user(virt) } != value {
        return Err("EL0 reads another space's value");
    }
    Ok(())
}

/// What map_page refuses: W^X, addresses outside the user half, misalignment, rights
/// aarch64 cannot express, a page that is mapped already.
fn refusals(space: &mut UserSpace, frame: u64) -> Result<(), &'static str> {
    let free_address = STACK_ADDRESS;
    let write_execute = Rights {
        read: true,
        write: true,
        execute: true,
    };
    let write_only = Rights {
        read: false,
        write: true,
        execute: false,
    };
    let checks: [(&str, u64, u64, Rights, Error); 6] = [
        (
            "writable and executable",
            free_address,
            frame,
            write_execute,
            Error::WritableAndExecutable,
        ),
        (
            "a kernel-half address",
            0xffff_0000_4000_0000,
            frame,
            Rights::READ_ONLY,
            Error::NotUserAddress,
        ),
        (
            "the first address above the user half",
            user_space::USER_ADDRESS_LIMIT,
            frame,
            Rights::READ_ONLY,
            Error::NotUserAddress,
        ),
        (
            "a misaligned address",
            free_address + 8,
            frame,
            Rights::READ_ONLY,
            Error::Misaligned,
        ),
        (
            "write without read",
            free_address,
            frame,
            write_only,
            Error::UnsupportedRights,
        ),
        (
            "a page that is mapped already",
            CODE_ADDRESS,
            frame,
            Rights::READ_ONLY,
            Error::AlreadyMapped,
        ),
    ];
    for (what, virt, frame, rights, expected) in checks {
        // SAFETY: every one of these is refused before anything is mapped; were one not,
        // `frame` is a test frame the spaces may map.
        let result = unsafe { space.map_page(virt, frame, rights) };
        kprintln!(
            "ktest: mapping {what} ({rights}): {}",
            match result {
                Ok(()) => "mapped!",
                Err(error) if error == expected => "refused",
                Err(_) => "refused for the wrong reason",
            }
        );
        if result != Err(expected) {
            return Err("map_page did not refuse as it must");
        }
    }
    Ok(())
}

/// Read-only pages refuse EL0 writes; protect_page takes write access away and refuses to
/// add it; unmap_page removes the translation; copy_from_active_space follows the tables.
fn rights_on_the_mmu(
    space: &mut UserSpace,
    frame: u64,
    read_only: u64,
) -> Result<(), &'static str> {
    // SAFETY: `frame` was allocated for this test and is freed after the space.
    unsafe { space.map_page(read_only, frame, Rights::READ_ONLY) }
        .map_err(|_| "mapping a read-only page failed")?;
    space.activate();
    let checks = [
        (
            "a read-only page is readable by EL0",
            user_translation(read_only, false) == Some(frame),
        ),
        (
            "a read-only page refuses EL0 writes",
            user_translation(read_only, true).is_none(),
        ),
        (
            "a read-write page takes EL0 writes",
            user_translation(CODE_ADDRESS, true) == Some(frame),
        ),
    ];
    check_all(&checks)?;

    space
        .protect_page(CODE_ADDRESS, Rights::READ_ONLY)
        .map_err(|_| "protect_page failed")?;
    let checks = [
        (
            "after protect_page to r--, EL0 writes are refused",
            user_translation(CODE_ADDRESS, true).is_none(),
        ),
        (
            "after protect_page to r--, EL0 still reads",
            user_translation(CODE_ADDRESS, false) == Some(frame),
        ),
        (
            "protect_page refuses to add write access",
            space.protect_page(CODE_ADDRESS, Rights::READ_WRITE) == Err(Error::WouldAddRights),
        ),
        (
            "lookup reports the reduced rights",
            space.lookup(CODE_ADDRESS) == Some((frame, Rights::READ_ONLY)),
        ),
    ];
    check_all(&checks)?;

    let mut bytes = [0u8; 16];
    let copied = copy_from_active_space(read_only + PAGE_SIZE - 8, &mut bytes[..8]).is_ok();
    let straddling = copy_from_active_space(read_only + PAGE_SIZE - 8, &mut bytes).is_err();
    let unmapped = space.unmap_page(read_only);
    let checks = [
        (
            "the kernel copies from a mapped user buffer",
            copied && bytes[..8] == 0u64.to_le_bytes(),
        ),
        (
            "the kernel refuses a buffer running into an unmapped page",
            straddling,
        ),
        ("unmap_page returns the frame", unmapped == Ok(frame)),
        (
            "an unmapped page no longer translates",
            user_translation(read_only, false).is_none(),
        ),
        (
            "unmapping it again is refused",
            space.unmap_page(read_only) == Err(Error::NotMapped),
        ),
        (
            "the kernel refuses a buffer in an unmapped page",
            copy_from_active_space(read_only, &mut bytes[..1]).is_err(),
        ),
    ];
    check_all(&checks)
}

fn check_all(checks: &[(&'static str, bool)]) -> Result<(), &'static str> {
    for &(what, holds) in checks {
        kprintln!("ktest: {what}: {}", if holds { "yes" } else { "NO" });
        if !holds {
            return Err(what);
        }
    }
    Ok(())
}
