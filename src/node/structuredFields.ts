// RFC 8941 Structured Field Values, the part HTTP Message Signatures (RFC 9421) and
// Content-Digest (RFC 9530) need: dictionaries whose members are items or inner lists,
// with parameters; bare items that are integers, strings, tokens, byte sequences and
// booleans. Decimals are not used by either and are refused.
//
// Stricter than RFC 8941 on purpose (a signature header has one reading, and one
// encoding): a repeated dictionary key or parameter is refused (§4.2.2 would let the last
// one win), and a byte sequence must be canonical padded base64 (§4.2.7 asks parsers to
// accept missing padding and non-zero pad bits; we refuse both, so a changed character of a
// signature is always a changed signature).

/** A bare item (RFC 8941 §3.3), tagged with its type. */
export type SfBareItem =
  | { type: 'integer'; value: number }
  | { type: 'string'; value: string }
  | { type: 'token'; value: string }
  | { type: 'bytes'; value: Uint8Array }
  | { type: 'boolean'; value: boolean }

/** Parameters in their order (§3.1.2); keys are unique. */
export type SfParameters = [key: string, value: SfBareItem][]

export interface SfItem {
  kind: 'item'
  item: SfBareItem
  params: SfParameters
}

export interface SfInnerList {
  kind: 'innerList'
  items: SfItem[]
  params: SfParameters
}

export type SfDictionary = Map<string, SfItem | SfInnerList>

/** A structured field that does not parse: `at` is the 0-based offset of the first bad character. */
export class SfParseError extends Error {
  override readonly name = 'SfParseError'
  constructor(
    message: string,
    readonly at: number,
  ) {
    super(`${message} at character ${at + 1}`)
  }
}

