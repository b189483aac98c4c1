import type { Command } from 'commander'
import { resolveDataDir } from '../../app/index.js'
import { listOutbox, readLatestAnchor, readNodeInfo, startEmbeddedNode, stopEmbeddedNode } from '../../chain/index.js'
import type { ChainSession, Provena } from '../../app/index.js'
import { noteVerifierKey } from '../../log/index.js'
import { emit, type CommonOptions } from '../output.js'
import { isProvenaError } from '../../errors.js'
import { action, common, withChain, withChainReadOnly, type ReadOnlyChain } from '../session.js'

async function chainInfo(p: Provena, chain: ReadOnlyChain | ChainSession) {
  const anchored = await readLatestAnchor(chain.client.publicClient, chain.deployment.CheckpointAnchor)
  return {
    rpcUrl: chain.client.rpcUrl,
    chainId: chain.client.chainId,
    embedded: chain.embedded,
    operator: p.operatorAddress,
    operatorDid: p.operatorDid,
    origin: p.signer.origin,
    logKey: p.signer.publicKey.toString('hex'),
    /** The log's C2SP signed-note verifier key: <origin>+<key id hex>+<base64(0x01 ‖ Ed25519 key)>. */
    vkey: noteVerifierKey(p.signer.origin, p.signer.publicKey),
    contracts: {
      AssetRegistry: chain.deployment.AssetRegistry,
      CheckpointAnchor: chain.deployment.CheckpointAnchor,
      AccessPolicy: chain.deployment.AccessPolicy,
      ConsentVerifier: chain.deployment.ConsentVerifier,
      FederatedTraining: chain.deployment.FederatedTraining,
    },
    anchored: { treeSize: anchored.treeSize, rootHash: anchored.rootHash.toString('hex') },
    logSize: p.log.size(),
    outboxPending: listOutbox(p.db, chain.client.chainKey, ['decided', 'sent']).length,
  }
}

function infoText(i: Awaited<ReturnType<typeof chainInfo>>): string {
  return [
    `rpc url           ${i.rpcUrl}${i.embedded ? ' (embedded anvil)' : ''}`,
    `chain id          ${i.chainId}`,
    `operator          ${i.operator}`,
    `log vkey          ${i.vkey}`,
    `AssetRegistry     ${i.contracts.AssetRegistry}`,
    `CheckpointAnchor  ${i.contracts.CheckpointAnchor}`,
    `AccessPolicy      ${i.contracts.AccessPolicy}`,
    `ConsentVerifier   ${i.contracts.ConsentVerifier}`,
    `FederatedTraining ${i.contracts.FederatedTraining}`,
    `anchored          size ${i.anchored.treeSize} of ${i.logSize} entries, root ${i.anchored.rootHash}`,
    `outbox            ${i.outboxPending} pending`,
  ].join('\n')
}

export function registerChain(program: Command): void {
  const chain = program.command('chain').description('the EVM chain: contracts and operator')
  common(chain.command('info').description('rpc url, chain id, contract addresses, operator address')).action(
    action(async (opts: CommonOptions) => {
      const show = async (p: Provena, c: ReadOnlyChain | ChainSession) => {
        const info = await chainInfo(p, c)
        emit(opts, info, () => infoText(info))
      }
      // Reads only (no passphrase). The first use of a chain deploys the contracts, and a
      // chain that lost its state gets them again (after checking the log), as any command
      // that opens it does: that needs the operator key.
      await withChainReadOnly(opts, show).catch((e: unknown) => {
        if (!isProvenaError(e, 'CHAIN_NOT_DEPLOYED') && !isProvenaError(e, 'CHAIN_STATE_LOST')) throw e
        return withChain(opts, show)
      })
    }),
  )
  common(chain.command('deploy').description('deploy the contracts (on the embedded node, or an external EVM node with --rpc-url) and re-anchor what a chain that lost its state is missing')).action(
    action(async (opts: CommonOptions) => {
      // The same as any command that opens the chain: deploy what is missing, then send the
      // outbox (after checking the log, when the chain lost what it held). Said out loud here.
      await withChain(opts, async (p, c) => {
        const info = await chainInfo(p, c)
        const where = c.embedded ? 'the embedded chain' : `chain ${info.chainId}`
        const json = { ...info, deployedNow: c.deployedNow, replayed: c.replayed }
        emit(opts, json, () =>
          [
            c.deployedNow ? `Contracts deployed on ${where}` : `Contracts already deployed on ${where}: nothing to do`,
            ...(c.replayed ? [`Re-anchored the log's history the chain had lost (${c.replayed} write(s)), after checking every entry against the signed checkpoints`] : []),
            infoText(info),
          ].join('\n'),
        )
      })
    }),
  )

  const node = program.command('node').description('the embedded EVM node (anvil) of a data dir')
  common(node.command('start').description('start the embedded node and keep it running between commands')).action(
    action(async (opts: CommonOptions) => {
      const dir = resolveDataDir(opts.dir)
      let info = readNodeInfo(dir)
      const already = info?.persistent === true
      if (info && !info.persistent) await stopEmbeddedNode(dir)
      if (!already) info = await startEmbeddedNode(dir, true)
      emit(opts, { running: true, alreadyRunning: already, ...info }, () => `${already ? 'Already running' : 'Started'}: anvil pid ${info!.pid} at ${info!.rpcUrl}`)
    }),
  )
  common(node.command('stop').description('stop the embedded node (its state is saved in the data dir)')).action(
    action(async (opts: CommonOptions) => {
      const stopped = await stopEmbeddedNode(resolveDataDir(opts.dir))
      emit(opts, { stopped }, () => (stopped ? 'Stopped' : 'Not running'))
    }),
  )
  common(node.command('status').description('whether the embedded node runs')).action(
    action(async (opts: CommonOptions) => {
      const info = readNodeInfo(resolveDataDir(opts.dir))
      emit(opts, { running: info !== undefined, ...(info ?? {}) }, () => (info ? `Running: anvil pid ${info.pid} at ${info.rpcUrl}${info.persistent ? '' : ' (owned by one command)'}` : 'Not running'))
    }),
  )
}
