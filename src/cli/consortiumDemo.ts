// `provena demo --consortium`: the healthcare case between separate nodes over HTTP (issue 13).
// One chain; three hospitals, a coordinator (the consortium's admin, also the research lab)
// and an auditor, each its own data dir, passphrase and `provena serve` process on loopback.
// Setting up the data dirs is what each organisation's administrator does once with the CLI
// (init, identities, the consortium file, its datasets, its API tokens); everything after
// that goes over HTTP between the running nodes: consent through the hospitals' APIs, a
// cross-node export, federated training round by round, a withdrawal between rounds,
// cosigned checkpoints, and the auditor's mirror and verify.
import { spawn, type ChildProcess } from 'node:child_process'
import { closeSync, openSync, readFileSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { ProvenaError } from '../errors.js'

const BIN = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'bin', 'provena.js')
const PURPOSE = 'dpv:ScientificResearch'

/** The organisations of the demo: name, identity role, and whether it holds patients. */
const HOSPITALS = ['st-mary', 'st-john', 'st-luke'] as const
type Hospital = (typeof HOSPITALS)[number]
type NodeName = 'coordinator' | Hospital | 'auditor'
const NODES: readonly NodeName[] = ['coordinator', ...HOSPITALS, 'auditor']
const ROLE: Record<NodeName, string> = { coordinator: 'processor', 'st-mary': 'controller', 'st-john': 'controller', 'st-luke': 'controller', auditor: 'auditor' }

export interface ConsortiumDemoOptions {
  /** An empty directory: one data dir per node under it, and the shared files. */
  dir: string
  /** The breast-cancer CSV (split between the hospitals). */
  dataset: string
  /** Leave the chain and the nodes running at the end (they print how to stop them). */
  keep?: boolean
  say: (line?: string) => void
}

/** One `provena` run of the demo: its stdout, or an error naming the node and the command. */
interface Run {
  stdout: string
  json<T>(): T
}

/** A node of the demo: its data dir, passphrase, URL, and (once served) its process. */
interface DemoNode {
  name: NodeName
  dir: string
  passphrase: string
  url: string
  did?: string
  token?: string
  serve?: ChildProcess
}

/**
 * A node's environment: its passphrase; its keystore sealed with the light scrypt cost
 * (PROVENA_LIGHT_KDF: the demo's data dirs are throwaway, its passphrases printed).
 */
const demoEnv = (node: DemoNode): NodeJS.ProcessEnv => ({ ...process.env, PROVENA_PASSPHRASE: node.passphrase, PROVENA_LIGHT_KDF: '1', PROVENA_RPC_URL: undefined, PROVENA_DIR: undefined })

/** Free TCP ports on 127.0.0.1 (taken by the nodes a moment later). */
async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from({ length: n }, () => new Promise<ReturnType<typeof createServer>>((resolve, reject) => {
      const s = createServer()
      s.once('error', reject)
      s.listen(0, '127.0.0.1', () => resolve(s))
    })),
  )
  const ports = servers.map((s) => (s.address() as { port: number }).port)
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))))
  return ports
}

/** Runs `provena args` for `node` (its data dir and passphrase); a failure names both. */
function provena(node: DemoNode, args: string[], opts: { stdout?: string } = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args, '--dir', node.dir], {
      env: demoEnv(node),
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()))
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
    child.on('error', reject)
    child.on('close', (code) => {
      if (opts.stdout) writeFileSync(opts.stdout, stdout)
      if (code === 0) return resolve({ stdout, json: <T>() => JSON.parse(stdout) as T })
      // With --json the error is a JSON document on stdout; without, a line on stderr.
      let why = stderr.trim().split('\n')[0] ?? ''
      try {
        const doc = JSON.parse(stdout) as { error?: { message?: string }; failures?: { message?: string }[] }
        why = doc.error?.message ?? doc.failures?.[0]?.message ?? why
      } catch {
        /* stderr's line */
      }
      reject(new ProvenaError('DEMO_STEP_FAILED', `${node.name}: provena ${args.join(' ')} exited ${code}: ${why}`, { hint: `the node's data dir is ${node.dir}` }))
    })
  })
}

