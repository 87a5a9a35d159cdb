/* SPDX-License-Identifier: MIT */
/*
 * core/backend.h - the backend the core runs on.
 *
 * One backend is active per process: the highest-rated source of memory
 * that registered itself, under every registered decorator, chosen once
 * when the allocator starts (core/base.c).  The core calls it through
 * hak_backend, so which backends exist is the build's business alone.
 */
#ifndef HAK_CORE_BACKEND_H
#define HAK_CORE_BACKEND_H

#include <hakmem_backend.h>

/* The active backend (set before the first reservation, never changed). */
extern const struct hak_backend_ops *hak_backend;

/* Choose hak_backend from the registry; first thing at start-up. */
void hak_backend_init(void);

/* The registered source of memory named @name (not stacked), or NULL. */
const struct hak_backend_ops *hak_backend_find(const char *name);

#endif /* HAK_CORE_BACKEND_H */
