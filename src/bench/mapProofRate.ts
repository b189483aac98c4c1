// Map-proof verification rate, measured the same way in the bench process and in a fresh
// process (a verifier holds no map): rounds of verifying every proof, alternating with rounds
// of the same number of one-shot SHA-256 calls; the medians of each. No forced collection.
// Usage (fresh process): node dist/bench/mapProofRate.js FILE, where FILE holds the root
// and the binary proofs as JSON (hex); prints one JSON line.
import { hash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { verifyMapProofBytes } from '../log/index.js'
import { performance } from 'node:perf_hooks'

export interface MapProofRate {
  proofsPerSecond: number
  hashBaselinePerSecond: number
  rounds: number[]
  hashRounds: number[]
}

/** Verifies `proofs` `repeat` times a round, `rounds` rounds, against one-shot hashing of `hashesPerProof` 65-byte blocks a proof. */
export function mapProofRate(root: Uint8Array, proofs: readonly Uint8Array[], hashesPerProof: number, repeat: number, rounds: number): MapProofRate {
  const block = Buffer.alloc(65, 1)
  const perRound = repeat * proofs.length
  for (const q of proofs) if (!verifyMapProofBytes(root, q)) throw new Error('a binary proof failed to verify') // warm-up, not timed
  const verifyRounds: number[] = []
  const hashRounds: number[] = []
  for (let r = 0; r < rounds; r++) {
    let ok = 0
    const t0 = performance.now()
    for (let k = 0; k < repeat; k++) for (const q of proofs) ok += verifyMapProofBytes(root, q) ? 1 : 0
    verifyRounds.push((performance.now() - t0) / 1000)
    if (ok !== perRound) throw new Error('a binary proof failed to verify')
    const t1 = performance.now()
    const calls = Math.round(perRound * hashesPerProof)
    for (let i = 0; i < calls; i++) hash('sha256', block, 'binary')
    hashRounds.push((performance.now() - t1) / 1000)
  }
  const mid = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!
  return { proofsPerSecond: perRound / mid(verifyRounds), hashBaselinePerSecond: perRound / mid(hashRounds), rounds: verifyRounds.map((t) => perRound / t), hashRounds: hashRounds.map((t) => perRound / t) }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const doc = JSON.parse(readFileSync(process.argv[2]!, 'utf8')) as { root: string; proofs: string[]; hashesPerProof: number; repeat: number; rounds: number }
  const r = mapProofRate(Buffer.from(doc.root, 'hex'), doc.proofs.map((p) => Buffer.from(p, 'hex')), doc.hashesPerProof, doc.repeat, doc.rounds)
  process.stdout.write(`${JSON.stringify(r)}\n`)
}
