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
 * @notice Checks a proof of the consent map (a sparse Merkle map, empty subtrees collapsed)
 * against a map root anchored in CheckpointAnchor, so that other contracts can spot-check
 * consent on-chain. The map's key is SHA-256(subject pseudonym ‖ purpose), its value the
 * SHA-256 of the subject's current consent record. Hashing, as in src/log/sparseMap.ts:
 *
 *   EMPTY = bytes32(0); leaf = sha256(0x00 ‖ key ‖ value); node = sha256(0x01 ‖ left ‖ right)
 *
 * A proof is the siblings of the key's path from the root down to the subtree that holds
 * at most one leaf; bit d of `bitmap` is set when the sibling at depth d is not EMPTY
 * (only those are passed, root first).
 */
contract ConsentVerifier {
    /// @notice A proof of a key's value or absence.
    struct MapProof {
        bytes32 key;
        /// @dev bytes32(0) when the proof shows the key absent.
        bytes32 value;
        /// @dev Number of levels the path descends (at most 256).
        uint256 depth;
        uint256 bitmap;
        bytes32[] siblings;
        /// @dev For an absent key whose path ends in another key's leaf: that leaf.
        bool hasOtherLeaf;
        bytes32 otherKey;
        bytes32 otherValue;
    }

    ICheckpointAnchor public immutable anchor;

    /// @notice The proof is malformed (siblings and bitmap disagree, depth over 256, or an
    /// other leaf that is not on the key's path).
    error ConsentVerifierMalformedProof();

    constructor(ICheckpointAnchor anchor_) {
        anchor = anchor_;
    }

    /// @notice The root `proof` leads to; reverts with ConsentVerifierMalformedProof if malformed.
    function rootOf(MapProof calldata proof) external pure returns (bytes32) {
        (bool wellFormed, bytes32 root) = _rootOf(proof);
        if (!wellFormed) revert ConsentVerifierMalformedProof();
        return root;
    }

    /// @notice Whether `proof` is well formed and holds under `mapRoot`.
    function verify(bytes32 mapRoot, MapProof calldata proof) public pure returns (bool) {
        (bool wellFormed, bytes32 root) = _rootOf(proof);
        return wellFormed && root == mapRoot;
    }

    function _rootOf(MapProof calldata proof) private pure returns (bool, bytes32 h) {
        uint256 depth = proof.depth;
        if (depth > 256) return (false, 0);
        if (proof.value != bytes32(0)) {
            if (proof.hasOtherLeaf) return (false, 0);
            h = sha256(abi.encodePacked(bytes1(0x00), proof.key, proof.value));
        } else if (proof.hasOtherLeaf) {
            if (proof.otherKey == proof.key || !_samePrefix(proof.otherKey, proof.key, depth)) return (false, 0);
            h = sha256(abi.encodePacked(bytes1(0x00), proof.otherKey, proof.otherValue));
        }
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
            bool right = (uint256(proof.key) >> (255 - d)) & 1 == 1;
            h = right ? sha256(abi.encodePacked(bytes1(0x01), sibling, h)) : sha256(abi.encodePacked(bytes1(0x01), h, sibling));
        }
        // Bits set beyond the depth, or siblings left over: not a proof this verifier made sense of.
        if (j != 0 || (depth < 256 && proof.bitmap >> depth != 0)) return (false, 0);
        return (true, h);
    }

    /// @notice Whether `proof` holds under the map root of the latest anchored checkpoint.
    function verifyLatest(MapProof calldata proof) external view returns (bool) {
        return verify(anchor.latestCheckpoint().mapRoot, proof);
    }

    /// @notice Whether `proof` holds under the map root of anchored checkpoint `index`.
    function verifyAt(uint256 index, MapProof calldata proof) external view returns (bool) {
        return verify(anchor.checkpointAt(index).mapRoot, proof);
    }

    function _samePrefix(bytes32 a, bytes32 b, uint256 bits) private pure returns (bool) {
        if (bits == 0) return true;
        return (uint256(a) ^ uint256(b)) >> (256 - bits) == 0;
    }
}
