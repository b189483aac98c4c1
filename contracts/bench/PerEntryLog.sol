// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/**
 * @title PerEntryLog
 * @notice The naive design Provena is measured against: one transaction per log entry,
 * each storing its leaf hash on-chain. Used only by `npm run bench`.
 */
contract PerEntryLog {
    bytes32[] private _leafHashes;

    /// @notice An entry was appended.
    event EntryAppended(uint256 indexed index, bytes32 leafHash);

    /// @notice Appends one entry's leaf hash.
    function append(bytes32 leafHash) external {
        _leafHashes.push(leafHash);
        emit EntryAppended(_leafHashes.length - 1, leafHash);
    }

    /// @notice Number of entries.
    function size() external view returns (uint256) {
        return _leafHashes.length;
    }
}
