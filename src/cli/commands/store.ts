import type { Command } from 'commander'
import { openProvena, resolveDataDir, updateConfig } from '../../app/index.js'
import { ProvenaError } from '../../errors.js'
import { migrateStore, openStore, STORE_BACKENDS, type StoreBackend } from '../../store/index.js'
import { emit, type CommonOptions } from '../output.js'
import { action, common } from '../session.js'

export function registerStore(program: Command): void {
  const store = program.command('store').description('the encrypted block store (fs or IPFS)')
  common(store.command('info').description('backend, blocks and bytes; --verify re-hashes every block'))
    .option('--verify', 'read every block back and check it against its CID')
    .action(
      action(async (opts: CommonOptions & { verify?: boolean }) => {
        const p = openProvena(resolveDataDir(opts.dir))
        const backend = p.config.store?.backend ?? 'fs'
        const s = await openStore(p.dir, backend)
        try {
          let blocks = 0
          let bytes = 0
          for await (const cid of s.list()) {
            blocks++
            if (opts.verify) bytes += (await s.get(cid)).length
          }
          const referenced = p.db.prepare('SELECT count(DISTINCT cid) FROM access_records').pluck().get() as number
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
    .action(
      action(async (opts: CommonOptions & { to: string }) => {
        if (!(STORE_BACKENDS as readonly string[]).includes(opts.to)) throw new ProvenaError('CLI_BAD_ARGUMENT', `--to ${opts.to}: not a store backend (${STORE_BACKENDS.join(', ')})`)
        const dir = resolveDataDir(opts.dir)
        const p = openProvena(dir)
        const from = p.config.store?.backend ?? 'fs'
        p.close()
        const to = opts.to as StoreBackend
        if (from === to) throw new ProvenaError('STORE_SAME_BACKEND', `the store is ${to} already`)
        const source = await openStore(dir, from)
        const target = await openStore(dir, to)
        try {
          const r = await migrateStore(source, target, () => updateConfig(dir, (c) => ({ ...c, store: { backend: to } })))
          emit(opts, { from, to, ...r, verified: true }, () => `Moved ${r.blocks} block(s), ${r.bytes} bytes, from ${from} to ${to}; every block verified against its CID`)
        } finally {
          await source.close?.()
          await target.close?.()
        }
      }),
    )
}
