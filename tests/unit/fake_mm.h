/* SPDX-License-Identifier: MIT */
#ifndef GSVM_TEST_FAKE_MM_H
#define GSVM_TEST_FAKE_MM_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "core.h"
#include "migrate.h"
#include "svm.h"

/*
 * A fake client address space for the core's unit tests: what the
 * userfaultfd shim does to a real client, done to plain buffers.
 *
 * A fake object stands for a client's memfd: its pages are present or holes.
 * Releasing pages (after migration to a device) makes them holes and fills
 * them with a poison byte, so a core bug that reads device-resident data from
 * host shows up as corrupted data. A client access to a hole faults through
 * migrate_cpu_fault(), as the real shim would.
 */
#define FAKE_POISON 0xdb
#define FAKE_MAX_MAPS 32

struct fake_bo {
	uint64_t id;
	uint64_t size;
	uint8_t *mem;
	uint8_t *present;
};

struct fake_map {
	uint64_t va;
	uint64_t len;
	struct fake_bo *bo;
	uint64_t off;
};

struct fake_mm {
	pthread_mutex_t lock;
	struct fake_map maps[FAKE_MAX_MAPS];
	int nmaps;
	uint64_t now;
	/* Called (unlocked) from protect(), to inject events mid-migration. */
	void (*on_protect)(struct fake_mm *fm, uint64_t addr, uint64_t len);
	void *hook_arg;
	int install_eagain;	/* fail this many installs with -EAGAIN */
	unsigned long protects, unprotects, releases, installs, zero_fills, idles;
	int wp_depth;
};

extern const struct svm_mm_ops fake_mm_ops;

void fake_mm_init(struct fake_mm *fm);
void fake_mm_fini(struct fake_mm *fm);
uint64_t fake_clock(void *arg);
struct fake_bo *fake_bo_new(uint64_t id, uint64_t size);
void fake_bo_free(struct fake_bo *bo);
void fake_map(struct fake_mm *fm, uint64_t va, uint64_t len, struct fake_bo *bo, uint64_t off);
void fake_unmap(struct fake_mm *fm, uint64_t va, uint64_t len);
int fake_access(struct fake_mm *fm, struct core *core, struct svm *svm, uint64_t addr, void *buf,
		uint64_t len, bool write);
bool fake_present(struct fake_mm *fm, uint64_t addr);

/* A ready client: core with devices, an svm, one allocation of @size at @va. */
struct fake_client {
	struct core core;
	struct svm svm;
	struct fake_mm fm;
	struct fake_bo *bo;
	uint64_t va;
	uint64_t size;
};

int fake_client_init(struct fake_client *c, const struct core_config *cfg, uint64_t va,
		     uint64_t size);
void fake_client_fini(struct fake_client *c);

/* The default configuration with two sim devices of @capacity, no timeslice. */
void fake_small_config(struct core_config *cfg, uint64_t capacity);
/* migrate_populate() of a fresh prefetch operation; *@res gets its result. */
int fc_populate(struct fake_client *c, uint64_t addr, uint64_t len, int loc,
		struct migrate_result *res);
/* Where the page at @addr lives: a device id or LOC_HOST. */
int fc_location(struct fake_client *c, uint64_t addr);
/* Replica mask of the range at @addr (0 if none, or stale). */
uint64_t fc_replicas(struct fake_client *c, uint64_t addr);
uint64_t fc_dev_used(struct fake_client *c, int id);
/* Write a pattern through the fault path (as the client's CPU would). */
int fc_write_pattern(struct fake_client *c, uint64_t addr, uint64_t len, unsigned int seed);
/* Read through the fault path; the number of bytes that differ. */
uint64_t fc_check_pattern(struct fake_client *c, uint64_t addr, uint64_t len, unsigned int seed);

#endif
