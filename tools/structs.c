/* SPDX-License-Identifier: MIT */
/*
 * structs.c - data structures of small objects built and torn down, as a
 * compiler, an interpreter or a symbolic program makes them.
 *
 * Each of -t threads (default 1) keeps a pool of -n live structures
 * (default 16).  A round picks one at random, tears it down and builds a
 * new one of a random kind with 200 to 4000 nodes (log-uniform), so some
 * structures live for many rounds and some for few.  The kinds:
 *   list    singly linked nodes of 16..128 bytes, a payload of random length;
 *   bst     a binary search tree on random 64-bit keys, each node (40
 *           bytes) with a malloc'ed string copy of its key of 8..64 bytes;
 *   vector  an array of pointers grown by realloc doubling, to records of
 *           24..200 bytes;
 *   tree    nodes of 24..48 bytes, each with a malloc'ed array of its
 *           0..8 children.
 * While a structure is built, about every 4th node comes with a scratch
 * buffer of 32..512 bytes that is written and freed after the next node.
 * One round in 16 also tears down part of a live structure (the front
 * half of a list, the back half of a vector, which is then shrunk by
 * realloc, or a subtree of a tree) and rebuilds it to its old size.
 * Every node carries a check value, verified when it is freed: a changed
 * one makes the program exit 1.  At the end everything is freed.
 *
 * An op is one malloc, realloc or free.
 * Output: structs threads=T rounds=N ops=N secs=S ops_per_s=X
 * Build: cc -std=c11 -O2 -pthread -o structs structs.c -lm
 */
#define _POSIX_C_SOURCE 200809L

#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PROG "structs"
#define WORKLOAD_THREADS 1

#include "workload.h"

#define MIN_NODES	200
#define MAX_NODES	4000

enum { LIST, BST, VEC, TREE, NKINDS };

struct lnode {
	struct lnode *next;
	uint16_t size;
	uint16_t pad;
	uint32_t chk;
	unsigned char data[];
};

struct bnode {
	struct bnode *left, *right;
	uint64_t key;
	char *name;
	uint32_t namelen;
	uint32_t chk;
};

struct rec {
	uint32_t size;
	uint32_t chk;
	uint64_t id;
	unsigned char data[];
};

struct tnode {
	struct tnode **kids;
	uint64_t id;
	uint16_t nkids;
	uint16_t size;
	uint32_t chk;
	unsigned char data[];
};

/* One structure of the pool; only the fields of its kind are used. */
struct sdesc {
	int kind;
	size_t n;		/* nodes (list, bst, tree) or records (vector) */
	uint64_t salt;		/* list: mixed into each node's check */
	struct lnode *list;
	struct bnode *bst;
	struct rec **vec;
	size_t len, cap;
	struct tnode *tree;
};

/* A thread's state while it works. */
struct ctx {
	uint64_t s;
	uint64_t ops;
	uint64_t next_id;
	unsigned char *scratch;	/* the pending temporary, or NULL */
	size_t scratch_len;
	struct tnode **work;	/* MAX_NODES entries: open nodes, or a stack */
};

struct worker {
	_Alignas(64) uint64_t seed;
	uint64_t ops;
	uint64_t rounds;
};

static int npool = 16;

static void opt_fn(int ch, const char *arg)
{
	if (ch == 'n')
		npool = (int)parse_d(arg, 'n', 1, 1 << 20);
}

static uint32_t h32(uint64_t x)
{
	x *= 0x9e3779b97f4a7c15ull;
	x ^= x >> 29;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 32;
	return (uint32_t)x;
}

static void changed(void)
{
	fprintf(stderr, "structs: block changed\n");
	exit(1);
}

static void *xmalloc(struct ctx *c, size_t n)
{
	void *p = malloc(n);
	if (!p)
		oom();
	c->ops++;
	return p;
}

static void *xrealloc(struct ctx *c, void *p, size_t n)
{
	void *q = realloc(p, n);
	if (!q)
		oom();
	c->ops++;
	return q;
}

static void xfree(struct ctx *c, void *p)
{
	free(p);
	c->ops++;
}

static unsigned char scratch_tag(size_t len) { return (unsigned char)(len * 31 + 7); }

