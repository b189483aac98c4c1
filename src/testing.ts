// Helpers shared by the tests (not part of the public API).
import { readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

/** The repository root (works from src/ and from dist/). */
export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..')

/** A JSON file under test/vectors. */
export function readVector<T>(name: string): T {
  return JSON.parse(readFileSync(join(repoRoot, 'test', 'vectors', name), 'utf8')) as T
}

import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { startEmbeddedNode, stopEmbeddedNode } from './chain/embeddedNode.js'

/** Anvil's first pre-funded dev account (public test mnemonic): a non-operator in tests. */
export const ANVIL_DEV_KEY_1 = '0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d' as const

/** A fresh embedded node in a temp dir, for one test file. */
export async function startTestChain(): Promise<{ rpcUrl: string; dir: string; stop(): Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), 'provena-test-chain-'))
  const info = await startEmbeddedNode(dir, true)
  return { rpcUrl: info.rpcUrl, dir, stop: async () => void (await stopEmbeddedNode(dir)) }
}
