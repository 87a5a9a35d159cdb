// SPDX-License-Identifier: MIT
/*
 * test/api/test_startup.c - allocation before any constructor has run.
 *
 * A function in the executable's .preinit_array runs before the
 * constructors of every shared object, hakmem's included.  It allocates,
 * frees, reallocates, asks for aligned memory and calls dlsym (which may
 * allocate itself) and records what it saw; the tests then check the
 * record.  The process is linked with libhakmem.so, so all of this goes
 * through hakmem while it has not been initialised by its constructor.
 */
#define _GNU_SOURCE
#include <check.h>
#include <dlfcn.h>
#include <malloc.h>
#include <hakmem.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "testlib.h"

static struct {
	int ran;
	void *block;		/* kept live across start-up */
	size_t usable;
	int calloc_zero;
	int realloc_kept;
	int aligned_ok;
	void *dlsym_malloc;
	void *thread_block;
} early;

static void *thread_first_free(void *arg)
{
	free(arg);
	return malloc(64);
}

static void before_constructors(int argc, char **argv, char **envp)
{
	(void)argc;
	(void)argv;
	(void)envp;
	early.ran = 1;
	early.block = malloc(100);
	if (!early.block)
		return;
	memset(early.block, 0x5a, 100);
	early.usable = malloc_usable_size(early.block);

	unsigned char *z = calloc(1000, 3);

	early.calloc_zero = z != NULL;
	for (size_t i = 0; z && i < 3000; i++)
		early.calloc_zero &= z[i] == 0;
	free(z);

	char *r = malloc(10);

	if (r) {
		memcpy(r, "start-up!", 10);
		r = realloc(r, 200000);
		early.realloc_kept = r && !memcmp(r, "start-up!", 10);
		free(r);
	}

	void *a = NULL;

	early.aligned_ok = posix_memalign(&a, 4096, 5000) == 0 && ((uintptr_t)a & 4095) == 0;
	free(a);

	early.dlsym_malloc = dlsym(RTLD_DEFAULT, "malloc");

	/* A thread whose first act is a free, started before constructors. */
	pthread_t t;
	void *p = malloc(32);

	if (pthread_create(&t, NULL, thread_first_free, p) == 0)
		pthread_join(t, &early.thread_block);
}

__attribute__((section(".preinit_array"), used))
static void (*const preinit_hook)(int, char **, char **) = before_constructors;

START_TEST(preinit_allocation_worked)
{
	ck_assert_int_eq(early.ran, 1);
	ck_assert_ptr_nonnull(early.block);
	ck_assert_uint_ge(early.usable, 100);
	for (int i = 0; i < 100; i++)
		ck_assert_int_eq(((unsigned char *)early.block)[i], 0x5a);
	/* The block is hakmem's: the native API knows it. */
	ck_assert_uint_eq(hak_usable_size(early.block), early.usable);
	free(early.block);
}
END_TEST

START_TEST(preinit_calloc_realloc_aligned)
{
	ck_assert(early.calloc_zero);
	ck_assert(early.realloc_kept);
	ck_assert(early.aligned_ok);
}
END_TEST

START_TEST(preinit_dlsym_finds_hakmem)
{
	ck_assert_ptr_nonnull(early.dlsym_malloc);
	ck_assert_ptr_eq(early.dlsym_malloc, dlsym(RTLD_DEFAULT, "malloc"));
	ck_assert_ptr_nonnull(dlsym(RTLD_DEFAULT, "hak_malloc"));
}
END_TEST

START_TEST(preinit_thread_first_free)
{
	ck_assert_ptr_nonnull(early.thread_block);
	ck_assert_uint_ge(hak_usable_size(early.thread_block), 64);
	free(early.thread_block);
}
END_TEST

static Suite *startup_suite(void)
{
	Suite *s = suite_create("startup");

	add_tcase(s, "preinit", 30, preinit_allocation_worked, preinit_calloc_realloc_aligned,
		  preinit_dlsym_finds_hakmem, preinit_thread_first_free);
	return s;
}

TEST_MAIN(startup_suite)
