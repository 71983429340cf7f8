// SPDX-License-Identifier: MIT
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "cu.h"
#include "mem.h"
#include "vamap.h"

/*
 * Addresses are counted in pages from BASE, the start of most test maps.
 * OBJ_A/OBJ_B, OFF_N and OFF_M play a, b, n and m of the split/merge
 * diagrams in drm_gpuva_mgr's documentation, one diagram unit being a page.
 */
#define PG 0x1000ULL
#define BASE 0x100000ULL
#define NPG 16
#define A(p) (BASE + PG * (p))
#define OBJ_A 1
#define OBJ_B 2
#define OFF_N (16 * PG)
#define OFF_M (64 * PG)

/* Advice of the existing mappings and of the requests, told apart on purpose. */
#define ATTR_OLD ((struct vamap_attrs){ .preferred_loc = 0, .accessed_by = 1 })
#define ATTR_NEW \
	((struct vamap_attrs){ .preferred_loc = -1, .accessed_by = 6, .read_mostly = true })

#define MAPPING(p, n, o, off, at)                                                          \
	{                                                                                  \
		.start = A(p), .len = PG * (n), .obj = (o), .offset = (off), .attrs = (at) \
	}
#define OLD(p, n, o, off) MAPPING(p, n, o, off, ATTR_OLD)
#define NEW(p, n, o, off) MAPPING(p, n, o, off, ATTR_NEW)
#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/**
 * struct exp_op - One op a test expects
 * @type: Op type
 * @va_start: UNMAP, REMAP, PREFETCH: start of the mapping the op refers to
 * @keep: UNMAP, REMAP: the keep hint
 * @has_prev: REMAP: a piece before the request is expected
 * @has_next: REMAP: a piece after it is expected
 * @prev: REMAP: that piece
 * @next: REMAP: that piece
 * @map: MAP: the mapping
 */
struct exp_op {
	enum vamap_op_type type;
	uint64_t va_start;
	bool keep;
	bool has_prev;
	bool has_next;
	struct vamap_op_map prev;
	struct vamap_op_map next;
	struct vamap_op_map map;
};

#define X_UNMAP(p, k)                                                 \
	{                                                             \
		.type = VAMAP_OP_UNMAP, .va_start = A(p), .keep = (k) \
	}
#define X_REMAP_P(p, k, pr)                                                              \
	{                                                                                \
		.type = VAMAP_OP_REMAP, .va_start = A(p), .keep = (k), .has_prev = true, \
		.prev = pr                                                               \
	}
#define X_REMAP_N(p, k, nx)                                                              \
	{                                                                                \
		.type = VAMAP_OP_REMAP, .va_start = A(p), .keep = (k), .has_next = true, \
		.next = nx                                                               \
	}
#define X_REMAP_PN(p, k, pr, nx)                                                         \
	{                                                                                \
		.type = VAMAP_OP_REMAP, .va_start = A(p), .keep = (k), .has_prev = true, \
		.prev = pr, .has_next = true, .next = nx                                 \
	}
#define X_MAP(mp)                               \
	{                                       \
		.type = VAMAP_OP_MAP, .map = mp \
	}

static bool attrs_eq(const struct vamap_attrs *a, const struct vamap_attrs *b)
{
	return a->preferred_loc == b->preferred_loc && a->accessed_by == b->accessed_by &&
	       a->read_mostly == b->read_mostly;
}

static bool op_map_eq(const struct vamap_op_map *a, const struct vamap_op_map *b)
{
	return a->start == b->start && a->len == b->len && a->obj == b->obj &&
	       a->offset == b->offset && attrs_eq(&a->attrs, &b->attrs);
}

static bool mapping_is(const struct vamap_mapping *va, const struct vamap_op_map *want)
{
	return va->start == want->start && va->len == want->len && va->obj == want->obj &&
	       va->offset == want->offset && attrs_eq(&va->attrs, &want->attrs);
}

static void dump_map(const char *what, struct vamap *m)
{
	struct vamap_mapping *va;

	fprintf(stderr, "%s (count %" PRIu64 "):\n", what, m->count);
	for (va = vamap_first(m, m->mm_start, m->mm_end); va; va = vamap_next(m, va))
		fprintf(stderr,
			"  [%#" PRIx64 ", +%#" PRIx64 ") obj %" PRIu64 " off %#" PRIx64
			" loc %d acc %#" PRIx64 " rm %d\n",
			va->start, va->len, va->obj, va->offset, va->attrs.preferred_loc,
			va->attrs.accessed_by, va->attrs.read_mostly);
}

/* Whether @m holds exactly the mappings @want, in order. */
static bool map_matches(struct vamap *m, const struct vamap_op_map *want, size_t n)
{
	struct vamap_mapping *va = vamap_first(m, m->mm_start, m->mm_end);
	size_t i;

	if (m->count != n)
		return false;
	for (i = 0; i < n; i++, va = vamap_next(m, va))
		if (!va || !mapping_is(va, &want[i]))
			return false;
	return va == NULL;
}

static void check_map(struct vamap *m, const struct vamap_op_map *want, size_t n)
{
	bool ok = map_matches(m, want, n);

	if (!ok)
		dump_map("unexpected map", m);
	CU_ASSERT(ok);
}

static bool op_matches(const struct vamap_op *op, const struct exp_op *x)
{
	if (op->type != x->type)
		return false;
	switch (op->type) {
	case VAMAP_OP_MAP:
		return op_map_eq(&op->map, &x->map);
	case VAMAP_OP_UNMAP:
		return op->unmap.va->start == x->va_start && op->unmap.keep == x->keep;
	case VAMAP_OP_PREFETCH:
		return op->prefetch.va->start == x->va_start;
	case VAMAP_OP_REMAP:
		break;
	}
	if (op->remap.unmap.va->start != x->va_start || op->remap.unmap.keep != x->keep)
		return false;
	if (op->remap.has_prev != x->has_prev || op->remap.has_next != x->has_next)
		return false;
	if (x->has_prev && !op_map_eq(&op->remap.prev, &x->prev))
		return false;
	return !x->has_next || op_map_eq(&op->remap.next, &x->next);
}

static void check_ops(struct vamap_ops *ops, const struct exp_op *x, size_t n)
{
	struct vamap_op *op;
	size_t i = 0;

	TAILQ_FOREACH(op, ops, link) {
		CU_ASSERT_FATAL(i < n);
		if (!op_matches(op, &x[i]))
			fprintf(stderr, "op %zu (type %d) differs from the expected one\n", i,
				op->type);
		CU_ASSERT(op_matches(op, &x[i]));
		i++;
	}
	CU_ASSERT_EQUAL(i, n);
}

static void setup(struct vamap *m, const struct vamap_op_map *maps, size_t n)
{
	size_t i;

	CU_ASSERT_EQUAL_FATAL(vamap_init(m, BASE, NPG * PG), 0);
	for (i = 0; i < n; i++)
		CU_ASSERT_EQUAL_FATAL(vamap_map(m, &maps[i]), 0);
	CU_ASSERT_FATAL(map_matches(m, maps, n));
}

/*
 * Map @req over @old: check the ops (before anything changes) and the map
 * they leave once applied.
 */
static void run_map_case(const struct vamap_op_map *old, size_t nold,
			 const struct vamap_op_map *req, const struct exp_op *x, size_t nx,
			 const struct vamap_op_map *res, size_t nres)
{
	struct vamap_ops ops;
	struct vamap m;

	setup(&m, old, nold);
	TAILQ_INIT(&ops);
	CU_ASSERT_EQUAL_FATAL(vamap_sm_map_ops(&m, req, &ops), 0);
	check_map(&m, old, nold);
	check_ops(&ops, x, nx);
	vamap_ops_apply(&m, &ops);
	vamap_ops_free(&ops);
	CU_ASSERT(TAILQ_EMPTY(&ops));
	check_map(&m, res, nres);
	vamap_fini(&m);
}

