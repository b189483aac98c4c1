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
  const header = Object.create(null) as Record<string, unknown> // a tensor may be named __proto__
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

/** The longest header a decoder reads (the format's own reference implementation caps it at 100 MB). */
export const MAX_SAFETENSORS_HEADER = 100_000_000

/**
 * Decodes a safetensors buffer of F32 tensors, strictly, as a file from another node must be:
 * the header is a JSON object of tensors (`dtype` F32, `shape` of non-negative integers,
 * `data_offsets` [begin, end] holding exactly the shape's values) and an optional
 * `__metadata__` of strings; the tensors' byte ranges tile the data section exactly, with
 * no gap, overlap or trailing byte. A name like `__proto__` is an ordinary tensor name
 * (the result has no prototype). Throws RangeError naming the first problem.
 */
export function decodeSafetensors(buf: Buffer): { tensors: Record<string, Tensor>; metadata: Record<string, string> } {
  if (buf.length < 8) throw new RangeError('safetensors: shorter than its 8-byte header length')
  const size = buf.readBigUInt64LE(0)
  if (size > BigInt(Math.min(MAX_SAFETENSORS_HEADER, buf.length - 8))) throw new RangeError(`safetensors: header length ${size} runs past the end of the ${buf.length}-byte file`)
  const n = Number(size)
  let header: unknown
  try {
    header = JSON.parse(buf.subarray(8, 8 + n).toString('utf8'))
  } catch (e) {
    throw new RangeError(`safetensors: header is not JSON (${(e as Error).message})`)
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) throw new RangeError('safetensors: header is not a JSON object')
  const dataLength = buf.length - 8 - n
  const tensors = Object.create(null) as Record<string, Tensor>
  const metadata = Object.create(null) as Record<string, string>
  const ranges: { name: string; start: number; end: number }[] = []
  for (const [name, h] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (typeof h !== 'object' || h === null || Array.isArray(h)) throw new RangeError('safetensors: __metadata__ is not an object of strings')
      for (const [k, v] of Object.entries(h)) {
        if (typeof v !== 'string') throw new RangeError(`safetensors: __metadata__.${k} is not a string`)
        metadata[k] = v
      }
      continue
    }
    const t = h as { dtype?: unknown; shape?: unknown; data_offsets?: unknown }
    if (typeof t !== 'object' || t === null) throw new RangeError(`safetensors: tensor ${JSON.stringify(name)} is not an object`)
    if (t.dtype !== 'F32') throw new RangeError(`safetensors: tensor ${JSON.stringify(name)} is ${JSON.stringify(t.dtype)}, only F32 is supported`)
    const shape = t.shape
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) throw new RangeError(`safetensors: tensor ${JSON.stringify(name)} has shape ${JSON.stringify(shape)}, not a list of non-negative integers`)
    const offsets = t.data_offsets
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isSafeInteger(o) && o >= 0) || offsets[0] > offsets[1]) {
      throw new RangeError(`safetensors: tensor ${JSON.stringify(name)} has data_offsets ${JSON.stringify(offsets)}, not [begin, end] with begin <= end`)
    }
    const [start, end] = offsets as [number, number]
    const count = (shape as number[]).reduce((a, b) => a * b, 1)
    if (end - start !== count * 4) throw new RangeError(`safetensors: tensor ${JSON.stringify(name)} of shape [${shape}] needs ${count * 4} bytes, its data_offsets span ${end - start}`)
    if (end > dataLength) throw new RangeError(`safetensors: tensor ${JSON.stringify(name)} ends at byte ${end} of a ${dataLength}-byte data section`)
    ranges.push({ name, start, end })
    tensors[name] = { shape: shape as number[], data: new Float32Array(0) }
  }
  ranges.sort((a, b) => a.start - b.start || a.end - b.end)
  let at = 0
  for (const r of ranges) {
    if (r.start !== at) throw new RangeError(`safetensors: tensor ${JSON.stringify(r.name)} starts at byte ${r.start}, not ${at}: the tensors must tile the data section without gap or overlap`)
    at = r.end
  }
  if (at !== dataLength) throw new RangeError(`safetensors: ${dataLength - at} bytes after the last tensor`)
  for (const r of ranges) {
    const data = new Float32Array((r.end - r.start) / 4)
    for (let i = 0; i < data.length; i++) data[i] = buf.readFloatLE(8 + n + r.start + i * 4)
    tensors[r.name]!.data = data
  }
  return { tensors, metadata }
}
