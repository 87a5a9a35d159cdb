-- SPDX-License-Identifier: MIT
-- sqlite3.trace's script (README): 240 blobs of 0.1 to 4.1 MB written, read,
-- rewritten, half deleted, then VACUUM.
PRAGMA page_size=65536;
PRAGMA cache_size=-32768;
CREATE TABLE t(id INTEGER PRIMARY KEY, k TEXT, v BLOB);
WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM c WHERE i<240)
INSERT INTO t SELECT i, hex(randomblob(8)), randomblob(100000 + (i % 11) * 400000) FROM c;
CREATE INDEX tk ON t(k);
SELECT count(*), sum(length(v)) FROM t;
SELECT id, length(hex(v)) FROM t ORDER BY k LIMIT 3;
SELECT sum(length(substr(v, 1000, 3000000))) FROM t;
SELECT max(length(v || x'00')) FROM t;
UPDATE t SET v = randomblob(length(v) / 2 + 300000) WHERE id % 3 = 0;
SELECT sum(instr(v, x'0102030405')) >= 0 FROM t;
DELETE FROM t WHERE id % 2 = 0;
VACUUM;
SELECT count(*), sum(length(v)) FROM t;
