// SPDX-License-Identifier: GPL-2.0
/*
 * gsvm_hello: the trivial out-of-tree module tests/vm/build-modules builds
 * against the extracted Debian headers, to prove that such a build works and
 * that the VM's kernel loads what it produces (suite.sh, group kmod).
 */
#include <linux/init.h>
#include <linux/module.h>
#include <linux/printk.h>

static int __init gsvm_hello_init(void)
{
	pr_info("gsvm_hello: loaded\n");
	return 0;
}

static void __exit gsvm_hello_exit(void)
{
	pr_info("gsvm_hello: unloaded\n");
}

module_init(gsvm_hello_init);
module_exit(gsvm_hello_exit);
MODULE_DESCRIPTION("gsvm VM harness: trivial out-of-tree module");
MODULE_LICENSE("GPL");
