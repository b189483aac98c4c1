// Minimal benchmark harness: each *.bench.ts file prints one JSON line per result, and
// scripts/run-bench.mjs gathers them. Results are ratios against a baseline measured in
// the same process (the machines are noisy); absolute rates are reported alongside.
import { spawnSync } from 'node:child_process'
import { performance } from 'node:perf_hooks'
import { repoRoot } from '../testing.js'

export interface BenchResult {
  name: string
  value: number
  unit: string
  /** What the value is compared with, measured in the same run. */
  baseline?: { name: string; value: number; unit: string }
  /** value / baseline.value (or as stated in `note`). */
  ratio?: number
  /** The same operation as a user runs it: `npx provena …` in a new process, process start included. */
  cli?: { value: number; unit: string; command: string }
  target?: string
  note?: string
}

/** Seconds taken by `fn` (best of `repeat` runs, after one warm-up when repeat > 1). */
export async function time(fn: () => unknown, repeat = 1): Promise<number> {
  if (repeat > 1) await fn()
  let best = Infinity
  for (let i = 0; i < repeat; i++) {
    const t0 = performance.now()
    await fn()
    best = Math.min(best, (performance.now() - t0) / 1000)
  }
  return best
}

/** Seconds taken by `fn`: the median of `rounds` runs (no warm-up, no forced collection). */
export async function median(fn: () => unknown, rounds: number): Promise<{ median: number; all: number[] }> {
  const all: number[] = []
  for (let i = 0; i < rounds; i++) {
    const t0 = performance.now()
    await fn()
    all.push((performance.now() - t0) / 1000)
  }
  const s = [...all].sort((a, b) => a - b)
  const m = s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2
  return { median: m, all }
}

/**
 * Runs `npx provena <args>` from the repository root, as a user runs it: a new process, npx's
 * resolution and Node's start included. Returns the wall-clock seconds and stdout parsed
 * as JSON when `--json` is among the arguments; throws on a non-zero exit.
 */
export function npxProvena(args: string[], env: Record<string, string> = {}): { seconds: number; json: Record<string, unknown> | undefined; stdout: string } {
  const childEnv: Record<string, string | undefined> = { ...process.env, ...env }
  delete childEnv.PROVENA_RPC_URL
  const t0 = performance.now()
  const r = spawnSync('npx', ['provena', ...args], {
    cwd: repoRoot,
    env: childEnv,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    maxBuffer: 1 << 28,
  })
  const seconds = (performance.now() - t0) / 1000
  if (r.status !== 0) throw new Error(`npx provena ${args.join(' ')} exited ${r.status}:\n${r.stdout}\n${r.stderr}`)
  return { seconds, json: args.includes('--json') ? (JSON.parse(r.stdout) as Record<string, unknown>) : undefined, stdout: r.stdout }
}

export function report(r: BenchResult): void {
  process.stdout.write(`BENCH ${JSON.stringify(r)}\n`)
}

export function progress(msg: string): void {
  process.stderr.write(`  ${msg}\n`)
}
