// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {RFC9162} from "./lib/RFC9162.sol";

/**
 * @title CheckpointAnchor
 * @notice Anchors the checkpoints (tree size, root hash, map root) of one verifiable log.
 * A checkpoint is accepted only from the log's operator, only if the tree grows, and only
 * with a valid RFC 9162 consistency proof from the last anchored checkpoint: the operator
 * cannot fork or rewrite the log's history without this contract refusing it.
 *
 * The operator's Ed25519 log key is recorded at deployment; each anchored checkpoint's
 * signed-note signature is emitted so that anyone can check the checkpoint text offline.
 *
 * Cosignatures: the witnesses' C2SP tlog-cosignature/v1 signatures gathered for a checkpoint
 * are emitted with it, packed 76 bytes each (key id (4) ‖ timestamp (8, big-endian) ‖
 * Ed25519 signature (64)): the base64 payload of the note signature line, without the
 * witness name, which a verifier takes from its pinned consortium file with the key (the
 * key id names the witness). A cosignature gathered later is added by `addCosignatures`.
 * The contract checks only the format: it cannot verify Ed25519, and a verifier trusts no
 * key from the chain; only the operator may add, so nobody else can pad the events.
 */
contract CheckpointAnchor {
    struct Checkpoint {
        uint64 treeSize;
        uint64 timestamp;
        bytes32 rootHash;
        bytes32 mapRoot;
    }

    address private immutable _operator;
    bytes32 private immutable _logKey;
    string private _origin;
    Checkpoint[] private _checkpoints;

    /// @notice `account` is not the log's operator.
    error CheckpointAnchorUnauthorizedOperator(address account);
    /// @notice The proposed tree size does not exceed the anchored one.
    error CheckpointAnchorTreeSizeNotGrowing(uint64 anchoredSize, uint64 proposedSize);
    /// @notice The consistency proof from the anchored checkpoint to the proposed one fails.
    error CheckpointAnchorInconsistentProof(uint64 anchoredSize, uint64 proposedSize);
    /// @notice No checkpoint at `index`.
    error CheckpointAnchorUnknownCheckpoint(uint256 index);
    /// @notice The packed cosignatures are not a non-empty multiple of 76 bytes (`length`).
    error CheckpointAnchorBadCosignatures(uint256 length);
    /// @notice Cosignatures can be added to the latest anchored checkpoint only (`latestSize`).
    error CheckpointAnchorNotLatest(uint64 latestSize, uint64 treeSize);

    /// @notice Bytes of one packed cosignature: key id (4) ‖ timestamp (8) ‖ signature (64).
    uint256 private constant COSIGNATURE_BYTES = 76;

    /// @notice A checkpoint was anchored.
    event CheckpointAnchored(
        uint256 indexed index,
        uint64 treeSize,
        bytes32 rootHash,
        bytes32 mapRoot,
        bytes noteSignature,
        bytes cosignatures
    );

    /// @notice Cosignatures gathered after the checkpoint number `index` was anchored.
    event CosignaturesAdded(uint256 indexed index, uint64 treeSize, bytes cosignatures);

    /**
     * @param operator The only account allowed to anchor checkpoints.
     * @param logKey The operator's Ed25519 public key that signs the checkpoint notes.
     * @param origin The log's origin line (C2SP tlog-checkpoint).
     */
    constructor(address operator, bytes32 logKey, string memory origin) {
        _operator = operator;
        _logKey = logKey;
        _origin = origin;
    }

    /**
     * @notice Anchors a new checkpoint of the log.
     * @param treeSize Number of entries covered.
     * @param rootHash RFC 9162 root hash of the first `treeSize` entries.
     * @param mapRoot Root of the log's state map (zero when the log keeps none).
     * @param consistencyProof RFC 9162 consistency proof from the latest anchored
     *        checkpoint to this one; empty for the first checkpoint.
     * @param noteSignature The Ed25519 signature of the checkpoint note, emitted only.
     * @param cosignatures The witnesses' cosignatures, packed (76 bytes each; may be empty), emitted only.
     *
     * Requirements:
     * - the caller is the operator;
     * - `treeSize` is larger than the latest anchored size;
     * - `consistencyProof` proves the latest anchored root is a prefix of `rootHash`;
     * - `cosignatures` is a multiple of 76 bytes.
     */
    function anchor(
        uint64 treeSize,
        bytes32 rootHash,
        bytes32 mapRoot,
        bytes32[] calldata consistencyProof,
        bytes calldata noteSignature,
        bytes calldata cosignatures
    ) external {
        if (msg.sender != _operator) revert CheckpointAnchorUnauthorizedOperator(msg.sender);
        if (cosignatures.length % COSIGNATURE_BYTES != 0) revert CheckpointAnchorBadCosignatures(cosignatures.length);
        uint256 count = _checkpoints.length;
        if (count == 0) {
            if (treeSize == 0) revert CheckpointAnchorTreeSizeNotGrowing(0, 0);
            if (consistencyProof.length != 0) revert CheckpointAnchorInconsistentProof(0, treeSize);
        } else {
            Checkpoint storage last = _checkpoints[count - 1];
            if (treeSize <= last.treeSize) revert CheckpointAnchorTreeSizeNotGrowing(last.treeSize, treeSize);
            if (!RFC9162.verifyConsistency(last.treeSize, treeSize, last.rootHash, rootHash, consistencyProof)) {
                revert CheckpointAnchorInconsistentProof(last.treeSize, treeSize);
            }
        }
        _checkpoints.push(Checkpoint(treeSize, uint64(block.timestamp), rootHash, mapRoot));
        emit CheckpointAnchored(count, treeSize, rootHash, mapRoot, noteSignature, cosignatures);
    }

    /**
     * @notice Adds cosignatures gathered after the latest checkpoint was anchored (a
     * witness that answered late): one event, no storage.
     * @param treeSize The latest anchored tree size (the checkpoint they cosign).
     * @param cosignatures Packed as in `anchor`, at least one.
     *
     * Requirements: the caller is the operator; `treeSize` is the latest anchored size.
     */
    function addCosignatures(uint64 treeSize, bytes calldata cosignatures) external {
        if (msg.sender != _operator) revert CheckpointAnchorUnauthorizedOperator(msg.sender);
        if (cosignatures.length == 0 || cosignatures.length % COSIGNATURE_BYTES != 0) revert CheckpointAnchorBadCosignatures(cosignatures.length);
        uint256 count = _checkpoints.length;
        uint64 latestSize = count == 0 ? 0 : _checkpoints[count - 1].treeSize;
        if (count == 0 || treeSize != latestSize) revert CheckpointAnchorNotLatest(latestSize, treeSize);
        emit CosignaturesAdded(count - 1, treeSize, cosignatures);
    }

    /// @notice The latest anchored tree size and root hash; (0, 0) before the first.
    function latest() external view returns (uint64 treeSize, bytes32 rootHash) {
        uint256 count = _checkpoints.length;
        if (count == 0) return (0, bytes32(0));
        Checkpoint storage last = _checkpoints[count - 1];
        return (last.treeSize, last.rootHash);
    }

    /// @notice The latest anchored checkpoint, with its map root and time.
    function latestCheckpoint() external view returns (Checkpoint memory) {
        uint256 count = _checkpoints.length;
        if (count == 0) return Checkpoint(0, 0, bytes32(0), bytes32(0));
        return _checkpoints[count - 1];
    }

    /// @notice Number of anchored checkpoints.
    function checkpointCount() external view returns (uint256) {
        return _checkpoints.length;
    }

    /// @notice The anchored checkpoint number `index` (0 = first).
    function checkpointAt(uint256 index) external view returns (Checkpoint memory) {
        if (index >= _checkpoints.length) revert CheckpointAnchorUnknownCheckpoint(index);
        return _checkpoints[index];
    }

    /// @notice The operator account, its Ed25519 log key and the log's origin line.
    function logInfo() external view returns (address operator, bytes32 logKey, string memory origin) {
        return (_operator, _logKey, _origin);
    }
}
