#!/bin/sh
# Regenerates hash_vectors.tsv: which partition a real PostgreSQL 15 picks for each key of a
# hash-partitioned table (PARTITION BY HASH), read back through tableoid. The unit test checks that
# shard_hash.cpp agrees with every row.
#   usage: make_hash_vectors.sh <socket-dir> <port> > hash_vectors.tsv
# The cluster must use UTF8 (text keys are hashed as their UTF-8 bytes).
# Output columns: key_type <TAB> modulus <TAB> key (text form) <TAB> remainder
set -eu
host="$1"; port="$2"
psql -X -q -v ON_ERROR_STOP=1 -h "$host" -p "$port" -At -F "$(printf '\t')" postgres <<'SQL'
SET client_min_messages = warning;
DO $$ BEGIN PERFORM setseed(0.4242); END $$;
DROP SCHEMA IF EXISTS hv CASCADE;
CREATE SCHEMA hv;

CREATE TABLE hv.keys_int2 (k int2);
INSERT INTO hv.keys_int2 VALUES (-32768), (-32767), (-1), (0), (1), (32766), (32767);
INSERT INTO hv.keys_int2 SELECT g FROM generate_series(-150, 150) g WHERE g NOT IN (-1, 0, 1);
INSERT INTO hv.keys_int2 SELECT (floor(random() * 65536) - 32768)::int2 FROM generate_series(1, 150);

CREATE TABLE hv.keys_int4 (k int4);
INSERT INTO hv.keys_int4 VALUES (-2147483648), (-2147483647), (-1), (0), (1), (2147483646), (2147483647),
  (65535), (65536), (-65536), (16777216);
INSERT INTO hv.keys_int4 SELECT g FROM generate_series(-100, 100) g WHERE g NOT IN (-1, 0, 1);
INSERT INTO hv.keys_int4 SELECT (floor(random() * 4294967296) - 2147483648)::int4 FROM generate_series(1, 250);

CREATE TABLE hv.keys_int8 (k int8);
INSERT INTO hv.keys_int8 VALUES (-9223372036854775808), (-9223372036854775807), (-1), (0), (1),
  (9223372036854775806), (9223372036854775807), (2147483647), (2147483648), (-2147483648), (-2147483649),
  (4294967295), (4294967296), (-4294967296), (-4294967297), (1099511627776), (-1099511627776);
INSERT INTO hv.keys_int8 SELECT g FROM generate_series(-100, 100) g WHERE g NOT IN (-1, 0, 1);
INSERT INTO hv.keys_int8 SELECT (floor(random() * 4294967296) - 2147483648)::int8 FROM generate_series(1, 100);
INSERT INTO hv.keys_int8
  SELECT ((floor(random() * 4294967296) - 2147483648)::int8 << 32) | floor(random() * 4294967296)::int8
  FROM generate_series(1, 200);

CREATE TABLE hv.keys_text (k text);
INSERT INTO hv.keys_text VALUES (''), ('a'), ('A'), (' '), (' a'), ('a '), ('42'), ('-1'), ('NULL'),
  ('ünïcödé'), ('日本語のテキスト'), ('🐘'), ('🐘 elephant 🐘'), ('Ωμέγα'), ('עברית'), ('Ä'),
  ('back\slash'), ('quote''s'), ('"double"'), ('semi;colon'), ('percent%'), ('user@example.com');
-- every length from 1 to 40 bytes: exercises each tail case of the 12-byte block hash
INSERT INTO hv.keys_text SELECT repeat('x', g) FROM generate_series(2, 40) g;
INSERT INTO hv.keys_text SELECT left('abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMN', g) FROM generate_series(1, 50) g;
INSERT INTO hv.keys_text SELECT 'user_' || g FROM generate_series(1, 120) g;
INSERT INTO hv.keys_text SELECT md5(g::text) FROM generate_series(1, 60) g;
INSERT INTO hv.keys_text SELECT repeat('é', g) FROM generate_series(1, 13) g;
INSERT INTO hv.keys_text SELECT repeat(md5(g::text), 1 + g % 5) FROM generate_series(1, 30) g;

CREATE TABLE hv.keys_uuid (k uuid);
INSERT INTO hv.keys_uuid VALUES ('00000000-0000-0000-0000-000000000000'), ('ffffffff-ffff-ffff-ffff-ffffffffffff'),
  ('00000000-0000-0000-0000-000000000001'), ('a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'),
  ('123e4567-e89b-12d3-a456-426614174000');
INSERT INTO hv.keys_uuid SELECT md5(g::text)::uuid FROM generate_series(1, 150) g;
INSERT INTO hv.keys_uuid SELECT md5('seed' || random()::text)::uuid FROM generate_series(1, 150) g;

DO $$
DECLARE t text; m int; r int;
BEGIN
  FOREACH t IN ARRAY ARRAY['int2', 'int4', 'int8', 'text', 'uuid'] LOOP
    FOREACH m IN ARRAY ARRAY[2, 3, 4, 7] LOOP
      EXECUTE format('CREATE TABLE hv.p_%s_%s (k %s) PARTITION BY HASH (k)', t, m, t);
      FOR r IN 0 .. m - 1 LOOP
        EXECUTE format('CREATE TABLE hv.p_%s_%s_r%s PARTITION OF hv.p_%s_%s FOR VALUES WITH (MODULUS %s, REMAINDER %s)',
                       t, m, r, t, m, m, r);
      END LOOP;
      EXECUTE format('INSERT INTO hv.p_%s_%s SELECT DISTINCT k FROM hv.keys_%s', t, m, t);
    END LOOP;
  END LOOP;
END $$;

CREATE TABLE hv.result (key_type text, modulus int, key text, remainder int);
DO $$
DECLARE t text; m int;
BEGIN
  FOREACH t IN ARRAY ARRAY['int2', 'int4', 'int8', 'text', 'uuid'] LOOP
    FOREACH m IN ARRAY ARRAY[2, 3, 4, 7] LOOP
      -- the partition's name ends in _r<remainder>: read it back from the row's own tableoid
      EXECUTE format($q$INSERT INTO hv.result
                        SELECT %L, %s, k::text, substring(tableoid::regclass::text from '_r([0-9]+)$')::int
                        FROM hv.p_%s_%s$q$, t, m, t, m);
    END LOOP;
  END LOOP;
END $$;

SELECT key_type, modulus, key, remainder FROM hv.result ORDER BY key_type, modulus, key COLLATE "C";
DROP SCHEMA hv CASCADE;
SQL
