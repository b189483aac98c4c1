import type { Command } from 'commander'
import { refuseIfServed } from '../../api/index.js'
import { checkStore, countReferencedBlocks, openProvena, resolveDataDir, updateConfig } from '../../app/index.js'
import { ProvenaError } from '../../errors.js'
import { migrateStore, openStore, STORE_BACKENDS, type StoreBackend, type StoreConfig } from '../../store/index.js'
import { emit, VerificationFailed, type CommonOptions } from '../output.js'
import { action, common } from '../session.js'

export function registerStore(program: Command): void {
  const store = program.command('store').description('the encrypted block store (fs or IPFS)')
  common(store.command('info').description('backend, blocks and bytes; --verify reads back every block the database refers to and every block present'))
    .option('--verify', 'check that every referenced block exists and matches its CID (and every block present); exit 3 naming each bad block')
    .action(
      action(async (opts: CommonOptions & { verify?: boolean }) => {
        const p = openProvena(resolveDataDir(opts.dir))
        const config = p.config.store ?? { backend: 'fs' as const }
        const backend = config.ipfsApi ? `ipfs (Kubo at ${config.ipfsApi})` : config.backend
        const s = await openStore(p.dir, config)
        try {
          if (!opts.verify) {
            let blocks = 0
            for await (const _ of s.list()) blocks++
            const referenced = countReferencedBlocks(p)
            const info = { backend, blocks, referencedBlocks: referenced, verified: false }
            emit(opts, info, () => [`backend    ${backend}`, `blocks     ${blocks} present, ${referenced} referenced by the database`].join('\n'))
            return
          }
          const c = await checkStore(p, s)
          const ok = c.bad.length === 0
          const info = { ok, backend, blocks: c.present, referencedBlocks: c.referenced, verified: ok, checked: c.checked, bytes: c.bytes, badBlocks: c.bad }
          emit(opts, info, () =>
            [
              `backend    ${backend}`,
              `blocks     ${c.present} present, ${c.referenced} referenced by the database`,
              ok
                ? `verified   all ${c.checked} blocks (every referenced one and every one present) exist and match their CIDs (${c.bytes} bytes)`
                : `FAILED     ${c.bad.length} bad block(s) of ${c.checked} checked (${c.bad.filter((b) => b.problem === 'missing').length} missing, ${c.bad.filter((b) => b.problem === 'corrupt').length} corrupt):`,
              ...c.bad.flatMap((b) => [`  ${b.cid} ${b.problem}: ${b.message}`, ...b.holds.map((h) => `      holds ${h}`)]),
              ...(ok ? [] : ['hint: restore the blocks from a backup of the data dir (blobs/) or from a peer; exports of what they hold fail until then']),
            ].join('\n'),
          )
          if (!ok) throw new VerificationFailed()
        } finally {
          await s.close?.()
          p.close()
        }
      }),
    )

  common(store.command('migrate').description('move every block to another backend, verifying each, then switch to it'))
    .requiredOption('--to <backend>', `one of ${STORE_BACKENDS.join(', ')}`)
    .option('--ipfs-api <url>', 'with --to ipfs: an external Kubo node\'s RPC API (e.g. http://127.0.0.1:5001) instead of the block repository in the data dir')
    .action(
      action(async (opts: CommonOptions & { to: string; ipfsApi?: string }) => {
        if (!(STORE_BACKENDS as readonly string[]).includes(opts.to)) throw new ProvenaError('CLI_BAD_ARGUMENT', `--to ${opts.to}: not a store backend (${STORE_BACKENDS.join(', ')})`)
        const dir = resolveDataDir(opts.dir)
        refuseIfServed(dir) // one writer: not under a running node
        const p = openProvena(dir)
        const fromConfig: StoreConfig = p.config.store ?? { backend: 'fs' }
        p.close()
        if (opts.ipfsApi && opts.to !== 'ipfs') throw new ProvenaError('CLI_BAD_ARGUMENT', '--ipfs-api goes with --to ipfs')
        const toConfig: StoreConfig = { backend: opts.to as StoreBackend, ...(opts.ipfsApi ? { ipfsApi: opts.ipfsApi } : {}) }
        const name = (c: StoreConfig) => (c.ipfsApi ? `ipfs (Kubo at ${c.ipfsApi})` : c.backend)
        const from = name(fromConfig)
        const to = name(toConfig)
        if (from === to) throw new ProvenaError('STORE_SAME_BACKEND', `the store is ${to} already`)
        const source = await openStore(dir, fromConfig)
        const target = await openStore(dir, toConfig)
        try {
          const r = await migrateStore(source, target, () => updateConfig(dir, (c) => ({ ...c, store: { backend: toConfig.backend, ...(toConfig.ipfsApi ? { ipfsApi: toConfig.ipfsApi } : {}) } })))
          emit(opts, { from, to, ...r, verified: true }, () => `Moved ${r.blocks} block(s), ${r.bytes} bytes, from ${from} to ${to}; every block verified against its CID`)
        } finally {
          await source.close?.()
          await target.close?.()
        }
      }),
    )
}
