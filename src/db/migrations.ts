import type Database from 'better-sqlite3'

/**
 * The schema, as an ordered list of migrations. A migration never changes once released;
 * a new schema version is a new entry. `PRAGMA user_version` holds the applied version.
 */
export interface Migration {
  version: number
  description: string
  sql: string
  /** Data moves SQL cannot express, run after `sql` in the same transaction. */
  run?: (db: Database.Database) => void
}

export const migrations: readonly Migration[] = [
  {
    version: 1,
    description: 'log, chain outbox and deployments, asset registry',
    sql: `
      CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);

      -- log: RFC 9162 Merkle log. Level-0 hashes live in log_entries; log_nodes holds the
      -- roots of every complete aligned subtree above them.
      CREATE TABLE log_entries (
        idx INTEGER PRIMARY KEY,
        leaf BLOB NOT NULL,
        leaf_hash BLOB NOT NULL,
        appended_at INTEGER NOT NULL
      );
      CREATE TABLE log_nodes (
        level INTEGER NOT NULL,
        idx INTEGER NOT NULL,
        hash BLOB NOT NULL,
        PRIMARY KEY (level, idx)
      ) WITHOUT ROWID;
      CREATE TABLE log_checkpoints (
        tree_size INTEGER PRIMARY KEY,
        root_hash BLOB NOT NULL,
        map_root BLOB NOT NULL,
        note TEXT NOT NULL,
        signature BLOB NOT NULL,
        created_at INTEGER NOT NULL
      );

      -- chain: contract deployments per chain, and the transactional outbox of chain writes.
      -- chain: 'embedded' for the data dir's own node, else eip155:<chain id>:<genesis hash>.
      CREATE TABLE chain_deployments (
        chain TEXT NOT NULL,
        chain_id INTEGER NOT NULL,
        name TEXT NOT NULL,
        address TEXT NOT NULL,
        tx_hash TEXT,
        block_number INTEGER,
        deployed_at INTEGER NOT NULL,
        PRIMARY KEY (chain, name)
      );
      CREATE TABLE chain_outbox (
        id INTEGER PRIMARY KEY,
        chain TEXT NOT NULL,
        kind TEXT NOT NULL,
        key TEXT NOT NULL,
        payload TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('decided', 'sent', 'mined', 'failed')),
        tx_hash TEXT,
        raw_tx TEXT,
        nonce INTEGER,
        block_number INTEGER,
        block_hash TEXT,
        error TEXT,
        attempts INTEGER NOT NULL DEFAULT 0,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        UNIQUE (chain, key)
      );
      CREATE INDEX chain_outbox_pending ON chain_outbox (status, id);

      -- registry: assets, their lineage edges, and per-record salts + commitments.
      CREATE TABLE registry_assets (
        id TEXT PRIMARY KEY,
        kind TEXT NOT NULL CHECK (kind IN ('dataset', 'model', 'artifact')),
        name TEXT NOT NULL,
        root TEXT NOT NULL,
        metadata_digest TEXT NOT NULL,
        content_digest TEXT NOT NULL,
        records INTEGER,
        metadata TEXT NOT NULL,
        statement TEXT,
        log_index INTEGER NOT NULL,
        created_at INTEGER NOT NULL
      );
      CREATE INDEX registry_assets_content ON registry_assets (kind, content_digest);
      CREATE TABLE registry_parents (
        child TEXT NOT NULL,
        parent TEXT NOT NULL,
        PRIMARY KEY (child, parent)
      ) WITHOUT ROWID;
      CREATE INDEX registry_parents_parent ON registry_parents (parent);
      CREATE TABLE registry_records (
        dataset TEXT NOT NULL,
        idx INTEGER NOT NULL,
        line INTEGER NOT NULL,
        salt BLOB NOT NULL,
        commitment BLOB NOT NULL,
        PRIMARY KEY (dataset, idx)
      ) WITHOUT ROWID;
    `,
  },
  {
    version: 2,
    description: 'encrypted data plane: per-subject data keys, encrypted record locations',
    sql: `
      -- access: one data key per subject per controller, sealed under the controller's
      -- key-encryption key; the row's key is destroyed at erasure (secure_delete is on).
      CREATE TABLE access_subject_keys (
        controller TEXT NOT NULL,
        pseudonym TEXT NOT NULL,
        wrapped_key BLOB,
        created_at INTEGER NOT NULL,
        erased_at INTEGER,
        PRIMARY KEY (controller, pseudonym)
      ) WITHOUT ROWID;
      CREATE TABLE access_datasets (
        dataset TEXT PRIMARY KEY,
        controller TEXT NOT NULL,
        subject_column TEXT NOT NULL,
        format TEXT NOT NULL,
        columns TEXT
      );
      CREATE TABLE access_records (
        dataset TEXT NOT NULL,
        idx INTEGER NOT NULL,
        pseudonym TEXT NOT NULL,
        cid TEXT NOT NULL,
        offset INTEGER NOT NULL,
        length INTEGER NOT NULL,
        PRIMARY KEY (dataset, idx)
      ) WITHOUT ROWID;
      CREATE INDEX access_records_subject ON access_records (pseudonym);
    `,
  },
  {
    version: 3,
    description: 'consent: records, current state, the sparse Merkle map, training manifests',
    sql: `
      -- log: the state map (sparse Merkle map); its leaves and the 4,096 subtrees at depth 12.
      CREATE TABLE map_leaves (key BLOB PRIMARY KEY, value BLOB NOT NULL) WITHOUT ROWID;
      CREATE TABLE map_buckets (bucket INTEGER PRIMARY KEY, hash BLOB NOT NULL, count INTEGER NOT NULL);
      -- consent: every record (history; its bytes are the log entry), and the current one
      -- per map key, i.e. per (subject, purpose).
      -- (Appended in log order; a key's history is the chain of prev links from its current one.)
      CREATE TABLE consent_records (
        log_index INTEGER PRIMARY KEY,
        hash BLOB NOT NULL,
        prev INTEGER
      );
      CREATE TABLE consent_current (
        map_key BLOB PRIMARY KEY,
        log_index INTEGER NOT NULL,
        record BLOB NOT NULL,
        subject TEXT NOT NULL,
        purpose TEXT NOT NULL,
        state TEXT NOT NULL,
        valid_from INTEGER NOT NULL,
        valid_until INTEGER,
        dataset TEXT
      ) WITHOUT ROWID;
      CREATE TABLE consent_manifests (
        hash TEXT PRIMARY KEY,
        dataset TEXT NOT NULL,
        purpose TEXT NOT NULL,
        at TEXT NOT NULL,
        log_index INTEGER NOT NULL,
        included BLOB NOT NULL
      );
      CREATE INDEX consent_manifests_dataset ON consent_manifests (dataset);
    `,
  },
  {
    version: 4,
    description: 'federated learning: tasks, global models per round, client updates',
    sql: `
      CREATE TABLE fl_tasks (
        chain TEXT NOT NULL,
        task INTEGER NOT NULL,
        spec TEXT NOT NULL,
        purpose TEXT NOT NULL,
        aggregator TEXT NOT NULL,
        participants TEXT NOT NULL,
        log_index INTEGER NOT NULL,
        created_at INTEGER NOT NULL,
        -- The registered model, once the last round is aggregated.
        model TEXT,
        PRIMARY KEY (chain, task)
      );
      -- The global model each round starts from (round 1: the initial one), and the result.
      CREATE TABLE fl_rounds (
        chain TEXT NOT NULL,
        task INTEGER NOT NULL,
        round INTEGER NOT NULL,
        model_cid TEXT NOT NULL,
        model_digest TEXT NOT NULL,
        PRIMARY KEY (chain, task, round)
      );
      CREATE TABLE fl_updates (
        chain TEXT NOT NULL,
        task INTEGER NOT NULL,
        round INTEGER NOT NULL,
        client TEXT NOT NULL,
        did TEXT NOT NULL,
        dataset TEXT NOT NULL,
        update_cid TEXT NOT NULL,
        update_digest TEXT NOT NULL,
        manifest_cid TEXT NOT NULL,
        manifest_hash TEXT NOT NULL,
        samples INTEGER NOT NULL,
        -- Set by the aggregator: 1 when the update went into the round's aggregate.
        accepted INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (chain, task, round, client)
      );
    `,
  },
  {
    version: 5,
    description: 'access: subject data keys sealed in blocks (one AES-GCM seal per 1,024 keys)',
    sql: `
      CREATE TABLE access_key_blocks (
        id INTEGER PRIMARY KEY,
        controller TEXT NOT NULL,
        sealed BLOB NOT NULL
      );
      -- A key is in a block slot (new), or wrapped on its own (wrapped_key, schema 2).
      ALTER TABLE access_subject_keys ADD COLUMN block INTEGER;
      ALTER TABLE access_subject_keys ADD COLUMN slot INTEGER;
    `,
  },
  {
    version: 6,
    description: 'access: record places packed 1,024 to a row, by integer handles for datasets, subjects and segments',
    sql: `
      -- A record's row held three ids of ~60 characters (dataset, pseudonym, segment CID) and
      -- an index on the random pseudonym: most of an import's time went into that B-tree.
      -- Now the ids live once in their own tables, and records' places are small integers
      -- packed 1,024 records to a row (access_record_chunks, filled by run() below).
      CREATE TABLE access_datasets_v6 (
        id INTEGER PRIMARY KEY,
        dataset TEXT NOT NULL UNIQUE,
        controller TEXT NOT NULL,
        subject_column TEXT NOT NULL,
        format TEXT NOT NULL,
        columns TEXT
      );
      INSERT INTO access_datasets_v6 (dataset, controller, subject_column, format, columns)
        SELECT dataset, controller, subject_column, format, columns FROM access_datasets ORDER BY rowid;
      -- Controllers by number: the subject keys' unique index holds (number, pseudonym).
      CREATE TABLE access_controllers (id INTEGER PRIMARY KEY, did TEXT NOT NULL UNIQUE);
      INSERT INTO access_controllers (did) SELECT DISTINCT controller FROM access_subject_keys ORDER BY controller;
      CREATE TABLE access_subject_keys_v6 (
        id INTEGER PRIMARY KEY,
        controller INTEGER NOT NULL,
        pseudonym TEXT NOT NULL,
        -- A key is in a block slot, or (schema 2) wrapped on its own.
        block INTEGER,
        slot INTEGER,
        wrapped_key BLOB,
        created_at INTEGER NOT NULL,
        erased_at INTEGER,
        UNIQUE (controller, pseudonym)
      );
      INSERT INTO access_subject_keys_v6 (controller, pseudonym, block, slot, wrapped_key, created_at, erased_at)
        SELECT c.id, k.pseudonym, k.block, k.slot, k.wrapped_key, k.created_at, k.erased_at FROM access_subject_keys k
        JOIN access_controllers c ON c.did = k.controller ORDER BY c.id, k.pseudonym;
      CREATE TABLE access_segments (id INTEGER PRIMARY KEY, cid TEXT NOT NULL UNIQUE);
      INSERT INTO access_segments (cid) SELECT DISTINCT cid FROM access_records ORDER BY cid;
      CREATE TEMP TABLE access_records_v6 (
        dataset INTEGER NOT NULL,
        idx INTEGER NOT NULL,
        subject INTEGER NOT NULL,
        segment INTEGER NOT NULL,
        offset INTEGER NOT NULL,
        length INTEGER NOT NULL,
        PRIMARY KEY (dataset, idx)
      ) WITHOUT ROWID;
      INSERT INTO access_records_v6 (dataset, idx, subject, segment, offset, length)
        SELECT d.id, r.idx, k.id, s.id, r.offset, r.length FROM access_records r
        JOIN access_datasets_v6 d ON d.dataset = r.dataset
        JOIN access_controllers c ON c.did = d.controller
        JOIN access_subject_keys_v6 k ON k.controller = c.id AND k.pseudonym = r.pseudonym
        JOIN access_segments s ON s.cid = r.cid;
      DROP TABLE access_records;
      DROP TABLE access_datasets;
      DROP TABLE access_subject_keys;
      ALTER TABLE access_datasets_v6 RENAME TO access_datasets;
      ALTER TABLE access_subject_keys_v6 RENAME TO access_subject_keys;
      -- Record i of a dataset is entry i % 1024 of chunk i / 1024: four uint32 little-endian,
      -- its subject, its segment, the offset and length of its ciphertext in the segment.
      CREATE TABLE access_record_chunks (
        dataset INTEGER NOT NULL,
        chunk INTEGER NOT NULL,
        places BLOB NOT NULL,
        UNIQUE (dataset, chunk)
      );
      -- Whose records: written in subject order by an import — an append to the B-tree.
      CREATE TABLE access_subject_records (
        subject INTEGER NOT NULL,
        dataset INTEGER NOT NULL,
        idx INTEGER NOT NULL,
        PRIMARY KEY (subject, dataset, idx)
      ) WITHOUT ROWID;
      INSERT INTO access_subject_records (subject, dataset, idx) SELECT subject, dataset, idx FROM access_records_v6 ORDER BY subject, dataset, idx;
    `,
    run: (db) => {
      // The places, packed as src/access/recordPlaces.ts reads them.
      const CHUNK = 1024
      const put = db.prepare('INSERT INTO access_record_chunks (dataset, chunk, places) VALUES (?, ?, ?)')
      const rows = db.prepare('SELECT subject, segment, offset, length FROM access_records_v6 WHERE dataset = ? ORDER BY idx').raw()
      for (const dataset of db.prepare('SELECT DISTINCT dataset FROM access_records_v6').pluck().all() as number[]) {
        const all = rows.all(dataset) as number[][]
        for (let chunk = 0, from = 0; from < all.length; chunk++, from += CHUNK) {
          const part = all.slice(from, from + CHUNK)
          const bytes = Buffer.allocUnsafe(16 * part.length)
          part.forEach((r, i) => r.forEach((v, k) => bytes.writeUInt32LE(v, 16 * i + 4 * k)))
          put.run(dataset, chunk, bytes)
        }
      }
      db.exec('DROP TABLE access_records_v6')
    },
  },
  {
    version: 7,
    description: 'registry: per-record lines, salts and commitments packed 1,024 records to a row',
    sql: `
      CREATE TABLE registry_record_chunks (
        dataset TEXT NOT NULL,
        chunk INTEGER NOT NULL,
        -- Record i of the dataset is entry i % 1024 of chunk i / 1024: its source line
        -- (uint32 little-endian), its salt (32 bytes, zeros once destroyed), its commitment.
        lines BLOB NOT NULL,
        salts BLOB NOT NULL,
        commitments BLOB NOT NULL,
        UNIQUE (dataset, chunk)
      );
    `,
    run: (db) => {
      // The rows of earlier schemas, packed the same way (src/registry/recordChunks.ts).
      const CHUNK = 1024
      const put = db.prepare('INSERT INTO registry_record_chunks (dataset, chunk, lines, salts, commitments) VALUES (?, ?, ?, ?, ?)')
      const rows = db.prepare('SELECT line, salt, commitment FROM registry_records WHERE dataset = ? ORDER BY idx').raw()
      for (const dataset of db.prepare('SELECT DISTINCT dataset FROM registry_records').pluck().all() as string[]) {
        const all = rows.all(dataset) as [number, Buffer, Buffer][]
        for (let chunk = 0, from = 0; from < all.length; chunk++, from += CHUNK) {
          const part = all.slice(from, from + CHUNK)
          const lines = Buffer.allocUnsafe(4 * part.length)
          part.forEach(([line], i) => lines.writeUInt32LE(line, 4 * i))
          put.run(dataset, chunk, lines, Buffer.concat(part.map(([, salt]) => salt)), Buffer.concat(part.map(([, , c]) => c)))
        }
      }
      db.exec('DROP TABLE registry_records')
    },
  },
  {
    version: 8,
    description: 'node: seen message nonces (replays refused); access: the requests this node sent',
    sql: `
      -- A message's (sender, nonce), kept until the message expired (src/node/messages.ts).
      CREATE TABLE node_seen_nonces (
        sender TEXT NOT NULL,
        nonce TEXT NOT NULL,
        expires_at INTEGER NOT NULL,
        PRIMARY KEY (sender, nonce)
      ) WITHOUT ROWID;
      CREATE INDEX node_seen_nonces_expiry ON node_seen_nonces (expires_at);
      -- Access requests this node signed: a key release is taken only in answer to one.
      CREATE TABLE access_requests (
        nonce TEXT PRIMARY KEY,
        digest TEXT NOT NULL,
        dataset TEXT NOT NULL,
        requester TEXT NOT NULL,
        controller TEXT NOT NULL,
        purpose TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL
      );
    `,
  },
  {
    version: 9,
    description: 'chain outbox: the signer of a write, the result read from its receipt, whether its command reported it',
    // issue 12: every chain write goes through the outbox, some signed by an identity
    // other than the operator (its address; NULL = the operator, as every earlier row),
    // and some return a value the caller needs, read from the receipt (JSON). `reported`
    // is 0 until the command that decided the write has reported it: a rerun after a crash
    // finds its unreported write and reports it instead of deciding another (earlier rows: 1).
    sql: `
      ALTER TABLE chain_outbox ADD COLUMN signer TEXT;
      ALTER TABLE chain_outbox ADD COLUMN result TEXT;
      ALTER TABLE chain_outbox ADD COLUMN reported INTEGER NOT NULL DEFAULT 1;
    `,
  },
  {
    version: 10,
    description: 'api: tokens for people and scripts (only the SHA-256 of each secret is kept)',
    // issue 13: `provena token create` prints pvn_<id>_<secret> once; the API finds the row
    // by id and compares SHA-256(secret) in constant time. scopes: a JSON list of route
    // groups ("datasets:read"); times in ms since the epoch; revoked_at NULL while valid.
    sql: `
      CREATE TABLE api_tokens (
        id TEXT PRIMARY KEY,
        secret_hash BLOB NOT NULL,
        name TEXT NOT NULL,
        did TEXT,
        role TEXT NOT NULL,
        scopes TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL,
        revoked_at INTEGER
      );
      `,
    },
    {
    version: 11,
    description: 'node: the logs this node witnesses (C2SP tlog-witness) and the cosignatures it gathered for its own checkpoints',
    sql: `
      -- Per witnessed log (origin), the last checkpoint this node cosigned: a new one is
      -- cosigned only if it extends this one (src/node/witness.ts).
      CREATE TABLE witness_logs (
        origin TEXT PRIMARY KEY,
        tree_size INTEGER NOT NULL,
        root_hash BLOB NOT NULL,
        note TEXT NOT NULL,
        -- The cosignature line(s) returned for it (served at <prefix>/<origin hash>/checkpoint).
        cosignature TEXT NOT NULL,
        updated_at INTEGER NOT NULL
      );
      -- Checkpoints signed by a witnessed log's key that did not extend the last one
      -- cosigned: kept as evidence of a split view or a rewrite (never cosigned).
      CREATE TABLE witness_evidence (
        id INTEGER PRIMARY KEY,
        origin TEXT NOT NULL,
        note TEXT NOT NULL,
        reason TEXT NOT NULL,
        received_at INTEGER NOT NULL
      );
      -- Cosignatures (C2SP tlog-cosignature lines) other members' witnesses returned for
      -- this node's checkpoints.
      CREATE TABLE checkpoint_cosignatures (
        tree_size INTEGER NOT NULL,
        witness TEXT NOT NULL,
        key_id TEXT NOT NULL,
        line TEXT NOT NULL,
        timestamp INTEGER NOT NULL,
        received_at INTEGER NOT NULL,
        PRIMARY KEY (tree_size, witness, key_id)
      );
    `,
  },
  {
    version: 12,
    description: 'access: the ciphertext segments a key release served over HTTP names, per requester, until the release expires',
    // issue 13: GET /v1/segments/{cid} serves a segment only to a member holding an
    // unexpired release (issued by this node) that names it.
    sql: `
      CREATE TABLE access_released_segments (
        requester TEXT NOT NULL,
        cid TEXT NOT NULL,
        release TEXT NOT NULL,
        expires_at INTEGER NOT NULL,
        PRIMARY KEY (requester, cid, release)
      );
    `,
  },
  {
    version: 13,
    description: 'access: key releases answered over HTTP, by request (a request posted again gets the same answer); exports --from in progress (a rerun reuses their request and release)',
    // issue 13, kill -9 during an export: the controller answers a request it already
    // answered with the same release, logging nothing twice; the lab keeps the request it
    // sent and the release it got until the export completes.
    sql: `
      CREATE TABLE access_release_answers (
        request TEXT PRIMARY KEY,
        requester TEXT NOT NULL,
        answer TEXT NOT NULL,
        expires_at INTEGER NOT NULL
      );
      CREATE TABLE access_remote_exports (
        key TEXT PRIMARY KEY,
        request TEXT NOT NULL,
        request_expires_at INTEGER NOT NULL,
        release TEXT,
        created_at INTEGER NOT NULL
      );
    `,
  },
]

/** The newest schema version this code knows. */
export const LATEST_SCHEMA_VERSION = migrations[migrations.length - 1]!.version
