// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @dev The part of AccessPolicy this contract reads.
interface IAccessPolicy {
    function isMember(address account) external view returns (bool);
}

/**
 * @title FederatedTraining
 * @notice Coordinates federated training on-chain. A task fixes the model spec (its
 * digest), the purpose, the participants (members of AccessPolicy), the number of rounds,
 * the minimum number of clients and the round timeout. In each round every participant
 * may commit once: the digest of its update (a safetensors file, sealed to the aggregator
 * and kept off-chain), its sample count and the hash of the training manifest that proves
 * its records were consented for the purpose. The aggregator finalises a round only once
 * the minimum number of clients committed or the deadline passed, naming the accepted
 * clients, the rejected ones with a reason code, and the aggregate's digest; participants
 * that did not commit are dropped. Every step is an event.
 */
contract FederatedTraining {
    /// Reason codes of a rejected update (in RoundFinalized and UpdateRejected).
    uint8 public constant REASON_DIGEST_MISMATCH = 1;
    uint8 public constant REASON_BAD_SIGNATURE = 2;
    uint8 public constant REASON_BAD_SHAPE = 3;
    uint8 public constant REASON_NON_FINITE = 4;
    uint8 public constant REASON_NORM_EXCEEDED = 5;
    uint8 public constant REASON_BAD_MANIFEST = 6;
    uint8 public constant REASON_MISSING_UPDATE = 7;
    uint8 public constant REASON_OUTLIER = 8;

    struct Task {
        address aggregator;
        bytes32 specDigest;
        bytes32 purpose;
        uint32 rounds;
        uint32 minClients;
        uint64 roundTimeout;
        uint32 round;
        uint64 roundStartedAt;
        bool done;
        bytes32 finalModel;
    }

    struct Commitment {
        bytes32 updateDigest;
        /// @dev SHA-256 of the sealed update file: its CIDv1 (raw, sha2-256) in any blob store.
        bytes32 sealedDigest;
        bytes32 manifestHash;
        uint64 samples;
        uint64 committedAt;
    }

    IAccessPolicy public immutable policy;
    uint256 public taskCount;
    mapping(uint256 task => Task) private _tasks;
    mapping(uint256 task => address[]) private _participants;
    mapping(uint256 task => mapping(address => bool)) private _isParticipant;
    mapping(uint256 task => mapping(uint32 round => mapping(address client => Commitment))) private _commitments;
    mapping(uint256 task => mapping(uint32 round => address[])) private _committers;
    mapping(uint256 task => mapping(bytes32 digest => bool)) private _seenDigest;

    error FederatedTrainingNotMember(address account);
    error FederatedTrainingNotParticipant(uint256 task, address account);
    error FederatedTrainingNotAggregator(uint256 task, address account);
    error FederatedTrainingUnknownTask(uint256 task);
    error FederatedTrainingBadTask(string reason);
    error FederatedTrainingWrongRound(uint256 task, uint32 current, uint32 given);
    error FederatedTrainingRoundClosed(uint256 task, uint32 round, uint64 deadline);
    error FederatedTrainingAlreadyCommitted(uint256 task, uint32 round, address client);
    error FederatedTrainingReplayedUpdate(uint256 task, bytes32 digest);
    error FederatedTrainingTooFewClients(uint256 task, uint32 round, uint256 committed, uint32 minClients);
    error FederatedTrainingNotCommitted(uint256 task, uint32 round, address client);
    error FederatedTrainingTaskDone(uint256 task);

    event TaskCreated(uint256 indexed task, address indexed aggregator, bytes32 specDigest, bytes32 purpose, address[] participants, uint32 rounds, uint32 minClients, uint64 roundTimeout);
    event UpdateCommitted(uint256 indexed task, uint32 indexed round, address indexed client, bytes32 updateDigest, bytes32 sealedDigest, uint64 samples, bytes32 manifestHash);
    event UpdateRejected(uint256 indexed task, uint32 indexed round, address indexed client, uint8 reason);
    event ClientDropped(uint256 indexed task, uint32 indexed round, address indexed client);
    event RoundFinalized(uint256 indexed task, uint32 indexed round, bytes32 aggregateDigest, address[] accepted, address[] rejected, uint8[] reasons);
    event TaskCompleted(uint256 indexed task, bytes32 finalModel);

    constructor(IAccessPolicy policy_) {
        policy = policy_;
    }

    /**
     * @notice Creates a task whose aggregator is the caller; rounds start at 1 now.
     * Requirements: caller and participants are AccessPolicy members; rounds ≥ 1;
     * 1 ≤ minClients ≤ participants; roundTimeout > 0.
     */
    function createTask(bytes32 specDigest, bytes32 purpose, address[] calldata participants, uint32 rounds, uint32 minClients, uint64 roundTimeout) external returns (uint256 task) {
        if (!policy.isMember(msg.sender)) revert FederatedTrainingNotMember(msg.sender);
        if (rounds == 0) revert FederatedTrainingBadTask("rounds must be at least 1");
        if (minClients == 0 || minClients > participants.length) revert FederatedTrainingBadTask("minClients must be between 1 and the number of participants");
        if (roundTimeout == 0) revert FederatedTrainingBadTask("roundTimeout must be positive");
        task = ++taskCount;
        for (uint256 i = 0; i < participants.length; i++) {
            address p = participants[i];
            if (!policy.isMember(p)) revert FederatedTrainingNotMember(p);
            if (_isParticipant[task][p]) revert FederatedTrainingBadTask("duplicate participant");
            _isParticipant[task][p] = true;
            _participants[task].push(p);
        }
        _tasks[task] = Task(msg.sender, specDigest, purpose, rounds, minClients, roundTimeout, 1, uint64(block.timestamp), false, bytes32(0));
        emit TaskCreated(task, msg.sender, specDigest, purpose, participants, rounds, minClients, roundTimeout);
    }

    /**
     * @notice Commits the caller's update for the current round of `task`: the SHA-256 of
     * the update, of the sealed file that carries it (so that the aggregator finds it by
     * content address) and of the training manifest (likewise), and the sample count.
     */
    function commitUpdate(uint256 task, uint32 round, bytes32 updateDigest, bytes32 sealedDigest, uint64 samples, bytes32 manifestHash) external {
        Task storage t = _task(task);
        if (t.done) revert FederatedTrainingTaskDone(task);
        if (!policy.isMember(msg.sender)) revert FederatedTrainingNotMember(msg.sender);
        if (!_isParticipant[task][msg.sender]) revert FederatedTrainingNotParticipant(task, msg.sender);
        if (round != t.round) revert FederatedTrainingWrongRound(task, t.round, round);
        uint64 deadline = t.roundStartedAt + t.roundTimeout;
        if (block.timestamp > deadline) revert FederatedTrainingRoundClosed(task, round, deadline);
        if (_commitments[task][round][msg.sender].committedAt != 0) revert FederatedTrainingAlreadyCommitted(task, round, msg.sender);
        if (_seenDigest[task][updateDigest]) revert FederatedTrainingReplayedUpdate(task, updateDigest);
        _seenDigest[task][updateDigest] = true;
        _commitments[task][round][msg.sender] = Commitment(updateDigest, sealedDigest, manifestHash, samples, uint64(block.timestamp));
        _committers[task][round].push(msg.sender);
        emit UpdateCommitted(task, round, msg.sender, updateDigest, sealedDigest, samples, manifestHash);
    }

    /**
     * @notice Finalises the current round: the aggregate's digest, the clients whose update
     * was used and those rejected with a reason code each. Allowed once `minClients`
     * committed, or after the deadline with at least one commitment. Participants that did
     * not commit are dropped.
     */
    function finalizeRound(uint256 task, uint32 round, bytes32 aggregateDigest, address[] calldata accepted, address[] calldata rejected, uint8[] calldata reasons) external {
        Task storage t = _task(task);
        if (msg.sender != t.aggregator) revert FederatedTrainingNotAggregator(task, msg.sender);
        if (t.done) revert FederatedTrainingTaskDone(task);
        if (round != t.round) revert FederatedTrainingWrongRound(task, t.round, round);
        address[] storage committed = _committers[task][round];
        uint64 deadline = t.roundStartedAt + t.roundTimeout;
        if (committed.length < t.minClients && (block.timestamp <= deadline || committed.length == 0)) {
            revert FederatedTrainingTooFewClients(task, round, committed.length, t.minClients);
        }
        if (rejected.length != reasons.length) revert FederatedTrainingBadTask("one reason per rejected client");
        if (accepted.length + rejected.length != committed.length) revert FederatedTrainingBadTask("every committed client is accepted or rejected");
        for (uint256 i = 0; i < accepted.length; i++) {
            if (_commitments[task][round][accepted[i]].committedAt == 0) revert FederatedTrainingNotCommitted(task, round, accepted[i]);
        }
        for (uint256 i = 0; i < rejected.length; i++) {
            if (_commitments[task][round][rejected[i]].committedAt == 0) revert FederatedTrainingNotCommitted(task, round, rejected[i]);
            emit UpdateRejected(task, round, rejected[i], reasons[i]);
        }
        address[] storage everyone = _participants[task];
        for (uint256 i = 0; i < everyone.length; i++) {
            if (_commitments[task][round][everyone[i]].committedAt == 0) emit ClientDropped(task, round, everyone[i]);
        }
        emit RoundFinalized(task, round, aggregateDigest, accepted, rejected, reasons);
        if (round == t.rounds) {
            t.done = true;
            t.finalModel = aggregateDigest;
            emit TaskCompleted(task, aggregateDigest);
        } else {
            t.round = round + 1;
            t.roundStartedAt = uint64(block.timestamp);
        }
    }

    function taskOf(uint256 task) external view returns (Task memory) {
        return _task(task);
    }

    function participantsOf(uint256 task) external view returns (address[] memory) {
        _task(task);
        return _participants[task];
    }

    function commitmentOf(uint256 task, uint32 round, address client) external view returns (Commitment memory) {
        return _commitments[task][round][client];
    }

    function committersOf(uint256 task, uint32 round) external view returns (address[] memory) {
        return _committers[task][round];
    }

    function _task(uint256 task) private view returns (Task storage t) {
        t = _tasks[task];
        if (t.aggregator == address(0)) revert FederatedTrainingUnknownTask(task);
    }
}
