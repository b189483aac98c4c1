import { statSync } from 'node:fs'
import { join } from 'node:path'
import type { Command } from 'commander'
import { openProvena, resolveDataDir } from '../../app/index.js'
import { FsBlobStore } from '../../store/index.js'
import { emit, type CommonOptions } from '../output.js'
import { action, common } from '../session.js'

export function registerStore(program: Command): void {
  const store = program.command('store').description('the encrypted block store')
  common(store.command('info').description('backend, blocks and bytes; --verify re-hashes every block'))
    .option('--verify', 'read every block back and check it against its CID')
    .action(
      action(async (opts: CommonOptions & { verify?: boolean }) => {
        const p = openProvena(resolveDataDir(opts.dir))
        try {
          const dir = join(p.dir, 'blobs')
          const s = new FsBlobStore(dir)
          let blocks = 0
          let bytes = 0
          for await (const cid of s.list()) {
            blocks++
            bytes += opts.verify ? (await s.get(cid)).length : statSync(join(dir, cid.slice(-2), cid)).size
          }
          const referenced = p.db.prepare('SELECT count(DISTINCT cid) FROM access_records').pluck().get() as number
          const info = { backend: s.kind, location: dir, blocks, bytes, referencedBlocks: referenced, verified: opts.verify === true }
          emit(opts, info, () =>
            [`backend    ${info.backend} (${dir})`, `blocks     ${blocks} (${referenced} referenced by imported datasets)`, `bytes      ${bytes}`, opts.verify ? 'verified   every block matches its CID' : ''].filter(Boolean).join('\n'),
          )
        } finally {
          p.close()
        }
      }),
    )
}
