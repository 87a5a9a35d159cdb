/* SPDX-License-Identifier: MIT */
/*
 * core/policy.h - the core's side of the policy hooks: the registry, the
 * active policy, the call-site table and the decisions the large path
 * reads.
 *
 * The large path reads the decisions without a lock (hak_policy_map_min,
 * hak_policy_admitted) and queues its events on the thread's heap
 * (hak_pend, heap.h); they reach the policy in batches, under policy_lock
 * (policy.c), which serialises the active policy's hooks and the site
 * table.  The small fast paths never come here.
 */
#ifndef HAK_POLICY_CORE_H
#define HAK_POLICY_CORE_H

#include <hakmem_policy.h>
#include "internal.h"

struct hak_heap;

/* Set up the active policy from hak_opts (after hak_options_init). */
void hak_policy_init(void);

/* Requests at or above this size get a mapping of their own. */
size_t hak_policy_map_min(void);
/* Freed memory stays committed this long (ms). */
uint64_t hak_policy_decay_ms(void);
/* Largest block that may wait in a thread's front. */
size_t hak_policy_cache_max(void);
/* Whether blocks from the call site at @addr may wait in a thread's front. */
bool hak_policy_admitted(const void *addr);

/*
 * Deliver @h's queued events to the policy (policy lock taken here).  A
 * thread calls it when its queue is full, when it exits, and before it
 * reads the policy's state.
 */
void hak_policy_flush(struct hak_heap *h);
/* An event of a thread without a heap: delivered at once. */
void hak_policy_event_now(const struct hak_event *ev, const void *site_addr);

/* A decide() if HAK_DECIDE_MS have passed since the last (any slow path). */
void hak_policy_poll(void);

/* Write "policy=NAME key=value ..." for the stats dump. */
int hak_policy_report(char *buf, size_t len);
/* Call @fn on every site in the table, under the policy lock. */
void hak_policy_each_site(void (*fn)(const struct hak_site *site, void *arg), void *arg);

void hak_policy_lock(void);
void hak_policy_unlock(void);

#endif /* HAK_POLICY_CORE_H */
