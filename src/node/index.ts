// The node layer (ARCHITECTURE.md): the consortium file, messages between nodes, transports.
export {
  claimedHeader,
  CLOCK_SKEW_MS,
  dbNonceTable,
  MESSAGE_ERRORS,
  MESSAGE_PAYLOAD_TYPE,
  memoryNonceTable,
  messageDigest,
  signMessage,
  verifyMessage,
  type Message,
  type MessageExpectations,
  type MessageHeader,
  type MessageSigner,
  type NonceTable,
} from './messages.js'
export { FileTransport, readMessageFile, writeMessageFile, type Transport } from './transport.js'
