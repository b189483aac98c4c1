// Writes docs/errors.md from the error catalogue (src/errorCatalogue.ts, built to dist/).
// Usage: npm run docs:errors
import { writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { errorCatalogueMarkdown } from '../dist/errorCatalogue.js'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
writeFileSync(join(root, 'docs', 'errors.md'), errorCatalogueMarkdown())
console.log('wrote docs/errors.md')
