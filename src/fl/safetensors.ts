/** A float32 tensor. */
export interface Tensor {
  shape: number[]
  data: Float32Array
}

/**
 * Encodes tensors in the safetensors format (huggingface/safetensors): 8-byte
 * little-endian header length, a JSON header naming dtype, shape and byte offsets, then
 * the raw little-endian data. Tensors are laid out in name order, so equal inputs give
 * equal bytes (and equal digests).
 */
export function encodeSafetensors(tensors: Record<string, Tensor>, metadata: Record<string, string> = {}): Buffer {
  const names = Object.keys(tensors).sort()
  const header: Record<string, unknown> = {}
  if (Object.keys(metadata).length > 0) header.__metadata__ = metadata
  let offset = 0
  for (const name of names) {
    const t = tensors[name]!
    const count = t.shape.reduce((a, b) => a * b, 1)
    if (count !== t.data.length) throw new RangeError(`tensor ${name}: shape ${JSON.stringify(t.shape)} holds ${count} values, data has ${t.data.length}`)
    header[name] = { dtype: 'F32', shape: t.shape, data_offsets: [offset, offset + t.data.byteLength] }
    offset += t.data.byteLength
  }
  let json = JSON.stringify(header)
  json += ' '.repeat((8 - (json.length % 8)) % 8) // pad so the data starts 8-byte aligned
  const headerBytes = Buffer.from(json, 'utf8')
  const out = Buffer.alloc(8 + headerBytes.length + offset)
  out.writeBigUInt64LE(BigInt(headerBytes.length), 0)
  headerBytes.copy(out, 8)
  let at = 8 + headerBytes.length
  for (const name of names) {
    const d = tensors[name]!.data
    for (let i = 0; i < d.length; i++, at += 4) out.writeFloatLE(d[i]!, at)
  }
  return out
}

/** Decodes a safetensors buffer of F32 tensors. */
export function decodeSafetensors(buf: Buffer): { tensors: Record<string, Tensor>; metadata: Record<string, string> } {
  if (buf.length < 8) throw new RangeError('safetensors: shorter than its 8-byte header length')
  const n = Number(buf.readBigUInt64LE(0))
  if (8 + n > buf.length) throw new RangeError('safetensors: header runs past the end')
  const header = JSON.parse(buf.subarray(8, 8 + n).toString('utf8')) as Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>
  const tensors: Record<string, Tensor> = {}
  let metadata: Record<string, string> = {}
  for (const [name, h] of Object.entries(header)) {
    if (name === '__metadata__') {
      metadata = h as unknown as Record<string, string>
      continue
    }
    if (h.dtype !== 'F32') throw new RangeError(`safetensors: tensor ${name} is ${h.dtype}, only F32 is supported`)
    const [start, end] = h.data_offsets
    const data = new Float32Array((end - start) / 4)
    for (let i = 0; i < data.length; i++) data[i] = buf.readFloatLE(8 + n + start + i * 4)
    tensors[name] = { shape: h.shape, data }
  }
  return { tensors, metadata }
}
