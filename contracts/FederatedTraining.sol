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
 * may commit once: the digest of its update (a safetensors file, signed by the client's
 * did:key, sealed to the aggregator and kept off-chain), its sample count and the hash of
 * the training manifest that proves its records were consented for the purpose. The
 * aggregator finalises a round once the minimum number of clients committed, or after the
 * deadline with whatever was committed (none: a skipped round, the global model
 * unchanged), settling every committed client exactly once as accepted or rejected with a
 * reason code; participants that did not commit are dropped. The aggregator may cancel a
 * task that is not done. Every step is an event.
 *
 * Replays: a client may not commit the same update digest twice in a task. The check is
 * per client, so nobody can lock a client out by committing its digest first. Committing
 * another client's digest gains nothing: the aggregator accepts an update only from the
 * sealed file bound to the committing client (task, round and address in the HPKE
 * additional data), signed by that client's did:key, whose payload hashes to the digest;
 * a copied digest without the bytes is rejected as a missing or mismatched update.
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

    /// @notice The longest round timeout a task may set: deadlines never overflow.
    uint64 public constant MAX_ROUND_TIMEOUT = 365 days;

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
        /// @dev Set when the aggregator cancelled the task (then `done` too, no final model).
        bool cancelled;
        bytes32 finalModel;
    }

    /// @notice What became of a commitment once its round was finalised.
    enum Outcome {
        Pending,
        Accepted,
        Rejected
    }

    struct Commitment {
        bytes32 updateDigest;
        /// @dev SHA-256 of the sealed update file: its CIDv1 (raw, sha2-256) in any blob store.
        bytes32 sealedDigest;
        bytes32 manifestHash;
        uint64 samples;
        uint64 committedAt;
        Outcome outcome;
    }

    IAccessPolicy private immutable _policy;
    uint256 private _taskCount;
    mapping(uint256 task => Task) private _tasks;
    mapping(uint256 task => address[]) private _participants;
    mapping(uint256 task => mapping(address => bool)) private _isParticipant;
    mapping(uint256 task => mapping(uint32 round => mapping(address client => Commitment))) private _commitments;
    mapping(uint256 task => mapping(uint32 round => address[])) private _committers;
    mapping(uint256 task => mapping(address client => mapping(bytes32 digest => bool))) private _seenDigest;

    /// @notice `account` is not an AccessPolicy member.
    error FederatedTrainingNotMember(address account);
    /// @notice `account` is not a participant of `task`.
    error FederatedTrainingNotParticipant(uint256 task, address account);
    /// @notice `account` is not the aggregator of `task`.
    error FederatedTrainingNotAggregator(uint256 task, address account);
    /// @notice There is no task `task`.
    error FederatedTrainingUnknownTask(uint256 task);
    /// @notice A task needs at least one round.
    error FederatedTrainingInvalidRounds(uint32 rounds);
    /// @notice `minClients` is not between 1 and the number of participants.
    error FederatedTrainingInvalidMinClients(uint32 minClients, uint256 participants);
    /// @notice `roundTimeout` is not between 1 second and `max`.
    error FederatedTrainingInvalidRoundTimeout(uint64 roundTimeout, uint64 max);
    /// @notice `participant` is named twice.
    error FederatedTrainingDuplicateParticipant(address participant);
    /// @notice `round` is not the current round `current` of `task`.
    error FederatedTrainingWrongRound(uint256 task, uint32 current, uint32 given);
    /// @notice The deadline of `round` passed.
    error FederatedTrainingRoundClosed(uint256 task, uint32 round, uint256 deadline);
    /// @notice `client` committed in `round` already.
    error FederatedTrainingAlreadyCommitted(uint256 task, uint32 round, address client);
    /// @notice `client` committed `digest` in an earlier round of `task`.
    error FederatedTrainingReplayedUpdate(uint256 task, address client, bytes32 digest);
    /// @notice Fewer than `minClients` committed and the deadline has not passed.
    error FederatedTrainingTooFewClients(uint256 task, uint32 round, uint256 committed, uint32 minClients);
    /// @notice `client`, named as accepted or rejected, did not commit in `round`.
    error FederatedTrainingNotCommitted(uint256 task, uint32 round, address client);
    /// @notice `client` is named twice among the accepted and rejected clients.
    error FederatedTrainingClientSettledTwice(uint256 task, uint32 round, address client);
    /// @notice `client` committed in `round` but is neither accepted nor rejected.
    error FederatedTrainingClientNotSettled(uint256 task, uint32 round, address client);
    /// @notice The rejected clients and their reasons differ in number.
    error FederatedTrainingReasonsMismatch(uint256 rejected, uint256 reasons);
    /// @notice `task` is done (completed or cancelled).
    error FederatedTrainingTaskDone(uint256 task);

    /// @notice A task was created; its first round started.
    event TaskCreated(uint256 indexed task, address indexed aggregator, bytes32 specDigest, bytes32 purpose, address[] participants, uint32 rounds, uint32 minClients, uint64 roundTimeout);
    /// @notice A participant committed its update for a round.
    event UpdateCommitted(uint256 indexed task, uint32 indexed round, address indexed client, bytes32 updateDigest, bytes32 sealedDigest, uint64 samples, bytes32 manifestHash);
    /// @notice The aggregator rejected a committed update.
    event UpdateRejected(uint256 indexed task, uint32 indexed round, address indexed client, uint8 reason);
    /// @notice A participant did not commit in a finalised round.
    event ClientDropped(uint256 indexed task, uint32 indexed round, address indexed client);
    /// @notice A round was finalised (accepted and rejected empty: a skipped round).
    event RoundFinalized(uint256 indexed task, uint32 indexed round, bytes32 aggregateDigest, address[] accepted, address[] rejected, uint8[] reasons);
    /// @notice The last round was finalised: its aggregate is the final model.
    event TaskCompleted(uint256 indexed task, bytes32 finalModel);
    /// @notice The aggregator cancelled a task during `round`.
    event TaskCancelled(uint256 indexed task, uint32 round);

    constructor(IAccessPolicy policy_) {
        _policy = policy_;
    }

    /// @notice The AccessPolicy whose members take part.
    function policy() external view returns (IAccessPolicy) {
        return _policy;
    }

    /// @notice Number of tasks created (task numbers start at 1).
    function taskCount() external view returns (uint256) {
        return _taskCount;
    }

    /**
     * @notice Creates a task whose aggregator is the caller; round 1 starts now.
     *
     * Requirements:
     * - the caller and every participant are AccessPolicy members, no participant twice;
     * - `rounds` ≥ 1 and 1 ≤ `minClients` ≤ number of participants;
     * - 0 < `roundTimeout` ≤ MAX_ROUND_TIMEOUT.
     */
    function createTask(bytes32 specDigest, bytes32 purpose, address[] calldata participants, uint32 rounds, uint32 minClients, uint64 roundTimeout) external returns (uint256 task) {
        if (!_policy.isMember(msg.sender)) revert FederatedTrainingNotMember(msg.sender);
        if (rounds == 0) revert FederatedTrainingInvalidRounds(rounds);
        if (minClients == 0 || minClients > participants.length) revert FederatedTrainingInvalidMinClients(minClients, participants.length);
        if (roundTimeout == 0 || roundTimeout > MAX_ROUND_TIMEOUT) revert FederatedTrainingInvalidRoundTimeout(roundTimeout, MAX_ROUND_TIMEOUT);
        task = ++_taskCount;
        for (uint256 i = 0; i < participants.length; i++) {
            address p = participants[i];
            if (!_policy.isMember(p)) revert FederatedTrainingNotMember(p);
            if (_isParticipant[task][p]) revert FederatedTrainingDuplicateParticipant(p);
            _isParticipant[task][p] = true;
            _participants[task].push(p);
        }
        _tasks[task] = Task(msg.sender, specDigest, purpose, rounds, minClients, roundTimeout, 1, uint64(block.timestamp), false, false, bytes32(0));
        emit TaskCreated(task, msg.sender, specDigest, purpose, participants, rounds, minClients, roundTimeout);
    }

    /**
     * @notice Commits the caller's update for the current round of `task`: the SHA-256 of
     * the update, of the sealed file that carries it (so that the aggregator finds it by
     * content address) and of the training manifest (likewise), and the sample count.
     *
     * Requirements:
     * - `task` is not done and `round` is its current round, before its deadline;
     * - the caller is a participant and still an AccessPolicy member;
     * - the caller did not commit in this round, nor commit `updateDigest` before in this task.
     */
    function commitUpdate(uint256 task, uint32 round, bytes32 updateDigest, bytes32 sealedDigest, uint64 samples, bytes32 manifestHash) external {
        Task storage t = _task(task);
        if (t.done) revert FederatedTrainingTaskDone(task);
        if (!_policy.isMember(msg.sender)) revert FederatedTrainingNotMember(msg.sender);
        if (!_isParticipant[task][msg.sender]) revert FederatedTrainingNotParticipant(task, msg.sender);
        if (round != t.round) revert FederatedTrainingWrongRound(task, t.round, round);
        uint256 deadline = _deadline(t);
        if (block.timestamp > deadline) revert FederatedTrainingRoundClosed(task, round, deadline);
        if (_commitments[task][round][msg.sender].committedAt != 0) revert FederatedTrainingAlreadyCommitted(task, round, msg.sender);
        if (_seenDigest[task][msg.sender][updateDigest]) revert FederatedTrainingReplayedUpdate(task, msg.sender, updateDigest);
        _seenDigest[task][msg.sender][updateDigest] = true;
        _commitments[task][round][msg.sender] = Commitment(updateDigest, sealedDigest, manifestHash, samples, uint64(block.timestamp), Outcome.Pending);
        _committers[task][round].push(msg.sender);
        emit UpdateCommitted(task, round, msg.sender, updateDigest, sealedDigest, samples, manifestHash);
    }

    /**
     * @notice Finalises the current round: the aggregate's digest, the clients whose update
     * was used and those rejected with a reason code each. Participants that did not
     * commit are dropped. After the deadline a round with no commitment is finalised with
     * no client (a skipped round: `aggregateDigest` names the unchanged global model).
     *
     * Requirements:
     * - the caller is the task's aggregator and still an AccessPolicy member;
     * - `task` is not done and `round` is its current round;
     * - `minClients` committed, or the deadline passed;
     * - `accepted` and `rejected` together name every committed client exactly once;
     * - one reason per rejected client.
     */
    function finalizeRound(uint256 task, uint32 round, bytes32 aggregateDigest, address[] calldata accepted, address[] calldata rejected, uint8[] calldata reasons) external {
        Task storage t = _task(task);
        if (msg.sender != t.aggregator) revert FederatedTrainingNotAggregator(task, msg.sender);
        if (!_policy.isMember(msg.sender)) revert FederatedTrainingNotMember(msg.sender);
        if (t.done) revert FederatedTrainingTaskDone(task);
        if (round != t.round) revert FederatedTrainingWrongRound(task, t.round, round);
        address[] storage committed = _committers[task][round];
        if (committed.length < t.minClients && block.timestamp <= _deadline(t)) {
            revert FederatedTrainingTooFewClients(task, round, committed.length, t.minClients);
        }
        if (rejected.length != reasons.length) revert FederatedTrainingReasonsMismatch(rejected.length, reasons.length);
        for (uint256 i = 0; i < accepted.length; i++) _settle(task, round, accepted[i], Outcome.Accepted);
        for (uint256 i = 0; i < rejected.length; i++) {
            _settle(task, round, rejected[i], Outcome.Rejected);
            emit UpdateRejected(task, round, rejected[i], reasons[i]);
        }
        // Every client settled is a distinct committer: as many as committed means all of them.
        if (accepted.length + rejected.length != committed.length) {
            for (uint256 i = 0; i < committed.length; i++) {
                if (_commitments[task][round][committed[i]].outcome == Outcome.Pending) revert FederatedTrainingClientNotSettled(task, round, committed[i]);
            }
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

    /**
     * @notice Cancels `task`: no further commitment or finalisation; no final model.
     *
     * Requirements:
     * - the caller is the task's aggregator;
     * - `task` is not done.
     */
    function cancelTask(uint256 task) external {
        Task storage t = _task(task);
        if (msg.sender != t.aggregator) revert FederatedTrainingNotAggregator(task, msg.sender);
        if (t.done) revert FederatedTrainingTaskDone(task);
        t.done = true;
        t.cancelled = true;
        emit TaskCancelled(task, t.round);
    }

    /// @notice Task `task`; reverts when there is none.
    function taskOf(uint256 task) external view returns (Task memory) {
        return _task(task);
    }

    /// @notice The participants of `task`, in creation order.
    function participantsOf(uint256 task) external view returns (address[] memory) {
        _task(task);
        return _participants[task];
    }

    /// @notice The commitment of `client` in `round` of `task` (zeroes if none).
    function commitmentOf(uint256 task, uint32 round, address client) external view returns (Commitment memory) {
        return _commitments[task][round][client];
    }

    /// @notice The clients that committed in `round` of `task`, in commitment order.
    function committersOf(uint256 task, uint32 round) external view returns (address[] memory) {
        return _committers[task][round];
    }

    /// @notice The deadline of the current round of `task` (seconds since the epoch).
    function deadlineOf(uint256 task) external view returns (uint256) {
        return _deadline(_task(task));
    }

    function _settle(uint256 task, uint32 round, address client, Outcome outcome) private {
        Commitment storage c = _commitments[task][round][client];
        if (c.committedAt == 0) revert FederatedTrainingNotCommitted(task, round, client);
        if (c.outcome != Outcome.Pending) revert FederatedTrainingClientSettledTwice(task, round, client);
        c.outcome = outcome;
    }

    /// @dev Computed in 256 bits: it cannot overflow whatever the stored values.
    function _deadline(Task storage t) private view returns (uint256) {
        return uint256(t.roundStartedAt) + uint256(t.roundTimeout);
    }

    function _task(uint256 task) private view returns (Task storage t) {
        t = _tasks[task];
        if (t.aggregator == address(0)) revert FederatedTrainingUnknownTask(task);
    }
}
