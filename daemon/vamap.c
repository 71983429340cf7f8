// SPDX-License-Identifier: MIT
#include <errno.h>
#include <stddef.h>

#include "mem.h"
#include "rbtree.h"
#include "vamap.h"

/**
 * DOC: VA attribute map
 *
 * A client's virtual address space, as far as gsvm cares about it, is a set
 * of mappings. Each mapping covers [start, start + len), may be backed by an
 * object (an allocation id, 0 for none) at some offset, and carries the
 * placement advice (struct vamap_attrs) that holds for all of its addresses.
 *
 * Invariants, true whenever no caller holds a half-applied list of ops:
 *
 * - the tree is ordered by start, and no two mappings overlap;
 * - every mapping has len > 0 and lies inside [mm_start, mm_end);
 * - the map's count is the number of mappings in the tree.
 *
 * Changes are made in two steps, as drm_gpuva_mgr does. First a list of ops
 * is computed against the current state: vamap_sm_map_ops() for a new
 * mapping, vamap_sm_unmap_ops() for a hole. A mapping that lies inside the
 * request becomes an UNMAP; one that sticks out on either side becomes a
 * REMAP, the removal of the old mapping plus the one or two pieces outside
 * the request, with their offsets moved along. At most two mappings can stick
 * out (one per end), so there are at most two REMAPs; vamap_sm_map_ops() ends
 * with the single MAP of the request itself. The 'keep' hint of an UNMAP or
 * REMAP says that the old mapping and the request translate every shared
 * address to the same offset of the same object, so a device could keep its
 * page table entries for that part. Mappings without backing are never kept.
 *
 * Then vamap_ops_apply() commits the list. Every op that creates a mapping got
 * its node when the list was computed, so applying cannot fail: on -ENOMEM
 * the list is discarded before anything changed, which makes map, unmap and
 * attribute updates all-or-nothing.
 *
 * Attribute updates reuse the same machinery: each mapping that meets the
 * range is remapped over the intersection with the same backing and new
 * advice, and neighbours that end up identical are merged (vamap_merge()).
 * Two neighbours merge when they touch, have equal advice and either both
 * have no backing or share an object with offsets that continue.
 *
 * The map has no lock of its own: the caller serializes every call, and a
 * list of ops must be applied (or freed) before the next list is computed.
 * A red-black tree keeps lookups O(log n); libbsd provides it.
 */

static int vamap_cmp(const struct vamap_mapping *a, const struct vamap_mapping *b)
{
	if (a->start < b->start)
		return -1;
	return a->start > b->start;
}

/* cppcheck-suppress unknownMacro */
GSVM_RB_GENERATE_STATIC(vamap_tree, vamap_mapping, node, vamap_cmp)

static uint64_t vamap_end(const struct vamap_mapping *va)
{
	return va->start + va->len;
}

/* Whether [@start, @start + @len) is non-empty, does not wrap and fits @m. */
static bool vamap_range_ok(const struct vamap *m, uint64_t start, uint64_t len)
{
	uint64_t end = start + len;

	if (!len || end < start)
		return false;
	return start >= m->mm_start && end <= m->mm_end;
}

/*
 * The first mapping that ends after @addr (or, with @touching, at or after
 * it): the mapping holding @addr if there is one, else the next one.
 */
static struct vamap_mapping *vamap_seek(struct vamap *m, uint64_t addr, bool touching)
{
	struct vamap_mapping key = { .start = addr };
	struct vamap_mapping *va, *prev;
	uint64_t prev_end;

	va = RB_NFIND(vamap_tree, &m->tree, &key);
	if (va)
		prev = RB_PREV(vamap_tree, &m->tree, va);
	else
		prev = RB_MAX(vamap_tree, &m->tree);
	if (!prev)
		return va;
	prev_end = vamap_end(prev);
	if (prev_end > addr || (touching && prev_end == addr))
		return prev;
	return va;
}

/* Unlink @va from @m and free it. */
static void vamap_drop(struct vamap *m, struct vamap_mapping *va)
{
	RB_REMOVE(vamap_tree, &m->tree, va);
	mem_free(va);
	m->count--;
}

int vamap_init(struct vamap *m, uint64_t start, uint64_t range)
{
	if (!m || !range || start + range < start)
		return -EINVAL;
	RB_INIT(&m->tree);
	m->count = 0;
	m->mm_start = start;
	m->mm_end = start + range;
	return 0;
}

void vamap_fini(struct vamap *m)
{
	struct vamap_mapping *va, *tmp;

	if (!m)
		return;
	RB_FOREACH_SAFE(va, vamap_tree, &m->tree, tmp)
		vamap_drop(m, va);
}

