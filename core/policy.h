/* SPDX-License-Identifier: MIT */
/*
 * core/policy.h - the core's side of the policy hooks: the registry, the
 * active policy, the call-site table and the decisions the large path
 * reads.
 *
 * The large path reads the decisions without a lock (hak_policy_map_min,
 * hak_policy_admitted) and queues its events in a queue of each thread's
 * own (hak_policy_queue); they reach the policy in batches, under policy_lock
 * (policy.c), which serialises the active policy's hooks and the site
 * table.  The small fast paths never come here.
 */
#ifndef HAK_POLICY_CORE_H
#define HAK_POLICY_CORE_H

#include <hakmem_policy.h>
#include "internal.h"

/*
 * A large-block event waiting to be reported to the policy (policy.h):
 * the large path queues its events in the thread's queue (policy.c) and
 * the thread delivers them in order, in one batch under the policy lock, when the
 * queue is full (hak_policy_flush), when it exits, and before it reads
 * the policy's state.  A statistics dump therefore sees other threads'
 * last few large blocks late (at most HAK_PENDING each).
 */
#define HAK_PENDING 16

struct hak_pending {
	const void *site_addr;		/* looked up at delivery */
	size_t size;
	uint64_t cost_ns;		/* ALLOC */
	uint64_t now_ns;
	uint64_t lifetime_ms;		/* FREE */
	uint8_t type;			/* enum hak_event_type */
	uint8_t route;			/* enum hak_route */
	bool front;			/* ALLOC: from the front; FREE: kept in it */
};

/*
 * Set up the active policy from hak_opts (after hak_options_init), with an
 * empty site table.  Returns its init()'s result: on an error the core
 * runs on its defaults.
 */
int hak_policy_init(void);

/*
 * What the policy tests (test/policy) see of the host, set before
 * hak_policy_init().  decide() then takes what the page heap did from
 * @window, and empties it, so that a test states it; and it records what
 * the policy asked for, what is in force, and the policy's state, which
 * the test hands to the policy's own hooks to check their contract.
 */
struct hak_policy_probe {
	struct hak_heap_info window;
	struct hak_decisions raw;	/* the latest decide(), before the core's clamps */
	struct hak_decisions dec;	/* in force */
	uint64_t decides, epoch;	/* the policy's decide() and tick() calls */
	unsigned meta_allocs;		/* its env->meta_alloc() calls */
	void *state;
};
void hak_policy_probe(struct hak_policy_probe *p);
/* A decide() now, as after a tick() (tests; the slow paths poll). */
void hak_policy_decide(void);

/* Requests at or above this size get a mapping of their own. */
size_t hak_policy_map_min(void);
/* Freed memory stays committed this long (ms). */
uint64_t hak_policy_decay_ms(void);
/* Largest block that may wait in a thread's front. */
size_t hak_policy_cache_max(void);
/* Whether blocks from the call site at @addr may wait in a thread's front. */
bool hak_policy_admitted(const void *addr);

/*
 * Queue @ev for the policy.  A thread without a heap delivers it at once:
 * it has no exit hook to deliver it later.
 */
void hak_policy_queue(const struct hak_pending *ev);
/*
 * Deliver the calling thread's queued events to the policy (policy lock
 * taken here): when its queue is full, when it exits, and before it reads
 * the policy's state.
 */
void hak_policy_flush(void);

/* A decide() if HAK_DECIDE_MS have passed since the last (any slow path). */
void hak_policy_poll(void);

/* Write "policy=NAME key=value ..." for the stats dump. */
int hak_policy_report(char *buf, size_t len);
/* Call @fn on every site in the table, under the policy lock. */
void hak_policy_each_site(void (*fn)(const struct hak_site *site, void *arg), void *arg);

void hak_policy_lock(void);
void hak_policy_unlock(void);

#endif /* HAK_POLICY_CORE_H */
