// Minimal benchmark harness: each *.bench.ts file prints one JSON line per result, and
// scripts/run-bench.mjs gathers them. Results are ratios against a baseline measured in
// the same process (the machines are noisy); absolute rates are reported alongside.
import { performance } from 'node:perf_hooks'

export interface BenchResult {
  name: string
  value: number
  unit: string
  /** What the value is compared with, measured in the same run. */
  baseline?: { name: string; value: number; unit: string }
  /** value / baseline.value (or as stated in `note`). */
  ratio?: number
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

export function report(r: BenchResult): void {
  process.stdout.write(`BENCH ${JSON.stringify(r)}\n`)
}

export function progress(msg: string): void {
  process.stderr.write(`  ${msg}\n`)
}