/* Free the pending temporary: after each node, and at the end of a build. */
static void flush(struct ctx *c)
{
	if (c->scratch) {
		unsigned char t = scratch_tag(c->scratch_len);
		if (c->scratch[0] != t || c->scratch[c->scratch_len - 1] != t)
			changed();
		xfree(c, c->scratch);
		c->scratch = NULL;
	}
}

/* After each node: free the temporary made after the node before, and
 * with a chance of 1 in 4 make a new one. */
static void tick(struct ctx *c)
{
	flush(c);
	uint64_t r = rnd(&c->s);
	if ((r & 3) == 0) {
		size_t len = 32 + (size_t)((r >> 8) % 481);
		c->scratch = xmalloc(c, len);
		c->scratch_len = len;
		memset(c->scratch, scratch_tag(len), len);
	}
}

/* A node count, log-uniform from MIN_NODES to MAX_NODES. */
static size_t rcount(struct ctx *c)
{
	double u = (double)(rnd(&c->s) >> 11) * 0x1p-53;
	size_t n = (size_t)(MIN_NODES * pow((double)MAX_NODES / MIN_NODES, u));
	if (n < MIN_NODES)
		n = MIN_NODES;
	if (n > MAX_NODES)
		n = MAX_NODES;
	return n;
}

/* ---- list ---- */

static struct lnode *lnew(struct ctx *c, uint64_t salt)
{
	size_t size = 16 + (size_t)(rnd(&c->s) % 113);
	struct lnode *p = xmalloc(c, size);
	p->next = NULL;
	p->size = (uint16_t)size;
	p->pad = 0;
	p->chk = h32(salt ^ size);
	memset(p->data, (unsigned char)p->chk, size - sizeof *p);
	return p;
}

static void lfree(struct ctx *c, struct lnode *p, uint64_t salt)
{
	if (p->size < sizeof *p || p->size > 128 || p->chk != h32(salt ^ p->size))
		changed();
	size_t len = p->size - sizeof *p;
	if (len && (p->data[0] != (unsigned char)p->chk || p->data[len - 1] != (unsigned char)p->chk))
		changed();
	xfree(c, p);
}

static void lpush(struct ctx *c, struct sdesc *d, size_t m)
{
	for (size_t i = 0; i < m; i++) {
		struct lnode *p = lnew(c, d->salt);
		p->next = d->list;
		d->list = p;
		tick(c);
	}
	flush(c);
}

static void lpop(struct ctx *c, struct sdesc *d, size_t m)
{
	for (size_t i = 0; i < m && d->list; i++) {
		struct lnode *p = d->list;
		d->list = p->next;
		lfree(c, p, d->salt);
	}
}

/* ---- binary search tree ---- */

static char hexdig(uint64_t key, size_t i) { return "0123456789abcdef"[(key >> (4 * (i & 15))) & 15]; }

static struct bnode *bnew(struct ctx *c)
{
	struct bnode *b = xmalloc(c, sizeof *b);
	uint64_t key = rnd(&c->s);
	size_t len = 8 + (size_t)(rnd(&c->s) % 57);
	b->left = b->right = NULL;
	b->key = key;
	b->namelen = (uint32_t)len;
	b->chk = h32(key ^ len);
	b->name = xmalloc(c, len);
	for (size_t i = 0; i + 1 < len; i++)
		b->name[i] = hexdig(key, i);
	b->name[len - 1] = 0;
	return b;
}

static void binsert(struct bnode **link, struct bnode *b)
{
	while (*link)
		link = b->key < (*link)->key ? &(*link)->left : &(*link)->right;
	*link = b;
}

static void bfree1(struct ctx *c, struct bnode *b)
{
	size_t len = b->namelen;
	if (len < 8 || len > 64 || b->chk != h32(b->key ^ len))
		changed();
	if (b->name[0] != hexdig(b->key, 0) || b->name[len - 2] != hexdig(b->key, len - 2) ||
	    b->name[len - 1])
		changed();
	xfree(c, b->name);
	xfree(c, b);
}

/* Frees the tree at @t, without a stack: a node with a left child is
 * rotated right until the top has none, then the top goes.  Returns the
 * number of nodes freed. */
static size_t bfree(struct ctx *c, struct bnode *t)
{
	size_t n = 0;
	while (t) {
		if (t->left) {
			struct bnode *l = t->left;
			t->left = l->right;
			l->right = t;
			t = l;
		} else {
			struct bnode *r = t->right;
			bfree1(c, t);
			t = r;
			n++;
		}
	}
	return n;
}

