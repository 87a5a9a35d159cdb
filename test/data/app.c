// SPDX-License-Identifier: MIT
/*
 * test/data/app.c - the program scripts/check-package.sh and
 * test/tools/test_install.sh build against an installed hakmem: it
 * allocates through malloc and asks hakmem about the block
 * (hak_usable_size() of another allocator's block would not answer).
 * Prints "hakmem VERSION"; exits 1 if the block is not hakmem's.
 */
#include <hakmem.h>
#include <stdio.h>
#include <stdlib.h>

int main(void)
{
	char *p = malloc(1000);

	if (!p || hak_usable_size(p) < 1000)
		return 1;
	free(p);
	printf("hakmem %s\n", hak_version());
	return 0;
}
