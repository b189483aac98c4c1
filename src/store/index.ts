export { cidFromDigest, cidOf, digestOfCid } from './cid.js'
export { storeErrors } from './errors.js'
export { FsBlobStore, type BlobStore } from './fsBlobStore.js'
export { SegmentWriter, type BlockRef } from './segments.js'