static void run_unmap_case(const struct vamap_op_map *old, size_t nold, uint64_t start,
			   uint64_t len, const struct exp_op *x, size_t nx,
			   const struct vamap_op_map *res, size_t nres)
{
	struct vamap_ops ops;
	struct vamap m;

	setup(&m, old, nold);
	TAILQ_INIT(&ops);
	CU_ASSERT_EQUAL_FATAL(vamap_sm_unmap_ops(&m, start, len, &ops), 0);
	check_map(&m, old, nold);
	check_ops(&ops, x, nx);
	vamap_ops_apply(&m, &ops);
	vamap_ops_free(&ops);
	check_map(&m, res, nres);
	vamap_fini(&m);
}

#define MAP_CASE(old, req, x, res) \
	run_map_case(old, NELEM(old), &(req), x, NELEM(x), res, NELEM(res))
#define UNMAP_CASE(old, s, l, x, res) \
	run_unmap_case(old, NELEM(old), s, l, x, NELEM(x), res, NELEM(res))

/* 1) The request is identical to the mapping: replace it, keep the backing. */
static void test_case01_identical_keep(void)
{
	struct vamap_op_map old[] = { OLD(0, 1, OBJ_A, OFF_N) };
	struct vamap_op_map req = NEW(0, 1, OBJ_A, OFF_N);
	struct exp_op x[] = { X_UNMAP(0, true), X_MAP(req) };
	struct vamap_op_map res[] = { req };

	MAP_CASE(old, req, x, res);
}

/* 2) Identical but for the offset: replace, nothing kept. */
static void test_case02_other_offset(void)
{
	struct vamap_op_map old[] = { OLD(0, 1, OBJ_A, OFF_N) };
	struct vamap_op_map req = NEW(0, 1, OBJ_A, OFF_M);
	struct exp_op x[] = { X_UNMAP(0, false), X_MAP(req) };
	struct vamap_op_map res[] = { req };

	MAP_CASE(old, req, x, res);
}

/* 3) Identical but for the object: replace, nothing kept. */
static void test_case03_other_bo(void)
{
	struct vamap_op_map old[] = { OLD(0, 1, OBJ_A, OFF_N) };
	struct vamap_op_map req = NEW(0, 1, OBJ_B, OFF_N);
	struct exp_op x[] = { X_UNMAP(0, false), X_MAP(req) };
	struct vamap_op_map res[] = { req };

	MAP_CASE(old, req, x, res);
}

/* 4) The mapping is a left-aligned part of the request: replace it. */
static void test_case04_left_subset_of_req(void)
{
	struct vamap_op_map old[] = { OLD(0, 1, OBJ_A, OFF_N) };
	struct vamap_op_map req = NEW(0, 2, OBJ_A, OFF_N);
	struct exp_op x[] = { X_UNMAP(0, true), X_MAP(req) };
	struct vamap_op_map res[] = { req };
	/* Same ops with another object, only not kept. */
	struct vamap_op_map req_b = NEW(0, 2, OBJ_B, OFF_N);
	struct exp_op x_b[] = { X_UNMAP(0, false), X_MAP(req_b) };
	struct vamap_op_map res_b[] = { req_b };

	MAP_CASE(old, req, x, res);
	MAP_CASE(old, req_b, x_b, res_b);
}

/* 5) The request is a left-aligned part of the mapping, other object. */
static void test_case05_left_aligned_other_bo(void)
{
	struct vamap_op_map old[] = { OLD(0, 2, OBJ_A, OFF_N) };
	struct vamap_op_map req = NEW(0, 1, OBJ_B, OFF_N);
	struct vamap_op_map rest = OLD(1, 1, OBJ_A, OFF_N + PG);
	struct exp_op x[] = { X_REMAP_N(0, false, rest), X_MAP(req) };
	struct vamap_op_map res[] = { req, rest };
	/* Same object, offset not in line: the same, not kept either. */
	struct vamap_op_map req_m = NEW(0, 1, OBJ_A, OFF_M);
	struct exp_op x_m[] = { X_REMAP_N(0, false, rest), X_MAP(req_m) };
	struct vamap_op_map res_m[] = { req_m, rest };

	MAP_CASE(old, req, x, res);
	MAP_CASE(old, req_m, x_m, res_m);
}

/* 6) The request is a left-aligned, contiguous part of the mapping: keep. */
static void test_case06_left_aligned_keep(void)
{
	struct vamap_op_map old[] = { OLD(0, 2, OBJ_A, OFF_N) };
	struct vamap_op_map req = NEW(0, 1, OBJ_A, OFF_N);
	struct vamap_op_map rest = OLD(1, 1, OBJ_A, OFF_N + PG);
	struct exp_op x[] = { X_REMAP_N(0, true, rest), X_MAP(req) };
	struct vamap_op_map res[] = { req, rest };

	MAP_CASE(old, req, x, res);
}

/* 7) The request is a right-aligned part of the mapping, other object. */
static void test_case07_right_aligned_other_bo(void)
{
	struct vamap_op_map old[] = { OLD(0, 2, OBJ_A, OFF_N) };
	struct vamap_op_map req = NEW(1, 1, OBJ_B, OFF_M);
	struct vamap_op_map rest = OLD(0, 1, OBJ_A, OFF_N);
	struct exp_op x[] = { X_REMAP_P(0, false, rest), X_MAP(req) };
	struct vamap_op_map res[] = { rest, req };

	MAP_CASE(old, req, x, res);
}

/* 8) The request is a right-aligned, contiguous part of the mapping: keep. */
static void test_case08_right_aligned_keep(void)
{
	struct vamap_op_map old[] = { OLD(0, 2, OBJ_A, OFF_N) };
	struct vamap_op_map req = NEW(1, 1, OBJ_A, OFF_N + PG);
	struct vamap_op_map rest = OLD(0, 1, OBJ_A, OFF_N);
	struct exp_op x[] = { X_REMAP_P(0, true, rest), X_MAP(req) };
	struct vamap_op_map res[] = { rest, req };

	MAP_CASE(old, req, x, res);
}

/* 9) The request overlaps the mapping's end, other object. */
static void test_case09_overlap_end_other_bo(void)
{
	struct vamap_op_map old[] = { OLD(0, 2, OBJ_A, OFF_N) };
	struct vamap_op_map req = NEW(1, 2, OBJ_B, OFF_M);
	struct vamap_op_map rest = OLD(0, 1, OBJ_A, OFF_N);
	struct exp_op x[] = { X_REMAP_P(0, false, rest), X_MAP(req) };
	struct vamap_op_map res[] = { rest, req };

	MAP_CASE(old, req, x, res);
}

/* 10) The request overlaps the mapping's end, contiguously: keep. */
static void test_case10_overlap_end_keep(void)
{
	struct vamap_op_map old[] = { OLD(0, 2, OBJ_A, OFF_N) };
	struct vamap_op_map req = NEW(1, 2, OBJ_A, OFF_N + PG);
	struct vamap_op_map rest = OLD(0, 1, OBJ_A, OFF_N);
	struct exp_op x[] = { X_REMAP_P(0, true, rest), X_MAP(req) };
	struct vamap_op_map res[] = { rest, req };

	MAP_CASE(old, req, x, res);
}

/* 11) The request sits in the middle of the mapping, other object. */
static void test_case11_centered_other_bo(void)
{
	struct vamap_op_map old[] = { OLD(0, 3, OBJ_A, OFF_N) };
	struct vamap_op_map req = NEW(1, 1, OBJ_B, OFF_M);
	struct vamap_op_map before = OLD(0, 1, OBJ_A, OFF_N);
	struct vamap_op_map after = OLD(2, 1, OBJ_A, OFF_N + 2 * PG);
	struct exp_op x[] = { X_REMAP_PN(0, false, before, after), X_MAP(req) };
	struct vamap_op_map res[] = { before, req, after };

	MAP_CASE(old, req, x, res);
}

