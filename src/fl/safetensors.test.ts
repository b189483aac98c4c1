import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { decodeSafetensors, encodeSafetensors, type Tensor } from './index.js'

/** A safetensors file with `header` as its JSON header and `data` after it. */
function raw(header: unknown, data: Buffer = Buffer.alloc(0)): Buffer {
  const json = Buffer.from(JSON.stringify(header), 'utf8')
  const len = Buffer.alloc(8)
  len.writeBigUInt64LE(BigInt(json.length))
  return Buffer.concat([len, json, data])
}

describe('safetensors codec', () => {
  it('round-trips F32 tensors and metadata; the same tensors give the same bytes', () => {
    const tensors = { w: { shape: [2, 3], data: Float32Array.of(1, -2, 3.5, 0, 1e-7, 42) }, b: { shape: [1], data: Float32Array.of(0.25) } }
    const bytes = encodeSafetensors(tensors, { trainer: 'test' })
    assert.ok(bytes.equals(encodeSafetensors({ b: tensors.b, w: tensors.w }, { trainer: 'test' })), 'name order does not matter')
    assert.equal((8 + Number(bytes.readBigUInt64LE(0))) % 8, 0, 'data starts 8-byte aligned')
    const back = decodeSafetensors(bytes)
    assert.deepEqual({ ...back.metadata }, { trainer: 'test' })
    assert.deepEqual(back.tensors.w, tensors.w)
    assert.deepEqual(back.tensors.b, tensors.b)
    assert.throws(() => encodeSafetensors({ x: { shape: [3], data: Float32Array.of(1) } }), /holds 3 values/)
    assert.throws(() => decodeSafetensors(Buffer.alloc(4)), /shorter/)
  })

  it('keeps a tensor named __proto__ as a tensor (no prototype pollution, nothing dropped)', () => {
    const tensors = JSON.parse('{"__proto__": {"shape": [2], "data": null}, "w": {"shape": [1], "data": null}}') as Record<string, Tensor>
    tensors['__proto__']!.data = Float32Array.of(1, 2)
    tensors.w!.data = Float32Array.of(3)
    const back = decodeSafetensors(encodeSafetensors(tensors))
    assert.deepEqual(Object.keys(back.tensors).sort(), ['__proto__', 'w'])
    assert.deepEqual([...back.tensors['__proto__']!.data], [1, 2])
    assert.equal(Object.getPrototypeOf(back.tensors), null)
  })

  it('refuses headers whose tensors do not tile the data exactly, naming the tensor', () => {
    const f32 = (n: number): Buffer => Buffer.alloc(4 * n)
    const t = (shape: number[], a: number, b: number, dtype = 'F32') => ({ dtype, shape, data_offsets: [a, b] })
    const cases: [unknown, Buffer, RegExp][] = [
      [[1, 2], f32(0), /not a JSON object/],
      [{ w: t([2], 0, 4) }, f32(1), /needs 8 bytes/],
      [{ w: t([1], 0, 4) }, f32(2), /4 bytes after the last tensor/],
      [{ w: t([1], 4, 8) }, f32(2), /starts at byte 4, not 0/],
      [{ w: t([2], 0, 8), v: t([1], 4, 8) }, f32(2), /"v" starts at byte 4/],
      [{ w: t([1], 0, 4) }, f32(0), /ends at byte 4 of a 0-byte/],
      [{ w: t([-1], 0, 4) }, f32(1), /not a list of non-negative integers/],
      [{ w: t([1], 4, 0) }, f32(1), /begin <= end/],
      [{ w: t([1], 0, 4, 'F16') }, f32(1), /only F32/],
      [{ __metadata__: { a: 1 } }, f32(0), /__metadata__.a is not a string/],
    ]
    for (const [header, data, why] of cases) assert.throws(() => decodeSafetensors(raw(header, data)), why, JSON.stringify(header))
    const huge = Buffer.alloc(16)
    huge.writeBigUInt64LE(2n ** 63n)
    assert.throws(() => decodeSafetensors(huge), /runs past the end/)
    assert.throws(() => decodeSafetensors(Buffer.concat([Buffer.from([3, 0, 0, 0, 0, 0, 0, 0]), Buffer.from('{x}')])), /not JSON/)
  })

  it('decodes what it encodes, and any byte flipped in the header is refused or decodes to a valid file (property)', () => {
    const tensor = fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 1, maxLength: 3 }).chain((shape) =>
      fc.array(fc.float({ noNaN: true }), { minLength: shape.reduce((a, b) => a * b, 1), maxLength: shape.reduce((a, b) => a * b, 1) }).map((v) => ({ shape, data: Float32Array.from(v) })),
    )
    fc.assert(
      fc.property(fc.dictionary(fc.string({ minLength: 1, maxLength: 8 }).filter((k) => k !== '__metadata__'), tensor, { maxKeys: 4 }), fc.nat(), (tensors, flip) => {
        const bytes = encodeSafetensors(tensors)
        const back = decodeSafetensors(bytes)
        assert.deepEqual(Object.keys(back.tensors).sort(), Object.keys(tensors).sort())
        for (const [k, v] of Object.entries(tensors)) assert.deepEqual([...back.tensors[k]!.data], [...v.data])
        const bad = Buffer.from(bytes)
        const at = flip % bad.length
        bad[at] = bad[at]! ^ 0x20
        try {
          const d = decodeSafetensors(bad)
          // Accepted: then it is a well-formed file (tiles its data exactly).
          const total = Object.values(d.tensors).reduce((s, x) => s + x.data.byteLength, 0)
          assert.equal(total, bad.length - 8 - Number(bad.readBigUInt64LE(0)))
        } catch (e) {
          assert.ok(e instanceof RangeError || e instanceof SyntaxError, String(e))
        }
      }),
      { numRuns: 300 },
    )
  })
})
