/* SPDX-License-Identifier: MIT */
#ifndef GSVM_VAMAP_H
#define GSVM_VAMAP_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>
#include <sys/tree.h>

/**
 * struct vamap_attrs - Placement advice carried by a mapping
 * @preferred_loc: A device id, LOC_HOST (-1), or LOC_NONE (-2) for none
 * @accessed_by: Bitmask of devices that access the data where it is
 * @read_mostly: Reads may be served from read-only replicas
 */
struct vamap_attrs {
	int preferred_loc;
	uint64_t accessed_by;
	bool read_mostly;
};

/**
 * struct vamap_mapping - One mapping of the VA attribute map
 * @node: Tree link (ordered by @start; mappings never overlap)
 * @start: First address
 * @len: Length in bytes, non-zero
 * @obj: Backing object (an allocation id); 0 means no backing
 * @offset: Offset of @start inside @obj
 * @attrs: Advice for every address of the mapping
 */
struct vamap_mapping {
	RB_ENTRY(vamap_mapping) node;
	uint64_t start;
	uint64_t len;
	uint64_t obj;
	uint64_t offset;
	struct vamap_attrs attrs;
};

RB_HEAD(vamap_tree, vamap_mapping);

/**
 * struct vamap - A client's VA attribute map
 * @tree: Mappings ordered by address
 * @count: Number of mappings
 * @mm_start: First address the map accepts
 * @mm_end: One past the last address it accepts
 */
struct vamap {
	struct vamap_tree tree;
	uint64_t count;
	uint64_t mm_start;
	uint64_t mm_end;
};

enum vamap_op_type {
	VAMAP_OP_MAP,
	VAMAP_OP_REMAP,
	VAMAP_OP_UNMAP,
	VAMAP_OP_PREFETCH,
};

/**
 * struct vamap_op_map - A mapping to create
 */
struct vamap_op_map {
	uint64_t start;
	uint64_t len;
	uint64_t obj;
	uint64_t offset;
	struct vamap_attrs attrs;
};

/**
 * struct vamap_op - One step of a split/merge sequence
 * @link: List link in &struct vamap_ops
 * @type: Which member of the union is valid
 * @map: VAMAP_OP_MAP: the requested mapping
 * @unmap: VAMAP_OP_UNMAP: @va is removed; @keep says it is backed
 *         contiguously with the request (same object, offsets that line up),
 *         so its device-side state could be kept
 * @remap: VAMAP_OP_REMAP: @unmap.va is replaced by @prev (the part before the
 *         request) and/or @next (the part after it); at least one is set
 * @prefetch: VAMAP_OP_PREFETCH: @va is covered by a prefetch request
 *
 * Ops that create mappings carry a preallocated node, so applying a list of
 * ops (vamap_ops_apply()) cannot fail.
 */
struct vamap_op {
	TAILQ_ENTRY(vamap_op) link;
	enum vamap_op_type type;
	union {
		struct vamap_op_map map;
		struct {
			struct vamap_mapping *va;
			bool keep;
		} unmap;
		struct {
			bool has_prev;
			bool has_next;
			struct vamap_op_map prev;
			struct vamap_op_map next;
			struct {
				struct vamap_mapping *va;
				bool keep;
			} unmap;
		} remap;
		struct {
			struct vamap_mapping *va;
		} prefetch;
	};
	/* private: preallocated nodes for the mappings this op creates */
	struct vamap_mapping *node[2];
};

TAILQ_HEAD(vamap_ops, vamap_op);

/**
 * vamap_init() - Initialize an empty map accepting [@start, @start + @range)
 *
 * Return: 0, or -EINVAL when @range is zero or the end overflows.
 */
int vamap_init(struct vamap *m, uint64_t start, uint64_t range);

/** vamap_fini() - Free every mapping of @m. */
void vamap_fini(struct vamap *m);