/* 12) The request sits in the middle of the mapping, contiguously: keep. */
static void test_case12_centered_keep(void)
{
	struct vamap_op_map old[] = { OLD(0, 3, OBJ_A, OFF_N) };
	struct vamap_op_map req = NEW(1, 1, OBJ_A, OFF_N + PG);
	struct vamap_op_map before = OLD(0, 1, OBJ_A, OFF_N);
	struct vamap_op_map after = OLD(2, 1, OBJ_A, OFF_N + 2 * PG);
	struct exp_op x[] = { X_REMAP_PN(0, true, before, after), X_MAP(req) };
	struct vamap_op_map res[] = { before, req, after };

	MAP_CASE(old, req, x, res);
}

/* 13) The mapping is a right-aligned part of the request: replace it. */
static void test_case13_right_subset_of_req(void)
{
	struct vamap_op_map old[] = { OLD(1, 1, OBJ_A, OFF_N + PG) };
	struct vamap_op_map req = NEW(0, 2, OBJ_A, OFF_N);
	struct exp_op x[] = { X_UNMAP(1, true), X_MAP(req) };
	struct vamap_op_map res[] = { req };
	struct vamap_op_map req_b = NEW(0, 2, OBJ_B, OFF_N);
	struct exp_op x_b[] = { X_UNMAP(1, false), X_MAP(req_b) };
	struct vamap_op_map res_b[] = { req_b };

	MAP_CASE(old, req, x, res);
	MAP_CASE(old, req_b, x_b, res_b);
}

/* 14) The mapping sits in the middle of the request: replace it. */
static void test_case14_centered_subset_of_req(void)
{
	struct vamap_op_map old[] = { OLD(1, 1, OBJ_A, OFF_N + PG) };
	struct vamap_op_map req = NEW(0, 3, OBJ_A, OFF_N);
	struct exp_op x[] = { X_UNMAP(1, true), X_MAP(req) };
	struct vamap_op_map res[] = { req };
	struct vamap_op_map req_m = NEW(0, 3, OBJ_A, OFF_M);
	struct exp_op x_m[] = { X_UNMAP(1, false), X_MAP(req_m) };
	struct vamap_op_map res_m[] = { req_m };

	MAP_CASE(old, req, x, res);
	MAP_CASE(old, req_m, x_m, res_m);
}

/*
 * 15) The request overlaps the mapping's beginning, other object. The
 * remaining piece starts one page into the old mapping, so its offset is
 * n + 1 (the seed's diagram says n + 2, its code computes n + 1).
 */
static void test_case15_overlap_begin_other_bo(void)
{
	struct vamap_op_map old[] = { OLD(1, 2, OBJ_A, OFF_N) };
	struct vamap_op_map req = NEW(0, 2, OBJ_B, OFF_M);
	struct vamap_op_map rest = OLD(2, 1, OBJ_A, OFF_N + PG);
	struct exp_op x[] = { X_REMAP_N(1, false, rest), X_MAP(req) };
	struct vamap_op_map res[] = { req, rest };

	MAP_CASE(old, req, x, res);
}

/* A request over several mappings: remap, unmaps, remap, map. */
static void test_sm_map_spanning(void)
{
	struct vamap_op_map old[] = { OLD(0, 2, OBJ_A, OFF_N), OLD(2, 1, OBJ_B, 0), OLD(3, 1, 0, 0),
				      OLD(5, 2, OBJ_A, OFF_N + 5 * PG) };
	struct vamap_op_map req = NEW(1, 5, OBJ_A, OFF_N + PG);
	struct vamap_op_map head = OLD(0, 1, OBJ_A, OFF_N);
	struct vamap_op_map tail = OLD(6, 1, OBJ_A, OFF_N + 6 * PG);
	struct exp_op x[] = { X_REMAP_P(0, true, head), X_UNMAP(2, false), X_UNMAP(3, false),
			      X_REMAP_N(5, true, tail), X_MAP(req) };
	struct vamap_op_map res[] = { head, req, tail };

	MAP_CASE(old, req, x, res);
}

static void test_unmap_whole(void)
{
	struct vamap_op_map old[] = { OLD(2, 3, OBJ_A, OFF_N) };
	struct exp_op x[] = { X_UNMAP(2, false) };

	run_unmap_case(old, NELEM(old), A(2), 3 * PG, x, NELEM(x), NULL, 0);
	/* A range larger than the mapping removes it as well. */
	run_unmap_case(old, NELEM(old), A(0), NPG * PG, x, NELEM(x), NULL, 0);
}

static void test_unmap_inside(void)
{
	struct vamap_op_map old[] = { OLD(0, 4, OBJ_A, OFF_N) };
	struct vamap_op_map before = OLD(0, 1, OBJ_A, OFF_N);
	struct vamap_op_map after = OLD(3, 1, OBJ_A, OFF_N + 3 * PG);
	struct exp_op x[] = { X_REMAP_PN(0, false, before, after) };
	struct vamap_op_map res[] = { before, after };

	UNMAP_CASE(old, A(1), 2 * PG, x, res);
}

static void test_unmap_head(void)
{
	struct vamap_op_map old[] = { OLD(0, 4, OBJ_A, OFF_N) };
	struct vamap_op_map after = OLD(1, 3, OBJ_A, OFF_N + PG);
	struct exp_op x[] = { X_REMAP_N(0, false, after) };
	struct vamap_op_map res[] = { after };

	UNMAP_CASE(old, A(0), PG, x, res);
}

static void test_unmap_tail(void)
{
	struct vamap_op_map old[] = { OLD(0, 4, OBJ_A, OFF_N) };
	struct vamap_op_map before = OLD(0, 3, OBJ_A, OFF_N);
	struct exp_op x[] = { X_REMAP_P(0, false, before) };
	struct vamap_op_map res[] = { before };

	UNMAP_CASE(old, A(3), PG, x, res);
}

static void test_unmap_spanning(void)
{
	struct vamap_op_map old[] = { OLD(0, 2, OBJ_A, OFF_N), OLD(2, 1, OBJ_B, OFF_M),
				      OLD(4, 2, 0, 0), OLD(7, 1, OBJ_A, 0) };
	struct vamap_op_map head = OLD(0, 1, OBJ_A, OFF_N);
	struct vamap_op_map tail = OLD(5, 1, 0, PG);
	struct exp_op x[] = { X_REMAP_P(0, false, head), X_UNMAP(2, false),
			      X_REMAP_N(4, false, tail) };
	struct vamap_op_map res[] = { head, tail, old[3] };
	struct vamap m;

	UNMAP_CASE(old, A(1), 4 * PG, x, res);

	/* The one-step form leaves the same map. */
	setup(&m, old, NELEM(old));
	CU_ASSERT_EQUAL(vamap_unmap(&m, A(1), 4 * PG), 0);
	check_map(&m, res, NELEM(res));
	vamap_fini(&m);
}

static void test_unmap_hole(void)
{
	struct vamap_op_map old[] = { OLD(0, 1, OBJ_A, OFF_N), OLD(3, 1, OBJ_A, OFF_N) };
	struct vamap_ops ops;
	struct vamap m;

	setup(&m, old, NELEM(old));
	TAILQ_INIT(&ops);
	CU_ASSERT_EQUAL(vamap_sm_unmap_ops(&m, A(1), 2 * PG, &ops), 0);
	CU_ASSERT(TAILQ_EMPTY(&ops));
	CU_ASSERT_EQUAL(vamap_unmap(&m, A(1), 2 * PG), 0);
	CU_ASSERT_EQUAL(vamap_unmap(&m, A(4), 12 * PG), 0);
	check_map(&m, old, NELEM(old));
	vamap_fini(&m);
}

