// The PostgreSQL ledger's schema: the same tables as SQLite's (docs/ledger.md), append-only by
// trigger and by privilege. The derived tables are written by a trigger on entries that runs with
// the owner's rights, so the daemons' role writes entries, tree nodes and checkpoints only.
#include "ledger/pg_ledger.hpp"
#include "util/time.hpp"

namespace dg::ledger::pg_backend {

namespace {

constexpr const char* k_tables = R"sql(
CREATE TABLE meta(key text PRIMARY KEY, value text NOT NULL);
CREATE TABLE checkpoint_keys(id bigserial PRIMARY KEY, public_key bytea NOT NULL,
  added text NOT NULL);
CREATE TABLE entries(seq bigint PRIMARY KEY CHECK (seq > 0), kind text NOT NULL,
  time text NOT NULL, bytes bytea NOT NULL, leaf bytea NOT NULL);
CREATE INDEX entries_kind ON entries(kind, seq);
CREATE TABLE tree_nodes(level integer NOT NULL, idx bigint NOT NULL, hash bytea NOT NULL,
  PRIMARY KEY(level, idx));
CREATE TABLE checkpoints(size bigint PRIMARY KEY, root bytea NOT NULL, note text NOT NULL);

CREATE TABLE digests(digest text PRIMARY KEY, repository text NOT NULL, first_seq bigint NOT NULL);
CREATE TABLE digest_entries(digest text NOT NULL, seq bigint NOT NULL, kind text NOT NULL,
  PRIMARY KEY(digest, seq));
CREATE TABLE tags(repository text NOT NULL, tag text NOT NULL, digest text NOT NULL,
  seq bigint NOT NULL, PRIMARY KEY(repository, tag, digest));
CREATE TABLE env_entries(environment text NOT NULL, seq bigint NOT NULL, repository text NOT NULL,
  PRIMARY KEY(environment, seq, repository));
CREATE INDEX env_entries_repo ON env_entries(environment, repository, seq);
CREATE TABLE approvals(environment text NOT NULL, repository text NOT NULL, seq bigint NOT NULL,
  digest text NOT NULL, time text NOT NULL, kind text NOT NULL,
  PRIMARY KEY(environment, repository, seq));
CREATE INDEX approvals_digest ON approvals(environment, digest);
CREATE TABLE deployments(environment text NOT NULL, repository text NOT NULL, seq bigint NOT NULL,
  digest text NOT NULL, status text NOT NULL, drift integer NOT NULL,
  PRIMARY KEY(environment, repository, seq));
CREATE TABLE rollbacks(environment text NOT NULL, repository text NOT NULL,
  from_digest text NOT NULL, seq bigint NOT NULL,
  PRIMARY KEY(environment, repository, from_digest, seq));
CREATE TABLE revocations(digest text PRIMARY KEY, seq bigint NOT NULL, reason text NOT NULL,
  time text NOT NULL);
CREATE TABLE policies(seq bigint PRIMARY KEY, sha256 text NOT NULL);
-- The current digest per environment and repository: its newest approval (SQLite keeps a table).
CREATE VIEW slots AS SELECT DISTINCT ON (environment, repository) environment, repository,
  digest, seq, time FROM approvals ORDER BY environment, repository, seq DESC;

CREATE FUNCTION dg_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'ledger table % is append-only', TG_TABLE_NAME;
END $$;

-- A string member of a JSON object, or '' (as the SQLite indexer reads bodies).
CREATE FUNCTION dg_str(j jsonb, k text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE WHEN jsonb_typeof(j -> k) = 'string' THEN j ->> k ELSE '' END
$$;
)sql";

// The derived rows of one entry (store.cpp's Indexer, in PL/pgSQL). %s: the schema.
constexpr const char* k_indexer = R"sql(
CREATE FUNCTION dg_index_entry() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER
SET search_path = %s AS $$
DECLARE
  b jsonb := convert_from(NEW.bytes, 'UTF8')::jsonb -> 'body';
  approved boolean := dg_str(b, 'decision') = 'approved';
  env text := dg_str(b, 'environment');
  repo text := dg_str(b, 'repository');
  dig text := dg_str(b, 'digest');
  p jsonb;
  any_p boolean := false;
BEGIN
  IF NEW.kind = 'validation' THEN
    INSERT INTO digests VALUES (dig, repo, NEW.seq) ON CONFLICT DO NOTHING;
    IF dig <> '' THEN INSERT INTO digest_entries VALUES (dig, NEW.seq, NEW.kind) ON CONFLICT DO NOTHING; END IF;
    IF jsonb_typeof(b -> 'tags') = 'array' THEN
      INSERT INTO tags SELECT repo, t #>> '{}', dig, NEW.seq FROM jsonb_array_elements(b -> 'tags') t
        WHERE jsonb_typeof(t) = 'string' ON CONFLICT DO NOTHING;
    END IF;
  ELSIF NEW.kind = 'promotion' THEN
    IF jsonb_typeof(b -> 'promotions') = 'array' THEN
      FOR p IN SELECT * FROM jsonb_array_elements(b -> 'promotions') LOOP
        CONTINUE WHEN jsonb_typeof(p) <> 'object';
        any_p := true;
        IF dg_str(p, 'digest') <> '' THEN
          INSERT INTO digest_entries VALUES (dg_str(p, 'digest'), NEW.seq, NEW.kind) ON CONFLICT DO NOTHING;
        END IF;
        INSERT INTO env_entries VALUES (env, NEW.seq, dg_str(p, 'repository')) ON CONFLICT DO NOTHING;
        IF approved AND dg_str(p, 'repository') <> '' AND dg_str(p, 'digest') <> '' THEN
          INSERT INTO approvals VALUES (env, dg_str(p, 'repository'), NEW.seq, dg_str(p, 'digest'),
            NEW.time, NEW.kind);
        END IF;
      END LOOP;
    END IF;
    IF NOT any_p THEN INSERT INTO env_entries VALUES (env, NEW.seq, '') ON CONFLICT DO NOTHING; END IF;
  ELSIF NEW.kind = 'rollback' THEN
    INSERT INTO env_entries VALUES (env, NEW.seq, repo) ON CONFLICT DO NOTHING;
    IF dig <> '' THEN INSERT INTO digest_entries VALUES (dig, NEW.seq, NEW.kind) ON CONFLICT DO NOTHING; END IF;
    IF dg_str(b, 'from_digest') <> '' THEN
      INSERT INTO digest_entries VALUES (dg_str(b, 'from_digest'), NEW.seq, NEW.kind) ON CONFLICT DO NOTHING;
    END IF;
    IF approved AND repo <> '' AND dig <> '' THEN
      INSERT INTO approvals VALUES (env, repo, NEW.seq, dig, NEW.time, NEW.kind);
      INSERT INTO rollbacks VALUES (env, repo, dg_str(b, 'from_digest'), NEW.seq) ON CONFLICT DO NOTHING;
    END IF;
  ELSIF NEW.kind = 'deployment' THEN
    INSERT INTO env_entries VALUES (env, NEW.seq, repo) ON CONFLICT DO NOTHING;
    IF dig <> '' THEN INSERT INTO digest_entries VALUES (dig, NEW.seq, NEW.kind) ON CONFLICT DO NOTHING; END IF;
    INSERT INTO deployments VALUES (env, repo, NEW.seq, dig, dg_str(b, 'status'),
      CASE WHEN jsonb_typeof(b -> 'drift') = 'boolean' AND (b -> 'drift')::boolean THEN 1 ELSE 0 END);
  ELSIF NEW.kind = 'revocation' THEN
    IF dig <> '' THEN INSERT INTO digest_entries VALUES (dig, NEW.seq, NEW.kind) ON CONFLICT DO NOTHING; END IF;
    INSERT INTO revocations VALUES (dig, NEW.seq, dg_str(b, 'reason'), NEW.time) ON CONFLICT DO NOTHING;
  ELSIF NEW.kind = 'observation' THEN
    IF dig <> '' THEN INSERT INTO digest_entries VALUES (dig, NEW.seq, NEW.kind) ON CONFLICT DO NOTHING; END IF;
  ELSIF NEW.kind = 'policy' THEN
    INSERT INTO policies VALUES (NEW.seq, dg_str(b, 'sha256'));
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER entries_index AFTER INSERT ON entries FOR EACH ROW EXECUTE FUNCTION dg_index_entry();
)sql";

const std::vector<std::string>& all_tables() {
  static const std::vector<std::string> tables = {
      "meta",        "checkpoint_keys", "entries",     "tree_nodes",  "checkpoints",
      "digests",     "digest_entries",  "tags",        "env_entries", "approvals",
      "deployments", "rollbacks",       "revocations", "policies"};
  return tables;
}

std::string quote_ident(pg::Connection& db, const std::string& name) {
  auto rows = db.query("SELECT quote_ident($1)", {name});
  return rows.text(0, 0);
}

void create_tables(pg::Connection& db) {
  std::string schema = quote_ident(db, db.query("SELECT current_schema()").text(0, 0));
  std::string sql = k_tables;
  char buf[8192];
  std::snprintf(buf, sizeof buf, k_indexer, schema.c_str());
  sql += buf;
  for (const auto& table : all_tables()) {
    sql += "CREATE TRIGGER " + table + "_append_only BEFORE UPDATE OR DELETE ON " + table +
           " FOR EACH ROW EXECUTE FUNCTION dg_append_only();\n";
    sql += "CREATE TRIGGER " + table + "_no_truncate BEFORE TRUNCATE ON " + table +
           " FOR EACH STATEMENT EXECUTE FUNCTION dg_append_only();\n";
  }
  sql += "INSERT INTO meta(key, value) VALUES('schema', '" + std::to_string(store_schema_version) +
         "'), ('backend', 'postgresql');\n";
  db.exec(sql);
}

} // namespace