bool vamap_attrs_equal(const struct vamap_attrs *a, const struct vamap_attrs *b)
{
	if (!a || !b)
		return a == b;
	return a->preferred_loc == b->preferred_loc && a->accessed_by == b->accessed_by &&
	       a->read_mostly == b->read_mostly;
}

struct vamap_mapping *vamap_find(struct vamap *m, uint64_t addr)
{
	struct vamap_mapping *va;

	if (!m)
		return NULL;
	va = vamap_seek(m, addr, false);
	return va && va->start <= addr ? va : NULL;
}

struct vamap_mapping *vamap_first(struct vamap *m, uint64_t start, uint64_t end)
{
	struct vamap_mapping *va;

	if (!m || start >= end)
		return NULL;
	va = vamap_seek(m, start, false);
	return va && va->start < end ? va : NULL;
}

struct vamap_mapping *vamap_next(struct vamap *m, struct vamap_mapping *va)
{
	if (!m || !va)
		return NULL;
	return RB_NEXT(vamap_tree, &m->tree, va);
}

static void vamap_op_destroy(struct vamap_op *op)
{
	mem_free(op->node[0]);
	mem_free(op->node[1]);
	mem_free(op);
}

void vamap_ops_free(struct vamap_ops *ops)
{
	struct vamap_op *op;

	if (!ops)
		return;
	while ((op = TAILQ_FIRST(ops)) != NULL) {
		TAILQ_REMOVE(ops, op, link);
		vamap_op_destroy(op);
	}
}

/*
 * Append a zeroed op of @type to @ops, with a node preallocated in slot 0
 * and/or slot 1 as asked. Return: the op, or NULL when out of memory.
 */
static struct vamap_op *vamap_op_add(struct vamap_ops *ops, enum vamap_op_type type, bool node0,
				     bool node1)
{
	struct vamap_op *op;

	op = mem_zalloc(sizeof(*op));
	if (!op)
		return NULL;
	op->type = type;
	if (node0) {
		op->node[0] = mem_alloc(sizeof(*op->node[0]));
		if (!op->node[0])
			goto err;
	}
	if (node1) {
		op->node[1] = mem_alloc(sizeof(*op->node[1]));
		if (!op->node[1])
			goto err;
	}
	TAILQ_INSERT_TAIL(ops, op, link);
	return op;
err:
	vamap_op_destroy(op);
	return NULL;
}

/* Describe the part [@start, @end) of @va, its offset moved along. */
static void vamap_part(const struct vamap_mapping *va, uint64_t start, uint64_t end,
		       struct vamap_op_map *part)
{
	part->start = start;
	part->len = end - start;
	part->obj = va->obj;
	part->offset = va->offset + (start - va->start);
	part->attrs = va->attrs;
}

/*
 * Whether @va and @req put every address they share at the same offset of
 * the same object. Offsets are compared as (offset - start), which is
 * well defined for unsigned values even when the subtraction wraps.
 */
static bool vamap_contiguous(const struct vamap_mapping *va, const struct vamap_op_map *req)
{
	if (!va->obj || va->obj != req->obj)
		return false;
	return va->offset - va->start == req->offset - req->start;
}

/*
 * Append the op that takes [@start, @end) out of @va: an UNMAP when @va lies
 * inside the range, else a REMAP to the pieces that stick out. @req is the
 * mapping that will take the range's place (for the keep hint), or NULL.
 */
static int vamap_cut(struct vamap_mapping *va, uint64_t start, uint64_t end,
		     const struct vamap_op_map *req, struct vamap_ops *ops)
{
	bool has_prev = va->start < start;
	bool has_next = vamap_end(va) > end;
	bool keep = req && vamap_contiguous(va, req);
	struct vamap_op *op;

	if (!has_prev && !has_next) {
		op = vamap_op_add(ops, VAMAP_OP_UNMAP, false, false);
		if (!op)
			return -ENOMEM;
		op->unmap.va = va;
		op->unmap.keep = keep;
		return 0;
	}
	op = vamap_op_add(ops, VAMAP_OP_REMAP, has_prev, has_next);
	if (!op)
		return -ENOMEM;
	op->remap.unmap.va = va;
	op->remap.unmap.keep = keep;
	op->remap.has_prev = has_prev;
	op->remap.has_next = has_next;
	if (has_prev)
		vamap_part(va, va->start, start, &op->remap.prev);
	if (has_next)
		vamap_part(va, end, vamap_end(va), &op->remap.next);
	return 0;
}