static void test_prefetch_ops(void)
{
	struct vamap_op_map old[] = { OLD(0, 1, OBJ_A, 0), OLD(2, 2, OBJ_A, 0), OLD(5, 1, 0, 0),
				      OLD(6, 1, OBJ_B, 0), OLD(8, 1, OBJ_B, 0) };
	struct exp_op x[] = { { .type = VAMAP_OP_PREFETCH, .va_start = A(2) },
			      { .type = VAMAP_OP_PREFETCH, .va_start = A(5) },
			      { .type = VAMAP_OP_PREFETCH, .va_start = A(6) } };
	struct vamap_ops ops;
	struct vamap_op *op;
	struct vamap m;

	setup(&m, old, NELEM(old));
	TAILQ_INIT(&ops);
	/* [3, 8): from the middle of one mapping to the start of another. */
	CU_ASSERT_EQUAL(vamap_prefetch_ops(&m, A(3), 5 * PG, &ops), 0);
	check_ops(&ops, x, NELEM(x));
	TAILQ_FOREACH(op, &ops, link)
		CU_ASSERT_PTR_EQUAL(op->prefetch.va, vamap_find(&m, op->prefetch.va->start));
	/* Applying prefetch ops changes nothing. */
	vamap_ops_apply(&m, &ops);
	vamap_ops_free(&ops);
	check_map(&m, old, NELEM(old));

	CU_ASSERT_EQUAL(vamap_prefetch_ops(&m, A(9), 7 * PG, &ops), 0);
	CU_ASSERT(TAILQ_EMPTY(&ops));
	vamap_fini(&m);
}

static void test_find_first_next(void)
{
	struct vamap_op_map old[] = { OLD(1, 1, OBJ_A, 0), OLD(4, 2, OBJ_A, 0),
				      OLD(6, 1, OBJ_B, 0) };
	struct vamap_mapping *m1, *m2, *m3;
	struct vamap m;

	CU_ASSERT_EQUAL_FATAL(vamap_init(&m, BASE, NPG * PG), 0);
	CU_ASSERT_PTR_NULL(vamap_find(&m, A(1)));
	CU_ASSERT_PTR_NULL(vamap_first(&m, BASE, A(NPG)));
	vamap_fini(&m);

	setup(&m, old, NELEM(old));
	m1 = vamap_find(&m, A(1));
	m2 = vamap_find(&m, A(4));
	m3 = vamap_find(&m, A(6));
	CU_ASSERT_FATAL(m1 && m2 && m3);
	CU_ASSERT(mapping_is(m1, &old[0]) && mapping_is(m2, &old[1]) && mapping_is(m3, &old[2]));

	CU_ASSERT_PTR_NULL(vamap_find(&m, 0));
	CU_ASSERT_PTR_NULL(vamap_find(&m, A(0)));
	CU_ASSERT_PTR_NULL(vamap_find(&m, A(1) - 1));
	CU_ASSERT_PTR_EQUAL(vamap_find(&m, A(2) - 1), m1);
	CU_ASSERT_PTR_NULL(vamap_find(&m, A(2)));
	CU_ASSERT_PTR_NULL(vamap_find(&m, A(3) + 17));
	CU_ASSERT_PTR_EQUAL(vamap_find(&m, A(5) + 123), m2);
	CU_ASSERT_PTR_EQUAL(vamap_find(&m, A(6) - 1), m2);
	CU_ASSERT_PTR_EQUAL(vamap_find(&m, A(7) - 1), m3);
	CU_ASSERT_PTR_NULL(vamap_find(&m, A(7)));
	CU_ASSERT_PTR_NULL(vamap_find(&m, UINT64_MAX));

	CU_ASSERT_PTR_EQUAL(vamap_first(&m, 0, UINT64_MAX), m1);
	CU_ASSERT_PTR_EQUAL(vamap_first(&m, A(1) + 5, A(1) + 6), m1);
	CU_ASSERT_PTR_NULL(vamap_first(&m, A(2), A(4)));
	CU_ASSERT_PTR_EQUAL(vamap_first(&m, A(2), A(4) + 1), m2);
	CU_ASSERT_PTR_EQUAL(vamap_first(&m, A(5), A(16)), m2);
	CU_ASSERT_PTR_EQUAL(vamap_first(&m, A(6), A(16)), m3);
	CU_ASSERT_PTR_NULL(vamap_first(&m, A(7), UINT64_MAX));
	CU_ASSERT_PTR_NULL(vamap_first(&m, A(1), A(1)));
	CU_ASSERT_PTR_NULL(vamap_first(&m, A(5), A(1)));

	CU_ASSERT_PTR_EQUAL(vamap_next(&m, m1), m2);
	CU_ASSERT_PTR_EQUAL(vamap_next(&m, m2), m3);
	CU_ASSERT_PTR_NULL(vamap_next(&m, m3));
	vamap_fini(&m);
}

/* The whole address space, from 0 to UINT64_MAX, with mappings at both ends. */
static void test_address_space_edges(void)
{
	struct vamap_op_map low = { .start = 0, .len = PG, .obj = OBJ_A };
	struct vamap_op_map high = { .start = UINT64_MAX - 2 * PG + 1, .len = 2 * PG - 1 };
	struct vamap_op_map hole = { .start = UINT64_MAX - PG, .len = 1, .offset = 77 };
	struct vamap_mapping *va;
	struct vamap m;

	CU_ASSERT_EQUAL_FATAL(vamap_init(&m, 0, UINT64_MAX), 0);
	CU_ASSERT_EQUAL(vamap_map(&m, &low), 0);
	CU_ASSERT_EQUAL(vamap_map(&m, &high), 0);
	CU_ASSERT_PTR_NOT_NULL(vamap_find(&m, 0));
	CU_ASSERT_PTR_NULL(vamap_find(&m, PG));
	CU_ASSERT_PTR_NOT_NULL(vamap_find(&m, UINT64_MAX - 1));
	CU_ASSERT_PTR_NULL(vamap_find(&m, UINT64_MAX));
	CU_ASSERT_EQUAL(vamap_unmap(&m, UINT64_MAX - PG, 1), 0);
	CU_ASSERT_EQUAL(m.count, 3);
	va = vamap_find(&m, UINT64_MAX - 1);
	CU_ASSERT_FATAL(va != NULL);
	CU_ASSERT_EQUAL(va->start, UINT64_MAX - PG + 1);
	CU_ASSERT_EQUAL(va->offset, PG);
	/* Mergeable again: the offsets of a no-backing mapping do not count. */
	CU_ASSERT_EQUAL(vamap_map(&m, &hole), 0);
	vamap_merge(&m, 0, UINT64_MAX);
	CU_ASSERT_EQUAL(m.count, 2);
	va = vamap_find(&m, UINT64_MAX - 1);
	CU_ASSERT(va && va->start == high.start && va->len == high.len);
	vamap_fini(&m);
}

static void set_loc(struct vamap_attrs *attrs, void *arg)
{
	attrs->preferred_loc = *(int *)arg;
}

static void leave_alone(struct vamap_attrs *attrs, void *arg)
{
	(void)attrs;
	(void)arg;
}

