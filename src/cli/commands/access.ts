import { existsSync } from 'node:fs'
import type { Command } from 'commander'
import type { Hex } from 'viem'
import { findIdentity, unlockIdentity } from '../../access/index.js'
import { resolveDataDir } from '../../app/index.js'
import { ProvenaError } from '../../errors.js'
import { readMessageFile, readPinnedConsortium, writeMessageFile } from '../../node/index.js'
import { grantAccess, releaseAccess, requestAccess, revokeAccess } from '../../service/index.js'
import { emit, short, type CommonOptions } from '../output.js'
import { askPassphrase } from '../passphrase.js'
import { action, common, withChain, withDataPlane } from '../session.js'

function parseExpiry(text: string | undefined): number {
  if (text === undefined) return 0
  const t = Date.parse(text)
  if (Number.isNaN(t)) throw new ProvenaError('CLI_BAD_ARGUMENT', `--expires "${text}" is not an ISO 8601 time`, { hint: 'e.g. --expires 2027-06-30T00:00:00Z' })
  if (t <= Date.now()) throw new ProvenaError('ACCESS_EXPIRY_IN_PAST', `--expires ${text} is in the past`)
  return Math.floor(t / 1000)
}

export function registerAccess(program: Command): void {
  const access = program.command('access').description('on-chain access grants (AccessPolicy), key requests and releases between nodes')
  addKeyRelease(access)

  common(access.command('grant').argument('<dataset>', 'dataset id (or a unique prefix of 6+ hex digits; see provena dataset list)').description('let a member use a dataset for a purpose, decided on-chain'))
    .requiredOption('--to <who>', 'grantee: identity name or did:key')
    .requiredOption('--purpose <purpose>', 'e.g. dpv:ScientificResearch')
    .option('--expires <iso-time>', 'when the grant ends (default: never)')
    .requiredOption('--as <name>', 'the dataset\'s controller')
    .action(
      action(async (id: string, opts: CommonOptions & { to: string; purpose: string; expires?: string; as: string }) => {
        const dir = resolveDataDir(opts.dir)
        const expiresAt = parseExpiry(opts.expires)
        const grantee = resolveGrantee(dir, opts.to)
        const controller = unlockIdentity(dir, opts.as, await askPassphrase())
        await withChain(opts, async (p, chain) => {
          const r = await grantAccess({ p, chain }, { dataset: id, grantee, purpose: opts.purpose, expiresAt, as: controller })
          emit(opts, { dataset: r.dataset, grantee: r.grantee, purpose: r.purpose, expiresAt: r.expiresAt, transactionHash: r.transactionHash }, () =>
            `${r.already ? 'Already granted' : 'Granted'} ${grantee.name} dataset ${short(r.dataset)} for ${opts.purpose}${expiresAt ? ` until ${new Date(expiresAt * 1000).toISOString()}` : ''}${r.transactionHash ? ` (tx ${r.transactionHash})` : ''}`,
          )
        })
      }),
    )

  common(access.command('revoke').argument('<dataset>', 'dataset id (or a unique prefix of 6+ hex digits; see provena dataset list)').description("end a member's grants of a dataset"))
    .requiredOption('--to <who>', 'grantee: identity name or did:key')
    .option('--purpose <purpose>', 'only this purpose (default: every purpose granted)')
    .requiredOption('--as <name>', 'the dataset\'s controller')
    .action(
      action(async (id: string, opts: CommonOptions & { to: string; purpose?: string; as: string }) => {
        const dir = resolveDataDir(opts.dir)
        const grantee = resolveGrantee(dir, opts.to)
        const controller = unlockIdentity(dir, opts.as, await askPassphrase())
        await withChain(opts, async (p, chain) => {
          const r = await revokeAccess({ p, chain }, { dataset: id, grantee, purpose: opts.purpose, as: controller })
          emit(opts, { dataset: r.dataset, grantee: r.grantee, revokedPurposes: r.revokedPurposes }, () => `Revoked ${r.revokedPurposes.length} grant(s) of ${grantee.name} on dataset ${short(r.dataset)}`)
        })
      }),
    )
}

/**
 * The grantee `--to` names: an identity of this node (name or DID), else a member of the
 * pinned consortium (an identity of another node, by DID or name).
 */
function resolveGrantee(dir: string, to: string): { name: string; did: string; address: Hex } {
  try {
    return findIdentity(dir, to)
  } catch (error) {
    const member = readPinnedConsortium(dir)?.members.find((m) => m.did === to || m.name === to)
    if (!member) throw error
    return { name: member.name, did: member.did, address: member.address as Hex }
  }
}

