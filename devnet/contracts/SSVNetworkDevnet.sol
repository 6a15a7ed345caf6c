// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

/// @title SSVNetworkDevnet
/// @notice A stand-in for SSVNetwork on a local devnet. It emits the eight events an SSV
/// operator node follows with SSVNetwork's exact signatures (names, parameter types,
/// indexed flags and the ISSVNetworkCore.Cluster tuple), so a node decodes them with the
/// real ABI. The logic is minimal: no SSV token, fees or balances. Operator ids are
/// sequential from 1; a validator's committee must be 4, 7, 10 or 13 registered operators
/// in strictly ascending id order, as SSVNetwork requires.
contract SSVNetworkDevnet {
    /// ISSVNetworkCore.Cluster.
    struct Cluster {
        uint32 validatorCount;
        uint64 networkFeeIndex;
        uint64 index;
        bool active;
        uint256 balance;
    }

    event OperatorAdded(uint64 indexed operatorId, address indexed owner, bytes publicKey, uint256 fee);
    event OperatorRemoved(uint64 indexed operatorId);
    event ValidatorAdded(address indexed owner, uint64[] operatorIds, bytes publicKey, bytes shares, Cluster cluster);
    event ValidatorRemoved(address indexed owner, uint64[] operatorIds, bytes publicKey, Cluster cluster);
    event ClusterLiquidated(address indexed owner, uint64[] operatorIds, Cluster cluster);
    event ClusterReactivated(address indexed owner, uint64[] operatorIds, Cluster cluster);
    event FeeRecipientAddressUpdated(address indexed owner, address recipientAddress);
    event ValidatorExited(address indexed owner, uint64[] operatorIds, bytes publicKey);

    error OperatorAlreadyExists();
    error OperatorDoesNotExist();
    error CallerNotOwner();
    error InvalidOperatorIdsLength();
    error UnsortedOperatorsList();
    error ValidatorAlreadyExists();
    error ValidatorDoesNotExist();

    /// The last operator id given out (ids start at 1).
    uint64 public lastOperatorId;
    /// Operator owners by id (zero once removed).
    mapping(uint64 => address) public operatorOwners;
    /// Operator ids by keccak256 of the registered public key.
    mapping(bytes32 => uint64) public operatorsByPublicKey;
    /// Validator owners by keccak256 of the validator public key.
    mapping(bytes32 => address) public validatorOwners;

    function registerOperator(bytes calldata publicKey, uint256 fee) external returns (uint64 id) {
        bytes32 key = keccak256(publicKey);
        if (operatorsByPublicKey[key] != 0) revert OperatorAlreadyExists();
        id = ++lastOperatorId;
        operatorOwners[id] = msg.sender;
        operatorsByPublicKey[key] = id;
        emit OperatorAdded(id, msg.sender, publicKey, fee);
    }

    function removeOperator(uint64 operatorId) external {
        if (operatorOwners[operatorId] == address(0)) revert OperatorDoesNotExist();
        if (operatorOwners[operatorId] != msg.sender) revert CallerNotOwner();
        operatorOwners[operatorId] = address(0);
        emit OperatorRemoved(operatorId);
    }

    function registerValidator(
        bytes calldata publicKey,
        uint64[] calldata operatorIds,
        bytes calldata sharesData,
        uint256 amount,
        Cluster memory cluster
    ) external {
        amount; // No SSV token on the devnet.
        _checkOperators(operatorIds);
        bytes32 key = keccak256(publicKey);
        if (validatorOwners[key] != address(0)) revert ValidatorAlreadyExists();
        validatorOwners[key] = msg.sender;
        cluster.validatorCount += 1;
        cluster.active = true;
        emit ValidatorAdded(msg.sender, operatorIds, publicKey, sharesData, cluster);
    }

    function removeValidator(bytes calldata publicKey, uint64[] calldata operatorIds, Cluster memory cluster)
        external
    {
        bytes32 key = keccak256(publicKey);
        if (validatorOwners[key] == address(0)) revert ValidatorDoesNotExist();
        if (validatorOwners[key] != msg.sender) revert CallerNotOwner();
        delete validatorOwners[key];
        if (cluster.validatorCount > 0) cluster.validatorCount -= 1;
        emit ValidatorRemoved(msg.sender, operatorIds, publicKey, cluster);
    }

    function liquidate(address clusterOwner, uint64[] calldata operatorIds, Cluster memory cluster) external {
        cluster.active = false;
        cluster.balance = 0;
        emit ClusterLiquidated(clusterOwner, operatorIds, cluster);
    }

    function reactivate(uint64[] calldata operatorIds, uint256 amount, Cluster memory cluster) external {
        cluster.active = true;
        cluster.balance += amount;
        emit ClusterReactivated(msg.sender, operatorIds, cluster);
    }

    function setFeeRecipientAddress(address recipientAddress) external {
        emit FeeRecipientAddressUpdated(msg.sender, recipientAddress);
    }

    function exitValidator(bytes calldata publicKey, uint64[] calldata operatorIds) external {
        bytes32 key = keccak256(publicKey);
        if (validatorOwners[key] == address(0)) revert ValidatorDoesNotExist();
        if (validatorOwners[key] != msg.sender) revert CallerNotOwner();
        emit ValidatorExited(msg.sender, operatorIds, publicKey);
    }

    /// 4, 7, 10 or 13 registered operators in strictly ascending id order.
    function _checkOperators(uint64[] calldata operatorIds) private view {
        uint256 n = operatorIds.length;
        if (n < 4 || n > 13 || n % 3 != 1) revert InvalidOperatorIdsLength();
        for (uint256 i = 0; i < n; ++i) {
            if (i > 0 && operatorIds[i] <= operatorIds[i - 1]) revert UnsortedOperatorsList();
            if (operatorOwners[operatorIds[i]] == address(0)) revert OperatorDoesNotExist();
        }
    }
}
