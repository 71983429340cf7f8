#!/bin/sh
# The in-VM test suite (busybox sh), run as root by /init (tests/vm/init)
# inside the VM. Exits 0 only if no group failed, and writes the names of the
# failed groups to /run/gsvm-vm.failed for init's result line.
#
# Structure: one function per group, group_<name>, returning 0 (pass),
# 77 (skip) or anything else (fail). SUITE_GROUPS lists them in running order;
# run_group prints a header and a "gsvm-vm: group <name>: PASS|FAIL|SKIP"
# line for each. To add a group (the kmod-shim tests, the drm-provider
# tests), write group_<name> and add <name> to SUITE_GROUPS.
#
# Kernel command line knobs (tests/vm/boot sets them from the host):
#   gsvm_groups=a,b     run only these groups (VM_GROUPS)
#   gsvm_itests=a,b     the integration programs group itests runs (VM_ITESTS)
#   gsvm_scale=N        GSVM_TEST_TIMEOUT_SCALE for them (VM_SCALE)

SUITE_GROUPS="drm kmod uffd itests drm_provider kmod_shim kernel_log"

# REPO_TOP, GSVM_BUILD, BUILD_DIR (absolute), KVER: written by mkinitramfs.
# shellcheck source=/dev/null
. /etc/gsvm-vm.env
MODDIR=/lib/modules/$KVER

# cmdline_value NAME: NAME=value from /proc/cmdline, commas made spaces.
cmdline_value() {
	tr ' ' '\n' </proc/cmdline | sed -n "s/^$1=//p" | tail -n 1 | tr ',' ' '
}

# ---- group drm: a card node for each of vgem and virtio-gpu. For each card:
# the driver bound to its device (/sys/class/drm/cardN/device/driver) and
# the DRM driver's own name (debugfs dri/N/name). virtio-gpu's card device is
# the PCI function, bound to virtio-pci (virtio_gpu binds its virtio child);
# vgem's is a bare platform device "vgem" with no driver bound.
group_drm() {
	seen=""
	for card in /sys/class/drm/card[0-9]*; do
		case "$card" in *-*) continue ;; esac # connectors: card0-Virtual-1
		name=$(basename "$card")
		minor=${name#card}
		drv=$(readlink "$card/device/driver" 2>/dev/null) && drv=$(basename "$drv") || drv=none
		dev=$(basename "$(readlink -f "$card/device")")
		drm=$(cut -d' ' -f1 "/sys/kernel/debug/dri/$minor/name" 2>/dev/null)
		echo "$name: device $dev, device/driver $drv, DRM driver ${drm:-?}"
		[ -c "/dev/dri/$name" ] || {
			echo "no /dev/dri/$name"
			return 1
		}
		case "$drm:$dev" in
		virtio_gpu:*) seen="$seen virtio-gpu" ;;
		vgem:* | :vgem) seen="$seen vgem" ;;
		esac
	done
	for want in vgem virtio-gpu; do
		case "$seen " in
		*" $want "*) ;;
		*)
			echo "no card node for $want"
			return 1
			;;
		esac
	done
}

# ---- group kmod: the out-of-tree module built against the extracted
# headers (tests/vm/gsvm_hello.c) loads and unloads in this kernel.
group_kmod() {
	modprobe gsvm_hello || return 1
	grep -q '^gsvm_hello ' /proc/modules || {
		echo "gsvm_hello not in /proc/modules"
		return 1
	}
	dmesg | grep -q 'gsvm_hello: loaded' || {
		echo "no 'gsvm_hello: loaded' in dmesg"
		return 1
	}
	rmmod gsvm_hello || return 1
	echo "gsvm_hello.ko: loaded and unloaded"
}

# ---- group uffd: the kernel offers every userfaultfd feature libgsvm asks
# for (uffd_probe lists them). Without them gsvm_connect() fails (-EINVAL),
# so group itests does not run its programs then.
group_uffd() {
	/gsvm-vm/uffd_probe
}