/* Append the ops that clear [@start, @end), in address order. */
static int vamap_cut_range(struct vamap *m, uint64_t start, uint64_t end,
			   const struct vamap_op_map *req, struct vamap_ops *ops)
{
	struct vamap_mapping *va;
	int ret;

	for (va = vamap_first(m, start, end); va && va->start < end; va = vamap_next(m, va)) {
		ret = vamap_cut(va, start, end, req, ops);
		if (ret)
			return ret;
	}
	return 0;
}

static int vamap_add_map(struct vamap_ops *ops, const struct vamap_op_map *req)
{
	struct vamap_op *op;

	op = vamap_op_add(ops, VAMAP_OP_MAP, true, false);
	if (!op)
		return -ENOMEM;
	op->map = *req;
	return 0;
}

/**
 * vamap_sm_map_ops() - The ops that integrate a new mapping
 * @m: The map
 * @req: The requested mapping
 * @ops: The list the ops are appended to (normally empty)
 *
 * Return: 0, -EINVAL for a bad range or a NULL argument, -ENOMEM (@ops is then
 * as it was).
 */
int vamap_sm_map_ops(struct vamap *m, const struct vamap_op_map *req, struct vamap_ops *ops)
{
	struct vamap_ops new_ops;
	int ret;

	if (!m || !req || !ops || !vamap_range_ok(m, req->start, req->len))
		return -EINVAL;
	TAILQ_INIT(&new_ops);
	ret = vamap_cut_range(m, req->start, req->start + req->len, req, &new_ops);
	if (ret)
		goto err;
	ret = vamap_add_map(&new_ops, req);
	if (ret)
		goto err;
	TAILQ_CONCAT(ops, &new_ops, link);
	return 0;
err:
	vamap_ops_free(&new_ops);
	return ret;
}

/**
 * vamap_sm_unmap_ops() - The ops that unmap a range
 * @m: The map
 * @start: First address
 * @len: Length
 * @ops: The list the ops are appended to (normally empty)
 *
 * Return: 0, -EINVAL, -ENOMEM (@ops is then as it was).
 */
int vamap_sm_unmap_ops(struct vamap *m, uint64_t start, uint64_t len, struct vamap_ops *ops)
{
	struct vamap_ops new_ops;
	int ret;

	if (!m || !ops || !vamap_range_ok(m, start, len))
		return -EINVAL;
	TAILQ_INIT(&new_ops);
	ret = vamap_cut_range(m, start, start + len, NULL, &new_ops);
	if (ret) {
		vamap_ops_free(&new_ops);
		return ret;
	}
	TAILQ_CONCAT(ops, &new_ops, link);
	return 0;
}

/**
 * vamap_prefetch_ops() - One PREFETCH op per mapping overlapping a range
 * @m: The map
 * @start: First address
 * @len: Length
 * @ops: The list the ops are appended to (normally empty)
 *
 * Return: 0, -EINVAL, -ENOMEM (@ops is then as it was).
 */
int vamap_prefetch_ops(struct vamap *m, uint64_t start, uint64_t len, struct vamap_ops *ops)
{
	struct vamap_ops new_ops;
	struct vamap_mapping *va;
	struct vamap_op *op;
	uint64_t end = start + len;

	if (!m || !ops || !vamap_range_ok(m, start, len))
		return -EINVAL;
	TAILQ_INIT(&new_ops);
	for (va = vamap_first(m, start, end); va && va->start < end; va = vamap_next(m, va)) {
		op = vamap_op_add(&new_ops, VAMAP_OP_PREFETCH, false, false);
		if (!op) {
			vamap_ops_free(&new_ops);
			return -ENOMEM;
		}
		op->prefetch.va = va;
	}
	TAILQ_CONCAT(ops, &new_ops, link);
	return 0;
}

/* Insert the node in *@slot, described by @desc; the op gives it up. */
static void vamap_insert(struct vamap *m, struct vamap_mapping **slot,
			 const struct vamap_op_map *desc)
{
	struct vamap_mapping *va = *slot;

	if (!va)
		return;
	*slot = NULL;
	va->start = desc->start;
	va->len = desc->len;
	va->obj = desc->obj;
	va->offset = desc->offset;
	va->attrs = desc->attrs;
	/* A clash means the ops were computed against another state. */
	if (RB_INSERT(vamap_tree, &m->tree, va)) {
		mem_free(va);
		return;
	}
	m->count++;
}

/* Remove and free the mapping in *@slot, then forget the pointer. */
static void vamap_remove(struct vamap *m, struct vamap_mapping **slot)
{
	if (!*slot)
		return;
	vamap_drop(m, *slot);
	*slot = NULL;
}

