// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";

/**
 * @title AccessPolicy
 * @notice Who may use which dataset for which purpose, decided on-chain. Consortium
 * members hold roles (controller, processor, trainer, auditor) granted by the admin; a
 * controller claims the datasets it registered and grants members access to one for one
 * purpose until an expiry. Off-chain services release data keys only when `isAllowed`
 * says yes at that moment.
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
    constructor(address admin) {
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
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
     * @notice Claims `dataset` for the calling controller.
     *
     * Requirements:
     * - the caller has CONTROLLER_ROLE;
     * - nobody else claimed `dataset`.
     */
    function claimDataset(bytes32 dataset) external onlyRole(CONTROLLER_ROLE) {
        address owner = _owners[dataset];
        if (owner == msg.sender) return;
        if (owner != address(0)) revert AccessPolicyDatasetClaimed(dataset, owner);
        _owners[dataset] = msg.sender;
        emit DatasetClaimed(dataset, msg.sender);
    }

    /**
     * @notice Grants `grantee` access to `dataset` for `purpose` until `expiresAt`
     * (seconds since the epoch; 0 for no expiry). Replaces an earlier grant.
     *
     * Requirements:
     * - the caller owns `dataset`;
     * - `grantee` is a member;
     * - `expiresAt` is 0 or in the future.
     */
    function grant(bytes32 dataset, address grantee, bytes32 purpose, uint64 expiresAt) external {
        _checkOwner(dataset);
        if (!isMember(grantee)) revert AccessPolicyNotMember(grantee);
        if (expiresAt != 0 && expiresAt <= block.timestamp) revert AccessPolicyExpiryInPast(expiresAt);
        _grants[dataset][grantee][purpose] = Grant(uint64(block.timestamp), expiresAt, true);
        emit AccessGranted(dataset, grantee, purpose, expiresAt);
    }

    /**
     * @notice Revokes the grant of `dataset` to `grantee` for `purpose`.
     *
     * Requirements:
     * - the caller owns `dataset`;
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
     * - the caller owns every one of `datasets`.
     */
    function announceErasure(bytes32 pseudonym, bytes32[] calldata datasets) external {
        for (uint256 i = 0; i < datasets.length; ++i) _checkOwner(datasets[i]);
        emit SubjectErased(msg.sender, pseudonym, datasets);
    }

    /**
     * @notice Whether `account` may use `dataset` for `purpose` now: its owner, or a member
     * with an active, unexpired grant.
     */
    function isAllowed(bytes32 dataset, address account, bytes32 purpose) public view returns (bool) {
        if (_owners[dataset] == account && account != address(0)) return true;
        if (!isMember(account)) return false;
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

    function _checkOwner(bytes32 dataset) private view {
        if (_owners[dataset] != msg.sender) revert AccessPolicyNotDatasetOwner(dataset, msg.sender);
    }

    function _checkMemberRole(bytes32 role) private pure {
        if (role != CONTROLLER_ROLE && role != PROCESSOR_ROLE && role != TRAINER_ROLE && role != AUDITOR_ROLE) {
            revert AccessPolicyUnknownRole(role);
        }
    }
}