static void test_update_attrs_split(void)
{
	struct vamap_op_map old[] = { OLD(0, 4, OBJ_A, OFF_N) };
	struct vamap_op_map split[] = { OLD(0, 1, OBJ_A, OFF_N), OLD(1, 2, OBJ_A, OFF_N + PG),
					OLD(3, 1, OBJ_A, OFF_N + 3 * PG) };
	struct vamap_op_map holes[] = { OLD(0, 2, OBJ_A, 0), OLD(4, 2, 0, 0) };
	struct vamap_op_map holes_res[] = { OLD(0, 1, OBJ_A, 0), OLD(1, 1, OBJ_A, PG),
					    OLD(4, 1, 0, 0), OLD(5, 1, 0, PG) };
	struct vamap m;
	int loc = 3, old_loc = 0;

	setup(&m, old, NELEM(old));
	split[1].attrs.preferred_loc = loc;
	CU_ASSERT_EQUAL(vamap_update_attrs(&m, A(1), 2 * PG, set_loc, &loc), 0);
	check_map(&m, split, NELEM(split));
	/* Back as it was: the three pieces merge again. */
	CU_ASSERT_EQUAL(vamap_update_attrs(&m, A(1), 2 * PG, set_loc, &old_loc), 0);
	check_map(&m, old, NELEM(old));
	vamap_fini(&m);

	/* Holes in the range stay holes. */
	setup(&m, holes, NELEM(holes));
	holes_res[1].attrs.preferred_loc = loc;
	holes_res[2].attrs.preferred_loc = loc;
	CU_ASSERT_EQUAL(vamap_update_attrs(&m, A(1), 4 * PG, set_loc, &loc), 0);
	check_map(&m, holes_res, NELEM(holes_res));
	CU_ASSERT_EQUAL(vamap_update_attrs(&m, A(8), 4 * PG, set_loc, &loc), 0);
	check_map(&m, holes_res, NELEM(holes_res));
	vamap_fini(&m);
}

static void test_update_attrs_merge_rules(void)
{
	/* Touching, no backing, offsets unrelated: merge. */
	struct vamap_op_map none[] = { OLD(0, 2, 0, 0), NEW(2, 2, 0, 999 * PG) };
	struct vamap_op_map none_res[] = { OLD(0, 4, 0, 0) };
	/* Different objects: no merge. */
	struct vamap_op_map objs[] = { OLD(0, 2, OBJ_A, OFF_N), NEW(2, 2, OBJ_B, OFF_N + 2 * PG) };
	struct vamap_op_map objs_res[] = { OLD(0, 2, OBJ_A, OFF_N),
					   OLD(2, 2, OBJ_B, OFF_N + 2 * PG) };
	/* Same object, offsets not in line: no merge. */
	struct vamap_op_map gap[] = { OLD(0, 2, OBJ_A, OFF_N), NEW(2, 2, OBJ_A, OFF_N + 5 * PG) };
	struct vamap_op_map gap_res[] = { OLD(0, 2, OBJ_A, OFF_N),
					  OLD(2, 2, OBJ_A, OFF_N + 5 * PG) };
	/* Neighbours touching the range from outside are merged too. */
	struct vamap_op_map three[] = { OLD(0, 2, OBJ_A, OFF_N), NEW(2, 2, OBJ_A, OFF_N + 2 * PG),
					OLD(4, 2, OBJ_A, OFF_N + 4 * PG) };
	struct vamap_op_map three_res[] = { OLD(0, 6, OBJ_A, OFF_N) };
	struct vamap m;
	int loc = 0;

	/* set_loc only sets the location: make the rest of the advice match. */
	none[1].attrs = ATTR_OLD;
	none[1].attrs.preferred_loc = 5;
	setup(&m, none, NELEM(none));
	CU_ASSERT_EQUAL(vamap_update_attrs(&m, A(2), 2 * PG, set_loc, &loc), 0);
	check_map(&m, none_res, NELEM(none_res));
	vamap_fini(&m);

	objs[1].attrs.accessed_by = 1;
	objs[1].attrs.read_mostly = false;
	setup(&m, objs, NELEM(objs));
	CU_ASSERT_EQUAL(vamap_update_attrs(&m, A(2), 2 * PG, set_loc, &loc), 0);
	check_map(&m, objs_res, NELEM(objs_res));
	vamap_fini(&m);

	gap[1].attrs = objs[1].attrs;
	setup(&m, gap, NELEM(gap));
	CU_ASSERT_EQUAL(vamap_update_attrs(&m, A(2), 2 * PG, set_loc, &loc), 0);
	check_map(&m, gap_res, NELEM(gap_res));
	vamap_fini(&m);

	three[1].attrs = objs[1].attrs;
	setup(&m, three, NELEM(three));
	CU_ASSERT_EQUAL(vamap_update_attrs(&m, A(2), 2 * PG, set_loc, &loc), 0);
	check_map(&m, three_res, NELEM(three_res));
	vamap_fini(&m);
}

static void test_update_attrs_unchanged(void)
{
	struct vamap_op_map two[] = { OLD(0, 2, OBJ_A, OFF_N), OLD(2, 2, OBJ_A, OFF_N + 2 * PG),
				      OLD(6, 1, OBJ_A, 0) };
	struct vamap_op_map merged[] = { OLD(0, 4, OBJ_A, OFF_N), OLD(6, 1, OBJ_A, 0) };
	struct vamap_mapping *first;
	struct vamap m;

	/* Advice that does not change leaves the mapping as it is... */
	setup(&m, two, NELEM(two));
	first = vamap_find(&m, A(0));
	CU_ASSERT_EQUAL(vamap_update_attrs(&m, A(0), PG, leave_alone, NULL), 0);
	CU_ASSERT_PTR_EQUAL(vamap_find(&m, A(0)), first);
	check_map(&m, two, NELEM(two));
	/* ...but neighbours that can merge still do, at a junction in the range. */
	CU_ASSERT_EQUAL(vamap_update_attrs(&m, A(2), PG, leave_alone, NULL), 0);
	check_map(&m, merged, NELEM(merged));
	vamap_fini(&m);
}

static void test_merge(void)
{
	struct vamap_op_map two[] = { OLD(0, 2, OBJ_A, OFF_N), OLD(2, 2, OBJ_A, OFF_N + 2 * PG) };
	struct vamap_op_map one[] = { OLD(0, 4, OBJ_A, OFF_N) };
	struct vamap_op_map mixed[] = { OLD(0, 1, 0, 0), OLD(1, 1, 0, 0), NEW(2, 1, 0, 0),
					OLD(3, 1, 0, 0), OLD(4, 1, 0, 0) };
	struct vamap_op_map mixed_res[] = { OLD(0, 2, 0, 0), NEW(2, 1, 0, 0), OLD(3, 2, 0, 0) };
	struct vamap m;

	setup(&m, two, NELEM(two));
	/* The junction at 2 is outside [0, 1]. */
	vamap_merge(&m, A(0), A(1));
	check_map(&m, two, NELEM(two));
	vamap_merge(&m, A(2), A(2));
	check_map(&m, one, NELEM(one));
	vamap_fini(&m);

	setup(&m, mixed, NELEM(mixed));
	vamap_merge(&m, A(0), A(16));
	check_map(&m, mixed_res, NELEM(mixed_res));
	vamap_fini(&m);
}

static void test_apply_twice(void)
{
	struct vamap_op_map old[] = { OLD(0, 4, OBJ_A, OFF_N) };
	struct vamap_op_map req = NEW(1, 1, OBJ_B, 0);
	struct vamap_op_map res[] = { OLD(0, 1, OBJ_A, OFF_N), req,
				      OLD(2, 2, OBJ_A, OFF_N + 2 * PG) };
	struct vamap_ops ops;
	struct vamap m;

	setup(&m, old, NELEM(old));
	TAILQ_INIT(&ops);
	CU_ASSERT_EQUAL_FATAL(vamap_sm_map_ops(&m, &req, &ops), 0);
	vamap_ops_apply(&m, &ops);
	vamap_ops_apply(&m, &ops);
	check_map(&m, res, NELEM(res));
	vamap_ops_free(&ops);
	/* Freeing an unapplied list frees its nodes (ASan checks). */
	CU_ASSERT_EQUAL_FATAL(vamap_sm_map_ops(&m, &old[0], &ops), 0);
	vamap_ops_free(&ops);
	check_map(&m, res, NELEM(res));
	vamap_fini(&m);
}

