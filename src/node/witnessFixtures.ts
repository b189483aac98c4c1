// Fixtures for the witness tests and bench: a log in memory, a witness key, a database.
// Not part of the public API (not exported by src/node/index.ts).
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { generateEd25519, type Ed25519KeyPair } from '../crypto/index.js'
import { openDatabase, type Db } from '../db/index.js'
import { consistencyProof, hashLeaf, MemoryNodes, signCheckpoint, subtreeHash } from '../log/index.js'
import { witnessName, type WitnessKey } from './cosignature.js'
import { addCheckpointBody } from './gatherCosignatures.js'

/** A log in memory signed by `key`: append entries, sign checkpoints, prove consistency. */
export class TestLog {
  readonly nodes = new MemoryNodes()
  constructor(
    readonly origin: string,
    readonly key: Ed25519KeyPair = generateEd25519(),
  ) {}
  append(n: number, tag = 'e'): this {
    for (let i = 0; i < n; i++) this.nodes.append(hashLeaf(Buffer.from(`${tag}${this.nodes.size}`)))
    return this
  }
  root(size = this.nodes.size): Buffer {
    return subtreeHash(this.nodes, 0, size)
  }
  note(size = this.nodes.size, root = this.root(size), key = this.key): string {
    return signCheckpoint({ origin: this.origin, treeSize: size, rootHash: root }, this.origin, key.privateKey, key.publicKeyBytes).note
  }
  request(old: number, size = this.nodes.size): string {
    return addCheckpointBody(old, old > 0 && old < size ? consistencyProof(this.nodes, old, size) : [], this.note(size))
  }
}

export function witnessKey(): WitnessKey {
  const k = generateEd25519()
  return { name: witnessName(k.publicKeyBytes), publicKey: k.publicKeyBytes, privateKey: k.privateKey }
}

export function tempDb(): Db {
  return openDatabase(join(mkdtempSync(join(tmpdir(), 'provena-witness-')), 'provena.db'))
}

