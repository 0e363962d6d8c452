-- The demo shop of scripts/quickstart, created in the compose PostgreSQL on first start
-- (mounted into /docker-entrypoint-initdb.d by docker-compose.yml).
CREATE DATABASE shop;
\connect shop
CREATE TABLE products (
  id         bigint PRIMARY KEY,
  name       text NOT NULL,
  price      numeric(10,2),
  tags       text[],
  attributes jsonb,
  updated_at timestamptz DEFAULT now()
);
CREATE TABLE orders (
  id         bigserial PRIMARY KEY,
  product_id bigint REFERENCES products,
  quantity   int,
  status     text DEFAULT 'open',
  created_at timestamptz DEFAULT now()
);
INSERT INTO products (id, name, price, tags, attributes) VALUES
  (1,  'Espresso machine',       249.00, '{kitchen,coffee}',      '{"brand": "Brava", "watts": 1450}'),
  (2,  'Burr grinder',           129.50, '{kitchen,coffee}',      '{"brand": "Millo", "settings": 40}'),
  (3,  'Pour-over kettle',        59.90, '{kitchen,coffee,tea}',  '{"capacity_l": 1.0, "gooseneck": true}'),
  (4,  'Ceramic mug',             12.00, '{kitchen}',             '{"color": "white", "oz": 12}'),
  (5,  'Loose-leaf tea sampler',  24.75, '{tea}',                 '{"teas": ["sencha", "oolong", "assam"]}'),
  (6,  'Milk frother',            34.99, '{kitchen,coffee}',      '{"battery": true}'),
  (7,  'Digital scale',           19.95, '{kitchen}',             '{"max_g": 2000, "precision_g": 0.1}'),
  (8,  'Cold brew jar',           27.00, '{coffee,summer}',       '{"capacity_l": 1.5}'),
  (9,  'Gift card',               NULL,  '{}',                    NULL),
  (10, 'Café au lait bowl',       15.50, '{kitchen,"petit déj"}', '{"origin": "Lyon"}');
INSERT INTO orders (product_id, quantity, status) VALUES
  (1, 1, 'shipped'), (2, 1, 'open'), (4, 6, 'open'), (5, 2, 'cancelled'), (3, 1, 'open'),
  (7, 1, 'shipped'), (4, 2, 'open'), (8, 3, 'open'), (10, 4, 'cancelled'), (6, 1, 'open');
SQL
