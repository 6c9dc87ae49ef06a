# A thin dispatcher: setup, build, run, test, debug. The logic lives in Rust tools
# (images/mkimage, tests/harness) and in scripts/setup.sh.

CPU      ?= cortex-a72
MEM      ?= 512
GIC      ?= 2
SMP      ?= 1
EL       ?= 1
BOOTARGS ?=

KERNEL_TARGET := aarch64-unknown-none-softfloat
# Our own EL0 programs: no FP/SIMD until the kernel switches FP state (docs/caveats.md).
USER_TARGET   := aarch64-unknown-none-softfloat
KERNEL_ELF    := target/$(KERNEL_TARGET)/release/kernel
IMAGES        := target/images
CARGO         ?= cargo

QEMU_FLAGS = --cpu $(CPU) --memory $(MEM) --gic $(GIC) --smp $(SMP) $(if $(filter 2,$(EL)),--el2) \
             --bootargs "$(BOOTARGS)"

.PHONY: all setup build images run test debug check clean

all: build

setup:
	@bash scripts/setup.sh

# Two kernel images: the one `make run` boots, and the test image with the ktest scenarios;
# two initrds: images/initrd, and the same plus the EL0 test programs (ping, pong).
images: setup
	$(CARGO) build --release -p mkimage
	$(CARGO) build --release -p kernel --target $(KERNEL_TARGET) --features ktest
	@mkdir -p $(IMAGES)
	cp $(KERNEL_ELF) $(IMAGES)/kernel-test.elf
	target/release/mkimage kernel-image $(IMAGES)/kernel-test.elf $(IMAGES)/kernel-test.bin
	$(CARGO) build --release -p kernel --target $(KERNEL_TARGET)
	cp $(KERNEL_ELF) $(IMAGES)/kernel.elf
	target/release/mkimage kernel-image $(IMAGES)/kernel.elf $(IMAGES)/kernel.bin
	target/release/mkimage initrd images/initrd $(IMAGES)/initrd.cpio
	$(CARGO) build --release -p ktest-programs --target $(USER_TARGET)
	rm -rf $(IMAGES)/test-initrd && mkdir -p $(IMAGES)/test-initrd
	cp -R images/initrd/. $(IMAGES)/test-initrd/
	cp target/$(USER_TARGET)/release/ping target/$(USER_TARGET)/release/pong \
	    target/$(USER_TARGET)/release/fuzz $(IMAGES)/test-initrd/
	target/release/mkimage initrd $(IMAGES)/test-initrd $(IMAGES)/test-initrd.cpio

build: images
	$(CARGO) build --release -p harness --bin qemu

run: build
	target/release/qemu --kernel $(IMAGES)/kernel.bin --initrd $(IMAGES)/initrd.cpio $(QEMU_FLAGS)

debug: build
	@bash scripts/setup.sh --debugger
	target/release/qemu --debug --symbols $(IMAGES)/kernel.elf --kernel $(IMAGES)/kernel.bin \
	    --initrd $(IMAGES)/initrd.cpio $(QEMU_FLAGS)

# Host unit tests of every pure crate, then the QEMU boot tests (tests/harness/tests).
test: build
	$(CARGO) test --workspace --exclude kernel

check: setup
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --exclude kernel --all-targets -- -D warnings
	$(CARGO) clippy -p kernel --target $(KERNEL_TARGET) --features ktest -- -D warnings
	$(CARGO) clippy -p libl4 -p rt -p ktest-programs --target $(USER_TARGET) -- -D warnings

clean:
	$(CARGO) clean
