export { configPath, dbPath, initDataDir, readConfig, resolveDataDir, updateConfig, type DataDirConfig } from './dataDir.js'
export { checkLogAgainstCheckpoints, describeLogDifference } from './checkLog.js'
export { appErrors, CHAIN_STATE_LOST_HINT } from './errors.js'
export { anchorIfDue, anchorNow, createMemberIdentity, flContext, logOrigin, openChain, openChainReadOnly, openProvena, startAnchorLoop, type AnchorResult, type ChainSession, type Provena } from './provena.js'
