import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { delimiter, dirname, join } from 'node:path'
import { describe, it } from 'node:test'
import { repoRoot, runCli } from '../testing.js'

/** A ```sh block of the README: its first command line's line number (1-based) and its lines. */
export interface ReadmeBlock {
  line: number
  lines: string[]
  /** The reason given by a `<!-- readme-test: skip (…) -->` comment just above the block. */
  skip?: string
}

/** The README's ```sh blocks in order, indented ones (inside a list item) included, dedented. */
export function readmeBlocks(text: string): ReadmeBlock[] {
  const lines = text.split('\n')
  const blocks: ReadmeBlock[] = []
  for (let i = 0; i < lines.length; i++) {
    const open = /^(\s*)```sh\s*$/.exec(lines[i]!)
    if (!open) continue
    const indent = open[1]!.length
    const above = lines.slice(0, i).reverse().find((l) => l.trim() !== '')
    const skip = above && /<!--\s*readme-test:\s*skip\s*(.*?)\s*-->/.exec(above)?.[1]
    const body: string[] = []
    let j = i + 1
    for (; j < lines.length && !/^\s*```\s*$/.test(lines[j]!); j++) body.push(lines[j]!.slice(indent))
    assert.ok(j < lines.length, `README.md line ${i + 1}: the block is never closed`)
    blocks.push({ line: i + 2, lines: body, ...(skip !== undefined && skip !== '' ? { skip } : skip === '' ? { skip: 'skipped' } : {}) })
    i = j
  }
  return blocks
}

/**
 * One bash script of the blocks to run, line for line (so bash's $LINENO maps back to the
 * README), and that map. A command documented to fail ends with a comment saying
 * `exits N`: the script requires exactly that exit status there.
 */
export function readmeScript(blocks: ReadmeBlock[]): { script: string; readmeLine: (scriptLine: number) => number } {
  const header = [
    'set -euo pipefail',
    // The README says `npx provena`; npx resolves the package's bin (node_modules/.bin/provena)
    // in ~1.5 s per call. The same bin run directly is what it resolves to, without the wait.
    // (`|| return`: a failure is the call's, so the ERR trap names the README's line.)
    'npx() { if [ "$1" = provena ]; then shift; node "$PROVENA_REPO/bin/provena.js" "$@" || return; else command npx "$@" || return; fi; }',
    'trap \'echo "README_FAILED $LINENO $?" >&2\' ERR',
  ]
  const out = [...header]
  const map: number[] = header.map(() => 0)
  for (const b of blocks) {
    b.lines.forEach((l, k) => {
      const expected = /^(.*?)\s+#.*\bexits (\d+)\b.*$/.exec(l)
      out.push(expected ? `if ${expected[1]}; then echo "expected exit ${expected[2]}, got 0" >&2; false; else test $? -eq ${expected[2]}; fi` : l)
      map.push(b.line + k)
    })
  }
  out.push('echo README_DONE')
  return { script: `${out.join('\n')}\n`, readmeLine: (n) => map[n - 1] ?? 0 }
}

const README = readFileSync(join(repoRoot, 'README.md'), 'utf8')

describe('README', () => {
  const blocks = readmeBlocks(README)
  const run = blocks.filter((b) => !b.skip)

  it('names no placeholder (<id>, [--option]) in the commands it runs, and every file it names exists', () => {
    assert.ok(run.length >= 5, `${run.length} blocks to run`)
    assert.ok(blocks.length - run.length <= 4, 'at most the install, external-node, development and long-running-server blocks are skipped')
    for (const b of run)
      b.lines.forEach((l, k) => {
        const code = l.replace(/\s#.*$/, '')
        assert.doesNotMatch(code, /<[a-z][a-z' -]*>|\[--|0x…|\bURL\b/, `README.md line ${b.line + k}: a placeholder in "${l}"`)
      })
    for (const [, name] of README.matchAll(/([\w./-]+\.md)\b/g)) assert.ok(existsSync(join(repoRoot, name!)), `README.md names ${name}, which is not in the repository`)
  })

  it('every command block runs as written, in order, in one shell and one new data dir', { timeout: 580_000 }, async (t) => {
    // A new working directory with the repository's data and examples, so that the files the
    // README writes (tampered.csv, lab.csv, manifest.json…) and its data dir ($PWD/.provena)
    // land outside the checkout.
    // Never install or recurse into the test suite from here: such blocks carry a skip comment.
    for (const b of run) assert.ok(!b.lines.some((l) => /\bnpm (ci|install|test|run)\b/.test(l)), `README.md line ${b.line}: a block that installs or tests needs <!-- readme-test: skip (why) -->`)
    const cwd = mkdtempSync(join(tmpdir(), 'provena-readme-'))
    for (const d of ['data', 'examples']) symlinkSync(join(repoRoot, d), join(cwd, d))
    const { script, readmeLine } = readmeScript(run)
    writeFileSync(join(cwd, 'readme.sh'), script)
    t.after(async () => void (await runCli(['node', 'stop', '--dir', join(cwd, '.provena')])))

    // The README's data dirs are throwaway: their keystores use the light scrypt cost (PROVENA_LIGHT_KDF, as geth's --lightkdf).
    const env: Record<string, string> = { PROVENA_REPO: repoRoot, PROVENA_LIGHT_KDF: '1' }
    for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith('PROVENA_')) env[k] = v
    // `node` is the Node 22 running this test, as npm makes it for `npx provena` and npm scripts.
    env.PATH = `${dirname(process.execPath)}${delimiter}${process.env.PATH ?? ''}`
    const started = performance.now()
    const r = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
      const child = spawn('bash', ['readme.sh'], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] })
      let stdout = ''
      let stderr = ''
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()))
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
      child.on('error', reject)
      child.on('close', (code) => resolve({ code, stdout, stderr }))
    })
    t.diagnostic(`README blocks ran in ${((performance.now() - started) / 1000).toFixed(1)} s`)
    const failed = /README_FAILED (\d+) (\d+)/.exec(r.stderr)
    if (failed) {
      const line = readmeLine(Number(failed[1]))
      assert.fail(`README.md line ${line} exited ${failed[2]}: ${README.split('\n')[line - 1]}\n--- stderr (end)\n${r.stderr.slice(-3000)}`)
    }
    assert.equal(r.code, 0, r.stderr.slice(-3000))
    assert.match(r.stdout, /README_DONE\n$/)
    // What the walk-through promises along the way.
    assert.match(r.stdout, /changed\s+line 42\b/, 'dataset verify names the tampered line')
    assert.match(r.stdout, /VERIFIED/)
    assert.match(r.stdout, /registered as model [0-9a-f]{16}/, 'the federated task registered its model')
    assert.ok(existsSync(join(cwd, 'lab.csv')) && existsSync(join(cwd, 'manifest.json')) && existsSync(join(cwd, 'global.safetensors')))
  })
})
