// SPDX-License-Identifier: MIT
/*
 * test_cxx.cc - operator new and delete in every standard form, answered
 * by hakmem (frontends/cxx.c): each form resolves to hakmem, hands out
 * hakmem blocks, aligned as asked; a failing new runs the new_handler
 * until it is gone and then throws std::bad_alloc, and the nothrow forms
 * return nullptr instead.
 *
 * Built twice, like test_glibc_extras.c: linked with -lhakmem, and as
 * test_cxx.preload, run under LD_PRELOAD.  The native API through dlsym.
 */
#include <check.h>
#include <dlfcn.h>
#include <signal.h>
#include <stdint.h>
#include <sys/wait.h>
#include <unistd.h>

#include <generated/autoconf.h>

#include <cstring>
#include <memory>
#include <new>
#include <string>
#include <thread>
#include <vector>

extern "C" {
#include "testlib.h"
}

namespace {

// Far more than any machine has: every new of it fails.
const std::size_t impossible = std::size_t(1) << 62;

using usable_fn = std::size_t (*)(const void *);

// hak_usable_size: it stops the program for a block that is not hakmem's.
std::size_t hak_usable(const void *p)
{
	auto f = reinterpret_cast<usable_fn>(dlsym(RTLD_DEFAULT, "hak_usable_size"));

	ck_assert_msg(f != nullptr, "hakmem is not loaded");
	return f(p);
}

const char *const operators[] = {
	"_Znwm", "_Znam", "_ZnwmRKSt9nothrow_t", "_ZnamRKSt9nothrow_t",
	"_ZnwmSt11align_val_t", "_ZnamSt11align_val_t",
	"_ZnwmSt11align_val_tRKSt9nothrow_t", "_ZnamSt11align_val_tRKSt9nothrow_t",
	"_ZdlPv", "_ZdaPv", "_ZdlPvRKSt9nothrow_t", "_ZdaPvRKSt9nothrow_t",
	"_ZdlPvm", "_ZdaPvm", "_ZdlPvSt11align_val_t", "_ZdaPvSt11align_val_t",
	"_ZdlPvSt11align_val_tRKSt9nothrow_t", "_ZdaPvSt11align_val_tRKSt9nothrow_t",
	"_ZdlPvmSt11align_val_t", "_ZdaPvmSt11align_val_t",
};

int handler_calls;

void handler_gives_up_third_time()
{
	if (++handler_calls == 3)
		std::set_new_handler(nullptr);
}

void handler_throws()
{
	handler_calls++;
	throw std::bad_alloc();
}

struct own_error : std::bad_alloc {};

void handler_throws_own()
{
	handler_calls++;
	throw own_error();
}

struct alignas(256) wide {
	char c[300];
};

} // namespace

START_TEST(operators_are_hakmem)
{
	void *ver = dlsym(RTLD_DEFAULT, "hak_version");
	Dl_info hak, info;

	ck_assert_msg(ver != nullptr, "hakmem is not loaded");
	ck_assert(dladdr(ver, &hak) != 0);
	for (const char *name : operators) {
		void *sym = dlsym(RTLD_DEFAULT, name);

		ck_assert_msg(sym != nullptr, "%s is not defined", name);
		ck_assert(dladdr(sym, &info) != 0);
		ck_assert_msg(info.dli_fbase == hak.dli_fbase, "%s resolves to %s, not hakmem",
			      name, info.dli_fname);
	}
}
END_TEST

START_TEST(every_form_round_trips)
{
	const std::size_t sizes[] = { 0, 1, 24, 100, 4096, 70000, 300000, 5 << 20 };

	for (std::size_t n : sizes) {
		void *p = ::operator new(n);
		void *q = ::operator new[](n);
		void *r = ::operator new(n, std::nothrow);
		void *s = ::operator new[](n, std::nothrow);

		ck_assert(p && q && r && s);
		for (void *b : { p, q, r, s }) {
			ck_assert(is_aligned(b, 16));
			ck_assert_uint_ge(hak_usable(b), n);
			std::memset(b, 0x5a, n);
		}
		::operator delete(p, n);
		::operator delete[](q, n);
		::operator delete(r, std::nothrow);
		::operator delete[](s);
		p = ::operator new(n);
		::operator delete(p);
	}
	auto *w = new wide[7];
	ck_assert(is_aligned(w, 256));
	delete[] w;
	auto u = std::make_unique<wide>();
	ck_assert(is_aligned(u.get(), 256));
}
END_TEST

