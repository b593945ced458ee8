// The second benchmark database: text-heavy, as a typical web application's. JSON documents
// (events: nested keys, a session id, a page, a cart), log-like lines (method, path, status, user
// agent, a request id) and customers (short varchar columns), each with the indexes such an
// application has. Values are picked by hashing the row number, so every build holds the same rows.
// Unlike the bench dataset (hex text and random bytes), most of it compresses well: this is where
// a lighter gzip level costs the most size.
import type { PgServer } from "../support/postgres.js";
import { quoteIdent, quoteLiteral } from "../support/postgres.js";
import { type Dataset, measureDataset } from "./dataset.js";

// Measured on PostgreSQL 15 (a 300 MB build): on-disk bytes per row, heap + TOAST + indexes.
const EVENT_ROW_BYTES = 680;
const LOG_ROW_BYTES = 240;
const CUSTOMER_ROW_BYTES = 205;
// Shares of the size: documents, log lines, customers.
const SHARES = { events: 0.45, logs: 0.4, customers: 0.15 };

/** An SQL expression picking one of `words` from the hash of `seed` (an SQL expression of the row number). */
function pick(words: string[], seed: string): string {
  return `(ARRAY[${words.map(quoteLiteral).join(",")}])[1 + abs(hashint4(${seed}) % ${words.length})]`;
}

const FIRST = ["Emma", "Louis", "Jade", "Gabriel", "Louise", "Raphael", "Alice", "Arthur", "Chloe", "Jules", "Lina", "Adam", "Mia", "Hugo", "Rose", "Leo"];
const LAST = ["Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand", "Leroy", "Moreau", "Simon", "Laurent", "Lefebvre", "Michel"];
const CITY = ["Paris", "Lyon", "Marseille", "Toulouse", "Nice", "Nantes", "Strasbourg", "Montpellier", "Bordeaux", "Lille", "Rennes", "Berlin", "Madrid"];
const DOMAIN = ["gmail.com", "yahoo.fr", "outlook.com", "orange.fr", "free.fr", "proton.me", "example.org"];
const PLAN = ["free", "starter", "business", "enterprise"];
const KIND = ["page_view", "add_to_cart", "checkout_started", "purchase", "search", "signup", "login", "logout"];
const SOURCE = ["google", "newsletter", "facebook", "direct", "partner", "bing"];
const BROWSER = ["Chrome 131.0", "Firefox 133.0", "Safari 18.2", "Edge 131.0", "Samsung Internet 27"];
const OS = ["Windows 11", "macOS 15.2", "iOS 18.2", "Android 15", "Ubuntu 24.04"];
const METHOD = ["GET", "GET", "GET", "POST", "PUT", "DELETE"];
const ROUTE = ["/api/v1/products/", "/api/v1/orders/", "/api/v1/customers/", "/checkout/", "/cart/items/", "/search?q=item-"];
const STATUS = ["200", "200", "200", "201", "204", "302", "404", "422", "500"];
const LEVEL = ["info", "info", "info", "debug", "warn", "error"];
const SERVICE = ["web", "api", "worker", "billing", "mailer"];

function customers(rows: number): string {
  const h = (n: number) => `i * ${n} + ${n}`;
  return `
    CREATE TABLE web_customers (id bigint PRIMARY KEY, email varchar(120) NOT NULL, first_name varchar(40) NOT NULL,
      last_name varchar(40) NOT NULL, city varchar(60) NOT NULL, country char(2) NOT NULL, phone varchar(20) NOT NULL,
      plan varchar(16) NOT NULL, created_at timestamptz NOT NULL);
    INSERT INTO web_customers
    SELECT i, lower(f) || '.' || lower(l) || i || '@' || ${pick(DOMAIN, h(3))}, f, l, ${pick(CITY, h(5))}, 'FR',
      '+33 6 ' || lpad((abs(hashint4(i)) % 100000000)::text, 8, '0'), ${pick(PLAN, h(7))},
      timestamptz '2020-01-01' + (abs(hashint4(${h(11)})) % 157680000) * interval '1 second'
    FROM generate_series(1, ${rows}) AS i, LATERAL (SELECT ${pick(FIRST, "i")} AS f, ${pick(LAST, h(2))} AS l) AS n;
    CREATE UNIQUE INDEX ON web_customers (email);
    CREATE INDEX ON web_customers (last_name, first_name);`;
}

