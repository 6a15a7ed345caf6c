#!/usr/bin/env node
// Compiles contracts/SSVNetworkDevnet.sol with solc-js (the `solc` npm package: no native
// compiler download) and writes build/SSVNetworkDevnet.json = { abi, bytecode }.
'use strict';
const fs = require('fs');
const path = require('path');
const solc = require('solc');

const root = path.join(__dirname, '..');
const name = 'SSVNetworkDevnet';
const source = fs.readFileSync(path.join(root, 'contracts', `${name}.sol`), 'utf8');
const input = {
  language: 'Solidity',
  sources: { [`${name}.sol`]: { content: source } },
  settings: {
    optimizer: { enabled: true, runs: 200 },
    outputSelection: { '*': { '*': ['abi', 'evm.bytecode.object'] } },
  },
};
const output = JSON.parse(solc.compile(JSON.stringify(input)));
const errors = (output.errors || []).filter((e) => e.severity === 'error');
for (const e of output.errors || []) console.error(e.formattedMessage);
if (errors.length > 0) process.exit(1);
const contract = output.contracts[`${name}.sol`][name];
const out = path.join(root, 'build');
fs.mkdirSync(out, { recursive: true });
fs.writeFileSync(
  path.join(out, `${name}.json`),
  JSON.stringify({ abi: contract.abi, bytecode: '0x' + contract.evm.bytecode.object }, null, 2),
);
console.log(`compiled ${name} with solc ${solc.version()} -> build/${name}.json`);