# ---- group itests: gsvm's integration programs, each starting its own
# gsvmd (harness.c: GSVMD ...). test_e2e drives the userfaultfd path end to
# end: prefetch to a sim device, faults back, munmap/madvise/mremap, fork,
# SIGKILL/SIGTERM of clients and gsvmd. Slower under TCG: the harness's
# timeouts are scaled by GSVM_TEST_TIMEOUT_SCALE.
ITESTS_DEFAULT="test_daemon test_ctl test_e2e"
group_itests() {
	tests=$(cmdline_value gsvm_itests)
	scale=$(cmdline_value gsvm_scale)
	echo "userfaultfd: /dev/userfaultfd $([ -c /dev/userfaultfd ] && echo present || echo absent)," \
		"vm.unprivileged_userfaultfd=$(cat /proc/sys/vm/unprivileged_userfaultfd 2>/dev/null)"
	if grep -qx uffd /run/gsvm-vm.failed; then
		echo "not running ${tests:-$ITESTS_DEFAULT}: this kernel lacks userfaultfd" \
			"features libgsvm needs (group uffd)"
		return 1
	fi
	fail=""
	for t in ${tests:-$ITESTS_DEFAULT}; do
		echo "== $t"
		t_start=$(cut -d. -f1 /proc/uptime)
		GSVMD=$BUILD_DIR/gsvmd GSVMCTL=$BUILD_DIR/gsvmctl HOSTILE=$BUILD_DIR/hostile \
			REPO_TOP=$REPO_TOP GSVM_BUILD=$GSVM_BUILD GSVM_SAN=0 GSVM_TSAN=0 \
			GSVM_TEST_TIMEOUT_SCALE=${scale:-4} \
			timeout 600 "$BUILD_DIR/itests/$t"
		rc=$?
		echo "== $t: exit $rc in $(($(cut -d. -f1 /proc/uptime) - t_start)) s"
		[ "$rc" = 0 ] || fail="$fail $t"
	done
	[ -z "$fail" ] || {
		echo "failed:$fail"
		return 1
	}
}

# ---- group drm_provider: gsvmd's drm provider on the VM's two cards.
# tests/test_drm (tests/unit) calls the provider's ops directly: pools of
# dumb buffers on both cards, copies across buffers and through PRIME.
# test_drm (tests/integration) runs gsvmd on a configuration naming the vgem
# card as device 0 and the virtio-gpu card as device 1 (found like group drm
# does), checks `gsvmctl devices` shows their drivers, and moves patterned
# data host -> vgem -> virtio-gpu (PRIME) -> host (CPU faults) and back the
# other way, checking every byte.
drm_card_of() { # drm_card_of vgem|virtio_gpu: the card node of that driver
	for card in /sys/class/drm/card[0-9]*; do
		case "$card" in *-*) continue ;; esac
		name=$(basename "$card")
		drm=$(cut -d' ' -f1 "/sys/kernel/debug/dri/${name#card}/name" 2>/dev/null)
		dev=$(basename "$(readlink -f "$card/device")")
		case "$1:$drm:$dev" in
		vgem:vgem:* | vgem::vgem | virtio_gpu:virtio_gpu:*)
			echo "/dev/dri/$name"
			return 0
			;;
		esac
	done
	return 1
}

group_drm_provider() {
	scale=$(cmdline_value gsvm_scale)
	if grep -qx uffd /run/gsvm-vm.failed; then
		echo "not running test_drm: this kernel lacks userfaultfd features (group uffd)"
		return 1
	fi
	vgem=$(drm_card_of vgem) || {
		echo "no vgem card"
		return 1
	}
	virtio=$(drm_card_of virtio_gpu) || {
		echo "no virtio-gpu card"
		return 1
	}
	conf=/tmp/gsvm-drm.conf
	cat >"$conf" <<-EOF
		[device.vgem]
		provider = drm
		capacity = 64M
		node = $vgem
		[device.virtio]
		provider = drm
		capacity = 64M
		node = $virtio
	EOF
	echo "vgem: $vgem, virtio-gpu: $virtio"
	"$BUILD_DIR/tests/test_drm" || return 1
	"$BUILD_DIR/gsvmd" --check-config -c "$conf" || return 1
	GSVM_DRM_CONFIG=$conf GSVMD=$BUILD_DIR/gsvmd GSVMCTL=$BUILD_DIR/gsvmctl \
		GSVM_TEST_TIMEOUT_SCALE=${scale:-4} timeout 600 "$BUILD_DIR/itests/test_drm"
}

