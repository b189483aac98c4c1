import { cryptoErrors } from './errors.js'

/**
 * RFC 8785 JSON Canonicalization Scheme (JCS): no whitespace, object members sorted by
 * the UTF-16 code units of their names (§3.2.3), numbers and strings serialised as
 * ECMAScript's JSON.stringify does (§3.2.2). Only I-JSON values: finite numbers, no lone
 * surrogates, no undefined or bigint.
 *
 * @example
 * canonicalJson({ b: 1, a: [true, 'x'] }) // '{"a":[true,"x"],"b":1}'
 */
export function canonicalJson(value: unknown): string {
  return serialize(value, '$')
}

/** UTF-8 bytes of canonicalJson(value). */
export function canonicalJsonBytes(value: unknown): Buffer {
  return Buffer.from(canonicalJson(value), 'utf8')
}

// String.prototype.isWellFormed (ES2024): false when the string holds a lone surrogate.
const isWellFormed = (s: string) => (s as unknown as { isWellFormed(): boolean }).isWellFormed()

function serialize(value: unknown, path: string): string {
  switch (typeof value) {
    case 'string':
      if (!isWellFormed(value)) throw cryptoErrors.nonCanonicalValue(path, 'a lone surrogate')
      return JSON.stringify(value)
    case 'number':
      if (!Number.isFinite(value)) throw cryptoErrors.nonCanonicalValue(path, String(value))
      return JSON.stringify(value)
    case 'boolean':
      return value ? 'true' : 'false'
    case 'object': {
      if (value === null) return 'null'
      if (Array.isArray(value)) return `[${value.map((v, i) => serialize(v, `${path}[${i}]`)).join(',')}]`
      if (ArrayBuffer.isView(value)) throw cryptoErrors.nonCanonicalValue(path, 'binary data (encode it first)')
      const obj = value as Record<string, unknown>
      // Array.prototype.sort compares UTF-16 code units: exactly RFC 8785 §3.2.3.
      const keys = Object.keys(obj).filter((k) => obj[k] !== undefined).sort()
      return `{${keys.map((k) => `${serialize(k, path)}:${serialize(obj[k], `${path}.${k}`)}`).join(',')}}`
    }
    default:
      throw cryptoErrors.nonCanonicalValue(path, typeof value)
  }
}
