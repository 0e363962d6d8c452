-- Workload behind the golden captures in this folder. Run against a throwaway
-- PostgreSQL 15 server started with wal_level=logical and logical_decoding_work_mem=64kB
-- (see README.md); the captures are the output of the two peek queries at the end.
\set ON_ERROR_STOP on
CREATE TYPE mood AS ENUM ('sad', 'happy');
CREATE TABLE items (id int PRIMARY KEY, name text, price numeric(10, 2), tags text[],
                    doc jsonb, feel mood, big text);
ALTER TABLE items ALTER COLUMN big SET STORAGE EXTERNAL;  -- force out-of-line TOAST
CREATE TABLE audit (id bigint, note text);
ALTER TABLE audit REPLICA IDENTITY FULL;
CREATE TABLE parent (id int PRIMARY KEY);
CREATE TABLE child (id serial PRIMARY KEY, parent_id int REFERENCES parent (id));
CREATE PUBLICATION pub FOR ALL TABLES;
SELECT 'init' FROM pg_create_logical_replication_slot('s1', 'pgoutput');

-- 1. insert with nulls and every column kind
INSERT INTO items VALUES (1, 'widget', 9.99, '{a,"b c"}', '{"k": [1, 2]}', 'happy',
                          repeat('x', 3000));
INSERT INTO items (id) VALUES (2);  -- all other columns NULL
-- 2. update that leaves the TOASTed column unchanged ('u')
UPDATE items SET price = 10.50 WHERE id = 1;
-- 3. update that changes the key: old key tuple ('K')
UPDATE items SET id = 3 WHERE id = 2;
-- 4. REPLICA IDENTITY FULL: old tuple ('O') on update and delete
INSERT INTO audit VALUES (7, 'first'), (8, NULL);
UPDATE audit SET note = 'second' WHERE id = 7;
DELETE FROM audit WHERE id = 8;
-- 5. delete by key ('K')
DELETE FROM items WHERE id = 3;
-- 6. truncate of several relations, with CASCADE and RESTART IDENTITY
INSERT INTO parent VALUES (1);
INSERT INTO child (parent_id) VALUES (1);
TRUNCATE parent, audit RESTART IDENTITY CASCADE;
-- 7. logical decoding messages, transactional and not
BEGIN;
SELECT 'm' FROM pg_logical_emit_message(true, 'sluice', 'in-tx payload');
INSERT INTO audit VALUES (9, 'with message');
COMMIT;
SELECT 'm' FROM pg_logical_emit_message(false, 'sluice.nt', E'\\x00ff0a'::bytea);
-- 8. a transaction with a replication origin
SELECT 'o' FROM pg_replication_origin_create('upstream');
SELECT 'o' FROM pg_replication_origin_session_setup('upstream');
BEGIN;
SELECT 'o' FROM pg_replication_origin_xact_setup('1/ABCDEF', '2026-01-02 03:04:05+00');
INSERT INTO audit VALUES (10, 'from upstream');
COMMIT;
SELECT 'o' FROM pg_replication_origin_session_reset();
SELECT pg_current_wal_lsn() AS v1_end \gset
-- 9. large transactions for protocol version 2 streaming: one committed, one with a
--    rolled-back subtransaction, one aborted. Slot s2 sees only these.
SELECT 'init' FROM pg_create_logical_replication_slot('s2', 'pgoutput');
BEGIN;
INSERT INTO audit SELECT g, 's' FROM generate_series(100, 104) g;
COMMIT;
BEGIN;
INSERT INTO audit SELECT g, 't' FROM generate_series(2000, 2299) g;
SAVEPOINT sp;
INSERT INTO audit SELECT g, 'u' FROM generate_series(3000, 3299) g;
ROLLBACK TO SAVEPOINT sp;
COMMIT;
BEGIN;
INSERT INTO audit SELECT g, 'v' FROM generate_series(4000, 4699) g;
ROLLBACK;
INSERT INTO parent VALUES (2);  -- its commit flushes the WAL holding the abort above

-- 10. one column per type, decoded with the session settings sluice uses
--     (type_map.h kSessionOptions); slot s3 sees only these.
SET DateStyle = ISO; SET TimeZone = UTC; SET IntervalStyle = iso_8601;
SET extra_float_digits = 3; SET bytea_output = hex;
SELECT 'init' FROM pg_create_logical_replication_slot('s3', 'pgoutput');
CREATE TABLE alltypes (
  id int PRIMARY KEY, b bool, i2 int2, i8 int8, o oid, f4 float4, f8 float8, n numeric,
  m money, j json, jb jsonb, by bytea, u uuid, d date, ts timestamp, tstz timestamptz,
  t time, ttz timetz, iv interval, txt text, vc varchar(10), ch char(3), ip inet,
  ia int[], ta text[], ja jsonb[], tsa timestamptz[], ba bytea[], ea mood[], xa box[],
  na numeric[], fa float8[]);
INSERT INTO alltypes VALUES
  (1, true, -32768, 9007199254740993, 4000000000, 1.5, 0.1, 123.4500, 12.5,
   '{"a": [1, 2.50]}', '{"b": null, "a": 1}', '\x00ff10',
   'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '2026-11-24', '2026-11-24 10:00:00.123',
   '2026-11-24 10:00:00.123+05:30', '10:00:00.5', '10:00:00.5-08',
   '1 year 2 mons 3 days 04:05:06.7', E'h\u00e9llo "w"\n\ttab', 'abc', 'ab', '10.0.0.1/8',
   '{{1,2},{3,4}}', E'{NULL,"a,b","q\\"x","b\\\\s","NULL",""," sp ",\u65e5\u672c}',
   ARRAY['{"k": "v"}', '[1, 2]']::jsonb[], ARRAY['2026-01-01 10:00-08'::timestamptz],
   ARRAY['\x01'::bytea, NULL], '{sad,happy}', '{(1,2),(3,4);(5,6),(7,8)}',
   '{1.10,NaN}', '[0:1]={1.5,-Infinity}'),
  (2, false, 0, -1, 0, 'NaN', '-Infinity', '1e-30', -0.5, '[]', '"s"', '', NULL,
   '0044-03-15 BC', 'infinity', '0044-03-15 10:00:00+00 BC', '24:00:00', '00:00:00+05:53:28',
   '-1 day', '', '', '', '::1', '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{-0}'),
  (3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
   NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
   NULL, NULL);

\pset format unaligned
\pset tuples_only on
\o v1.txt
SELECT lsn, xid, encode(data, 'hex') FROM pg_logical_slot_peek_binary_changes(
  's1', :'v1_end', NULL, 'proto_version', '1', 'publication_names', 'pub', 'messages', 'true');
\o v2_streaming.txt
SELECT lsn, xid, encode(data, 'hex') FROM pg_logical_slot_peek_binary_changes(
  's2', NULL, NULL, 'proto_version', '2', 'publication_names', 'pub', 'messages', 'true',
  'streaming', 'on');
\o
\o types_v1.txt
SELECT lsn, xid, encode(data, 'hex') FROM pg_logical_slot_peek_binary_changes(
  's3', NULL, NULL, 'proto_version', '1', 'publication_names', 'pub');
\o
