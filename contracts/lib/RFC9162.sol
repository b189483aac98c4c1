// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/**
 * @title RFC9162
 * @notice Merkle tree proof checks of RFC 9162 (Certificate Transparency v2), SHA-256.
 * Leaves hash as SHA-256(0x00 || leaf), interior nodes as SHA-256(0x01 || left || right).
 *
 * WARNING: this is not OpenZeppelin's MerkleProof (sorted keccak pairs); the two are
 * not interchangeable.
 */
library RFC9162 {
    /// @notice SHA-256(0x01 || left || right), RFC 9162 §2.1.1.
    function hashChildren(bytes32 left, bytes32 right) internal pure returns (bytes32) {
        return sha256(abi.encodePacked(bytes1(0x01), left, right));
    }

    /**
     * @notice Checks a consistency proof between two tree heads, RFC 9162 §2.1.4.2.
     * @dev Requires 0 < size1 <= size2. Returns false, never reverts, on a bad proof.
     */
    function verifyConsistency(
        uint256 size1,
        uint256 size2,
        bytes32 root1,
        bytes32 root2,
        bytes32[] calldata proof
    ) internal pure returns (bool) {
        if (size1 == 0 || size1 > size2) return false;
        if (size1 == size2) return proof.length == 0 && root1 == root2;

        uint256 i = 0;
        bytes32 fr;
        bytes32 sr;
        // Step 2: when size1 is an exact power of two its root is the first node.
        if (size1 & (size1 - 1) == 0) {
            fr = root1;
            sr = root1;
        } else {
            if (proof.length == 0) return false;
            fr = proof[0];
            sr = proof[0];
            i = 1;
        }
        uint256 fn = size1 - 1;
        uint256 sn = size2 - 1;
        while (fn & 1 == 1) {
            fn >>= 1;
            sn >>= 1;
        }
        for (; i < proof.length; ++i) {
            if (sn == 0) return false;
            bytes32 c = proof[i];
            if (fn & 1 == 1 || fn == sn) {
                fr = hashChildren(c, fr);
                sr = hashChildren(c, sr);
                while (fn & 1 == 0 && fn != 0) {
                    fn >>= 1;
                    sn >>= 1;
                }
            } else {
                sr = hashChildren(sr, c);
            }
            fn >>= 1;
            sn >>= 1;
        }
        return sn == 0 && fr == root1 && sr == root2;
    }
}
