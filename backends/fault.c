// SPDX-License-Identifier: MIT
/*
 * backends/fault.c - fault injection: a decorator over the backend below
 * it that fails chosen reservations (and in-place extensions), so that
 * tests can walk every path where the core runs out of memory.
 *
 * Calls are numbered from 1 across reserve and extend.  HAKMEM_FAULT_N=N
 * in the environment fails call N (read at the first call; not an option
 * of the table, so it is the same in every profile).  Tests linked with
 * the static library arm it directly: hak_fault_arm(after, count) fails
 * @count calls after the next @after succeed (count 0 disarms, ~0u means
 * every call from then on).  A failed reserve returns NULL and a failed
 * extend -ENOMEM, exactly as a real backend does when the system says no;
 * every other op is the one below, untouched.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "internal.h"
#include "backend.h"

static _Atomic unsigned long calls;	/* reserve and extend calls so far */
static _Atomic unsigned long fail_from;	/* first call to fail (0: none) */
static _Atomic unsigned long fail_until;	/* first call to succeed again */
static _Atomic int env_read;

static void read_env(void)
{
	const char *v;
	char *end;
	unsigned long n;

	if (atomic_exchange(&env_read, 1))
		return;
	v = getenv("HAKMEM_FAULT_N");
	if (!v || !*v)
		return;
	n = strtoul(v, &end, 10);
	if (*end || !n) {
		hak_warn("HAKMEM_FAULT_N: '%s' is not a positive integer; no faults injected", v);
		return;
	}
	atomic_store(&fail_from, n);
	atomic_store(&fail_until, n + 1);
}

/* Whether this call is one to fail. */
static bool fault_now(void)
{
	unsigned long n;

	read_env();
	n = atomic_fetch_add(&calls, 1) + 1;
	return atomic_load(&fail_from) && n >= atomic_load(&fail_from) &&
	       n < atomic_load(&fail_until);
}

void hak_fault_arm(unsigned after, unsigned count)
{
	unsigned long next = atomic_load(&calls) + 1 + after;

	read_env();
	atomic_store(&fail_from, count ? next : 0);
	atomic_store(&fail_until, count == ~0u ? ~0ul : next + count);
}

unsigned long hak_fault_calls(void)
{
	return atomic_load(&calls);
}

static const struct hak_backend_ops *below;
static struct hak_backend_ops fault_ops;

static void *fault_reserve(size_t size, size_t align)
{
	return fault_now() ? NULL : below->reserve(size, align);
}

static int fault_extend(void *addr, size_t old, size_t new)
{
	return fault_now() ? -ENOMEM : below->extend(addr, old, new);
}

/* The backend below, with reserve and extend failing on demand. */
static const struct hak_backend_ops *fault_stack(const struct hak_backend_ops *ops)
{
	below = ops;
	fault_ops = *ops;
	fault_ops.name = "fault";
	fault_ops.reserve = fault_reserve;
	if (ops->extend)
		fault_ops.extend = fault_extend;
	return &fault_ops;
}
HAK_REGISTER_BACKEND(fault, .stack = fault_stack);
