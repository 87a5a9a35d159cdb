/* SPDX-License-Identifier: MIT */
/*
 * core/policy.h - the core's side of the policy hooks: the registry, the
 * active policy, the call-site table and the BigCache, all on the large
 * path only.
 *
 * Everything here runs under policy_lock (policy.c), which serialises the
 * active policy's hooks, the site table and the BigCache's shared level;
 * hak_policy_idle_purge() takes it itself, and only if it is free.
 * The small fast paths never come here.
 */
#ifndef HAK_POLICY_CORE_H
#define HAK_POLICY_CORE_H

#include <hakmem_policy.h>
#include "internal.h"

struct hak_heap;

/* Set up the active policy from hak_opts (after hak_options_init). */
void hak_policy_init(void);

/* Large-path decisions and feedback (policy.c). */
struct hak_site *hak_site_get(const void *addr);
enum hak_route hak_policy_route(size_t size, struct hak_site *site);
void hak_policy_alloc_done(size_t size, struct hak_site *site, enum hak_route route,
			   bool cache_hit, uint64_t cost_ns, uint64_t now_ns);
/* Returns true when the block was kept (admitted to the BigCache). */
bool hak_policy_free(void *block, size_t size, const void *site_addr, int cls,
		     uint64_t birth_ms);

/* Purge idle cached blocks if the policy lock is free (small slow paths). */
void hak_policy_idle_purge(void);

/* Write "policy=NAME key=value ..." for the stats dump. */
int hak_policy_report(char *buf, size_t len);
/* Call @fn on every site in the table, under the policy lock. */
void hak_policy_each_site(void (*fn)(const struct hak_site *site, void *arg), void *arg);

/* BigCache (bigcache.c), called with policy_lock held. */
int hak_bc_class_of(size_t size);		/* -1: larger than every class */
size_t hak_bc_class_size(unsigned cls);
void *hak_bc_get(unsigned site, unsigned cls);
bool hak_bc_put(void *block, unsigned site, unsigned cls, uint64_t now_ms);
void hak_bc_set_classes(const size_t *sizes, unsigned n);
size_t hak_bc_cached_bytes(void);
uint64_t hak_bc_oldest_ms(void);
size_t hak_bc_release_oldest(size_t bytes, unsigned max_blocks);
size_t hak_bc_release_aged(uint64_t before_ms, unsigned max_blocks);
void hak_bc_init(void);
/* The thread-local first level (bigcache.c). */
void hak_bc_hint(unsigned site, int cls);
void *hak_bc_local_get(struct hak_heap *h, size_t size, const void *site_addr, bool report);
bool hak_bc_keep(struct hak_heap *h, void *block, struct hak_site *site, unsigned cls,
		 uint64_t now_ms);
void hak_bc_local_drain(struct hak_heap *h);

/* Report @h's local BigCache hits to the policy (policy lock held). */
void hak_policy_flush_local(struct hak_heap *h);
/* A thread exits: report its hits, move its local blocks to the shared level. */
void hak_bc_local_detach(struct hak_heap *h);

/* Release a mapped large block to the backend (large.c). */
void hak_large_release(void *block);

void hak_policy_lock(void);
void hak_policy_unlock(void);

#endif /* HAK_POLICY_CORE_H */
