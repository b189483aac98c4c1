// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";

/// @dev The part of AssetRegistry this contract reads.
interface IAssetRegistry {
    /// @dev Kind 0 is Dataset; owner is the zero address when `id` is not registered.
    function registrantOf(bytes32 id) external view returns (address owner, uint8 kind);
}

/**
 * @title AccessPolicy
 * @notice Who may use which dataset for which purpose, decided on-chain. Consortium
 * members hold roles (controller, processor, trainer, auditor) granted by the admin; a
 * dataset's controller is named by the account that registered the dataset in
 * AssetRegistry (itself, or a controller it registers for), so nobody can claim a dataset
 * id seen in a pending registration. The controller grants members with a data role
 * (controller, processor, trainer; never an auditor) access to one dataset for one
 * purpose until an expiry. Every power needs current membership: a removed controller
 * can no longer grant, revoke, announce erasures or use its datasets, and a removed or
 * re-roled grantee is no longer allowed. Off-chain services release data keys only when
 * `isAllowed` says yes at that moment.
 */
contract AccessPolicy is AccessControl {
    bytes32 public constant CONTROLLER_ROLE = keccak256("CONTROLLER_ROLE");
    bytes32 public constant PROCESSOR_ROLE = keccak256("PROCESSOR_ROLE");
    bytes32 public constant TRAINER_ROLE = keccak256("TRAINER_ROLE");
    bytes32 public constant AUDITOR_ROLE = keccak256("AUDITOR_ROLE");

    struct Grant {
        uint64 grantedAt;
        /// @dev 0 = no expiry.
        uint64 expiresAt;
        bool active;
    }

    IAssetRegistry private immutable _registry;
    mapping(bytes32 dataset => address owner) private _owners;
    mapping(bytes32 dataset => mapping(address grantee => mapping(bytes32 purpose => Grant))) private _grants;

    /// @notice `account` holds no member role.
    error AccessPolicyNotMember(address account);
    /// @notice `role` is not one of the four member roles.
    error AccessPolicyUnknownRole(bytes32 role);
    /// @notice `account` does not own `dataset`.
    error AccessPolicyNotDatasetOwner(bytes32 dataset, address account);
    /// @notice `dataset` is claimed by `owner` already.
    error AccessPolicyDatasetClaimed(bytes32 dataset, address owner);
    /// @notice `dataset` is not registered as a dataset in AssetRegistry.
    error AccessPolicyUnregisteredDataset(bytes32 dataset);
    /// @notice `account` did not register `dataset` in AssetRegistry (`registrant` did).
    error AccessPolicyNotRegistrant(bytes32 dataset, address account, address registrant);
    /// @notice `account` does not hold CONTROLLER_ROLE.
    error AccessPolicyNotController(address account);
    /// @notice `grantee` holds no role that may use data (controller, processor, trainer).
    error AccessPolicyGranteeRoleNotAllowed(address grantee);
    /// @notice An erasure announcement names no dataset.
    error AccessPolicyNoDatasets();
    /// @notice The expiry `expiresAt` is not in the future.
    error AccessPolicyExpiryInPast(uint64 expiresAt);
    /// @notice There is no active grant of `dataset` to `grantee` for `purpose`.
    error AccessPolicyNoGrant(bytes32 dataset, address grantee, bytes32 purpose);

    /// @notice A controller claimed a dataset.
    event DatasetClaimed(bytes32 indexed dataset, address indexed owner);
    /// @notice Access to a dataset for a purpose was granted.
    event AccessGranted(bytes32 indexed dataset, address indexed grantee, bytes32 indexed purpose, uint64 expiresAt);
    /// @notice A grant was revoked.
    event AccessRevoked(bytes32 indexed dataset, address indexed grantee, bytes32 indexed purpose);
    /// @notice A controller erased a subject: grantees must delete what they exported of these
    /// datasets under that pseudonym.
    event SubjectErased(address indexed controller, bytes32 indexed pseudonym, bytes32[] datasets);

    /// @param admin The consortium admin: adds and removes members.
    /// @param registry_ The AssetRegistry whose registrants name their datasets' controllers.
    constructor(address admin, IAssetRegistry registry_) {
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _registry = registry_;
    }

    /// @notice The AssetRegistry this policy reads registrants from.
    function registry() external view returns (IAssetRegistry) {
        return _registry;
    }

    /**
     * @notice Makes `account` a member with `role`.
     *
     * Requirements:
     * - the caller is the admin;
     * - `role` is one of the four member roles.
     */
    function addMember(address account, bytes32 role) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _checkMemberRole(role);
        _grantRole(role, account);
    }

    /**
     * @notice Takes `role` from `account`.
     *
     * Requirements:
     * - the caller is the admin.
     */
    function removeMember(address account, bytes32 role) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _checkMemberRole(role);
        _revokeRole(role, account);
    }

    /**
     * @notice Makes `controller` the owner of `dataset`: the account that registered
     * `dataset` in AssetRegistry names its controller, itself or a controller it registered
     * the dataset for. Claiming again for the same controller does nothing.
     *
     * Requirements:
     * - `dataset` is registered as a dataset and the caller registered it;
     * - `controller` has CONTROLLER_ROLE;
     * - `dataset` is not claimed by another controller.
     */
    function claimDataset(bytes32 dataset, address controller) external {
        (address registrant, uint8 kind) = _registry.registrantOf(dataset);
        if (registrant == address(0) || kind != 0) revert AccessPolicyUnregisteredDataset(dataset);
        if (registrant != msg.sender) revert AccessPolicyNotRegistrant(dataset, msg.sender, registrant);
        if (!hasRole(CONTROLLER_ROLE, controller)) revert AccessPolicyNotController(controller);
        address owner = _owners[dataset];
        if (owner == controller) return;
        if (owner != address(0)) revert AccessPolicyDatasetClaimed(dataset, owner);
        _owners[dataset] = controller;
        emit DatasetClaimed(dataset, controller);
    }

    /**
     * @notice Grants `grantee` access to `dataset` for `purpose` until `expiresAt`
     * (seconds since the epoch; 0 for no expiry). Replaces an earlier grant.
     *
     * Requirements:
     * - the caller owns `dataset` and is still a controller;
     * - `grantee` is a member with a data role (controller, processor or trainer): an
     *   auditor never receives data;
     * - `expiresAt` is 0 or in the future.
     */
    function grant(bytes32 dataset, address grantee, bytes32 purpose, uint64 expiresAt) external {
        _checkOwner(dataset);
        if (!isMember(grantee)) revert AccessPolicyNotMember(grantee);
        if (!mayUseData(grantee)) revert AccessPolicyGranteeRoleNotAllowed(grantee);
        if (expiresAt != 0 && expiresAt <= block.timestamp) revert AccessPolicyExpiryInPast(expiresAt);
        _grants[dataset][grantee][purpose] = Grant(uint64(block.timestamp), expiresAt, true);
        emit AccessGranted(dataset, grantee, purpose, expiresAt);
    }

    /**
     * @notice Revokes the grant of `dataset` to `grantee` for `purpose`.
     *
     * Requirements:
     * - the caller owns `dataset` and is still a controller;
     * - that grant is active.
     */
    function revoke(bytes32 dataset, address grantee, bytes32 purpose) external {
        _checkOwner(dataset);
        Grant storage g = _grants[dataset][grantee][purpose];
        if (!g.active) revert AccessPolicyNoGrant(dataset, grantee, purpose);
        g.active = false;
        emit AccessRevoked(dataset, grantee, purpose);
    }

    /**
     * @notice Announces that the caller erased the subject behind `pseudonym` (its keyed
     * pseudonym, never the subject's id) from `datasets`.
     *
     * Requirements:
     * - `datasets` is not empty;
     * - the caller owns every one of `datasets` and is still a controller.
     */
    function announceErasure(bytes32 pseudonym, bytes32[] calldata datasets) external {
        if (datasets.length == 0) revert AccessPolicyNoDatasets();
        for (uint256 i = 0; i < datasets.length; ++i) _checkOwner(datasets[i]);
        emit SubjectErased(msg.sender, pseudonym, datasets);
    }

    /**
     * @notice Whether `account` may use `dataset` for `purpose` now: its owner while it is
     * a controller, or a member with a data role and an active, unexpired grant.
     */
    function isAllowed(bytes32 dataset, address account, bytes32 purpose) public view returns (bool) {
        if (account == address(0)) return false;
        if (_owners[dataset] == account && hasRole(CONTROLLER_ROLE, account)) return true;
        if (!mayUseData(account)) return false;
        Grant storage g = _grants[dataset][account][purpose];
        return g.active && (g.expiresAt == 0 || block.timestamp < g.expiresAt);
    }

    /// @notice The grant of `dataset` to `grantee` for `purpose` (zeroes if none).
    function grantOf(bytes32 dataset, address grantee, bytes32 purpose) external view returns (Grant memory) {
        return _grants[dataset][grantee][purpose];
    }

    /// @notice The controller that claimed `dataset` (zero if none).
    function ownerOf(bytes32 dataset) external view returns (address) {
        return _owners[dataset];
    }

    /// @notice Whether `account` holds any member role.
    function isMember(address account) public view returns (bool) {
        return hasRole(CONTROLLER_ROLE, account) || hasRole(PROCESSOR_ROLE, account) || hasRole(TRAINER_ROLE, account) || hasRole(AUDITOR_ROLE, account);
    }

    /// @notice Whether `account` holds a role that may receive data: controller, processor or trainer.
    function mayUseData(address account) public view returns (bool) {
        return hasRole(CONTROLLER_ROLE, account) || hasRole(PROCESSOR_ROLE, account) || hasRole(TRAINER_ROLE, account);
    }

    /// @dev Owner powers need the claim and current membership as a controller.
    function _checkOwner(bytes32 dataset) private view {
        if (_owners[dataset] != msg.sender) revert AccessPolicyNotDatasetOwner(dataset, msg.sender);
        if (!hasRole(CONTROLLER_ROLE, msg.sender)) revert AccessPolicyNotController(msg.sender);
    }

    function _checkMemberRole(bytes32 role) private pure {
        if (role != CONTROLLER_ROLE && role != PROCESSOR_ROLE && role != TRAINER_ROLE && role != AUDITOR_ROLE) {
            revert AccessPolicyUnknownRole(role);
        }
    }
}
