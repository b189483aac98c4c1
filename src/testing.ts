// Helpers shared by the tests (not part of the public API).
import assert from 'node:assert/strict'
import { createServer } from 'node:net'
import { spawn, type ChildProcess } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
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
import { revertOf } from './chain/outbox.js'
import { generatePrivateKey } from 'viem/accounts'
import { connectChain, ensureFunded, type ChainClient } from './chain/connect.js'

/** Anvil's first pre-funded dev account (public test mnemonic): a non-operator in tests. */
export const ANVIL_DEV_KEY_1 = '0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d' as const

/** A fresh embedded node in a temp dir, for one test file. */
export async function startTestChain(): Promise<{ rpcUrl: string; dir: string; stop(): Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), 'provena-test-chain-'))
  const info = await startEmbeddedNode(dir, true)
  return { rpcUrl: info.rpcUrl, dir, stop: async () => void (await stopEmbeddedNode(dir)) }
}


/** The result of one `provena` run. */
export interface CliRun {
  code: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
  /** stdout parsed as JSON (for --json runs). */
  json<T = Record<string, unknown>>(): T
}

/** The keystore passphrase runCli gives by default (`{PROVENA_PASSPHRASE: undefined}` runs without one). */
export const TEST_PASSPHRASE = 'pw for tests'

/**
 * Runs the built `provena` CLI with Node 22 (this process's node) and waits for it;
 * PROVENA_PASSPHRASE is TEST_PASSPHRASE and PROVENA_LIGHT_KDF is 1 (test data dirs are
 * throwaway: scrypt N = 2^12) unless `env` says otherwise.
 */
export function runCli(args: string[], env: Record<string, string | undefined> = {}): Promise<CliRun> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [join(repoRoot, 'bin', 'provena.js'), ...args], {
      env: { ...process.env, PROVENA_RPC_URL: undefined, PROVENA_FAULT: undefined, PROVENA_OPERATOR_KEY: undefined, PROVENA_PASSPHRASE: TEST_PASSPHRASE, PROVENA_LIGHT_KDF: '1', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()))
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
    child.on('error', reject)
    child.on('close', (code, signal) =>
      resolvePromise({
        code,
        signal,
        stdout,
        stderr,
        json<T>() {
          try {
            return JSON.parse(stdout) as T
          } catch {
            throw new Error(`not JSON (exit ${code}, signal ${signal}):\n${stdout}\n${stderr}`)
          }
        },
      }),
    )
  })
}

/** The custom error name a contract call reverts with; throws when it does not revert. */
export async function revertName(p: Promise<unknown>): Promise<string> {
  try {
    await p
  } catch (e) {
    const r = revertOf(e)
    if (r) return r.data?.errorName ?? 'unknown'
    throw e
  }
  throw new Error('expected a revert')
}

type Tuple<N extends number, T, R extends T[] = []> = R['length'] extends N ? R : Tuple<N, T, [...R, T]>

/** `n` chain clients with fresh keys, each funded from the node's dev accounts. */
export async function fundedClients<N extends number>(rpcUrl: string, n: N): Promise<Tuple<N, ChainClient>> {
  const out: ChainClient[] = []
  for (let i = 0; i < n; i++) {
    const c = await connectChain(rpcUrl, generatePrivateKey())
    await ensureFunded(c)
    out.push(c)
  }
  return out as Tuple<N, ChainClient>
}

/** An error run: exit `code`, one "provena: error:" line (and at most a hint), no stack, no "bug in Provena". */
export function assertOneLine(r: CliRun, code: number, pattern: RegExp): void {
  assert.equal(r.code, code, `exit ${r.code}\n${r.stdout}${r.stderr}`)
  const lines = r.stderr.trimEnd().split('\n')
  assert.match(lines[0]!, /^provena: error: /, r.stderr)
  assert.match(lines[0]!, pattern)
  assert.ok(lines.length <= 2 && (lines[1] === undefined || lines[1].startsWith('hint: ')), r.stderr)
  assert.doesNotMatch(r.stderr, /bug in Provena/)
}


/** A TCP port free on 127.0.0.1 now (for a node whose URL must be known before it listens). */
export async function freePort(): Promise<number> {
  const s = createServer()
  await new Promise<void>((resolve, reject) => s.once('error', reject).listen(0, '127.0.0.1', resolve))
  const port = (s.address() as { port: number }).port
  await new Promise((resolve) => s.close(resolve))
  return port
}

/** A `provena serve` child process of a test. */
export interface ServedNode {
  child: ChildProcess
  /** The JSON line it printed once listening ({url, did, pid, …}). */
  info: { url: string; did: string; pid: number } & Record<string, unknown>
  url: string
  stderr(): string
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>
  /** SIGTERM (when still running), then its exit code. */
  stop(): Promise<number | null>
}

