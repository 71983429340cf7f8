// SPDX-License-Identifier: MIT
#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include "fake_mm.h"
#include "migrate.h"

#define PG 4096ULL

static struct fake_map *fake_find(struct fake_mm *fm, uint64_t addr)
{
	int i;

	for (i = 0; i < fm->nmaps; i++)
		if (addr >= fm->maps[i].va && addr < fm->maps[i].va + fm->maps[i].len)
			return &fm->maps[i];
	return NULL;
}

static int fake_translate(struct fake_mm *fm, uint64_t addr, struct fake_bo **bo, uint64_t *off)
{
	struct fake_map *m = fake_find(fm, addr);

	if (!m)
		return -ENOENT;
	*bo = m->bo;
	*off = m->off + (addr - m->va);
	return 0;
}

static int fake_protect(void *mm, uint64_t addr, uint64_t len)
{
	struct fake_mm *fm = mm;

	pthread_mutex_lock(&fm->lock);
	fm->protects++;
	fm->wp_depth++;
	pthread_mutex_unlock(&fm->lock);
	if (fm->on_protect)
		fm->on_protect(fm, addr, len);
	return 0;
}

static int fake_unprotect(void *mm, uint64_t addr, uint64_t len)
{
	struct fake_mm *fm = mm;

	(void)addr;
	(void)len;
	pthread_mutex_lock(&fm->lock);
	fm->unprotects++;
	fm->wp_depth--;
	pthread_mutex_unlock(&fm->lock);
	return 0;
}

static int fake_release(void *mm, struct svm_bo *sbo, uint64_t offset, uint64_t len)
{
	struct fake_mm *fm = mm;
	struct fake_bo *bo = sbo->priv;
	uint64_t p;

	pthread_mutex_lock(&fm->lock);
	fm->releases++;
	for (p = offset; p < offset + len; p += PG) {
		bo->present[p / PG] = 0;
		memset(bo->mem + p, FAKE_POISON, PG);
	}
	pthread_mutex_unlock(&fm->lock);
	return 0;
}

static int fake_install(void *mm, uint64_t addr, const void *src, uint64_t len)
{
	struct fake_mm *fm = mm;
	struct fake_bo *bo;
	uint64_t a, off;
	int err = 0;

	pthread_mutex_lock(&fm->lock);
	if (fm->install_eagain > 0) {
		fm->install_eagain--;
		err = -EAGAIN;
		goto out;
	}
	fm->installs++;
	for (a = addr; a < addr + len; a += PG) {
		err = fake_translate(fm, a, &bo, &off);
		if (err)
			goto out;
		if (bo->present[off / PG])
			continue;
		memcpy(bo->mem + off, (const uint8_t *)src + (a - addr), PG);
		bo->present[off / PG] = 1;
	}
out:
	pthread_mutex_unlock(&fm->lock);
	return err;
}

static int fake_fill_zero(void *mm, uint64_t addr, struct svm_bo *sbo, uint64_t offset,
			  uint64_t len)
{
	struct fake_mm *fm = mm;
	struct fake_bo *bo = sbo->priv, *tbo;
	uint64_t a, off;
	int err = 0;

	pthread_mutex_lock(&fm->lock);
	fm->zero_fills++;
	for (a = addr; a < addr + len; a += PG) {
		err = fake_translate(fm, a, &tbo, &off);
		if (err)
			break;
		if (tbo != bo || off != offset + (a - addr)) {
			err = -EINVAL;
			break;
		}
		if (bo->present[off / PG])
			continue;
		memset(bo->mem + off, 0, PG);
		bo->present[off / PG] = 1;
	}
	pthread_mutex_unlock(&fm->lock);
	return err;
}

static void fake_range_idle(void *mm)
{
	struct fake_mm *fm = mm;

	pthread_mutex_lock(&fm->lock);
	fm->idles++;
	pthread_mutex_unlock(&fm->lock);
}

const struct svm_mm_ops fake_mm_ops = {
	.protect = fake_protect,
	.unprotect = fake_unprotect,
	.release = fake_release,
	.install = fake_install,
	.fill_zero = fake_fill_zero,
	.range_idle = fake_range_idle,
};

void fake_mm_init(struct fake_mm *fm)
{
	memset(fm, 0, sizeof(*fm));
	pthread_mutex_init(&fm->lock, NULL);
	fm->now = 1000000000ULL;
}

void fake_mm_fini(struct fake_mm *fm)
{
	pthread_mutex_destroy(&fm->lock);
}

