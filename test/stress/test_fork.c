/* SPDX-License-Identifier: MIT */
/*
 * test_fork.c - fork() in a process whose other threads are allocating.
 *
 *  - fork_while_allocating: background threads loop malloc/realloc/free and
 *    hand blocks to each other through lock-free slots; the main thread
 *    forks repeatedly.  Each child, now single-threaded, frees blocks the
 *    vanished threads left behind, allocates, reallocs, starts a thread of
 *    its own, sometimes forks again, and _exit(0)s.  A child that hangs
 *    (an allocator lock inherited in the locked state) is killed after a
 *    generous wait and reported.
 *  - fork_from_signal_handler: glibc's tst-mallocfork2 case.  A
 *    single-threaded process (this program, run again with a special
 *    argument) is interrupted by a timer signal, possibly in the middle of
 *    malloc or free, and the handler forks; the child only _exit(0)s.  The
 *    parent's fork handlers must not deadlock and its heap must stay usable.
 *
 * Children report through their exit status only: no stdio, no Check.
 * STRESS_SCALE (percent, default 100) scales the amount of work.
 */
#define _GNU_SOURCE
#include <check.h>
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "testlib.h"

static size_t rand_size(uint64_t *s)
{
	uint64_t r = rnd(s);

	if (r % 256 == 0)
		return 64 * KiB + (r >> 16) % (1 * MiB);
	if (r % 16 == 0)
		return 1 * KiB + (r >> 16) % (31 * KiB);
	return 16 + (r >> 16) % 1000;
}

/* ---- fork while allocating --------------------------------------------- */

#define HANDOFF 256
#define BG_THREADS 3

static _Atomic(void *) handoff[HANDOFF];
static atomic_int stop_bg;
static atomic_int bg_errors;
static atomic_long bg_iterations;

static void *bg_worker(void *arg)
{
	uint64_t rs = 0x1234 + (uintptr_t)arg;
	void *local[64] = { 0 };

	while (!atomic_load_explicit(&stop_bg, memory_order_relaxed)) {
		uint64_t r = rnd(&rs);
		unsigned i = (unsigned)(r % 64);

		if (local[i]) {
			if (!hdr_ok(local[i]))
				atomic_fetch_add(&bg_errors, 1);
			switch ((r >> 8) % 4) {
			case 0: {
				void *old = atomic_exchange(&handoff[(r >> 16) % HANDOFF], local[i]);

				local[i] = NULL;
				if (old) {
					if (!hdr_ok(old))
						atomic_fetch_add(&bg_errors, 1);
					free(old);
				}
				break;
			}
			case 1: {
				/* realloc, then rewrite the header for the new size. */
				size_t n = rand_size(&rs);
				uint64_t *q = realloc(local[i], n < 16 ? 16 : n);

				if (!q) {
					atomic_fetch_add(&bg_errors, 1);
					break;
				}
				free(q);
				local[i] = hdr_alloc(n);
				break;
			}
			default:
				free(local[i]);
				local[i] = NULL;
			}
		} else {
			local[i] = hdr_alloc(rand_size(&rs));
			if (!local[i])
				atomic_fetch_add(&bg_errors, 1);
		}
		atomic_fetch_add_explicit(&bg_iterations, 1, memory_order_relaxed);
	}
	for (int i = 0; i < 64; i++)
		free(local[i]);
	return NULL;
}

static void *child_thread(void *arg)
{
	void **blocks = arg;
	uint64_t rs = 99;

	/* Free a block of the child's main thread, then work on our own. */
	if (!hdr_ok(blocks[0]))
		return (void *)1;
	free(blocks[0]);
	blocks[0] = NULL;
	for (int i = 0; i < 200; i++) {
		void *p = hdr_alloc(rand_size(&rs));

		if (!p || !hdr_ok(p))
			return (void *)2;
		free(p);
	}
	blocks[1] = hdr_alloc(5000);
	return blocks[1] ? NULL : (void *)3;
}

static int grandchild_work(void)
{
	for (int i = 0; i < 100; i++) {
		void *p = hdr_alloc((size_t)i * 97 + 16);

		if (!p || !hdr_ok(p))
			return 1;
		free(p);
	}
	return 0;
}

