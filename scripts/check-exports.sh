#!/bin/sh
# SPDX-License-Identifier: MIT
#
# check-exports.sh LIB - fail when LIB exports a symbol outside hakmem's
# public API: the malloc family with glibc's extras and aliases, the C++
# operators new and delete, and hak_*.  Everything else is meant to be
# hidden (-fvisibility=hidden); a leak here would let hakmem's internals
# collide with, or be interposed by, the program it is loaded into.

set -eu

lib=${1:?usage: check-exports.sh LIB}
nm=${NM:-nm}

syms=$("$nm" -D --defined-only "$lib") || {
	echo "check-exports: cannot read the dynamic symbols of $lib" >&2
	exit 1
}

# Lines are "VALUE TYPE NAME[@VERSION]".  Type A marks version nodes, and
# b, d, r and t local symbols, which nothing outside can bind to (the
# linker may list hidden section bounds so); _init, _fini and the section
# markers come from the linker.
bad=$(printf '%s\n' "$syms" | awk '
	NF < 3 || $2 == "A" || $2 ~ /^[bdrt]$/ { next }
	{
		name = $3
		sub(/@.*/, "", name)
		if (name ~ /^hak_/) next
		if (name ~ /^(malloc|free|calloc|realloc|reallocarray|posix_memalign|aligned_alloc|memalign|valloc|pvalloc|malloc_usable_size|free_sized|free_aligned_sized)$/) next
		if (name ~ /^(malloc_trim|mallinfo|mallinfo2|mallopt|malloc_stats|malloc_info|cfree)$/) next
		if (name ~ /^__libc_(malloc|free|calloc|realloc|memalign|valloc|pvalloc)$/) next
		if (name ~ /^_Z(nw|na|dl|da)/) next
		if (name ~ /^(_init|_fini|_edata|_end|__bss_start|__bss_start__|_bss_end__|__bss_end__|__end__)$/) next
		print "  " name
	}')

if [ -n "$bad" ]; then
	echo "check-exports: $lib exports symbols outside the public API:" >&2
	printf '%s\n' "$bad" >&2
	echo "check-exports: only the malloc family, operator new/delete and hak_* may be HAK_API; make the rest static or leave them hidden" >&2
	exit 1
fi
