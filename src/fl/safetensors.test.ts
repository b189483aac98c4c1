import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { decodeSafetensors, encodeSafetensors } from './index.js'

describe('safetensors codec', () => {
  it('round-trips F32 tensors and metadata; the same tensors give the same bytes', () => {
    const tensors = { w: { shape: [2, 3], data: Float32Array.of(1, -2, 3.5, 0, 1e-7, 42) }, b: { shape: [1], data: Float32Array.of(0.25) } }
    const bytes = encodeSafetensors(tensors, { trainer: 'test' })
    assert.ok(bytes.equals(encodeSafetensors({ b: tensors.b, w: tensors.w }, { trainer: 'test' })), 'name order does not matter')
    assert.equal((8 + Number(bytes.readBigUInt64LE(0))) % 8, 0, 'data starts 8-byte aligned')
    const back = decodeSafetensors(bytes)
    assert.deepEqual(back.metadata, { trainer: 'test' })
    assert.deepEqual(back.tensors.w, tensors.w)
    assert.deepEqual(back.tensors.b, tensors.b)
    assert.throws(() => encodeSafetensors({ x: { shape: [3], data: Float32Array.of(1) } }), /holds 3 values/)
    assert.throws(() => decodeSafetensors(Buffer.alloc(4)), /shorter/)
  })
})
