//! The one definition of the QEMU command line: a [`Machine`] says what board we boot,
//! [`Machine::command`] and [`Machine::captured_command`] turn it into the process to start.
//!
//! `make run`, `make debug` and every integration test go through here, so an image that
//! boots in a test boots the same way by hand. The defaults are what `make run` uses.

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::Command;

/// The QEMU binary, looked up in `PATH`.
pub const QEMU_PROGRAM: &str = "qemu-system-aarch64";

/// Which interrupt controller the `virt` board gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum GicVersion {
    /// GICv2 (QEMU's own default for `virt`).
    #[default]
    V2,
    /// GICv3.
    V3,
}

impl GicVersion {
    /// The value of QEMU's `gic-version=` machine property.
    pub fn qemu_name(self) -> &'static str {
        match self {
            Self::V2 => "2",
            Self::V3 => "3",
        }
    }
}

/// Where the serial port and the QEMU monitor go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Console {
    /// `-nographic`: serial and monitor share the terminal (Ctrl-A X quits, Ctrl-A C
    /// switches to the monitor). For people.
    Interactive,
    /// `-display none -serial stdio -monitor none`: the serial port alone on stdout, and
    /// nothing that could swallow input. For tests.
    Captured,
}

/// A QEMU `virt` board and what to boot on it; builder style.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Machine {
    /// `-cpu` model.
    pub cpu: String,
    /// RAM size in MiB (`-m`).
    pub memory_mib: u64,
    /// Interrupt controller.
    pub gic: GicVersion,
    /// Number of CPUs (`-smp`).
    pub smp: u32,
    /// Enter the kernel at EL2 (`virtualization=on`) instead of EL1.
    pub enter_at_el2: bool,
    /// Deterministic execution: `-icount shift=0,sleep=off` (one instruction per virtual
    /// nanosecond, no waiting for the host clock) and `dtb-randomness=off` (no random
    /// `kaslr-seed`/`rng-seed` in the DTB).
    pub icount: bool,
    /// Allow semihosting calls, the test-only way for a test image to exit QEMU with a
    /// status (`-semihosting-config enable=on,target=native`).
    pub semihosting: bool,
    /// The flat kernel `Image` (`-kernel`).
    pub kernel: PathBuf,
    /// The initrd (`-initrd`).
    pub initrd: Option<PathBuf>,
    /// Kernel command line (`-append`); left out when empty.
    pub bootargs: String,
    /// Start halted with a gdb stub on localhost:1234 (`-s -S`).
    pub gdb_stub: bool,
}

impl Default for Machine {
    /// What `make run` uses, with no kernel chosen yet.
    fn default() -> Self {
        Self {
            cpu: "cortex-a72".to_string(),
            memory_mib: 512,
            gic: GicVersion::V2,
            smp: 1,
            enter_at_el2: false,
            icount: false,
            semihosting: false,
            kernel: PathBuf::new(),
            initrd: None,
            bootargs: String::new(),
            gdb_stub: false,
        }
    }
}

impl Machine {
    /// The default machine booting `kernel`.
    pub fn new(kernel: impl Into<PathBuf>) -> Self {
        Self {
            kernel: kernel.into(),
            ..Self::default()
        }
    }

    /// Uses CPU model `cpu`.
    pub fn with_cpu(mut self, cpu: impl Into<String>) -> Self {
        self.cpu = cpu.into();
        self
    }

    /// Gives the board `memory_mib` MiB of RAM.
    pub fn with_memory_mib(mut self, memory_mib: u64) -> Self {
        self.memory_mib = memory_mib;
        self
    }

    /// Uses interrupt controller `gic`.
    pub fn with_gic(mut self, gic: GicVersion) -> Self {
        self.gic = gic;
        self
    }

    /// Starts `smp` CPUs.
    pub fn with_smp(mut self, smp: u32) -> Self {
        self.smp = smp;
        self
    }

    /// Enters the kernel at EL2.
    pub fn at_el2(mut self) -> Self {
        self.enter_at_el2 = true;
        self
    }

    /// Runs deterministically; see [`Machine::icount`].
    pub fn with_icount(mut self) -> Self {
        self.icount = true;
        self
    }

    /// Allows semihosting, so that a test image can exit with a status.
    pub fn with_semihosting(mut self) -> Self {
        self.semihosting = true;
        self
    }

    /// Boots with `initrd`.
    pub fn with_initrd(mut self, initrd: impl Into<PathBuf>) -> Self {
        self.initrd = Some(initrd.into());
        self
    }

    /// Passes `bootargs` as the kernel command line.
    pub fn with_bootargs(mut self, bootargs: impl Into<String>) -> Self {
        self.bootargs = bootargs.into();
        self
    }

    /// Starts halted, waiting for gdb on localhost:1234.
    pub fn with_gdb_stub(mut self) -> Self {
        self.gdb_stub = true;
        self
    }

    /// The QEMU arguments (without the program name) for this machine and console.
    pub fn arguments(&self, console: Console) -> Vec<OsString> {
        let mut board = format!("virt,gic-version={}", self.gic.qemu_name());
        if self.enter_at_el2 {
            board.push_str(",virtualization=on");
        }
        if self.icount {
            board.push_str(",dtb-randomness=off");
        }
        let mut arguments: Vec<OsString> = Vec::new();
        let mut push = |argument: &str| arguments.push(argument.into());
        push("-M");
        push(&board);
        push("-cpu");
        push(&self.cpu);
        push("-m");
        push(&format!("{}M", self.memory_mib));
        push("-smp");
        push(&self.smp.to_string());
        match console {
            Console::Interactive => push("-nographic"),
            Console::Captured => {
                for argument in ["-display", "none", "-serial", "stdio", "-monitor", "none"] {
                    push(argument);
                }
            }
        }
        push("-no-reboot");
        if self.icount {
            push("-icount");
            push("shift=0,sleep=off");
        }
        if self.semihosting {
            push("-semihosting-config");
            push("enable=on,target=native");
        }
        if self.gdb_stub {
            push("-s");
            push("-S");
        }
        arguments.push("-kernel".into());
        arguments.push(self.kernel.clone().into_os_string());
        if let Some(initrd) = &self.initrd {
            arguments.push("-initrd".into());
            arguments.push(initrd.clone().into_os_string());
        }
        if !self.bootargs.is_empty() {
            arguments.push("-append".into());
            arguments.push(self.bootargs.clone().into());
        }
        arguments
    }

    /// QEMU for a person at a terminal ([`Console::Interactive`]); stdio is inherited.
    pub fn command(&self) -> Command {
        self.command_for(Console::Interactive)
    }

    /// QEMU for a test ([`Console::Captured`]); the runner sets up the pipes.
    pub fn captured_command(&self) -> Command {
        self.command_for(Console::Captured)
    }

    /// QEMU with the given console.
    pub fn command_for(&self, console: Console) -> Command {
        let mut command = Command::new(QEMU_PROGRAM);
        command.args(self.arguments(console));
        command
    }
}