/* Runs in the forked child; returns its exit status. */
static int child_work(void *parent_block, int iteration)
{
	uint64_t rs = (uint64_t)iteration;
	void *keep[32];
	void *blocks[2] = { NULL, NULL };
	pthread_t t;
	void *tr;

	/* Blocks that the vanished threads left behind. */
	for (int i = 0; i < HANDOFF; i++) {
		void *p = atomic_exchange(&handoff[i], NULL);

		if (p) {
			if (!hdr_ok(p))
				return 10;
			free(p);
		}
	}
	if (!hdr_ok(parent_block))
		return 11;
	free(parent_block);

	for (int i = 0; i < 32; i++) {
		keep[i] = hdr_alloc(rand_size(&rs));
		if (!keep[i])
			return 12;
	}
	for (int i = 0; i < 32; i++) {
		size_t n = rand_size(&rs);
		uint64_t *q;

		if (!hdr_ok(keep[i]))
			return 13;
		q = realloc(keep[i], n < 16 ? 16 : n);
		if (!q)
			return 14;
		free(q);
		keep[i] = NULL;
	}
	{
		unsigned char *z = calloc(1000, 8);
		void *a = NULL;

		if (!z)
			return 15;
		for (int i = 0; i < 8000; i++)
			if (z[i])
				return 16;
		free(z);
		if (posix_memalign(&a, 4096, 3 * MiB) != 0 || ((uintptr_t)a & 4095))
			return 17;
		memset(a, 1, 3 * MiB);
		free(a);
	}

	blocks[0] = hdr_alloc(300);
	if (!blocks[0])
		return 18;
	if (pthread_create(&t, NULL, child_thread, blocks) != 0)
		return 19;
	if (pthread_join(t, &tr) != 0 || tr != NULL)
		return 20;
	if (!blocks[1] || !hdr_ok(blocks[1]))
		return 21;
	free(blocks[1]);

	if (iteration % 8 == 0) {
		pid_t g = fork();

		if (g < 0)
			return 22;
		if (g == 0)
			_exit(grandchild_work());
		int st = wait_child(g);

		if (st < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
			return 23;
	}
	return 0;
}

START_TEST(fork_while_allocating)
{
	pthread_t bg[BG_THREADS];
	int forks = (int)scaled(150);

	atomic_store(&stop_bg, 0);
	atomic_store(&bg_errors, 0);
	atomic_store(&bg_iterations, 0);
	for (int i = 0; i < HANDOFF; i++)
		atomic_store(&handoff[i], NULL);
	for (int i = 0; i < BG_THREADS; i++)
		ck_assert_int_eq(pthread_create(&bg[i], NULL, bg_worker, (void *)(uintptr_t)i), 0);

	int status = 0, failed_at = -1;

	for (int i = 0; i < forks; i++) {
		void *mine = hdr_alloc(i % 10 == 0 ? 2 * MiB : 100 + (size_t)i);
		pid_t pid;

		ck_assert(mine != NULL);
		/* Let the threads get going, so forks land inside their malloc calls. */
		while (atomic_load(&bg_iterations) < 1000L * (i + 1))
			sched_yield();
		fflush(NULL);
		pid = fork();
		ck_assert_msg(pid >= 0, "fork failed: %s", strerror(errno));
		if (pid == 0)
			_exit(child_work(mine, i));
		status = wait_child(pid);
		ck_assert(hdr_ok(mine));
		free(mine);
		if (status != 0) {
			failed_at = i;
			break;
		}
	}

	/* Stop the threads before judging, so that no test runs beside them. */
	atomic_store(&stop_bg, 1);
	for (int i = 0; i < BG_THREADS; i++)
		ck_assert_int_eq(pthread_join(bg[i], NULL), 0);
	if (failed_at >= 0) {
		char what[32];

		snprintf(what, sizeof(what), "child %d", failed_at);
		assert_child_ok(status, what);
	}
	for (int i = 0; i < HANDOFF; i++) {
		void *p = atomic_exchange(&handoff[i], NULL);

		if (p) {
			ck_assert(hdr_ok(p));
			free(p);
		}
	}
	ck_assert_msg(atomic_load(&bg_errors) == 0, "%d corrupted blocks in the parent's threads",
		      atomic_load(&bg_errors));
}
END_TEST

/* ---- fork from a signal handler ---------------------------------------- */

static volatile sig_atomic_t in_alloc;
static volatile sig_atomic_t handler_forks, handler_want;
static volatile sig_atomic_t forks_inside_alloc;
static volatile sig_atomic_t handler_errors;

static void fork_handler(int sig)
{
	int saved = errno;
	pid_t pid;
	int status;

	(void)sig;
	if (in_alloc)
		forks_inside_alloc++;
	pid = fork();
	if (pid == 0)
		_exit(0);
	if (pid < 0) {
		handler_errors++;
	} else {
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			handler_errors++;
	}
	handler_forks++;
	/*
	 * One-shot timer, re-armed here: however long the fork took, the main
	 * loop runs for a while before the next signal (a periodic timer
	 * could starve it on a slow machine).
	 */
	if (handler_forks < handler_want) {
		struct itimerval next = { { 0, 0 }, { 0, 1000 } };

		setitimer(ITIMER_REAL, &next, NULL);
	}
	errno = saved;
}

#define SIGNAL_CHILD_ARG "--fork-from-signal-handler-child"

/* Runs in a fresh, single-threaded process (see main); returns its exit status. */
static int signal_fork_loop(int want)
{
	enum { SLOTS = 1009 };
	static void *obj[SLOTS];
	struct sigaction sa;
	struct itimerval it = { { 0, 0 }, { 0, 1000 } };
	struct itimerval off = { { 0, 0 }, { 0, 0 } };
	uint64_t rs = 1;
	long iterations = 0;
	char msg[160];
	int len;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = fork_handler;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGALRM, &sa, NULL) != 0)
		return 50;
	handler_forks = forks_inside_alloc = handler_errors = 0;
	handler_want = want;
	if (setitimer(ITIMER_REAL, &it, NULL) != 0)
		return 51;

	/* Bounded by work, not by time: stop after enough forks or iterations. */
	while (handler_forks < want && iterations < 50L * 1000 * 1000) {
		unsigned slot = (unsigned)(rnd(&rs) % SLOTS);
		size_t size = (size_t)(rnd(&rs) % 70000);

		in_alloc = 1;
		free(obj[slot]);
		obj[slot] = malloc(size);
		in_alloc = 0;
		if (!obj[slot])
			return 52;
		if (size)
			((unsigned char *)obj[slot])[size - 1] = 1;
		iterations++;
	}
	setitimer(ITIMER_REAL, &off, NULL);
	signal(SIGALRM, SIG_DFL);
	for (int i = 0; i < SLOTS; i++)
		free(obj[i]);
	len = snprintf(msg, sizeof(msg),
		       "fork_from_signal_handler: %d forks, %d inside malloc/free, %ld iterations\n",
		       (int)handler_forks, (int)forks_inside_alloc, iterations);
	if (write(STDERR_FILENO, msg, (size_t)len) < 0)
		return 53;
	if (handler_errors)
		return 54;
	return handler_forks >= want ? 0 : 55;
}

