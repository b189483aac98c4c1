import type { Command } from 'commander'
import { openProvena, resolveDataDir, updateConfig } from '../../app/index.js'
import { ProvenaError } from '../../errors.js'
import { migrateStore, openStore, STORE_BACKENDS, type StoreBackend, type StoreConfig } from '../../store/index.js'
import { emit, type CommonOptions } from '../output.js'
import { action, common } from '../session.js'

export function registerStore(program: Command): void {
  const store = program.command('store').description('the encrypted block store (fs or IPFS)')
  common(store.command('info').description('backend, blocks and bytes; --verify re-hashes every block'))
    .option('--verify', 'read every block back and check it against its CID')
    .action(
      action(async (opts: CommonOptions & { verify?: boolean }) => {
        const p = openProvena(resolveDataDir(opts.dir))
        const config = p.config.store ?? { backend: 'fs' as const }
        const backend = config.ipfsApi ? `ipfs (Kubo at ${config.ipfsApi})` : config.backend
        const s = await openStore(p.dir, config)
        try {
          let blocks = 0
          let bytes = 0
          for await (const cid of s.list()) {
            blocks++
            if (opts.verify) bytes += (await s.get(cid)).length
          }
          const referenced = p.db.prepare('SELECT count(*) FROM access_segments').pluck().get() as number
          const info = { backend, blocks, referencedBlocks: referenced, verified: opts.verify === true, ...(opts.verify ? { bytes } : {}) }
          emit(opts, info, () =>
            [`backend    ${backend}`, `blocks     ${blocks} (${referenced} referenced by imported datasets)`, opts.verify ? `verified   all ${blocks} blocks match their CIDs (${bytes} bytes)` : ''].filter(Boolean).join('\n'),
          )
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