uint64_t fake_clock(void *arg)
{
	struct fake_mm *fm = arg;

	return __atomic_load_n(&fm->now, __ATOMIC_SEQ_CST);
}

struct fake_bo *fake_bo_new(uint64_t id, uint64_t size)
{
	struct fake_bo *bo = calloc(1, sizeof(*bo));

	if (!bo)
		return NULL;
	bo->id = id;
	bo->size = size;
	bo->mem = aligned_alloc(PG, size);
	bo->present = calloc(size / PG, 1);
	if (!bo->mem || !bo->present) {
		fake_bo_free(bo);
		return NULL;
	}
	memset(bo->mem, 0, size);
	return bo;
}

void fake_bo_free(struct fake_bo *bo)
{
	if (!bo)
		return;
	free(bo->mem);
	free(bo->present);
	free(bo);
}

void fake_map(struct fake_mm *fm, uint64_t va, uint64_t len, struct fake_bo *bo, uint64_t off)
{
	pthread_mutex_lock(&fm->lock);
	if (fm->nmaps < FAKE_MAX_MAPS)
		fm->maps[fm->nmaps++] = (struct fake_map){ va, len, bo, off };
	pthread_mutex_unlock(&fm->lock);
}

/* Remove [va, va + len) from the fake's mappings, splitting as needed. */
void fake_unmap(struct fake_mm *fm, uint64_t va, uint64_t len)
{
	uint64_t end = va + len;
	int i;

	pthread_mutex_lock(&fm->lock);
	for (i = 0; i < fm->nmaps; i++) {
		struct fake_map m = fm->maps[i];
		uint64_t mend = m.va + m.len;

		if (mend <= va || m.va >= end)
			continue;
		fm->maps[i] = fm->maps[--fm->nmaps];
		if (m.va < va)
			fm->maps[fm->nmaps++] = (struct fake_map){ m.va, va - m.va, m.bo, m.off };
		if (mend > end)
			fm->maps[fm->nmaps++] =
				(struct fake_map){ end, mend - end, m.bo, m.off + (end - m.va) };
		i = -1;
	}
	pthread_mutex_unlock(&fm->lock);
}

bool fake_present(struct fake_mm *fm, uint64_t addr)
{
	struct fake_bo *bo;
	uint64_t off;
	bool p;

	pthread_mutex_lock(&fm->lock);
	p = !fake_translate(fm, addr, &bo, &off) && bo->present[off / PG];
	pthread_mutex_unlock(&fm->lock);
	return p;
}

/* Fault the page at @addr in as a real client thread would. */
static int fake_fault(struct fake_mm *fm, struct core *core, struct svm *svm, uint64_t addr)
{
	uint64_t retry_at = 0;
	int err, tries = 0;

	while (!fake_present(fm, addr)) {
		err = migrate_cpu_fault(core, svm, addr, &retry_at);
		if (err == -ETIME) {
			__atomic_store_n(&fm->now, retry_at, __ATOMIC_SEQ_CST);
			continue;
		}
		if (err == -EBUSY || err == -EAGAIN) {
			if (++tries > 1000000)
				return -ETIMEDOUT;
			sched_yield();
			continue;
		}
		if (err)
			return err;
	}
	return 0;
}

int fake_access(struct fake_mm *fm, struct core *core, struct svm *svm, uint64_t addr, void *buf,
		uint64_t len, bool write)
{
	uint64_t pos = addr, end = addr + len, n, off;
	struct fake_bo *bo;
	int err;

	while (pos < end) {
		err = fake_fault(fm, core, svm, pos);
		if (err)
			return err;
		n = ((pos | (PG - 1)) + 1) - pos;
		if (n > end - pos)
			n = end - pos;
		pthread_mutex_lock(&fm->lock);
		err = fake_translate(fm, pos, &bo, &off);
		if (!err && bo->present[off / PG]) {
			if (write)
				memcpy(bo->mem + off, (uint8_t *)buf + (pos - addr), n);
			else
				memcpy((uint8_t *)buf + (pos - addr), bo->mem + off, n);
		} else if (!err) {
			err = -EAGAIN;
		}
		pthread_mutex_unlock(&fm->lock);
		if (err == -EAGAIN)
			continue;
		if (err)
			return err;
		pos += n;
	}
	return 0;
}

