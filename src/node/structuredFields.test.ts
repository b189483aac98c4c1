import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { parseSfDictionary, serializeSfDictionary, SfParseError } from './structuredFields.js'

const roundTrip = (s: string) => serializeSfDictionary(parseSfDictionary(s))

describe('RFC 8941 structured fields: the strict subset HTTP signatures use', () => {
  it('parses and serializes dictionaries of items and inner lists with parameters (RFC 8941 examples)', () => {
    assert.equal(roundTrip('en="Applepie", da=:w4ZibGV0w6ZydGUK:'), 'en="Applepie", da=:w4ZibGV0w6ZydGUK:')
    assert.equal(roundTrip('a=?0, b, c; foo=bar'), 'a=?0, b, c;foo=bar')
    assert.equal(roundTrip('rating=("foo" "bar");lvl=5, abc=(a b);x=?1'), 'rating=("foo" "bar");lvl=5, abc=(a b);x')
    assert.equal(roundTrip('  a=1 ,\tb=-2  '), 'a=1, b=-2')
    assert.equal(roundTrip('a=( "x"  "y" )'), 'a=("x" "y")')
    assert.equal(roundTrip('s="a \\"q\\" \\\\ b"'), 's="a \\"q\\" \\\\ b"')
    const d = parseSfDictionary('sig1=("@method" "@target-uri");created=1618884473;keyid="k"')
    const m = d.get('sig1')!
    assert.equal(m.kind, 'innerList')
    assert.deepEqual(m.params, [['created', { type: 'integer', value: 1618884473 }], ['keyid', { type: 'string', value: 'k' }]])
    assert.equal(parseSfDictionary('').size, 0)
  })

  it('refuses what is not a dictionary, naming the character, and is stricter than RFC 8941 where a signature needs one reading', () => {
    const bad: [string, RegExp][] = [
      ['A=1', /expected a key .* at character 1/],
      ['a=1,', /a trailing ","/],
      ['a=1 b=2', /expected "," between members at character 5/],
      ['a=("x"', /an inner list without its "\)"/],
      ['a=("x""y")', /expected " " or "\)"/],
      ['a="x', /without its closing quote/],
      ['a="\\x"', /a backslash not followed by/],
      ['a="é"', /outside printable ASCII/],
      ['a=1.5', /decimals are not used/],
      ['a=1234567890123456', /more than 15 digits/],
      ['a=?2', /not \?0 or \?1/],
      ['a=:AAE:', /not canonical padded base64/],
      ['a=:AAF=:', /not canonical padded base64/],
      ['a=:A*A=:', /closing ":"/],
      ['a=1, a=2', /the key "a" is repeated/],
      ['a=1;p;p', /the parameter "p" is repeated/],
      ['a=%', /unexpected "%"/],
    ]
    for (const [input, why] of bad) assert.throws(() => parseSfDictionary(input), (e: unknown) => e instanceof SfParseError && why.test(e.message), input)
  })
})
