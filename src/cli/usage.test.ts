import assert from 'node:assert/strict'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import type { Command } from 'commander'
import { spawnSync } from 'node:child_process'
import { pathToFileURL } from 'node:url'
import { repoRoot, runCli, type CliRun } from '../testing.js'
import { MIN_ID_PREFIX } from '../registry/index.js'
import { integer } from './args.js'
import { allCommands, buildProgram, commandPath } from './main.js'

/**
 * Runs the CLI on many command lines in one Node process (one process each would take a
 * minute): main() is what bin/provena.js runs, its exit code is process.exitCode.
 */
function runMany(argvs: string[][], env: Record<string, string> = {}): Promise<CliRun[]> {
  const script = `
    const { main } = await import(${JSON.stringify(pathToFileURL(join(repoRoot, 'dist', 'cli', 'main.js')).href)})
    const [out, err] = [process.stdout.write.bind(process.stdout), process.stderr.write.bind(process.stderr)]
    const results = []
    for (const args of JSON.parse(process.env.ARGVS)) {
      let stdout = '', stderr = ''
      process.stdout.write = (c) => ((stdout += c), true)
      process.stderr.write = (c) => ((stderr += c), true)
      process.exitCode = undefined
      try { await main(['node', 'provena', ...args]) } catch (e) { stderr += 'THROWN ' + e.stack }
      results.push({ code: process.exitCode ?? 0, stdout, stderr })
    }
    process.stdout.write = out
    process.exitCode = 0
    out(JSON.stringify(results))`
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { env: { ...process.env, ...env, ARGVS: JSON.stringify(argvs) }, encoding: 'utf8', maxBuffer: 64 << 20 })
  assert.equal(r.status, 0, r.stderr)
  return Promise.resolve(
    (JSON.parse(r.stdout) as { code: number; stdout: string; stderr: string }[]).map((x) => ({
      ...x,
      signal: null,
      json: <T>() => JSON.parse(x.stdout) as T,
    })),
  )
}

/** Asserts one usage error: exit 2 and exactly one JSON document on stdout, { ok: false, error: { code, message, hint } }. */
function assertUsageJson(r: CliRun, what: string): void {
  assert.equal(r.code, 2, `${what}: exit ${r.code}\n${r.stdout}${r.stderr}`)
  let doc: { ok: boolean; error: { code: string; message: string; hint: string } }
  try {
    doc = JSON.parse(r.stdout) as typeof doc // one document: JSON.parse refuses anything after it
  } catch {
    assert.fail(`${what}: stdout is not one JSON document:\n${r.stdout}`)
  }
  assert.equal(doc.ok, false, what)
  assert.equal(doc.error.code, 'CLI_USAGE', what)
  assert.ok(doc.error.message && !doc.error.message.includes('\n'), `${what}: ${doc.error.message}`)
  assert.match(doc.error.hint, /--help/, what)
}

const words = (cmd: Command) => commandPath(cmd).split(' ').slice(1)

