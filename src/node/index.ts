// The node layer (ARCHITECTURE.md): the consortium file, messages between nodes, transports.
export {
  changedTrustRoots,
  CONSORTIUM_TYPE,
  consortiumPath,
  findMember,
  isTrustedAnchor,
  MEMBER_CARD_TYPE,
  openMemberCard,
  parseConsortium,
  parseVerifierKey,
  readConsortiumFile,
  readPinnedConsortium,
  SHARED_CONTRACTS,
  signMemberCard,
  trustedLogFor,
  writeConsortiumFile,
  type Consortium,
  type ConsortiumMember,
  type MemberEntry,
  type MemberLog,
  type SharedContract,
} from './consortium.js'
export { nodeErrors } from './errors.js'
