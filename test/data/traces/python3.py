# SPDX-License-Identifier: MIT
# python3.trace's workload (README): JSON rows encoded and decoded, bytes grown
# by concatenation, buffers of 1 to 4 MiB, with pauses of 0 to 45 ms.
import json, time
out = []
for r in range(40):
    rows = [{"id": i, "name": "item%d" % i, "tags": ["t%d" % (i % 7)] * (i % 9)} for i in range(3000 + 1000 * (r % 4))]
    s = json.dumps(rows)
    back = json.loads(s)
    b = b""
    for k in range(6 + r % 5):
        b += s.encode()[: (k + 1) << 18]
    parts = [bytes(1 << (20 + (r + k) % 3)) for k in range(3)]
    out.append(len(b) + len(back) + sum(map(len, parts)))
    time.sleep((r % 4) * 0.015)
    del rows, back, b, s, parts
print(sum(out))