static void test_bad_input(void)
{
	struct vamap_op_map old[] = { OLD(2, 2, OBJ_A, OFF_N) };
	struct vamap_op_map bad[] = {
		{ .start = A(0), .len = 0 },
		{ .start = BASE - PG, .len = 2 * PG },
		{ .start = A(NPG - 1), .len = 2 * PG },
		{ .start = A(NPG), .len = PG },
		{ .start = UINT64_MAX - PG + 1, .len = 2 * PG },
		{ .start = A(1), .len = UINT64_MAX },
	};
	struct vamap_op_map good = NEW(0, 1, OBJ_A, 0);
	struct vamap_ops ops;
	struct vamap m;
	size_t i;
	int loc = 1;

	CU_ASSERT_EQUAL(vamap_init(NULL, 0, PG), -EINVAL);
	CU_ASSERT_EQUAL(vamap_init(&m, BASE, 0), -EINVAL);
	CU_ASSERT_EQUAL(vamap_init(&m, UINT64_MAX - PG + 1, 2 * PG), -EINVAL);
	CU_ASSERT_EQUAL(vamap_init(&m, 1, UINT64_MAX), -EINVAL);

	setup(&m, old, NELEM(old));
	TAILQ_INIT(&ops);
	for (i = 0; i < NELEM(bad); i++) {
		CU_ASSERT_EQUAL(vamap_sm_map_ops(&m, &bad[i], &ops), -EINVAL);
		CU_ASSERT_EQUAL(vamap_map(&m, &bad[i]), -EINVAL);
		CU_ASSERT_EQUAL(vamap_sm_unmap_ops(&m, bad[i].start, bad[i].len, &ops), -EINVAL);
		CU_ASSERT_EQUAL(vamap_unmap(&m, bad[i].start, bad[i].len), -EINVAL);
		CU_ASSERT_EQUAL(vamap_prefetch_ops(&m, bad[i].start, bad[i].len, &ops), -EINVAL);
		CU_ASSERT_EQUAL(vamap_update_attrs(&m, bad[i].start, bad[i].len, set_loc, &loc),
				-EINVAL);
		CU_ASSERT(TAILQ_EMPTY(&ops));
	}
	CU_ASSERT_EQUAL(vamap_sm_map_ops(NULL, &good, &ops), -EINVAL);
	CU_ASSERT_EQUAL(vamap_sm_map_ops(&m, NULL, &ops), -EINVAL);
	CU_ASSERT_EQUAL(vamap_sm_map_ops(&m, &good, NULL), -EINVAL);
	CU_ASSERT_EQUAL(vamap_map(NULL, &good), -EINVAL);
	CU_ASSERT_EQUAL(vamap_map(&m, NULL), -EINVAL);
	CU_ASSERT_EQUAL(vamap_sm_unmap_ops(NULL, A(0), PG, &ops), -EINVAL);
	CU_ASSERT_EQUAL(vamap_sm_unmap_ops(&m, A(0), PG, NULL), -EINVAL);
	CU_ASSERT_EQUAL(vamap_unmap(NULL, A(0), PG), -EINVAL);
	CU_ASSERT_EQUAL(vamap_prefetch_ops(NULL, A(0), PG, &ops), -EINVAL);
	CU_ASSERT_EQUAL(vamap_prefetch_ops(&m, A(0), PG, NULL), -EINVAL);
	CU_ASSERT_EQUAL(vamap_update_attrs(NULL, A(0), PG, set_loc, &loc), -EINVAL);
	CU_ASSERT_EQUAL(vamap_update_attrs(&m, A(0), PG, NULL, &loc), -EINVAL);
	CU_ASSERT(TAILQ_EMPTY(&ops));

	/* Entry points without an error return shrug off bad arguments. */
	vamap_ops_apply(NULL, &ops);
	vamap_ops_apply(&m, NULL);
	vamap_ops_free(NULL);
	vamap_merge(NULL, A(0), A(1));
	vamap_merge(&m, A(4), A(1));
	vamap_fini(NULL);
	CU_ASSERT_PTR_NULL(vamap_find(NULL, A(2)));
	CU_ASSERT_PTR_NULL(vamap_first(NULL, A(0), A(4)));
	CU_ASSERT_PTR_NULL(vamap_next(NULL, vamap_find(&m, A(2))));
	CU_ASSERT_PTR_NULL(vamap_next(&m, NULL));
	CU_ASSERT(!vamap_attrs_equal(NULL, &good.attrs));
	CU_ASSERT(vamap_attrs_equal(&good.attrs, &good.attrs));
	check_map(&m, old, NELEM(old));
	vamap_fini(&m);
}

/*
 * Allocation failure injection: every step below is retried with the n-th
 * allocation failing, n = 1, 2, ..., until it succeeds. While the injected
 * failure fires the step must report -ENOMEM and leave the map as it was.
 */
enum step_kind { ST_MAP, ST_UNMAP, ST_ATTRS, ST_SM_MAP_OPS, ST_PREFETCH };

struct step {
	enum step_kind kind;
	struct vamap_op_map req;
	int loc;
};

#define SNAP_MAX 32

struct snap {
	uint64_t count;
	struct vamap_op_map maps[SNAP_MAX];
};

static void snap_take(struct vamap *m, struct snap *s)
{
	struct vamap_mapping *va;
	size_t i = 0;

	s->count = m->count;
	for (va = vamap_first(m, m->mm_start, m->mm_end); va && i < SNAP_MAX;
	     va = vamap_next(m, va), i++)
		s->maps[i] = (struct vamap_op_map){ .start = va->start,
						    .len = va->len,
						    .obj = va->obj,
						    .offset = va->offset,
						    .attrs = va->attrs };
	CU_ASSERT_FATAL(s->count <= SNAP_MAX);
}

static int step_run(struct vamap *m, const struct step *st, struct vamap_ops *ops)
{
	int loc = st->loc;

	switch (st->kind) {
	case ST_MAP:
		return vamap_map(m, &st->req);
	case ST_UNMAP:
		return vamap_unmap(m, st->req.start, st->req.len);
	case ST_ATTRS:
		return vamap_update_attrs(m, st->req.start, st->req.len, set_loc, &loc);
	case ST_SM_MAP_OPS:
		return vamap_sm_map_ops(m, &st->req, ops);
	case ST_PREFETCH:
		return vamap_prefetch_ops(m, st->req.start, st->req.len, ops);
	}
	return -EINVAL;
}

static void step_with_failures(struct vamap *m, const struct step *st)
{
	struct vamap_ops ops;
	struct snap before;
	unsigned long n;
	int ret, fired;

	TAILQ_INIT(&ops);
	for (n = 1; n < 1000; n++) {
		snap_take(m, &before);
		mem_fail_nth(n);
		ret = step_run(m, st, &ops);
		fired = mem_failed();
		mem_fail_nth(0);
		if (!fired)
			break;
		CU_ASSERT_EQUAL(ret, -ENOMEM);
		CU_ASSERT(map_matches(m, before.maps, before.count));
		CU_ASSERT(TAILQ_EMPTY(&ops));
	}
	CU_ASSERT_EQUAL(ret, 0);
	/* Every step allocates, so at least one failure was injected. */
	CU_ASSERT(n > 1);
	vamap_ops_free(&ops);
}