bool has_schema(pg::Connection& db) {
  return !db.query("SELECT to_regclass('entries')").is_null(0, 0);
}

void create_schema(pg::Connection& db, const std::string& app_role) {
  db.exec("BEGIN");
  // One initializer at a time (two `init` runs at once on an empty database).
  db.exec("SELECT pg_advisory_xact_lock(" + std::to_string(k_lock_key) + ")");
  if (!has_schema(db)) {
    create_tables(db);
  }
  if (!app_role.empty()) {
    std::string role = quote_ident(db, app_role);
    std::string sql = "GRANT USAGE ON SCHEMA " +
                      quote_ident(db, db.query("SELECT current_schema()").text(0, 0)) + " TO " +
                      role + ";\n";
    sql += "GRANT SELECT ON ALL TABLES IN SCHEMA " +
           quote_ident(db, db.query("SELECT current_schema()").text(0, 0)) + " TO " + role + ";\n";
    sql += "GRANT INSERT ON entries, tree_nodes, checkpoints TO " + role + ";\n";
    db.exec(sql);
  }
  db.exec("COMMIT");
}

void add_key(pg::Connection& db, const Bytes& key) {
  std::string raw(key.begin(), key.end());
  auto known =
      db.query("SELECT 1 FROM checkpoint_keys WHERE public_key = $1", {pg::Param::bytes(raw)});
  if (known.size() == 0) {
    db.query("INSERT INTO checkpoint_keys(public_key, added) VALUES($1, $2)",
             {pg::Param::bytes(raw), format_rfc3339(now_ns())});
  }
}

std::vector<Bytes> checkpoint_keys(pg::Connection& db) {
  std::vector<Bytes> keys;
  auto rows = db.query("SELECT public_key FROM checkpoint_keys ORDER BY id");
  for (int i = 0; i < rows.size(); ++i) {
    std::string b = rows.text(i, 0);
    keys.emplace_back(b.begin(), b.end());
  }
  return keys;
}

} // namespace dg::ledger::pg_backend