START_TEST(aligned_forms_aligned)
{
	for (std::size_t a = 16; a <= (std::size_t)4 << 20; a <<= 1) {
		for (std::size_t n : { (std::size_t)1, a / 2 + 1, a + 16, 3 * a }) {
			std::align_val_t al{ a };
			void *p = ::operator new(n, al);
			void *q = ::operator new[](n, al, std::nothrow);

			ck_assert_msg(p && is_aligned(p, a), "new(%zu, %zu) = %p", n, a, p);
			ck_assert_msg(q && is_aligned(q, a), "new[](%zu, %zu, nothrow) = %p", n, a, q);
			ck_assert_uint_ge(hak_usable(p), n);
			std::memset(p, 1, n);
			std::memset(q, 2, n);
			::operator delete(p, n, al);
			::operator delete[](q, al, std::nothrow);
		}
	}
	void *p = ::operator new(100, std::align_val_t{ 64 }, std::nothrow);
	ck_assert(p && is_aligned(p, 64));
	::operator delete(p, std::align_val_t{ 64 });
	p = ::operator new[](100, std::align_val_t{ 64 });
	::operator delete[](p, 100, std::align_val_t{ 64 });
}
END_TEST

/* Whether a plain new of an impossible size throws std::bad_alloc. */
static bool plain_new_throws()
{
	try {
		void *p = ::operator new(impossible);
		::operator delete(p);
	} catch (const std::bad_alloc &) {
		return true;
	}
	return false;
}

START_TEST(failing_new_throws_bad_alloc)
{
	bool thrown = false;

	std::set_new_handler(nullptr);
	ck_assert(plain_new_throws());
	try {
		void *p = ::operator new[](impossible, std::align_val_t{ 4096 });
		::operator delete[](p);
	} catch (const std::bad_alloc &) {
		thrown = true;
	}
	ck_assert(thrown);
	thrown = false;
	try {
		std::vector<char> v(impossible / 2);
	} catch (const std::bad_alloc &) {
		thrown = true;
	}
	ck_assert(thrown);
}
END_TEST

START_TEST(failing_new_calls_handler)
{
	bool thrown = false;

	handler_calls = 0;
	std::set_new_handler(handler_gives_up_third_time);
	ck_assert(plain_new_throws());
	ck_assert_int_eq(handler_calls, 3);

	// What the handler throws is what new throws.
	handler_calls = 0;
	thrown = false;
	std::set_new_handler(handler_throws_own);
	try {
		void *p = ::operator new(impossible, std::align_val_t{ 64 });
		::operator delete(p);
	} catch (const own_error &) {
		thrown = true;
	}
	ck_assert(thrown);
	ck_assert_int_eq(handler_calls, 1);
	std::set_new_handler(nullptr);
}
END_TEST

START_TEST(nothrow_returns_nullptr)
{
	std::set_new_handler(nullptr);
	ck_assert(::operator new(impossible, std::nothrow) == nullptr);
	ck_assert(::operator new[](impossible, std::nothrow) == nullptr);
	ck_assert(::operator new(impossible, std::align_val_t{ 128 }, std::nothrow) == nullptr);
	ck_assert(::operator new(16, std::align_val_t{ 3 }, std::nothrow) == nullptr);
	ck_assert(new (std::nothrow) char[impossible] == nullptr);

	// The handler runs for nothrow too; its bad_alloc becomes nullptr.
	handler_calls = 0;
	std::set_new_handler(handler_throws);
	ck_assert(::operator new(impossible, std::nothrow) == nullptr);
	ck_assert_int_eq(handler_calls, 1);
	handler_calls = 0;
	std::set_new_handler(handler_gives_up_third_time);
	ck_assert(::operator new[](impossible, std::align_val_t{ 32 }, std::nothrow) == nullptr);
	ck_assert_int_eq(handler_calls, 3);
	std::set_new_handler(nullptr);
}
END_TEST