/**
 * vamap_sm_map_ops() - The ops that integrate a new mapping
 * @m: The map
 * @req: The requested mapping (@req->len non-zero)
 * @ops: An initialized, empty list that receives the ops, in order: any
 *       number of unmaps, at most two remaps, then exactly one map
 *
 * Computes what mapping @req over the current state takes, following the
 * split/merge cases of drm_gpuva_mgr: mappings inside the request are
 * unmapped (with @keep when contiguously backed), mappings that stick out on
 * either side are remapped to their remaining parts, offsets adjusted. Does
 * not change @m; see vamap_ops_apply().
 *
 * Return: 0, -EINVAL for a zero length, an overflowing end or a range
 * outside the map, -ENOMEM (the list is then empty).
 */
int vamap_sm_map_ops(struct vamap *m, const struct vamap_op_map *req, struct vamap_ops *ops);

/**
 * vamap_sm_unmap_ops() - The ops that unmap [@start, @start + @len)
 *
 * Mappings inside the range are unmapped (keep = false); mappings that
 * straddle an end are remapped to the part outside.
 *
 * Return: 0, -EINVAL (as vamap_sm_map_ops()), -ENOMEM.
 */
int vamap_sm_unmap_ops(struct vamap *m, uint64_t start, uint64_t len, struct vamap_ops *ops);

/**
 * vamap_prefetch_ops() - One PREFETCH op per mapping overlapping the range
 *
 * Return: 0, -EINVAL, -ENOMEM.
 */
int vamap_prefetch_ops(struct vamap *m, uint64_t start, uint64_t len, struct vamap_ops *ops);

/**
 * vamap_ops_apply() - Commit map/remap/unmap ops to @m
 *
 * Consumes the preallocated nodes of the ops; PREFETCH ops are ignored. The
 * ops must have been computed against the current state of @m.
 *
 * Removed mappings are freed and the ops' pointers to them (@unmap.va,
 * @remap.unmap.va) set to NULL, so read what you need from them first.
 * Applying the same list a second time changes nothing.
 */
void vamap_ops_apply(struct vamap *m, struct vamap_ops *ops);

/** vamap_ops_free() - Free a list of ops (and any unused preallocated nodes). */
void vamap_ops_free(struct vamap_ops *ops);

/**
 * vamap_map() - Compute and apply the ops for @req in one step
 * Return: as vamap_sm_map_ops().
 */
int vamap_map(struct vamap *m, const struct vamap_op_map *req);

/**
 * vamap_unmap() - Compute and apply the ops that unmap a range
 * Return: as vamap_sm_unmap_ops().
 */
int vamap_unmap(struct vamap *m, uint64_t start, uint64_t len);

/**
 * vamap_update_attrs() - Change the advice of every mapping in a range
 * @m: The map
 * @start: First address
 * @len: Length
 * @update: Called with a copy of each overlapping mapping's attributes to
 *          modify in place
 * @arg: Passed to @update
 *
 * Splits mappings at the range's ends (keeping their backing) and then
 * merges neighbours that end up with equal attributes and contiguous backing
 * (vamap_merge()). Addresses with no mapping are left alone.
 *
 * Return: 0, -EINVAL, -ENOMEM (then @m is unchanged).
 */
int vamap_update_attrs(struct vamap *m, uint64_t start, uint64_t len,
		       void (*update)(struct vamap_attrs *attrs, void *arg), void *arg);

/**
 * vamap_merge() - Merge neighbouring mappings in [@start, @end] that are
 * adjacent, share a backing object with contiguous offsets and have equal
 * attributes. Mappings that touch @start or @end from outside are included.
 */
void vamap_merge(struct vamap *m, uint64_t start, uint64_t end);

/** vamap_find() - The mapping that contains @addr, or NULL. */
struct vamap_mapping *vamap_find(struct vamap *m, uint64_t addr);

/**
 * vamap_first() - The first mapping that overlaps [@start, @end), or NULL.
 */
struct vamap_mapping *vamap_first(struct vamap *m, uint64_t start, uint64_t end);

/** vamap_next() - The mapping after @va in address order, or NULL. */
struct vamap_mapping *vamap_next(struct vamap *m, struct vamap_mapping *va);

/** vamap_attrs_equal() - Whether two attribute sets are the same. */
bool vamap_attrs_equal(const struct vamap_attrs *a, const struct vamap_attrs *b);

#endif
