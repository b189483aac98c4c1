// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @dev The part of CheckpointAnchor this contract reads.
interface ICheckpointAnchor {
    struct Checkpoint {
        uint64 treeSize;
        uint64 timestamp;
        bytes32 rootHash;
        bytes32 mapRoot;
    }

    function latestCheckpoint() external view returns (Checkpoint memory);

    function checkpointAt(uint256 index) external view returns (Checkpoint memory);
}

/**
 * @title ConsentVerifier
 * @notice Checks proofs of the consent map against a map root anchored in
 * CheckpointAnchor, so that other contracts can spot-check consent on-chain.
 *
 * What an anchored map root commits to: the consent map of the log's operator at that
 * checkpoint, a sparse Merkle map from 256-bit keys to 256-bit values, where
 *
 *   key   = SHA-256(pseudonym ‖ purpose)  the subject's 32-byte keyed pseudonym (never its
 *           id) followed by the UTF-8 bytes of the purpose id, e.g. "dpv:ScientificResearch"
 *           (see `consentKey`);
 *   value = SHA-256 of the subject's current consent record for that purpose (its RFC 8785
 *           canonical JSON bytes, as logged), whatever its state (given, withdrawn, refused,
 *           expired): a value proves which record is current, not that consent is given; the
 *           caller reads the record off-chain, checks its hash and its state;
 *   absent key: no consent record was ever logged for that subject and purpose.
 *
 * Hashing, as in src/log/sparseMap.ts: EMPTY = bytes32(0) (an empty subtree);
 * leaf = sha256(0x00 ‖ key ‖ value); node = sha256(0x01 ‖ left ‖ right); a subtree holding
 * exactly one leaf hashes as that leaf (collapsed). Key bit d (MSB first) picks the side at
 * depth d. A proof is the siblings of the key's path from the root down to the subtree that
 * holds at most one leaf; bit d of `bitmap` is set when the sibling at depth d is not EMPTY
 * (only those are passed, root first).
 *
 * WARNING: the root means nothing more than the log operator's word, made append-only by
 * the log and the anchor: it shows what the operator recorded, not that a subject agreed.
 */