/**
 * vamap_ops_apply() - Commit map/remap/unmap ops to @m
 * @m: The map
 * @ops: Ops computed against the current state of @m
 *
 * Removed mappings are freed and the ops' pointers to them cleared, so
 * whatever a caller needs from an UNMAP or REMAP it reads before this call.
 * Applying the same list again does nothing.
 */
void vamap_ops_apply(struct vamap *m, struct vamap_ops *ops)
{
	struct vamap_op *op;

	if (!m || !ops)
		return;
	TAILQ_FOREACH(op, ops, link) {
		switch (op->type) {
		case VAMAP_OP_MAP:
			vamap_insert(m, &op->node[0], &op->map);
			break;
		case VAMAP_OP_REMAP:
			vamap_remove(m, &op->remap.unmap.va);
			if (op->remap.has_prev)
				vamap_insert(m, &op->node[0], &op->remap.prev);
			if (op->remap.has_next)
				vamap_insert(m, &op->node[1], &op->remap.next);
			break;
		case VAMAP_OP_UNMAP:
			vamap_remove(m, &op->unmap.va);
			break;
		case VAMAP_OP_PREFETCH:
			break;
		}
	}
}

int vamap_map(struct vamap *m, const struct vamap_op_map *req)
{
	struct vamap_ops ops;
	int ret;

	TAILQ_INIT(&ops);
	ret = vamap_sm_map_ops(m, req, &ops);
	if (!ret)
		vamap_ops_apply(m, &ops);
	vamap_ops_free(&ops);
	return ret;
}

int vamap_unmap(struct vamap *m, uint64_t start, uint64_t len)
{
	struct vamap_ops ops;
	int ret;

	TAILQ_INIT(&ops);
	ret = vamap_sm_unmap_ops(m, start, len, &ops);
	if (!ret)
		vamap_ops_apply(m, &ops);
	vamap_ops_free(&ops);
	return ret;
}

/*
 * Append the ops that give the part of @va inside [@start, @end) the
 * attributes @update makes of its own: the part is mapped again with the
 * same backing. Nothing is appended when the attributes stay the same.
 */
static int vamap_retag(struct vamap_mapping *va, uint64_t start, uint64_t end,
		       void (*update)(struct vamap_attrs *attrs, void *arg), void *arg,
		       struct vamap_ops *ops)
{
	uint64_t va_end = vamap_end(va);
	struct vamap_op_map part;
	int ret;

	vamap_part(va, start > va->start ? start : va->start, end < va_end ? end : va_end, &part);
	update(&part.attrs, arg);
	if (vamap_attrs_equal(&part.attrs, &va->attrs))
		return 0;
	ret = vamap_cut(va, part.start, part.start + part.len, &part, ops);
	if (ret)
		return ret;
	return vamap_add_map(ops, &part);
}

int vamap_update_attrs(struct vamap *m, uint64_t start, uint64_t len,
		       void (*update)(struct vamap_attrs *attrs, void *arg), void *arg)
{
	struct vamap_mapping *va;
	struct vamap_ops ops;
	uint64_t end = start + len;
	int ret = 0;

	if (!m || !update || !vamap_range_ok(m, start, len))
		return -EINVAL;
	TAILQ_INIT(&ops);
	/* Each op touches only its own mapping, so all can be computed first. */
	for (va = vamap_first(m, start, end); va && va->start < end; va = vamap_next(m, va)) {
		ret = vamap_retag(va, start, end, update, arg, &ops);
		if (ret)
			goto out;
	}
	vamap_ops_apply(m, &ops);
	vamap_merge(m, start, end);
out:
	vamap_ops_free(&ops);
	return ret;
}

/* Whether @b can be folded into @a, which ends where @b starts. */
static bool vamap_mergeable(const struct vamap_mapping *a, const struct vamap_mapping *b)
{
	if (vamap_end(a) != b->start || a->obj != b->obj)
		return false;
	if (!vamap_attrs_equal(&a->attrs, &b->attrs))
		return false;
	/* Without backing, offsets mean nothing. */
	return !a->obj || a->offset + a->len == b->offset;
}

void vamap_merge(struct vamap *m, uint64_t start, uint64_t end)
{
	struct vamap_mapping *va, *next;

	if (!m || start > end)
		return;
	va = vamap_seek(m, start, true);
	while (va && va->start <= end) {
		next = vamap_next(m, va);
		if (!next || next->start > end)
			break;
		if (vamap_mergeable(va, next)) {
			va->len += next->len;
			vamap_drop(m, next);
		} else {
			va = next;
		}
	}
}