const MAX_INTEGER = 999_999_999_999_999
const LCALPHA = /[a-z]/
const KEY_CHAR = /[a-z0-9_\-.*]/
const ALPHA = /[A-Za-z]/
const DIGIT = /[0-9]/
// tchar (RFC 9110 §5.6.2) plus ":" and "/" (RFC 8941 §3.3.4).
const TOKEN_CHAR = /[!#$%&'*+\-.^_`|~0-9A-Za-z:/]/
const BASE64_CHAR = /[A-Za-z0-9+/=]/

/**
 * Parses a Dictionary field value (RFC 8941 §4.2.2). Throws SfParseError naming the offset.
 *
 * @example
 * parseSfDictionary('sig1=("@method");created=1618884473')
 * // Map { 'sig1' => { kind: 'innerList', items: [{ kind: 'item', item: { type: 'string', value: '@method' }, params: [] }], params: [['created', { type: 'integer', value: 1618884473 }]] } }
 */
export function parseSfDictionary(input: string): SfDictionary {
  const p = new Parser(input)
  p.skip(' ')
  const out: SfDictionary = new Map()
  if (p.done()) return out
  for (;;) {
    const keyAt = p.i
    const key = p.key()
    let member: SfItem | SfInnerList
    if (p.peek() === '=') {
      p.i++
      member = p.peek() === '(' ? p.innerList() : p.item()
    } else {
      member = { kind: 'item', item: { type: 'boolean', value: true }, params: p.parameters() }
    }
    if (out.has(key)) throw new SfParseError(`the key "${key}" is repeated`, keyAt)
    out.set(key, member)
    p.skipOws()
    if (p.done()) return out
    if (p.peek() !== ',') throw new SfParseError('expected "," between members', p.i)
    p.i++
    p.skipOws()
    if (p.done()) throw new SfParseError('a trailing ","', p.i)
  }
}

class Parser {
  i = 0
  constructor(private readonly s: string) {}

  done(): boolean {
    // Trailing SP is discarded (RFC 8941 §4.2 step 6 only allows it after the value).
    let j = this.i
    while (this.s[j] === ' ') j++
    return j >= this.s.length
  }

  peek(): string | undefined {
    return this.s[this.i]
  }

  skip(c: string): void {
    while (this.s[this.i] === c) this.i++
  }

  skipOws(): void {
    while (this.s[this.i] === ' ' || this.s[this.i] === '\t') this.i++
  }

  key(): string {
    const start = this.i
    const c = this.peek()
    if (c === undefined || !(LCALPHA.test(c) || c === '*')) throw new SfParseError('expected a key (lowercase letter or "*")', this.i)
    this.i++
    while (this.i < this.s.length && KEY_CHAR.test(this.s[this.i]!)) this.i++
    return this.s.slice(start, this.i)
  }

  innerList(): SfInnerList {
    this.i++ // "("
    const items: SfItem[] = []
    for (;;) {
      this.skip(' ')
      if (this.i >= this.s.length) throw new SfParseError('an inner list without its ")"', this.i)
      if (this.peek() === ')') {
        this.i++
        return { kind: 'innerList', items, params: this.parameters() }
      }
      items.push(this.item())
      const c = this.peek()
      if (c === undefined) throw new SfParseError('an inner list without its ")"', this.i)
      if (c !== ' ' && c !== ')') throw new SfParseError('expected " " or ")" after an item of an inner list', this.i)
    }
  }

  item(): SfItem {
    const item = this.bareItem()
    return { kind: 'item', item, params: this.parameters() }
  }

  parameters(): SfParameters {
    const params: SfParameters = []
    while (this.peek() === ';') {
      this.i++
      this.skip(' ')
      const keyAt = this.i
      const key = this.key()
      let value: SfBareItem = { type: 'boolean', value: true }
      if (this.peek() === '=') {
        this.i++
        value = this.bareItem()
      }
      if (params.some(([k]) => k === key)) throw new SfParseError(`the parameter "${key}" is repeated`, keyAt)
      params.push([key, value])
    }
    return params
  }

  bareItem(): SfBareItem {
    const c = this.peek()
    if (c === undefined) throw new SfParseError('expected an item, found the end', this.i)
    if (c === '-' || DIGIT.test(c)) return this.integer()
    if (c === '"') return this.string()
    if (c === ':') return this.bytes()
    if (c === '?') return this.boolean()
    if (ALPHA.test(c) || c === '*') return this.token()
    throw new SfParseError(`unexpected "${c}" where an item starts`, this.i)
  }

  integer(): SfBareItem {
    const start = this.i
    let sign = 1
    if (this.peek() === '-') {
      sign = -1
      this.i++
    }
    const digitsAt = this.i
    while (this.i < this.s.length && DIGIT.test(this.s[this.i]!)) this.i++
    const digits = this.s.slice(digitsAt, this.i)
    if (digits.length === 0) throw new SfParseError('expected a digit', this.i)
    if (this.peek() === '.') throw new SfParseError('decimals are not used here', this.i)
    if (digits.length > 15) throw new SfParseError('an integer of more than 15 digits', start)
    const value = sign * Number(digits)
    if (Math.abs(value) > MAX_INTEGER) throw new SfParseError('an integer out of range', start)
    return { type: 'integer', value }
  }

  string(): SfBareItem {
    this.i++ // '"'
    let out = ''
    for (;;) {
      if (this.i >= this.s.length) throw new SfParseError('a string without its closing quote', this.i)
      const c = this.s[this.i]!
      this.i++
      if (c === '\\') {
        const next = this.s[this.i]
        if (next !== '"' && next !== '\\') throw new SfParseError('a backslash not followed by " or \\', this.i - 1)
        out += next
        this.i++
      } else if (c === '"') {
        return { type: 'string', value: out }
      } else {
        const code = c.charCodeAt(0)
        if (code < 0x20 || code > 0x7e) throw new SfParseError('a character outside printable ASCII in a string', this.i - 1)
        out += c
      }
    }
  }

  token(): SfBareItem {
    const start = this.i
    this.i++
    while (this.i < this.s.length && TOKEN_CHAR.test(this.s[this.i]!)) this.i++
    return { type: 'token', value: this.s.slice(start, this.i) }
  }

  bytes(): SfBareItem {
    const start = this.i
    this.i++ // ":"
    const from = this.i
    while (this.i < this.s.length && BASE64_CHAR.test(this.s[this.i]!)) this.i++
    if (this.peek() !== ':') throw new SfParseError('a byte sequence without its closing ":" (or a character outside base64)', this.i)
    const b64 = this.s.slice(from, this.i)
    this.i++
    const value = Buffer.from(b64, 'base64')
    if (value.toString('base64') !== b64) throw new SfParseError('a byte sequence that is not canonical padded base64', start)
    return { type: 'bytes', value: new Uint8Array(value.buffer, value.byteOffset, value.length) }
  }

  boolean(): SfBareItem {
    this.i++ // "?"
    const c = this.peek()
    if (c !== '0' && c !== '1') throw new SfParseError('a boolean that is not ?0 or ?1', this.i)
    this.i++
    return { type: 'boolean', value: c === '1' }
  }
}

/** Serializes a bare item (RFC 8941 §4.1.3). Throws TypeError on a value it cannot carry. */
export function serializeSfBareItem(item: SfBareItem): string {
  switch (item.type) {
    case 'integer':
      if (!Number.isInteger(item.value) || Math.abs(item.value) > MAX_INTEGER) throw new TypeError(`not a structured-field integer: ${item.value}`)
      return String(item.value)
    case 'string':
      if (!/^[\x20-\x7e]*$/.test(item.value)) throw new TypeError('a structured-field string holds printable ASCII only')
      return `"${item.value.replace(/[\\"]/g, (c) => `\\${c}`)}"`
    case 'token':
      if (!/^[A-Za-z*][!#$%&'*+\-.^_`|~0-9A-Za-z:/]*$/.test(item.value)) throw new TypeError(`not a structured-field token: ${item.value}`)
      return item.value
    case 'bytes':
      return `:${Buffer.from(item.value).toString('base64')}:`
    case 'boolean':
      return item.value ? '?1' : '?0'
  }
}

/** Serializes parameters (§4.1.1.2): a true boolean is the bare key. */
export function serializeSfParameters(params: SfParameters): string {
  return params.map(([k, v]) => (v.type === 'boolean' && v.value ? `;${k}` : `;${k}=${serializeSfBareItem(v)}`)).join('')
}

/** Serializes an item or an inner list (§4.1.3, §4.1.1.1). */
export function serializeSfMember(member: SfItem | SfInnerList): string {
  if (member.kind === 'item') return serializeSfBareItem(member.item) + serializeSfParameters(member.params)
  return `(${member.items.map(serializeSfMember).join(' ')})${serializeSfParameters(member.params)}`
}

/** Serializes a dictionary (§4.1.2). */
export function serializeSfDictionary(dict: SfDictionary): string {
  return [...dict].map(([k, m]) => (m.kind === 'item' && m.item.type === 'boolean' && m.item.value ? `${k}${serializeSfParameters(m.params)}` : `${k}=${serializeSfMember(m)}`)).join(', ')
}
