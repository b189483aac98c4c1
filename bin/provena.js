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
const { main } = await import('../dist/cli/main.js')
await main(process.argv)
