// SPDX-License-Identifier: MIT
/*
 * backends/fault.c - fault injection: a decorator over the mmap backend
 * that fails chosen reservations (and in-place extensions), so that tests
 * can walk every path where the core runs out of memory.
 *
 * Calls are numbered from 1 across reserve and extend.  HAKMEM_FAULT_N=N
 * in the environment fails call N (read at the first call; not an option
 * of the table, so it is the same in every profile).  Tests linked with
 * the static library arm it directly: hak_fault_arm(after, count) fails
 * @count calls after the next @after succeed (count 0 disarms, ~0u means
 * every call from then on).  A failed reserve returns NULL and a failed
 * extend -ENOMEM, exactly as the real backend does when the kernel says
 * no; every other op is forwarded untouched.
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

static void *fault_reserve(size_t size, size_t align)
{
	return fault_now() ? NULL : hak_backend_mmap.reserve(size, align);
}

static int fault_extend(void *addr, size_t old, size_t new)
{
	if (!hak_backend_mmap.extend)
		return -ENOSYS;
	return fault_now() ? -ENOMEM : hak_backend_mmap.extend(addr, old, new);
}

static int fault_protect(void *addr, size_t size)
{
	return hak_backend_mmap.protect(addr, size);
}

static int fault_decommit(void *addr, size_t size)
{
	return hak_backend_mmap.decommit(addr, size);
}

static int fault_release(void *addr, size_t size)
{
	return hak_backend_mmap.release(addr, size);
}

static int fault_huge(void *addr, size_t size)
{
	return hak_backend_mmap.huge(addr, size);
}

static int fault_move(void *from, size_t size, void *to)
{
	return hak_backend_mmap.move(from, size, to);
}

static long fault_resident(const void *addr, size_t size)
{
	return hak_backend_mmap.resident(addr, size);
}

static size_t fault_page_size(void)
{
	return hak_backend_mmap.page_size();
}

const struct hak_backend_ops hak_backend_fault = {
	.name = "fault(mmap)",
	.caps = HAK_BACKEND_LAZY_COMMIT | HAK_BACKEND_CAN_RETURN | HAK_BACKEND_ZEROED |
		HAK_BACKEND_HUGE_PAGES,
	.reserve = fault_reserve,
	.commit = NULL,
	.decommit = fault_decommit,
	.release = fault_release,
	.extend = fault_extend,
	.page_size = fault_page_size,
	.protect = fault_protect,
	.huge = fault_huge,
	.move = fault_move,
	.resident = fault_resident,
};
