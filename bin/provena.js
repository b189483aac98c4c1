#!/usr/bin/env node
// The `provena` command. Provena needs Node.js 22 or newer; the `node` package in
// this project's dependencies puts a Node 22 binary first on PATH for npm scripts and npx.
const [major] = process.versions.node.split('.').map(Number)
if (major < 22) {
  process.stderr.write(
    `provena: Node.js ${process.versions.node} is too old; Provena needs Node.js 22 or newer.\n` +
      `hint: run it through npm (npx provena …, npm run demo), which uses the Node 22 from node_modules.\n`,
  )
  process.exit(2)
}
// `provena --version` answers from package.json without loading the program (~600 modules,
// viem's among them: 0.3–0.5 s of module loading that the version does not need).
const args = process.argv.slice(2)
if (args.length === 1 && (args[0] === '--version' || args[0] === '-V')) {
  const { readFileSync } = await import('node:fs')
  process.stdout.write(`${JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')).version}\n`)
} else {
  const { main } = await import('../dist/cli/main.js')
  await main(process.argv)
}
