import { createWriteStream, existsSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs'
import { basename, join } from 'node:path'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import type { Command } from 'commander'
import type { Provena } from '../../app/index.js'
import { datasetController, findIdentity, listIdentities, segmentsFromDir, unlockIdentity, type ExportReport } from '../../access/index.js'
import type { AssetKind } from '../../chain/index.js'
import { listAssets, MIN_ID_PREFIX, verifyDataset, type DatasetManifest, type DatasetRegistration } from '../../registry/index.js'
import { resolveDataDir } from '../../app/index.js'
import { ProvenaError } from '../../errors.js'
import { readMessageFile } from '../../node/index.js'
import { assetListing, exportForPurpose, exportFromNode, exportReleased, importEncrypted, registerDatasetFile, showAsset, type AnchoredAt, type AssetSummary } from '../../service/index.js'
import { EXPORT_REPORT_HEADER } from '../../api/routes/datasetWrite.js'
import { remoteCall, remoteFetch, remoteNode, type RemoteNode, type RemoteOptions } from '../remote.js'
import type { DsseEnvelope } from '../../crypto/index.js'
import { askPassphrase } from '../passphrase.js'
import { emit, progressBar, short, VerificationFailed, type CommonOptions } from '../output.js'
import { action, common, withChain, withDataPlane, withProvena } from '../session.js'

/** The dataset a release claims to be for (unverified: exportReleased checks it). */
const releasedDataset = (release: DsseEnvelope): string => {
  try {
    return String((JSON.parse(Buffer.from(release.payload, 'base64').toString('utf8')) as { dataset?: unknown }).dataset ?? '')
  } catch {
    return ''
  }
}

const lineList = (lines: (number | string)[]) => (lines.length > 20 ? `${lines.slice(0, 20).join(', ')}, … (${lines.length} in all)` : lines.join(', '))

/** Adds `<kind> list` to `parent`. */
export function addListCommand(parent: Command, kind: AssetKind): void {
  common(parent.command('list').description(`the registered ${kind}s: ids (a unique prefix of ${MIN_ID_PREFIX}+ hex digits names one), names, records, owners`)).action(
    action(async (opts: RemoteOptions) => {
      const node = kind === 'dataset' ? remoteNode(opts) : undefined
      const assets = node ? (await remoteCall<{ datasets: AssetSummary[] }>(node, 'GET', '/v1/datasets')).datasets : await withProvena(opts, async (p) => assetListing(p, kind))
      emit(opts, { [`${kind}s`]: assets }, () => assetListText(kind, assets))
    }),
  )
}

/** What `<kind> list` prints. */
export function assetListText(kind: AssetKind, assets: AssetSummary[]): string {
  return assets.length === 0
    ? `(no ${kind}s: provena ${kind} register FILE)`
    : assets
        .map((a) =>
          [
            a.id.slice(0, 16),
            a.name.padEnd(24),
            kind === 'dataset' ? `${String(a.records).padStart(9)} records  ${(a.format ?? '').padEnd(5)} ${a.encrypted ? 'encrypted' : 'in clear '}` : `trained on ${a.trainedOn?.map((t) => t.slice(0, 12)).join(', ')}`,
            a.registeredAt.slice(0, 19) + 'Z',
            a.owner.name ?? a.owner.did,
          ].join('  '),
        )
        .join('\n')
}

/** What `dataset register` prints. */
export function registrationText(r: DatasetRegistration & { checkpoint: AnchoredAt }): string {
  return [
    r.existing ? `Already registered: ${r.name}` : `Registered dataset ${r.name}`,
    `  id       ${r.id}`,
    `  root     ${r.root}`,
    `  records  ${r.records} (${r.format})`,
    `  log      entry ${r.logIndex}, anchored in checkpoint of size ${r.checkpoint.treeSize}`,
    r.transactionHash ? `  chain    tx ${r.transactionHash}` : '',
  ]
    .filter(Boolean)
    .join('\n')
}

/** What `dataset export` prints. */
export function exportText(r: ExportReport): string {
  const leftOut = exclusionList(r.excluded)
  const why = r.purpose === null ? ' (no purpose: the controller\'s own copy, no consent filter)' : ` for ${r.purpose}`
  return `Exported ${r.records} record(s) of ${short(r.dataset)} to ${r.out}${why}${leftOut.length ? `; left out: ${leftOut.join(', ')}` : ''}`
}

/** What `dataset show` prints. */
function assetText(a: AssetSummary & { manifest: unknown }): string {
  return [
    `Dataset ${a.name}`,
    `  id          ${a.id}`,
    `  root        ${a.root}`,
    `  records     ${a.records ?? '?'}${a.format ? ` (${a.format}${a.encrypted ? ', encrypted' : ', in clear'})` : ''}`,
    `  registered  ${a.registeredAt}, log entry ${a.logIndex}`,
    `  owner       ${a.owner.name ? `${a.owner.name} (${a.owner.did})` : a.owner.did}`,
  ].join('\n')
}

/** How an export names the records it left out, by reason. */
const EXCLUSION_WORDS: Record<string, string> = {
  erased: 'of erased subjects',
  refused: 'refused consent',
  withdrawn: 'withdrew consent',
  expired: 'whose consent expired',
  'no-consent': 'without consent',
  'not-yet-valid': 'whose consent is not valid yet',
  'other-dataset': 'whose consent is for another dataset',
}

/** The records left out, by reason, in EXCLUSION_WORDS' order (then any other reason). */
export function exclusionList(excluded: Record<string, number>): string[] {
  const order = Object.keys(EXCLUSION_WORDS)
  const rank = (why: string) => (order.includes(why) ? order.indexOf(why) : order.length)
  return Object.entries(excluded)
    .sort(([a], [b]) => rank(a) - rank(b) || (a < b ? -1 : 1))
    .map(([why, n]) => `${n} ${EXCLUSION_WORDS[why] ?? why}`)
}

const nameList = (names: string[]) => lineList(names.map((n) => JSON.stringify(n).slice(1, -1)))

/**
 * POST /v1/datasets/{id}/export: the records streamed into `out` (written whole, then
 * renamed: no half file on a failure), the report from the response's header.
 */
async function exportThroughNode(node: RemoteNode, id: string, opts: { purpose: string; as: string; out: string }): Promise<ExportReport> {
  const res = await remoteFetch(node, 'POST', `/v1/datasets/${encodeURIComponent(id)}/export`, { json: { purpose: opts.purpose, as: opts.as } })
  let report: Omit<ExportReport, 'out'>
  try {
    report = JSON.parse(res.headers.get(EXPORT_REPORT_HEADER) ?? '') as Omit<ExportReport, 'out'>
  } catch {
    throw new ProvenaError('API_NODE_BAD_ANSWER', `the node at ${node.url} sent an export without its report (${EXPORT_REPORT_HEADER})`)
  }
  const tmp = `${opts.out}.${process.pid}.part`
  try {
    await pipeline(Readable.fromWeb(res.body! as import('node:stream/web').ReadableStream), createWriteStream(tmp, { mode: 0o600 }))
    renameSync(tmp, opts.out)
  } catch (e) {
    rmSync(tmp, { force: true })
    throw e
  }
  return { ...report, out: opts.out }
}

export function registerDataset_(program: Command): void {
  const dataset = program.command('dataset').description('register datasets and check files against them')
  addListCommand(dataset, 'dataset')

  common(dataset.command('register').argument('<file>', 'CSV file with a header, JSON Lines file, or directory').description('commit every record and register the dataset on-chain'))
    .option('--name <name>', 'a name for people (default: the file name)')
    .action(
      action(async (file: string, opts: RemoteOptions & { name?: string }) => {
        const node = remoteNode(opts)
        if (node) {
          // The file is the body: a CSV or JSON Lines file, within the node's body limit.
          const type = /\.csv$/i.test(file) ? 'text/csv' : /\.(jsonl|ndjson)$/i.test(file) ? 'application/x-ndjson' : undefined
          if (!type || !existsSync(file) || !statSync(file).isFile()) {
            throw new ProvenaError('CLI_BAD_ARGUMENT', `${file}: through a node, dataset register sends one CSV (.csv) or JSON Lines (.jsonl) file`, { hint: "register a directory on the node's machine" })
          }
          const r = await remoteCall<DatasetRegistration & { checkpoint: AnchoredAt }>(node, 'POST', '/v1/datasets', { body: readFileSync(file), contentType: type, query: { name: opts.name ?? basename(file) } })
          emit(opts, r, () => registrationText(r))
          return
        }
        await withChain(opts, async (p, chain) => {
          const bar = progressBar('hashing')
          const r = await registerDatasetFile({ p, chain }, file, { name: opts.name, onProgress: bar.update }).finally(() => bar.end())
          emit(opts, r, () => registrationText(r))
        })
      }),
    )

  common(dataset.command('show').argument('<dataset>', 'dataset id (or a unique prefix of 6+ hex digits)').description('one dataset: its registration and manifest')).action(
    action(async (id: string, opts: RemoteOptions) => {
      const node = remoteNode(opts)
      const a = node
        ? await remoteCall<AssetSummary & { manifest: unknown }>(node, 'GET', `/v1/datasets/${encodeURIComponent(id)}`)
        : await withProvena(opts, async (p) => showAsset(p, id, 'dataset'))
      emit(opts, a, () => assetText(a))
    }),
  )

  common(dataset.command('import').argument('<file>', 'CSV file with a header, or JSON Lines file').description('register a dataset and store its records encrypted, one data key per subject'))
    .requiredOption('--subject-column <col>', 'the column (or JSON field) holding the subject id')
    .requiredOption('--as <name>', 'the controller identity that holds the keys')
    .option('--name <name>', 'a name for people (default: the file name)')
    .action(
      action(async (file: string, opts: CommonOptions & { subjectColumn: string; as: string; name?: string }) => {
        const controller = unlockIdentity(resolveDataDir(opts.dir), opts.as, await askPassphrase())
        await withDataPlane(opts, async (p, chain, plane) => {
          const reading = progressBar('reading')
          const encrypting = progressBar('encrypting', 'records')
          const r = await importEncrypted({ p, chain, plane }, file, {
            subjectColumn: opts.subjectColumn,
            controller,
            name: opts.name,
            onProgress: (phase, done, total) => (phase === 'reading' ? reading : (reading.end(), encrypting)).update(done, total),
          }).finally(() => (reading.end(), encrypting.end()))
          emit(opts, r, () =>
            [
              r.existing ? `Already imported: ${r.name}` : `Imported dataset ${r.name}, encrypted`,
              `  id        ${r.id}`,
              `  root      ${r.root}`,
              `  records   ${r.records} of ${r.subjects} subjects, AES-256-GCM under per-subject keys, in ${r.segments} segment(s)`,
              `  log       entry ${r.logIndex}, anchored in checkpoint of size ${r.checkpoint.treeSize}`,
            ].join('\n'),
          )
        })
      }),
    )

  common(dataset.command('export').argument('[dataset]', 'dataset id (or a unique prefix of 6+ hex digits; see provena dataset list); not needed with --release').description("decrypt a dataset into the format it was imported in, leaving out subjects whose consent for the purpose does not hold now; logged"))
    .requiredOption('--as <name>', 'who exports: the controller, a member with an on-chain grant, or (with --release) the identity the release is addressed to')
    .option('--purpose <purpose>', "why, e.g. dpv:ScientificResearch (recorded in the log; only subjects who consent to it now are exported); required but for the controller's own copy")
    .option('--release <file>', "a key release from the dataset's controller's node (provena access release), answering this node's request")
    .option('--segments <dir>', 'with --release: the directory holding the ciphertext segments, one file per CID (access release --segments-out)')
    .option('--from <url>', "the dataset's controller's node (provena serve): request, release and segments over HTTP in one command (needs --purpose; the dataset's full id)")
    .requiredOption('--out <file>', 'where to write it (not over an existing file, unless --force)')
    .option('--force', 'replace --out if it exists')
    .action(
      action(async (id: string | undefined, opts: RemoteOptions & { as: string; purpose?: string; release?: string; segments?: string; from?: string; out: string; force?: boolean }) => {
        if (existsSync(opts.out) && statSync(opts.out).isDirectory()) {
          throw new ProvenaError('CLI_OUT_IS_DIRECTORY', `${opts.out} is a directory: --out names the file to write`, { hint: `e.g. --out ${join(opts.out, 'export.csv')}` })
        }
        if (!opts.force && existsSync(opts.out)) {
          throw new ProvenaError('CLI_OUT_EXISTS', `${opts.out} exists already: nothing was exported`, { hint: 'choose another --out, or add --force to replace it' })
        }
        if (opts.release === undefined && id === undefined) throw new ProvenaError('CLI_BAD_ARGUMENT', 'name the dataset to export, or give --release FILE', { hint: 'provena dataset export DATASET --as NAME --out FILE' })
        if (opts.release !== undefined && opts.segments === undefined) throw new ProvenaError('CLI_BAD_ARGUMENT', '--release needs --segments DIR (where the controller published the ciphertext segments)')
        if (opts.release === undefined && opts.segments !== undefined) throw new ProvenaError('CLI_BAD_ARGUMENT', '--segments goes with --release')
        if (opts.from !== undefined && opts.release !== undefined) throw new ProvenaError('CLI_BAD_ARGUMENT', '--from asks the node for a release: not with --release')
        if (opts.from !== undefined && (id === undefined || opts.purpose === undefined)) {
          throw new ProvenaError('CLI_BAD_ARGUMENT', '--from needs the dataset id and --purpose', { hint: 'provena dataset export DATASET --from URL --purpose dpv:ScientificResearch --as NAME --out FILE' })
        }
        const node = remoteNode(opts)
        if (node && id !== undefined && opts.release === undefined && opts.from === undefined) {
          if (opts.purpose === undefined) throw new ProvenaError('CLI_BAD_ARGUMENT', 'through a node, dataset export needs --purpose (the controller\'s own copy is made on its machine)')
          const r = await exportThroughNode(node, id, { purpose: opts.purpose, as: opts.as, out: opts.out })
          emit(opts, r, () => exportText(r))
          return
        }
        if (node?.via === 'node') throw new ProvenaError('CLI_NOT_REMOTE', 'dataset export --release/--from runs on the exporting node\'s own data dir, not through --node')
        const release = opts.release === undefined ? undefined : readMessageFile(opts.release)
        const passphrase = await askPassphrase()
        const dir = resolveDataDir(opts.dir)
        const who = unlockIdentity(dir, opts.as, passphrase)
        await withDataPlane(opts, async (p, chain, plane) => {
          const bar = progressBar('decrypting', 'records')
          try {
            let r: ExportReport
            if (opts.from !== undefined) {
              r = await exportFromNode({ p, chain, plane }, { from: opts.from, dataset: id!, purpose: opts.purpose!, as: who, out: opts.out, onProgress: bar.update })
            } else if (release) {
              if (id !== undefined && !releasedDataset(release).startsWith(id.toLowerCase())) {
                throw new ProvenaError('CLI_BAD_ARGUMENT', `the release ${opts.release} is for dataset ${short(releasedDataset(release))}, not ${id}`)
              }
              r = await exportReleased({ p, chain, plane }, { release, as: who, segments: segmentsFromDir(opts.segments!), out: opts.out, purpose: opts.purpose, onProgress: bar.update })
            } else {
              r = await exportForPurpose(
                { p, chain, plane },
                {
                  dataset: id!,
                  as: who,
                  purpose: opts.purpose ?? null,
                  out: opts.out,
                  // Only an identity of this node's keystore: a lone node is its own consortium.
                  unlockController: (did) => unlockIdentity(dir, findIdentity(dir, did).name, passphrase),
                  onProgress: bar.update,
                },
              )
            }
            bar.end()
            emit(opts, r, () => exportText(r!))
          } finally {
            bar.end()
          }
        })
      }),
    )

  common(dataset.command('verify').argument('<file>', 'the dataset file to check').description('re-read a file and report which records changed, appeared or disappeared'))
    .requiredOption('--id <id>', 'the registered dataset id (or a unique prefix of 6+ hex digits; see provena dataset list)')
    .action(
      action(async (file: string, opts: CommonOptions & { id: string }) => {
        await withProvena(opts, async (p) => {
          const bar = progressBar('verifying')
          const v = await verifyDataset({ db: p.db, log: p.log, signer: p.signer, operatorDid: p.operatorDid }, file, opts.id, bar.update)
          bar.end()
          emit(opts, v, () => {
            const erased = v.erased.length ? ` (${v.erased.length} erased record(s) not checked: line ${lineList(v.erased)})` : ''
            if (v.ok) return `OK: the ${v.records - v.erased.length} records of ${short(v.id)} match ${file}${erased}`
            const out = [`TAMPERED: ${file} differs from dataset ${short(v.id)}`]
            if (v.schemaChanged) out.push('  the header (columns) changed')
            if (v.files) {
              // A directory: each record is one whole file, named by its path.
              if (v.files.changed.length) out.push(`  changed  file ${nameList(v.files.changed)}`)
              if (v.files.added.length) out.push(`  added    file ${nameList(v.files.added)}`)
              if (v.missing.length) out.push(`  missing  file ${lineList(v.missing.map((n) => `#${n}`))} of the registered listing (sorted by path; names are not stored)`)
            } else {
              if (v.changed.length) out.push(`  changed  line ${lineList(v.changed)}`)
              if (v.added.length) out.push(`  added    line ${lineList(v.added)}`)
              if (v.missing.length) out.push(`  missing  line ${lineList(v.missing)} (as registered)`)
            }
            if (v.erased.length) out.push(`  erased   line ${lineList(v.erased)} (subject erased: not checked)`)
            return out.join('\n')
          })
          if (!v.ok) throw new VerificationFailed()
        })
      }),
    )
}
