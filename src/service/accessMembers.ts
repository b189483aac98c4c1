import { listIdentities } from '../access/index.js'
import type { Provena } from '../app/index.js'

/** A member as a node knows it: the keys another node's messages are checked and sealed to. */
export interface KnownMember {
  name: string
  did: string
  /** EVM address (AccessPolicy's grantee or owner). */
  address: string
  /** X25519 public key (hex) that key releases are sealed to. */
  x25519: string
}

/** The members a node trusts, and which of them are its own identities. */
export interface MemberDirectory {
  byDid(did: string): KnownMember | undefined
  byAddress(address: string): KnownMember | undefined
  /** Whether `did` is an identity of this node (in its keystore). */
  isOwn(did: string): boolean
}

/**
 * The members of a node's consortium: the pinned consortium file's (DIR/consortium.json,
 * each entry checked against its card when the node opened). A lone node (no pinned file)
 * is its own consortium: its members are its own identities.
 */
export function nodeMembers(p: Pick<Provena, 'dir' | 'consortium'>): MemberDirectory {
  const own = listIdentities(p.dir).map((i) => ({ name: i.name, did: i.did, address: i.address, x25519: i.x25519PublicKey }))
  const ownDids = new Set(own.map((i) => i.did))
  const members: KnownMember[] = p.consortium ? p.consortium.members.map((m) => ({ name: m.name, did: m.did, address: m.address, x25519: m.x25519 })) : own
  return {
    byDid: (did) => members.find((m) => m.did === did),
    byAddress: (address) => members.find((m) => m.address.toLowerCase() === address.toLowerCase()),
    isOwn: (did) => ownDids.has(did),
  }
}
