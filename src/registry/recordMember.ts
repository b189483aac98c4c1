// Reading one member of a record from its RFC 8785 bytes, without parsing the record.

/**
 * Reads a member of a canonical record, bytes[start, end), straight from the bytes — an
 * encrypted import's subject id: the top-level member named `column` (a string or a
 * number, as a string). In a CSV record — a flat object of strings — `"col":"` after `{`
 * or `,` can only be that member (a quote inside a string is escaped), so one search finds
 * it. Otherwise strings are skipped with one search for their closing quote each, so a
 * record holding a megabyte of text costs a few native scans, not a JSON.parse.
 * Undefined if absent.
 */
export function memberReader(column: string, flat: boolean): (bytes: Buffer, start: number, end: number) => string | undefined {
  const name = Buffer.from(JSON.stringify(column), 'utf8')
  const member = Buffer.from(`${JSON.stringify(column)}:"`, 'utf8')
  // The closing quote of the string opening at `at`: the next quote not escaped.
  const close = (bytes: Buffer, at: number, end: number) => {
    for (let q = bytes.indexOf(34, at + 1); q !== -1 && q < end; q = bytes.indexOf(34, q + 1)) {
      let slashes = 0
      while (bytes[q - 1 - slashes] === 92) slashes++
      if (slashes % 2 === 0) return q
    }
    return -1
  }
  const valueAt = (bytes: Buffer, v: number, end: number) => {
    if (bytes[v] === 123 || bytes[v] === 91) return undefined // an object or array: not an id
    let to: number
    if (bytes[v] === 34) to = close(bytes, v, end) + 1
    else for (to = v; to < end && bytes[to] !== 44 && bytes[to] !== 125 && bytes[to] !== 93; to++);
    if (to <= v) return undefined
    const value = JSON.parse(bytes.toString('utf8', v, to)) as unknown
    return typeof value === 'string' || typeof value === 'number' ? String(value) : undefined
  }
  return (bytes, start, end) => {
    if (flat) {
      // The member opens after `{` or `,` (a quote after anything else is escaped, inside a name).
      let at = bytes.indexOf(member, start)
      while (at >= 0 && at < end && bytes[at - 1] !== 123 && bytes[at - 1] !== 44) at = bytes.indexOf(member, at + 1)
      if (at < 0 || at >= end) return undefined
      const from = at + member.length
      let to = from
      while (to < end && bytes[to] !== 34 && bytes[to] !== 92) to++
      return to < end && bytes[to] === 34 ? bytes.toString('utf8', from, to) : valueAt(bytes, from - 1, end)
    }
    let depth = 0
    for (let i = start; i < end; i++) {
      const c = bytes[i]
      if (c === 34) {
        const q = close(bytes, i, end)
        if (q < 0) return undefined
        if (depth === 1 && bytes[q + 1] === 58 && q + 1 - i === name.length && bytes.compare(name, 0, name.length, i, q + 1) === 0) return valueAt(bytes, q + 2, end)
        i = q
      } else if (c === 123 || c === 91) depth++
      else if (c === 125 || c === 93) depth--
    }
    return undefined
  }
}