contract ConsentVerifier {
    /// @notice The path part of a proof of a key's value or absence.
    struct MapProof {
        /// @dev Number of levels the path descends (at most 256).
        uint256 depth;
        uint256 bitmap;
        bytes32[] siblings;
        /// @dev For an absent key whose path ends in another key's leaf: that leaf.
        bool hasOtherLeaf;
        bytes32 otherKey;
        bytes32 otherValue;
    }

    ICheckpointAnchor private immutable _anchor;

    /// @notice The proof is malformed (siblings and bitmap disagree, depth over 256, a zero
    /// value, or an other leaf where there is none or that is not on the key's path).
    error ConsentVerifierMalformedProof();

    constructor(ICheckpointAnchor anchor_) {
        _anchor = anchor_;
    }

    /// @notice The CheckpointAnchor whose map roots this verifier reads.
    function anchor() external view returns (ICheckpointAnchor) {
        return _anchor;
    }

    /// @notice The consent map key of a subject's 32-byte pseudonym and a purpose id: SHA-256(pseudonym ‖ purpose).
    function consentKey(bytes32 pseudonym, string calldata purpose) external pure returns (bytes32) {
        return sha256(abi.encodePacked(pseudonym, purpose));
    }

    /**
     * @notice Whether the latest anchored map root maps `key` to `value`: the current
     * consent record of the subject and purpose behind `key` is the one hashing to `value`.
     * False for a malformed proof, for an absence proof and for a zero `value`.
     */
    function verifyPresent(bytes32 key, bytes32 value, MapProof calldata proof) external view returns (bool) {
        return value != bytes32(0) && _holds(_anchor.latestCheckpoint().mapRoot, key, value, proof);
    }

    /**
     * @notice Whether the latest anchored map root holds no value for `key`: no consent
     * record was logged for the subject and purpose behind it. False for a malformed proof
     * and for a presence proof.
     */
    function verifyAbsent(bytes32 key, MapProof calldata proof) external view returns (bool) {
        return _holds(_anchor.latestCheckpoint().mapRoot, key, bytes32(0), proof);
    }

    /// @notice `verifyPresent` against the map root of anchored checkpoint `index`.
    function verifyPresentAt(uint256 index, bytes32 key, bytes32 value, MapProof calldata proof) external view returns (bool) {
        return value != bytes32(0) && _holds(_anchor.checkpointAt(index).mapRoot, key, value, proof);
    }

    /// @notice `verifyAbsent` against the map root of anchored checkpoint `index`.
    function verifyAbsentAt(uint256 index, bytes32 key, MapProof calldata proof) external view returns (bool) {
        return _holds(_anchor.checkpointAt(index).mapRoot, key, bytes32(0), proof);
    }

    /// @notice The root under which `proof` shows `key` mapped to `value`; reverts with ConsentVerifierMalformedProof if malformed.
    function presentRoot(bytes32 key, bytes32 value, MapProof calldata proof) external pure returns (bytes32) {
        if (value == bytes32(0)) revert ConsentVerifierMalformedProof();
        return _root(key, value, proof);
    }

    /// @notice The root under which `proof` shows `key` absent; reverts with ConsentVerifierMalformedProof if malformed.
    function absentRoot(bytes32 key, MapProof calldata proof) external pure returns (bytes32) {
        return _root(key, bytes32(0), proof);
    }

    function _root(bytes32 key, bytes32 value, MapProof calldata proof) private pure returns (bytes32) {
        (bool wellFormed, bytes32 root) = _rootOf(key, value, proof);
        if (!wellFormed) revert ConsentVerifierMalformedProof();
        return root;
    }

    /// @dev `value` zero: the proof must show `key` absent; otherwise present with `value`.
    function _holds(bytes32 mapRoot, bytes32 key, bytes32 value, MapProof calldata proof) private pure returns (bool) {
        (bool wellFormed, bytes32 root) = _rootOf(key, value, proof);
        return wellFormed && root == mapRoot;
    }

    function _rootOf(bytes32 key, bytes32 value, MapProof calldata proof) private pure returns (bool, bytes32 h) {
        uint256 depth = proof.depth;
        if (depth > 256) return (false, 0);
        if (value != bytes32(0)) {
            // Present: the path ends in this key's own leaf.
            if (proof.hasOtherLeaf) return (false, 0);
            h = sha256(abi.encodePacked(bytes1(0x00), key, value));
        } else if (proof.hasOtherLeaf) {
            // Absent: the path ends in the one leaf of another key sharing the first `depth` bits.
            if (proof.otherKey == key || !_samePrefix(proof.otherKey, key, depth)) return (false, 0);
            h = sha256(abi.encodePacked(bytes1(0x00), proof.otherKey, proof.otherValue));
        }
        // Absent with no other leaf: the path ends in an empty subtree, h = EMPTY.
        uint256 j = proof.siblings.length;
        for (uint256 d = depth; d > 0; ) {
            unchecked {
                --d;
            }
            bytes32 sibling;
            if ((proof.bitmap >> d) & 1 == 1) {
                if (j == 0) return (false, 0);
                unchecked {
                    --j;
                }
                sibling = proof.siblings[j];
            }
            bool right = (uint256(key) >> (255 - d)) & 1 == 1;
            h = right ? sha256(abi.encodePacked(bytes1(0x01), sibling, h)) : sha256(abi.encodePacked(bytes1(0x01), h, sibling));
        }
        // Bits set beyond the depth, or siblings left over: not a proof this verifier made sense of.
        if (j != 0 || (depth < 256 && proof.bitmap >> depth != 0)) return (false, 0);
        return (true, h);
    }

    function _samePrefix(bytes32 a, bytes32 b, uint256 bits) private pure returns (bool) {
        if (bits == 0) return true;
        return (uint256(a) ^ uint256(b)) >> (256 - bits) == 0;
    }
}