/** An HTTP call to a node with its API token; a problem (RFC 9457) becomes an error naming the node. */
async function api<T>(node: DemoNode, method: string, path: string, body?: unknown, token = node.token): Promise<T> {
  const res = await fetch(`${node.url}${path}`, {
    method,
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  })
  const text = await res.text()
  if (!res.ok) {
    let detail = text
    try {
      const problem = JSON.parse(text) as { code?: string; detail?: string; title?: string }
      detail = `${problem.code ?? ''} ${problem.detail ?? problem.title ?? ''}`.trim()
    } catch {
      /* text as is */
    }
    throw new ProvenaError('DEMO_STEP_FAILED', `${node.name}: ${method} ${path} answered ${res.status}: ${detail}`)
  }
  return (res.headers.get('content-type') ?? '').includes('json') ? (JSON.parse(text) as T) : (text as T)
}

/** Waits until `check` returns a value (polling), or fails naming `what`. */
async function until<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const end = Date.now() + timeoutMs
  for (let delay = 100; ; delay = Math.min(delay * 2, 1000)) {
    const v = await check().catch(() => undefined)
    if (v !== undefined) return v
    if (Date.now() > end) throw new ProvenaError('DEMO_STEP_FAILED', `timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, delay))
  }
}

/** Starts `provena serve` on `node` (its own process, logging to serve.log in its data dir) and waits until it answers. */
async function serve(node: DemoNode): Promise<void> {
  const port = new URL(node.url).port
  const log = openSync(join(node.dir, 'serve.log'), 'a')
  const child = spawn(process.execPath, [BIN, 'serve', '--port', port, '--json', '--dir', node.dir], {
    env: demoEnv(node),
    stdio: ['ignore', log, log],
    detached: true,
  })
  closeSync(log)
  node.serve = child
  let exited: number | null | undefined
  child.on('exit', (code) => (exited = code))
  await until(`${node.name}'s node to listen at ${node.url}`, async () => {
    if (exited !== undefined) throw new ProvenaError('DEMO_STEP_FAILED', `${node.name}: provena serve exited ${exited}; see ${join(node.dir, 'serve.log')}`)
    const r = await fetch(`${node.url}/healthz`)
    return r.ok ? true : undefined
  })
}

/** Stops a served node (SIGTERM: a last anchor, then exit) and waits for it. */
async function stopServe(node: DemoNode): Promise<void> {
  const child = node.serve
  if (!child || child.exitCode !== null || child.signalCode !== null) return
  const done = new Promise((r) => child.once('exit', r))
  child.kill('SIGTERM')
  await done
}

export interface ConsortiumDemoReport {
  dir: string
  chain: string
  /** Each node; `pid` is its serve process (left running with --keep). */
  nodes: { name: string; url: string; did: string; dir: string; pid: number | null }[]
  consent: Record<string, { granted: number; refused: number }>
  export: { records: number; excluded: Record<string, number>; out: string }
  federated: { task: number; rounds: { round: number; included: Record<string, number> }[]; finalModel: string | null; withdrawn: string; withdrawnExcluded: boolean }
  witnessed: Record<string, { treeSize: number; cosignatures: number }>
  audit: Record<string, { treeSize: number; cosigned: number; ok: boolean }>
  ok: boolean
}

/**
 * Runs the consortium demo in `opts.dir` (empty). Returns what happened; throws a
 * ProvenaError naming the node and step that failed. Nodes are stopped at the end unless
 * `keep`.
 */