# ---- group kmod_shim: the kernel fault shim (kmod-shim/, gsvm_shim.ko) when
# build-modules packed it: rmmod fails with EBUSY while /dev/gsvm-shim is
# open; test_e2e (every end-to-end integrity test) with the clients on the
# module (GSVM_SHIM=kmod) and gsvmd accepting only it ([daemon] shim = kmod);
# test_kmod (a client killed in a forwarded fault, gsvmd killed while clients
# wait, rmmod with a client attached); kmod_notify (MMU interval notifiers,
# their INVALIDATE events and snapshots on malloc'd memory); then a clean
# unload. The hung-task
# detector is set to 10 s meanwhile, so that group kernel_log sees a task
# left in an unkillable wait; kmemleak is scanned when the kernel has it.
group_kmod_shim() {
	[ -f "$MODDIR/extra/gsvm_shim.ko" ] || {
		echo "gsvm_shim.ko not packed (no kmod-shim/Makefile)"
		return 77
	}
	scale=$(cmdline_value gsvm_scale)
	modprobe gsvm_shim || return 1
	[ -c /dev/gsvm-shim ] || {
		echo "no /dev/gsvm-shim after modprobe"
		return 1
	}
	echo 10 >/proc/sys/kernel/hung_task_timeout_secs 2>/dev/null
	[ -w /sys/kernel/debug/kmemleak ] && echo clear >/sys/kernel/debug/kmemleak
	fail=""
	exec 3<>/dev/gsvm-shim
	if rmmod gsvm_shim 2>/dev/null; then
		echo "rmmod succeeded while /dev/gsvm-shim was open"
		fail="$fail rmmod-busy"
		modprobe gsvm_shim
	else
		echo "rmmod with /dev/gsvm-shim open: refused (busy)"
	fi
	exec 3>&-
	for t in test_e2e test_kmod; do
		echo "== $t (GSVM_SHIM=kmod)"
		t_start=$(cut -d. -f1 /proc/uptime)
		GSVM_SHIM=kmod GSVMD=$BUILD_DIR/gsvmd GSVMCTL=$BUILD_DIR/gsvmctl \
			REPO_TOP=$REPO_TOP GSVM_BUILD=$GSVM_BUILD GSVM_SAN=0 GSVM_TSAN=0 \
			GSVM_TEST_TIMEOUT_SCALE=${scale:-4} \
			timeout 900 "$BUILD_DIR/itests/$t"
		rc=$?
		echo "== $t (GSVM_SHIM=kmod): exit $rc in $(($(cut -d. -f1 /proc/uptime) - t_start)) s"
		[ "$rc" = 0 ] || fail="$fail $t"
	done
	/gsvm-vm/kmod_notify || fail="$fail kmod_notify"
	if rmmod gsvm_shim; then
		echo "gsvm_shim.ko: unloaded once its clients were gone"
	else
		fail="$fail rmmod"
		lsmod | grep gsvm_shim
	fi
	if [ -w /sys/kernel/debug/kmemleak ]; then
		echo scan >/sys/kernel/debug/kmemleak
		if grep -q gsvm /sys/kernel/debug/kmemleak; then
			cat /sys/kernel/debug/kmemleak
			fail="$fail kmemleak"
		fi
	else
		echo "kmemleak: not in this kernel"
	fi
	[ -z "$fail" ] || {
		echo "failed:$fail"
		return 1
	}
}

# ---- group kernel_log: last, so that it sees what the others provoked: no
# oops, BUG, WARNING or lockdep splat in the kernel log.
group_kernel_log() {
	if dmesg | grep -E 'BUG:|Oops|WARNING:|Call Trace:|general protection|INFO: task .* blocked|possible .*deadlock'; then
		echo "the kernel log holds the above; the whole log:"
		dmesg
		return 1
	fi
	echo "no oops, BUG, WARNING or hung task in the kernel log"
}

# ---- Runner.
run_group() {
	echo "---- group $1"
	g_start=$(cut -d. -f1 /proc/uptime)
	"group_$1"
	rc=$?
	took=$(($(cut -d. -f1 /proc/uptime) - g_start))
	case "$rc" in
	0) echo "gsvm-vm: group $1: PASS (${took} s)" ;;
	77) echo "gsvm-vm: group $1: SKIP" ;;
	*)
		echo "gsvm-vm: group $1: FAIL (exit $rc, ${took} s)"
		echo "$1" >>/run/gsvm-vm.failed
		;;
	esac
}

: >/run/gsvm-vm.failed
only=$(cmdline_value gsvm_groups)
for g in ${only:-$SUITE_GROUPS}; do
	case " $SUITE_GROUPS " in
	*" $g "*) run_group "$g" ;;
	*)
		echo "gsvm-vm: unknown group $g (known: $SUITE_GROUPS)"
		echo "$g" >>/run/gsvm-vm.failed
		;;
	esac
done
echo "gsvm-vm: failed groups: $(tr '\n' ' ' </run/gsvm-vm.failed)"
[ ! -s /run/gsvm-vm.failed ]
