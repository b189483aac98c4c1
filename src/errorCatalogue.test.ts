import assert from 'node:assert/strict'
import { readdirSync, readFileSync } from 'node:fs'
import { join, relative } from 'node:path'
import { describe, it } from 'node:test'
import { ERROR_CATALOGUE, errorCatalogueMarkdown, errorInfo, isCatalogued } from './errorCatalogue.js'
import { repoRoot } from './testing.js'

/** Upper-case literals that are not error codes: role names, environment variables, errno-style codes of other libraries. */
const NOT_CODES = (code: string) => code.endsWith('_ROLE') || code.startsWith('PROVENA_') || ['UND_ERR_SOCKET'].includes(code)

/** The .ts files of src/ that are not tests, benches or generated. */
function sourceFiles(dir = join(repoRoot, 'src')): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name)
    if (e.isDirectory()) return sourceFiles(path)
    return e.name.endsWith('.ts') && !/\.(test|bench)\.ts$/.test(e.name) && !e.name.endsWith('.d.ts') && e.name !== 'testing.ts' && e.name !== 'artifacts.generated.ts' ? [path] : []
  })
}

/** Every quoted code literal (`'LAYER_WHAT'`, including the first argument of `new ProvenaError(`) with its file:line. */
function codeLiterals(): { code: string; where: string }[] {
  const found: { code: string; where: string }[] = []
  for (const file of sourceFiles()) {
    const text = readFileSync(file, 'utf8')
    for (const m of text.matchAll(/(['"`])([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)\1/g)) {
      if (NOT_CODES(m[2]!)) continue
      const line = text.slice(0, m.index).split('\n').length
      found.push({ code: m[2]!, where: `${relative(repoRoot, file)}:${line}` })
    }
  }
  return found
}

describe('the error catalogue', () => {
  it('holds every error code used in src/ (listed with file:line when one is missing)', () => {
    const literals = codeLiterals()
    assert.ok(literals.length > 100, `found ${literals.length} code literals: the scan reads src/`)
    assert.ok(literals.some((l) => l.code === 'LOG_ROOT_MISMATCH' && l.where.startsWith('src/log/errors.ts:')), 'finds a code on the line after new ProvenaError(')
    const missing = literals.filter((l) => !isCatalogued(l.code))
    assert.deepEqual(
      missing.map((m) => m.code),
      [],
      `error codes missing from src/errorCatalogue.ts (add each with its exit code, HTTP status and description, then npm run docs:errors):\n${missing.map((m) => `  ${m.code}  ${m.where}`).join('\n')}`,
    )
  })

  it('keeps the CLI exit codes: 2 bad usage, 3 a difference found, 4 chain unreachable, 1 otherwise', () => {
    assert.deepEqual(
      Object.entries(ERROR_CATALOGUE)
        .filter(([, i]) => i.exit !== 1)
        .map(([c, i]) => `${c}:${i.exit}`)
        .filter((c) => !c.startsWith('VERIFY_')),
      ['AUDIT_BAD_CHECKPOINT:3', 'AUDIT_BAD_TILE:3', 'AUDIT_BAD_VKEY:2', 'AUDIT_ENTRY_MISMATCH:3', 'AUDIT_ROOT_MISMATCH:3', 'AUDIT_SPLIT_VIEW:3', 'CHAIN_NODE_START_FAILED:4', 'CHAIN_REPLAY_REFUSED:3', 'CHAIN_UNREACHABLE:4', 'CLI_BAD_ARGUMENT:2', 'CLI_NOT_REMOTE:2', 'CLI_USAGE:2', 'CONSENT_MANIFEST_UNTRUSTED:3', 'CONSORTIUM_NO_CHAIN_URL:2', 'LOG_LEAF_MISMATCH:3', 'LOG_ROOT_MISMATCH:3'],
    )
    assert.deepEqual(errorInfo('NOT_A_CODE'), { exit: 1, http: 500, description: 'not in the catalogue' })
    for (const [code, i] of Object.entries(ERROR_CATALOGUE)) {
      if (i.exit === 3) assert.equal(i.http, 422, code)
      if (i.exit === 2) assert.equal(i.http, 400, code)
      if (i.exit === 4) assert.ok(i.http === 502 || i.http === 503, code)
      assert.ok(i.description.length > 0 && !i.description.includes('\n'), code)
    }
  })

  it('docs/errors.md is generated from it (npm run docs:errors)', () => {
    const doc = readFileSync(join(repoRoot, 'docs', 'errors.md'), 'utf8')
    assert.ok(doc === errorCatalogueMarkdown(), 'docs/errors.md is out of date: run npm run docs:errors')
    for (const code of Object.keys(ERROR_CATALOGUE)) assert.ok(doc.includes(`| \`${code}\` |`), code)
  })
})
