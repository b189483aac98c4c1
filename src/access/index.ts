export { accessErrors } from './errors.js'
export {
  createIdentity,
  findIdentity,
  keystorePath,
  listIdentities,
  passphraseFromEnv,
  ROLES,
  unlockIdentity,
  type Identity,
  type Role,
  type UnlockedIdentity,
} from './identities.js'
export { Keystore, type KeystoreFile } from './keystore.js'
