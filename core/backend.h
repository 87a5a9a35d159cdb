/* SPDX-License-Identifier: MIT */
/*
 * core/backend.h - the backend the core runs on.
 *
 * One backend is active per process, chosen at build time; the core calls
 * it through hak_backend so a decorator can be slotted in without touching
 * callers.  Backends include this header only for the ops type and the
 * descriptors they define.
 */
#ifndef HAK_CORE_BACKEND_H
#define HAK_CORE_BACKEND_H

#include <hakmem_backend.h>

extern const struct hak_backend_ops hak_backend_mmap;
extern const struct hak_backend_ops hak_backend_fault;
extern const struct hak_backend_ops hak_backend_static;

/* Bytes the static backend still has free (backends/static.c). */
size_t hak_static_free_bytes(void);

/*
 * Fault injection (backends/fault.c, CONFIG_HAKMEM_BACKEND_FAULT): fail
 * @count reserve or extend calls after the next @after succeed; @count 0
 * disarms, ~0u fails every call from then on.
 */
void hak_fault_arm(unsigned after, unsigned count);
/* Reserve and extend calls made so far. */
unsigned long hak_fault_calls(void);

/* The active backend (set before the first reservation, never changed). */
extern const struct hak_backend_ops *hak_backend;

#endif /* HAK_CORE_BACKEND_H */
