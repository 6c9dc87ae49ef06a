# A thin dispatcher: setup, build, run, test, debug. The logic lives in Rust tools
# (images/mkimage, tests/harness) and in scripts/setup.sh and scripts/fetch-busybox.sh.

CPU      ?= cortex-a72
MEM      ?= 512
GIC      ?= 2
SMP      ?= 1
EL       ?= 1
BOOTARGS ?=
# A directory whose tree goes into every initrd, last, over everything else (images/README.md).
EXTRA    ?=

KERNEL_TARGET := aarch64-unknown-none-softfloat
# Our own EL0 programs need no FP/SIMD (the kernel switches it lazily for programs that do).
USER_TARGET   := aarch64-unknown-none-softfloat
KERNEL_ELF    := target/$(KERNEL_TARGET)/release/kernel
# The project's own static Linux test programs (tests/linux-programs), in the test image's
# /tests (system calls by svc #0) and /tests/direct (by the client library): musl, linked by
# rust-lld (no C cross toolchain needed).
LINUX_TARGET  := aarch64-unknown-linux-musl
LINUX_PROGRAMS := files descriptors processes memory time misc console client_library
LINUX_PROGRAMS_ENVIRONMENT := CARGO_TARGET_AARCH64_UNKNOWN_LINUX_MUSL_LINKER=rust-lld \
    CARGO_TARGET_AARCH64_UNKNOWN_LINUX_MUSL_RUSTFLAGS="-C panic=abort"
IMAGES        := target/images
# busybox-static for arm64, fetched once by scripts/fetch-busybox.sh and never committed.
DOWNLOADS     := target/downloads
CARGO         ?= cargo

ifneq ($(EXTRA),)
ifeq ($(wildcard $(EXTRA)/.),)
$(error EXTRA=$(EXTRA) is not a directory)
endif
endif

# `mkimage stage` steps: our EL0 programs by name, and the root filesystem every initrd ends
# with: busybox and its applet links, images/rootfs and its directories, then EXTRA.
programs = $(foreach program,$(1),--file target/$(USER_TARGET)/release/$(program))
ROOT_FILESYSTEM = --busybox $(DOWNLOADS)/busybox $(DOWNLOADS)/busybox.applets \
                  --tree images/rootfs --directories images/rootfs.directories \
                  $(if $(EXTRA),--tree $(EXTRA))

QEMU_FLAGS = --cpu $(CPU) --memory $(MEM) --gic $(GIC) --smp $(SMP) $(if $(filter 2,$(EL)),--el2) \
             --bootargs "$(BOOTARGS)"

.PHONY: all setup build images run test debug bench check clean

all: build

setup:
	@bash scripts/setup.sh

# Two kernel images: the one `make run` boots, and the test image with the ktest scenarios;
# three initrds: images/initrd plus sigma0 and the root task (staged in initrd-root), the
# same plus the EL0 test programs (ping, pong, fuzz), and images/initrd plus the benchmark
# programs (bench-client, bench-server) for `make bench`; each ends with the root filesystem.
images: setup
	bash scripts/fetch-busybox.sh $(DOWNLOADS)
	$(CARGO) build --release -p mkimage
	$(CARGO) build --release -p kernel --target $(KERNEL_TARGET) --features ktest
	@mkdir -p $(IMAGES)
	cp $(KERNEL_ELF) $(IMAGES)/kernel-test.elf
	target/release/mkimage kernel-image $(IMAGES)/kernel-test.elf $(IMAGES)/kernel-test.bin
	$(CARGO) build --release -p kernel --target $(KERNEL_TARGET)
	cp $(KERNEL_ELF) $(IMAGES)/kernel.elf
	target/release/mkimage kernel-image $(IMAGES)/kernel.elf $(IMAGES)/kernel.bin
	$(CARGO) build --release -p sigma0 -p roottask -p console -p server --target $(USER_TARGET)
	rm -rf $(IMAGES)/initrd-root
	target/release/mkimage stage $(IMAGES)/initrd-root --tree images/initrd \
	    $(call programs,sigma0 roottask console server) $(ROOT_FILESYSTEM)
	target/release/mkimage initrd $(IMAGES)/initrd-root $(IMAGES)/initrd.cpio
	$(CARGO) build --release -p ktest-programs --target $(USER_TARGET)
	$(LINUX_PROGRAMS_ENVIRONMENT) $(CARGO) build --release -p linux-programs --target $(LINUX_TARGET)
	rm -rf $(IMAGES)/linux-tests && mkdir -p $(IMAGES)/linux-tests/tests/direct
	cp $(foreach program,$(LINUX_PROGRAMS),target/$(LINUX_TARGET)/release/$(program)) \
	    $(IMAGES)/linux-tests/tests/
	$(LINUX_PROGRAMS_ENVIRONMENT) $(CARGO) build --release -p linux-programs --target $(LINUX_TARGET) \
	    --features direct
	cp $(foreach program,$(LINUX_PROGRAMS),target/$(LINUX_TARGET)/release/$(program)) \
	    $(IMAGES)/linux-tests/tests/direct/
	rm -rf $(IMAGES)/test-initrd
	target/release/mkimage stage $(IMAGES)/test-initrd --tree images/initrd \
	    $(call programs,sigma0 roottask console server hello ping pong fuzz) \
	    --tree $(IMAGES)/linux-tests $(ROOT_FILESYSTEM)
	target/release/mkimage initrd $(IMAGES)/test-initrd $(IMAGES)/test-initrd.cpio
	$(CARGO) build --release -p bench-programs --target $(USER_TARGET)
	rm -rf $(IMAGES)/bench-initrd
	target/release/mkimage stage $(IMAGES)/bench-initrd --tree images/initrd \
	    $(call programs,bench-client bench-server) $(ROOT_FILESYSTEM)
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

# Host unit tests of every pure crate, the QEMU boot tests (tests/harness/tests), then the
# trampoline's and the client library's aarch64 code under Linux user-mode emulation
# (qemu-aarch64, which scripts/fetch-busybox.sh installs).
test: build
	$(CARGO) test --workspace --exclude kernel
	CARGO_TARGET_AARCH64_UNKNOWN_LINUX_MUSL_LINKER=rust-lld \
	CARGO_TARGET_AARCH64_UNKNOWN_LINUX_MUSL_RUNNER=qemu-aarch64 \
	    $(CARGO) test -p trampoline -p client --target $(LINUX_TARGET)

check: setup
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --exclude kernel --all-targets -- -D warnings
	$(CARGO) clippy -p kernel --target $(KERNEL_TARGET) --features ktest -- -D warnings
	$(CARGO) clippy -p libl4 -p rt -p ktest-programs -p bench-programs -p sigma0 -p roottask \
	    -p console -p server -p trampoline -p client --target $(USER_TARGET) -- -D warnings

clean:
	$(CARGO) clean