int fake_client_init(struct fake_client *c, const struct core_config *cfg, uint64_t va,
		     uint64_t size)
{
	int err;

	memset(c, 0, sizeof(*c));
	err = core_init(&c->core, cfg);
	if (err)
		return err;
	fake_mm_init(&c->fm);
	c->core.clock = fake_clock;
	c->core.clock_arg = &c->fm;
	err = svm_init(&c->svm, &c->core.svm_cfg, &fake_mm_ops, &c->fm);
	if (err)
		goto err_core;
	err = core_client_add(&c->core, &c->svm);
	if (err)
		goto err_svm;
	c->va = va;
	c->size = size;
	c->bo = fake_bo_new(1, size);
	if (!c->bo) {
		err = -ENOMEM;
		goto err_client;
	}
	fake_map(&c->fm, va, size, c->bo, 0);
	pthread_mutex_lock(&c->svm.lock);
	err = svm_bo_add(&c->svm, 1, size, c->bo->mem, c->bo);
	if (!err)
		err = svm_register(&c->svm, va, size, 1, 0);
	pthread_mutex_unlock(&c->svm.lock);
	if (err)
		goto err_bo;
	return 0;
err_bo:
	fake_bo_free(c->bo);
err_client:
	core_client_remove(&c->core, &c->svm);
err_svm:
	svm_fini(&c->svm);
err_core:
	fake_mm_fini(&c->fm);
	core_fini(&c->core);
	return err;
}

void fake_client_fini(struct fake_client *c)
{
	migrate_release_all(&c->core, &c->svm);
	core_client_remove(&c->core, &c->svm);
	svm_fini(&c->svm);
	fake_bo_free(c->bo);
	fake_mm_fini(&c->fm);
	core_fini(&c->core);
}

void fake_small_config(struct core_config *cfg, uint64_t capacity)
{
	core_config_default(cfg);
	cfg->dev[0].capacity = capacity;
	cfg->dev[1].capacity = capacity;
	cfg->timeslice_ms = 0;
}

int fc_populate(struct fake_client *c, uint64_t addr, uint64_t len, int loc,
		struct migrate_result *res)
{
	struct migrate_op op;
	int err;

	migrate_op_init(&op, &c->core, MIGRATE_PREFETCH);
	pthread_mutex_lock(&c->svm.lock);
	err = migrate_populate(&c->core, &c->svm, addr, len, loc, &op);
	pthread_mutex_unlock(&c->svm.lock);
	*res = op.res;
	return err;
}

int fc_location(struct fake_client *c, uint64_t addr)
{
	struct svm_range *r;
	int loc = LOC_HOST;

	pthread_mutex_lock(&c->svm.lock);
	r = svm_range_find(&c->svm, addr);
	if (r && r->dm && svm_range_page_on_dev(r, (addr - r->start) / SVM_PAGE_SIZE))
		loc = r->dm->pm->id;
	pthread_mutex_unlock(&c->svm.lock);
	return loc;
}

uint64_t fc_replicas(struct fake_client *c, uint64_t addr)
{
	struct svm_range *r;
	uint64_t mask = 0;

	pthread_mutex_lock(&c->svm.lock);
	r = svm_range_find(&c->svm, addr);
	if (r && !(r->flags & SVM_RANGE_STALE))
		mask = r->replica_mask;
	pthread_mutex_unlock(&c->svm.lock);
	return mask;
}

uint64_t fc_dev_used(struct fake_client *c, int id)
{
	uint64_t used;

	pagemap_usage(c->core.dev[id], NULL, &used, NULL);
	return used;
}

static uint8_t fc_pattern_byte(uint64_t i, unsigned int seed)
{
	return (uint8_t)((i * 2654435761ULL + seed) >> 7);
}

int fc_write_pattern(struct fake_client *c, uint64_t addr, uint64_t len, unsigned int seed)
{
	uint8_t *buf = malloc(len);
	uint64_t i;
	int err;

	if (!buf)
		return -ENOMEM;
	for (i = 0; i < len; i++)
		buf[i] = fc_pattern_byte(addr + i, seed);
	err = fake_access(&c->fm, &c->core, &c->svm, addr, buf, len, true);
	free(buf);
	return err;
}

uint64_t fc_check_pattern(struct fake_client *c, uint64_t addr, uint64_t len, unsigned int seed)
{
	uint8_t *buf = malloc(len);
	uint64_t i, bad = 0;

	if (!buf || fake_access(&c->fm, &c->core, &c->svm, addr, buf, len, false)) {
		free(buf);
		return UINT64_MAX;
	}
	for (i = 0; i < len; i++)
		bad += buf[i] != fc_pattern_byte(addr + i, seed);
	free(buf);
	return bad;
}
