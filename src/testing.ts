// Helpers shared by the tests (not part of the public API).
import { readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

/** The repository root (works from src/ and from dist/). */
export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..')

/** A JSON file under test/vectors. */
export function readVector<T>(name: string): T {
  return JSON.parse(readFileSync(join(repoRoot, 'test', 'vectors', name), 'utf8')) as T
}
