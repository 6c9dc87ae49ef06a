#!/bin/sh
# Regenerates every blob in this directory; see README.md for what each one is for.
# Needs qemu-system-aarch64 (7.2 made the committed blobs) and dtc.
set -eu
cd "$(dirname "$0")"

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
# Any file serves as -kernel: QEMU only writes the initrd properties when it loads a kernel,
# and dumpdtb exits before anything runs. The initrd is 4000 bytes.
head -c 65536 /dev/zero > "$scratch/kernel.bin"
for line in $(seq 1 200); do printf 'initrd-test-payload\n'; done > "$scratch/initrd.bin"

qemu() {
    qemu-system-aarch64 -display none -cpu cortex-a72 "$@"
}
qemu -M virt,gic-version=2,dtb-randomness=off,dumpdtb=gicv2-512m-smp1.dtb -m 512M -smp 1
qemu -M virt,gic-version=3,dtb-randomness=off,dumpdtb=gicv3-512m-smp4.dtb -m 512M -smp 4
qemu -M virt,gic-version=3,dtb-randomness=off,dumpdtb=gicv3-128m-initrd.dtb -m 128M \
    -kernel "$scratch/kernel.bin" -initrd "$scratch/initrd.bin" -append "log=debug hz=250"
qemu -M virt,gic-version=3,dtb-randomness=off,dumpdtb=gicv3-2g.dtb -m 2G
qemu -M virt,virtualization=on,gic-version=3,dtb-randomness=off,dumpdtb=gicv3-el2.dtb -m 512M -smp 2

for source in synthetic/*.dts; do
    boot_cpu=0
    if [ "$source" = synthetic/board.dts ]; then boot_cpu=256; fi
    dtc -q -I dts -O dtb -b "$boot_cpu" -o "${source%.dts}.dtb" "$source"
done