START_TEST(fork_from_signal_handler)
{
	pid_t pid;
	int status;

	char want[24];

	/*
	 * A fresh program, not just a forked child: glibc, like most
	 * allocators, keeps fork async-signal-safe only in a process that has
	 * never been multi-threaded, and this test program may have run
	 * threaded tests before (CK_FORK=no).
	 */
	snprintf(want, sizeof(want), "%ld", scaled(400));
	fflush(NULL);
	pid = fork();
	ck_assert(pid >= 0);
	if (pid == 0) {
		execl("/proc/self/exe", "test_fork", SIGNAL_CHILD_ARG, want, (char *)NULL);
		_exit(56);
	}
	status = wait_child(pid);
	ck_assert_msg(status != -1, "fork from a signal handler hung (killed after %d ms): "
		      "do the fork handlers take a lock that the interrupted malloc/free holds?",
		      CHILD_WAIT_MS);
	ck_assert_msg(!WIFSIGNALED(status), "the process died from signal %d", WTERMSIG(status));
	ck_assert_msg(WEXITSTATUS(status) != 54, "a fork from the signal handler failed");
	ck_assert_msg(WEXITSTATUS(status) != 52, "malloc failed");
	ck_assert_msg(WEXITSTATUS(status) != 56, "cannot run /proc/self/exe");
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "exit status %d",
		      WEXITSTATUS(status));
}
END_TEST

static Suite *fork_suite(void)
{
	Suite *s = suite_create("fork");

	add_tcase(s, "fork", 120, fork_while_allocating, fork_from_signal_handler);
	return s;
}

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], SIGNAL_CHILD_ARG) == 0)
		return signal_fork_loop(atoi(argv[2]));
	return run_suite(fork_suite());
}