static void badd(struct ctx *c, struct sdesc *d, size_t m)
{
	for (size_t i = 0; i < m; i++) {
		binsert(&d->bst, bnew(c));
		tick(c);
	}
	flush(c);
}

/* ---- vector of records ---- */

static struct rec *rnew(struct ctx *c)
{
	size_t size = 24 + (size_t)(rnd(&c->s) % 177);
	struct rec *r = xmalloc(c, size);
	r->size = (uint32_t)size;
	r->id = c->next_id++;
	r->chk = h32(r->id ^ (uint64_t)size << 48);
	memset(r->data, (unsigned char)r->chk, size - sizeof *r);
	return r;
}

static void rfree(struct ctx *c, struct rec *r)
{
	if (r->size < 24 || r->size > 200 || r->chk != h32(r->id ^ (uint64_t)r->size << 48))
		changed();
	if (r->data[0] != (unsigned char)r->chk || r->data[r->size - sizeof *r - 1] != (unsigned char)r->chk)
		changed();
	xfree(c, r);
}

static void vadd(struct ctx *c, struct sdesc *d, size_t m)
{
	for (size_t i = 0; i < m; i++) {
		struct rec *r = rnew(c);
		if (d->len == d->cap) {
			size_t cap = d->cap ? d->cap * 2 : 4;
			d->vec = xrealloc(c, d->vec, cap * sizeof *d->vec);
			d->cap = cap;
		}
		d->vec[d->len++] = r;
		tick(c);
	}
	flush(c);
}

/* ---- tree with child arrays ---- */

static struct tnode *tnew(struct ctx *c)
{
	size_t size = sizeof(struct tnode) + 8 * (size_t)(rnd(&c->s) % 4);
	struct tnode *t = xmalloc(c, size);
	t->kids = NULL;
	t->nkids = 0;
	t->size = (uint16_t)size;
	t->id = c->next_id++;
	t->chk = h32(t->id ^ (uint64_t)size << 40);
	memset(t->data, (unsigned char)t->chk, size - sizeof *t);
	return t;
}

/* Builds a tree of exactly @n nodes: an open node picked at random gets
 * 0..8 children (at least one while it is the last open node and nodes
 * are still to come), which become open in turn. */
static struct tnode *tbuild(struct ctx *c, size_t n)
{
	struct tnode **open = c->work;
	size_t nopen = 0, left = n - 1;
	struct tnode *root = tnew(c);
	tick(c);
	open[nopen++] = root;
	while (nopen) {
		size_t i = (size_t)(rnd(&c->s) % nopen);
		struct tnode *t = open[i];
		open[i] = open[--nopen];
		size_t k = (size_t)(rnd(&c->s) % 9);
		if (k == 0 && nopen == 0)
			k = 1;
		if (k > left)
			k = left;
		if (!k)
			continue;
		t->kids = xmalloc(c, k * sizeof *t->kids);
		t->nkids = (uint16_t)k;
		for (size_t j = 0; j < k; j++) {
			t->kids[j] = tnew(c);
			open[nopen++] = t->kids[j];
			tick(c);
		}
		left -= k;
	}
	flush(c);
	return root;
}

/* Frees the tree at @root; returns the number of nodes freed. */
static size_t tfree(struct ctx *c, struct tnode *root)
{
	struct tnode **stack = c->work;
	size_t sp = 0, n = 0;
	stack[sp++] = root;
	while (sp) {
		struct tnode *t = stack[--sp];
		if (t->size < sizeof *t || t->size > sizeof *t + 24 || t->nkids > 8 ||
		    t->chk != h32(t->id ^ (uint64_t)t->size << 40))
			changed();
		size_t len = t->size - sizeof *t;
		if (len && (t->data[0] != (unsigned char)t->chk || t->data[len - 1] != (unsigned char)t->chk))
			changed();
		if (t->kids) {
			if (sp + t->nkids > MAX_NODES)
				changed();
			for (size_t j = 0; j < t->nkids; j++)
				stack[sp++] = t->kids[j];
			xfree(c, t->kids);
		}
		xfree(c, t);
		n++;
	}
	return n;
}

/* ---- whole structures ---- */

