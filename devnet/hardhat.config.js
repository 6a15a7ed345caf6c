// Hardhat is used only as a local execution node (`hardhat node`); contracts are compiled
// with solc-js by scripts/compile.js, so Hardhat never downloads a compiler.
module.exports = {
  networks: {
    hardhat: {
      chainId: 31337,
      // Mine each transaction at once; the devnet also sets an interval so blocks advance.
      mining: { auto: true },
      // Block times follow the clock (the nodes map a ValidatorExited block to its beacon
      // slot); without this each block is at least a second after the previous one.
      allowBlocksWithSameTimestamp: true,
    },
  },
};
