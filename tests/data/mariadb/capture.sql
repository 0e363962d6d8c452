-- The workload whose binary log tests/data/mariadb/*.txt holds (see README.md).
-- Run by capture.sh against a fresh server; every statement is one transaction unless
-- it says otherwise.
SET NAMES utf8mb4;
SET time_zone = '+00:00';
CREATE DATABASE cap CHARACTER SET utf8mb4;
USE cap;

-- rows.txt: the plain row events, transactions, DDL.
CREATE TABLE items (
  id INT NOT NULL PRIMARY KEY,
  name VARCHAR(50) CHARACTER SET utf8mb4,
  price DECIMAL(10,2),
  note TEXT
);
CREATE TABLE pairs (a INT NOT NULL, b VARCHAR(10) NOT NULL, v INT, PRIMARY KEY (b, a));
INSERT INTO items VALUES (1, 'widget', 9.99, NULL);
INSERT INTO items VALUES (2, 'gadget', 19.50, 'long'), (3, 'ünïcødé ✓', -0.01, '');
BEGIN;
UPDATE items SET price = 10.99 WHERE id = 1;
UPDATE items SET id = 4 WHERE id = 2;
DELETE FROM items WHERE id = 3;
INSERT INTO pairs VALUES (1, 'x', 10), (2, 'y', 20);
COMMIT;
UPDATE items SET note = 'all' WHERE id > 0;
ALTER TABLE items ADD COLUMN stock INT NOT NULL DEFAULT 7;
INSERT INTO items (id, name, price) VALUES (5, 'after add', 1.00);
ALTER TABLE items DROP COLUMN note;
UPDATE items SET stock = 8 WHERE id = 5;
FLUSH BINARY LOGS;
INSERT INTO items (id, name, price) VALUES (6, 'after rotate', 2.00);
-- XA: rows are logged at PREPARE; COMMIT and ROLLBACK come later as their own groups.
XA START 'xa1';
INSERT INTO items (id, name, price) VALUES (7, 'xa committed', 3.00);
XA END 'xa1';
XA PREPARE 'xa1';
XA COMMIT 'xa1';
XA START 'xa2', 'branch', 5;
INSERT INTO items (id, name, price) VALUES (8, 'xa rolled back', 4.00);
XA END 'xa2', 'branch', 5;
XA PREPARE 'xa2', 'branch', 5;
XA ROLLBACK 'xa2', 'branch', 5;
XA START 'xa3';
INSERT INTO items (id, name, price) VALUES (9, 'xa one phase', 5.00);
XA END 'xa3';
XA COMMIT 'xa3' ONE PHASE;
TRUNCATE TABLE pairs;
DROP TABLE pairs;

-- types.txt: one column per type, edge values, then NULLs (a binary log of its own).
FLUSH BINARY LOGS;
CREATE TABLE types (
  id INT NOT NULL PRIMARY KEY,
  ti TINYINT, tiu TINYINT UNSIGNED,
  si SMALLINT, siu SMALLINT UNSIGNED,
  mi MEDIUMINT, miu MEDIUMINT UNSIGNED,
  i INT, iu INT UNSIGNED,
  bi BIGINT, biu BIGINT UNSIGNED,
  d_65_30 DECIMAL(65,30), d_5_0 DECIMAL(5,0), d_10_4 DECIMAL(10,4), d_18_9 DECIMAL(18,9),
  f FLOAT, dbl DOUBLE,
  b1 BIT(1), b17 BIT(17), b64 BIT(64),
  c10 CHAR(10), c_latin1 CHAR(5) CHARACTER SET latin1,
  vc VARCHAR(300), vc_latin1 VARCHAR(10) CHARACTER SET latin1,
  vc_cp1251 VARCHAR(10) CHARACTER SET cp1251, vc_ucs2 VARCHAR(10) CHARACTER SET ucs2,
  vc_utf16 VARCHAR(10) CHARACTER SET utf16, vc_ascii VARCHAR(10) CHARACTER SET ascii,
  tt TINYTEXT, t TEXT, mt MEDIUMTEXT, lt LONGTEXT,
  bin4 BINARY(4), vbin VARBINARY(10), tb TINYBLOB, bl BLOB, mb MEDIUMBLOB, lb LONGBLOB,
  dt DATE, tm TIME, tm1 TIME(1), tm3 TIME(3), tm6 TIME(6),
  dtm DATETIME, dtm2 DATETIME(2), dtm6 DATETIME(6),
  ts TIMESTAMP NULL, ts6 TIMESTAMP(6) NULL,
  y YEAR,
  e ENUM('small', 'medium', 'large'), st SET('a', 'b', 'c', 'd'),
  j JSON,
  u UUID, ip4 INET4, ip6 INET6,
  gv BIGINT AS (i + 1) VIRTUAL, gs BIGINT AS (i * 2) STORED
);
INSERT INTO types (id, ti, tiu, si, siu, mi, miu, i, iu, bi, biu, d_65_30, d_5_0, d_10_4, d_18_9,
  f, dbl, b1, b17, b64, c10, c_latin1, vc, vc_latin1, vc_cp1251, vc_ucs2, vc_utf16, vc_ascii,
  tt, t, mt, lt, bin4, vbin, tb, bl, mb, lb, dt, tm, tm1, tm3, tm6, dtm, dtm2, dtm6, ts, ts6, y,
  e, st, j, u, ip4, ip6) VALUES
 (1, -128, 255, -32768, 65535, -8388608, 16777215, -2147483648, 4294967295,
  -9223372036854775808, 18446744073709551615,
  '-12345678901234567890123456789012345.123456789012345678901234567890', 99999, -0.0001,
  123456789.987654321,
  3.40282e38, -2.2250738585072014e-308, b'1', b'10000000000000001', b'1111111111111111111111111111111111111111111111111111111111111111',
  'pad  ', 'çà', REPEAT('x', 300), 'Ærø', 'Привет', 'ĀĒ', '😀 ok', 'plain',
  'tiny', 'text', 'medium', 'long ✓', X'00010200', X'FF', X'', X'DEADBEEF', X'00', X'0102',
  '2026-11-24', '-838:59:59', '12:30:00.5', '-00:00:01.250', '23:59:59.999999',
  '9999-12-31 23:59:59', '1000-01-01 00:00:00.01', '2026-11-24 10:00:00.000001',
  '1970-01-01 00:00:01', '2038-01-19 03:14:07.999999', 2155,
  'large', 'a,d', '{"k": [1, 2.50, "x"], "n": null}',
  '123e4567-e89b-12d3-a456-426614174000', '192.168.0.1', '2001:db8::ff00:42:8329'),
 (2, 127, 0, 32767, 0, 8388607, 0, 2147483647, 0, 9223372036854775807, 9223372036854775808,
  '0.000000000000000000000000000001', -99999, 999999.9999, -0.000000001,
  -1.17549435e-38, 1.7976931348623157e308, b'0', b'0', b'0',
  '', '', '', '', '', '', '', '', '', '', '', '', X'', X'', X'', X'', X'', X'',
  '1000-01-01', '838:59:59', '-00:00:00.1', '00:00:00', '-838:59:59.000000',
  '1000-01-01 00:00:00', '2026-01-01 00:00:00', '2026-01-01 00:00:00.5',
  '2026-11-24 08:00:00', '2026-11-24 08:00:00.123', 1901,
  'small', '', '[]', '00000000-0000-0000-0000-000000000000', '0.0.0.0', '::ffff:1.2.3.4'),
 (3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
  NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
  NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
  NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
UPDATE types SET f = 0.1, dbl = 0.1, i = 5, d_10_4 = 0 WHERE id = 2;
DELETE FROM types WHERE id = 3;