// Containers, strings and a delete on another thread than the new.
START_TEST(library_types_and_threads)
{
	std::vector<std::string> v;

	for (int i = 0; i < 20000; i++)
		v.push_back(std::string(i % 300, char('a' + i % 26)));
	auto *blocks = new std::vector<std::unique_ptr<int[]>>();
	for (int i = 0; i < 1000; i++)
		blocks->emplace_back(new int[i + 1]());
	std::thread t([blocks] { delete blocks; });
	t.join();
	for (int i = 0; i < 20000; i++)
		ck_assert_uint_eq(v[i].size(), (std::size_t)(i % 300));
}
END_TEST

#ifdef CONFIG_HAKMEM_HARDEN_FREE_CHECK
/*
 * A sized delete whose size cannot be the block's: one line and SIGABRT,
 * in a child whose stderr is read back.
 */
static void expect_size_mismatch(void (*misuse)(), const char *want)
{
	int fds[2];
	char err[512] = "";
	pid_t pid;
	ssize_t n;
	int status;

	ck_assert(pipe(fds) == 0);
	pid = fork();
	ck_assert(pid >= 0);
	if (pid == 0) {
		dup2(fds[1], 2);
		misuse();
		_exit(0);
	}
	close(fds[1]);
	n = read(fds[0], err, sizeof(err) - 1);
	close(fds[0]);
	err[n > 0 ? n : 0] = 0;
	status = wait_child(pid);
	ck_assert_msg(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT,
		      "child status %#x, stderr: %s", status, err);
	ck_assert_msg(std::strstr(err, want) != nullptr, "stderr: %s", err);
}

static void delete_too_big()
{
	void *p = ::operator new(24);
	::operator delete(p, 1000);
}

static void delete_other_class()
{
	void *p = ::operator new[](1000);
	::operator delete[](p, 24);
}

static void delete_large_too_big()
{
	void *p = ::operator new(1 << 20, std::align_val_t{ 4096 });
	::operator delete(p, 8 << 20, std::align_val_t{ 4096 });
}

START_TEST(sized_delete_checked)
{
	expect_size_mismatch(delete_too_big, "operator delete(): size 1000 given for a block of");
	expect_size_mismatch(delete_other_class, "operator delete[](): size 24 given for a block of");
	expect_size_mismatch(delete_large_too_big, "operator delete(): size 8388608 given");
}
END_TEST
#endif

static Suite *cxx_suite()
{
	Suite *s = suite_create("cxx");
	TCase *forms = tcase_create("forms"), *failure = tcase_create("failure");

	tcase_set_timeout(forms, 60);
	tcase_add_test(forms, operators_are_hakmem);
	tcase_add_test(forms, every_form_round_trips);
	tcase_add_test(forms, aligned_forms_aligned);
	tcase_add_test(forms, library_types_and_threads);
	tcase_set_timeout(failure, 60);
	tcase_add_test(failure, failing_new_throws_bad_alloc);
	tcase_add_test(failure, failing_new_calls_handler);
	tcase_add_test(failure, nothrow_returns_nullptr);
	suite_add_tcase(s, forms);
	suite_add_tcase(s, failure);
#ifdef CONFIG_HAKMEM_HARDEN_FREE_CHECK
	TCase *hardened = tcase_create("hardened");

	tcase_set_timeout(hardened, 60);
	tcase_add_test(hardened, sized_delete_checked);
	suite_add_tcase(s, hardened);
#endif
	return s;
}

int main()
{
	return run_suite(cxx_suite());
}
