-- The quickstart's tables, created through pgroute by tools/quickstart (idempotent).
-- A sharded table exists on every shard: the alias hint sends each CREATE to one of them.
/* pgroute: alias=shard_0 */ CREATE TABLE IF NOT EXISTS events (
  user_id bigint NOT NULL, payload text, created_at timestamptz NOT NULL DEFAULT now(),
  id bigserial PRIMARY KEY);
/* pgroute: alias=shard_1 */ CREATE TABLE IF NOT EXISTS events (
  user_id bigint NOT NULL, payload text, created_at timestamptz NOT NULL DEFAULT now(),
  id bigserial PRIMARY KEY);
-- auth_* and analytics_* tables live on the analytics alias: the model router sends these there.
CREATE TABLE IF NOT EXISTS auth_user (id bigint PRIMARY KEY, name text NOT NULL);
CREATE TABLE IF NOT EXISTS analytics_pageviews (user_id bigint NOT NULL, path text NOT NULL,
  viewed_at timestamptz NOT NULL DEFAULT now());
-- Anything else lives on the client's own alias (database app -> alias default).
CREATE TABLE IF NOT EXISTS notes (id bigserial PRIMARY KEY, body text NOT NULL);