static void test_alloc_failure(void)
{
	const struct step steps[] = {
		{ ST_MAP, NEW(0, 8, OBJ_A, OFF_N), 0 },	    { ST_MAP, NEW(10, 4, OBJ_B, OFF_M), 0 },
		{ ST_MAP, OLD(2, 2, OBJ_B, OFF_M), 0 },	    { ST_MAP, OLD(6, 6, 0, 0), 0 },
		{ ST_ATTRS, NEW(1, 12, 0, 0), 1 },	    { ST_ATTRS, NEW(3, 2, 0, 0), 2 },
		{ ST_SM_MAP_OPS, NEW(1, 12, OBJ_A, 0), 0 }, { ST_PREFETCH, NEW(0, 16, 0, 0), 0 },
		{ ST_UNMAP, NEW(1, 2, 0, 0), 0 },	    { ST_UNMAP, NEW(5, 6, 0, 0), 0 },
		{ ST_ATTRS, NEW(0, 16, 0, 0), -1 },	    { ST_MAP, NEW(0, 16, OBJ_A, OFF_N), 0 },
	};
	struct vamap m;
	size_t i;

	CU_ASSERT_EQUAL_FATAL(vamap_init(&m, BASE, NPG * PG), 0);
	for (i = 0; i < NELEM(steps); i++)
		step_with_failures(&m, &steps[i]);
	CU_ASSERT_EQUAL(m.count, 1);
	vamap_fini(&m);
}

/*
 * Randomized test against a model that records, for every page, whether it
 * is mapped and with which object, object offset and advice.
 */
#define RND_PAGES 256
#define RND_OPS 100000

struct page_model {
	bool mapped;
	uint64_t obj;
	uint64_t offset;
	struct vamap_attrs attrs;
};

struct rnd_state {
	struct vamap m;
	struct page_model pages[RND_PAGES];
	uint64_t seed;
	const char *why;
};