export async function runConsortiumDemo(opts: ConsortiumDemoOptions): Promise<ConsortiumDemoReport> {
  const { dir, say } = opts
  const ports = await freePorts(NODES.length)
  const nodes = Object.fromEntries(
    NODES.map((name, i) => [name, { name, dir: join(dir, name), passphrase: `${name} passphrase (demo)`, url: `http://127.0.0.1:${ports[i]}` } satisfies DemoNode]),
  ) as Record<NodeName, DemoNode>
  const file = (name: string) => join(dir, name)
  const hospitals = HOSPITALS.map((h) => nodes[h])
  const members = NODES.filter((n) => n !== 'coordinator').map((n) => nodes[n])
  const step = (n: number, title: string) => say(`\n${n}. ${title}`)
  let chainStarted = false
  let finished = false
  try {
    step(1, 'Each organisation sets up its own node: data dir, passphrase, keys; the coordinator starts the chain and writes the consortium file')
    const C = nodes.coordinator
    await provena(C, ['init'])
    const rpc = (await provena(C, ['node', 'start', '--json'])).json<{ rpcUrl: string }>().rpcUrl
    chainStarted = true
    await provena(C, ['identity', 'create', 'coordinator', '--role', ROLE.coordinator])
    await provena(C, ['consortium', 'create', '--out', file('consortium.json'), '--endpoint', C.url])
    C.did = (await provena(C, ['identity', 'show', 'coordinator', '--json'])).json<{ did: string }>().did
    say(`   chain ${rpc} (anvil, one process); coordinator ${C.did.slice(0, 24)}… is the consortium's admin`)
    await Promise.all(
      members.map(async (m) => {
        await provena(m, ['init', '--join', file('consortium.json'), '--rpc-url', rpc])
        m.did = (await provena(m, ['identity', 'create', m.name, '--role', ROLE[m.name], '--json'])).json<{ did: string }>().did
        await provena(m, ['chain', 'info']) // deploys the member's own CheckpointAnchor and ConsentVerifier
        await provena(m, ['identity', 'show', m.name, '--json', '--endpoint', m.url], { stdout: file(`card-${m.name}.json`) })
      }),
    )
    for (const m of members) await provena(C, ['consortium', 'add-member', '--did', m.did!, '--role', ROLE[m.name], '--card', file(`card-${m.name}.json`), '--out', file('consortium.json'), '--force'])
    await Promise.all(members.map((m) => provena(m, ['consortium', 'update', file('consortium.json')])))
    say(`   ${NODES.length} members in ${file('consortium.json')}, signed by the admin; every node pins it`)

    step(2, 'Each hospital imports its patients encrypted and creates an API token for its staff')
    const [header, ...rows] = readFileSync(opts.dataset, 'utf8').trimEnd().split('\n')
    const patients: Record<Hospital, string[]> = { 'st-mary': [], 'st-john': [], 'st-luke': [] }
    const datasets: Partial<Record<Hospital, string>> = {}
    await Promise.all(
      HOSPITALS.map(async (h, i) => {
        const part = rows.filter((_, r) => r % 3 === i)
        patients[h] = part.map((l) => l.split(',')[0]!)
        writeFileSync(file(`${h}.csv`), `${header}\n${part.join('\n')}\n`)
        datasets[h] = (await provena(nodes[h], ['dataset', 'import', file(`${h}.csv`), '--subject-column', 'patient_id', '--as', h, '--json'])).json<{ id: string }>().id
        nodes[h].token = (await provena(nodes[h], ['token', 'create', '--as', h, '--role', 'controller', '--scope', 'consent:write', '--scope', 'fl:train', '--scope', 'datasets:read', '--scope', 'log:read', '--expires', '1d', '--json'])).json<{ token: string }>().token
        say(`   ${h}: ${part.length} patients, dataset ${datasets[h]!.slice(0, 12)}`)
      }),
    )
    // The coordinator is also the research lab that asks St Mary for data.
    await provena(nodes['st-mary'], ['access', 'grant', datasets['st-mary']!, '--to', C.did, '--purpose', PURPOSE, '--as', 'st-mary'])
    C.token = (await provena(C, ['token', 'create', '--as', 'coordinator', '--role', ROLE.coordinator, '--scope', 'fl:coordinate', '--scope', 'log:read', '--expires', '1d', '--json'])).json<{ token: string }>().token

    step(3, 'The nodes go on the network: `provena serve`, one process each')
    await Promise.all([...hospitals, nodes.auditor].map(serve))
    for (const n of [...hospitals, nodes.auditor]) say(`   ${n.name.padEnd(11)} ${n.url}  (${n.dir})`)

    step(4, "Patients' consent reaches each hospital's node through its API (POST /v1/consent)")
    const consent: ConsortiumDemoReport['consent'] = {}
    for (const h of HOSPITALS) {
      // Every 20th patient refuses research; the others grant it.
      const changes = patients[h].map((s, i) => ({ subject: s, purpose: PURPOSE, action: i % 20 === 7 ? 'refuse' : 'grant' }))
      await api(nodes[h], 'POST', '/v1/consent', { changes })
      consent[h] = { granted: changes.filter((c) => c.action === 'grant').length, refused: changes.filter((c) => c.action === 'refuse').length }
      say(`   ${h}: ${consent[h].granted} grants, ${consent[h].refused} refusals`)
    }

    step(5, "The lab's node (the coordinator's) exports St Mary's data for research: St Mary's node checks the chain and consent, seals the keys to the lab")
    const exported = (await provena(C, ['dataset', 'export', datasets['st-mary']!, '--from', nodes['st-mary'].url, '--purpose', PURPOSE, '--as', 'coordinator', '--out', file('lab-export.csv'), '--json'])).json<{ records: number; excluded?: Record<string, number> }>()
    say(`   ${exported.records} records in ${file('lab-export.csv')}; left out: ${JSON.stringify(exported.excluded ?? {})} (the refusals never left St Mary)`)

    step(6, "The coordinator's node serves too; it runs federated training with the three hospitals, round by round over HTTP")
    await serve(C)
    say(`   coordinator ${C.url}`)
    const federated = await federatedRounds(C, nodes, datasets as Record<Hospital, string>, patients, say)

    step(7, "Checkpoints cosigned by the other members' witnesses (C2SP tlog-witness), anchored on-chain with their cosignatures")
    const witnessed: ConsortiumDemoReport['witnessed'] = {}
    for (const n of [C, ...hospitals]) {
      // The node's own verify (GET /v1/verify?quorum=2): its log against the chain, and 2 cosignatures on-chain on its newest anchored checkpoint.
      witnessed[n.name] = await until(`${n.name}'s newest anchored checkpoint to carry 2 cosignatures on-chain`, async () => {
        const v = await api<{ ok: boolean; quorum?: { checkpoints: { treeSize: number; verified: number }[] } }>(n, 'GET', '/v1/verify?quorum=2')
        const latest = v.quorum?.checkpoints.at(-1)
        return v.ok && latest ? { treeSize: latest.treeSize, cosignatures: latest.verified } : undefined
      }, 90_000)
      say(`   ${n.name.padEnd(11)} size ${witnessed[n.name]!.treeSize} anchored with ${witnessed[n.name]!.cosignatures} valid cosignatures`)
    }

    step(8, "The auditor mirrors every member's log over plain HTTP GETs (tlog-tiles), checks each against the last, with a quorum of 2 witnesses")
    const audit: ConsortiumDemoReport['audit'] = {}
    for (const n of [C, ...hospitals]) {
      const r = (await provena(nodes.auditor, ['audit', 'mirror', `${n.url}/log`, '--member', n.did!, '--quorum', '2', '--json'])).json<{ ok: boolean; checkpoint: { treeSize: number }; cosignatures?: { verified: number } }>()
      audit[n.name] = { treeSize: r.checkpoint.treeSize, cosigned: r.cosignatures?.verified ?? 0, ok: r.ok }
      say(`   ${n.name.padEnd(11)} mirrored size ${r.checkpoint.treeSize}, ${audit[n.name]!.cosigned} valid cosignatures: ${r.ok ? 'OK' : 'FAILED'}`)
    }

    const ok = federated.withdrawnExcluded && federated.finalModel !== null && Object.values(audit).every((a) => a.ok)
    const report: ConsortiumDemoReport = {
      dir,
      chain: rpc,
      nodes: NODES.map((n) => ({ name: n, url: nodes[n].url, did: nodes[n].did ?? '', dir: nodes[n].dir, pid: nodes[n].serve?.pid ?? null })),
      consent,
      export: { records: exported.records, excluded: exported.excluded ?? {}, out: file('lab-export.csv') },
      federated,
      witnessed,
      audit,
      ok,
    }
    say(`\n${ok ? 'Done' : 'FAILED'}: the consortium's nodes ${opts.keep ? 'keep running' : 'stop now'}.`)
    if (opts.keep) {
      for (const n of NODES) say(`   ${n.padEnd(11)} ${nodes[n].url}/docs   PROVENA_PASSPHRASE='${nodes[n].passphrase}' npx provena … --dir ${nodes[n].dir}`)
      say(`   stop them: kill ${NODES.map((n) => nodes[n].serve?.pid).join(' ')}; npx provena node stop --dir ${C.dir}`)
    }
    finished = true
    return report
  } finally {
    // --keep leaves the nodes running only after a run that finished: a failed one stops them all.
    if (!opts.keep || !finished) {
      await Promise.all(NODES.map((n) => stopServe(nodes[n])))
      if (chainStarted) await provena(nodes.coordinator, ['node', 'stop']).catch(() => undefined)
    } else {
      for (const n of NODES) nodes[n].serve?.unref()
    }
  }
}

