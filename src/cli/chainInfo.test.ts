// `chain info` publishes the log's C2SP signed-note verifier key; an outsider verifies a
// checkpoint note with that string alone. The verifier below is written from the C2SP
// signed-note spec with node:crypto only: it shares no code with Provena's.
import assert from 'node:assert/strict'
import { createHash, createPublicKey, verify } from 'node:crypto'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { runCli } from '../testing.js'

/** A C2SP note verifier from a vkey "<name>+<hash hex 8>+<base64(0x01 ‖ key)>"; throws on a malformed vkey. */
function noteVerifier(vkey: string): { name: string; verify(note: string): boolean } {
  const m = /^([^+\s]+)\+([0-9a-f]{8})\+([A-Za-z0-9+/]+=*)$/.exec(vkey)
  assert.ok(m, `vkey "${vkey}" has the form name+hash+key`)
  const [, name, hash, b64] = m as unknown as [string, string, string, string]
  const keyBytes = Buffer.from(b64, 'base64')
  assert.deepEqual([keyBytes.length, keyBytes[0]], [33, 0x01], 'an Ed25519 key (type 0x01, 32 bytes)')
  const keyHash = createHash('sha256').update(`${name}\n`).update(keyBytes).digest().subarray(0, 4)
  assert.equal(keyHash.toString('hex'), hash, 'the key hash is SHA-256(name ‖ "\\n" ‖ 0x01 ‖ key)[:4]')
  const key = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: keyBytes.subarray(1).toString('base64url') }, format: 'jwk' })
  return {
    name,
    verify(note: string) {
      const sep = note.lastIndexOf('\n\n')
      if (sep < 0) return false
      const text = Buffer.from(note.slice(0, sep + 1), 'utf8')
      return note
        .slice(sep + 2)
        .split('\n')
        .filter((l) => l.startsWith(`\u2014 ${name} `))
        .some((l) => {
          const sig = Buffer.from(l.slice(`\u2014 ${name} `.length), 'base64')
          return sig.length === 68 && sig.subarray(0, 4).equals(keyHash) && verify(null, text, key, sig.subarray(4))
        })
    },
  }
}

describe('chain info: the log\'s C2SP vkey', () => {
  const dir = mkdtempSync(join(tmpdir(), 'provena-vkey-'))
  const cli = (...args: string[]) => runCli([...args, '--dir', dir])
  before(async () => {
    assert.equal((await cli('init')).code, 0)
    assert.equal((await cli('node', 'start')).code, 0)
  })
  after(async () => void (await cli('node', 'stop')))

  it('prints the vkey (text and --json); a note verifier built from it alone verifies the checkpoint note', async () => {
    const info = await cli('chain', 'info', '--json')
    assert.equal(info.code, 0, info.stderr)
    const { vkey, origin } = info.json<{ vkey: string; origin: string }>()
    const text = await cli('chain', 'info')
    assert.match(text.stdout, new RegExp(`^log vkey +${vkey.replace(/[+/]/g, '\\$&')}$`, 'm'))
    const cp = await cli('log', 'checkpoint', '--json')
    assert.equal(cp.code, 0, cp.stderr)
    const { note } = cp.json<{ note: string }>()
    const verifier = noteVerifier(vkey)
    assert.equal(verifier.name, origin)
    assert.equal(note.split('\n')[0], origin, "the note's first line is the log's origin")
    assert.ok(verifier.verify(note), 'the checkpoint note verifies')
    assert.equal(verifier.verify(note.replace(/^(.*\n)(\d+)/, (_, o: string, n: string) => `${o}${Number(n) + 1}`)), false, 'an altered size does not')
  })
})