describe('the CLI contract: usage errors exit 2, with --json one JSON document, for every command', () => {
  const dir = mkdtempSync(join(tmpdir(), 'provena-usage-')) // empty: no command gets past its arguments
  const commands = allCommands(buildProgram())

  it('the walk finds every command (a leaf per action)', () => {
    const paths = commands.map(commandPath)
    for (const p of ['provena', 'provena log prove', 'provena dataset list', 'provena model list', 'provena fl task create', 'provena consent purpose add']) assert.ok(paths.includes(p), p)
  })

  it('an unknown option, under --json, for every command', async () => {
    const runs = await runMany(commands.map((cmd) => [...words(cmd), '--no-such-option', '--json', '--dir', dir]))
    runs.forEach((r, i) => assertUsageJson(r, commandPath(commands[i]!)))
  })

  it('a missing argument or required option, under --json, for every command that has one', async () => {
    const needy = commands.filter((c) => c.registeredArguments.some((a) => a.required) || c.options.some((o) => o.mandatory))
    assert.ok(needy.length > 20)
    const runs = await runMany(needy.map((cmd) => [...words(cmd), '--json', '--dir', dir]))
    runs.forEach((r, i) => assertUsageJson(r, commandPath(needy[i]!)))
  })

  it('log prove abc, -1, 1.5 and 99999999999999999999 are usage errors, not entries; an unknown command too', async () => {
    const bad = ['abc', '-1', '1.5', '1e3', '0x10', '99999999999999999999', '9007199254740992']
    const runs = await runMany([
      ...bad.map((b) => ['log', 'prove', b, '--json', '--dir', dir]),
      ['no-such-command', '--json'],
      ['dataset', '--json'],
      ['fl', 'status', '--task', '0', '--json', '--dir', dir],
      ['fl', 'simulate', '--data', 'x', '--clients', '2', '--rounds', '1', '--dp-delta', '0x10', '--json'],
      ['chain', 'info', '--rpc-url', 'notaurl', '--json', '--dir', dir],
      ['verify', '--rpc-url', 'file:///etc/passwd', '--json', '--dir', dir],
    ])
    runs.forEach((r, i) => assertUsageJson(r, i < bad.length ? `log prove ${bad[i]}` : `case ${i}`))
    // The real binary, once: the exit code is the process's.
    assertUsageJson(await runCli(['log', 'prove', '99999999999999999999', '--json', '--dir', dir]), 'bin/provena.js log prove 99999999999999999999')
  })

  it('without --json: exit 2, one line and a hint on stderr, nothing on stdout; --help and --version exit 0', async () => {
    const r = await runCli(['log', 'prove', '99999999999999999999', '--dir', dir])
    assert.equal(r.code, 2)
    assert.equal(r.stdout, '')
    const lines = r.stderr.trimEnd().split('\n')
    assert.equal(lines.length, 2, r.stderr)
    assert.match(lines[0]!, /^provena: error: .*INDEX 99999999999999999999 is too large/)
    assert.equal(lines[1], 'hint: see provena log prove --help')
    assert.equal((await runCli(['--version'])).code, 0)
    assert.equal((await runCli(['log', 'prove', '--help'])).code, 0)
  })

  it('--json before the command, and with --help or --version, still gives one JSON document', async () => {
    const [bogus, version, help, before] = await runMany([['--json', '--bogus'], ['--json', '--version'], ['dataset', '--json', '--help'], ['--json', 'dataset', 'list', '--dir', dir]])
    assertUsageJson(bogus!, 'provena --json --bogus')
    assert.match(JSON.parse(bogus!.stdout).error.message, /unknown option '--bogus'/, 'names the unknown option, not --json')
    assert.deepEqual(JSON.parse(version!.stdout), { version: '0.1.0' })
    assert.match(JSON.parse(help!.stdout).usage, /^Usage: provena dataset/)
    // The command saw --json: its error (no data dir here) is one JSON document, not text.
    assert.equal(JSON.parse(before!.stdout).error.code, 'DATADIR_MISSING', before!.stdout + before!.stderr)
    assert.equal(before!.stderr, '')
  })

  it('one shared integer parser: exact digits, refused beyond Number.MAX_SAFE_INTEGER', () => {
    const index = integer('INDEX')
    assert.equal(index('0'), 0)
    assert.equal(index('007'), 7)
    assert.equal(index(String(Number.MAX_SAFE_INTEGER)), Number.MAX_SAFE_INTEGER)
    for (const bad of ['', ' 1', '1 ', '+1', '-1', '1.5', '1e3', '0x10', '１', '9007199254740992', '99999999999999999999']) {
      assert.throws(() => index(bad), { code: 'commander.invalidArgument' }, JSON.stringify(bad))
    }
    assert.throws(() => integer('--task', 1)('0'), /--task must be an integer ≥ 1/)
  })

  it('help shows each default once (fl task create --classes printed "(default: 2) (default: 2)")', async () => {
    for (const cmd of commands) {
      for (const o of cmd.options) {
        if (o.defaultValue !== undefined) assert.doesNotMatch(o.description, /default/i, `${commandPath(cmd)} ${o.flags}`)
      }
    }
    const help = await runCli(['fl', 'task', 'create', '--help'])
    assert.doesNotMatch(help.stdout, /\(default: [^)]*\)\s*\(default:/)
    // Where an id may be shortened, the help says how far (what getAsset accepts).
    for (const words of [['dataset', 'verify'], ['dataset', 'export'], ['access', 'grant'], ['lineage'], ['dataset', 'list']]) {
      const h = await runCli([...words, '--help'])
      assert.match(h.stdout.replace(/\s+/g, ' '), new RegExp(`prefix of ${MIN_ID_PREFIX}\\+ hex digits`), words.join(' '))
    }
  })
})
