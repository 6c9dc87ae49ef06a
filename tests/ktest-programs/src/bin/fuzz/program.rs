//! fuzz's behaviour; built only for the bare-metal target (see main.rs).

use abi::Call;
use abi::call::CallRegisters;
use ktest_programs::{FUZZ, FUZZ_CALLS, PING, PONG};
use libl4::debug_println;

/// xorshift64: deterministic, so a failing run can be replayed.
struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// A register value: random bits, a small number, zero, an ID of the fuzzer's own task
    /// (threads it may create), or a nearly valid ID with a wrong version.
    fn argument(&mut self) -> u64 {
        match self.next() % 6 {
            0 => self.next(),
            1 => self.next() % 64,
            2 => 0,
            3 => FUZZ
                .with_thread((self.next() % 8) as u16 + 1)
                .map_or(0, |thread| thread.raw()),
            4 => abi::ThreadId::new((self.next() % 16) as u16 + 6, 0, 1)
                .map_or(0, |thread| thread.raw()),
            _ => FUZZ.raw() ^ (1 << (self.next() % 20)),
        }
    }
}

/// The program: what `_start` runs on thread 0.
pub fn main() {
    debug_println!("fuzz: start");
    let mut random = Random(0x2545_F491_4F6C_DD1D);
    let mut refused = 0u64;
    for _ in 0..FUZZ_CALLS {
        let mut registers: CallRegisters = [0; 11];
        for register in registers.iter_mut() {
            *register = random.argument();
        }
        let call = Call::ALL[(random.next() % Call::ALL.len() as u64) as usize];
        let sparing_myself = spare_myself(call, &mut registers);
        if sparing_myself {
            continue;
        }
        // SAFETY: the arguments are random on purpose; `spare_myself` removed the calls that
        // could take memory or the thread away from this program, so Rust's assumptions about
        // its own stack, image and UTCB still hold afterwards.
        let results = unsafe { raw_call(call, &registers) };
        if results[abi::call::ERROR_REGISTER] != 0 {
            refused += 1;
        }
    }
    debug_println!(
        "fuzz: {FUZZ_CALLS} random kernel calls survived ({refused} refused with an error)"
    );
}

/// Rewrite the arguments that would stop the fuzzer itself; true to skip the call.
fn spare_myself(call: Call, registers: &mut CallRegisters) -> bool {
    match call {
        // Never block: both timeouts zero; never send to ping or pong (their protocol is not
        // under test here, and a stray "done" would end their run early).
        Call::Ipc => {
            registers[10] = 0;
            let to = registers[8];
            to == PING.raw() || to == PONG.raw()
        }
        // Only ever unmap what the fuzzer gave away, never its own pages.
        Call::FpageUnmap => {
            registers[1] = 0;
            false
        }
        // Not on its own thread 0 (halting or moving it ends the run).
        Call::LthreadExRegs => {
            abi::ThreadId::from_raw(registers[0]).same_task(FUZZ)
                && abi::ThreadId::from_raw(registers[0]).thread() == 0
        }
        // The debug output would fill the log with random bytes.
        Call::KernelDebugWrite => true,
        // The fuzzer's chief is the kernel, so it would turn the machine off (kcore's host
        // tests cover the refusal for everyone else).
        Call::SystemPowerOff => true,
        _ => false,
    }
}

/// # Safety
/// As for the libl4 raw stubs: the caller vouches for what the call does to this task.
unsafe fn raw_call(call: Call, registers: &CallRegisters) -> abi::ReturnRegisters {
    // SAFETY: passed on from the caller.
    unsafe {
        match call {
            Call::Ipc => libl4::raw::ipc(registers),
            Call::IdNearest => libl4::raw::id_nearest(registers),
            Call::FpageUnmap => libl4::raw::fpage_unmap(registers),
            Call::ThreadSwitch => libl4::raw::thread_switch(registers),
            Call::LthreadExRegs => libl4::raw::lthread_ex_regs(registers),
            Call::ThreadSchedule => libl4::raw::thread_schedule(registers),
            Call::TaskNew => libl4::raw::task_new(registers),
            Call::KernelDebugWrite => libl4::raw::kernel_debug_write(registers),
            Call::SystemPowerOff => libl4::raw::system_power_off(registers),
        }
    }
}
