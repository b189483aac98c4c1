/**
 * A log entry in a few words, for messages that name it: its event type when it is JSON
 * with a string `type`, and its first bytes (printable ASCII as is, else hex).
 *
 * @example
 * describeEntry(Buffer.from('{"type":"test/v1","i":666}')) // 'test/v1: {"type":"test/v1","i":666}'
 */
export function describeEntry(leaf: Uint8Array, maxBytes = 48): string {
  const b = Buffer.from(leaf.buffer, leaf.byteOffset, leaf.byteLength)
  const head = b.subarray(0, maxBytes)
  const more = b.length > maxBytes ? `… (${b.length} bytes)` : ''
  const printable = head.every((c) => c >= 0x20 && c < 0x7f)
  const bytes = printable ? `${head.toString('latin1')}${more}` : `0x${head.toString('hex')}${more}`
  const type = topLevelType(b)
  return type ? `${type}: ${bytes}` : bytes
}

/** The string `type` member of a JSON object entry (at most 1 MiB), if any. */
function topLevelType(b: Buffer): string | undefined {
  if (b.length > 1 << 20 || b[0] !== 0x7b) return undefined
  try {
    const v = JSON.parse(b.toString('utf8')) as { type?: unknown }
    return typeof v.type === 'string' && /^[\x20-\x7e]{1,80}$/.test(v.type) ? v.type : undefined
  } catch {
    return undefined
  }
}