/** Refuses an existing --out before anything is done (nothing half-written, no nonce spent). */
function checkOut(out: string, force: boolean | undefined): void {
  if (!force && existsSync(out)) throw new ProvenaError('CLI_OUT_EXISTS', `${out} exists already: nothing was done`, { hint: 'choose another --out, or add --force to replace it' })
}

function parseTtl(text: string | undefined): number | undefined {
  if (text === undefined) return undefined
  const s = Number(text)
  if (!Number.isSafeInteger(s) || s <= 0) throw new ProvenaError('CLI_BAD_ARGUMENT', `--ttl "${text}" is not a positive number of seconds`)
  return s * 1000
}

/** `access request` (the grantee's node) and `access release` (the controller's node): keys between nodes, as files. */
function addKeyRelease(access: Command): void {
  common(access.command('request').argument('<dataset>', 'dataset id (64 hex digits, as its controller published it)').description("sign a request for a dataset's keys, to send to its controller's node (a file)"))
    .requiredOption('--purpose <purpose>', 'the purpose of the grant, e.g. dpv:ScientificResearch')
    .requiredOption('--out <file>', 'where to write the request (a DSSE envelope)')
    .requiredOption('--as <name>', 'the identity of this node that asks (the grantee)')
    .option('--to <did>', "the controller's DID (default: the member that owns the dataset in AccessPolicy)")
    .option('--ttl <seconds>', 'how long the request stays valid (default: 86400)')
    .option('--force', 'replace --out if it exists')
    .action(
      action(async (dataset: string, opts: CommonOptions & { purpose: string; out: string; as: string; to?: string; ttl?: string; force?: boolean }) => {
        checkOut(opts.out, opts.force)
        const ttlMs = parseTtl(opts.ttl)
        const who = unlockIdentity(resolveDataDir(opts.dir), opts.as, await askPassphrase())
        await withDataPlane(opts, async (p, chain, plane) => {
          const r = await requestAccess({ p, chain, plane }, { dataset, purpose: opts.purpose, as: who, to: opts.to, ttlMs })
          writeMessageFile(opts.out, r.request, true)
          const { request: _, ...rest } = r
          emit(opts, { ...rest, out: opts.out }, () => `Requested the keys of dataset ${short(r.dataset)} for ${r.purpose} from ${r.to}: ${opts.out} (valid until ${r.expiresAt}; send it to the controller's node)`)
        })
      }),
    )

  common(access.command('release').argument('<request>', 'the request file (from provena access request on the grantee\'s node)').description('check a request (signature, membership, on-chain grant, consent) and seal the dataset\'s keys to the requester: logged, or refused and logged'))
    .requiredOption('--out <file>', 'where to write the key release (a DSSE envelope)')
    .requiredOption('--as <name>', "the dataset's controller")
    .option('--segments-out <dir>', 'also copy the ciphertext segments the release names into DIR, one file per segment named by its CID')
    .option('--ttl <seconds>', 'how long the release stays valid (default: 86400)')
    .option('--force', 'replace --out if it exists')
    .action(
      action(async (file: string, opts: CommonOptions & { out: string; as: string; segmentsOut?: string; ttl?: string; force?: boolean }) => {
        checkOut(opts.out, opts.force)
        const ttlMs = parseTtl(opts.ttl)
        const request = readMessageFile(file)
        const controller = unlockIdentity(resolveDataDir(opts.dir), opts.as, await askPassphrase())
        await withDataPlane(opts, async (p, chain, plane) => {
          const r = await releaseAccess({ p, chain, plane }, { request, as: controller, segmentsOut: opts.segmentsOut, ttlMs })
          writeMessageFile(opts.out, r.release, true)
          emit(
            opts,
            { out: opts.out, digest: r.digest, dataset: r.dataset, requester: r.requester, purpose: r.purpose, records: r.records, excluded: r.excluded, segments: r.body.segments.length, segmentsOut: opts.segmentsOut ?? null, logIndex: r.logIndex },
            () =>
              `Released the keys of ${r.records} record(s) of ${short(r.dataset)} to ${r.requester} for ${r.purpose}: ${opts.out}` +
              (Object.keys(r.excluded).length ? ` (left out: ${Object.entries(r.excluded).map(([why, n]) => `${n} ${why}`).join(', ')})` : '') +
              (opts.segmentsOut ? `; ${r.body.segments.length} segment(s) in ${opts.segmentsOut}` : ''),
          )
        })
      }),
    )
}
