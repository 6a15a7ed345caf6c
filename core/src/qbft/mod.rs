//! QBFT consensus (ssv-spec v1.2.2 `qbft/`): sans-IO instance and controller.