function events(rows: number, customerRows: number): string {
  const h = (n: number) => `i * ${n} + ${n}`;
  return `
    CREATE TABLE web_events (id bigint PRIMARY KEY, customer_id bigint NOT NULL, kind varchar(32) NOT NULL, payload jsonb NOT NULL,
      created_at timestamptz NOT NULL);
    INSERT INTO web_events
    SELECT i, c, k, jsonb_build_object(
        'event', k, 'session', md5(i::text), 'page', '/products/' || (abs(hashint4(${h(3)})) % 5000),
        'referrer', 'https://www.' || ${pick(SOURCE, h(5))} || '.com/', 'utm', jsonb_build_object('source', ${pick(SOURCE, h(5))}, 'medium', 'cpc', 'campaign', 'winter-sale-' || (abs(hashint4(${h(7)})) % 12)),
        'cart', jsonb_build_object('items', abs(hashint4(${h(9)})) % 7, 'total', round((abs(hashint4(${h(9)})) % 50000) / 100.0, 2), 'currency', 'EUR'),
        'device', jsonb_build_object('os', ${pick(OS, h(13))}, 'browser', ${pick(BROWSER, h(15))}, 'screen', '1920x1080', 'language', 'fr-FR'),
        'customer', jsonb_build_object('id', c, 'plan', ${pick(PLAN, "c")}, 'returning', i % 3 = 0)),
      timestamptz '2025-01-01' + i * interval '2 seconds'
    FROM generate_series(1, ${rows}) AS i,
      LATERAL (SELECT 1 + abs(hashint4(i)) % ${customerRows} AS c, ${pick(KIND, h(17))} AS k) AS e;
    CREATE INDEX ON web_events (customer_id, created_at);
    CREATE INDEX ON web_events (kind, created_at);`;
}

function logs(rows: number): string {
  const h = (n: number) => `i * ${n} + ${n}`;
  return `
    CREATE TABLE web_logs (id bigint PRIMARY KEY, logged_at timestamptz NOT NULL, level varchar(8) NOT NULL, service varchar(40) NOT NULL,
      request_id uuid NOT NULL, message text NOT NULL);
    INSERT INTO web_logs
    SELECT i, timestamptz '2025-01-01' + i * interval '1 second', ${pick(LEVEL, h(3))}, ${pick(SERVICE, h(5))}, md5('r' || i)::uuid,
      ${pick(METHOD, h(7))} || ' ' || ${pick(ROUTE, h(9))} || (abs(hashint4(${h(11)})) % 100000) || ' ' || ${pick(STATUS, h(13))} ||
      ' in ' || (abs(hashint4(${h(15)})) % 900 + 3) || 'ms user=' || (abs(hashint4(${h(17)})) % 50000) ||
      ' ip=10.' || (abs(hashint4(${h(19)})) % 256) || '.' || (abs(hashint4(${h(21)})) % 256) || '.7 ua="Mozilla/5.0 (' || ${pick(OS, h(23))} ||
      ') ' || ${pick(BROWSER, h(25))} || '"'
    FROM generate_series(1, ${rows}) AS i;
    CREATE INDEX ON web_logs (logged_at);
    CREATE INDEX ON web_logs (service, level);`;
}

/** Tables of every dataset: building one first drops the other's, so each dump holds one dataset (and the fixture). */
export async function dropDatasetTables(pg: PgServer, database: string): Promise<void> {
  await pg.psql(
    `DO $$ DECLARE t text; BEGIN
       FOR t IN SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND (tablename LIKE 'bench\\_%' OR tablename LIKE 'pgbench\\_%' OR tablename LIKE 'web\\_%')
       LOOP EXECUTE format('DROP TABLE %I CASCADE', t); END LOOP; END $$`,
    database,
  );
}

/** Fills `database` (owned by `owner`, the role the dump connects as) to about `targetBytes` of text-heavy tables. */
export async function buildTextDataset(pg: PgServer, database: string, owner: string, targetBytes: number, log: (m: string) => void): Promise<Dataset> {
  const started = Date.now();
  const eventRows = Math.max(1000, Math.round((targetBytes * SHARES.events) / EVENT_ROW_BYTES));
  const logRows = Math.max(1000, Math.round((targetBytes * SHARES.logs) / LOG_ROW_BYTES));
  const customerRows = Math.max(1000, Math.round((targetBytes * SHARES.customers) / CUSTOMER_ROW_BYTES));
  log(`building ~${Math.round(targetBytes / 2 ** 20)} MiB of text: ${eventRows} JSON events, ${logRows} log lines, ${customerRows} customers`);
  await dropDatasetTables(pg, database);
  const asOwner = (sql: string) => pg.psql(`SET ROLE ${quoteIdent(owner)};\n${sql}`, database);
  // Two cores: the documents on one connection, the rest on another.
  await Promise.all([asOwner(events(eventRows, customerRows)), asOwner(customers(customerRows) + logs(logRows))]);
  await pg.psql("VACUUM (FREEZE, ANALYZE)", database);
  return measureDataset(pg, database, ["web\\_%"], started);
}