/**
 * `provena serve --json` on `dir` as a real child process (its own passphrase, no
 * PROVENA_RPC_URL), once it printed the JSON line saying where it listens.
 */
export async function startServe(dir: string, opts: { passphrase?: string; port?: number; extra?: string[]; env?: Record<string, string | undefined> } = {}): Promise<ServedNode> {
  const child = spawn(process.execPath, [join(repoRoot, 'bin', 'provena.js'), 'serve', '--port', String(opts.port ?? 0), '--json', '--dir', dir, ...(opts.extra ?? [])], {
    env: { ...process.env, PROVENA_RPC_URL: undefined, PROVENA_PASSPHRASE: opts.passphrase ?? TEST_PASSPHRASE, PROVENA_LIGHT_KDF: '1', ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let stdout = ''
  let stderr = ''
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()))
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>((resolve) => child.on('close', (code, signal) => resolve({ code, signal, stderr })))
  const info = await new Promise<ServedNode['info']>((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => {
      stdout += d.toString()
      const nl = stdout.indexOf('\n')
      if (nl >= 0) resolve(JSON.parse(stdout.slice(0, nl)) as ServedNode['info'])
    })
    void exited.then((r) => reject(new Error(`serve exited ${r.code} before listening:\n${stdout}\n${r.stderr}`)))
  })
  return {
    child,
    info,
    url: info.url,
    stderr: () => stderr,
    exited,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM')
      return (await exited).code
    },
  }
}

/** Two organisations' nodes set up for a key release (see hospitalAndLab). */
export interface HospitalAndLab {
  H: string
  L: string
  /** The CLI on the hospital's data dir (its own passphrase). */
  hospital: (...args: string[]) => Promise<CliRun>
  /** The CLI on the lab's data dir (its own passphrase). */
  lab: (...args: string[]) => Promise<CliRun>
  labDid: string
  /** The hospital's imported dataset. */
  dataset: string
}

/**
 * Two nodes, one chain (issues 12 and 13): a hospital (st-mary, controller, the consortium's
 * admin, its embedded chain started) and a lab (joins with --rpc-url, identity `lab`, a
 * trainer, added to the consortium with its card). The hospital imports `subjects` (CSV
 * id,age) and records consent to `purpose`: every subject grants but P-3 (refuses) and
 * P-4 (silent). Separate data dirs, passphrases and processes. Stop with
 * `hospital('node', 'stop')`.
 */
export async function hospitalAndLab(work: string, subjects: readonly string[], purpose: string): Promise<HospitalAndLab> {
  const H = join(work, 'hospital')
  const L = join(work, 'lab')
  const file = (name: string) => join(work, name)
  const hospital = (...args: string[]) => runCli([...args, '--dir', H], { PROVENA_PASSPHRASE: 'pw-hospital' })
  const lab = (...args: string[]) => runCli([...args, '--dir', L], { PROVENA_PASSPHRASE: 'pw-lab' })
  const ok = (r: CliRun) => assert.equal(r.code, 0, r.stdout + r.stderr)
  ok(await hospital('init'))
  ok(await hospital('node', 'start'))
  const rpc = (await hospital('chain', 'info', '--json')).json<{ rpcUrl: string }>().rpcUrl
  ok(await hospital('identity', 'create', 'st-mary', '--role', 'controller'))
  ok(await hospital('consortium', 'create', '--out', file('consortium.json')))
  ok(await lab('init', '--join', file('consortium.json'), '--rpc-url', rpc))
  const created = await lab('identity', 'create', 'lab', '--role', 'trainer', '--json')
  ok(created)
  const labDid = created.json<{ did: string }>().did
  const card = await lab('identity', 'show', 'lab', '--json')
  ok(card)
  writeFileSync(file('card.json'), card.stdout)
  ok(await hospital('consortium', 'add-member', '--did', labDid, '--role', 'trainer', '--card', file('card.json'), '--out', file('consortium2.json')))
  ok(await lab('consortium', 'update', file('consortium2.json')))
  writeFileSync(file('patients.csv'), `id,age\n${subjects.map((s, i) => `${s},${30 + i}`).join('\n')}\n`)
  const imported = await hospital('dataset', 'import', file('patients.csv'), '--subject-column', 'id', '--as', 'st-mary', '--json')
  ok(imported)
  const dataset = imported.json<{ id: string }>().id
  writeFileSync(file('consent.csv'), `subject,purpose,action\n${subjects.filter((s) => s !== 'P-4').map((s) => `${s},${purpose},${s === 'P-3' ? 'refuse' : 'grant'}`).join('\n')}\n`)
  ok(await hospital('consent', 'import', file('consent.csv'), '--as', 'st-mary'))
  return { H, L, hospital, lab, labDid, dataset }
}

