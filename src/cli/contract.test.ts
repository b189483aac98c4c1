import assert from 'node:assert/strict'
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { assertOneLine, runCli, type CliRun } from '../testing.js'

const P = 'dpv:ScientificResearch'

describe('the CLI contract on a data dir: purposes, files, subjects, listings', () => {
  const dir = mkdtempSync(join(tmpdir(), 'provena-contract-'))
  const work = mkdtempSync(join(tmpdir(), 'provena-contract-files-'))
  const env = { PROVENA_PASSPHRASE: 'pw for tests' }
  const cli = (...args: string[]) => runCli([...args, '--dir', dir], env)
  const logSize = async () => (await cli('log', 'entries', '--json')).json<{ entries: unknown[] }>().entries.length
  let dataset = ''
  before(async () => {
    assert.equal((await cli('init')).code, 0)
    assert.equal((await cli('node', 'start')).code, 0)
    assert.equal((await cli('identity', 'create', 'st-mary', '--role', 'controller')).code, 0)
    assert.equal((await cli('identity', 'create', 'lab-1', '--role', 'trainer')).code, 0)
    writeFileSync(join(work, 'patients.csv'), 'patient_id,x\nS1,1\nS2,2\nS3,3\n')
    const r = await cli('dataset', 'import', join(work, 'patients.csv'), '--subject-column', 'patient_id', '--as', 'st-mary', '--json')
    assert.equal(r.code, 0, r.stderr)
    dataset = r.json<{ id: string }>().id
  })
  after(async () => void (await cli('node', 'stop')))

  it('every command refuses a purpose the consent layer refuses (access grant, dataset export, consent check, fl task create)', async () => {
    const size = await logSize()
    const out = join(work, 'bogus.csv')
    const runs = {
      'access grant': await cli('access', 'grant', dataset, '--to', 'lab-1', '--purpose', 'dpv:Bogus', '--as', 'st-mary', '--json'),
      'dataset export': await cli('dataset', 'export', dataset, '--as', 'st-mary', '--purpose', 'dpv:Bogus', '--out', out, '--json'),
      'consent grant': await cli('consent', 'grant', '--subject', 'S1', '--purpose', 'dpv:Bogus', '--json'),
      'consent check': await cli('consent', 'check', '--dataset', dataset, '--purpose', 'dpv:Bogus', '--out', out, '--json'),
      'fl task create': await cli('fl', 'task', 'create', '--model-spec', 'logistic', '--features', '1', '--purpose', 'dpv:Bogus', '--participants', 'st-mary', '--rounds', '1', '--json'),
    }
    for (const [what, r] of Object.entries(runs)) {
      assert.equal(r.code, 1, `${what}: ${r.stdout}${r.stderr}`)
      const e = r.json<{ error: { code: string; message: string } }>().error
      assert.equal(e.code, 'CONSENT_UNKNOWN_PURPOSE', what)
      assert.match(e.message, /unknown purpose "dpv:Bogus"/, what)
    }
    assert.equal(await logSize(), size, 'nothing logged')
    // An own purpose declared in the data dir is accepted by the same check.
    assert.equal((await cli('consent', 'purpose', 'add', 'train-x', '--dpv', 'dpv:ResearchAndDevelopment')).code, 0)
    const own = await cli('access', 'grant', dataset, '--to', 'lab-1', '--purpose', 'train-x', '--as', 'st-mary')
    assert.equal(own.code, 0, own.stderr)
  })

  it('dataset export --out refuses an existing file unless --force', async () => {
    const out = join(work, 'existing.csv')
    writeFileSync(out, 'keep me\n')
    const r = await cli('dataset', 'export', dataset, '--as', 'st-mary', '--purpose', P, '--out', out)
    assertOneLine(r, 1, /existing\.csv exists already: nothing was exported/)
    assert.equal(readFileSync(out, 'utf8'), 'keep me\n')
    // A directory is not a file to replace: the hint names a file in it, not --force.
    const asDir = await cli('dataset', 'export', dataset, '--as', 'st-mary', '--purpose', P, '--out', work, '--force')
    assertOneLine(asDir, 1, /is a directory: --out names the file to write/)
    assert.match(asDir.stderr, /hint: e\.g\. --out .*export\.csv/)
    // The controller's own copy (no purpose): every record.
    const forced = await cli('dataset', 'export', dataset, '--as', 'st-mary', '--out', out, '--force')
    assert.equal(forced.code, 0, forced.stderr)
    assert.equal(readFileSync(out, 'utf8'), readFileSync(join(work, 'patients.csv'), 'utf8'))
  })

  it('consent import names file and line of a bad expires and of a blank subject; dataset import refuses a blank subject id', async () => {
    const size = await logSize()
    writeFileSync(join(work, 'expires.csv'), `subject,purpose,action,expires\nS1,${P},grant,\nS2,${P},grant,next tuesday\n`)
    assertOneLine(await cli('consent', 'import', join(work, 'expires.csv')), 1, /expires\.csv:3: expires: "next tuesday" is not an ISO 8601 time/)
    writeFileSync(join(work, 'blank.csv'), `subject,purpose,action\nS1,${P},grant\n"  ",${P},grant\n`)
    assertOneLine(await cli('consent', 'import', join(work, 'blank.csv')), 1, /blank\.csv:3: subject: blank/)
    writeFileSync(join(work, 'blank.jsonl'), `{"subject":"S1","purpose":"${P}","action":"grant"}\n{"subject":"","purpose":"${P}","action":"grant"}\n`)
    assertOneLine(await cli('consent', 'import', join(work, 'blank.jsonl')), 1, /blank\.jsonl:2: subject: missing/)
    writeFileSync(join(work, 'dataset.csv'), `subject,purpose,action,dataset\nS1,${P},grant,${dataset}\nS2,${P},grant,ffffff\n`)
    assertOneLine(await cli('consent', 'import', join(work, 'dataset.csv')), 1, /dataset\.csv:3: dataset: no asset ffffff/)
    assert.equal(await logSize(), size, 'nothing of the files applied')

    writeFileSync(join(work, 'nosubject.csv'), 'patient_id,x\nT1,1\n,2\nT3,3\n')
    assertOneLine(await cli('dataset', 'import', join(work, 'nosubject.csv'), '--subject-column', 'patient_id', '--as', 'st-mary'), 1, /nosubject\.csv:3: the subject id in "patient_id" is blank/)
    writeFileSync(join(work, 'nosubject.jsonl'), '{"id":"T1","x":1}\n{"id":" ","x":2}\n')
    assertOneLine(await cli('dataset', 'import', join(work, 'nosubject.jsonl'), '--subject-column', 'id', '--as', 'st-mary'), 1, /nosubject\.jsonl:2: the subject id in "id" is blank/)
    assert.equal(await logSize(), size, 'nothing imported')
  })

  it('a consent grant for an erased subject is refused, each row named by file:line; nothing applied', async () => {
    assert.equal((await cli('subject', 'erase', 'S2', '--as', 'st-mary')).code, 0)
    assert.equal((await cli('subject', 'erase', 'S3', '--as', 'st-mary')).code, 0)
    const size = await logSize()
    writeFileSync(join(work, 'erased.csv'), `subject,purpose,action\nS1,${P},grant\nS2,${P},grant\nS3,${P},grant\n`)
    const r = await cli('consent', 'import', join(work, 'erased.csv'))
    assertOneLine(r, 1, /erased\.csv:3: subject "S2" was erased: no consent can be given for their data \(also .*erased\.csv:4\)/)
    const j = (await cli('consent', 'import', join(work, 'erased.csv'), '--json')).json<{ error: { code: string; details: { changes: { where: string; subject: string }[] } } }>().error
    assert.equal(j.code, 'CONSENT_SUBJECT_ERASED')
    assert.deepEqual(j.details.changes.map((c) => [c.where.replace(/^.*\//, ''), c.subject]), [['erased.csv:3', 'S2'], ['erased.csv:4', 'S3']])
    assertOneLine(await cli('consent', 'grant', '--subject', 'S2', '--purpose', P), 1, /subject "S2" was erased/)
    assert.equal(await logSize(), size)
  })

  it('directory datasets: import is refused as a directory; verify names the files changed and added', async () => {
    const data = join(work, 'scans')
    mkdirSync(join(data, 'sub'), { recursive: true })
    for (const f of ['a.txt', 'b.txt', 'sub/c.txt']) writeFileSync(join(data, f), `content of ${f}\n`)
    assertOneLine(await cli('dataset', 'import', data, '--subject-column', 'x', '--as', 'st-mary'), 1, /scans is a directory: an encrypted import takes one CSV or JSON Lines file/)
    const reg = await cli('dataset', 'register', data, '--json')
    assert.equal(reg.code, 0, reg.stderr)
    const id = reg.json<{ id: string }>().id
    writeFileSync(join(data, 'b.txt'), 'changed\n')
    writeFileSync(join(data, 'sub', 'd.txt'), 'new\n')
    const text = await cli('dataset', 'verify', data, '--id', id)
    assert.equal(text.code, 3)
    assert.match(text.stdout, /changed\s+file b\.txt$/m)
    assert.match(text.stdout, /added\s+file sub\/d\.txt$/m)
    assert.doesNotMatch(text.stdout, /line/)
    const json = (await cli('dataset', 'verify', data, '--id', id, '--json')).json<{ files: { changed: string[]; added: string[] } }>()
    assert.deepEqual(json.files, { changed: ['b.txt'], added: ['sub/d.txt'] })
  })

  it('dataset list and model list show what ids to use; an unknown id points to them and says the shortest prefix', async () => {
    writeFileSync(join(work, 'model.bin'), 'weights')
    const m = await cli('model', 'register', join(work, 'model.bin'), '--trained-on', dataset, '--json')
    assert.equal(m.code, 0, m.stderr)
    const list = await cli('dataset', 'list', '--json')
    assert.equal(list.code, 0, list.stderr)
    const ds = list.json<{ datasets: { id: string; name: string; kind: string; records: number; encrypted: boolean; registeredAt: string; owner: { name: string | null; did: string } }[] }>().datasets
    const mine = ds.find((d) => d.id === dataset)!
    assert.deepEqual([mine.name, mine.kind, mine.records, mine.encrypted, mine.owner.name], ['patients.csv', 'dataset', 3, true, 'st-mary'])
    assert.ok(!Number.isNaN(Date.parse(mine.registeredAt)))
    assert.equal(ds.find((d) => d.name === 'scans')?.owner.name, 'operator')
    const models = (await cli('model', 'list', '--json')).json<{ models: { id: string; trainedOn: string[] }[] }>().models
    assert.deepEqual(models.map((x) => [x.id, x.trainedOn]), [[m.json<{ id: string }>().id, [dataset]]])
    assert.match((await cli('dataset', 'list')).stdout, new RegExp(`^${dataset.slice(0, 16)}\\s+patients\\.csv\\s+3 records`, 'm'))

    const unknown = await cli('dataset', 'verify', join(work, 'patients.csv'), '--id', 'ffffff')
    assertOneLine(unknown, 1, /no asset ffffff/)
    assert.match(unknown.stderr, /hint: .*provena dataset list .*provena model list.*at least 6 hex digits/)
    assertOneLine(await cli('dataset', 'verify', join(work, 'patients.csv'), '--id', dataset.slice(0, 5)), 1, /id prefix \w{5} is too short: give at least 6 hex digits/)
  })

  it('consent is recorded only by a controller, and only for its own datasets', async () => {
    const size = await logSize()
    const byTrainer = await cli('consent', 'grant', '--subject', 'S1', '--purpose', P, '--as', 'lab-1', '--dataset', dataset, '--json')
    assert.equal(byTrainer.code, 1, byTrainer.stdout + byTrainer.stderr)
    assert.equal(byTrainer.json<{ error: { code: string } }>().error.code, 'CONSENT_NOT_CONTROLLER')
    const file = join(work, 'by-trainer.csv')
    writeFileSync(file, `subject,purpose,action\nS1,${P},grant\n`)
    const bulk = await cli('consent', 'import', file, '--as', 'lab-1', '--json')
    assert.equal(bulk.json<{ error: { code: string } }>().error.code, 'CONSENT_NOT_CONTROLLER')
    assert.equal(await logSize(), size, "nothing logged by the trainer's attempts")
    // Another controller of this node cannot limit a consent to st-mary's dataset.
    assert.equal((await cli('identity', 'create', 'st-john', '--role', 'controller')).code, 0)
    const size2 = await logSize()
    const other = await cli('consent', 'grant', '--subject', 'S1', '--purpose', P, '--as', 'st-john', '--dataset', dataset, '--json')
    assert.equal(other.code, 1, other.stdout + other.stderr)
    assert.match(other.json<{ error: { code: string; message: string } }>().error.message, /is controlled by another identity, not st-john/)
    writeFileSync(file, `subject,purpose,action,expires,dataset\nS1,${P},grant,,${dataset}\n`)
    const otherBulk = await cli('consent', 'import', file, '--as', 'st-john', '--json')
    assert.match(otherBulk.json<{ error: { message: string } }>().error.message, /by-trainer\.csv:2: dataset .* is controlled by another identity/)
    assert.equal(await logSize(), size2, 'nothing logged by the refused changes')
  })
})
