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

.PHONY: all setup build images run test debug bench check clean

all: build

setup:
	@bash scripts/setup.sh

# Two kernel images: the one `make run` boots, and the test image with the ktest scenarios;
# three initrds: images/initrd plus sigma0 and the root task (staged in initrd-root), the
# same plus the EL0 test programs (ping, pong, fuzz), and images/initrd plus the benchmark
# programs (bench-client, bench-server) for `make bench`.
images: setup
	$(CARGO) build --release -p mkimage
	$(CARGO) build --release -p kernel --target $(KERNEL_TARGET) --features ktest
	@mkdir -p $(IMAGES)
	cp $(KERNEL_ELF) $(IMAGES)/kernel-test.elf
	target/release/mkimage kernel-image $(IMAGES)/kernel-test.elf $(IMAGES)/kernel-test.bin
	$(CARGO) build --release -p kernel --target $(KERNEL_TARGET)
	cp $(KERNEL_ELF) $(IMAGES)/kernel.elf
	target/release/mkimage kernel-image $(IMAGES)/kernel.elf $(IMAGES)/kernel.bin
	$(CARGO) build --release -p sigma0 -p roottask --target $(USER_TARGET)
	rm -rf $(IMAGES)/initrd-root && mkdir -p $(IMAGES)/initrd-root
	cp -R images/initrd/. $(IMAGES)/initrd-root/
	cp target/$(USER_TARGET)/release/sigma0 target/$(USER_TARGET)/release/roottask \
	    target/$(USER_TARGET)/release/hello \
	    $(IMAGES)/initrd-root/
	target/release/mkimage initrd $(IMAGES)/initrd-root $(IMAGES)/initrd.cpio
	$(CARGO) build --release -p ktest-programs --target $(USER_TARGET)
	rm -rf $(IMAGES)/test-initrd && mkdir -p $(IMAGES)/test-initrd
	cp -R $(IMAGES)/initrd-root/. $(IMAGES)/test-initrd/
	cp target/$(USER_TARGET)/release/ping target/$(USER_TARGET)/release/pong \
	    target/$(USER_TARGET)/release/fuzz $(IMAGES)/test-initrd/
	target/release/mkimage initrd $(IMAGES)/test-initrd $(IMAGES)/test-initrd.cpio
	$(CARGO) build --release -p bench-programs --target $(USER_TARGET)
	rm -rf $(IMAGES)/bench-initrd && mkdir -p $(IMAGES)/bench-initrd
	cp -R images/initrd/. $(IMAGES)/bench-initrd/
	cp target/$(USER_TARGET)/release/bench-client target/$(USER_TARGET)/release/bench-server \
	    $(IMAGES)/bench-initrd/
	target/release/mkimage initrd $(IMAGES)/bench-initrd $(IMAGES)/bench-initrd.cpio

build: images
	$(CARGO) build --release -p harness --bin qemu

run: build
	target/release/qemu --kernel $(IMAGES)/kernel.bin --initrd $(IMAGES)/initrd.cpio $(QEMU_FLAGS)

debug: build
	@bash scripts/setup.sh --debugger
	target/release/qemu --debug --symbols $(IMAGES)/kernel.elf --kernel $(IMAGES)/kernel.bin \
	    --initrd $(IMAGES)/initrd.cpio $(QEMU_FLAGS)

# Kernel microbenchmarks under -icount (docs/performance.md): prints a table and writes
# target/bench/kernel.json. ITERATIONS=N overrides the count of each loop (default 100000).
bench: images
	$(CARGO) build --release -p harness --bin bench
	target/release/bench $(if $(ITERATIONS),--iterations $(ITERATIONS))

# Host unit tests of every pure crate, then the QEMU boot tests (tests/harness/tests).
test: build
	$(CARGO) test --workspace --exclude kernel

check: setup
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --exclude kernel --all-targets -- -D warnings
	$(CARGO) clippy -p kernel --target $(KERNEL_TARGET) --features ktest -- -D warnings
	$(CARGO) clippy -p libl4 -p rt -p ktest-programs -p bench-programs -p sigma0 -p roottask \
	    --target $(USER_TARGET) -- -D warnings

clean:
	$(CARGO) clean
