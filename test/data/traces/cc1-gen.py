# SPDX-License-Identifier: MIT
# cc1-gen.py N - the C file cc1.trace was recorded compiling (README): four
# functions of N if/else statements over a global array.
import sys
n = int(sys.argv[1])
print("int g[%d];" % n)
for f in range(4):
    print("int f%d(int x) {" % f)
    print("  int a = x, b = 1, c = 2;")
    for i in range(n):
        print("  if (g[%d] > a) { a += g[%d] * %d; b ^= a; } else { c += b + %d; g[%d] = c; }" % (i, (i * 7) % n, i, i, (i * 13) % n))
    print("  return a + b + c; }")
