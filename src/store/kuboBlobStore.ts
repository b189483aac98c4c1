// Blocks in an external IPFS node (Kubo) through its RPC API (/api/v0, POST only):
// block/put (raw codec, sha2-256, pinned so the node's garbage collector keeps them),
// block/get and block/stat with offline=true (never wait for the network), pin/rm +
// block/rm to delete, pin/ls to list what this store pinned. Same CIDs as the fs store:
// every put is checked against the CID computed here, every get re-hashed.
import { cidOf, digestOfCid } from './cid.js'
import { storeErrors } from './errors.js'
import type { BlobStore } from './fsBlobStore.js'
import { ProvenaError } from '../errors.js'

export class KuboBlobStore implements BlobStore {
  readonly kind = 'ipfs'
  readonly #api: string

  constructor(apiUrl: string) {
    this.#api = apiUrl.replace(/\/+$/, '')
  }

  async #call(command: string, params: Record<string, string>, body?: FormData): Promise<Response> {
    const url = `${this.#api}/api/v0/${command}?${new URLSearchParams(params)}`
    let res: Response
    try {
      res = await fetch(url, { method: 'POST', ...(body ? { body } : {}) })
    } catch (cause) {
      throw new ProvenaError('STORE_IPFS_UNREACHABLE', `cannot reach the IPFS RPC API at ${this.#api}: ${(cause as Error).message}`, {
        hint: 'start the Kubo daemon (ipfs daemon) or check --ipfs-api',
        cause,
      })
    }
    return res
  }

  /** The error message of a failed RPC call ({"Message": …, "Type": "error"}). */
  static async #message(res: Response): Promise<string> {
    const text = await res.text()
    try {
      return (JSON.parse(text) as { Message?: string }).Message ?? text
    } catch {
      return text
    }
  }

  async put(bytes: Uint8Array): Promise<string> {
    const cid = cidOf(bytes)
    const form = new FormData()
    form.append('file', new Blob([bytes]), 'block')
    const res = await this.#call('block/put', { 'cid-codec': 'raw', mhtype: 'sha2-256', mhlen: '32', pin: 'true', 'allow-big-block': 'true' }, form)
    if (!res.ok) throw new ProvenaError('STORE_IPFS_ERROR', `IPFS block/put failed: ${await KuboBlobStore.#message(res)}`)
    const key = ((await res.json()) as { Key?: string }).Key
    if (key !== cid) throw storeErrors.corrupt(cid, String(key))
    return cid
  }

  async get(cid: string): Promise<Buffer> {
    const want = digestOfCid(cid)
    const res = await this.#call('block/get', { arg: cid, offline: 'true' })
    if (!res.ok) {
      const message = await KuboBlobStore.#message(res)
      if (/not found|could not find|offline/i.test(message)) throw storeErrors.missing(cid, 'IPFS (Kubo)')
      throw new ProvenaError('STORE_IPFS_ERROR', `IPFS block/get ${cid} failed: ${message}`)
    }
    const bytes = Buffer.from(await res.arrayBuffer())
    const got = cidOf(bytes)
    if (!digestOfCid(got).equals(want)) throw storeErrors.corrupt(cid, got)
    return bytes
  }

  async has(cid: string): Promise<boolean> {
    digestOfCid(cid)
    const res = await this.#call('block/stat', { arg: cid, offline: 'true' })
    if (res.ok) return true
    await res.body?.cancel()
    return false
  }

  async delete(cid: string): Promise<void> {
    const unpin = await this.#call('pin/rm', { arg: cid })
    await unpin.body?.cancel()
    const res = await this.#call('block/rm', { arg: cid, force: 'true' })
    if (!res.ok) throw new ProvenaError('STORE_IPFS_ERROR', `IPFS block/rm ${cid} failed: ${await KuboBlobStore.#message(res)}`)
    await res.body?.cancel()
  }

  async *list(): AsyncIterable<string> {
    const res = await this.#call('pin/ls', { type: 'recursive' })
    if (!res.ok) throw new ProvenaError('STORE_IPFS_ERROR', `IPFS pin/ls failed: ${await KuboBlobStore.#message(res)}`)
    const keys = ((await res.json()) as { Keys?: Record<string, unknown> }).Keys ?? {}
    // Only the raw sha2-256 blocks this store puts; anything else pinned on the node is not ours.
    for (const cid of Object.keys(keys).sort()) {
      try {
        digestOfCid(cid)
      } catch {
        continue
      }
      yield cid
    }
  }
}