/** The hospitals of setUpFlNodes. */
export type FlHospital = 'st-mary' | 'st-luke'

/** The passphrases of the nodes of setUpFlNodes, each its own. */
export const FL_PASSPHRASES = { coordinator: 'pw-coordinator', 'st-mary': 'pw-mary', 'st-luke': 'pw-luke' } as const

/** The data dirs under `work` of a coordinator and two hospitals, and the CLI on each (its own passphrase). */
export function flNodePaths(work: string) {
  const C = join(work, 'coordinator')
  const H: Record<FlHospital, string> = { 'st-mary': join(work, 'st-mary'), 'st-luke': join(work, 'st-luke') }
  return {
    C,
    H,
    coordinator: (...args: string[]) => runCli([...args, '--dir', C], { PROVENA_PASSPHRASE: FL_PASSPHRASES.coordinator }),
    hospital: (name: FlHospital) => (...args: string[]) => runCli([...args, '--dir', H[name]], { PROVENA_PASSPHRASE: FL_PASSPHRASES[name] }),
  }
}

/**
 * A federated-learning consortium on one chain (issues 12 and 13): the coordinator's node
 * (identity `coordinator`, processor, the consortium's admin, its embedded chain started;
 * advertising `endpoint` when given) and two hospitals' nodes (st-mary, st-luke,
 * controllers, joined with --rpc-url, made members with their cards), separate data dirs
 * (flNodePaths), passphrases and processes. Each hospital imports `rows` breast-cancer
 * patients of its own, every one granting `purpose`. Stop with `coordinator('node', 'stop')`.
 */
export async function setUpFlNodes(work: string, o: { rows: number; purpose: string; endpoint?: string }) {
  const { coordinator, hospital } = flNodePaths(work)
  const file = (name: string) => join(work, name)
  const ok = (r: CliRun) => {
    assert.equal(r.code, 0, r.stdout + r.stderr)
    return r
  }
  const names = ['st-mary', 'st-luke'] as const
  const dataset: Record<FlHospital, string> = { 'st-mary': '', 'st-luke': '' }
  const address: Record<FlHospital, string> = { 'st-mary': '', 'st-luke': '' }
  const subjects: Record<FlHospital, string[]> = { 'st-mary': [], 'st-luke': [] }
  ok(await coordinator('init'))
  ok(await coordinator('node', 'start'))
  const url = (await coordinator('chain', 'info', '--json')).json<{ rpcUrl: string }>().rpcUrl
  ok(await coordinator('identity', 'create', 'coordinator', '--role', 'processor'))
  ok(await coordinator('consortium', 'create', '--out', file('consortium-1.json'), ...(o.endpoint ? ['--endpoint', o.endpoint] : [])))
  let n = 1
  for (const name of names) {
    const node = hospital(name)
    ok(await node('init', '--join', file(`consortium-${n}.json`), '--rpc-url', url))
    const did = ok(await node('identity', 'create', name, '--role', 'controller', '--json')).json<{ did: string }>().did
    ok(await node('chain', 'info')) // deploys the hospital's own CheckpointAnchor and ConsentVerifier
    const card = ok(await node('identity', 'show', name, '--json'))
    address[name] = card.json<{ address: string }>().address.toLowerCase()
    writeFileSync(file(`card-${name}.json`), card.stdout)
    ok(await coordinator('consortium', 'add-member', '--did', did, '--role', 'controller', '--card', file(`card-${name}.json`), '--out', file(`consortium-${n + 1}.json`)))
    n++
  }
  const [header, ...rows] = readFileSync(join(repoRoot, 'data', 'breast_cancer.csv'), 'utf8').trimEnd().split('\n')
  for (const name of names) {
    const node = hospital(name)
    ok(await node('consortium', 'update', file(`consortium-${n}.json`)))
    const part = rows.filter((_, i) => i % 4 === (name === 'st-mary' ? 0 : 1)).slice(0, o.rows)
    subjects[name] = part.map((l) => l.split(',')[0]!)
    writeFileSync(file(`${name}.csv`), `${header}\n${part.join('\n')}\n`)
    dataset[name] = ok(await node('dataset', 'import', file(`${name}.csv`), '--subject-column', 'patient_id', '--as', name, '--json')).json<{ id: string }>().id
    writeFileSync(file(`${name}-consent.csv`), `subject,purpose,action\n${subjects[name].map((s) => `${s},${o.purpose},grant`).join('\n')}\n`)
    ok(await node('consent', 'import', file(`${name}-consent.csv`), '--as', name))
  }
  return { dataset, address, subjects }
}