static void build(struct ctx *c, struct sdesc *d)
{
	memset(d, 0, sizeof *d);
	d->kind = (int)(rnd(&c->s) % NKINDS);
	d->n = rcount(c);
	d->salt = rnd(&c->s);
	switch (d->kind) {
	case LIST: lpush(c, d, d->n); break;
	case BST: badd(c, d, d->n); break;
	case VEC: vadd(c, d, d->n); break;
	case TREE: d->tree = tbuild(c, d->n); break;
	}
}

static void teardown(struct ctx *c, struct sdesc *d)
{
	switch (d->kind) {
	case LIST:
		lpop(c, d, d->n);
		if (d->list)
			changed();
		break;
	case BST:
		if (bfree(c, d->bst) != d->n)
			changed();
		break;
	case VEC:
		for (size_t i = 0; i < d->len; i++)
			rfree(c, d->vec[i]);
		if (d->vec)
			xfree(c, d->vec);
		break;
	case TREE:
		if (tfree(c, d->tree) != d->n)
			changed();
		break;
	}
	memset(d, 0, sizeof *d);
}

/* Tears down part of @d and rebuilds it to its old size. */
static void partial(struct ctx *c, struct sdesc *d)
{
	size_t m;
	switch (d->kind) {
	case LIST:
		m = d->n / 2;
		lpop(c, d, m);
		lpush(c, d, m);
		break;
	case BST: {
		struct bnode **link = &d->bst;
		int steps = 1 + (int)(rnd(&c->s) % 4);
		for (int s = 0; s < steps; s++) {
			struct bnode *b = *link;
			int right = (int)(rnd(&c->s) & 1);
			struct bnode **next = right ? &b->right : &b->left;
			if (!*next)
				next = right ? &b->left : &b->right;
			if (!*next)
				break;
			link = next;
		}
		m = bfree(c, *link);
		*link = NULL;
		badd(c, d, m);
		break;
	}
	case VEC:
		m = d->len / 2;
		for (size_t i = d->len - m; i < d->len; i++)
			rfree(c, d->vec[i]);
		d->len -= m;
		d->vec = xrealloc(c, d->vec, d->len * sizeof *d->vec);
		d->cap = d->len;
		vadd(c, d, m);
		break;
	case TREE: {
		struct tnode **link = &d->tree;
		int steps = 1 + (int)(rnd(&c->s) % 3);
		for (int s = 0; s < steps && (*link)->nkids; s++)
			link = &(*link)->kids[rnd(&c->s) % (*link)->nkids];
		m = tfree(c, *link);
		*link = tbuild(c, m);
		break;
	}
	}
}

static void *work(void *arg)
{
	struct worker *w = arg;
	struct ctx c = { .s = w->seed ? w->seed : 1, .next_id = 1 };
	struct sdesc *pool = calloc((size_t)npool, sizeof *pool);
	c.work = calloc(MAX_NODES, sizeof *c.work);
	uint64_t rounds = 0;
	if (!pool || !c.work)
		oom();
	for (int i = 0; i < npool; i++)
		build(&c, &pool[i]);
	while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
		struct sdesc *d = &pool[rnd(&c.s) % (uint64_t)npool];
		teardown(&c, d);
		build(&c, d);
		if (rnd(&c.s) % 16 == 0)
			partial(&c, &pool[rnd(&c.s) % (uint64_t)npool]);
		rounds++;
	}
	for (int i = 0; i < npool; i++)
		teardown(&c, &pool[i]);
	free(pool);
	free(c.work);
	w->ops = c.ops;
	w->rounds = rounds;
	return NULL;
}

int main(int argc, char **argv)
{
	parse_common(argc, argv, "n:", opt_fn,
		     "[-t threads] [-s seconds] [-r seed] [-n structures]");
	struct worker *w = workers_new(sizeof *w);
	for (int i = 0; i < threads; i++)
		w[i].seed = worker_seed(i);
	double secs = run_threads(threads, work, (char *)w, sizeof *w);
	uint64_t ops = 0, rounds = 0;
	for (int i = 0; i < threads; i++) {
		ops += w[i].ops;
		rounds += w[i].rounds;
	}
	printf("structs threads=%d rounds=%" PRIu64 " ops=%" PRIu64 " secs=%.3f ops_per_s=%.0f\n",
	       threads, rounds, ops, secs, ops / secs);
	free(w);
	return 0;
}
