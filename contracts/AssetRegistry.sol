// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";

/**
 * @title AssetRegistry
 * @notice Registry of datasets, models and artifacts. An asset's id is the digest of its
 * content (a dataset's manifest, a model file); the chain holds only digests and roots —
 * never personal data, not even hashed without salt.
 */
contract AssetRegistry is AccessControl {
    /// @notice Accounts allowed to register assets.
    bytes32 public constant REGISTRAR_ROLE = keccak256("REGISTRAR_ROLE");

    enum Kind {
        Dataset,
        Model,
        Artifact
    }

    enum Status {
        None,
        Active,
        Deprecated,
        Revoked
    }

    struct Asset {
        address owner;
        Kind kind;
        Status status;
        uint64 registeredAt;
        bytes32 root;
        bytes32 metadataDigest;
        bytes32[] parents;
    }

    mapping(bytes32 id => Asset) private _assets;
    uint256 private _assetCount;

    /// @notice `id` is zero.
    error AssetRegistryInvalidId();
    /// @notice `id` is registered already.
    error AssetRegistryAlreadyRegistered(bytes32 id);
    /// @notice `id` is not registered.
    error AssetRegistryUnknownAsset(bytes32 id);
    /// @notice `parent`, named as a parent of `id`, is not registered.
    error AssetRegistryUnknownParent(bytes32 id, bytes32 parent);
    /// @notice `account` does not own `id`.
    error AssetRegistryNotOwner(bytes32 id, address account);
    /// @notice A status change to `status` is not allowed.
    error AssetRegistryInvalidStatus(bytes32 id, Status status);

    /// @notice An asset was registered.
    event AssetRegistered(
        bytes32 indexed id,
        address indexed owner,
        Kind kind,
        bytes32 root,
        bytes32 metadataDigest,
        bytes32[] parents
    );
    /// @notice An asset's status changed.
    event AssetStatusChanged(bytes32 indexed id, Status previousStatus, Status status);

    /// @param admin Account that administers roles; it is also made a registrar.
    constructor(address admin) {
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(REGISTRAR_ROLE, admin);
    }

    /**
     * @notice Registers an asset owned by the caller.
     * @param id Content digest identifying the asset.
     * @param kind Dataset, model or artifact.
     * @param root Merkle root of a dataset's record commitments, or a file's digest.
     * @param metadataDigest Digest of the asset's metadata document (kept off-chain).
     * @param parents Registered assets this one derives from (lineage).
     *
     * Requirements:
     * - the caller has REGISTRAR_ROLE;
     * - `id` is non-zero and not registered;
     * - every parent is registered.
     */
    function register(
        bytes32 id,
        Kind kind,
        bytes32 root,
        bytes32 metadataDigest,
        bytes32[] calldata parents
    ) external onlyRole(REGISTRAR_ROLE) {
        _register(id, msg.sender, kind, root, metadataDigest, parents);
    }

    /**
     * @notice Changes the status of an asset the caller owns.
     *
     * Requirements:
     * - the caller owns `id`;
     * - `status` is Active, Deprecated or Revoked, and a revoked asset stays revoked.
     */
    function setStatus(bytes32 id, Status status) external {
        Asset storage asset = _assets[id];
        if (asset.status == Status.None) revert AssetRegistryUnknownAsset(id);
        if (asset.owner != msg.sender) revert AssetRegistryNotOwner(id, msg.sender);
        if (status == Status.None || asset.status == Status.Revoked) revert AssetRegistryInvalidStatus(id, status);
        Status previous = asset.status;
        asset.status = status;
        emit AssetStatusChanged(id, previous, status);
    }

    /// @notice The asset registered under `id`; reverts when there is none.
    function getAsset(bytes32 id) external view returns (Asset memory) {
        Asset storage asset = _assets[id];
        if (asset.status == Status.None) revert AssetRegistryUnknownAsset(id);
        return asset;
    }

    /**
     * @notice The account that registered `id` and its kind; the zero address when `id` is
     * not registered. AccessPolicy reads it: only a dataset's registrant names its controller.
     */
    function registrantOf(bytes32 id) external view returns (address owner, Kind kind) {
        Asset storage asset = _assets[id];
        return (asset.owner, asset.kind);
    }

    /// @notice Whether `id` is registered.
    function isRegistered(bytes32 id) external view returns (bool) {
        return _assets[id].status != Status.None;
    }

    /// @notice Number of registered assets.
    function assetCount() external view returns (uint256) {
        return _assetCount;
    }

    function _register(
        bytes32 id,
        address owner,
        Kind kind,
        bytes32 root,
        bytes32 metadataDigest,
        bytes32[] calldata parents
    ) private {
        if (id == bytes32(0)) revert AssetRegistryInvalidId();
        if (_assets[id].status != Status.None) revert AssetRegistryAlreadyRegistered(id);
        for (uint256 i = 0; i < parents.length; ++i) {
            if (_assets[parents[i]].status == Status.None) revert AssetRegistryUnknownParent(id, parents[i]);
        }
        Asset storage asset = _assets[id];
        asset.owner = owner;
        asset.kind = kind;
        asset.status = Status.Active;
        asset.registeredAt = uint64(block.timestamp);
        asset.root = root;
        asset.metadataDigest = metadataDigest;
        asset.parents = parents;
        ++_assetCount;
        emit AssetRegistered(id, owner, kind, root, metadataDigest, parents);
    }
}
