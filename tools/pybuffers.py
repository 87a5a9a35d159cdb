# SPDX-License-Identifier: MIT
"""pybuffers.py - a python3 program that builds large byte strings.

The shape the README's tuning example records: strings of 256 KiB to
8 MiB, each built, copied once and dropped or kept among the last four,
2500 times (or as many as the first argument says); with PYTHONMALLOC=malloc each is a malloc of its size, freed
memory comes back at other sizes, and how long the allocator keeps it
committed decides how many page faults the program pays.  Prints a
checksum (the same under every allocator).
"""
import random
import sys

rng = random.Random(3)
keep = [b""] * 4
total = 0
for i in range(int(sys.argv[1]) if len(sys.argv) > 1 else 2500):
    n = rng.randrange(256 << 10, 8 << 20)
    s = b"a" * n
    t = s[1:] + b"z"
    keep[rng.randrange(4)] = t
    total += len(t) + t.count(b"z", n - 64)
print(total)
