# Shared settings of the VM harness (tests/vm), sourced by the host-side
# scripts (fetch-kernel, build-modules, mkinitramfs, boot, run). POSIX sh.
#
# Everything the harness writes lives under $VM_DIR (build/vm by default).
# Variables the caller may set:
#   GSVM_BUILD   the build tree whose binaries go into the VM (default build)
#   VM_DIR       the harness's own work tree (default $TOP/build/vm)

# The repository's top directory: this file is tests/vm/env.sh.
TOP=$(cd "$(dirname "$0")/../.." && pwd)
GSVM_BUILD=${GSVM_BUILD:-build}
VM_DIR=${VM_DIR:-$TOP/build/vm}
# shellcheck disable=SC2034 # used by the scripts that source this file
# .deb files downloaded with apt-get download, one directory per kernel ABI.
VM_CACHE=$VM_DIR/cache
# The kernel packages of each release, extracted with dpkg-deb -x (never
# installed on the host) into $VM_DIR/kernels/<release>/.
# The kernel the last fetch-kernel prepared (the one boot uses): KVER,
# KPKGVER, KROOT (its extracted tree), VMLINUZ, KDIR (its headers).
KERNEL_ENV=$VM_DIR/kernel.env

vm_log() { echo "vm: $*"; }
vm_die() {
	echo "vm: error: $*" >&2
	exit 1
}

# The kernel fetch-kernel prepared (sets KVER KPKGVER KROOT VMLINUZ KDIR).
vm_load_kernel_env() {
	[ -r "$KERNEL_ENV" ] || vm_die "$KERNEL_ENV is missing: run tests/vm/fetch-kernel first"
	# shellcheck source=/dev/null
	. "$KERNEL_ENV"
}
