// SPDX-License-Identifier: MIT
/*
 * core/stats.c - the counters' storage and the summary printed at exit
 * when the stats option is summary (HAKMEM_STATS=summary): the counters,
 * then the active policy with its parameters and state.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "stats.h"
#include "options.h"
#include "policy.h"

long hak_stats[HAK_STAT_NR];

static const char *const stat_names[HAK_STAT_NR] = {
	[HAK_STAT_REFILL] = "refills",
	[HAK_STAT_REMOTE_FREE] = "remote_frees",
	[HAK_STAT_REMOTE_COLLECTED] = "remote_collected",
	[HAK_STAT_SLAB_NEW] = "slabs_new",
	[HAK_STAT_SLAB_REUSED] = "slabs_reused",
	[HAK_STAT_SLAB_ADOPTED] = "slabs_adopted",
	[HAK_STAT_SLAB_RELEASED] = "slabs_released",
	[HAK_STAT_SS_MAPPED] = "superslabs_mapped",
	[HAK_STAT_SS_RELEASED] = "superslabs_released",
	[HAK_STAT_PURGED_SLABS] = "slabs_purged",
	[HAK_STAT_LARGE_SPAN] = "large_spans",
	[HAK_STAT_LARGE_MAPPED] = "large_mapped",
	[HAK_STAT_LARGE_FREED] = "large_freed",
	[HAK_STAT_THREADS] = "heaps_created",
	[HAK_STAT_BC_HIT] = "bigcache_hits",
	[HAK_STAT_BC_MISS] = "bigcache_misses",
	[HAK_STAT_BC_EVICT] = "bigcache_evictions",
	[HAK_STAT_BC_PURGED] = "bigcache_purged_bytes",
	[HAK_STAT_BYTES_MAPPED] = "bytes_mapped",
	[HAK_STAT_BYTES_MAPPED_PEAK] = "bytes_mapped_peak",
};

static void stats_dump(void)
{
	char buf[2048];
	int len = snprintf(buf, sizeof(buf), "hakmem stats:");

	for (int i = 0; i < HAK_STAT_NR && len < (int)sizeof(buf); i++)
		len += snprintf(buf + len, sizeof(buf) - (size_t)len, " %s=%ld",
				stat_names[i], __atomic_load_n(&hak_stats[i], __ATOMIC_RELAXED));
	if (len < (int)sizeof(buf) - 2) {
		buf[len++] = '\n';
		len += hak_policy_report(buf + len, sizeof(buf) - (size_t)len - 1);
	}
	if (len >= (int)sizeof(buf) - 1)
		len = (int)sizeof(buf) - 2;
	buf[len++] = '\n';
	/* write(2): stdio may already be torn down at exit. */
	if (write(STDERR_FILENO, buf, (size_t)len) < 0)
		return;
}

void hak_stats_init(void)
{
	if (hak_opts.stats)
		atexit(stats_dump);
}