static uint64_t rnd(struct rnd_state *s)
{
	/* splitmix64 */
	uint64_t z = (s->seed += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static uint64_t rnd_below(struct rnd_state *s, uint64_t n)
{
	return rnd(s) % n;
}

static struct vamap_attrs rnd_attrs(struct rnd_state *s)
{
	struct vamap_attrs a = { .preferred_loc = -2 };

	/* Half the time the default, so that neighbours often can merge. */
	if (rnd_below(s, 2))
		return a;
	a.preferred_loc = (int)rnd_below(s, 4) - 2;
	a.accessed_by = rnd_below(s, 4);
	a.read_mostly = rnd_below(s, 2);
	return a;
}

static bool fail(struct rnd_state *s, const char *why)
{
	s->why = why;
	return false;
}

/* Whether two mappings could be merged (the test's own reading of the rule). */
static bool could_merge(const struct vamap_mapping *a, const struct vamap_mapping *b)
{
	if (a->start + a->len != b->start || a->obj != b->obj || !attrs_eq(&a->attrs, &b->attrs))
		return false;
	return !a->obj || a->offset + a->len == b->offset;
}

static bool model_page_is(const struct page_model *p, const struct vamap_mapping *va, uint64_t addr)
{
	if (!p->mapped || p->obj != va->obj || !attrs_eq(&p->attrs, &va->attrs))
		return false;
	return !va->obj || p->offset == va->offset + (addr - va->start);
}

/* Check the tree invariants and compare every page with the model. */
static bool rnd_check_map(struct rnd_state *s)
{
	struct vamap *m = &s->m;
	struct vamap_mapping *va, *prev = NULL;
	uint64_t count = 0, pages = 0, addr;
	unsigned int i;

	for (va = vamap_first(m, m->mm_start, m->mm_end); va; va = vamap_next(m, va)) {
		if (!va->len || va->len % PG || va->start % PG)
			return fail(s, "empty or unaligned mapping");
		if (va->start < m->mm_start || va->start + va->len > m->mm_end)
			return fail(s, "mapping outside the map");
		if (prev && prev->start + prev->len > va->start)
			return fail(s, "mappings out of order or overlapping");
		for (addr = va->start; addr < va->start + va->len; addr += PG, pages++)
			if (!model_page_is(&s->pages[(addr - BASE) / PG], va, addr))
				return fail(s, "page differs from the model");
		prev = va;
		count++;
	}
	if (count != m->count)
		return fail(s, "count is wrong");
	for (i = 0; i < RND_PAGES; i++)
		pages -= s->pages[i].mapped;
	if (pages)
		return fail(s, "model has mapped pages the map lacks");
	return true;
}

/* No two touching mappings with a junction in [@start, @end] can merge. */
static bool rnd_check_merged(struct rnd_state *s, uint64_t start, uint64_t end)
{
	struct vamap_mapping *va, *next;

	for (va = vamap_first(&s->m, s->m.mm_start, s->m.mm_end); va; va = next) {
		next = vamap_next(&s->m, va);
		if (next && next->start >= start && next->start <= end && could_merge(va, next))
			return fail(s, "mergeable neighbours left behind");
	}
	return true;
}

static bool rnd_check_find(struct rnd_state *s)
{
	uint64_t addr = BASE + rnd_below(s, RND_PAGES * PG);
	struct vamap_mapping *va = vamap_find(&s->m, addr);
	const struct page_model *p = &s->pages[(addr - BASE) / PG];

	if (!va)
		return p->mapped ? fail(s, "find missed a mapped address") : true;
	if (addr < va->start || addr - va->start >= va->len)
		return fail(s, "find returned a mapping without the address");
	return p->mapped || fail(s, "find returned a mapping in a hole");
}

static bool rnd_check_unmapped(struct rnd_state *s, const struct vamap_op *op,
			       const struct vamap_mapping *va, const struct vamap_op_map *req,
			       uint64_t start, uint64_t end)
{
	const struct vamap_op_map *pv = &op->remap.prev, *nx = &op->remap.next;
	uint64_t va_end = va->start + va->len;
	bool keep = req && va->obj && va->obj == req->obj &&
		    va->offset - va->start == req->offset - req->start;

	if (va->start >= end || va_end <= start)
		return fail(s, "op on a mapping outside the range");
	if (op->type == VAMAP_OP_UNMAP) {
		if (va->start < start || va_end > end)
			return fail(s, "unmap of a mapping that sticks out");
		return op->unmap.keep == keep || fail(s, "wrong keep on unmap");
	}
	if (op->remap.unmap.keep != keep)
		return fail(s, "wrong keep on remap");
	if (op->remap.has_prev != (va->start < start) || op->remap.has_next != (va_end > end))
		return fail(s, "remap pieces do not match");
	if (op->remap.has_prev &&
	    !op_map_eq(pv, &(struct vamap_op_map){ va->start, start - va->start, va->obj,
						   va->offset, va->attrs }))
		return fail(s, "wrong remap prev");
	if (op->remap.has_next &&
	    !op_map_eq(nx, &(struct vamap_op_map){ end, va_end - end, va->obj,
						   va->offset + (end - va->start), va->attrs }))
		return fail(s, "wrong remap next");
	return true;
}

/*
 * Check the shape of a split/merge list for [@start, @end): one UNMAP or
 * REMAP per overlapping mapping in address order, at most two REMAPs, and
 * with @req exactly one MAP of @req at the end.
 */
static bool rnd_check_ops(struct rnd_state *s, struct vamap_ops *ops,
			  const struct vamap_op_map *req, uint64_t start, uint64_t end)
{
	struct vamap_mapping *want = vamap_first(&s->m, start, end);
	unsigned int remaps = 0, maps = 0;
	struct vamap_op *op;

	TAILQ_FOREACH(op, ops, link) {
		if (maps)
			return fail(s, "op after the map");
		if (op->type == VAMAP_OP_MAP) {
			if (!req || !op_map_eq(&op->map, req))
				return fail(s, "wrong map op");
			maps++;
			continue;
		}
		if (op->type != VAMAP_OP_UNMAP && op->type != VAMAP_OP_REMAP)
			return fail(s, "unexpected op type");
		remaps += op->type == VAMAP_OP_REMAP;
		if (op->type == VAMAP_OP_UNMAP ? op->unmap.va != want : op->remap.unmap.va != want)
			return fail(s, "ops skip or reorder a mapping");
		if (!rnd_check_unmapped(s, op, want, req, start, end))
			return false;
		want = vamap_next(&s->m, want);
	}
	if (want && want->start < end)
		return fail(s, "an overlapping mapping has no op");
	if (remaps > 2)
		return fail(s, "more than two remaps");
	return maps == (req ? 1U : 0U) || fail(s, "map op missing");
}

static void model_set(struct rnd_state *s, uint64_t p0, uint64_t np, const struct vamap_op_map *req)
{
	uint64_t i;

	for (i = 0; i < np; i++) {
		struct page_model *p = &s->pages[p0 + i];

		p->mapped = req != NULL;
		if (!req)
			continue;
		p->obj = req->obj;
		p->offset = req->offset + i * PG;
		p->attrs = req->attrs;
	}
}

static bool rnd_map(struct rnd_state *s, uint64_t p0, uint64_t np)
{
	struct vamap_op_map req = { .start = A(p0), .len = np * PG };
	struct vamap_ops ops;

	req.obj = rnd_below(s, 4);
	/* Each object usually sits at a fixed shift, so offsets often line up. */
	if (rnd_below(s, 4))
		req.offset = req.start + req.obj * 1000 * PG;
	else
		req.offset = rnd_below(s, 512) * PG;
	req.attrs = rnd_attrs(s);
	TAILQ_INIT(&ops);
	if (vamap_sm_map_ops(&s->m, &req, &ops))
		return fail(s, "sm_map_ops failed");
	if (!rnd_check_ops(s, &ops, &req, req.start, req.start + req.len)) {
		vamap_ops_free(&ops);
		return false;
	}
	vamap_ops_apply(&s->m, &ops);
	vamap_ops_free(&ops);
	model_set(s, p0, np, &req);
	return true;
}

static bool rnd_unmap(struct rnd_state *s, uint64_t p0, uint64_t np)
{
	struct vamap_ops ops;

	model_set(s, p0, np, NULL);
	if (rnd_below(s, 2))
		return !vamap_unmap(&s->m, A(p0), np * PG) || fail(s, "unmap failed");
	TAILQ_INIT(&ops);
	if (vamap_sm_unmap_ops(&s->m, A(p0), np * PG, &ops))
		return fail(s, "sm_unmap_ops failed");
	if (!rnd_check_ops(s, &ops, NULL, A(p0), A(p0 + np))) {
		vamap_ops_free(&ops);
		return false;
	}
	vamap_ops_apply(&s->m, &ops);
	vamap_ops_free(&ops);
	return true;
}

struct rnd_update {
	unsigned int field;
	uint64_t value;
};

static void rnd_update_fn(struct vamap_attrs *attrs, void *arg)
{
	const struct rnd_update *u = arg;

	switch (u->field) {
	case 0:
		attrs->preferred_loc = (int)u->value - 2;
		break;
	case 1:
		attrs->accessed_by |= u->value;
		break;
	case 2:
		attrs->accessed_by &= ~u->value;
		break;
	default:
		attrs->read_mostly = u->value & 1;
		break;
	}
}

static bool rnd_update(struct rnd_state *s, uint64_t p0, uint64_t np)
{
	struct rnd_update u = { (unsigned int)rnd_below(s, 4), rnd_below(s, 4) };
	uint64_t i;

	if (vamap_update_attrs(&s->m, A(p0), np * PG, rnd_update_fn, &u))
		return fail(s, "update_attrs failed");
	for (i = p0; i < p0 + np; i++)
		if (s->pages[i].mapped)
			rnd_update_fn(&s->pages[i].attrs, &u);
	return rnd_check_merged(s, A(p0), A(p0 + np));
}

static bool rnd_step(struct rnd_state *s)
{
	uint64_t p0 = rnd_below(s, RND_PAGES);
	uint64_t room = RND_PAGES - p0;
	uint64_t np = 1 + rnd_below(s, rnd_below(s, 8) ? (room < 16 ? room : 16) : room);
	uint64_t kind = rnd_below(s, 100);
	uint64_t lo, hi;

	if (kind < 40)
		return rnd_map(s, p0, np);
	if (kind < 60)
		return rnd_unmap(s, p0, np);
	if (kind < 90)
		return rnd_update(s, p0, np);
	/* Merging never changes what a page maps to; bounds need not be aligned. */
	lo = BASE + rnd_below(s, RND_PAGES * PG);
	hi = lo + rnd_below(s, 64 * PG);
	vamap_merge(&s->m, lo, hi);
	return rnd_check_merged(s, lo, hi);
}

static void test_random_vs_model(void)
{
	static struct rnd_state s;
	unsigned int i;
	bool ok = true;

	s.seed = 0x5eed0003;
	CU_ASSERT_EQUAL_FATAL(vamap_init(&s.m, BASE, RND_PAGES * PG), 0);
	for (i = 0; i < RND_OPS && ok; i++)
		ok = rnd_step(&s) && rnd_check_map(&s) && rnd_check_find(&s) && rnd_check_find(&s);
	if (!ok) {
		fprintf(stderr, "random op %u: %s\n", i - 1, s.why);
		dump_map("map", &s.m);
	}
	CU_ASSERT(ok);
	CU_ASSERT_EQUAL(i, RND_OPS);
	vamap_fini(&s.m);
	CU_ASSERT_EQUAL(s.m.count, 0);
}

int main(void)
{
	static const struct cu_test tests[] = {
		CU_TEST_ENTRY(test_case01_identical_keep),
		CU_TEST_ENTRY(test_case02_other_offset),
		CU_TEST_ENTRY(test_case03_other_bo),
		CU_TEST_ENTRY(test_case04_left_subset_of_req),
		CU_TEST_ENTRY(test_case05_left_aligned_other_bo),
		CU_TEST_ENTRY(test_case06_left_aligned_keep),
		CU_TEST_ENTRY(test_case07_right_aligned_other_bo),
		CU_TEST_ENTRY(test_case08_right_aligned_keep),
		CU_TEST_ENTRY(test_case09_overlap_end_other_bo),
		CU_TEST_ENTRY(test_case10_overlap_end_keep),
		CU_TEST_ENTRY(test_case11_centered_other_bo),
		CU_TEST_ENTRY(test_case12_centered_keep),
		CU_TEST_ENTRY(test_case13_right_subset_of_req),
		CU_TEST_ENTRY(test_case14_centered_subset_of_req),
		CU_TEST_ENTRY(test_case15_overlap_begin_other_bo),
		CU_TEST_ENTRY(test_sm_map_spanning),
		CU_TEST_ENTRY(test_unmap_whole),
		CU_TEST_ENTRY(test_unmap_inside),
		CU_TEST_ENTRY(test_unmap_head),
		CU_TEST_ENTRY(test_unmap_tail),
		CU_TEST_ENTRY(test_unmap_spanning),
		CU_TEST_ENTRY(test_unmap_hole),
		CU_TEST_ENTRY(test_prefetch_ops),
		CU_TEST_ENTRY(test_find_first_next),
		CU_TEST_ENTRY(test_address_space_edges),
		CU_TEST_ENTRY(test_update_attrs_split),
		CU_TEST_ENTRY(test_update_attrs_merge_rules),
		CU_TEST_ENTRY(test_update_attrs_unchanged),
		CU_TEST_ENTRY(test_merge),
		CU_TEST_ENTRY(test_apply_twice),
		CU_TEST_ENTRY(test_bad_input),
		CU_TEST_ENTRY(test_alloc_failure),
		CU_TEST_ENTRY(test_random_vs_model),
		{ NULL, NULL },
	};

	return cu_run("vamap", tests);
}