interface ClientReport {
  round: number
  manifest: { included: number; excluded: number }
}
interface TaskStatus {
  round: number
  done: boolean
  finalModel: string | null
}

/**
 * Federated training over HTTP: the coordinator's API creates the task (on-chain, published
 * on its node); each round, each hospital's API runs its client against the coordinator's
 * node (task and model fetched and checked, consent gate, update sealed, commitment
 * on-chain, delivered); the coordinator's `serve` aggregates once all delivered. After round
 * 1, one of St John's patients withdraws through St John's API: round 2's manifest from St
 * John leaves that patient out.
 */
async function federatedRounds(
  C: DemoNode,
  nodes: Record<NodeName, DemoNode>,
  datasets: Record<Hospital, string>,
  patients: Record<Hospital, string[]>,
  say: (line?: string) => void,
): Promise<ConsortiumDemoReport['federated']> {
  const ROUNDS = 2
  const { task } = await api<{ task: number }>(C, 'POST', '/v1/fl/tasks', {
    model: { type: 'logistic' },
    features: 30,
    purpose: PURPOSE,
    participants: [...HOSPITALS],
    rounds: ROUNDS,
    maxUpdateNorm: 1000,
  })
  say(`   task ${task}: logistic regression, ${ROUNDS} rounds, participants ${HOSPITALS.join(', ')} (POST ${C.url}/v1/fl/tasks)`)
  // A patient of St John who granted consent (not one of the refusals).
  const withdrawn = patients['st-john'].find((_, i) => i % 20 !== 7)!
  const rounds: ConsortiumDemoReport['federated']['rounds'] = []
  let finalModel: string | null = null
  for (let round = 1; round <= ROUNDS; round++) {
    if (round === 2) {
      await api(nodes['st-john'], 'POST', '/v1/consent', { changes: [{ subject: withdrawn, purpose: PURPOSE, action: 'withdraw' }] })
      say(`   patient ${withdrawn} withdraws consent at St John's node (POST /v1/consent)`)
    }
    const reports = await Promise.all(HOSPITALS.map((h) => api<ClientReport>(nodes[h], 'POST', `/v1/fl/tasks/${task}/train`, { dataset: datasets[h], coordinator: C.url })))
    const included = Object.fromEntries(HOSPITALS.map((h, i) => [h, reports[i]!.manifest.included]))
    say(`   round ${round}: each hospital's node trained on its consented records (${HOSPITALS.map((h) => `${h} ${included[h]}`).join(', ')}), committed on-chain, delivered to the coordinator`)
    const status = await until(`the coordinator's node to aggregate round ${round}`, async () => {
      const st = await api<TaskStatus>(C, 'GET', `/v1/fl/tasks/${task}/status`)
      return st.done || st.round > round ? st : undefined
    }, 120_000)
    rounds.push({ round, included })
    if (status.done) finalModel = status.finalModel
    say(`   round ${round} aggregated by the coordinator's node${status.done ? `: final model ${status.finalModel?.slice(0, 12)}…` : ''}`)
  }
  const withdrawnExcluded = rounds[1]!.included['st-john']! === rounds[0]!.included['st-john']! - 1
  say(`   St John's round-2 manifest has ${rounds[1]!.included['st-john']} records, ${withdrawnExcluded ? 'one fewer: the withdrawal is honoured' : 'NOT one fewer'}`)
  return { task, rounds, finalModel, withdrawn, withdrawnExcluded }
}
